/* The decompression child (extract/child.c, issue 19): every format still
 * decompresses byte for byte through it; a decoder that opens a file, writes
 * anywhere but its result pipe, asks for executable or file-backed memory,
 * or crashes is killed and reported by the parent as one line naming the
 * call, with nothing cached; one that loops is stopped by its CPU limit; as root with a user given it runs as that user,
 * and it can never be dumped or traced. The test-only child_hook stands in
 * for a decoder taken over by a hostile payload: it runs in the child, under
 * the filter, right before decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pvhboot/extract.h"
#include "extract_fixture.h"

#define NOBODY 65534

static int setup(void **state)
{
    (void)state;
    return fixture_setup("extract-sandbox");
}

static int teardown(void **state)
{
    (void)state;
    return fixture_teardown();
}

static const char *const TOOLS[] = {"gzip -9 -c", "xz --check=crc32 -c", "lzma -c", "lz4 -l -c", "zstd -q -c",
                                    "bzip2 -c", "lzop -c"};

static int extract_sandboxed(const struct buf *bz, const struct pvh_extract_sandbox *sb, struct buf *out,
                             struct pvh_error *err)
{
    memset(err, 0, sizeof(*err));
    return pvh_vmlinuz_extract_sandboxed(bz->data, bz->len, "vmlinuz", PVH_EXTRACT_MAX_DEFAULT, sb, &out->data,
                                         &out->len, err);
}

static void every_format_decompresses_in_the_child(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(TOOLS) / sizeof(TOOLS[0]); i++) {
        struct buf p = compress_original(TOOLS[i]);
        struct buf bz = make_bzimage(&p), out;
        struct pvh_error err;
        if (extract_sandboxed(&bz, NULL, &out, &err) != 0)
            fail_msg("%s: %s", TOOLS[i], err.msg);
        assert_int_equal(out.len, original.len);
        assert_memory_equal(out.data, original.data, out.len);
        free(out.data);
        free(bz.data);
        free(p.data);
    }
}

static void hook_opens_a_file(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    (void)fd;
}

static void hook_writes_to_stdout(void)
{
    if (write(STDOUT_FILENO, "owned\n", 6) < 0)
        return;
}

static void hook_maps_executable_memory(void)
{
    (void)mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void hook_makes_memory_executable(void)
{
    static char page[4096] __attribute__((aligned(4096)));
    (void)mprotect(page, sizeof(page), PROT_READ | PROT_EXEC);
}

static void hook_maps_an_inherited_file(void)
{
    (void)mmap(NULL, 4096, PROT_READ, MAP_SHARED, STDIN_FILENO, 0);
}

static void hook_forks(void)
{
    (void)syscall(SYS_fork);
}

/* Runs the decoder with hook through the cache; expects a one-line refusal
 * naming `call` and an empty cache directory. */
static void expect_killed(void (*hook)(void), const char *call)
{
    struct buf p = compress_original("zstd -q -c");
    char vmlinuz[512], dir[512];
    write_vmlinuz("vmlinuz-hostile", &p, vmlinuz, sizeof(vmlinuz));
    snprintf(dir, sizeof(dir), "%s/cache-%s", tmpdir, call);
    struct pvh_extract_sandbox sb = {.child_hook = hook};
    struct pvh_cache_request req = {.vmlinuz = vmlinuz, .cache_dir = dir, .sandbox = &sb};
    struct pvh_cache_result res;
    struct pvh_error err = {0};
    assert_int_equal(pvh_vmlinuz_cache_lookup(&req, &res, &err), -1);
    assert_int_equal(res.fd, -1);
    char want[128];
    snprintf(want, sizeof(want), "the decoder made a forbidden system call, %s (", call);
    if (!strstr(err.msg, want) || !strstr(err.msg, "vmlinuz-hostile: zstd payload at offset 0x400: ") ||
        !strstr(err.msg, "nothing was extracted") || strchr(err.msg, '\n'))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    assert_int_equal(count_files(dir, ""), 0);
    print_message("# %s\n", err.msg);
    free(p.data);
}

static void a_decoder_that_opens_a_file_is_killed(void **state)
{
    (void)state;
    expect_killed(hook_opens_a_file, "openat");
}

static void a_decoder_that_writes_outside_its_pipe_is_killed(void **state)
{
    (void)state;
    expect_killed(hook_writes_to_stdout, "write");
}

static void a_decoder_that_wants_executable_or_file_memory_is_killed(void **state)
{
    (void)state;
    expect_killed(hook_maps_executable_memory, "mmap");
    expect_killed(hook_makes_memory_executable, "mprotect");
    expect_killed(hook_maps_an_inherited_file, "mmap");
}

static void a_decoder_that_forks_is_killed(void **state)
{
    (void)state;
    expect_killed(hook_forks, "fork");
}

static volatile int *volatile unmapped = NULL;

static void hook_crashes(void)
{
    *unmapped = 1;
}

/* A crash (a decoder bug) is one line from the parent, which goes on. The
 * test's SIGSEGV handler (cmocka's) is set aside meanwhile: the child
 * inherits the default action, as in pvhboot. ASan keeps its own handler,
 * whose report starts with a call the filter forbids. */
#if defined(__SANITIZE_ADDRESS__)
#define CRASH_REPORT "the decoder made a forbidden system call"
#else
#define CRASH_REPORT "the decoder was killed by signal 11 (Segmentation fault); nothing was extracted"
#endif
static void a_decoder_that_crashes_is_one_line(void **state)
{
    (void)state;
    struct buf p = compress_original("gzip -9 -c");
    struct buf bz = make_bzimage(&p), out;
    struct pvh_extract_sandbox sb = {.child_hook = hook_crashes};
    struct pvh_error err;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, saved;
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &dfl, &saved), 0);
    int rc = extract_sandboxed(&bz, &sb, &out, &err);
    assert_int_equal(sigaction(SIGSEGV, &saved, NULL), 0);
    assert_int_equal(rc, -1);
    if (!strstr(err.msg, "vmlinuz: gzip payload at offset 0x400: " CRASH_REPORT) || strchr(err.msg, '\n'))
        fail_msg("\"%s\"", err.msg);
    print_message("# %s\n", err.msg);
    free(bz.data);
    free(p.data);
}

static void hook_spins(void)
{
    for (volatile unsigned long i = 0;; i++)
        ;
}

/* A decoder stuck in a loop (a decoder bug, or a payload made to find one) is
 * stopped by its CPU time limit: 1 s here, 60 s by default. */
static void a_decoder_that_loops_is_stopped_by_its_cpu_limit(void **state)
{
    (void)state;
    struct buf p = compress_original("gzip -9 -c");
    struct buf bz = make_bzimage(&p), out;
    struct pvh_extract_sandbox sb = {.child_hook = hook_spins, .cpu_seconds = 1};
    struct pvh_error err;
    assert_int_equal(extract_sandboxed(&bz, &sb, &out, &err), -1);
    if (!strstr(err.msg, "the decoder used more than 1 s of CPU time and was stopped; nothing was extracted"))
        fail_msg("\"%s\"", err.msg);
    print_message("# %s\n", err.msg);
    free(bz.data);
    free(p.data);
}

/* Without the filter (run --no-sandbox) the hook can look at itself: exit
 * status 42 says the child was not what it should be. */
static void hook_checks_it_is_nobody(void)
{
    if (getuid() != NOBODY || geteuid() != NOBODY || getgid() != NOBODY || getegid() != NOBODY ||
        getgroups(0, NULL) != 0 || prctl(PR_GET_DUMPABLE) != 0)
        syscall(SYS_exit_group, 42);
}

static void hook_checks_it_is_not_dumpable(void)
{
    if (prctl(PR_GET_DUMPABLE) != 0)
        syscall(SYS_exit_group, 42);
}

static void as_root_the_decoder_runs_as_the_user_given(void **state)
{
    (void)state;
    struct buf p = compress_original("lz4 -l -c");
    struct buf bz = make_bzimage(&p), out;
    struct pvh_error err;
    struct pvh_extract_sandbox sb = {.no_filter = true, .child_hook = hook_checks_it_is_not_dumpable};
    if (extract_sandboxed(&bz, &sb, &out, &err) != 0)
        fail_msg("%s", err.msg);
    free(out.data);
    if (geteuid() == 0) {
        sb = (struct pvh_extract_sandbox){.drop_user = true, .uid = NOBODY, .gid = NOBODY, .no_filter = true,
                                          .child_hook = hook_checks_it_is_nobody};
        if (extract_sandboxed(&bz, &sb, &out, &err) != 0)
            fail_msg("%s", err.msg);
        assert_int_equal(out.len, original.len);
        free(out.data);
        /* the same check fails when nothing is dropped: the hook does see */
        sb.drop_user = false;
        assert_int_equal(extract_sandboxed(&bz, &sb, &out, &err), -1);
        assert_non_null(strstr(err.msg, "the decoder exited (status 42) without a result"));
    }
    free(bz.data);
    free(p.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_format_decompresses_in_the_child),
        cmocka_unit_test(a_decoder_that_opens_a_file_is_killed),
        cmocka_unit_test(a_decoder_that_writes_outside_its_pipe_is_killed),
        cmocka_unit_test(a_decoder_that_wants_executable_or_file_memory_is_killed),
        cmocka_unit_test(a_decoder_that_forks_is_killed),
        cmocka_unit_test(a_decoder_that_crashes_is_one_line),
        cmocka_unit_test(a_decoder_that_loops_is_stopped_by_its_cpu_limit),
        cmocka_unit_test(as_root_the_decoder_runs_as_the_user_given),
    };
    return cmocka_run_group_tests_name("extract_sandbox", tests, setup, teardown);
}
