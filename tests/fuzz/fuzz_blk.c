/* libFuzzer harness for virtio-blk (vmm/virtio/blk.c) behind the virtio-mmio
 * transport: the input is a small header and then the whole content of a
 * 64 KiB fake guest RAM (descriptor table, available ring and used ring
 * packed from 0, the rest requests and buffers), so every descriptor,
 * ring index, request header, segment and data byte is the fuzzer's. The
 * drives are backed by memfds: a read-write one and a read-only one, each of
 * 64 KiB. Checked after every input (abort() on a violation): neither file
 * changed size (only its first 64 KiB can change), the read-only one not a
 * byte; every buffer the device hands the kernel to fill lies inside the
 * fake RAM, every buffer it writes from does too (or is zeros: WRITE_ZEROES'
 * fallback); the RAM has PROT_NONE guard pages on both sides, and ASan
 * watches the rest.
 *
 * Input: byte 0 flags (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 the
 * read-only drive, bit 3 the request mode), byte 1 log2 of the queue size
 * (mod 9), then either RAM bytes (the rings packed from gpa 0 for that size,
 * ring_layout, so that small queues leave small inputs), or, in the request
 * mode, 16-byte records the harness turns into well-formed chains (every
 * layout a driver may use) whose status bytes it checks against the rules
 * of docs/virtio-blk.md: ranges, lengths, segments, read-only refusals.
 * Seeds: tests/fuzz/corpus/blk/, made by tests/fuzz/blk-seed.py. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/virtio/blk.h"
#include "fuzz_common.h"
#include "../lib/virtio_driver.h"
#include "pvhboot/layout.h"

#define RAM_SIZE (64u << 10)
#define FILE_SIZE (64u << 10)
#define PAGE 4096u

/* desc at 0, avail right after it, used at the next 4-byte boundary */
static void ring_layout(uint16_t qsize, uint64_t *desc, uint64_t *avail, uint64_t *used)
{
    *desc = 0;
    *avail = 16ull * qsize;
    *used = (*avail + 6 + 2ull * qsize + 3) & ~3ull;
}

static uint8_t *ram;
static struct pvh_blk *drive[2];
static int file_fd[2];
static uint64_t ro_sum;

static bool in_ram(const struct iovec *iov, int n)
{
    return iov_inside(iov, n, ram, RAM_SIZE);
}

static ssize_t checked_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    check(in_ram(iov, n)); /* the kernel writes there: guest RAM only */
    return preadv(fd, iov, n, off);
}

static ssize_t checked_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    check(in_ram(iov, n) || iov_all_zeros(iov, n));
    check(off >= 0 && (uint64_t)off < FILE_SIZE);
    return pwritev(fd, iov, n, off);
}

static uint64_t file_sum(int fd)
{
    static uint8_t buf[FILE_SIZE];
    check(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(buf); i++)
        h = (h ^ buf[i]) * 1099511628211ull;
    return h;
}

static struct pvh_blk *open_drive(int *fd, bool ro)
{
    *fd = memfd_create(ro ? "fuzz_blk_ro" : "fuzz_blk_rw", MFD_CLOEXEC);
    check(*fd >= 0 && ftruncate(*fd, FILE_SIZE) == 0);
    static uint8_t pattern[FILE_SIZE];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 13 + 1);
    check(pwrite(*fd, pattern, sizeof(pattern), 0) == (ssize_t)sizeof(pattern));
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
    struct pvh_blk_config cfg = {.path = path, .read_only = ro, .id = ro ? "fuzz-ro" : NULL};
    struct pvh_blk *b;
    struct pvh_error err;
    check(pvh_blk_open(&b, &cfg, &err) == 0);
    pvh_blk_set_io(b, &(struct pvh_blk_io){.preadv = checked_preadv, .pwritev = checked_pwritev});
    return b;
}

static void setup_once(void)
{
    if (ram)
        return;
    uint8_t *map = mmap(NULL, RAM_SIZE + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(map != MAP_FAILED);
    ram = map + PAGE;
    check(mprotect(ram, RAM_SIZE, PROT_READ | PROT_WRITE) == 0);
    drive[0] = open_drive(&file_fd[0], false);
    drive[1] = open_drive(&file_fd[1], true);
    ro_sum = file_sum(file_fd[1]);
}

static void queue_address(struct vdriver *v, uint32_t low_reg, uint64_t gpa)
{
    vd_write32(v, low_reg, (uint32_t)gpa);
    vd_write32(v, low_reg + 4, (uint32_t)(gpa >> 32));
}

/* ---- the request mode: well-formed chains from 16-byte records ----
 * 0 kind (type: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES, IN, or byte
 *   15 as a raw type), 1 layout (bits 0-1 buffers per part - 1, bit 2
 *   indirect, bit 3 data 8 bytes off alignment, bit 4 header in 5 + 11
 *   bytes, bit 5 status in the last data buffer; 0xff: no writable byte),
 * 2-3 sector (< 0x8000: & 0x1ff, else UINT64_MAX - low byte), 4-5 data
 * length (bit 15: (& 0x3f) sectors, else & 0x1fff bytes), 6 segments (% 41),
 * 7 segment flags (& 3), 8-9 sectors per segment (bit 15: 2^22 + (& 3), else
 * & 0x7f), 10 fill byte, 15 raw type. The status each request gets is
 * checked against docs/virtio-blk.md's rules. */
#define REC 16
#define MAX_PIECES 16

struct rec {
    uint32_t type;
    uint8_t layout, fill, nseg, seg_flags;
    uint64_t sector;
    uint32_t len, seg_sectors;
};

static struct rec decode(const uint8_t *r)
{
    static const uint32_t types[7] = {VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
                                      VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_T_IN};
    uint16_t sec = pvh_le16(r + 2), len = pvh_le16(r + 4), segs = pvh_le16(r + 8);
    return (struct rec){
        .type = r[0] % 8 < 7 ? types[r[0] % 8] : r[15],
        .layout = r[1],
        .fill = r[10],
        .nseg = (uint8_t)(r[6] % 41),
        .seg_flags = r[7] & 3,
        .sector = sec < 0x8000 ? (uint64_t)(sec & 0x1ff) : UINT64_MAX - (sec & 0xff),
        .len = len & 0x8000 ? (len & 0x3fu) * 512u : len & 0x1fffu,
        .seg_sectors = segs & 0x8000 ? (1u << 22) + (segs & 3u) : segs & 0x7fu,
    };
}

static bool in_capacity(uint64_t sector, uint64_t count)
{
    uint64_t cap = FILE_SIZE / 512;
    return sector <= cap && count <= cap - sector;
}

static uint8_t segment_status(const struct rec *r, bool zeroes)
{
    for (uint32_t i = 0; i < r->nseg; i++) {
        uint64_t sector = r->sector + (uint64_t)i * r->seg_sectors;
        if (r->seg_flags & ~1u || (!zeroes && r->seg_flags))
            return VIRTIO_BLK_S_UNSUPP;
        if (r->seg_sectors > (1u << 22) || !in_capacity(sector, r->seg_sectors))
            return VIRTIO_BLK_S_IOERR;
    }
    return VIRTIO_BLK_S_OK;
}

/* What the device must answer (docs/virtio-blk.md). */
static uint8_t expected(const struct rec *r, bool ro)
{
    switch (r->type) {
    case VIRTIO_BLK_T_OUT:
        if (ro)
            return VIRTIO_BLK_S_IOERR;
        /* fall through */
    case VIRTIO_BLK_T_IN:
        return r->len % 512 || !in_capacity(r->sector, r->len / 512) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_FLUSH:
    case VIRTIO_BLK_T_GET_ID:
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        if (ro || r->nseg == 0 || r->nseg > 32)
            return VIRTIO_BLK_S_IOERR;
        return segment_status(r, r->type == VIRTIO_BLK_T_WRITE_ZEROES);
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

struct builder {
    uint64_t heap, desc_table;
    uint16_t qsize, next_desc;
    bool indirect;
};

static uint64_t balloc(struct builder *bd, uint64_t len, uint64_t align)
{
    uint64_t gpa = (bd->heap + align - 1) / align * align;
    if (gpa + len > RAM_SIZE)
        return 0;
    bd->heap = gpa + len;
    return gpa;
}

static void put_desc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = ram + table + 16ull * i;
    pvh_put_le64(p, addr);
    pvh_put_le32(p + 8, len);
    pvh_put_le16(p + 12, flags);
    pvh_put_le16(p + 14, next);
}

/* `len` bytes (content from fill) in `split` buffers appended to pieces. */
static bool add_part(struct builder *bd, struct vd_buf *pc, unsigned *n, uint32_t len, unsigned split,
                     unsigned misalign, bool writable, const uint8_t *content)
{
    if (!len)
        return true;
    uint64_t gpa = balloc(bd, len + misalign, 8);
    if (!gpa || *n + split > MAX_PIECES)
        return false;
    gpa += misalign;
    if (content)
        memcpy(ram + gpa, content, len);
    uint32_t done = 0;
    for (unsigned k = 0; k < split && done < len; k++) {
        uint32_t take = k + 1 == split ? len - done : (len / split ? len / split : 1);
        pc[(*n)++] = (struct vd_buf){gpa + done, take, writable};
        done += take;
    }
    return true;
}

/* The pieces as a chain (direct, or one indirect descriptor); its head, or
 * -1 when the queue or RAM is full. */
static int publish(struct builder *bd, const struct vd_buf *pc, unsigned n, bool indirect)
{
    if (indirect && bd->indirect) {
        uint64_t table = balloc(bd, 16ull * n, 16);
        if (!table || bd->next_desc >= bd->qsize)
            return -1;
        for (unsigned k = 0; k < n; k++)
            put_desc(table, k, pc[k].gpa, pc[k].len,
                     (uint16_t)((pc[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
                     (uint16_t)(k + 1));
        put_desc(bd->desc_table, bd->next_desc, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
        return bd->next_desc++;
    }
    if (bd->next_desc + n > bd->qsize)
        return -1;
    uint16_t head = bd->next_desc;
    for (unsigned k = 0; k < n; k++, bd->next_desc++)
        put_desc(bd->desc_table, bd->next_desc, pc[k].gpa, pc[k].len,
                 (uint16_t)((pc[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
                 (uint16_t)(bd->next_desc + 1));
    return head;
}

struct sent {
    uint64_t status_gpa;
    uint8_t want;
    bool no_status;
};

/* One record as a chain; false when it did not fit. */
static bool build(struct builder *bd, const struct rec *r, bool ro, struct sent *out, int *head)
{
    static uint8_t content[63 * 512]; /* the longest OUT, more than 40 segments */
    struct vd_buf pc[MAX_PIECES];
    unsigned n = 0, split = (r->layout & 3) + 1, mis = r->layout & 8 ? 8 : 0;
    uint8_t hdr[16];
    pvh_put_le32(hdr, r->type);
    pvh_put_le32(hdr + 4, 0);
    pvh_put_le64(hdr + 8, r->sector);
    bool ok = r->layout & 16 ? add_part(bd, pc, &n, 5, 1, 0, false, hdr) && add_part(bd, pc, &n, 11, 1, 0, false, hdr + 5)
                             : add_part(bd, pc, &n, 16, 1, 0, false, hdr);
    uint32_t out_len = 0, in_len = 0;
    memset(content, r->fill, sizeof(content));
    if (r->type == VIRTIO_BLK_T_DISCARD || r->type == VIRTIO_BLK_T_WRITE_ZEROES) {
        for (uint32_t i = 0; i < r->nseg; i++) {
            pvh_put_le64(content + 16 * i, r->sector + (uint64_t)i * r->seg_sectors);
            pvh_put_le32(content + 16 * i + 8, r->seg_sectors);
            pvh_put_le32(content + 16 * i + 12, r->seg_flags);
        }
        out_len = 16u * r->nseg;
    } else if (r->type == VIRTIO_BLK_T_OUT) {
        out_len = r->len;
    } else if (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID) {
        in_len = r->type == VIRTIO_BLK_T_GET_ID ? r->len % 32 : r->len;
    }
    if (r->layout == 0xff)
        in_len = 0; /* no writable byte at all: the driver broke the rules */
    ok = ok && add_part(bd, pc, &n, out_len, split, mis, false, content);
    bool shared = (r->layout & 32) && in_len && r->layout != 0xff;
    ok = ok && add_part(bd, pc, &n, in_len + shared, split, mis, true, NULL);
    out->no_status = r->layout == 0xff;
    if (!ok)
        return false; /* RAM is full */
    if (shared) {
        out->status_gpa = pc[n - 1].gpa + pc[n - 1].len - 1;
    } else if (!out->no_status) {
        ok = add_part(bd, pc, &n, 1, 1, 0, true, NULL);
        out->status_gpa = ok ? pc[n - 1].gpa : 0;
    }
    if (!ok || (*head = publish(bd, pc, n, r->layout & 4)) < 0)
        return false;
    if (!out->no_status)
        ram[out->status_gpa] = 0xee;
    out->want = expected(r, ro);
    return true;
}

static void run_requests(struct vdriver *v, const uint8_t *data, size_t size, uint16_t qsize, bool ro,
                         bool indirect, uint64_t avail, uint64_t used)
{
    static struct sent sent[256];
    int heads[256];
    struct builder bd = {.heap = used + 6 + 8ull * qsize, .desc_table = 0, .qsize = qsize, .indirect = indirect};
    unsigned n = 0;
    for (size_t off = 0; off + REC <= size && n < qsize; off += REC) {
        struct rec r = decode(data + off);
        if (!build(&bd, &r, ro, &sent[n], &heads[n]))
            break;
        pvh_put_le16(ram + avail + 4 + 2 * n, (uint16_t)heads[n]);
        n++;
        if (sent[n - 1].no_status)
            break; /* the device resets there: nothing after it is served */
    }
    pvh_put_le16(ram + avail + 2, (uint16_t)n);
    vd_kick(v, 0);
    uint16_t done = pvh_le16(ram + used + 2);
    check(done <= n);
    for (uint16_t i = 0; i < done; i++) { /* served in order, one at a time */
        uint32_t id = pvh_le32(ram + used + 4 + 8 * i);
        check(id == (uint32_t)heads[i] && !sent[i].no_status);
        if (ram[sent[i].status_gpa] != sent[i].want)
            abort();
    }
    check(done == n || (n && sent[n - 1].no_status && done == n - 1));
}

/* FUZZ_SUMMARY=1 in the environment: one line per input on stderr, to see
 * what a seed does (e.g. that recorded Linux requests succeed here). */
static void summary(const struct pvh_virtio_dev *d)
{
    static int want = -1;
    if (want < 0)
        want = getenv("FUZZ_SUMMARY") != NULL;
    if (want)
        fprintf(stderr, "virtio-blk: status %#x%s, requests %llu, bytes %llu, errors %llu%s%s\n", d->status,
                d->broken ? " (broken)" : "", (unsigned long long)d->stats.requests,
                (unsigned long long)d->stats.bytes, (unsigned long long)d->stats.errors,
                d->last_error[0] ? ", last: " : "", d->last_error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    uint16_t qsize = (uint16_t)(1u << (data[1] % 9));
    bool ro = (flags >> 2) & 1;
    struct pvh_blk *b = drive[ro];

    static struct vdriver v;
    static struct pvh_virtio_dev d;
    memset(&v, 0, sizeof(v));
    v.mem.slot[0] = (struct pvh_mem_slot){0, RAM_SIZE, ram};
    struct pvh_virtio_env env = vd_env(&v);
    pvh_virtio_init(&d, pvh_blk_device_ops(b), b, &env, PVH_VIRTIO_MMIO_BASE, 5);
    v.d = &d;
    uint64_t features = VIRTIO_F_VERSION_1_BIT | (flags & 1 ? VIRTIO_RING_F_INDIRECT_DESC_BIT : 0) |
                        (flags & 2 ? VIRTIO_RING_F_EVENT_IDX_BIT : 0);
    check(vd_negotiate(&v, features));
    vd_write32(&v, VIRTIO_MMIO_QUEUE_SEL, 0);
    vd_write32(&v, VIRTIO_MMIO_QUEUE_NUM, qsize);
    uint64_t desc, avail, used;
    ring_layout(qsize, &desc, &avail, &used);
    queue_address(&v, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
    queue_address(&v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, avail);
    queue_address(&v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, used);
    vd_write32(&v, VIRTIO_MMIO_QUEUE_READY, 1);
    check(vd_read32(&v, VIRTIO_MMIO_QUEUE_READY) == 1);
    vd_write32(&v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                           VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);

    memset(ram, 0, RAM_SIZE);
    if (flags & 8) {
        run_requests(&v, data + 2, size - 2, qsize, ro, flags & 1, avail, used);
    } else {
        size_t n = size - 2 < RAM_SIZE ? size - 2 : RAM_SIZE;
        memcpy(ram, data + 2, n);
        vd_kick(&v, 0);
        vd_kick(&v, 0); /* again: nothing new, or the rest after an EVENT_IDX re-arm */
    }

    struct stat st;
    for (int i = 0; i < 2; i++)
        check(fstat(file_fd[i], &st) == 0 && st.st_size == FILE_SIZE);
    check(file_sum(file_fd[1]) == ro_sum);
    check(d.stats.errors <= d.stats.requests + 1); /* at most one failure: then the device stops */
    summary(&d);
    pvh_virtio_destroy(&d);
    return 0;
}
