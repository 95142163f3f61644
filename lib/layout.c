/* The machine description's few computed parts: which GSI each virtio-mmio
 * slot gets, and the names of virtio device types. */
#include "pvhboot/layout.h"

static const unsigned virtio_gsis[PVH_MAX_VIRTIO_DEVICES] = {
    5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
};

unsigned pvh_layout_virtio_gsi(size_t slot)
{
    return slot < PVH_MAX_VIRTIO_DEVICES ? virtio_gsis[slot] : 0;
}

const char *pvh_virtio_id_name(uint32_t virtio_id)
{
    switch (virtio_id) {
    case PVH_VIRTIO_ID_NET: return "virtio-net";
    case PVH_VIRTIO_ID_BLOCK: return "virtio-blk";
    case PVH_VIRTIO_ID_CONSOLE: return "virtio-console";
    case PVH_VIRTIO_ID_RNG: return "virtio-rng";
    case PVH_VIRTIO_ID_VSOCK: return "virtio-vsock";
    }
    return "virtio-?";
}
