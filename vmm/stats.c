/* The statistics --verbose prints: times, VM exits, serial bytes, unclaimed
 * accesses, RSS and guest RAM touched, read through /proc files opened at
 * the right moments (status before the sandbox, pagemap after --user); the
 * counters alone, each under its lock, while the VM runs (FlushMetrics). */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

static uint64_t since_start(const struct pvh_vm *vm, uint64_t t)
{
    return t && t > vm->cfg->start_ns ? t - vm->cfg->start_ns : 0;
}

/* A "KEY: N kB" line of /proc/self/status (VmRSS, VmHWM), read through an fd
 * opened before the sandbox (like /proc/self/pagemap for pvh_guestmem_resident). */
static uint64_t read_status_kib(int fd, const char *key)
{
    char buf[4096];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strstr(buf, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void collect_devices(struct pvh_vm *vm, struct pvh_vm_stats *st)
{
    st->ndevices = vm->nvdev;
    for (size_t i = 0; i < vm->nvdev; i++) {
        struct pvh_virtio_dev *d = vm->vdev[i].dev;
        struct pvh_device_stats *o = &st->devices[i];
        pthread_mutex_lock(&d->lock);
        *o = (struct pvh_device_stats){.virtio_id = d->ops->device_id, .base = d->base, .gsi = d->gsi,
                                       .requests = d->stats.requests, .bytes = d->stats.bytes,
                                       .notifications = d->stats.notifications,
                                       .interrupts = d->stats.interrupts, .errors = d->stats.errors};
        snprintf(o->name, sizeof(o->name), "%s", vm->vdev[i].name ? vm->vdev[i].name : "");
        memcpy(o->last_error, d->last_error, sizeof(o->last_error));
        pthread_mutex_unlock(&d->lock);
    }
}

/* The unclaimed accesses, under the table's lock (vCPUs add to it). */
static void collect_unhandled(struct pvh_vm *vm, struct pvh_vm_stats *st)
{
    struct pvh_unhandled_table *t = &vm->dev.unhandled;
    pthread_mutex_lock(&t->lock);
    const struct pvh_unhandled *u = &t->t;
    st->nunhandled = u->n < PVH_STATS_UNHANDLED ? u->n : PVH_STATS_UNHANDLED;
    for (size_t i = 0; i < st->nunhandled; i++) {
        st->unhandled[i].addr = u->e[i].addr;
        st->unhandled[i].mmio = u->e[i].mmio;
        st->unhandled[i].reads = u->e[i].reads;
        st->unhandled[i].writes = u->e[i].writes;
    }
    st->unhandled_other = u->other;
    pthread_mutex_unlock(&t->lock);
}

void pvh_stats_counters(struct pvh_vm *vm, struct pvh_vm_stats *st)
{
    collect_devices(vm, st);
    st->exits_io = vm->exits[PVH_EXIT_IO];
    st->exits_mmio = vm->exits[PVH_EXIT_MMIO];
    st->exits_hlt = vm->exits[PVH_EXIT_HLT];
    st->exits_intr = vm->exits[PVH_EXIT_INTR];
    st->exits_shutdown = vm->exits[PVH_EXIT_SHUTDOWN];
    st->exits_system_event = vm->exits[PVH_EXIT_SYSTEM_EVENT];
    st->exits_other = vm->exits[PVH_EXIT_OTHER];
    pthread_mutex_lock(&vm->dev.uart.lock);
    st->serial_bytes = vm->dev.uart.tx_bytes;
    pthread_mutex_unlock(&vm->dev.uart.lock);
    collect_unhandled(vm, st);
}

/* Once the vCPU threads are gone: where each vCPU stood (KVM_GET_REGS). */
static void collect_vcpu_ends(struct pvh_vm *vm, struct pvh_vm_stats *st)
{
    st->nvcpu_end = 0;
    for (unsigned i = 0; i < vm->ncpus && i < PVH_STATS_VCPUS; i++) {
        struct kvm_regs r;
        if (vm->vcpu[i].fd < 0 || ioctl(vm->vcpu[i].fd, KVM_GET_REGS, &r) != 0)
            break;
        st->vcpu_end[i].rip = r.rip;
        st->vcpu_end[i].rflags = r.rflags;
        st->nvcpu_end = i + 1;
    }
}

void pvh_stats_collect(struct pvh_vm *vm, const struct pvh_proc_files *pf, struct pvh_vm_stats *st)
{
    pvh_stats_counters(vm, st);
    st->ns_first_run = since_start(vm, vm->t_first_run_ns);
    st->ns_first_serial = since_start(vm, vm->t_first_serial_ns);
    st->ns_end = since_start(vm, vm->t_end_ns);
    st->ns_snapshot_written = since_start(vm, vm->t_snap_written_ns);
    st->ns_snapshot_asked = st->ns_snapshot_written ? since_start(vm, vm->t_snap_asked_ns) : 0;
    st->rss_kib = read_status_kib(pf->status, "VmRSS:");
    st->rss_peak_kib = read_status_kib(pf->status, "VmHWM:");
    st->guest_resident_kib = pvh_guestmem_resident(&vm->mem, pf->pagemap) / 1024;
    st->guest_resident_known = pf->pagemap >= 0;
    collect_vcpu_ends(vm, st);
}

void pvh_proc_files_open(struct pvh_proc_files *pf)
{
    pf->status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    pf->pagemap = -1;
}

/* After setup. Once --user has dropped root the process is not dumpable, its
 * /proc/self/pagemap is root's (mode 0400), and the open fails: the figure
 * is then unknown (pvh_stats_collect). */
void pvh_proc_files_open_pagemap(const struct pvh_vm_config *cfg, struct pvh_proc_files *pf)
{
    if (cfg->verbose)
        pf->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

void pvh_proc_files_close(struct pvh_proc_files *pf)
{
    if (pf->status >= 0)
        close(pf->status);
    if (pf->pagemap >= 0)
        close(pf->pagemap);
}
