/* term_default: a program that leaves SIGTERM, SIGINT and SIGHUP at their
 * default action and is stopped by one. It says what sigaction reports for
 * each (stock: SIG_DFL), then waits in pause() with a thread alive until
 * the signal ends it. Under gpatch --stats the counters print at that end
 * (tests/e2e/test_tools.c); what the program sees must stay stock's. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void *idle(void *arg)
{
    (void)arg;
    for (;;) pause();
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    const char *names[] = {"SIGTERM", "SIGINT", "SIGHUP"};
    for (int i = 0; i < 3; i++) {
        struct sigaction sa;
        sigaction(sigs[i], NULL, &sa);
        printf("%s: %s, flags %#x\n", names[i],
               sa.sa_handler == SIG_DFL ? "SIG_DFL" : sa.sa_handler == SIG_IGN ? "SIG_IGN" : "a handler",
               (unsigned)sa.sa_flags);
        void (*h)(int) = signal(sigs[i], SIG_DFL); /* signal() answers the same, and puts it back */
        printf("  signal() says %s\n", h == SIG_DFL ? "SIG_DFL" : "something else");
    }
    printf("ready\n");
    for (;;) pause();
}
