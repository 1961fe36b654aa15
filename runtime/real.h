/* real.h — the one table of libc's real functions: the lowest layer, below
 * both shim/ and runtime/; neither calls libc by a hooked name.
 *
 * Each hooked name has a pointer real_<name>, resolved once with
 * dlsym(RTLD_NEXT) by gp_real_init(): from the constructor, or from the first
 * hook that runs before it (another library's constructor may call us first).
 * R(name) is the pointer, resolving the table on first use. */
#ifndef GP_REAL_H
#define GP_REAL_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>
#include <sys/epoll.h>
#include <netdb.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "gp.h"

/* liburing's waits (shim/uring.c): its syscalls are inline, never libc's,
 * so the exported functions that wait are the only place to see them. Not
 * libc, and not always loaded: resolved where present (NULL otherwise). */
struct io_uring;
struct io_uring_cqe;
struct __kernel_timespec;
int __io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned submit,
                       unsigned wait_nr, sigset_t *sigmask);
int io_uring_wait_cqes(struct io_uring *ring, struct io_uring_cqe **cqe_ptr, unsigned wait_nr,
                       struct __kernel_timespec *ts, sigset_t *sigmask);
int io_uring_wait_cqe_timeout(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
                              struct __kernel_timespec *ts);
int io_uring_submit_and_wait(struct io_uring *ring, unsigned wait_nr);

#define GP_REAL_LIST(X)                                                        \
    X(read, 1) X(write, 1) X(readv, 1) X(writev, 1) X(recv, 1) X(recvfrom, 1) \
    X(recvmsg, 1) X(send, 1) X(sendto, 1) X(sendmsg, 1) X(accept, 1)          \
    X(accept4, 1) X(connect, 1) X(poll, 1) X(ppoll, 1) X(select, 1)           \
    X(pselect, 1) X(sleep, 1) X(usleep, 1) X(nanosleep, 1)                     \
    X(clock_nanosleep, 1) X(close, 1) X(fclose, 1) X(dup2, 1) X(dup3, 1)      \
    X(ioctl, 1) X(socket, 1) X(socketpair, 1) X(pipe, 1) X(pipe2, 1)          \
    X(sched_yield, 1) X(sigaction, 1) X(pthread_create, 1)                    \
    X(pthread_join, 1) X(pthread_detach, 1) X(pthread_exit, 1)                \
    X(pthread_self, 1) X(pthread_equal, 1) X(pthread_getattr_np, 1)           \
    X(pthread_kill, 1) X(pthread_cancel, 1) X(pthread_setname_np, 1)          \
    X(pthread_getname_np, 1) X(pthread_tryjoin_np, 1)                         \
    X(pthread_timedjoin_np, 1) X(pthread_clockjoin_np, 1)                     \
    X(pthread_setschedparam, 1) X(pthread_getschedparam, 1)                   \
    X(pthread_setschedprio, 1) X(pthread_getcpuclockid, 1)                    \
    X(pthread_setaffinity_np, 1) X(pthread_getaffinity_np, 1)                 \
    X(pthread_sigqueue, 1) X(pthread_testcancel, 1)                           \
    X(pthread_setcancelstate, 1) X(pthread_mutex_lock, 1)                  \
    X(pthread_mutex_trylock, 1) X(pthread_mutex_timedlock, 1)                 \
    X(pthread_mutex_clocklock, 1) X(pthread_mutex_unlock, 1) X(sem_wait, 1)  \
    X(sem_timedwait, 1) X(sem_clockwait, 1) X(sem_trywait, 1) X(sem_post, 1) \
    X(pthread_rwlock_rdlock, 1) X(pthread_rwlock_wrlock, 1)                   \
    X(pthread_rwlock_timedrdlock, 1) X(pthread_rwlock_timedwrlock, 1)         \
    X(pthread_rwlock_clockrdlock, 1) X(pthread_rwlock_clockwrlock, 1)         \
    X(pthread_rwlock_tryrdlock, 1) X(pthread_rwlock_trywrlock, 1)             \
    X(pthread_rwlock_unlock, 1) X(pthread_spin_lock, 1)                       \
    X(pthread_spin_trylock, 1) X(pthread_key_create, 1)                       \
    X(pthread_key_delete, 1) X(pthread_getspecific, 1)                        \
    X(pthread_cond_init, 1) X(pthread_cond_destroy, 1) X(pthread_cond_signal, 1) \
    X(pthread_cond_broadcast, 1) X(pthread_cond_wait, 1)                      \
    X(pthread_cond_timedwait, 1) X(pthread_cond_clockwait, 1)                 \
    X(pthread_barrier_init, 1) X(pthread_barrier_destroy, 1)                  \
    X(pthread_barrier_wait, 1)                                                \
    X(pthread_setspecific, 1) X(waitpid, 1) X(wait4, 1) X(waitid, 1)        \
    X(system, 1) X(pclose, 1) X(flock, 1) X(lockf, 1) X(fcntl64, 1) X(dup, 1) X(syscall, 1) \
    X(epoll_wait, 1) X(epoll_pwait, 1) X(epoll_pwait2, 0) X(epoll_ctl, 1) \
    X(getaddrinfo, 1) X(getnameinfo, 1) X(gethostbyname, 1)                  \
    X(gethostbyname2, 1) X(gethostbyaddr, 1) X(gethostbyname_r, 1)           \
    X(gethostbyname2_r, 1) X(gethostbyaddr_r, 1) \
    X(getpwnam, 1) X(getpwuid, 1) X(getpwnam_r, 1) X(getpwuid_r, 1)          \
    X(getgrnam, 1) X(getgrgid, 1) X(getgrnam_r, 1) X(getgrgid_r, 1)          \
    X(getspnam, 1) X(getspnam_r, 1) X(initgroups, 1) X(getgrouplist, 1)     \
    X(getservbyname, 1) X(getservbyport, 1) X(getservbyname_r, 1)           \
    X(getservbyport_r, 1) X(getprotobyname, 1) X(getprotobynumber, 1)       \
    X(getprotobyname_r, 1) X(getprotobynumber_r, 1) \
    X(eventfd, 1) X(timerfd_create, 1) X(signalfd, 1) X(epoll_create, 1)      \
    X(epoll_create1, 1) X(close_range, 0) X(pause, 1) X(sigsuspend, 1)        \
    X(sigwait, 1) X(sigwaitinfo, 1) X(sigtimedwait, 1) X(sendfile, 1) X(raise, 1) \
    X(pthread_sigmask, 1) X(sigprocmask, 1) X(sigpending, 1) X(__pthread_register_cancel, 1)   \
    X(__pthread_unregister_cancel, 1) X(__pthread_unwind_next, 1) X(setsockopt, 1)   \
    X(splice, 1) X(fork, 1) X(__io_uring_get_cqe, 0) X(io_uring_wait_cqes, 0)  \
    X(io_uring_wait_cqe_timeout, 0) X(io_uring_submit_and_wait, 0) X(fsync, 1) X(fdatasync, 1) \
    X(dlopen, 1)                                                              \
    X(flockfile, 1) X(ftrylockfile, 1) X(funlockfile, 1) X(vprintf, 1)        \
    X(vfprintf, 1) X(__vprintf_chk, 1) X(__vfprintf_chk, 1) X(puts, 1)        \
    X(fputs, 1) X(fputc, 1) X(putc, 1) X(putchar, 1) X(fwrite, 1) X(fflush, 1) \
    X(fgets, 1) X(__fgets_chk, 1) X(fgetc, 1) X(getc, 1) X(getchar, 1)       \
    X(fread, 1) X(__fread_chk, 1) X(getline, 1) X(getdelim, 1) X(ungetc, 1)  \
    X(vfscanf, 1) X(__isoc99_vfscanf, 1)                                      \
    X(fseek, 1) X(fseeko, 1) X(ftell, 1) X(ftello, 1) X(rewind, 1) X(perror, 1)

/* glibc's _FORTIFY_SOURCE entry points (not declared by its headers) */
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
char *__fgets_chk(char *s, size_t size, int n, FILE *f);
size_t __fread_chk(void *p, size_t plen, size_t size, size_t n, FILE *f);
int __isoc99_vfscanf(FILE *f, const char *fmt, va_list ap);

#define GP_REAL_DECL(name, required) extern __typeof__(name) *real_##name;
GP_REAL_LIST(GP_REAL_DECL)
#undef GP_REAL_DECL

void gp_real_init(void);
/* any thread: an optional entry of the table that was absent at start (its
 * library came later, by dlopen) looked up again; NULL if still absent */
void *gp_real_late(const char *name);
/* glibc's: reports a _FORTIFY_SOURCE overflow and aborts */
extern void __chk_fail(void) __attribute__((noreturn));
#define R(name) (__builtin_expect(real_##name != 0, 1) ? real_##name : (gp_real_init(), real_##name))

/* The shim's export marker: only libc's names leave the library. */
#define GP_EXPORT __attribute__((visibility("default")))


/* Call into the runtime and apply libc's convention: -errno becomes -1 with
 * errno set last; on success errno is what it was before the call. */
#define GP_CALL(expr)                         \
    ({                                        \
        int gp_saved_errno_ = errno;          \
        long gp_r_ = (long)(expr);            \
        if (gp_r_ < 0) {                      \
            errno = (int)-gp_r_;              \
            gp_r_ = -1;                       \
        } else {                              \
            errno = gp_saved_errno_;          \
        }                                     \
        gp_r_;                                \
    })

/* Copy n bytes from a pointer the program gave us, or -EFAULT where the
 * kernel would have said so (instead of crashing inside the shim). */
int gp_copy_in(void *dst, const void *src, size_t n);
/* A program's absolute timeout on clk (MONOTONIC or REALTIME) as a deadline,
 * with glibc's answers to bad input: 0 or EINVAL (read in place, as glibc
 * does: a bad pointer faults). */
int gp_user_abstime(clockid_t clk, const struct timespec *abst, gp_deadline *dl);
#endif
