/* hello32/hello64 body: prints the command line, the memory map and the
 * modules from start_info in the format of docs/guest-sdk.md, exits 0. */
#include "pvh_guest.h"

#if defined(__x86_64__)
#define HELLO_NAME "hello64"
#else
#define HELLO_NAME "hello32"
#endif

void guest_main(uint32_t start_info_paddr);

static void print_memmap(const struct hvm_start_info *si)
{
    uint32_t n = pvh_memmap_count(si);
    uint64_t usable = 0;
    pvh_puts("memmap_entries=");
    pvh_put_dec(n);
    pvh_puts("\n");
    for (uint32_t i = 0; i < n; i++) {
        const struct hvm_memmap_table_entry *e = pvh_memmap(si, i);
        pvh_puts("memmap ");
        pvh_put_dec(i);
        pvh_puts(" addr=");
        pvh_put_hex(e->addr);
        pvh_puts(" size=");
        pvh_put_hex(e->size);
        pvh_puts(" type=");
        pvh_put_dec(e->type);
        pvh_puts("\n");
        if (e->type == E820_TYPE_RAM)
            usable += e->size;
    }
    pvh_puts("usable_ram=");
    pvh_put_dec(usable);
    pvh_puts("\n");
}

static void print_modules(const struct hvm_start_info *si)
{
    uint32_t n = pvh_module_count(si);
    pvh_puts("modules=");
    pvh_put_dec(n);
    pvh_puts("\n");
    for (uint32_t i = 0; i < n; i++) {
        const struct hvm_modlist_entry *m = pvh_module(si, i);
        pvh_puts("module ");
        pvh_put_dec(i);
        pvh_puts(" paddr=");
        pvh_put_hex(m->paddr);
        pvh_puts(" size=");
        pvh_put_dec(m->size);
        pvh_puts(" cmdline=");
        pvh_put_cstr(m->cmdline_paddr);
        pvh_puts("\n");
    }
}

/* Exit status from a "pvh.exit=N" word in the command line, else 0. */
static uint32_t exit_status(uint64_t cmdline_paddr)
{
    static const char key[] = "pvh.exit=";
    const char *s = pvh_cstr(cmdline_paddr);
    if (!s)
        return 0;
    for (uint32_t i = 0; i < PVH_MAX_CMDLINE && s[i]; i++) {
        if (i != 0 && s[i - 1] != ' ')
            continue;
        uint32_t k = 0;
        while (key[k] && i + k < PVH_MAX_CMDLINE && s[i + k] == key[k])
            k++;
        if (key[k])
            continue;
        uint32_t v = 0;
        for (i += k; i < PVH_MAX_CMDLINE && s[i] >= '0' && s[i] <= '9' && v < 100000000u; i++)
            v = v * 10 + (uint32_t)(s[i] - '0');
        return v;
    }
    return 0;
}

void guest_main(uint32_t start_info_paddr)
{
    pvh_serial_init();
    pvh_puts("pvh " HELLO_NAME "\n");
    const char *why = pvh_start_info_check(start_info_paddr);
    if (why) {
        pvh_puts("error=");
        pvh_puts(why);
        pvh_puts("\n");
        if (!pvh_start_info(start_info_paddr))
            pvh_exit(1);
    }
    const struct hvm_start_info *si = pvh_start_info(start_info_paddr);
    pvh_puts("start_info=");
    pvh_put_hex(start_info_paddr);
    pvh_puts(" version=");
    pvh_put_dec(si->version);
    pvh_puts("\ncmdline=");
    pvh_put_cstr(si->cmdline_paddr);
    pvh_puts("\n");
    print_memmap(si);
    print_modules(si);
    uint32_t status = exit_status(si->cmdline_paddr);
    pvh_puts("exit=");
    pvh_put_dec(status);
    pvh_puts("\n");
    pvh_exit(status);
}
