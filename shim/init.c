/* init.c — the constructor: resolve the real functions, read GPATCH_*
 * settings, install the fork handler. Nothing here starts the runtime: that
 * happens at the first pthread_create of the main thread, so a program that
 * never makes a thread runs exactly as stock (DESIGN invariant 7). */
#include "real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* "64k", "8M", "1G" or bytes; 0 when malformed */
static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return 0;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    }
    if (*end == 'i' || *end == 'B' || *end == 'b') end++;
    if (*end) return 0;
    return (size_t)v;
}

static void say(const char *m)
{
    (void)!R(write)(2, m, strlen(m));
}

static void child_after_fork(void)
{
    gp_fork_child();
}

__attribute__((constructor)) static void gp_init(void)
{
    int saved = errno;
    gp_real_init();
    /* the default stack of a green thread is glibc's: RLIMIT_STACK's soft
     * limit, or 8 MiB when that is unlimited */
    size_t stack = 8u << 20;
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= 16384)
        stack = rl.rlim_cur;
    const char *s = getenv("GPATCH_STACK_SIZE");
    if (s && *s) {
        size_t v = parse_size(s);
        if (v >= 16384) stack = v;
        else say("gpatch: GPATCH_STACK_SIZE must be a size of at least 16k (e.g. 64k, 8M); using the default\n");
    }
    const char *d = getenv("GPATCH_DEBUG");
    gp_configure(stack, d && *d && strcmp(d, "0") != 0);
    pthread_atfork(NULL, NULL, child_after_fork);
    errno = saved;
}
