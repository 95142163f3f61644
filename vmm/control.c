/* The API server's handle on a VM (struct pvh_vm_control): pvh_vm_run
 * attaches the VM once its guest runs and detaches it before the VM is
 * torn down, so a pause from the server's thread reaches a live VM or is
 * refused, never a freed one; the server waits here for InstanceStart's
 * outcome, reads the VM's counters for FlushMetrics (and, after a snapshot
 * load, its vCPU count, RAM and virtio devices as restored, copied for the
 * API's GET /vm/config) and swaps a drive's file for PATCH /drives and
 * writes a paused VM's snapshot for PUT /snapshot/create. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "virtio/devconfig.h"
#include "vm.h"

enum control_state { CONTROL_WAITING, CONTROL_RUNNING, CONTROL_OVER };

struct pvh_vm_control {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    enum control_state state;
    struct pvh_vm *vm; /* while CONTROL_RUNNING */
};

struct pvh_vm_control *pvh_vm_control_new(void)
{
    struct pvh_vm_control *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->changed, NULL);
    return c;
}

void pvh_vm_control_free(struct pvh_vm_control *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->changed);
    free(c);
}

static void set_state(struct pvh_vm_control *c, enum control_state state, struct pvh_vm *vm)
{
    pthread_mutex_lock(&c->lock);
    if (c->state != CONTROL_OVER) {
        c->state = state;
        c->vm = vm;
    }
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

void pvh_vm_control_attach(struct pvh_vm_control *c, struct pvh_vm *vm)
{
    set_state(c, CONTROL_RUNNING, vm);
}

void pvh_vm_control_detach(struct pvh_vm_control *c)
{
    set_state(c, CONTROL_OVER, NULL);
}

void pvh_vm_control_end(struct pvh_vm_control *c)
{
    set_state(c, CONTROL_OVER, NULL);
}

int pvh_vm_control_wait_running(struct pvh_vm_control *c)
{
    pthread_mutex_lock(&c->lock);
    while (c->state == CONTROL_WAITING)
        pthread_cond_wait(&c->changed, &c->lock);
    int rc = c->state == CONTROL_RUNNING ? 0 : -1;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int pvh_vm_ctrl_alt_del(struct pvh_vm_control *c, struct pvh_error *err)
{
    pthread_mutex_lock(&c->lock);
    if (c->state != CONTROL_RUNNING) {
        pthread_mutex_unlock(&c->lock);
        return pvh_fail(err, PVH_E_INPUT, "the microVM is not running");
    }
    struct pvh_i8042 *k = &c->vm->dev.i8042;
    pthread_mutex_lock(&k->lock);
    pvh_i8042_ctrl_alt_del(k);
    pthread_mutex_unlock(&k->lock);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int pvh_vm_pause(struct pvh_vm_control *c, bool paused, struct pvh_error *err)
{
    pthread_mutex_lock(&c->lock); /* held: the VM cannot be detached and freed meanwhile */
    if (c->state != CONTROL_RUNNING) {
        pthread_mutex_unlock(&c->lock);
        return pvh_fail(err, PVH_E_INPUT, "the microVM is not running");
    }
    pvh_vm_set_paused(c->vm, paused);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int pvh_vm_counters(struct pvh_vm_control *c, struct pvh_vm_stats *st, struct pvh_error *err)
{
    pthread_mutex_lock(&c->lock); /* held: the VM cannot be detached and freed meanwhile */
    if (c->state != CONTROL_RUNNING) {
        pthread_mutex_unlock(&c->lock);
        return pvh_fail(err, PVH_E_INPUT, "the microVM is not running");
    }
    pvh_stats_counters(c->vm, st);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int pvh_vm_swap_drive(struct pvh_vm_control *c, const char *id, const char *path, struct pvh_error *err)
{
    pthread_mutex_lock(&c->lock); /* held: the VM cannot be detached and freed meanwhile */
    if (c->state != CONTROL_RUNNING) {
        pthread_mutex_unlock(&c->lock);
        return pvh_fail(err, PVH_E_INPUT, "the microVM is not running");
    }
    int rc = pvh_machine_swap_drive(c->vm, id, path, err);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int pvh_vm_snapshot_create(struct pvh_vm_control *c, const char *state_path, const char *mem_path,
                           struct pvh_error *err)
{
    pthread_mutex_lock(&c->lock); /* held: the VM cannot be detached and freed meanwhile */
    int rc;
    if (c->state != CONTROL_RUNNING)
        rc = pvh_fail(err, PVH_E_INPUT, "the microVM is not running");
    else if (!atomic_load(&c->vm->paused))
        rc = pvh_fail(err, PVH_E_INPUT, "the microVM is not paused (PATCH /vm {\"state\": \"Paused\"} first)");
    else {
        pvh_vm_set_paused(c->vm, true); /* returns once every vCPU is parked (one resumed from a load may not be yet) */
        rc = pvh_snapshot_take_to(c->vm, state_path, mem_path, err);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static size_t string_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* The bytes the devices' strings take, each with its NUL (at least 1). */
static size_t strings_size(const struct pvh_vconfig *vc)
{
    size_t n = 1;
    for (size_t i = 0; i < vc->ndrives; i++)
        n += string_size(vc->drives[i].path) + string_size(vc->drives[i].id);
    for (size_t i = 0; i < vc->nnets; i++)
        n += string_size(vc->nets[i].tap) + string_size(vc->nets[i].id);
    return n + string_size(vc->vsock.uds_path);
}

/* s copied at *at (NULL stays NULL); *at moves past it. */
static const char *copy_at(char **at, const char *s)
{
    size_t n = string_size(s);
    if (!n)
        return NULL;
    char *k = memcpy(*at, s, n);
    *at += n;
    return k;
}

/* vc's devices into cfg, their strings copied into block (strings_size). */
static void devices_into(const struct pvh_vconfig *vc, struct pvh_vm_config *cfg, char *block)
{
    cfg->ndrives = vc->ndrives;
    for (size_t i = 0; i < vc->ndrives; i++) {
        cfg->drives[i] = vc->drives[i];
        cfg->drives[i].path = copy_at(&block, vc->drives[i].path);
        cfg->drives[i].id = copy_at(&block, vc->drives[i].id);
    }
    cfg->nnets = vc->nnets;
    for (size_t i = 0; i < vc->nnets; i++) {
        cfg->nets[i] = vc->nets[i];
        cfg->nets[i].tap = copy_at(&block, vc->nets[i].tap);
        cfg->nets[i].id = copy_at(&block, vc->nets[i].id);
    }
    cfg->vsock = (struct pvh_vm_vsock){.cid = vc->vsock.cid, .uds_path = copy_at(&block, vc->vsock.uds_path)};
    cfg->rng = vc->rng ? PVH_RNG_ON : PVH_RNG_OFF;
}

int pvh_vm_config_now(struct pvh_vm_control *c, struct pvh_vm_config *cfg, char **strings, struct pvh_error *err)
{
    struct pvh_vconfig *vc = malloc(sizeof(*vc)); /* only its device table is written (no arena) */
    if (!vc)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    pthread_mutex_lock(&c->lock); /* held: the VM cannot be detached and freed, nor a drive swapped, meanwhile */
    if (c->state != CONTROL_RUNNING) {
        pthread_mutex_unlock(&c->lock);
        free(vc);
        return pvh_fail(err, PVH_E_INPUT, "the microVM is not running");
    }
    pvh_machine_vconfig(c->vm, vc); /* its strings are the VM's: copied before the lock goes */
    char *block = malloc(strings_size(vc));
    if (block) {
        cfg->ncpus = c->vm->ncpus;
        cfg->ram_size = c->vm->cfg->ram_size;
        devices_into(vc, cfg, block);
    }
    pthread_mutex_unlock(&c->lock);
    free(vc);
    if (!block)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    *strings = block;
    return 0;
}
