/* The I/O thread's epoll loop (vmm/eventloop.h): a list of watches, each
 * an fd with its callback; a watch removed during a batch of events is
 * kept until the batch is over, so no callback runs on freed memory; an
 * eventfd ends the loop, another holds it still between callbacks (the
 * pause a snapshot needs: no device request half done). */
#include "eventloop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BATCH 64
#define PAUSE_EVENT ((void *)&pvh_eventloop_pause) /* the pause eventfd's epoll tag */

struct pvh_watch {
    int fd;
    uint32_t events;
    pvh_event_cb cb;
    void *arg;
    bool removed;
    bool paused;            /* out of the epoll set (pvh_eventloop_enable) */
    struct pvh_watch *next;
};

int pvh_eventloop_init(struct pvh_eventloop *l, struct pvh_error *err)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->pause_lock, NULL);
    pthread_cond_init(&l->pause_cond, NULL);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->stop_fd = l->pause_fd = -1;
    if (l->epfd < 0) {
        int e = errno;
        pvh_eventloop_destroy(l);
        return pvh_fail(err, PVH_E_SYSTEM, "epoll_create1: %s", strerror(e));
    }
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    l->pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event stop = {.events = EPOLLIN, .data.ptr = NULL};
    struct epoll_event pause = {.events = EPOLLIN, .data.ptr = PAUSE_EVENT};
    if (l->stop_fd < 0 || l->pause_fd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &stop) != 0 ||
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->pause_fd, &pause) != 0) {
        int e = errno;
        pvh_eventloop_destroy(l);
        return pvh_fail(err, PVH_E_SYSTEM, "the I/O thread's stop and pause events: %s", strerror(e));
    }
    return 0;
}

int pvh_eventloop_watch(struct pvh_eventloop *l, int fd, uint32_t events, pvh_event_cb cb, void *arg,
                        struct pvh_error *err)
{
    if (l->nwatches == PVH_EVENTLOOP_MAX_WATCHES)
        return pvh_fail(err, PVH_E_SYSTEM, "the I/O thread watches %d fds already", PVH_EVENTLOOP_MAX_WATCHES);
    struct pvh_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return pvh_fail(err, PVH_E_SYSTEM, "out of memory");
    *w = (struct pvh_watch){.fd = fd, .events = events, .cb = cb, .arg = arg, .next = l->watches};
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int e = errno;
        free(w);
        return pvh_fail(err, PVH_E_SYSTEM, "epoll_ctl(ADD, fd %d): %s", fd, strerror(e));
    }
    l->watches = w;
    l->nwatches++;
    return 0;
}

void pvh_eventloop_unwatch(struct pvh_eventloop *l, int fd)
{
    for (struct pvh_watch **p = &l->watches; *p; p = &(*p)->next) {
        struct pvh_watch *w = *p;
        if (w->fd != fd)
            continue;
        if (!w->paused)
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        *p = w->next;
        w->removed = true;
        w->next = l->dead;
        l->dead = w;
        l->nwatches--;
        return;
    }
}

int pvh_eventloop_enable(struct pvh_eventloop *l, int fd, bool on)
{
    for (struct pvh_watch *w = l->watches; w; w = w->next) {
        if (w->fd != fd)
            continue;
        if (w->paused != on)
            return 0;
        struct epoll_event ev = {.events = w->events, .data.ptr = w};
        if (epoll_ctl(l->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) != 0)
            return -1;
        w->paused = !on;
        return 0;
    }
    return -1;
}

static void free_list(struct pvh_watch *w)
{
    while (w) {
        struct pvh_watch *next = w->next;
        free(w);
        w = next;
    }
}

/* On the loop's thread, between callbacks: held while a pause is wanted.
 * False: the loop is being stopped (it ends without another callback). */
static bool hold_if_paused(struct pvh_eventloop *l)
{
    uint64_t count;
    if (read(l->pause_fd, &count, sizeof(count)) < 0) {
        /* EAGAIN: a resumed pause's wake-up, already taken */
    }
    pthread_mutex_lock(&l->pause_lock);
    while (l->pause_wanted && !l->stopping) {
        l->holding = true;
        pthread_cond_broadcast(&l->pause_cond);
        pthread_cond_wait(&l->pause_cond, &l->pause_lock);
    }
    l->holding = false;
    bool go_on = !l->stopping;
    pthread_mutex_unlock(&l->pause_lock);
    return go_on;
}

static void *loop_thread(void *arg)
{
    struct pvh_eventloop *l = arg;
    struct epoll_event ev[BATCH];
    for (;;) {
        int n = epoll_wait(l->epfd, ev, BATCH, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        l->wakeups++;
        for (int i = 0; i < n; i++) {
            struct pvh_watch *w = ev[i].data.ptr;
            if (!w)
                return NULL; /* the stop event */
            if (ev[i].data.ptr == PAUSE_EVENT) {
                if (!hold_if_paused(l))
                    return NULL;
            } else if (!w->removed)
                w->cb(w->arg, ev[i].events);
        }
        free_list(l->dead);
        l->dead = NULL;
    }
}

int pvh_eventloop_start(struct pvh_eventloop *l, struct pvh_error *err)
{
    /* signals are for the vCPU threads and main: the I/O thread takes none */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&l->thread, NULL, loop_thread, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "cannot start the I/O thread: %s", strerror(rc));
    l->running = true;
    return 0;
}

void pvh_eventloop_stop(struct pvh_eventloop *l)
{
    if (!l->running)
        return;
    pthread_mutex_lock(&l->pause_lock);
    l->stopping = true; /* a loop held by a pause ends there */
    pthread_cond_broadcast(&l->pause_cond);
    pthread_mutex_unlock(&l->pause_lock);
    uint64_t one = 1;
    if (write(l->stop_fd, &one, sizeof(one)) != sizeof(one)) {
        /* an eventfd write fails only on overflow: it is already signalled */
    }
    pthread_join(l->thread, NULL);
    l->running = false;
    l->stopping = false;
}

void pvh_eventloop_pause(struct pvh_eventloop *l)
{
    pthread_mutex_lock(&l->pause_lock);
    l->pause_wanted = true;
    if (l->running) {
        uint64_t one = 1;
        if (write(l->pause_fd, &one, sizeof(one)) != sizeof(one)) {
            /* only on overflow: it is signalled already */
        }
        while (!l->holding)
            pthread_cond_wait(&l->pause_cond, &l->pause_lock);
    }
    pthread_mutex_unlock(&l->pause_lock);
}

void pvh_eventloop_resume(struct pvh_eventloop *l)
{
    pthread_mutex_lock(&l->pause_lock);
    l->pause_wanted = false;
    pthread_cond_broadcast(&l->pause_cond);
    pthread_mutex_unlock(&l->pause_lock);
}

void pvh_eventloop_destroy(struct pvh_eventloop *l)
{
    pvh_eventloop_stop(l);
    free_list(l->watches);
    free_list(l->dead);
    l->watches = l->dead = NULL;
    if (l->stop_fd >= 0)
        close(l->stop_fd);
    if (l->pause_fd >= 0)
        close(l->pause_fd);
    if (l->epfd >= 0)
        close(l->epfd);
    l->stop_fd = l->pause_fd = l->epfd = -1;
    pthread_cond_destroy(&l->pause_cond);
    pthread_mutex_destroy(&l->pause_lock);
}
