/* The virtio devices' configuration in a snapshot (devconfig.h): built from
 * a run's configuration, encoded, decoded with every field checked (the
 * reader never reads past a length it has not compared with what is left),
 * the clone overrides applied, and given back as a run configuration. */
#include "devconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pvhboot/bytes.h"

#define DEVICE_HEADER 24
#define BLOCK_FIXED 12
#define NET_FIXED 12
#define VSOCK_FIXED 8
#define MIN_CID 3ull
#define MAX_CID 0xfffffffeull

__attribute__((format(printf, 2, 3))) static int bad(struct pvh_error *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return pvh_fail(err, PVH_E_INPUT, "virtio config: %s", msg);
}

void pvh_vconfig_from(struct pvh_vconfig *vc, const struct pvh_vm_config *cfg, const uint64_t *capacity)
{
    vc->ndevices = vc->ndrives = vc->nnets = 0;
    vc->arena_used = 0;
    for (size_t i = 0; i < cfg->ndrives && vc->ndevices < PVH_MAX_VIRTIO_DEVICES; i++) {
        vc->drives[vc->ndrives] = cfg->drives[i];
        vc->capacity[vc->ndrives++] = capacity ? capacity[i] : 0;
        vc->virtio_id[vc->ndevices++] = PVH_VIRTIO_ID_BLOCK;
    }
    for (size_t i = 0; i < cfg->nnets && vc->ndevices < PVH_MAX_VIRTIO_DEVICES; i++) {
        vc->nets[vc->nnets++] = cfg->nets[i];
        vc->virtio_id[vc->ndevices++] = PVH_VIRTIO_ID_NET;
    }
    vc->console = cfg->console == PVH_CONSOLE_VIRTIO && vc->ndevices < PVH_MAX_VIRTIO_DEVICES;
    if (vc->console)
        vc->virtio_id[vc->ndevices++] = PVH_VIRTIO_ID_CONSOLE;
    bool rng = cfg->rng == PVH_RNG_ON || (cfg->rng == PVH_RNG_AUTO && (vc->ndevices > 0 || cfg->vsock.uds_path));
    vc->rng = rng && vc->ndevices < PVH_MAX_VIRTIO_DEVICES;
    if (vc->rng)
        vc->virtio_id[vc->ndevices++] = PVH_VIRTIO_ID_RNG;
    vc->vsock = cfg->vsock.uds_path && vc->ndevices < PVH_MAX_VIRTIO_DEVICES ? cfg->vsock : (struct pvh_vm_vsock){0};
    if (vc->vsock.uds_path)
        vc->virtio_id[vc->ndevices++] = PVH_VIRTIO_ID_VSOCK;
}

/* ---- encoding ---- */

struct out {
    uint8_t *p;
    size_t len, cap;
    bool overflow;
};

static void put(struct out *o, const void *data, size_t n)
{
    if (n == 0)
        return;
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

static void put8(struct out *o, uint8_t v) { put(o, &v, 1); }

static void put32(struct out *o, uint32_t v)
{
    uint8_t b[4];
    pvh_put_le32(b, v);
    put(o, b, 4);
}

static void put64(struct out *o, uint64_t v)
{
    uint8_t b[8];
    pvh_put_le64(b, v);
    put(o, b, 8);
}

static int put_string(struct out *o, const char *s, struct pvh_error *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n > PVH_VCONFIG_MAX_STRING)
        return bad(err, "a name of %zu bytes, more than the %d a snapshot keeps", n, PVH_VCONFIG_MAX_STRING);
    uint8_t b[2];
    pvh_put_le16(b, (uint16_t)n);
    put(o, b, 2);
    put(o, s, n);
    return 0;
}

static int put_body(struct out *o, const struct pvh_vconfig *vc, uint32_t id, size_t drive, size_t nic,
                    struct pvh_error *err)
{
    switch (id) {
    case PVH_VIRTIO_ID_BLOCK: {
        const struct pvh_vm_drive *d = &vc->drives[drive];
        put8(o, d->read_only);
        put8(o, d->cache == PVH_CACHE_NONE);
        put8(o, d->id != NULL);
        put8(o, (uint8_t)(d->root | d->api_writeback << 1)); /* the API's, recorded only */
        put64(o, vc->capacity[drive]);
        return put_string(o, d->path, err) || put_string(o, d->id, err) ? -1 : 0;
    }
    case PVH_VIRTIO_ID_NET: {
        const struct pvh_vm_net *n = &vc->nets[nic];
        put8(o, n->has_mac);
        put(o, n->mac, 6);
        put8(o, n->id != NULL);
        put32(o, n->mtu);
        return put_string(o, n->tap, err) || (n->id && put_string(o, n->id, err)) ? -1 : 0;
    }
    case PVH_VIRTIO_ID_VSOCK:
        put64(o, vc->vsock.cid);
        return put_string(o, vc->vsock.uds_path, err);
    default: return 0; /* console, rng */
    }
}

int pvh_vconfig_encode(const struct pvh_vconfig *vc, uint8_t *buf, size_t cap, size_t *len, struct pvh_error *err)
{
    struct out o = {buf, 0, cap, false};
    size_t drive = 0, nic = 0;
    put32(&o, PVH_VCONFIG_VERSION);
    put32(&o, (uint32_t)vc->ndevices);
    for (size_t i = 0; i < vc->ndevices; i++) {
        uint32_t id = vc->virtio_id[i];
        put32(&o, id);
        put32(&o, (uint32_t)i);
        put64(&o, PVH_VIRTIO_MMIO_BASE + i * PVH_VIRTIO_MMIO_STRIDE);
        put32(&o, pvh_layout_virtio_gsi(i));
        size_t at = o.len;
        put32(&o, 0); /* the body's length, set below */
        if (put_body(&o, vc, id, drive, nic, err))
            return -1;
        if (!o.overflow)
            pvh_put_le32(buf + at, (uint32_t)(o.len - at - 4));
        drive += id == PVH_VIRTIO_ID_BLOCK;
        nic += id == PVH_VIRTIO_ID_NET;
    }
    if (o.overflow)
        return pvh_fail(err, PVH_E_SYSTEM, "virtio config: more than the %zu bytes given", cap);
    *len = o.len;
    return 0;
}

/* ---- decoding ---- */

struct in {
    const uint8_t *p;
    size_t len;
};

static bool take(struct in *i, size_t n, const uint8_t **at)
{
    if (n > i->len)
        return false;
    *at = i->p;
    i->p += n;
    i->len -= n;
    return true;
}

static char *keep(struct pvh_vconfig *vc, const void *s, size_t n)
{
    if (n + 1 > sizeof(vc->arena) - vc->arena_used)
        return NULL; /* cannot happen: the arena holds every string twice */
    char *k = vc->arena + vc->arena_used;
    memcpy(k, s, n);
    k[n] = '\0';
    vc->arena_used += n + 1;
    return k;
}

/* A string of the body: u16 length, then bytes without NUL. */
static int get_string(struct pvh_vconfig *vc, struct in *b, const char *what, size_t slot, char **out,
                      struct pvh_error *err)
{
    const uint8_t *h, *s;
    if (!take(b, 2, &h))
        return bad(err, "slot %zu: %s's length runs past its body", slot, what);
    size_t n = pvh_le16(h);
    if (!take(b, n, &s))
        return bad(err, "slot %zu: %s of %zu bytes runs past its body", slot, what, n);
    for (size_t k = 0; k < n; k++)
        if (s[k] < 0x20 || s[k] == 0x7f) /* NUL ends a C string; a newline would split an error line */
            return bad(err, "slot %zu: %s holds control character 0x%02x", slot, what, s[k]);
    *out = keep(vc, s, n);
    return *out ? 0 : bad(err, "slot %zu: no room for %s", slot, what);
}

static bool printable_id(const char *id)
{
    for (; *id; id++)
        if (*id < 0x21 || *id > 0x7e)
            return false;
    return true;
}

static int get_block(struct pvh_vconfig *vc, struct in *b, size_t slot, struct pvh_error *err)
{
    const uint8_t *f;
    if (vc->ndrives == PVH_MAX_DRIVES)
        return bad(err, "slot %zu: more than %d drives", slot, PVH_MAX_DRIVES);
    if (!take(b, BLOCK_FIXED, &f))
        return bad(err, "slot %zu: a drive's body shorter than %d bytes", slot, BLOCK_FIXED);
    if (f[0] > 1 || f[1] > 1 || f[2] > 1 || f[3] > 3)
        return bad(err, "slot %zu: drive flags %u/%u/%u/%u out of range", slot, f[0], f[1], f[2], f[3]);
    struct pvh_vm_drive *d = &vc->drives[vc->ndrives];
    char *path, *id;
    if (get_string(vc, b, "the drive's file", slot, &path, err) || get_string(vc, b, "the drive's id", slot, &id, err))
        return -1;
    if (!*path)
        return bad(err, "slot %zu: a drive without a file", slot);
    size_t idlen = strlen(id);
    if (f[2] ? idlen == 0 || idlen > PVH_VCONFIG_DRIVE_ID_MAX || !printable_id(id) : idlen != 0)
        return bad(err, "slot %zu: drive id of %zu bytes (1 to %d printable ones with the has-id flag, else none)",
                   slot, idlen, PVH_VCONFIG_DRIVE_ID_MAX);
    *d = (struct pvh_vm_drive){.path = path, .id = f[2] ? id : NULL, .read_only = f[0],
                               .cache = f[1] ? PVH_CACHE_NONE : PVH_CACHE_WRITEBACK, .root = f[3] & 1,
                               .api_writeback = f[3] >> 1};
    vc->capacity[vc->ndrives++] = pvh_le64(f + 4);
    return 0;
}

static int check_mac(const uint8_t *mac, size_t slot, struct pvh_error *err)
{
    static const uint8_t zero[6];
    if ((mac[0] & 1) || !memcmp(mac, zero, 6))
        return bad(err, "slot %zu: MAC %02x:%02x:%02x:%02x:%02x:%02x is multicast or zero", slot, mac[0], mac[1],
                   mac[2], mac[3], mac[4], mac[5]);
    return 0;
}

/* An iface_id: 1 to PVH_NET_ID_MAX letters, digits and '_'. */
static bool net_id_ok(const char *id)
{
    size_t n = strlen(id);
    for (const char *p = id; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') && *p != '_')
            return false;
    return n >= 1 && n <= PVH_NET_ID_MAX;
}

static int get_net(struct pvh_vconfig *vc, struct in *b, size_t slot, struct pvh_error *err)
{
    const uint8_t *f;
    char *tap, *id = NULL;
    if (vc->nnets == PVH_MAX_NETS)
        return bad(err, "slot %zu: more than %d NICs", slot, PVH_MAX_NETS);
    if (!take(b, NET_FIXED, &f))
        return bad(err, "slot %zu: a NIC's body shorter than %d bytes", slot, NET_FIXED);
    uint32_t mtu = pvh_le32(f + 8);
    if (f[0] > 1 || f[7] > 1 || (mtu != 0 && (mtu < 68 || mtu > 65535)))
        return bad(err, "slot %zu: NIC flags %u/%u or MTU %u out of range", slot, f[0], f[7], mtu);
    if (f[0] && check_mac(f + 1, slot, err))
        return -1;
    if (get_string(vc, b, "the NIC's TAP", slot, &tap, err))
        return -1;
    if (pvh_tap_name_check(tap) != PVH_TAP_NAME_OK)
        return bad(err, "slot %zu: a TAP name of %zu bytes is not one (1 to %d printable characters, no / : %% or "
                   "spaces)", slot, strlen(tap), PVH_TAP_NAME_MAX); /* not echoed: it may hold any byte */
    if (f[7] && get_string(vc, b, "the NIC's iface_id", slot, &id, err))
        return -1;
    if (id && !net_id_ok(id))
        return bad(err, "slot %zu: an iface_id of %zu bytes is not one (1 to %d letters, digits and '_')", slot,
                   strlen(id), PVH_NET_ID_MAX);
    struct pvh_vm_net *n = &vc->nets[vc->nnets++];
    *n = (struct pvh_vm_net){.tap = tap, .has_mac = f[0], .mtu = mtu, .id = id};
    memcpy(n->mac, f + 1, 6);
    return 0;
}

static int get_vsock(struct pvh_vconfig *vc, struct in *b, size_t slot, struct pvh_error *err)
{
    const uint8_t *f;
    if (!take(b, VSOCK_FIXED, &f))
        return bad(err, "slot %zu: a vsock body shorter than %d bytes", slot, VSOCK_FIXED);
    uint64_t cid = pvh_le64(f);
    if (cid < MIN_CID || cid > MAX_CID)
        return bad(err, "slot %zu: vsock CID %llu (3 to 4294967294)", slot, (unsigned long long)cid);
    char *uds;
    if (get_string(vc, b, "vsock's socket path", slot, &uds, err))
        return -1;
    if (!*uds)
        return bad(err, "slot %zu: vsock without a socket path", slot);
    vc->vsock = (struct pvh_vm_vsock){.cid = cid, .uds_path = uds};
    return 0;
}

/* The rank of a device type in the slot order; -1: not one pvhboot has. */
static int rank(uint32_t id)
{
    switch (id) {
    case PVH_VIRTIO_ID_BLOCK: return 0;
    case PVH_VIRTIO_ID_NET: return 1;
    case PVH_VIRTIO_ID_CONSOLE: return 2;
    case PVH_VIRTIO_ID_RNG: return 3;
    case PVH_VIRTIO_ID_VSOCK: return 4;
    default: return -1;
    }
}

static int get_device(struct pvh_vconfig *vc, struct in *in, size_t slot, int *last_rank, struct pvh_error *err)
{
    const uint8_t *h, *body;
    if (!take(in, DEVICE_HEADER, &h))
        return bad(err, "slot %zu: its header runs past the section's end", slot);
    uint32_t id = pvh_le32(h), index = pvh_le32(h + 4), gsi = pvh_le32(h + 16), blen = pvh_le32(h + 20);
    uint64_t base = pvh_le64(h + 8);
    int r = rank(id);
    if (r < 0)
        return bad(err, "slot %zu: virtio device ID %u is not one pvhboot has", slot, id);
    if (r < *last_rank || (r == *last_rank && r >= 2))
        return bad(err, "slot %zu: %s out of pvhboot's order (drives, NICs, console, rng, vsock; one of each of the "
                   "last three)", slot, pvh_virtio_id_name(id));
    *last_rank = r;
    if (index != slot || base != PVH_VIRTIO_MMIO_BASE + slot * PVH_VIRTIO_MMIO_STRIDE ||
        gsi != pvh_layout_virtio_gsi(slot))
        return bad(err, "slot %zu: slot %u at %#llx on GSI %u is not where pvhboot puts it", slot, index,
                   (unsigned long long)base, gsi);
    if (!take(in, blen, &body))
        return bad(err, "slot %zu: a body of %u bytes runs past the section's end", slot, blen);
    struct in b = {body, blen};
    int rc = 0;
    if (id == PVH_VIRTIO_ID_BLOCK)
        rc = get_block(vc, &b, slot, err);
    else if (id == PVH_VIRTIO_ID_NET)
        rc = get_net(vc, &b, slot, err);
    else if (id == PVH_VIRTIO_ID_VSOCK)
        rc = get_vsock(vc, &b, slot, err);
    vc->console |= id == PVH_VIRTIO_ID_CONSOLE;
    vc->rng |= id == PVH_VIRTIO_ID_RNG;
    if (rc == 0 && b.len != 0)
        return bad(err, "slot %zu: %zu bytes after the %s's body", slot, b.len, pvh_virtio_id_name(id));
    vc->virtio_id[slot] = id;
    return rc;
}

int pvh_vconfig_decode(struct pvh_vconfig *vc, const uint8_t *buf, size_t len, struct pvh_error *err)
{
    vc->ndevices = vc->ndrives = vc->nnets = 0;
    vc->console = vc->rng = false;
    vc->vsock = (struct pvh_vm_vsock){0};
    vc->arena_used = 0;
    if (len < 8)
        return bad(err, "section of %zu bytes, fewer than 8", len);
    if (pvh_le32(buf) != PVH_VCONFIG_VERSION)
        return bad(err, "version %u, this pvhboot reads %d", pvh_le32(buf), PVH_VCONFIG_VERSION);
    uint32_t n = pvh_le32(buf + 4);
    if (n > PVH_MAX_VIRTIO_DEVICES)
        return bad(err, "%u devices, more than a machine has (%d)", n, PVH_MAX_VIRTIO_DEVICES);
    struct in in = {buf + 8, len - 8};
    int last_rank = 0;
    for (size_t i = 0; i < n; i++)
        if (get_device(vc, &in, i, &last_rank, err))
            return -1;
    vc->ndevices = n;
    if (in.len != 0)
        return bad(err, "%zu bytes after the last device", in.len);
    return 0;
}

/* ---- overrides ---- */

static int copy_string(struct pvh_vconfig *vc, const char *s, const char **out, struct pvh_error *err)
{
    size_t n = strlen(s);
    if (n > PVH_VCONFIG_MAX_STRING)
        return pvh_fail(err, PVH_E_INPUT, "'%.40s...': %zu bytes, at most %d", s, n, PVH_VCONFIG_MAX_STRING);
    *out = keep(vc, s, n);
    return *out ? 0 : pvh_fail(err, PVH_E_INPUT, "no room for '%.40s'", s);
}

static int override_drive(struct pvh_vconfig *vc, const struct pvh_vm_drive *o, struct pvh_error *err)
{
    for (size_t k = 0; k < vc->ndrives; k++)
        if (vc->drives[k].id && o->id && !strcmp(vc->drives[k].id, o->id))
            return copy_string(vc, o->path, &vc->drives[k].path, err);
    return pvh_fail(err, PVH_E_INPUT, "--drive id=%s: the snapshot has no drive with that id",
                    o->id ? o->id : "(none)");
}

/* The NIC an override goes to: the one with its iface_id, else the next by position (*next). */
static struct pvh_vm_net *override_target(struct pvh_vconfig *vc, const struct pvh_vm_net *o, size_t *next,
                                          struct pvh_error *err)
{
    if (!o->id)
        return &vc->nets[(*next)++]; /* override_nets counted them */
    for (size_t k = 0; k < vc->nnets; k++)
        if (vc->nets[k].id && !strcmp(vc->nets[k].id, o->id))
            return &vc->nets[k];
    pvh_fail(err, PVH_E_INPUT, "network override iface_id %.64s: the snapshot has no network interface with that "
             "iface_id", o->id);
    return NULL;
}

static int override_nets(struct pvh_vconfig *vc, const struct pvh_vm_config *over, struct pvh_error *err)
{
    size_t by_position = 0, next = 0;
    for (size_t i = 0; i < over->nnets; i++)
        by_position += !over->nets[i].id;
    if (by_position > vc->nnets)
        return pvh_fail(err, PVH_E_INPUT, "--net given %zu times; the snapshot has %zu NIC%s", by_position, vc->nnets,
                        vc->nnets == 1 ? "" : "s");
    for (size_t i = 0; i < over->nnets; i++) {
        struct pvh_vm_net *n = override_target(vc, &over->nets[i], &next, err);
        if (!n || copy_string(vc, over->nets[i].tap, &n->tap, err))
            return -1;
        if (over->nets[i].has_mac) {
            n->has_mac = true;
            memcpy(n->mac, over->nets[i].mac, 6);
        }
    }
    return 0;
}

int pvh_vconfig_override(struct pvh_vconfig *vc, const struct pvh_vm_config *over, struct pvh_error *err)
{
    for (size_t i = 0; i < over->ndrives; i++)
        if (override_drive(vc, &over->drives[i], err))
            return -1;
    if (override_nets(vc, over, err))
        return -1;
    if (over->vsock.uds_path) {
        if (!vc->vsock.uds_path)
            return pvh_fail(err, PVH_E_INPUT, "%s: the snapshot has no vsock device",
                            over->vsock.cid ? "--vsock" : "vsock_override");
        if (over->vsock.cid) /* 0: the snapshot's CID stays (the API's vsock_override) */
            vc->vsock.cid = over->vsock.cid;
        return copy_string(vc, over->vsock.uds_path, &vc->vsock.uds_path, err);
    }
    return 0;
}

void pvh_vconfig_apply(const struct pvh_vconfig *vc, struct pvh_vm_config *cfg)
{
    cfg->ndrives = vc->ndrives;
    memcpy(cfg->drives, vc->drives, vc->ndrives * sizeof(vc->drives[0]));
    cfg->nnets = vc->nnets;
    memcpy(cfg->nets, vc->nets, vc->nnets * sizeof(vc->nets[0]));
    cfg->console = vc->console ? PVH_CONSOLE_VIRTIO : PVH_CONSOLE_SERIAL;
    cfg->rng = vc->rng ? PVH_RNG_ON : PVH_RNG_OFF;
    cfg->vsock = vc->vsock;
}
