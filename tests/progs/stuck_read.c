/* stuck_read: one thread blocks in a read gpatch cannot see for about 2 s
 * while two pairs of threads keep playing ping-pong over socketpairs.
 * argv[1]: "fgets" -- fgets() on a pipe (stdio reads through glibc's
 * internal read, no hook sees it); "raw" -- read(2) made by an inline
 * syscall instruction. The pipe is written 2 s later by a child process (not
 * a thread: a stalled scheduler must not be able to hold the writer back).
 * Prints whether the ping-pong made progress while the read was blocked:
 * stock, the other threads run on their own OS threads, so they do. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int blocked, done; /* __atomic */
static long during; /* round trips made while the read was blocked */

static long raw_read(int fd, void *buf, size_t n)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_read), "D"((long)fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
    return r;
}

static void *pinger(void *arg)
{
    int fd = *(int *)arg;
    char c = 'p';
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) exit(3);
        if (__atomic_load_n(&blocked, __ATOMIC_ACQUIRE)) __atomic_add_fetch(&during, 1, __ATOMIC_RELAXED);
    }
    c = 'q';
    if (write(fd, &c, 1) != 1) exit(3);
    return NULL;
}

static void *ponger(void *arg)
{
    int fd = *(int *)arg;
    char c;
    for (;;) {
        if (read(fd, &c, 1) != 1) exit(4);
        if (c == 'q') return NULL;
        if (write(fd, &c, 1) != 1) exit(4);
    }
}

static int pipefd[2];
static const char *mode;
static char line[64];

static void *reader(void *arg)
{
    (void)arg;
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    if (!strcmp(mode, "raw")) {
        long n = raw_read(pipefd[0], line, sizeof line - 1);
        if (n <= 0) exit(5);
        line[n] = 0;
    } else {
        FILE *f = fdopen(pipefd[0], "r");
        if (!f || !fgets(line, sizeof line, f)) exit(5);
    }
    __atomic_store_n(&blocked, 0, __ATOMIC_RELEASE);
    return NULL;
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "fgets";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (pipe(pipefd)) return 1;
    pid_t kid = fork();
    if (kid == 0) {
        sleep(2);
        static const char msg[] = "hello from the writer\n";
        _exit(write(pipefd[1], msg, sizeof msg - 1) == sizeof msg - 1 ? 0 : 1);
    }
    close(pipefd[1]);
    int sv[2][2];
    pthread_t t[5];
    for (int i = 0; i < 2; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i])) return 1;
        pthread_create(&t[2 * i], NULL, pinger, &sv[i][0]);
        pthread_create(&t[2 * i + 1], NULL, ponger, &sv[i][1]);
    }
    pthread_create(&t[4], NULL, reader, NULL);
    pthread_join(t[4], NULL);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    int st;
    waitpid(kid, &st, 0);
    printf("read: %s", line);
    /* a generous bound: stock makes tens of thousands in 2 s */
    printf("ping-pong during the blocked read: %s\n", __atomic_load_n(&during, __ATOMIC_RELAXED) >= 10 ? "progress" : "stalled");
    return 0;
}
