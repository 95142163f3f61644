/* pvh_vm_run: from a config to a finished VM. Reads the kernel and modules,
 * plans the layout, creates the KVM machine, loads the kernel segments and
 * modules into guest RAM (mapped from their files or copied) and writes the
 * boot data (all through the checked accessor), sets vCPU 0 to the entry
 * state of the image's protocol (PVH or Multiboot 1: the library decides),
 * runs, and collects the statistics --verbose prints. --dry-run stops before
 * KVM: guest RAM is only mapped, loaded and written. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pvhboot/bootdata.h"
#include "pvhboot/file.h"
#include "pvhboot/image.h"
#include "pvhboot/plan.h"
#include "pvhboot/sandbox.h"
#include "vm.h"

struct boot_inputs {
    struct pvh_file kernel;
    struct pvh_file module[PVH_MAX_MODULES];
    struct pvh_module_spec spec[PVH_MAX_MODULES];
    struct pvh_image image;
    struct pvh_plan_request req;
    struct pvh_plan plan;
};

static int read_inputs(const struct pvh_vm_config *cfg, struct boot_inputs *in, struct pvh_error *err)
{
    in->kernel.fd = -1;
    for (size_t i = 0; i < PVH_MAX_MODULES; i++)
        in->module[i].fd = -1;
    if (pvh_file_open(&in->kernel, cfg->kernel, err))
        return -1;
    const char *name = cfg->kernel_name ? cfg->kernel_name : cfg->kernel;
    int parsed = pvh_image_parse(in->kernel.data, in->kernel.size, name, &in->image, err);
    if (pvh_file_check(&in->kernel, err) || parsed) /* a shrunk file's zeros would mislead the parser's diagnosis */
        return -1;
    for (size_t i = 0; i < cfg->nmodules; i++) {
        if (pvh_file_open(&in->module[i], cfg->modules[i].path, err))
            return -1;
        in->spec[i] = (struct pvh_module_spec){cfg->modules[i].path, in->module[i].size, cfg->modules[i].cmdline};
    }
    in->req = (struct pvh_plan_request){.ram_size = cfg->ram_size, .ncpus = cfg->ncpus, .image = &in->image,
                                        .cmdline = cfg->cmdline, .nmodules = cfg->nmodules, .modules = in->spec,
                                        .relocate = cfg->kaslr, .seed = cfg->seed};
    return pvh_plan_build(&in->req, &in->plan, err);
}

static void close_inputs(struct boot_inputs *in, size_t nmodules)
{
    for (size_t i = 0; i < nmodules; i++)
        pvh_file_close(&in->module[i]);
    pvh_file_close(&in->kernel);
}

/* len bytes of f from offset into guest RAM at gpa (mapped or copied, as
 * --load says and the alignment allows), counted in the stats. */
static int load_file_bytes(struct pvh_vm *vm, uint64_t gpa, const struct pvh_file *f, uint64_t offset, uint64_t len,
                           const char *what, struct pvh_vm_stats *st, struct pvh_error *err)
{
    uint64_t mapped = 0;
    if (pvh_guestmem_load(&vm->mem, gpa, f, offset, len, vm->cfg->load, what, &mapped, err))
        return -1;
    st->bytes_mapped += mapped;
    st->bytes_copied += len - mapped;
    return 0;
}

/* Kernel segments (the bss stays zero: fresh anonymous memory), then the
 * modules, then the boot data. Each file is checked once its bytes are in:
 * a file that changed meanwhile fails the setup (pvh_file_check). */
static int load_guest(struct pvh_vm *vm, struct boot_inputs *in, struct pvh_vm_stats *st, struct pvh_error *err)
{
    char what[64];
    uint64_t t0 = pvh_now_ns();
    for (size_t i = 0; i < in->image.nsegments; i++) {
        const struct pvh_segment *s = &in->image.seg[i];
        snprintf(what, sizeof(what), "%s: kernel segment %zu", in->kernel.path, i);
        if (load_file_bytes(vm, s->paddr + (uint64_t)in->plan.kernel_shift, &in->kernel, s->offset, s->filesz, what,
                            st, err))
            return -1;
    }
    if (pvh_file_check(&in->kernel, err))
        return -1;
    for (size_t i = 0; i < in->req.nmodules; i++) {
        const struct pvh_file *m = &in->module[i];
        snprintf(what, sizeof(what), "%s: module %zu", m->path, i);
        if (load_file_bytes(vm, in->plan.module_addr[i], m, 0, m->size, what, st, err) || pvh_file_check(m, err))
            return -1;
    }
    int rc = pvh_bootdata_write(&in->req, &in->plan, pvh_guestmem_write, &vm->mem, err);
    uint64_t t1 = pvh_now_ns();
    st->ns_load = t1 - t0;
    st->ns_loaded = t1 > vm->cfg->start_ns ? t1 - vm->cfg->start_ns : 0;
    return rc;
}

/* Guest output is written through, never queued. A console that does not
 * take it (a full pipe, a stopped terminal) holds the vCPU here, and the
 * VM's end (--timeout, another vCPU) still gets it out: poll, waking every
 * 100 ms to look, comes before each write. */
static void serial_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct pvh_vm *vm = ctx;
    if (!vm->t_first_serial_ns)
        vm->t_first_serial_ns = pvh_now_ns();
    while (vm->serial_fd >= 0 && len > 0 && !atomic_load(&vm->ending)) {
        struct pollfd p = {.fd = vm->serial_fd, .events = POLLOUT};
        int ready = poll(&p, 1, 100);
        if (ready == 0 || (ready < 0 && errno == EINTR))
            continue;
        ssize_t n = ready < 0 ? -1 : write(vm->serial_fd, buf, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break; /* output closed (EPIPE: run.c ignores SIGPIPE): the guest keeps running, unheard */
        buf += n;
        len -= (size_t)n;
    }
}

/* COM1's output. --serial file:PATH is created or truncated, often by root
 * in a directory others can write: a symbolic link there is refused, never
 * followed (O_NOFOLLOW), and a terminal there does not become ours. Also
 * for --dry-run, which thereby says whether the real run could open it. */
static int open_serial(struct pvh_vm *vm, struct pvh_error *err)
{
    vm->serial_fd = -1;
    if (vm->cfg->serial == PVH_SERIAL_STDIO)
        vm->serial_fd = STDOUT_FILENO;
    if (vm->cfg->serial == PVH_SERIAL_FILE) {
        const char *path = vm->cfg->serial_path;
        vm->serial_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (vm->serial_fd < 0 && errno == ELOOP)
            return pvh_fail(err, PVH_E_INPUT, "--serial file:%s: a symbolic link; pvhboot does not follow one "
                            "there: name the file itself", path);
        if (vm->serial_fd < 0)
            return pvh_fail(err, PVH_E_INPUT, "--serial file:%s: %s", path, strerror(errno));
    }
    vm->hooks = (struct pvh_io_hooks){vm, pvh_kvm_set_irq, pvh_vm_end, serial_output};
    pvh_devices_init(&vm->dev, &vm->hooks);
    return 0;
}

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

/* Opened before the sandbox; -1 when not needed or not readable. pagemap
 * only once setup is over, after --user's drop: opened as root it would go
 * on giving physical frame numbers to the unprivileged process. */
struct proc_files {
    int status, pagemap;
};

static void collect_stats(struct pvh_vm *vm, const struct proc_files *pf, struct pvh_vm_stats *st)
{
    st->ns_first_run = since_start(vm, vm->t_first_run_ns);
    st->ns_first_serial = since_start(vm, vm->t_first_serial_ns);
    st->ns_end = since_start(vm, vm->t_end_ns);
    st->exits_io = vm->exits[PVH_EXIT_IO];
    st->exits_mmio = vm->exits[PVH_EXIT_MMIO];
    st->exits_hlt = vm->exits[PVH_EXIT_HLT];
    st->exits_intr = vm->exits[PVH_EXIT_INTR];
    st->exits_shutdown = vm->exits[PVH_EXIT_SHUTDOWN];
    st->exits_system_event = vm->exits[PVH_EXIT_SYSTEM_EVENT];
    st->exits_other = vm->exits[PVH_EXIT_OTHER];
    st->serial_bytes = vm->dev.uart.tx_bytes;
    const struct pvh_unhandled *u = &vm->dev.unhandled.t;
    st->nunhandled = u->n < PVH_STATS_UNHANDLED ? u->n : PVH_STATS_UNHANDLED;
    for (size_t i = 0; i < st->nunhandled; i++) {
        st->unhandled[i].addr = u->e[i].addr;
        st->unhandled[i].mmio = u->e[i].mmio;
        st->unhandled[i].reads = u->e[i].reads;
        st->unhandled[i].writes = u->e[i].writes;
    }
    st->unhandled_other = u->other;
    st->rss_kib = read_status_kib(pf->status, "VmRSS:");
    st->rss_peak_kib = read_status_kib(pf->status, "VmHWM:");
    st->guest_resident_kib = pvh_guestmem_resident(&vm->mem, pf->pagemap) / 1024;
    st->guest_resident_known = pf->pagemap >= 0;
}

/* Guest RAM: registered with KVM, or (--dry-run) only mapped. */
static int setup_memory(struct pvh_vm *vm, const struct pvh_plan *plan, struct pvh_error *err)
{
    if (vm->cfg->dry_run)
        return pvh_guestmem_map(&vm->mem, plan->ram_low_end, plan->ram_high_size, err);
    return pvh_kvm_open(vm, err) || pvh_kvm_create_vm(vm, plan->ram_low_end, plan->ram_high_size, err) ? -1 : 0;
}

static int setup_machine(struct pvh_vm *vm, struct boot_inputs *in, struct pvh_vm_stats *st, struct pvh_error *err)
{
    struct pvh_entry_state entry;
    pvh_plan_entry_state(&in->plan, &entry);
    st->kernel_load = in->image.nsegments ? in->image.seg[0].paddr + (uint64_t)in->plan.kernel_shift : 0;
    st->entry = entry.rip;
    st->boot_info = entry.rbx;
    if (setup_memory(vm, &in->plan, err) || load_guest(vm, in, st, err))
        return -1;
    if (vm->cfg->dry_run)
        return open_serial(vm, err);
    if (open_serial(vm, err) || pvh_vcpus_create(vm, err) || pvh_vcpu_set_entry(&vm->vcpu[0], &entry, err))
        return -1;
    pvh_kvm_close_device(vm); /* the VM and its vCPUs exist: the run needs no /dev/kvm */
    if (vm->cfg->drop_user)
        return pvh_drop_privileges(vm->cfg->uid, vm->cfg->gid, err);
    return 0;
}

static void open_proc_files(struct proc_files *pf)
{
    pf->status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    pf->pagemap = -1;
}

/* After setup. Once --user has dropped root the process is not dumpable, its
 * /proc/self/pagemap is root's (mode 0400), and the open fails: the figure
 * is then unknown (collect_stats). */
static void open_pagemap(const struct pvh_vm_config *cfg, struct proc_files *pf)
{
    if (cfg->verbose)
        pf->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

static void close_proc_files(struct proc_files *pf)
{
    if (pf->status >= 0)
        close(pf->status);
    if (pf->pagemap >= 0)
        close(pf->pagemap);
}

int pvh_vm_run(const struct pvh_vm_config *cfg, struct pvh_vm_result *res, struct pvh_error *err)
{
    struct pvh_vm *vm = calloc(1, sizeof(*vm));
    struct boot_inputs *in = calloc(1, sizeof(*in));
    int rc = -1;
    if (!vm || !in) {
        free(vm);
        free(in);
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    }
    pvh_vm_init(vm, cfg);
    struct proc_files pf;
    open_proc_files(&pf);
    memset(res, 0, sizeof(*res));
    bool ready = read_inputs(cfg, in, err) == 0 && setup_machine(vm, in, &res->stats, err) == 0;
    if (ready)
        open_pagemap(cfg, &pf);
    close_inputs(in, cfg->nmodules); /* loaded (mapped pages keep their own reference) */
    if (ready && cfg->dry_run) {
        res->end = PVH_END_DRY_RUN;
        collect_stats(vm, &pf, &res->stats);
        rc = 0;
    } else if (ready && pvh_vm_start_and_wait(vm, err) == 0) {
        res->end = vm->result.end;
        res->status = vm->result.status;
        if (res->end == PVH_END_ERROR)
            *err = vm->end_err;
        collect_stats(vm, &pf, &res->stats);
        rc = 0;
    }
    close_proc_files(&pf);
    if (vm->serial_fd > STDERR_FILENO)
        close(vm->serial_fd);
    pvh_vcpus_destroy(vm);
    pvh_kvm_close(vm);
    pvh_vm_fini(vm);
    free(vm);
    free(in);
    return rc;
}
