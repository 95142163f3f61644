/* virtio-blk (vmm/virtio/blk.c) driven by tests/lib/virtio_driver.h on fake
 * guest RAM against image files in /var/tmp: identity and configuration
 * space, reads and writes (multi-buffer, indirect, the last sector, past the
 * end), a size that is not a multiple of 512 (as QEMU 7.2 does it), FLUSH
 * reaching fdatasync before the request completes, GET_ID, DISCARD and
 * WRITE_ZEROES on the host file, read-only drives, the image locks (against
 * another process, and against QEMU itself), host errors (ENOSPC from a
 * 64 KiB tmpfs, EIO), cache=none with aligned and unaligned buffers, and
 * every malformed request handled as docs/virtio-blk.md says; the drive's
 * counters as FlushMetrics writes them (vmm/stats.c, api/metrics.c); the
 * file swapped after boot (PATCH /drives/{id}). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

#include <jansson.h>

#include "../../api/api.h"
#include "../../vmm/vm.h"
#include "../../vmm/virtio/blk.h"
#include "../../vmm/virtio/blk_lock.h"
#include "../lib/virtio_driver.h"
#include "pvhboot/layout.h"

#define MIB (1u << 20)
#define BLK_FEATURES ((1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) | \
                      (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_DISCARD) | \
                      (1ull << VIRTIO_BLK_F_WRITE_ZEROES))
#define DRIVER_FEATURES (VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT | BLK_FEATURES)

struct fixture {
    char dir[64], path[128];
    struct vdriver v;
    struct pvh_virtio_dev d;
    struct pvh_blk *blk;
    uint64_t heap_mark;
};

/* ---- files ---- */

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

/* A file of `size` bytes, every byte written (allocated, not sparse). */
static void make_image(const char *path, size_t size, unsigned seed)
{
    uint8_t *buf = malloc(size ? size : 1);
    fill_pattern(buf, size, seed);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    free(buf);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    *size = (size_t)st.st_size;
    uint8_t *buf = malloc(*size ? *size : 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, *size, 0), (ssize_t)*size);
    close(fd);
    return buf;
}

static int64_t allocated_blocks(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int64_t)st.st_blocks;
}

/* ---- fixture ---- */

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/var/tmp/test_blk.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
    assert_int_equal(vd_ram_init(&f->v), 0);
    *state = f;
    return 0;
}

static void stop_drive(struct fixture *f)
{
    if (!f->blk)
        return;
    pvh_virtio_destroy(&f->d);
    pvh_blk_close(f->blk);
    f->blk = NULL;
    f->v.heap = VD_HEAP_START;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stop_drive(f);
    pvh_guestmem_unmap(&f->v.mem);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct pvh_blk_config config_for(const char *path, bool ro)
{
    return (struct pvh_blk_config){.path = path, .read_only = ro, .id = NULL, .cache = PVH_BLK_CACHE_WRITEBACK};
}

/* Opens the drive on f->path and starts the driver with every feature. */
static void start_drive_with(struct fixture *f, const struct pvh_blk_config *cfg)
{
    struct pvh_error err;
    if (pvh_blk_open(&f->blk, cfg, &err))
        fail_msg("pvh_blk_open: %s", err.msg);
    struct pvh_virtio_env env = vd_env(&f->v);
    pvh_virtio_init(&f->d, pvh_blk_device_ops(f->blk), f->blk, &env, PVH_VIRTIO_MMIO_BASE, 5);
    f->v.d = &f->d;
    uint64_t features = DRIVER_FEATURES | (cfg->read_only ? 1ull << VIRTIO_BLK_F_RO : 0);
    assert_true(vd_start(&f->v, features, 0));
    f->heap_mark = f->v.heap;
}

static void start_drive(struct fixture *f, bool ro)
{
    struct pvh_blk_config cfg = config_for(f->path, ro);
    start_drive_with(f, &cfg);
}

static bool needs_reset(struct fixture *f)
{
    return (vd_read32(&f->v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

/* ---- requests ---- */

struct req {
    uint32_t type;
    uint64_t sector;
    const void *out;     /* readable data after the header */
    size_t out_len;
    void *in;            /* writable data before the status, copied back here */
    size_t in_len;
    unsigned split;      /* data in this many buffers (0, 1: one) */
    bool indirect;
    unsigned misalign;   /* data buffers start this many bytes past a page */
    uint32_t used;       /* the used length the device returned */
};

static uint64_t alloc_data(struct fixture *f, size_t len, unsigned misalign)
{
    uint64_t gpa = vd_alloc(&f->v, len + misalign + 1, 4096);
    assert_true(gpa != 0);
    return gpa + misalign;
}

/* Splits len bytes into `split` buffers described in b[*n...]. */
static void add_pieces(struct fixture *f, struct vd_buf *b, unsigned *n, size_t len, unsigned split,
                       unsigned misalign, bool writable, uint64_t *gpa_out)
{
    if (!len)
        return;
    split = split ? split : 1;
    uint64_t gpa = alloc_data(f, len, misalign);
    *gpa_out = gpa;
    size_t piece = len / split, done = 0;
    for (unsigned i = 0; i < split; i++) {
        size_t take = i + 1 == split ? len - done : piece;
        b[(*n)++] = (struct vd_buf){gpa + done, (uint32_t)take, writable};
        done += take;
    }
}

/* Builds the chain header | out data | in data | status, submits it and
 * returns the status byte (0xee when the device did not write it). */
static uint8_t submit(struct fixture *f, struct req *r)
{
    struct vd_buf b[600];
    unsigned n = 0;
    uint64_t hdr = alloc_data(f, 16, 0), out_gpa = 0, in_gpa = 0, status = alloc_data(f, 1, 0);
    uint8_t *h = vd_ptr(&f->v, hdr, 16);
    pvh_put_le32(h, r->type);
    pvh_put_le32(h + 4, 0);
    pvh_put_le64(h + 8, r->sector);
    b[n++] = (struct vd_buf){hdr, 16, false};
    add_pieces(f, b, &n, r->out_len, r->split, r->misalign, false, &out_gpa);
    if (r->out_len)
        memcpy(vd_ptr(&f->v, out_gpa, r->out_len), r->out, r->out_len);
    add_pieces(f, b, &n, r->in_len, r->split, r->misalign, true, &in_gpa);
    if (r->in_len)
        memset(vd_ptr(&f->v, in_gpa, r->in_len), 0xcd, r->in_len);
    b[n++] = (struct vd_buf){status, 1, true};
    *vd_ptr(&f->v, status, 1) = 0xee;
    uint16_t head = r->indirect ? vd_add_indirect(&f->v, 0, b, n) : vd_add_chain(&f->v, 0, b, n);
    vd_kick(&f->v, 0);
    uint32_t id = 0, len = 0;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_int_equal(id, head);
    r->used = len;
    if (r->in_len)
        memcpy(r->in, vd_ptr(&f->v, in_gpa, r->in_len), r->in_len);
    uint8_t s = *vd_ptr(&f->v, status, 1);
    f->v.heap = f->heap_mark;
    return s;
}

static uint8_t blk_read(struct fixture *f, uint64_t sector, void *buf, size_t len)
{
    struct req r = {.type = VIRTIO_BLK_T_IN, .sector = sector, .in = buf, .in_len = len};
    return submit(f, &r);
}

static uint8_t blk_write(struct fixture *f, uint64_t sector, const void *buf, size_t len)
{
    struct req r = {.type = VIRTIO_BLK_T_OUT, .sector = sector, .out = buf, .out_len = len};
    return submit(f, &r);
}

static void put_segment(uint8_t *p, uint64_t sector, uint32_t count, uint32_t flags)
{
    pvh_put_le64(p, sector);
    pvh_put_le32(p + 8, count);
    pvh_put_le32(p + 12, flags);
}

static uint8_t blk_segments(struct fixture *f, uint32_t type, const uint8_t *segs, size_t len)
{
    struct req r = {.type = type, .out = segs, .out_len = len};
    return submit(f, &r);
}

/* ---- identity, configuration ---- */

static uint64_t config64(struct fixture *f, uint32_t off)
{
    return vd_read32(&f->v, VIRTIO_MMIO_CONFIG + off) | (uint64_t)vd_read32(&f->v, VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

static void identity_and_config_space(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 1);
    start_drive(f, false);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_DEVICE_ID), PVH_VIRTIO_ID_BLOCK);
    uint64_t offered = vd_device_features(&f->v);
    assert_int_equal(offered & BLK_FEATURES, BLK_FEATURES);
    assert_int_equal(offered & (1ull << VIRTIO_BLK_F_RO), 0);
    assert_int_equal(offered & (1ull << VIRTIO_BLK_F_MQ), 0);
    vd_write32(&f->v, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
    assert_int_equal(config64(f, VIRTIO_BLK_CFG_CAPACITY), 2048);
    assert_int_equal(pvh_blk_capacity(f->blk), 2048);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SEG_MAX), 254);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_BLK_SIZE), 512);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_NUM_QUEUES, 2), 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS), 1u << 22);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_MAX_DISCARD_SEG), 32);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_DISCARD_ALIGNMENT), 8);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS), 1u << 22);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG), 32);
    assert_int_equal(vd_read(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 1), 1);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_SIZE), 0); /* past the end */
    assert_true(pvh_blk_locked(f->blk));
}

static void read_only_drive_offers_ro(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, 4096, 1);
    start_drive(f, true);
    assert_int_equal(vd_device_features(&f->v) & (1ull << VIRTIO_BLK_F_RO), 1ull << VIRTIO_BLK_F_RO);
    assert_int_equal(config64(f, VIRTIO_BLK_CFG_CAPACITY), 8);
}

/* QEMU 7.2 (measured, docs/virtio-blk.md): a 1000-byte raw file is a
 * 2-sector disk; the last sector reads as the file's 488 bytes then zeros;
 * writing it grows the file to 1024 bytes; sector 2 is past the end. */
static void size_not_a_multiple_of_512(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, 1000, 3);
    start_drive(f, false);
    assert_int_equal(config64(f, VIRTIO_BLK_CFG_CAPACITY), 2);
    size_t size;
    uint8_t *orig = read_file(f->path, &size), buf[1024], data[512];
    assert_int_equal(size, 1000);
    assert_int_equal(blk_read(f, 1, buf, 512), VIRTIO_BLK_S_OK);
    assert_memory_equal(buf, orig + 512, 488);
    for (int i = 488; i < 512; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(blk_read(f, 2, buf, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_read(f, 1, buf, 1024), VIRTIO_BLK_S_IOERR); /* sectors 1-2 */
    memset(data, 0xab, sizeof(data));
    assert_int_equal(blk_write(f, 2, data, 512), VIRTIO_BLK_S_IOERR);
    uint8_t *now = read_file(f->path, &size);
    assert_int_equal(size, 1000); /* refused writes changed nothing */
    free(now);
    assert_int_equal(blk_write(f, 1, data, 512), VIRTIO_BLK_S_OK);
    now = read_file(f->path, &size);
    assert_int_equal(size, 1024);
    assert_memory_equal(now, orig, 512);
    assert_memory_equal(now + 512, data, 512);
    free(now);
    free(orig);
}

/* ---- reads and writes ---- */

static void read_write_round_trips(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 5);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    static uint8_t data[8192], back[8192];
    fill_pattern(data, sizeof(data), 77);
    /* a write in three buffers, checked through another fd */
    struct req w = {.type = VIRTIO_BLK_T_OUT, .sector = 10, .out = data, .out_len = 4096, .split = 3};
    assert_int_equal(submit(f, &w), VIRTIO_BLK_S_OK);
    assert_int_equal(w.used, 1);
    uint8_t *now = read_file(f->path, &size);
    assert_memory_equal(now + 10 * 512, data, 4096);
    assert_memory_equal(now, orig, 10 * 512);
    assert_memory_equal(now + 18 * 512, orig + 18 * 512, size - 18 * 512);
    free(now);
    /* read back behind an indirect descriptor, in five buffers */
    struct req r = {.type = VIRTIO_BLK_T_IN, .sector = 10, .in = back, .in_len = 4096, .split = 5, .indirect = true};
    assert_int_equal(submit(f, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.used, 4096 + 1);
    assert_memory_equal(back, data, 4096);
    /* an indirect write, a direct read across it */
    struct req iw = {.type = VIRTIO_BLK_T_OUT, .sector = 100, .out = data + 4096, .out_len = 2048, .split = 4,
                     .indirect = true};
    assert_int_equal(submit(f, &iw), VIRTIO_BLK_S_OK);
    assert_int_equal(blk_read(f, 99, back, 3072), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, orig + 99 * 512, 512);
    assert_memory_equal(back + 512, data + 4096, 2048);
    assert_memory_equal(back + 2560, orig + 104 * 512, 512);
    /* the last sector, and the last two */
    assert_int_equal(blk_read(f, 2047, back, 512), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, orig + 2047 * 512, 512);
    assert_int_equal(blk_write(f, 2046, data, 1024), VIRTIO_BLK_S_OK);
    assert_int_equal(blk_read(f, 2046, back, 1024), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, data, 1024);
    /* counted */
    assert_int_equal(f->d.stats.requests, 7);
    assert_int_equal(f->d.stats.bytes, 4096 + 4096 + 2048 + 3072 + 512 + 1024 + 1024);
    assert_int_equal(f->d.stats.errors, 0);
    assert_int_equal(pvh_blk_counts(f->blk)->reads, 4);
    assert_int_equal(pvh_blk_counts(f->blk)->writes, 3);
    free(orig);
}

/* Header and data in one buffer, the status in the last data buffer: only
 * the byte positions matter. */
static void unusual_but_valid_layouts(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 6);
    start_drive(f, false);
    uint8_t data[512];
    fill_pattern(data, sizeof(data), 9);
    uint64_t one = alloc_data(f, 16 + 512, 0), st = alloc_data(f, 1, 0);
    uint8_t *p = vd_ptr(&f->v, one, 16 + 512);
    pvh_put_le32(p, VIRTIO_BLK_T_OUT);
    pvh_put_le64(p + 8, 3);
    memcpy(p + 16, data, 512);
    struct vd_buf b[2] = {{one, 16 + 512, false}, {st, 1, true}};
    vd_add_chain(&f->v, 0, b, 2);
    vd_kick(&f->v, 0);
    uint32_t id = 0, len = 0;
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_int_equal(*vd_ptr(&f->v, st, 1), VIRTIO_BLK_S_OK);
    /* a header split 5 + 11 bytes, the status sharing the data's buffer */
    uint64_t h1 = alloc_data(f, 5, 0), h2 = alloc_data(f, 11, 0), in = alloc_data(f, 513, 0);
    uint8_t hdr[16] = {0};
    pvh_put_le32(hdr, VIRTIO_BLK_T_IN);
    pvh_put_le64(hdr + 8, 3);
    memcpy(vd_ptr(&f->v, h1, 5), hdr, 5);
    memcpy(vd_ptr(&f->v, h2, 11), hdr + 5, 11);
    struct vd_buf c[3] = {{h1, 5, false}, {h2, 11, false}, {in, 513, true}};
    vd_add_chain(&f->v, 0, c, 3);
    vd_kick(&f->v, 0);
    assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
    assert_int_equal(len, 513);
    assert_memory_equal(vd_ptr(&f->v, in, 512), data, 512);
    assert_int_equal(*vd_ptr(&f->v, in + 512, 1), VIRTIO_BLK_S_OK);
    assert_false(needs_reset(f));
}

static void requests_past_the_end_write_nothing(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 7);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    static uint8_t data[1024];
    memset(data, 0x5a, sizeof(data));
    const uint64_t sectors[] = {2047, 2048, 1ull << 55, UINT64_MAX, UINT64_MAX / 512 + 1};
    for (size_t i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
        assert_int_equal(blk_write(f, sectors[i], data, 1024), VIRTIO_BLK_S_IOERR);
        assert_int_equal(blk_read(f, sectors[i], data, 1024), VIRTIO_BLK_S_IOERR);
    }
    assert_int_equal(blk_read(f, 2048, data, 0), VIRTIO_BLK_S_OK); /* nothing, at the end: in range */
    uint8_t *now = read_file(f->path, &size);
    assert_int_equal(size, MIB);
    assert_memory_equal(now, orig, MIB);
    assert_int_equal(f->d.stats.errors, 10);
    assert_false(needs_reset(f));
    free(now);
    free(orig);
}

/* ---- FLUSH ---- */

static struct {
    struct fixture *f;
    int calls, fail_with;
    uint16_t used_idx_at_call;
} flush_probe;

static uint16_t used_idx(struct fixture *f)
{
    return pvh_le16(vd_ptr(&f->v, f->v.used[0] + 2, 2));
}

static int probe_fdatasync(int fd)
{
    flush_probe.calls++;
    flush_probe.used_idx_at_call = used_idx(flush_probe.f);
    if (flush_probe.fail_with) {
        errno = flush_probe.fail_with;
        return -1;
    }
    return fdatasync(fd);
}

static void flush_syncs_before_completing(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 8);
    start_drive(f, false);
    flush_probe.f = f;
    flush_probe.calls = flush_probe.fail_with = 0;
    pvh_blk_set_io(f->blk, &(struct pvh_blk_io){.fdatasync = probe_fdatasync});
    uint8_t data[512];
    fill_pattern(data, sizeof(data), 42);
    assert_int_equal(blk_write(f, 5, data, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(flush_probe.calls, 0); /* writeback: a write does not sync */
    uint16_t before = used_idx(f);
    struct req fl = {.type = VIRTIO_BLK_T_FLUSH, .sector = 12345};
    assert_int_equal(submit(f, &fl), VIRTIO_BLK_S_OK);
    assert_int_equal(flush_probe.calls, 1);
    assert_int_equal(flush_probe.used_idx_at_call, before); /* synced before the driver saw it done */
    assert_int_equal(used_idx(f), before + 1);
    size_t size;
    uint8_t *now = read_file(f->path, &size);
    assert_memory_equal(now + 5 * 512, data, 512);
    free(now);
    flush_probe.fail_with = EIO;
    assert_int_equal(submit(f, &fl), VIRTIO_BLK_S_IOERR);
    assert_int_equal(pvh_blk_counts(f->blk)->flushes, 2);
    assert_false(needs_reset(f));
}

/* ---- GET_ID ---- */

static void get_id_returns_the_serial(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, 4096, 1);
    struct pvh_blk_config cfg = config_for(f->path, false);
    cfg.id = "disk-7";
    start_drive_with(f, &cfg);
    uint8_t id[PVH_BLK_ID_BYTES];
    struct req r = {.type = VIRTIO_BLK_T_GET_ID, .in = id, .in_len = sizeof(id)};
    assert_int_equal(submit(f, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.used, 21);
    assert_memory_equal(id, "disk-7\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
    /* a short buffer gets what fits */
    uint8_t four[4];
    struct req s = {.type = VIRTIO_BLK_T_GET_ID, .in = four, .in_len = 4};
    assert_int_equal(submit(f, &s), VIRTIO_BLK_S_OK);
    assert_memory_equal(four, "disk", 4);
    stop_drive(f);
    /* the default: the file's name, cut to 20 bytes */
    char long_path[160];
    snprintf(long_path, sizeof(long_path), "%s/a-rather-long-image-name.raw", f->dir);
    assert_int_equal(rename(f->path, long_path), 0);
    cfg = config_for(long_path, false);
    start_drive_with(f, &cfg);
    assert_int_equal(submit(f, &r), VIRTIO_BLK_S_OK);
    assert_memory_equal(id, "a-rather-long-image-", 20);
    stop_drive(f);
    /* 21 bytes is refused */
    struct pvh_error err;
    cfg.id = "123456789012345678901";
    assert_int_equal(pvh_blk_open(&f->blk, &cfg, &err), -1);
    assert_int_equal(err.code, PVH_E_INPUT);
    assert_non_null(strstr(err.msg, "longer than 20 bytes"));
}

/* ---- DISCARD, WRITE_ZEROES ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void discard_punches_holes(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 9);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    int64_t blocks = allocated_blocks(f->path);
    uint8_t seg[2 * 16];
    put_segment(seg, 0, 1024, 0);             /* the first 512 KiB */
    put_segment(seg + 16, 1536, 256, 0);      /* and 128 KiB at 768 KiB */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, seg, sizeof(seg)), VIRTIO_BLK_S_OK);
    int64_t after = allocated_blocks(f->path);
    assert_true(after <= blocks - (640 * 1024 / 512) + 16); /* 640 KiB freed (st_blocks counts 512 bytes) */
    static uint8_t back[MIB];
    assert_int_equal(blk_read(f, 0, back, MIB), VIRTIO_BLK_S_OK);
    assert_true(all_zero(back, 512 * 1024));
    assert_memory_equal(back + 512 * 1024, orig + 512 * 1024, 256 * 1024);
    assert_true(all_zero(back + 768 * 1024, 128 * 1024));
    assert_memory_equal(back + 896 * 1024, orig + 896 * 1024, 128 * 1024);
    assert_int_equal(allocated_blocks(f->path), after);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, MIB); /* KEEP_SIZE */
    assert_int_equal(pvh_blk_counts(f->blk)->discards, 1);
    free(orig);
}

/* Segments the device refuses: nothing is discarded, even of the good ones. */
static void bad_discards_change_nothing(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 10);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    int64_t blocks = allocated_blocks(f->path);
    static uint8_t seg[40 * 16];
    for (int i = 0; i < 40; i++)
        put_segment(seg + 16 * i, (uint64_t)i * 8, 8, 0);
    struct { uint32_t type; size_t len; uint8_t status; void (*tweak)(uint8_t *); } cases[] = {
        {VIRTIO_BLK_T_DISCARD, 33 * 16, VIRTIO_BLK_S_IOERR, NULL},       /* over max_discard_seg */
        {VIRTIO_BLK_T_WRITE_ZEROES, 33 * 16, VIRTIO_BLK_S_IOERR, NULL},  /* over max_write_zeroes_seg */
        {VIRTIO_BLK_T_DISCARD, 0, VIRTIO_BLK_S_IOERR, NULL},             /* no segment */
        {VIRTIO_BLK_T_DISCARD, 20, VIRTIO_BLK_S_IOERR, NULL},            /* not a multiple of 16 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(blk_segments(f, cases[i].type, seg, cases[i].len), cases[i].status);
    uint8_t two[32];
    put_segment(two, 0, 8, 0);
    put_segment(two + 16, 2044, 8, 0); /* runs past the end */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, two, 32), VIRTIO_BLK_S_IOERR);
    put_segment(two + 16, 8, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP); /* unmap on a discard */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, two, 32), VIRTIO_BLK_S_UNSUPP);
    put_segment(two + 16, 8, 8, 2); /* an unknown flag */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, two, 32), VIRTIO_BLK_S_UNSUPP);
    put_segment(two + 16, UINT64_MAX - 3, 8, 0);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, two, 32), VIRTIO_BLK_S_IOERR);
    put_segment(two + 16, 8, (1u << 22) + 1, 0); /* over max_discard_sectors */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, two, 32), VIRTIO_BLK_S_IOERR);
    uint8_t *now = read_file(f->path, &size);
    assert_memory_equal(now, orig, MIB);
    assert_int_equal(allocated_blocks(f->path), blocks);
    assert_false(needs_reset(f));
    free(now);
    free(orig);
}

/* A segment of 0 sectors is nothing to do: OK (as QEMU's blk_aio_pdiscard
 * of 0 bytes), not the EINVAL fallocate gives for a length of 0. Found by
 * fuzz_blk (tests/fuzz/regressions/blk/discard-zero-sectors). */
static void zero_length_segments_are_ok(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 22);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    uint8_t seg[32];
    put_segment(seg, 8, 0, 0);
    put_segment(seg + 16, 2048, 0, 0); /* at the very end: still in range */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, seg, 32), VIRTIO_BLK_S_OK);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 32), VIRTIO_BLK_S_OK);
    put_segment(seg, 8, 0, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 16), VIRTIO_BLK_S_OK);
    uint8_t *now = read_file(f->path, &size);
    assert_memory_equal(now, orig, MIB);
    assert_int_equal(f->d.stats.errors, 0);
    free(now);
    free(orig);
}

static int unsupported_fallocate(int fd, int mode, off_t off, off_t len)
{
    (void)fd, (void)mode, (void)off, (void)len;
    errno = EOPNOTSUPP;
    return -1;
}

static void write_zeroes_zeroes(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 11);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    int64_t blocks = allocated_blocks(f->path);
    uint8_t seg[16];
    put_segment(seg, 8, 256, 0); /* zero range: stays allocated */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 16), VIRTIO_BLK_S_OK);
    uint8_t *now = read_file(f->path, &size);
    assert_int_equal(size, MIB);
    assert_memory_equal(now, orig, 8 * 512);
    assert_true(all_zero(now + 8 * 512, 256 * 512));
    assert_memory_equal(now + 264 * 512, orig + 264 * 512, MIB - 264 * 512);
    free(now);
    put_segment(seg, 1024, 512, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP); /* may unmap: a hole */
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 16), VIRTIO_BLK_S_OK);
    assert_true(allocated_blocks(f->path) <= blocks - 512 + 16);
    now = read_file(f->path, &size);
    assert_true(all_zero(now + 1024 * 512, 512 * 512));
    free(now);
    /* no fallocate on the host: zeros are written */
    pvh_blk_set_io(f->blk, &(struct pvh_blk_io){.fallocate = unsupported_fallocate});
    put_segment(seg, 1900, 100, 0);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 16), VIRTIO_BLK_S_OK);
    now = read_file(f->path, &size);
    assert_true(all_zero(now + 1900 * 512, 100 * 512));
    assert_memory_equal(now + 2000 * 512, orig + 2000 * 512, 48 * 512);
    free(now);
    /* and a discard it cannot do is a hint not taken: OK, data unchanged */
    put_segment(seg, 300, 8, 0);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, seg, 16), VIRTIO_BLK_S_OK);
    now = read_file(f->path, &size);
    assert_memory_equal(now + 300 * 512, orig + 300 * 512, 8 * 512);
    free(now);
    free(orig);
}

/* ---- read-only ---- */

static void read_only_drive_refuses_writes(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 12);
    assert_int_equal(chmod(f->path, 0444), 0); /* as a user's read-only image would be */
    start_drive(f, true);
    size_t size;
    uint8_t *orig = read_file(f->path, &size), data[4096], seg[16];
    memset(data, 0x11, sizeof(data));
    assert_int_equal(blk_write(f, 0, data, 4096), VIRTIO_BLK_S_IOERR);
    put_segment(seg, 0, 8, 0);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, seg, 16), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 16), VIRTIO_BLK_S_IOERR);
    put_segment(seg, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 16), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_read(f, 0, data, 4096), VIRTIO_BLK_S_OK);
    assert_memory_equal(data, orig, 4096);
    struct req fl = {.type = VIRTIO_BLK_T_FLUSH};
    assert_int_equal(submit(f, &fl), VIRTIO_BLK_S_OK);
    uint8_t *now = read_file(f->path, &size);
    assert_int_equal(size, MIB);
    assert_memory_equal(now, orig, MIB);
    assert_int_equal(f->d.stats.errors, 4);
    free(now);
    free(orig);
}

/* ---- locks ---- */

/* A child process that opens path (rw or ro) and holds it until told. */
struct holder {
    pid_t pid;
    int go; /* write end: closing it lets the child exit */
};

static struct holder hold_image(const char *path, bool ro)
{
    int ready[2], go[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test does not leave it behind */
        for (int fd = 3; fd < 1024; fd++) /* other holders' pipes too: their ends must close with them */
            if (fd != ready[1] && fd != go[0])
                close(fd);
        struct pvh_blk_config cfg = config_for(path, ro);
        struct pvh_blk *b;
        struct pvh_error err;
        char ok = pvh_blk_open(&b, &cfg, &err) == 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(2);
        char c;
        while (read(go[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    assert_int_equal(ok, 'y');
    return (struct holder){pid, go[1]};
}

static void release(struct holder h)
{
    close(h.go);
    int status;
    assert_int_equal(waitpid(h.pid, &status, 0), h.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void assert_locked_by(const char *path, bool ro, pid_t pid)
{
    struct pvh_blk_config cfg = config_for(path, ro);
    struct pvh_blk *b;
    struct pvh_error err;
    assert_int_equal(pvh_blk_open(&b, &cfg, &err), -1);
    assert_int_equal(err.code, PVH_E_INPUT);
    char want[64];
    snprintf(want, sizeof(want), "disk.img: locked by process %d (", (int)pid);
    if (!strstr(err.msg, want) || !strstr(err.msg, "another VM?); use ,ro on both or stop it"))
        fail_msg("wanted \"%s\" in \"%s\"", want, err.msg);
}

static void open_succeeds(const char *path, bool ro)
{
    struct pvh_blk_config cfg = config_for(path, ro);
    struct pvh_blk *b;
    struct pvh_error err;
    if (pvh_blk_open(&b, &cfg, &err))
        fail_msg("open %s: %s", ro ? "ro" : "rw", err.msg);
    assert_true(pvh_blk_locked(b));
    pvh_blk_close(b);
}

static void locks_name_the_holder(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 13);
    struct holder rw = hold_image(f->path, false);
    assert_locked_by(f->path, false, rw.pid); /* rw vs rw */
    assert_locked_by(f->path, true, rw.pid);  /* ro vs rw */
    release(rw);
    open_succeeds(f->path, false);            /* released with the process */
    struct holder ro = hold_image(f->path, true);
    assert_locked_by(f->path, false, ro.pid); /* rw vs ro */
    open_succeeds(f->path, true);             /* ro and ro share */
    struct holder ro2 = hold_image(f->path, true);
    open_succeeds(f->path, true);
    release(ro);
    assert_locked_by(f->path, false, ro2.pid);
    release(ro2);
    /* in one process: two descriptions conflict the same way */
    struct pvh_blk_config cfg = config_for(f->path, false);
    struct pvh_blk *b;
    struct pvh_error err;
    assert_int_equal(pvh_blk_open(&b, &cfg, &err), 0);
    assert_locked_by(f->path, true, getpid());
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(pvh_blk_lock_holder(fd, 101), getpid());
    assert_int_equal(pvh_blk_lock_holder(fd, 102), -1);
    close(fd);
    pvh_blk_close(b);
}

/* QEMU's own locks (the same bytes): a QEMU holding the image read-write
 * makes pvhboot refuse it, naming QEMU; pvhboot holding it makes QEMU
 * refuse; read-only on both sides shares. QEMU runs stopped (-S). */
static pid_t start_qemu(const char *path, bool ro, const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (int fd = 3; fd < 1024; fd++) /* holders' pipes: QEMU must not keep them open */
            close(fd);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(99);
        char drive[256];
        snprintf(drive, sizeof(drive), "if=none,id=d0,format=raw,file=%s%s", path, ro ? ",readonly=on" : "");
        execlp("qemu-system-x86_64", "qemu-system-x86_64", "-M", "microvm", "-nodefaults", "-S", "-display", "none",
               "-drive", drive, "-device", "virtio-blk-device,drive=d0", (char *)NULL);
        _exit(98);
    }
    return pid;
}

/* Process pid holds a lock covering byte off of inode ino (its fdinfo). */
static bool holds_byte(pid_t pid, ino_t ino, off_t off)
{
    for (int fd = 0; fd < 64; fd++) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
        FILE *fp = fopen(path, "re");
        if (!fp)
            continue;
        bool found = false;
        while (!found && fgets(line, sizeof(line), fp)) {
            unsigned long inode;
            long long start, end;
            found = sscanf(line, "lock: %*d: %*s %*s %*s %*d %*x:%*x:%lu %lld %lld", &inode, &start, &end) == 3 &&
                    inode == (unsigned long)ino && start <= off && off <= end;
        }
        fclose(fp);
        if (found)
            return true;
    }
    return false;
}

/* Waits until QEMU holds byte off (it locks a moment after it starts), or
 * exits. */
static bool wait_for_lock(const char *path, pid_t pid, off_t off)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    for (int i = 0; i < 300; i++) {
        if (holds_byte(pid, st.st_ino, off))
            return true;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 98)
                fail_msg("no qemu-system-x86_64 (tests/lib/install-deps.sh installs it)");
            return false;
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return false;
}

static void stop_qemu(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* QEMU's exit status, or -1 (and it is stopped) when it still runs after
 * 30 s: it did not refuse the image. */
static int qemu_exit_status(pid_t pid)
{
    for (int i = 0; i < 600; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    stop_qemu(pid);
    return -1;
}

static void locks_interoperate_with_qemu(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 14);
    char log[160];
    snprintf(log, sizeof(log), "%s/qemu.log", f->dir);
    /* QEMU read-write first: pvhboot refuses, naming it */
    pid_t q = start_qemu(f->path, false, log);
    assert_true(wait_for_lock(f->path, q, 201));
    assert_locked_by(f->path, true, q);
    assert_locked_by(f->path, false, q);
    stop_qemu(q);
    /* pvhboot read-write first: QEMU (read-only, even) refuses */
    struct pvh_blk_config cfg = config_for(f->path, false);
    struct pvh_blk *b;
    struct pvh_error err;
    assert_int_equal(pvh_blk_open(&b, &cfg, &err), 0);
    q = start_qemu(f->path, true, log);
    assert_int_equal(qemu_exit_status(q), 1);
    size_t size;
    char *text = (char *)read_file(log, &size);
    text = realloc(text, size + 1);
    text[size] = '\0';
    if (!strstr(text, "Failed to get shared \"write\" lock"))
        fail_msg("QEMU said: %s", text);
    free(text);
    pvh_blk_close(b);
    /* read-only on both sides, in both orders */
    q = start_qemu(f->path, true, log);
    assert_true(wait_for_lock(f->path, q, 100));
    open_succeeds(f->path, true);
    cfg.read_only = true;
    assert_int_equal(pvh_blk_open(&b, &cfg, &err), 0);
    stop_qemu(q);
    q = start_qemu(f->path, true, log);
    assert_true(wait_for_lock(f->path, q, 100)); /* it started beside our lock */
    assert_int_equal(waitpid(q, NULL, WNOHANG), 0);
    stop_qemu(q);
    pvh_blk_close(b);
}

static void open_errors_are_one_line(void **state)
{
    struct fixture *f = *state;
    struct pvh_blk *b;
    struct pvh_error err;
    struct pvh_blk_config cfg = config_for(f->path, false);
    assert_int_equal(pvh_blk_open(&b, &cfg, &err), -1); /* no such file */
    assert_int_equal(err.code, PVH_E_INPUT);
    assert_non_null(strstr(err.msg, "disk.img: No such file or directory"));
    cfg.path = f->dir; /* a directory */
    cfg.read_only = true;
    assert_int_equal(pvh_blk_open(&b, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file or a block device"));
    cfg.path = "/dev/null";
    assert_int_equal(pvh_blk_open(&b, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "/dev/null: not a regular file or a block device"));
    assert_null(strchr(err.msg, '\n'));
}

/* ---- host errors ---- */

static int failing_errno;
static size_t short_bytes;

/* Writes the first short_bytes (once), then fails with failing_errno. */
static ssize_t failing_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    if (short_bytes) {
        struct iovec one = {iov[0].iov_base, short_bytes < iov[0].iov_len ? short_bytes : iov[0].iov_len};
        short_bytes = 0;
        return pwritev(fd, &one, 1, off);
    }
    (void)n;
    errno = failing_errno;
    return -1;
}

static ssize_t failing_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    (void)fd, (void)iov, (void)n, (void)off;
    errno = failing_errno;
    return -1;
}

static void host_errors_reach_the_guest_as_ioerr(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 15);
    start_drive(f, false);
    static uint8_t data[8192];
    memset(data, 0x77, sizeof(data));
    pvh_blk_set_io(f->blk, &(struct pvh_blk_io){.pwritev = failing_pwritev, .preadv = failing_preadv});
    failing_errno = ENOSPC;
    short_bytes = 1000; /* a short write, then no space */
    assert_int_equal(blk_write(f, 0, data, 8192), VIRTIO_BLK_S_IOERR);
    failing_errno = EIO;
    assert_int_equal(blk_write(f, 0, data, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_read(f, 0, data, 512), VIRTIO_BLK_S_IOERR);
    pvh_blk_set_io(f->blk, &(struct pvh_blk_io){0});
    assert_int_equal(blk_read(f, 0, data, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(f->d.stats.errors, 3);
    assert_false(needs_reset(f));
}

/* The host's own pwritev, remembering its last errno. */
static int last_pwritev_errno;
static ssize_t recording_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    ssize_t r = pwritev(fd, iov, n, off);
    if (r < 0)
        last_pwritev_errno = errno;
    return r;
}

/* A private mount namespace with a 64 KiB tmpfs at dir; false when this
 * process may not (not root). */
static bool small_tmpfs(const char *dir)
{
    if (unshare(CLONE_NEWNS))
        return false;
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
        return false;
    return mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0;
}

/* ENOSPC from a real file system: a 1 MiB sparse image on a 64 KiB tmpfs.
 * Without the rights to mount one, the same path through the pwritev seam
 * (host_errors_reach_the_guest_as_ioerr covers it too). */
static void enospc_from_a_full_file_system(void **state)
{
    struct fixture *f = *state;
    char mnt[96];
    snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
    assert_int_equal(mkdir(mnt, 0755), 0);
    bool real = small_tmpfs(mnt);
    if (real)
        snprintf(f->path, sizeof(f->path), "%s/disk.img", mnt);
    else
        print_message("# no tmpfs mount here (%s): ENOSPC through the pwritev seam\n", strerror(errno));
    int fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MIB), 0);
    close(fd);
    start_drive(f, false);
    failing_errno = ENOSPC;
    short_bytes = 4096;
    last_pwritev_errno = 0;
    pvh_blk_set_io(f->blk, &(struct pvh_blk_io){.pwritev = real ? recording_pwritev : failing_pwritev});
    static uint8_t data[256 * 1024];
    memset(data, 0x42, sizeof(data));
    assert_int_equal(blk_write(f, 0, data, sizeof(data)), VIRTIO_BLK_S_IOERR);
    if (real)
        assert_int_equal(last_pwritev_errno, ENOSPC); /* the file system's own answer */
    assert_int_equal(f->d.stats.errors, 1);
    assert_false(needs_reset(f));
    /* the device goes on: what fitted reads back, a flush works */
    static uint8_t back[4096];
    assert_int_equal(blk_read(f, 0, back, sizeof(back)), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, data, sizeof(back));
    struct req fl = {.type = VIRTIO_BLK_T_FLUSH};
    assert_int_equal(submit(f, &fl), VIRTIO_BLK_S_OK);
    stop_drive(f);
    if (real)
        assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

/* ---- a block device ---- */

/* valgrind knows neither the loop ioctls nor BLKDISCARD/BLKZEROOUT and
 * says so in its log, which tests/valgrind/memcheck.t wants empty. */
static bool under_valgrind(void)
{
#ifdef RUNNING_ON_VALGRIND
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

/* A loop device over file (autoclear: it goes away with the last close);
 * returns its fd, -1 when this process may not make one. */
static int attach_loop(const char *file, bool ro, char *dev, size_t cap)
{
    if (under_valgrind()) {
        errno = ENOTSUP;
        return -1;
    }
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0)
        return -1;
    int lfd = -1;
    for (int tries = 0; tries < 10 && lfd < 0; tries++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0)
            break;
        snprintf(dev, cap, "/dev/loop%d", n);
        lfd = open(dev, O_RDWR | O_CLOEXEC);
        int bfd = open(file, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        struct loop_config lc;
        memset(&lc, 0, sizeof(lc));
        lc.fd = (uint32_t)bfd;
        lc.info.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0);
        if (lfd >= 0 && ioctl(lfd, LOOP_CONFIGURE, &lc)) {
            close(lfd); /* taken meanwhile (EBUSY): the next free one */
            lfd = -1;
        }
        close(bfd);
    }
    close(ctl);
    return lfd;
}

/* The same drive on a host block device (a loop device over a file): size
 * from BLKGETSIZE64, O_DIRECT alignment from BLKSSZGET, DISCARD through
 * BLKDISCARD (holes in the loop's file), WRITE_ZEROES through BLKZEROOUT, a
 * read-only device refused read-write. Without the rights to make one, the
 * refusal of a device this process may not open. */
static void block_device_backing(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 21);
    char dev[32];
    int lfd = attach_loop(f->path, false, dev, sizeof(dev));
    if (lfd < 0) {
        print_message("# no loop device here (%s%s): only the refusal of /dev/loop-control\n", strerror(errno),
                      under_valgrind() ? ", valgrind" : "");
        struct pvh_blk_config cfg = config_for("/dev/loop-control", false);
        struct pvh_error err;
        assert_int_equal(pvh_blk_open(&f->blk, &cfg, &err), -1);
        assert_int_equal(err.code, PVH_E_INPUT);
        return;
    }
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    int64_t blocks = allocated_blocks(f->path);
    struct pvh_blk_config cfg = config_for(dev, false);
    cfg.cache = PVH_BLK_CACHE_NONE;
    start_drive_with(f, &cfg);
    assert_int_equal(config64(f, VIRTIO_BLK_CFG_CAPACITY), 2048);
    static uint8_t data[8192], back[8192];
    fill_pattern(data, sizeof(data), 31);
    assert_int_equal(blk_write(f, 16, data, sizeof(data)), VIRTIO_BLK_S_OK);
    struct req r = {.type = VIRTIO_BLK_T_IN, .sector = 15, .in = back, .in_len = 1024, .misalign = 8};
    assert_int_equal(submit(f, &r), VIRTIO_BLK_S_OK); /* unaligned: bounced */
    assert_memory_equal(back, orig + 15 * 512, 512);
    assert_memory_equal(back + 512, data, 512);
    struct req fl = {.type = VIRTIO_BLK_T_FLUSH};
    assert_int_equal(submit(f, &fl), VIRTIO_BLK_S_OK);
    uint8_t *now = read_file(f->path, &size); /* the loop's file has it */
    assert_memory_equal(now + 16 * 512, data, sizeof(data));
    free(now);
    uint8_t seg[16];
    put_segment(seg, 1024, 1024, 0);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_DISCARD, seg, 16), VIRTIO_BLK_S_OK);
    assert_int_equal(submit(f, &fl), VIRTIO_BLK_S_OK);
    assert_true(allocated_blocks(f->path) <= blocks - 1024 + 16);
    put_segment(seg, 16, 8, 0);
    assert_int_equal(blk_segments(f, VIRTIO_BLK_T_WRITE_ZEROES, seg, 16), VIRTIO_BLK_S_OK);
    assert_int_equal(blk_read(f, 16, back, 8192), VIRTIO_BLK_S_OK);
    assert_true(all_zero(back, 4096));
    assert_memory_equal(back + 4096, data + 4096, 4096);
    assert_int_equal(f->d.stats.errors, 0);
    stop_drive(f);
    close(lfd);
    /* a read-only device: refused read-write, served read-only */
    lfd = attach_loop(f->path, true, dev, sizeof(dev));
    assert_true(lfd >= 0);
    struct pvh_error err;
    cfg = config_for(dev, false);
    assert_int_equal(pvh_blk_open(&f->blk, &cfg, &err), -1);
    assert_int_equal(err.code, PVH_E_INPUT);
    if (!strstr(err.msg, "use ,ro"))
        fail_msg("%s", err.msg);
    cfg.read_only = true;
    start_drive_with(f, &cfg);
    assert_int_equal(blk_write(f, 0, data, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_read(f, 0, back, 512), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, orig, 512);
    stop_drive(f);
    close(lfd);
    free(orig);
}

/* ---- cache=none ---- */

static void cache_none_aligned_and_bounced(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, 4 * MIB, 16);
    struct pvh_blk_config cfg = config_for(f->path, false);
    cfg.cache = PVH_BLK_CACHE_NONE;
    start_drive_with(f, &cfg);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    static uint8_t data[1536 * 1024], back[1536 * 1024];
    fill_pattern(data, sizeof(data), 99);
    /* page-aligned buffers and range: straight to the file */
    struct req w = {.type = VIRTIO_BLK_T_OUT, .sector = 8, .out = data, .out_len = 8192, .split = 2};
    assert_int_equal(submit(f, &w), VIRTIO_BLK_S_OK);
    assert_int_equal(pvh_blk_counts(f->blk)->bounced, 0);
    /* a buffer 8 bytes off alignment, one sector at an odd offset */
    struct req r = {.type = VIRTIO_BLK_T_IN, .sector = 9, .in = back, .in_len = 512, .misalign = 8};
    assert_int_equal(submit(f, &r), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, data + 512, 512);
    assert_int_equal(pvh_blk_counts(f->blk)->bounced, 1);
    struct req uw = {.type = VIRTIO_BLK_T_OUT, .sector = 3, .out = data + 4096, .out_len = 1024, .misalign = 24};
    assert_int_equal(submit(f, &uw), VIRTIO_BLK_S_OK);
    /* 1.5 MiB unaligned: more than one bounce buffer's worth */
    struct req big = {.type = VIRTIO_BLK_T_OUT, .sector = 4001, .out = data, .out_len = sizeof(data),
                      .split = 3, .misalign = 8};
    assert_int_equal(submit(f, &big), VIRTIO_BLK_S_OK);
    struct req bigr = {.type = VIRTIO_BLK_T_IN, .sector = 4001, .in = back, .in_len = sizeof(back), .split = 5,
                       .misalign = 40};
    assert_int_equal(submit(f, &bigr), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, data, sizeof(data));
    uint8_t *now = read_file(f->path, &size);
    assert_int_equal(size, 4 * MIB);
    assert_memory_equal(now, orig, 3 * 512);
    assert_memory_equal(now + 3 * 512, data + 4096, 1024);
    assert_memory_equal(now + 5 * 512, orig + 5 * 512, 3 * 512);
    assert_memory_equal(now + 8 * 512, data, 8192);
    assert_memory_equal(now + 24 * 512, orig + 24 * 512, (4001 - 24) * 512);
    assert_memory_equal(now + 4001 * 512, data, sizeof(data));
    size_t end = 4001 * 512 + sizeof(data);
    assert_memory_equal(now + end, orig + end, size - end);
    free(now);
    free(orig);
}

/* cache=none on a 1000-byte file: the last sector through the bounce
 * buffer, and the file ends at 1024 bytes as with writeback. */
static void cache_none_partial_last_sector(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, 1000, 17);
    struct pvh_blk_config cfg = config_for(f->path, false);
    cfg.cache = PVH_BLK_CACHE_NONE;
    start_drive_with(f, &cfg);
    size_t size;
    uint8_t *orig = read_file(f->path, &size), buf[512], data[512];
    assert_int_equal(blk_read(f, 1, buf, 512), VIRTIO_BLK_S_OK);
    assert_memory_equal(buf, orig + 512, 488);
    assert_true(all_zero(buf + 488, 24));
    memset(data, 0x3c, sizeof(data));
    assert_int_equal(blk_write(f, 1, data, 512), VIRTIO_BLK_S_OK);
    uint8_t *now = read_file(f->path, &size);
    assert_int_equal(size, 1024);
    assert_memory_equal(now, orig, 512);
    assert_memory_equal(now + 512, data, 512);
    free(now);
    free(orig);
}

/* ---- malformed requests ---- */

/* Chains that break the rules: the device needs a reset, one error. */
static void no_status_byte_needs_reset(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 18);
    struct { uint32_t lens[3]; bool writable[3]; unsigned n; const char *why; } cases[] = {
        {{16, 0, 0}, {false}, 1, "no writable status byte"},                   /* header only */
        {{16, 512, 1}, {false, false, false}, 3, "no writable status byte"},   /* status read-only */
        {{8, 1, 0}, {false, true}, 2, "header of 8 bytes"},                     /* header too short */
        {{0, 0, 0}, {false}, 0, NULL},
    };
    for (size_t i = 0; cases[i].n; i++) {
        start_drive(f, false);
        struct vd_buf b[3];
        for (unsigned k = 0; k < cases[i].n; k++)
            b[k] = (struct vd_buf){alloc_data(f, cases[i].lens[k], 0), cases[i].lens[k], cases[i].writable[k]};
        pvh_put_le32(vd_ptr(&f->v, b[0].gpa, 4), VIRTIO_BLK_T_IN);
        vd_add_chain(&f->v, 0, b, cases[i].n);
        vd_kick(&f->v, 0);
        uint32_t id = 0, len = 0;
        assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 0);
        assert_true(needs_reset(f));
        assert_int_equal(f->d.stats.errors, 1);
        if (!strstr(f->d.last_error, cases[i].why))
            fail_msg("case %zu: %s", i, f->d.last_error);
        /* a reset brings it back */
        assert_true(vd_start(&f->v, DRIVER_FEATURES, 0));
        f->heap_mark = f->v.heap;
        uint8_t buf[512];
        assert_int_equal(blk_read(f, 0, buf, 512), VIRTIO_BLK_S_OK);
        stop_drive(f);
    }
}

/* Requests the device answers with an error status and goes on. */
static void malformed_requests_get_a_status(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 19);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    static uint8_t buf[2048];
    memset(buf, 0x99, sizeof(buf));
    assert_int_equal(blk_read(f, 0, buf, 100), VIRTIO_BLK_S_IOERR);   /* not a multiple of 512 */
    assert_int_equal(blk_write(f, 0, buf, 700), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_write(f, 0, buf, 1), VIRTIO_BLK_S_IOERR);
    struct req unknown = {.type = 99, .in = buf, .in_len = 512};
    assert_int_equal(submit(f, &unknown), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(unknown.used, 1);
    struct req scsi = {.type = 2}; /* VIRTIO_BLK_T_SCSI_CMD: legacy, not offered */
    assert_int_equal(submit(f, &scsi), VIRTIO_BLK_S_UNSUPP);
    struct req barrier = {.type = 0x80000001u, .out = buf, .out_len = 512}; /* legacy barrier bit */
    assert_int_equal(submit(f, &barrier), VIRTIO_BLK_S_UNSUPP);
    uint8_t *now = read_file(f->path, &size);
    assert_memory_equal(now, orig, MIB);
    assert_int_equal(f->d.stats.errors, 6);
    assert_int_equal(pvh_blk_counts(f->blk)->unsupported, 3);
    assert_false(needs_reset(f));
    free(now);
    free(orig);
}

/* A batch: many requests in one kick, each completed, one interrupt. */
static void a_full_queue_in_one_kick(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 20);
    start_drive(f, false);
    size_t size;
    uint8_t *orig = read_file(f->path, &size);
    uint64_t status[64], data[64];
    for (unsigned i = 0; i < 64; i++) {
        uint64_t hdr = alloc_data(f, 16, 0);
        data[i] = alloc_data(f, 512, 0);
        status[i] = alloc_data(f, 1, 0);
        pvh_put_le32(vd_ptr(&f->v, hdr, 4), VIRTIO_BLK_T_IN);
        pvh_put_le64(vd_ptr(&f->v, hdr + 8, 8), i * 3);
        struct vd_buf b[3] = {{hdr, 16, false}, {data[i], 512, true}, {status[i], 1, true}};
        vd_add_chain(&f->v, 0, b, 3);
    }
    unsigned irq = f->v.interrupts;
    vd_kick(&f->v, 0);
    assert_int_equal(f->v.interrupts, irq + 1);
    for (unsigned i = 0; i < 64; i++) {
        uint32_t id = 0, len = 0;
        assert_int_equal(vd_get_used(&f->v, 0, &id, &len), 1);
        assert_int_equal(len, 513);
        assert_int_equal(*vd_ptr(&f->v, status[i], 1), VIRTIO_BLK_S_OK);
        assert_memory_equal(vd_ptr(&f->v, data[i], 512), orig + i * 3 * 512, 512);
    }
    free(orig);
}

/* ---- a guest that never stops adding requests ---- */

/* While the device serves, this "guest" publishes one more read per read
 * the host does (up to `refill_left`), as a vCPU adding requests during a
 * long notify would: the device must hand the queue back after a queue's
 * worth instead of serving for ever. */
static struct fixture *refill_f;
static uint64_t refill_hdr, refill_data, refill_status;
static unsigned refill_left, kicks;

static void publish_refill_read(struct fixture *f)
{
    struct vd_buf b[3] = {{refill_hdr, 16, false}, {refill_data, 512, true}, {refill_status, 1, true}};
    vd_add_chain(&f->v, 0, b, 3);
}

static ssize_t refilling_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    if (refill_left) {
        refill_left--;
        publish_refill_read(refill_f);
    }
    return preadv(fd, iov, n, off);
}

static void counting_kick(void *ctx, struct pvh_virtio_dev *d, unsigned queue)
{
    (void)ctx, (void)d, (void)queue;
    kicks++;
}

static unsigned used_entries(struct fixture *f)
{
    uint32_t id, len;
    unsigned n = 0;
    while (vd_get_used(&f->v, 0, &id, &len) == 1)
        n++;
    return n;
}

static void an_endless_queue_is_served_in_turns(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 21);
    start_drive(f, false);
    refill_f = f;
    refill_hdr = alloc_data(f, 16, 0);
    refill_data = alloc_data(f, 512, 0);
    refill_status = alloc_data(f, 1, 0);
    pvh_put_le32(vd_ptr(&f->v, refill_hdr, 4), VIRTIO_BLK_T_IN);
    pvh_put_le64(vd_ptr(&f->v, refill_hdr + 8, 8), 7);
    f->d.env.kick = counting_kick;
    pvh_blk_set_io(f->blk, &(struct pvh_blk_io){.preadv = refilling_preadv});
    refill_left = 1000;
    kicks = 0;
    for (unsigned i = 0; i < 4; i++)
        publish_refill_read(f);
    unsigned irq = f->v.interrupts;
    pvh_virtio_notify(&f->d, 0); /* as the I/O thread does when the ioeventfd fires */
    /* one queue's worth (256), the interrupt, and the queue handed back */
    assert_int_equal(used_entries(f), 256);
    assert_int_equal(kicks, 1);
    assert_int_equal(f->v.interrupts, irq + 1);
    /* the I/O thread serves it again when its turn comes: each turn is bounded */
    unsigned turns = 1;
    while (kicks == turns && turns < 10) {
        pvh_virtio_notify(&f->d, 0);
        unsigned served = used_entries(f);
        assert_true(served <= 256);
        turns++;
    }
    assert_int_equal(refill_left, 0); /* all 4 + 1000 requests were served in the end */
    assert_int_equal(*vd_ptr(&f->v, refill_status, 1), VIRTIO_BLK_S_OK);
    assert_int_equal(f->d.stats.requests, 1004);
    assert_false(needs_reset(f));
}

/* ---- metrics ---- */

static json_int_t metric(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* FlushMetrics' line while the VM runs: the counters the drive kept for
 * the requests it served, the VM exits and the legacy devices', read from
 * a machine (vmm/stats.c) and written as one JSON line (api/metrics.c). */
static void metrics_line_has_the_drives_counters(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 3);
    start_drive(f, false);
    static uint8_t data[3072], back[3072];
    fill_pattern(data, sizeof(data), 9);
    assert_int_equal(blk_write(f, 8, data, 2048), VIRTIO_BLK_S_OK);
    assert_int_equal(blk_read(f, 8, back, 3072), VIRTIO_BLK_S_OK);
    assert_int_equal(blk_read(f, 2048, back, 512), VIRTIO_BLK_S_IOERR); /* past the end */
    struct pvh_vm *vm = calloc(1, sizeof(*vm));
    assert_non_null(vm);
    pthread_mutex_init(&vm->dev.uart.lock, NULL);
    pthread_mutex_init(&vm->dev.unhandled.lock, NULL);
    vm->nvdev = 1;
    vm->vdev[0] = (struct pvh_vm_vdev){.name = "disk.img", .dev = &f->d};
    vm->exits[PVH_EXIT_IO] = 41;
    vm->exits[PVH_EXIT_MMIO] = 9;
    vm->exits[PVH_EXIT_HLT] = 2;
    vm->dev.uart.tx_bytes = 1234;
    pvh_unhandled_count(&vm->dev.unhandled.t, 0x80, 0, 1);
    pvh_unhandled_count(&vm->dev.unhandled.t, 0x80, 0, 0);
    pvh_unhandled_count(&vm->dev.unhandled.t, 0xfed00000, 1, 0);
    struct pvh_vm_stats st = {0};
    pvh_stats_counters(vm, &st);
    struct pvh_api_metrics m = {.utc_ms = 1700000000123ull, .requests = 7, .faults = 1, .state = PVH_API_RUNNING,
                                .vm = &st};
    char *line = pvh_api_metrics_line(&m);
    assert_non_null(line);
    size_t n = strlen(line);
    assert_true(n > 1 && line[n - 1] == '\n' && !memchr(line, '\n', n - 1)); /* one line */
    json_error_t e;
    json_t *o = json_loads(line, 0, &e);
    if (!o)
        fail_msg("not JSON: %s: %s", e.text, line);
    assert_int_equal(json_integer_value(json_object_get(o, "utc_timestamp_ms")), 1700000000123ll);
    assert_int_equal(metric(o, "api_server", "requests"), 7);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "vmm"), "state")), "Running");
    assert_int_equal(metric(o, "vcpu_exits", "io"), 41);
    assert_int_equal(metric(o, "vcpu_exits", "mmio"), 9);
    assert_int_equal(metric(o, "vcpu_exits", "hlt"), 2);
    assert_int_equal(metric(o, "vcpu_exits", "other"), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(o, "legacy"), "serial"),
                                                        "tx_bytes")), 1234);
    assert_int_equal(metric(o, "legacy", "unhandled_accesses"), 3);
    json_t *devs = json_object_get(o, "devices");
    assert_int_equal(json_array_size(devs), 1);
    json_t *d = json_array_get(devs, 0);
    assert_string_equal(json_string_value(json_object_get(d, "type")), "virtio-blk");
    assert_string_equal(json_string_value(json_object_get(d, "name")), "disk.img");
    /* three requests, 2048 + 3072 bytes moved, the third refused: the drive's own counts */
    assert_int_equal(json_integer_value(json_object_get(d, "requests")), 3);
    assert_int_equal(json_integer_value(json_object_get(d, "bytes")), 2048 + 3072);
    assert_int_equal(json_integer_value(json_object_get(d, "notifications")), (json_int_t)f->d.stats.notifications);
    assert_true(f->d.stats.notifications >= 3);
    assert_int_equal(json_integer_value(json_object_get(d, "interrupts")), (json_int_t)f->d.stats.interrupts);
    assert_true(f->d.stats.interrupts >= 1);
    json_decref(o);
    free(line);
    /* not running: only the server's part */
    m.vm = NULL;
    m.state = PVH_API_NOT_STARTED;
    line = pvh_api_metrics_line(&m);
    o = json_loads(line, 0, NULL);
    assert_non_null(o);
    assert_null(json_object_get(o, "devices"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "vmm"), "state")), "Not started");
    json_decref(o);
    free(line);
    pthread_mutex_destroy(&vm->dev.uart.lock);
    pthread_mutex_destroy(&vm->dev.unhandled.lock);
    free(vm);
}

/* The statistics outlive the strings the devices were named by: restore's
 * names (a TAP's, a drive's file) live in the snapshot's decoded VIRTIO
 * section, freed when pvh_vm_restore returns, before `pvhboot restore -v`
 * prints them (tests/run/snapshot-net.t: a segfault there). The stats keep
 * their own copy. */
static void stats_keep_their_own_copy_of_device_names(void **state)
{
    struct fixture *f = *state;
    make_image(f->path, MIB, 3);
    start_drive(f, false);
    struct pvh_vm *vm = calloc(1, sizeof(*vm));
    assert_non_null(vm);
    pthread_mutex_init(&vm->dev.uart.lock, NULL);
    pthread_mutex_init(&vm->dev.unhandled.lock, NULL);
    char *name = strdup("tap1");
    assert_non_null(name);
    vm->nvdev = 1;
    vm->vdev[0] = (struct pvh_vm_vdev){.name = name, .dev = &f->d};
    struct pvh_vm_stats *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    pvh_stats_counters(vm, st);
    memset(name, 'x', 4); /* what freed memory may hold */
    free(name);
    assert_int_equal(st->ndevices, 1);
    assert_string_equal(st->devices[0].name, "tap1");
    free(st);
    pthread_mutex_destroy(&vm->dev.uart.lock);
    pthread_mutex_destroy(&vm->dev.unhandled.lock);
    free(vm);
}

/* ---- swapping the file (PATCH /drives/{id} after boot) ---- */

/* The drive moves to another file: refused (the drive keeps its file) when
 * that file is locked by another VM or missing; then its capacity and
 * contents are the new file's, the driver told by a configuration
 * interrupt with a new generation, the old file's locks released and the
 * new one's held; the same file again after it grew: the new size. */
static void swap_moves_the_drive_to_another_file(void **state)
{
    struct fixture *f = *state;
    char other[160], missing[160];
    snprintf(other, sizeof(other), "%s/new-disk.img", f->dir);
    snprintf(missing, sizeof(missing), "%s/missing.img", f->dir);
    make_image(f->path, MIB, 21);
    make_image(other, 2 * MIB, 22);
    size_t size;
    uint8_t *a = read_file(f->path, &size), *b = read_file(other, &size);
    start_drive(f, false);
    static uint8_t back[4096];
    uint32_t gen = vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION);
    struct pvh_error err = {0};
    /* another VM holds the new file: refused, nothing changes */
    struct holder h = hold_image(other, false);
    assert_int_equal(pvh_blk_swap(f->blk, other, &err), -1);
    char want[64];
    snprintf(want, sizeof(want), "new-disk.img: locked by process %d", (int)h.pid);
    if (!strstr(err.msg, want))
        fail_msg("wanted \"%s\" in \"%s\"", want, err.msg);
    release(h);
    assert_int_equal(pvh_blk_swap(f->blk, missing, &err), -1);
    assert_non_null(strstr(err.msg, "missing.img: No such file or directory"));
    assert_int_equal(config64(f, VIRTIO_BLK_CFG_CAPACITY), 2048);
    assert_int_equal(blk_read(f, 0, back, 4096), VIRTIO_BLK_S_OK);
    assert_memory_equal(back, a, 4096);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION), gen);
    /* swapped */
    unsigned irqs = f->v.interrupts;
    assert_int_equal(pvh_blk_swap(f->blk, other, &err), 0);
    pvh_virtio_config_changed(&f->d); /* what the machine does next, under the lock */
    assert_int_equal(pvh_blk_capacity(f->blk), 4096);
    assert_int_equal(config64(f, VIRTIO_BLK_CFG_CAPACITY), 4096);
    assert_string_equal(pvh_blk_name(f->blk), other);
    assert_int_equal(vd_read32(&f->v, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
    assert_true(vd_read32(&f->v, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG_CHANGE);
    assert_int_equal(f->v.interrupts, irqs + 1);
    assert_int_equal(blk_read(f, 4000, back, 4096), VIRTIO_BLK_S_OK); /* past the old end */
    assert_memory_equal(back, b + 4000 * 512, 4096);
    open_succeeds(f->path, false);           /* the old file's locks went with it */
    assert_locked_by(other, false, getpid()); /* the new one's are held */
    /* the same file, grown on the host: its new size */
    assert_int_equal(truncate(other, 3 * MIB), 0);
    assert_int_equal(pvh_blk_swap(f->blk, other, &err), 0);
    assert_int_equal(config64(f, VIRTIO_BLK_CFG_CAPACITY), 6144);
    assert_locked_by(other, false, getpid());
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity_and_config_space, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_drive_offers_ro, setup, teardown),
        cmocka_unit_test_setup_teardown(size_not_a_multiple_of_512, setup, teardown),
        cmocka_unit_test_setup_teardown(read_write_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(unusual_but_valid_layouts, setup, teardown),
        cmocka_unit_test_setup_teardown(requests_past_the_end_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(flush_syncs_before_completing, setup, teardown),
        cmocka_unit_test_setup_teardown(get_id_returns_the_serial, setup, teardown),
        cmocka_unit_test_setup_teardown(discard_punches_holes, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_discards_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(write_zeroes_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(zero_length_segments_are_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_drive_refuses_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(locks_name_the_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(locks_interoperate_with_qemu, setup, teardown),
        cmocka_unit_test_setup_teardown(open_errors_are_one_line, setup, teardown),
        cmocka_unit_test_setup_teardown(host_errors_reach_the_guest_as_ioerr, setup, teardown),
        cmocka_unit_test_setup_teardown(enospc_from_a_full_file_system, setup, teardown),
        cmocka_unit_test_setup_teardown(block_device_backing, setup, teardown),
        cmocka_unit_test_setup_teardown(cache_none_aligned_and_bounced, setup, teardown),
        cmocka_unit_test_setup_teardown(cache_none_partial_last_sector, setup, teardown),
        cmocka_unit_test_setup_teardown(no_status_byte_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_requests_get_a_status, setup, teardown),
        cmocka_unit_test_setup_teardown(a_full_queue_in_one_kick, setup, teardown),
        cmocka_unit_test_setup_teardown(an_endless_queue_is_served_in_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(metrics_line_has_the_drives_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(stats_keep_their_own_copy_of_device_names, setup, teardown),
        cmocka_unit_test_setup_teardown(swap_moves_the_drive_to_another_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
