/* The runner of tests/tsan/criterion/criterion.h (see there why): each test
 * in a forked child, its timeout enforced with alarm(), a summary at the end.
 * A test fails if it asserts, dies of a signal, or exits non-zero (TSan
 * exits 66 at the end of a process that reported a race).
 * Usage: unit [--filter SUITE/NAME-glob] [--exclude GLOB]... */
#include <criterion/criterion.h>

#include <stdarg.h>

struct crt_test *crt_tests;
struct crt_suite *crt_suites;

void crt_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

int main(int argc, char **argv)
{
    const char *filter = "*", *exclude[16];
    int nex = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
        else if (strcmp(argv[i], "--exclude") == 0 && i + 1 < argc && nex < 16) exclude[nex++] = argv[++i];
    /* registration prepends: reverse to run in file order */
    struct crt_test *rev = NULL;
    while (crt_tests) {
        struct crt_test *t = crt_tests;
        crt_tests = t->next;
        t->next = rev;
        rev = t;
    }
    int ran = 0, failed = 0;
    for (struct crt_test *t = rev; t; t = t->next) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        int skip = fnmatch(filter, full, 0) != 0 || t->attr.disabled;
        for (int i = 0; i < nex; i++) skip |= fnmatch(exclude[i], full, 0) == 0;
        if (skip) continue;
        struct crt_attr sa = {0};
        for (struct crt_suite *s = crt_suites; s; s = s->next)
            if (strcmp(s->name, t->suite) == 0) sa = s->attr;
        double timeout = t->attr.timeout > 0 ? t->attr.timeout : sa.timeout > 0 ? sa.timeout : 60;
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            alarm((unsigned)timeout * 4 + 10); /* TSan runs slower: a generous bound */
            if (sa.init) sa.init();
            if (t->attr.init) t->attr.init();
            t->fn();
            if (t->attr.fini) t->attr.fini();
            if (sa.fini) sa.fini();
            fflush(stdout);
            exit(0); /* exit, not _exit: TSan's end-of-process checks run */
        }
        int st = 0;
        waitpid(p, &st, 0);
        ran++;
        int want_sig = t->attr.signal, want_code = t->attr.exit_code;
        int ok = want_sig ? WIFSIGNALED(st) && WTERMSIG(st) == want_sig
                          : WIFEXITED(st) && WEXITSTATUS(st) == want_code;
        if (!ok) {
            failed++;
            if (WIFSIGNALED(st))
                printf("[FAIL] %s: killed by signal %d%s\n", full, WTERMSIG(st),
                       WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
            else
                printf("[FAIL] %s: exit status %d%s\n", full, WEXITSTATUS(st),
                       WEXITSTATUS(st) == 66 ? " (ThreadSanitizer report above)" : "");
        } else {
            printf("[PASS] %s\n", full);
        }
    }
    printf("tsan unit tests: %d ran, %d failed\n", ran, failed);
    return failed || !ran ? 1 : 0;
}
