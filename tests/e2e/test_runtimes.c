/* Language runtimes and raw futexes: programs that keep their current
 * thread in TLS and wait on futexes through syscall(SYS_futex). Each runs
 * stock (the specification) and under gpatch. A runtime this machine does
 * not have is skipped, and says so. */
#include "harness.h"

TestSuite(runtimes, .fini = h_cleanup, .timeout = 180);

static char stock[65536], patched[65536];

static void same(char *const argv[], int timeout_s)
{
    int a = h_run(argv, 0, stock, sizeof stock, timeout_s);
    int b = h_run(argv, 1, patched, sizeof patched, timeout_s);
    cr_assert_eq(a, 0, "%s stock exited %d:\n%s", argv[0], a, stock);
    cr_assert_eq(b, 0, "%s under gpatch exited %d:\n%s", argv[0], b, patched);
    cr_assert(strlen(stock) > 0);
    cr_assert_str_eq(patched, stock, "differs.\n--- stock:\n%s\n--- gpatch:\n%s", stock, patched);
}

/* FUTEX_WAIT/WAKE by number between green threads, timeouts, bad inputs,
 * and other calls made by number (the old library hung in the ping-pong) */
Test(runtimes, futex_by_syscall_number)
{
    char *argv[] = {h_path("build/progs/rel_futex"), NULL};
    same(argv, 30);
}

Test(runtimes, node_worker_threads)
{
    if (access("/usr/bin/node", X_OK) != 0) cr_skip_test("no /usr/bin/node on this machine");
    char *argv[] = {"/usr/bin/node", h_path("tests/progs/runtimes/worker_threads.js"), NULL};
    same(argv, 60);
}

Test(runtimes, jvm_with_1000_threads)
{
    if (access("/usr/bin/javac", X_OK) != 0 || access("/usr/bin/java", X_OK) != 0)
        cr_skip_test("no /usr/bin/java and javac on this machine");
    char dir[] = "/tmp/gpatch-jvm-XXXXXX";
    cr_assert(mkdtemp(dir));
    char *javac[] = {"/usr/bin/javac", "-d", dir, h_path("tests/progs/runtimes/Threads1000.java"), NULL};
    cr_assert_eq(h_run(javac, 0, stock, sizeof stock, 120), 0, "javac: %s", stock);
    char *argv[] = {"/usr/bin/java", "-cp", dir, "Threads1000", NULL};
    same(argv, 120);
    char rm[256];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm) != 0) cr_log_warn("could not remove %s", dir);
}
