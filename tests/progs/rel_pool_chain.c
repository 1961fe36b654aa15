/* rel_pool_chain: blocking calls that wait for each other. In round r a
 * chain of r+2 threads: thread i flock()s file i, which main holds through
 * another open file, and once it has the lock closes main's hold on file
 * i-1, letting thread i-1 through; the last thread's call is a waitpid() on
 * a child that exits at once. So the chain resolves only if every one of its
 * blocking calls is in progress at the same time, as it is with one OS
 * thread per pthread. Threads are started first link first, so the calls
 * that wait are made before the ones they wait for. Prints one line per
 * round. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 12
#define MAXL (ROUNDS + 2)

static int held[MAXL], mine[MAXL]; /* main's hold and the thread's own open file, per link */
static int links;
static pid_t child;
static int result[MAXL];

static void *link_thread(void *arg)
{
    long i = (long)arg;
    if (i == links - 1) {
        int st;
        result[i] = waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 7;
    } else {
        result[i] = flock(mine[i], LOCK_EX) == 0;
    }
    if (i > 0) close(held[i - 1]); /* the previous link may go on */
    return NULL;
}

static int open_pair(int i)
{
    char path[] = "/tmp/rel_pool_chain.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    held[i] = fd;
    mine[i] = open(path, O_RDWR);
    unlink(path);
    if (mine[i] < 0) return -1;
    return flock(held[i], LOCK_EX | LOCK_NB);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* a hang shows which round */
    /* one helper-bound call first: a pool that has one idle helper */
    int st;
    pid_t c0 = fork();
    if (c0 == 0) _exit(0);
    waitpid(c0, &st, 0);
    usleep(20000);
    for (int r = 1; r <= ROUNDS; r++) {
        links = r + 2;
        for (int i = 0; i < links - 1; i++)
            if (open_pair(i) != 0) {
                perror("setup");
                return 1;
            }
        child = fork();
        if (child == 0) _exit(7);
        pthread_t t[MAXL];
        for (long i = 0; i < links; i++) pthread_create(&t[i], NULL, link_thread, (void *)i);
        int ok = 0;
        for (int i = 0; i < links; i++) {
            pthread_join(t[i], NULL);
            ok += result[i];
        }
        for (int i = 0; i < links - 1; i++) close(mine[i]);
        printf("round %d: %d links, %d resolved\n", r, links, ok);
    }
    return 0;
}
