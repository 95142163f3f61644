/* A fake VMM and host for the API's tests and its fuzzer (api/api.h's
 * ops): it records what the endpoints asked for; files whose path holds
 * "missing" do not exist, outputs go to /dev/null. */
#ifndef PVHBOOT_TESTS_API_FAKE_H
#define PVHBOOT_TESTS_API_FAKE_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../api/api.h"

struct api_fake {
    unsigned starts, ctrl_alt_dels, pauses, resumes, flushes, swaps, snapshots, loads;
    bool load_resumed;
    struct pvh_vm_config started;
    char swapped[64];
    bool fail_start;
};

static int fake_start(void *ctx, const struct pvh_vm_config *cfg, struct pvh_error *err)
{
    struct api_fake *f = ctx;
    if (f->fail_start)
        return pvh_fail(err, PVH_E_SYSTEM, "/dev/kvm: no such device");
    f->starts++;
    f->started = *cfg;
    return 0;
}

static int fake_ctrl_alt_del(void *ctx, struct pvh_error *err)
{
    (void)err;
    ((struct api_fake *)ctx)->ctrl_alt_dels++;
    return 0;
}

static int fake_pause(void *ctx, bool paused, struct pvh_error *err)
{
    (void)err;
    struct api_fake *f = ctx;
    if (paused)
        f->pauses++;
    else
        f->resumes++;
    return 0;
}

static int fake_open_output(void *ctx, const char *path, struct pvh_error *err)
{
    (void)ctx;
    if (strstr(path, "missing"))
        return pvh_fail(err, PVH_E_INPUT, "%s: no such file or directory", path);
    return open("/dev/null", O_WRONLY | O_CLOEXEC);
}

static int fake_flush(void *ctx, int fd, struct pvh_error *err)
{
    (void)fd, (void)err;
    ((struct api_fake *)ctx)->flushes++;
    return 0;
}

static int fake_swap(void *ctx, const char *id, const char *path, struct pvh_error *err)
{
    struct api_fake *f = ctx;
    if (strstr(path, "missing"))
        return pvh_fail(err, PVH_E_INPUT, "%s: no such file or directory", path);
    f->swaps++;
    snprintf(f->swapped, sizeof(f->swapped), "%s=%s", id, path);
    return 0;
}

static int fake_check_file(void *ctx, const char *path, bool want_write, struct pvh_error *err)
{
    (void)ctx, (void)want_write;
    return strstr(path, "missing") ? pvh_fail(err, PVH_E_INPUT, "%s: no such file or directory", path) : 0;
}

static int fake_snapshot_create(void *ctx, const char *state, const char *mem, struct pvh_error *err)
{
    if (strstr(state, "missing") || strstr(mem, "missing"))
        return pvh_fail(err, PVH_E_INPUT, "%s: no such file or directory", strstr(state, "missing") ? state : mem);
    ((struct api_fake *)ctx)->snapshots++;
    return 0;
}

/* The fake snapshot's NICs: iface_ids eth0 and eth1 (the API built them). */
static bool fake_snapshot_has_nic(const char *id)
{
    return !strcmp(id, "eth0") || !strcmp(id, "eth1");
}

/* The overrides checked as restore checks them (vmm/virtio/devconfig.c):
 * an iface_id the snapshot has not, vsock on a state file whose path holds
 * "novsock", a TAP whose name holds "missing" (it cannot be opened). */
static int fake_overrides(const struct pvh_vm_config *cfg, const char *state, struct pvh_error *err)
{
    for (size_t i = 0; i < cfg->nnets; i++) {
        const struct pvh_vm_net *n = &cfg->nets[i];
        if (n->id && !fake_snapshot_has_nic(n->id))
            return pvh_fail(err, PVH_E_INPUT, "%s: network override iface_id %s: the snapshot has no network "
                            "interface with that iface_id", state, n->id);
        if (strstr(n->tap, "missing"))
            return pvh_fail(err, PVH_E_INPUT, "%s: the snapshot's devices: TAP %s: no such device", state, n->tap);
    }
    if (cfg->vsock.uds_path && strstr(state, "novsock"))
        return pvh_fail(err, PVH_E_INPUT, "%s: vsock_override: the snapshot has no vsock device", state);
    return 0;
}

/* The fake snapshot's devices as the restore rebuilds them: drives rootfs
 * (the API's root drive, "Unsafe"), data (read-only, "Writeback") and one
 * without an id (a command line's --drive); NICs eth0 (with a MAC), eth1
 * and one without an iface_id (a command line's --net); virtio-rng; vsock
 * CID 5 on snap.sock unless the state file's path holds "novsock". cfg's
 * overrides applied as restore applies them: a drive by its id, a NIC by
 * its iface_id, vsock's socket (its CID stays). */
static void fake_restored_devices(struct pvh_vm_config *cfg, const char *state)
{
    struct pvh_vm_config over = *cfg;
    cfg->ndrives = 3;
    cfg->drives[0] = (struct pvh_vm_drive){.path = "snap-root.ext4", .id = "rootfs", .root = true};
    cfg->drives[1] = (struct pvh_vm_drive){.path = "snap-data.img", .id = "data", .read_only = true,
                                           .api_writeback = true};
    cfg->drives[2] = (struct pvh_vm_drive){.path = "snap-anon.img"};
    for (size_t i = 0; i < over.ndrives; i++)
        for (size_t k = 0; k < cfg->ndrives; k++)
            if (over.drives[i].id && cfg->drives[k].id && !strcmp(over.drives[i].id, cfg->drives[k].id))
                cfg->drives[k].path = over.drives[i].path;
    cfg->nnets = 3;
    cfg->nets[0] = (struct pvh_vm_net){.tap = "tap0", .id = "eth0", .has_mac = true,
                                       .mac = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02}};
    cfg->nets[1] = (struct pvh_vm_net){.tap = "tap5", .id = "eth1"};
    cfg->nets[2] = (struct pvh_vm_net){.tap = "tapcli"};
    for (size_t i = 0; i < over.nnets; i++)
        for (size_t k = 0; k < cfg->nnets; k++)
            if (over.nets[i].id && cfg->nets[k].id && !strcmp(over.nets[i].id, cfg->nets[k].id))
                cfg->nets[k].tap = over.nets[i].tap;
    cfg->rng = PVH_RNG_ON;
    cfg->vsock = strstr(state, "novsock") ? (struct pvh_vm_vsock){0}
                                          : (struct pvh_vm_vsock){.cid = 5, .uds_path = "snap.sock"};
    if (cfg->vsock.uds_path && over.vsock.uds_path)
        cfg->vsock.uds_path = over.vsock.uds_path;
}

/* A state file whose path holds "corrupt": refused as restore refuses one.
 * A restored machine has the fake snapshot's 3 vCPUs, 384 MiB and devices
 * (above); started keeps what the hook was handed. */
static int fake_snapshot_load(void *ctx, struct pvh_vm_config *cfg, const char *state, const char *mem,
                              bool resume, struct pvh_error *err)
{
    struct api_fake *f = ctx;
    (void)mem;
    if (strstr(state, "corrupt"))
        return pvh_fail(err, PVH_E_INPUT, "%s: not a pvhboot state file", state);
    if (fake_overrides(cfg, state, err))
        return -1;
    f->loads++;
    f->load_resumed = resume;
    f->started = *cfg;
    cfg->ncpus = 3;
    cfg->ram_size = 384ull << 20;
    fake_restored_devices(cfg, state);
    return 0;
}

static inline struct pvh_api_ops api_fake_ops(struct api_fake *f)
{
    return (struct pvh_api_ops){f, fake_start, fake_ctrl_alt_del, fake_pause, fake_open_output, fake_flush,
                                fake_swap, fake_check_file, fake_snapshot_create, fake_snapshot_load};
}

#endif
