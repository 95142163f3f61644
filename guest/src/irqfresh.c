/* irqfresh: is an interrupt ever delivered on top of another, with
 * interrupts off? (tests/kvm/irqfresh.sh; docs/kvm-tests.md, "Interrupts
 * delivered twice"). The guest loads its own GDT and an IDT (vector 0x40:
 * the LAPIC timer's handler; every other vector prints "unexpected vector"
 * and exits 35), starts the LAPIC timer (periodic, 100 us, vector 0x40)
 * and, for each page of a 16 MiB buffer, reads a word of it, moves its
 * stack to the page's top and waits for a tick with interrupts on (hlt on
 * even pages, a spin on odd ones): the interrupt's frame is the page's
 * first write, so its delivery meets a nested page fault in KVM (a page
 * never touched; or, built with SNAPSHOT, a page of a restored snapshot's
 * memory, which KVM maps lazily). The handler counts every interrupt whose
 * saved EFLAGS has IF clear: none on a correct machine (the guest has
 * interrupts on only while it waits). It prints "ticks T if-off N eip E
 * mismatches M" (E: the saved eip of the last such interrupt; M: buffer
 * words that lost their value) and exits 33 when N and M are 0, else 34.
 * Built with SNAPSHOT (irqfresh_snap), it fills the buffer and asks for a
 * snapshot (port 0x5f4) first and does the rest once restored. */
#include "pvh_guest.h"

#define BUF_BYTES (16u * 1024 * 1024)
#define PAGES (BUF_BYTES / 4096)
#define STRIDE_WORDS 64u
#define LAPIC 0xfee00000u
#define TIMER_VECTOR 0x40

void guest_main(uint32_t start_info_paddr);
void timer_isr(void);
void other_isr(void);
void other_vector(uint32_t eip);

static volatile uint32_t buf[BUF_BYTES / 4] __attribute__((aligned(4096)));
#ifdef SNAPSHOT
#define STACKS buf /* restored lazily */
#else
static volatile uint32_t fresh[BUF_BYTES / 4] __attribute__((aligned(4096))); /* untouched before the ticks */
#define STACKS fresh
#endif
volatile uint32_t ticks, if_off, if_off_eip;

static uint64_t gdt[3] __attribute__((aligned(8))) = {0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull};
static uint64_t idt[256] __attribute__((aligned(8)));

__asm__(".text\n"
        ".globl timer_isr\n"
        "timer_isr:\n"
        "  pushl %eax\n"
        "  testl $0x200, 12(%esp)\n" /* the saved EFLAGS: eax, eip, cs, eflags */
        "  jnz 1f\n"
        "  incl if_off\n"
        "  movl 4(%esp), %eax\n"
        "  movl %eax, if_off_eip\n"
        "1:\n"
        "  incl ticks\n"
        "  movl $0, 0xfee000b0\n" /* EOI */
        "  popl %eax\n"
        "  iret\n"
        ".globl other_isr\n"
        "other_isr:\n"
        "  call other_vector\n");

void other_vector(uint32_t eip)
{
    pvh_puts("unexpected vector, eip ");
    pvh_put_hex(eip);
    pvh_putc('\n');
    pvh_exit(35);
}

static void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(LAPIC + reg) = v; }

static uint64_t gate(void (*fn)(void), uint16_t cs)
{
    uint32_t a = (uint32_t)(uintptr_t)fn;
    return (uint64_t)(a & 0xffff) | (uint64_t)cs << 16 | (uint64_t)0x8e00 << 32 | (uint64_t)(a >> 16) << 48;
}

static void load_tables(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } g = {sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt}, i = {sizeof(idt) - 1, (uint32_t)(uintptr_t)idt};
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n"
                     "1: movw $0x10, %%ax\n"
                     "movw %%ax, %%ds\n movw %%ax, %%es\n movw %%ax, %%ss\n movw %%ax, %%fs\n movw %%ax, %%gs\n"
                     : : "m"(g) : "eax", "memory");
    for (unsigned v = 0; v < 256; v++)
        idt[v] = gate(v == TIMER_VECTOR ? timer_isr : other_isr, 0x08);
    __asm__ volatile("lidt %0" : : "m"(i) : "memory");
}

static void start_timer(void)
{
    lapic_write(0xf0, 0x1ff);                    /* SVR: on, spurious vector 0xff */
    lapic_write(0x3e0, 0xb);                     /* divide by 1 */
    lapic_write(0x320, TIMER_VECTOR | 1u << 17); /* periodic */
    lapic_write(0x380, 100000);                  /* 100 us at KVM's 1 GHz */
}

/* One tick with the stack at top, interrupts on only meanwhile. */
static void tick_on_stack(uint32_t top, int halt)
{
    uint32_t t0 = ticks;
    if (halt)
        __asm__ volatile("movl %%esp, %%ebx\n movl %0, %%esp\n sti\n hlt\n cli\n movl %%ebx, %%esp\n"
                         : : "r"(top) : "ebx", "memory");
    else
        __asm__ volatile("movl %%esp, %%ebx\n movl %1, %%esp\n sti\n"
                         "1: pause\n cmpl %2, %0\n je 1b\n cli\n movl %%ebx, %%esp\n"
                         : "+m"(ticks) : "r"(top), "r"(t0) : "ebx", "memory");
}

static uint32_t value(uint32_t i) { return (i * 2654435761u) ^ 0x5a5a0000u; }

void guest_main(uint32_t start_info_paddr)
{
    (void)start_info_paddr;
    pvh_serial_init();
    load_tables();
    for (uint32_t i = 0; i < BUF_BYTES / 4; i += STRIDE_WORDS)
        buf[i] = value(i);
    pvh_puts("filled\n");
#ifdef SNAPSHOT
    pvh_snapshot();
#endif
    pvh_puts("ticking\n");
    start_timer();
    for (uint32_t p = 0; p < PAGES; p++) {
        (void)STACKS[p * 1024]; /* read first (volatile: the load happens) */
        tick_on_stack((uint32_t)(uintptr_t)&STACKS[p * 1024 + 1024], p & 1);
    }
    lapic_write(0x320, 1u << 16); /* masked */
    uint32_t bad = 0;
    for (uint32_t i = 0; i < BUF_BYTES / 4; i += STRIDE_WORDS)
        bad += buf[i] != value(i);
    pvh_puts("ticks ");
    pvh_put_dec(ticks);
    pvh_puts(" if-off ");
    pvh_put_dec(if_off);
    pvh_puts(" eip ");
    pvh_put_hex(if_off_eip);
    pvh_puts(" mismatches ");
    pvh_put_dec(bad);
    pvh_putc('\n');
    pvh_exit(if_off || bad ? 34 : 33);
}
