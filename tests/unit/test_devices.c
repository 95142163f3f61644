/* Devices driven without KVM through their port handlers and hooks: the
 * 16550A's registers (DLAB, IER/IIR, LSR, loopback MSR, scratch), its IRQ line
 * and output, the bounded receive FIFO; the i8042 reset; debug-exit status;
 * ACPI S5 power-off; the GPE0 block (status write-1-to-clear, enable) and
 * the SCI's level following (status & enable); the debug console on port 0xe9 (present only with an
 * output: then reads 0xe9, passes each written byte); the RTC's ports
 * registered; unhandled ports and MMIO reading all ones, counted;
 * port-I/O exits decoded from a kvm_run (vmm/exit.c): string I/O reaches the
 * UART byte by byte, impossible records are refused and touch nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../vmm/dev/devices.h"
#include "../../vmm/exit.h"
#include "pvhboot/acpi.h"

struct machine {
    int irq_changes, irq_level;
    unsigned irq;
    int ended;
    enum pvh_vm_end end;
    int status;
    uint8_t out[64];
    size_t nout;
    uint8_t dbg[64];
    size_t ndbg;
};

static void set_irq(void *ctx, unsigned irq, int level)
{
    struct machine *m = ctx;
    m->irq = irq;
    m->irq_level = level;
    m->irq_changes++;
}

static void end(void *ctx, enum pvh_vm_end e, int status)
{
    struct machine *m = ctx;
    m->ended++;
    m->end = e;
    m->status = status;
}

static void output(void *ctx, const uint8_t *buf, size_t len)
{
    struct machine *m = ctx;
    for (size_t i = 0; i < len && m->nout < sizeof(m->out); i++)
        m->out[m->nout++] = buf[i];
}

static void debug_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct machine *m = ctx;
    for (size_t i = 0; i < len && m->ndbg < sizeof(m->dbg); i++)
        m->dbg[m->ndbg++] = buf[i];
}

struct fixture {
    struct machine m;
    struct pvh_io_hooks hooks;
    struct pvh_devices d;
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    f.hooks = (struct pvh_io_hooks){&f.m, set_irq, end, output, debug_output};
    pvh_devices_init(&f.d, &f.hooks);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pvh_devices_destroy(&f->d);
    return 0;
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
    uint8_t v;
    pvh_devices_io(&f->d, port, 0, &v, 1);
    return v;
}

static void outb(struct fixture *f, uint16_t port, uint8_t v)
{
    pvh_devices_io(&f->d, port, 1, &v, 1);
}

static void test_uart_transmit_and_lsr(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(inb(f, 0x3fd) & 0x60, 0x60); /* THRE and TEMT: always ready */
    outb(f, 0x3f8, 'h');
    outb(f, 0x3f8, 'i');
    assert_int_equal(f->m.nout, 2);
    assert_memory_equal(f->m.out, "hi", 2);
    assert_int_equal(f->d.uart.tx_bytes, 2);
}

static void test_uart_dlab_and_scratch(void **state)
{
    struct fixture *f = *state;
    outb(f, 0x3fb, 0x80); /* DLAB */
    outb(f, 0x3f8, 0x0c);
    outb(f, 0x3f9, 0x00);
    assert_int_equal(inb(f, 0x3f8), 0x0c);
    assert_int_equal(f->m.nout, 0); /* the divisor write transmitted nothing */
    outb(f, 0x3fb, 0x03);
    assert_int_equal(inb(f, 0x3fb), 0x03);
    outb(f, 0x3ff, 0x5a);
    assert_int_equal(inb(f, 0x3ff), 0x5a);
}

static void test_uart_thre_interrupt(void **state)
{
    struct fixture *f = *state;
    outb(f, 0x3fc, 0x08);               /* OUT2: interrupts reach the PIC */
    assert_int_equal(inb(f, 0x3fa) & 0x0f, 0x01); /* none pending */
    outb(f, 0x3f9, 0x02);               /* enable THRI: pending at once */
    assert_int_equal(f->m.irq, 4);
    assert_int_equal(f->m.irq_level, 1);
    assert_int_equal(inb(f, 0x3fa) & 0x0f, 0x02); /* IIR says THRE; reading acknowledges */
    assert_int_equal(f->m.irq_level, 0);
    outb(f, 0x3f8, 'x');                /* transmitted at once: owed again */
    assert_int_equal(f->m.irq_level, 1);
    outb(f, 0x3f9, 0x00);
    assert_int_equal(f->m.irq_level, 0);
}

static void test_uart_receive_fifo(void **state)
{
    struct fixture *f = *state;
    outb(f, 0x3fc, 0x08);
    outb(f, 0x3f9, 0x01); /* RDI */
    uint8_t big[PVH_UART_RX_SIZE + 10];
    memset(big, 'a', sizeof(big));
    big[0] = 'q';
    assert_int_equal(pvh_uart_receive(&f->d.uart, big, sizeof(big)), PVH_UART_RX_SIZE); /* bounded */
    assert_int_equal(f->m.irq_level, 1);
    assert_int_equal(inb(f, 0x3fd) & 0x01, 0x01);
    assert_int_equal(inb(f, 0x3fa) & 0x0f, 0x04);
    assert_int_equal(inb(f, 0x3f8), 'q');
    outb(f, 0x3fa, 0x03); /* FIFO enable + clear receive */
    assert_int_equal(inb(f, 0x3fd) & 0x01, 0x00);
    assert_int_equal(inb(f, 0x3fa) & 0xc0, 0xc0); /* 16550A: FIFOs enabled */
    assert_int_equal(f->m.irq_level, 0);
}

static void test_uart_loopback(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(inb(f, 0x3fe), 0xb0);
    outb(f, 0x3fc, 0x1a); /* loop + RTS + OUT2, as Linux's probe does */
    assert_int_equal(inb(f, 0x3fe) & 0xf0, 0x90);
    outb(f, 0x3f8, 'L');
    assert_int_equal(f->m.nout, 0);     /* looped back, not output */
    assert_int_equal(inb(f, 0x3f8), 'L');
}

static void test_i8042_reset(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(inb(f, 0x64) & 0x01, 0); /* no data */
    outb(f, 0x64, 0xaa);
    assert_int_equal(f->m.ended, 0);
    outb(f, 0x64, 0xfe);
    assert_int_equal(f->m.ended, 1);
    assert_int_equal(f->m.end, PVH_END_RESET);
    assert_int_equal(f->m.status, 0);
}

/* What Linux's i8042 and atkbd drivers do at probe, answered; Ctrl-Alt-Del
 * typed from outside arrives in set 1, one IRQ 1 edge per byte. */
static void test_i8042_probe_and_ctrl_alt_del(void **state)
{
    struct fixture *f = *state;
    outb(f, 0x64, 0xaa); /* controller self-test */
    assert_int_equal(inb(f, 0x64) & 0x09, 0x09); /* output full; the last write was a command */
    assert_int_equal(inb(f, 0x60), 0x55);
    assert_int_equal(inb(f, 0x64) & 0x01, 0);
    outb(f, 0x64, 0x20); /* read the command byte: translating, keyboard interrupt on */
    assert_int_equal(inb(f, 0x60), 0x65);
    outb(f, 0x64, 0x60); /* write it: interrupts off */
    outb(f, 0x60, 0x44);
    outb(f, 0x64, 0x20);
    assert_int_equal(inb(f, 0x60), 0x44);
    outb(f, 0x64, 0xab); /* keyboard port test */
    assert_int_equal(inb(f, 0x60), 0x00);
    outb(f, 0x60, 0xf2); /* the keyboard's ID */
    assert_int_equal(inb(f, 0x60), 0xfa);
    assert_int_equal(inb(f, 0x60), 0xab);
    assert_int_equal(inb(f, 0x60), 0x41);
    outb(f, 0x60, 0xf4); /* enable: ACK */
    assert_int_equal(inb(f, 0x60), 0xfa);
    int before = f->m.irq_changes; /* none since the interrupts went off */
    assert_int_equal(f->m.irq_level, 0);
    outb(f, 0x64, 0x60);
    outb(f, 0x60, 0x45); /* keyboard interrupt on */
    pthread_mutex_lock(&f->d.i8042.lock);
    pvh_i8042_ctrl_alt_del(&f->d.i8042);
    pthread_mutex_unlock(&f->d.i8042.lock);
    static const uint8_t keys[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
    for (size_t i = 0; i < sizeof(keys); i++) {
        assert_int_equal(f->m.irq, 1);
        assert_int_equal(f->m.irq_level, 1); /* raised for this byte */
        assert_int_equal(inb(f, 0x60), keys[i]);
    }
    assert_int_equal(f->m.irq_level, 0);
    assert_int_equal(f->m.irq_changes - before, 2 * (int)sizeof(keys)); /* an edge per byte */
    assert_int_equal(inb(f, 0x64) & 0x01, 0);
    assert_int_equal(f->m.ended, 0);
}

static void test_debug_exit(void **state)
{
    struct fixture *f = *state;
    uint8_t v[4] = {0x07, 0x01, 0, 0};
    pvh_devices_io(&f->d, 0xf4, 1, v, 4);
    assert_int_equal(f->m.end, PVH_END_DEBUG_EXIT);
    assert_int_equal(f->m.status, 7); /* low 8 bits of 0x107 */
}

static void test_acpi_poweroff(void **state)
{
    struct fixture *f = *state;
    uint8_t v[2];
    pvh_devices_io(&f->d, PVH_ACPI_PM1A_CNT_PORT, 0, v, 2);
    assert_int_equal(v[0] & 1, 1); /* SCI_EN */
    uint16_t typ = PVH_ACPI_SLP_TYP_S5 << PVH_ACPI_SLP_TYP_SHIFT;
    v[0] = (uint8_t)typ;
    v[1] = (uint8_t)(typ >> 8);
    pvh_devices_io(&f->d, PVH_ACPI_PM1A_CNT_PORT, 1, v, 2); /* type first, no SLP_EN */
    assert_int_equal(f->m.ended, 0);
    typ |= PVH_ACPI_SLP_EN;
    v[0] = (uint8_t)typ;
    v[1] = (uint8_t)(typ >> 8);
    pvh_devices_io(&f->d, PVH_ACPI_PM1A_CNT_PORT, 1, v, 2);
    assert_int_equal(f->m.ended, 1);
    assert_int_equal(f->m.end, PVH_END_POWEROFF);
}

static void test_acpi_other_sleep_state_ignored(void **state)
{
    struct fixture *f = *state;
    uint16_t s3 = (uint16_t)((3 << PVH_ACPI_SLP_TYP_SHIFT) | PVH_ACPI_SLP_EN);
    uint8_t v[2] = {(uint8_t)s3, (uint8_t)(s3 >> 8)};
    pvh_devices_io(&f->d, PVH_ACPI_PM1A_CNT_PORT, 1, v, 2);
    assert_int_equal(f->m.ended, 0);
}

static uint8_t gpe_in(struct fixture *f, uint16_t off)
{
    uint8_t v = 0;
    pvh_devices_io(&f->d, (uint16_t)(PVH_ACPI_GPE0_PORT + off), 0, &v, 1);
    return v;
}

static void gpe_out(struct fixture *f, uint16_t off, uint8_t v)
{
    pvh_devices_io(&f->d, (uint16_t)(PVH_ACPI_GPE0_PORT + off), 1, &v, 1);
}

/* GPE0: status bits only the VMM sets, the guest clears by writing 1s; the
 * SCI (IRQ 9) is high exactly while an enabled status bit is set, each
 * change of level told once. */
static void test_acpi_gpe_and_sci(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(gpe_in(f, 0), 0);
    assert_int_equal(gpe_in(f, 1), 0);
    gpe_out(f, 0, 0xff); /* the guest cannot set a status bit */
    assert_int_equal(gpe_in(f, 0), 0);
    uint8_t hole = 0;
    pvh_devices_io(&f->d, PVH_ACPI_PM1A_CNT_PORT + 2, 0, &hole, 1); /* 0x606: no register */
    assert_int_equal(hole, 0xff);
    pthread_mutex_lock(&f->d.acpipm.lock);
    pvh_acpipm_raise_gpe(&f->d.acpipm, PVH_ACPI_GPE_VMGENID);
    pthread_mutex_unlock(&f->d.acpipm.lock);
    assert_int_equal(gpe_in(f, 0), 1);
    assert_int_equal(f->m.irq_changes, 0); /* not enabled: no SCI */
    gpe_out(f, 1, 1);
    assert_int_equal(f->m.irq_changes, 1);
    assert_int_equal(f->m.irq, PVH_ACPI_SCI_IRQ);
    assert_int_equal(f->m.irq_level, 1);
    gpe_out(f, 0, 0xfe); /* other bits: status stays, the line stays up */
    assert_int_equal(gpe_in(f, 0), 1);
    assert_int_equal(f->m.irq_changes, 1);
    gpe_out(f, 1, 0); /* disabled: the line drops, the status stays */
    assert_int_equal(f->m.irq_level, 0);
    assert_int_equal(gpe_in(f, 0), 1);
    gpe_out(f, 1, 1);
    assert_int_equal(f->m.irq_level, 1);
    uint8_t word[2];
    pvh_devices_io(&f->d, PVH_ACPI_GPE0_PORT, 0, word, 2);
    assert_int_equal(word[0], 1);
    assert_int_equal(word[1], 1);
    gpe_out(f, 0, 1); /* acknowledged: status clear, the line down */
    assert_int_equal(gpe_in(f, 0), 0);
    assert_int_equal(f->m.irq_level, 0);
    assert_int_equal(f->m.irq_changes, 4);
    pthread_mutex_lock(&f->d.acpipm.lock);
    pvh_acpipm_raise_gpe(&f->d.acpipm, PVH_ACPI_GPE_VMGENID);
    pthread_mutex_unlock(&f->d.acpipm.lock);
    assert_int_equal(f->m.irq_level, 1);
    word[0] = 1; /* one 16-bit write: status cleared, enable 0x80 */
    word[1] = 0x80;
    pvh_devices_io(&f->d, PVH_ACPI_GPE0_PORT, 1, word, 2);
    assert_int_equal(f->m.irq_level, 0);
    assert_int_equal(gpe_in(f, 1), 0x80);
    assert_int_equal(f->m.ended, 0);
}

static void test_debugcon_output_and_readback(void **state)
{
    struct fixture *f = *state;
    const char *msg = "E9 says hi\n";
    for (const char *c = msg; *c; c++)
        outb(f, PVH_DEBUGCON_PORT, (uint8_t)*c);
    uint8_t w[2] = {'!', '?'}; /* a word: its first byte is 0xe9's, the second 0xea's (nobody's) */
    pvh_devices_io(&f->d, PVH_DEBUGCON_PORT, 1, w, 2);
    assert_int_equal(f->m.ndbg, strlen(msg) + 1);
    assert_memory_equal(f->m.dbg, "E9 says hi\n!", strlen(msg) + 1);
    assert_int_equal(f->m.nout, 0); /* nothing on the serial console */
    assert_int_equal(inb(f, PVH_DEBUGCON_PORT), 0xe9);
    uint8_t v[2] = {0};
    pvh_devices_io(&f->d, PVH_DEBUGCON_PORT, 0, v, 2);
    assert_int_equal(v[0], 0xe9);
    assert_int_equal(v[1], 0xff);
}

/* Without --debugcon there is no device: 0xe9 reads all ones and is counted. */
static void test_debugcon_absent_without_output(void **state)
{
    (void)state;
    static struct fixture g;
    memset(&g, 0, sizeof(g));
    g.hooks = (struct pvh_io_hooks){&g.m, set_irq, end, output, NULL};
    pvh_devices_init(&g.d, &g.hooks);
    assert_int_equal(inb(&g, PVH_DEBUGCON_PORT), 0xff);
    outb(&g, PVH_DEBUGCON_PORT, 'x');
    assert_int_equal(g.d.unhandled.t.n, 1);
    assert_int_equal(g.d.unhandled.t.e[0].addr, PVH_DEBUGCON_PORT);
    assert_int_equal(g.m.ndbg + g.m.nout, 0);
    pvh_devices_destroy(&g.d);
}

/* The RTC answers on 0x70/0x71: register D says its time is valid. */
static void test_rtc_ports_registered(void **state)
{
    struct fixture *f = *state;
    outb(f, PVH_RTC_PORT, 0x0d);
    assert_int_equal(inb(f, PVH_RTC_PORT + 1), 0x80);
    outb(f, PVH_RTC_PORT, 0x0b);
    assert_int_equal(inb(f, PVH_RTC_PORT + 1), 0x02); /* 24-hour BCD, as firmware leaves it */
    assert_int_equal(f->d.unhandled.t.n, 0);
}

static void test_unhandled_reads_all_ones_and_counts(void **state)
{
    struct fixture *f = *state;
    uint8_t v[4] = {0};
    pvh_devices_io(&f->d, 0xcfc, 0, v, 4);
    assert_memory_equal(v, "\xff\xff\xff\xff", 4);
    pvh_devices_io(&f->d, 0xcfc, 1, v, 4);
    pvh_devices_io(&f->d, 0xcfc, 0, v, 2);
    assert_int_equal(f->d.unhandled.t.n, 1);
    assert_int_equal(f->d.unhandled.t.e[0].addr, 0xcfc);
    assert_int_equal(f->d.unhandled.t.e[0].reads, 2);
    assert_int_equal(f->d.unhandled.t.e[0].writes, 1);
    uint8_t m[8] = {0};
    pvh_devices_mmio(&f->d, 0xd0000000, 0, m, 8);
    assert_memory_equal(m, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    for (uint16_t p = 0x100; p < 0x100 + 2 * PVH_UNHANDLED_SLOTS; p++)
        pvh_devices_io(&f->d, p, 1, v, 1);
    assert_int_equal(f->d.unhandled.t.n, PVH_UNHANDLED_SLOTS); /* bounded table */
    assert_true(f->d.unhandled.t.other > 0);
}

/* A kvm_run mapping of two pages with its port data at 4096, as KVM's. */
static struct kvm_run *io_exit(uint8_t *buf, uint8_t dir, uint8_t size, uint16_t port, uint32_t count, uint64_t off)
{
    struct kvm_run *run = (struct kvm_run *)buf;
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = dir;
    run->io.size = size;
    run->io.port = port;
    run->io.count = count;
    run->io.data_offset = off;
    return run;
}

static void test_exit_string_io_reaches_uart(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[8192] __attribute__((aligned(8)));
    struct pvh_error err;
    memcpy(buf + 4096, "rep outsb", 9);
    assert_int_equal(pvh_exit_io(&f->d, io_exit(buf, KVM_EXIT_IO_OUT, 1, 0x3f8, 9, 4096), sizeof(buf), &err), 0);
    assert_int_equal(f->m.nout, 9);
    assert_memory_equal(f->m.out, "rep outsb", 9);
    /* a read of 4 ports of 2 bytes from nowhere: all ones */
    memset(buf + 4096, 0, 8);
    assert_int_equal(pvh_exit_io(&f->d, io_exit(buf, KVM_EXIT_IO_IN, 2, 0x510, 4, 4096), sizeof(buf), &err), 0);
    assert_memory_equal(buf + 4096, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
}

static void test_exit_impossible_io_refused(void **state)
{
    struct fixture *f = *state;
    static uint8_t buf[8192] __attribute__((aligned(8)));
    struct pvh_error err;
    struct pvh_devices before = f->d;
    assert_int_equal(pvh_exit_io(&f->d, io_exit(buf, KVM_EXIT_IO_OUT, 3, 0x3f8, 1, 4096), sizeof(buf), &err), -1);
    assert_string_equal(err.msg, "KVM reported port I/O of 3 bytes at port 0x3f8");
    assert_int_equal(pvh_exit_io(&f->d, io_exit(buf, KVM_EXIT_IO_OUT, 4, 0x3f8, 0xffffffffu, 4096), sizeof(buf),
                                 &err), -1);
    assert_string_equal(err.msg, "KVM reported port I/O data outside kvm_run's data area (offset 0x1000, "
                                 "4294967295 x 4 bytes, mapping 8192 bytes)");
    /* data over the kvm_run fields themselves (the fuzzer's first find) */
    assert_int_equal(pvh_exit_io(&f->d, io_exit(buf, KVM_EXIT_IO_IN, 4, 0x3f8, 2, 15), sizeof(buf), &err), -1);
    assert_int_equal(pvh_exit_io(&f->d, io_exit(buf, KVM_EXIT_IO_IN, 1, 0x3f8, 1, UINT64_MAX), sizeof(buf), &err),
                     -1);
    assert_memory_equal(&before, &f->d, sizeof(before));
    assert_int_equal(f->m.nout, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_uart_transmit_and_lsr, setup),
        cmocka_unit_test_setup(test_uart_dlab_and_scratch, setup),
        cmocka_unit_test_setup(test_uart_thre_interrupt, setup),
        cmocka_unit_test_setup(test_uart_receive_fifo, setup),
        cmocka_unit_test_setup(test_uart_loopback, setup),
        cmocka_unit_test_setup(test_i8042_reset, setup),
        cmocka_unit_test_setup(test_i8042_probe_and_ctrl_alt_del, setup),
        cmocka_unit_test_setup(test_debug_exit, setup),
        cmocka_unit_test_setup(test_acpi_poweroff, setup),
        cmocka_unit_test_setup(test_acpi_other_sleep_state_ignored, setup),
        cmocka_unit_test_setup_teardown(test_acpi_gpe_and_sci, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debugcon_output_and_readback, setup, teardown),
        cmocka_unit_test(test_debugcon_absent_without_output),
        cmocka_unit_test_setup_teardown(test_rtc_ports_registered, setup, teardown),
        cmocka_unit_test_setup(test_unhandled_reads_all_ones_and_counts, setup),
        cmocka_unit_test_setup(test_exit_string_io_reaches_uart, setup),
        cmocka_unit_test_setup(test_exit_impossible_io_refused, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
