/* Reads and writes on a socket that has carried a keep-alive exchange (the
 * shortest path through gp_io: watcher started, drained, flags known), then
 * every way such a call ends other than with data at once: the same results
 * and errno as stock. */
#include "harness.h"

TestSuite(io_hot, .fini = h_cleanup, .timeout = 60);

static char stock[16384], patched[16384];

Test(io_hot, hot_socket_partial_timeout_nonblock_signals_eof)
{
    h_same_output("build/progs/io_hot", 30, stock, patched, sizeof stock);
}
