/* libFuzzer harness for virtio devices (vmm/virtio/): the input picks a
 * device type from the table below (rng, console, blk, net), then is a
 * sequence of what a hostile guest and the host can do to it: virtio-mmio
 * register reads and writes, a proper initialisation (random features, queue
 * sizes, rings sometimes moved), descriptors, available-ring entries, ring
 * flags and raw bytes written into fake guest RAM, well-formed chains (with
 * filler bytes, or with the bytes the input gives: request headers, data;
 * tests/fuzz/trace-seeds.py writes recorded Linux traffic this way), chains
 * of up to 1025 buffers, notifications, resets, and the device's host side
 * (console input and resizes, the rng's clock and source failures, the
 * drive's failing or short host calls, frames from virtio-net's TAP). The env
 * either runs notifications at once or hands them to a simulated I/O thread
 * (env->kick), as the VMM does.
 *
 * Fake RAM is 128 KiB between two PROT_NONE guard pages (a device touching
 * memory outside RAM faults); the devices are globals (ASan checks them).
 * After every operation (abort() on a violation):
 *   - a broken device (DEVICE_NEEDS_RESET) stays broken until a reset and
 *     shows NEEDS_RESET in its status;
 *   - on each ready queue, the device took no more than the driver made
 *     available, returned no more than it took (every chain at once; blk
 *     keeps the one that broke the device), at most a queue's worth per
 *     operation, each used id inside the queue;
 *   - the work of one operation is bounded (console output bytes, rng source
 *     calls, drive host calls, frames written to the TAP), and each
 *     device's own accounting holds (below); the drive hands the kernel only
 *     buffers inside fake RAM (or zeros), never writes the read-only image,
 *     never changes a size.
 * Adding a device type: one line in `devices` and its four small adapters. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/virtio/blk.h"
#include "fuzz_common.h"
#include "../../vmm/virtio/console.h"
#include "../../vmm/virtio/net.h"
#include "../../vmm/virtio/rng.h"
#include "pvhboot/bytes.h"

#define RAM_SIZE (128u << 10)
#define QUEUE_AREA 0x2000u        /* OP_INIT puts queue q's rings at QUEUE_AREA * q (8 queues at most): */
#define AVAIL_AT 0x1000u          /* the descriptor table first, the available ring here, */
#define USED_AT 0x1400u           /* the used ring here */
#define BUF_AREA 0x10000u         /* buffers built by OP_CHAIN: [BUF_AREA, RAM_SIZE) */
#define INIT_QUEUE_CAP 256        /* OP_INIT's queue sizes fit the layout */
#define DRIVE_BYTES (1u << 20)    /* the drives: sparse memfds, the first 64 KiB a pattern */
#define DRIVE_PATTERN (64u << 10)
#define MAX_OPS 2048

/* --- fake guest RAM between guard pages */

static struct pvh_guestmem ram;
static uint8_t *ram_host;

static void ram_map(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *p = mmap(NULL, RAM_SIZE + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(p != MAP_FAILED);
    check(mprotect(p + page, RAM_SIZE, PROT_READ | PROT_WRITE) == 0);
    ram_host = p + page;
    ram.slot[0] = (struct pvh_mem_slot){0, RAM_SIZE, ram_host};
}

static uint8_t *ram_ptr(uint64_t gpa, uint64_t len)
{
    return pvh_gpa_ptr(&ram, gpa, len);
}

/* --- the host side, as the devices see it */

struct host {
    uint64_t clock, clock0;
    unsigned source_mode;
    uint64_t source_calls, source_bytes;
    uint64_t out_bytes, out_calls;
    uint64_t rx_offered;
    unsigned drive_mode;
    uint64_t drive_calls;
    size_t net_frame;       /* virtio-net: a frame waiting on the TAP, when net_ready */
    bool net_ready;
    uint64_t net_reads, net_writes;
    unsigned interrupts;
    uint32_t pending_kicks; /* queues handed to the simulated I/O thread */
};
static struct host host;

static void on_interrupt(void *ctx, uint32_t gsi)
{
    (void)ctx;
    check(gsi == 5);
    host.interrupts++;
}

static void on_kick(void *ctx, struct pvh_virtio_dev *d, unsigned queue)
{
    (void)ctx;
    check(queue < d->ops->nqueues);
    host.pending_kicks |= 1u << queue;
}

/* --- virtio-rng */

static struct pvh_rng rng;

static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return host.clock;
}

/* Modes: fill all, short reads, EINTR always, EAGAIN, EIO, EINTR then fill. */
static ssize_t fake_source(void *ctx, void *buf, size_t len, unsigned flags)
{
    (void)ctx;
    (void)flags;
    host.source_calls++;
    size_t n = len;
    switch (host.source_mode % 6) {
    case 1: n = 1 + host.source_calls % 7 < len ? 1 + host.source_calls % 7 : len; break;
    case 2: errno = EINTR; return -1;
    case 3: errno = EAGAIN; return -1;
    case 4: errno = EIO; return -1;
    case 5:
        if (host.source_calls % 2) {
            errno = EINTR;
            return -1;
        }
        break;
    }
    memset(buf, 0x5a, n);
    host.source_bytes += n;
    return (ssize_t)n;
}

static struct pvh_virtio_dev *rng_create(const struct pvh_virtio_env *env, struct input *in)
{
    struct pvh_rng_config cfg = {
        .bytes_per_s = 1 + take(in, 3), .burst = 1 + take(in, 2), .now_ns = fake_clock, .source = fake_source,
    };
    struct pvh_error err;
    check(pvh_rng_init(&rng, &cfg, env, 0xd0000000, 5, &err) == 0);
    return &rng.dev;
}

static void rng_destroy(void)
{
    pvh_rng_destroy(&rng);
}

static void rng_host(struct pvh_virtio_dev *d, struct input *in)
{
    host.clock += take(in, 4) << 10; /* up to about 4.4 s */
    host.source_mode = (unsigned)take(in, 1);
    pvh_rng_poll(d);
}

static void rng_check(struct pvh_virtio_dev *d, uint64_t source_calls_before)
{
    /* what was drawn fits the bucket: burst + rate * elapsed */
    unsigned __int128 allowed = (unsigned __int128)rng.cfg.burst * 1000000000u +
                                (unsigned __int128)rng.cfg.bytes_per_s * (host.clock - host.clock0);
    check((unsigned __int128)rng.drawn * 1000000000u <= allowed);
    check(rng.drawn == host.source_bytes);
    check(d->stats.bytes + rng.pool_len == rng.drawn); /* every drawn byte is given once or still pooled */
    check(rng.pool_off + rng.pool_len <= sizeof(rng.pool));
    check(rng.credit <= rng.credit_max);
    /* a run draws at most the burst, a byte per call at worst, and retries EINTR 8 times */
    check(host.source_calls - source_calls_before <= 8 * (rng.cfg.burst + 2));
}

/* --- virtio-console */

static struct pvh_vconsole con;

static void on_output(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    check(buf != NULL && len > 0);
    volatile uint8_t touch = buf[0];
    touch = buf[len - 1]; /* ASan checks the ends; the guard pages the rest */
    (void)touch;
    host.out_bytes += len;
    host.out_calls++;
}

static struct pvh_virtio_dev *console_create(const struct pvh_virtio_env *env, struct input *in)
{
    bool sized = take(in, 1) & 1;
    struct pvh_vconsole_config cfg = {.output = on_output, .cols = sized ? 80 : 0, .rows = sized ? 25 : 0};
    struct pvh_error err;
    check(pvh_vconsole_init(&con, &cfg, env, 0xd0000000, 5, &err) == 0);
    return &con.dev;
}

static void console_destroy(void)
{
    pvh_vconsole_destroy(&con);
}

static void console_host(struct pvh_virtio_dev *d, struct input *in)
{
    uint8_t kind = (uint8_t)take(in, 1);
    if (kind & 0x80) {
        pvh_vconsole_resize(d, (uint16_t)take(in, 2), (uint16_t)take(in, 2));
        return;
    }
    uint8_t buf[64];
    size_t n = kind % (sizeof(buf) + 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)take(in, 1);
    host.rx_offered += n;
    check(pvh_vconsole_receive(d, buf, n) <= n);
}

static void console_check(struct pvh_virtio_dev *d, uint64_t out_bytes_before)
{
    (void)d;
    check(host.out_bytes == con.tx_bytes + con.emerg_bytes);
    check(host.out_calls == con.output_calls);
    check(con.rx_bytes <= host.rx_offered);
    check(con.staged == 0); /* flushed at the end of every run */
    check(host.out_bytes - out_bytes_before <= PVH_VCONSOLE_RUN_MAX + PVH_VCONSOLE_CHAIN_MAX);
}

/* --- virtio-blk: a read-write and a read-only drive on memfds, opened once */

static struct pvh_blk *drive[2];
static int drive_fd[2] = {-1, -1}; /* the memfds; the drives open their own descriptors of them */
static ino_t drive_ino[2];
static struct pvh_virtio_dev blk_dev;
static bool blk_ro;

static bool in_ram(const struct iovec *iov, int n)
{
    return iov_inside(iov, n, ram_host, RAM_SIZE);
}

/* The drive's host calls as OP_HOST sets them: as the file does, EIO,
 * short transfers, EINTR every other call, ENOSPC on writes, no fallocate
 * (EOPNOTSUPP: WRITE_ZEROES writes zeros instead), fdatasync fails. */
enum { DRIVE_OK, DRIVE_EIO, DRIVE_SHORT, DRIVE_EINTR, DRIVE_NOSPACE, DRIVE_NO_FALLOCATE, DRIVE_SYNC_FAILS, DRIVE_MODES };
enum call { CALL_READ, CALL_WRITE, CALL_FALLOCATE, CALL_SYNC };

static bool drive_fails(enum call call, int *e)
{
    host.drive_calls++;
    switch (host.drive_mode % DRIVE_MODES) {
    case DRIVE_EIO: *e = EIO; return true;
    case DRIVE_EINTR: *e = EINTR; return host.drive_calls % 2;
    case DRIVE_NOSPACE: *e = ENOSPC; return call == CALL_WRITE;
    case DRIVE_NO_FALLOCATE: *e = EOPNOTSUPP; return call == CALL_FALLOCATE;
    case DRIVE_SYNC_FAILS: *e = EIO; return call == CALL_SYNC;
    default: return false;
    }
}

/* Which drive's file fd is (0 read-write, 1 read-only); aborts when it is
 * neither. */
static int drive_of(int fd)
{
    struct stat st;
    check(fstat(fd, &st) == 0);
    check(st.st_ino == drive_ino[0] || st.st_ino == drive_ino[1]);
    return st.st_ino == drive_ino[1];
}

/* The first half of iov, and a byte or two more. */
static size_t shortened(const struct iovec *iov, int n, struct iovec *copy)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    size_t want = total > 1 ? total / 2 + (host.drive_calls % 3) : total, k = 0;
    for (int i = 0; i < n && want; i++) {
        copy[k] = iov[i];
        if (copy[k].iov_len > want)
            copy[k].iov_len = want;
        want -= copy[k++].iov_len;
    }
    return k;
}

static ssize_t drive_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    static struct iovec copy[PVH_VCHAIN_MAX];
    int e;
    drive_of(fd);
    check(in_ram(iov, n)); /* the kernel writes there: guest RAM only */
    if (drive_fails(CALL_READ, &e))
        return errno = e, -1;
    if (host.drive_mode % DRIVE_MODES == DRIVE_SHORT)
        return preadv(fd, copy, (int)shortened(iov, n, copy), off);
    return preadv(fd, iov, n, off);
}

static ssize_t drive_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    static struct iovec copy[PVH_VCHAIN_MAX];
    int e;
    check(drive_of(fd) == 0); /* never the read-only image */
    check(in_ram(iov, n) || iov_all_zeros(iov, n));
    check(off >= 0 && (uint64_t)off < DRIVE_BYTES);
    if (drive_fails(CALL_WRITE, &e))
        return errno = e, -1;
    if (host.drive_mode % DRIVE_MODES == DRIVE_SHORT)
        return pwritev(fd, copy, (int)shortened(iov, n, copy), off);
    return pwritev(fd, iov, n, off);
}

static int drive_fdatasync(int fd)
{
    int e;
    drive_of(fd);
    return drive_fails(CALL_SYNC, &e) ? (errno = e, -1) : 0;
}

static int drive_fallocate(int fd, int mode, off_t off, off_t len)
{
    int e;
    check(drive_of(fd) == 0);
    check(off >= 0 && len > 0 && (uint64_t)off + (uint64_t)len <= DRIVE_BYTES);
    return drive_fails(CALL_FALLOCATE, &e) ? (errno = e, -1) : fallocate(fd, mode, off, len);
}

static void drive_fill(int fd)
{
    static uint8_t pattern[DRIVE_PATTERN];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 13 + 1);
    check(ftruncate(fd, 0) == 0 && ftruncate(fd, DRIVE_BYTES) == 0);
    check(pwrite(fd, pattern, sizeof(pattern), 0) == (ssize_t)sizeof(pattern));
}

static struct pvh_blk *drive_open(int *fd, ino_t *ino, bool ro)
{
    struct stat st;
    *fd = memfd_create(ro ? "fuzz_virtio_ro" : "fuzz_virtio_rw", MFD_CLOEXEC);
    check(*fd >= 0 && fstat(*fd, &st) == 0);
    *ino = st.st_ino;
    drive_fill(*fd);
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
    struct pvh_blk_config cfg = {.path = path, .read_only = ro, .id = ro ? "fuzz-ro" : "fuzz-rw"};
    struct pvh_blk *b;
    struct pvh_error err;
    check(pvh_blk_open(&b, &cfg, &err) == 0);
    pvh_blk_set_io(b, &(struct pvh_blk_io){drive_preadv, drive_pwritev, drive_fdatasync, drive_fallocate});
    return b;
}

static struct pvh_virtio_dev *blk_create(const struct pvh_virtio_env *env, struct input *in)
{
    if (!drive[0]) {
        drive[0] = drive_open(&drive_fd[0], &drive_ino[0], false);
        drive[1] = drive_open(&drive_fd[1], &drive_ino[1], true);
    }
    blk_ro = take(in, 1) & 1;
    if (!blk_ro)
        drive_fill(drive_fd[0]); /* every input starts from the same image */
    struct pvh_blk *b = drive[blk_ro];
    pvh_virtio_init(&blk_dev, pvh_blk_device_ops(b), b, env, 0xd0000000, 5);
    return &blk_dev;
}

static void blk_destroy(void)
{
    pvh_virtio_destroy(&blk_dev);
}

static void blk_host(struct pvh_virtio_dev *d, struct input *in)
{
    (void)d;
    host.drive_mode = (unsigned)take(in, 1);
}

static void blk_check(struct pvh_virtio_dev *d, uint64_t calls_before)
{
    struct stat st;
    for (int i = 0; i < 2; i++)
        check(fstat(drive_fd[i], &st) == 0 && st.st_size == DRIVE_BYTES);
    check(pvh_blk_device_ops(drive[blk_ro]) == d->ops);
    /* per request: a transfer continued at most ~log2(len) + 16 times when
     * short (halves, EINTR every other call), WRITE_ZEROES' fallback 64 KiB
     * at a time over at most the drive, 32 segments; a queue's worth of them */
    uint64_t per_request = 2 * (32 * (DRIVE_BYTES / (64u << 10)) + 1) * 40;
    check(host.drive_calls - calls_before <= PVH_BLK_QUEUE_SIZE * per_request);
}

/* --- virtio-net, on a fake TAP */

static struct pvh_net *net;

static void touch_iov(const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++)
        if (iov[i].iov_len) { /* ASan checks the ends; the guard pages the rest */
            volatile uint8_t t = ((uint8_t *)iov[i].iov_base)[0];
            t = ((uint8_t *)iov[i].iov_base)[iov[i].iov_len - 1];
            (void)t;
        }
}

static ssize_t net_readv(void *ctx, int fd, const struct iovec *iov, int n)
{
    (void)ctx, (void)fd;
    check(n > 0 && n <= PVH_NET_IOV_MAX);
    host.net_reads++;
    if (!host.net_ready) {
        errno = EAGAIN;
        return -1;
    }
    host.net_ready = false;
    size_t left = host.net_frame;
    for (int i = 0; i < n && left; i++) {
        size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;
        memset(iov[i].iov_base, 0x3c, take);
        left -= take;
    }
    return (ssize_t)host.net_frame;
}

static ssize_t net_writev(void *ctx, int fd, const struct iovec *iov, int n)
{
    (void)ctx, (void)fd;
    check(n > 0 && n <= PVH_NET_IOV_MAX);
    touch_iov(iov, n);
    host.net_writes++;
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    return (ssize_t)len;
}

static int net_offloads(void *ctx, int fd, unsigned flags)
{
    (void)ctx, (void)fd;
    check((flags & ~0x1fu) == 0);
    return 0;
}

static const struct pvh_net_io net_io = {net_readv, net_writev, net_offloads, NULL};

static struct pvh_virtio_dev *net_create(const struct pvh_virtio_env *env, struct input *in)
{
    bool vnet = take(in, 1) & 1;
    struct pvh_net_config cfg = {.fd = -1, .vnet_hdr = vnet, .tun_offloads = vnet ? 0x1f : 0,
                                 .mtu = (uint16_t)(PVH_NET_MIN_MTU + take(in, 2) % (PVH_NET_MAX_MTU - 67)),
                                 .mac = {2, 0, 0, 0, 0, 1}, .io = &net_io};
    struct pvh_error err;
    check(pvh_net_init(&net, &cfg, env, 0xd0000000, 5, &err) == 0);
    return pvh_net_dev(net);
}

static void net_destroy(void)
{
    pvh_net_destroy(net);
    net = NULL;
}

static void net_host(struct pvh_virtio_dev *d, struct input *in)
{
    host.net_frame = (size_t)take(in, 3) % 70000;
    host.net_ready = true;
    pvh_net_rx_poll(d);
    host.net_ready = false; /* a frame no buffer took: the kernel's queue drops it */
}

static void net_check(struct pvh_virtio_dev *d, uint64_t writes_before)
{
    const struct pvh_net_counts *c = pvh_net_counts(net);
    (void)d;
    check(host.net_writes == c->tx_frames + c->tx_refused);
    check(c->rx_frames + c->rx_truncated <= host.net_reads);
    /* one operation: a notification and the I/O thread's run after it, a queue's worth each */
    check(host.net_writes - writes_before <= 2u * PVH_NET_QUEUE_SIZE);
}

/* --- the device table */

struct fuzz_device {
    const char *name;
    struct pvh_virtio_dev *(*create)(const struct pvh_virtio_env *env, struct input *in);
    void (*destroy)(void);
    void (*host_op)(struct pvh_virtio_dev *d, struct input *in);
    /* after each operation; arg: what the device's host counter (rng: source calls,
     * console: output bytes) was before it */
    void (*check)(struct pvh_virtio_dev *d, uint64_t before);
    uint64_t *work; /* that host counter */
    bool keeps_failed_chain; /* the chain that broke the device is not returned */
};

static const struct fuzz_device devices[] = {
    {"virtio-rng", rng_create, rng_destroy, rng_host, rng_check, &host.source_calls, false},
    {"virtio-console", console_create, console_destroy, console_host, console_check, &host.out_bytes, false},
    {"virtio-blk", blk_create, blk_destroy, blk_host, blk_check, &host.drive_calls, true},
    {"virtio-net", net_create, net_destroy, net_host, net_check, &host.net_writes, false},
};
#define NDEVICES (sizeof(devices) / sizeof(devices[0]))

/* --- the guest's side */

struct guest {
    struct pvh_virtio_dev *d;
    const struct fuzz_device *dev;
    uint16_t next_desc[PVH_VIRTIO_MAX_QUEUES];
    uint64_t next_buf;
    uint16_t published[PVH_VIRTIO_MAX_QUEUES]; /* by OP_CHAIN in this operation */
};

static void mmio_write(struct guest *g, uint64_t off, uint64_t value, unsigned size)
{
    pthread_mutex_lock(&g->d->lock);
    pvh_virtio_mmio_ops.write(g->d, off, value, size);
    pthread_mutex_unlock(&g->d->lock);
}

static uint64_t mmio_read(struct guest *g, uint64_t off, unsigned size)
{
    pthread_mutex_lock(&g->d->lock);
    uint64_t v = pvh_virtio_mmio_ops.read(g->d, off, size);
    pthread_mutex_unlock(&g->d->lock);
    return v;
}

/* A register offset: mostly a real register, sometimes anywhere in the window. */
static uint64_t pick_register(struct input *in)
{
    static const uint16_t regs[] = {
        VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_DEVICE_FEATURES_SEL,
        VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL,
        VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NOTIFY,
        VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW,
        VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH,
        VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_CONFIG_GENERATION,
        VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_CONFIG + 2, VIRTIO_MMIO_CONFIG + 4, VIRTIO_MMIO_CONFIG + 8,
    };
    uint8_t sel = (uint8_t)take(in, 1);
    if (sel < 0xf0)
        return regs[sel % (sizeof(regs) / sizeof(regs[0]))];
    return take(in, 2) & 0xfff;
}

static unsigned pick_size(struct input *in)
{
    static const unsigned sizes[] = {4, 4, 4, 1, 2, 8, 4, 3};
    return sizes[take(in, 1) % 8];
}

static uint64_t ring_base(unsigned q)
{
    return (uint64_t)QUEUE_AREA * q;
}

/* The proper initialisation, with the features and queue sizes the input
 * picks; rings at fixed places. */
static void guest_init(struct guest *g, struct input *in)
{
    uint8_t f = (uint8_t)take(in, 1);
    uint64_t features = VIRTIO_F_VERSION_1_BIT | ((f & 1) ? VIRTIO_RING_F_EVENT_IDX_BIT : 0) |
                        ((f & 2) ? VIRTIO_RING_F_INDIRECT_DESC_BIT : 0) | ((f & 4) ? g->d->ops->features : 0);
    mmio_write(g, VIRTIO_MMIO_STATUS, 0, 4);
    mmio_write(g, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 4);
    mmio_write(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, 4);
    mmio_write(g, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features, 4);
    mmio_write(g, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, 4);
    mmio_write(g, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32), 4);
    uint32_t status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    mmio_write(g, VIRTIO_MMIO_STATUS, status, 4);
    memset(ram_host, 0, BUF_AREA); /* fresh rings */
    for (unsigned q = 0; q < g->d->ops->nqueues; q++) {
        uint32_t size = 1u << (take(in, 1) % 9);
        while (size > g->d->ops->queue_max || size > INIT_QUEUE_CAP)
            size >>= 1;
        uint64_t base = ring_base(q), desc = base, avail = base + AVAIL_AT, used = base + USED_AT;
        if (f & 8) { /* rings moved: misaligned, overlapping, past RAM */
            desc += take(in, 2) << 2;
            avail += take(in, 2);
            used += take(in, 2);
        }
        mmio_write(g, VIRTIO_MMIO_QUEUE_SEL, q, 4);
        mmio_write(g, VIRTIO_MMIO_QUEUE_NUM, size, 4);
        mmio_write(g, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc, 4);
        mmio_write(g, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail, 4);
        mmio_write(g, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used, 4);
        mmio_write(g, VIRTIO_MMIO_QUEUE_READY, 1, 4);
        g->next_desc[q] = 0;
    }
    mmio_write(g, VIRTIO_MMIO_STATUS, status | VIRTIO_STATUS_DRIVER_OK, 4);
}

/* Where the device believes queue q's rings are, when they are in RAM. */
static struct pvh_virtq *guest_queue(struct guest *g, struct input *in)
{
    struct pvh_virtq *q = &g->d->q[take(in, 1) % g->d->ops->nqueues];
    return q->size && q->ready ? q : NULL;
}

static void put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    pvh_put_le64(p, addr);
    pvh_put_le32(p + 8, len);
    pvh_put_le16(p + 12, flags);
    pvh_put_le16(p + 14, next);
}

static uint64_t pick_addr(struct input *in)
{
    uint8_t how = (uint8_t)take(in, 1);
    if (how < 0xc0)
        return BUF_AREA + take(in, 2) % (RAM_SIZE - BUF_AREA);
    if (how < 0xf0)
        return take(in, 3) % RAM_SIZE;
    return take(in, 8);
}

static uint32_t pick_len(struct input *in)
{
    uint8_t how = (uint8_t)take(in, 1);
    return how < 0xe0 ? (uint32_t)take(in, 2) : (uint32_t)take(in, 4);
}

static void guest_desc(struct guest *g, struct input *in)
{
    struct pvh_virtq *q = guest_queue(g, in);
    uint16_t i = (uint16_t)take(in, 2);
    uint64_t addr = pick_addr(in);
    uint32_t len = pick_len(in);
    uint16_t flags = (uint16_t)(take(in, 1) & 7), next = (uint16_t)take(in, 2);
    if (q)
        put_desc(q->desc + 16 * (size_t)(i % q->size), addr, len, flags, next);
}

/* A descriptor anywhere in RAM (indirect tables). */
static void guest_desc_anywhere(struct input *in)
{
    uint64_t at = (take(in, 3) % RAM_SIZE) & ~15ull;
    uint64_t addr = pick_addr(in);
    uint32_t len = pick_len(in);
    uint16_t flags = (uint16_t)(take(in, 1) & 7), next = (uint16_t)take(in, 2);
    put_desc(ram_ptr(at, 16), addr, len, flags, next);
}

static void publish(struct pvh_virtq *q, uint16_t head)
{
    uint16_t idx = pvh_le16(q->avail + 2);
    pvh_put_le16(q->avail + 4 + 2 * (size_t)(idx % q->size), head);
    __atomic_store_n((uint16_t *)(void *)(q->avail + 2), (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static void guest_publish(struct guest *g, struct input *in)
{
    struct pvh_virtq *q = guest_queue(g, in);
    uint16_t head = (uint16_t)take(in, 2);
    if (q)
        publish(q, (take(in, 1) & 1) ? head : (uint16_t)(head % q->size));
}

static void guest_ring_field(struct guest *g, struct input *in)
{
    struct pvh_virtq *q = guest_queue(g, in);
    uint8_t which = (uint8_t)take(in, 1);
    uint16_t value = (uint16_t)take(in, 2);
    if (!q)
        return;
    switch (which % 4) {
    case 0: pvh_put_le16(q->avail, value); break;                          /* flags */
    case 1: pvh_put_le16(q->avail + 2, value); break;                      /* idx */
    case 2: pvh_put_le16(q->avail + 4 + 2 * (size_t)q->size, value); break; /* used_event */
    default: pvh_put_le16(q->used, value); break;                          /* the device's, overwritten */
    }
}

static void guest_raw(struct input *in)
{
    uint64_t at = take(in, 3) % RAM_SIZE;
    size_t n = take(in, 1) % 16;
    for (size_t i = 0; i < n && at + i < RAM_SIZE; i++)
        ram_host[at + i] = (uint8_t)take(in, 1);
}

static uint64_t guest_buffer(struct guest *g, uint32_t len)
{
    if (g->next_buf + len > RAM_SIZE)
        g->next_buf = BUF_AREA;
    uint64_t gpa = g->next_buf;
    g->next_buf += (len + 7) & ~7u;
    return gpa;
}

/* A well-formed chain of 1-4 buffers (direct, or behind an indirect
 * descriptor), published and notified. */
static void guest_chain(struct guest *g, struct input *in)
{
    struct pvh_virtq *q = guest_queue(g, in);
    unsigned n = 1 + (unsigned)take(in, 1) % 4;
    uint64_t addr[4];
    uint32_t len[4];
    uint16_t flags[4];
    for (unsigned k = 0; k < n; k++) {
        len[k] = (uint32_t)take(in, 2) % 8193;
        addr[k] = guest_buffer(g, len[k] ? len[k] : 1);
        flags[k] = (take(in, 1) & 1) ? VIRTQ_DESC_F_WRITE : 0;
        memset(ram_ptr(addr[k], len[k] ? len[k] : 1), 'a' + (int)k, len[k]);
    }
    bool indirect = take(in, 1) & 1;
    if (!q)
        return;
    unsigned qi = (unsigned)(q - g->d->q);
    uint16_t head = g->next_desc[qi] % q->size;
    if (indirect) {
        uint64_t table = guest_buffer(g, 80);
        table = (table + 15) & ~15ull;
        if (!ram_ptr(table, 16ull * n))
            return;
        for (unsigned k = 0; k < n; k++)
            put_desc(ram_ptr(table + 16 * k, 16), addr[k], len[k],
                     (uint16_t)(flags[k] | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), (uint16_t)(k + 1));
        put_desc(q->desc + 16 * (size_t)head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
        g->next_desc[qi] = (uint16_t)(head + 1);
    } else {
        uint16_t i = head;
        for (unsigned k = 0; k < n; k++) {
            uint16_t next = (uint16_t)((i + 1) % q->size);
            put_desc(q->desc + 16 * (size_t)i, addr[k], len[k],
                     (uint16_t)(flags[k] | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), next);
            i = next;
        }
        g->next_desc[qi] = i;
    }
    publish(q, head);
    g->published[qi]++;
    mmio_write(g, VIRTIO_MMIO_QUEUE_NOTIFY, qi, 4);
}

/* The longest chains: an optional direct buffer, then an indirect table of
 * up to 1025 entries naming one buffer (up to 64 MiB in one chain),
 * published and notified. */
static void guest_big_chain(struct guest *g, struct input *in)
{
    struct pvh_virtq *q = guest_queue(g, in);
    unsigned n = 1 + (unsigned)(take(in, 2) % (PVH_VCHAIN_MAX + 1));
    uint64_t addr = pick_addr(in);
    uint32_t len = (uint32_t)take(in, 2) + 1;
    uint8_t how = (uint8_t)take(in, 1);
    uint16_t flags = (how & 1) ? VIRTQ_DESC_F_WRITE : 0;
    if (!q)
        return;
    const uint64_t table = BUF_AREA;
    for (unsigned k = 0; k < n; k++)
        put_desc(ram_ptr(table + 16 * k, 16), addr, len, (uint16_t)(flags | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
                 (uint16_t)(k + 1));
    unsigned qi = (unsigned)(q - g->d->q);
    uint16_t head = g->next_desc[qi] % q->size, indirect = head;
    if ((how & 2) && q->size > 1) { /* a direct buffer first */
        indirect = (uint16_t)((head + 1) % q->size);
        put_desc(q->desc + 16 * (size_t)head, addr, len, (uint16_t)(flags | VIRTQ_DESC_F_NEXT), indirect);
    }
    put_desc(q->desc + 16 * (size_t)indirect, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
    g->next_desc[qi] = (uint16_t)(indirect + 1);
    publish(q, head);
    g->published[qi]++;
    mmio_write(g, VIRTIO_MMIO_QUEUE_NOTIFY, qi, 4);
}

/* A well-formed chain of 1-256 buffers whose lengths, directions and first
 * bytes the input gives (a blk request's header, data, DISCARD segments, a
 * console's text), direct or behind one indirect descriptor, published and,
 * when asked, notified. Input: queue, how (bit 0 indirect, bit 1 notify),
 * count - 1, then per buffer le16 length, a byte (bit 0 device-writable,
 * bits 1-7 how many bytes follow: its first bytes; the rest is filler). */
static void guest_chain_bytes(struct guest *g, struct input *in)
{
    static uint64_t addr[256];
    static uint32_t len[256];
    static uint16_t flags[256];
    static uint8_t given[256][127];
    static uint8_t ngiven[256];
    struct pvh_virtq *q = guest_queue(g, in);
    uint8_t how = (uint8_t)take(in, 1);
    unsigned n = 1 + (unsigned)take(in, 1);
    for (unsigned k = 0; k < n; k++) {
        len[k] = (uint32_t)take(in, 2);
        uint8_t f = (uint8_t)take(in, 1);
        flags[k] = (f & 1) ? VIRTQ_DESC_F_WRITE : 0;
        ngiven[k] = f >> 1;
        for (unsigned i = 0; i < ngiven[k]; i++)
            given[k][i] = (uint8_t)take(in, 1);
        addr[k] = guest_buffer(g, len[k] ? len[k] : 1);
        memset(ram_ptr(addr[k], len[k] ? len[k] : 1), 0x40 + (int)(k % 32), len[k]);
    }
    /* the given bytes last, the first buffer's last of all: a chain longer
     * than the buffer area wraps over itself, and its header must survive */
    for (unsigned k = n; k-- > 0;)
        memcpy(ram_ptr(addr[k], len[k] ? len[k] : 1), given[k], ngiven[k] < len[k] ? ngiven[k] : len[k]);
    if (!q)
        return;
    unsigned qi = (unsigned)(q - g->d->q);
    uint16_t head = g->next_desc[qi] % q->size;
    if (how & 1) {
        uint64_t table = (guest_buffer(g, 16 * n + 15) + 15) & ~15ull;
        if (!ram_ptr(table, 16ull * n))
            return;
        for (unsigned k = 0; k < n; k++)
            put_desc(ram_ptr(table + 16 * k, 16), addr[k], len[k],
                     (uint16_t)(flags[k] | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), (uint16_t)(k + 1));
        put_desc(q->desc + 16 * (size_t)head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
        g->next_desc[qi] = (uint16_t)(head + 1);
    } else {
        uint16_t i = head;
        for (unsigned k = 0; k < n; k++) {
            uint16_t next = (uint16_t)((i + 1) % q->size);
            put_desc(q->desc + 16 * (size_t)i, addr[k], len[k],
                     (uint16_t)(flags[k] | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), next);
            i = next;
        }
        g->next_desc[qi] = i;
    }
    publish(q, head);
    g->published[qi]++;
    if (how & 2)
        mmio_write(g, VIRTIO_MMIO_QUEUE_NOTIFY, qi, 4);
}

/* --- one operation and the invariants around it */

enum op {
    OP_WRITE, OP_READ, OP_INIT, OP_DESC, OP_PUBLISH, OP_NOTIFY, OP_RAM, OP_HOST, OP_RESET, OP_DESC_ANYWHERE,
    OP_RING_FIELD, OP_CHAIN, OP_BIG_CHAIN, OP_CHAIN_BYTES, NOPS
};

/* Returns whether the operation reset the device. */
static bool one_operation(struct guest *g, struct input *in)
{
    switch (take(in, 1) % NOPS) {
    case OP_WRITE: {
        uint64_t off = pick_register(in);
        unsigned size = pick_size(in);
        uint64_t value = take(in, 4);
        mmio_write(g, off, value, size);
        return off == VIRTIO_MMIO_STATUS && size == 4 && (value & 0xff) == 0;
    }
    case OP_READ: {
        uint64_t off = pick_register(in);
        uint64_t v = mmio_read(g, off, pick_size(in));
        if (off == VIRTIO_MMIO_MAGIC_VALUE && v)
            check(v == VIRTIO_MMIO_MAGIC);
        return false;
    }
    case OP_INIT: guest_init(g, in); return true;
    case OP_DESC: guest_desc(g, in); return false;
    case OP_PUBLISH: guest_publish(g, in); return false;
    case OP_NOTIFY: mmio_write(g, VIRTIO_MMIO_QUEUE_NOTIFY, take(in, 1) % (g->d->ops->nqueues + 1), 4); return false;
    case OP_RAM: guest_raw(in); return false;
    case OP_HOST: g->dev->host_op(g->d, in); return false;
    case OP_RESET: mmio_write(g, VIRTIO_MMIO_STATUS, 0, 4); return true;
    case OP_DESC_ANYWHERE: guest_desc_anywhere(in); return false;
    case OP_RING_FIELD: guest_ring_field(g, in); return false;
    case OP_CHAIN: guest_chain(g, in); return false;
    case OP_BIG_CHAIN: guest_big_chain(g, in); return false;
    default: guest_chain_bytes(g, in); return false;
    }
}

/* The simulated I/O thread: serves the queues kicked during the operation. */
static void io_thread(struct guest *g)
{
    uint32_t kicks = host.pending_kicks;
    host.pending_kicks = 0;
    for (unsigned q = 0; q < PVH_VIRTIO_MAX_QUEUES; q++)
        if (kicks & (1u << q))
            pvh_virtio_notify(g->d, q);
}

struct queue_view {
    bool ready;
    uint16_t size, last_avail, used_idx;
    uint16_t avail_idx; /* in RAM */
    uint8_t *avail;
};

struct snapshot {
    bool broken;
    uint64_t work;
    struct queue_view q[PVH_VIRTIO_MAX_QUEUES];
};

static struct snapshot snap(const struct guest *g)
{
    struct snapshot s = {.broken = g->d->broken, .work = *g->dev->work};
    for (unsigned i = 0; i < g->d->ops->nqueues; i++) {
        const struct pvh_virtq *q = &g->d->q[i];
        s.q[i] = (struct queue_view){q->ready, q->size, q->last_avail, q->used_idx,
                                     q->ready ? pvh_le16(q->avail + 2) : 0, q->avail};
    }
    return s;
}

/* The device's own indices say what it took and returned. The available
 * index in RAM says what was offered, unless a device-writable buffer
 * overlaps it (a hostile layout the fuzzer builds): then it is not the
 * guest's publish count plus what it was, and that check is skipped. */
static void check_queue(const struct queue_view *b, const struct pvh_virtq *q, uint16_t published, bool keeps_one)
{
    if (!b->ready || !q->ready || b->size != q->size || b->avail != q->avail)
        return; /* set up again meanwhile: indices start over */
    uint16_t taken = (uint16_t)(q->last_avail - b->last_avail);
    uint16_t returned = (uint16_t)(q->used_idx - b->used_idx);
    check(taken <= q->size && returned <= q->size); /* a queue's worth per operation */
    check(q->last_avail == q->used_idx ||            /* every chain returned at once */
          (keeps_one && (uint16_t)(q->last_avail - q->used_idx) == 1));
    uint16_t avail_idx = pvh_le16(q->avail + 2);
    if (avail_idx == (uint16_t)(b->avail_idx + published))
        check(taken <= (uint16_t)(avail_idx - b->last_avail)); /* no more than made available */
}

static void check_after(const struct guest *g, const struct snapshot *before, bool reset)
{
    const struct pvh_virtio_dev *d = g->d;
    if (before->broken && !reset)
        check(d->broken);
    if (d->broken)
        check((d->status & VIRTIO_STATUS_NEEDS_RESET) != 0);
    if (!reset)
        for (unsigned i = 0; i < d->ops->nqueues; i++)
            check_queue(&before->q[i], &d->q[i], g->published[i], g->dev->keeps_failed_chain && d->broken);
    g->dev->check(g->d, before->work);
}

/* FUZZ_SUMMARY=1 in the environment: one line per input on stderr, to see
 * what a seed does (e.g. that recorded Linux requests succeed here). */
static void summary(const struct guest *g)
{
    static int want = -1;
    if (want < 0)
        want = getenv("FUZZ_SUMMARY") != NULL;
    if (!want)
        return;
    const struct pvh_virtio_dev *d = g->d;
    fprintf(stderr, "%s: status %#x%s, requests %llu, bytes %llu, notifications %llu, interrupts %llu, errors %llu%s%s\n",
            d->ops->name, d->status, d->broken ? " (broken)" : "", (unsigned long long)d->stats.requests,
            (unsigned long long)d->stats.bytes, (unsigned long long)d->stats.notifications,
            (unsigned long long)d->stats.interrupts, (unsigned long long)d->stats.errors,
            d->last_error[0] ? ", last: " : "", d->last_error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ram_host)
        ram_map();
    memset(ram_host, 0, RAM_SIZE);
    memset(&host, 0, sizeof(host));
    host.clock = host.clock0 = 1000000000ull;
    struct input in = {data, size};
    struct guest g = {.dev = &devices[take(&in, 1) % NDEVICES], .next_buf = BUF_AREA};
    struct pvh_virtio_env env = {.mem = &ram, .interrupt = on_interrupt};
    if (take(&in, 1) & 1)
        env.kick = on_kick;
    g.d = g.dev->create(&env, &in);
    for (unsigned ops = 0; in.n > 0 && ops < MAX_OPS; ops++) {
        struct snapshot before = snap(&g);
        memset(g.published, 0, sizeof(g.published));
        bool reset = one_operation(&g, &in);
        io_thread(&g);
        check_after(&g, &before, reset);
    }
    summary(&g);
    g.dev->destroy();
    return 0;
}
