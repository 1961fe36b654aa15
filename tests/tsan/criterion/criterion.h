/* A stand-in for <criterion/criterion.h>, used only by `make test-tsan`.
 *
 * Why: Criterion's runner maps an "inheritable arena" at a random address it
 * first probes with mincore(); under ThreadSanitizer nearly the whole address
 * space is TSan's reserved shadow, every probe hits, and the runner aborts
 * ("Could not initialize inheritable arena"). So the unit tests of
 * tests/unit are compiled against this header instead: the same
 * Test/TestSuite/cr_assert* they use, each test run in a forked child (a
 * fresh runtime, as under Criterion), bounded by its timeout (alarm).
 * Only what the unit tests use is here; a test using more fails to compile,
 * which says so. The runner is tests/tsan/runner.c.
 */
#ifndef GP_TSAN_CRITERION_H
#define GP_TSAN_CRITERION_H
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct crt_attr { void (*init)(void); void (*fini)(void); double timeout; int disabled; int signal; int exit_code;
                  const char *description; };
struct crt_test { const char *suite, *name; void (*fn)(void); struct crt_attr attr; struct crt_test *next; };
struct crt_suite { const char *name; struct crt_attr attr; struct crt_suite *next; };
extern struct crt_test *crt_tests;
extern struct crt_suite *crt_suites;

#define TestSuite(s, ...)                                                                                  \
    static struct crt_suite crt_suite_##s = {#s, {__VA_ARGS__}, NULL};                                     \
    __attribute__((constructor)) static void crt_reg_suite_##s(void)                                      \
    {                                                                                                      \
        crt_suite_##s.next = crt_suites;                                                                   \
        crt_suites = &crt_suite_##s;                                                                       \
    }

#define Test(s, n, ...)                                                                                    \
    static void crt_fn_##s##_##n(void);                                                                   \
    static struct crt_test crt_t_##s##_##n = {#s, #n, crt_fn_##s##_##n, {__VA_ARGS__}, NULL};              \
    __attribute__((constructor)) static void crt_reg_##s##_##n(void)                                      \
    {                                                                                                      \
        crt_t_##s##_##n.next = crt_tests;                                                                  \
        crt_tests = &crt_t_##s##_##n;                                                                      \
    }                                                                                                      \
    static void crt_fn_##s##_##n(void)

__attribute__((noreturn, format(printf, 4, 5))) void crt_fail(const char *file, int line, const char *expr,
                                                             const char *fmt, ...);

#define cr_assert(c, ...) ((c) ? (void)0 : crt_fail(__FILE__, __LINE__, #c, "" __VA_ARGS__))
#define cr_expect cr_assert
#define cr_assert_not(c, ...) cr_assert(!(c), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) ((a) == (b) ? (void)0 : crt_fail(__FILE__, __LINE__, #a " == " #b, "" __VA_ARGS__))
#define cr_assert_neq(a, b, ...) ((a) != (b) ? (void)0 : crt_fail(__FILE__, __LINE__, #a " != " #b, "" __VA_ARGS__))
#define cr_assert_gt(a, b, ...) ((a) > (b) ? (void)0 : crt_fail(__FILE__, __LINE__, #a " > " #b, "" __VA_ARGS__))
#define cr_assert_geq(a, b, ...) ((a) >= (b) ? (void)0 : crt_fail(__FILE__, __LINE__, #a " >= " #b, "" __VA_ARGS__))
#define cr_assert_lt(a, b, ...) ((a) < (b) ? (void)0 : crt_fail(__FILE__, __LINE__, #a " < " #b, "" __VA_ARGS__))
#define cr_assert_leq(a, b, ...) ((a) <= (b) ? (void)0 : crt_fail(__FILE__, __LINE__, #a " <= " #b, "" __VA_ARGS__))
#define cr_assert_null(a, ...) cr_assert((a) == NULL, __VA_ARGS__)
#define cr_assert_not_null(a, ...) cr_assert((a) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                                                        \
    (strcmp((a), (b)) == 0 ? (void)0                                                                       \
                           : (fprintf(stderr, "\"%s\" vs \"%s\"\n", (a), (b)),                             \
                              crt_fail(__FILE__, __LINE__, #a " equals " #b, "" __VA_ARGS__)))
#define cr_assert_str_neq(a, b, ...)                                                                       \
    (strcmp((a), (b)) != 0 ? (void)0 : crt_fail(__FILE__, __LINE__, #a " differs from " #b, "" __VA_ARGS__))
#define cr_assert_fail(...) crt_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#endif
