/* mb1hello: a Multiboot 1 kernel that prints, on COM1, what its loader gave
 * it (format in docs/multiboot.md): the magic in %eax, the MBI flags,
 * mem_lower/mem_upper, the command line, the boot loader name, every module
 * and every memory map entry, then exits through port 0xf4 (0 when the
 * magic is right, 3 when not). Every MBI field is used only when its flag
 * is set, every count is capped, every address range-checked. */
#include "pvh_guest.h"

#define MB1_BOOTLOADER_MAGIC 0x2BADB002u
#define MBI_MEMORY (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)
#define MB1_MAX_MMAP 128u
#define LOW_END 0xa0000ull
#define HIGH_START 0x100000ull

struct mbi {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};

struct mb1_module {
    uint32_t mod_start, mod_end, string, reserved;
};

struct mb1_mmap {
    uint32_t size;
    uint32_t base_lo, base_hi, len_lo, len_hi, type; /* packed: 4-byte fields */
};

void mb1_main(uint32_t magic, uint32_t mbi_paddr);

static void put_kv_hex(const char *key, uint64_t v)
{
    pvh_puts(key);
    pvh_put_hex(v);
}

static void put_kv_dec(const char *key, uint64_t v)
{
    pvh_puts(key);
    pvh_put_dec(v);
}

static void print_modules(const struct mbi *mbi)
{
    uint32_t n = (mbi->flags & MBI_MODS) ? mbi->mods_count : 0;
    if (n > PVH_MAX_MODULES || !pvh_ptr(mbi->mods_addr, (uint64_t)n * sizeof(struct mb1_module)))
        n = 0;
    put_kv_dec("modules=", n);
    pvh_puts("\n");
    for (uint32_t i = 0; i < n; i++) {
        const struct mb1_module *m = (const struct mb1_module *)(uintptr_t)mbi->mods_addr + i;
        put_kv_dec("module ", i);
        put_kv_hex(" start=", m->mod_start);
        put_kv_hex(" end=", m->mod_end);
        put_kv_dec(" size=", m->mod_end >= m->mod_start ? m->mod_end - m->mod_start : 0);
        pvh_puts(" string=");
        pvh_put_cstr(m->string);
        pvh_puts("\n");
    }
}

/* Usable bytes of [base, base+len) that fall inside [lo, hi). */
static uint64_t usable_in(uint64_t base, uint64_t len, uint64_t lo, uint64_t hi)
{
    uint64_t a = base > lo ? base : lo, end = base + len, b = end < hi ? end : hi;
    return b > a ? b - a : 0;
}

static void print_mmap(const struct mbi *mbi)
{
    uint64_t low = 0, high = 0;
    uint32_t n = 0, len = (mbi->flags & MBI_MMAP) ? mbi->mmap_length : 0;
    if (!pvh_ptr(mbi->mmap_addr, len))
        len = 0;
    for (uint32_t off = 0; n < MB1_MAX_MMAP && off + sizeof(struct mb1_mmap) <= len; n++) {
        const struct mb1_mmap *e = (const struct mb1_mmap *)(uintptr_t)(mbi->mmap_addr + off);
        if (e->size < sizeof(struct mb1_mmap) - 4)
            break;
        uint64_t base = (uint64_t)e->base_hi << 32 | e->base_lo, size = (uint64_t)e->len_hi << 32 | e->len_lo;
        put_kv_dec("mmap ", n);
        put_kv_hex(" base=", base);
        put_kv_hex(" length=", size);
        put_kv_dec(" type=", e->type);
        pvh_puts("\n");
        if (e->type == 1) {
            low += usable_in(base, size, 0, LOW_END);
            high += usable_in(base, size, HIGH_START, ~0ull);
        }
        off += e->size + 4;
    }
    put_kv_dec("mmap_entries=", n);
    put_kv_dec("\nusable_low=", low);
    put_kv_dec(" usable_high=", high);
    pvh_puts("\n");
}

void mb1_main(uint32_t magic, uint32_t mbi_paddr)
{
    pvh_serial_init();
    pvh_puts("mb1 mb1hello\n");
    put_kv_hex("magic=", magic);
    pvh_puts("\n");
    const struct mbi *mbi = pvh_ptr(mbi_paddr, sizeof(struct mbi));
    if (magic != MB1_BOOTLOADER_MAGIC || !mbi) {
        pvh_puts("error=bad magic or MBI address\nexit=3\n");
        pvh_exit(3);
    }
    put_kv_hex("mbi=", mbi_paddr);
    put_kv_hex(" flags=", mbi->flags);
    pvh_puts("\n");
    if (mbi->flags & MBI_MEMORY) {
        put_kv_dec("mem_lower=", mbi->mem_lower);
        put_kv_dec(" mem_upper=", mbi->mem_upper);
    } else {
        pvh_puts("mem_lower=(none) mem_upper=(none)");
    }
    pvh_puts("\ncmdline=");
    pvh_put_cstr((mbi->flags & MBI_CMDLINE) ? mbi->cmdline : 0);
    pvh_puts("\nloader=");
    pvh_put_cstr((mbi->flags & MBI_LOADER_NAME) ? mbi->boot_loader_name : 0);
    pvh_puts("\n");
    print_modules(mbi);
    print_mmap(mbi);
    pvh_puts("exit=0\n");
    pvh_exit(0);
}
