/* Guest SDK for PVH (x86/HVM direct boot) kernels: port I/O, a COM1 writer,
 * the 0xf4 exit port, and a bounded walk of struct hvm_start_info.
 * Header-only, freestanding, for -m32 and -m64 (64-bit: low 4 GiB must be
 * identity mapped). Nothing here trusts a count or a pointer without a bound. */
#ifndef PVH_GUEST_H
#define PVH_GUEST_H

#include <stdint.h>
#include "pvh/start_info.h"

#define PVH_COM1 0x3f8
#define PVH_EXIT_PORT 0xf4
#define PVH_MAX_MODULES 64u
#define PVH_MAX_MEMMAP 128u
#define PVH_MAX_CMDLINE 4096u
#define PVH_4G 0x100000000ull

static inline void pvh_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void pvh_outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t pvh_inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* COM1: 115200 8N1, no interrupts. */
static inline void pvh_serial_init(void)
{
    pvh_outb(PVH_COM1 + 1, 0x00);
    pvh_outb(PVH_COM1 + 3, 0x80);
    pvh_outb(PVH_COM1 + 0, 0x01);
    pvh_outb(PVH_COM1 + 1, 0x00);
    pvh_outb(PVH_COM1 + 3, 0x03);
    pvh_outb(PVH_COM1 + 2, 0x00);
}

static inline void pvh_putc(char c)
{
    for (unsigned spin = 0; spin < 100000 && !(pvh_inb(PVH_COM1 + 5) & 0x20); spin++) {
    }
    pvh_outb(PVH_COM1, (uint8_t)c);
}

static inline void pvh_puts(const char *s)
{
    while (*s)
        pvh_putc(*s++);
}

static inline void pvh_put_hex(uint64_t v)
{
    char buf[19];
    int i = 18;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    pvh_puts(&buf[i]);
}

static inline void pvh_put_dec(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = 0;
    do {
        /* 64-bit division would need libgcc under -m32: divide by 10 via shifts */
        uint64_t q = (v >> 1) + (v >> 2);
        q += q >> 4; q += q >> 8; q += q >> 16; q += q >> 32;
        q >>= 3;
        uint64_t r = v - q * 10;
        if (r > 9) { q++; r -= 10; }
        buf[--i] = (char)('0' + r);
        v = q;
    } while (v);
    pvh_puts(&buf[i]);
}

/* Exit: a 32-bit OUT of status to port 0xf4. Under QEMU's isa-debug-exit the
 * process exits with (status << 1) | 1; pvhboot returns status itself. */
static inline __attribute__((noreturn)) void pvh_exit(uint32_t status)
{
    pvh_outl(PVH_EXIT_PORT, status);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Snapshots (pvhboot run --snapshot-on-port --snapshot-file STATE --mem-file
 * MEM): a 32-bit OUT of PVH_SNAPSHOT_MAGIC ("SNAP") to PVH_SNAPSHOT_PORT asks
 * for one. The vCPU stops right after the OUT; the snapshot is taken with
 * every vCPU stopped; then pvhboot exits 0 (or, with --snapshot-continue,
 * the guest goes on). A restored VM resumes after the OUT. Without
 * --snapshot-on-port the write is ignored. Same values as
 * include/pvhboot/layout.h. */
#define PVH_SNAPSHOT_PORT 0x5f4
#define PVH_SNAPSHOT_MAGIC 0x50414e53u

static inline void pvh_snapshot(void)
{
    pvh_outl(PVH_SNAPSHOT_PORT, PVH_SNAPSHOT_MAGIC);
}

/* A physical range the guest may read: non-zero, non-wrapping, below 4 GiB. */
static inline int pvh_range_ok(uint64_t paddr, uint64_t size)
{
    return paddr != 0 && size <= PVH_4G && paddr <= PVH_4G - size;
}

static inline const void *pvh_ptr(uint64_t paddr, uint64_t size)
{
    return pvh_range_ok(paddr, size) ? (const void *)(uintptr_t)paddr : 0;
}

/* NUL-terminated string at paddr, at most max bytes, stopping at 4 GiB;
 * NULL when absent or out of range. */
static inline const char *pvh_cstr(uint64_t paddr)
{
    return pvh_range_ok(paddr, 1) ? (const char *)(uintptr_t)paddr : 0;
}

/* Print a guest string with a length bound; "(none)" when absent. */
static inline void pvh_put_cstr(uint64_t paddr)
{
    const char *s = pvh_cstr(paddr);
    if (!s) {
        pvh_puts("(none)");
        return;
    }
    for (uint64_t i = 0; i < PVH_MAX_CMDLINE && paddr + i < PVH_4G && s[i]; i++)
        pvh_putc(s[i]);
}

/* 1 when the command line at paddr holds the space-separated word w. */
static inline int pvh_cmdline_has(uint64_t paddr, const char *w)
{
    const char *s = pvh_cstr(paddr);
    for (uint32_t i = 0; s && i < PVH_MAX_CMDLINE && paddr + i < PVH_4G && s[i]; i++) {
        if (i != 0 && s[i - 1] != ' ')
            continue;
        uint32_t k = 0;
        while (w[k] && i + k < PVH_MAX_CMDLINE && s[i + k] == w[k])
            k++;
        if (!w[k] && (s[i + k] == ' ' || s[i + k] == 0))
            return 1;
    }
    return 0;
}

/* Validate start_info at paddr; returns NULL on success, else a reason. */
static inline const char *pvh_start_info_check(uint64_t paddr)
{
    const struct hvm_start_info *si = pvh_ptr(paddr, sizeof(*si));
    if (!si)
        return "start_info address out of range";
    if (si->magic != HVM_START_MAGIC_VALUE)
        return "bad start_info magic";
    if (si->version > 1)
        return "unknown start_info version (reading the version 0 part)";
    return 0;
}

static inline const struct hvm_start_info *pvh_start_info(uint64_t paddr)
{
    const struct hvm_start_info *si = pvh_ptr(paddr, sizeof(*si));
    return si && si->magic == HVM_START_MAGIC_VALUE ? si : 0;
}

/* Number of memmap entries the guest may read: only version >= 1 and a
 * non-zero count, capped and range-checked. */
static inline uint32_t pvh_memmap_count(const struct hvm_start_info *si)
{
    if (si->version < 1 || si->memmap_entries == 0)
        return 0;
    uint32_t n = si->memmap_entries < PVH_MAX_MEMMAP ? si->memmap_entries : PVH_MAX_MEMMAP;
    return pvh_ptr(si->memmap_paddr, (uint64_t)n * sizeof(struct hvm_memmap_table_entry)) ? n : 0;
}

static inline const struct hvm_memmap_table_entry *pvh_memmap(const struct hvm_start_info *si, uint32_t i)
{
    return (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr + i;
}

static inline uint32_t pvh_module_count(const struct hvm_start_info *si)
{
    uint32_t n = si->nr_modules < PVH_MAX_MODULES ? si->nr_modules : PVH_MAX_MODULES;
    return pvh_ptr(si->modlist_paddr, (uint64_t)n * sizeof(struct hvm_modlist_entry)) ? n : 0;
}

static inline const struct hvm_modlist_entry *pvh_module(const struct hvm_start_info *si, uint32_t i)
{
    return (const struct hvm_modlist_entry *)(uintptr_t)si->modlist_paddr + i;
}

#endif
