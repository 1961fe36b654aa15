/* Green threads' handles and fds in the hands of OS threads that are not
 * green threads (a timer_create(SIGEV_THREAD) callback), of a forked child,
 * and after the thread is gone. Each subject run stock is the
 * specification; the same binary under gpatch must print exactly the same
 * and exit the same way. */
#include "harness.h"

TestSuite(foreign, .fini = h_cleanup, .timeout = 120);

static char stock[65536], patched[65536];

#define same_output(prog, timeout_s) h_same_output(prog, timeout_s, stock, patched, sizeof stock)

/* a timer callback's thread try-joins, time-joins, signals, names and then
 * really joins a green thread; a child forked by a green thread asks about
 * its own pthread_self() (kill 0, names, stack, equal) */
Test(foreign, handles_from_other_os_threads_and_forked_children) { same_output("build/progs/rel_handles", 60); }

/* main joins clients that detached themselves and exited (EINVAL), detaches
 * and signals them, joins the joinable ones twice (0, then ESRCH) */
Test(foreign, join_of_self_detached_threads) { same_output("build/progs/rel_selfdetach", 60); }

/* a timer callback's thread puts a new file under the number a green thread
 * reads (dup2, dup3, close + F_DUPFD, a socketpair, the old pipe kept alive):
 * the green thread's next read returns the new file's data */
Test(foreign, fd_swapped_by_another_os_thread) { same_output("build/progs/rel_foreign_fd", 60); }
