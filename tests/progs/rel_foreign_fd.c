/* rel_foreign_fd — an fd number changes file under a thread that reads it,
 * the change made by an OS thread that is not one of the program's
 * pthread_create'd threads (a timer_create(SIGEV_THREAD) callback).
 *
 * Each round: the reader R blocks reading fd N until main writes a short
 * message (so it waited once, and then found the pipe drained); it tells
 * main, which arms a timer whose callback puts a new file under N
 * (dup2 of a pipe, dup3, close then F_DUPFD, a socketpair, or dup2 while the
 * old pipe lives on elsewhere and gets data), writes into the new file and
 * tells R, whose next read must return what the callback wrote. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 25

static int N;          /* the number R reads */
static int writer;     /* what writes into the file under N now */
static int kept = -1;  /* the old pipe kept alive (last variant) */
static int kept_w = -1;
static sem_t drained, swapped, next_round;
static char report[ROUNDS][128];
static int round_no;

static void *reader(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        char buf[64];
        ssize_t a = read(N, buf, sizeof buf); /* waits for main's write */
        int n = snprintf(report[r], sizeof report[r], "round %d: first %zd %.*s", r, a, a > 0 ? (int)a : 0, buf);
        sem_post(&drained);
        while (sem_wait(&swapped) != 0) {}
        ssize_t b = read(N, buf, sizeof buf); /* the new file's data */
        snprintf(report[r] + n, sizeof report[r] - n, ", after the swap %zd %.*s", b, b > 0 ? (int)b : 0, buf);
        sem_post(&next_round);
    }
    return NULL;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* the timer's thread: a new file under N */
static void swap(union sigval v)
{
    (void)v;
    int variant = round_no % 5;
    int nf[2];
    if (variant == 3) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, nf) != 0) die("socketpair");
    } else if (pipe(nf) != 0) {
        die("pipe");
    }
    int old_writer = writer;
    switch (variant) {
    case 0: /* dup2 */
    case 3:
        if (dup2(nf[0], N) != N) die("dup2");
        close(nf[0]);
        break;
    case 1: /* dup3 */
        if (dup3(nf[0], N, O_CLOEXEC) != N) die("dup3");
        close(nf[0]);
        break;
    case 2: /* close, then the lowest free number at or above N is N again */
        if (close(N) != 0) die("close");
        if (fcntl(nf[0], F_DUPFD, N) != N) die("F_DUPFD");
        close(nf[0]);
        break;
    case 4: /* the old pipe stays open elsewhere, and has data */
        if (kept >= 0) close(kept), close(kept_w);
        kept = dup(N);
        kept_w = dup(old_writer);
        if (dup2(nf[0], N) != N) die("dup2");
        close(nf[0]);
        if (write(kept_w, "stale", 5) != 5) die("write stale");
        break;
    }
    close(old_writer);
    writer = nf[1];
    char msg[32];
    int len = snprintf(msg, sizeof msg, "new-%d", round_no);
    if (write(writer, msg, (size_t)len) != len) die("write new");
    sem_post(&swapped);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sem_init(&drained, 0, 0);
    sem_init(&swapped, 0, 0);
    sem_init(&next_round, 0, 0);
    int p[2];
    if (pipe(p) != 0) die("pipe");
    N = p[0];
    writer = p[1];
    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = swap;
    timer_t tm;
    if (timer_create(CLOCK_MONOTONIC, &sev, &tm) != 0) die("timer_create");
    pthread_t r;
    pthread_create(&r, NULL, reader, NULL);
    for (round_no = 0; round_no < ROUNDS; round_no++) {
        usleep(5 * 1000); /* R is (most likely) waiting in read by now; either way it reads this */
        char msg[32];
        int len = snprintf(msg, sizeof msg, "old-%d", round_no);
        if (write(writer, msg, (size_t)len) != len) die("write old");
        while (sem_wait(&drained) != 0) {}
        struct itimerspec its = {{0, 0}, {0, 1000 * 1000}};
        timer_settime(tm, 0, &its, NULL);
        while (sem_wait(&next_round) != 0) {}
    }
    pthread_join(r, NULL);
    timer_delete(tm);
    for (int i = 0; i < ROUNDS; i++) printf("%s\n", report[i]);
    return 0;
}
