/* The virtio traffic recorder (vmm/virtio/trace.c): off without
 * PVHBOOT_VIRTIO_TRACE (nothing written, devices as before), off when the
 * file cannot be opened or is a symbolic link, and when on, the lines
 * docs/hardening.md documents: the device, every register access with its
 * value, each notification's ring state, its chains' descriptors (ring and
 * indirect), the first bytes of driver-readable buffers (at most 64 each),
 * and where a walk stops. The variable is read once per process, so each
 * case runs in a child of its own (tests/lib/virtio_driver.h drives a small
 * device on fake RAM there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../vmm/virtio/trace.h"
#include "../lib/virtio_driver.h"

/* A device that returns every chain unused. */
static void sink_notify(struct pvh_virtio_dev *d, unsigned queue)
{
    static struct pvh_vchain c;
    struct pvh_error err;
    int got;
    while ((got = pvh_virtq_pop(&d->q[queue], &c, &err)) == 1)
        pvh_virtq_push(&d->q[queue], c.head, 0);
    if (got < 0)
        pvh_virtio_fail(d, &err);
}

static void sink_config_read(struct pvh_virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
    (void)d;
    for (unsigned i = 0; i < len; i++)
        data[i] = (uint8_t)(0xa0 + off + i);
}

static const struct pvh_virtio_device_ops sink_ops = {
    .name = "sink", .device_id = 42, .nqueues = 1, .queue_max = 8, .config_size = 8,
    .config_read = sink_config_read, .queue_notify = sink_notify,
};

/* Where the child's driver put things (vdriver allocates from a fixed
 * start, but the test does not count its bytes). */
struct layout {
    uint64_t desc, avail, used, text, table, writable;
};

/* In a child: the device's whole life with trace_path as the variable (NULL:
 * unset); the layout goes to fd; exits 0 when the device worked and the
 * recorder's state is want_on. */
static void child(const char *trace_path, bool want_on, int fd)
{
    if (trace_path)
        setenv(PVH_VTRACE_ENV, trace_path, 1);
    else
        unsetenv(PVH_VTRACE_ENV);
    static struct vdriver v;
    static struct pvh_virtio_dev d;
    if (vd_ram_init(&v))
        _exit(10);
    struct pvh_virtio_env env = vd_env(&v);
    pvh_virtio_init(&d, &sink_ops, NULL, &env, 0xd0000000, 5);
    v.d = &d;
    if (pvh_vtrace_on != want_on)
        _exit(11);
    if (vd_read32(&v, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC || vd_read(&v, VIRTIO_MMIO_CONFIG + 2, 2) != 0xa3a2)
        _exit(12);
    if (!vd_start(&v, VIRTIO_F_VERSION_1_BIT | VIRTIO_RING_F_INDIRECT_DESC_BIT, 8))
        _exit(13);
    uint64_t text = vd_alloc(&v, 100, 8);
    for (int i = 0; i < 100; i++)
        vd_ptr(&v, text, 100)[i] = (uint8_t)('0' + i % 10);
    struct vd_buf two[2] = {{text, 20, false}, {0, 8, true}};
    uint64_t table = v.heap;
    vd_add_indirect(&v, 0, two, 2);
    vd_kick(&v, 0);
    struct layout at = {v.desc[0], v.avail[0], v.used[0], text, (table + 15) & ~15ull, two[1].gpa};
    if (write(fd, &at, sizeof(at)) != (ssize_t)sizeof(at))
        _exit(15);
    struct vd_buf one = {text, 100, false};
    vd_add_chain(&v, 0, &one, 1);
    vd_kick(&v, 0);
    /* a loop: descriptor 5 names itself */
    vd_put_desc(&v, v.desc[0], 5, text, 4, VIRTQ_DESC_F_NEXT, 5);
    vd_publish(&v, 0, 5);
    vd_kick(&v, 0);
    uint32_t id, len;
    if (vd_get_used(&v, 0, &id, &len) != 1 || vd_get_used(&v, 0, &id, &len) != 1 || !d.broken)
        _exit(14);
    pvh_virtio_destroy(&d);
    _exit(0);
}

static int run_child(const char *trace_path, bool want_on, struct layout *at)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid == 0)
        child(trace_path, want_on, fds[1]);
    close(fds[1]);
    struct layout ignored;
    ssize_t n = read(fds[0], at ? at : &ignored, sizeof(*at));
    close(fds[0]);
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || n != (ssize_t)sizeof(*at))
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char dir[] = "/tmp/test_vtrace.XXXXXX";

static char *read_file(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void unset_records_nothing(void **state)
{
    (void)state;
    assert_int_equal(run_child(NULL, false, NULL), 0);
}

static void unopenable_file_records_nothing(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/no/such/dir/trace", dir);
    assert_int_equal(run_child(path, false, NULL), 0);
    snprintf(path, sizeof(path), "%s/link", dir); /* a symbolic link is not followed */
    char target[128];
    snprintf(target, sizeof(target), "%s/target", dir);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(run_child(path, false, NULL), 0);
    struct stat st;
    assert_int_not_equal(lstat(target, &st), 0);
    unlink(path);
}

/* Each of `lines`, in this order, is a line of text (after what came before). */
static void assert_lines_in_order(const char *text, const char *const *lines, size_t n)
{
    const char *at = text;
    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(at, lines[i]);
        if (!hit || (hit != text && hit[-1] != '\n') || hit[strlen(lines[i])] != '\n')
            fail_msg("line \"%s\" missing or out of order in:\n%s", lines[i], text);
        at = hit + strlen(lines[i]);
    }
}

static void records_the_traffic(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/trace", dir);
    struct layout at;
    assert_int_equal(run_child(path, true, &at), 0);
    const char *text = read_file(path);
    assert_non_null(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    static char q[3][128], d[5][96], b[2][192];
    for (int i = 0; i < 3; i++) /* avail_idx i + 1; last_avail = used_idx = i */
        snprintf(q[i], sizeof(q[i]), "q 0xd0000000 0 8 0x110000000 %#llx %#llx %#llx 0 %d 0 0 %d %d",
                 (unsigned long long)at.desc, (unsigned long long)at.avail, (unsigned long long)at.used, i + 1, i, i);
    snprintf(d[0], sizeof(d[0]), "d r 0 %#llx 0x20 0x4 0", (unsigned long long)at.table);
    snprintf(d[1], sizeof(d[1]), "d i 0 %#llx 0x14 0x1 1", (unsigned long long)at.text);
    snprintf(d[2], sizeof(d[2]), "d i 1 %#llx 0x8 0x2 2", (unsigned long long)at.writable);
    snprintf(d[3], sizeof(d[3]), "d r 1 %#llx 0x64 0 2", (unsigned long long)at.text);
    snprintf(d[4], sizeof(d[4]), "d r 5 %#llx 0x4 0x1 5", (unsigned long long)at.text);
    /* the first 20 bytes of the text, then its first 64 of 100 */
    snprintf(b[0], sizeof(b[0]), "b %#llx 3031323334353637383930313233343536373839", (unsigned long long)at.text);
    snprintf(b[1], sizeof(b[1]), "b %#llx %s%s%s%s", (unsigned long long)at.text,
             "30313233343536373839303132333435", "36373839303132333435363738393031",
             "32333435363738393031323334353637", "38393031323334353637383930313233");
    const char *const want[] = {
        "# pvhboot virtio trace 1",
        "dev 0xd0000000 42 sink 1 8 0x130000000",
        "r 0xd0000000 0 4 0x74726976",
        "r 0xd0000000 0x102 2 0xa3a2",
        "w 0xd0000000 0x20 4 0x10000000",
        "w 0xd0000000 0x38 4 0x8",
        "w 0xd0000000 0x70 4 0xf",
        "w 0xd0000000 0x50 4 0",
        q[0], "c 0", d[0], d[1], b[0], d[2],
        "w 0xd0000000 0x50 4 0",
        q[1], "c 1", d[3], b[1],
        "w 0xd0000000 0x50 4 0",
        q[2], "c 5", d[4], "e loop",
    };
    assert_lines_in_order(text, want, sizeof(want) / sizeof(want[0]));
    assert_null(strstr(text, "# truncated"));
}

static int make_dir(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unset_records_nothing),
        cmocka_unit_test(unopenable_file_records_nothing),
        cmocka_unit_test(records_the_traffic),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
