/* AML byte encoding for the DSDT (include/pvhboot/aml.h): opcodes, NameSegs
 * and dotted name paths, methods with a Notify, integers in their shortest form, PkgLength in 1-4 bytes, EISA IDs, the two
 * resource descriptors virtio-mmio devices need and the two ISA ones (I/O
 * ports, an IRQ) the i8042's keyboard is described with. Measures when it has no
 * buffer; never writes past the buffer it has. */
#include "pvhboot/aml.h"

#include <string.h>

#include "pvhboot/bytes.h"

#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_NOTIFY_OP 0x86
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_MAX_NAME_SEGS 8
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after the prefix */
#define AML_ROOT_CHAR '\\'

/* Resource descriptors (ACPI 6.x, 6.4 "Resource Data Types"). */
#define RES_MEMORY32_FIXED 0x86
#define RES_MEMORY32_FIXED_LEN 9
#define RES_EXT_IRQ 0x89
#define RES_EXT_IRQ_LEN 6 /* one interrupt */
#define RES_EXT_IRQ_CONSUMER 0x01
#define RES_EXT_IRQ_EDGE 0x02
#define RES_END_TAG 0x79
#define RES_IO 0x47           /* small item: I/O port range, 7 bytes */
#define RES_IO_LEN 7
#define RES_IO_DECODE16 0x01
#define RES_IRQ_NOFLAGS 0x22  /* small item: IRQ mask, 2 bytes (edge, active high, exclusive) */
#define RES_IRQ_NOFLAGS_LEN 2
#define AML_MAX_ISA_PORTS 4

#define PKG_LEN_RESERVED 4 /* the longest PkgLength encoding */

void pvh_aml_init(struct pvh_aml *a, uint8_t *buf, size_t cap)
{
    *a = (struct pvh_aml){.buf = buf, .cap = buf ? cap : 0};
}

static void emit(struct pvh_aml *a, const void *p, size_t n)
{
    if (a->buf && !a->overflow) {
        if (n > a->cap - a->len) {
            a->overflow = true;
            return;
        }
        memcpy(a->buf + a->len, p, n);
    }
    a->len += n;
}

static void emit_byte(struct pvh_aml *a, uint8_t b)
{
    emit(a, &b, 1);
}

/* One NameSeg: 4 characters, '_'-padded. */
static void emit_nameseg(struct pvh_aml *a, const char *name)
{
    char seg[4] = {'_', '_', '_', '_'};
    for (size_t i = 0; i < 4 && name[i]; i++)
        seg[i] = name[i];
    emit(a, seg, 4);
}

/* "\\XXXX", "XXXX" or a dotted path "\\_SB_.VGEN" (root-relative or not):
 * one NameSeg, DualNamePath or MultiNamePath (ACPI 6.x, 20.2.2). */
static void emit_namestring(struct pvh_aml *a, const char *name)
{
    if (name[0] == AML_ROOT_CHAR) {
        emit_byte(a, AML_ROOT_CHAR);
        name++;
    }
    if (!strchr(name, '.')) { /* one NameSeg: the common case, kept cheap (the DSDT is built more than once) */
        emit_nameseg(a, name);
        return;
    }
    const char *segs[AML_MAX_NAME_SEGS];
    size_t n = 0;
    for (const char *p = name; p && n < AML_MAX_NAME_SEGS; n++) {
        segs[n] = p;
        p = strchr(p, '.');
        p = p ? p + 1 : NULL;
    }
    if (n == 2)
        emit_byte(a, AML_DUAL_NAME_PREFIX);
    else if (n > 2) {
        emit_byte(a, AML_MULTI_NAME_PREFIX);
        emit_byte(a, (uint8_t)n);
    }
    for (size_t i = 0; i < n; i++) {
        char seg[5] = {0};
        for (size_t j = 0; j < 4 && segs[i][j] && segs[i][j] != '.'; j++)
            seg[j] = segs[i][j];
        emit_nameseg(a, seg);
    }
}

static void emit_integer(struct pvh_aml *a, uint64_t v)
{
    uint8_t le[8];
    pvh_put_le64(le, v);
    if (v == 0 || v == 1) {
        emit_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
    } else if (v <= 0xff) {
        emit_byte(a, AML_BYTE_PREFIX);
        emit(a, le, 1);
    } else if (v <= 0xffff) {
        emit_byte(a, AML_WORD_PREFIX);
        emit(a, le, 2);
    } else if (v <= 0xffffffffu) {
        emit_byte(a, AML_DWORD_PREFIX);
        emit(a, le, 4);
    } else {
        emit_byte(a, AML_QWORD_PREFIX);
        emit(a, le, 8);
    }
}

size_t pvh_aml_pkg_begin(struct pvh_aml *a)
{
    static const uint8_t reserved[PKG_LEN_RESERVED];
    size_t mark = a->len;
    emit(a, reserved, sizeof(reserved));
    return mark;
}

/* The PkgLength counts itself: 1 byte up to 63, then 2, 3 or 4 bytes. */
static size_t pkg_len_bytes(size_t contents)
{
    if (contents + 1 < 0x40)
        return 1;
    if (contents + 2 < 0x1000)
        return 2;
    if (contents + 3 < 0x100000)
        return 3;
    return 4;
}

void pvh_aml_pkg_end(struct pvh_aml *a, size_t mark)
{
    size_t contents = a->len - mark - PKG_LEN_RESERVED;
    size_t n = pkg_len_bytes(contents);
    size_t value = contents + n;
    if (a->buf && !a->overflow) {
        uint8_t *p = a->buf + mark;
        if (n == 1) {
            p[0] = (uint8_t)value;
        } else {
            p[0] = (uint8_t)(((n - 1) << 6) | (value & 0x0f));
            for (size_t i = 1; i < n; i++)
                p[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
        }
        memmove(p + n, p + PKG_LEN_RESERVED, contents);
    }
    a->len -= PKG_LEN_RESERVED - n;
}

size_t pvh_aml_scope_begin(struct pvh_aml *a, const char *name)
{
    emit_byte(a, AML_SCOPE_OP);
    size_t mark = pvh_aml_pkg_begin(a);
    emit_namestring(a, name);
    return mark;
}

size_t pvh_aml_device_begin(struct pvh_aml *a, const char *name)
{
    emit_byte(a, AML_EXT_OP_PREFIX);
    emit_byte(a, AML_DEVICE_OP);
    size_t mark = pvh_aml_pkg_begin(a);
    emit_namestring(a, name);
    return mark;
}

size_t pvh_aml_method_begin(struct pvh_aml *a, const char *name, uint8_t nargs)
{
    emit_byte(a, AML_METHOD_OP);
    size_t mark = pvh_aml_pkg_begin(a);
    emit_namestring(a, name);
    emit_byte(a, (uint8_t)(nargs & 7)); /* MethodFlags: ArgCount, NotSerialized, SyncLevel 0 */
    return mark;
}

void pvh_aml_notify(struct pvh_aml *a, const char *path, uint8_t value)
{
    emit_byte(a, AML_NOTIFY_OP);
    emit_namestring(a, path);
    emit_integer(a, value);
}

void pvh_aml_name_string(struct pvh_aml *a, const char *name, const char *value)
{
    emit_byte(a, AML_NAME_OP);
    emit_namestring(a, name);
    emit_byte(a, AML_STRING_PREFIX);
    emit(a, value, strlen(value) + 1);
}

void pvh_aml_name_integer(struct pvh_aml *a, const char *name, uint64_t value)
{
    emit_byte(a, AML_NAME_OP);
    emit_namestring(a, name);
    emit_integer(a, value);
}

void pvh_aml_name_int_package(struct pvh_aml *a, const char *name, const uint64_t *values, uint8_t n)
{
    emit_byte(a, AML_NAME_OP);
    emit_namestring(a, name);
    emit_byte(a, AML_PACKAGE_OP);
    size_t mark = pvh_aml_pkg_begin(a);
    emit_byte(a, n);
    for (uint8_t i = 0; i < n; i++)
        emit_integer(a, values[i]);
    pvh_aml_pkg_end(a, mark);
}

void pvh_aml_name_address_package(struct pvh_aml *a, const char *name, uint64_t addr)
{
    uint8_t le[4];
    emit_byte(a, AML_NAME_OP);
    emit_namestring(a, name);
    emit_byte(a, AML_PACKAGE_OP);
    size_t mark = pvh_aml_pkg_begin(a);
    emit_byte(a, 2);
    for (int half = 0; half < 2; half++) {
        pvh_put_le32(le, (uint32_t)(addr >> (32 * half)));
        emit_byte(a, AML_DWORD_PREFIX);
        emit(a, le, 4);
    }
    pvh_aml_pkg_end(a, mark);
}

void pvh_aml_name_mmio_irq_resources(struct pvh_aml *a, const char *name, uint32_t base, uint32_t size,
                                     uint32_t gsi)
{
    uint8_t res[3 + RES_MEMORY32_FIXED_LEN + 3 + RES_EXT_IRQ_LEN + 2];
    uint8_t *p = res;
    *p++ = RES_MEMORY32_FIXED;
    pvh_put_le16(p, RES_MEMORY32_FIXED_LEN);
    p[2] = 1; /* read-write */
    pvh_put_le32(p + 3, base);
    pvh_put_le32(p + 7, size);
    p += 2 + RES_MEMORY32_FIXED_LEN;
    *p++ = RES_EXT_IRQ;
    pvh_put_le16(p, RES_EXT_IRQ_LEN);
    p[2] = RES_EXT_IRQ_CONSUMER | RES_EXT_IRQ_EDGE; /* active high, exclusive */
    p[3] = 1;                                       /* one interrupt */
    pvh_put_le32(p + 4, gsi);
    p += 2 + RES_EXT_IRQ_LEN;
    *p++ = RES_END_TAG;
    *p++ = 0; /* checksum 0: "treated as if the checksum was correct" */
    emit_byte(a, AML_NAME_OP);
    emit_namestring(a, name);
    emit_byte(a, AML_BUFFER_OP);
    size_t mark = pvh_aml_pkg_begin(a);
    emit_integer(a, sizeof(res));
    emit(a, res, sizeof(res));
    pvh_aml_pkg_end(a, mark);
}

/* EISA ID compression (ACPI 6.x, 19.6.35 EISAID): three letters in 5 bits
 * each and four hex digits, the 32-bit value's bytes in big-endian order. */
static bool eisa_id(const char *id, uint32_t *out)
{
    if (strlen(id) != 7)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 3; i++) {
        if (id[i] < 'A' || id[i] > 'Z')
            return false;
        v = v << 5 | (uint32_t)(id[i] - 0x40);
    }
    for (int i = 3; i < 7; i++) {
        char c = id[i];
        uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0') : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10) : 16;
        if (d > 15)
            return false;
        v = v << 4 | d;
    }
    *out = (v & 0xff) << 24 | (v >> 8 & 0xff) << 16 | (v >> 16 & 0xff) << 8 | v >> 24;
    return true;
}

bool pvh_aml_name_eisa_id(struct pvh_aml *a, const char *name, const char *id)
{
    uint32_t v;
    if (!eisa_id(id, &v))
        return false;
    pvh_aml_name_integer(a, name, v);
    return true;
}

void pvh_aml_name_io_irq_resources(struct pvh_aml *a, const char *name, const uint16_t *ports, size_t nports,
                                   uint8_t irq)
{
    uint8_t res[AML_MAX_ISA_PORTS * (1 + RES_IO_LEN) + 1 + RES_IRQ_NOFLAGS_LEN + 2];
    uint8_t *p = res;
    if (nports > AML_MAX_ISA_PORTS || irq > 15) {
        a->overflow = true;
        return;
    }
    for (size_t i = 0; i < nports; i++) {
        *p++ = RES_IO;
        p[0] = RES_IO_DECODE16;
        pvh_put_le16(p + 1, ports[i]); /* minimum */
        pvh_put_le16(p + 3, ports[i]); /* maximum */
        p[5] = 1;                      /* alignment */
        p[6] = 1;                      /* length: one port */
        p += RES_IO_LEN;
    }
    *p++ = RES_IRQ_NOFLAGS;
    pvh_put_le16(p, (uint16_t)(1u << irq));
    p += RES_IRQ_NOFLAGS_LEN;
    *p++ = RES_END_TAG;
    *p++ = 0; /* checksum 0: "treated as if the checksum was correct" */
    size_t len = (size_t)(p - res);
    emit_byte(a, AML_NAME_OP);
    emit_namestring(a, name);
    emit_byte(a, AML_BUFFER_OP);
    size_t mark = pvh_aml_pkg_begin(a);
    emit_integer(a, len);
    emit(a, res, len);
    pvh_aml_pkg_end(a, mark);
}
