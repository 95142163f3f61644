/* legacy: what firmware-less kernels read from a PC's legacy hardware,
 * reported on COM1 for tests/run/legacy.t. The BIOS data area's COM1 port,
 * EBDA segment and base memory next to the memory map; the CMOS RTC's
 * status registers, the date and time read the way GNU Mach and Linux read
 * them (wait for UIP clear, then the registers), how long the seconds take
 * to tick twice (two updates: about a second apart), CMOS memory's RAM
 * sizes; the debug console: what port 0xe9 reads, and a line written to it.
 * Exits 0 through port 0xf4. */
#include "pvh_guest.h"

void guest_main(uint32_t start_info_paddr);

static uint8_t cmos(uint8_t reg)
{
    pvh_outb(0x70, reg);
    return pvh_inb(0x71);
}

static uint16_t cmos16(uint8_t reg) { return (uint16_t)(cmos(reg) | cmos((uint8_t)(reg + 1)) << 8); }

static void put_bcd(uint8_t b)
{
    pvh_putc((char)('0' + (b >> 4)));
    pvh_putc((char)('0' + (b & 15)));
}

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

/* Low physical memory (identity-mapped, paging off); the compiler is not
 * told the address, which it would take for a null pointer's neighbour. */
static uint16_t peek16(uintptr_t a)
{
    __asm__("" : "+r"(a));
    return *(const volatile uint16_t *)a;
}

static uint8_t peek8(uintptr_t a)
{
    __asm__("" : "+r"(a));
    return *(const volatile uint8_t *)a;
}

static void report_bda(const struct hvm_start_info *si)
{
    put_kv_hex("bda com1=", peek16(0x400));
    put_kv_hex(" equipment=", peek16(0x410));
    put_kv_hex(" ebda_segment=", peek16(0x40e));
    put_kv_dec(" base_kib=", peek16(0x413));
    put_kv_dec(" ebda_kib=", peek8((uintptr_t)peek16(0x40e) << 4));
    pvh_puts("\n");
    for (uint32_t i = 0; i < pvh_memmap_count(si); i++) {
        const struct hvm_memmap_table_entry *e = pvh_memmap(si, i);
        if (e->addr >= 0x100000)
            break;
        put_kv_hex("low_memmap addr=", e->addr);
        put_kv_hex(" size=", e->size);
        put_kv_dec(" type=", e->type);
        pvh_puts("\n");
    }
}

/* The time as Linux's mc146818_get_time reads it: UIP clear, then every register. */
static void report_time(void)
{
    while (cmos(0x0a) & 0x80) {
    }
    uint8_t sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04), mday = cmos(0x07);
    uint8_t mon = cmos(0x08), year = cmos(0x09), century = cmos(0x32);
    pvh_puts("rtc time=");
    put_bcd(century);
    put_bcd(year);
    pvh_putc('-');
    put_bcd(mon);
    pvh_putc('-');
    put_bcd(mday);
    pvh_putc('T');
    put_bcd(hour);
    pvh_putc(':');
    put_bcd(min);
    pvh_putc(':');
    put_bcd(sec);
    pvh_puts("Z\n");
}

/* Waits for the seconds register to change twice, counting UIP-set polls:
 * the first change ends a partial second, the second a whole one. */
static void report_ticks(void)
{
    uint32_t uip_seen = 0, polls = 0;
    for (int changes = 0; changes < 2; changes++) {
        uint8_t s = cmos(0x00);
        while (cmos(0x00) == s) {
            polls++;
            uip_seen += (cmos(0x0a) & 0x80) != 0;
        }
    }
    put_kv_dec("rtc ticked twice: polls=", polls);
    put_kv_dec(" uip_seen=", uip_seen);
    pvh_puts("\n");
}

static void report_rtc(void)
{
    put_kv_hex("rtc a=", cmos(0x0a));
    put_kv_hex(" b=", cmos(0x0b));
    put_kv_hex(" c=", cmos(0x0c));
    put_kv_hex(" d=", cmos(0x0d));
    pvh_puts("\n");
    put_kv_dec("cmos base_kib=", cmos16(0x15));
    put_kv_dec(" ext_kib=", cmos16(0x17));
    put_kv_dec(" above16m_64k=", cmos16(0x34));
    put_kv_dec(" cpus=", cmos(0x5f) + 1u);
    pvh_puts("\n");
    report_time();
    report_ticks();
    report_time();
}

static void report_debugcon(void)
{
    put_kv_hex("e9_read=", pvh_inb(0xe9));
    pvh_puts("\n");
    for (const char *s = "debugcon: hello from port 0xe9\n"; *s; s++)
        pvh_outb(0xe9, (uint8_t)*s);
}

void guest_main(uint32_t start_info_paddr)
{
    pvh_serial_init();
    pvh_puts("pvh legacy\n");
    const struct hvm_start_info *si = pvh_start_info(start_info_paddr);
    if (!si)
        pvh_exit(1);
    report_bda(si);
    report_rtc();
    report_debugcon();
    pvh_puts("legacy done\n");
    pvh_exit(0);
}
