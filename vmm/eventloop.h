/* The I/O thread: one epoll loop on which device back-ends wait (queue
 * notifications arriving as ioeventfds, timers, sockets, the console). A
 * callback runs on that thread with the events epoll reported; it takes
 * its device's lock itself. Watches are added before the loop starts or
 * from its own callbacks, and removed only from its own callbacks. Another
 * thread may hold the loop still (pvh_eventloop_pause): once that returns
 * no callback is running and none runs until pvh_eventloop_resume. */
#ifndef PVHBOOT_VMM_EVENTLOOP_H
#define PVHBOOT_VMM_EVENTLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pvhboot/error.h"

#define PVH_EVENTLOOP_MAX_WATCHES 4096

typedef void (*pvh_event_cb)(void *arg, uint32_t events);

struct pvh_watch;

struct pvh_eventloop {
    int epfd;
    int stop_fd;          /* eventfd: wakes the loop to end it */
    pthread_t thread;
    bool running;
    unsigned nwatches;
    struct pvh_watch *watches; /* live */
    struct pvh_watch *dead;    /* removed during a batch, freed after it */
    uint64_t wakeups;     /* epoll_wait returns with events */
    int pause_fd;         /* eventfd: asks the loop to hold still */
    pthread_mutex_t pause_lock;
    pthread_cond_t pause_cond;
    bool pause_wanted;    /* under pause_lock: the pauser's request */
    bool holding;         /* under pause_lock: the loop's thread is held, no callback running */
    bool stopping;        /* under pause_lock: pvh_eventloop_stop ends a held loop */
};

int pvh_eventloop_init(struct pvh_eventloop *l, struct pvh_error *err);
/* Calls cb(arg, events) on the loop's thread whenever fd reports one of
 * events (EPOLLIN, EPOLLOUT, ...). -1 (err) when the table is full or epoll
 * refuses the fd. */
int pvh_eventloop_watch(struct pvh_eventloop *l, int fd, uint32_t events, pvh_event_cb cb, void *arg,
                        struct pvh_error *err);
/* Stops watching fd (from a callback on the loop's thread, or before the
 * loop starts). */
void pvh_eventloop_unwatch(struct pvh_eventloop *l, int fd);
/* Pauses (on false) or resumes a watch, keeping its callback: its fd leaves
 * the epoll set (so not even EPOLLERR or EPOLLHUP is reported) and comes
 * back with its events. From a callback on the loop's thread, or before
 * the loop starts. 0, or -1 when fd is not watched or epoll refuses. */
int pvh_eventloop_enable(struct pvh_eventloop *l, int fd, bool on);
int pvh_eventloop_start(struct pvh_eventloop *l, struct pvh_error *err);
/* Ends the loop and joins its thread (no callback runs afterwards). */
void pvh_eventloop_stop(struct pvh_eventloop *l);
/* From any thread but the loop's: returns once the loop's thread is between
 * callbacks and held there (a callback that was running has returned: a
 * device's request or packet is over). Nothing to wait for when the loop is
 * not running. Events that arrive meanwhile wait in epoll. */
void pvh_eventloop_pause(struct pvh_eventloop *l);
/* Lets a paused loop go on (nothing when it is not paused). */
void pvh_eventloop_resume(struct pvh_eventloop *l);
void pvh_eventloop_destroy(struct pvh_eventloop *l);

#endif
