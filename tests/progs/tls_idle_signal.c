/* tls_idle_signal — a signal handler that runs while every thread waits
 * (built stock; tests/e2e/test_tls.c runs it stock and under gpatch with own
 * TLS). A thread ends, so the runtime's scheduler waits on a thread-local
 * block of no green thread's; then SIGALRM comes, and its handler uses what
 * glibc sets up at every thread's start: the ctype tables (toupper, and
 * printf's %f reads them too), errno, and the exit path (atexit handlers
 * print a double). Prints what the handler made; exits 0. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int pfd[2];

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%c%c %.1f\n", toupper('o'), toupper('k'), 2.5);
    if (write(pfd[1], buf, (size_t)n) != n) _exit(3);
    errno = saved;
}

static void *ends_soon(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return NULL;
}

static void at_exit(void) { printf("at exit %.2f %c\n", 0.25, tolower('Y')); }

int main(void)
{
    if (pipe(pfd) != 0) return perror("pipe"), 2;
    signal(SIGALRM, on_alarm);
    atexit(at_exit);
    for (int round = 0; round < 3; round++) {
        pthread_t t;
        if (pthread_create(&t, NULL, ends_soon, NULL) != 0) return perror("pthread_create"), 2;
        pthread_detach(t); /* it ends on its own, while main waits below */
        struct itimerval it = {{0, 0}, {0, 150 * 1000}};
        setitimer(ITIMER_REAL, &it, NULL);
        char buf[64];
        ssize_t n;
        while ((n = read(pfd[0], buf, sizeof buf - 1)) < 0 && errno == EINTR) {
        }
        if (n <= 0) return perror("read"), 2;
        buf[n] = 0;
        printf("round %d: handler said %s", round, buf);
    }
    fflush(stdout);
    exit(0);
}
