/* fsbase — what loading the thread pointer costs here: N arch_prctl
 * (ARCH_SET_FS) system calls that set it to its own value; prints ns per
 * call, whether the CPU and kernel offer wrfsbase instead (AT_HWCAP2 bit 1),
 * which gpatch then uses, and ns per plain system call (getppid) for
 * comparison. Own TLS loads the thread pointer at every switch between green
 * threads. */
#include <asm/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    unsigned long fs;
    if (syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) != 0) return 1;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) syscall(SYS_arch_prctl, ARCH_SET_FS, fs);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double fs_ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double plain_ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
    printf("%.1f %s %.1f\n", fs_ns, getauxval(AT_HWCAP2) & 2 ? "wrfsbase" : "no-wrfsbase", plain_ns);
    return 0;
}
