/* io.c — read, write, readv, writev (and __read_chk): on sockets, pipes,
 * FIFOs and terminals they park the calling green thread instead of the
 * worker. Regular files pass through (the runtime decides, per fd). */
#include "call.h"

#include <limits.h>
#include <sys/uio.h>

/* ---- read ------------------------------------------------------------------ */
static ssize_t read_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    if (how == GP_SOCK) return neg(R(recv)(op->fd, c->buf, op->len, MSG_DONTWAIT));
    if (how == GP_RWF) {
        struct iovec v = {c->buf, op->len};
        return neg(preadv2(op->fd, &v, 1, -1, RWF_NOWAIT));
    }
    return neg(R(read)(op->fd, c->buf, op->len));
}

GP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    /* nothing to wait for: a zero-length read answers at once, as stock */
    if (!GP_MANAGED() || n == 0) return R(read)(fd, buf, n);
    /* only the fields read_try reads: zeroing all of struct call costs more
     * than the rest of the hook (read and write are the hottest hooks) */
    struct call c;
    c.io = (struct gp_io){.attempt = read_try, .fd = fd, .events = GP_IN, .len = n, .drains = 1};
    c.buf = buf;
    return GP_CALL(gp_io(&c.io));
}

GP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen) __chk_fail();
    return read(fd, buf, n);
}

/* ---- write ------------------------------------------------------------------- */
static ssize_t write_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    const char *p = (const char *)c->cbuf + op->done;
    size_t n = op->len - op->done;
    if (how == GP_SOCK) return neg(R(send)(op->fd, p, n, MSG_DONTWAIT));
    if (how == GP_RWF) {
        struct iovec v = {(void *)p, n};
        return neg(pwritev2(op->fd, &v, 1, -1, RWF_NOWAIT));
    }
    if (how == GP_SMALL && n > PIPE_BUF) n = PIPE_BUF;
    return neg(R(write)(op->fd, p, n));
}

GP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (!GP_MANAGED()) return R(write)(fd, buf, n);
    struct call c; /* only the fields write_try reads, as in read */
    c.io = (struct gp_io){.attempt = write_try, .fd = fd, .events = GP_OUT, .all = 1, .len = n};
    c.cbuf = buf;
    return GP_CALL(gp_io(&c.io));
}

/* ---- readv ------------------------------------------------------------------- */
static ssize_t readv_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    if (how == GP_SOCK) {
        struct msghdr m = {.msg_iov = (struct iovec *)c->iov, .msg_iovlen = (size_t)c->iovcnt};
        return neg(R(recvmsg)(op->fd, &m, MSG_DONTWAIT));
    }
    if (how == GP_RWF) return neg(preadv2(op->fd, c->iov, c->iovcnt, -1, RWF_NOWAIT));
    return neg(R(readv)(op->fd, c->iov, c->iovcnt));
}

GP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    /* a bad count is refused by the kernel at once, as stock */
    if (!GP_MANAGED() || cnt <= 0 || cnt > IOV_MAX) return R(readv)(fd, iov, cnt);
    struct call c = {.io = {.attempt = readv_try, .fd = fd, .events = GP_IN}, .iov = iov, .iovcnt = cnt};
    return GP_CALL(gp_io(&c.io));
}

/* ---- writev ------------------------------------------------------------------ */
static ssize_t writev_try(struct gp_io *op, int how)
{
    struct call *c = (struct call *)op;
    const struct iovec *iov = c->iov;
    int cnt = c->iovcnt;
    struct iovec one;
    if (op->done) { /* the kernel has read the vector once: it is valid */
        int i;
        size_t off;
        iov_skip(c->iov, c->iovcnt, op->done, &i, &off);
        iov = c->iov + i;
        cnt = c->iovcnt - i;
        if (off) { /* finish the element that was cut, then go on whole */
            one = (struct iovec){(char *)iov->iov_base + off, iov->iov_len - off};
            iov = &one;
            cnt = 1;
        }
    }
    ssize_t r;
    struct iovec cut[16];
    if (how == GP_SMALL && op->len == SIZE_MAX) {
        /* The vector has not been read yet, and we may not read it before the
         * kernel has (a bad one is EFAULT, not our crash). A refused
         * RWF_NOWAIT (the reason this fd polls first) imports it first. */
        r = neg(pwritev2(op->fd, iov, cnt, -1, RWF_NOWAIT));
        if (r != -EFAULT) op->len = iov_total(c->iov, c->iovcnt);
        if (r != -EOPNOTSUPP) return r; /* (taken after all: a try that did not wait) */
    }
    if (how == GP_SMALL && op->len - op->done > PIPE_BUF) { /* the first PIPE_BUF bytes only */
        size_t left = PIPE_BUF;
        int n = 0;
        for (; n < cnt && n < 16 && left; n++) {
            cut[n] = iov[n];
            if (cut[n].iov_len > left) cut[n].iov_len = left;
            left -= cut[n].iov_len;
        }
        iov = cut;
        cnt = n;
    }
    if (how == GP_SOCK) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
        r = neg(R(sendmsg)(op->fd, &m, MSG_DONTWAIT));
    } else if (how == GP_RWF) {
        r = neg(pwritev2(op->fd, iov, cnt, -1, RWF_NOWAIT));
    } else {
        r = neg(R(writev)(op->fd, iov, cnt));
    }
    /* Past the kernel's import of the vector (anything but EFAULT), it is
     * safe for us to read it and learn the total. */
    if (op->len == SIZE_MAX && r != -EFAULT) op->len = iov_total(c->iov, c->iovcnt);
    return r;
}

GP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (!GP_MANAGED() || cnt <= 0 || cnt > IOV_MAX) return R(writev)(fd, iov, cnt);
    struct call c = {.io = {.attempt = writev_try, .fd = fd, .events = GP_OUT, .all = 1, .len = SIZE_MAX},
                     .iov = iov, .iovcnt = cnt};
    return GP_CALL(gp_io(&c.io));
}
