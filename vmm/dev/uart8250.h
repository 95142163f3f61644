/* 8250/16550A UART (COM1): registers, a bounded receive FIFO, its IRQ line. */
#ifndef PVHBOOT_VMM_DEV_UART8250_H
#define PVHBOOT_VMM_DEV_UART8250_H

#include <pthread.h>

#include "device.h"

#define PVH_UART_RX_SIZE 256
struct pvh_uart {
    pthread_mutex_t lock; /* vCPUs and the console input thread */
    const struct pvh_io_hooks *hooks;
    unsigned irq;
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t thre_pending; /* the transmitter-empty interrupt is owed */
    uint8_t rx[PVH_UART_RX_SIZE];
    unsigned rx_head, rx_count;
    int irq_level;
    uint64_t tx_bytes;
};
extern const struct pvh_dev_ops pvh_uart_ops;
void pvh_uart_init(struct pvh_uart *u, const struct pvh_io_hooks *hooks, unsigned irq);
/* Queues received bytes (console input) under the UART's lock; returns how
 * many fitted. */
size_t pvh_uart_receive(struct pvh_uart *u, const uint8_t *buf, size_t len);

#endif
