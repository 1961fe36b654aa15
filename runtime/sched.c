/* sched.c — green threads on their workers: run queue, park/ready,
 * switching, a worker's loop turns, and a worker's side of a hand-off to
 * another OS thread. The workers' own code (their OS threads, placement,
 * the inbox, stealing) is in worker.c; this essay is the contract for both.
 *
 * The model
 * ---------
 * A worker is an OS thread that owns a libuv loop. Its green threads
 * (gthreads) are coroutines: main is gthread 0 and runs on the original
 * stack; every pthread_create of the program makes another, with an mmap'd
 * stack (coro.c). Exactly one of them runs at a time. A gthread that must
 * wait for something *parks*: it records why (a reason string, shown in
 * traces), registers interest (an fd watcher, its timer, a join), and
 * switches away. Whoever makes the thing happen calls gp__ready(g, result),
 * which puts g on the run queue with the result its park returns.
 *
 * Switching
 * ---------
 * Switches are boost.context's jump_fcontext: a few registers saved on the
 * old stack, the stack pointer swapped. Every jump passes the gthread being
 * left; whoever resumes stores the left one's context (after_switch). A
 * parking gthread switches *directly* to the next ready one; only when none
 * is ready, or after BUDGET direct switches in a row (so that I/O is polled
 * even while gthreads keep readying each other), does it switch to the
 * scheduler context. The scheduler runs on a small stack of its own and
 * turns the loop: uv_run(UV_RUN_ONCE) blocks in epoll_wait until an fd, a
 * timer or an async wake-up readies someone. An fd event runs the gthreads
 * it readied at once, from inside its callback (gp__run_ready), as a native
 * server reads inside its own; timers and wake-ups queue them for the turn's
 * end. (Leaving fd wakes for the turn's end too, 63 in 64, saved
 * instructions but starved acceptors under churn: fdtable.c, on_poll.
 * They are left for the turn's end only while another worker has been idle
 * for a while and one of them could move there: "Stealing" below.)
 *
 * Why not...
 *  - ...always go through the scheduler? A yield would cost two jumps
 *    instead of one; the direct path keeps a ping-pong at one jump each way.
 *  - ...ucontext? swapcontext makes a sigprocmask system call per switch.
 *  - ...run the loop on a gthread? The loop's callbacks ready gthreads; they
 *    must run where no gthread's stack is live, so a dead gthread's stack can
 *    be recycled by whoever runs next (after_switch), never by itself.
 *
 * Thread-local storage (tls.c): each gthread owns a thread control block
 * and static TLS, as a pthread does, and a switch loads the arriving one's
 * thread pointer; main keeps the OS thread's own. The scheduler context has
 * no block of its own: it runs on whichever block was loaded last (saving a
 * thread-pointer load per round trip through it), so it must leave that
 * block's errno as it found it. Hence errno and h_errno are still saved at
 * every switch and restored by the resumed side, through its own block: in
 * shared mode (GPATCH_TLS=shared) that is what keeps errno per gthread; in
 * own mode it undoes what the scheduler wrote into a borrowed block. The
 * runtime's own per-thread words (gp__tls: managed, last...) exist once per
 * block: the switch writes the arriving block's copy through an explicit
 * pointer, never through a TLS address computed before the load.
 *
 * "Managed": gp__tls.managed tells the shim whether a hooked call should come
 * here. It is 1 only on a gthread (never the scheduler), and only while more
 * than one gthread is alive: a lone gthread could not let anyone else run,
 * so its blocking calls go straight to libc, which keeps programs that never
 * create a thread exactly as they were.
 *
 * The contract
 * ============
 * What follows is the rule book; code that breaks it is the bug, whatever a
 * test says.
 *
 * Who may call what
 * -----------------
 * There are four kinds of caller, and each runtime function says in one line
 * above it which it accepts:
 *  - "gthread only": a green thread running on its worker (gp__tls.worker
 *    and w->cur is not the scheduler). Everything that parks or yields:
 *    gp__park, gp__wait_skipped, gp_yield, gp_sleep, gp_io, gp_poll,
 *    gp_sync_wait, gp_cond_wait, gp_offload, gp_thread_join, gp_thread_exit,
 *    gp_thread_cancel, gp_preempt_check, gp__cancel_exit.
 *  - "scheduler context": the small stack sched_main runs on, and libuv's
 *    callbacks (fd events, timers, the async handle) that run from it. It
 *    never parks; it readies (gp__ready), drains (gp__sync_drain_remote,
 *    gp__signals) and runs the ready (gp__run_ready, run_head).
 *  - "worker only": either of the two above, i.e. the worker OS thread
 *    outside signal handlers. The run queue, the gthread records, their
 *    states and the fd table belong to it and are touched by nobody else:
 *    gp__ready, gp__set_state, the run queue, the shuffle stream.
 *  - "any OS thread": a foreign OS thread of the program (not a gthread), a
 *    pool helper, the monitor. It may call gp_sync_wake (the wake goes
 *    through sync.c's remote list and the loop's async handle) and read what
 *    the monitor reads; it never touches the run queue or a gthread record.
 *  - "signal-safe": a signal handler, on any thread. gp_signal_elsewhere
 *    decides whether the program's handler runs where it landed, and if not
 *    records the signal for worker 0 and wakes its loop (uv_async_send is
 *    async-signal-safe); the scheduler routes it (gp__signals, "Signals"
 *    below). gp_sync_wake from a handler
 *    (sem_post is async-signal-safe) posts its key to a fixed array of
 *    lock-free slots and wakes the loop; the worker drains the slots
 *    (gp__sync_drain_remote). A handler never takes a lock and never
 *    readies anyone itself. Both wake the loop with the shim's hooks turned
 *    off for the moment (gp__tls.managed = 0): libuv's wake-up write binds
 *    to our own write hook, which must never switch inside a handler.
 *
 * A gthread's states
 * ------------------
 *      FREE --create--> READY --switch_to--> RUNNING --park--> PARKED
 *                         ^                   |  |  |             |
 *                         +---yield/preempt---+  |  +--exit--> DEAD --free/join--> FREE
 *                         +-----------gp__ready--|-----------------+
 *  FREE -> READY     gp_thread_create (onto the run queue)
 *  FREE -> RUNNING   gp__start, for main only (it is already running)
 *  READY -> RUNNING  switch_to, nowhere else (to == from when a yield finds
 *                    itself first in the queue)
 *  RUNNING -> READY  a yield (gp_yield, gp__wait_skipped, gp_preempt_check):
 *                    the gthread puts itself on the run queue, then switches
 *  RUNNING -> PARKED gp__park, after its caller registered its interest
 *  PARKED -> READY   gp__ready, worker only, with the result the park returns
 *  RUNNING -> DEAD   gp_thread_exit
 *  DEAD -> FREE      gp__gthread_free, by the joiner or at detach (a record
 *                    whose creation failed goes FREE -> FREE)
 *  RUNNING -> AWAY   gp__evict: a hand-off left it on its old OS thread
 *  AWAY -> READY     gp__rejoin_drain, on the worker, once it came back
 * gp__set_state (internal.h) is the one place g->state changes; it checks
 * the transition against the list above and dies loudly on any other: a
 * double ready, a park of a gthread that is not running, a resumed corpse.
 * Nothing else is a transition: gp__ready on a gthread that is not PARKED
 * does nothing (it was readied already, or it is yielding inside a wait
 * that did not park, below).
 *
 * A wait that returns without parking yields if anyone else can run
 * ------------------------------------------------------------------
 * On an OS thread a timed wait whose deadline has passed, a poll with a
 * zero timeout or nanosleep({0, 0}) is a system call: the kernel may run
 * someone else meanwhile, and on another core the thread waited for runs
 * anyway. Here the worker is all there is: a gthread that keeps asking
 * "is it done?" without ever switching keeps the one it waits for off the
 * worker forever (CPython's GIL waits with a 1 us pthread_cond_timedwait,
 * again and again). So every wait path that gives up without parking -- a
 * deadline at or before now in gp__park (sleep, sync waits, condition waits,
 * fd waits with an expired socket timeout, timed joins), an EINTR found
 * pending, gp_poll with nothing ready and no time left -- calls
 * gp__wait_skipped: if the run queue holds anyone, the caller goes to its
 * tail and the next one runs; if nobody is ready, it goes on, but it spends
 * the budget as a switch would, and when the budget is spent it goes round
 * the loop, so that a timer or an fd event that would ready someone is seen
 * (a spinner must not starve a sleeper either). A call that did not have to
 * wait (a read that found data, a lock that was free, a try) does not
 * yield: it passes a preemption point (gp_preempt_point), which keeps the
 * hot path at a load (a worker hungry? "Stealing"), an increment and a test.
 * While it yields, such a wait's registrations are still in place (its
 * queue entry in sync.c, its joiner pointer): a wake that comes through them
 * finds it READY, with g->skipping set, and becomes the wait's result
 * instead of -ETIMEDOUT or -EINTR (gp__ready). A waker that took the entry
 * off its queue has counted it as woken: that wake is not lost.
 *
 * Cancellation
 * ------------
 * Whether a signal interrupts a wait (enum gp_intr) and whether it is a
 * cancellation point (GP_CANCELPT) are separate: pthread_cond_wait never
 * returns EINTR yet is a cancellation point. A cancellable park returns
 * -ECANCELED -- at once if the cancel is pending and enabled, or when
 * gp_thread_cancel readies it -- and never unwinds by itself: its caller
 * first takes back what it registered on its own stack (a sync queue entry,
 * fd waiter records, a joiner pointer), a condition waiter re-acquires its
 * mutex (POSIX: the cleanup handlers run with it held), and only then
 * gp__cancel_exit runs the cleanup handlers and ends the gthread. Between
 * the cancel's gp__ready and its running, a condition or semaphore waiter
 * is still queued and a wake may pick it (and be ignored: it is no longer
 * parked); so a cancelled sync waiter passes one wake on to the next waiter
 * before it exits, as glibc's cancelled condition waiter does. At worst
 * that wake is spurious, which both objects allow.
 * Cancellation points: fd waits (read, write, accept, connect, send, recv...),
 * gp_poll (poll, select, epoll_wait, sigwait...), sleeps (nanosleep, pause,
 * sigsuspend), condition waits, sem_wait, pthread_join. Not: mutex, rwlock,
 * once and barrier waits (POSIX names none of them), nor calls a pool helper
 * runs (the helper's job must finish before its record, on the waiter's
 * stack, may go).
 *
 * Memory ordering of the cross-thread handshakes
 * ----------------------------------------------
 * The worker's own data needs no ordering: one OS thread touches it. These
 * are the places where another thread meets it; each has a comment at the
 * code too.
 *  - Remote wakes (sync.c). The bucket lists and the remote-ready list are
 *    guarded by one spinlock: exchange with acquire to take it, a store with
 *    release to drop it, so a waiter record published under it is whole when
 *    the worker pops it. A waker from another OS thread moves the record to
 *    the remote list under the lock and then calls gp__async_send, whose
 *    seq_cst fence orders the list update before its look at the handle's
 *    pending flag: either it sends, or the worker resets the flag after that
 *    look and its drain sees the update (on_async -> gp__sync_drain_remote,
 *    under the same lock). Without the fence, uv_async_send's first plain
 *    load of the flag could pass the stores and the wake was lost (loop.c).
 *  - Waiter against waker (sync.c, and every user of it: pool job done,
 *    sem_post, mutex unlock from an OS thread). Each side writes its own
 *    word and then reads the other's: the waiter counts itself in nwaiting
 *    and then tries the object; the waker changes the object and then reads
 *    nwaiting to decide whether anyone needs waking. A store followed by a
 *    load of another location may be reordered even on x86 (store buffer),
 *    so release/acquire is not enough: both sides need a sequentially
 *    consistent fence (or seq_cst read-modify-write) between their write and
 *    their read, or both miss and the waiter parks forever with its job done.
 *    With the fence, at least one of them sees the other.
 *  - Pool job done against its waiter (pool.c): the helper stores done with
 *    release after the job's results, the waiter's try loads it with
 *    acquire, so the results are visible once done is; the wake itself is
 *    the waiter-against-waker handshake above. The queue of jobs is under
 *    pool.c's spinlock (acquire/release) and idle helpers sleep on a futex
 *    word bumped with release after the job is queued.
 *  - A signal passed on to the scheduler (loop.c, gp_signal_elsewhere;
 *    gp__signals). The handler writes the signal's details into worker 0's
 *    redir slot, ORs its bit into redir_set (release, after the details),
 *    sets sig_pending, and then calls gp__async_send (a seq_cst fence, then
 *    uv_async_send): on another OS thread these stores are ordered before
 *    its look at the handle's flag, so the worker's on_async sees them. The
 *    worker takes them with exchanges (acquire), pending first and the set
 *    last, so a handler that runs in between leaves its bit for the next
 *    turn, never half a note.
 *  - The monitor (monitor.c) reads away_since and the turn count with
 *    acquire; loop_turn writes them with release, so a monitor that sees a
 *    turn's count sees that turn's away_since. What it reads for its report
 *    (w->cur, the last hooked call) is written plainly by the worker: the
 *    report may name the gthread that ran a moment before, never a record
 *    that does not exist (records are never unmapped).
 *  - An OS thread joins a gthread (thread.c): it claims the join under the
 *    record lock (acquire/release spinlock), then sleeps on the record's
 *    futex word xdone; the exiting gthread sets xdone with release under the
 *    same lock and wakes it, so the joiner that reads xdone with acquire
 *    sees the return value. Whoever of the joiner and finish_dead comes
 *    last frees the record, decided under the lock.
 *  - An OS thread changes an fd (close, dup2... by a thread that is not a
 *    gthread, fdtable.c): it never touches the fd table; it queues the fd
 *    number under a lock (bounded; past it, the worker rechecks every entry
 *    by device and inode), removes a watched fd from the worker's epoll set
 *    itself, and wakes the loop; the worker applies the queue before every
 *    wait.
 *  - A hand-off (handoff.c, sched.c's gp__evict / gp__sched_take /
 *    gp__rejoin_post / gp__rejoin_drain; "Hand-off" below): the worker
 *    passes on the release store of the carrier's word, taken with acquire;
 *    a gthread comes back through the rejoin list (release CAS, acquire
 *    exchange) and the loop's async handle, whose send always runs with the
 *    sender's hooks off (gp__async_send).
 *  - A yield, a park, a switch: on the worker only; jump_fcontext is a call,
 *    so the compiler keeps every memory access on its side of it. With own
 *    TLS the switch also loads the thread pointer; code around it reads
 *    thread-local words only through explicit block pointers (tls.h).
 *
 * Hand-off: who owns the worker
 * -----------------------------
 * "The worker" is the run queue, the loop, the scheduler context and every
 * gthread record. It is owned by one OS thread at a time, w->carrier (a
 * struct gp_carrier, handoff.c): at the start the process's main thread;
 * after a hand-off (GPATCH_HANDOFF_MS, default 10 ms, own TLS only) a spare. "Worker only"
 * above means: on the owning OS thread. A gthread runs only on the owner,
 * except one in GT_AWAY, which runs on an OS thread the worker left behind.
 * How ownership passes:
 *  - Away. Only the owner gives the worker up, in handoff.c's signal
 *    handler, with its current gthread g interrupted in code that is not
 *    gpatch's (so no runtime code is halfway through the run queue). There
 *    gp__evict makes g GT_AWAY, marks g's own TLS block (worker 0,
 *    evicted g, managed 2), sets w->cur to the scheduler and w->carrier to
 *    the chosen spare c, and then stores c->word = 1 with release: that
 *    store is the token. The spare loads it with acquire
 *    (gp__sched_take) and only then touches the worker: it resumes the
 *    scheduler context where it was suspended, borrowing its own block.
 *    The race it closes: the old thread returning to the scheduler "at that
 *    very moment" cannot happen, since the decision is taken on that thread
 *    while its gthread is stopped, and the gthread's next entry into gpatch
 *    reads managed == 2 (or evicted, or worker == 0), written on its own
 *    thread before the handler returned, never the worker's data.
 *  - Back. g's first entry into gpatch (GP_MANAGED's one test of managed,
 *    gp_started_here, a preemption point, exit, join) runs gp__rejoin: it
 *    jumps to its OS thread's own context (c->rec.ctx), which stores g's
 *    context, loads that thread's idle block (g's block must not be loaded
 *    on two OS threads at once), blocks its signals and pushes g on
 *    w->rejoin (release CAS) and wakes the loop (uv_async_send, as every
 *    wake from a foreign OS thread); the owner's on_async drains the list
 *    (acquire exchange), AWAY -> READY. The old OS thread parks as a spare
 *    on its futex word. g's block is the same wherever it runs, so TLS
 *    addresses its frames hold stay right.
 *  - glibc's thread id. Every block records one (glibc's recursive and
 *    robust locks, an rwlock's writer, raise: tls.c). w->tid is the id of
 *    the OS thread that owns w; gp__evict makes it c's, and each gthread of
 *    w takes it as it is next switched in (switch_to, sync_tid),
 *    while g keeps its own OS thread's: the two sides, running at once, do
 *    not share an id. A gthread holding something glibc unlocks by its id
 *    (a glibc-handled mutex, an rwlock for writing, the loader's locks)
 *    keeps the old one until it comes in without (tid_kept). Left: such a
 *    one shares its kept id with the OS thread it was left on, and with
 *    whatever that OS thread carries next as a spare.
 * The rules of a hand-off, each made true with a subject:
 *  - A gthread a hand-off left away comes back at every entry into gpatch
 *    that may touch its worker's state or its own (gp_enter: the hooks'
 *    test of managed, gp_started_here, the stdio gate, the fd table,
 *    join), before anything else. Never inside a signal handler: the
 *    handler stays on the OS thread the kernel runs it on, its hooked calls
 *    pass through as an OS thread's, and only the gthread's own answers
 *    (pthread_self, its keys) are given for it (gp_away_self). pthread_exit
 *    from such a handler comes back first and exits as the gthread.
 *  - No signal of gpatch's makes a program's call fail. An owner blocked in
 *    a call that SA_RESTART restarts transparently is sent the hand-off
 *    signal; a computing one gets a one-shot CPU-time timer on its thread,
 *    whose signal the kernel raises on its way back to user mode, after any
 *    call has its result. One window remains: between the monitor's look
 *    that saw a restartable call and its tgkill.
 *  - A gthread holding a mutex glibc handles (robust, PI, process-shared)
 *    is not handed off: the kernel ties a PI mutex to its OS thread.
 *  - The unwinder's walk takes a frame with no unwind information as
 *    undecided (not now) unless gpatch's bottom frames were reached.
 * With shared TLS nobody is handed off: a gthread's frames may hold the
 * worker's TLS addresses.
 *
 * Preemption (GPATCH_PREEMPT_MS, default 10; preempt.c, walk.c)
 * -------------------------------------------------------------
 * A gthread that computes without coming back to the scheduler is preempted,
 * in both TLS modes and with any number of workers: preemption is for
 * computing, hand-off for a gthread blocked in the kernel in a call gpatch
 * cannot see.
 *  - When. Every OS thread that owns a worker has a periodic CPU-time timer
 *    (a period: half a slice of its CPU time, at most 2 ms); a gthread its
 *    handler sees running at one tick more than a slice has periods, with
 *    no switch of the worker's between, has had its slice; one that has run
 *    a period while another gthread is ready, or an fd event, a due timer or
 *    a wake waits in the loop, is preempted already. Time is CPU time, at
 *    the kernel's tick (4 ms at HZ=250): a 10 ms slice ends after 10 to
 *    16 ms of computing, a waiting request is seen within a tick or two. A
 *    worker asleep in epoll_wait uses no CPU time and is never woken by it.
 *  - Where, only: the gthread runs on its worker, in no hooked call, no
 *    signal handler of the program's, holding no lock glibc ties to its
 *    OS thread (foreign: robust, PI, PP) and no stream's lock (flockfile);
 *    the interrupted instruction is the program's (or another library's,
 *    not libc, the loader, the vDSO, the unwinder, libgpatch or libuv),
 *    and no frame of those lies between it and the bottom of its
 *    stack (gthread_entry for a gthread; __libc_start_main and _start for
 *    main): so glibc is never inside malloc, stdio, the loader or a lock of
 *    its own, and gpatch never inside a callback it runs (a comparator
 *    qsort calls, a once routine, an atexit handler, a C++ destructor the
 *    unwinder runs are not preempted). A frame with no unwind information
 *    before the bottom decides nothing. Otherwise the next tick tries again.
 *  - Never EINTR. The timer's signal is generated as the thread returns to
 *    user mode, after any system call it was in has its result, and it is
 *    installed with SA_RESTART. Its handler preempts only the program's own
 *    code, never a call.
 *  - What it saves. The handler's frame and the kernel's signal frame under
 *    it stay on the gthread's stack while it waits: when it runs again the
 *    handler returns and sigreturn restores every register the kernel saved
 *    (general, x87, SSE, AVX, AVX-512, MXCSR and the x87 control word);
 *    errno is restored by the switch. The signal mask it gets back is the
 *    one of the OS thread it resumes on (another after a steal), and so is
 *    the alternate signal stack: the handler writes both into the saved
 *    context before it returns.
 *  - Where it goes: behind every other ready gthread (w->batch, taken by
 *    batch_turn when nothing else is ready, once it has waited a slice, or
 *    when a worker is hungry), as the kernel runs a thread that wakes before
 *    one that computes; movable (with own TLS another worker may steal it,
 *    as any ready gthread at a clean point). What was kept for it meanwhile
 *    (a signal's handler) runs as it resumes, as after a yield.
 *  - Hand-off waits for it: an owner OS thread that is running (not asleep
 *    in the kernel) is handed off only after three slices more than the
 *    hand-off threshold, by when a gthread in its own code has been
 *    preempted; one computing inside libc (a long qsort) is handed off then.
 *  - The signal is SIGRTMIN+10. While preemption runs, main's real mask
 *    never blocks it (what main asked is kept and answered by the shim, and
 *    threads inherit main's view), nor does a wait's own mask (sigsuspend,
 *    ppoll...); before the runtime starts, with preemption off, or once the
 *    program installs its own handler for it (which turns preemption off),
 *    the mask is exactly the program's. The catcher never takes it.
 *  - Never preempted either: a thread holding a stream's lock (flockfile:
 *    glibc's lock, held in the program's own code; stdio.c counts the gates
 *    each thread holds). Preemption is off where green threads share TLS
 *    and a loaded module has thread-local variables (GPATCH_TLS=shared
 *    forced): preempted mid-use, they would be seen half-used by the others
 *    of the worker. The runtime's start sets __libc_single_threaded to 0, as
 *    glibc's pthread_create would (libstdc++'s static-init guards and
 *    shared_ptr read it in the program's own code).
 *  - The handler leaves fault signals unblocked: a fault in it, or a signal
 *    frame the kernel cannot write near a stack's bottom, gets the overflow
 *    report. Hand-off never walks a stack from inside the unwinder.
 *
 * Workers (GPATCH_WORKERS; worker.c)
 * ----------------------------------
 * Everything above describes one worker. There are N of them (GPATCH_WORKERS,
 * default 1: GP_WORKERS_DEFAULT in gp.h says why), each an OS thread with its own
 * loop, run queue, scheduler context, fd table (fdtable.c) and timers:
 * worker 0 is main's OS thread, the others are started with the runtime and
 * only ever run their scheduler. gp__tls.worker names the calling OS
 * thread's worker (GP_ME()); gp__w stays worker 0, "the runtime", for every
 * thread. What holds across workers:
 *  - Placement. A new gthread goes to the worker with the fewest live
 *    gthreads (place()); it moves only when another worker steals it (below)
 *    (g->home): its state, its timer, its fd waits are its worker's, and
 *    "worker only" above means "on g's home worker". A creator on another
 *    worker posts it there (gp__xpost, GP_X_NEW) as its last touch.
 *  - Wakes. Only a gthread's own worker readies it (gp__ready checks).
 *    Another worker wakes it the way a foreign OS thread does: a sync wait
 *    through the waiter's worker's remote list (sync.c, under its one lock,
 *    then that worker's async handle); a cancel or a signal through the
 *    worker's inbox (gp__xpost), which its scheduler drains (gp__xdrain) and
 *    where it looks at the gthread's state itself. A join waits on the
 *    exiting gthread's xdone through the sync queues, so joiner and target
 *    may live anywhere; the record goes to whichever of the joiner and
 *    finish_dead comes last (thread.c). Nothing busy-waits: a worker with
 *    nothing to run sleeps in epoll_wait until its async handle is sent.
 *  - Shared records. The list of live gthreads (gp__w->all), the count
 *    alive (gp__nlive: "managed" is "more than one alive, anywhere") and the
 *    ids are global: the list under the record lock, the others atomic.
 *  - fds. A worker that closes, replaces or changes an fd tells the others
 *    as a foreign OS thread would (fdtable.c). A call that polls before it
 *    makes a call with no "don't wait" flag (accept, an eventfd read) does
 *    both under a ready lock per fd, so another worker's gthread cannot take
 *    what the poll saw in between (gp_ready_lock).
 *  - Signals: "Signals" below. Workers 1..N-1 block every asynchronous
 *    signal but the monitor's, hand-off's (where it can be on) and the two
 *    deliver signals, except while one of their gthreads waits with a mask
 *    of its own. Faults stay with the worker that faults (each worker, and
 *    each spare carrier, has an alternate stack for the report).
 *  - Fork. The child keeps the forking gthread only, as with one worker: every
 *    worker's loop fds are closed, the records forgotten; a runtime the child
 *    starts has N workers again.
 *  - Hand-off. Each worker is handed off on its own, as above: its first
 *    carrier is its own OS thread (handoff.c, gp__handoff_worker; main's
 *    for worker 0), one monitor looks at every worker, and the token is per
 *    worker (the carrier the monitor reserved for it; gp__evict names the
 *    worker in c->w before the release store of c->word). A spare may carry
 *    any worker, one at a time. A gthread away comes back to its own worker
 *    (g->home: an away or rejoining gthread is never movable, so home does
 *    not change meanwhile). The scheduler steps off a gthread's block onto
 *    the owning carrier's idle block (step_off), never the worker's first
 *    one, which may be loaded on the OS thread a gthread kept.
 *  - A gthread ready after a wake moves only at its call's end (below).
 *
 * Stealing (worker.c)
 * --------------------
 * With own TLS and several workers (GPATCH_STEAL=0 turns it off), a worker
 * about to sleep in epoll_wait with nothing to run says so (w->hungry, and
 * the count gp__hungry); it clears that when it wakes. A worker that finds
 * the count non-zero between two runs of its scheduler (give_away), with
 * two or more gthreads ready, claims a hungry worker (a CAS of its flag from
 * 1 to 0, so one donor serves it) and gives it one movable gthread from the
 * end of its run queue: off the queue, nhome counts moved, g->home stored
 * (release), a GP_X_MOVE message to the hungry worker's inbox as the last
 * touch, whose async handle wakes it; its drain (adopt_moved) gives g that
 * OS thread's tid in its TLS block (glibc's locks) and a timer on its loop,
 * and queues it. The gthread is the owner's to move, so the move needs no
 * lock on the run queue: only its home worker takes it off.
 * What may move (can_move): a gthread ready at a clean point -- a new one, a
 * yield (sched_yield, a spin lock), a time slice's end -- where it has no
 * registration left on its worker: no fd waiter record, sync queue entry,
 * armed timer or joiner pointer (movable, cleared when it next runs); with
 * its own TLS block (its errno, its __thread variables, its pthread_self go
 * with it); holding nothing glibc ties to an OS thread id (foreign locks,
 * rwlocks it write-holds; the loader's locks, looked up in _rtld_global
 * (tls.c) and checked under its worker's tid, which every gthread there
 * shares, so none of them moves while one is inside a dlopen's
 * constructors; a glibc where they are not found gets no stealing); not main's
 * (its block is worker 0's idle one); not inside a signal handler. A
 * gthread readied by a wake still has its waiter record on its worker's
 * lists until it runs (it takes it off itself): it stays, and its call ends
 * where it parked. Its call's end is a clean point, though: every
 * preemption point (gp_preempt_point: the end of a read, write, accept...,
 * an unlock, a post) looks at gp__hungry, and while a worker is hungry a
 * gthread that could move (gp__may_leave) with another ready behind it
 * offers itself (gp_offer_self): onto the run queue's tail, movable, and to
 * the scheduler, whose give_away hands it on. So a thread woken by I/O
 * returns to the program on the hungry worker's OS thread, and a worker
 * whose threads all wait takes work from one with several ready (the stats
 * count these moves apart). Only once that worker has waited
 * GP_IDLE_OFFER_NS (100 us; worker.c): a worker idle for a few microseconds
 * between two requests is not worth a move; and not while its worker's tid
 * holds a loader's lock (give_away moves nobody then). Meanwhile the first
 * fd event of a loop turn leaves the gthreads it readied for later instead
 * of running them at once (gp__run_ready), if one of them could move: so
 * two queue up, and the first to end its call sees the other behind it
 * (once a turn: the next wake runs it, and an acceptor never waits behind
 * a whole turn of wakes). With stealing off,
 * gp__hungry stays 0 and the look costs one load. A move is one-way and
 * happens only while a worker has nothing at all to do.
 * Whatever names g across workers follows it: a cancel or signal posted to
 * its old worker is posted on to g->home by that worker's drain (only the
 * home worker moves g, so the chase ends). Its record's own timer stays on
 * the loop it was made on (libuv handles belong to one loop): a gthread away
 * from there borrows a spare timer of its new loop (gp__timer_lend), given
 * back when it moves on or its record is freed; the record goes back to its
 * maker's free list. gettid() answers the OS thread a gthread runs on now, as
 * it always did with several workers: after a move, another one.
 *
 * Signals (sigthread.c, loop.c, shim/signal.c)
 * ---------------------------------------------
 * The rules, each the kernel's for threads:
 *  - A signal runs its handler in the thread it is for. One sent to a
 *    green thread (pthread_kill, pthread_sigqueue) is kept for it alone, in
 *    its record (sig_pend, with the sender's details), never sent to an OS
 *    thread that some other green thread happens to run on: so four sent in
 *    a row to four threads run four handlers, one in each. If it blocks the
 *    signal it stays pending for it (sigwait takes it, an unblock runs it);
 *    if not, it runs in it on its own OS thread (deliver_now: a tgkill to
 *    itself with the signal let through for the moment), at once when the
 *    sender is the target itself (before pthread_kill returns), else as
 *    soon as it runs: its worker readies it from its park (GP_X_DELIVER,
 *    gp__signal_deliver), a ready one runs it at its yield, one computing or
 *    blocked in a call gpatch cannot see is interrupted by a deliver signal
 *    to the OS thread it runs on.
 *  - Who receives a process signal: main if it lets it in, else a green
 *    thread that lets it in, one inside a blocking call first, as the
 *    kernel prefers main and then any thread that does not block it. The
 *    kernel knows only OS threads' real masks; a wait that brings its own
 *    mask (sigsuspend, ppoll, pselect, epoll_pwait) sets its OS thread's
 *    real mask to it while it waits, so the signal lands. Where it lands,
 *    the trampoline runs the program's handler only if the green thread
 *    running there is the one the rule picks (gp_signal_elsewhere); else
 *    the handler is not run there: the signal is passed to worker 0's
 *    scheduler, which keeps it for the thread the rule picks and has it run
 *    there as above.
 *  - A process signal that main blocks and only another green thread lets
 *    in must still land on some OS thread: worker 0's has main's mask and
 *    the others block everything. The catcher (sigthread.c), an OS thread
 *    started at first need, lets in exactly what some live non-main green
 *    thread lets in, main blocks and the program handles; it never runs a
 *    handler, it passes the signal on to worker 0's routing. Its mask is
 *    recomputed at every such unblock, block, exit and handler change, and
 *    after each signal it catches; a mask briefly wider than needed only
 *    lets in a signal the routing then keeps for main.
 *  - A green thread's kill of its own process, for a signal only the
 *    catcher could take, chooses the receiver at the send, as the kernel
 *    does: the caller if it lets it in, else a thread in a blocking call,
 *    else any; the signal is kept for it as pthread_kill keeps one. A green
 *    thread on its way out first claims the passed-on process signals it
 *    lets in, then marks itself leaving under the record lock (nothing is
 *    kept for it after that), then runs every kept signal it lets in, as
 *    the kernel's thread runs a taken signal before its code goes on.
 *  - A process signal that every green thread blocks is the process's
 *    pending signal: the router keeps it for main, marked main_routed, and
 *    the first green thread that unblocks it or sigwaits for it takes it
 *    from main (adopt_locked), as the kernel hands a pending process signal
 *    to the first thread that lets it in. The router chooses again when its
 *    choice has begun to exit, or when it chose main (which blocks it) and
 *    another green thread has let it in since; with nobody letting it in,
 *    a sigwaiter comes before main. The catcher checks its mask once more
 *    after setting it, so an unblock that read a stale catcher_lets cannot
 *    leave a signal pending in the kernel (rel_sig_stream_exit).
 *  - sigpending of a green thread other than main answers the process's
 *    pending signals that it blocks, plus those kept for it; never main's
 *    own pending set, which the kernel reports for worker 0's OS thread.
 *  - What a handler may call: a handler runs with the shim's hooks turned
 *    off for its thread (hooked calls go straight to libc: no handler ever
 *    parks or switches), and the runtime code it reaches takes no lock and
 *    readies nobody; it only notes and wakes a loop (gp_signal_elsewhere,
 *    gp_sync_wake's slots, the fd table's deferred notes).
 *  - A handler interrupts a call as the kernel would interrupt its system
 *    call: a parked call readied to run a handler (-GP_EDELIVER) goes on
 *    waiting after it when the call is restartable and the handler has
 *    SA_RESTART, or the signal has no handler, or the wait is one that never
 *    fails with EINTR (locks, joins, condition waits); otherwise it returns
 *    EINTR. A wake that comes while it runs the handler is its result. The
 *    deliver signals are two, with and without SA_RESTART, sent as the
 *    program's handler has it, so a system call they interrupt is restarted
 *    or fails exactly as it would for the program's own signal.
 *  - gpatch's own signals (hand-off, the monitor's, preemption's, the
 *    deliver signals) never change what a program's call returns: the deliver signal is sent
 *    only for a signal of the program's that would interrupt that call
 *    anyway, and its handler runs nothing unless the thread it is for runs
 *    there in its own code (gp_deliver_here; in the runtime's code, its
 *    next park runs it). Left: a deliver signal races a switch; if the
 *    target parked in between and another thread's call is interrupted, a
 *    call the kernel never restarts (poll, nanosleep) may return EINTR.
 *  - A signal handler and the fd table: a handler that closes, dups or
 *    creates an fd never touches an fd table. gp_fd_close, gp_fd_new and
 *    gp_fd_flags_changed, called with gp__tls.in_handler set, post the
 *    number to each worker's fixed array of lock-free slots (CAS; when all
 *    are taken, a flag that makes the worker recheck every entry by device
 *    and inode), raise foreign_pending, take a watched number out of that
 *    worker's epoll set before a replacement, and wake its loop. The worker
 *    applies the slots before any use of the table (drain_foreign_slow): it
 *    clears foreign_pending (seq_cst) before it empties the slots, and the
 *    handler stores the slot before the flag, so a post is seen by that
 *    drain or raises the flag for the next one.
 *  - Not supported: a handler that longjmps out of a call it interrupted
 *    while the call was parked (its registrations are on the stack it
 *    leaves); the handler runs inside gp__park.
 *
 * Threads' edges (sync.c, thread.c, tls.c, fdtable.c)
 * ----------------------------------------------------
 *  - A lock glibc manages (process-shared, robust, PI) records its owner
 *    as the OS thread id, which green threads share. Every such mutex a
 *    green thread holds is noted in its owner list, so the runtime tells
 *    which green thread holds it: held under the caller's id by another
 *    green thread, trylock is EBUSY, lock parks, and the unlock of a
 *    recursive or errorcheck one is EPERM. Only robust, priority-
 *    inheritance and priority-protect mutexes keep their holder on its
 *    worker (foreign); a plain process-shared mutex's holder parks like
 *    any lock's. A wait on a process-shared condition runs on a pool
 *    helper and is a cancellation point; with an errorcheck or recursive
 *    mutex the helper records itself as its owner for glibc's wait.
 *  - A thread created with PTHREAD_EXPLICIT_SCHED whose policy or priority
 *    differ from its creator's OS thread's is an OS thread of its own, made
 *    by glibc: only the kernel orders threads by real-time priority. A
 *    green thread joining it parks and polls glibc's tryjoin (a
 *    cancellation point). A green thread's sched_yield with nobody else
 *    ready on its worker also yields the OS thread.
 *  - pthread_cancel acts on a thread's first request only; later ones post
 *    nothing (a park at a cancellation point reads the flag itself).
 *  - pthread_once runs the initializer inside a cleanup record: a
 *    cancelled initializer leaves the control unrun and wakes the waiters,
 *    one of which runs it.
 *  - pthread_create stores the new pthread_t into the caller's variable
 *    before the new green thread is queued anywhere, as glibc stores it
 *    before its clone.
 *  - A key number may come back after pthread_key_delete: each key has a
 *    sequence number, bumped by every create and delete, and a green
 *    thread's value counts only under the number it was set with, so a new
 *    key reads NULL everywhere and its destructor never sees an old key's
 *    values; setspecific on a deleted key is EINVAL.
 *  - A futex wait ends when a wake takes its waiter off the queue, whether
 *    or not the word changed, as the kernel's FUTEX_WAKE wakes exactly the
 *    waiters it counts; the waiter stays queued from its first check until
 *    it returns, so no wake passes it by.
 *  - With own TLS a green thread's exit frees what glibc's thread exit
 *    frees of libc's per-thread state (dlerror's record, strerror's and
 *    strsignal's buffers), after the key destructors; a new block never
 *    starts with the worker's buffers.
 *  - Calls about a thread's OS-level side (its CPU clock, affinity,
 *    scheduling parameters), given a green thread, act on the OS thread it
 *    runs on at the call: the one a hand-off left it on, else its worker's
 *    current one, by kernel thread id. A later move changes which that is.
 *  - Every wait gpatch makes on an fd is one the real blocking call would
 *    make: a direction the file's access mode forbids (EBADF), a socket
 *    call on a file that is no socket (ENOTSOCK), an accept on a socket
 *    that does not listen (EINVAL) go to the kernel at once, on every path
 *    (poll-first included, which kernels without RWF_NOWAIT on pipes take).
 *    Nor does a call wait in the kernel where the wait would hold the
 *    worker: after a poll that said "writable", a write to a pipe, FIFO or
 *    terminal moves at most PIPE_BUF bytes per try (a writable pipe always
 *    takes that much; the whole could wait for a reader on this worker), and
 *    a call on an anonymous inode waits only in a direction that file can
 *    wait in (an eventfd's write; the reads of eventfd, timerfd, signalfd,
 *    inotify): any other goes to the kernel at once.
 *  - A wait that happens inside glibc, where no preload sees it, runs on a
 *    helper OS thread while the green thread parks: a stdio read the
 *    stream's buffer cannot answer on a pipe, socket or terminal (the whole
 *    call, under the stream's own lock, so its flags and position are
 *    stock's; a stream the thread locked itself stays on the worker), a
 *    name-service lookup whose database has a source beyond local files,
 *    pclose's reaping of its child. A stdio read first waits for its fd's
 *    first bytes on the green thread (a parked read's wait, which a signal
 *    ends or restarts as the kernel would); on the helper, a handler for a
 *    signal sent meanwhile runs on time and the call goes on (as under
 *    SA_RESTART).
 *  - runtime/ reaches libc only through the real-function table, never by a
 *    name the shim exports (the link fails if it does: Makefile,
 *    no-hooked-calls); gp_real_init calls nothing hooked while the table is
 *    incomplete and says "cannot find the real X" before it aborts.
 *
 * GPATCH_SHUFFLE=SEED
 * -------------------
 * A testing aid: a private xorshift stream, seeded through splitmix64 from
 * SEED, perturbs every choice the contract leaves open -- where a readied
 * or yielding gthread enters the run queue (head or tail), whether an fd
 * event runs the ready inline or leaves them to the turn's end, the
 * budget of direct switches, the length of a time slice at preemption
 * points, an extra yield after one wake in eight (its registrations still
 * in place) and a loop turn at one skipped wait in four. Any of these is a
 * schedule a correct program and a correct runtime must survive; the same
 * seed gives the same choices for the same events. Unset (or 0), each
 * choice costs one predictable branch on a flag.
 */
#include "internal.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>

#include "real.h"
#ifdef GP_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define BUDGET 1024
#define SCHED_STACK (256u * 1024)
#define SLICE_NS (2 * 1000000LL)

/* ---- GPATCH_SHUFFLE: a private PRNG, worker only ------------------------ */
int gp__shuffle_on;
static uint64_t shuffle_seed; /* each worker's stream starts from it and its index */

/* any thread, before the first gthread exists (the shim's constructor) */
void gp_configure_shuffle(uint64_t seed)
{
    if (!seed) return;
    /* splitmix64 of the seed: no all-zero state for the xorshift below */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    shuffle_seed = (z ^ (z >> 31)) | 1;
    gp__shuffle_on = 1;
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("shuffle: seed %llu", (unsigned long long)seed);
}

/* worker only: the next number of the seed's stream (xorshift64) */
static uint64_t shuffle_next(void)
{
    struct gp_worker *w = GP_ME();
    uint64_t x = w->shuffle_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->shuffle_state = x;
}

/* worker only: true one time in n, when shuffling */
static inline int shuffle_one_in(unsigned n)
{
    return GP_UNLIKELY(gp__shuffle_on) && shuffle_next() % n == 0;
}

/* worker only: g (now GT_READY) joins the run queue: at the tail, or under
 * GPATCH_SHUFFLE at the head one time in two */
static inline void runq_push(struct gp_worker *w, struct gp_gthread *g)
{
    if (GP_UNLIKELY(gp__shuffle_on) && (shuffle_next() & 1))
        gp_list_push(w->runq.next, &g->runq); /* before the first: the new head */
    else
        gp_list_push(&w->runq, &g->runq);
}

/* worker only: runq_push for the workers' code (worker.c) */
void gp__runq_push(struct gp_worker *w, struct gp_gthread *g) { runq_push(w, g); }

/* a fresh budget of direct switches; shorter and random under GPATCH_SHUFFLE */
static inline int fresh_budget(void)
{
    return GP_UNLIKELY(gp__shuffle_on) ? 1 + (int)(shuffle_next() % BUDGET) : BUDGET;
}

__thread struct gp_tls gp__tls __attribute__((tls_model("initial-exec")));
struct gp_worker *gp__w;
static struct gp_worker the_worker;
struct gp_worker *gp__workers[GP_MAX_WORKERS];
int gp__nworkers;
int gp__nlive;
int gp__naway; /* gthreads in GT_AWAY on every worker (atomic) */
int gp__workers_want;

/* worker only: a transition the contract does not allow (gp__set_state) */
void gp__bad_state(struct gp_gthread *g, int to, const char *file, int line)
{
    gp__fatal("gthread %d: state %d -> %d is not allowed (%s:%d)", g->id, g->state, to, file, line);
}

/* worker only: recompute gp__tls.managed after nlive or foreign changed */
void gp__update_managed(void)
{
    struct gp_worker *w = GP_ME();
    gp__tls.managed = w && w->cur != &w->sched && __atomic_load_n(&gp__nlive, __ATOMIC_RELAXED) > 1 && !w->cur->foreign &&
                      !gp__tls.in_handler; /* a handler's calls pass through (the trampoline) */
}

static ptrdiff_t errno_off, h_errno_off; /* from a thread pointer: the same in every block */

/* worker only, scheduler context standing on a gthread's block that is
 * about to go (it died, or moves to another worker): step onto a block no
 * gthread owns, which it then borrows as it would any other -- the worker's
 * idle one (main's on worker 0, never freed; the worker thread's own on the
 * others), or, with hand-off on, the owning carrier's: the original OS
 * thread's block may be loaded on another OS thread now (a gthread away
 * there, main's) */
void gp__step_off(struct gp_worker *w)
{
    void *to = w->carrier ? w->carrier->idle_tcb : w->idle_tcb;
    gp__tls_load(to);
    struct gp_tls *t = gp__tls_of(to);
    t->worker = w; /* a carrier's idle block may never have carried the worker yet */
    t->managed = 0;
    __atomic_store_n(&w->tls, t, __ATOMIC_RELEASE);
}

/* worker only, on a stack that is not g's: a dead gthread's stack goes back */
static void finish_dead(struct gp_gthread *g)
{
    struct gp_worker *w = GP_ME();
    if (g->tcb && g != gp__w->g0) {
        if (gp__tls_current() == g->tcb) gp__step_off(w);
        gp__tls_free(g->tcb);
        g->tcb = NULL;
    }
#ifdef GP_TSAN
    if (g != gp__w->g0 && g->tsan_fiber) __tsan_destroy_fiber(g->tsan_fiber);
    g->tsan_fiber = NULL;
#endif
    gp__stack_release(g);
    gp__thread_finished(g); /* frees a detached one's record */
}

/* worker only, first thing after every jump: store the left one's context */
static inline void after_switch(transfer_t t)
{
    struct gp_gthread *prev = t.data;
    prev->ctx = t.fctx;
    if (GP_UNLIKELY(prev->state == GT_DEAD)) finish_dead(prev);
}

/* worker only, switching to g: its block's id is not w->tid (the worker's
 * owner). Not while it holds what glibc unlocks by that id: a glibc-handled
 * mutex (foreign), an rwlock it write-holds (owned: the unlock compares the
 * writer's id with its own), the loader's locks (pinned by gp_dlopen). One
 * that ran under that id on another OS thread since (away, or kept before:
 * tid_kept) may also hold the loader's locks through a call no hook sees
 * (dl_iterate_phdr, dlsym): tls.c looks. Any other was parked or ready here
 * when the worker last changed hands, when nobody held those under its id
 * (on_handoff checked): it takes the new one unconditionally -- also when
 * the away one holds them now under the old id, which it must not share. */
static void sync_tid(struct gp_worker *w, struct gp_gthread *g)
{
    if (g->foreign || g->owned_n || g->pinned) {
        g->tid_kept = 1;
        return;
    }
    pid_t old = gp__tls_tid(g->tcb);
    if (g->tid_kept) {
        if (old != w->tid && gp__dl_locked_by(old)) return;
        g->tid_kept = 0; /* (the same id as the worker's again: nothing kept) */
    }
    if (old != w->tid) gp__tls_set_tid(g->tcb, w->tid);
}

/* The switch itself. `to` is a ready gthread or the scheduler; the caller
 * has already set the leaving one's state. */
static inline __attribute__((always_inline)) void switch_to(struct gp_gthread *to)
{
    struct gp_worker *w = GP_ME();
    struct gp_gthread *from = w->cur;
    if (to == from) { /* it yielded and was the first ready one */
        gp__set_state(from, GT_BIT(GT_READY), GT_RUNNING);
        return;
    }
    /* a canary-checked stack (coro.c) is checked as its thread leaves the CPU */
    if (GP_UNLIKELY(from->canary != NULL) && GP_UNLIKELY(!gp__canary_ok(from))) gp__overflow_abort(from);
    w->switches++;
    char *tp = gp__tls_current(); /* the block loaded now */
    struct gp_tls *t = gp__tls_of(tp);
    from->err = *(int *)(tp + errno_off);
    from->herr = *(int *)(tp + h_errno_off);
    from->last = t->last;
    w->cur = to;
    if (to != &w->sched) {
        gp__set_state(to, GT_BIT(GT_READY), GT_RUNNING);
        to->movable = 0;
        if (to->tcb && to->tcb != tp) { /* own TLS: its thread pointer */
            gp__tls_load(to->tcb);
            t = gp__tls_of(to->tcb);
            t->worker = w;
        }
        /* glibc's id in its block: the OS thread's it runs on now (changed by
         * a hand-off of this worker, or a move; tls.c) */
        if (to->tcb && GP_UNLIKELY(gp__tls_tid(to->tcb) != w->tid || to->tid_kept) && gp__tls_tid_off >= 0)
            sync_tid(w, to);
        t->managed = __atomic_load_n(&gp__nlive, __ATOMIC_RELAXED) > 1 && !to->foreign;
    } else {
        t->managed = 0; /* the scheduler borrows the block: its hooked calls pass through */
    }
    t->last = to->last;
    __atomic_store_n(&w->tls, t, __ATOMIC_RELEASE); /* the monitor reads last through it */
#ifdef GP_TSAN /* `make test-tsan`: ThreadSanitizer follows our stack switches as fibers */
    if (!from->tsan_fiber) from->tsan_fiber = __tsan_get_current_fiber();
    if (!to->tsan_fiber) to->tsan_fiber = __tsan_create_fiber(0);
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    transfer_t tr = jump_fcontext(to->ctx, from);
    after_switch(tr);
    /* resumed, on our own block (or, for the scheduler, a borrowed one) */
    char *mine = gp__tls_current();
    *(int *)(mine + errno_off) = from->err;
    *(int *)(mine + h_errno_off) = from->herr;
}

/* gthread only. Who runs when the current gthread stops: the next ready
 * one, directly, while the budget lasts; otherwise the scheduler. */
static struct gp_gthread *next_to_run(void)
{
    struct gp_worker *w = GP_ME();
    if (w->budget > 0) {
        struct gp_list *n = gp_list_pop(&w->runq);
        if (n) {
            w->budget--;
            return gp_container(n, struct gp_gthread, runq);
        }
    }
    return &w->sched;
}

/* worker only (a gthread or the scheduler context) */
void gp__ready(struct gp_gthread *g, int result)
{
    struct gp_worker *w = GP_ME();
    /* another worker's gthread is readied by its own worker only (sync.c's
     * remote lists, gp__xpost): its state is that worker's to change */
    if (GP_UNLIKELY(g->home != w)) gp__fatal("gthread %d readied off its worker", g->id);
    if (g->state != GT_PARKED) {
        /* A wait that did not park is yielding (park_skipped) with its
         * registrations still in place: a wake that reaches it meanwhile
         * replaces the -ETIMEDOUT or -EINTR it was going to return, as if it
         * had parked for that long, instead of being lost (a waker that
         * dequeued it counts it as woken). */
        if (g->skipping && g->wake != 0) g->wake = result;
        return;
    }
    gp__set_state(g, GT_BIT(GT_PARKED), GT_READY);
    g->wake = result;
    runq_push(w, g);
    /* From a loop callback: make uv_run return instead of going on to block
     * in epoll_wait (UV_RUN_ONCE blocks after running due timers at its top
     * if no I/O callback ran). */
    if (w->cur == &w->sched) uv_stop(&w->loop);
}

/* ---- hand-off (handoff.c decides when; the worker's side is here) -------- */

/* Worker only, in the hand-off signal handler on the OS thread that owns the
 * worker, which has interrupted the running gthread g in code that is not
 * gpatch's (handoff.c checked). g goes GT_AWAY and keeps this OS thread; the
 * worker -- run queue, loop, scheduler context, every gthread record -- goes
 * to carrier c. The handler's thread pointer is g's own block (own TLS only).
 * Everything below is written before the release store of c->word that hands
 * the worker on (the token: see the essay). */
void gp__evict(struct gp_carrier *c)
{
    struct gp_worker *w = GP_ME();
    struct gp_gthread *g = w->cur;
    gp__set_state(g, GT_BIT(GT_RUNNING), GT_AWAY);
    g->carrier = w->carrier;
    g->tid_kept = 1; /* it runs under this OS thread's id meanwhile (switch_to, sync_tid) */
    struct gp_tls *t = gp__tls_of(g->tcb);
    t->worker = NULL;    /* calls for "any OS thread" take their foreign paths */
    t->evicted = g;      /* its next entry comes back first (gp__rejoin) */
    t->managed = 2;      /* which the hooks' one test of managed sends there */
    g->last = t->last;
    w->cur = &w->sched;  /* the scheduler resumes on c, where it left off */
    w->budget = 0;
    w->naway++;
    /* OS threads carrying gthreads: one per worker, one per gthread away
     * (every worker's: an atomic count, an atomic maximum) */
    unsigned long os = (unsigned long)__atomic_load_n(&gp__nworkers, __ATOMIC_RELAXED) +
                       (unsigned long)__atomic_add_fetch(&gp__naway, 1, __ATOMIC_RELAXED);
    unsigned long most = __atomic_load_n(&gp__stats.peak_os, __ATOMIC_RELAXED);
    while (os > most && !__atomic_compare_exchange_n(&gp__stats.peak_os, &most, os, 1, __ATOMIC_RELAXED,
                                                     __ATOMIC_RELAXED)) {}
    __atomic_add_fetch(&gp__stats.handoffs, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&w->os_thread, (uintptr_t)c->pt, __ATOMIC_RELAXED);
    /* Its gthreads now run on c: glibc's id in their blocks becomes c's as
     * each comes in (switch_to), while g keeps this OS thread's. The two
     * sides run at once and must not share an id: glibc's recursive locks
     * (the loader's) tell holders apart by it. (None of w's gthreads holds
     * one under the old id: on_handoff checked.) */
    __atomic_store_n(&w->tid, c->tid, __ATOMIC_RELEASE);
    c->w = w;
    __atomic_store_n(&w->carrier, c, __ATOMIC_RELEASE); /* the monitor's next look signals c */
    /* release: the carrier's acquire load of its word sees all of the above
     * and the scheduler's context as it was saved */
    __atomic_store_n(&c->word, 1, __ATOMIC_RELEASE);
}

/* On carrier c, once its word said "take the worker" (acquire): become the
 * worker's OS thread and resume the scheduler where it was left. Returns
 * when a gthread that kept c (GT_AWAY) comes back and jumps here (its
 * transfer: data is the gthread, fctx its context). The scheduler borrows
 * c's idle block until it first loads a gthread's. */
transfer_t gp__sched_take(struct gp_carrier *c)
{
    struct gp_worker *w = c->w; /* written before the token, read after it */
    struct gp_tls *t = gp__tls_of(gp__tls_current());
    t->worker = w;
    t->managed = 0;
    t->evicted = NULL;
    __atomic_store_n(&w->tls, t, __ATOMIC_RELEASE);
    R(pthread_sigmask)(SIG_SETMASK, &w->os_mask, NULL);
    return jump_fcontext(w->sched.ctx, &c->rec);
}

/* Gthread only, GT_AWAY, on the OS thread it kept, at its first entry into
 * gpatch since: jump to that OS thread's own context (its carrier's rec.ctx),
 * which stores ours, goes idle and queues us for the worker
 * (gp__rejoin_post); we resume here when the worker runs us, on whichever OS
 * thread owns it then. Our thread pointer is our own block throughout, so
 * TLS addresses the caller holds stay right. Returns managed as it is now.
 * A no-op (managed's value) when not evicted. */
int gp__rejoin(void)
{
    char *tp = gp__tls_current();
    struct gp_tls *t = gp__tls_of(tp);
    struct gp_gthread *g = t->evicted;
    if (!g) return t->managed;
    t->evicted = NULL;
    t->managed = 0;
    g->err = *(int *)(tp + errno_off);
    g->herr = *(int *)(tp + h_errno_off);
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d comes back to its worker", g->id);
    transfer_t tr = jump_fcontext(g->carrier->rec.ctx, g);
    after_switch(tr);
    char *mine = gp__tls_current();
    *(int *)(mine + errno_off) = g->err;
    *(int *)(mine + h_errno_off) = g->herr;
    return gp__tls_of(mine)->managed;
}

/* Any OS thread (the idle carrier g left; g's context is stored): g joins the
 * worker's list of gthreads coming back, and the loop is woken, as for a wake
 * from a foreign OS thread. Ordering: the push is a release CAS (g->ctx and
 * everything before it), the drain an acquire exchange; uv_async_send's
 * seq_cst CAS of the handle's pending flag orders the push before the
 * worker's next on_async, so the wake is never lost. */
void gp__rejoin_post(struct gp_gthread *g)
{
    struct gp_worker *w = g->home; /* an away gthread never moves (can_move) */
    struct gp_gthread *head = __atomic_load_n(&w->rejoin, __ATOMIC_RELAXED);
    do g->rejoin_next = head;
    while (!__atomic_compare_exchange_n(&w->rejoin, &head, g, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    gp__async_send(&w->async);
}

/* scheduler context (on_async): gthreads back from GT_AWAY become ready */
void gp__rejoin_drain(void)
{
    struct gp_worker *w = GP_ME();
    if (!__atomic_load_n(&w->rejoin, __ATOMIC_RELAXED)) return;
    struct gp_gthread *g = __atomic_exchange_n(&w->rejoin, NULL, __ATOMIC_ACQUIRE);
    while (g) {
        struct gp_gthread *next = g->rejoin_next;
        g->carrier = NULL;
        w->naway--;
        __atomic_sub_fetch(&gp__naway, 1, __ATOMIC_RELAXED);
        gp__set_state(g, GT_BIT(GT_AWAY), GT_READY);
        runq_push(w, g);
        if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d is back on the run queue", g->id);
        g = next;
    }
    if (w->cur == &w->sched) uv_stop(&w->loop);
}

/* gthread only. The current gthread gives the worker up if anyone else can
 * run: onto the run queue (its tail) and to the next ready one. With nobody
 * ready it goes on, but spends the budget as a switch would, and once it is
 * spent goes round the loop, so that the timer or the fd event that would ready
 * someone is seen: a gthread spinning on waits that never park must not
 * starve a sleeper either. */
static inline __attribute__((always_inline)) void yield_now(struct gp_worker *w, struct gp_gthread *g)
{
    if (gp_list_empty(&w->runq) && !shuffle_one_in(4)) {
        if (--w->budget > 0) return;
    }
    gp__set_state(g, GT_BIT(GT_RUNNING), GT_READY);
    runq_push(w, g);
    switch_to(next_to_run());
    if (GP_UNLIKELY(gp__deliverable(g))) gp__deliver_kept(g); /* kept for it while it was ready */
}

/* gthread only */
void gp__wait_skipped(void)
{
    struct gp_worker *w = GP_ME();
    yield_now(w, w->cur);
}

/* gthread only. Returns without parking, result r, after yielding
 * (yield_now): the registrations the caller made stay in place meanwhile,
 * and a wake that comes through them replaces a non-zero r (gp__ready). */
static int park_skipped(struct gp_worker *w, struct gp_gthread *g, int r)
{
    g->wake = r;
    g->skipping = 1;
    yield_now(w, g);
    g->skipping = 0;
    return g->wake;
}

/* gthread only (see internal.h for what it returns) */
int gp__park(const char *reason, gp_deadline dl, int intr)
{
    struct gp_worker *w = GP_ME();
    struct gp_gthread *g = w->cur;
    GP_ASSERT(g != &w->sched);
    int cancelpt = intr & GP_CANCELPT;
    intr &= GP_INTR_MASK;
    if (cancelpt && __atomic_load_n(&g->cancelled, __ATOMIC_ACQUIRE) && !g->cancel_off) return -ECANCELED; /* pending: act now */
    /* a signal kept for it while it ran (computing, or between attempts):
     * its handler runs now, before the wait */
    if (GP_UNLIKELY(gp__deliverable(g))) gp__deliver_kept(g);
    for (;;) {
        if (GP_UNLIKELY(g->sigpend) && intr != GP_NOINTR) { /* handled while this call ran */
            int p = g->sigpend;
            g->sigpend = 0;
            if (p == 2 || intr == GP_NORESTART) return park_skipped(w, g, -EINTR);
        }
        if (dl == 0) return park_skipped(w, g, -ETIMEDOUT);
        if (dl > 0) {
            if (dl <= gp_now()) return park_skipped(w, g, -ETIMEDOUT);
            gp__timer_arm(g, dl);
        }
        gp__set_state(g, GT_BIT(GT_RUNNING), GT_PARKED);
        g->reason = reason;
        g->intr = intr;
        g->cancelpt = cancelpt;
        g->wake = 0;
        if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d parks: %s", g->id, reason);
        if (GP_UNLIKELY(gp__stats_on)) gp__stat_park(reason);
        switch_to(next_to_run());
        if (dl > 0) gp__timer_disarm(g);
        g->intr = GP_NOINTR;
        g->cancelpt = 0;
        g->reason = NULL;
        int r = g->wake;
        if (GP_UNLIKELY(r == -GP_EDELIVER || gp__deliverable(g))) {
            /* readied to run a signal's handler (gp__signal_deliver), or one
             * came with its wake: the handler runs here, in this gthread,
             * with its registrations still in place (a wake meanwhile
             * replaced -GP_EDELIVER: g->skipping). Then the wait goes on,
             * or ends with EINTR, as the kernel decides for a system call
             * a handler interrupted: restartable under SA_RESTART, never for
             * a handler-less signal or a wait that never fails with EINTR. */
            int again = r == -GP_EDELIVER && g->deliver_restart;
            g->skipping = 0;
            if (r == -GP_EDELIVER) r = -EINTR;
            gp__deliver_kept(g);
            if (again) continue;
            return r;
        }
        /* GPATCH_SHUFFLE: now and then let others run between the wake and the
         * caller's look at what woke it (its registrations are still there) */
        if (shuffle_one_in(8)) return park_skipped(w, g, r);
        return r;
    }
}

/* gthread only, with nothing of the wait left registered */
_Noreturn void gp__cancel_exit(void)
{
    struct gp_gthread *g = GP_ME()->cur;
    g->in_call = 0;
    if (g->sigwaiting) gp_thread_sigwaiting(0); /* cancelled in sigwait: its cleanup is no sigwait */
    gp_thread_exit_unwinding(PTHREAD_CANCELED);
}

/* gthread only (a no-op elsewhere): the runtime's own spins (it may hold
 * things of this worker's meanwhile, so it stays here) */
int gp_yield(void)
{
    struct gp_worker *w = GP_ME();
    if (!w || w->cur == &w->sched) return 0;
    yield_now(w, w->cur);
    return 0;
}

/* gthread only (a no-op elsewhere): the program's yield (sched_yield, a spin
 * lock's wait), a clean point: nothing of the gthread is registered on its
 * worker, so another worker may take it meanwhile (stealing) */
int gp_yield_movable(void)
{
    struct gp_worker *w = GP_ME();
    if (!w || w->cur == &w->sched) return 0;
    struct gp_gthread *g = w->cur;
    g->movable = 1;
    yield_now(w, g);
    g->movable = 0;
    return 0;
}

/* Process signals a handler passed on (gp_signal_elsewhere: it landed on
 * a worker's OS thread while no green thread that takes it ran there) go to
 * the green thread the kernel would have chosen (gp__signal_route).
 * Worker 0's scheduler context (the loop's async callback). The note is
 * taken with exchanges, acquire: pending first, the set last, so a handler
 * that runs in between leaves its bit for the next turn, never half a note
 * (its details are written before its bit). */
void gp__signals(void)
{
    struct gp_worker *w = GP_ME();
    if (!__atomic_exchange_n(&w->sig_pending, 0, __ATOMIC_ACQUIRE)) return;
    uint64_t sigs = __atomic_exchange_n(&w->redir_set, 0, __ATOMIC_ACQUIRE);
    while (sigs) {
        int sig = __builtin_ctzll(sigs) + 1;
        sigs &= sigs - 1;
        struct gp_redir rd = w->redir[sig - 1];
        gp__signal_route(sig, &rd);
    }
}

/* worker only (t's own): a signal kept for t is to run its handler in t
 * (mode: GP_SIGMODE_*). Parked, t is readied to run it (-GP_EDELIVER, as a
 * wait that yields: a real wake meanwhile becomes the park's result) and
 * then parks again or returns EINTR, as the kernel would decide for its
 * system call (gp__park). Between two attempts of a blocking call, its next
 * park runs it and, for a handler without SA_RESTART, returns EINTR;
 * computing or ready, it runs at its next park or yield (or at once through
 * the deliver signal, sigthread.c). */
void gp__signal_deliver(struct gp_gthread *t, int mode)
{
    if (t->state == GT_PARKED) {
        t->deliver_restart = mode == GP_SIGMODE_NONE || t->intr == GP_NOINTR ||
                             (t->intr == GP_RESTARTABLE && mode == GP_SIGMODE_RESTART);
        gp__ready(t, -GP_EDELIVER);
        t->skipping = 1;
    } else if (t->in_call && mode != GP_SIGMODE_NONE) {
        int v = mode == GP_SIGMODE_NORESTART ? 2 : 1;
        if (v > t->sigpend) t->sigpend = v;
    }
}

static void (*deliverer)(void);
/* main's thread, once, before any gthread (the shim's init) */
void gp_set_deliverer(void (*fn)(void)) { deliverer = fn; }

/* gthread only: the kept signals g lets in run their handlers here, in g,
 * on this OS thread (the shim tgkills them to itself; the trampoline makes
 * no note for them). Hooked calls made by the handlers pass through. */
void gp__deliver_kept(struct gp_gthread *g)
{
    if (!deliverer || gp__tls.in_handler) return;
    g->sig_mode = 0;
    int managed = gp__tls.managed;
    gp__tls.managed = 0;
    deliverer();
    gp__tls.managed = managed;
}

/* One turn of the loop. Between turns the worker is "away" running gthreads:
 * the monitor measures how long (w->away_since), the stats keep the longest. */
/* scheduler context */
static void loop_turn(struct gp_worker *w, uv_run_mode mode)
{
    /* (0: the worker has not been away yet; its first turn, on workers 1..N-1) */
    int64_t away = w->away_since ? gp_now() - w->away_since : 0;
    /* the longest over every worker: an atomic maximum */
    int64_t most = __atomic_load_n(&gp__stats.longest_stall_ns, __ATOMIC_RELAXED);
    while (away > most && !__atomic_compare_exchange_n(&gp__stats.longest_stall_ns, &most, away, 1, __ATOMIC_RELAXED,
                                                       __ATOMIC_RELAXED)) {}
    /* release, paired with the monitor's acquire loads: a monitor that sees
     * this turn's count sees away_since cleared (no stall reported for a
     * worker that is home) */
    __atomic_store_n(&w->away_since, 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&gp__stats.turns, 1, __ATOMIC_RELEASE);
    w->deferred = 0;
    uv_run(&w->loop, mode);
    /* Away again from now. Inline runs inside the turn (gp__run_ready) are
     * watched by the monitor while they run, but not counted here: between
     * them the turn goes on polling fds, so the time from the first of them
     * to the turn's end is not time away from the loop (counting it read
     * 2.2 s in the soak where the monitor, which sees each run, saw 149 ms). */
    __atomic_store_n(&w->away_since, gp_now(), __ATOMIC_RELEASE);
}

/* From the scheduler context: run the head of the run queue, and whoever it
 * switches to directly, within a fresh budget. 0 when nobody was ready. */
/* scheduler context */
static int run_head(struct gp_worker *w)
{
    struct gp_list *n = gp_list_pop(&w->runq);
    if (!n) return 0;
    w->budget = fresh_budget();
    switch_to(gp_container(n, struct gp_gthread, runq));
    return 1;
}

/* From an fd event's callback, in the middle of a loop turn: run the ready
 * gthreads now (on_poll does, at every wake). Left on the run queue
 * until the turn ends, a woken gthread has not read its data yet when libuv
 * polls again within the same turn (it does while its event array comes
 * back full, i.e. with more than 1,024 connections ready): the fd is
 * reported again, a callback that costs as much as the request's own, and
 * an acceptor waits while its listen queue overflows. Run at every wake,
 * each request costs two switches (there and back to the callback) where
 * the turn's end would pay one. Returns to the
 * callback once they have all parked, or the budget or a time slice ran out
 * (then the rest wait for the turn's end). */
/* scheduler context (an fd callback); a no-op elsewhere */
/* one of the first few ready gthreads of w could move (stealing) */
static int any_may_leave(struct gp_worker *w)
{
    int looked = 0;
    for (struct gp_list *n = w->runq.next; n != &w->runq && looked < 8; n = n->next, looked++)
        if (gp__may_leave(gp_container(n, struct gp_gthread, runq))) return 1;
    return 0;
}

void gp__run_ready(void)
{
    struct gp_worker *w = GP_ME();
    if (w->cur != &w->sched || gp_list_empty(&w->runq)) return;
    if (GP_UNLIKELY(__atomic_load_n(&w->hungry, __ATOMIC_RELAXED))) gp__hunger(w, 0); /* woken with work */
    if (shuffle_one_in(4)) return; /* GPATCH_SHUFFLE: leave them for the turn's end */
    /* another worker has had nothing to do for a while: leave them for the
     * turn's end, so that the first to end its call sees the others ready
     * behind it and offers itself (gp_offer_self; stealing) -- if one of
     * them could move at all (else nothing is gained by the wait) */
    if (GP_UNLIKELY(__atomic_load_n(&gp__hungry, __ATOMIC_RELAXED)) && !w->deferred && gp__hungry_long() &&
        any_may_leave(w) && !gp__dl_locked_by(w->tid)) {
        w->deferred = 1; /* once a turn: the next wake runs this one, and an acceptor never waits long */
        return;
    }
    /* away from the loop from the first of these runs to the turn's end
     * (loop_turn): the rest of the turn only polls without waiting */
    if (!w->away_since) __atomic_store_n(&w->away_since, gp_now(), __ATOMIC_RELEASE);
    run_head(w);
}


static void batch_turn(struct gp_worker *w);

/* the scheduler context itself: runs the ready, turns the loop */
static _Noreturn void sched_main(transfer_t t)
{
    after_switch(t);
    struct gp_worker *w = GP_ME();
    for (;;) {
        /* the OS thread that owns the worker now has its preemption timer */
        pid_t owner = w->carrier ? w->carrier->tid : w->tid;
        if (GP_UNLIKELY(owner != w->ptimer_tid)) gp__preempt_arm(w, owner);
        batch_turn(w);
        if (GP_UNLIKELY(__atomic_load_n(&gp__hungry, __ATOMIC_RELAXED)) && gp__steal_on) gp__give_away(w);
        if (run_head(w)) {
            if (!gp_list_empty(&w->runq) || !gp_list_empty(&w->batch)) {
                loop_turn(w, UV_RUN_NOWAIT);
                gp__signals();
            }
            continue;
        }
        if (__atomic_load_n(&gp__nlive, __ATOMIC_ACQUIRE) == 0) exit(0); /* the last thread called pthread_exit: as glibc */
        if (GP_UNLIKELY(gp_debug_on)) gp_debugf("loop: wait, next timer in %d ms", uv_backend_timeout(&w->loop));
        if (gp__steal_on) gp__hunger(w, 1);
        loop_turn(w, UV_RUN_ONCE);
        if (gp__steal_on) gp__hunger(w, 0);
        gp__signals();
    }
}

/* a new gthread's first frame */
static void gthread_entry(transfer_t t)
{
    after_switch(t);
    errno = 0;
    *__h_errno_location() = 0;
    struct gp_gthread *g = GP_ME()->cur;
    if (g->tcb) gp__tls_thread_start();
    /* the program's code runs from here to the return (handoff.c: only
     * then may the worker be handed on from under this gthread) */
    __atomic_store_n(&g->in_fn, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    void *ret = g->fn(g->arg);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&g->in_fn, 0, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    /* In a child forked by this gthread the runtime was reset: this is now
     * the process's only thread, and a thread that ends last ends the
     * process, as in glibc. If the child has started a runtime since, this
     * context is its main gthread. */
    if (!gp__w) exit(0);
    if (GP_UNLIKELY(gp__tls.evicted)) gp__rejoin(); /* it computed to its end away from the worker */
    gp_thread_exit(ret);
}

/* ---- workers ------------------------------------------------------------- */

/* A worker's own parts: its loop (async handle included), its scheduler
 * stack and context, its queues. Main's thread, before any worker runs. */
int gp__worker_init(struct gp_worker *w, int index)
{
    gp_list_init(&w->runq);
    gp_list_init(&w->batch);
    gp_list_init(&w->all);
    gp_list_init(&w->remote_ready);
    w->index = index;
    w->shuffle_state = shuffle_seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(index + 1));
    if (!w->shuffle_state) w->shuffle_state = 1;
    if (gp__fd_worker_init(w) != 0) return -EAGAIN;
    if (gp__loop_init(w) != 0) return -EAGAIN;
    size_t pg = gp__page();
    w->sched_stack_size = SCHED_STACK;
    w->sched_stack = mmap(NULL, SCHED_STACK + pg, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (w->sched_stack == MAP_FAILED) return -EAGAIN;
    mprotect(w->sched_stack, pg, PROT_NONE);
    w->sched.ctx = make_fcontext((char *)w->sched_stack + pg + SCHED_STACK, SCHED_STACK, sched_main);
    w->sched.magic = GT_MAGIC;
    w->sched.id = -1;
    w->sched.home = w;
    return 0;
}

/* The OS thread of worker w (index > 0): it only ever runs w's scheduler.
 * With own TLS the scheduler stands on this thread's own block whenever a
 * dead gthread's goes (w->idle_tcb). */
int gp__start(void)
{
    uintptr_t inherited = gp_inherited_self();
    struct gp_worker *w = &the_worker;
    memset(w, 0, sizeof *w);
    /* The process has threads from now on, as glibc's pthread_create says
     * to the code that reads this (libstdc++'s static-init guards and
     * shared_ptr counts, inlined into the program: non-atomic, and a
     * guard found busy throws recursive_init_error, when it reads 1). Only
     * our own OS threads, where some are made (workers, a monitor), set it
     * before: with one worker and shared TLS it stayed 1, and preempted
     * green threads met there (rel_cxx_static: abort). */
    __libc_single_threaded = 0;
    int r = gp__worker_init(w, 0);
    if (r) return r;
    w->os_thread = (uintptr_t)R(pthread_self)();
    w->tid = gettid();
    gp__tls_setup(gp__tls_want);
    gp__code_ranges_init(); /* the deliver signal's look at an interrupted pc */
    errno_off = (char *)&errno - (char *)gp__tls_current(); /* the same in every block */
    h_errno_off = (char *)__h_errno_location() - (char *)gp__tls_current();
    gp__w = w;
    gp__workers[0] = w;
    gp__nworkers = 1;
    struct gp_gthread *g0 = gp__gthread_alloc(w);
    if (!g0) {
        gp__w = NULL;
        return -EAGAIN;
    }
    g0->handle = inherited ? inherited : w->os_thread; /* main keeps its pthread_t */
    g0->tcb = gp__tls_mode == GP_TLS_OWN ? gp__tls_current() : NULL; /* and its own TLS */
    w->idle_tcb = g0->tcb; /* the scheduler's block when a dead one goes: main's never is */
    g0->id = 0;
    g0->home = w;
    gp__set_state(g0, GT_BIT(GT_FREE), GT_RUNNING);
    uv_timer_init(&w->loop, &g0->timer);
    g0->timer.data = g0;
    g0->tm = &g0->timer;
    gp_list_push(&w->all, &g0->all);
    w->g0 = g0;
    w->cur = g0;
    gp__nlive = 1;
    w->nhome = 1;
    w->next_id = 1;
    w->tls = &gp__tls;
    w->away_since = gp_now(); /* main is running, away from the loop */
    gp__tls.worker = w;
    gp__update_managed();
    gp__preempt_start(w); /* before the workers: their schedulers make their timers */
    int want = gp__workers_wanted();
    if (want > 1) gp__workers_start(want);
    gp__monitor_start(w);
    gp__handoff_start(w);
    return 0;
}

/* ---- creating and ending green threads (the rest of the pthread-facing
 * operations are in thread.c) ---------------------------------------------- */

static int broken; /* the runtime could not start: the program runs unpatched */

/* any thread (answers 0 where a gthread may not be created) */
int gp_can_spawn(void)
{
    gp_enter();
    struct gp_worker *w = GP_ME();
    if (GP_UNLIKELY(broken)) return 0;
    if (w) return w->cur != &w->sched;
    /* not started: only the process's main thread becomes the worker */
    return !gp__w && gettid() == getpid();
}

/* any thread */
int gp_is_current_gthread(void)
{
    gp_enter();
    struct gp_worker *w = GP_ME();
    return w && w->cur != &w->sched;
}

/* gthread only, or the main thread before the runtime started (gp_can_spawn) */
int gp_thread_create(uintptr_t *out, const struct gp_thread_attr *a, void *(*fn)(void *), void *arg)
{
    if (!gp__w) {
        int r = gp__start();
        if (r) {
            broken = 1;
            gp_debugf("could not start the runtime (%s); the program runs unpatched, on OS threads",
                      strerror(-r));
            return -ENOSYS; /* the shim falls back to the real pthread_create */
        }
    }
    /* EAGAIN past the limit, as stock at RLIMIT_NPROC or the kernel's task limits */
    if (__atomic_load_n(&gp__nlive, __ATOMIC_RELAXED) >= gp__thread_limit()) return -EAGAIN;
    struct gp_worker *me = GP_ME();
    struct gp_worker *w = gp__place();
    struct gp_gthread *g = gp__gthread_alloc(w);
    if (!g) return -EAGAIN;
    g->home = w; /* before anything can free it: its record goes back to w's list (coro.c) */
    if (a->stack_addr) {
        g->stack_lo = a->stack_addr;
        g->stack_size = a->stack_size;
    } else {
        if (!gp__default_stack) gp__default_stack = 8u << 20; /* before our constructor ran */
        int r = gp__stack_alloc(g, a->stack_size ? a->stack_size : gp__default_stack);
        if (r) {
            gp__gthread_free(g);
            return r;
        }
    }
    if (gp__tls_mode == GP_TLS_OWN && !(g->tcb = gp__tls_new())) {
        gp__stack_release(g);
        gp__gthread_free(g);
        return -EAGAIN;
    }
    __atomic_add_fetch(&w->nhome, 1, __ATOMIC_RELAXED);
    g->fn = fn;
    g->arg = arg;
    g->detached = a->detached;
    g->sigmask = a->sigmask;
    g->leaving = 0;
    g->id = __atomic_fetch_add(&gp__w->next_id, 1, __ATOMIC_RELAXED);
    g->ctx = make_fcontext((char *)g->stack_lo + g->stack_size, g->stack_size, gthread_entry);
    gp__set_state(g, GT_BIT(GT_FREE), GT_READY);
    gp__rec_lock(); /* the list of every live gthread (signals, fork, dlopen) */
    gp_list_push(&gp__w->all, &g->all);
    gp__rec_unlock();
    int alive = __atomic_add_fetch(&gp__nlive, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&gp__stats.created, 1, __ATOMIC_RELAXED);
    unsigned long peak = __atomic_load_n(&gp__stats.peak_alive, __ATOMIC_RELAXED);
    while ((unsigned long)alive > peak &&
           !__atomic_compare_exchange_n(&gp__stats.peak_alive, &peak, (unsigned long)alive, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    gp__update_managed();
    /* the program's pthread_t: stored before g can run anywhere (the post
     * below, or our next switch), as glibc stores it before its clone; a
     * child that reads its creator's variable finds itself there */
    *out = g->handle;
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d created on worker %d, stack %zu KiB", g->id, w->index, g->stack_size >> 10);
    if (w == me) gp__adopt(w, g);
    else gp__xpost(w, g, g->id, GP_X_NEW, 0); /* the last touch: it may run (and exit) at once */
    return 0;
}

/* gthread only */
void gp_thread_exit(void *ret)
{
    struct gp_worker *w = GP_ME();
    struct gp_gthread *g = w->cur;
    GP_ASSERT(g != &w->sched);
    gp__signals_before_exit(g); /* what it lets in runs before its exit, as the kernel's (sigthread.c) */
    /* as glibc at a thread's exit: thread_local destructors, then the keys' */
    if (g->tcb) gp__tls_run_dtors();
    if (g->tsd) gp__tsd_run_dtors(g);
    if (g->tcb) gp__tls_freeres(); /* then what glibc frees of its own at a thread's exit */
    gp__owner_drop(g);
    g->ret = ret;
    w = GP_ME(); /* the destructors ran program code: it may have moved (stealing) */
    __atomic_sub_fetch(&gp__nlive, 1, __ATOMIC_ACQ_REL);
    __atomic_sub_fetch(&w->nhome, 1, __ATOMIC_RELAXED);
    gp__thread_dying(g); /* GT_DEAD, off the list of live ones; wakes whoever joins it */
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d exits", g->id);
    if (g->tcb) gp__tls_keep_cache(); /* nothing may allocate after this */
    switch_to(next_to_run());
    gp__fatal("a dead green thread was resumed");
}

/* gthread only; a cancellation point */
int gp_sleep(gp_deadline dl)
{
    struct gp_gthread *g = gp__call_begin();
    int r;
    for (;;) { /* a spurious wake-up does not end a sleep */
        r = gp__park("sleep", dl, GP_NORESTART | GP_CANCELPT);
        if (r == -ECANCELED) gp__cancel_exit();
        if (r == -EINTR) break;
        if (r == -ETIMEDOUT || dl < 0 || gp_now() >= dl) {
            r = 0;
            break;
        }
    }
    gp__call_end(g);
    return r;
}

/* the child of a fork, in its only thread, before anything else runs */
void gp_fork_child(void)
{
    struct gp_worker *w = GP_ME();
    if (!w && gp__tls.evicted) w = ((struct gp_gthread *)gp__tls.evicted)->home; /* forked away from its worker (hand-off) */
    if (!w) w = gp__w; /* a child forked by an OS thread that is not a worker's */
    gp__thread_fork_reset(); /* new thread ids: before anything reads them */
    gp__sigwait_fork_reset();
    gp__catcher_fork_reset(); /* the signal catcher was the parent's (sigthread.c) */
    gp__handoff_fork_reset(); /* the spares are the parent's */
    gp__preempt_fork_reset(); /* and the preemption timers (none is inherited) */
    gp__files_fork_reset(); /* glibc's fork unlocks every stream in the child */
    gp__tls_fork_reset();
    if (!w) return;
    if (gp__tls.evicted) w->cur = gp__tls.evicted; /* forked away from the worker: it is the child */
    /* a worker other than main's blocks asynchronous signals: the child is
     * a plain process again, with main's mask (what it execs inherits it) */
    if (w->index > 0) R(pthread_sigmask)(SIG_SETMASK, gp__workers_os_mask(), NULL);
    gp__thread_fork_child(w); /* identity, and the other gthreads are gone */
    /* The child keeps the calling gthread only, now a plain thread; the
     * loops' epoll instances are shared with the parent and must not be
     * touched: drop our copies of their fds and start afresh on demand.
     * The other workers' OS threads do not exist here: their records stay,
     * unused. */
    for (int i = 0; i < gp__nworkers; i++) {
        struct gp_worker *o = gp__workers[i];
        if (!o) continue;
        R(close)(o->loop.backend_fd);
        R(close)(o->loop.async_io_watcher.fd);
        if (o->loop.async_wfd >= 0 && o->loop.async_wfd != o->loop.async_io_watcher.fd) R(close)(o->loop.async_wfd);
        gp__workers[i] = NULL;
    }
    gp__nworkers = 0;
    gp__nlive = 0;
    gp__hungry = 0; /* the workers that were hungry are the parent's */
    gp__naway = 0;
    gp__steal_on = 0;
    gp__fd_fork_reset();
    gp__sync_fork_reset();
    gp__pool_fork_reset();
    gp__w = NULL;
    memset(&gp__tls, 0, sizeof gp__tls);
}


/* gthread only. A preemption point, at hooked calls that did not park (an unlock, a post, a
 * read that found data): a green thread that has kept the worker for a time
 * slice goes around the loop, so that timers fire and the others run. Without
 * it a thread that never has to wait starves everyone (a CPython thread
 * feeding itself work never lets a sleeping main thread wake). The coarse
 * clock is read from the vDSO's memory, not a system call. */
void gp_preempt_check(void)
{
    if (GP_UNLIKELY(gp__tls.evicted)) { /* left behind by a hand-off: come back first */
        gp__rejoin();
        return;
    }
    struct gp_worker *w = GP_ME();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    /* GPATCH_SHUFFLE: a random slice, from nothing to the full one */
    int64_t slice = GP_UNLIKELY(gp__shuffle_on) ? (int64_t)(shuffle_next() % SLICE_NS) : SLICE_NS;
    if ((gp_deadline)ts.tv_sec * GP_NSEC + ts.tv_nsec - w->away_since < slice) return;
    struct gp_gthread *g = w->cur;
    gp__set_state(g, GT_BIT(GT_RUNNING), GT_READY);
    g->movable = 1; /* a clean point: the call it was in is over */
    runq_push(w, g);
    w->budget = 0;
    switch_to(&w->sched);
}

/* gthread only, in preempt.c's signal handler: the current gthread,
 * interrupted at a safe point after a time slice, goes to the run queue's
 * tail, movable (it holds nothing of its worker's: it was in its own code,
 * in no call), and the scheduler runs the others and turns the loop. It
 * comes back here when its turn comes, perhaps on another worker's OS
 * thread (stealing), and runs what was kept for it meanwhile, as a yield
 * does. */
void gp__preempt_yield(void)
{
    struct gp_worker *w = GP_ME();
    struct gp_gthread *g = w->cur;
    __atomic_add_fetch(&gp__stats.preempts, 1, __ATOMIC_RELAXED);
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d is preempted after its time slice", g->id);
    gp__set_state(g, GT_BIT(GT_RUNNING), GT_READY);
    g->movable = 1;
    if (gp_list_empty(&w->batch)) w->batch_since = gp_now();
    gp_list_push(&w->batch, &g->runq);
    w->budget = 0;
    switch_to(&w->sched);
    if (GP_UNLIKELY(gp__deliverable(g))) gp__deliver_kept(g);
}

/* scheduler context, before it picks who runs: the preempted (w->batch)
 * come after every other ready gthread, as the kernel lets a thread that
 * wakes run before one that computes -- so a request readied by the loop is
 * not queued behind a slice of computing. The oldest of them joins the run
 * queue's head when nothing else is ready, or once it has waited a slice
 * (no computing thread starves under a stream of requests), or all of them
 * the tail when another worker is hungry (stealing takes from there). */
static void batch_turn(struct gp_worker *w)
{
    if (GP_LIKELY(gp_list_empty(&w->batch))) return;
    if (GP_UNLIKELY(__atomic_load_n(&gp__hungry, __ATOMIC_RELAXED)) && gp__steal_on) {
        for (struct gp_list *n; (n = gp_list_pop(&w->batch));) gp_list_push(&w->runq, n);
        return;
    }
    if (!gp_list_empty(&w->runq) && gp_now() - w->batch_since < gp__preempt_ms * 1000000LL) return;
    gp_list_push(w->runq.next, gp_list_pop(&w->batch));
    w->batch_since = gp_now();
}

/* gthread only, at a preemption point while a worker is hungry (the
 * essay's "Stealing"): the same clean point, so if another gthread is ready
 * here and this one may move, it goes to the run queue's tail, movable, and
 * the scheduler gives it away (gp__give_away looks from the tail). This is
 * how a gthread woken by I/O (or a lock, a post) moves: its call ends on the
 * worker it parked on and the program goes on on the hungry one's OS
 * thread. Otherwise the preemption point as usual. */
void gp_offer_self(void)
{
    if (GP_UNLIKELY(gp__tls.evicted)) { /* left behind by a hand-off (no worker here): come back first */
        gp__rejoin();
        return;
    }
    struct gp_worker *w = GP_ME();
    struct gp_gthread *g = w->cur;
    if (gp_list_empty(&w->runq) || !gp__may_leave(g) || !gp__hungry_long() || gp__dl_locked_by(w->tid)) {
        if (!(++gp__tls.preempt_calls & 7)) gp_preempt_check();
        return;
    }
    gp__set_state(g, GT_BIT(GT_RUNNING), GT_READY);
    g->movable = 1;
    g->offered = 1;
    runq_push(w, g);
    w->budget = 0;
    switch_to(&w->sched);
    g->offered = 0;
}
