/* libFuzzer harness for device emulation: the input is a sequence of
 * operations a hostile guest (or a confused KVM) could cause — port reads and
 * writes of size 1/2/4 (mostly aimed at the UART, i8042, debug-exit, ACPI
 * PM, RTC and debug console ranges, sometimes anywhere), MMIO accesses,
 * console input bytes, the RTC's clock moving on (a clock the input drives),
 * and raw
 * KVM_EXIT_IO / KVM_EXIT_MMIO records with arbitrary fields decoded by
 * vmm/exit.c from a kvm_run-sized buffer. After every operation the
 * invariants are checked (abort() on a violation): the UART's receive FIFO
 * stays within its 256 bytes, the IRQ lines only toggle 0/1 on IRQ 4 and 8, each
 * serial or debug console output call carries one byte (never more than were transmitted), an end carries a valid kind and a
 * status 0-255, the unhandled-access table stays bounded, and a rejected
 * kvm_run record touches nothing. ASan checks every byte access. */
#include <stdlib.h>
#include <string.h>

#include "../../vmm/exit.h"
#include "fuzz_common.h"
#include "pvhboot/acpi.h"

#define RUN_SIZE 8192 /* KVM's is 2+ pages; its port data sits at 4096 */

struct recorder {
    int irq_level[16];
    uint64_t outputs, debug_outputs;
    uint64_t mono_ns; /* the RTC's clock */
};

static void on_irq(void *ctx, unsigned irq, int level)
{
    struct recorder *r = ctx;
    check((irq == PVH_COM1_IRQ || irq == PVH_RTC_IRQ || irq == PVH_I8042_IRQ) && (level == 0 || level == 1) &&
          level != r->irq_level[irq]);
    r->irq_level[irq] = level;
}

static void on_end(void *ctx, enum pvh_vm_end end, int status)
{
    (void)ctx;
    check(end == PVH_END_DEBUG_EXIT || end == PVH_END_POWEROFF || end == PVH_END_RESET);
    check(status >= 0 && status <= 255);
}

static void on_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct recorder *r = ctx;
    check(buf != NULL && len == 1);
    r->outputs++;
}

static void on_debug_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct recorder *r = ctx;
    check(buf != NULL && len == 1);
    r->debug_outputs++;
}

static int64_t fake_realtime(void *ctx)
{
    return 1700000000ll * 1000000000ll + (int64_t)((struct recorder *)ctx)->mono_ns;
}

static uint64_t fake_monotonic(void *ctx)
{
    return ((struct recorder *)ctx)->mono_ns;
}

/* A port: mostly inside a device's range, sometimes anywhere. */
static uint16_t pick_port(struct input *in)
{
    static const uint16_t bases[] = {0x3f8, 0x60, 0xf4, PVH_ACPI_PM1A_EVT_PORT, PVH_RTC_PORT, PVH_DEBUGCON_PORT};
    uint8_t sel = (uint8_t)take(in, 1);
    if (sel < 0xe0)
        return (uint16_t)(bases[sel % 6] + (sel >> 3) % 8);
    return (uint16_t)take(in, 2);
}

static unsigned pick_size(struct input *in)
{
    static const unsigned sizes[] = {1, 2, 4, 1};
    return sizes[take(in, 1) % 4];
}

static void hostile_io_exit(struct pvh_devices *dev, struct input *in, uint8_t *run_buf)
{
    struct kvm_run *run = (struct kvm_run *)run_buf;
    memset(run_buf, 0xa5, RUN_SIZE);
    run->exit_reason = KVM_EXIT_IO;
    run->io.direction = (uint8_t)take(in, 1) & 1;
    run->io.size = (uint8_t)take(in, 1);
    run->io.port = pick_port(in);
    run->io.count = (uint32_t)take(in, 4);
    run->io.data_offset = take(in, 8);
    if (take(in, 1) & 1) /* often inside the mapping, past or over the struct */
        run->io.data_offset = (run->io.data_offset % RUN_SIZE);
    uint64_t offset = run->io.data_offset;
    uint32_t count = run->io.count;
    uint8_t size = run->io.size;
    struct pvh_devices before = *dev;
    struct pvh_error err;
    if (pvh_exit_io(dev, run, RUN_SIZE, &err) != 0) {
        check(memcmp(&before, dev, sizeof(before)) == 0 && err.msg[0] != '\0');
        return;
    }
    check(size == 1 || size == 2 || size == 4);
    check(offset >= sizeof(*run) && offset + (uint64_t)size * count <= RUN_SIZE);
}

static void hostile_mmio_exit(struct pvh_devices *dev, struct input *in, uint8_t *run_buf)
{
    struct kvm_run *run = (struct kvm_run *)run_buf;
    memset(run_buf, 0x5a, RUN_SIZE);
    run->exit_reason = KVM_EXIT_MMIO;
    run->mmio.phys_addr = take(in, 8);
    run->mmio.len = (uint32_t)take(in, 4);
    run->mmio.is_write = (uint8_t)take(in, 1) & 1;
    uint32_t len = run->mmio.len;
    uint8_t is_write = run->mmio.is_write;
    pvh_exit_mmio(dev, run);
    check(run->mmio.len == len && run->mmio.is_write == is_write); /* nothing written past data[] */
    if (is_write)
        for (size_t i = 0; i < sizeof(run->mmio.data); i++)
            check(run->mmio.data[i] == 0x5a);
}

static void one_operation(struct pvh_devices *dev, struct recorder *rec, struct input *in, uint8_t *run_buf)
{
    uint8_t data[4];
    uint8_t rx[64];
    switch (take(in, 1) % 7) {
    case 5: { /* the RTC's clock moves on (up to ~4 s), its timer fires */
        rec->mono_ns += take(in, 4);
        pvh_rtc_advance(&dev->rtc, rec->mono_ns);
        uint64_t d = pvh_rtc_next_deadline(&dev->rtc, rec->mono_ns);
        check(d == PVH_RTC_NO_DEADLINE || d > rec->mono_ns);
        break;
    }
    case 0: { /* port write */
        uint16_t port = pick_port(in);
        unsigned size = pick_size(in);
        uint32_t v = (uint32_t)take(in, 4);
        memcpy(data, &v, sizeof(v));
        pvh_devices_io(dev, port, 1, data, size);
        break;
    }
    case 1: { /* port read */
        uint16_t port = pick_port(in);
        memset(data, 0, sizeof(data));
        pvh_devices_io(dev, port, 0, data, pick_size(in));
        break;
    }
    case 2: { /* console input */
        size_t n = take(in, 1) % sizeof(rx);
        for (size_t i = 0; i < n; i++)
            rx[i] = (uint8_t)take(in, 1);
        size_t room = PVH_UART_RX_SIZE - dev->uart.rx_count;
        check(pvh_uart_receive(&dev->uart, rx, n) == (n < room ? n : room));
        break;
    }
    case 3:
        hostile_io_exit(dev, in, run_buf);
        break;
    case 4:
        hostile_mmio_exit(dev, in, run_buf);
        break;
    default: { /* MMIO through the table directly, any length up to 8 */
        uint8_t m[8] = {0};
        uint64_t gpa = take(in, 8);
        pvh_devices_mmio(dev, gpa, (int)take(in, 1) & 1, m, 1 + (unsigned)take(in, 1) % 8);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t run_buf[RUN_SIZE] __attribute__((aligned(64)));
    struct recorder rec = {.mono_ns = 1000000000};
    struct pvh_io_hooks hooks = {&rec, on_irq, on_end, on_output, on_debug_output};
    struct pvh_devices dev;
    struct input in = {data, size};
    pvh_devices_init(&dev, &hooks);
    struct pvh_rtc_clock clock = {&rec, fake_realtime, fake_monotonic};
    pvh_rtc_destroy(&dev.rtc); /* the same RTC on a clock the input drives */
    pvh_rtc_init(&dev.rtc, &hooks, PVH_RTC_IRQ, &clock);
    for (unsigned ops = 0; in.n > 0 && ops < 4096; ops++) {
        one_operation(&dev, &rec, &in, run_buf);
        check(dev.uart.rx_count <= PVH_UART_RX_SIZE && dev.uart.rx_head < PVH_UART_RX_SIZE);
        check(dev.unhandled.t.n <= PVH_UNHANDLED_SLOTS);
        check(dev.uart.tx_bytes >= rec.outputs); /* loopback bytes are transmitted but not output */
        check(dev.debugcon.bytes == rec.debug_outputs);
        check(dev.rtc.irq_level == rec.irq_level[PVH_RTC_IRQ] && dev.rtc.index < 0x80);
    }
    pvh_devices_destroy(&dev);
    return 0;
}
