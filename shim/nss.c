/* nss.c — the name-service lookups glibc answers through /etc/nsswitch.conf:
 * users, groups, shadow entries, services, protocols, a user's groups. A
 * source other than plain files (systemd's userdb over a socket, LDAP, NIS,
 * sss) talks to a daemon with glibc's own sockets, which no preload sees: the
 * lookup would block the worker and every green thread on it. So a green
 * thread hands the lookup to a helper OS thread (gp_offload) and parks, as
 * DNS does (dns.c); other callers go straight to libc.
 *
 * A database whose every source is `files` (or `db`, local Berkeley files)
 * is read from local files only and answers without waiting on anyone: its
 * lookups stay inline, saving the helper's round trip. Read once from
 * /etc/nsswitch.conf; a database it does not name, or no file, goes to a
 * helper (glibc's defaults may name a network source).
 *
 * errno crosses both ways: the helper starts with the caller's and the
 * caller gets the helper's back, so a lookup that leaves errno alone stock
 * leaves it alone here. The non-_r forms return glibc's static records,
 * which belong to the process, not to a thread: the helper's fill is the
 * caller's to read. */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <shadow.h>
#include <string.h>
#include <unistd.h>

/* ---- which databases are local files only --------------------------------- */
enum { DB_PASSWD, DB_GROUP, DB_SHADOW, DB_SERVICES, DB_PROTOCOLS, DB_INITGROUPS, DB_N };
static const char *const db_names[DB_N] = {"passwd", "group", "shadow", "services", "protocols", "initgroups"};
static int db_local[DB_N]; /* 1 files only, 0 not (or not named) */
static int db_read;        /* 0 not yet, 1 read (a race reads it twice, alike) */

/* One line "name: source [ACTION] source...": 1 if every source is files or db. */
static int line_local(const char *p, const char *end)
{
    int sources = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p >= end || *p == '#') break;
        if (*p == '[') { /* an action: not a source */
            while (p < end && *p != ']') p++;
            p++;
            continue;
        }
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '[' && *p != '#') p++;
        size_t n = (size_t)(p - w);
        if (!((n == 5 && memcmp(w, "files", 5) == 0) || (n == 2 && memcmp(w, "db", 2) == 0))) return 0;
        sources++;
    }
    return sources > 0;
}

static void read_nsswitch(void)
{
    char buf[8192];
    int fd = open("/etc/nsswitch.conf", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    int named[DB_N] = {0};
    for (const char *p = buf, *end = buf + (n > 0 ? n : 0); p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        for (int d = 0; colon && d < DB_N; d++) {
            size_t len = strlen(db_names[d]);
            if ((size_t)(colon - p) == len && memcmp(p, db_names[d], len) == 0) {
                db_local[d] = line_local(colon + 1, eol);
                named[d] = 1;
            }
        }
        p = eol + 1;
    }
    /* initgroups without a line of its own uses group's sources */
    if (!named[DB_INITGROUPS]) db_local[DB_INITGROUPS] = db_local[DB_GROUP];
    __atomic_store_n(&db_read, 1, __ATOMIC_RELEASE);
}

static int reaches_beyond_files(int db)
{
    if (!__atomic_load_n(&db_read, __ATOMIC_ACQUIRE)) read_nsswitch();
    return !db_local[db];
}
/* Does this lookup go to a helper? Only a green thread's, on a database that
 * may reach beyond local files. (A macro: GP_MANAGED names the export.) */
#define offloading(db) (GP_MANAGED() && reaches_beyond_files(db))

/* ---- the calls, on a helper --------------------------------------------------- */
struct nss {
    long a[6];
    long ret;
    void *ptr;
    int err_in, err;
};
#define NSS_RUN(fnname, body)    \
    static void fnname(void *p)  \
    {                            \
        struct nss *o = p;       \
        errno = o->err_in;       \
        body;                    \
        o->err = errno;          \
    }

static void offload(void (*fn)(void *), struct nss *o)
{
    o->err_in = errno;
    gp_offload(fn, o);
    errno = o->err;
}

#define S(i) ((const char *)o->a[i])
#define P(i) ((void *)o->a[i])

NSS_RUN(run_getpwnam, o->ptr = R(getpwnam)(S(0)))
NSS_RUN(run_getpwuid, o->ptr = R(getpwuid)((uid_t)o->a[0]))
NSS_RUN(run_getpwnam_r, o->ret = R(getpwnam_r)(S(0), P(1), P(2), (size_t)o->a[3], P(4)))
NSS_RUN(run_getpwuid_r, o->ret = R(getpwuid_r)((uid_t)o->a[0], P(1), P(2), (size_t)o->a[3], P(4)))
NSS_RUN(run_getgrnam, o->ptr = R(getgrnam)(S(0)))
NSS_RUN(run_getgrgid, o->ptr = R(getgrgid)((gid_t)o->a[0]))
NSS_RUN(run_getgrnam_r, o->ret = R(getgrnam_r)(S(0), P(1), P(2), (size_t)o->a[3], P(4)))
NSS_RUN(run_getgrgid_r, o->ret = R(getgrgid_r)((gid_t)o->a[0], P(1), P(2), (size_t)o->a[3], P(4)))
NSS_RUN(run_getspnam, o->ptr = R(getspnam)(S(0)))
NSS_RUN(run_getspnam_r, o->ret = R(getspnam_r)(S(0), P(1), P(2), (size_t)o->a[3], P(4)))
NSS_RUN(run_getservbyname, o->ptr = R(getservbyname)(S(0), S(1)))
NSS_RUN(run_getservbyport, o->ptr = R(getservbyport)((int)o->a[0], S(1)))
NSS_RUN(run_getservbyname_r, o->ret = R(getservbyname_r)(S(0), S(1), P(2), P(3), (size_t)o->a[4], P(5)))
NSS_RUN(run_getservbyport_r, o->ret = R(getservbyport_r)((int)o->a[0], S(1), P(2), P(3), (size_t)o->a[4], P(5)))
NSS_RUN(run_getprotobyname, o->ptr = R(getprotobyname)(S(0)))
NSS_RUN(run_getprotobynumber, o->ptr = R(getprotobynumber)((int)o->a[0]))
NSS_RUN(run_getprotobyname_r, o->ret = R(getprotobyname_r)(S(0), P(1), P(2), (size_t)o->a[3], P(4)))
NSS_RUN(run_getprotobynumber_r, o->ret = R(getprotobynumber_r)((int)o->a[0], P(1), P(2), (size_t)o->a[3], P(4)))
NSS_RUN(run_initgroups, o->ret = R(initgroups)(S(0), (gid_t)o->a[1]))
NSS_RUN(run_getgrouplist, o->ret = R(getgrouplist)(S(0), (gid_t)o->a[1], P(2), P(3)))

/* a lookup that returns a record (or NULL) */
#define PTR_CALL(run, ...)                   \
    do {                                         \
        struct nss o = {{__VA_ARGS__}, 0, 0, 0, 0}; \
        offload(run, &o);                        \
        return o.ptr;                            \
    } while (0)
/* a lookup that returns a number (an error number for the _r forms) */
#define INT_CALL(run, ...)                   \
    do {                                         \
        struct nss o = {{__VA_ARGS__}, 0, 0, 0, 0}; \
        offload(run, &o);                        \
        return (int)o.ret;                       \
    } while (0)

/* ---- users ------------------------------------------------------------------- */
GP_EXPORT struct passwd *getpwnam(const char *name)
{
    if (!offloading(DB_PASSWD)) return R(getpwnam)(name);
    PTR_CALL(run_getpwnam, (long)name);
}

GP_EXPORT struct passwd *getpwuid(uid_t uid)
{
    if (!offloading(DB_PASSWD)) return R(getpwuid)(uid);
    PTR_CALL(run_getpwuid, (long)uid);
}

GP_EXPORT int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, struct passwd **res)
{
    if (!offloading(DB_PASSWD)) return R(getpwnam_r)(name, pw, buf, len, res);
    INT_CALL(run_getpwnam_r, (long)name, (long)pw, (long)buf, (long)len, (long)res);
}

GP_EXPORT int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, struct passwd **res)
{
    if (!offloading(DB_PASSWD)) return R(getpwuid_r)(uid, pw, buf, len, res);
    INT_CALL(run_getpwuid_r, (long)uid, (long)pw, (long)buf, (long)len, (long)res);
}

GP_EXPORT struct spwd *getspnam(const char *name)
{
    if (!offloading(DB_SHADOW)) return R(getspnam)(name);
    PTR_CALL(run_getspnam, (long)name);
}

GP_EXPORT int getspnam_r(const char *name, struct spwd *sp, char *buf, size_t len, struct spwd **res)
{
    if (!offloading(DB_SHADOW)) return R(getspnam_r)(name, sp, buf, len, res);
    INT_CALL(run_getspnam_r, (long)name, (long)sp, (long)buf, (long)len, (long)res);
}

/* ---- groups ------------------------------------------------------------------- */
GP_EXPORT struct group *getgrnam(const char *name)
{
    if (!offloading(DB_GROUP)) return R(getgrnam)(name);
    PTR_CALL(run_getgrnam, (long)name);
}

GP_EXPORT struct group *getgrgid(gid_t gid)
{
    if (!offloading(DB_GROUP)) return R(getgrgid)(gid);
    PTR_CALL(run_getgrgid, (long)gid);
}

GP_EXPORT int getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, struct group **res)
{
    if (!offloading(DB_GROUP)) return R(getgrnam_r)(name, gr, buf, len, res);
    INT_CALL(run_getgrnam_r, (long)name, (long)gr, (long)buf, (long)len, (long)res);
}

GP_EXPORT int getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, struct group **res)
{
    if (!offloading(DB_GROUP)) return R(getgrgid_r)(gid, gr, buf, len, res);
    INT_CALL(run_getgrgid_r, (long)gid, (long)gr, (long)buf, (long)len, (long)res);
}

GP_EXPORT int initgroups(const char *user, gid_t group)
{
    if (!offloading(DB_INITGROUPS)) return R(initgroups)(user, group);
    INT_CALL(run_initgroups, (long)user, (long)group);
}

GP_EXPORT int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
    if (!offloading(DB_INITGROUPS)) return R(getgrouplist)(user, group, groups, ngroups);
    INT_CALL(run_getgrouplist, (long)user, (long)group, (long)groups, (long)ngroups);
}

/* ---- services and protocols ----------------------------------------------------- */
GP_EXPORT struct servent *getservbyname(const char *name, const char *proto)
{
    if (!offloading(DB_SERVICES)) return R(getservbyname)(name, proto);
    PTR_CALL(run_getservbyname, (long)name, (long)proto);
}

GP_EXPORT struct servent *getservbyport(int port, const char *proto)
{
    if (!offloading(DB_SERVICES)) return R(getservbyport)(port, proto);
    PTR_CALL(run_getservbyport, (long)port, (long)proto);
}

GP_EXPORT int getservbyname_r(const char *name, const char *proto, struct servent *se, char *buf, size_t len,
                              struct servent **res)
{
    if (!offloading(DB_SERVICES)) return R(getservbyname_r)(name, proto, se, buf, len, res);
    INT_CALL(run_getservbyname_r, (long)name, (long)proto, (long)se, (long)buf, (long)len, (long)res);
}

GP_EXPORT int getservbyport_r(int port, const char *proto, struct servent *se, char *buf, size_t len,
                              struct servent **res)
{
    if (!offloading(DB_SERVICES)) return R(getservbyport_r)(port, proto, se, buf, len, res);
    INT_CALL(run_getservbyport_r, (long)port, (long)proto, (long)se, (long)buf, (long)len, (long)res);
}

GP_EXPORT struct protoent *getprotobyname(const char *name)
{
    if (!offloading(DB_PROTOCOLS)) return R(getprotobyname)(name);
    PTR_CALL(run_getprotobyname, (long)name);
}

GP_EXPORT struct protoent *getprotobynumber(int proto)
{
    if (!offloading(DB_PROTOCOLS)) return R(getprotobynumber)(proto);
    PTR_CALL(run_getprotobynumber, (long)proto);
}

GP_EXPORT int getprotobyname_r(const char *name, struct protoent *pe, char *buf, size_t len, struct protoent **res)
{
    if (!offloading(DB_PROTOCOLS)) return R(getprotobyname_r)(name, pe, buf, len, res);
    INT_CALL(run_getprotobyname_r, (long)name, (long)pe, (long)buf, (long)len, (long)res);
}

GP_EXPORT int getprotobynumber_r(int proto, struct protoent *pe, char *buf, size_t len, struct protoent **res)
{
    if (!offloading(DB_PROTOCOLS)) return R(getprotobynumber_r)(proto, pe, buf, len, res);
    INT_CALL(run_getprotobynumber_r, (long)proto, (long)pe, (long)buf, (long)len, (long)res);
}
