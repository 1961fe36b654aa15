/* sig_unseen — pthread_kill reaches a thread blocked in a call gpatch
 * does not see: fgets on a pipe through stdio (glibc's internal read). Its
 * handler, installed without SA_RESTART, runs in it and fgets returns NULL
 * with EINTR and the stream's error flag set; with SA_RESTART the read goes
 * on and fgets returns the line written later. Stock prints the
 * specification. (Under gpatch it needs the blocked thread to be alone on
 * its OS thread: two workers, or own TLS, where the worker is handed off.) */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static volatile sig_atomic_t hits, hits_in_reader;
static pthread_t reader_t;
static sem_t started;
static int p[2];

static void on_usr1(int s)
{
    (void)s;
    hits++;
    if (pthread_equal(pthread_self(), reader_t)) hits_in_reader++;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *reader(void *arg)
{
    FILE *f = arg;
    while (!reader_t) msleep(1);
    char line[64];
    sem_post(&started);
    errno = 0;
    char *r = fgets(line, sizeof line, f);
    int e = errno;
    printf("fgets: %s, errno %s, ferror %d, handler ran in it: %d\n", r ? line : "NULL", e == EINTR ? "EINTR" : e ? strerror(e) : "0",
           ferror(f) != 0, (int)hits_in_reader);
    return NULL;
}

static void round_(int flags, const char *name)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
    pipe(p);
    FILE *f = fdopen(p[0], "r");
    hits = hits_in_reader = 0;
    reader_t = 0;
    pthread_t t;
    pthread_create(&t, NULL, reader, f);
    reader_t = t;
    sem_wait(&started);
    msleep(200); /* it is in read(2) now */
    int k = pthread_kill(t, SIGUSR1);
    msleep(200);
    (void)!write(p[1], "late line\n", 10);
    pthread_join(t, NULL);
    printf("%s: pthread_kill %d, handler runs %d\n", name, k, (int)hits);
    fclose(f);
    close(p[1]);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(bound_s(30));
    sem_init(&started, 0, 0);
    round_(0, "no SA_RESTART");
    round_(SA_RESTART, "SA_RESTART");
    return 0;
}
