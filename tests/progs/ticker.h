/* ticker.h — a thread that counts 5 ms sleeps until told to stop: the
 * subjects that check a wait stops only its own thread (rel_nss_slow,
 * rel_pclose, rel_stdio_pipe) read `ticks` before and after the wait. A
 * worker blocked by the wait lets it tick only between waits. */
#ifndef TICKER_H
#define TICKER_H
#include <pthread.h>
#include <unistd.h>

static volatile int ticker_done;
static volatile long ticks;

static void *ticker(void *arg)
{
    (void)arg;
    while (!ticker_done) {
        usleep(5000);
        ticks++;
    }
    return NULL;
}
#endif
