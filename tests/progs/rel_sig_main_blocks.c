/* rel_sig_main_blocks — a process signal (kill(getpid())) that main blocks
 * and only another thread lets in runs in that thread, as the kernel gives
 * it to the one thread that does not block it. gpatch's OS threads' real
 * masks were main's (worker 0) and "all blocked" (the others), so the signal
 * stayed pending on the process for good (the Open POSIX Test Suite's
 * "signal stream" tests, pthread_atfork/3-3, pthread_once/6-1, hung on a
 * semaphore the handler was to post). Also: a second thread that unblocks
 * another signal later, and a stream of signals, each waiting for its
 * handler's sem_post, as those tests do. Stock is the specification;
 * alarm(20) turns a hang into a failure. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static sem_t posted1, posted2;
static volatile int stop;
static volatile pthread_t ran_in1, ran_in2;
static pthread_t t1, t2;

static void h1(int s) { (void)s; ran_in1 = pthread_self(); sem_post(&posted1); }
static void h2(int s) { (void)s; ran_in2 = pthread_self(); sem_post(&posted2); }

static void *taker(void *arg)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, (int)(long)arg);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    while (!stop) usleep(1000); /* waits in a call, as the kernel prefers */
    return NULL;
}

static int sem_wait_intr(sem_t *s)
{
    int r;
    while ((r = sem_wait(s)) != 0 && errno == EINTR) {}
    return r;
}

int main(void)
{
    alarm(20);
    struct sigaction sa = {0};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = h1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = h2;
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL); /* main blocks both; new threads inherit it */
    sem_init(&posted1, 0, 0);
    sem_init(&posted2, 0, 0);
    pthread_create(&t1, NULL, taker, (void *)(long)SIGUSR1);
    usleep(20000);
    int n1 = 0, n2 = 0;
    for (int i = 0; i < 100; i++) {
        kill(getpid(), SIGUSR1);
        if (sem_wait_intr(&posted1) == 0) n1++;
    }
    printf("SIGUSR1: %d of 100 handlers ran, in the thread that lets it in: %d\n", n1,
           pthread_equal(ran_in1, t1) != 0);
    pthread_create(&t2, NULL, taker, (void *)(long)SIGUSR2); /* a second one, later */
    usleep(20000);
    for (int i = 0; i < 100; i++) {
        kill(getpid(), SIGUSR2);
        if (sem_wait_intr(&posted2) == 0) n2++;
    }
    printf("SIGUSR2: %d of 100 handlers ran, in the thread that lets it in: %d\n", n2,
           pthread_equal(ran_in2, t2) != 0);
    stop = 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    sigset_t p;
    sigpending(&p);
    printf("pending at the end: SIGUSR1 %d SIGUSR2 %d\n", sigismember(&p, SIGUSR1), sigismember(&p, SIGUSR2));
    return 0;
}
