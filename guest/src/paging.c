/* paging: turns on each paging mode a 32-bit kernel may use, one after
 * another, printing a line on COM1 before and after each step, so that the
 * last line names the step that faulted (tests/run/pvh-real.t and
 * docs/kernels.md: Debian's 686-pae kernel in the emulated machine). The
 * command line picks the modes, in this order: `pse` (32-bit paging, 4 MiB
 * pages), `pae2m` (PAE, 2 MiB pages), `pae4k` (PAE, 4 KiB pages), `nx`
 * (EFER.NX set, then PAE paging, as Linux's startup_32 does on CPUs with
 * NX), `linux` (what Linux's 32-bit PVH entry does: CR4.PAE, 4 KiB tables,
 * paging on, far jump, paging and PAE off, then PAE paging again as
 * startup_32 does).
 * Each mode identity-maps the first 8 MiB and aliases it at 0xc0000000;
 * the step "alias" reads a word through the alias. Exits 0 through 0xf4. */
#include "pvh_guest.h"

#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define ALIAS 0xc0000000u
#define MAPPED (8u << 20)

void guest_main(uint32_t start_info_paddr);

static uint32_t pd32[1024] __attribute__((aligned(4096)));            /* 32-bit paging */
static uint64_t pdpt[4] __attribute__((aligned(32)));                 /* PAE */
static uint64_t pd_pae[512] __attribute__((aligned(4096)));
static uint64_t pt_pae[MAPPED / 4096] __attribute__((aligned(4096))); /* 4 KiB pages for MAPPED */
static volatile uint32_t witness = 0x5eed1234;

static uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static uint32_t read_cr3(void) { uint32_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static void write_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

#define MSR_EFER 0xc0000080u
#define EFER_NX (1u << 11)

static uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint32_t cpuid_edx(uint32_t leaf)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(0));
    return d;
}

static void step(const char *mode, const char *what)
{
    pvh_puts(mode);
    pvh_puts(": ");
    pvh_puts(what);
    pvh_puts(" cr0=");
    pvh_put_hex(read_cr0());
    pvh_puts(" cr3=");
    pvh_put_hex(read_cr3());
    pvh_puts(" cr4=");
    pvh_put_hex(read_cr4());
    pvh_puts("\n");
}

/* Reads the witness through the alias; prints what came back. */
static void check_alias(const char *mode)
{
    uintptr_t a = (uintptr_t)&witness + ALIAS;
    __asm__("" : "+r"(a));
    uint32_t v = *(volatile uint32_t *)a;
    step(mode, v == witness ? "alias reads the witness" : "alias reads something else");
}

/* The PAE PDPTEs as they are in memory now: bit 5 is reserved in them
 * (unlike in every other paging-structure entry, where it is Accessed), so
 * a CPU never sets it; KVM refuses (#GP) a CR0/CR3/CR4 load that finds it set. */
static void show_pdptes(const char *mode)
{
    pvh_puts(mode);
    pvh_puts(": pdpte0=");
    pvh_put_hex(pdpt[0]);
    pvh_puts(" pdpte3=");
    pvh_put_hex(pdpt[3]);
    pvh_puts("\n");
}

static void paging_on(const char *mode, uint32_t cr4, uint32_t cr3)
{
    step(mode, "begin");
    write_cr4(read_cr4() | cr4);
    step(mode, "cr4 set");
    write_cr3(cr3);
    step(mode, "cr3 loaded");
    write_cr0(read_cr0() | CR0_PG);
    step(mode, "paging on");
    check_alias(mode);
    if (cr4 & CR4_PAE)
        show_pdptes(mode);
}

static void paging_off(const char *mode, uint32_t cr4)
{
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr4(read_cr4() & ~cr4);
    step(mode, "paging off");
}

static void mode_pse(void)
{
    for (uint32_t i = 0; i < MAPPED >> 22; i++) {
        pd32[i] = (i << 22) | 0x83;                 /* present, writable, 4 MiB */
        pd32[(ALIAS >> 22) + i] = (i << 22) | 0x83;
    }
    paging_on("pse", CR4_PSE, (uint32_t)(uintptr_t)pd32);
    paging_off("pse", CR4_PSE);
}

static void pae_tables(int four_k)
{
    for (uint32_t i = 0; i < MAPPED >> 21; i++)
        pd_pae[i] = four_k ? ((uint64_t)(uintptr_t)&pt_pae[i * 512] | 0x3) : (((uint64_t)i << 21) | 0x83);
    for (uint32_t i = 0; four_k && i < MAPPED / 4096; i++)
        pt_pae[i] = ((uint64_t)i << 12) | 0x3;
    pdpt[0] = (uint64_t)(uintptr_t)pd_pae | 0x1;  /* PDPTEs: present only (bits 1-2 are reserved) */
    pdpt[3] = (uint64_t)(uintptr_t)pd_pae | 0x1;  /* 0xc0000000: the same directory */
}

static void mode_pae(const char *mode, int four_k)
{
    pae_tables(four_k);
    paging_on(mode, CR4_PAE, (uint32_t)(uintptr_t)pdpt);
    paging_off(mode, CR4_PAE);
}

/* EFER.NX on (when CPUID says NX), then PAE paging: startup_32's order. */
static void mode_nx(void)
{
    step("nx", "begin");
    if (!(cpuid_edx(0x80000001u) & (1u << 20))) {
        step("nx", "no NX in CPUID: skipped");
        return;
    }
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NX);
    step("nx", rdmsr(MSR_EFER) & EFER_NX ? "efer.nx set" : "efer.nx did not stick");
    pae_tables(1);
    paging_on("nx", CR4_PAE, (uint32_t)(uintptr_t)pdpt);
    paging_off("nx", CR4_PAE);
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(uint64_t)EFER_NX);
    step("nx", "efer.nx cleared");
}

/* Linux's order (arch/x86/platform/pvh/head.S, 32-bit): CR4.PAE with paging
 * off, tables, CR3, CR0.PG, a far jump; paging and PAE off; then PAE paging
 * on again (startup_32). */
static void mode_linux(void)
{
    step("linux", "begin");
    write_cr4(read_cr4() | CR4_PAE);
    step("linux", "cr4.pae with paging off");
    pae_tables(1);
    write_cr3((uint32_t)(uintptr_t)pdpt);
    write_cr0(read_cr0() | CR0_PG);
    __asm__ volatile("ljmp $0x08, $1f\n1:" ::: "memory");
    step("linux", "paging on, far jump done");
    check_alias("linux");
    show_pdptes("linux");
    paging_off("linux", CR4_PAE);
    paging_on("linux", CR4_PAE, (uint32_t)(uintptr_t)pdpt);
    paging_off("linux", CR4_PAE);
}

/* Our own flat GDT (the loader's may lie where our page tables map nothing:
 * QEMU's firmware keeps it near 4 GiB), CS 0x08 and data 0x10. */
static const uint64_t gdt[3] __attribute__((aligned(8))) = {0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};

static void load_own_gdt(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } gdtr = {sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n"
                     "1: movl $0x10, %%eax\n"
                     "movl %%eax, %%ds\n movl %%eax, %%es\n movl %%eax, %%ss\n"
                     "movl %%eax, %%fs\n movl %%eax, %%gs"
                     : : "m"(gdtr) : "eax", "memory");
}

void guest_main(uint32_t start_info_paddr)
{
    load_own_gdt();
    pvh_serial_init();
    pvh_puts("pvh paging\n");
    const struct hvm_start_info *si = pvh_start_info(start_info_paddr);
    if (!si)
        pvh_exit(1);
    if (pvh_cmdline_has(si->cmdline_paddr, "pse"))
        mode_pse();
    if (pvh_cmdline_has(si->cmdline_paddr, "pae2m"))
        mode_pae("pae2m", 0);
    if (pvh_cmdline_has(si->cmdline_paddr, "pae4k"))
        mode_pae("pae4k", 1);
    if (pvh_cmdline_has(si->cmdline_paddr, "nx"))
        mode_nx();
    if (pvh_cmdline_has(si->cmdline_paddr, "linux"))
        mode_linux();
    pvh_puts("paging done\n");
    pvh_exit(0);
}
