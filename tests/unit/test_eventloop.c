/* The I/O thread's loop (vmm/eventloop.c): callbacks run on its own thread
 * with the events; a callback may remove its own watch and another whose
 * event is in the same batch (that one never runs, nothing is used after
 * being freed: ASan); stop joins the thread; the watch table is bounded;
 * a pause waits for the callback that is running to return and holds every
 * other until resume (a snapshot's quiet devices), and stop ends a paused
 * loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../vmm/eventloop.h"

struct probe {
    struct pvh_eventloop *loop;
    int fd, other_fd;
    pthread_t ran_on;
    int calls;
    uint32_t events;
    int done_fd; /* written when the callback ran */
};

static void signal_fd(int fd)
{
    uint64_t one = 1;
    assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void wait_fd(int fd)
{
    uint64_t v;
    assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
}

static void on_event(void *arg, uint32_t events)
{
    struct probe *p = arg;
    uint64_t v;
    if (read(p->fd, &v, sizeof(v)) != sizeof(v))
        return;
    p->ran_on = pthread_self();
    p->events = events;
    p->calls++;
    if (p->other_fd >= 0) { /* remove both: our own and the other one */
        pvh_eventloop_unwatch(p->loop, p->other_fd);
        pvh_eventloop_unwatch(p->loop, p->fd);
    }
    signal_fd(p->done_fd);
}

static void callbacks_run_on_the_loop_thread(void **state)
{
    (void)state;
    struct pvh_eventloop l;
    struct pvh_error err;
    assert_int_equal(pvh_eventloop_init(&l, &err), 0);
    struct probe p = {.loop = &l, .fd = eventfd(0, EFD_NONBLOCK), .other_fd = -1, .done_fd = eventfd(0, 0)};
    assert_int_equal(pvh_eventloop_watch(&l, p.fd, EPOLLIN, on_event, &p, &err), 0);
    assert_int_equal(pvh_eventloop_start(&l, &err), 0);
    for (int i = 0; i < 3; i++) {
        signal_fd(p.fd);
        wait_fd(p.done_fd);
    }
    pvh_eventloop_stop(&l);
    assert_int_equal(p.calls, 3);
    assert_true(p.events & EPOLLIN);
    assert_false(pthread_equal(p.ran_on, pthread_self()));
    pvh_eventloop_destroy(&l);
    close(p.fd);
    close(p.done_fd);
}

static void removal_inside_a_batch_is_safe(void **state)
{
    (void)state;
    struct pvh_eventloop l;
    struct pvh_error err;
    assert_int_equal(pvh_eventloop_init(&l, &err), 0);
    int done = eventfd(0, 0);
    struct probe a = {.loop = &l, .fd = eventfd(0, EFD_NONBLOCK), .done_fd = done};
    struct probe b = {.loop = &l, .fd = eventfd(0, EFD_NONBLOCK), .done_fd = done};
    a.other_fd = b.fd;
    b.other_fd = a.fd;
    assert_int_equal(pvh_eventloop_watch(&l, a.fd, EPOLLIN, on_event, &a, &err), 0);
    assert_int_equal(pvh_eventloop_watch(&l, b.fd, EPOLLIN, on_event, &b, &err), 0);
    signal_fd(a.fd);
    signal_fd(b.fd); /* both ready before the loop looks: one batch */
    assert_int_equal(pvh_eventloop_start(&l, &err), 0);
    wait_fd(done);
    pvh_eventloop_stop(&l);
    assert_int_equal(a.calls + b.calls, 1); /* the first removed the second */
    assert_int_equal(l.nwatches, 0);
    pvh_eventloop_destroy(&l);
    close(a.fd);
    close(b.fd);
    close(done);
}

/* A callback that takes its time (a device request): 200 ms between its
 * start and its end, each marked. */
struct slow {
    int fd, started_fd;
    atomic_int started, finished;
};

static void on_slow(void *arg, uint32_t events)
{
    (void)events;
    struct slow *s = arg;
    uint64_t v;
    if (read(s->fd, &v, sizeof(v)) != sizeof(v))
        return;
    atomic_fetch_add(&s->started, 1);
    signal_fd(s->started_fd);
    nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    atomic_fetch_add(&s->finished, 1);
}

static void pause_waits_for_the_running_callback_and_holds_the_rest(void **state)
{
    (void)state;
    struct pvh_eventloop l;
    struct pvh_error err;
    assert_int_equal(pvh_eventloop_init(&l, &err), 0);
    struct slow s = {.fd = eventfd(0, EFD_NONBLOCK), .started_fd = eventfd(0, 0)};
    assert_int_equal(pvh_eventloop_watch(&l, s.fd, EPOLLIN, on_slow, &s, &err), 0);
    assert_int_equal(pvh_eventloop_start(&l, &err), 0);
    signal_fd(s.fd);
    wait_fd(s.started_fd); /* the callback is in its 200 ms */
    pvh_eventloop_pause(&l);
    assert_int_equal(atomic_load(&s.finished), 1); /* the pause waited for it */
    signal_fd(s.fd);                               /* an event while paused ... */
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    assert_int_equal(atomic_load(&s.started), 1); /* ... waits */
    pvh_eventloop_resume(&l);
    wait_fd(s.started_fd); /* and runs after the resume */
    pvh_eventloop_pause(&l);
    assert_int_equal(atomic_load(&s.finished), 2);
    pvh_eventloop_resume(&l);
    pvh_eventloop_stop(&l);
    pvh_eventloop_destroy(&l);
    close(s.fd);
    close(s.started_fd);
}

static void stop_ends_a_paused_loop(void **state)
{
    (void)state;
    struct pvh_eventloop l;
    struct pvh_error err;
    assert_int_equal(pvh_eventloop_init(&l, &err), 0);
    struct slow s = {.fd = eventfd(0, EFD_NONBLOCK), .started_fd = eventfd(0, 0)};
    assert_int_equal(pvh_eventloop_watch(&l, s.fd, EPOLLIN, on_slow, &s, &err), 0);
    pvh_eventloop_pause(&l); /* not running: nothing to wait for */
    pvh_eventloop_resume(&l);
    assert_int_equal(pvh_eventloop_start(&l, &err), 0);
    pvh_eventloop_pause(&l);
    signal_fd(s.fd);
    pvh_eventloop_stop(&l); /* returns: the held loop ended without running the callback */
    assert_int_equal(atomic_load(&s.started), 0);
    pvh_eventloop_destroy(&l);
    close(s.fd);
    close(s.started_fd);
}

static void watch_table_is_bounded(void **state)
{
    (void)state;
    struct pvh_eventloop l;
    struct pvh_error err;
    assert_int_equal(pvh_eventloop_init(&l, &err), 0);
    int fd = eventfd(0, EFD_NONBLOCK);
    int dups[8];
    for (int i = 0; i < 8; i++)
        dups[i] = dup(fd);
    l.nwatches = PVH_EVENTLOOP_MAX_WATCHES - 1; /* pretend the rest are taken */
    assert_int_equal(pvh_eventloop_watch(&l, dups[0], EPOLLIN, on_event, NULL, &err), 0);
    assert_int_equal(pvh_eventloop_watch(&l, dups[1], EPOLLIN, on_event, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "4096"));
    assert_int_equal(pvh_eventloop_watch(&l, -1, EPOLLIN, on_event, NULL, &err), -1); /* epoll refuses */
    l.nwatches = 1;
    pvh_eventloop_destroy(&l); /* never started: stop is a no-op, watches freed */
    for (int i = 0; i < 8; i++)
        close(dups[i]);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(callbacks_run_on_the_loop_thread),
        cmocka_unit_test(removal_inside_a_batch_is_safe),
        cmocka_unit_test(watch_table_is_bounded),
        cmocka_unit_test(pause_waits_for_the_running_callback_and_holds_the_rest),
        cmocka_unit_test(stop_ends_a_paused_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
