/* probe: reports the entry state a PVH producer left (saved by
 * probe_entry.S) and the whole start_info, one key=value line each on COM1,
 * then exits 0 through port 0xf4. Format: docs/guest-sdk.md. */
#include "pvh_guest.h"

extern uint32_t entry_regs[8];
extern uint16_t entry_sel[8];
extern uint32_t entry_eflags, entry_cr0, entry_cr4;
extern uint64_t entry_efer;
extern uint8_t entry_gdtr[8], entry_idtr[8];
extern uint8_t __image_start[];

void probe_main(void);

static uint32_t a20_cell[4];

static void kv_hex(const char *key, uint64_t v)
{
    pvh_puts(key);
    pvh_putc('=');
    pvh_put_hex(v);
    pvh_putc('\n');
}

static void kv_dec(const char *key, uint64_t v)
{
    pvh_puts(key);
    pvh_putc('=');
    pvh_put_dec(v);
    pvh_putc('\n');
}

static void kv_str(const char *key, const char *v)
{
    pvh_puts(key);
    pvh_putc('=');
    pvh_puts(v);
    pvh_putc('\n');
}

/* key built as PREFIX.N.FIELD */
static void key_idx(const char *prefix, uint32_t i, const char *field)
{
    pvh_puts(prefix);
    pvh_putc('.');
    pvh_put_dec(i);
    pvh_putc('.');
    pvh_puts(field);
    pvh_putc('=');
}

static uint32_t read_u32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void print_registers(void)
{
    static const char *const names[8] = {"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp"};
    for (int i = 0; i < 8; i++)
        kv_hex(names[i], entry_regs[i]);
    kv_hex("eflags", entry_eflags);
    kv_hex("cr0", entry_cr0);
    kv_hex("cr4", entry_cr4);
    kv_hex("efer", entry_efer);
    kv_hex("gdtr.base", read_u32(entry_gdtr + 2));
    kv_hex("gdtr.limit", entry_gdtr[0] | entry_gdtr[1] << 8);
    kv_hex("idtr.base", read_u32(entry_idtr + 2));
    kv_hex("idtr.limit", entry_idtr[0] | entry_idtr[1] << 8);
}

/* LAR/LSL read the descriptor table entry the selector names (not the
 * hidden cached state); ZF reports whether the access was allowed. */
static int lar(uint32_t sel, uint32_t *ar)
{
    uint8_t ok;
    __asm__ volatile("larl %2, %0; setz %1" : "=r"(*ar), "=q"(ok) : "r"(sel) : "cc");
    return ok;
}

static int lsl(uint32_t sel, uint32_t *limit)
{
    uint8_t ok;
    __asm__ volatile("lsll %2, %0; setz %1" : "=r"(*limit), "=q"(ok) : "r"(sel) : "cc");
    return ok;
}

/* Base from the GDT when the selector is a GDT selector inside GDTR.limit. */
static int descriptor_base(uint16_t sel, uint32_t *base)
{
    uint32_t gdt = read_u32(entry_gdtr + 2);
    uint32_t limit = entry_gdtr[0] | entry_gdtr[1] << 8;
    uint32_t off = sel & ~7u;
    if ((sel & 4) || sel < 8 || off + 7 > limit)
        return 0;
    const uint8_t *d = (const uint8_t *)(uintptr_t)(gdt + off);
    *base = d[2] | d[3] << 8 | d[4] << 16 | (uint32_t)d[7] << 24;
    return 1;
}

static void print_segment(const char *name, uint16_t sel)
{
    uint32_t ar = 0, limit = 0, base = 0;
    pvh_puts(name); pvh_puts(".sel="); pvh_put_hex(sel); pvh_putc('\n');
    int ok = sel >= 4 && lar(sel, &ar);
    pvh_puts(name); pvh_puts(".lar_ok="); pvh_put_dec(ok); pvh_putc('\n');
    if (!ok)
        return;
    pvh_puts(name); pvh_puts(".ar="); pvh_put_hex(ar); pvh_putc('\n');
    pvh_puts(name); pvh_puts(".type="); pvh_put_hex((ar >> 8) & 15); pvh_putc('\n');
    pvh_puts(name); pvh_puts(".s="); pvh_put_dec((ar >> 12) & 1); pvh_putc('\n');
    pvh_puts(name); pvh_puts(".dpl="); pvh_put_dec((ar >> 13) & 3); pvh_putc('\n');
    pvh_puts(name); pvh_puts(".p="); pvh_put_dec((ar >> 15) & 1); pvh_putc('\n');
    pvh_puts(name); pvh_puts(".l="); pvh_put_dec((ar >> 21) & 1); pvh_putc('\n');
    pvh_puts(name); pvh_puts(".db="); pvh_put_dec((ar >> 22) & 1); pvh_putc('\n');
    pvh_puts(name); pvh_puts(".g="); pvh_put_dec((ar >> 23) & 1); pvh_putc('\n');
    if (lsl(sel, &limit)) {
        pvh_puts(name); pvh_puts(".limit="); pvh_put_hex(limit); pvh_putc('\n');
    }
    if (descriptor_base(sel, &base)) {
        pvh_puts(name); pvh_puts(".base="); pvh_put_hex(base); pvh_putc('\n');
    }
}

static void print_segments(void)
{
    static const char *const names[8] = {"cs", "ds", "es", "ss", "fs", "gs", "tr", "ldtr"};
    for (int i = 0; i < 8; i++)
        print_segment(names[i], entry_sel[i]);
}

/* A20: our cell has address bit 20 set (image at 1 MiB); with A20 masked a
 * write to it lands on the alias 1 MiB lower. The alias is restored. */
static void print_a20(void)
{
    volatile uint32_t *hi = &a20_cell[0];
    volatile uint32_t *lo = (volatile uint32_t *)((uintptr_t)hi - 0x100000);
    uint32_t saved = *lo;
    *lo = 0x11111111;
    *hi = 0x22222222;
    int wrapped = *lo == 0x22222222;
    *lo = saved;
    kv_hex("a20.cell", (uintptr_t)hi);
    kv_dec("a20", !wrapped);
}

static int bytes_sum_ok(const uint8_t *p, uint32_t n)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

static int is_rsdp_sig(const uint8_t *p)
{
    static const char sig[8] = {'R', 'S', 'D', ' ', 'P', 'T', 'R', ' '};
    for (int i = 0; i < 8; i++)
        if (p[i] != (uint8_t)sig[i])
            return 0;
    return 1;
}

static void print_rsdp_at(const char *prefix, uint64_t paddr)
{
    const uint8_t *p = pvh_ptr(paddr, 36);
    if (!p)
        return;
    pvh_puts(prefix); pvh_puts(".sig_ok="); pvh_put_dec(is_rsdp_sig(p)); pvh_putc('\n');
    pvh_puts(prefix); pvh_puts(".checksum_ok="); pvh_put_dec(bytes_sum_ok(p, 20)); pvh_putc('\n');
    pvh_puts(prefix); pvh_puts(".revision="); pvh_put_dec(p[15]); pvh_putc('\n');
    pvh_puts(prefix); pvh_puts(".rsdt="); pvh_put_hex(read_u32(p + 16)); pvh_putc('\n');
    if (p[15] >= 2) {
        uint32_t len = read_u32(p + 20);
        int ok = len >= 36 && len <= 4096 && bytes_sum_ok(p, len);
        pvh_puts(prefix); pvh_puts(".xchecksum_ok="); pvh_put_dec(ok); pvh_putc('\n');
    }
}

static void print_rsdp_scan(void)
{
    uint32_t found = 0;
    for (uint32_t a = 0xE0000; a < 0x100000; a += 16) {
        const uint8_t *p = (const uint8_t *)(uintptr_t)a;
        if (is_rsdp_sig(p) && bytes_sum_ok(p, 20)) {
            found = a;
            break;
        }
    }
    kv_hex("rsdp_scan", found);
}

static void print_modules(const struct hvm_start_info *si)
{
    uint32_t n = pvh_module_count(si);
    kv_dec("mod.count", n);
    for (uint32_t i = 0; i < n; i++) {
        const struct hvm_modlist_entry *m = pvh_module(si, i);
        key_idx("mod", i, "paddr"); pvh_put_hex(m->paddr); pvh_putc('\n');
        key_idx("mod", i, "size"); pvh_put_dec(m->size); pvh_putc('\n');
        key_idx("mod", i, "cmdline_paddr"); pvh_put_hex(m->cmdline_paddr); pvh_putc('\n');
        key_idx("mod", i, "cmdline"); pvh_put_cstr(m->cmdline_paddr); pvh_putc('\n');
    }
}

static void print_memmap(const struct hvm_start_info *si)
{
    uint32_t n = pvh_memmap_count(si);
    kv_dec("mem.count", n);
    for (uint32_t i = 0; i < n; i++) {
        const struct hvm_memmap_table_entry *e = pvh_memmap(si, i);
        key_idx("mem", i, "addr"); pvh_put_hex(e->addr); pvh_putc('\n');
        key_idx("mem", i, "size"); pvh_put_hex(e->size); pvh_putc('\n');
        key_idx("mem", i, "type"); pvh_put_dec(e->type); pvh_putc('\n');
    }
}

static void print_start_info(uint32_t paddr)
{
    kv_hex("si.addr", paddr);
    const struct hvm_start_info *si = pvh_ptr(paddr, sizeof(*si));
    if (!si) {
        kv_str("si.readable", "0");
        return;
    }
    kv_hex("si.magic", si->magic);
    if (si->magic != HVM_START_MAGIC_VALUE)
        return;
    kv_dec("si.version", si->version);
    kv_hex("si.flags", si->flags);
    kv_dec("si.nr_modules", si->nr_modules);
    kv_hex("si.modlist_paddr", si->modlist_paddr);
    kv_hex("si.cmdline_paddr", si->cmdline_paddr);
    kv_hex("si.rsdp_paddr", si->rsdp_paddr);
    kv_hex("si.memmap_paddr", si->memmap_paddr);
    kv_dec("si.memmap_entries", si->memmap_entries);
    pvh_puts("si.cmdline=");
    pvh_put_cstr(si->cmdline_paddr);
    pvh_putc('\n');
    print_modules(si);
    print_memmap(si);
    print_rsdp_at("rsdp", si->rsdp_paddr);
}

void probe_main(void)
{
    pvh_serial_init();
    kv_str("probe", "1");
    kv_hex("image", (uintptr_t)__image_start);
    print_registers();
    print_segments();
    print_a20();
    print_start_info(entry_regs[1]);
    print_rsdp_scan();
    kv_str("end", "1");
    pvh_exit(0);
}
