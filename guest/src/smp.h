/* What the SMP guest's C code (smp.c) and its AP trampoline (ap_trampoline.S)
 * share: where the trampoline runs and the APs' stacks. */
#ifndef SMP_H
#define SMP_H

#define SMP_TRAMPOLINE 0x70000 /* below 640 KiB, clear of pvhboot's boot data; SIPI vector 0x70 */
#define SMP_AP_STACK 1024      /* bytes per AP */
#define SMP_MAX_CPUS 256

#endif
