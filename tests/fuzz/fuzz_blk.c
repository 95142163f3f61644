/* libFuzzer harness for virtio-blk (vmm/virtio/blk.c) behind the virtio-mmio
 * transport: the input is a small header and then the whole content of a
 * 64 KiB fake guest RAM (descriptor table at 0, available ring at 0x1000,
 * used ring at 0x2000, the rest requests and buffers), so every descriptor,
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
 * read-only drive), byte 1 log2 of the queue size (mod 9), then RAM bytes.
 * Seeds: tests/fuzz/corpus/blk/, made by tests/fuzz/blk-seed.py. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../vmm/virtio/blk.h"
#include "../lib/virtio_driver.h"
#include "pvhboot/layout.h"

#define RAM_SIZE (64u << 10)
#define FILE_SIZE (64u << 10)
#define PAGE 4096u
#define DESC_GPA 0x0000u
#define AVAIL_GPA 0x1000u
#define USED_GPA 0x2000u

static void check(int ok)
{
    if (!ok)
        abort();
}

static uint8_t *ram;
static struct pvh_blk *drive[2];
static int file_fd[2];
static uint64_t ro_sum;

static bool in_ram(const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        if (p < ram || iov[i].iov_len > RAM_SIZE || p + iov[i].iov_len > ram + RAM_SIZE)
            return false;
    }
    return true;
}

static bool all_zeros(const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < iov[i].iov_len; k++)
            if (((const uint8_t *)iov[i].iov_base)[k])
                return false;
    return true;
}

static ssize_t checked_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    check(in_ram(iov, n)); /* the kernel writes there: guest RAM only */
    return preadv(fd, iov, n, off);
}

static ssize_t checked_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    check(in_ram(iov, n) || all_zeros(iov, n));
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    uint16_t qsize = (uint16_t)(1u << (data[1] % 9));
    struct pvh_blk *b = drive[(flags >> 2) & 1];

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
    queue_address(&v, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC_GPA);
    queue_address(&v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, AVAIL_GPA);
    queue_address(&v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, USED_GPA);
    vd_write32(&v, VIRTIO_MMIO_QUEUE_READY, 1);
    check(vd_read32(&v, VIRTIO_MMIO_QUEUE_READY) == 1);
    vd_write32(&v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                           VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);

    size_t n = size - 2 < RAM_SIZE ? size - 2 : RAM_SIZE;
    memset(ram, 0, RAM_SIZE);
    memcpy(ram, data + 2, n);
    vd_kick(&v, 0);
    vd_kick(&v, 0); /* again: nothing new, or the rest after an EVENT_IDX re-arm */

    struct stat st;
    for (int i = 0; i < 2; i++)
        check(fstat(file_fd[i], &st) == 0 && st.st_size == FILE_SIZE);
    check(file_sum(file_fd[1]) == ro_sum);
    check(d.stats.errors <= d.stats.requests + 1); /* at most one failure: then the device stops */
    pvh_virtio_destroy(&d);
    return 0;
}
