/* The console back-ends: where COM1's output goes (stdout, a file,
 * nowhere), virtio-console's (stdout) and the debug console's (--debugcon,
 * port 0xe9), each written through with back-pressure and never queued. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "vm.h"

/* Guest output is written through, never queued. A console that does not
 * take it (a full pipe, a stopped terminal) holds the vCPU here, and the
 * VM's end (--timeout, another vCPU) still gets it out: poll, waking every
 * 100 ms to look, comes before each write. */
static void write_through(struct pvh_vm *vm, int fd, const uint8_t *buf, size_t len)
{
    while (fd >= 0 && len > 0 && !atomic_load(&vm->ending)) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int ready = poll(&p, 1, 100);
        if (ready == 0 || (ready < 0 && errno == EINTR))
            continue;
        ssize_t n = ready < 0 ? -1 : write(fd, buf, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break; /* output closed (EPIPE: run.c ignores SIGPIPE): the guest keeps running, unheard */
        buf += n;
        len -= (size_t)n;
    }
}

/* COM1's output. With --console virtio and COM1 on stdout too, it is shown
 * until hvc0 speaks: from then on the kernel's messages would come twice
 * (console=ttyS0 console=hvc0), and hvc0 is the console. */
void pvh_console_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct pvh_vm *vm = ctx;
    if (!vm->t_first_serial_ns)
        vm->t_first_serial_ns = pvh_now_ns();
    if (vm->serial_fd == STDOUT_FILENO && atomic_load(&vm->hvc_spoke))
        return;
    write_through(vm, vm->serial_fd, buf, len);
}

/* virtio-console's output: always stdout. */
void pvh_vconsole_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct pvh_vm *vm = ctx;
    if (!vm->t_first_serial_ns)
        vm->t_first_serial_ns = pvh_now_ns();
    atomic_store(&vm->hvc_spoke, true);
    write_through(vm, STDOUT_FILENO, buf, len);
}

void pvh_debugcon_output(void *ctx, const uint8_t *buf, size_t len)
{
    struct pvh_vm *vm = ctx;
    write_through(vm, vm->debugcon_fd, buf, len);
}

/* OPTION file:PATH is created or truncated, often by root in a directory
 * others can write: a symbolic link there is refused, never followed
 * (O_NOFOLLOW), and a terminal there does not become ours. */
static int open_output_file(const char *option, const char *path, int *fd, struct pvh_error *err)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (*fd < 0 && errno == ELOOP)
        return pvh_fail(err, PVH_E_INPUT, "%s file:%s: a symbolic link; pvhboot does not follow one "
                        "there: name the file itself", option, path);
    if (*fd < 0)
        return pvh_fail(err, PVH_E_INPUT, "%s file:%s: %s", option, path, strerror(errno));
    return 0;
}

/* COM1's output and the debug console's. Also for --dry-run, which thereby
 * says whether the real run could open them. */
int pvh_console_open(struct pvh_vm *vm, struct pvh_error *err)
{
    const struct pvh_vm_config *cfg = vm->cfg;
    vm->serial_fd = -1;
    vm->debugcon_fd = -1;
    if (cfg->serial == PVH_SERIAL_STDIO)
        vm->serial_fd = STDOUT_FILENO;
    if (cfg->serial == PVH_SERIAL_FILE && open_output_file("--serial", cfg->serial_path, &vm->serial_fd, err))
        return -1;
    if (cfg->debugcon == PVH_DEBUGCON_STDIO)
        vm->debugcon_fd = STDOUT_FILENO;
    if (cfg->debugcon == PVH_DEBUGCON_FILE &&
        open_output_file("--debugcon", cfg->debugcon_path, &vm->debugcon_fd, err))
        return -1;
    return 0;
}

void pvh_console_close(struct pvh_vm *vm)
{
    if (vm->serial_fd > STDERR_FILENO)
        close(vm->serial_fd);
    if (vm->debugcon_fd > STDERR_FILENO)
        close(vm->debugcon_fd);
    vm->serial_fd = vm->debugcon_fd = -1;
}
