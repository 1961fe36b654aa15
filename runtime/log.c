/* log.c — GPATCH_DEBUG traces and fatal messages, written with the real
 * write(2) so that tracing never re-enters the hooks. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "real.h"

int gp_debug_on;

static void emit(const char *prefix, const char *fmt, va_list ap)
{
    char buf[512];
    gp_deadline now = gp_now();
    int n = snprintf(buf, sizeof buf, "gpatch[%d] %lld.%03lld: %s", (int)getpid(), (long long)(now / GP_NSEC % 1000),
                     (long long)(now / 1000000 % 1000), prefix);
    if (n < 0) return;
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (m < 0) return;
    n += m;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    (void)!R(write)(2, buf, (size_t)n);
}

void gp_debugf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("", fmt, ap);
    va_end(ap);
}

void gp__fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit("fatal: ", fmt, ap);
    va_end(ap);
    abort();
}

void gp_configure(size_t default_stack, int debug)
{
    gp__default_stack = default_stack;
    gp_debug_on = debug;
}
