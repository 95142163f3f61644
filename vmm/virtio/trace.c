/* The virtio traffic recorder (trace.h): the file opened once from
 * PVHBOOT_VIRTIO_TRACE, text records built under one process-wide lock
 * (devices record from vCPU threads and the I/O thread) and written with
 * write(2), a bounded read-only walk of the chains a notification makes
 * available. */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvhboot/bytes.h"
#include "virtio.h"

bool pvh_vtrace_on;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fd = -1;
static uint64_t written;   /* bytes in the file */
static char out[8192];     /* records not yet written */
static size_t used;

static void open_file(void)
{
    const char *path = getenv(PVH_VTRACE_ENV);
    if (!path || !*path)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    pvh_vtrace_on = fd >= 0;
}

static void flush_out(void)
{
    size_t done = 0;
    while (done < used && fd >= 0) {
        ssize_t n = write(fd, out + done, used - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk ends nothing but the recording's completeness */
        done += (size_t)n;
    }
    written += used;
    used = 0;
}

/* One record, or nothing once the file reached its bound. Lock held. */
__attribute__((format(printf, 1, 2))) static void record(const char *fmt, ...)
{
    if (written >= PVH_VTRACE_MAX_BYTES)
        return;
    if (used > sizeof(out) - 512)
        flush_out();
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + used, sizeof(out) - used, fmt, ap);
    va_end(ap);
    if (n > 0)
        used += (size_t)n < sizeof(out) - used ? (size_t)n : sizeof(out) - used - 1;
    if (written + used >= PVH_VTRACE_MAX_BYTES) {
        flush_out();
        written = PVH_VTRACE_MAX_BYTES;
        if (write(fd, "# truncated\n", 12) < 0) {
            /* nothing more to do */
        }
    }
}

void pvh_vtrace_device(const struct pvh_virtio_dev *d)
{
    pthread_once(&once, open_file);
    if (!pvh_vtrace_on)
        return;
    pthread_mutex_lock(&lock);
    if (written == 0 && used == 0)
        record("# pvhboot virtio trace 1\n");
    record("dev %#llx %u %s %u %u %#llx\n", (unsigned long long)d->base, d->ops->device_id, d->ops->name,
           d->ops->nqueues, d->ops->queue_max, (unsigned long long)pvh_virtio_offered(d));
    flush_out();
    pthread_mutex_unlock(&lock);
}

void pvh_vtrace_register(const struct pvh_virtio_dev *d, bool write, uint64_t off, unsigned size, uint64_t value)
{
    pthread_mutex_lock(&lock);
    record("%c %#llx %#llx %u %#llx\n", write ? 'w' : 'r', (unsigned long long)d->base, (unsigned long long)off,
           size, (unsigned long long)value);
    flush_out();
    pthread_mutex_unlock(&lock);
}

/* The first bytes of a driver-readable buffer, as hex. */
static void record_bytes(const struct pvh_guestmem *mem, uint64_t gpa, uint32_t len, unsigned *budget)
{
    uint32_t n = len < PVH_VTRACE_BUF_BYTES ? len : PVH_VTRACE_BUF_BYTES;
    n = n < *budget ? n : *budget;
    const uint8_t *p = n ? pvh_gpa_ptr(mem, gpa, n) : NULL;
    if (!p)
        return;
    char hex[2 * PVH_VTRACE_BUF_BYTES + 1];
    for (uint32_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", p[i]);
    record("b %#llx %s\n", (unsigned long long)gpa, hex);
    *budget -= n;
}

/* One chain from `head`, as the walker would take it, bounded; never
 * beyond what pvh_gpa_ptr gives. */
static void record_chain(const struct pvh_virtq *q, uint16_t head)
{
    const uint8_t *table = q->desc;
    uint32_t table_size = q->size, i = head, visited = 0;
    char kind = 'r';
    unsigned budget = PVH_VTRACE_CHAIN_BYTES;
    record("c %u\n", head);
    for (unsigned count = 0;; count++) {
        const char *stop = i >= table_size ? "next" : count == PVH_VTRACE_CHAIN_DESCS ? "limit"
                           : ++visited > table_size ? "loop" : NULL;
        if (stop) {
            record("e %s\n", stop);
            return;
        }
        const uint8_t *raw = table + 16ull * i;
        uint64_t addr = pvh_le64(raw);
        uint32_t len = pvh_le32(raw + 8);
        uint16_t flags = pvh_le16(raw + 12), next = pvh_le16(raw + 14);
        record("d %c %u %#llx %#x %#x %u\n", kind, i, (unsigned long long)addr, len, flags, next);
        if (flags & VIRTQ_DESC_F_INDIRECT) {
            table = kind == 'r' && len && len % 16 == 0 ? pvh_gpa_ptr(q->mem, addr, len) : NULL;
            if (!table) {
                record("e indirect\n");
                return;
            }
            table_size = len / 16, i = 0, visited = 0, kind = 'i';
            continue;
        }
        if (!(flags & VIRTQ_DESC_F_WRITE))
            record_bytes(q->mem, addr, len, &budget);
        if (!(flags & VIRTQ_DESC_F_NEXT))
            return;
        i = next;
    }
}

void pvh_vtrace_notify(const struct pvh_virtio_dev *d, unsigned queue)
{
    const struct pvh_virtq *q = &d->q[queue];
    if (!q->ready || !q->avail)
        return;
    pthread_mutex_lock(&lock);
    uint16_t avail_idx = pvh_le16(q->avail + 2);
    record("q %#llx %u %u %#llx %#llx %#llx %#llx %#x %u %u %#x %u %u\n", (unsigned long long)d->base, queue,
           q->size, (unsigned long long)d->driver_features, (unsigned long long)q->desc_gpa,
           (unsigned long long)q->avail_gpa, (unsigned long long)q->used_gpa, pvh_le16(q->avail), avail_idx,
           pvh_le16(q->avail + 4 + 2 * (size_t)q->size), pvh_le16(q->used), q->last_avail, q->used_idx);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending > q->size)
        record("e ahead\n");
    else
        for (uint16_t k = 0; k < pending; k++)
            record_chain(q, pvh_le16(q->avail + 4 + 2 * (size_t)((uint16_t)(q->last_avail + k) % q->size)));
    flush_out();
    pthread_mutex_unlock(&lock);
}
