/* The SIGBUS guard over file mappings (lib/mapguard.c) through pvh_file_open,
 * the mapping every input file is read from: a file truncated while it is
 * mapped reads zeros past its new end instead of killing the process, and
 * pvh_file_check names it; a file rewritten to the same size is caught by
 * its ctime. A SIGBUS outside the registered ranges, or one sent by kill(),
 * keeps the action from before (here the default: death by SIGBUS). The registry:
 * lookups by overlap, removal, a full table refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pvhboot/file.h"
#include "pvhboot/mapguard.h"

#define PAGE 4096
#define FILE_SIZE (6 * PAGE + 17)

struct temp_file {
    char path[32];
    int wfd; /* writable, for truncating under the reader */
};

static void make_temp(struct temp_file *t, size_t size)
{
    snprintf(t->path, sizeof(t->path), "/tmp/test_mapguard.XXXXXX");
    t->wfd = mkstemp(t->path);
    assert_true(t->wfd >= 0);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    memset(buf, 0xab, size);
    assert_int_equal(write(t->wfd, buf, size), (ssize_t)size);
    free(buf);
}

static void drop_temp(struct temp_file *t)
{
    unlink(t->path);
    close(t->wfd);
}

static void expect_changed(const struct pvh_file *f, const char *path)
{
    struct pvh_error err;
    char want[128];
    snprintf(want, sizeof(want), "%s: the file changed (truncated?) while pvhboot was reading it", path);
    assert_int_equal(pvh_file_check(f, &err), -1);
    assert_int_equal(err.code, PVH_E_INPUT);
    assert_string_equal(err.msg, want);
}

static void test_truncated_input_reads_zeros(void **state)
{
    (void)state;
    struct temp_file t;
    make_temp(&t, FILE_SIZE);
    struct pvh_file f;
    struct pvh_error err;
    assert_int_equal(pvh_file_open(&f, t.path, &err), 0);
    assert_int_equal(f.data[5 * PAGE], 0xab);
    assert_int_equal(pvh_file_check(&f, &err), 0);
    assert_null(pvh_mapguard_changed(f.data, f.size));
    assert_int_equal(ftruncate(t.wfd, 2 * PAGE + 1), 0);
    assert_int_equal(f.data[2 * PAGE], 0xab); /* the page holding the new end */
    uint64_t sum = 0;
    for (size_t i = 3 * PAGE; i < f.size; i++) /* as a hash or a decompressor would */
        sum += f.data[i];
    assert_int_equal(sum, 0);
    assert_string_equal(pvh_mapguard_changed(f.data, f.size), t.path);
    expect_changed(&f, t.path);
    pvh_file_close(&f);
    drop_temp(&t);
}

/* No page was lost (the reader was done first), but the file is not what
 * was read: same size again, new ctime. */
static void test_rewritten_input_is_caught(void **state)
{
    (void)state;
    struct temp_file t;
    make_temp(&t, FILE_SIZE);
    struct pvh_file f;
    struct pvh_error err;
    assert_int_equal(pvh_file_open(&f, t.path, &err), 0);
    usleep(20000); /* a ctime that differs on file systems with coarse clocks */
    assert_int_equal(ftruncate(t.wfd, PAGE), 0);
    assert_int_equal(ftruncate(t.wfd, FILE_SIZE), 0);
    assert_null(pvh_mapguard_changed(f.data, f.size));
    expect_changed(&f, t.path);
    pvh_file_close(&f);
    drop_temp(&t);
}

/* Child processes: the guard installed (a file opened), then a SIGBUS it
 * does not own. They exit 0 only when they survive it. */
static struct temp_file child_file;

static void guard_installed(void)
{
    signal(SIGBUS, SIG_DFL); /* in place of cmocka's handler: the action from before */
    struct pvh_file f;
    struct pvh_error err;
    if (pvh_file_open(&f, child_file.path, &err) != 0)
        _exit(3);
}

static void child_touches_unguarded_mapping(void)
{
    guard_installed();
    struct temp_file t;
    make_temp(&t, 4 * PAGE);
    volatile uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, t.wfd, 0); /* not registered */
    if (p == MAP_FAILED || ftruncate(t.wfd, PAGE) != 0)
        _exit(4);
    drop_temp(&t);
    (void)p[3 * PAGE];
    _exit(0);
}

static void child_gets_sigbus_by_kill(void)
{
    guard_installed();
    kill(getpid(), SIGBUS);
    _exit(0);
}

/* Runs fn in a child; true when the child died by SIGBUS. */
static bool child_died_of_sigbus(void (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

static void test_foreign_sigbus_keeps_its_action(void **state)
{
    (void)state;
    make_temp(&child_file, PAGE);
    assert_true(child_died_of_sigbus(child_touches_unguarded_mapping));
    assert_true(child_died_of_sigbus(child_gets_sigbus_by_kill));
    drop_temp(&child_file);
}

/* A truncation unmaps a range's pages one after another: a page low in the
 * range may already be lost (and have failed KVM_RUN) while the last is still
 * mapped. The probe must find it all the same: here the last page is plain
 * memory again, page 1 past the file's new end. */
static void test_probe_finds_a_lost_page_below_a_mapped_one(void **state)
{
    (void)state;
    struct temp_file t;
    struct pvh_error err;
    make_temp(&t, 4 * PAGE);
    uint8_t *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, t.wfd, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(pvh_mapguard_add(p, 4 * PAGE, PROT_READ | PROT_WRITE, t.path, &err), 0);
    assert_int_equal(ftruncate(t.wfd, PAGE), 0);
    assert_true(mmap(p + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
                p + 3 * PAGE);
    const char *name = pvh_mapguard_probe(p, 4 * PAGE);
    assert_non_null(name);
    assert_string_equal(name, t.path);
    assert_int_equal(p[PAGE], 0); /* the lost page reads zeros now */
    pvh_mapguard_remove(p, 4 * PAGE);
    munmap(p, 4 * PAGE);
    drop_temp(&t);
}

static void test_registry(void **state)
{
    (void)state;
    static uint8_t area[16 * PAGE];
    struct pvh_error err;
    assert_int_equal(pvh_mapguard_add(area + PAGE, 2 * PAGE, PROT_READ, "a", &err), 0);
    assert_null(pvh_mapguard_changed(area, sizeof(area)));
    assert_null(pvh_mapguard_probe(area, sizeof(area))); /* real memory: nothing faults */
    pvh_mapguard_remove(area + 2 * PAGE, 1);             /* an overlap forgets the range */
    size_t added = 0;
    while (pvh_mapguard_add(area + added % 16, 1, PROT_READ, "x", &err) == 0)
        added++;
    assert_true(added > 0 && added <= PVH_MAPGUARD_MAX);
    assert_string_equal(err.msg, "x: more than 256 file mappings at once");
    pvh_mapguard_remove(area, sizeof(area));
    assert_int_equal(pvh_mapguard_add(area, 1, PROT_READ, "y", &err), 0); /* room again */
    pvh_mapguard_remove(area, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_input_reads_zeros),
        cmocka_unit_test(test_rewritten_input_is_caught),
        cmocka_unit_test(test_foreign_sigbus_keeps_its_action),
        cmocka_unit_test(test_probe_finds_a_lost_page_below_a_mapped_one),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
