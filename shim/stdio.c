/* stdio.c — flockfile, ftrylockfile, funlockfile, and the stdio calls that
 * take a stream's lock: a stream a green thread locked stays its own while
 * it parks (runtime/stdio.c says why and how). Each call waits at the
 * stream's gate, if any gthread holds one, then is glibc's. The reads that
 * may wait for their fd are in stdio_read.c. */
#include "../runtime/real.h"

#include <errno.h>
#include <stdarg.h>

/* before a call that takes f's lock (NULL: every stream's) */
#define GATE(f)                                                               \
    do {                                                                      \
        if (__builtin_expect(gp_files_held(), 0)) gp_file_wait((void *)(f)); \
    } while (0)

/* gp_file_lock and gp_file_unlock act for gthreads and for main before the
 * runtime starts (a stream it locks then may be held across its first park) */
GP_EXPORT void flockfile(FILE *f)
{
    gp_file_lock(f, 0);
    R(flockfile)(f);
}

GP_EXPORT int ftrylockfile(FILE *f)
{
    if (gp_file_lock(f, 1)) return EBUSY; /* glibc's answer for a busy lock */
    int r = R(ftrylockfile)(f);
    if (r) gp_file_unlock(f); /* an OS thread holds it */
    return r;
}

GP_EXPORT void funlockfile(FILE *f)
{
    R(funlockfile)(f);
    gp_file_unlock(f);
}

GP_EXPORT int vprintf(const char *fmt, va_list ap) { GATE(stdout); return R(vprintf)(fmt, ap); }
GP_EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap) { GATE(f); return R(vfprintf)(f, fmt, ap); }
GP_EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap) { GATE(stdout); return R(__vprintf_chk)(flag, fmt, ap); }
GP_EXPORT int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
    GATE(f);
    return R(__vfprintf_chk)(f, flag, fmt, ap);
}

GP_EXPORT int printf(const char *fmt, ...)
{
    GATE(stdout);
    va_list ap;
    va_start(ap, fmt);
    int r = R(vprintf)(fmt, ap);
    va_end(ap);
    return r;
}

GP_EXPORT int fprintf(FILE *f, const char *fmt, ...)
{
    GATE(f);
    va_list ap;
    va_start(ap, fmt);
    int r = R(vfprintf)(f, fmt, ap);
    va_end(ap);
    return r;
}

int __printf_chk(int flag, const char *fmt, ...);
GP_EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
    GATE(stdout);
    va_list ap;
    va_start(ap, fmt);
    int r = R(__vprintf_chk)(flag, fmt, ap);
    va_end(ap);
    return r;
}

int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
GP_EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
    GATE(f);
    va_list ap;
    va_start(ap, fmt);
    int r = R(__vfprintf_chk)(f, flag, fmt, ap);
    va_end(ap);
    return r;
}

GP_EXPORT int puts(const char *s) { GATE(stdout); return R(puts)(s); }
GP_EXPORT int fputs(const char *s, FILE *f) { GATE(f); return R(fputs)(s, f); }
GP_EXPORT int fputc(int c, FILE *f) { GATE(f); return R(fputc)(c, f); }
GP_EXPORT int putc(int c, FILE *f) { GATE(f); return R(putc)(c, f); }
GP_EXPORT int putchar(int c) { GATE(stdout); return R(putchar)(c); }
GP_EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f) { GATE(f); return R(fwrite)(p, size, n, f); }
GP_EXPORT int fflush(FILE *f) { GATE(f); return R(fflush)(f); }
GP_EXPORT int ungetc(int c, FILE *f) { GATE(f); return R(ungetc)(c, f); }
GP_EXPORT int fseek(FILE *f, long off, int whence) { GATE(f); return R(fseek)(f, off, whence); }
GP_EXPORT int fseeko(FILE *f, off_t off, int whence) { GATE(f); return R(fseeko)(f, off, whence); }
GP_EXPORT long ftell(FILE *f) { GATE(f); return R(ftell)(f); }
GP_EXPORT off_t ftello(FILE *f) { GATE(f); return R(ftello)(f); }
GP_EXPORT void rewind(FILE *f) { GATE(f); R(rewind)(f); }
GP_EXPORT void perror(const char *s) { GATE(stderr); R(perror)(s); }
