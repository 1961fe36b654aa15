/* fd.c — the fd lifecycle the runtime must see: close (wakes waiters with
 * EBADF before the real close), fclose, dup2/dup3 over a watched fd, pipes;
 * and ioctl, where libuv's request to make a program's fd non-blocking is
 * swallowed (the program's file stays exactly as it made it). The runtime
 * hears of every change, whichever thread makes it: a gthread, main, or an
 * OS thread that is not a gthread (the gp_fd_* calls take any caller). */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <linux/close_range.h>

GP_EXPORT int close(int fd)
{
    int r = gp_fd_close(fd);
    if (r < 0) { /* one of the runtime's own: not the program's to close */
        errno = -r;
        return -1;
    }
    return R(close)(fd);
}

GP_EXPORT int fclose(FILE *fp)
{
    if (fp) {
        int fd = fileno(fp);
        if (fd >= 0) gp_fd_close(fd);
    }
    return R(fclose)(fp);
}

static int replace(int oldfd, int newfd)
{
    /* only when the dup will happen: a bad oldfd leaves newfd alone */
    if (oldfd == newfd || R(fcntl64)(oldfd, F_GETFD) < 0) return 0;
    return gp_fd_close(newfd);
}

/* dup2 and dup3: stop watching newfd (waking its waiters) before it is replaced */
static int before_replace(int oldfd, int newfd)
{
    int saved = errno;
    int r = replace(oldfd, newfd);
    errno = saved;
    if (r < 0) errno = -r;
    return r;
}

GP_EXPORT int dup2(int oldfd, int newfd)
{
    return before_replace(oldfd, newfd) < 0 ? -1 : R(dup2)(oldfd, newfd);
}

GP_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    return before_replace(oldfd, newfd) < 0 ? -1 : R(dup3)(oldfd, newfd, flags);
}

GP_EXPORT int pipe(int fds[2])
{
    int r = R(pipe)(fds);
    if (r == 0) {
        gp_fd_new(fds[0]);
        gp_fd_new(fds[1]);
    }
    return r;
}

GP_EXPORT int pipe2(int fds[2], int flags)
{
    int r = R(pipe2)(fds, flags);
    if (r == 0) {
        gp_fd_new(fds[0]);
        gp_fd_new(fds[1]);
    }
    return r;
}

GP_EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (gp_swallowing_nonblock() && req == FIONBIO) return 0;
    int r = R(ioctl)(fd, req, arg);
    if (r == 0 && req == FIONBIO) gp_fd_flags_changed(fd);
    return r;
}

/* the runtime keeps a socket's SO_RCVTIMEO/SO_SNDTIMEO: tell it of changes */
GP_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int r = R(setsockopt)(fd, level, name, val, len);
    if (r == 0 && level == SOL_SOCKET) gp_fd_flags_changed(fd);
    return r;
}

/* ---- more creators: the runtime forgets what it knew of a reused number ---- */
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

static int fresh(int fd)
{
    if (fd >= 0) gp_fd_new(fd);
    return fd;
}

GP_EXPORT int eventfd(unsigned int v, int flags) { return fresh(R(eventfd)(v, flags)); }
GP_EXPORT int timerfd_create(int clk, int flags) { return fresh(R(timerfd_create)(clk, flags)); }
/* every signal some signalfd of the process was made for (bits): one sent
 * to a green thread goes the kernel's way, never kept for the thread
 * (shim/thread.c), since a signalfd reads only what the kernel holds */
uint64_t gp_shim_signalfd_sigs;

GP_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    int r = R(signalfd)(fd, mask, flags);
    if (r >= 0) {
        uint64_t bits = 0;
        for (int sig = 1; sig <= 64; sig++)
            if (sigismember(mask, sig) == 1) bits |= 1ull << (sig - 1);
        __atomic_or_fetch(&gp_shim_signalfd_sigs, bits, __ATOMIC_RELAXED);
    }
    return fd == -1 ? fresh(r) : r;
}
GP_EXPORT int epoll_create(int size) { return fresh(R(epoll_create)(size)); }
GP_EXPORT int epoll_create1(int flags) { return fresh(R(epoll_create1)(flags)); }

GP_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
    if (gp_fd_tracking() && !(flags & CLOSE_RANGE_CLOEXEC)) {
        /* stop watching each number first; the runtime's own fds are skipped
         * by closing around them, never by letting the program close them */
        unsigned int top = last;
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && top >= rl.rlim_cur)
            top = (unsigned int)rl.rlim_cur - 1;
        unsigned int from = first;
        for (unsigned int fd = first; fd <= top && fd >= first; fd++) {
            if (gp_fd_close((int)fd) < 0) { /* ours: close what lies before it */
                if (fd > from && R(close_range)(from, fd - 1, flags) != 0) return -1;
                from = fd + 1;
            }
        }
        if (from > last) return 0;
        return R(close_range)(from, last, flags);
    }
    return R(close_range)(first, last, flags);
}
