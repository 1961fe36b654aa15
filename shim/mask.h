/* mask.h — a wait that brings its own signal mask (sigsuspend, ppoll,
 * pselect, epoll_pwait, epoll_pwait2) makes it the green thread's own mask
 * while it lasts (shim/signal.c), as the kernel makes it the thread's: a
 * signal kept for the thread (runtime/sigthread.c) that it lets in runs its
 * handler at once, and one sent meanwhile is judged by it. */
#ifndef GP_MASK_H
#define GP_MASK_H
#include <errno.h>
#include <signal.h>
#include <stdint.h>

struct gp_wait_mask {
    uint64_t saved; /* the thread's own mask before */
    int swapped;    /* 1: the wait's mask is in place until gp_wait_mask_leave */
    int os_swapped; /* 1: and the OS thread's real mask, os_saved before */
    sigset_t os_saved;
};

/* 1: a kept signal the mask lets in ran its handler: the call returns EINTR
 * (and the mask is back); 0: go ahead (mask NULL, unreadable, or not a green
 * thread's: nothing changed) */
int gp_wait_mask_enter(const sigset_t *mask, struct gp_wait_mask *m);
/* the thread's own mask back; what was kept meanwhile and that lets in runs
 * its handler; errno is left as it was */
void gp_wait_mask_leave(struct gp_wait_mask *m);

/* call, an expression in libc's convention (-1 and errno), made with
 * mask as the green thread's own; EINTR at once if a kept signal ran */
#define GP_WITH_WAIT_MASK(mask, call)                                          \
    ({                                                                         \
        struct gp_wait_mask wm_;                                               \
        int r_ = -1;                                                           \
        if (gp_wait_mask_enter((mask), &wm_)) {                                \
            errno = EINTR;                                                     \
        } else {                                                               \
            r_ = (call);                                                       \
            gp_wait_mask_leave(&wm_);                                          \
        }                                                                      \
        r_;                                                                    \
    })

#endif
