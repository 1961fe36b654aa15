/* rel_sig_stream_exit — the Open POSIX Test Suite's "signal stream"
 * pattern (pthread_cond_signal/4-2, pthread_once/6-1 and the others, at
 * their end): a sender thread kill()s the process, then waits on a
 * semaphore that the handler posts; main and the sender block the signal,
 * and the one thread that lets it in loops on cheap calls until told to
 * stop, then exits; 40 rounds, each with a new pair. The kernel gives a
 * process signal to a thread that lets it in, and keeps one that every
 * thread blocks pending for the process until one unblocks it: the
 * sender's first kill of a round, made before the new thread has unblocked
 * the signal, runs in that thread once it does. Under gpatch such a one,
 * caught by gpatch's catcher thread while its mask still let in what the
 * last round's thread had, was kept for main, which never unblocks it, and
 * the sender waited for good (with 2 workers, about 3 runs in 10). Stock is
 * the specification; alarm(20) turns a hang into a failure. */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static sem_t posted;
static volatile int stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void handler(int s) { (void)s; sem_post(&posted); }

static void *sender(void *arg)
{
    (void)arg;
    while (!stop) {
        while (sem_wait(&posted) != 0) {}
        kill(getpid(), SIGUSR1);
    }
    return NULL;
}

static void *taker(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    while (!stop) pthread_cond_signal(&cv); /* a hooked call that never waits */
    return NULL;
}

int main(void)
{
    alarm(20);
    struct sigaction sa = {0};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, NULL); /* main and the sender block it */
    int done = 0;
    for (int round = 0; round < 40; round++) {
        stop = 0;
        sem_init(&posted, 0, 1);
        pthread_t t, snd;
        pthread_create(&t, NULL, taker, NULL);
        pthread_create(&snd, NULL, sender, NULL);
        usleep(20000);
        stop = 1;
        pthread_join(snd, NULL);
        pthread_join(t, NULL);
        sem_destroy(&posted);
        done++;
    }
    (void)mu;
    printf("rounds completed: %d\n", done);
    return 0;
}
