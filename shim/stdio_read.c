/* stdio_read.c — stdio reads that would wait: fgets, fgetc, getc, getchar,
 * fread, getline, getdelim, the scanf family (and the _chk forms). glibc refills a stream's
 * buffer with its own read, which no preload sees: on an empty pipe,
 * socket or terminal it blocked the worker, and a writer on the same worker
 * never ran (a console thread in fgets(stdin) stopped the server).
 *
 * A green thread's read stays glibc's, on the green thread, when it cannot
 * wait: the buffer already holds what the call needs (a whole line within
 * fgets' limit, the bytes fread asks for, one character), the stream has
 * seen its end, or its fd is a regular file, a block device or none. Else
 * the whole call runs on a helper thread (gp_offload) while the green
 * thread parks: the helper takes the stream's lock and makes glibc's call,
 * so bytes, return value, errno, the stream's flags and position are
 * stock's. The look at the buffer is made under the stream's lock (tried:
 * if another OS thread, say a helper, holds it, the call goes to a helper,
 * which waits for the lock instead of the worker).
 *
 * A stream this green thread locked itself (flockfile) stays here: a helper
 * could not take its lock. Its reads block the worker as before (README,
 * Known limits). Each call first waits at the stream's gate (stdio.c). */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>

#define GATE(f)                                                               \
    do {                                                                      \
        if (__builtin_expect(gp_files_held(), 0)) gp_file_wait((void *)(f)); \
    } while (0)

/* what a call needs in the buffer to be answered without a read (SCAN: a
 * scanf may read any amount, so only a stream that cannot wait stays here) */
enum need { CHAR, LINE, BYTES, SCAN };

/* f's lock is held: can the call be answered without a read that may wait?
 * (for LINE: a delimiter within max bytes; BYTES: max bytes) */
static int answered_here(FILE *f, enum need k, int delim, size_t max)
{
    size_t avail = f->_IO_read_ptr && f->_IO_read_end > f->_IO_read_ptr
                       ? (size_t)(f->_IO_read_end - f->_IO_read_ptr) : 0;
    if (k == CHAR && avail >= 1) return 1;
    if (k == BYTES && avail >= max) return 1;
    if (k == LINE && (avail >= max || memchr(f->_IO_read_ptr, delim, avail < max ? avail : max))) return 1;
    if (f->_flags & 0x10 /* _IO_EOF_SEEN: sticky, glibc reads no more */) return 1;
    int fd = f->_fileno;
    if (fd < 0) return 1; /* fmemopen, fopencookie... */
    struct stat st;
    if (fstat(fd, &st) != 0) return 1; /* the call says what is wrong */
    return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode);
}

/* The wait for the fd's first bytes, made on the green thread as read()'s
 * own (gp_io: parked on the fd's watcher), so that a signal interrupts it as
 * it would the kernel's read: a handler with SA_RESTART lets it go on, one
 * without ends it with EINTR. 0: readable; -errno. */
static ssize_t readable_try(struct gp_io *op, int how)
{
    (void)how;
    struct pollfd p = {op->fd, POLLIN, 0};
    int r = R(poll)(&p, 1, 0);
    return r > 0 ? 0 : r == 0 ? -EAGAIN : -errno;
}

static int wait_readable(int fd)
{
    struct gp_io op = {.attempt = readable_try, .fd = fd, .events = GP_IN, .len = 1};
    return (int)gp_io(&op);
}

/* 1: the call goes to a helper (f's lock released); 0: make it here, with
 * f's lock held by *locked (release it after the call); -1: a signal ended
 * the wait for data, as it would have ended glibc's read: the stream's
 * error flag is set and errno is EINTR, the call fails. */
static int to_helper(FILE *f, enum need k, int delim, size_t max, int *locked, const char *name)
{
    *locked = 0;
    /* (not GP_MANAGED: a read the buffer answers is no call of ours to trace) */
    if (!gp_managed() || !f || gp_file_mine(f)) return 0;
    if (R(ftrylockfile)(f) != 0) return 1; /* another OS thread is in it */
    int before = errno; /* answered_here's fstat may change it */
    if (answered_here(f, k, delim, max)) {
        errno = before;
        *locked = 1;
        return 0;
    }
    errno = before;
    R(funlockfile)(f);
    gp__tls.last = name; /* a call that may wait: the monitor's and --debug's name for it */
    if (__builtin_expect(gp_trace_calls, 0)) gp_trace_call(name);
    /* Wait here for the first bytes: interruptible as stock. What more the
     * call needs (the rest of a line) the helper waits for. */
    int saved = errno; /* what the program had: the call starts with it */
    int r = wait_readable(f->_fileno);
    if (r == -EINTR) {
        __atomic_or_fetch(&f->_flags, 0x20 /* _IO_ERR_SEEN */, __ATOMIC_RELAXED);
        errno = EINTR;
        return -1;
    }
    errno = saved;
    return r == -EAGAIN ? 0 : 1; /* EAGAIN: a non-blocking fd, glibc's call answers at once */
}

struct rd {
    FILE *f;
    void *p;
    size_t a, b, c;
    int n, d;
    const char *fmt;
    va_list ap;
    long ret;
    void *ptr;
    int err_in, err;
};
#define RD_RUN(fnname, body)    \
    static void fnname(void *v) \
    {                           \
        struct rd *o = v;       \
        errno = o->err_in;      \
        body;                   \
        o->err = errno;         \
    }

RD_RUN(run_fgets, o->ptr = R(fgets)(o->p, o->n, o->f))
RD_RUN(run_fgets_chk, o->ptr = R(__fgets_chk)(o->p, o->a, o->n, o->f))
RD_RUN(run_fgetc, o->ret = R(fgetc)(o->f))
RD_RUN(run_fread, o->ret = (long)R(fread)(o->p, o->a, o->b, o->f))
RD_RUN(run_fread_chk, o->ret = (long)R(__fread_chk)(o->p, o->c, o->a, o->b, o->f))
RD_RUN(run_getdelim, o->ret = R(getdelim)((char **)o->p, (size_t *)o->ptr, o->d, o->f))
RD_RUN(run_vfscanf, o->ret = R(vfscanf)(o->f, o->fmt, o->ap))
RD_RUN(run_isoc99_vfscanf, o->ret = R(__isoc99_vfscanf)(o->f, o->fmt, o->ap))

static void offload(void (*fn)(void *), struct rd *o)
{
    o->err_in = errno;
    gp_offload(fn, o);
    errno = o->err;
}

static size_t line_max(int n) { return n > 1 ? (size_t)n - 1 : 0; }

GP_EXPORT char *fgets(char *s, int n, FILE *f)
{
    GATE(f);
    int locked = 0;
    int h = to_helper(f, LINE, '\n', line_max(n), &locked, "fgets");
    if (h < 0) return NULL;
    if (h) {
        struct rd o = {.f = f, .p = s, .n = n};
        offload(run_fgets, &o);
        return o.ptr;
    }
    char *r = R(fgets)(s, n, f);
    if (locked) R(funlockfile)(f);
    return r;
}

GP_EXPORT char *__fgets_chk(char *s, size_t size, int n, FILE *f)
{
    GATE(f);
    int locked = 0;
    int h = to_helper(f, LINE, '\n', line_max(n), &locked, "__fgets_chk");
    if (h < 0) return NULL;
    if (h) {
        struct rd o = {.f = f, .p = s, .a = size, .n = n};
        offload(run_fgets_chk, &o);
        return o.ptr;
    }
    char *r = R(__fgets_chk)(s, size, n, f);
    if (locked) R(funlockfile)(f);
    return r;
}

static int one_char(FILE *f, int (*real)(FILE *))
{
    int locked = 0;
    int h = to_helper(f, CHAR, 0, 1, &locked, "fgetc");
    if (h < 0) return EOF;
    if (h) {
        struct rd o = {.f = f};
        offload(run_fgetc, &o);
        return (int)o.ret;
    }
    int r = real(f);
    if (locked) R(funlockfile)(f);
    return r;
}

GP_EXPORT int fgetc(FILE *f) { GATE(f); return one_char(f, R(fgetc)); }
GP_EXPORT int getc(FILE *f) { GATE(f); return one_char(f, R(getc)); }
GP_EXPORT int getchar(void) { GATE(stdin); return one_char(stdin, R(getc)); }

GP_EXPORT size_t fread(void *p, size_t size, size_t n, FILE *f)
{
    GATE(f);
    int locked = 0;
    size_t want = !size || !n ? 0 : n <= (size_t)-1 / size ? size * n : (size_t)-1;
    int h = want ? to_helper(f, BYTES, 0, want, &locked, "fread") : 0;
    if (h < 0) return 0;
    if (h) {
        struct rd o = {.f = f, .p = p, .a = size, .b = n};
        offload(run_fread, &o);
        return (size_t)o.ret;
    }
    if (!want) locked = 0; /* nothing to read: glibc answers 0 at once */
    size_t r = R(fread)(p, size, n, f);
    if (locked) R(funlockfile)(f);
    return r;
}

GP_EXPORT size_t __fread_chk(void *p, size_t plen, size_t size, size_t n, FILE *f)
{
    GATE(f);
    int locked = 0;
    size_t want = !size || !n ? 0 : n <= (size_t)-1 / size ? size * n : (size_t)-1;
    int h = want && want <= plen ? to_helper(f, BYTES, 0, want, &locked, "__fread_chk") : 0;
    if (h < 0) return 0;
    if (h) {
        struct rd o = {.f = f, .p = p, .a = size, .b = n, .c = plen};
        offload(run_fread_chk, &o);
        return (size_t)o.ret;
    }
    if (!want || want > plen) locked = 0; /* glibc answers (or aborts) at once */
    size_t r = R(__fread_chk)(p, plen, size, n, f);
    if (locked) R(funlockfile)(f);
    return r;
}

GP_EXPORT ssize_t getdelim(char **l, size_t *n, int d, FILE *f)
{
    GATE(f);
    int locked = 0;
    /* a bad argument is glibc's EINVAL at once: let it say so here */
    int h = l && n ? to_helper(f, LINE, d, (size_t)-1, &locked, "getdelim") : 0;
    if (h < 0) return -1;
    if (h) {
        struct rd o = {.f = f, .p = l, .ptr = n, .d = d};
        offload(run_getdelim, &o);
        return o.ret;
    }
    if (!l || !n) locked = 0;
    ssize_t r = R(getdelim)(l, n, d, f);
    if (locked) R(funlockfile)(f);
    return r;
}

GP_EXPORT ssize_t getline(char **l, size_t *n, FILE *f) { return getdelim(l, n, '\n', f); }
/* what glibc's inline getline calls (bits/stdio.h, built with optimization) */
ssize_t __getdelim(char **l, size_t *n, int d, FILE *f);
GP_EXPORT ssize_t __getdelim(char **l, size_t *n, int d, FILE *f) { return getdelim(l, n, d, f); }

/* ---- scanf: how much it reads depends on the input; the helper's copy of
 * the caller's va_list points into the parked caller's stack, alive ---------- */
static int scan(FILE *f, const char *fmt, va_list ap, int c99)
{
    int locked = 0;
    int h = to_helper(f, SCAN, 0, 0, &locked, "scanf");
    if (h < 0) return EOF;
    if (h) {
        struct rd o = {.f = f, .fmt = fmt};
        va_copy(o.ap, ap);
        offload(c99 ? run_isoc99_vfscanf : run_vfscanf, &o);
        va_end(o.ap);
        return (int)o.ret;
    }
    int r = c99 ? R(__isoc99_vfscanf)(f, fmt, ap) : R(vfscanf)(f, fmt, ap);
    if (locked) R(funlockfile)(f);
    return r;
}

/* glibc's headers name its C99 forms (__isoc99_*) for scanf and friends: a
 * program built against them imports those, one built long ago the plain
 * names. Both are defined here under their symbol names (__asm__). */
#define SCAN_VARARGS(f, c99)           \
    va_list ap;                        \
    va_start(ap, fmt);                 \
    GATE(f);                           \
    int r = scan((f), fmt, ap, (c99)); \
    va_end(ap);                        \
    return r

GP_EXPORT int plain_vfscanf(FILE *f, const char *fmt, va_list ap) __asm__("vfscanf");
int plain_vfscanf(FILE *f, const char *fmt, va_list ap) { GATE(f); return scan(f, fmt, ap, 0); }
GP_EXPORT int plain_vscanf(const char *fmt, va_list ap) __asm__("vscanf");
int plain_vscanf(const char *fmt, va_list ap) { GATE(stdin); return scan(stdin, fmt, ap, 0); }
GP_EXPORT int plain_fscanf(FILE *f, const char *fmt, ...) __asm__("fscanf");
int plain_fscanf(FILE *f, const char *fmt, ...) { SCAN_VARARGS(f, 0); }
GP_EXPORT int plain_scanf(const char *fmt, ...) __asm__("scanf");
int plain_scanf(const char *fmt, ...) { SCAN_VARARGS(stdin, 0); }

GP_EXPORT int c99_vfscanf(FILE *f, const char *fmt, va_list ap) __asm__("__isoc99_vfscanf");
int c99_vfscanf(FILE *f, const char *fmt, va_list ap) { GATE(f); return scan(f, fmt, ap, 1); }
GP_EXPORT int c99_vscanf(const char *fmt, va_list ap) __asm__("__isoc99_vscanf");
int c99_vscanf(const char *fmt, va_list ap) { GATE(stdin); return scan(stdin, fmt, ap, 1); }
GP_EXPORT int c99_fscanf(FILE *f, const char *fmt, ...) __asm__("__isoc99_fscanf");
int c99_fscanf(FILE *f, const char *fmt, ...) { SCAN_VARARGS(f, 1); }
GP_EXPORT int c99_scanf(const char *fmt, ...) __asm__("__isoc99_scanf");
int c99_scanf(const char *fmt, ...) { SCAN_VARARGS(stdin, 1); }
