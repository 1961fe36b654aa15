/* io_steal — threads woken by I/O together, with unequal work (built
 * stock; tests/e2e/test_workers.c runs it stock and under gpatch with two
 * workers and own TLS). Every round a child process sends the round's
 * number to all three threads at once and waits for each one's answer;
 * before it answers, a thread hashes 512 KiB, or 1 KiB in one round in
 * three (a different thread each round). Three threads on two workers: in
 * the rounds where the lone one has the short job, its worker runs out
 * while the other has two long ones ready, and one of those moves at a
 * call's end (gpatch's stats count it), to go on, and wait in its next
 * read(), on the other worker's OS thread.
 * What must not change across a call that may return on another OS thread:
 * the value read, __thread values and their addresses, errno,
 * pthread_self(). Prints the totals; exits 0 iff every check held. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NT 3
#define ROUNDS 200
static __thread long tls_count;
static __thread char tls_name[32];
static int sv[NT][2];
static int bad[NT];
static unsigned char block[524288];
static volatile uint32_t sink;

static uint32_t fnv(const unsigned char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static void *work(void *arg)
{
    int id = (int)(long)arg;
    snprintf(tls_name, sizeof tls_name, "thread %d", id);
    long *where = &tls_count;
    pthread_t self = pthread_self();
    uint32_t h = 2166136261u;
    for (long i = 0;; i++) {
        errno = 1000 + id;
        long round = -1;
        ssize_t n = read(sv[id][0], &round, sizeof round);
        if (n == 0) break; /* the child is done */
        if (n != sizeof round || round != i) bad[id] = 1;
        char want[32];
        snprintf(want, sizeof want, "thread %d", id);
        if (errno != 1000 + id || tls_count != i || where != &tls_count || !pthread_equal(self, pthread_self()) ||
            strcmp(tls_name, want) != 0)
            bad[id] = 1;
        tls_count++;
        h = fnv(block, i % NT == id ? 1024 : sizeof block, h);
        errno = 2000 + id;
        if (write(sv[id][0], &round, sizeof round) != sizeof round || errno != 2000 + id) bad[id] = 1;
    }
    sink = h;
    return (void *)tls_count;
}

/* the child: each round, the round's number to every thread, then every
 * thread's answer */
static int rounds(void)
{
    for (long r = 0; r < ROUNDS; r++) {
        usleep(1000); /* both workers wait for the round: its wake finds one idle */
        for (int i = 0; i < NT; i++)
            if (write(sv[i][1], &r, sizeof r) != sizeof r) return perror("child write"), 2;
        for (int i = 0; i < NT; i++) {
            long back = -1;
            if (read(sv[i][1], &back, sizeof back) != sizeof back || back != r) {
                printf("round %ld: thread %d answered %ld\n", r, i, back);
                return 1;
            }
        }
    }
    return 0;
}

int main(void)
{
    for (size_t i = 0; i < sizeof block; i++) block[i] = (unsigned char)(i * 7);
    for (int i = 0; i < NT; i++)
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) != 0) return perror("socketpair"), 2;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) return perror("fork"), 2;
    if (child == 0) {
        for (int i = 0; i < NT; i++) close(sv[i][0]);
        int r = rounds();
        fflush(stdout);
        _exit(r);
    }
    for (int i = 0; i < NT; i++) close(sv[i][1]);
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        if (pthread_create(&t[i], NULL, work, (void *)(long)i) != 0) return perror("pthread_create"), 2;
    long total = 0;
    for (int i = 0; i < NT; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (long)r;
    }
    int status = -1;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("the child: status %d\n", status);
    int ok = 1;
    for (int i = 0; i < NT; i++)
        if (bad[i]) ok = 0, printf("thread %d: a check failed\n", i);
    printf("rounds %d, answers %ld, %s\n", ROUNDS, total, ok ? "every check held" : "FAILED");
    return ok ? 0 : 1;
}
