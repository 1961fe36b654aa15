/* rel_cond_timeout_signal: a timed and an untimed waiter on one condition
 * variable, and a pthread_cond_signal made right at the timed one's
 * deadline. The signal must wake somebody: if the timed waiter returns 0 it
 * had the signal and passes it on (signals again); if it returns ETIMEDOUT
 * the signal must have gone to the untimed waiter. A signal counted as
 * delivered to a waiter that then reports ETIMEDOUT is lost, and the untimed
 * waiter sleeps forever. Many rounds, so the race is met; the output does
 * not depend on who won each round. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 300

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int posted;
static struct timespec deadline;
static int bad;

static void *signaler(void *arg)
{
    (void)arg;
    pthread_mutex_t sm = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t sc = PTHREAD_COND_INITIALIZER;
    pthread_mutex_lock(&sm);
    while (pthread_cond_timedwait(&sc, &sm, &deadline) != ETIMEDOUT) {} /* sleep to the deadline */
    pthread_mutex_unlock(&sm);
    pthread_mutex_lock(&m);
    posted = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *timed(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    int r = pthread_cond_timedwait(&c, &m, &deadline);
    if (r == 0) pthread_cond_signal(&c); /* it may have had the signal: pass it on */
    else if (r != ETIMEDOUT) bad++;
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *untimed(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    while (!posted)
        if (pthread_cond_wait(&c, &m) != 0) bad++;
    pthread_mutex_unlock(&m);
    return NULL;
}

int main(void)
{
    int done = 0;
    for (int i = 0; i < ROUNDS; i++) {
        posted = 0;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 2 * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        pthread_t s, t, u;
        /* in this order: the signaler's sleep ends first, the timed waiter
         * queues before the untimed one */
        pthread_create(&s, NULL, signaler, NULL);
        pthread_create(&t, NULL, timed, NULL);
        pthread_create(&u, NULL, untimed, NULL);
        pthread_join(s, NULL);
        pthread_join(t, NULL);
        pthread_join(u, NULL);
        done++;
    }
    printf("rounds %d, untimed waiter woken in %d, errors %d\n", ROUNDS, done, bad);
    return 0;
}
