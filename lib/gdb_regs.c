/* x86 registers in the forms gdb expects (pvhboot/gdb.h): one table per
 * layout (i386, i386:x86-64) gives each register's name, size, type and
 * source in struct pvh_gdb_regs; the 'g'/'G'/'p'/'P' accessors and the
 * target description (XML) are both made from that table, so what gdb is
 * told and what it gets cannot disagree. Features: org.gnu.gdb.i386.core
 * (general, segment and x87 registers), .sse (xmm, mxcsr), .segments
 * (fs_base, gs_base) and org.pvhboot.x86.system (cr0-cr4, cr8, efer). */
#include "pvhboot/gdb.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum field { F_GPR, F_RIP, F_RFLAGS, F_SEG, F_FS_BASE, F_GS_BASE, F_ST, F_FPU, F_XMM, F_MXCSR, F_CR, F_EFER };
enum feature { CORE, SSE, SEGMENTS, SYSTEM, NFEATURES };
enum { FPU_FCTRL, FPU_FSTAT, FPU_FTAG, FPU_FISEG, FPU_FIOFF, FPU_FOSEG, FPU_FOOFF, FPU_FOP };
enum { CR0, CR2, CR3, CR4, CR8 };

struct reg_desc {
    const char *name;
    uint8_t field, index, size, feature;
    const char *type, *group;
};

#define R(name, field, index, size, feature, type, group) {name, field, index, size, feature, type, group}
#define ST_REGS(f) \
    R("st0", F_ST, 0, 10, f, "i387_ext", NULL), R("st1", F_ST, 1, 10, f, "i387_ext", NULL), \
    R("st2", F_ST, 2, 10, f, "i387_ext", NULL), R("st3", F_ST, 3, 10, f, "i387_ext", NULL), \
    R("st4", F_ST, 4, 10, f, "i387_ext", NULL), R("st5", F_ST, 5, 10, f, "i387_ext", NULL), \
    R("st6", F_ST, 6, 10, f, "i387_ext", NULL), R("st7", F_ST, 7, 10, f, "i387_ext", NULL), \
    R("fctrl", F_FPU, FPU_FCTRL, 4, f, "int", "float"), R("fstat", F_FPU, FPU_FSTAT, 4, f, "int", "float"), \
    R("ftag", F_FPU, FPU_FTAG, 4, f, "int", "float"), R("fiseg", F_FPU, FPU_FISEG, 4, f, "int", "float"), \
    R("fioff", F_FPU, FPU_FIOFF, 4, f, "int", "float"), R("foseg", F_FPU, FPU_FOSEG, 4, f, "int", "float"), \
    R("fooff", F_FPU, FPU_FOOFF, 4, f, "int", "float"), R("fop", F_FPU, FPU_FOP, 4, f, "int", "float")
#define SEG_REGS \
    R("cs", F_SEG, PVH_GDB_CS, 4, CORE, "int32", NULL), R("ss", F_SEG, PVH_GDB_SS, 4, CORE, "int32", NULL), \
    R("ds", F_SEG, PVH_GDB_DS, 4, CORE, "int32", NULL), R("es", F_SEG, PVH_GDB_ES, 4, CORE, "int32", NULL), \
    R("fs", F_SEG, PVH_GDB_FS, 4, CORE, "int32", NULL), R("gs", F_SEG, PVH_GDB_GS, 4, CORE, "int32", NULL)
#define XMM(n) R("xmm" #n, F_XMM, n, 16, SSE, "vec128", NULL)
/* fs_base and gs_base: gdb's segments feature for x86-64; for i386 ours
 * (gdb 13's i386 numbers the segments feature's registers past the end of
 * a description without AVX and fails an assertion) */
#define SYSTEM_REGS(w, t, base_feature) \
    R("fs_base", F_FS_BASE, 0, w, base_feature, t, NULL), R("gs_base", F_GS_BASE, 0, w, base_feature, t, NULL), \
    R("cr0", F_CR, CR0, w, SYSTEM, t, "system"), R("cr2", F_CR, CR2, w, SYSTEM, t, "system"), \
    R("cr3", F_CR, CR3, w, SYSTEM, t, "system"), R("cr4", F_CR, CR4, w, SYSTEM, t, "system"), \
    R("cr8", F_CR, CR8, w, SYSTEM, t, "system"), R("efer", F_EFER, 0, 8, SYSTEM, "int64", "system")

/* gdb's i386 register numbers: eax ecx edx ebx esp ebp esi edi eip eflags
 * cs ss ds es fs gs st0-7 fctrl..fop xmm0-7 mxcsr, then ours. */
static const struct reg_desc i386_regs[] = {
    R("eax", F_GPR, PVH_GDB_RAX, 4, CORE, "int32", NULL), R("ecx", F_GPR, PVH_GDB_RCX, 4, CORE, "int32", NULL),
    R("edx", F_GPR, PVH_GDB_RDX, 4, CORE, "int32", NULL), R("ebx", F_GPR, PVH_GDB_RBX, 4, CORE, "int32", NULL),
    R("esp", F_GPR, PVH_GDB_RSP, 4, CORE, "data_ptr", NULL), R("ebp", F_GPR, PVH_GDB_RBP, 4, CORE, "data_ptr", NULL),
    R("esi", F_GPR, PVH_GDB_RSI, 4, CORE, "int32", NULL), R("edi", F_GPR, PVH_GDB_RDI, 4, CORE, "int32", NULL),
    R("eip", F_RIP, 0, 4, CORE, "code_ptr", NULL), R("eflags", F_RFLAGS, 0, 4, CORE, "i386_eflags", NULL),
    SEG_REGS, ST_REGS(CORE),
    XMM(0), XMM(1), XMM(2), XMM(3), XMM(4), XMM(5), XMM(6), XMM(7),
    R("mxcsr", F_MXCSR, 0, 4, SSE, "int", "vector"),
    SYSTEM_REGS(4, "int32", SYSTEM),
};

/* gdb's amd64 register numbers: rax rbx rcx rdx rsi rdi rbp rsp r8-r15 rip
 * eflags cs ss ds es fs gs st0-7 fctrl..fop xmm0-15 mxcsr, then ours. */
static const struct reg_desc x86_64_regs[] = {
    R("rax", F_GPR, PVH_GDB_RAX, 8, CORE, "int64", NULL), R("rbx", F_GPR, PVH_GDB_RBX, 8, CORE, "int64", NULL),
    R("rcx", F_GPR, PVH_GDB_RCX, 8, CORE, "int64", NULL), R("rdx", F_GPR, PVH_GDB_RDX, 8, CORE, "int64", NULL),
    R("rsi", F_GPR, PVH_GDB_RSI, 8, CORE, "int64", NULL), R("rdi", F_GPR, PVH_GDB_RDI, 8, CORE, "int64", NULL),
    R("rbp", F_GPR, PVH_GDB_RBP, 8, CORE, "data_ptr", NULL), R("rsp", F_GPR, PVH_GDB_RSP, 8, CORE, "data_ptr", NULL),
    R("r8", F_GPR, 8, 8, CORE, "int64", NULL), R("r9", F_GPR, 9, 8, CORE, "int64", NULL),
    R("r10", F_GPR, 10, 8, CORE, "int64", NULL), R("r11", F_GPR, 11, 8, CORE, "int64", NULL),
    R("r12", F_GPR, 12, 8, CORE, "int64", NULL), R("r13", F_GPR, 13, 8, CORE, "int64", NULL),
    R("r14", F_GPR, 14, 8, CORE, "int64", NULL), R("r15", F_GPR, 15, 8, CORE, "int64", NULL),
    R("rip", F_RIP, 0, 8, CORE, "code_ptr", NULL), R("eflags", F_RFLAGS, 0, 4, CORE, "i386_eflags", NULL),
    SEG_REGS, ST_REGS(CORE),
    XMM(0), XMM(1), XMM(2), XMM(3), XMM(4), XMM(5), XMM(6), XMM(7),
    XMM(8), XMM(9), XMM(10), XMM(11), XMM(12), XMM(13), XMM(14), XMM(15),
    R("mxcsr", F_MXCSR, 0, 4, SSE, "int", "vector"),
    SYSTEM_REGS(8, "int64", SEGMENTS),
};

struct layout {
    const struct reg_desc *regs;
    unsigned n;
    const char *arch_name;
    unsigned pc;
};

static struct layout layout_of(enum pvh_gdb_arch arch)
{
    if (arch == PVH_GDB_ARCH_X86_64)
        return (struct layout){x86_64_regs, sizeof(x86_64_regs) / sizeof(x86_64_regs[0]), "i386:x86-64", 16};
    return (struct layout){i386_regs, sizeof(i386_regs) / sizeof(i386_regs[0]), "i386", 8};
}

unsigned pvh_gdb_reg_count(enum pvh_gdb_arch arch)
{
    return layout_of(arch).n;
}

unsigned pvh_gdb_reg_pc(enum pvh_gdb_arch arch)
{
    return layout_of(arch).pc;
}

size_t pvh_gdb_regs_size(enum pvh_gdb_arch arch)
{
    struct layout l = layout_of(arch);
    size_t total = 0;
    for (unsigned i = 0; i < l.n; i++)
        total += l.regs[i].size;
    return total;
}

static uint32_t *fpu_field(struct pvh_gdb_regs *r, unsigned index)
{
    uint32_t *f[] = {&r->fctrl, &r->fstat, &r->ftag, &r->fiseg, &r->fioff, &r->foseg, &r->fooff, &r->fop};
    return f[index];
}

static uint64_t *cr_field(struct pvh_gdb_regs *r, unsigned index)
{
    uint64_t *f[] = {&r->cr0, &r->cr2, &r->cr3, &r->cr4, &r->cr8};
    return f[index];
}

static uint32_t fpu_value(const struct pvh_gdb_regs *r, unsigned index)
{
    const uint32_t f[] = {r->fctrl, r->fstat, r->ftag, r->fiseg, r->fioff, r->foseg, r->fooff, r->fop};
    return f[index];
}

static uint64_t cr_value(const struct pvh_gdb_regs *r, unsigned index)
{
    const uint64_t f[] = {r->cr0, r->cr2, r->cr3, r->cr4, r->cr8};
    return f[index];
}

/* The scalar behind an integer register (not st or xmm). */
static uint64_t scalar(const struct reg_desc *d, const struct pvh_gdb_regs *r)
{
    switch (d->field) {
    case F_GPR: return r->gpr[d->index];
    case F_RIP: return r->rip;
    case F_RFLAGS: return r->rflags;
    case F_SEG: return r->seg[d->index];
    case F_FS_BASE: return r->fs_base;
    case F_GS_BASE: return r->gs_base;
    case F_FPU: return fpu_value(r, d->index);
    case F_MXCSR: return r->mxcsr;
    case F_CR: return cr_value(r, d->index);
    default: return r->efer;
    }
}

static void put_le(uint8_t *out, uint64_t v, size_t size)
{
    for (size_t i = 0; i < size; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *in, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

static void get_one(const struct reg_desc *d, const struct pvh_gdb_regs *r, uint8_t *out)
{
    if (d->field == F_ST) {
        memcpy(out, r->st[d->index], 10);
        return;
    }
    if (d->field == F_XMM) {
        memcpy(out, r->xmm[d->index], 16);
        return;
    }
    uint64_t v = scalar(d, r);
    /* outside 64-bit code only the low halves of eax..edi and eip mean anything */
    if (!r->code64 && ((d->field == F_GPR && d->index < 8) || d->field == F_RIP))
        v &= 0xffffffffu;
    put_le(out, v, d->size);
}

static void set_one(const struct reg_desc *d, struct pvh_gdb_regs *r, const uint8_t *in)
{
    uint64_t v = d->field == F_ST || d->field == F_XMM ? 0 : get_le(in, d->size);
    switch (d->field) {
    case F_GPR: r->gpr[d->index] = d->size == 4 ? (r->gpr[d->index] & ~0xffffffffull) | v : v; break;
    case F_RIP: r->rip = d->size == 4 ? (r->rip & ~0xffffffffull) | v : v; break;
    case F_RFLAGS: r->rflags = (r->rflags & ~0xffffffffull) | v; break;
    case F_SEG: r->seg[d->index] = (uint32_t)v; break;
    case F_FS_BASE: r->fs_base = v; break;
    case F_GS_BASE: r->gs_base = v; break;
    case F_ST: memcpy(r->st[d->index], in, 10); break;
    case F_FPU: *fpu_field(r, d->index) = (uint32_t)v; break;
    case F_XMM: memcpy(r->xmm[d->index], in, 16); break;
    case F_MXCSR: r->mxcsr = (uint32_t)v; break;
    case F_CR: *cr_field(r, d->index) = v; break;
    default: r->efer = v; break;
    }
}

size_t pvh_gdb_reg_get(enum pvh_gdb_arch arch, const struct pvh_gdb_regs *r, unsigned regno, uint8_t *out)
{
    struct layout l = layout_of(arch);
    if (regno >= l.n)
        return 0;
    get_one(&l.regs[regno], r, out);
    return l.regs[regno].size;
}

int pvh_gdb_reg_set(enum pvh_gdb_arch arch, struct pvh_gdb_regs *r, unsigned regno, const uint8_t *in, size_t len)
{
    struct layout l = layout_of(arch);
    if (regno >= l.n || len != l.regs[regno].size)
        return -1;
    set_one(&l.regs[regno], r, in);
    return 0;
}

size_t pvh_gdb_regs_get(enum pvh_gdb_arch arch, const struct pvh_gdb_regs *r, uint8_t *out, size_t cap)
{
    struct layout l = layout_of(arch);
    size_t n = 0;
    for (unsigned i = 0; i < l.n && n + l.regs[i].size <= cap; i++) {
        get_one(&l.regs[i], r, out + n);
        n += l.regs[i].size;
    }
    return n;
}

int pvh_gdb_regs_set(enum pvh_gdb_arch arch, struct pvh_gdb_regs *r, const uint8_t *in, size_t len)
{
    struct layout l = layout_of(arch);
    size_t end = 0;
    unsigned covered = 0;
    while (covered < l.n && end + l.regs[covered].size <= len)
        end += l.regs[covered++].size;
    if (end != len)
        return -1; /* past the block, or ending inside a register */
    size_t off = 0;
    for (unsigned i = 0; i < covered; i++) {
        set_one(&l.regs[i], r, in + off);
        off += l.regs[i].size;
    }
    return 0;
}

/* ---- the target description ------------------------------------------------- */

static const char *const feature_names[NFEATURES] = {
    "org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.segments", "org.pvhboot.x86.system",
};

/* EFLAGS bits by their architectural names */
static const struct { const char *name; unsigned bit; } eflags_bits[] = {
    {"CF", 0}, {"PF", 2}, {"AF", 4}, {"ZF", 6}, {"SF", 7}, {"TF", 8}, {"IF", 9}, {"DF", 10}, {"OF", 11},
    {"NT", 14}, {"RF", 16}, {"VM", 17}, {"AC", 18}, {"VIF", 19}, {"VIP", 20}, {"ID", 21},
};

struct text {
    char *buf;
    size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void emit(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

static void emit_types(struct text *t, enum feature f)
{
    if (f == CORE) {
        emit(t, "<flags id=\"i386_eflags\" size=\"4\">");
        for (size_t i = 0; i < sizeof(eflags_bits) / sizeof(eflags_bits[0]); i++)
            emit(t, "<field name=\"%s\" start=\"%u\" end=\"%u\"/>", eflags_bits[i].name, eflags_bits[i].bit,
                 eflags_bits[i].bit);
        emit(t, "</flags>\n");
    }
    if (f == SSE)
        emit(t, "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/><vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
                "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/><vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
                "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/><vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
                "<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>"
                "<field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>"
                "<field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>"
                "<field name=\"uint128\" type=\"uint128\"/></union>\n");
}

static size_t build_xml(enum pvh_gdb_arch arch, char *buf, size_t cap)
{
    struct layout l = layout_of(arch);
    struct text t = {buf, cap, 0};
    buf[0] = '\0';
    emit(&t, "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
             "<architecture>%s</architecture>\n", l.arch_name);
    for (unsigned f = 0; f < NFEATURES; f++) {
        bool used = false;
        for (unsigned i = 0; i < l.n; i++)
            used |= l.regs[i].feature == f;
        if (!used)
            continue;
        emit(&t, "<feature name=\"%s\">\n", feature_names[f]);
        emit_types(&t, f);
        for (unsigned i = 0; i < l.n; i++) {
            const struct reg_desc *d = &l.regs[i];
            if (d->feature != f)
                continue;
            emit(&t, "<reg name=\"%s\" bitsize=\"%u\" type=\"%s\" regnum=\"%u\"", d->name, d->size * 8u, d->type, i);
            if (d->group)
                emit(&t, " group=\"%s\"", d->group);
            emit(&t, "/>\n");
        }
        emit(&t, "</feature>\n");
    }
    emit(&t, "</target>\n");
    return t.len;
}

const char *pvh_gdb_target_xml(enum pvh_gdb_arch arch, size_t *len)
{
    /* built once per layout; only the stub's one I/O thread asks */
    static char xml[2][8192];
    static size_t xml_len[2];
    unsigned k = arch == PVH_GDB_ARCH_X86_64;
    if (!xml_len[k])
        xml_len[k] = build_xml(arch, xml[k], sizeof(xml[k]));
    *len = xml_len[k];
    return xml[k];
}

/* ---- x87 tag word ----------------------------------------------------------- */

/* 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unnormal) */
static uint32_t classify(const uint8_t v[10])
{
    unsigned exp = (unsigned)(v[8] | (v[9] << 8)) & 0x7fff;
    uint64_t mant = get_le(v, 8);
    if (exp == 0x7fff)
        return 2;
    if (exp == 0)
        return mant == 0 ? 1 : 2;
    return (mant >> 63) ? 0 : 2;
}

uint32_t pvh_gdb_ftag_full(uint8_t abridged, const struct pvh_gdb_regs *r)
{
    unsigned top = (r->fstat >> 11) & 7;
    uint32_t full = 0;
    for (unsigned phys = 0; phys < 8; phys++) {
        uint32_t tag = 3; /* empty */
        if (abridged & (1u << phys))
            tag = classify(r->st[(phys - top) & 7]);
        full |= tag << (2 * phys);
    }
    return full;
}

uint8_t pvh_gdb_ftag_abridged(uint32_t full)
{
    uint8_t a = 0;
    for (unsigned phys = 0; phys < 8; phys++)
        if (((full >> (2 * phys)) & 3) != 3)
            a |= (uint8_t)(1u << phys);
    return a;
}
