/* uring.c — io_uring's waits through liburing. liburing makes its system
 * calls with inline syscall instructions, never through libc, so a thread
 * that waits for completions (MariaDB's InnoDB I/O thread: io_uring_wait_cqe,
 * inline in liburing.h, calls the exported __io_uring_get_cqe) would block
 * the worker inside io_uring_enter where no other hook can see it. The
 * exported functions that may wait are hooked here: a green thread that
 * would wait hands the whole call to a helper OS thread (gp_offload) and
 * parks, as waitpid does; calls that do not wait, and every caller that is
 * not managed, go to liburing unchanged. A helper waiting for completions is
 * one OS thread for as long as the wait lasts, the thread the program would
 * have used stock.
 *
 * A completion already there is answered on the green thread: a wait for
 * one completion that submits nothing first looks without waiting (liburing's
 * own wait_nr = 0 form, which enters the kernel only to flush, never to
 * sleep), as the blocking call would find it at once.
 *
 * Left to liburing (they block the worker): a wait with a signal mask (the
 * kernel would apply it to the helper, not to the caller), the raw
 * io_uring_enter/io_uring_enter2 wrappers, io_uring_submit_and_wait_timeout.
 * An offloaded wait is not interrupted by the program's signals (helpers
 * block them): stock it may return -EINTR, which its callers retry. */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>

/* liburing may come after our start (dlopen): look it up again then; the
 * caller's reference bound to us, so the real one exists somewhere */
#define RU(name) (real_##name ? real_##name : late_##name())
#define LATE(name)                                                              \
    static __typeof__(name) *late_##name(void)                                  \
    {                                                                           \
        __typeof__(name) *p = (__typeof__(name) *)gp_real_late(#name);          \
        __atomic_store_n(&real_##name, p, __ATOMIC_RELEASE);                    \
        return p;                                                               \
    }
LATE(__io_uring_get_cqe)
LATE(io_uring_wait_cqes)
LATE(io_uring_wait_cqe_timeout)
LATE(io_uring_submit_and_wait)

/* one record for every offloaded wait: arguments in, liburing's result out
 * (liburing returns -errno itself; err is an errno its calls set, or 0) */
struct uwait {
    int which;
    struct io_uring *ring;
    struct io_uring_cqe **cqe_ptr;
    unsigned submit, wait_nr;
    struct __kernel_timespec *ts;
    int ret, err;
};
enum { W_GET_CQE, W_WAIT_CQES, W_WAIT_TIMEOUT, W_SUBMIT_WAIT };

/* on a helper thread: the call as the program made it */
static void run_wait(void *p)
{
    struct uwait *u = p;
    errno = 0;
    switch (u->which) {
    case W_GET_CQE: u->ret = RU(__io_uring_get_cqe)(u->ring, u->cqe_ptr, u->submit, u->wait_nr, NULL); break;
    case W_WAIT_CQES: u->ret = RU(io_uring_wait_cqes)(u->ring, u->cqe_ptr, u->wait_nr, u->ts, NULL); break;
    case W_WAIT_TIMEOUT: u->ret = RU(io_uring_wait_cqe_timeout)(u->ring, u->cqe_ptr, u->ts); break;
    case W_SUBMIT_WAIT: u->ret = RU(io_uring_submit_and_wait)(u->ring, u->wait_nr); break;
    }
    u->err = errno;
}

static int offload(struct uwait *u)
{
    gp_offload(run_wait, u);
    if (u->err) errno = u->err; /* liburing answers in its return value: errno only if it set one */
    return u->ret;
}

GP_EXPORT int __io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
                                 unsigned wait_nr, sigset_t *sigmask)
{
    if (!wait_nr || sigmask || !GP_MANAGED()) return RU(__io_uring_get_cqe)(ring, cqe_ptr, submit, wait_nr, sigmask);
    if (!submit && wait_nr == 1) { /* one already there: no wait, as stock */
        int saved = errno;
        int r = RU(__io_uring_get_cqe)(ring, cqe_ptr, 0, 0, NULL);
        if (r == 0) return 0;
        errno = saved;
    }
    struct uwait u = {W_GET_CQE, ring, cqe_ptr, submit, wait_nr, NULL, 0, 0};
    return offload(&u);
}

GP_EXPORT int io_uring_wait_cqes(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned wait_nr,
                                 struct __kernel_timespec *ts, sigset_t *sigmask)
{
    if (!wait_nr || sigmask || !GP_MANAGED()) return RU(io_uring_wait_cqes)(ring, cqe_ptr, wait_nr, ts, sigmask);
    struct uwait u = {W_WAIT_CQES, ring, cqe_ptr, 0, wait_nr, ts, 0, 0};
    return offload(&u);
}

GP_EXPORT int io_uring_wait_cqe_timeout(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
                                        struct __kernel_timespec *ts)
{
    if (!GP_MANAGED()) return RU(io_uring_wait_cqe_timeout)(ring, cqe_ptr, ts);
    struct uwait u = {W_WAIT_TIMEOUT, ring, cqe_ptr, 0, 1, ts, 0, 0};
    return offload(&u);
}

GP_EXPORT int io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr)
{
    if (!wait_nr || !GP_MANAGED()) return RU(io_uring_submit_and_wait)(ring, wait_nr);
    struct uwait u = {W_SUBMIT_WAIT, ring, NULL, 0, wait_nr, NULL, 0, 0};
    return offload(&u);
}
