/* signal.c — the program's signal handlers run through a trampoline that,
 * after the handler returns, tells the runtime a handler ran (and whether it
 * had SA_RESTART), so a parked call can return EINTR as the blocked system
 * call would have. The program sees its own handlers in sigaction's answers.
 *
 * While a handler runs, hooked calls pass straight to libc (the runtime is
 * not reentrant from a signal, and a handler must not park). glibc's
 * signal(), bsd_signal() and siginterrupt() reach sigaction internally,
 * past any preload, so they are hooked here too. */
#include "real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <string.h>

static struct sigaction user[NSIG];
static unsigned char wrapped[NSIG];
static unsigned char nointr[NSIG]; /* siginterrupt(sig, 1) */

static void trampoline(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno, managed = gp__tls.managed;
    gp__tls.managed = 0;
    struct sigaction a = user[sig];
    if (a.sa_flags & SA_RESETHAND) { /* the kernel has reset it: so do we */
        wrapped[sig] = 0;
        user[sig].sa_handler = SIG_DFL;
    }
    if (a.sa_flags & SA_SIGINFO) a.sa_sigaction(sig, si, uc);
    else if (a.sa_handler != SIG_IGN && a.sa_handler != SIG_DFL) a.sa_handler(sig);
    gp__tls.managed = managed;
    errno = saved_errno;
    gp_signal_note((a.sa_flags & SA_RESTART) != 0);
}

static int is_function(const struct sigaction *a)
{
    return (a->sa_flags & SA_SIGINFO) ? a->sa_sigaction != NULL
                                      : a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

GP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP) return R(sigaction)(sig, act, old);
    struct sigaction in, prev = user[sig];
    int prev_wrapped = wrapped[sig];
    if (act) {
        int r = gp_copy_in(&in, act, sizeof in);
        if (r < 0) {
            errno = -r;
            return -1;
        }
    }
    int r;
    if (act && is_function(&in)) {
        struct sigaction k = in;
        k.sa_sigaction = trampoline;
        k.sa_flags |= SA_SIGINFO;
        user[sig] = in;
        wrapped[sig] = 1;
        r = R(sigaction)(sig, &k, old);
    } else {
        r = R(sigaction)(sig, act, old);
        if (r == 0 && act) wrapped[sig] = 0;
    }
    if (r != 0) {
        user[sig] = prev;
        wrapped[sig] = (unsigned char)prev_wrapped;
        return r;
    }
    if (old && prev_wrapped) *old = prev; /* the program's view */
    return 0;
}

GP_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return sigaction(sig, act, old);
}

static sighandler_t set_handler(int sig, sighandler_t h, int flags)
{
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = flags;
    if (!(flags & SA_NODEFER)) sigaddset(&a.sa_mask, sig);
    if (sig <= 0 || sig >= NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    if (sigaction(sig, &a, &old) < 0) return SIG_ERR;
    return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction : old.sa_handler;
}

GP_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
    int restart = sig > 0 && sig < NSIG && !nointr[sig];
    return set_handler(sig, h, restart ? SA_RESTART : 0);
}

GP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
    return signal(sig, h);
}

GP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
    return set_handler(sig, h, SA_RESETHAND | SA_NODEFER);
}

GP_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
    return sysv_signal(sig, h);
}

GP_EXPORT int siginterrupt(int sig, int flag)
{
    struct sigaction a;
    if (sig <= 0 || sig >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    if (sigaction(sig, NULL, &a) < 0) return -1;
    nointr[sig] = flag != 0;
    if (flag) a.sa_flags &= ~SA_RESTART;
    else a.sa_flags |= SA_RESTART;
    return sigaction(sig, &a, NULL);
}
