/* io_uring through liburing: its system calls are inline, so its waits are
 * hooked by name (shim/uring.c) and handed to a helper thread. */
#include "harness.h"

TestSuite(uring, .fini = h_cleanup, .timeout = 120);

static char stock[16384], patched[16384];

/* a thread waits for completions while main sleeps between submissions: the
 * old library blocked the worker in the waiter's io_uring_enter, and main's
 * first sleep never ended (killed at the timeout); skipped where liburing's
 * headers were missing at build time or the kernel refuses io_uring */
Test(uring, waits_park_like_stock)
{
    char *argv[] = {h_path("build/progs/uring_wait"), NULL};
    int st = h_run(argv, 0, stock, sizeof stock, 30);
    if (st == 77) cr_skip("uring_wait: %s", stock);
    h_same_output("build/progs/uring_wait", 30, stock, patched, sizeof stock);
}
