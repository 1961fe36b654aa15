/* sig_pending — a signal sent to one thread that blocks it stays pending
 * for that thread alone, whenever it is sent: before the thread's sigwait
 * starts, while another thread waits for the same signal, before the thread
 * unblocks it (the handler then runs in that thread, before pthread_sigmask
 * returns), sigsuspends or pselects with a mask that lets it in; not in a
 * forked child. A ppoll whose mask lets it in is interrupted by one sent
 * while it waits. Sent again and again while the thread goes in and out of
 * sigwait, none is lost; one a signalfd was made for still reaches the
 * sigwait that waits for it. main never blocks the signals, and counts its
 * handler's runs: a directed signal that went astray would run it at once.
 * Each step is one line; stock prints the specification. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits, hits_in_target;
static pthread_t target;
static void on_sig(int s)
{
    (void)s;
    hits++;
    if (pthread_equal(pthread_self(), target)) hits_in_target++;
}

/* the thread's steps wait for main's go-ahead on a pipe, one byte a step */
static int ready[2], go[2];
static void say_ready(void) { (void)!write(ready[1], "r", 1); }
static void wait_ready(void)
{
    char c;
    (void)!read(ready[0], &c, 1);
}
static void say_go(void) { (void)!write(go[1], "g", 1); }
static void wait_go(void)
{
    char c;
    (void)!read(go[0], &c, 1);
}

static void block_for_me(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

/* a bounded sigwait: the signal, 0 when nothing came in 5 s */
static int wait_for(int sig, siginfo_t *info)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    struct timespec t = {5, 0};
    int r = sigtimedwait(&s, info, &t);
    return r < 0 ? 0 : r;
}

static int is_pending(int sig)
{
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, sig) == 1;
}

/* 1: sent before its sigwait starts */
static void *before_sigwait(void *arg)
{
    block_for_me(SIGUSR1);
    say_ready();
    wait_go(); /* sent meanwhile */
    printf("before sigwait: pending %d, handler runs %d\n", is_pending(SIGUSR1), (int)hits);
    siginfo_t si;
    int r = wait_for(SIGUSR1, &si);
    printf("before sigwait: sigtimedwait got %s, code %d, handler runs %d\n", r ? strsignal(r) : "nothing",
           r ? si.si_code : 0, (int)hits);
    printf("after it: pending %d\n", is_pending(SIGUSR1));
    return arg;
}

/* 2: sent before it unblocks it: the handler runs in the thread */
static void *before_unblock(void *arg)
{
    block_for_me(SIGUSR2);
    say_ready();
    wait_go();
    int before = hits;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    printf("unblock: handler runs before %d, after %d, in this thread %d\n", before, (int)hits, (int)hits_in_target);
    return arg;
}

/* 3: a queued signal's value, taken by a zero-timeout sigtimedwait */
static void *queued_value(void *arg)
{
    block_for_me(SIGRTMIN);
    say_ready();
    wait_go();
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN);
    siginfo_t si;
    struct timespec zero = {0, 0};
    int r = sigtimedwait(&s, &si, &zero);
    printf("queued: a zero-timeout sigtimedwait got SIGRTMIN %d, value %d, code SI_QUEUE %d\n", r == SIGRTMIN,
           r == SIGRTMIN ? si.si_value.sival_int : -1, r == SIGRTMIN && si.si_code == SI_QUEUE);
    r = sigtimedwait(&s, &si, &zero);
    printf("queued: again: %d %s\n", r, r < 0 ? strerror(errno) : "");
    return arg;
}

/* 4: another thread waits for the same signal meanwhile: not its */
static void *other_waiter(void *arg)
{
    block_for_me(SIGUSR1);
    say_ready();
    siginfo_t si;
    int r = wait_for(SIGUSR1, &si);
    printf("the other waiter got %s\n", r ? strsignal(r) : "nothing");
    return arg;
}

static void *not_waiting_yet(void *arg)
{
    block_for_me(SIGUSR1);
    say_ready();
    wait_go();
    siginfo_t si;
    int r = wait_for(SIGUSR1, &si);
    printf("the target got %s\n", r ? strsignal(r) : "nothing");
    return arg;
}

/* 5: sigsuspend with a mask that lets it in */
static void *before_sigsuspend(void *arg)
{
    block_for_me(SIGUSR2);
    say_ready();
    wait_go();
    sigset_t none;
    sigemptyset(&none);
    int r = sigsuspend(&none);
    int e = errno;
    printf("sigsuspend: %d %s, handler runs %d, in this thread %d\n", r, strerror(e), (int)hits, (int)hits_in_target);
    return arg;
}

/* 6: it exits with the signal pending: gone with it */
static void *exits_with_it(void *arg)
{
    block_for_me(SIGUSR1);
    say_ready();
    wait_go();
    return arg;
}

/* 7: pselect with a mask that lets in what is pending for it */
static void *before_pselect(void *arg)
{
    block_for_me(SIGUSR2);
    say_ready();
    wait_go();
    int p[2];
    if (pipe(p)) return arg;
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    sigset_t none;
    sigemptyset(&none);
    struct timespec t = {5, 0};
    int n = pselect(p[0] + 1, &r, NULL, NULL, &t, &none);
    int e = errno;
    printf("pselect: %d %s, handler runs %d, in this thread %d\n", n, n < 0 ? strerror(e) : "", (int)hits,
           (int)hits_in_target);
    close(p[0]);
    close(p[1]);
    return arg;
}

/* 8: sent while it waits in ppoll with a mask that lets it in */
static void *in_ppoll(void *arg)
{
    block_for_me(SIGUSR2);
    int p[2];
    if (pipe(p)) return arg;
    struct pollfd f = {p[0], POLLIN, 0};
    sigset_t none;
    sigemptyset(&none);
    struct timespec t = {5, 0};
    say_ready();
    int n = ppoll(&f, 1, &t, &none);
    int e = errno;
    printf("ppoll: %d %s, handler runs %d\n", n, n < 0 ? strerror(e) : "", (int)hits);
    close(p[0]);
    close(p[1]);
    return arg;
}

/* 9: it forks with one pending: the child has none; the parent keeps it */
static void *forks_with_it(void *arg)
{
    block_for_me(SIGUSR1);
    say_ready();
    wait_go();
    pid_t c = fork();
    if (c == 0) {
        printf("fork: the child has it pending %d\n", is_pending(SIGUSR1));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    siginfo_t si;
    int r = wait_for(SIGUSR1, &si);
    printf("fork: the parent got %s\n", r ? strsignal(r) : "nothing");
    return arg;
}

/* 10: many rounds of a send and a sigwait, each side at its own pace */
#define ROUNDS 300
static void *round_trips(void *arg)
{
    block_for_me(SIGUSR1);
    say_ready();
    int got = 0;
    for (int i = 0; i < ROUNDS; i++) {
        siginfo_t si;
        if (wait_for(SIGUSR1, &si) == SIGUSR1) got++;
        say_ready(); /* taken: send the next */
    }
    printf("rounds: %d of %d taken\n", got, ROUNDS);
    return arg;
}

/* 11: in sigwait for a signal some signalfd was made for */
static void *sigwait_signalfd_sig(void *arg)
{
    block_for_me(SIGWINCH);
    say_ready();
    siginfo_t si;
    int r = wait_for(SIGWINCH, &si);
    printf("signalfd's signal: the sigwait got %s\n", r ? strsignal(r) : "nothing");
    return arg;
}

static void start(void *(*fn)(void *))
{
    pthread_create(&target, NULL, fn, NULL);
    wait_ready();
}

static void reset(void) { hits = hits_in_target = 0; }

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction a = {.sa_handler = on_sig};
    sigaction(SIGUSR1, &a, NULL);
    sigaction(SIGUSR2, &a, NULL);
    sigaction(SIGRTMIN, &a, NULL);
    if (pipe(ready) || pipe(go)) return 1;

    start(before_sigwait);
    pthread_kill(target, SIGUSR1);
    say_go();
    pthread_join(target, NULL);

    reset();
    start(before_unblock);
    pthread_kill(target, SIGUSR2);
    say_go();
    pthread_join(target, NULL);

    reset();
    start(queued_value);
    pthread_sigqueue(target, SIGRTMIN, (union sigval){.sival_int = 42});
    say_go();
    pthread_join(target, NULL);

    reset();
    pthread_t other;
    pthread_create(&other, NULL, other_waiter, NULL);
    wait_ready();
    usleep(50000); /* it is in its sigwait */
    start(not_waiting_yet);
    pthread_kill(target, SIGUSR1);
    usleep(50000);
    say_go();
    pthread_join(target, NULL);
    pthread_kill(other, SIGUSR1);
    pthread_join(other, NULL);
    printf("handler runs %d\n", (int)hits);

    reset();
    start(before_sigsuspend);
    pthread_kill(target, SIGUSR2);
    say_go();
    pthread_join(target, NULL);

    reset();
    start(exits_with_it);
    pthread_kill(target, SIGUSR1);
    say_go();
    pthread_join(target, NULL);
    usleep(20000);
    printf("exited with it pending: handler runs %d, main has it pending %d\n", (int)hits, is_pending(SIGUSR1));

    reset();
    start(before_pselect);
    pthread_kill(target, SIGUSR2);
    say_go();
    pthread_join(target, NULL);

    reset();
    start(in_ppoll);
    usleep(50000); /* it is in its ppoll */
    pthread_kill(target, SIGUSR2);
    pthread_join(target, NULL);

    reset();
    start(forks_with_it);
    pthread_kill(target, SIGUSR1);
    say_go();
    pthread_join(target, NULL);

    reset();
    start(round_trips);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_kill(target, SIGUSR1);
        wait_ready();
    }
    pthread_join(target, NULL);
    printf("handler runs %d\n", (int)hits);

    sigset_t w;
    sigemptyset(&w);
    sigaddset(&w, SIGWINCH);
    int sfd = signalfd(-1, &w, SFD_CLOEXEC); /* made, never read */
    start(sigwait_signalfd_sig);
    usleep(50000); /* it is in its sigwait */
    pthread_kill(target, SIGWINCH);
    pthread_join(target, NULL);
    close(sfd);
    return 0;
}
