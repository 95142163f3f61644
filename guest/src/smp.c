/* The SMP guest: the BSP (vCPU 0) reads the local APIC ids from the ACPI
 * MADT (RSDP from start_info, then the XSDT or RSDT), copies the real-mode
 * trampoline (ap_trampoline.S) to SMP_TRAMPOLINE and starts every AP with
 * INIT-SIPI-SIPI through its local APIC's ICR (0xFEE00310, then 0xFEE00300).
 * Each AP counts itself in and then does port I/O for ever (an OUT to the
 * unclaimed port 0x80: one exit to the VMM each), and so does the BSP. The
 * command line picks what happens then (tests/run/smp.t):
 *   smp=fault   (the default) once every AP is up, the AP with the highest
 *               APIC id triple-faults (lidt of an empty IDT, then a division
 *               by zero: a fault, which KVM never has to emulate) while
 *               the others go on with their port I/O: the VMM must end with
 *               that vCPU's triple fault, whatever the others are doing
 *   smp=spin    nobody faults: the VM runs until --timeout
 *   smp=nosipi  the BSP never starts the APs, which stay in KVM_RUN waiting
 *               for a SIPI, and does port I/O itself until --timeout
 * Serial lines: "smp: cpus N bsp B", "smp: K APs up" (or "smp: APs left
 * waiting for SIPI"), "smp: APIC id H triple-faults now". Exit 3 (port 0xf4)
 * when the MADT cannot be read or an AP does not come up. */
#include "pvh_guest.h"
#include "smp.h"

void guest_main(uint32_t start_info_paddr);
void ap_main(void);
extern const uint8_t ap_trampoline[], ap_trampoline_end[];

#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_PENDING (1u << 12)
#define ICR_INIT 0x00004500u    /* INIT, level assert */
#define ICR_STARTUP 0x00004600u /* start-up IPI; the vector is the page number */
#define IDLE_PORT 0x80
#define NO_CPU 0xffffffffu
#define MAX_TABLE 65536u        /* ACPI tables longer than this are not believed */
#define AP_WAIT_ROUNDS 2000000u /* port reads the BSP waits for the APs (each one VM exit) */

static volatile uint32_t aps_up;
static volatile uint32_t fault_id = NO_CPU;

static uint32_t lapic_read(uint32_t reg)
{
    return *(volatile uint32_t *)(uintptr_t)(LAPIC + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(LAPIC + reg) = v;
}

static uint32_t my_apic_id(void)
{
    return lapic_read(LAPIC_ID) >> 24;
}

static void spin(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        __asm__ volatile("pause");
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int same4(const uint8_t *p, const char *s)
{
    return p[0] == s[0] && p[1] == s[1] && p[2] == s[2] && p[3] == s[3];
}

/* An ACPI table at paddr (below 4 GiB) whose header and length can be read. */
static const uint8_t *acpi_table(uint64_t paddr)
{
    const uint8_t *t = pvh_ptr(paddr, 36);
    return t && rd32(t + 4) >= 36 && rd32(t + 4) <= MAX_TABLE && pvh_ptr(paddr, rd32(t + 4)) ? t : 0;
}

/* The MADT, through the XSDT (revision 2) or the RSDT. */
static const uint8_t *find_madt(const struct hvm_start_info *si)
{
    const uint8_t *rsdp = pvh_ptr(si->rsdp_paddr, 36);
    if (!rsdp || !same4(rsdp, "RSD ") || !same4(rsdp + 4, "PTR "))
        return 0;
    uint32_t xsdt_hi = rd32(rsdp + 28);
    int wide = rsdp[15] >= 2 && xsdt_hi == 0 && rd32(rsdp + 24) != 0;
    const uint8_t *sdt = acpi_table(wide ? rd32(rsdp + 24) : rd32(rsdp + 16));
    if (!sdt)
        return 0;
    unsigned step = wide ? 8 : 4;
    for (uint32_t off = 36; off + step <= rd32(sdt + 4); off += step) {
        if (wide && rd32(sdt + off + 4) != 0)
            continue; /* above 4 GiB: out of reach of 32-bit code */
        const uint8_t *t = acpi_table(rd32(sdt + off));
        if (t && same4(t, "APIC"))
            return t;
    }
    return 0;
}

/* The enabled local APICs' ids (MADT entries of type 0); their count. */
static unsigned madt_apic_ids(const uint8_t *madt, uint8_t *ids, unsigned cap)
{
    unsigned n = 0;
    uint32_t len = rd32(madt + 4);
    for (uint32_t off = 44; off + 2 <= len && n < cap;) {
        uint8_t type = madt[off], elen = madt[off + 1];
        if (elen < 2 || off + elen > len)
            break;
        if (type == 0 && elen >= 8 && (rd32(madt + off + 4) & 1))
            ids[n++] = madt[off + 3];
        off += elen;
    }
    return n;
}

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, icr);
    for (unsigned i = 0; i < 1000000 && (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING); i++)
        __asm__ volatile("pause");
}

static void start_ap(uint32_t apic_id)
{
    send_ipi(apic_id, ICR_INIT);
    spin(10000);
    for (int i = 0; i < 2; i++) {
        send_ipi(apic_id, ICR_STARTUP | (SMP_TRAMPOLINE >> 12));
        spin(1000);
    }
}

static void copy_trampoline(void)
{
    volatile uint8_t *to = (volatile uint8_t *)(uintptr_t)SMP_TRAMPOLINE;
    for (const uint8_t *p = ap_trampoline; p < ap_trampoline_end; p++)
        *to++ = *p;
}

static __attribute__((noreturn)) void triple_fault(void)
{
    static const struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } empty = {0, 0};
    __asm__ volatile("lidt %0; xorl %%ecx, %%ecx; divl %%ecx" : : "m"(empty) : "eax", "ecx", "edx");
    for (;;)
        __asm__ volatile("cli; hlt");
}

static __attribute__((noreturn)) void port_io_forever(uint32_t id)
{
    for (;;) {
        if (fault_id == id)
            triple_fault();
        pvh_outb(IDLE_PORT, (uint8_t)id);
    }
}

void ap_main(void)
{
    uint32_t id = my_apic_id();
    __atomic_fetch_add(&aps_up, 1, __ATOMIC_SEQ_CST);
    port_io_forever(id);
}

static void put_line(const char *a, uint64_t n, const char *b)
{
    pvh_puts(a);
    pvh_put_dec(n);
    pvh_puts(b);
}

void guest_main(uint32_t start_info_paddr)
{
    pvh_serial_init();
    const struct hvm_start_info *si = pvh_start_info(start_info_paddr);
    const uint8_t *madt = si ? find_madt(si) : 0;
    static uint8_t ids[SMP_MAX_CPUS];
    unsigned ncpus = madt ? madt_apic_ids(madt, ids, SMP_MAX_CPUS) : 0;
    if (!ncpus) {
        pvh_puts("smp: no local APIC in the MADT\n");
        pvh_exit(3);
    }
    uint32_t bsp = my_apic_id();
    put_line("smp: cpus ", ncpus, "");
    put_line(" bsp ", bsp, "\n");
    if (pvh_cmdline_has(si->cmdline_paddr, "smp=nosipi")) {
        pvh_puts("smp: APs left waiting for SIPI\n");
        port_io_forever(bsp);
    }
    copy_trampoline();
    lapic_write(LAPIC_SVR, 0x1ff); /* software-enable the local APIC, spurious vector 0xff */
    uint32_t highest = NO_CPU;
    for (unsigned i = 0; i < ncpus; i++) {
        if (ids[i] == bsp)
            continue;
        start_ap(ids[i]);
        if (highest == NO_CPU || ids[i] > highest)
            highest = ids[i];
    }
    for (unsigned round = 0; round < AP_WAIT_ROUNDS && aps_up < ncpus - 1; round++)
        pvh_inb(IDLE_PORT);
    put_line("smp: ", aps_up, " APs up\n");
    if (aps_up != ncpus - 1)
        pvh_exit(3);
    if (highest != NO_CPU && !pvh_cmdline_has(si->cmdline_paddr, "smp=spin")) {
        put_line("smp: APIC id ", highest, " triple-faults now\n");
        fault_id = highest;
    }
    port_io_forever(bsp);
}
