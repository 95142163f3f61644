/* libFuzzer harness for the split virtqueue walker on its own
 * (vmm/virtio/queue.c): random descriptor tables, available and used rings
 * and indirect tables in a fake guest RAM of two slots, fed to
 * pvh_virtq_start, pop, push, should_interrupt, arm_notify and the chain
 * copies, with a reference model beside it.
 *
 * RAM: slot 0 is [0, 64 KiB), slot 1 [96 KiB, 128 KiB), each between
 * PROT_NONE guard pages (the gap between them, and everything past them, is
 * no RAM: a walker that reads there faults, as does one that leaves a slot
 * through its end). ASan watches the harness's own memory.
 *
 * Checked (abort() on a violation):
 *   - start accepts exactly the queues the spec allows (a power-of-two size
 *     up to the maximum; each ring aligned and wholly inside one slot), and
 *     its host views are the rings' own bytes;
 *   - pop returns 0 exactly when nothing is available; it fails exactly
 *     when the reference walker (the rules in queue.h, written here again
 *     from the spec) says the chain breaks them, and otherwise returns the
 *     same buffers: each inside one slot, with the right host address,
 *     driver-readable ones first, at most PVH_VCHAIN_MAX, byte counts
 *     right; it takes one entry or none; it writes no byte of RAM (RAM is
 *     read-only meanwhile), and one call takes under 250 ms of CPU
 *     (bounded work, whatever the tables: a timer aborts it otherwise);
 *   - push writes only the used entry and the used index; arm_notify only
 *     avail_event (EVENT_IDX) or the used flags; should_interrupt writes
 *     nothing, and both answer what the spec's formulas say;
 *   - pvh_vchain_read gives the readable bytes in order from any offset,
 *     pvh_vchain_write changes exactly the writable bytes it should.
 *
 * Input: a queue header (start), then operations (op byte % NOPS, then
 * its arguments; see one_operation). tests/fuzz/trace-seeds.py writes this
 * format from recorded Linux traffic (tests/fuzz/corpus/virtq/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../vmm/virtio/queue.h"
#include "fuzz_common.h"
#include "../../vmm/virtio/virtio_defs.h"
#include "pvhboot/bytes.h"

#define SLOT0_GPA 0x0u
#define SLOT0_SIZE (64u << 10)
#define SLOT1_GPA 0x18000u
#define SLOT1_SIZE (32u << 10)
#define SPAN (SLOT1_GPA + SLOT1_SIZE) /* the guest-physical space the operations name */
#define MAX_OPS 2048
#define POP_CPU_US 250000 /* one pop's bound (a real one: microseconds) */
#define OUTSTANDING 1024

/* --- fake RAM, and the harness's own view of it (not pvh_gpa_ptr) */

static const struct {
    uint64_t gpa, size;
} slots[2] = {{SLOT0_GPA, SLOT0_SIZE}, {SLOT1_GPA, SLOT1_SIZE}};
static uint8_t *slot_host[2];
static uint8_t shadow[2][SLOT0_SIZE]; /* a copy of RAM, or what it should become */
static struct pvh_guestmem mem;

static uint8_t *map_slot(uint64_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *p = mmap(NULL, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(p != MAP_FAILED);
    check(mprotect(p + page, size, PROT_READ | PROT_WRITE) == 0);
    return p + page;
}

/* A pop that ran POP_CPU_US of CPU time does unbounded work: abort there,
 * inside the call, rather than hang (SIGVTALRM: libFuzzer's -timeout uses
 * SIGALRM). */
static void on_slow_pop(int sig)
{
    (void)sig;
    abort();
}

static void pop_deadline(bool arm)
{
    struct itimerval t = {{0, 0}, {0, arm ? POP_CPU_US : 0}};
    check(setitimer(ITIMER_VIRTUAL, &t, NULL) == 0);
}

static void setup_once(void)
{
    if (slot_host[0])
        return;
    for (int i = 0; i < 2; i++) {
        slot_host[i] = map_slot(slots[i].size);
        mem.slot[i] = (struct pvh_mem_slot){slots[i].gpa, slots[i].size, slot_host[i]};
    }
    struct sigaction sa = {.sa_handler = on_slow_pop};
    check(sigaction(SIGVTALRM, &sa, NULL) == 0);
}

/* [gpa, gpa + len) inside one slot: its bytes in `base` (RAM or shadow). */
static uint8_t *view(uint8_t *const base[2], uint64_t gpa, uint64_t len)
{
    for (int i = 0; i < 2; i++) {
        uint64_t end = slots[i].gpa + slots[i].size;
        if (len && gpa >= slots[i].gpa && gpa <= end && len <= end - gpa)
            return base[i] + (gpa - slots[i].gpa);
    }
    return NULL;
}

static uint8_t *ram(uint64_t gpa, uint64_t len)
{
    return view(slot_host, gpa, len);
}

static uint8_t *shadow_ptr(uint64_t gpa, uint64_t len)
{
    uint8_t *const base[2] = {shadow[0], shadow[1]};
    return view(base, gpa, len);
}

static void snapshot(void)
{
    for (int i = 0; i < 2; i++)
        memcpy(shadow[i], slot_host[i], slots[i].size);
}

/* RAM read-only (a write faults) or back to read-write: cheaper than a
 * snapshot for the calls that must write nothing. */
static void protect_ram(bool read_only)
{
    for (int i = 0; i < 2; i++)
        check(mprotect(slot_host[i], slots[i].size, read_only ? PROT_READ : PROT_READ | PROT_WRITE) == 0);
}

/* Calls that write a few known bytes: RAM read-only except the pages of
 * those bytes (a write elsewhere faults), whose contents are copied into
 * the shadow for the caller to change as the call should, and compared
 * afterwards. */
#define PAGE 4096u
static uint64_t open_pages[(SLOT0_SIZE + SLOT1_SIZE) / PAGE];
static unsigned nopen;

static void begin_writes(void)
{
    protect_ram(true);
    nopen = 0;
}

static bool page_open(uint64_t page)
{
    for (unsigned i = 0; i < nopen; i++)
        if (open_pages[i] == page)
            return true;
    return false;
}

static void allow_writes(uint64_t gpa, uint64_t len)
{
    for (uint64_t p = gpa & ~(uint64_t)(PAGE - 1); p < gpa + len; p += PAGE) {
        if (page_open(p))
            continue;
        check(nopen < sizeof(open_pages) / sizeof(open_pages[0]));
        uint8_t *h = ram(p, PAGE); /* the slots are whole pages */
        check(h && mprotect(h, PAGE, PROT_READ | PROT_WRITE) == 0);
        memcpy(shadow_ptr(p, PAGE), h, PAGE);
        open_pages[nopen++] = p;
    }
}

/* What the byte at gpa should be after the call. */
static uint8_t expected_byte(uint64_t gpa)
{
    return page_open(gpa & ~(uint64_t)(PAGE - 1)) ? *shadow_ptr(gpa, 1) : *ram(gpa, 1);
}

static void end_writes(void)
{
    for (unsigned i = 0; i < nopen; i++)
        check(memcmp(ram(open_pages[i], PAGE), shadow_ptr(open_pages[i], PAGE), PAGE) == 0);
    protect_ram(false);
}

static void check_ram_is_shadow(void)
{
    for (int i = 0; i < 2; i++)
        check(memcmp(shadow[i], slot_host[i], slots[i].size) == 0);
}

/* --- the queue and the model's state */

struct state {
    struct pvh_virtq q;
    bool started;
    uint64_t features;
    bool signalled_valid; /* the model's EVENT_IDX memory */
    uint16_t signalled_used;
    uint16_t out_head[OUTSTANDING]; /* popped, not pushed: heads and writable bytes */
    uint64_t out_writable[OUTSTANDING];
    unsigned out_first, out_n;
    bool have_chain; /* `chain` holds the last successful pop */
    uint16_t next_desc;
    uint64_t next_buf;
};

static struct pvh_vchain *chain;
static struct {
    unsigned starts, started, chains, errors, pushes;
} counts; /* for FUZZ_SUMMARY */

struct mbuf {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};
static struct mbuf model[PVH_VCHAIN_MAX];
static unsigned model_n;
static uint64_t model_readable, model_writable;

static bool power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

static bool model_start(const struct pvh_virtq *q, uint16_t max_size)
{
    uint32_t n = q->size;
    return power_of_two(n) && n <= max_size && q->desc_gpa % 16 == 0 && ram(q->desc_gpa, 16ull * n) &&
           q->avail_gpa % 2 == 0 && ram(q->avail_gpa, 6 + 2ull * n) && q->used_gpa % 4 == 0 &&
           ram(q->used_gpa, 6 + 8ull * n);
}

/* Header: size (byte % 16: 0-10 a power of two, else 0, 3, 2048, 1000,
 * 65535), flags (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 a maximum of
 * half the size, bit 3 raw 64-bit addresses follow), then the rings: le16
 * x 16 (descriptor table), le16 x 2 (available), le16 x 4 (used). */
static void start(struct state *s, struct input *in)
{
    static const uint16_t odd_sizes[5] = {0, 3, 2048, 1000, 65535};
    uint8_t sz = (uint8_t)take(in, 1), fl = (uint8_t)take(in, 1);
    memset(s, 0, sizeof(*s));
    s->q.size = sz % 16 < 11 ? (uint16_t)(1u << (sz % 16)) : odd_sizes[sz % 16 - 11];
    if (fl & 8) {
        s->q.desc_gpa = take(in, 8);
        s->q.avail_gpa = take(in, 8);
        s->q.used_gpa = take(in, 8);
    } else {
        s->q.desc_gpa = take(in, 2) * 16;
        s->q.avail_gpa = take(in, 2) * 2;
        s->q.used_gpa = take(in, 2) * 4;
    }
    s->features = VIRTIO_F_VERSION_1_BIT | (fl & 1 ? VIRTIO_RING_F_EVENT_IDX_BIT : 0) |
                  (fl & 2 ? VIRTIO_RING_F_INDIRECT_DESC_BIT : 0);
    uint16_t max_size = fl & 4 ? s->q.size / 2 : PVH_VIRTQ_MAX_SIZE;
    bool want = model_start(&s->q, max_size);
    struct pvh_error err;
    snapshot();
    int r = pvh_virtq_start(&s->q, &mem, s->features, max_size, &err);
    check_ram_is_shadow();
    check((r == 0) == want);
    s->started = r == 0;
    counts.starts++;
    counts.started += s->started;
    if (r == 0) {
        check(s->q.desc == ram(s->q.desc_gpa, 16ull * s->q.size));
        check(s->q.avail == ram(s->q.avail_gpa, 6 + 2ull * s->q.size));
        check(s->q.used == ram(s->q.used_gpa, 6 + 8ull * s->q.size));
        check(s->q.last_avail == 0 && s->q.used_idx == 0);
    } else {
        check(err.msg[0] != '\0');
    }
    s->next_buf = SLOT0_SIZE / 2;
}

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static struct desc desc_at(uint64_t gpa)
{
    const uint8_t *p = ram(gpa, 16);
    check(p != NULL);
    return (struct desc){pvh_le64(p), pvh_le32(p + 8), pvh_le16(p + 12), pvh_le16(p + 14)};
}

/* The reference walk of the chain at `head`: virtio 1.2 2.7.5 and 2.7.5.3
 * (indirect), with queue.h's bounds: a table's entries visited at most
 * once each (else a loop), one level of indirection without NEXT, tables
 * of 1 to PVH_VCHAIN_MAX entries, zero-length buffers skipped, at most
 * PVH_VCHAIN_MAX buffers, each inside one slot, no readable after a
 * writable byte. */
static bool model_walk(const struct state *s, uint16_t head)
{
    uint64_t table = s->q.desc_gpa;
    uint32_t size = s->q.size, visited = 0, i = head;
    bool indirect = false;
    model_n = 0;
    model_readable = model_writable = 0;
    for (;;) {
        if (i >= size || ++visited > size)
            return false;
        struct desc d = desc_at(table + 16ull * i);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!(s->features & VIRTIO_RING_F_INDIRECT_DESC_BIT) || indirect || (d.flags & VIRTQ_DESC_F_NEXT) ||
                d.len == 0 || d.len % 16 || d.len / 16 > PVH_VCHAIN_MAX || !ram(d.addr, d.len))
                return false;
            table = d.addr, size = d.len / 16, visited = 0, indirect = true, i = 0;
            continue;
        }
        bool w = d.flags & VIRTQ_DESC_F_WRITE;
        if (!w && model_writable)
            return false;
        if (d.len) {
            if (model_n == PVH_VCHAIN_MAX || !ram(d.addr, d.len))
                return false;
            model[model_n++] = (struct mbuf){d.addr, d.len, w};
            *(w ? &model_writable : &model_readable) += d.len;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return true;
        i = d.next;
    }
}

static void check_chain(const struct state *s)
{
    check(chain->n == model_n && chain->n <= PVH_VCHAIN_MAX);
    check(chain->readable == model_readable && chain->writable == model_writable);
    bool seen_writable = false;
    for (unsigned k = 0; k < chain->n; k++) {
        const struct pvh_vbuf *b = &chain->buf[k];
        check(b->gpa == model[k].gpa && b->len == model[k].len && b->writable == model[k].writable);
        check(b->len > 0 && b->host == ram(b->gpa, b->len));
        check(b->writable || !seen_writable);
        seen_writable |= b->writable;
    }
    check(chain->head < s->q.size);
}

static void op_pop(struct state *s)
{
    if (!s->started)
        return;
    const struct pvh_virtq *q = &s->q;
    uint16_t last = q->last_avail, pending = (uint16_t)(pvh_le16(q->avail + 2) - last), head = 0;
    bool ok = false;
    if (pending && pending <= q->size) {
        head = pvh_le16(q->avail + 4 + 2 * (size_t)(last % q->size));
        ok = model_walk(s, head);
    }
    struct pvh_error err = {0};
    protect_ram(true); /* pop writes no byte of RAM */
    pop_deadline(true);
    int got = pvh_virtq_pop(&s->q, chain, &err);
    pop_deadline(false);
    protect_ram(false);
    if (pending == 0) {
        check(got == 0 && q->last_avail == last); /* the chain from before stays */
        return;
    }
    s->have_chain = false;
    if (!ok) {
        check(got == -1 && err.msg[0] && q->last_avail == last);
        counts.errors++;
        return;
    }
    counts.chains++;
    check(got == 1 && q->last_avail == (uint16_t)(last + 1) && chain->head == head);
    check_chain(s);
    s->have_chain = true;
    if (s->out_n < OUTSTANDING) {
        unsigned at = (s->out_first + s->out_n++) % OUTSTANDING;
        s->out_head[at] = head;
        s->out_writable[at] = chain->writable;
    }
}

static void op_pop_all(struct state *s)
{
    for (uint32_t k = 0; s->started && k <= s->q.size; k++) {
        uint16_t before = s->q.last_avail;
        op_pop(s);
        if (s->q.last_avail == before)
            return;
    }
}

static void push(struct state *s, uint16_t head, uint32_t written)
{
    struct pvh_virtq *q = &s->q;
    uint64_t entry = q->used_gpa + 4 + 8ull * (q->used_idx % q->size);
    begin_writes();
    allow_writes(entry, 8);
    allow_writes(q->used_gpa + 2, 2);
    pvh_put_le32(shadow_ptr(entry, 4), head);
    pvh_put_le32(shadow_ptr(entry + 4, 4), written);
    pvh_put_le16(shadow_ptr(q->used_gpa + 2, 2), (uint16_t)(q->used_idx + 1));
    uint16_t before = q->used_idx;
    pvh_virtq_push(q, head, written);
    counts.pushes++;
    check(q->used_idx == (uint16_t)(before + 1));
    end_writes();
}

/* The oldest popped chain back, with up to its writable bytes (as a device
 * does), or (raw) any head and length. */
static void op_push(struct state *s, struct input *in, bool raw)
{
    uint16_t head = (uint16_t)take(in, 2);
    uint32_t written = (uint32_t)take(in, 4);
    if (!s->started)
        return;
    if (!raw) {
        if (!s->out_n)
            return;
        head = s->out_head[s->out_first];
        uint64_t w = s->out_writable[s->out_first];
        written = w ? (uint32_t)(written % (w + 1)) : 0;
        s->out_first = (s->out_first + 1) % OUTSTANDING;
        s->out_n--;
    }
    push(s, head, written);
}

static void op_interrupt(struct state *s)
{
    if (!s->started)
        return;
    const struct pvh_virtq *q = &s->q;
    bool want;
    if (!(s->features & VIRTIO_RING_F_EVENT_IDX_BIT)) {
        want = !(pvh_le16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    } else { /* vring_need_event (2.7.10), always the first time */
        uint16_t event = pvh_le16(q->avail + 4 + 2 * (size_t)q->size), now = q->used_idx;
        want = !s->signalled_valid || (uint16_t)(now - event - 1) < (uint16_t)(now - s->signalled_used);
        s->signalled_used = now;
        s->signalled_valid = true;
    }
    protect_ram(true);
    check(pvh_virtq_should_interrupt(&s->q) == want);
    protect_ram(false);
}

static void op_arm(struct state *s)
{
    if (!s->started)
        return;
    const struct pvh_virtq *q = &s->q;
    uint64_t target = s->features & VIRTIO_RING_F_EVENT_IDX_BIT ? q->used_gpa + 4 + 8ull * q->size : q->used_gpa;
    begin_writes();
    allow_writes(target, 2);
    pvh_put_le16(shadow_ptr(target, 2), s->features & VIRTIO_RING_F_EVENT_IDX_BIT ? q->last_avail : 0);
    /* the available index as it reads after that write (they may overlap) */
    uint16_t avail_idx = (uint16_t)(expected_byte(q->avail_gpa + 2) | expected_byte(q->avail_gpa + 3) << 8);
    check(pvh_virtq_arm_notify(&s->q) == (avail_idx != q->last_avail));
    end_writes();
}

/* The part of buffer k (at byte pos of its kind's concatenation) that
 * [off, off + len) covers: [*from, *to) inside the buffer. */
static bool overlap(unsigned k, uint64_t pos, uint64_t off, uint64_t len, uint64_t *from, uint64_t *to)
{
    uint64_t lo = off > pos ? off - pos : 0, hi = off + len - pos;
    *from = lo;
    *to = hi < model[k].len ? hi : model[k].len;
    return off + len > pos && *from < *to;
}

/* The last popped chain's bytes, read or written from an offset. */
static void op_chain_io(struct state *s, struct input *in)
{
    static uint8_t buf[1 << 16];
    bool write = take(in, 1) & 1;
    uint32_t off = (uint32_t)take(in, 2) * (take(in, 1) & 1 ? 16 : 1), len = (uint32_t)take(in, 2);
    if (!s->have_chain)
        return;
    uint64_t total = write ? model_writable : model_readable, from, to, pos = 0;
    size_t want = off >= total ? 0 : (size_t)(total - off < len ? total - off : len);
    if (!write) {
        check(pvh_vchain_read(chain, off, buf, len) == want);
        for (unsigned k = 0; k < model_n && !model[k].writable; pos += model[k].len, k++)
            if (overlap(k, pos, off, want, &from, &to))
                check(memcmp(buf + (pos + from - off), ram(model[k].gpa + from, to - from), to - from) == 0);
        return;
    }
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    begin_writes();
    for (unsigned k = 0; k < model_n; k++) { /* what the writes should do, in order */
        if (!model[k].writable)
            continue;
        if (overlap(k, pos, off, want, &from, &to)) {
            allow_writes(model[k].gpa + from, to - from);
            memcpy(shadow_ptr(model[k].gpa + from, to - from), buf + (pos + from - off), to - from);
        }
        pos += model[k].len;
    }
    check(pvh_vchain_write(chain, off, buf, len) == want);
    end_writes();
}

/* --- the guest's writes */

static uint64_t pick_addr(struct input *in)
{
    uint8_t how = (uint8_t)take(in, 1);
    if (how < 0xa0)
        return SLOT0_GPA + take(in, 2) % SLOT0_SIZE;
    if (how < 0xd0)
        return SLOT1_GPA + take(in, 2) % SLOT1_SIZE;
    if (how < 0xf0)
        return take(in, 3) % (SPAN + 0x1000); /* the gap and past the end too */
    return take(in, 8);
}

static uint32_t pick_len(struct input *in)
{
    uint8_t how = (uint8_t)take(in, 1);
    return how < 0x80 ? (uint32_t)take(in, 1) : how < 0xe0 ? (uint32_t)take(in, 2) : (uint32_t)take(in, 4);
}

static void put_desc(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = ram(gpa, 16);
    if (!p)
        return;
    pvh_put_le64(p, addr);
    pvh_put_le32(p + 8, len);
    pvh_put_le16(p + 12, flags);
    pvh_put_le16(p + 14, next);
}

/* A descriptor in the queue's table (index % size) or, anywhere, at a
 * 16-byte boundary of RAM (indirect tables). */
static void op_desc(struct state *s, struct input *in, bool anywhere)
{
    uint64_t at = anywhere ? (take(in, 3) % SPAN) & ~15ull : take(in, 2);
    uint64_t addr = pick_addr(in);
    uint32_t len = pick_len(in);
    uint8_t f = (uint8_t)take(in, 1); /* bit 7: any 16-bit flags, else the known ones */
    uint16_t flags = f & 0x80 ? (uint16_t)(f | take(in, 1) << 8) : f & 7, next = (uint16_t)take(in, 2);
    if (!anywhere) {
        if (!s->started)
            return;
        at = s->q.desc_gpa + 16 * (at % s->q.size);
    }
    put_desc(at, addr, len, flags, next);
}

static void publish(struct state *s, uint16_t head)
{
    uint16_t idx = pvh_le16(s->q.avail + 2);
    pvh_put_le16(s->q.avail + 4 + 2 * (size_t)(idx % s->q.size), head);
    pvh_put_le16(s->q.avail + 2, (uint16_t)(idx + 1));
}

static void op_publish(struct state *s, struct input *in)
{
    uint16_t head = (uint16_t)take(in, 2);
    if (s->started)
        publish(s, take(in, 1) & 1 ? head : (uint16_t)(head % s->q.size));
}

/* flags, idx, used_event of the available ring; flags of the used ring. */
static void op_ring_field(struct state *s, struct input *in)
{
    uint8_t which = (uint8_t)take(in, 1);
    uint16_t v = (uint16_t)take(in, 2);
    if (!s->started)
        return;
    uint8_t *at[4] = {s->q.avail, s->q.avail + 2, s->q.avail + 4 + 2 * (size_t)s->q.size, s->q.used};
    pvh_put_le16(at[which % 4], v);
}

static void op_ram(struct input *in)
{
    uint64_t at = take(in, 3) % SPAN;
    unsigned n = (unsigned)take(in, 1) % 64;
    for (unsigned i = 0; i < n; i++) {
        uint8_t v = (uint8_t)take(in, 1);
        uint8_t *p = ram(at + i, 1);
        if (p)
            *p = v;
    }
}

static uint64_t buffer(struct state *s, uint32_t len)
{
    if (s->next_buf + len > SLOT0_SIZE)
        s->next_buf = SLOT0_SIZE / 2;
    uint64_t gpa = s->next_buf;
    s->next_buf += (len + 15) & ~15u;
    return gpa;
}

/* A well-formed chain: n buffers (readable first, then writable) in the
 * table from the next free entry, or (shape bit 0) in an indirect table of
 * up to PVH_VCHAIN_MAX + 2 entries in slot 1 (bits 2-3: that many unused
 * entries after them), after (bit 1) a direct buffer; published. */
static void op_chain(struct state *s, struct input *in)
{
    uint8_t shape = (uint8_t)take(in, 1);
    bool indirect = shape & 1, direct_first = indirect && (shape & 2);
    unsigned n = 1 + (unsigned)(indirect ? take(in, 2) % (PVH_VCHAIN_MAX + 2) : take(in, 1) % 8);
    unsigned readable = (unsigned)(take(in, 2) % (n + 1));
    uint32_t len = 1 + (uint32_t)take(in, 2) % 4096;
    if (!s->started)
        return;
    uint64_t addr = buffer(s, len);
    uint16_t head = (uint16_t)(s->next_desc % s->q.size), at = head;
    if (direct_first) {
        at = (uint16_t)((head + 1) % s->q.size);
        put_desc(s->q.desc_gpa + 16ull * head, addr, len, VIRTQ_DESC_F_NEXT | (readable ? 0 : VIRTQ_DESC_F_WRITE), at);
    }
    for (unsigned k = 0; k < n; k++) {
        uint16_t flags = (uint16_t)((k >= readable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        if (indirect)
            put_desc(SLOT1_GPA + 16ull * k, addr, len, flags, (uint16_t)(k + 1));
        else
            put_desc(s->q.desc_gpa + 16ull * ((head + k) % s->q.size), addr, len, flags,
                     (uint16_t)((head + k + 1) % s->q.size));
    }
    if (indirect)
        put_desc(s->q.desc_gpa + 16ull * at, SLOT1_GPA, 16 * (n + (shape >> 2 & 3)), VIRTQ_DESC_F_INDIRECT, 0);
    s->next_desc = (uint16_t)(indirect ? at + 1u : head + n);
    publish(s, head);
}

enum op {
    OP_RAM, OP_DESC, OP_DESC_ANYWHERE, OP_PUBLISH, OP_RING_FIELD, OP_POP, OP_POP_ALL, OP_PUSH, OP_PUSH_RAW,
    OP_INTERRUPT, OP_ARM, OP_CHAIN_IO, OP_CHAIN, OP_RESTART, NOPS
};

static void one_operation(struct state *s, struct input *in)
{
    switch (take(in, 1) % NOPS) {
    case OP_RAM: op_ram(in); break;
    case OP_DESC: op_desc(s, in, false); break;
    case OP_DESC_ANYWHERE: op_desc(s, in, true); break;
    case OP_PUBLISH: op_publish(s, in); break;
    case OP_RING_FIELD: op_ring_field(s, in); break;
    case OP_POP: op_pop(s); break;
    case OP_POP_ALL: op_pop_all(s); break;
    case OP_PUSH: op_push(s, in, false); break;
    case OP_PUSH_RAW: op_push(s, in, true); break;
    case OP_INTERRUPT: op_interrupt(s); break;
    case OP_ARM: op_arm(s); break;
    case OP_CHAIN_IO: op_chain_io(s, in); break;
    case OP_CHAIN: op_chain(s, in); break;
    default: start(s, in); break;
    }
}

/* FUZZ_SUMMARY=1 in the environment: one line per input on stderr. */
static void summary(void)
{
    static int want = -1;
    if (want < 0)
        want = getenv("FUZZ_SUMMARY") != NULL;
    if (want)
        fprintf(stderr, "virtq: %u of %u starts, %u chains popped, %u refused, %u pushed\n", counts.started,
                counts.starts, counts.chains, counts.errors, counts.pushes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct state s;
    setup_once();
    if (!chain)
        check((chain = pvh_vchain_new()) != NULL);
    for (int i = 0; i < 2; i++)
        memset(slot_host[i], 0, slots[i].size);
    struct input in = {data, size};
    memset(&counts, 0, sizeof(counts));
    start(&s, &in);
    for (unsigned ops = 0; in.n > 0 && ops < MAX_OPS; ops++)
        one_operation(&s, &in);
    summary();
    return 0;
}
