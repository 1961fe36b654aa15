/* slow_nss.c — built as build/nss/libnss_systemd.so.2: an NSS source that
 * stands for one behind a daemon (systemd's userdb, LDAP, sss) answering
 * slowly. Found through LD_LIBRARY_PATH before the system's module of that
 * name, where /etc/nsswitch.conf names `systemd` after `files` (Debian 12's
 * default): a user that is not in /etc/passwd reaches it. Each lookup waits
 * 300 ms in the kernel (a nanosleep made by a syscall instruction, which
 * no preload sees, as it would not see the daemon's socket glibc reads),
 * then says "not found". For rel_nss_slow only. x86-64. */
#include <nss.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <time.h>

enum nss_status _nss_systemd_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop)
{
    (void)name, (void)pw, (void)buf, (void)len;
    struct timespec ts = {0, 300 * 1000 * 1000};
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_nanosleep), "D"(&ts), "S"(0L) : "rcx", "r11", "memory");
    (void)r;
    *errnop = 0;
    return NSS_STATUS_NOTFOUND;
}
