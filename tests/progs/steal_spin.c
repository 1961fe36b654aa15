/* steal_spin — threads that compute and yield, some far longer than others
 * (built stock; tests/e2e/test_workers.c runs it stock and under gpatch with
 * two workers, where the short ones leave a worker idle and it steals).
 * Each thread checks at every step what must not change when it resumes on
 * another OS thread: its __thread values and their addresses, errno,
 * pthread_self(), a timed sleep's timer, the mutex it shares with the others
 * and a condition variable ping-pong between the two long ones.
 * Prints the totals; exits 0 iff every check held. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NT 4
static __thread long tls_count;
static __thread char tls_name[32];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long shared;
static int turn; /* the long ones take turns at every 256th step */
static int bad[NT];
static pthread_barrier_t start; /* all are created before any ends */

static void *work(void *arg)
{
    int id = (int)(long)arg;
    long steps = id % 2 ? 200000 : 2000; /* 1 and 3 long, 0 and 2 short */
    pthread_barrier_wait(&start);
    snprintf(tls_name, sizeof tls_name, "thread %d", id);
    long *where = &tls_count;
    pthread_t self = pthread_self();
    for (long i = 0; i < steps; i++) {
        tls_count++;
        errno = 1000 + id;
        sched_yield();
        if (errno != 1000 + id || tls_count != i + 1 || where != &tls_count || !pthread_equal(self, pthread_self()) ||
            strcmp(tls_name, (char[32]){0}) == 0)
            bad[id] = 1;
        char want[32];
        snprintf(want, sizeof want, "thread %d", id);
        if (strcmp(tls_name, want) != 0) bad[id] = 1;
        if (i % 64 == 0) {
            pthread_mutex_lock(&m);
            shared++;
            pthread_mutex_unlock(&m);
        }
        if (i % 4096 == 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        if (id % 2 && i % 256 == 0 && i < 150000) { /* 1 waits for 3's turn and back */
            pthread_mutex_lock(&m);
            int me = id == 1 ? 0 : 1;
            while (turn != me) pthread_cond_wait(&cv, &m);
            turn = !me;
            pthread_cond_broadcast(&cv);
            pthread_mutex_unlock(&m);
        }
    }
    return (void *)tls_count;
}

int main(void)
{
    pthread_t t[NT];
    pthread_barrier_init(&start, NULL, NT);
    for (int i = 0; i < NT; i++)
        if (pthread_create(&t[i], NULL, work, (void *)(long)i) != 0) return perror("pthread_create"), 2;
    long total = 0;
    for (int i = 0; i < NT; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (long)r;
    }
    int ok = 1;
    for (int i = 0; i < NT; i++)
        if (bad[i]) ok = 0, printf("thread %d: a check failed\n", i);
    printf("steps %ld, shared %ld, %s\n", total, shared, ok ? "every check held" : "FAILED");
    return ok ? 0 : 1;
}
