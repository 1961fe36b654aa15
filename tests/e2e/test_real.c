/* The real-function table (runtime/real.c): a glibc without a function the
 * table requires gets a message and an abort at start, not a crash. The
 * library build/tests/libgpatch-absent.so requires one no library has
 * (GP_REAL_TEST_ABSENT), first in the table. Before the table stopped
 * calling hooked names (its message went out through libc's syscall(),
 * exported by the shim, whose hook resolved the table again), that start
 * recursed until SIGSEGV and printed nothing. */
#include "harness.h"

TestSuite(real_table, .fini = h_cleanup, .timeout = 60);

static char out[4096];

Test(real_table, an_absent_required_function_is_named_then_aborts)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "LD_PRELOAD='%s' /bin/true 2>&1; echo \"status=$?\"",
             h_path("build/tests/libgpatch-absent.so"));
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    cr_assert_eq(h_run(argv, 0, out, sizeof out, 30), 0, "%s", out);
    cr_assert(strstr(out, "gpatch: cannot find the real gp_test_absent\n"), "%s", out);
    cr_assert(strstr(out, "status=134\n"), "SIGABRT expected: %s", out); /* 128 + SIGABRT */
}
