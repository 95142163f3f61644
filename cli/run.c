/* `pvhboot run`: the options (cli/run_options.c), a bzImage's payload
 * extracted through the cache, the VM run, and the exit status: the guest's
 * debug-exit status; 0 on power-off or reset; 124 on timeout; 1 on a VMM
 * error; 2 on unusable input. --verbose prints timings and exit counts. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dry_run.h"
#include "guest_defaults.h"
#include "pvhboot/bzimage.h"
#include "pvhboot/extract.h"
#include "pvhboot/file.h"
#include "pvhboot/vmm.h"
#include "run_options.h"

#define DEFAULT_MEM (512 * PVH_MiB)
#define DEFAULT_CMDLINE "console=ttyS0"
#define DEFAULT_CMDLINE_VIRTIO_CONSOLE "console=ttyS0 console=hvc0"

static uint64_t process_start_ns;

__attribute__((constructor)) static void note_process_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    process_start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A bzImage boots through its payload, extracted once into the cache by the
 * sandboxed decoder child (which runs as --user when given and root, under
 * its own seccomp filter unless --no-sandbox). The VMM opens the entry the
 * lookup checked through /proc/self/fd, whatever later happens to its path
 * (the path itself when /proc is not mounted). */
static int resolve_kernel(struct pvh_vm_config *cfg, char *elf_path, size_t cap)
{
    struct pvh_error err = {0};
    struct pvh_file f;
    struct pvh_bzimage_info bz;
    if (pvh_file_open(&f, cfg->kernel, &err))
        return cli_report(&err);
    int is_bz = pvh_bzimage_probe(f.data, f.size, cfg->kernel, &bz, &err);
    if (pvh_file_check(&f, &err))
        is_bz = -1;
    pvh_file_close(&f);
    if (is_bz < 0)
        return cli_report(&err);
    if (is_bz == 0)
        return 0;
    struct pvh_extract_sandbox sb = {.drop_user = cfg->drop_user, .uid = cfg->uid, .gid = cfg->gid,
                                     .no_filter = !cfg->sandbox};
    struct pvh_cache_request req = {.vmlinuz = cfg->kernel, .sandbox = &sb};
    struct pvh_cache_result res;
    if (pvh_vmlinuz_cache_lookup(&req, &res, &err))
        return cli_report(&err);
    if (cfg->verbose)
        fprintf(stderr, "pvhboot: %s: bzImage payload %s: %s%s\n", cfg->kernel,
                res.hit ? "cache hit" : "extracted (cache miss)", res.path,
                res.evicted ? " (least recently used entries removed to keep the cache's size limit)" : "");
    int n = snprintf(elf_path, cap, "/proc/self/fd/%d", res.fd);
    if (n < 0 || (size_t)n >= cap || access(elf_path, R_OK) != 0) {
        close(res.fd);
        snprintf(elf_path, cap, "%s", res.path);
    }
    cfg->kernel_name = cfg->kernel;
    cfg->kernel = elf_path;
    return 0;
}

static void print_load_stats(const struct pvh_vm_stats *s)
{
    if (s->restored) {
        fprintf(stderr, "pvhboot: restored %.3f ms from process start: the machine rebuilt, every state set, guest RAM "
                "mapped from the memory file\n", s->ns_loaded / 1e6);
        return;
    }
    fprintf(stderr, "pvhboot: loaded %.3f ms from process start: kernel and modules %llu bytes mapped, %llu copied, "
            "in %.1f us with the boot data\n", s->ns_loaded / 1e6, (unsigned long long)s->bytes_mapped,
            (unsigned long long)s->bytes_copied, s->ns_load / 1e3);
}

static void print_memory(const struct pvh_vm_stats *s)
{
    if (!s->guest_resident_known) {
        fprintf(stderr, "pvhboot: memory: RSS %llu KiB, guest RAM touched unknown (/proc/self/pagemap could not be "
                "read; after --user only root may); peak RSS %llu KiB\n", (unsigned long long)s->rss_kib,
                (unsigned long long)s->rss_peak_kib);
        return;
    }
    uint64_t own = s->rss_kib > s->guest_resident_kib ? s->rss_kib - s->guest_resident_kib : 0;
    fprintf(stderr, "pvhboot: memory: RSS %llu KiB = guest RAM touched %llu KiB + VMM %llu KiB; peak RSS %llu KiB\n",
            (unsigned long long)s->rss_kib, (unsigned long long)s->guest_resident_kib, (unsigned long long)own,
            (unsigned long long)s->rss_peak_kib);
}

/* Each virtio device: where it sits; with counters, what it did. */
static void print_devices(FILE *f, const char *prefix, const struct pvh_vm_stats *s, bool counters)
{
    for (size_t i = 0; i < s->ndevices; i++) {
        const struct pvh_device_stats *d = &s->devices[i];
        fprintf(f, "%s%s %s: mmio %#llx, GSI %u", prefix, pvh_virtio_id_name(d->virtio_id), d->name,
                (unsigned long long)d->base, d->gsi);
        if (counters)
            fprintf(f, "; requests %llu, bytes %llu, notifications %llu, interrupts %llu, errors %llu",
                    (unsigned long long)d->requests, (unsigned long long)d->bytes,
                    (unsigned long long)d->notifications, (unsigned long long)d->interrupts,
                    (unsigned long long)d->errors);
        if (counters && d->last_error[0])
            fprintf(f, " (last: %s)", d->last_error);
        fputc('\n', f);
    }
}

void run_print_stats(const struct pvh_vm_result *r)
{
    const struct pvh_vm_stats *s = &r->stats;
    print_load_stats(s);
    fprintf(stderr,
            "pvhboot: times from process start: first KVM_RUN %.3f ms, first serial byte %.3f ms, exit %.3f ms\n",
            s->ns_first_run / 1e6, s->ns_first_serial / 1e6, s->ns_end / 1e6);
    fprintf(stderr,
            "pvhboot: VM exits: io %llu, mmio %llu, hlt %llu, intr %llu, shutdown %llu, system-event %llu, other %llu\n",
            (unsigned long long)s->exits_io, (unsigned long long)s->exits_mmio, (unsigned long long)s->exits_hlt,
            (unsigned long long)s->exits_intr, (unsigned long long)s->exits_shutdown,
            (unsigned long long)s->exits_system_event, (unsigned long long)s->exits_other);
    if (s->ns_snapshot_written)
        fprintf(stderr, "pvhboot: snapshot: asked for %.3f ms from process start, written and synced %.3f ms later\n",
                s->ns_snapshot_asked / 1e6, (s->ns_snapshot_written - s->ns_snapshot_asked) / 1e6);
    if (s->restored)
        fprintf(stderr, "pvhboot: serial bytes %llu\n", (unsigned long long)s->serial_bytes);
    else
        fprintf(stderr, "pvhboot: kernel loaded at %#llx; serial bytes %llu\n", (unsigned long long)s->kernel_load,
                (unsigned long long)s->serial_bytes);
    for (size_t i = 0; i < s->nunhandled; i++)
        fprintf(stderr, "pvhboot: unhandled %s %#llx: %llu reads, %llu writes\n", s->unhandled[i].mmio ? "mmio" : "port",
                (unsigned long long)s->unhandled[i].addr, (unsigned long long)s->unhandled[i].reads,
                (unsigned long long)s->unhandled[i].writes);
    if (s->unhandled_other)
        fprintf(stderr, "pvhboot: unhandled elsewhere: %llu accesses\n", (unsigned long long)s->unhandled_other);
    print_devices(stderr, "pvhboot: ", s, true);
    print_memory(s);
}

/* --dry-run's report, on stdout: where things went. */
static int print_dry_run(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r)
{
    const struct pvh_vm_stats *s = &r->stats;
    printf("dry run (no KVM): %llu MiB of guest RAM, %u vCPU%s\n", (unsigned long long)(cfg->ram_size >> 20),
           cfg->ncpus, cfg->ncpus == 1 ? "" : "s");
    printf("kernel loaded at %#llx, entry %#llx, %%ebx %#llx\n", (unsigned long long)s->kernel_load,
           (unsigned long long)s->entry, (unsigned long long)s->boot_info);
    printf("kernel and modules: %llu bytes mapped from their files, %llu bytes copied\n",
           (unsigned long long)s->bytes_mapped, (unsigned long long)s->bytes_copied);
    print_devices(stdout, "device ", s, false);
    print_dry_run_layout(cfg, r);
    if (cfg->verbose) {
        print_load_stats(s);
        print_memory(s);
    }
    return 0;
}

/* The KVM device could not be opened: what a user does about it, in one
 * line (the VMM's own message names the device and the errno only). */
static int report_setup_error(const struct pvh_vm_config *cfg, const struct pvh_error *err)
{
    const char *dev = cfg->kvm_device ? cfg->kvm_device : "/dev/kvm";
    size_t n = strlen(dev);
    bool about_dev = err->code == PVH_E_SYSTEM && !strncmp(err->msg, dev, n) && err->msg[n] == ':';
    if (about_dev && strstr(err->msg + n, ": no such device")) {
        fprintf(stderr, "pvhboot: %s: no such device — this machine has no KVM: load kvm_intel or kvm_amd "
                "(modprobe), turn on virtualization in the firmware, or nested virtualization for a cloud VM; "
                "without KVM, 'pvhboot inspect' and 'pvhboot run --dry-run' work (README.md: Getting KVM; "
                "man pvhboot)\n", dev);
        return PVH_EXIT_VMM_ERROR;
    }
    if (about_dev && strstr(err->msg + n, ": permission denied")) {
        fprintf(stderr, "pvhboot: %s: permission denied — add yourself to the kvm group "
                "(sudo usermod -aG kvm $USER, then log in again; README.md: Getting KVM)\n", dev);
        return PVH_EXIT_VMM_ERROR;
    }
    return cli_report(err);
}

/* A guest that ran out of time: where each vCPU was (a hang's place, for
 * the guest's System.map or addr2line). */
static void print_vcpu_ends(const struct pvh_vm_stats *s)
{
    for (unsigned i = 0; i < s->nvcpu_end; i++)
        fprintf(stderr, "pvhboot: vCPU %u was at rip %#llx, rflags %#llx (interrupts %s)\n", i,
                (unsigned long long)s->vcpu_end[i].rip, (unsigned long long)s->vcpu_end[i].rflags,
                s->vcpu_end[i].rflags & 0x200 ? "on" : "off");
}

int run_exit_status(const struct pvh_vm_config *cfg, const struct pvh_vm_result *r, const struct pvh_error *err)
{
    switch (r->end) {
    case PVH_END_SNAPSHOT:
        fprintf(stderr, "pvhboot: snapshot written to %s and %s\n", cfg->snapshot_file, cfg->snapshot_mem_file);
        return 0;
    case PVH_END_DEBUG_EXIT:
        return r->status;
    case PVH_END_POWEROFF:
    case PVH_END_RESET:
        return 0;
    case PVH_END_TIMEOUT:
        fprintf(stderr, "pvhboot: timeout: the guest was still running after %u s\n", cfg->timeout_s);
        print_vcpu_ends(&r->stats);
        return PVH_EXIT_TIMEOUT;
    case PVH_END_DRY_RUN:
        return 0;
    default:
        fprintf(stderr, "pvhboot: %s\n", err->msg);
        return PVH_EXIT_VMM_ERROR;
    }
}

/* The run itself, from a filled config: `run`'s, and `serve`'s at InstanceStart. */
int run_config(const struct pvh_vm_config *cfg_in)
{
    struct pvh_vm_config run_cfg = *cfg_in, *cfg = &run_cfg; /* the kernel and command line change below */
    int rc = 0;
    if (!cfg->cmdline)
        cfg->cmdline = cfg->console == PVH_CONSOLE_VIRTIO ? DEFAULT_CMDLINE_VIRTIO_CONSOLE : DEFAULT_CMDLINE;
    char elf_path[PATH_MAX];
    if ((rc = resolve_kernel(cfg, elf_path, sizeof(elf_path))) != 0)
        return rc;
    char *cmdline = guest_cmdline(cfg->cmdline, guest_is_linux(cfg));
    if (!cmdline)
        return PVH_EXIT_VMM_ERROR;
    cfg->cmdline = cmdline;
    struct pvh_error err = {0};
    struct pvh_vm_result res;
    if (pvh_vm_run(cfg, &res, &err) != 0) {
        free(cmdline);
        return report_setup_error(cfg, &err);
    }
    fflush(stdout);
    if (res.end == PVH_END_DRY_RUN)
        rc = print_dry_run(cfg, &res);
    else if (cfg->verbose)
        run_print_stats(&res);
    rc = rc ? rc : run_exit_status(cfg, &res, &err);
    free(cmdline);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_args a = {.cfg = {.ram_size = DEFAULT_MEM, .ncpus = 1, .serial = PVH_SERIAL_STDIO, .sandbox = true,
                                 .start_ns = process_start_ns}};
    a.cfg.seed = process_start_ns ^ (uint64_t)clock();
    int rc = run_parse_args(&a, argc, argv);
    if (rc == 0)
        rc = run_config(&a.cfg);
    run_args_fini(&a);
    return rc < 0 ? 0 : rc;
}
