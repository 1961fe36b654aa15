/* proc.c — calls that wait and cannot be polled: waitpid and friends,
 * system, pclose, flock, lockf, fcntl's F_SETLKW. A green thread hands them to a
 * helper OS thread (gp_offload) and parks; other callers go straight to libc.
 * fcntl is also where fds get duplicated (F_DUPFD*), like dup.
 *
 * Each first tries the form of the call that never waits (WNOHANG, LOCK_NB,
 * F_TLOCK, F_SETLK): a child that has already exited, a lock nobody holds,
 * answer at once on the green thread, as they would stock, and only a call
 * that would really wait goes to a helper thread. */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define offloading() GP_MANAGED()

/* one record for every offloaded call: arguments in, result and errno out */
struct off {
    long a[5];
    long ret;
    int err;
};
#define OFF_RUN(fnname, body)                \
    static void fnname(void *p)              \
    {                                        \
        struct off *o = p;                   \
        errno = 0;                           \
        body;                                \
        o->err = errno;                      \
    }

OFF_RUN(run_waitpid, o->ret = R(waitpid)((pid_t)o->a[0], (int *)o->a[1], (int)o->a[2]))
OFF_RUN(run_wait4, o->ret = R(wait4)((pid_t)o->a[0], (int *)o->a[1], (int)o->a[2], (struct rusage *)o->a[3]))
OFF_RUN(run_waitid, o->ret = R(waitid)((idtype_t)o->a[0], (id_t)o->a[1], (siginfo_t *)o->a[2], (int)o->a[3]))
OFF_RUN(run_system, o->ret = R(system)((const char *)o->a[0]))
OFF_RUN(run_pclose, o->ret = R(pclose)((FILE *)o->a[0]))
OFF_RUN(run_flock, o->ret = R(flock)((int)o->a[0], (int)o->a[1]))
OFF_RUN(run_lockf, o->ret = R(lockf)((int)o->a[0], (int)o->a[1], (off_t)o->a[2]))
OFF_RUN(run_fcntl, o->ret = R(fcntl64)((int)o->a[0], (int)o->a[1], (void *)o->a[2]))

static long offload(void (*fn)(void *), struct off *o)
{
    gp_offload(fn, o);
    if (o->ret < 0) errno = o->err;
    return o->ret;
}

GP_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
    if (!offloading() || (options & WNOHANG)) return R(waitpid)(pid, status, options);
    /* a child already waitable, or an error (ECHILD, EINVAL, EFAULT): now */
    pid_t now = R(waitpid)(pid, status, options | WNOHANG);
    if (now != 0) return now;
    struct off o = {{pid, (long)status, options}, 0, 0};
    return (pid_t)offload(run_waitpid, &o);
}

GP_EXPORT pid_t wait(int *status)
{
    return waitpid(-1, status, 0);
}

GP_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    if (!offloading() || (options & WNOHANG)) return R(wait4)(pid, status, options, ru);
    pid_t now = R(wait4)(pid, status, options | WNOHANG, ru);
    if (now != 0) return now;
    struct off o = {{pid, (long)status, options, (long)ru}, 0, 0};
    return (pid_t)offload(run_wait4, &o);
}

GP_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
    return wait4(-1, status, options, ru);
}

GP_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
    if (!offloading() || (options & WNOHANG)) return R(waitid)(type, id, info, options);
    /* Look without reaping (WNOWAIT) into our own record: with WNOHANG,
     * "nothing yet" is told only by a zero si_pid, and the program's info
     * may be NULL or bad (then the kernel's EFAULT is stock's answer). */
    siginfo_t peek = {0};
    if (R(waitid)(type, id, &peek, options | WNOHANG | WNOWAIT) != 0 || peek.si_pid != 0)
        return R(waitid)(type, id, info, options); /* an error, or a child ready: does not wait */
    struct off o = {{type, id, (long)info, options}, 0, 0};
    return (int)offload(run_waitid, &o);
}

GP_EXPORT int system(const char *cmd)
{
    if (!offloading() || !cmd) return R(system)(cmd);
    struct off o = {{(long)cmd}, 0, 0};
    gp_offload(run_system, &o);
    if (o.ret < 0) errno = o.err;
    return (int)o.ret;
}

/* pclose waits for popen's child inside glibc (its own waitpid, which no
 * preload sees): on a helper, like system */
GP_EXPORT int pclose(FILE *f)
{
    if (!offloading() || !f) return R(pclose)(f);
    struct off o = {{(long)f}, 0, 0};
    gp_offload(run_pclose, &o);
    if (o.ret < 0) errno = o.err;
    return (int)o.ret;
}

GP_EXPORT int flock(int fd, int op)
{
    if (!offloading() || (op & LOCK_NB)) return R(flock)(fd, op);
    int saved = errno;
    int now = R(flock)(fd, op | LOCK_NB);
    if (now == 0 || errno != EWOULDBLOCK) return now; /* got it, or a bad fd/op */
    errno = saved; /* untouched if the wait succeeds */
    struct off o = {{fd, op}, 0, 0};
    return (int)offload(run_flock, &o);
}

GP_EXPORT int lockf(int fd, int cmd, off_t len)
{
    if (!offloading() || cmd != F_LOCK) return R(lockf)(fd, cmd, len);
    int saved = errno;
    int now = R(lockf)(fd, F_TLOCK, len);
    if (now == 0 || (errno != EACCES && errno != EAGAIN)) return now;
    errno = saved;
    struct off o = {{fd, cmd, (long)len}, 0, 0};
    return (int)offload(run_lockf, &o);
}

static int do_fcntl(int fd, int cmd, void *arg)
{
    if (offloading() && (cmd == F_SETLKW || cmd == F_OFD_SETLKW)) {
        int saved = errno;
        int now = R(fcntl64)(fd, cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK, arg);
        if (now == 0 || (errno != EACCES && errno != EAGAIN)) return now;
        errno = saved;
        struct off o = {{fd, cmd, (long)arg}, 0, 0};
        return (int)offload(run_fcntl, &o);
    }
    int r = R(fcntl64)(fd, cmd, arg);
    if (r >= 0) {
        if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) gp_fd_new(r);
        else if (cmd == F_SETFL) gp_fd_flags_changed(fd); /* its O_NONBLOCK, as the runtime knows it */
    }
    return r;
}

GP_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return do_fcntl(fd, cmd, arg);
}

GP_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return do_fcntl(fd, cmd, arg);
}

GP_EXPORT int dup(int fd)
{
    int r = R(dup)(fd);
    if (r >= 0) gp_fd_new(r);
    return r;
}

/* vfork: the child would borrow the parent's stack and memory, runtime
 * included, until it execs; any hooked call it made first (close, dup2) would
 * act on the parent's event loop. A program may only _exit or exec after
 * vfork, and cannot tell a fork from it: so it gets a fork, whose child
 * starts a fresh runtime. */
GP_EXPORT pid_t vfork(void)
{
    return R(fork)();
}
