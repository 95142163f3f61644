/* virtio-blk (blk.h): opening and locking the image, the configuration
 * space, and the request handler. A request is a chain: a 16-byte header
 * (type, reserved, sector) at the start of the readable bytes, then data
 * (OUT's, or DISCARD/WRITE_ZEROES segments), then writable data (IN's,
 * GET_ID's) and, as the chain's last writable byte, the status. The header
 * and segments are copied out of guest memory before they are checked; data
 * moves with preadv/pwritev straight between the guest's buffers and the
 * file (cache=none: through an aligned bounce buffer when the guest's
 * buffers or the range are not aligned for O_DIRECT).
 *
 * What a request gets (docs/virtio-blk.md): no writable byte for the status,
 * or a header shorter than 16 bytes, is the driver breaking the rules: the
 * device needs a reset (pvh_virtio_fail). Every other malformed request gets
 * VIRTIO_BLK_S_IOERR (a range past the capacity, a length not a multiple of
 * 512, bad segments, writes to a read-only drive) or VIRTIO_BLK_S_UNSUPP (an
 * unknown type, unknown segment flags), as does a failed host call. */
#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_lock.h"
#include "pvhboot/bytes.h"
#include "pvhboot/layout.h"

#define HEADER_BYTES 16
#define SEGMENT_BYTES 16
#define BOUNCE_BYTES (1u << 20)
#define MAX_ALIGN 4096u
#define ZERO_CHUNK (64u << 10)

struct pvh_blk {
    int fd;
    char *name;              /* the path as given, for messages */
    bool read_only, direct, block_device, locked;
    uint64_t capacity;       /* sectors */
    uint64_t align;          /* O_DIRECT: offsets, lengths and buffers are multiples of it */
    uint8_t *bounce;         /* O_DIRECT: BOUNCE_BYTES, aligned; allocated on first use */
    uint8_t id[PVH_BLK_ID_BYTES];
    uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
    struct pvh_virtio_device_ops ops;
    struct pvh_blk_io io;
    struct pvh_blk_counts counts;
    struct pvh_vchain *chain;    /* the request being served (scratch) */
    struct iovec *iov;           /* PVH_VCHAIN_MAX entries of scratch */
};

/* ---- host calls (replaceable by tests) ---- */

static const struct pvh_blk_io libc_io = {preadv, pwritev, fdatasync, fallocate};

void pvh_blk_set_io(struct pvh_blk *b, const struct pvh_blk_io *io)
{
    b->io = *io;
    if (!b->io.preadv)
        b->io.preadv = libc_io.preadv;
    if (!b->io.pwritev)
        b->io.pwritev = libc_io.pwritev;
    if (!b->io.fdatasync)
        b->io.fdatasync = libc_io.fdatasync;
    if (!b->io.fallocate)
        b->io.fallocate = libc_io.fallocate;
}

/* ---- opening ---- */

static int open_image(const struct pvh_blk_config *cfg, struct pvh_error *err)
{
    int flags = (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (cfg->cache == PVH_BLK_CACHE_NONE)
        flags |= O_DIRECT;
    int fd = open(cfg->path, flags);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e == EROFS || (e == EACCES && !cfg->read_only))
        return pvh_fail(err, PVH_E_INPUT, "%s: %s; use ,ro for a read-only drive", cfg->path, strerror(e));
    if (e == EINVAL && (flags & O_DIRECT))
        return pvh_fail(err, PVH_E_INPUT, "%s: its file system does not take O_DIRECT; use cache=writeback",
                        cfg->path);
    return pvh_fail(err, e == ENOENT || e == EACCES ? PVH_E_INPUT : PVH_E_SYSTEM, "%s: %s", cfg->path, strerror(e));
}

/* Size in bytes of a regular file or a block device (read-only ones refused
 * for writing, as their writes would fail with EPERM). */
static int image_size(struct pvh_blk *b, uint64_t *bytes, struct pvh_error *err)
{
    struct stat st;
    if (fstat(b->fd, &st))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: fstat: %s", b->name, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        *bytes = (uint64_t)st.st_size;
        return 0;
    }
    if (!S_ISBLK(st.st_mode))
        return pvh_fail(err, PVH_E_INPUT, "%s: not a regular file or a block device", b->name);
    b->block_device = true;
    int ro = 0;
    if (!b->read_only && ioctl(b->fd, BLKROGET, &ro) == 0 && ro)
        return pvh_fail(err, PVH_E_INPUT, "%s: the block device is read-only; use ,ro", b->name);
    if (ioctl(b->fd, BLKGETSIZE64, bytes))
        return pvh_fail(err, PVH_E_SYSTEM, "%s: BLKGETSIZE64: %s", b->name, strerror(errno));
    return 0;
}

static bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

/* O_DIRECT's alignment: the block device's logical block size; for a file,
 * the smallest of 512..4096 that a direct read at offset 0 accepts (QEMU's
 * probe), 4096 when the file is too short to tell. An EINVAL later still
 * falls back to the bounce buffer at 4096. */
static uint64_t direct_alignment(const struct pvh_blk *b, uint64_t size)
{
    int lbs = 0;
    if (b->block_device)
        return ioctl(b->fd, BLKSSZGET, &lbs) == 0 && power_of_two((uint64_t)lbs) && lbs <= (int)MAX_ALIGN
                   ? (uint64_t)lbs : MAX_ALIGN;
    if (size < MAX_ALIGN)
        return MAX_ALIGN;
    void *buf;
    if (posix_memalign(&buf, MAX_ALIGN, MAX_ALIGN))
        return MAX_ALIGN;
    uint64_t align = MAX_ALIGN;
    for (uint64_t a = 512; a < MAX_ALIGN; a *= 2)
        if (pread(b->fd, buf, a, 0) >= 0) {
            align = a;
            break;
        }
    free(buf);
    return align;
}

static int set_id(struct pvh_blk *b, const struct pvh_blk_config *cfg, struct pvh_error *err)
{
    const char *id = cfg->id;
    if (id && strlen(id) > PVH_BLK_ID_BYTES)
        return pvh_fail(err, PVH_E_INPUT, "%s: id \"%.40s\" is longer than %d bytes", cfg->path, id,
                        PVH_BLK_ID_BYTES);
    if (!id) {
        const char *slash = strrchr(cfg->path, '/');
        id = slash ? slash + 1 : cfg->path;
    }
    size_t n = strlen(id);
    memcpy(b->id, id, n < PVH_BLK_ID_BYTES ? n : PVH_BLK_ID_BYTES);
    return 0;
}

static void build_config(struct pvh_blk *b)
{
    uint8_t *c = b->config;
    pvh_put_le64(c + VIRTIO_BLK_CFG_CAPACITY, b->capacity);
    pvh_put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, PVH_BLK_SEG_MAX);
    pvh_put_le32(c + VIRTIO_BLK_CFG_BLK_SIZE, (uint32_t)PVH_BLK_SECTOR);
    pvh_put_le16(c + VIRTIO_BLK_CFG_NUM_QUEUES, 1);
    pvh_put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, PVH_BLK_MAX_DISCARD_SECTORS);
    pvh_put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, PVH_BLK_MAX_DISCARD_SEG);
    pvh_put_le32(c + VIRTIO_BLK_CFG_DISCARD_ALIGNMENT, PVH_BLK_DISCARD_ALIGNMENT);
    pvh_put_le32(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, PVH_BLK_MAX_WRITE_ZEROES_SECTORS);
    pvh_put_le32(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, PVH_BLK_MAX_WRITE_ZEROES_SEG);
    c[VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
}

static void blk_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    memcpy(data, ((struct pvh_blk *)d->impl)->config + off, len);
}

static void blk_notify(struct pvh_virtio_dev *d, unsigned queue);

static const struct pvh_virtio_device_ops blk_ops_template = {
    .name = "virtio-blk",
    .device_id = PVH_VIRTIO_ID_BLOCK,
    .nqueues = 1,
    .queue_max = PVH_BLK_QUEUE_SIZE,
    .features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
                (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES),
    .config_size = VIRTIO_BLK_CONFIG_SIZE,
    .config_read = blk_config_read,
    .queue_notify = blk_notify,
};

/* The capacity, O_DIRECT's alignment and the configuration space for a
 * file of `bytes`. A size that is not a multiple of 512 rounds up, as
 * QEMU's does: the tail of the last sector reads as zeros, a write there
 * extends the file. */
static void set_size(struct pvh_blk *b, uint64_t bytes)
{
    b->capacity = bytes / PVH_BLK_SECTOR + (bytes % PVH_BLK_SECTOR != 0);
    if (b->direct)
        b->align = direct_alignment(b, bytes);
    build_config(b);
}

static int setup(struct pvh_blk *b, const struct pvh_blk_config *cfg, struct pvh_error *err)
{
    uint64_t bytes;
    if (set_id(b, cfg, err) || (b->fd = open_image(cfg, err)) < 0 || image_size(b, &bytes, err) ||
        pvh_blk_lock(b->fd, b->name, !b->read_only, &b->locked, err))
        return -1;
    set_size(b, bytes);
    b->ops = blk_ops_template;
    if (b->read_only)
        b->ops.features |= 1ull << VIRTIO_BLK_F_RO;
    return 0;
}

int pvh_blk_open(struct pvh_blk **out, const struct pvh_blk_config *cfg, struct pvh_error *err)
{
    *out = NULL;
    struct pvh_blk *b = calloc(1, sizeof(*b));
    char *name = strdup(cfg->path);
    struct pvh_vchain *chain = pvh_vchain_new();
    struct iovec *iov = malloc(PVH_VCHAIN_MAX * sizeof(*iov));
    if (!b || !name || !chain || !iov) {
        free(b);
        free(name);
        free(chain);
        free(iov);
        return pvh_fail(err, PVH_E_SYSTEM, "%s: out of memory", cfg->path);
    }
    b->fd = -1;
    b->name = name;
    b->chain = chain;
    b->iov = iov;
    b->read_only = cfg->read_only;
    b->direct = cfg->cache == PVH_BLK_CACHE_NONE;
    pvh_blk_set_io(b, &libc_io);
    if (setup(b, cfg, err)) {
        pvh_blk_close(b);
        return -1;
    }
    *out = b;
    return 0;
}

/* Whether fds a and b are the same file (the same inode). */
static bool same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int pvh_blk_swap(struct pvh_blk *b, const char *path, struct pvh_error *err)
{
    struct pvh_blk_config cfg = {.path = path, .read_only = b->read_only,
                                 .cache = b->direct ? PVH_BLK_CACHE_NONE : PVH_BLK_CACHE_WRITEBACK};
    struct pvh_blk nb = {.fd = -1, .read_only = b->read_only, .direct = b->direct, .name = strdup(path)};
    uint64_t bytes;
    if (!nb.name)
        return pvh_fail(err, PVH_E_SYSTEM, "%s: out of memory", path);
    nb.fd = open_image(&cfg, err);
    bool same = nb.fd >= 0 && same_file(nb.fd, b->fd); /* the file grew or shrank: its size again */
    if (nb.fd < 0 || image_size(same ? b : &nb, &bytes, err) ||
        (!same && pvh_blk_lock(nb.fd, nb.name, !nb.read_only, &nb.locked, err))) {
        if (nb.fd >= 0)
            close(nb.fd);
        free(nb.name);
        return -1;
    }
    if (same) {
        close(nb.fd);
        free(nb.name);
    } else {
        close(b->fd); /* its locks go with it */
        free(b->name);
        b->fd = nb.fd;
        b->name = nb.name;
        b->locked = nb.locked;
        b->block_device = nb.block_device;
    }
    set_size(b, bytes);
    return 0;
}

const char *pvh_blk_name(const struct pvh_blk *b) { return b->name; }

void pvh_blk_close(struct pvh_blk *b)
{
    if (!b)
        return;
    if (b->fd >= 0)
        close(b->fd);
    free(b->bounce);
    free(b->name);
    free(b->chain);
    free(b->iov);
    free(b);
}

const struct pvh_virtio_device_ops *pvh_blk_device_ops(const struct pvh_blk *b) { return &b->ops; }
uint64_t pvh_blk_capacity(const struct pvh_blk *b) { return b->capacity; }
const struct pvh_blk_counts *pvh_blk_counts(const struct pvh_blk *b) { return &b->counts; }
bool pvh_blk_locked(const struct pvh_blk *b) { return b->locked; }

/* ---- iovecs over a chain ---- */

/* iov for bytes [off, off + len) of the chain's readable (writable false)
 * or writable bytes; returns the count. The chain holds at most
 * PVH_VCHAIN_MAX buffers, so does iov (IOV_MAX is 1024 on Linux). */
static int chain_iov(const struct pvh_vchain *c, bool writable, uint64_t off, uint64_t len, struct iovec *iov)
{
    int n = 0;
    for (uint16_t i = 0; i < c->n && len; i++) {
        const struct pvh_vbuf *b = &c->buf[i];
        if (b->writable != writable)
            continue;
        if (off >= b->len) {
            off -= b->len;
            continue;
        }
        uint64_t take = b->len - off < len ? b->len - off : len;
        iov[n++] = (struct iovec){b->host + off, take};
        len -= take;
        off = 0;
    }
    return n;
}

/* Drops the first `done` bytes of an iovec array. */
static void iov_advance(struct iovec **iov, int *n, uint64_t done)
{
    while (*n && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*n)--;
    }
    if (*n && done) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
}

static void iov_zero(const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++)
        memset(iov[i].iov_base, 0, iov[i].iov_len);
}

/* Copies between an iovec array, from byte `off` of it, and a flat buffer. */
static void iov_copy(const struct iovec *iov, int n, uint64_t off, uint8_t *buf, uint64_t len, bool to_iov)
{
    for (int i = 0; i < n && len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        uint64_t take = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
        uint8_t *p = (uint8_t *)iov[i].iov_base + off;
        memcpy(to_iov ? p : buf, to_iov ? buf : p, take);
        buf += take;
        len -= take;
        off = 0;
    }
}

/* ---- file transfers ---- */

/* All of [off, off + len) between the file and iov: short transfers are
 * continued; a read that meets the end of the file zero-fills the rest (the
 * tail of a last partial sector); a write that makes no progress is EIO.
 * 0 or -errno. iov is consumed. */
static int transfer(struct pvh_blk *b, bool write, struct iovec *iov, int n, uint64_t off, uint64_t len)
{
    while (len) {
        ssize_t r = write ? b->io.pwritev(b->fd, iov, n, (off_t)off) : b->io.preadv(b->fd, iov, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0) {
            if (write)
                return -EIO;
            iov_zero(iov, n);
            return 0;
        }
        uint64_t done = (uint64_t)r < len ? (uint64_t)r : len;
        iov_advance(&iov, &n, done);
        off += done;
        len -= done;
        if (len && !write && b->direct) { /* a short O_DIRECT read is the end of the file */
            iov_zero(iov, n);
            return 0;
        }
    }
    return 0;
}

static int flat_transfer(struct pvh_blk *b, bool write, uint8_t *buf, uint64_t off, uint64_t len)
{
    struct iovec one = {buf, len};
    return transfer(b, write, &one, 1, off, len);
}

static bool aligned_for_direct(const struct pvh_blk *b, const struct iovec *iov, int n, uint64_t off, uint64_t len)
{
    uint64_t a = b->align;
    if (off % a || len % a)
        return false;
    for (int i = 0; i < n; i++)
        if ((uintptr_t)iov[i].iov_base % a || iov[i].iov_len % a)
            return false;
    return true;
}

/* A write through the bounce buffer may extend the file to an alignment
 * boundary past the capacity: cut it back, as a buffered write would stop
 * there (the file stays within capacity * 512 bytes). */
static int trim_past_capacity(struct pvh_blk *b, uint64_t end)
{
    struct stat st;
    uint64_t cap = b->capacity * PVH_BLK_SECTOR;
    if (b->block_device || end <= cap || fstat(b->fd, &st) || (uint64_t)st.st_size <= cap)
        return 0;
    return ftruncate(b->fd, (off_t)cap) ? -errno : 0;
}

/* O_DIRECT with unaligned buffers or range: chunk by chunk through the
 * aligned bounce buffer; a write reads the partial blocks at its ends first
 * (read-modify-write; requests are served one at a time). */
static int bounce_transfer(struct pvh_blk *b, bool write, const struct iovec *iov, int n, uint64_t off, uint64_t len)
{
    if (!b->bounce && posix_memalign((void **)&b->bounce, MAX_ALIGN, BOUNCE_BYTES))
        return b->bounce = NULL, -ENOMEM;
    b->counts.bounced++;
    uint64_t a = b->align, end = off + len;
    for (uint64_t pos = off; pos < end;) {
        uint64_t start = pos / a * a;
        uint64_t stop = (end + a - 1) / a * a;
        if (stop - start > BOUNCE_BYTES)
            stop = start + BOUNCE_BYTES;
        uint64_t upto = stop < end ? stop : end; /* the request's bytes [pos, upto) are in this chunk */
        int r = 0;
        if (!write || pos != start || upto != stop)
            r = flat_transfer(b, false, b->bounce, start, stop - start);
        if (!r && write) {
            iov_copy(iov, n, pos - off, b->bounce + (pos - start), upto - pos, false);
            r = flat_transfer(b, true, b->bounce, start, stop - start);
            if (!r)
                r = trim_past_capacity(b, stop);
        } else if (!r)
            iov_copy(iov, n, pos - off, b->bounce + (pos - start), upto - pos, true);
        if (r)
            return r;
        pos = upto;
    }
    return 0;
}

/* Data between the guest's buffers and [off, off + len) of the image. */
static int file_io(struct pvh_blk *b, bool write, struct iovec *iov, int n, uint64_t off, uint64_t len)
{
    if (!b->direct)
        return transfer(b, write, iov, n, off, len);
    if (!aligned_for_direct(b, iov, n, off, len))
        return bounce_transfer(b, write, iov, n, off, len);
    struct iovec copy[PVH_VCHAIN_MAX];
    memcpy(copy, iov, sizeof(*iov) * (size_t)n);
    int r = transfer(b, write, copy, n, off, len);
    if (r == -EINVAL && b->align < MAX_ALIGN) { /* the probe was wrong: bounce at the safe alignment */
        b->align = MAX_ALIGN;
        r = bounce_transfer(b, write, iov, n, off, len);
    }
    return r;
}

static int write_zeros(struct pvh_blk *b, uint64_t off, uint64_t len)
{
    static uint8_t zeros[ZERO_CHUNK] __attribute__((aligned(4096)));
    while (len) {
        uint64_t take = len < ZERO_CHUNK ? len : ZERO_CHUNK;
        struct iovec one = {zeros, take};
        int r = file_io(b, true, &one, 1, off, take);
        if (r)
            return r;
        off += take;
        len -= take;
    }
    return 0;
}

/* ---- requests ---- */

struct request {
    const struct pvh_vchain *c;
    uint32_t type;
    uint64_t sector;
    uint64_t in_data;   /* readable bytes after the header */
    uint64_t out_data;  /* writable bytes before the status */
    uint64_t written;   /* bytes written to the guest's data buffers */
};

/* [sector, sector + count) inside the capacity, overflow-safe. */
static bool in_range(const struct pvh_blk *b, uint64_t sector, uint64_t count)
{
    return sector <= b->capacity && count <= b->capacity - sector;
}

static uint8_t do_rw(struct pvh_virtio_dev *d, struct pvh_blk *b, struct request *rq, bool write)
{
    uint64_t len = write ? rq->in_data : rq->out_data;
    if (write && b->read_only)
        return VIRTIO_BLK_S_IOERR;
    if (len % PVH_BLK_SECTOR || !in_range(b, rq->sector, len / PVH_BLK_SECTOR))
        return VIRTIO_BLK_S_IOERR;
    int n = chain_iov(rq->c, !write, write ? HEADER_BYTES : 0, len, b->iov);
    if (file_io(b, write, b->iov, n, rq->sector * PVH_BLK_SECTOR, len))
        return VIRTIO_BLK_S_IOERR;
    d->stats.bytes += len;
    if (write)
        b->counts.writes++;
    else {
        b->counts.reads++;
        rq->written = len;
    }
    return VIRTIO_BLK_S_OK;
}

static uint8_t do_flush(struct pvh_blk *b)
{
    b->counts.flushes++;
    return b->io.fdatasync(b->fd) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(struct pvh_blk *b, struct request *rq)
{
    b->counts.get_ids++;
    uint64_t n = rq->out_data < PVH_BLK_ID_BYTES ? rq->out_data : PVH_BLK_ID_BYTES;
    rq->written = pvh_vchain_write(rq->c, 0, b->id, n);
    return VIRTIO_BLK_S_OK;
}

struct segment {
    uint64_t sector;
    uint32_t sectors, flags;
};

/* Every segment is checked before any is carried out. */
static uint8_t check_segment(const struct pvh_blk *b, const struct segment *s, bool zeroes)
{
    if (s->flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
        return VIRTIO_BLK_S_UNSUPP;
    if (!zeroes && s->flags)
        return VIRTIO_BLK_S_UNSUPP; /* DISCARD with unmap set (5.2.6.2) */
    uint32_t max = zeroes ? PVH_BLK_MAX_WRITE_ZEROES_SECTORS : PVH_BLK_MAX_DISCARD_SECTORS;
    if (s->sectors > max || !in_range(b, s->sector, s->sectors))
        return VIRTIO_BLK_S_IOERR;
    return VIRTIO_BLK_S_OK;
}

static int discard_range(struct pvh_blk *b, uint64_t off, uint64_t len)
{
    if (b->block_device) {
        uint64_t range[2] = {off, len};
        return ioctl(b->fd, BLKDISCARD, range) ? -errno : 0;
    }
    return b->io.fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) ? -errno : 0;
}

static int zero_range(struct pvh_blk *b, uint64_t off, uint64_t len, bool unmap)
{
    int r;
    if (b->block_device) {
        uint64_t range[2] = {off, len};
        r = ioctl(b->fd, BLKZEROOUT, range) ? -errno : 0;
    } else if (unmap) {
        /* a hole reads as zeros; KEEP_SIZE: a hole past the end changes
         * nothing, and a read there zero-fills */
        r = discard_range(b, off, len);
    } else {
        r = b->io.fallocate(b->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) ? -errno : 0;
    }
    if (r == -EOPNOTSUPP || r == -ENOTTY || r == -EINVAL)
        r = write_zeros(b, off, len);
    return r;
}

static uint8_t do_segments(struct pvh_blk *b, struct request *rq, bool zeroes)
{
    uint32_t max_seg = zeroes ? PVH_BLK_MAX_WRITE_ZEROES_SEG : PVH_BLK_MAX_DISCARD_SEG;
    struct segment seg[PVH_BLK_MAX_DISCARD_SEG > PVH_BLK_MAX_WRITE_ZEROES_SEG ? PVH_BLK_MAX_DISCARD_SEG
                                                                               : PVH_BLK_MAX_WRITE_ZEROES_SEG];
    if (zeroes)
        b->counts.write_zeroes++;
    else
        b->counts.discards++;
    if (b->read_only || rq->in_data == 0 || rq->in_data % SEGMENT_BYTES || rq->in_data / SEGMENT_BYTES > max_seg)
        return VIRTIO_BLK_S_IOERR;
    uint32_t n = (uint32_t)(rq->in_data / SEGMENT_BYTES);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t raw[SEGMENT_BYTES];
        pvh_vchain_read(rq->c, HEADER_BYTES + (size_t)i * SEGMENT_BYTES, raw, sizeof(raw)); /* read once */
        seg[i] = (struct segment){pvh_le64(raw), pvh_le32(raw + 8), pvh_le32(raw + 12)};
        uint8_t status = check_segment(b, &seg[i], zeroes);
        if (status != VIRTIO_BLK_S_OK)
            return status;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = seg[i].sector * PVH_BLK_SECTOR, len = (uint64_t)seg[i].sectors * PVH_BLK_SECTOR;
        if (!len)
            continue; /* nothing to do (fallocate would say EINVAL) */
        int r = zeroes ? zero_range(b, off, len, seg[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
                       : discard_range(b, off, len);
        if (r && !(!zeroes && (r == -EOPNOTSUPP || r == -ENOTTY)))
            return VIRTIO_BLK_S_IOERR; /* a discard the host cannot do is only a hint not taken */
    }
    return VIRTIO_BLK_S_OK;
}

static uint8_t serve(struct pvh_virtio_dev *d, struct pvh_blk *b, struct request *rq)
{
    switch (rq->type) {
    case VIRTIO_BLK_T_IN: return do_rw(d, b, rq, false);
    case VIRTIO_BLK_T_OUT: return do_rw(d, b, rq, true);
    case VIRTIO_BLK_T_FLUSH: return do_flush(b);
    case VIRTIO_BLK_T_GET_ID: return do_get_id(b, rq);
    case VIRTIO_BLK_T_DISCARD: return do_segments(b, rq, false);
    case VIRTIO_BLK_T_WRITE_ZEROES: return do_segments(b, rq, true);
    default:
        b->counts.unsupported++;
        return VIRTIO_BLK_S_UNSUPP;
    }
}

/* One chain: -1 (err) when the driver broke the rules, else the status is
 * written and the chain returned. */
static int handle(struct pvh_virtio_dev *d, struct pvh_blk *b, struct pvh_error *err)
{
    const struct pvh_vchain *c = b->chain;
    if (c->writable == 0)
        return pvh_fail(err, PVH_E_GUEST, "virtio-blk: request %u has no writable status byte", c->head);
    if (c->readable < HEADER_BYTES)
        return pvh_fail(err, PVH_E_GUEST, "virtio-blk: request %u has a header of %llu bytes (16 needed)", c->head,
                        (unsigned long long)c->readable);
    uint8_t hdr[HEADER_BYTES];
    pvh_vchain_read(c, 0, hdr, sizeof(hdr)); /* copied once, then checked */
    struct request rq = {c, pvh_le32(hdr), pvh_le64(hdr + 8), c->readable - HEADER_BYTES, c->writable - 1, 0};
    uint8_t status = serve(d, b, &rq);
    const struct pvh_vbuf *last = &c->buf[c->n - 1]; /* writable, len >= 1: the status byte */
    __atomic_store_n(last->host + last->len - 1, status, __ATOMIC_RELAXED);
    d->stats.requests++;
    if (status != VIRTIO_BLK_S_OK)
        d->stats.errors++;
    /* the used length counts the status byte; a read of 4 GiB or more (RAM
     * allows it) saturates the 32-bit field */
    pvh_virtq_push(&d->q[0], c->head, rq.written < UINT32_MAX ? (uint32_t)rq.written + 1 : UINT32_MAX);
    return 0;
}

/* Serves the queue; at most a queue's worth of requests per call: a guest
 * that keeps adding requests then gets its interrupt and the queue is handed
 * back to the I/O thread (env->kick), which serves its other fds first;
 * without a kick hook (tests) the call serves on. */
static void blk_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    struct pvh_blk *b = d->impl;
    struct pvh_virtq *q = &d->q[queue];
    struct pvh_error err;
    unsigned budget = q->size;
    do {
        int got;
        while ((got = pvh_virtq_pop(q, b->chain, &err)) == 1) {
            if (handle(d, b, &err))
                got = -1;
            if (got < 0 || --budget == 0)
                break;
        }
        if (got < 0) {
            pvh_virtio_used(d, queue); /* what was served before */
            pvh_virtio_fail(d, &err);
            return;
        }
        if (budget == 0) {
            pvh_virtio_used(d, queue);
            if (d->env.kick) {
                d->env.kick(d->env.ctx, d, queue);
                return;
            }
            budget = q->size;
            continue; /* no I/O thread to yield to */
        }
    } while (pvh_virtq_arm_notify(q));
    pvh_virtio_used(d, queue);
}
