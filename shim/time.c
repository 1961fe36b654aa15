/* time.c — sleep, usleep, nanosleep, clock_nanosleep park the green thread
 * until a deadline (one primitive: gp_sleep). glibc's sleep never reaches an
 * interposed nanosleep, so each entry point is hooked on its own. */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>

GP_EXPORT unsigned int sleep(unsigned int s)
{
    if (!GP_MANAGED()) return R(sleep)(s);
    gp_deadline dl = gp_after_ns((int64_t)s * GP_NSEC);
    if (gp_sleep(dl) == 0) return 0;
    errno = EINTR;
    return (unsigned int)(gp_left(dl) / GP_NSEC); /* whole seconds not slept, as glibc */
}

GP_EXPORT int usleep(useconds_t us)
{
    if (!GP_MANAGED()) return R(usleep)(us);
    return (int)GP_CALL(gp_sleep(gp_after_ns((int64_t)us * 1000)));
}

/* Read and check a timespec the way the kernel does: EFAULT, then EINVAL. */
static int take_ts(const struct timespec *p, struct timespec *out)
{
    if (gp_copy_in(out, p, sizeof *out) != 0) return -EFAULT;
    if (out->tv_sec < 0 || out->tv_nsec < 0 || out->tv_nsec >= GP_NSEC) return -EINVAL;
    return 0;
}

static void put_left(struct timespec *rem, gp_deadline dl)
{
    if (!rem) return;
    int64_t left = gp_left(dl);
    rem->tv_sec = left / GP_NSEC;
    rem->tv_nsec = left % GP_NSEC;
}

GP_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!GP_MANAGED()) return R(nanosleep)(req, rem);
    struct timespec ts;
    int r = take_ts(req, &ts);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    gp_deadline dl = gp_after_ns(gp_ts_ns(&ts));
    r = (int)GP_CALL(gp_sleep(dl));
    if (r < 0) put_left(rem, dl);
    return r;
}

GP_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
    /* other clocks (CPU time...) keep the real call: stock says what they do */
    if (!GP_MANAGED() || (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC && clk != CLOCK_BOOTTIME))
        return R(clock_nanosleep)(clk, flags, req, rem);
    struct timespec ts;
    int r = take_ts(req, &ts);
    if (r < 0) return -r; /* clock_nanosleep returns the error */
    gp_deadline dl;
    if (flags & TIMER_ABSTIME) {
        dl = gp_abs_deadline(clk, &ts); /* 0 when passed: gp_sleep yields, returns 0 */
    } else {
        dl = gp_after_ns(gp_ts_ns(&ts));
    }
    int saved = errno;
    r = gp_sleep(dl);
    errno = saved;
    if (r == 0) return 0;
    if (!(flags & TIMER_ABSTIME)) put_left(rem, dl);
    return EINTR;
}
