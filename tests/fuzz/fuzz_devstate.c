/* libFuzzer harness for the devices' saved state (save/restore in their
 * pvh_dev_ops): the input picks a device (UART, i8042, ACPI PM, RTC,
 * debugcon, debug-exit, or a virtio-mmio transport with two queues on
 * 64 KiB of fake guest RAM), gives a state of up to 512 bytes for it, then
 * accesses to that device (ports; for virtio its registers, notifications
 * and RAM bytes) and moves of the RTC's clock. A refused state
 * must leave the machine's devices byte for byte as they were and carry one
 * line naming the device; an accepted one must save again, restore into a
 * second fresh machine and save there to the same bytes, and then hold up
 * under the guest's accesses with the invariants fuzz_devices checks (FIFO
 * and queue inside their rings, the RTC's index, IRQ lines that only
 * toggle, the SCI high exactly while an enabled GPE0 status bit is set (for
 * the ACPI PM device an access may also be the VMM raising its GPE), a ready virtqueue's host views exactly what the checked accessor
 * gives for its rings), saving and restoring again at the end. Device
 * number 7 is a snapshot's VIRTIO section (vmm/virtio/devconfig.c): refused
 * in one line, or canonical (it encodes back to the same bytes, also by way
 * of the run configuration it gives), its clone overrides applied or
 * refused in one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/dev/devices.h"
#include "../../vmm/virtio/devconfig.h"
#include "../../vmm/virtio/virtio.h"
#include "fuzz_common.h"
#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

#define STATE_MAX 512
#define RAM_SIZE (64u << 10)
#define VIRTIO 6 /* the device number of the virtio-mmio transport */
#define ACPIPM 2 /* the ACPI PM device's number (DEVICES below) */

/* ---- a virtio device type that returns every chain it pops */

static uint8_t ram_bytes[RAM_SIZE] __attribute__((aligned(4096)));
static const struct pvh_guestmem ram = {{{0, RAM_SIZE, ram_bytes}}};

static void echo_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    (void)d;
    memset(data, (int)off, len);
}

static void echo_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    static struct pvh_vchain c;
    struct pvh_error err;
    int got;
    for (unsigned n = 0; n < 64 && (got = pvh_virtq_pop(&d->q[queue], &c, &err)) == 1; n++)
        pvh_virtq_push(&d->q[queue], c.head, (uint32_t)c.writable);
    if (got < 0)
        pvh_virtio_fail(d, &err);
    else
        pvh_virtio_used(d, queue);
}

static const struct pvh_virtio_device_ops echo_ops = {
    .name = "echo", .device_id = 42, .nqueues = 2, .queue_max = 16, .features = 1ull << 3, .config_size = 8,
    .config_read = echo_config_read, .queue_notify = echo_notify,
};

static void on_virtio_interrupt(void *ctx, uint32_t gsi)
{
    (void)ctx;
    check(gsi == 5);
}

struct recorder {
    int irq_level[16];
    uint64_t mono_ns;
};

static void on_irq(void *ctx, unsigned irq, int level)
{
    struct recorder *r = ctx;
    check(irq < 16 && (level == 0 || level == 1) && level != r->irq_level[irq]);
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
    (void)ctx;
    check(buf != NULL && len == 1);
}

static int64_t fake_realtime(void *ctx)
{
    return 1700000000ll * 1000000000ll + (int64_t)((struct recorder *)ctx)->mono_ns;
}

static uint64_t fake_monotonic(void *ctx) { return ((struct recorder *)ctx)->mono_ns; }

struct machine {
    struct recorder rec;
    struct pvh_io_hooks hooks;
    struct pvh_devices d;
    struct pvh_virtio_dev v;
};

static void machine_init(struct machine *m, uint64_t mono)
{
    memset(m, 0, sizeof(*m));
    m->rec.mono_ns = mono;
    m->hooks = (struct pvh_io_hooks){&m->rec, on_irq, on_end, on_output, on_output};
    pvh_devices_init(&m->d, &m->hooks);
    struct pvh_rtc_clock clock = {&m->rec, fake_realtime, fake_monotonic};
    pvh_rtc_destroy(&m->d.rtc);
    pvh_rtc_init(&m->d.rtc, &m->hooks, PVH_RTC_IRQ, &clock);
    struct pvh_virtio_env env = {.ctx = m, .mem = &ram, .interrupt = on_virtio_interrupt};
    pvh_virtio_init(&m->v, &echo_ops, NULL, &env, 0xd0000000, 5);
}

static void machine_destroy(struct machine *m)
{
    pvh_devices_destroy(&m->d);
    pvh_virtio_destroy(&m->v);
}

static const struct {
    uint16_t port, len;
    const char *name;
} DEVICES[] = {
    {PVH_COM1_PORT, 8, "uart8250"},
    {PVH_I8042_PORT, 5, "i8042"},
    {PVH_ACPI_PM1A_EVT_PORT, PVH_ACPI_PORTS_END - PVH_ACPI_PM1A_EVT_PORT, "acpipm"},
    {PVH_RTC_PORT, 2, "rtc"},
    {PVH_DEBUGCON_PORT, 1, "debugcon"},
    {PVH_DEBUG_EXIT_PORT, 4, "debugexit"},
    {0, 0x100, "virtio-mmio"},
};
#define NDEVICES (sizeof(DEVICES) / sizeof(DEVICES[0]))
#define VCONFIG NDEVICES /* past the devices: a snapshot's VIRTIO section (vmm/virtio/devconfig.c) */

static const struct pvh_bus_range *device(struct machine *m, unsigned which)
{
    static struct pvh_bus_range virtio;
    const struct pvh_bus_range *r = &virtio;
    if (which == VIRTIO)
        virtio = (struct pvh_bus_range){0xd0000000, 0x1000, &pvh_virtio_mmio_ops, &m->v, &m->v.lock};
    else
        r = pvh_bus_find(&m->d.pio, DEVICES[which].port);
    check(r != NULL && strcmp(r->ops->name, DEVICES[which].name) == 0 && r->ops->save && r->ops->restore);
    return r;
}

static int save(struct machine *m, unsigned which, uint8_t *buf, size_t *len)
{
    const struct pvh_bus_range *r = device(m, which);
    struct pvh_error err;
    if (r->lock)
        pthread_mutex_lock(r->lock);
    int rc = r->ops->save(r->dev, buf, STATE_MAX, len, &err);
    if (r->lock)
        pthread_mutex_unlock(r->lock);
    return rc;
}

static int restore(struct machine *m, unsigned which, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    const struct pvh_bus_range *r = device(m, which);
    if (r->lock)
        pthread_mutex_lock(r->lock);
    int rc = r->ops->restore(r->dev, buf, len, err);
    if (r->lock)
        pthread_mutex_unlock(r->lock);
    return rc;
}

/* The device's state saved, restored into a fresh machine at the same
 * time, saved there again: the same bytes. */
static void check_round_trip(struct machine *m, unsigned which)
{
    static uint8_t a[STATE_MAX], b[STATE_MAX];
    static struct machine other;
    size_t na = 0, nb = 0;
    check(save(m, which, a, &na) == 0 && na >= 1 && na <= STATE_MAX);
    machine_init(&other, m->rec.mono_ns);
    struct pvh_error err;
    check(restore(&other, which, a, na, &err) == 0);
    check(save(&other, which, b, &nb) == 0 && nb == na && memcmp(a, b, na) == 0);
    check(other.rec.irq_level[PVH_COM1_IRQ] == m->rec.irq_level[PVH_COM1_IRQ] || which != 0);
    machine_destroy(&other);
}

static void check_invariants(const struct machine *m)
{
    const struct pvh_devices *d = &m->d;
    check(d->uart.rx_count <= PVH_UART_RX_SIZE && d->uart.rx_head < PVH_UART_RX_SIZE);
    check(d->i8042.head < PVH_I8042_QUEUE && d->i8042.count <= PVH_I8042_QUEUE);
    check(d->rtc.index < 0x80 && d->rtc.irq_level == m->rec.irq_level[PVH_RTC_IRQ]);
    check(d->uart.irq_level == m->rec.irq_level[PVH_COM1_IRQ]);
    check(d->acpipm.sci_level == m->rec.irq_level[PVH_ACPI_SCI_IRQ] &&
          d->acpipm.sci_level == ((d->acpipm.gpe_status & d->acpipm.gpe_enable) != 0));
    for (unsigned i = 0; i < echo_ops.nqueues; i++) {
        const struct pvh_virtq *q = &m->v.q[i];
        if (q->ready)
            check(q->desc == pvh_gpa_ptr(&ram, q->desc_gpa, 16ull * q->size) &&
                  q->avail == pvh_gpa_ptr(&ram, q->avail_gpa, 6ull + 2ull * q->size) &&
                  q->used == pvh_gpa_ptr(&ram, q->used_gpa, 6ull + 8ull * q->size) && q->desc && q->avail &&
                  q->used);
    }
}

/* A register access (QueueNotify included: served at once) or 8 bytes of RAM. */
static void virtio_access(struct machine *m, uint8_t op, struct input *in)
{
    uint64_t off = (uint64_t)(op >> 2) * 4 % 0x100;
    if ((op & 3) == 2) {
        uint32_t at = (uint32_t)take(in, 2) % (RAM_SIZE - 7);
        pvh_put_le64(ram_bytes + at, take(in, 8));
        return;
    }
    pthread_mutex_lock(&m->v.lock);
    if (op & 1)
        pvh_virtio_mmio_ops.write(&m->v, off, take(in, 4), 4);
    else
        pvh_virtio_mmio_ops.read(&m->v, off, 4);
    pthread_mutex_unlock(&m->v.lock);
}

static void one_access(struct machine *m, unsigned which, struct input *in)
{
    uint8_t op = (uint8_t)take(in, 1);
    if (which == VIRTIO) {
        virtio_access(m, op, in);
        return;
    }
    uint16_t port = (uint16_t)(DEVICES[which].port + (op >> 2) % DEVICES[which].len);
    static const unsigned sizes[] = {1, 2, 4, 1};
    unsigned size = sizes[(op >> 5) & 3];
    uint8_t data[4] = {0};
    switch (op & 3) {
    case 0:
        pvh_devices_io(&m->d, port, 0, data, size);
        break;
    case 1: {
        uint32_t v = (uint32_t)take(in, 4);
        memcpy(data, &v, sizeof(v));
        pvh_devices_io(&m->d, port, 1, data, size);
        break;
    }
    case 2:
        if (which == ACPIPM) { /* the VMM's side: a restore's VM generation ID event */
            pthread_mutex_lock(&m->d.acpipm.lock);
            pvh_acpipm_raise_gpe(&m->d.acpipm, PVH_ACPI_GPE_VMGENID);
            pthread_mutex_unlock(&m->d.acpipm.lock);
            break;
        }
        m->rec.mono_ns += take(in, 4);
        pvh_rtc_advance(&m->d.rtc, m->rec.mono_ns);
        break;
    default: {
        uint8_t c = (uint8_t)take(in, 1);
        pvh_uart_receive(&m->d.uart, &c, 1);
        break;
    }
    }
}

/* A VIRTIO section: refused in one line, or canonical (it encodes back to
 * the very bytes), and what it gives a run configuration is again the same
 * section; overrides (run's by position, the API's by iface_id) either
 * apply or are refused in one line. */
static void fuzz_vconfig(const uint8_t *state, size_t len)
{
    static struct pvh_vconfig vc, again;
    static uint8_t out[PVH_VCONFIG_MAX_BYTES];
    static struct pvh_vm_config cfg;
    struct pvh_error err = {0};
    size_t n = 0;
    if (pvh_vconfig_decode(&vc, state, len, &err) != 0) {
        check(strncmp(err.msg, "virtio config: ", 15) == 0 && strchr(err.msg, '\n') == NULL);
        return;
    }
    check(pvh_vconfig_encode(&vc, out, sizeof(out), &n, &err) == 0 && n == len && memcmp(out, state, len) == 0);
    memset(&cfg, 0, sizeof(cfg));
    pvh_vconfig_apply(&vc, &cfg);
    pvh_vconfig_from(&again, &cfg, vc.capacity);
    check(pvh_vconfig_encode(&again, out, sizeof(out), &n, &err) == 0 && n == len && memcmp(out, state, len) == 0);
    struct pvh_vm_config over = {.ndrives = 1, .drives = {{.path = "/clone", .id = "a"}}, .nnets = 1,
                                 .nets = {{.tap = "t1"}}, .vsock = {.cid = 9, .uds_path = "/c.sock"}};
    if (pvh_vconfig_override(&vc, &over, &err) != 0)
        check(strchr(err.msg, '\n') == NULL && err.msg[0] == '-');
    /* the API's: a NIC by its iface_id, vsock's socket keeping its CID */
    struct pvh_vm_config api = {.nnets = 1, .nets = {{.tap = "t2", .id = "eth0"}}, .vsock = {.uds_path = "/d.sock"}};
    if (pvh_vconfig_override(&vc, &api, &err) != 0)
        check(strchr(err.msg, '\n') == NULL && (!strncmp(err.msg, "network override iface_id eth0: ", 32) ||
                                                !strncmp(err.msg, "vsock_override: ", 16)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct machine m;
    static struct pvh_devices before;
    static struct pvh_virtio_dev vbefore;
    struct input in = {data, size};
    unsigned which = (unsigned)(take(&in, 1) % (NDEVICES + 1));
    size_t len = take(&in, 2) % (STATE_MAX + 1);
    if (len > in.n)
        len = in.n;
    uint8_t *state = malloc(len ? len : 1); /* exactly len bytes: ASan sees a read past them */
    if (!state)
        return 0;
    memcpy(state, in.p, len);
    in.p += len;
    in.n -= len;
    if (which == VCONFIG) {
        fuzz_vconfig(state, len);
        free(state);
        return 0;
    }
    machine_init(&m, 1000000000ull + take(&in, 4));
    memset(ram_bytes, 0, sizeof(ram_bytes));
    memcpy(&before, &m.d, sizeof(before));
    memcpy(&vbefore, &m.v, sizeof(vbefore));
    struct pvh_error err = {0};
    if (restore(&m, which, state, len, &err) != 0) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "%s state: ", DEVICES[which].name);
        check(memcmp(&before, &m.d, sizeof(before)) == 0 && memcmp(&vbefore, &m.v, sizeof(vbefore)) == 0);
        check(strncmp(err.msg, prefix, strlen(prefix)) == 0 && strchr(err.msg, '\n') == NULL);
    } else {
        check_invariants(&m);
        check_round_trip(&m, which);
        for (unsigned ops = 0; in.n > 0 && ops < 1024; ops++) {
            one_access(&m, which, &in);
            check_invariants(&m);
        }
        check_round_trip(&m, which);
    }
    free(state);
    machine_destroy(&m);
    return 0;
}
