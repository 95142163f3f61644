/* The gdb stub's machine side (vmm/gdb.h): a vCPU's registers to and from
 * KVM (KVM_GET/SET_REGS, SREGS, FPU), guest memory by virtual address
 * (KVM_TRANSLATE page by page, then the checked accessor pvh_gpa_ptr),
 * software breakpoints (int3 written into guest RAM; a debug register
 * where the address does not translate yet), hardware breakpoints and
 * watchpoints in DR0-DR3, and KVM_SET_GUEST_DEBUG. Everything but
 * pvh_gdb_classify_exit runs on the I/O thread while every vCPU is parked. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gdb.h"
#include "vm.h"

#define EFER_LMA (1ull << 10)
#define INT3 0xcc
#define PAGE 4096ull

static int vcpu_fd(struct pvh_gdb *g, unsigned vcpu)
{
    return g->vm->vcpu[vcpu].fd;
}

/* ---- registers -------------------------------------------------------------- */

static void from_fpu(struct pvh_gdb_regs *r, const struct kvm_fpu *f)
{
    for (int i = 0; i < 8; i++)
        memcpy(r->st[i], f->fpr[i], 10);
    r->fctrl = f->fcw;
    r->fstat = f->fsw;
    r->ftag = pvh_gdb_ftag_full(f->ftwx, r);
    r->fiseg = 0;
    r->fioff = (uint32_t)f->last_ip;
    r->foseg = 0;
    r->fooff = (uint32_t)f->last_dp;
    r->fop = f->last_opcode;
    memcpy(r->xmm, f->xmm, sizeof(r->xmm));
    r->mxcsr = f->mxcsr;
}

static void to_fpu(struct kvm_fpu *f, const struct pvh_gdb_regs *r)
{
    for (int i = 0; i < 8; i++)
        memcpy(f->fpr[i], r->st[i], 10);
    f->fcw = (uint16_t)r->fctrl;
    f->fsw = (uint16_t)r->fstat;
    f->ftwx = pvh_gdb_ftag_abridged(r->ftag);
    f->last_ip = r->fioff;
    f->last_dp = r->fooff;
    f->last_opcode = (uint16_t)r->fop;
    memcpy(f->xmm, r->xmm, sizeof(r->xmm));
    f->mxcsr = r->mxcsr;
}

static void from_kvm(struct pvh_gdb_regs *r, const struct kvm_regs *k, const struct kvm_sregs *s)
{
    const uint64_t gpr[16] = {k->rax, k->rbx, k->rcx, k->rdx, k->rsi, k->rdi, k->rsp, k->rbp,
                              k->r8, k->r9, k->r10, k->r11, k->r12, k->r13, k->r14, k->r15};
    memcpy(r->gpr, gpr, sizeof(gpr));
    r->rip = k->rip;
    r->rflags = k->rflags;
    const struct kvm_segment *seg[6] = {&s->cs, &s->ss, &s->ds, &s->es, &s->fs, &s->gs};
    for (int i = 0; i < 6; i++)
        r->seg[i] = seg[i]->selector;
    r->fs_base = s->fs.base;
    r->gs_base = s->gs.base;
    r->cr0 = s->cr0, r->cr2 = s->cr2, r->cr3 = s->cr3, r->cr4 = s->cr4, r->cr8 = s->cr8, r->efer = s->efer;
    r->code64 = (s->efer & EFER_LMA) && s->cs.l;
}

static void to_kvm_regs(struct kvm_regs *k, const struct pvh_gdb_regs *r)
{
    __u64 *gpr[16] = {&k->rax, &k->rbx, &k->rcx, &k->rdx, &k->rsi, &k->rdi, &k->rsp, &k->rbp,
                         &k->r8, &k->r9, &k->r10, &k->r11, &k->r12, &k->r13, &k->r14, &k->r15};
    for (int i = 0; i < 16; i++)
        *gpr[i] = r->gpr[i];
    k->rip = r->rip;
    k->rflags = r->rflags;
}

/* Segment selectors are not written: a selector alone, without its
 * descriptor's base and limit, would give KVM an inconsistent segment. */
static void to_kvm_sregs(struct kvm_sregs *s, const struct pvh_gdb_regs *r)
{
    s->fs.base = r->fs_base;
    s->gs.base = r->gs_base;
    s->cr0 = r->cr0, s->cr2 = r->cr2, s->cr3 = r->cr3, s->cr4 = r->cr4, s->cr8 = r->cr8, s->efer = r->efer;
}

int pvh_gdb_read_regs(struct pvh_gdb *g, unsigned vcpu, struct pvh_gdb_regs *r)
{
    struct kvm_regs k;
    struct kvm_sregs s;
    struct kvm_fpu f;
    int fd = vcpu_fd(g, vcpu);
    if (ioctl(fd, KVM_GET_REGS, &k) || ioctl(fd, KVM_GET_SREGS, &s) || ioctl(fd, KVM_GET_FPU, &f))
        return -1;
    memset(r, 0, sizeof(*r));
    from_kvm(r, &k, &s);
    from_fpu(r, &f);
    return 0;
}

/* Writes back what differs from the vCPU's current registers. */
int pvh_gdb_write_regs(struct pvh_gdb *g, unsigned vcpu, const struct pvh_gdb_regs *r)
{
    struct pvh_gdb_regs now;
    struct kvm_regs k;
    struct kvm_sregs s;
    struct kvm_fpu f;
    int fd = vcpu_fd(g, vcpu);
    if (ioctl(fd, KVM_GET_REGS, &k) || ioctl(fd, KVM_GET_SREGS, &s) || ioctl(fd, KVM_GET_FPU, &f))
        return -1;
    memset(&now, 0, sizeof(now));
    from_kvm(&now, &k, &s);
    from_fpu(&now, &f);
    if (memcmp(now.gpr, r->gpr, sizeof(r->gpr)) || now.rip != r->rip || now.rflags != r->rflags) {
        to_kvm_regs(&k, r);
        if (ioctl(fd, KVM_SET_REGS, &k))
            return -1;
    }
    if (now.fs_base != r->fs_base || now.gs_base != r->gs_base || now.cr0 != r->cr0 || now.cr2 != r->cr2 ||
        now.cr3 != r->cr3 || now.cr4 != r->cr4 || now.cr8 != r->cr8 || now.efer != r->efer) {
        to_kvm_sregs(&s, r);
        if (ioctl(fd, KVM_SET_SREGS, &s))
            return -1;
    }
    if (memcmp(now.st, r->st, sizeof(r->st)) || memcmp(now.xmm, r->xmm, sizeof(r->xmm)) || now.fctrl != r->fctrl ||
        now.fstat != r->fstat || now.ftag != r->ftag || now.fioff != r->fioff || now.fooff != r->fooff ||
        now.fop != r->fop || now.mxcsr != r->mxcsr) {
        to_fpu(&f, r);
        if (ioctl(fd, KVM_SET_FPU, &f))
            return -1;
    }
    return 0;
}

bool pvh_gdb_in_long_mode(struct pvh_gdb *g, unsigned vcpu)
{
    struct kvm_sregs s;
    return ioctl(vcpu_fd(g, vcpu), KVM_GET_SREGS, &s) == 0 && (s.efer & EFER_LMA);
}

/* ---- memory ----------------------------------------------------------------- */

/* Host pointer for [addr, addr + len) of the current vCPU's virtual
 * memory, len within one page; NULL when it does not translate to RAM. */
static uint8_t *virt_ptr(struct pvh_gdb *g, uint64_t addr, size_t len, uint64_t *gpa)
{
    struct kvm_translation t = {.linear_address = addr};
    if (ioctl(vcpu_fd(g, g->cur), KVM_TRANSLATE, &t) != 0 || !t.valid)
        return NULL;
    if (gpa)
        *gpa = t.physical_address;
    return pvh_gpa_ptr(&g->vm->mem, t.physical_address, len);
}

static size_t chunk_in_page(uint64_t addr, size_t left)
{
    uint64_t room = PAGE - (addr & (PAGE - 1));
    return left < room ? left : (size_t)room;
}

size_t pvh_gdb_read_mem(struct pvh_gdb *g, uint64_t addr, uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = chunk_in_page(addr + done, len - done);
        const uint8_t *p = virt_ptr(g, addr + done, n, NULL);
        if (!p)
            break;
        memcpy(buf + done, p, n);
        done += n;
    }
    return done;
}

size_t pvh_gdb_write_mem(struct pvh_gdb *g, uint64_t addr, const uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = chunk_in_page(addr + done, len - done);
        uint8_t *p = virt_ptr(g, addr + done, n, NULL);
        if (!p)
            break;
        memcpy(p, buf + done, n);
        done += n;
    }
    return done;
}

/* ---- debug registers -------------------------------------------------------- */

static unsigned free_slots(const struct pvh_gdb *g)
{
    unsigned n = 0;
    for (int i = 0; i < PVH_GDB_HW_SLOTS; i++)
        n += !g->hw[i].used;
    return n;
}

static void take_slot(struct pvh_gdb *g, const struct pvh_gdb_hw_slot *s)
{
    for (int i = 0; i < PVH_GDB_HW_SLOTS; i++)
        if (!g->hw[i].used) {
            g->hw[i] = *s;
            g->hw[i].used = true;
            return;
        }
}

/* The aligned 1, 2, 4 or 8 byte piece at the start of [addr, addr + left). */
static unsigned piece(uint64_t addr, uint64_t left)
{
    for (unsigned size = 8; size > 1; size /= 2)
        if (addr % size == 0 && left >= size)
            return size;
    return 1;
}

/* Z1 (exec, one slot), Z2 and Z4 (write or access watch over [addr, addr
 * + len): as many aligned pieces as it takes, all or none). */
static int insert_slots(struct pvh_gdb *g, unsigned type, uint64_t addr, uint64_t len)
{
    unsigned rw = type == 0 || type == 1 ? 0 : type == 2 ? 1 : 3;
    if (len == 0 || rw == 0)
        len = 1;
    if (len > 8 * PVH_GDB_HW_SLOTS || addr + len < addr)
        return -1;
    unsigned need = 0;
    for (uint64_t a = addr; a < addr + len; a += piece(a, addr + len - a))
        need++;
    if (need > free_slots(g))
        return -1;
    for (uint64_t a = addr; a < addr + len;) {
        unsigned size = piece(a, addr + len - a);
        struct pvh_gdb_hw_slot s = {.addr = a, .rw = rw, .len = size, .z_type = type, .z_addr = addr, .z_len = len};
        take_slot(g, &s);
        a += size;
    }
    return 0;
}

static void remove_slots(struct pvh_gdb *g, unsigned type, uint64_t addr)
{
    for (int i = 0; i < PVH_GDB_HW_SLOTS; i++)
        if (g->hw[i].used && g->hw[i].z_type == type && g->hw[i].z_addr == addr)
            g->hw[i].used = false;
}

/* DR7: global enable, RW and LEN per slot (LEN 00 = 1, 01 = 2, 11 = 4, 10 = 8). */
static uint64_t dr7_value(const struct pvh_gdb *g)
{
    static const unsigned len_code[9] = {0, 0, 1, 0, 3, 0, 0, 0, 2};
    uint64_t dr7 = 0;
    for (unsigned i = 0; i < PVH_GDB_HW_SLOTS; i++) {
        const struct pvh_gdb_hw_slot *s = &g->hw[i];
        if (!s->used)
            continue;
        dr7 |= 2ull << (2 * i);
        dr7 |= (uint64_t)s->rw << (16 + 4 * i);
        dr7 |= (uint64_t)(s->rw ? len_code[s->len] : 0) << (18 + 4 * i);
    }
    return dr7;
}

/* ---- software breakpoints --------------------------------------------------- */

static struct pvh_gdb_sw_bp *find_sw(struct pvh_gdb *g, uint64_t addr)
{
    for (int i = 0; i < PVH_GDB_MAX_SW_BP; i++)
        if (g->sw[i].used && g->sw[i].addr == addr)
            return &g->sw[i];
    return NULL;
}

static int insert_sw(struct pvh_gdb *g, uint64_t addr)
{
    if (find_sw(g, addr))
        return 0;
    struct pvh_gdb_sw_bp *b = NULL;
    for (int i = 0; i < PVH_GDB_MAX_SW_BP && !b; i++)
        if (!g->sw[i].used)
            b = &g->sw[i];
    if (!b)
        return -1;
    uint64_t gpa;
    uint8_t *p = virt_ptr(g, addr, 1, &gpa);
    *b = (struct pvh_gdb_sw_bp){.used = true, .addr = addr, .gpa = gpa};
    if (p) {
        b->saved = *p;
        *p = INT3;
        return 0;
    }
    /* not mapped yet (before the guest turns paging on): a debug register
     * stops there by its linear address all the same */
    b->in_slot = true;
    if (insert_slots(g, 0, addr, 1) == 0)
        return 0;
    b->used = false;
    return -1;
}

/* The int3 is taken out only where it still is: a guest that rewrote the
 * byte keeps what it wrote. */
static void remove_sw(struct pvh_gdb *g, struct pvh_gdb_sw_bp *b)
{
    if (b->in_slot) {
        remove_slots(g, 0, b->addr);
    } else {
        uint8_t *p = pvh_gpa_ptr(&g->vm->mem, b->gpa, 1);
        if (p && *p == INT3)
            *p = b->saved;
    }
    b->used = false;
}

int pvh_gdb_insert_bp(struct pvh_gdb *g, unsigned type, uint64_t addr, uint64_t len)
{
    switch (type) {
    case 0: return insert_sw(g, addr);
    case 1: case 2: case 4: return insert_slots(g, type, addr, len);
    default: return 1; /* x86 has no read-only watchpoints */
    }
}

int pvh_gdb_remove_bp(struct pvh_gdb *g, unsigned type, uint64_t addr, uint64_t len)
{
    (void)len;
    if (type == 3)
        return 1;
    if (type == 0) {
        struct pvh_gdb_sw_bp *b = find_sw(g, addr);
        if (b)
            remove_sw(g, b);
        return 0;
    }
    remove_slots(g, type, addr);
    return 0;
}

void pvh_gdb_remove_all_bps(struct pvh_gdb *g)
{
    for (int i = 0; i < PVH_GDB_MAX_SW_BP; i++)
        if (g->sw[i].used)
            remove_sw(g, &g->sw[i]);
    memset(g->hw, 0, sizeof(g->hw));
}

/* ---- KVM_SET_GUEST_DEBUG ---------------------------------------------------- */

static struct kvm_guest_debug debug_for(const struct pvh_gdb *g, unsigned vcpu, bool blockirq)
{
    struct kvm_guest_debug d;
    memset(&d, 0, sizeof(d));
    bool sw = false, hw = false, step = g->step_vcpu == (int)vcpu;
    for (int i = 0; i < PVH_GDB_MAX_SW_BP; i++)
        sw |= g->sw[i].used && !g->sw[i].in_slot;
    for (int i = 0; i < PVH_GDB_HW_SLOTS; i++) {
        hw |= g->hw[i].used;
        d.arch.debugreg[i] = g->hw[i].used ? g->hw[i].addr : 0;
    }
    if (!sw && !hw && !step)
        return d; /* control 0: KVM debugs nothing, the guest's own #DB and #BP are its own */
    d.control = KVM_GUESTDBG_ENABLE | (sw ? KVM_GUESTDBG_USE_SW_BP : 0) | (hw ? KVM_GUESTDBG_USE_HW_BP : 0);
    if (step) /* with BLOCKIRQ a step executes the instruction, not an interrupt handler */
        d.control |= KVM_GUESTDBG_SINGLESTEP | (blockirq ? KVM_GUESTDBG_BLOCKIRQ : 0);
    d.arch.debugreg[7] = dr7_value(g);
    return d;
}

int pvh_gdb_apply_debug(struct pvh_gdb *g)
{
    for (unsigned i = 0; i < g->vm->ncpus; i++) {
        struct kvm_guest_debug d = debug_for(g, i, g->blockirq);
        int rc = ioctl(vcpu_fd(g, i), KVM_SET_GUEST_DEBUG, &d);
        if (rc != 0 && errno == EINVAL && g->blockirq && (d.control & KVM_GUESTDBG_BLOCKIRQ)) {
            g->blockirq = false; /* an older KVM: step without it */
            d = debug_for(g, i, false);
            rc = ioctl(vcpu_fd(g, i), KVM_SET_GUEST_DEBUG, &d);
        }
        if (rc != 0)
            return -1;
        g->applied[i] = d;
    }
    return 0;
}

/* ---- debug exits (vCPU thread) ---------------------------------------------- */

static bool classify_db(struct pvh_gdb *g, unsigned vcpu, uint32_t dr6, struct pvh_gdb_stop *s)
{
    for (unsigned i = 0; i < PVH_GDB_HW_SLOTS; i++) {
        const struct pvh_gdb_hw_slot *h = &g->hw[i];
        if (!h->used || !(dr6 & (1u << i)))
            continue;
        if (h->rw == 0) {
            s->kind = h->z_type == 0 ? PVH_GDB_STOP_SW : PVH_GDB_STOP_HW;
        } else {
            s->kind = PVH_GDB_STOP_WATCH;
            s->watch_addr = h->z_addr;
            s->watch_type = h->z_type;
        }
        return true;
    }
    /* a step is recognised by the vCPU gdb stepped (DR6.BS is not relied on) */
    if (g->step_vcpu == (int)vcpu) {
        s->kind = PVH_GDB_STOP_STEP;
        return true;
    }
    return false;
}

bool pvh_gdb_classify_exit(struct pvh_gdb *g, struct pvh_vcpu *v, struct pvh_gdb_stop *s)
{
    const struct kvm_debug_exit_arch *d = &v->run->debug.arch;
    *s = (struct pvh_gdb_stop){.vcpu = v->id};
    if (d->exception == 3) {
        const struct pvh_gdb_sw_bp *b = find_sw(g, d->pc);
        if (b && !b->in_slot) {
            s->kind = PVH_GDB_STOP_SW;
            return true;
        }
    } else if (d->exception == 1 && classify_db(g, v->id, d->dr6, s)) {
        return true;
    }
    /* the guest's own int3 or debug trap: KVM re-injects it */
    struct kvm_guest_debug again = g->applied[v->id];
    again.control |= d->exception == 3 ? KVM_GUESTDBG_INJECT_BP : KVM_GUESTDBG_INJECT_DB;
    if (again.control & KVM_GUESTDBG_ENABLE)
        ioctl(v->fd, KVM_SET_GUEST_DEBUG, &again);
    return false;
}
