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
    char *own[] = {"GPATCH_TLS=own", NULL};
    h_same_output_env("build/progs/rwlock_self", own, 60, stock, patched, sizeof stock);
}
