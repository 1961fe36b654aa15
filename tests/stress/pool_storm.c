/* pool_storm — many threads, each making calls that gpatch must hand to its
 * helper pool (they block in the kernel and have no fd to wait on):
 *   getnameinfo of 127.0.0.1 without NI_NUMERIC* (a lookup in /etc/hosts),
 *   waitpid of a child it forked (the child exits after a short sleep),
 *   flock(LOCK_EX) on one file through the thread's own open file description
 *   (so threads really contend), guarding a counter kept in plain memory.
 * Built stock; under gpatch the same output is expected. A lost wake-up
 * between a helper and its waiter parks a thread forever (timeout); two
 * holders of the lock at once show as a wrong counter.
 * Usage: pool_storm [THREADS [ROUNDS]]   (default 32 x 100) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int nthreads = 32, rounds = 100;
static char lockpath[64];
static long counter;            /* guarded by the flock only */
static int inside;              /* how many threads hold the flock (must stay <= 1) */
static long bad_name, bad_wait, bad_lock, overlap;
static pthread_mutex_t stats = PTHREAD_MUTEX_INITIALIZER;

static int *fds; /* one open file description per thread, opened by main */

static void *worker(void *arg)
{
    long id = (long)arg, e_name = 0, e_wait = 0, e_lock = 0, e_over = 0;
    int fd = fds[id];
    if (fd < 0) e_lock++;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int r = 0; r < rounds; r++) {
        char host[NI_MAXHOST], serv[NI_MAXSERV];
        int rc = getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, serv, sizeof serv, 0);
        if (rc != 0 || strcmp(host, "localhost") != 0) e_name++;

        if ((r + id) % 8 == 0) { /* a child now and then: fork is costly */
            pid_t p = fork();
            if (p == 0) {
                usleep(1000);
                _exit((int)(id & 63));
            }
            int st = 0;
            pid_t w;
            do w = waitpid(p, &st, 0);
            while (w < 0 && errno == EINTR);
            if (p < 0 || w != p || !WIFEXITED(st) || WEXITSTATUS(st) != (int)(id & 63)) e_wait++;
        }

        if (fd >= 0) {
            if (flock(fd, LOCK_EX) != 0) {
                e_lock++;
                continue;
            }
            if (__atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) != 1) e_over++;
            long c = counter;
            if (r % 4 == 0) sched_yield(); /* let another thread try the lock meanwhile */
            counter = c + 1;
            __atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
            if (flock(fd, LOCK_UN) != 0) e_lock++;
        }
    }
    if (fd >= 0) close(fd);
    pthread_mutex_lock(&stats);
    bad_name += e_name;
    bad_wait += e_wait;
    bad_lock += e_lock;
    overlap += e_over;
    pthread_mutex_unlock(&stats);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) nthreads = atoi(argv[1]);
    if (argc > 2) rounds = atoi(argv[2]);
    snprintf(lockpath, sizeof lockpath, "/tmp/pool_storm.%d", (int)getpid());
    int fd = open(lockpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return perror("open"), 1;
    close(fd);
    fds = calloc((size_t)nthreads, sizeof *fds);
    for (int i = 0; i < nthreads; i++) fds[i] = open(lockpath, O_RDWR | O_CLOEXEC);
    unlink(lockpath); /* nothing left behind, even if we are killed */
    pthread_t *t = calloc((size_t)nthreads, sizeof *t);
    int made = 0;
    for (long i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) == 0) made++;
    for (int i = 0; i < made; i++) pthread_join(t[i], NULL);
    printf("threads %d/%d rounds %d\n", made, nthreads, rounds);
    printf("getnameinfo failures %ld\n", bad_name);
    printf("waitpid failures %ld\n", bad_wait);
    printf("flock failures %ld, overlaps %ld\n", bad_lock, overlap);
    printf("counter %ld (expected %ld)\n", counter, (long)made * rounds);
    int ok = made == nthreads && !bad_name && !bad_wait && !bad_lock && !overlap && counter == (long)made * rounds;
    printf("%s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
