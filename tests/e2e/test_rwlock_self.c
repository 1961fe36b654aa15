/* An rwlock locked again by the thread that write-holds it: glibc answers
 * EDEADLK to every blocking lock call of the holder (read or write, timed or
 * not) and EBUSY to its trylocks, while another thread asking meanwhile
 * waits. Under gpatch all green threads of a worker share glibc's record of
 * the writer (an OS thread id), so gpatch keeps its own: without it the
 * holder's second lock waited on itself forever. The subject runs stock (the
 * specification), then under gpatch in the default TLS mode and with own
 * TLS (each green thread's thread descriptor then carries a copy of the
 * worker's id). */
#include "harness.h"

TestSuite(rwlock_self, .fini = h_cleanup, .timeout = 120);

static char stock[65536], patched[65536];

Test(rwlock_self, holder_gets_edeadlk_others_wait)
{
    h_same_output("build/progs/rwlock_self", 60, stock, patched, sizeof stock);
    cr_assert(strstr(stock, "t1     wrlock again                                 EDEADLK"), "%s", stock);
}

Test(rwlock_self, holder_gets_edeadlk_own_tls)
{
    char *argv[] = {h_path("build/progs/rwlock_self"), NULL};
    char *own[] = {"GPATCH_TLS=own", NULL};
    int a = h_run(argv, 0, stock, sizeof stock, 60);
    struct h_proc pr = h_spawn(argv, 1, own);
    int b = h_collect(&pr, patched, sizeof patched, 60);
    cr_assert_eq(a, 0, "stock exited %d:\n%s", a, stock);
    cr_assert_eq(b, 0, "under gpatch (GPATCH_TLS=own) exited %d:\n%s", b, patched);
    cr_assert_str_eq(patched, stock, "differs with GPATCH_TLS=own.\n--- stock:\n%s\n--- gpatch:\n%s", stock, patched);
}
