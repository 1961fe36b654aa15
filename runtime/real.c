/* real.c — resolve the table of real libc functions, once. */
#include "real.h"
#include "internal.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <errno.h>

#define GP_REAL_DEF(name, required) __typeof__(name) *real_##name;
GP_REAL_LIST(GP_REAL_DEF)
#undef GP_REAL_DEF

/* writev(2, ...) made by the instruction itself. gp_real_init runs before
 * the table is whole, so it calls no hooked name: libc's syscall() and
 * writev() are both exported by the shim, and their hooks call R(), which
 * calls gp_real_init again: with a required entry absent, that recursed
 * until the stack ran out (SIGSEGV) and the message below never came. The
 * real writev could be looked up first, but a glibc lacking one symbol may
 * lack others; the kernel's call always works. */
static void raw_writev(int fd, const struct iovec *v, int n)
{
#if defined(__x86_64__)
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_writev), "D"((long)fd), "S"(v), "d"((long)n)
                     : "rcx", "r11", "memory");
    (void)r;
#else /* (the library is built for x86-64 only: boost's fcontext) */
#error "raw_writev: no system call instruction for this architecture"
#endif
}

static void say(const char *a, const char *b)
{
    struct iovec v[3] = {{(void *)"gpatch: ", 8}, {(void *)a, strlen(a)}, {(void *)b, strlen(b)}};
    raw_writev(2, v, 3);
}

/* Does p lie in the object this code is in (a symbol resolving back to us)?
 * The linker marks our object's first byte (__ehdr_start) and its end (_end);
 * a range check, not a dladdr per symbol (that cost every preloaded program,
 * bash and ls included, milliseconds at start). */
extern const char __ehdr_start __attribute__((visibility("hidden")));
extern const char _end __attribute__((visibility("hidden")));
static int is_ours(void *p)
{
    return (const char *)p >= &__ehdr_start && (const char *)p < &_end;
}

void gp_real_init(void)
{
    static int done;
    if (__atomic_load_n(&done, __ATOMIC_ACQUIRE)) return;
#define GP_REAL_RESOLVE(name, required)                                         \
    {                                                                           \
        void *p = dlsym(RTLD_NEXT, #name);                                      \
        if (p && is_ours(p)) p = NULL; /* never ourselves */                   \
        if (!p && required) {                                                   \
            say("cannot find the real ", #name "\n");                          \
            abort();                                                            \
        }                                                                       \
        __atomic_store_n(&real_##name, (__typeof__(name) *)p, __ATOMIC_RELEASE); \
    }
#ifdef GP_REAL_TEST_ABSENT
    /* tests only (the Makefile's build/tests/libgpatch-absent.so): a required
     * function no library has, first, before the table holds anything */
    {
        extern void gp_test_absent(void);
        static __typeof__(gp_test_absent) *real_gp_test_absent;
        GP_REAL_RESOLVE(gp_test_absent, 1)
    }
#endif
    GP_REAL_LIST(GP_REAL_RESOLVE)
#undef GP_REAL_RESOLVE
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}

/* any thread: an optional entry of the table that was absent at start (its
 * library came later, by dlopen) looked up again; NULL if still absent */
void *gp_real_late(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    return p && !is_ours(p) ? p : NULL;
}

int gp_copy_in(void *dst, const void *src, size_t n)
{
    if (!src) return -EFAULT;
    if (gp__on_own_stack(src, n)) { /* the usual case: the caller's own local */
        memcpy(dst, src, n);
        return 0;
    }
    int saved = errno;
    struct iovec local = {dst, n}, remote = {(void *)src, n};
    ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    int err = errno;
    errno = saved;
    if (r == (ssize_t)n) return 0;
    if (r < 0 && err != EFAULT) { /* not permitted (seccomp...): trust the pointer */
        memcpy(dst, src, n);
        return 0;
    }
    return -EFAULT;
}

/* The pthread and semaphore functions this serves read the deadline in user
 * space in glibc too (a bad pointer faults there as here): a plain read,
 * no system call on the way to every timed wait. */
int gp_user_abstime(clockid_t clk, const struct timespec *abst, gp_deadline *dl)
{
    struct timespec ts = *abst;
    if (ts.tv_nsec < 0 || ts.tv_nsec >= GP_NSEC) return EINVAL;
    if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) return EINVAL;
    *dl = gp_abs_deadline(clk, &ts);
    return 0;
}
