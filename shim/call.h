/* call.h — how io.c and net.c describe a read- or write-like call to the
 * runtime: a gp_io plus the call's own arguments. */
#ifndef GP_CALL_H
#define GP_CALL_H
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <stdint.h>

struct call {
    struct gp_io io;           /* first: the runtime hands it back */
    void *buf;                 /* read-, recv-like */
    const void *cbuf;          /* write-, send-like */
    const struct iovec *iov;   /* readv, writev */
    int iovcnt;
    int flags;                 /* the program's MSG_* flags */
    struct sockaddr *addr;     /* recvfrom, accept */
    socklen_t *addrlen;
    const struct sockaddr *to; /* sendto, connect */
    socklen_t tolen;
    struct msghdr *msg;        /* recvmsg */
    const struct msghdr *cmsg; /* sendmsg */
};

static inline ssize_t neg(ssize_t r) { return r < 0 ? -errno : r; }

/* After `done` bytes of a vector call have moved, the rest of it begins at
 * iov[*idx] + *off. */
static inline void iov_skip(const struct iovec *iov, int cnt, size_t done, int *idx, size_t *off)
{
    int i = 0;
    while (i < cnt && done >= iov[i].iov_len) done -= iov[i++].iov_len;
    *idx = i;
    *off = done;
}

static inline size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t t = 0;
    for (int i = 0; i < cnt; i++) t += iov[i].iov_len;
    return t;
}
#endif
