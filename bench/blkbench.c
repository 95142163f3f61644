/* The guest side of bench/blk.sh: a static program, run as the guest's
 * /init test inside pvhboot and inside QEMU alike, that measures a block
 * device with O_DIRECT: sequential read and write MB/s in 1 MiB blocks,
 * and 4 KiB random-read IOPS at queue depth 1 and 32 (32 threads, each
 * with one request in flight). One line per measurement:
 *   BLK-RESULT test=NAME bytes=N ops=N us=N
 * Usage: blkbench DEVICE SPAN_MIB SECONDS_PER_RANDOM_TEST */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1u << 20)
#define SMALL 4096u
#define DEPTH 32

static const char *dev;
static uint64_t span;    /* bytes of the device the tests use */
static double rand_seconds;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int open_direct(int flags)
{
    int fd = open(dev, flags | O_DIRECT);
    if (fd < 0) {
        printf("BLK-ERROR open %s: %s\n", dev, strerror(errno));
        exit(1);
    }
    return fd;
}

static void *aligned(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 4096, n) != 0) {
        printf("BLK-ERROR out of memory\n");
        exit(1);
    }
    memset(p, 0x5a, n);
    return p;
}

static void result(const char *test, uint64_t bytes, uint64_t ops, uint64_t us)
{
    printf("BLK-RESULT test=%s bytes=%llu ops=%llu us=%llu\n", test, (unsigned long long)bytes,
           (unsigned long long)ops, (unsigned long long)us);
    fflush(stdout);
}

static void sequential(const char *test, int write_it)
{
    int fd = open_direct(write_it ? O_WRONLY : O_RDONLY);
    uint8_t *buf = aligned(BLOCK);
    uint64_t t0 = now_us(), done = 0;
    for (uint64_t off = 0; off + BLOCK <= span; off += BLOCK) {
        ssize_t n = write_it ? pwrite(fd, buf, BLOCK, (off_t)off) : pread(fd, buf, BLOCK, (off_t)off);
        if (n != (ssize_t)BLOCK) {
            printf("BLK-ERROR %s at %llu: %s\n", test, (unsigned long long)off, n < 0 ? strerror(errno) : "short");
            exit(1);
        }
        done += BLOCK;
    }
    if (write_it && fdatasync(fd) != 0) {
        printf("BLK-ERROR fdatasync: %s\n", strerror(errno));
        exit(1);
    }
    result(test, done, done / BLOCK, now_us() - t0);
    free(buf);
    close(fd);
}

struct worker {
    pthread_t thread;
    uint64_t seed, ops, deadline;
};

static void *random_reads(void *arg)
{
    struct worker *w = arg;
    int fd = open_direct(O_RDONLY);
    uint8_t *buf = aligned(SMALL);
    uint64_t blocks = span / SMALL;
    while (now_us() < w->deadline) {
        w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
        off_t off = (off_t)((w->seed >> 17) % blocks * SMALL);
        if (pread(fd, buf, SMALL, off) != (ssize_t)SMALL) {
            printf("BLK-ERROR random read: %s\n", strerror(errno));
            exit(1);
        }
        w->ops++;
    }
    free(buf);
    close(fd);
    return NULL;
}

static void random_test(const char *test, unsigned depth)
{
    static struct worker w[DEPTH];
    uint64_t t0 = now_us(), deadline = t0 + (uint64_t)(rand_seconds * 1e6), ops = 0;
    for (unsigned i = 0; i < depth; i++) {
        w[i] = (struct worker){.seed = 0x9e3779b97f4a7c15ull * (i + 1), .deadline = deadline};
        pthread_create(&w[i].thread, NULL, random_reads, &w[i]);
    }
    for (unsigned i = 0; i < depth; i++) {
        pthread_join(w[i].thread, NULL);
        ops += w[i].ops;
    }
    result(test, ops * SMALL, ops, now_us() - t0);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: blkbench DEVICE SPAN_MIB SECONDS_PER_RANDOM_TEST\n");
        return 2;
    }
    dev = argv[1];
    span = strtoull(argv[2], NULL, 10) << 20;
    rand_seconds = strtod(argv[3], NULL);
    sequential("seq-write", 1);
    sequential("seq-read", 0);
    random_test("rand-read-qd1", 1);
    random_test("rand-read-qd32", DEPTH);
    return 0;
}
