/* fsync_group: threads append records to one file and sync after each, as a
 * database's committers do, while another thread counts sleeps; then the
 * answers for bad input. Prints the file's size and checksum, each thread's
 * results, and whether the file lives in memory (tmpfs: nothing to wait for).
 * usage: fsync_group FILE (a path on the file system to test) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 25

static int fd;
static int fails[THREADS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *committer(void *arg)
{
    int id = (int)(long)arg;
    char rec[64];
    for (int i = 0; i < ROUNDS; i++) {
        int n = snprintf(rec, sizeof rec, "thread %d record %02d\n", id, i);
        pthread_mutex_lock(&mu);
        ssize_t w = write(fd, rec, n);
        pthread_mutex_unlock(&mu);
        if (w != n) fails[id]++;
        if ((i & 1 ? fdatasync(fd) : fsync(fd)) != 0) fails[id]++;
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    struct timespec ts = {0, 1000000};
    for (int i = 0; i < 20; i++) nanosleep(&ts, NULL);
    return NULL;
}

static void answer(const char *what, int r)
{
    printf("%s: %d %s\n", what, r, r < 0 ? strerror(errno) : "ok");
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (fd < 0) return 1;
    struct statfs sf;
    fstatfs(fd, &sf);
    printf("file in memory: %s\n", sf.f_type == 0x01021994 || sf.f_type == 0x858458f6 ? "yes" : "no");
    pthread_t t[THREADS + 1];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, committer, (void *)i);
    pthread_create(&t[THREADS], NULL, sleeper, NULL);
    for (int i = 0; i <= THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) printf("thread %d: %d failures\n", i, fails[i]);
    struct stat st;
    fstat(fd, &st);
    unsigned bytes = 0, lines = 0; /* the threads' order varies: counts only */
    char c;
    lseek(fd, 0, SEEK_SET);
    while (read(fd, &c, 1) == 1) bytes++, lines += c == '\n';
    printf("size %lld, bytes read %u, lines %u\n", (long long)st.st_size, bytes, lines);
    unlink(argv[1]);

    /* bad input, from a thread (managed) and from main while it runs */
    int p[2];
    if (pipe(p)) return 1;
    pthread_create(&t[0], NULL, sleeper, NULL);
    answer("fsync(-1)", fsync(-1));
    answer("fdatasync(closed)", fdatasync(1000));
    answer("fsync(pipe)", fsync(p[0]));
    answer("fdatasync(pipe)", fdatasync(p[1]));
    pthread_join(t[0], NULL);
    return 0;
}
