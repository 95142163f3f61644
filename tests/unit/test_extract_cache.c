/* The extracted-kernel cache's directory and size limit (issue 19): a cache
 * directory that is a symlink is refused and nothing is written where it
 * points (as root: a root-owned 0755 target, the attack); a symlink between
 * the base and the cache directory is followed only when its owner is the
 * effective user in a directory nobody else can change; a directory owned by
 * another uid is refused (as root: with the one line saying what to do);
 * PVHBOOT_CACHE_MAX bounds the cache, least recently used entries first (a
 * hit makes an entry the most recent), never the entry being returned, with
 * dangling stat- links and stale temporary files removed. Uses only
 * pvh_vmlinuz_cached_elf and the environment, the API the cache had before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pvhboot/extract.h"
#include "extract_fixture.h"

#define OTHER_UID 12345

static struct buf payloads[4];   /* the test binary in four formats: four distinct vmlinuz */
static const char *const TOOLS[4] = {"gzip -1 -c", "zstd -q -1 -c", "lz4 -l -c", "lzop -1 -c"};

static int setup(void **state)
{
    (void)state;
    return fixture_setup("extract-cache");
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++)
        free(payloads[i].data);
    return fixture_teardown();
}

static const struct buf *payload(size_t i)
{
    if (!payloads[i].data)
        payloads[i] = compress_original(TOOLS[i]);
    return &payloads[i];
}

static void make_dir(const char *path, mode_t mode)
{
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static int lookup(const char *vmlinuz, const char *dir, char *path, size_t cap, bool *hit, struct pvh_error *err)
{
    memset(err, 0, sizeof(*err));
    return pvh_vmlinuz_cached_elf(vmlinuz, dir, path, cap, hit, err);
}

static void expect_refused(const char *vmlinuz, const char *dir, const char *want)
{
    char path[4096];
    bool hit;
    struct pvh_error err;
    assert_int_equal(lookup(vmlinuz, dir, path, sizeof(path), &hit, &err), -1);
    if (!strstr(err.msg, want) || strchr(err.msg, '\n'))
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
}

/* The attack of issue 19: ~/.cache/pvhboot -> a directory owned by the
 * effective user (as root: any root-owned directory that is not group/world
 * writable, e.g. /etc/ssl), which the old check (stat) accepted. */
static void a_symlinked_cache_directory_is_refused_and_its_target_untouched(void **state)
{
    (void)state;
    char vmlinuz[512], target[512], home[512], cache[600], link[700];
    write_vmlinuz("vmlinuz-link", payload(0), vmlinuz, sizeof(vmlinuz));
    snprintf(target, sizeof(target), "%s/system-dir", tmpdir);
    make_dir(target, 0755);
    snprintf(home, sizeof(home), "%s/home", tmpdir);
    make_dir(home, 0700);
    snprintf(cache, sizeof(cache), "%s/.cache", home);
    make_dir(cache, 0700);
    snprintf(link, sizeof(link), "%s/pvhboot", cache);
    assert_int_equal(symlink(target, link), 0);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", home, 1);
    expect_refused(vmlinuz, NULL, "the cache directory is a symlink");
    assert_int_equal(count_files(target, ""), 0);

    /* the same through XDG_CACHE_HOME, and given explicitly */
    setenv("XDG_CACHE_HOME", cache, 1);
    expect_refused(vmlinuz, NULL, "the cache directory is a symlink");
    expect_refused(vmlinuz, link, "the cache directory is a symlink");
    assert_int_equal(count_files(target, ""), 0);

    /* the normal case: a real directory there works */
    assert_int_equal(unlink(link), 0);
    char path[4096];
    bool hit = true;
    struct pvh_error err;
    if (lookup(vmlinuz, NULL, path, sizeof(path), &hit, &err) != 0)
        fail_msg("%s", err.msg);
    assert_false(hit);
    assert_int_equal(strncmp(path, link, strlen(link)), 0);
    assert_int_equal(count_files(link, "vmlinux-"), 1);
    unsetenv("XDG_CACHE_HOME");
}

/* ~/.cache as a symlink: followed when the effective user made it in a
 * directory of its own (a cache moved to another disk), refused when its
 * owner is someone else (as root: the attacker's link in their home). */
static void a_symlink_above_the_cache_is_followed_only_when_it_is_ours(void **state)
{
    (void)state;
    char vmlinuz[512], home[512], elsewhere[512], link[600], path[4096];
    write_vmlinuz("vmlinuz-above", payload(1), vmlinuz, sizeof(vmlinuz));
    snprintf(home, sizeof(home), "%s/home2", tmpdir);
    make_dir(home, 0700);
    snprintf(elsewhere, sizeof(elsewhere), "%s/disk-cache", tmpdir);
    make_dir(elsewhere, 0700);
    snprintf(link, sizeof(link), "%s/.cache", home);
    assert_int_equal(symlink(elsewhere, link), 0);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", home, 1);
    bool hit;
    struct pvh_error err;
    if (lookup(vmlinuz, NULL, path, sizeof(path), &hit, &err) != 0)
        fail_msg("%s", err.msg);
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/pvhboot", elsewhere);
    assert_int_equal(count_files(sub, "vmlinux-"), 1);

    if (geteuid() == 0) {
        assert_int_equal(lchown(link, OTHER_UID, OTHER_UID), 0);
        expect_refused(vmlinuz, NULL, "a symlink owned by uid 12345");
    }
    /* ours, but in a directory others can write: they could swap it */
    assert_int_equal(lchown(link, geteuid(), getegid()), 0);
    assert_int_equal(chmod(home, 0777), 0);
    expect_refused(vmlinuz, NULL, "in a directory others can change");
    assert_int_equal(chmod(home, 0700), 0);
}

static void a_cache_directory_owned_by_another_uid_is_refused(void **state)
{
    (void)state;
    char vmlinuz[512], dir[512];
    write_vmlinuz("vmlinuz-owner", payload(2), vmlinuz, sizeof(vmlinuz));
    if (geteuid() != 0) {
        expect_refused(vmlinuz, "/usr", "cache directory is owned by another user");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/users-cache", tmpdir);
    make_dir(dir, 0700);
    assert_int_equal(chown(dir, OTHER_UID, OTHER_UID), 0);
    expect_refused(vmlinuz, dir, "belongs to uid 12345, not root; as root pvhboot uses only a root-owned cache: "
                                 "set XDG_CACHE_HOME");
    assert_int_equal(count_files(dir, ""), 0);
}

/* Sets the mtime of dir/name to `ago` seconds in the past. */
static void age(const char *dir, const char *name, int ago)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    struct timespec ts[2] = {{time(NULL) - ago, 0}, {time(NULL) - ago, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void the_cache_keeps_its_size_limit_least_recently_used_first(void **state)
{
    (void)state;
    char v[3][512], e[3][4096], dir[512];
    bool hit;
    struct pvh_error err;
    snprintf(dir, sizeof(dir), "%s/lru-cache", tmpdir);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "vmlinuz-lru-%d", i);
        write_vmlinuz(name, payload((size_t)i), v[i], sizeof(v[i]));
    }
    /* room for two entries and a half */
    char max[32];
    snprintf(max, sizeof(max), "%zu", original.len * 5 / 2);
    setenv("PVHBOOT_CACHE_MAX", max, 1);
    assert_int_equal(lookup(v[0], dir, e[0], sizeof(e[0]), &hit, &err), 0);
    assert_int_equal(lookup(v[1], dir, e[1], sizeof(e[1]), &hit, &err), 0);
    age(dir, strrchr(e[0], '/') + 1, 200);   /* 0 is older than 1 ... */
    age(dir, strrchr(e[1], '/') + 1, 100);
    assert_int_equal(lookup(v[0], dir, e[0], sizeof(e[0]), &hit, &err), 0);
    assert_true(hit);                        /* ... until this hit makes it the newest */
    assert_int_equal(lookup(v[2], dir, e[2], sizeof(e[2]), &hit, &err), 0);
    assert_false(hit);
    /* three entries do not fit: the least recently used one, 1, went */
    assert_true(exists(e[0]));
    assert_false(exists(e[1]));
    assert_true(exists(e[2]));
    assert_int_equal(count_files(dir, "vmlinux-"), 2);
    assert_int_equal(count_files(dir, "stat-"), 2);  /* 1's shortcut went with it */

    /* a limit below one entry: the one returned stays, alone */
    setenv("PVHBOOT_CACHE_MAX", "1", 1);
    assert_int_equal(lookup(v[1], dir, e[1], sizeof(e[1]), &hit, &err), 0);
    assert_false(hit);
    assert_true(exists(e[1]));
    assert_int_equal(count_files(dir, "vmlinux-"), 1);
    assert_int_equal(count_files(dir, "stat-"), 1);

    setenv("PVHBOOT_CACHE_MAX", "lots", 1);
    expect_refused(v[1], dir, "PVHBOOT_CACHE_MAX=lots: expected the cache's size limit in bytes");
    unsetenv("PVHBOOT_CACHE_MAX");
}

static void temporary_files_a_crashed_run_left_are_removed(void **state)
{
    (void)state;
    char v[512], dir[512], stale[600], fresh[600], e[4096];
    bool hit;
    struct pvh_error err;
    write_vmlinuz("vmlinuz-tmp", payload(3), v, sizeof(v));
    snprintf(dir, sizeof(dir), "%s/tmp-cache", tmpdir);
    make_dir(dir, 0700);
    snprintf(stale, sizeof(stale), "%s/.tmp-vmlinux-1-dead", dir);
    snprintf(fresh, sizeof(fresh), "%s/.tmp-vmlinux-2-busy", dir);
    write_file(stale, (const uint8_t *)"x", 1);
    write_file(fresh, (const uint8_t *)"x", 1);
    age(dir, ".tmp-vmlinux-1-dead", 2 * 3600);
    assert_int_equal(lookup(v, dir, e, sizeof(e), &hit, &err), 0);
    assert_false(exists(stale));
    assert_true(exists(fresh));   /* another run may be writing it now */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_symlinked_cache_directory_is_refused_and_its_target_untouched),
        cmocka_unit_test(a_symlink_above_the_cache_is_followed_only_when_it_is_ours),
        cmocka_unit_test(a_cache_directory_owned_by_another_uid_is_refused),
        cmocka_unit_test(the_cache_keeps_its_size_limit_least_recently_used_first),
        cmocka_unit_test(temporary_files_a_crashed_run_left_are_removed),
    };
    return cmocka_run_group_tests_name("extract_cache", tests, setup, teardown);
}
