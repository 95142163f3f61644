/* The virtio devices' configuration a snapshot carries (its VIRTIO section,
 * pvhboot/snapfile.h): what restore needs to build the same devices in the
 * same MMIO slots and GSIs (each drive's file, read-only and cache modes,
 * id and size; each NIC's TAP, MAC and MTU; the console; the rng; vsock's
 * CID and UNIX socket), and the clone overrides `pvhboot restore` applies
 * to it (--drive id=NAME,path=FILE, --net, --vsock). Encoding and decoding
 * only: no file is opened here. The decoder checks every length, range and
 * string (a bad one is one line, "virtio config: ...") so that a hostile
 * state file never reaches the device constructors unchecked.
 *
 * Layout (little endian): u32 version (1), u32 devices; then per device in
 * slot order: u32 virtio ID, u32 slot, u64 MMIO base, u32 GSI, u32 body
 * length, the body. Bodies (strings are u16 length + bytes, no NUL):
 *   block:   u8 read-only, u8 cache (0 writeback, 1 none), u8 has id,
 *            u8 API flags (bit 0: the API's is_root_device, bit 1: its
 *            cache_type "Writeback"; recorded for GET /vm/config after a
 *            load, nothing else reads them; 0 before they were, so older
 *            snapshots load, and a pvhboot older than them refuses a
 *            section with one set), u64 capacity in 512-byte sectors,
 *            path, id (empty without one);
 *   net:     u8 has MAC, 6 bytes MAC, u8 has iface_id, u32 MTU (0: the
 *            TAP's own), TAP name, then the iface_id when it has one (a
 *            NIC the API built; 1 to 64 letters, digits and '_'; a
 *            pvhboot older than the flag refuses such a section);
 *   console, rng: empty;
 *   vsock:   u64 guest CID, UNIX socket path.
 * Slots follow pvhboot's order: drives, NICs, console, rng, vsock; slot i
 * sits at PVH_VIRTIO_MMIO_BASE + i * stride on pvh_layout_virtio_gsi(i). */
#ifndef PVHBOOT_VMM_VIRTIO_DEVCONFIG_H
#define PVHBOOT_VMM_VIRTIO_DEVCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvhboot/error.h"
#include "pvhboot/layout.h"
#include "pvhboot/vmm.h"

#define PVH_VCONFIG_VERSION 1
#define PVH_VCONFIG_MAX_STRING 4095
#define PVH_VCONFIG_DRIVE_ID_MAX 20
#define PVH_VCONFIG_STRINGS (2 * PVH_MAX_DRIVES + 2 * PVH_MAX_NETS + 1)
/* The most bytes an encoding takes. */
#define PVH_VCONFIG_MAX_BYTES \
    (8 + PVH_MAX_VIRTIO_DEVICES * (24 + 16) + PVH_VCONFIG_STRINGS * (2 + PVH_VCONFIG_MAX_STRING))

struct pvh_vconfig {
    size_t ndevices;
    uint32_t virtio_id[PVH_MAX_VIRTIO_DEVICES]; /* slot order */
    size_t ndrives;
    struct pvh_vm_drive drives[PVH_MAX_DRIVES];
    uint64_t capacity[PVH_MAX_DRIVES];          /* 512-byte sectors, as the guest was told */
    size_t nnets;
    struct pvh_vm_net nets[PVH_MAX_NETS];
    bool console, rng;
    struct pvh_vm_vsock vsock;                  /* uds_path NULL: no vsock */
    /* decoded strings (NUL-terminated copies) and overrides' copies */
    char arena[PVH_VCONFIG_STRINGS * 2 * (PVH_VCONFIG_MAX_STRING + 1)];
    size_t arena_used;
};

/* The devices of cfg in pvhboot's slot order, with the drives' capacities
 * (NULL: zeros); strings point into cfg (not copied). */
void pvh_vconfig_from(struct pvh_vconfig *vc, const struct pvh_vm_config *cfg, const uint64_t *capacity);

/* vc into buf (cap bytes; PVH_VCONFIG_MAX_BYTES always suffices); *len set.
 * -1 (err) for a string over PVH_VCONFIG_MAX_STRING or a buffer too small. */
int pvh_vconfig_encode(const struct pvh_vconfig *vc, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err);

/* buf[0, len) into *vc (strings copied into its arena): every field checked. */
int pvh_vconfig_decode(struct pvh_vconfig *vc, const uint8_t *buf, size_t len, struct pvh_error *err);

/* The clone overrides of `pvhboot restore` (their strings are copied):
 *   drives[i] (path, id set): the drive whose id is drives[i].id takes that
 *     file; an id the snapshot has not is refused;
 *   nets[i]: the NIC whose iface_id is nets[i].id (the API's
 *     network_overrides; an id the snapshot has not is refused), or without
 *     an id the i-th NIC, takes that TAP (and MAC when has_mac); more
 *     overrides than the snapshot has NICs are refused;
 *   vsock (uds_path set): the vsock device's socket, and its CID unless
 *     vsock.cid is 0 (the API's vsock_override keeps the snapshot's);
 *     refused when the snapshot has no vsock device. */
int pvh_vconfig_override(struct pvh_vconfig *vc, const struct pvh_vm_config *over, struct pvh_error *err);

/* vc's devices into cfg (drives, NICs, console, rng, vsock): cfg's strings
 * then point into vc, which must outlive it. */
void pvh_vconfig_apply(const struct pvh_vconfig *vc, struct pvh_vm_config *cfg);

#endif
