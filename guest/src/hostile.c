/* The hostile guest: one attack on the VMM per boot, chosen by a word of the
 * command line ("attack=NAME"), then, when the machine survives it, the line
 * "HOSTILE-SURVIVED NAME" and exit 0 through port 0xf4. tests/run/hostile.t
 * boots it under pvhboot and checks that the VMM either keeps running or
 * ends with its one-line error, never a crash. Attacks:
 *   outs-bogus   rep outsb from guest-physical addresses outside RAM (the MMIO
 *                hole, and wrapping at 4 GiB) to the UART and an unclaimed port
 *   ins-bogus    rep insb into addresses outside RAM
 *   mmio         32-bit reads and writes where there is no RAM or device;
 *                every read must give all ones ("mmio-read ADDR VALUE")
 *   ports        in and out of sizes 1, 2 and 4 on every port but the ones
 *                that end the machine (0xf4-0xf7, 0x64, 0x600-0x605)
 *   flood        64 KiB to the UART with rep outsb (KVM exits once per byte)
 *   huge-count   rep outsb with ECX = 0xffffffff: never ends by itself
 *   huge-ins     rep insb with ECX = 0xffffffff into an address outside RAM:
 *                never ends by itself
 *   uart-forever rep outsb to the UART with ECX = 0xffffffff: output without
 *                end, for a console that is closed or never read
 *   pm-garbage   every byte value to every ACPI PM register (PM1a and the
 *                GPE0 block at 0x608) and the i8042 ports but those that
 *                end the machine (SLP_EN with SLP_TYP S5, command 0xfe),
 *                words and dwords across them, then "pm-control VALUE"
 *                after writing 0: SCI_EN (only) reads set; and "pm-gpe0
 *                VALUE", GPE0 read as a word after writing all ones to both
 *                bytes: status 0 (only the VMM sets a bit), enable 0xff
 *   triple-fault an exception with an empty IDT
 *   wild-jump    a jump to an address with no RAM behind it
 *   read-module  reads a byte of every page of module 0, then prints
 *                "MODULE-READ PAGES SUM" and reads on, round after round,
 *                without end: the host truncates the module's file meanwhile
 *                (tests/run/host-files.t), and under --load map the pages
 *                are gone; the VMM must end with its one-line error
 *   virtio       every virtio-mmio and virtqueue rule broken against the
 *                device in slot 0 (hostile_virtio.c), then a proper request
 *   net          every virtio-net transmit rule broken against the NIC in
 *                slot 0, a 64 MiB chain, a flood of malformed frames during
 *                which the rng in slot 1 must still be served, then a few
 *                well-formed frames (hostile_net.c)
 *   vsock        every vsock protocol rule broken against --vsock: floods,
 *                garbage, credit ignored (hostile_vsock.c), then a proper
 *                connection */
#include "pvh_guest.h"

void guest_main(uint32_t start_info_paddr);
void attack_virtio(void); /* hostile_virtio.c */
void attack_net(void);    /* hostile_net.c */
void attack_vsock(void);  /* hostile_vsock.c */

#define NO_RAM 0xf0000000u /* in the MMIO hole below 4 GiB: neither RAM nor a device */

static uint8_t buffer[4096];
static const struct hvm_start_info *start_info;

static void rep_outsb(uint16_t port, uint32_t addr, uint32_t count)
{
    __asm__ volatile("rep outsb" : "+S"(addr), "+c"(count) : "d"(port) : "memory");
}

static void rep_insb(uint16_t port, uint32_t addr, uint32_t count)
{
    __asm__ volatile("rep insb" : "+D"(addr), "+c"(count) : "d"(port) : "memory");
}

static uint32_t port_in(uint16_t port, unsigned size)
{
    uint32_t v = 0;
    if (size == 1)
        __asm__ volatile("inb %1, %b0" : "+a"(v) : "Nd"(port));
    else if (size == 2)
        __asm__ volatile("inw %1, %w0" : "+a"(v) : "Nd"(port));
    else
        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void port_out(uint16_t port, uint32_t v, unsigned size)
{
    if (size == 1)
        __asm__ volatile("outb %b0, %1" : : "a"(v), "Nd"(port));
    else if (size == 2)
        __asm__ volatile("outw %w0, %1" : : "a"(v), "Nd"(port));
    else
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static void attack_outs_bogus(void)
{
    rep_outsb(0x80, NO_RAM, 4096);
    rep_outsb(0x80, 0xfffffff0u, 64); /* runs off the top of the 32-bit space */
    rep_outsb(PVH_COM1 + 7, NO_RAM, 16); /* the UART's scratch register */
}

static void attack_ins_bogus(void)
{
    rep_insb(PVH_COM1 + 5, NO_RAM, 4096);
    rep_insb(0x80, 0xfffffff0u, 64);
}

static void attack_mmio(void)
{
    static const uint32_t where[] = {NO_RAM, 0x20000000u, 0xfed00000u, 0xfffffffcu};
    for (unsigned i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)where[i];
        *p = 0xdeadbeefu;
        uint32_t v = *p;
        pvh_puts("mmio-read ");
        pvh_put_hex(where[i]);
        pvh_puts(" ");
        pvh_put_hex(v);
        pvh_puts("\n");
    }
}

static int ends_machine(uint32_t port)
{
    return (port >= 0xf4 && port <= 0xf7) || port == 0x64 || (port >= 0x600 && port <= 0x605);
}

static void attack_ports(void)
{
    for (uint32_t port = 0; port <= 0xffff; port++) {
        if (ends_machine(port))
            continue;
        for (unsigned size = 1; size <= 4; size *= 2) {
            port_out((uint16_t)port, 0xa5a5a5a5u, size);
            (void)port_in((uint16_t)port, size);
        }
    }
    pvh_outb(PVH_COM1 + 4, 0x00); /* leave any loopback mode the sweep set */
    pvh_serial_init();
}

static void attack_flood(void)
{
    for (unsigned i = 0; i < sizeof(buffer); i++)
        buffer[i] = (uint8_t)('a' + i % 26);
    buffer[sizeof(buffer) - 1] = '\n';
    for (unsigned i = 0; i < 16; i++)
        rep_outsb(PVH_COM1, (uint32_t)(uintptr_t)buffer, sizeof(buffer));
}

static void attack_huge_count(void)
{
    rep_outsb(0x80, (uint32_t)(uintptr_t)buffer, 0xffffffffu);
}

static void attack_huge_ins(void)
{
    rep_insb(0x80, NO_RAM, 0xffffffffu);
}

static void attack_uart_forever(void)
{
    for (unsigned i = 0; i < sizeof(buffer); i++)
        buffer[i] = (uint8_t)('A' + i % 26);
    for (;;)
        rep_outsb(PVH_COM1, (uint32_t)(uintptr_t)buffer, 0xffffffffu);
}

#define PM_EVT 0x600
#define PM_CNT 0x604
#define PM_GPE0 0x608 /* status, enable */
#define PM_END 0x60a

/* Would this byte in the PM1a control register's high half power off? */
static int powers_off(uint32_t high)
{
    uint32_t control = high << 8;
    return (control & (1u << 13)) && ((control >> 10) & 7) == 5;
}

static void attack_pm_garbage(void)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (uint32_t v = 0; v <= 0xff; v++) {
        for (uint16_t port = PM_EVT; port < PM_CNT + 1; port++)
            port_out(port, v, 1);
        if (!powers_off(v))
            port_out(PM_CNT + 1, v, 1);
        port_out(0x60, v, 1);
        port_out(0x60, v * 0x01010101u, 4);
        if (v != 0xfe)
            port_out(0x64, v, 1);
        port_out(PM_GPE0, v, 1);
        port_out(PM_GPE0 + 1, v, 1);
        port_out(PM_GPE0, v * 0x01010101u, sizes[v % 3]); /* a dword runs past the block's end */
        for (uint16_t port = PM_EVT; port < PM_END + 2; port++)
            (void)port_in(port, sizes[v % 3]);
        (void)port_in(0x60, 1);
        (void)port_in(0x64, 4);
    }
    /* words and dwords with every high byte that is not S5 + SLP_EN */
    for (uint32_t high = 0; high <= 0xff; high++) {
        if (powers_off(high))
            continue;
        port_out(PM_CNT, high << 8 | 0xa5, 2);
        port_out(PM_EVT + 2, (high << 24) | 0x00a5ffffu, 4); /* enable and control at once */
        port_out(PM_EVT + 3, high << 16 | 0xffffu, 4);       /* runs past the block's end */
    }
    port_out(PM_CNT, 0, 2); /* SCI_EN cleared: it must read back set */
    uint32_t control = port_in(PM_CNT, 2);
    pvh_puts("pm-control ");
    pvh_put_hex(control);
    pvh_puts("\n");
    port_out(PM_GPE0, 0xffff, 2);
    uint32_t gpe0 = port_in(PM_GPE0, 2);
    pvh_puts("pm-gpe0 ");
    pvh_put_hex(gpe0);
    pvh_puts("\n");
}

static void attack_triple_fault(void)
{
    static const struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } empty = {0, 0};
    __asm__ volatile("lidt %0; int3" : : "m"(empty));
}

static void attack_wild_jump(void)
{
    ((void (*)(void))(uintptr_t)NO_RAM)();
}

static uint32_t sum_module_pages(const volatile uint8_t *p, uint64_t size)
{
    uint32_t sum = 0;
    for (uint64_t off = 0; off < size; off += 4096)
        sum += p[off];
    return sum;
}

static void attack_read_module(void)
{
    const struct hvm_modlist_entry *m = pvh_module_count(start_info) ? pvh_module(start_info, 0) : 0;
    const volatile uint8_t *p = m ? pvh_ptr(m->paddr, m->size) : 0;
    if (!p || m->size == 0) {
        pvh_puts("read-module: no module 0\n");
        pvh_exit(3);
    }
    pvh_puts("MODULE-READ ");
    pvh_put_dec((m->size + 4095) / 4096);
    pvh_puts(" ");
    pvh_put_hex(sum_module_pages(p, m->size));
    pvh_puts("\n");
    for (;;)
        (void)sum_module_pages(p, m->size);
}

static const struct {
    const char *word, *name;
    void (*run)(void);
} attacks[] = {
    {"attack=outs-bogus", "outs-bogus", attack_outs_bogus},
    {"attack=ins-bogus", "ins-bogus", attack_ins_bogus},
    {"attack=mmio", "mmio", attack_mmio},
    {"attack=ports", "ports", attack_ports},
    {"attack=flood", "flood", attack_flood},
    {"attack=huge-count", "huge-count", attack_huge_count},
    {"attack=huge-ins", "huge-ins", attack_huge_ins},
    {"attack=uart-forever", "uart-forever", attack_uart_forever},
    {"attack=pm-garbage", "pm-garbage", attack_pm_garbage},
    {"attack=triple-fault", "triple-fault", attack_triple_fault},
    {"attack=wild-jump", "wild-jump", attack_wild_jump},
    {"attack=read-module", "read-module", attack_read_module},
    {"attack=virtio", "virtio", attack_virtio},
    {"attack=net", "net", attack_net},
    {"attack=vsock", "vsock", attack_vsock},
};

void guest_main(uint32_t start_info_paddr)
{
    pvh_serial_init();
    const struct hvm_start_info *si = pvh_start_info(start_info_paddr);
    start_info = si;
    if (!si) {
        pvh_puts("hostile: no start_info\n");
        pvh_exit(2);
    }
    for (unsigned i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
        if (!pvh_cmdline_has(si->cmdline_paddr, attacks[i].word))
            continue;
        pvh_puts("HOSTILE-ATTACK ");
        pvh_puts(attacks[i].name);
        pvh_puts("\n");
        attacks[i].run();
        pvh_puts("HOSTILE-SURVIVED ");
        pvh_puts(attacks[i].name);
        pvh_puts("\n");
        pvh_exit(0);
    }
    pvh_puts("hostile: no attack=NAME on the command line\n");
    pvh_exit(2);
}
