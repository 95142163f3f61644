/* virtio-console (virtio 1.2 5.3; device ID 3) with one port and no
 * VIRTIO_CONSOLE_F_MULTIPORT: receiveq0 (queue 0, host to guest) and
 * transmitq0 (queue 1, guest to host). Guest output goes to an output
 * callback (the VMM's console writer, the UART's) many bytes per call, where
 * the 8250 costs a VM exit per byte. Host input is copied into the receive
 * buffers the guest posted, as much as fits: pvh_vconsole_receive says how
 * much it took, and the caller keeps the rest (nothing is queued here).
 * Offers VIRTIO_CONSOLE_F_EMERG_WRITE (a character written to emerg_wr in
 * the configuration space is output at once), and VIRTIO_CONSOLE_F_SIZE only
 * when the VMM knows the terminal's size. */
#ifndef PVHBOOT_VMM_VIRTIO_CONSOLE_H
#define PVHBOOT_VMM_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_CONSOLE_F_SIZE (1ull << 0)
#define VIRTIO_CONSOLE_F_MULTIPORT (1ull << 1)
#define VIRTIO_CONSOLE_F_EMERG_WRITE (1ull << 2)

/* struct virtio_console_config (5.3.4) */
#define VIRTIO_CONSOLE_CFG_COLS 0
#define VIRTIO_CONSOLE_CFG_ROWS 2
#define VIRTIO_CONSOLE_CFG_MAX_NR_PORTS 4
#define VIRTIO_CONSOLE_CFG_EMERG_WR 8
#define VIRTIO_CONSOLE_CFG_SIZE 12

#define PVH_VCONSOLE_RX 0                  /* receiveq0 */
#define PVH_VCONSOLE_TX 1                  /* transmitq0 */
#define PVH_VCONSOLE_QUEUE_MAX 128         /* QueueNumMax of both */
#define PVH_VCONSOLE_STAGE (4u << 10)      /* smaller buffers are gathered into one output call */
#define PVH_VCONSOLE_CHAIN_MAX (1u << 20)  /* bytes output from one transmit chain; the rest dropped */
#define PVH_VCONSOLE_RUN_MAX (1u << 20)    /* after this many bytes a transmit run yields */

struct pvh_vconsole_config {
    /* Takes len > 0 bytes of guest output; may block (back-pressure). */
    void (*output)(void *ctx, const uint8_t *buf, size_t len);
    void *ctx;
    uint16_t cols, rows; /* the terminal's size; 0 x 0: VIRTIO_CONSOLE_F_SIZE is not offered */
};

/* The device: the transport's state plus the console's own. Caller-owned
 * (about 6 KiB). */
struct pvh_vconsole {
    struct pvh_virtio_dev dev;
    struct pvh_vconsole_config cfg;
    uint64_t rx_bytes, tx_bytes;   /* delivered to the guest, output from it */
    uint64_t emerg_bytes;          /* output through emerg_wr */
    uint64_t dropped;              /* transmit bytes past PVH_VCONSOLE_CHAIN_MAX in a chain */
    uint64_t output_calls;
    size_t staged;
    uint8_t stage[PVH_VCONSOLE_STAGE];
    struct pvh_vchain *chain;      /* the chain being served (scratch) */
};

extern const struct pvh_virtio_device_ops pvh_vconsole_ops;      /* without VIRTIO_CONSOLE_F_SIZE */
extern const struct pvh_virtio_device_ops pvh_vconsole_size_ops; /* with it */

/* Sets up c as a virtio-console device at base/gsi. -1 (err) without an
 * output callback, or with only one of cols and rows. */
int pvh_vconsole_init(struct pvh_vconsole *c, const struct pvh_vconsole_config *cfg,
                      const struct pvh_virtio_env *env, uint64_t base, uint32_t gsi, struct pvh_error *err);
void pvh_vconsole_destroy(struct pvh_vconsole *c);

/* Host input: copies up to len bytes into the receive buffers the guest
 * posted (each used buffer returned with what it got, the driver
 * interrupted) and returns how many it took: 0 when the device is not
 * running or has no buffer posted. The caller keeps the rest and offers it
 * again later. Takes the device's lock. */
size_t pvh_vconsole_receive(struct pvh_virtio_dev *d, const uint8_t *buf, size_t len);

/* The terminal was resized: new cols/rows and a configuration interrupt,
 * when VIRTIO_CONSOLE_F_SIZE is offered (else nothing). Takes the lock. */
void pvh_vconsole_resize(struct pvh_virtio_dev *d, uint16_t cols, uint16_t rows);

#endif
