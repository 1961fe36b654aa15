/* rel_nss_slow: a user lookup that waits on a slow name service must stop
 * only its own thread. A ticker thread counts 5 ms sleeps while another
 * looks up a user that is not in /etc/passwd, which its next source answers
 * after 300 ms (tests/nss/slow_nss.c, put first in LD_LIBRARY_PATH by the
 * test; without it the lookup is quick and the check says so). Stock: the
 * ticker goes on throughout. A lookup that blocked its worker would stop the
 * ticker when both share one. Output is deterministic; alarm bounds a hang. */
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"
#include "ticker.h"


static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *lookup(void *arg)
{
    double *took = arg;
    double t0 = now();
    struct passwd *pw = getpwnam("gpatch-no-such-user");
    *took = now() - t0;
    printf("lookup of a user nobody has: %s\n", pw ? "found" : "NULL");
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t tk, lk;
    pthread_create(&tk, NULL, ticker, NULL);
    usleep(20000);
    double took = 0;
    long before = ticks;
    pthread_create(&lk, NULL, lookup, &took);
    pthread_join(lk, NULL);
    long during = ticks - before;
    ticker_done = 1;
    pthread_join(tk, NULL);
    if (took < 0.2) {
        printf("the lookup was quick: no slow source to wait on (not checked)\n");
        return 0;
    }
    /* 300 ms of 5 ms ticks: stock counts up to 60 (fewer on a loaded machine); a
     * blocked worker, 0 or 1 */
    printf("the ticker went on during the slow lookup: %s\n", during >= 4 ? "yes" : "no");
    return 0;
}
