/* rel_nss: user, group, shadow, service and protocol lookups from threads,
 * happy path and bad inputs. gpatch sends them to a helper thread where
 * /etc/nsswitch.conf names a source beyond local files (shim/nss.c); the
 * results, return values and errno must be stock's. Each lookup runs in a
 * new thread, so with several workers they come from any of them. Output is
 * deterministic; alarm bounds a hang. */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <shadow.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

/* each thread writes its lines into its own buffer, printed after its join */
struct out { char text[8192]; size_t n; };

static void say(struct out *o, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct out *o, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    o->n += (size_t)snprintf(o->text + o->n, sizeof o->text - o->n, "%-34s ", what);
    o->n += (size_t)vsnprintf(o->text + o->n, sizeof o->text - o->n, fmt, ap);
    o->n += (size_t)snprintf(o->text + o->n, sizeof o->text - o->n, "\n");
    va_end(ap);
}

/* the reentrant forms only: safe from many threads at once */
static void *lookups_r(void *arg)
{
    struct out *o = arg;
    char buf[4096];
    struct passwd pwb, *res;
    int r = getpwuid_r(0, &pwb, buf, sizeof buf, &res);
    say(o, "getpwuid_r 0", "ret=%d %s", r, res ? res->pw_name : "NULL");
    struct group grb, *gres;
    r = getgrnam_r("root", &grb, buf, sizeof buf, &gres);
    say(o, "getgrnam_r root", "ret=%d %d", r, gres ? (int)gres->gr_gid : -1);
    struct servent seb, *seres;
    r = getservbyport_r(htons(443), "tcp", &seb, buf, sizeof buf, &seres);
    say(o, "getservbyport_r 443/tcp", "ret=%d %s", r, seres ? seres->s_name : "NULL");
    struct protoent peb, *peres;
    r = getprotobynumber_r(1, &peb, buf, sizeof buf, &peres);
    say(o, "getprotobynumber_r 1", "ret=%d %s", r, peres ? peres->p_name : "NULL");
    return NULL;
}

static void *lookups(void *arg)
{
    struct out *o = arg;
    errno = 1234; /* a lookup that leaves errno alone leaves this */
    struct passwd *pw = getpwnam("root");
    say(o, "getpwnam root", "%s uid=%d dir=%s errno=%d", pw ? pw->pw_name : "NULL", pw ? (int)pw->pw_uid : -1,
        pw ? pw->pw_dir : "-", errno);
    errno = 0;
    pw = getpwnam("no-such-user-gpatch");
    say(o, "getpwnam unknown", "%s errno=%d", pw ? "found" : "NULL", errno);
    errno = 0;
    pw = getpwuid(0);
    say(o, "getpwuid 0", "%s", pw ? pw->pw_name : "NULL");
    pw = getpwuid(4000000000u);
    say(o, "getpwuid unknown", "%s", pw ? "found" : "NULL");

    struct passwd pwb, *res = (struct passwd *)1;
    char buf[4096], tiny[4];
    int r = getpwnam_r("root", &pwb, buf, sizeof buf, &res);
    say(o, "getpwnam_r root", "ret=%d %s", r, res ? res->pw_shell : "NULL");
    r = getpwnam_r("root", &pwb, tiny, sizeof tiny, &res);
    say(o, "getpwnam_r tiny buffer", "ret=%s res=%s", r == ERANGE ? "ERANGE" : "other", res ? "set" : "NULL");
    r = getpwuid_r(4000000000u, &pwb, buf, sizeof buf, &res);
    say(o, "getpwuid_r unknown", "ret=%d res=%s", r, res ? "set" : "NULL");

    struct group *gr = getgrnam("root");
    say(o, "getgrnam root", "%s gid=%d", gr ? gr->gr_name : "NULL", gr ? (int)gr->gr_gid : -1);
    gr = getgrgid(0);
    say(o, "getgrgid 0", "%s", gr ? gr->gr_name : "NULL");
    gr = getgrnam("no-such-group-gpatch");
    say(o, "getgrnam unknown", "%s", gr ? "found" : "NULL");
    struct group grb, *gres;
    r = getgrgid_r(0, &grb, buf, sizeof buf, &gres);
    say(o, "getgrgid_r 0", "ret=%d %s", r, gres ? gres->gr_name : "NULL");
    r = getgrnam_r("root", &grb, tiny, sizeof tiny, &gres);
    say(o, "getgrnam_r tiny buffer", "ret=%s res=%s", r == ERANGE ? "ERANGE" : "other", gres ? "set" : "NULL");

    gid_t groups[64];
    int n = 64;
    r = getgrouplist("root", 0, groups, &n);
    say(o, "getgrouplist root", "ret=%d n=%d first=%d", r, n, n > 0 ? (int)groups[0] : -1);
    n = 0;
    r = getgrouplist("root", 0, groups, &n);
    say(o, "getgrouplist no room", "ret=%d n=%d", r, n);

    /* shadow needs root: stock's answer either way is the specification */
    errno = 0;
    struct spwd *sp = getspnam("root");
    say(o, "getspnam root", "%s errno=%s", sp ? sp->sp_namp : "NULL", sp ? "-" : strerror(errno));
    struct spwd spb, *spres;
    r = getspnam_r("no-such-user-gpatch", &spb, buf, sizeof buf, &spres);
    say(o, "getspnam_r unknown", "res=%s", spres ? "set" : "NULL");

    struct servent *se = getservbyname("http", "tcp");
    say(o, "getservbyname http/tcp", "%s port=%d", se ? se->s_name : "NULL", se ? ntohs((unsigned short)se->s_port) : -1);
    se = getservbyport(htons(22), "tcp");
    say(o, "getservbyport 22/tcp", "%s", se ? se->s_name : "NULL");
    se = getservbyname("no-such-service", NULL);
    say(o, "getservbyname unknown", "%s", se ? "found" : "NULL");
    struct servent seb, *seres;
    r = getservbyname_r("ssh", "tcp", &seb, buf, sizeof buf, &seres);
    say(o, "getservbyname_r ssh/tcp", "ret=%d port=%d", r, seres ? ntohs((unsigned short)seres->s_port) : -1);
    r = getservbyport_r(htons(80), "tcp", &seb, tiny, sizeof tiny, &seres);
    say(o, "getservbyport_r tiny buffer", "ret=%s res=%s", r == ERANGE ? "ERANGE" : "other", seres ? "set" : "NULL");

    struct protoent *pe = getprotobyname("tcp");
    say(o, "getprotobyname tcp", "%s %d", pe ? pe->p_name : "NULL", pe ? pe->p_proto : -1);
    pe = getprotobynumber(17);
    say(o, "getprotobynumber 17", "%s", pe ? pe->p_name : "NULL");
    pe = getprotobynumber(-5);
    say(o, "getprotobynumber -5", "%s", pe ? "found" : "NULL");
    struct protoent peb, *peres;
    r = getprotobyname_r("udp", &peb, buf, sizeof buf, &peres);
    say(o, "getprotobyname_r udp", "ret=%d %d", r, peres ? peres->p_proto : -1);
    r = getprotobynumber_r(6, &peb, tiny, sizeof tiny, &peres);
    say(o, "getprotobynumber_r tiny buffer", "ret=%s res=%s", r == ERANGE ? "ERANGE" : "other", peres ? "set" : "NULL");
    return NULL;
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* twice in a thread of its own, then from main */
    static struct out outs[19];
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        pthread_create(&t, NULL, lookups, &outs[i]);
        pthread_join(t, NULL);
        printf("-- thread %d\n%s", i, outs[i].text);
    }
    lookups(&outs[2]);
    printf("-- main\n%s", outs[2].text);
    /* many at once (reentrant forms): the helpers' results land with their own callers */
    static struct out first;
    lookups_r(&first);
    printf("-- main, reentrant forms\n%s", first.text);
    pthread_t ts[16];
    for (int i = 0; i < 16; i++) pthread_create(&ts[i], NULL, lookups_r, &outs[3 + i]);
    int same = 1;
    for (int i = 0; i < 16; i++) {
        pthread_join(ts[i], NULL);
        same &= strcmp(outs[3 + i].text, first.text) == 0;
    }
    printf("-- 16 threads at once: each got main's results: %s\n", same ? "yes" : "no");
    return 0;
}
