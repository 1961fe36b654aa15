/* poll.c — poll, ppoll, select, pselect (and __poll_chk). Each attempt is
 * the real call with a zero timeout, which also validates every argument as
 * stock does; between attempts the green thread parks on the fds. The signal
 * mask of ppoll/pselect is the green thread's own while the call lasts
 * (mask.h), and the real one at the attempts only (the worker's OS thread
 * is shared): see README, known limits. */
#include "../runtime/real.h"
#include "../runtime/gp.h"
#include "mask.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- poll, ppoll --------------------------------------------------------- */
struct pollcall {
    struct gp_pollop op;
    struct pollfd *fds;
    nfds_t n;
    const sigset_t *mask;
    int use_ppoll;
};

static int poll_try(struct gp_pollop *op)
{
    struct pollcall *c = (struct pollcall *)op;
    int r;
    if (c->use_ppoll) {
        struct timespec zero = {0, 0};
        r = R(ppoll)(c->fds, c->n, &zero, c->mask);
    } else {
        r = R(poll)(c->fds, c->n, 0);
    }
    return r < 0 ? -errno : r;
}

GP_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (!GP_MANAGED()) return R(poll)(fds, n, timeout); /* timeout 0: one attempt, then others run */
    struct pollcall c = {.op = {.attempt = poll_try, .wait = fds, .nwait = n,
                                .deadline = timeout < 0 ? GP_FOREVER : gp_after_ns((int64_t)timeout * 1000000)},
                         .fds = fds, .n = n};
    return (int)GP_CALL(gp_poll(&c.op));
}

GP_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
    if (fdslen / sizeof *fds < n) __chk_fail();
    return poll(fds, n, timeout);
}

static int ppoll_masked(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
    if (!GP_MANAGED()) return R(ppoll)(fds, n, tmo, mask);
    gp_deadline dl = GP_FOREVER;
    if (tmo) {
        struct timespec ts;
        /* a bad timeout is refused at once by the real call */
        if (gp_copy_in(&ts, tmo, sizeof ts) != 0 || ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= GP_NSEC)
            return R(ppoll)(fds, n, tmo, mask);
        dl = gp_after_ns(gp_ts_ns(&ts));
    }
    struct pollcall c = {.op = {.attempt = poll_try, .wait = fds, .nwait = n, .deadline = dl},
                         .fds = fds, .n = n, .mask = mask, .use_ppoll = 1};
    return (int)GP_CALL(gp_poll(&c.op));
}

GP_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo, const sigset_t *mask)
{
    return GP_WITH_WAIT_MASK(mask, ppoll_masked(fds, n, tmo, mask));
}

/* ---- select, pselect ------------------------------------------------------------ */
struct selcall {
    struct gp_pollop op;
    int nfds;
    fd_set *sets[3];
    fd_set saved[3];
    const sigset_t *mask;
    int use_pselect;
};

/* the caller's sets as they came in: before each attempt, and after an
 * error (EINTR...), which leaves them untouched in the kernel's select */
static void select_restore(struct selcall *c)
{
    for (int i = 0; i < 3; i++)
        if (c->sets[i]) memcpy(c->sets[i], &c->saved[i], ((size_t)c->nfds + 7) / 8);
}

static int select_try(struct gp_pollop *op)
{
    struct selcall *c = (struct selcall *)op;
    select_restore(c);
    int r;
    if (c->use_pselect) {
        struct timespec zero = {0, 0};
        r = R(pselect)(c->nfds, c->sets[0], c->sets[1], c->sets[2], &zero, c->mask);
    } else {
        struct timeval zero = {0, 0};
        r = R(select)(c->nfds, c->sets[0], c->sets[1], c->sets[2], &zero);
    }
    return r < 0 ? -errno : r;
}

/* 0: go ahead; otherwise let the real call answer (bad input, or a case we
 * leave to it). */
static int select_setup(struct selcall *c, int nfds, fd_set *r, fd_set *w, fd_set *e)
{
    if (nfds < 0 || nfds > FD_SETSIZE) return -1;
    c->nfds = nfds;
    c->sets[0] = r;
    c->sets[1] = w;
    c->sets[2] = e;
    for (int i = 0; i < 3; i++) {
        FD_ZERO(&c->saved[i]);
        if (c->sets[i] && gp_copy_in(&c->saved[i], c->sets[i], ((size_t)nfds + 7) / 8) != 0) return -1;
    }
    size_t count = 0;
    for (int fd = 0; fd < nfds; fd++)
        for (int i = 0; i < 3; i++)
            if (c->sets[i] && FD_ISSET(fd, &c->saved[i])) {
                count++;
                break;
            }
    c->op.wait = count ? calloc(count, sizeof(struct pollfd)) : NULL;
    if (count && !c->op.wait) return -1;
    nfds_t k = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = 0;
        if (r && FD_ISSET(fd, &c->saved[0])) ev |= POLLIN;
        if (w && FD_ISSET(fd, &c->saved[1])) ev |= POLLOUT;
        if (e && FD_ISSET(fd, &c->saved[2])) ev |= POLLPRI;
        if (ev) c->op.wait[k++] = (struct pollfd){fd, ev, 0};
    }
    c->op.nwait = k;
    c->op.attempt = select_try;
    return 0;
}

GP_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    if (!GP_MANAGED()) return R(select)(nfds, r, w, e, tv);
    struct timeval t;
    gp_deadline dl = GP_FOREVER;
    if (tv) {
        if (gp_copy_in(&t, tv, sizeof t) != 0 || t.tv_sec < 0 || t.tv_usec < 0)
            return R(select)(nfds, r, w, e, tv);
        dl = gp_after_ns((int64_t)t.tv_sec * GP_NSEC + (int64_t)t.tv_usec * 1000);
    }
    struct selcall c = {.op = {.deadline = dl}};
    if (select_setup(&c, nfds, r, w, e) != 0) {
        free(c.op.wait);
        return R(select)(nfds, r, w, e, tv);
    }
    int res = (int)GP_CALL(gp_poll(&c.op));
    free(c.op.wait);
    if (res < 0) select_restore(&c);
    if (tv) { /* Linux reports the time not slept */
        int64_t left = gp_left(dl);
        tv->tv_sec = left / GP_NSEC;
        tv->tv_usec = (left % GP_NSEC) / 1000;
    }
    return res;
}

static int pselect_masked(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
                          const sigset_t *mask)
{
    if (!GP_MANAGED()) return R(pselect)(nfds, r, w, e, ts, mask);
    struct timespec t;
    gp_deadline dl = GP_FOREVER;
    if (ts) {
        if (gp_copy_in(&t, ts, sizeof t) != 0 || t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= GP_NSEC)
            return R(pselect)(nfds, r, w, e, ts, mask);
        dl = gp_after_ns(gp_ts_ns(&t));
    }
    struct selcall c = {.op = {.deadline = dl}, .mask = mask, .use_pselect = 1};
    if (select_setup(&c, nfds, r, w, e) != 0) {
        free(c.op.wait);
        return R(pselect)(nfds, r, w, e, ts, mask);
    }
    int res = (int)GP_CALL(gp_poll(&c.op));
    free(c.op.wait);
    if (res < 0) select_restore(&c);
    return res;
}

GP_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *mask)
{
    return GP_WITH_WAIT_MASK(mask, pselect_masked(nfds, r, w, e, ts, mask));
}
