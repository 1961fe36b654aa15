/* rel_preempt_kill: a signal sent to a thread that computes runs its
 * handler there soon, preempted or not: four threads spin until their own
 * handler (SIGUSR1, SA_SIGINFO) sets their flag; main sends each one
 * pthread_kill after 20 ms, then sigqueue-s SIGUSR2 to the process, which
 * only one thread lets in; a SIGALRM from setitimer runs main's handler
 * while the threads compute. Deterministic output; a hang is the
 * harness's timeout (SIGALRM is the program's here). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define T 4
static volatile sig_atomic_t flag[T], usr2_by[T + 1], alarms;
static pthread_t t[4];
static volatile int started;

/* which thread runs this (pthread_self, not TLS: shared TLS shares it) */
static int me(void)
{
    for (int i = 0; i < T; i++)
        if (pthread_equal(t[i], pthread_self())) return i;
    return T;
}
static void on_usr1(int s, siginfo_t *si, void *uc)
{
    (void)s, (void)si, (void)uc;
    int i = me();
    if (i < T) flag[i] = 1;
}
static void on_usr2(int s) { (void)s; usr2_by[me()]++; }
static void on_alrm(int s) { (void)s; alarms++; }

static void *spin(void *arg)
{
    int my_index = (int)(long)arg;
    if (my_index == 2) { /* the others keep it blocked, as main made them */
        sigset_t u2;
        sigemptyset(&u2);
        sigaddset(&u2, SIGUSR2);
        pthread_sigmask(SIG_UNBLOCK, &u2, NULL);
    }
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    volatile unsigned long x = 0;
    while (!flag[my_index]) x++;
    while (my_index == 2 && !usr2_by[2]) x++; /* the one that lets SIGUSR2 in waits for it */
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGUSR2, on_usr2);
    signal(SIGALRM, on_alrm);
    sigset_t u2;
    sigemptyset(&u2);
    sigaddset(&u2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &u2, NULL); /* main never takes SIGUSR2 */
    for (long i = 0; i < T; i++) pthread_create(&t[i], NULL, spin, (void *)i);
    struct itimerval it = {{0, 5000}, {0, 5000}};
    setitimer(ITIMER_REAL, &it, NULL);
    while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < T) usleep(1000); /* each knows its index */
    usleep(20000);
    for (int i = 0; i < T; i++) pthread_kill(t[i], SIGUSR1);
    sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 1});
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("all four handlers ran in their threads\n");
    printf("SIGUSR2 ran in thread 2: %d, elsewhere: %d\n", (int)usr2_by[2],
           (int)(usr2_by[0] + usr2_by[1] + usr2_by[3] + usr2_by[T]));
    printf("main's SIGALRM handler ran: %s\n", alarms > 0 ? "yes" : "no");
    return 0;
}
