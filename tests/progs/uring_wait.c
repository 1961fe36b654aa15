/* uring_wait: a thread that waits for io_uring completions through liburing
 * while the main thread, which submits the work, sleeps between rounds: the
 * shape of MariaDB's InnoDB I/O thread (io_uring_wait_cqe in a loop). liburing
 * enters the kernel with its own syscall instructions, not libc's: a wait
 * that blocks the only OS thread stops the submitter's sleep from ending.
 * Rounds: a no-op, a read of a file, a write to a pipe, a completion already
 * there before the wait (wait_cqe_nr), a wait that times out
 * (wait_cqe_timeout), two completions at once (wait_cqes), and a submit that
 * waits (submit_and_wait). Prints what each round got, after the join.
 * Built without liburing's headers it says so and exits 77. */
#ifdef NO_LIBURING
#include <stdio.h>
int main(void)
{
    puts("built without liburing");
    return 77;
}
#else
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct io_uring ring;
static char line[8][96];
static char fbuf[32];
static int pfd[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int step; /* the waiter's round (main submits the already-there one before it) */

static void msleep(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void note(int i, const char *how, int r, struct io_uring_cqe *cqe)
{
    if (r) snprintf(line[i], sizeof line[i], "%d %s: %s", i, how, strerror(-r));
    else snprintf(line[i], sizeof line[i], "%d %s: data %llu res %d", i, how, (unsigned long long)cqe->user_data, cqe->res);
    if (!r) io_uring_cqe_seen(&ring, cqe);
}

static void *waiter(void *arg)
{
    struct io_uring_cqe *cqe;
    int i = 0, r;
    int kept = 0;
    for (; i < 3; i++) { /* nop, file read, pipe write: each submitted after we wait */
        errno = 1000 + i; /* liburing answers in its return value and leaves errno alone */
        r = io_uring_wait_cqe(&ring, &cqe);
        kept += errno == 1000 + i;
        note(i, "wait_cqe", r, cqe);
    }
    pthread_mutex_lock(&mu); /* main submits round 3 before we wait for it */
    step = 3;
    pthread_cond_signal(&cv);
    while (step != 4) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    r = io_uring_wait_cqe_nr(&ring, &cqe, 1);
    note(i++, "wait_cqe_nr (there)", r, cqe);
    struct __kernel_timespec ts = {0, 50 * 1000000L};
    errno = 1003;
    r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
    kept += errno == 1003;
    note(i++, "wait_cqe_timeout", r, cqe);
    r = io_uring_wait_cqes(&ring, &cqe, 2, NULL, NULL); /* main submits two */
    if (!r) {
        int a = (int)cqe->user_data;
        io_uring_cqe_seen(&ring, cqe);
        r = io_uring_peek_cqe(&ring, &cqe);
        int b = r ? -1 : (int)cqe->user_data;
        if (!r) io_uring_cqe_seen(&ring, cqe);
        snprintf(line[i], sizeof line[i], "%d wait_cqes 2: data %d %d", i, a < b ? a : b, a < b ? b : a);
    } else {
        note(i, "wait_cqes 2", r, cqe);
    }
    snprintf(line[7], sizeof line[7], "errno left alone by %d of 4 waits", kept);
    return NULL;
}

static void *napper(void *arg)
{
    msleep(20);
    return NULL;
}

static void submit_nop(unsigned long long data)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, data);
    io_uring_submit(&ring);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int r = io_uring_queue_init(8, &ring, 0);
    if (r < 0) {
        printf("io_uring unavailable: %s\n", strerror(-r));
        return 77;
    }
    char path[] = "/tmp/uring_wait.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, "the file's words", 16) != 16 || pipe(pfd)) return 1;
    unlink(path);
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);

    msleep(30); /* the waiter is waiting: this sleep must end all the same */
    submit_nop(100);
    msleep(30);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_read(sqe, fd, fbuf, 16, 0);
    io_uring_sqe_set_data64(sqe, 101);
    io_uring_submit(&ring);
    msleep(30);
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_write(sqe, pfd[1], "pipe", 4, 0);
    io_uring_sqe_set_data64(sqe, 102);
    io_uring_submit(&ring);

    pthread_mutex_lock(&mu);
    while (step != 3) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    submit_nop(103);
    msleep(20); /* its completion is there before the wait */
    pthread_mutex_lock(&mu);
    step = 4;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);

    msleep(150); /* after the waiter's 50 ms timeout */
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 104);
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 105);
    io_uring_submit(&ring);
    pthread_join(t, NULL);

    /* main waits through submit_and_wait while another thread sleeps */
    pthread_create(&t, NULL, napper, NULL);
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 106);
    struct io_uring_cqe *cqe;
    r = io_uring_submit_and_wait(&ring, 1);
    int got = io_uring_peek_cqe(&ring, &cqe);
    snprintf(line[6], sizeof line[6], "6 submit_and_wait: %d, data %llu", r,
             got ? 0ULL : (unsigned long long)cqe->user_data);
    if (!got) io_uring_cqe_seen(&ring, cqe);
    pthread_join(t, NULL);

    char pbuf[8] = {0};
    if (read(pfd[0], pbuf, 4) != 4) return 1;
    for (int i = 0; i < 8; i++) puts(line[i]);
    printf("file read: %.16s, pipe got: %s\n", fbuf, pbuf);
    io_uring_queue_exit(&ring);
    return 0;
}
#endif
