/* init.c — the constructor: resolve the real functions, read GPATCH_*
 * settings, install the fork handler. Nothing here starts the runtime: that
 * happens at the first pthread_create of the main thread, so a program that
 * never makes a thread runs exactly as stock: the shim may be preloaded into
 * anything. */
#include "../runtime/real.h"
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

/* GPATCH_NO_INHERIT: this process keeps gpatch, what it execs does not.
 * environ is edited in place: the program may define its own getenv and
 * setenv (bash does), which do not work before its main. */
extern char **environ;

/* getenv without the program's getenv (bash has its own) */
static const char *env(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static void drop_from_ld_preload(void)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0) continue;
        const char *pre = *e + 11;
        char *copy = strdup(pre), *out = malloc(strlen(*e) + 1);
        if (!copy || !out) {
            free(copy);
            free(out);
            return;
        }
        strcpy(out, "LD_PRELOAD=");
        size_t n = 11;
        for (char *save = NULL, *tok = strtok_r(copy, ": ", &save); tok; tok = strtok_r(NULL, ": ", &save)) {
            const char *base = strrchr(tok, '/');
            if (strcmp(base ? base + 1 : tok, "libgpatch.so") == 0) continue;
            if (n > 11) out[n++] = ':';
            strcpy(out + n, tok);
            n += strlen(tok);
        }
        free(copy);
        if (n > 11) {
            *e = out; /* the old string belongs to the kernel's stack: left as is */
        } else {
            free(out);
            char **d = e;
            do d[0] = d[1]; while (*d++);
        }
        return;
    }
}

void gp_shim_signals_fork_child(void); /* shim/signal.c */
static void child_after_fork(void)
{
    gp_fork_child();
    gp_shim_signals_fork_child();
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
    const char *s = env("GPATCH_STACK_SIZE");
    if (s && *s) {
        size_t v = parse_size(s);
        if (v >= 16384) stack = v;
        else say("gpatch: GPATCH_STACK_SIZE must be a size of at least 16k (e.g. 64k, 8M); using the default\n");
    }
    const char *d = env("GPATCH_DEBUG");
    int debug = d && *d && strcmp(d, "0") != 0;
    gp_configure(stack, debug);
    const char *st = env("GPATCH_STATS"), *mon = env("GPATCH_MONITOR_MS");
    long mon_ms = 0;
    if (mon && *mon) {
        char *end;
        mon_ms = strtol(mon, &end, 10);
        if (*end || mon_ms <= 0) {
            say("gpatch: GPATCH_MONITOR_MS must be a positive number of milliseconds; monitor off\n");
            mon_ms = 0;
        }
    }
    gp_configure_monitor(st && *st && strcmp(st, "0") != 0, mon_ms, debug);
    const char *sh = env("GPATCH_SHUFFLE"); /* a testing aid: see README.md */
    if (sh && *sh) gp_configure_shuffle(strtoull(sh, NULL, 10));
    const char *tls = env("GPATCH_TLS");
    if (tls && *tls) {
        if (!strcmp(tls, "shared")) gp_configure_tls(0);
        else if (!strcmp(tls, "own")) gp_configure_tls(1);
        else say("gpatch: GPATCH_TLS must be 'own' or 'shared'; using own where this glibc allows it\n");
    }
    const char *ho = env("GPATCH_HANDOFF_MS");
    if (ho && *ho) {
        char *end;
        long v = strtol(ho, &end, 10);
        if (*end || v < 0) say("gpatch: GPATCH_HANDOFF_MS must be a number of milliseconds (0: off); hand-off off\n");
        else gp_configure_handoff(v);
    }
    const char *pm = env("GPATCH_PREEMPT_MS");
    if (pm && *pm) {
        char *end;
        long v = strtol(pm, &end, 10);
        if (*end || v < 0 || v > 60000)
            say("gpatch: GPATCH_PREEMPT_MS must be a number of milliseconds up to 60000 (0: off); using the default\n");
        else gp_configure_preempt(v);
    }
    const char *wk = env("GPATCH_WORKERS");
    if (wk && *wk) {
        char *end;
        long v = strtol(wk, &end, 10);
        if (*end || v < 1 || v > 64) say("gpatch: GPATCH_WORKERS must be a number from 1 to 64; using the default\n");
        else gp_configure_workers((int)v);
    }
    const char *sg = env("GPATCH_STACK_GUARD");
    if (sg && *sg) {
        if (!strcmp(sg, "guard")) gp_configure_stack_guard(GP_STACK_GUARD_ON);
        else if (!strcmp(sg, "canary")) gp_configure_stack_guard(GP_STACK_GUARD_OFF);
        else if (strcmp(sg, "auto") != 0)
            say("gpatch: GPATCH_STACK_GUARD must be 'auto', 'guard' or 'canary'; using auto\n");
    }
    const char *nr = env("GPATCH_NO_RWF_NOWAIT"); /* a testing aid: see README.md */
    if (nr && *nr && strcmp(nr, "0") != 0) gp_configure_rwf_nowait(0);
    const char *ni = env("GPATCH_NO_INHERIT");
    if (ni && *ni && strcmp(ni, "0") != 0) drop_from_ld_preload();
    pthread_atfork(NULL, NULL, child_after_fork);
    errno = saved;
}
