/* dl.c — dlopen: a green thread that loads a library with initial-exec TLS
 * gets its image in every green thread (gp_dlopen).
 *
 * glibc's dlopen looks at its return address: the object that called it
 * decides the namespace the library joins and, for a name without a slash,
 * whose RUNPATH and RPATH are searched ($ORIGIN too). A hook that called it
 * would make libgpatch.so the caller. So dlopen here is a jump: a small
 * stub asks dlopen_route() where to go, with the caller's return address,
 * and jumps there with the stack as the program left it. It goes to
 * gp_dlopen only when the caller cannot matter (a path with a slash and no
 * '$' from the base namespace, or any name from the main program when it has
 * no RUNPATH: the loader then searches exactly as it does for us), and
 * straight to glibc's dlopen otherwise: with shared TLS, off a green thread,
 * or for a caller with its own search path (README: such a library's
 * initial-exec TLS is then left as glibc leaves it). */
#include "../runtime/real.h"

#include <link.h>
#include <string.h>

static void *ours(const char *file, int mode) { return gp_dlopen(file, mode); }

/* the program's own executable has no DT_RUNPATH */
static int main_without_runpath(const struct link_map *main)
{
    for (const ElfW(Dyn) *d = main->l_ld; d && d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_RUNPATH) return 0;
    return 1;
}

/* the stub's question: where does a dlopen(file) called from caller go? */
__attribute__((used)) static void *dlopen_route(const char *file, const void *caller)
{
    void *real = (void *)R(dlopen);
    if (!file || !gp_dlopen_tracks()) return real;
    Dl_info info;
    struct link_map *lm = NULL;
    if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm) return real;
    Lmid_t ns = -1;
    if (dlinfo(lm, RTLD_DI_LMID, &ns) != 0 || ns != LM_ID_BASE) return real;
    if (strchr(file, '$')) return real;
    if (strchr(file, '/')) return (void *)ours;
    if (lm == _r_debug.r_map && main_without_runpath(lm)) return (void *)ours;
    return real;
}

GP_EXPORT void *dlopen_entry(const char *file, int mode) __asm__("dlopen");
__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        "  .cfi_startproc\n"
        "  push %rdi\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  push %rsi\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  sub $8, %rsp\n"
        "  .cfi_adjust_cfa_offset 8\n"
        "  mov 24(%rsp), %rsi\n" /* the caller's return address */
        "  call dlopen_route\n"
        "  add $8, %rsp\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  pop %rsi\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  pop %rdi\n"
        "  .cfi_adjust_cfa_offset -8\n"
        "  jmp *%rax\n"
        "  .cfi_endproc\n"
        ".size dlopen, .-dlopen\n");
