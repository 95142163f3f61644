/* 8250/16550A UART on COM1 (0x3f8, IRQ 4): transmit is immediate (THR is
 * always empty, so LSR says THRE|TEMT), received bytes wait in a bounded
 * FIFO, interrupts for "data ready" and "transmitter empty" drive IRQ 4 (the
 * Linux 8250 driver's userspace console output waits for the latter), DLAB
 * divisor latches, scratch, FIFO control and modem loopback for the driver's
 * probe. Saved state (save/restore): the registers, the owed THRE
 * interrupt and the receive FIFO's bytes; the IRQ line follows from them. */
#include "uart8250.h"

#include "devstate.h"
#include "pvhboot/bytes.h"

#define UART_RBR_THR 0
#define UART_IER 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

void pvh_uart_init(struct pvh_uart *u, const struct pvh_io_hooks *hooks, unsigned irq)
{
    *u = (struct pvh_uart){.hooks = hooks, .irq = irq, .dll = 1};
    pthread_mutex_init(&u->lock, NULL);
}

static uint8_t pending_interrupt(const struct pvh_uart *u)
{
    if ((u->ier & IER_RDI) && u->rx_count)
        return IIR_RDI;
    if ((u->ier & IER_THRI) && u->thre_pending)
        return IIR_THRI;
    return IIR_NONE;
}

/* The line follows "an enabled interrupt is pending" (and OUT2, which gates
 * the line on PCs); KVM sees an edge when it goes 0 -> 1. */
static void update_irq(struct pvh_uart *u)
{
    int level = pending_interrupt(u) != IIR_NONE && (u->mcr & 0x08);
    if (level != u->irq_level && u->hooks->set_irq)
        u->hooks->set_irq(u->hooks->ctx, u->irq, level);
    u->irq_level = level;
}

static uint8_t rx_pop(struct pvh_uart *u)
{
    if (!u->rx_count)
        return 0;
    uint8_t c = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % PVH_UART_RX_SIZE;
    u->rx_count--;
    return c;
}

static size_t receive(struct pvh_uart *u, const uint8_t *buf, size_t len)
{
    size_t n = 0;
    for (; n < len && u->rx_count < PVH_UART_RX_SIZE; n++) {
        u->rx[(u->rx_head + u->rx_count) % PVH_UART_RX_SIZE] = buf[n];
        u->rx_count++;
    }
    update_irq(u);
    return n;
}

size_t pvh_uart_receive(struct pvh_uart *u, const uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&u->lock);
    size_t n = receive(u, buf, len);
    pthread_mutex_unlock(&u->lock);
    return n;
}

static void transmit(struct pvh_uart *u, uint8_t c)
{
    if (u->mcr & MCR_LOOP)
        receive(u, &c, 1);
    else if (u->hooks->output)
        u->hooks->output(u->hooks->ctx, &c, 1);
    u->tx_bytes++;
    u->thre_pending = 1;
}

/* In loopback the modem outputs feed the inputs: DTR->DSR, RTS->CTS,
 * OUT1->RI, OUT2->DCD; otherwise the line is up (DCD, DSR, CTS). */
static uint8_t modem_status(const struct pvh_uart *u)
{
    if (!(u->mcr & MCR_LOOP))
        return 0xb0;
    uint8_t m = u->mcr;
    return (uint8_t)((m & 0x01 ? 0x20 : 0) | (m & 0x02 ? 0x10 : 0) | (m & 0x04 ? 0x40 : 0) | (m & 0x08 ? 0x80 : 0));
}

static uint8_t read_reg(struct pvh_uart *u, uint16_t reg)
{
    switch (reg) {
    case UART_RBR_THR:
        if (u->lcr & LCR_DLAB)
            return u->dll;
        return rx_pop(u);
    case UART_IER:
        return u->lcr & LCR_DLAB ? u->dlm : u->ier;
    case UART_IIR_FCR: {
        uint8_t iir = pending_interrupt(u);
        if (iir == IIR_THRI)
            u->thre_pending = 0; /* reading IIR acknowledges THRE */
        return (uint8_t)(iir | (u->fcr & 0x01 ? IIR_FIFO : 0));
    }
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        return (uint8_t)(LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0));
    case UART_MSR:
        return modem_status(u);
    default:
        return u->scr;
    }
}

static void write_reg(struct pvh_uart *u, uint16_t reg, uint8_t v)
{
    switch (reg) {
    case UART_RBR_THR:
        if (u->lcr & LCR_DLAB)
            u->dll = v;
        else
            transmit(u, v);
        break;
    case UART_IER:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
            break;
        }
        if ((v & IER_THRI) && !(u->ier & IER_THRI))
            u->thre_pending = 1; /* enabling THRI with an empty THR interrupts */
        u->ier = v & 0x0f;
        break;
    case UART_IIR_FCR:
        if (v & 0x02) { /* clear the receive FIFO */
            u->rx_head = 0;
            u->rx_count = 0;
        }
        u->fcr = v & 0xc9;
        break;
    case UART_LCR:
        u->lcr = v;
        break;
    case UART_MCR:
        u->mcr = v & 0x1f;
        break;
    case UART_LSR:
    case UART_MSR:
        break; /* read-only */
    default:
        u->scr = v;
    }
}

static uint64_t uart_read(void *dev, uint64_t off, unsigned size)
{
    struct pvh_uart *u = dev;
    uint64_t v = read_reg(u, (uint16_t)(off & 7));
    if (size > 1)
        v |= 0xffffff00u; /* wider accesses: only the addressed byte is a register */
    update_irq(u);
    return v;
}

static void uart_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
    (void)size;
    struct pvh_uart *u = dev;
    write_reg(u, (uint16_t)(off & 7), (uint8_t)value);
    update_irq(u);
}

/* ---- saved state, version 1: ier lcr mcr scr dll dlm fcr thre_pending,
 * the FIFO's count (u16) and its bytes, oldest first */

#define STATE_VERSION 1
#define STATE_FIXED 11

static int uart_save(void *dev, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    struct pvh_uart *u = dev;
    size_t need = STATE_FIXED + u->rx_count;
    if (pvh_devstate_begin("uart8250", STATE_VERSION, buf, cap, need, err) != 0)
        return -1;
    const uint8_t regs[8] = {u->ier, u->lcr, u->mcr, u->scr, u->dll, u->dlm, u->fcr, u->thre_pending};
    for (size_t i = 0; i < sizeof(regs); i++)
        buf[1 + i] = regs[i];
    pvh_put_le16(buf + 9, (uint16_t)u->rx_count);
    for (unsigned i = 0; i < u->rx_count; i++)
        buf[STATE_FIXED + i] = u->rx[(u->rx_head + i) % PVH_UART_RX_SIZE];
    *len = need;
    return 0;
}

/* Values write_reg can leave: IER's low four bits, MCR's low five, FCR's
 * kept bits, a flag; a FIFO no fuller than its size. */
static int check_state(const uint8_t *buf, size_t len, struct pvh_error *err)
{
    if (pvh_devstate_open("uart8250", STATE_VERSION, buf, len, STATE_FIXED, err) != 0)
        return -1;
    if (buf[1] & ~0x0f)
        return pvh_devstate_bad(err, "uart8250", "IER 0x%02x has bits other than 0x0f", buf[1]);
    if (buf[3] & ~0x1f)
        return pvh_devstate_bad(err, "uart8250", "MCR 0x%02x has bits other than 0x1f", buf[3]);
    if (buf[7] & ~0xc9)
        return pvh_devstate_bad(err, "uart8250", "FCR 0x%02x has bits other than 0xc9", buf[7]);
    if (buf[8] > 1)
        return pvh_devstate_bad(err, "uart8250", "THRE pending %u is not 0 or 1", buf[8]);
    uint16_t count = pvh_le16(buf + 9);
    if (count > PVH_UART_RX_SIZE)
        return pvh_devstate_bad(err, "uart8250", "%u received bytes, more than the FIFO's %u", count,
                                PVH_UART_RX_SIZE);
    return pvh_devstate_length("uart8250", len, STATE_FIXED + (size_t)count, err);
}

static int uart_restore(void *dev, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    struct pvh_uart *u = dev;
    if (check_state(buf, len, err) != 0)
        return -1;
    u->ier = buf[1];
    u->lcr = buf[2];
    u->mcr = buf[3];
    u->scr = buf[4];
    u->dll = buf[5];
    u->dlm = buf[6];
    u->fcr = buf[7];
    u->thre_pending = buf[8];
    u->rx_head = 0;
    u->rx_count = pvh_le16(buf + 9);
    for (unsigned i = 0; i < u->rx_count; i++)
        u->rx[i] = buf[STATE_FIXED + i];
    update_irq(u);
    return 0;
}

const struct pvh_dev_ops pvh_uart_ops = {
    .name = "uart8250", .read = uart_read, .write = uart_write, .save = uart_save, .restore = uart_restore};
