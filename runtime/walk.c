/* walk.c — whose code an interrupted green thread is in, and whether it
 * may be stopped there: the look that hand-off (handoff.c) and preemption
 * (preempt.c) take from their signal handlers, on the interrupted thread.
 *
 * Code falls in three classes: gpatch's own (O: libgpatch, libuv), code
 * that is passed over (P: libc, the loader, libpthread, the vDSO, the
 * unwinder), and another's (X: the program and every other library). The
 * ranges are read once at the start (dl_iterate_phdr, outside handlers);
 * the walks use libgcc's unwinder, from the interrupted instruction outwards.
 */
#include "internal.h"

#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <unwind.h>

/* ---- which code is whose ---------------------------------------------------- */
struct range { uintptr_t lo, hi; };
static struct range own_r[8], pass_r[16], unw_r[4];
static int n_own, n_pass, n_unw;

static int in_ranges(const struct range *r, int n, uintptr_t a)
{
    for (int i = 0; i < n; i++)
        if (a >= r[i].lo && a < r[i].hi) return 1;
    return 0;
}

static int note_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    uintptr_t me = (uintptr_t)gp__code_ranges_init, uv = (uintptr_t)uv_run, vdso = getauxval(AT_SYSINFO_EHDR);
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    int unw = strstr(name, "/libgcc_s.") || strstr(name, "/libunwind.");
    int own = 0, pass = unw || strstr(name, "/libc.so") || strstr(name, "ld-linux") || strstr(name, "libpthread") ||
                        strstr(name, "/libdl.");
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + p->p_vaddr, hi = lo + p->p_memsz;
        if ((me >= lo && me < hi) || (uv >= lo && uv < hi)) own = 1;
        if (vdso && vdso >= lo && vdso < hi) pass = 1;
    }
    if (!own && !pass) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD || !(p->p_flags & PF_X)) continue;
        struct range r = {info->dlpi_addr + p->p_vaddr, info->dlpi_addr + p->p_vaddr + p->p_memsz};
        if (own && n_own < 8) own_r[n_own++] = r;
        else if (!own && n_pass < 16) pass_r[n_pass++] = r;
        if (!own && unw && n_unw < 4) unw_r[n_unw++] = r;
    }
    return 0;
}

/* main's thread at the start (gp__start), outside handlers: where gpatch's
 * code (libgpatch, libuv) and the code passed over (libc, the loader, the
 * unwinder) lie */
void gp__code_ranges_init(void)
{
    if (n_own) return;
    n_pass = n_unw = 0;
    dl_iterate_phdr(note_module, NULL);
}

/* signal-safe */
int gp__pc_is_runtime(uintptr_t pc) { return in_ranges(own_r, n_own, pc); }

/* The interrupted stack, innermost frame first, each frame gpatch's own
 * (O: libgpatch, libuv), passed over (P: libc, the loader, libpthread, the
 * vDSO) or another's (X: the program and its libraries). Safe to hand off
 * when the first frame that is not P is X (the program's code is running)
 * and no O frame has an X frame outside it: gpatch's code is not on the
 * stack at all, except for its own frames at the very bottom of a green
 * thread's stack (gthread_entry, which called the thread's function). An O
 * frame with X frames outside it is the runtime at work -- called by the
 * program, and now inside a library it calls (a malloc that is not libc's,
 * a sanitizer's runtime) or a callback it runs (a destructor at exit): not
 * now. A walk that cannot be finished (no unwind data, deeper than MAX_WALK)
 * before reaching those bottom frames decides nothing: not now either. */
#define MAX_WALK 512
struct walk {
    uintptr_t pc;  /* the interrupted instruction */
    int found;     /* reached its frame */
    int n;
    int first;     /* the first category that is not P (0 none yet) */
    int own_seen;  /* an O frame was met */
    int mixed;     /* an X frame outside an O frame */
    int cut;       /* stopped at MAX_WALK */
    int blind;     /* reached a frame with no unwind information */
};

/* libgcc's own look-up of a pc's unwind information (unwind-dw2-fde.h) */
struct fde_bases { void *tbase, *dbase, *func; };
extern const void *_Unwind_Find_FDE(void *pc, struct fde_bases *bases);

enum { CAT_O = 1, CAT_P, CAT_X };

static _Unwind_Reason_Code walk_step(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *k = arg;
    int before = 0;
    uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
    if (!k->found) {
        if (ip != k->pc) return ++k->n > 64 ? _URC_END_OF_STACK : _URC_NO_REASON; /* the handler's own frames */
        k->found = 1;
        k->n = 0;
    } else if (!before && ip) {
        ip--; /* a return address: the call is the instruction before it */
    }
    if (++k->n > MAX_WALK) {
        k->cut = 1;
        return _URC_END_OF_STACK;
    }
    if (!ip) return _URC_NO_REASON;
    int cat = in_ranges(own_r, n_own, ip) ? CAT_O : in_ranges(pass_r, n_pass, ip) ? CAT_P : CAT_X;
    if (!k->first && cat != CAT_P) k->first = cat;
    if (cat == CAT_O) k->own_seen = 1;
    else if (cat == CAT_X && k->own_seen) {
        k->mixed = 1;
        return _URC_END_OF_STACK; /* decided: not now */
    }
    /* Code with no unwind information (hand-written assembly, a program built
     * with -fno-asynchronous-unwind-tables): libgcc cannot find its caller
     * and answers "end of stack", which is not the end: gpatch's frames may
     * lie further out (a hook that runs the program's code, pthread_once's
     * init routine). Undecided, unless gpatch's bottom frames were reached:
     * not now (rel_handoff_unwind). */
    struct fde_bases b;
    if (cat != CAT_O && !_Unwind_Find_FDE((void *)ip, &b)) {
        if (!k->first) k->first = cat;
        k->blind = 1;
        return _URC_END_OF_STACK;
    }
    return _URC_NO_REASON;
}

/* the walk's verdict: 1 the program's code, and gpatch's frames only at the bottom */
static int walk_safe(const struct walk *k, _Unwind_Reason_Code end)
{
    if (!k->found || k->cut || k->mixed || k->first != CAT_X || (k->blind && !k->own_seen)) return 0;
    /* the unwinder stopped by itself: at the end of the stack, or unable to
     * go further -- which is fine once gpatch's bottom frames were reached */
    return end == _URC_END_OF_STACK || k->own_seen;
}


/* ---- the verdicts ---------------------------------------------------------- */
/* signal-safe: may the owner of this stack be handed off? (handoff.c)
 * Never walked from inside the unwinder itself (libgcc_s, libunwind): a
 * thread interrupted in its code while it throws (_Unwind_RaiseException
 * stepping frames) left libgcc's own walk reading a register save slot at
 * address 8 -- a SIGSEGV in the handler (cxx exceptions thrown and caught
 * in loops by 4 threads, 2 workers, own TLS: about 1 run in 5). Not now;
 * the monitor asks again at its next look. (Preemption's walk never starts
 * there: gp__walk_preempt wants the program's pc.) */
int gp__walk_handoff(uintptr_t pc)
{
    if (in_ranges(unw_r, n_unw, pc)) return 0;
    struct walk k = {.pc = pc};
    _Unwind_Reason_Code end = _Unwind_Backtrace(walk_step, &k);
    return walk_safe(&k, end);
}

/* signal-safe: pc is the program's, or a library's that is neither gpatch's
 * nor passed over */
int gp__pc_is_program(uintptr_t pc) { return !in_ranges(own_r, n_own, pc) && !in_ranges(pass_r, n_pass, pc); }

/* Preemption's walk is stricter than hand-off's: a preempted thread's
 * worker runs others on this very OS thread, in the same glibc, so no frame
 * of libc, the loader or the unwinder may be anywhere on the stack (qsort
 * calling the program's comparator, a dl_iterate_phdr callback under the
 * loader's lock, a destructor run by exit, a C++ destructor during an
 * unwind), nor gpatch's (a hook running the program's code: pthread_once's
 * routine, a signal's handler). From the interrupted instruction outwards:
 * X frames only, then the bottom of the stack -- for a green thread
 * gpatch's entry frames (gthread_entry, the context's first frame) and
 * nothing after them; for main the libc frames that called main
 * (__libc_start_call_main, __libc_start_main) and the program's _start
 * (AT_ENTRY). A frame without unwind information before the bottom, or a
 * stack deeper than MAX_WALK, decides nothing: not now. */
struct pwalk {
    uintptr_t pc;
    int found, n;
    int main;     /* main's stack */
    int bottom;   /* 0 in the X frames; else the class that began the bottom */
    int bad, done, cut;
};

static _Unwind_Reason_Code pwalk_step(struct _Unwind_Context *ctx, void *arg)
{
    struct pwalk *k = arg;
    int before = 0;
    uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
    if (!k->found) {
        if (ip != k->pc) return ++k->n > 64 ? _URC_END_OF_STACK : _URC_NO_REASON; /* the handler's own frames */
        k->found = 1;
        k->n = 0;
    } else if (!before && ip) {
        ip--;
    }
    if (++k->n > MAX_WALK) {
        k->cut = 1;
        return _URC_END_OF_STACK;
    }
    if (!ip) return _URC_NO_REASON;
    int cat = in_ranges(own_r, n_own, ip) ? CAT_O : in_ranges(pass_r, n_pass, ip) ? CAT_P : CAT_X;
    if (!k->bottom) {
        if (cat == CAT_X) {
            struct fde_bases b;
            if (!_Unwind_Find_FDE((void *)ip, &b)) { /* blind: who called it is unknown */
                k->bad = 1;
                return _URC_END_OF_STACK;
            }
            return _URC_NO_REASON;
        }
        if ((cat == CAT_O) == k->main) { /* main's bottom is libc's; a green thread's is gpatch's */
            k->bad = 1;
            return _URC_END_OF_STACK;
        }
        k->bottom = cat;
        if (cat == CAT_O) k->done = 1; /* gthread_entry: what lies beyond is the context's start */
        return _URC_NO_REASON;
    }
    if (cat == k->bottom) return _URC_NO_REASON;
    if (k->main && cat == CAT_X) {
        uintptr_t entry = getauxval(AT_ENTRY);
        if (entry && ip >= entry && ip < entry + 64) { /* _start */
            k->done = 1;
            return _URC_END_OF_STACK;
        }
    }
    k->bad = 1;
    return _URC_END_OF_STACK;
}

/* signal-safe: may the green thread interrupted at pc (main's, or another's)
 * be preempted there? */
int gp__walk_preempt(uintptr_t pc, int is_main)
{
    if (!gp__pc_is_program(pc)) return 0;
    struct pwalk k = {.pc = pc, .main = is_main};
    _Unwind_Backtrace(pwalk_step, &k);
    return k.found && !k.cut && !k.bad && k.done;
}

/* once per OS thread that may walk, outside handlers: load and set up the
 * unwinder now, not in a handler */
void gp__walk_warm(void)
{
    struct walk k = {.pc = 1};
    _Unwind_Backtrace(walk_step, &k);
}
