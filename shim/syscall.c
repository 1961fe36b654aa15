/* syscall.c — libc's syscall(): a program that makes its system calls by
 * number (a JVM's safepoint barrier, InnoDB's and libstdc++'s futexes)
 * bypasses every other hook. Blocking numbers gpatch knows go to the hook of
 * the same call; futex waits and wakes of a green thread go to the runtime's
 * wait queues, keyed by the futex's address; every other number, and every
 * call that is not managed, goes to the kernel unchanged.
 *
 * A futex wait parks the green thread until a wake takes it off its queue
 * (the kernel's FUTEX_WAKE wakes the waiters it counts, whether or not the
 * word changed: GP_WAKE_ENDS), the word at the address no longer holds the
 * expected value, the deadline passes, or a signal handler runs. What
 * the kernel would refuse is refused first, as it would: a bad timeout
 * (EFAULT, EINVAL), FUTEX_CLOCK_REALTIME on a plain FUTEX_WAIT (ENOSYS), a
 * misaligned address (EINVAL); then the word is read through gp_copy_in,
 * which answers EFAULT for an address that is not mapped, and compared
 * (EAGAIN when it differs at once); after a wake it is loaded (a program
 * that unmaps a futex word while a thread waits on it would fault there). The kernel is not asked to look: a
 * FUTEX_WAIT with a zero timeout that finds the value goes to sleep until
 * its expired timer fires, a trip through the kernel's scheduler that cost
 * MariaDB's two workers most of their time. A wake from a green thread
 * wakes the kernel's waiters (OS threads) and ours; a wake from an OS
 * thread reaches only the kernel's, so a parked green thread also looks
 * again every FUTEX_POLL_NS. Requeue operations are made by the kernel and
 * wake every green thread waiting on either address, which then looks again
 * (a spurious wake-up, which every futex user allows). */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/syscall.h>

#define FUTEX_POLL_NS (20 * 1000000LL)

struct fwait {
    uint32_t *addr;
    uint32_t val;
    int waited;   /* the value matched once: we are waiting */
};

/* 0 the word holds the value, -EAGAIN it does not, -EFAULT unreadable. The
 * first look goes through gp_copy_in (two system calls for a word on the
 * heap); once the word has been read, the address is the program's live
 * futex and later looks load it. */
static int same(struct fwait *f)
{
    uint32_t cur;
    if (f->waited) cur = __atomic_load_n(f->addr, __ATOMIC_ACQUIRE);
    else if (gp_copy_in(&cur, f->addr, sizeof cur) != 0) return -EFAULT;
    return cur == f->val ? 0 : -EAGAIN;
}

static int futex_try(void *ctx)
{
    struct fwait *f = ctx;
    int r = same(f);
    if (!f->waited) {
        if (r == 0) { /* it holds the value: wait */
            f->waited = 1;
            return -EAGAIN;
        }
        return r == -EAGAIN ? -EALREADY : r; /* the value differed at once: the kernel's EAGAIN */
    }
    if (r == 0) return -EAGAIN;   /* still the value: go on waiting */
    return r == -EAGAIN ? 0 : r;  /* changed: woken, as the kernel would say */
}

static long futex_wait(uint32_t *addr, int op, uint32_t val, const struct timespec *t, int bitset_abs)
{
    gp_deadline dl = GP_FOREVER;
    if (t) {
        struct timespec ts;
        if (gp_copy_in(&ts, t, sizeof ts) != 0) return -EFAULT;
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= GP_NSEC) return -EINVAL;
        dl = bitset_abs ? gp_abs_deadline(op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts)
                        : gp_after_ns(gp_ts_ns(&ts));
        if (dl == 0) dl = 1; /* passed: a wait that times out (and yields), not a try */
    }
    if ((op & FUTEX_CLOCK_REALTIME) && !bitset_abs) return -ENOSYS;
    if ((uintptr_t)addr & 3) return -EINVAL;
    struct fwait f = {addr, val, 0};
    int r = gp_sync_wait(addr, futex_try, &f, dl, GP_INTR_RESTART | GP_WAKE_ENDS, FUTEX_POLL_NS);
    if (r == -EALREADY) return -EAGAIN;
    return r;
}

static long futex(long a1, long a2, long a3, long a4, long a5, long a6)
{
    uint32_t *addr = (uint32_t *)a1;
    int op = (int)a2, cmd = op & FUTEX_CMD_MASK;
    if (GP_MANAGED()) {
        if (cmd == FUTEX_WAIT) return futex_wait(addr, op, (uint32_t)a3, (const struct timespec *)a4, 0);
        if (cmd == FUTEX_WAIT_BITSET && (uint32_t)a6 != 0)
            return futex_wait(addr, op, (uint32_t)a3, (const struct timespec *)a4, 1);
    }
    long r = R(syscall)(SYS_futex, a1, a2, a3, a4, a5, a6);
    if (r < 0 || !gp_started_here()) return r < 0 ? -errno : r;
    /* our waiters are not in the kernel: wake them too */
    if (cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET) {
        int n = (int)a3 > 0 ? (int)a3 : 1; /* the kernel wakes one for 0 (or less) too */
        int left = n - (int)r;
        if (left > 0) r += gp_sync_wake(addr, left);
    } else if (cmd == FUTEX_WAKE_OP || cmd == FUTEX_REQUEUE || cmd == FUTEX_CMP_REQUEUE) {
        gp_sync_wake(addr, INT32_MAX);
        gp_sync_wake((void *)a5, INT32_MAX);
    }
    return r;
}

GP_EXPORT long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    if (n == SYS_futex) {
        long r = futex(a1, a2, a3, a4, a5, a6);
        if (r >= 0) return r;
        errno = (int)-r;
        return -1;
    }
    if (!gp_managed()) return R(syscall)(n, a1, a2, a3, a4, a5, a6);
    /* the hook of the same call (each passes through when not managed) */
    switch (n) {
    case SYS_read: return read((int)a1, (void *)a2, (size_t)a3);
    case SYS_write: return write((int)a1, (const void *)a2, (size_t)a3);
    case SYS_readv: return readv((int)a1, (const struct iovec *)a2, (int)a3);
    case SYS_writev: return writev((int)a1, (const struct iovec *)a2, (int)a3);
    case SYS_close: return close((int)a1);
    case SYS_poll: return poll((struct pollfd *)a1, (nfds_t)a2, (int)a3);
    case SYS_nanosleep: return nanosleep((const struct timespec *)a1, (struct timespec *)a2);
    case SYS_accept: return accept((int)a1, (struct sockaddr *)a2, (socklen_t *)a3);
    case SYS_accept4: return accept4((int)a1, (struct sockaddr *)a2, (socklen_t *)a3, (int)a4);
    case SYS_connect: return connect((int)a1, (const struct sockaddr *)a2, (socklen_t)a3);
    case SYS_recvfrom:
        return recvfrom((int)a1, (void *)a2, (size_t)a3, (int)a4, (struct sockaddr *)a5, (socklen_t *)a6);
    case SYS_sendto:
        return sendto((int)a1, (const void *)a2, (size_t)a3, (int)a4, (const struct sockaddr *)a5, (socklen_t)a6);
    case SYS_recvmsg: return recvmsg((int)a1, (struct msghdr *)a2, (int)a3);
    case SYS_sendmsg: return sendmsg((int)a1, (const struct msghdr *)a2, (int)a3);
    default: return R(syscall)(n, a1, a2, a3, a4, a5, a6);
    }
}
