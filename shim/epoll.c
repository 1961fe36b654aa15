/* epoll.c — epoll_wait, epoll_pwait, epoll_pwait2 park the green thread: an
 * epoll fd is itself pollable (readable when an event is ready), so each
 * attempt is the real call with a zero timeout and the park waits on the
 * epoll fd. Event-loop programs with worker threads run this way. */
#include "../runtime/real.h"
#include "../runtime/gp.h"
#include "mask.h"

#include <errno.h>
#include <sys/epoll.h>

struct epcall {
    struct gp_pollop op;
    struct pollfd self;
    struct epoll_event *ev;
    int max;
    const sigset_t *mask;
    int with_mask;
};

static int ep_try(struct gp_pollop *op)
{
    struct epcall *c = (struct epcall *)op;
    int r = c->with_mask ? R(epoll_pwait)(c->self.fd, c->ev, c->max, 0, c->mask)
                         : R(epoll_wait)(c->self.fd, c->ev, c->max, 0);
    return r < 0 ? -errno : r;
}

static int ep_wait(int epfd, struct epoll_event *ev, int max, gp_deadline dl, const sigset_t *mask, int with_mask)
{
    struct epcall c = {.op = {.attempt = ep_try, .nwait = 1, .deadline = dl},
                       .self = {epfd, POLLIN, 0}, .ev = ev, .max = max, .mask = mask, .with_mask = with_mask};
    c.op.wait = &c.self;
    return (int)GP_CALL(gp_poll(&c.op));
}

/* libuv registers a watcher with the kernel lazily, at its loop's next
 * poll, and aborts the process if that epoll_ctl fails with anything but
 * EEXIST. Another thread may close or replace the fd in between: a foreign
 * OS thread, or (GPATCH_WORKERS) a green thread of another worker, which also
 * takes the number out of this loop's set (fdtable.c, foreign_change). The
 * worker forgets that fd before its next wait on it; until then, a
 * registration of a number that is gone (EBADF) or was taken out (ENOENT on
 * a change) is as good as done. Every other epoll_ctl, and every one on the
 * program's own epoll fds, is the real one. */
GP_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    int saved = errno;
    int r = R(epoll_ctl)(epfd, op, fd, ev);
    /* not while uv_poll_init checks that a number can be watched at all
     * (ADD, then DEL, which it expects to succeed): that answer is true */
    if (r == 0 || (errno != EBADF && !(errno == ENOENT && op == EPOLL_CTL_MOD)) || op == EPOLL_CTL_DEL ||
        gp_swallowing_nonblock() || !gp_loop_epoll(epfd))
        return r;
    errno = saved;
    return 0;
}

GP_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (!GP_MANAGED()) return R(epoll_wait)(epfd, ev, max, timeout); /* 0: one attempt, then others run */
    return ep_wait(epfd, ev, max, timeout < 0 ? GP_FOREVER : gp_after_ns((int64_t)timeout * 1000000), NULL, 0);
}

/* the pwait forms: the mask is the green thread's own while they last (mask.h) */
static int pwait_masked(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    if (!GP_MANAGED()) return R(epoll_pwait)(epfd, ev, max, timeout, mask);
    return ep_wait(epfd, ev, max, timeout < 0 ? GP_FOREVER : gp_after_ns((int64_t)timeout * 1000000), mask, 1);
}

GP_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
    return GP_WITH_WAIT_MASK(mask, pwait_masked(epfd, ev, max, timeout, mask));
}

static int pwait2_masked(int epfd, struct epoll_event *ev, int max, const struct timespec *tmo, const sigset_t *mask)
{
    if (!GP_MANAGED()) return R(epoll_pwait2)(epfd, ev, max, tmo, mask);
    gp_deadline dl = GP_FOREVER;
    if (tmo) {
        struct timespec ts;
        if (gp_copy_in(&ts, tmo, sizeof ts) != 0 || ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= GP_NSEC)
            return R(epoll_pwait2)(epfd, ev, max, tmo, mask); /* bad input: at once */
        dl = gp_after_ns(gp_ts_ns(&ts));
    }
    return ep_wait(epfd, ev, max, dl, mask, 1);
}

GP_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *tmo, const sigset_t *mask)
{
    return GP_WITH_WAIT_MASK(mask, pwait2_masked(epfd, ev, max, tmo, mask));
}
