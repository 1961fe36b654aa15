/* fsync and fdatasync go to a helper thread when the file may wait for a
 * device, so the other green threads run meanwhile (a database's group
 * commit); files in memory sync on the green thread. */
#include "harness.h"

TestSuite(fsync, .fini = h_cleanup, .timeout = 120);

static char stock[16384], patched[16384], err[16384];

/* 8 threads append and sync 25 times each while one sleeps; then bad fds
 * and pipes: the same results as stock, and (with GPATCH_STATS) the 200
 * syncs of a file on disk each went to a helper (the old library made them
 * on the worker: 0 pool jobs), none of a file in memory */
Test(fsync, syncs_leave_the_worker_same_results)
{
    char *file = h_path("build/fsync_group.tmp");
    char *argv[] = {h_path("build/progs/fsync_group"), file, NULL};
    int a = h_run(argv, 0, stock, sizeof stock, 60);
    cr_assert_eq(a, 0, "stock exited %d:\n%s", a, stock);
    char errf[] = "/tmp/gpatch-fsync-XXXXXX";
    int efd = mkstemp(errf);
    cr_assert(efd >= 0);
    char *sh[] = {"/bin/sh", "-c", "exec \"$0\" \"$1\" 2>\"$2\"", argv[0], file, errf, NULL};
    char *env[] = {"GPATCH_STATS=1", NULL};
    struct h_proc pr = h_spawn(sh, 1, env);
    int b = h_collect(&pr, patched, sizeof patched, 60);
    ssize_t n = read(efd, err, sizeof err - 1);
    err[n > 0 ? n : 0] = 0;
    close(efd);
    unlink(errf);
    cr_assert_eq(b, 0, "under gpatch exited %d:\n%s\n%s", b, patched, err);
    cr_assert_str_eq(patched, stock, "differs under gpatch.\n--- stock:\n%s\n--- gpatch:\n%s", stock, patched);
    const char *p = strstr(err, "pool jobs ");
    cr_assert(p, "no stats:\n%s", err);
    long jobs = strtol(p + 10, NULL, 10);
    if (strstr(stock, "file in memory: no"))
        cr_assert_geq(jobs, 200, "%ld pool jobs for 200 syncs of a file on disk:\n%s", jobs, err);
    else
        cr_assert_leq(jobs, 2, "%ld pool jobs: syncs of a file in memory went to a helper:\n%s", jobs, err);
}
