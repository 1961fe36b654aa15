/* dns.c — name resolution runs on a helper thread while the green thread
 * parks (glibc's resolver uses its own internal sockets, which no preload
 * sees; so it is replaced whole). h_errno is carried back to the
 * caller and, like errno, saved per green thread at every switch.
 *
 * A lookup that only converts between an address and its text never blocks:
 * a numeric getnameinfo (NI_NUMERICHOST and NI_NUMERICSERV, or the part not
 * asked for), a getaddrinfo of a literal address or AI_NUMERICHOST with a
 * numeric or absent service. Those run inline on the green thread: sent to a
 * helper and back they cost a cross-thread wake-up each (tens of µs on a VM),
 * which a server that logs its peers pays on every request. */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>

struct dns {
    int kind;
    const void *a[4];
    long n[4];
    void *out[6];
    long ret;
    int err, herr;
};

enum { GAI, GNI, GHBN, GHBN_R, GHBN2, GHBN2_R, GHBA, GHBA_R };

static void run(void *p)
{
    struct dns *d = p;
    errno = 0;
    h_errno = 0;
    switch (d->kind) {
    case GAI:
        d->ret = R(getaddrinfo)(d->a[0], d->a[1], d->a[2], (struct addrinfo **)d->out[0]);
        break;
    case GNI:
        d->ret = R(getnameinfo)(d->a[0], (socklen_t)d->n[0], d->out[0], (socklen_t)d->n[1], d->out[1],
                                (socklen_t)d->n[2], (int)d->n[3]);
        break;
    case GHBN:
        d->out[5] = R(gethostbyname)(d->a[0]);
        break;
    case GHBN2:
        d->out[5] = R(gethostbyname2)(d->a[0], (int)d->n[0]);
        break;
    case GHBA:
        d->out[5] = R(gethostbyaddr)(d->a[0], (socklen_t)d->n[0], (int)d->n[1]);
        break;
    case GHBN_R:
        d->ret = R(gethostbyname_r)(d->a[0], d->out[0], d->out[1], (size_t)d->n[0], d->out[2], d->out[3]);
        break;
    case GHBN2_R:
        d->ret = R(gethostbyname2_r)(d->a[0], (int)d->n[1], d->out[0], d->out[1], (size_t)d->n[0], d->out[2],
                                     d->out[3]);
        break;
    case GHBA_R:
        d->ret = R(gethostbyaddr_r)(d->a[0], (socklen_t)d->n[1], (int)d->n[2], d->out[0], d->out[1], (size_t)d->n[0],
                                    d->out[2], d->out[3]);
        break;
    }
    d->err = errno;
    d->herr = h_errno;
}

static void resolve(struct dns *d)
{
    gp_offload(run, d);
    errno = d->err;
    h_errno = d->herr;
}

/* a decimal port number (what getaddrinfo accepts without a services lookup) */
static int numeric_service(const char *s)
{
    if (!s) return 1;
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* Would this getaddrinfo only parse text? A literal address (IPv4 dotted
 * quad or IPv6, as inet_pton reads them) or no node at all, and a numeric or
 * absent service. AI_CANONNAME with a literal may ask for a reverse lookup:
 * that one goes to the pool unless AI_NUMERICHOST forbids the lookup. */
static int gai_is_numeric(const char *node, const char *svc, const struct addrinfo *hints)
{
    int flags = hints ? hints->ai_flags : 0;
    if (!(flags & AI_NUMERICSERV) && !numeric_service(svc)) return 0;
    if (!node || (flags & AI_NUMERICHOST)) return 1;
    if (flags & AI_CANONNAME) return 0;
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, node, buf) == 1 || inet_pton(AF_INET6, node, buf) == 1;
}

GP_EXPORT int getaddrinfo(const char *node, const char *svc, const struct addrinfo *hints, struct addrinfo **res)
{
    if (!GP_MANAGED() || gai_is_numeric(node, svc, hints)) return R(getaddrinfo)(node, svc, hints, res);
    struct dns d = {.kind = GAI, .a = {node, svc, hints}, .out = {res}};
    resolve(&d);
    return (int)d.ret;
}

GP_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                          socklen_t servlen, int flags)
{
    /* numeric for every part asked for: only formatting, never a lookup */
    int numeric = (!host || !hostlen || (flags & NI_NUMERICHOST)) && (!serv || !servlen || (flags & NI_NUMERICSERV));
    if (!GP_MANAGED() || numeric) return R(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
    struct dns d = {.kind = GNI, .a = {sa}, .n = {salen, hostlen, servlen, flags}, .out = {host, serv}};
    resolve(&d);
    return (int)d.ret;
}

GP_EXPORT struct hostent *gethostbyname(const char *name)
{
    if (!GP_MANAGED()) return R(gethostbyname)(name);
    struct dns d = {.kind = GHBN, .a = {name}};
    resolve(&d);
    return d.out[5];
}

GP_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
    if (!GP_MANAGED()) return R(gethostbyname2)(name, af);
    struct dns d = {.kind = GHBN2, .a = {name}, .n = {af}};
    resolve(&d);
    return d.out[5];
}

GP_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
    if (!GP_MANAGED()) return R(gethostbyaddr)(addr, len, type);
    struct dns d = {.kind = GHBA, .a = {addr}, .n = {len, type}};
    resolve(&d);
    return d.out[5];
}

GP_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                              struct hostent **result, int *herr)
{
    if (!GP_MANAGED()) return R(gethostbyname_r)(name, ret, buf, buflen, result, herr);
    struct dns d = {.kind = GHBN_R, .a = {name}, .n = {(long)buflen}, .out = {ret, buf, result, herr}};
    resolve(&d);
    return (int)d.ret;
}

GP_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                               struct hostent **result, int *herr)
{
    if (!GP_MANAGED()) return R(gethostbyname2_r)(name, af, ret, buf, buflen, result, herr);
    struct dns d = {.kind = GHBN2_R, .a = {name}, .n = {(long)buflen, af}, .out = {ret, buf, result, herr}};
    resolve(&d);
    return (int)d.ret;
}

GP_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                              size_t buflen, struct hostent **result, int *herr)
{
    if (!GP_MANAGED()) return R(gethostbyaddr_r)(addr, len, type, ret, buf, buflen, result, herr);
    struct dns d = {.kind = GHBA_R, .a = {addr}, .n = {(long)buflen, len, type}, .out = {ret, buf, result, herr}};
    resolve(&d);
    return (int)d.ret;
}
