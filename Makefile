# siogate: make (library and programs), make test, make asan, make fuzz.
# Everything is built under $(BUILD); sources are found by wildcard.

CC      ?= cc
BUILD   ?= build
PKGS     = jansson sqlite3
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2 -g
CFLAGS  += $(OPT) -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(if $(WERROR),-Werror) \
           -Icommon $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldl -lpthread
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined

LIB_SRC  = $(wildcard common/*.c) $(wildcard examples/*/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      = $(BUILD)/libsio.a
# Programs export the whole API so that plugins resolve against them.
WHOLE_LIB = -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive
TEST_SRC = $(wildcard tests/test_*.c)
TESTS    = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HELPERS  = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/helper_*.c))
TEST_LIB = $(BUILD)/tests/cu.o
PLUGINS  = $(patsubst examples/%/,$(BUILD)/examples/%.so,$(dir $(wildcard examples/*/*.c)))
GW_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard gateway/*.c))
GATEWAY  = $(BUILD)/sio-gateway
WSD_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard wsd/*.c))
WSD      = $(BUILD)/sio-wsd
CTL_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard ctl/*.c))
CTL      = $(BUILD)/sioctl

.PHONY: all deps test check wire asan fuzz clean format run interop browser wsd-wire bench-latency flash examples ctl stats faults bench profile
all: $(LIB) $(PLUGINS) $(GATEWAY) $(WSD) $(CTL)

# The Debian packages of make test (scripts/deps.sh: the sets build, run,
# test and bench). A plain make installs nothing; its first run says what
# the build set lacks.
deps:
	@scripts/deps.sh test

$(BUILD)/%.o: %.c $(wildcard common/*.h tests/*.h) | $(BUILD)/.dirs
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/.dirs: Makefile
	@scripts/deps.sh --check build || true
	@mkdir -p $(sort $(dir $(LIB_OBJ) $(TESTS) $(TEST_LIB) $(PLUGINS) $(GW_OBJ))) && touch $@

# The schema is compiled into the store as a C string.
$(BUILD)/schema.inc: schema/schema.sql | $(BUILD)/.dirs
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

$(BUILD)/common/store.o: $(BUILD)/schema.inc
$(BUILD)/common/store.o: CFLAGS += -I$(BUILD)
# The store suite builds old databases from the schema's first sections.
$(BUILD)/tests/test_store.o: $(BUILD)/schema.inc
$(BUILD)/tests/test_store.o: CFLAGS += -I$(BUILD)

$(LIB): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# sio-gateway: the FastCGI/CGI front (gateway/*.c; only fcgi.c sees libfcgi).
$(GW_OBJ): $(wildcard gateway/*.h)
$(GATEWAY): $(GW_OBJ) $(LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $(GW_OBJ) $(WHOLE_LIB) -lfcgi $(LDLIBS)

# sio-wsd: the libwebsockets sidecar (websocket, flashsocket).
$(WSD_OBJ): $(wildcard wsd/*.h) | $(BUILD)/wsd/.dir
$(BUILD)/wsd/.dir:
	@mkdir -p $(dir $@) && touch $@
$(WSD): $(WSD_OBJ) $(LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $(WSD_OBJ) $(WHOLE_LIB) -lwebsockets -lcrypto $(LDLIBS)

# sioctl: the operator's tool over the store (ctl/*.c). It exports the API
# like the servers, because a kick runs the app's on_close, maybe a plugin's.
$(CTL_OBJ): $(wildcard ctl/*.h) | $(BUILD)/ctl/.dir
$(BUILD)/ctl/.dir:
	@mkdir -p $(dir $@) && touch $@
$(CTL): $(CTL_OBJ) $(LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $(CTL_OBJ) $(WHOLE_LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_LIB) $(LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $< $(TEST_LIB) $(WHOLE_LIB) -lcunit $(LDLIBS)

# The wsd protocol suites also link the modules they test, and libcrypto (MD5).
WSD_PROTO_OBJ = $(BUILD)/wsd/hixie.o $(BUILD)/wsd/policy.o
$(BUILD)/tests/test_hixie $(BUILD)/tests/test_policy: $(WSD_PROTO_OBJ)
$(BUILD)/tests/test_hixie $(BUILD)/tests/test_policy: LDLIBS += $(WSD_PROTO_OBJ) -lcrypto

# The seeded fuzz suite runs the targets of tests/fuzz_body.h, which also
# read the routers and the wsd protocol modules.
FUZZ_SEEDED_OBJ = $(BUILD)/gateway/route.o $(BUILD)/wsd/route.o $(WSD_PROTO_OBJ)
$(BUILD)/tests/test_fuzz_seeded.o: CFLAGS += -Igateway -Iwsd
$(BUILD)/tests/test_fuzz_seeded.o: $(wildcard gateway/*.h wsd/*.h)
$(BUILD)/tests/test_fuzz_seeded: $(FUZZ_SEEDED_OBJ)
$(BUILD)/tests/test_fuzz_seeded: LDLIBS += $(FUZZ_SEEDED_OBJ) -lcrypto

$(BUILD)/tests/helper_%: $(BUILD)/tests/helper_%.o $(LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $< $(WHOLE_LIB) $(LDLIBS)

# Each example also builds as a plugin (examples/NAME/NAME.c -> NAME.so).
.SECONDEXPANSION:
$(BUILD)/examples/%.so: examples/%/$$*.c common/siogate.h | $(BUILD)/.dirs
	$(CC) $(CFLAGS) -DSIO_BUILD_PLUGIN -shared -o $@ $<

# Runs every suite even when one fails, then fails if any did.
check: $(TESTS) $(HELPERS) $(PLUGINS)
	@fail=0; for t in $(TESTS); do \
		SIO_TEST_BIN=$(BUILD)/tests $$t || fail=1; done; \
	if [ $$fail = 0 ]; then echo "make test: all suites passed"; \
	else echo "make test: FAILURES"; exit 1; fi

# Everything a user relies on: the CUnit suites, wire scenarios behind
# lighttpd, nginx and Apache, the real client in Node, the demo in chromium.
test: deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory wire
	@$(MAKE) --no-print-directory interop
	@$(MAKE) --no-print-directory flash
	@$(MAKE) --no-print-directory wsd-wire
	@$(MAKE) --no-print-directory examples
	@$(MAKE) --no-print-directory ctl
	@$(MAKE) --no-print-directory stats
	@$(MAKE) --no-print-directory faults
	@$(MAKE) --no-print-directory install-test
	@$(MAKE) --no-print-directory browser

# Wire scenarios: sio-gateway behind real lighttpd, nginx, Apache
# (mod_proxy_fcgi) and Apache mod_cgid on loopback ports; every server runs
# even when one fails. make wire WIRE_SERVERS=nginx picks some.
WIRE_SERVERS ?= lighttpd nginx apache apache-cgi
wire: $(GATEWAY) $(WSD) $(PLUGINS)
	@fail=""; for s in $(WIRE_SERVERS); do \
		tests/wire/gateway.sh $$s $(BUILD) || fail="$$fail $$s"; done; \
	if [ -z "$$fail" ]; then echo "make wire: all servers passed"; \
	else echo "make wire: FAILED:$$fail"; exit 1; fi

# Interop: socket.io-client 0.9.16 (Node) over xhr-polling and websocket
# (sio-wsd) behind lighttpd, nginx, apache and apache-cgi, and the fallback
# from a failing websocket to xhr-polling in one session:
# make interop [SERVERS="nginx apache-cgi fallback"]
interop: $(GATEWAY) $(WSD) $(PLUGINS)
	tests/interop/run-servers.sh $(SERVERS)

# The chat demo in Debian's chromium (headless), two pages exchanging a
# message: over websocket (sio-wsd), over a websocket that fails (fallback to
# polling), over xhr-polling and jsonp-polling; the stats and transports
# pages over websocket, xhr-polling and jsonp-polling, with screenshots in
# var/browser/ (tests/browser/*.test.mjs).
browser: deps $(GATEWAY) $(WSD) $(PLUGINS)
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
	node --test --test-reporter=spec tests/browser/

# flashsocket (hixie-76) and the Flash policy file against sio-wsd's flash
# listener and policy port, behind lighttpd (tests/hixie_client.mjs).
flash: $(GATEWAY) $(WSD) $(PLUGINS)
	node --test --test-reporter=spec tests/flash/

# A wall clock a test steps for the processes it starts (LD_PRELOAD).
CLOCKSTEP = $(BUILD)/tests/clockstep.so
$(CLOCKSTEP): tests/clockstep.c | $(BUILD)/.dirs
	$(CC) $(CFLAGS) -shared -o $@ $< -ldl

# Raw websocket scenarios against sio-wsd with lighttpd + sio-gateway:
# across processes, heartbeats, bad input, a stepped wall clock
# (tests/wsd/, node --test).
wsd-wire: $(GATEWAY) $(WSD) $(PLUGINS) $(CLOCKSTEP) $(CTL)
	node --test --test-reporter=spec --test-concurrency=1 tests/wsd/

# p50/p99 of a packet POSTed through the gateway and delivered on a
# websocket held by sio-wsd, behind lighttpd: make bench-latency [COUNT=2000]
# (Node clients; make bench has it beside socket.io's: loadgen --mode relay)
bench-latency: $(GATEWAY) $(WSD) $(PLUGINS)
	node bench/latency.mjs $(or $(COUNT),2000)

# The side-by-side benchmark, siogate (lighttpd + sio-gateway + sio-wsd,
# and nginx for the long-poll hold) against socket.io 0.9.19
# (bench/peer/server.js), with the C load generator (lws in a libuv loop):
# make bench [ARGS=--quick]. Not part of all or test.
LOADGEN = $(BUILD)/loadgen
$(LOADGEN): bench/loadgen.c | $(BUILD)/.dirs
	$(CC) $(CFLAGS) -o $@ $< -lwebsockets -luv

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(GATEWAY) $(WSD) $(PLUGINS) $(LOADGEN)
	BUILD=$(BUILD) bench/run.sh $(ARGS)

# Where the time goes in the phases whose budgets the servers' work
# bounds (websocket echo and event+ack, handshake + connect, xhr-polling
# echo): CPU and context switches per message, ack or connect of each
# server process, siogate's and the peer's, and with perf(1) a profile of
# each (about 3 min; needs linux-perf, and root or
# kernel.perf_event_paranoid <= 1).
profile:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(GATEWAY) $(WSD) $(PLUGINS) $(LOADGEN)
	BUILD=$(BUILD) bench/run.sh --profile

# The example apps (multiplexed, ackping, rpcping, stats, transports), each
# behind lighttpd with sio-gateway and sio-wsd, with socket.io-client
# 0.9.16 over xhr-polling and websocket (tests/examples/).
examples: $(GATEWAY) $(WSD) $(PLUGINS)
	node --test --test-reporter=spec tests/examples/

# sioctl against lighttpd + sio-gateway + sio-wsd with socket.io-client
# 0.9.16 on websocket and xhr-polling; also the README's SQL from the sqlite3
# shell and ctl/push.php from php-cli (tests/ctl/, node --test).
ctl: $(GATEWAY) $(WSD) $(PLUGINS) $(CTL)
	node --test --test-reporter=spec --test-concurrency=1 tests/ctl/

# Stats and metrics (/socket.io/stats, /socket.io/metrics, stats_view)
# against lighttpd + sio-gateway + sio-wsd with socket.io-client 0.9.16.
stats: $(GATEWAY) $(WSD) $(PLUGINS)
	node --test --test-reporter=spec --test-concurrency=1 tests/stats/

# Faults: a gateway killed under load behind nginx, Apache and lighttpd, and
# sio-wsd killed, with 50 socket.io-client 0.9.16 clients (what they saw is
# printed); the store's faults (tests/faults/).
faults: $(GATEWAY) $(WSD) $(PLUGINS) $(CTL)
	node --test --test-reporter=spec --test-concurrency=1 tests/faults/

asan: deps
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(MAKE) --no-print-directory check BUILD=build-asan \
		OPT="-O1 -g $(SAN)"

# Coverage-guided fuzzing (clang's libFuzzer) of every parser that reads
# input from outside, one binary per target of tests/fuzz_body.h, each run
# for FUZZ_SECONDS from its seeds (tests/fuzz_corpus/<target>/) with its
# dictionary; what it learns stays in $(BUILD)/fuzz/corpus/<target>/, a
# crash ends that target's run and leaves its input as
# $(BUILD)/fuzz/<target>-crash-*; each prints its figures (runs, coverage).
# make fuzz FUZZ_TARGETS="hixie route" FUZZ_SECONDS=600 picks some.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= wire text hixie route request config origin
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -Igateway -Iwsd \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC     = common/buf.c common/config.c common/json.c common/packet.c \
               common/payload.c common/request.c common/text.c \
               gateway/route.c wsd/hixie.c wsd/policy.c wsd/route.c
FUZZ_OBJ     = $(FUZZ_SRC:%.c=$(BUILD)/fuzz/%.o)

$(BUILD)/fuzz/%.o: %.c $(wildcard common/*.h gateway/*.h wsd/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/fuzz_%: tests/fuzz_parsers.c $(wildcard tests/fuzz_*.h) $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -Itests -fsanitize=fuzzer -DFUZZ_NAME='"$*"' \
		-o $@ $< $(FUZZ_OBJ) -ljansson -lcrypto

# Runs every target even when one fails, then fails if any did. The heads
# and the file need room for their "too long" limits (8 KiB).
fuzz: deps $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	@fail=""; for t in $(FUZZ_TARGETS); do \
		case $$t in hixie|config) len=10000;; *) len=4096;; esac; \
		mkdir -p $(BUILD)/fuzz/corpus/$$t; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
		if $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=$$len -timeout=10 -print_final_stats=1 \
			-dict=tests/fuzz_corpus/$$t.dict \
			-artifact_prefix=$(BUILD)/fuzz/$$t- \
			$(BUILD)/fuzz/corpus/$$t tests/fuzz_corpus/$$t \
			>$(BUILD)/fuzz/$$t.log 2>&1; then \
			grep -E '^#[0-9]+[[:space:]]+DONE' $(BUILD)/fuzz/$$t.log; \
		else \
			tail -30 $(BUILD)/fuzz/$$t.log; fail="$$fail $$t"; \
		fi; \
	done; \
	if [ -z "$$fail" ]; then echo "make fuzz: all targets passed"; \
	else echo "make fuzz: FAILED:$$fail (logs: $(BUILD)/fuzz/*.log)"; \
		exit 1; fi

# lighttpd, sio-gateway and the demo page on 127.0.0.1:PORT; Ctrl-C stops,
# and so do TERM (which make passes on to the script it execs) and HUP to
# make alone (scripts/run.sh).
# make run APP=testapp PORT=18080
run:
	@APP=$(or $(APP),chat) PORT=$(or $(PORT),8080) exec scripts/run.sh

format:
	clang-format -i common/*.[ch] tests/*.[ch] examples/*/*.c

clean:
	rm -rf build build-asan

# --- install, uninstall -------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: the programs, the public
# header, siogate.pc, the examples (sources, pages, built .so), the deploy
# configs with scripts/webserver.sh, and the docs. make uninstall with the
# same PREFIX and DESTDIR removes exactly those. docs/guide.md explains
# building an application against the installed header.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL ?= install
I_BIN    = $(DESTDIR)$(PREFIX)/bin
I_INC    = $(DESTDIR)$(PREFIX)/include
I_PC     = $(DESTDIR)$(PREFIX)/lib/pkgconfig
I_SHARE  = $(DESTDIR)$(PREFIX)/share/siogate
I_DOC    = $(DESTDIR)$(PREFIX)/share/doc/siogate
I_PROGS  = sio-gateway sio-wsd sioctl
EX_NAMES = $(notdir $(patsubst %/,%,$(dir $(wildcard examples/*/*.c))))
EX_FILES = $(filter-out %~,$(wildcard examples/*/*.c examples/*/*.h examples/*/*.html examples/*/*.css examples/*/*.js))
DEPLOY_FILES = $(wildcard deploy/*.conf.in) deploy/README.md
DOC_FILES = README.md siogate.conf.example $(wildcard docs/*.md)
SIO_VERSION = $(shell sed -n 's/^\#define SIOGATE_VERSION "\(.*\)"/\1/p' common/siogate.h)

install: all
	$(INSTALL) -d -m 0755 $(I_BIN) $(I_INC) $(I_PC) $(I_SHARE)/examples \
		$(I_SHARE)/deploy $(I_SHARE)/scripts $(I_DOC) \
		$(addprefix $(I_SHARE)/examples/,$(EX_NAMES))
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(I_PROGS)) $(I_BIN)/
	$(INSTALL) -m 0644 common/siogate.h $(I_INC)/siogate.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(SIO_VERSION)|g' \
		siogate.pc.in > $(BUILD)/siogate.pc
	$(INSTALL) -m 0644 $(BUILD)/siogate.pc $(I_PC)/siogate.pc
	@set -e; for f in $(EX_FILES); do \
		echo "$(INSTALL) -m 0644 $$f $(I_SHARE)/$$f"; \
		$(INSTALL) -m 0644 $$f $(I_SHARE)/$$f; done; \
	for n in $(EX_NAMES); do \
		echo "$(INSTALL) -m 0755 $(BUILD)/examples/$$n.so $(I_SHARE)/examples/$$n/$$n.so"; \
		$(INSTALL) -m 0755 $(BUILD)/examples/$$n.so $(I_SHARE)/examples/$$n/$$n.so; done
	$(INSTALL) -m 0644 $(DEPLOY_FILES) $(I_SHARE)/deploy/
	$(INSTALL) -m 0755 scripts/webserver.sh $(I_SHARE)/scripts/webserver.sh
	$(INSTALL) -d -m 0755 $(I_DOC)/docs
	$(INSTALL) -m 0644 README.md siogate.conf.example $(I_DOC)/
	$(INSTALL) -m 0644 $(wildcard docs/*.md) $(I_DOC)/docs/

uninstall:
	rm -f $(addprefix $(I_BIN)/,$(I_PROGS)) $(I_INC)/siogate.h $(I_PC)/siogate.pc
	rm -f $(addprefix $(I_SHARE)/,$(EX_FILES)) \
		$(foreach n,$(EX_NAMES),$(I_SHARE)/examples/$(n)/$(n).so)
	rm -f $(addprefix $(I_SHARE)/,$(DEPLOY_FILES)) $(I_SHARE)/scripts/webserver.sh
	rm -f $(I_DOC)/README.md $(I_DOC)/siogate.conf.example \
		$(addprefix $(I_DOC)/,$(wildcard docs/*.md))
	rmdir $(addprefix $(I_SHARE)/examples/,$(EX_NAMES)) $(I_SHARE)/examples \
		$(I_SHARE)/deploy $(I_SHARE)/scripts $(I_SHARE) $(I_DOC)/docs \
		$(I_DOC) 2>/dev/null || true

# Follows docs/guide.md: install into a temporary prefix, build the guide's
# app outside the tree with pkg-config, serve it behind lighttpd with the
# installed programs, talk to it with socket.io-client 0.9.16, uninstall.
install-test: all
	node --test --test-reporter=spec tests/install/

.PHONY: install uninstall install-test
