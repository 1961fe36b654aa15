# gpatch — build, demo, tests.  `make demo` and `make test` install what is
# missing first (Debian packages only), so a fresh Debian 12 machine needs
# nothing else.
CC      ?= gcc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wno-unused-parameter
BUILD   := build
PREFIX  ?= /usr/local
VERSION := 0.1.0

LIB_SRC := $(wildcard shim/*.c) $(wildcard runtime/*.c)
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
BOOST_A := /usr/lib/x86_64-linux-gnu/libboost_context.a

PROG_SRC := $(wildcard tests/progs/*.c)
PROGS    := $(patsubst tests/progs/%.c,$(BUILD)/progs/%,$(filter-out tests/progs/fortified.c,$(PROG_SRC))) \
            $(BUILD)/progs/fortified $(BUILD)/progs/cxx_threads $(BUILD)/progs/tls_cxx
PROGS    += $(BUILD)/progs/rel_cxx_throw $(BUILD)/progs/rel_cxx_static
TEST_SRC := $(wildcard tests/unit/*.c) $(wildcard tests/e2e/*.c)
RT_SRC   := $(wildcard runtime/*.c)

DEBS := libuv1-dev libboost-context-dev libcriterion-dev pkg-config gcc g++ make binutils python3 \
        memcached libmemcached-tools redis-server redis-tools strace liburing-dev

.PHONY: test-vm test-vm-quick vm-deps all lib progs deps demo test check-tests install uninstall clean bench bench-build bench-deps profile test-python \
        python-deps real-deps test-real stress stress-build test-tsan test-asan soak soak-build \
        posix-deps test-posix test-posix-quick
all: lib progs
lib: $(BUILD)/libgpatch.so

deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD)/obj/%.o: %.c $(wildcard runtime/*.h shim/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -D_GNU_SOURCE -c $< -o $@

# fcontext assembly only: the three members of Debian's libboost_context.a
$(BUILD)/obj/fcontext/.done: $(BOOST_A)
	@mkdir -p $(dir $@)
	cd $(dir $@) && ar x $(BOOST_A) make_x86_64_sysv_elf_gas.o jump_x86_64_sysv_elf_gas.o ontop_x86_64_sysv_elf_gas.o
	touch $@
FCTX := $(BUILD)/obj/fcontext/make_x86_64_sysv_elf_gas.o $(BUILD)/obj/fcontext/jump_x86_64_sysv_elf_gas.o \
        $(BUILD)/obj/fcontext/ontop_x86_64_sysv_elf_gas.o

# the version script lists every GP_EXPORT of shim/: regenerated when they change
shim/gpatch.map: $(wildcard shim/*.c) shim/gen-map.sh
	sh shim/gen-map.sh

$(BUILD)/libgpatch.so: $(LIB_OBJ) $(BUILD)/obj/fcontext/.done shim/gpatch.map
	$(CC) -shared $(LIB_LDFLAGS) -o $@ $(LIB_OBJ) $(FCTX) -Wl,--version-script=shim/gpatch.map \
	  -Wl,-z,noexecstack -Wl,-z,now -luv -ldl -lpthread

# runtime/ calls libc only through the real-function table (runtime/real.h):
# a call by a name the library exports binds to gpatch's own hook (a futex
# traced as the program's; gp_real_init recursing into itself). The link
# fails on any undefined symbol of a runtime/ object that shim/gpatch.map
# exports, naming the object and the symbol.
RT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(RT_SRC))
$(BUILD)/obj/runtime/no-hooked-calls: $(RT_OBJ) shim/gpatch.map
	@sed -n '/global:/,/local:/s/^ *\([A-Za-z_0-9]*\);$$/\1/p' shim/gpatch.map | LC_ALL=C sort -u >$@.exports; \
	bad=0; for o in $(RT_OBJ); do \
	  for s in $$(nm -u $$o | awk '{print $$NF}' | sed 's/@.*//' | LC_ALL=C sort -u | LC_ALL=C comm -12 - $@.exports); do \
	    echo "$$o calls $$s, which libgpatch.so exports (its own hook): call R($$s) (runtime/real.h)"; bad=1; \
	  done; done; rm -f $@.exports; [ $$bad = 0 ] && touch $@
$(BUILD)/libgpatch.so: $(BUILD)/obj/runtime/no-hooked-calls
# tests/e2e/test_real.c: the library with a required real function absent
# (runtime/real.c's GP_REAL_TEST_ABSENT), which must say so and abort
$(BUILD)/tests/libgpatch-absent.so: $(LIB_OBJ) $(BUILD)/obj/fcontext/.done shim/gpatch.map
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -D_GNU_SOURCE -DGP_REAL_TEST_ABSENT \
	  -c runtime/real.c -o $(BUILD)/tests/real-absent.o
	$(CC) -shared -o $@ $(filter-out $(BUILD)/obj/runtime/real.o,$(LIB_OBJ)) $(BUILD)/tests/real-absent.o $(FCTX) \
	  -Wl,--version-script=shim/gpatch.map -Wl,-z,noexecstack -Wl,-z,now -luv -ldl -lpthread
$(BUILD)/tests/gptest: $(BUILD)/tests/libgpatch-absent.so

# the subjects: ordinary programs, built stock, never linked to us
# (the subjects pass bad arguments on purpose: those warnings are expected)
PROG_WARN := -Wall -Wno-nonnull -Wno-stringop-overflow -Wno-stringop-overread
$(BUILD)/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g $(PROG_WARN) -o $@ $< -lpthread -lm
$(BUILD)/nss/libnss_systemd.so.2: tests/nss/slow_nss.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -shared -fPIC -o $@ $<
$(BUILD)/progs/static_hello: tests/progs/static_hello.c
	@mkdir -p $(dir $@)
	$(CC) -static -O1 -o $@ $<
$(BUILD)/progs/fortified: tests/progs/fortified.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -D_FORTIFY_SOURCE=2 -Wall -o $@ $< -lpthread
# liburing's headers come with `make deps`; without them the subject says so (exit 77)
$(BUILD)/progs/uring_wait: tests/progs/uring_wait.c
	@mkdir -p $(dir $@)
	if [ -f /usr/include/liburing.h ]; then $(CC) -std=gnu11 -O1 -g $(PROG_WARN) -o $@ $< -luring -lpthread; \
	else $(CC) -std=gnu11 -O1 -g -DNO_LIBURING -o $@ $<; fi
$(BUILD)/progs/cxx_threads: tests/progs/cxx/cxx_threads.cpp
	@mkdir -p $(dir $@)
	g++ -std=c++17 -O2 -Wall -o $@ $< -pthread
$(BUILD)/progs/tls_cxx: tests/progs/cxx/tls_cxx.cpp
	@mkdir -p $(dir $@)
	g++ -std=c++17 -O2 -Wall -o $@ $< -pthread
$(BUILD)/progs/rel_cxx_throw $(BUILD)/progs/rel_cxx_static: $(BUILD)/progs/%: tests/progs/cxx/%.cpp
	@mkdir -p $(dir $@)
	g++ -std=c++17 -O1 -g -Wall -o $@ $< -pthread
# own TLS subjects (issue 10) at -O2; tls_dlopen loads the two builds of
# tests/progs/tlsmod/tls_mod.c (global-dynamic and initial-exec TLS)
$(BUILD)/progs/tls_dlopen: tests/progs/tls_dlopen.c $(BUILD)/progs/libtls_gd.so $(BUILD)/progs/libtls_ie.so
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(PROG_WARN) -o $@ $< -lpthread -ldl
$(BUILD)/progs/libtls_gd.so: tests/progs/tlsmod/tls_mod.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -fPIC -shared -o $@ $<
$(BUILD)/progs/libtls_ie.so: tests/progs/tlsmod/tls_mod.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -fPIC -shared -ftls-model=initial-exec -o $@ $<
$(BUILD)/progs/tls_sys: tests/progs/tls_sys.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -fstack-protector-all $(PROG_WARN) -o $@ $< -lpthread
$(BUILD)/progs/tls_threads $(BUILD)/progs/tls_stdio: $(BUILD)/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(PROG_WARN) -o $@ $< -lpthread
progs: $(PROGS) $(BUILD)/nss/libnss_systemd.so.2

# one Criterion runner: unit tests link the runtime (never the hooks), e2e
# tests run the progs above with LD_PRELOAD in the child's environment only
$(BUILD)/tests/gptest: $(TEST_SRC) $(RT_SRC) $(BUILD)/obj/fcontext/.done tests/e2e/harness.h tests/tools/program_threads.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -o $@ $(TEST_SRC) $(RT_SRC) $(FCTX) \
	  -Iruntime -lcriterion -luv -ldl -lpthread

# The whole suite twice: with one worker (the default) and with two
# (GPATCH_WORKERS; with own TLS, stealing on). Nothing is left out of the
# second pass: sched_contract/shuffled_schedules_same_results was, until the
# lost wake-up it hung on was found (a store-load reordering around
# uv_async_send's first look at its flag: runtime/loop.c, gp__async_send).
check-tests: all $(BUILD)/tests/gptest
	@st=0; GPATCH_WORKERS=1 GPATCH_ROOT=$(CURDIR) $(BUILD)/tests/gptest -j2 --timeout 120 || st=1; \
	echo "== the suite again with two workers (GPATCH_WORKERS=2)"; \
	GPATCH_WORKERS=2 GPATCH_ROOT=$(CURDIR) $(BUILD)/tests/gptest -j2 --timeout 120 || st=1; exit $$st

# `make test` is what CI runs (.ci/run): the Criterion suite, then the short
# stress (STRESS_QUICK=1, a few minutes), the 30 s soak, MariaDB, the
# emulated machine's quick run (test-vm-quick) and the Open POSIX subset
# (test-posix-quick); all run, and it fails if any did. The long versions: `make stress`, `make soak`.
test: deps
	@st=0; $(MAKE) check-tests || st=1; \
	$(MAKE) stress STRESS_QUICK=1 || st=1; \
	$(MAKE) soak SOAK_SECS=30 || st=1; \
	$(MAKE) test-real || st=1; \
	$(MAKE) test-vm-quick || st=1; \
	$(MAKE) test-posix-quick || st=1; \
	[ $$st = 0 ] || echo "make test: some part failed (see above)"; exit $$st

demo: deps
	$(MAKE) all
	bash tests/demo.sh

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/gpatch $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 $(BUILD)/libgpatch.so $(DESTDIR)$(PREFIX)/lib/gpatch/libgpatch.so
	install -m 0755 tools/gpatch-check $(DESTDIR)$(PREFIX)/lib/gpatch/gpatch-check
	install -m 0755 gpatch $(DESTDIR)$(PREFIX)/bin/gpatch
	install -m 0644 man/gpatch.1 $(DESTDIR)$(PREFIX)/share/man/man1/gpatch.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/gpatch $(DESTDIR)$(PREFIX)/lib/gpatch/libgpatch.so \
	  $(DESTDIR)$(PREFIX)/lib/gpatch/gpatch-check $(DESTDIR)$(PREFIX)/share/man/man1/gpatch.1
	-rmdir $(DESTDIR)$(PREFIX)/lib/gpatch

clean:
	rm -rf $(BUILD) build-asan build-tsan

$(BUILD)/tools/%: tests/tools/%.c tests/tools/program_threads.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -o $@ $<
progs: $(BUILD)/tools/loadgen

# ---- benchmarks (issue: bench) ------------------------------------------------
BENCH_DEBS := wrk gnuplot-nox python3 util-linux valgrind python3-gevent golang-go
$(BUILD)/bench/%: bench/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -o $@ $< -lpthread
$(BUILD)/bench/%: bench/micro/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -o $@ $< -lpthread
$(BUILD)/bench/uv_http: bench/native/uv_http.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -o $@ $< -luv
$(BUILD)/bench/raw_fcontext: bench/micro/raw_fcontext.c $(BUILD)/obj/fcontext/.done
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -o $@ $< $(FCTX)
$(BUILD)/bench/floor_preload.so: bench/micro/floor_preload.c $(BUILD)/obj/fcontext/.done
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -fPIC -shared -o $@ $< $(FCTX)
# the Go peer: Debian's go, standard library only, its cache and GOPATH inside build/ (offline, no modules)
GO := /usr/bin/go
$(BUILD)/bench/go_keepalive: bench/peers/go_keepalive.go
	@mkdir -p $(dir $@) $(abspath $(BUILD))/go/cache $(abspath $(BUILD))/go/path
	GOCACHE=$(abspath $(BUILD))/go/cache GOPATH=$(abspath $(BUILD))/go/path GOFLAGS= GO111MODULE=off \
	  GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 $(GO) build -o $@ $<
bench-build: all $(BUILD)/bench/http_keepalive $(BUILD)/bench/uv_http $(BUILD)/bench/switch \
             $(BUILD)/bench/spawn $(BUILD)/bench/memory $(BUILD)/bench/raw_fcontext \
             $(BUILD)/bench/floor_preload.so $(BUILD)/bench/stuck_server $(BUILD)/bench/fsbase \
             $(BUILD)/bench/go_keepalive
bench-deps: deps
	@missing=""; for p in $(BENCH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
bench: bench-deps real-deps
	$(MAKE) bench-build
	ulimit -n $$(ulimit -Hn); /usr/bin/python3 bench/run.py
# just the callgrind count (instructions per keep-alive request, gpatch and native), printed; writes nothing
profile: bench-deps
	$(MAKE) bench-build
	/usr/bin/python3 bench/run.py --profile

# ---- a real database server, stock vs gpatch in one run (not part of `make test`) --
# MariaDB from Debian; each run starts its own servers from a throwaway datadir
# on their own socket and port, so a packaged service left running does not matter
REAL_DEBS := mariadb-server mariadb-client
real-deps: deps
	@missing=""; for p in $(REAL_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
test-real: real-deps
	$(MAKE) all
	/usr/bin/python3 tests/real/mariadb.py

# ---- CPython's own test suite, stock vs gpatch (long: not part of `make test`) --
python-deps: deps
	@dpkg -s libpython3.11-testsuite >/dev/null 2>&1 || { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libpython3.11-testsuite >/dev/null; }
test-python: python-deps
	$(MAKE) all
	/usr/bin/python3 tests/python/run.py

# ---- the Open POSIX Test Suite's thread conformance tests, stock vs gpatch ----------
# Debian's posixtestsuite source, fetched with apt-get source through a private
# deb-src list in build/posix-cache/ (the system's apt config is untouched);
# writes docs/posix.md; exits 1 on a difference tests/posix/known.txt does not
# list. POSIX_WORKERS, POSIX_TLS, POSIX_FILTER, POSIX_TIMEOUT: tests/posix/run.py.
POSIX_DEBS := dpkg-dev debian-archive-keyring
posix-deps: deps
	@missing=""; for p in $(POSIX_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
test-posix: posix-deps
	$(MAKE) all
	/usr/bin/python3 tests/posix/run.py
# `make test`'s subset (about a minute): families this project fixed or that
# hung, without the tests known.txt lists
POSIX_QUICK := pthread_once*,pthread_mutex_trylock*,pthread_kill*,pthread_spin_lock*,pthread_equal*
test-posix-quick: posix-deps
	$(MAKE) all
	POSIX_SKIP_KNOWN=1 POSIX_FILTER='$(POSIX_QUICK)' /usr/bin/python3 tests/posix/run.py

# ---- stress: subjects and CPython under many GPATCH_SHUFFLE seeds (tests/stress/run.py)
# `make stress` (defaults: about 25 min on the idle 2-core machine, 55 min shared), `make stress STRESS_QUICK=1`
# (a few minutes, for CI); STRESS_SEEDS, STRESS_SEED0, STRESS_REPEATS, STRESS_PY_REPEATS,
# STRESS_PY_MODULES, STRESS_JOBS: see tests/stress/run.py.
STRESS_VARS := STRESS_QUICK STRESS_SEEDS STRESS_SEED0 STRESS_REPEATS STRESS_PY_REPEATS STRESS_PY_MODULES STRESS_JOBS STRESS_PY_TIMEOUT
export $(STRESS_VARS)
$(BUILD)/stress/%: tests/stress/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -o $@ $< -lpthread
stress-build: all $(BUILD)/stress/pool_storm $(BUILD)/stress/sync_storm
stress: python-deps
	$(MAKE) stress-build
	/usr/bin/python3 tests/stress/run.py

# ---- sanitizers -----------------------------------------------------------------
# `make test-tsan`: the runtime's unit tests (tests/unit/*.c + runtime/*.c, no
# preload) under ThreadSanitizer. runtime/sched.c tells TSan about each stack
# switch as a fiber switch (GP_TSAN). Criterion's runner cannot start under TSan
# (its arena probe hits TSan's shadow), so the tests compile against the small
# stand-in of tests/tsan. Left out, each for a reason that is not a race:
#   runtime/many_gthreads: 10,000 gthreads are 10,000 TSan fibers (minutes);
#   runtime/timers_wake_in_deadline_order: it assumes three gthreads start
#     within 10 ms of each other; a TSan fiber's first switch is slower;
#   tls/*: they load other threads' TLS blocks, and TSan keeps its own
#     per-thread state in TLS (the TSan build runs with shared TLS);
#   workers/close_by_one_worker_wakes_a_waiter_on_another: the test closes an
#     fd that a gthread of the other worker waits on, by design; TSan reports
#     that close against the other worker's epoll_ctl on the number (an fd's
#     lifetime, not memory: the runtime's answer is fdtable.c's foreign queue).
TSAN_EXCLUDE := runtime/many_gthreads runtime/timers_wake_in_deadline_order \
                tls/a_block_has_its_own_tls_errno_and_descriptor tls/blocks_are_independent_and_reused_caches_work \
                workers/close_by_one_worker_wakes_a_waiter_on_another
build-tsan/unit: $(wildcard tests/unit/*.c) $(RT_SRC) $(wildcard runtime/*.h) tests/tsan/runner.c \
                 tests/tsan/criterion/criterion.h $(BUILD)/obj/fcontext/.done
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -fsanitize=thread $(WARN) -Wno-format-zero-length -D_GNU_SOURCE -DGP_TSAN -Itests/tsan -Iruntime -o $@ \
	  tests/tsan/runner.c $(wildcard tests/unit/*.c) $(RT_SRC) $(FCTX) -luv -ldl -lpthread
test-tsan: deps
	$(MAKE) build-tsan/unit
	TSAN_OPTIONS="exitcode=66 second_deadlock_stack=1 $(TSAN_OPTIONS)" build-tsan/unit \
	  $(foreach t,$(TSAN_EXCLUDE),--exclude $(t))

# `make test-asan`: the e2e suite with the library built with AddressSanitizer +
# UBSan in build-asan/ (the subjects and the runner are the ordinary ones). The
# subjects get, through tests/e2e/harness.h's GPATCH_TEST_PRELOAD,
#   LD_PRELOAD="build-asan/asan_keys.so build-asan/libgpatch.so libasan.so"
# gpatch before libasan (verify_asan_link_order=0 allows it): with libasan first,
# its pthread_create interceptor sets up a new ASan thread on the worker's OS
# thread for every green thread and aborts. asan_keys.so gives ASan's own
# pthread key calls to glibc (see there why). No fiber annotations: ASan warns
# once per process that it ignores __asan_handle_no_return on a green thread's
# stack, and detect_stack_use_after_return stays off. Tests that run the
# gpatch wrapper or name build/libgpatch.so themselves use the plain library.
# Any sanitizer report in the log fails the target, even in a test that passed.
# Left out: io_edge's subject hands poll() an invalid pollfd pointer on purpose;
# ASan's own poll interceptor faults on it, stock with libasan preloaded alike.
# And the two runs of rel_cancel_cond: a cancelled green thread unwinds
# (__pthread_unwind_next), ASan's __asan_handle_no_return then takes the green
# thread's stack for the main one's (no fiber annotations) and reports a
# stack-buffer-overflow inside its own sigaltstack interceptor: the false
# positive it warns of. And hand-off of a thread blocked in fgets: libgpatch
# built for ASan (-O1, frame pointers) keeps its own fgets hook's frame under
# libc's, which hand-off rightly refuses (gpatch's code on the stack); the
# release build leaves no frame of its own there.
ASAN_EXCLUDE := differential/io_edge_bad_inputs_and_semantics|sched_contract/cancel_reaches_condition_waiters|sched_contract/shuffled_schedules_same_results|handoff/fgets_on_a_pipe_leaves_the_others_running
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_ENV := GPATCH_ROOT=$(CURDIR) \
  GPATCH_TEST_PRELOAD="$(CURDIR)/build-asan/asan_keys.so $(CURDIR)/build-asan/libgpatch.so $$($(CC) -print-file-name=libasan.so)" \
  ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:detect_stack_use_after_return=0 \
  UBSAN_OPTIONS=print_stacktrace=1
build-asan/asan_keys.so: tests/asan/asan_keys.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -fPIC -shared -o $@ $< -ldl
test-asan: deps
	$(MAKE) all $(BUILD)/tests/gptest build-asan/asan_keys.so
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LIB_LDFLAGS="-fsanitize=address,undefined" build-asan/libgpatch.so
	@$(ASAN_ENV) $(BUILD)/tests/gptest -j2 --timeout 240 --filter '!($(ASAN_EXCLUDE))' >build-asan/e2e.log 2>&1; st=$$?; cat build-asan/e2e.log; \
	if grep -n -E 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|Undefined)|AddressSanitizer: CHECK' build-asan/e2e.log; then \
	  echo "test-asan: sanitizer reports (build-asan/e2e.log)"; exit 1; fi; exit $$st

# ---- the emulated machine: Debian 12's own kernel, an FSGSBASE CPU (tests/vm) ----
# `make test-vm`: boots Debian's linux-image-amd64 (6.1) under qemu-system-x86
# with software emulation, 4 vCPUs, with -cpu max (FSGSBASE: gpatch's defaults
# are own TLS by wrfsbase, hand-off) and with -cpu max,-fsgsbase, and runs
# tests/vm/guest.sh in each: the differential, TLS, worker, hand-off and wake
# suites and a 10,000-connection soak, stock against gpatch. VM_CPUS,
# VM_SUITES, VM_SOAK_SECS narrow it (tests/vm/check.sh). `make test` runs
# test-vm-quick: the differential suite and two preemption tests with 4
# workers on the CPU users have (-cpu max: about 2 minutes here; the CPU
# without FSGSBASE, which this machine is too, and the 10,000-connection
# soak run in the full target only, to keep `make test` within its 15
# minutes). The kernel and busybox are cached in
# build/vm-cache.
VM_DEBS := qemu-system-x86
VM_VARS := VM_CPUS VM_SUITES VM_SOAK_SECS VM_TIMEOUT
export $(VM_VARS)
VM_QUICK_SUITES := @(differential/!(thread_exit_frees_glibc_buffers)|preempt/@(computing_threads_share_the_worker_defaults|the_signal_stays_the_programs))
vm-deps: deps
	@missing=""; for p in $(VM_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
test-vm: vm-deps
	$(MAKE) all $(BUILD)/tests/gptest soak-build
	tests/vm/check.sh
test-vm-quick: vm-deps
	$(MAKE) all $(BUILD)/tests/gptest soak-build
	GPATCH_WORKERS=4 VM_SUITES='$(VM_QUICK_SUITES)' VM_CPUS=max VM_SOAK_SECS=0 tests/vm/check.sh

# ---- soak: 10,000 connections churned against a thread-per-connection server
# under gpatch for SOAK_SECS (default 600; CI: 30); tests/soak/run.py says what it checks.
SOAK_VARS := SOAK_SECS SOAK_CONNS SOAK_MAX_STALL_MS SOAK_RSS_SLACK
export $(SOAK_VARS)
$(BUILD)/soak/%: tests/soak/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -o $@ $< -lpthread
soak-build: lib $(BUILD)/soak/soak_server $(BUILD)/soak/soak_client
soak: deps
	$(MAKE) soak-build
	/usr/bin/python3 tests/soak/run.py
