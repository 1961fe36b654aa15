/* rel_once_cancel — pthread_once whose initializer is cancelled (Open POSIX
 * Test Suite, pthread_once/3-1): POSIX says the effect on the once control
 * is then as if pthread_once had never been called, so a thread waiting on
 * it meanwhile and a later call run an initializer again. Cancelled both in
 * a cancellation point (sleep, deferred) and asynchronously-set. A thread
 * already waiting in pthread_once when the cancel comes runs the second
 * initializer. Stock is the specification; alarm(20) turns a hang (the
 * control left "running" for good) into a failure. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static volatile int entered, runs_first, runs_second;

static void init_blocks(void)
{
    runs_first++;
    entered = 1;
    for (;;) sleep(1); /* a cancellation point, where the cancel lands */
}

static void init_second(void) { runs_second++; }

static void *first(void *arg)
{
    if (arg) pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
    pthread_once(&once, init_blocks);
    return (void *)1; /* never reached */
}

static void *waiter(void *arg)
{
    (void)arg;
    pthread_once(&once, init_second); /* waits for first's call, then runs this one */
    return NULL;
}

static void round_(int async)
{
    pthread_t a, b;
    once = (pthread_once_t)PTHREAD_ONCE_INIT;
    entered = runs_first = runs_second = 0;
    pthread_create(&a, NULL, first, async ? (void *)1 : NULL);
    while (!entered) usleep(1000);
    pthread_create(&b, NULL, waiter, NULL);
    usleep(20000); /* b is in pthread_once, waiting (or about to) */
    pthread_cancel(a);
    void *ret;
    pthread_join(a, &ret);
    pthread_join(b, NULL);
    pthread_once(&once, init_second); /* done by now: runs nothing */
    printf("%s: cancelled %d, first ran %d, second ran %d\n", async ? "async" : "deferred",
           ret == PTHREAD_CANCELED, runs_first, runs_second);
}

int main(void)
{
    alarm(20);
    round_(0);
    round_(1);
    return 0;
}
