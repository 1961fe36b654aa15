/* rel_sem_post_signal: sem_post is async-signal-safe. A SIGALRM storm
 * (setitimer every 100 us) whose handler posts a semaphore that one thread
 * waits on, while two pairs of threads ping-pong through semaphores and a
 * mutex, so that wait queues are busy whenever a signal lands. The waiter
 * must collect every post it waits for; the output does not depend on
 * timing. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define WAITS 10000
#define PAIRS 2

static sem_t alarm_sem;
static long posts; /* handlers may run on several threads at once: atomic */
static sem_t ping[PAIRS], pong[PAIRS];
static pthread_mutex_t mx = PTHREAD_MUTEX_INITIALIZER;
static long shared_counter;

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    if (sem_post(&alarm_sem) == 0) __atomic_fetch_add(&posts, 1, __ATOMIC_RELAXED);
    errno = e;
}

static void sem_wait_intr(sem_t *s)
{
    while (sem_wait(s) != 0 && errno == EINTR) {}
}

static void *waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < WAITS; i++) sem_wait_intr(&alarm_sem);
    return NULL;
}

/* a fixed number of rounds each side: how they end does not depend on the storm */
#define ROUNDS 100000
static void *pinger(void *arg)
{
    long p = (long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        sem_post(&ping[p]);
        sem_wait_intr(&pong[p]);
        pthread_mutex_lock(&mx);
        shared_counter++;
        pthread_mutex_unlock(&mx);
    }
    return NULL;
}

static void *ponger(void *arg)
{
    long p = (long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        sem_wait_intr(&ping[p]);
        pthread_mutex_lock(&mx);
        shared_counter++;
        pthread_mutex_unlock(&mx);
        sem_post(&pong[p]);
    }
    return NULL;
}

int main(void)
{
    sem_init(&alarm_sem, 0, 0);
    for (int i = 0; i < PAIRS; i++) {
        sem_init(&ping[i], 0, 0);
        sem_init(&pong[i], 0, 0);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);

    pthread_t w, pi[PAIRS], po[PAIRS];
    pthread_create(&w, NULL, waiter, NULL);
    for (long i = 0; i < PAIRS; i++) {
        pthread_create(&pi[i], NULL, pinger, (void *)i);
        pthread_create(&po[i], NULL, ponger, (void *)i);
    }
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    pthread_join(w, NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    for (int i = 0; i < PAIRS; i++) {
        pthread_join(pi[i], NULL);
        pthread_join(po[i], NULL);
    }
    printf("waits %d collected, posts cover them: %s, ping-pong lock rounds %ld\n", WAITS,
           __atomic_load_n(&posts, __ATOMIC_RELAXED) >= WAITS ? "yes" : "no", shared_counter);
    return 0;
}
