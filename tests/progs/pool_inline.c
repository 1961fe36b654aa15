/* pool_inline — calls that go to gpatch's helper threads only when they
 * would really wait. Each case prints its result; stock is the spec.
 * Exactly two calls here wait (a flock on a lock a child holds, a waitpid
 * for a child still sleeping): the e2e test checks that gpatch sent those
 * two, and only those, to its pool. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void gni(const char *what, const struct sockaddr *sa, socklen_t len, int hostlen, int servlen, int flags)
{
    char host[64] = "-", serv[32] = "-";
    errno = 0;
    int r = getnameinfo(sa, len, hostlen ? host : NULL, (socklen_t)hostlen, servlen ? serv : NULL,
                        (socklen_t)servlen, flags);
    printf("getnameinfo %s: %d (%s) host=%s serv=%s\n", what, r, r ? gai_strerror(r) : "ok", host, serv);
}

static void gai(const char *what, const char *node, const char *svc, int flags, int family)
{
    struct addrinfo hints = {.ai_flags = flags, .ai_family = family, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int r = getaddrinfo(node, svc, &hints, &res);
    printf("getaddrinfo %s: %d (%s)", what, r, r ? gai_strerror(r) : "ok");
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        char h[64], s[16];
        getnameinfo(a->ai_addr, a->ai_addrlen, h, sizeof h, s, sizeof s, NI_NUMERICHOST | NI_NUMERICSERV);
        printf(" [%d %s %s]", a->ai_family, h, s);
    }
    printf("\n");
    if (res) freeaddrinfo(res);
}

/* wait until pid is a zombie, without reaping it */
static void until_exited(pid_t pid)
{
    for (;;) {
        siginfo_t si = {0};
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == pid) return;
        usleep(2000);
    }
}

static void *work(void *arg)
{
    (void)arg;
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET6, "::1", &v6.sin6_addr);
    gni("v4 numeric", (struct sockaddr *)&v4, sizeof v4, 64, 32, NI_NUMERICHOST | NI_NUMERICSERV);
    gni("v6 numeric", (struct sockaddr *)&v6, sizeof v6, 64, 32, NI_NUMERICHOST | NI_NUMERICSERV);
    gni("host only", (struct sockaddr *)&v4, sizeof v4, 64, 0, NI_NUMERICHOST);
    gni("serv only", (struct sockaddr *)&v4, sizeof v4, 0, 32, NI_NUMERICSERV);
    gni("short salen", (struct sockaddr *)&v4, 3, 64, 32, NI_NUMERICHOST | NI_NUMERICSERV);
    gni("tiny host buffer", (struct sockaddr *)&v4, sizeof v4, 4, 32, NI_NUMERICHOST | NI_NUMERICSERV);
    gni("bad family", (struct sockaddr *)&(struct sockaddr){.sa_family = 12345}, sizeof v4, 64, 32,
        NI_NUMERICHOST | NI_NUMERICSERV);
    gai("v4 literal", "127.0.0.1", "80", 0, AF_UNSPEC);
    gai("v6 literal", "::1", "443", 0, AF_INET6);
    gai("passive, no node", NULL, "8080", AI_PASSIVE, AF_INET);
    gai("numerichost v4 literal", "10.1.2.3", "8080", AI_NUMERICHOST, AF_UNSPEC);
    gai("numerichost v6 literal", "fe80::1", "22", AI_NUMERICHOST | AI_NUMERICSERV, AF_INET6);
    gai("numerichost, no service", "192.168.0.1", NULL, AI_NUMERICHOST, AF_INET);
    gai("numericserv given a name", "127.0.0.1", "http", AI_NUMERICSERV, AF_INET);
    gai("numerichost given a name", "localhost", "80", AI_NUMERICHOST, AF_UNSPEC);
    gai("numerichost bad literal", "1.2.3.999", NULL, AI_NUMERICHOST, AF_UNSPEC);
    gai("v4 literal wrong family", "127.0.0.1", "80", 0, AF_INET6);
    gai("neither node nor service", NULL, NULL, 0, AF_UNSPEC);

    char path[] = "/tmp/gpatch-pool-inline-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    errno = 0;
    printf("flock free: %d\n", flock(fd, LOCK_EX));
    printf("flock unlock: %d\n", flock(fd, LOCK_UN));
    errno = 0;
    int r = flock(-1, LOCK_EX);
    printf("flock bad fd: %d %s\n", r, strerror(errno));
    errno = 0;
    r = flock(fd, 12345);
    printf("flock bad op: %d %s\n", r, strerror(errno));
    printf("lockf free: %d\n", lockf(fd, F_LOCK, 0));
    printf("lockf unlock: %d\n", lockf(fd, F_ULOCK, 0));
    errno = 0;
    r = lockf(-1, F_LOCK, 0);
    printf("lockf bad fd: %d %s\n", r, strerror(errno));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    printf("fcntl F_SETLKW free: %d\n", fcntl(fd, F_SETLKW, &fl));
    fl.l_type = F_UNLCK;
    printf("fcntl F_SETLKW unlock: %d\n", fcntl(fd, F_SETLKW, &fl));
    struct flock ofd = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_len = 10};
    printf("fcntl F_OFD_SETLKW free: %d\n", fcntl(fd, F_OFD_SETLKW, &ofd));
    ofd.l_type = F_UNLCK;
    printf("fcntl F_OFD_SETLKW unlock: %d\n", fcntl(fd, F_OFD_SETLKW, &ofd));
    printf("flock shared free: %d\n", flock(fd, LOCK_SH));
    printf("flock shared unlock: %d\n", flock(fd, LOCK_UN));
    errno = 0;
    fl.l_type = 999;
    r = fcntl(fd, F_SETLKW, &fl);
    printf("fcntl F_SETLKW bad type: %d %s\n", r, strerror(errno));

    /* a lock a child holds for a while: this flock really waits (pool job 1) */
    int p[2];
    if (pipe(p) != 0) return NULL;
    char lpath[] = "/tmp/gpatch-pool-lock-XXXXXX";
    int lfd = mkstemp(lpath);
    pid_t holder = fork();
    if (holder == 0) {
        int cfd = open(lpath, O_RDWR);
        flock(cfd, LOCK_EX);
        if (write(p[1], "L", 1) != 1) _exit(1);
        usleep(300000);
        _exit(0);
    }
    char c;
    if (read(p[0], &c, 1) != 1) return NULL;
    int lfd2 = open(lpath, O_RDWR); /* its own open file: the child's lock applies to it */
    unlink(lpath);
    errno = 0;
    printf("flock held by a child: %d %s\n", flock(lfd2, LOCK_EX), errno ? strerror(errno) : "");
    until_exited(holder);
    int st = -1;
    r = waitpid(holder, &st, 0);
    printf("waitpid exited child: %s, status %d\n", r == holder ? "ok" : strerror(errno), WEXITSTATUS(st));

    /* a child that is still sleeping: this waitpid really waits (pool job 2) */
    pid_t sleeper = fork();
    if (sleeper == 0) {
        usleep(300000);
        _exit(7);
    }
    st = -1;
    r = waitpid(sleeper, &st, 0);
    printf("waitpid running child: %s, status %d\n", r == sleeper ? "ok" : strerror(errno), WEXITSTATUS(st));

    pid_t quick = fork();
    if (quick == 0) _exit(3);
    until_exited(quick);
    siginfo_t si = {0};
    r = waitid(P_PID, (id_t)quick, &si, WEXITED);
    printf("waitid exited child: %d, pid matches %d, status %d\n", r, si.si_pid == quick, si.si_status);
    pid_t quick4 = fork();
    if (quick4 == 0) _exit(5);
    until_exited(quick4);
    st = -1;
    struct rusage ru;
    r = wait4(quick4, &st, 0, &ru);
    printf("wait4 exited child: %s, status %d\n", r == quick4 ? "ok" : strerror(errno), WEXITSTATUS(st));
    errno = 0;
    r = waitpid(-1, NULL, 0);
    printf("waitpid no children: %d %s\n", r, strerror(errno));
    errno = 0;
    r = waitpid(getpid() + 100000, NULL, 0);
    printf("waitpid not a child: %d %s\n", r, strerror(errno));
    errno = 0;
    r = waitid(P_ALL, 0, &si, 0);
    printf("waitid no options: %d %s\n", r, strerror(errno));
    close(lfd);
    close(lfd2);
    close(fd);
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t;
    pthread_create(&t, NULL, work, NULL);
    pthread_join(t, NULL);
    printf("done\n");
    return 0;
}
