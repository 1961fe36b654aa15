/* net.c — recv*, send*, accept*, connect, and the sockets' creators (so the
 * runtime forgets whatever it knew of a reused fd number). */
#include "call.h"

#include <fcntl.h>
#include <limits.h>

/* ---- recv, recvfrom, recvmsg ------------------------------------------------ */
static ssize_t recvfrom_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    int fl = c->flags | (how == GP_SOCK ? MSG_DONTWAIT : 0);
    if (c->io.all) fl &= ~MSG_WAITALL; /* the runtime gathers all of it */
    char *p = (char *)c->buf + op->done;
    return neg(R(recvfrom)(op->fd, p, op->len - op->done, fl, c->addr, c->addrlen));
}

static ssize_t do_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen)
{
    struct call c = {.io = {.attempt = recvfrom_try, .sock = 1, .fd = fd, .events = GP_IN, .len = n,
                            .all = (flags & MSG_WAITALL) && !(flags & MSG_DONTWAIT),
                            .drains = !(flags & (MSG_PEEK | MSG_WAITALL))},
                     .buf = buf, .flags = flags, .addr = addr, .addrlen = alen};
    return GP_CALL(gp_io(&c.io));
}

GP_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    if (!GP_MANAGED() || n == 0 || (flags & MSG_DONTWAIT)) return R(recv)(fd, buf, n, flags);
    return do_recvfrom(fd, buf, n, flags, NULL, NULL);
}

GP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *alen)
{
    if (!GP_MANAGED() || n == 0 || (flags & MSG_DONTWAIT)) return R(recvfrom)(fd, buf, n, flags, addr, alen);
    return do_recvfrom(fd, buf, n, flags, addr, alen);
}

GP_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    if (n > buflen) __chk_fail();
    return recv(fd, buf, n, flags);
}

GP_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                 struct sockaddr *addr, socklen_t *alen)
{
    if (n > buflen) __chk_fail();
    return recvfrom(fd, buf, n, flags, addr, alen);
}

static ssize_t recvmsg_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    return neg(R(recvmsg)(op->fd, c->msg, c->flags | (how == GP_SOCK ? MSG_DONTWAIT : 0)));
}

GP_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    /* MSG_WAITALL over a vector: rare enough to let it block as stock */
    if (!GP_MANAGED() || (flags & (MSG_WAITALL | MSG_DONTWAIT))) return R(recvmsg)(fd, msg, flags);
    struct call c = {.io = {.attempt = recvmsg_try, .sock = 1, .fd = fd, .events = GP_IN}, .msg = msg, .flags = flags};
    return GP_CALL(gp_io(&c.io));
}

/* ---- send, sendto, sendmsg ---------------------------------------------------- */
static ssize_t sendto_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    int fl = c->flags | (how == GP_SOCK ? MSG_DONTWAIT : 0);
    return neg(R(sendto)(op->fd, (const char *)c->cbuf + op->done, op->len - op->done, fl, c->to, c->tolen));
}

GP_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    if (!GP_MANAGED() || (flags & MSG_DONTWAIT)) return R(send)(fd, buf, n, flags); /* never parks */
    struct call c = {.io = {.attempt = sendto_try, .sock = 1, .fd = fd, .events = GP_OUT, .len = n, .all = 1},
                     .cbuf = buf, .flags = flags};
    return GP_CALL(gp_io(&c.io));
}

GP_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
    if (!GP_MANAGED() || (flags & MSG_DONTWAIT)) return R(sendto)(fd, buf, n, flags, to, tolen);
    struct call c = {.io = {.attempt = sendto_try, .sock = 1, .fd = fd, .events = GP_OUT, .len = n, .all = 1},
                     .cbuf = buf, .flags = flags, .to = to, .tolen = tolen};
    return GP_CALL(gp_io(&c.io));
}

static ssize_t sendmsg_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    int fl = c->flags | (how == GP_SOCK ? MSG_DONTWAIT : 0);
    if (!op->done) {
        ssize_t r = neg(R(sendmsg)(op->fd, c->cmsg, fl));
        /* the kernel has read the header and vector: now we may */
        if (r != -EFAULT) op->len = iov_total(c->cmsg->msg_iov, (int)c->cmsg->msg_iovlen);
        return r;
    }
    /* continue a stream after a partial send: the rest of the data only */
    int i;
    size_t off;
    iov_skip(c->cmsg->msg_iov, (int)c->cmsg->msg_iovlen, op->done, &i, &off);
    struct iovec one, *iov = c->cmsg->msg_iov + i;
    size_t cnt = c->cmsg->msg_iovlen - (size_t)i;
    if (off) {
        one = (struct iovec){(char *)iov->iov_base + off, iov->iov_len - off};
        iov = &one;
        cnt = 1;
    }
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = cnt};
    return neg(R(sendmsg)(op->fd, &m, fl));
}

GP_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!GP_MANAGED() || (flags & MSG_DONTWAIT)) return R(sendmsg)(fd, msg, flags);
    struct call c = {.io = {.attempt = sendmsg_try, .sock = 1, .fd = fd, .events = GP_OUT, .len = SIZE_MAX, .all = 1},
                     .cmsg = msg, .flags = flags};
    return GP_CALL(gp_io(&c.io));
}

/* ---- accept, accept4 ------------------------------------------------------------ */
/* accept has no per-call "don't wait": ask whether a connection is queued
 * first (any revents: a bad or non-listening fd makes accept say why). A
 * poll that a signal handler interrupted (EINTR, even with a zero timeout)
 * has said nothing: treat it as "none yet" and let the runtime wait, never
 * go on to a blocking accept that would stall every gthread (and, with
 * SA_RESTART, never return). */
static ssize_t accept_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    if (how != GP_SOCK) return neg(R(accept4)(op->fd, c->addr, c->addrlen, c->flags));
    /* with several workers, no other worker's gthread may take the
     * connection between the poll and the accept (gp_ready_lock) */
    if (!gp_ready_lock(op->fd)) return -EAGAIN;
    struct pollfd p = {op->fd, POLLIN, 0};
    int n = R(poll)(&p, 1, 0);
    ssize_t r = n == 0 || (n < 0 && errno == EINTR) ? -EAGAIN : neg(R(accept4)(op->fd, c->addr, c->addrlen, c->flags));
    gp_ready_unlock(op->fd);
    return r;
}

GP_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
    if (!GP_MANAGED()) {
        int r = R(accept4)(fd, addr, alen, flags);
        if (r >= 0) gp_fd_new(r);
        return r;
    }
    struct call c = {.io = {.attempt = accept_try, .sock = 1, .fd = fd, .events = GP_IN, .newfd = 1},
                     .addr = addr, .addrlen = alen, .flags = flags};
    return (int)GP_CALL(gp_io(&c.io));
}

GP_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
    return accept4(fd, addr, alen, 0);
}

/* ---- O_NONBLOCK for the one system call ---------------------------------------------- */
/* connect, sendfile and splice have no per-call "don't wait": the fd is made
 * non-blocking for the one call and put back at once. Through libc's own
 * fcntl, not our hook: the program's view of its flags does not change, so
 * the runtime's record of them stays valid. known: the flags the runtime
 * has read already (gp_io's op->fl), or -1 to read them now; one system call
 * fewer per sendfile on a keep-alive connection (the worker-pool server
 * served about a fifth more requests a second). Returns the flags to
 * restore, or -1 when there is nothing to undo (already non-blocking, or not
 * an fd: the call itself then says EBADF). */
static int nonblock_on(int fd, int known)
{
    int fl = known >= 0 ? known : R(fcntl64)(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK)) return -1;
    R(fcntl64)(fd, F_SETFL, fl | O_NONBLOCK);
    return fl;
}

static void nonblock_off(int fd, int fl)
{
    if (fl >= 0) R(fcntl64)(fd, F_SETFL, fl);
}

/* ---- connect ------------------------------------------------------------------------ */
/* connect cannot be made non-blocking per call: set O_NONBLOCK for the one
 * system call and put the flags back at once (the connection goes on in the
 * kernel either way), then wait for writability and read SO_ERROR. */
static ssize_t connect_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    /* GP_FINISH: connect again, as a blocking connect does inside the
     * kernel: it reports the outcome (0, or ECONNREFUSED...) and marks the
     * socket connected, so a later connect says EISCONN as stock */
    if (how != GP_SOCK && how != GP_FINISH) return neg(R(connect)(op->fd, c->to, c->tolen));
    int fl = nonblock_on(op->fd, op->fl);
    ssize_t r = neg(R(connect)(op->fd, c->to, c->tolen));
    nonblock_off(op->fd, fl);
    return r;
}

GP_EXPORT int connect(int fd, const struct sockaddr *to, socklen_t tolen)
{
    if (!GP_MANAGED()) return R(connect)(fd, to, tolen);
    struct call c = {.io = {.attempt = connect_try, .sock = 1, .fd = fd, .events = GP_OUT, .connect = 1},
                     .to = to, .tolen = tolen};
    return (int)GP_CALL(gp_io(&c.io));
}

/* ---- creators ----------------------------------------------------------------------- */
GP_EXPORT int socket(int domain, int type, int proto)
{
    int r = R(socket)(domain, type, proto);
    if (r >= 0) gp_fd_new(r);
    return r;
}

GP_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    int r = R(socketpair)(domain, type, proto, sv);
    if (r == 0) {
        gp_fd_new(sv[0]);
        gp_fd_new(sv[1]);
    }
    return r;
}

/* ---- sendfile ------------------------------------------------------------------ */
/* O_NONBLOCK for each call, like connect; a blocking socket gets everything. */
#include <sys/sendfile.h>

struct sfcall { struct gp_io io; int in; off_t *off; };

static ssize_t sendfile_try(struct gp_io *op, int how)
{
    struct sfcall *c = (struct sfcall *)op;
    size_t n = op->len - op->done;
    if (how == GP_SMALL && n > PIPE_BUF) n = PIPE_BUF;
    if (how == GP_PLAIN || how == GP_SMALL) return neg(R(sendfile)(op->fd, c->in, c->off, n));
    int fl = nonblock_on(op->fd, op->fl);
    ssize_t r = neg(R(sendfile)(op->fd, c->in, c->off, n));
    nonblock_off(op->fd, fl);
    return r;
}

GP_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    if (!GP_MANAGED() || n == 0) return R(sendfile)(out, in, off, n);
    struct sfcall c = {.io = {.attempt = sendfile_try, .fd = out, .events = GP_OUT, .len = n, .all = 1},
                       .in = in, .off = off};
    return GP_CALL(gp_io(&c.io));
}

GP_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t n)
{
    return sendfile(out, in, off, n);
}

/* ---- splice ------------------------------------------------------------------- */
/* Either side may be what would block: each attempt is non-blocking on both
 * (SPLICE_F_NONBLOCK for the pipe, O_NONBLOCK for the one call on a socket),
 * and between attempts the green thread waits for its input to be readable
 * or its output writable. */

struct splicecall {
    struct gp_pollop op;
    struct pollfd fds[2];
    int in, out;
    loff_t *off_in, *off_out;
    size_t len;
    unsigned int flags;
    ssize_t result;
};

static int splice_try(struct gp_pollop *op)
{
    struct splicecall *c = (struct splicecall *)op;
    int fin = nonblock_on(c->in, -1), fout = c->out != c->in ? nonblock_on(c->out, -1) : -1;
    ssize_t r = R(splice)(c->in, c->off_in, c->out, c->off_out, c->len, c->flags | SPLICE_F_NONBLOCK);
    int e = errno;
    nonblock_off(c->in, fin);
    nonblock_off(c->out, fout);
    if (r >= 0) {
        c->result = r;
        return 1;
    }
    return e == EAGAIN ? 0 : -e;
}

GP_EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned int flags)
{
    if (!GP_MANAGED() || (flags & SPLICE_F_NONBLOCK)) return R(splice)(in, off_in, out, off_out, len, flags);
    struct splicecall c = {.op = {.attempt = splice_try, .nwait = 2, .deadline = GP_FOREVER},
                           .fds = {{in, POLLIN, 0}, {out, POLLOUT, 0}},
                           .in = in, .out = out, .off_in = off_in, .off_out = off_out, .len = len, .flags = flags};
    c.op.wait = c.fds;
    int r = (int)GP_CALL(gp_poll(&c.op));
    return r < 0 ? -1 : c.result;
}
