/* rel_pipe_accmode: a call its file's access mode forbids answers EBADF at
 * once, as stock: reading a pipe's write end (after writing to it), writing
 * its read end (the pipe empty, its writer open), reading a FIFO opened
 * O_WRONLY, writing one opened O_RDONLY, readv/writev of the same, and the
 * same on non-blocking ends (EBADF, not EAGAIN); and calls of sockets only
 * (recv, send, accept, connect) on the empty read end: ENOTSOCK at once;
 * accept on a connected socket, which is not listening: EINVAL at once. A second thread exists so
 * that the calls are managed; it waits on its own pipe meanwhile. Run it with
 * GPATCH_NO_RWF_NOWAIT=1 as well: then pipes take the path of a kernel that
 * refuses RWF_NOWAIT on them (Linux before 6.4 or so: a zero-timeout poll,
 * then the plain call), where a poll for a direction the file was not opened
 * for never says "ready". A hang is ended by alarm(20). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <unistd.h>
#include "bound.h"

static void check(const char *what, ssize_t r)
{
    int e = errno;
    printf("%-40s ret=%zd errno=%s\n", what, r, r < 0 ? strerror(e) : "-");
    fflush(stdout);
}

static int other[2];

static void *sleeper(void *arg)
{
    (void)arg;
    char c;
    while (read(other[0], &c, 1) < 0 && errno == EINTR) {}
    return NULL;
}

static void ends(const char *name, int rd, int wr)
{
    char buf[16], line[64];
    struct iovec iov = {buf, sizeof buf};
    snprintf(line, sizeof line, "%s: write", name);
    check(line, write(wr, "abc", 3));
    snprintf(line, sizeof line, "%s: read write end", name);
    check(line, read(wr, buf, sizeof buf));
    snprintf(line, sizeof line, "%s: readv write end", name);
    check(line, readv(wr, &iov, 1));
    snprintf(line, sizeof line, "%s: read", name);
    check(line, read(rd, buf, sizeof buf)); /* empty now, writer open */
    snprintf(line, sizeof line, "%s: write read end", name);
    check(line, write(rd, "x", 1));
    snprintf(line, sizeof line, "%s: writev read end", name);
    check(line, writev(rd, &iov, 1));
    /* calls of sockets only: ENOTSOCK, whatever the direction */
    snprintf(line, sizeof line, "%s: recv read end", name);
    check(line, recv(rd, buf, sizeof buf, 0));
    snprintf(line, sizeof line, "%s: send read end", name);
    check(line, send(rd, "x", 1, 0));
    snprintf(line, sizeof line, "%s: accept read end", name);
    check(line, accept(rd, NULL, NULL));
    snprintf(line, sizeof line, "%s: connect read end", name);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    check(line, connect(rd, (struct sockaddr *)&sa, sizeof sa));
    snprintf(line, sizeof line, "%s: read write end again", name);
    check(line, read(wr, buf, sizeof buf));
}

int main(void)
{
    alarm(bound_s(20));
    if (pipe(other) != 0) return 1;
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);

    int p[2];
    if (pipe(p) != 0) return 1;
    ends("pipe", p[0], p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    ends("non-blocking pipe", p[0], p[1]);
    close(p[0]);
    close(p[1]);

    char dir[] = "/tmp/rel_pipe_accmode.XXXXXX", path[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/fifo", dir);
    if (mkfifo(path, 0600) != 0) return 1;
    int rd = open(path, O_RDONLY | O_NONBLOCK); /* does not wait for a writer */
    int wr = open(path, O_WRONLY);
    fcntl(rd, F_SETFL, 0);
    ends("fifo", rd, wr);
    close(rd);
    close(wr);
    unlink(path);
    rmdir(dir);

    /* accept on a connected socket (not listening, no data): EINVAL at once */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    check("socketpair: accept connected socket", accept(sv[0], NULL, NULL));
    close(sv[0]);
    close(sv[1]);

    write(other[1], "x", 1);
    pthread_join(t, NULL);
    printf("done\n");
    return 0;
}
