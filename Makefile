# siogate: make (library and programs), make test, make asan, make fuzz.
# Everything is built under $(BUILD); sources are found by wildcard.

CC      ?= cc
BUILD   ?= build
# The PostgreSQL backend (common/pg/, libpq) is built when pkg-config
# finds libpq; make PG= builds SQLite alone, with no libpq dependency.
PG      ?= $(shell pkg-config --exists libpq 2>/dev/null && echo 1)
PKGS     = jansson sqlite3 libcrypto libwebsockets $(if $(PG),libpq)
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2 -g
# Where an installed siogate looks for its files (FHS) and make install
# puts them (docs/service.md). The default configuration is
# $(SYSCONFDIR)/siogate.conf.
PREFIX  ?= /usr/local
SYSCONFDIR    ?= /etc/siogate
DATADIR       ?= $(PREFIX)/share/siogate
LIBDIR        ?= $(PREFIX)/lib/siogate
LOCALSTATEDIR ?= /var/lib/siogate
RUNSTATEDIR   ?= /run/siogate
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/lib/pkgconfig
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/siogate
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
# The service's user and the group of its sockets (the web server's).
SIO_USER  ?= siogate
SIO_GROUP ?= www-data
DIRS_CFLAGS    = -DSIO_SYSCONFDIR='"$(SYSCONFDIR)"' -DSIO_DATADIR='"$(DATADIR)"' \
                 -DSIO_PLUGINDIR='"$(LIBDIR)"' \
                 -DSIO_LOCALSTATEDIR='"$(LOCALSTATEDIR)"' \
                 -DSIO_RUNSTATEDIR='"$(RUNSTATEDIR)"'
CFLAGS  += $(OPT) -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(if $(WERROR),-Werror) \
           -Icommon $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
           $(DIRS_CFLAGS)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldl -lpthread
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined

LIB_SRC  = $(wildcard common/*.c common/sqlite/*.c) $(wildcard examples/*/*.c)
# The PostgreSQL backend is an archive of its own, which the store finds
# through a weak symbol: what links it (the programs, the suites) has
# `database = postgresql://...`; what does not (the static gateway) says
# that it was built without it.
PG_SRC   = $(if $(PG),$(wildcard common/pg/*.c))
PG_LIB   = $(if $(PG),$(BUILD)/libsio-pg.a)
# The built-in applications: each examples/NAME/NAME.c defines
# sio_NAME_plugin, and the table of them ($(BUILD)/apps.c, generated
# below) is linked where the programs are; the core names none.
APPS     = $(sort $(patsubst examples/%/,%,$(dir $(wildcard examples/*/*.c))))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/apps.o
LIB      = $(BUILD)/libsio.a
# Programs export the whole API so that plugins resolve against them.
WHOLE_LIB = -Wl,--whole-archive $(LIB) $(PG_LIB) -Wl,--no-whole-archive
TEST_SRC = $(wildcard tests/test_*.c)
TESTS    = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HELPERS  = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/helper_*.c))
TEST_LIB = $(BUILD)/tests/cu.o
# The PostgreSQL backend's scripted races (tests/pg/, make check-pg).
PG_TESTS = $(if $(PG),$(BUILD)/tests/pg/test_store_pg)
PLUGINS  = $(patsubst examples/%/,$(BUILD)/examples/%.so,$(dir $(wildcard examples/*/*.c)))
GW_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard gateway/*.c))
GATEWAY  = $(BUILD)/sio-gateway
WSD_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard wsd/*.c))
WSD      = $(BUILD)/sio-wsd
CTL_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard ctl/*.c))
CTL      = $(BUILD)/sioctl
# socket.io-client's files for the gateway (client_dir), from npm
CLIENT_DIST  = node_modules/socket.io-client/dist
CLIENT_FILES = socket.io.js socket.io.min.js WebSocketMain.swf \
               WebSocketMainInsecure.swf
CLIENT_GZ    = socket.io.js.gz socket.io.min.js.gz
CLIENT_STAMP = $(BUILD)/client/.stamp

.PHONY: all deps test check check-pg cluster wire asan fuzz clean format run interop browser wsd-wire bench-latency bench-bridge flash examples ctl publish bridge clients stats faults bench profile
all: $(LIB) $(PLUGINS) $(GATEWAY) $(WSD) $(CTL) $(CLIENT_STAMP)

# The Debian packages of make test (scripts/deps.sh: the sets build, run,
# test and bench). A plain make installs nothing; its first run says what
# the build set lacks.
# The test set of Debian packages, and the npm packages of package-lock.json
# (socket.io-client's files, which the build copies for the gateway to
# serve, and the clients of the suites).
deps:
	@scripts/deps.sh test
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund

# Each object lists the headers it read in its .d file (-MMD -MP), which
# make reads back: a header's change rebuilds exactly what includes it. An
# object without its .d (built before this rule) is rebuilt once.
DEPFLAGS = -MMD -MP
$(BUILD)/%.o: %.c $(BUILD)/%.d | $(BUILD)/.dirs
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(BUILD)/%.d: ;
.PRECIOUS: $(BUILD)/%.d
-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/*/*/*/*.d)

$(BUILD)/.dirs: Makefile
	@scripts/deps.sh --check build || true
	@mkdir -p $(sort $(dir $(LIB_OBJ) $(PG_SRC:%.c=$(BUILD)/%.o) $(TESTS) $(PG_TESTS) $(TEST_LIB) $(PLUGINS) $(GW_OBJ))) && touch $@

# The schema is compiled into the store as a C string.
$(BUILD)/schema.inc: schema/schema.sql | $(BUILD)/.dirs
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@
$(BUILD)/pg_schema.inc: schema/pg.sql | $(BUILD)/.dirs
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@
$(BUILD)/common/pg/db.o: $(BUILD)/pg_schema.inc
$(BUILD)/common/pg/db.o: CFLAGS += -I$(BUILD)

$(BUILD)/common/sqlite/db.o: $(BUILD)/schema.inc
$(BUILD)/common/sqlite/db.o: CFLAGS += -I$(BUILD)
# The contract suite makes a database a test through libpq when PG is
# set (SIO_TEST_STORE=postgresql, make check-pg); rebuilt when PG changes.
$(BUILD)/.pg: FORCE | $(BUILD)/.dirs
	@echo "PG=$(PG)" | cmp -s - $@ || echo "PG=$(PG)" > $@
$(BUILD)/tests/test_store_contract.o: $(BUILD)/.pg
$(BUILD)/tests/test_store_contract.o: CFLAGS += $(if $(PG),-DSIO_TEST_PG)

# The store suite builds old databases from the schema's first sections.
$(BUILD)/tests/test_store.o: $(BUILD)/schema.inc
$(BUILD)/tests/test_store.o: CFLAGS += -I$(BUILD)

# config.c compiles in the directories (the default configuration, paths
# and client_dir): rebuilt when one changes, so that make install PREFIX=P
# installs programs that look in P.
$(BUILD)/.datadir: FORCE | $(BUILD)/.dirs
	@echo "$(DIRS_CFLAGS)" | cmp -s - $@ || echo "$(DIRS_CFLAGS)" > $@
$(BUILD)/common/config.o $(BUILD)/tests/test_config.o: $(BUILD)/.datadir
.PHONY: FORCE

# sio_plugin_builtin_apps[] (common/plugin.h) from $(APPS), rewritten only
# when the list of examples changes.
$(BUILD)/apps.c: FORCE | $(BUILD)/.dirs
	@{ echo '/* Generated by make from examples/: the built-in apps. */'; \
	  echo '#include "plugin.h"'; \
	  for a in $(APPS); do \
		echo "extern const struct sio_plugin sio_$${a}_plugin;"; done; \
	  echo 'const struct sio_plugin *const sio_plugin_builtin_apps[] = {'; \
	  for a in $(APPS); do echo "    &sio_$${a}_plugin,"; done; \
	  echo '    NULL,'; echo '};'; } > $@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@
$(BUILD)/apps.o: $(BUILD)/apps.c common/plugin.h common/siogate.h
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libsio-pg.a: $(PG_SRC:%.c=$(BUILD)/%.o)
	rm -f $@ && ar rcs $@ $^

# sio-gateway: the FastCGI/CGI front (gateway/*.c; only fcgi.c sees libfcgi).
$(GATEWAY): $(GW_OBJ) $(LIB) $(PG_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -o $@ $(GW_OBJ) $(WHOLE_LIB) -lfcgi $(LDLIBS)

# socket.io-client 0.9.16's files, which the gateway serves under the
# resource from client_dir, with a gzip -9 -n copy of each script (what
# socket.io 0.9 runs): taken from npm's node_modules (npm ci). The build
# never fetches them: without node_modules it says so and goes on.
$(CLIENT_STAMP): $(wildcard $(addprefix $(CLIENT_DIST)/,$(CLIENT_FILES)))
	@if [ -f $(CLIENT_DIST)/socket.io.js ]; then set -ex; \
		mkdir -p $(BUILD)/client; \
		cp $(addprefix $(CLIENT_DIST)/,$(CLIENT_FILES)) $(BUILD)/client/; \
		for f in $(CLIENT_GZ:.gz=); do \
			gzip -9 -n -c $(BUILD)/client/$$f > $(BUILD)/client/$$f.gz; done; \
		touch $@; \
	else echo "make: $(CLIENT_DIST) is missing: run npm ci, then make" \
		"again, for the gateway to serve /socket.io/socket.io.js"; fi

# sio-gateway linked statically (glibc, libfcgi, SQLite, jansson from
# Debian's .a files), for hosts that offer only CGI and libraries of their
# own (docs/shared-hosting.md): make static-gateway. Built-in apps only: a
# static program cannot load a plugin (app = NAME.so).
STATIC_GATEWAY = $(BUILD)/sio-gateway-static
static-gateway: $(STATIC_GATEWAY)
# libwebsockets (the bridge's HTTP client) links its TLS and libcap in:
# Debian's .pc files name neither for a static link.
STATIC_LIBS = -lfcgi -ljansson -lsqlite3 -lwebsockets -lssl -lcrypto -lcap \
              -lz -ldl -lpthread -lm
$(STATIC_GATEWAY): $(GW_OBJ) $(LIB)
	$(CC) $(CFLAGS) -static -o $@ $(GW_OBJ) \
		-Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(STATIC_LIBS)
.PHONY: static-gateway

# sio-wsd: the libwebsockets sidecar (websocket, flashsocket).
$(WSD_OBJ): | $(BUILD)/wsd/.dir
$(BUILD)/wsd/.dir:
	@mkdir -p $(dir $@) && touch $@
$(WSD): $(WSD_OBJ) $(LIB) $(PG_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -o $@ $(WSD_OBJ) $(WHOLE_LIB) -lwebsockets -lcrypto $(LDLIBS)

# sioctl: the operator's tool over the store (ctl/*.c). It exports the API
# like the servers, because a kick runs the app's on_close, maybe a plugin's.
$(CTL_OBJ): | $(BUILD)/ctl/.dir
$(BUILD)/ctl/.dir:
	@mkdir -p $(dir $@) && touch $@
$(CTL): $(CTL_OBJ) $(LIB) $(PG_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -o $@ $(CTL_OBJ) $(WHOLE_LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_LIB) $(LIB) $(PG_LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $< $(TEST_LIB) $(WHOLE_LIB) -lcunit $(LDLIBS)

# The PostgreSQL suite reads the schema (its latest version) and cu.h.
$(BUILD)/tests/pg/test_store_pg.o: $(BUILD)/pg_schema.inc
$(BUILD)/tests/pg/test_store_pg.o: CFLAGS += -I$(BUILD) -Itests
$(BUILD)/tests/pg/test_store_pg: $(BUILD)/tests/pg/test_store_pg.o $(TEST_LIB) $(LIB) $(PG_LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $< $(TEST_LIB) $(WHOLE_LIB) -lcunit $(LDLIBS)

# The wsd protocol suites also link the modules they test, and libcrypto (MD5).
WSD_PROTO_OBJ = $(BUILD)/wsd/hixie.o $(BUILD)/wsd/policy.o
$(BUILD)/tests/test_hixie $(BUILD)/tests/test_policy: $(WSD_PROTO_OBJ)
$(BUILD)/tests/test_hixie $(BUILD)/tests/test_policy: LDLIBS += $(WSD_PROTO_OBJ) -lcrypto

# The routers' suite reads the gateway's route.c and sio-wsd's.
ROUTE_OBJ = $(BUILD)/gateway/route.o $(BUILD)/wsd/route.o
$(BUILD)/tests/test_route.o: CFLAGS += -Igateway -Iwsd
$(BUILD)/tests/test_route: $(ROUTE_OBJ)
$(BUILD)/tests/test_route: LDLIBS += $(ROUTE_OBJ)

# The seeded fuzz suite runs the targets of tests/fuzz_body.h, which also
# read the routers and the wsd protocol modules.
FUZZ_SEEDED_OBJ = $(BUILD)/gateway/route.o $(BUILD)/wsd/route.o $(WSD_PROTO_OBJ)
$(BUILD)/tests/test_fuzz_seeded.o: CFLAGS += -Igateway -Iwsd
$(BUILD)/tests/test_fuzz_seeded: $(FUZZ_SEEDED_OBJ)
$(BUILD)/tests/test_fuzz_seeded: LDLIBS += $(FUZZ_SEEDED_OBJ) -lcrypto

# The engine's suites share one test transport (tests/fixture.c).
FIXTURE_OBJ = $(BUILD)/tests/fixture.o
FIXTURE_TESTS = $(BUILD)/tests/test_conn $(BUILD)/tests/test_session \
                $(BUILD)/tests/test_actions
$(FIXTURE_TESTS): $(FIXTURE_OBJ)
$(FIXTURE_TESTS): LDLIBS += $(FIXTURE_OBJ)

$(BUILD)/tests/helper_%: $(BUILD)/tests/helper_%.o $(LIB) $(PG_LIB)
	$(CC) $(CFLAGS) -rdynamic -o $@ $< $(WHOLE_LIB) $(LDLIBS)

# Each example also builds as a plugin (examples/NAME/NAME.c -> NAME.so).
.SECONDEXPANSION:
$(BUILD)/examples/%.so: examples/%/$$*.c common/siogate.h | $(BUILD)/.dirs
	$(CC) $(CFLAGS) $(LDFLAGS) -DSIO_BUILD_PLUGIN -shared -o $@ $<

# Runs every suite even when one fails, then fails if any did; then
# whether every setting and API function is documented (tests/docs/).
# SIO_TEST_STORE=NAME runs the store contract suite against backend NAME
# (tests/test_store_contract.c; sqlite by default).
check: $(TESTS) $(HELPERS) $(PLUGINS)
	@failed=; for t in $(TESTS); do \
		SIO_TEST_BIN=$(BUILD)/tests $$t || failed="$$failed $${t##*/}"; \
	done; \
	tests/docs/check.sh . || failed="$$failed docs"; \
	if [ -z "$$failed" ]; then echo "make test: all suites passed"; \
	else echo "make test: FAILURES in$$failed"; exit 1; fi

# PostgreSQL: the store contract suite, then the backend's scripted
# races (tests/pg/test_store_pg.c), then the interop suite behind
# lighttpd and nginx and the fallback runs, each on a database of its
# own, then two hosts on one database (tests/pg/hosts.test.mjs), on one
# throwaway cluster (tests/pg/with-cluster.sh) stopped on
# every way out. Without libpq (PG empty) it is skipped, but CI must run
# it.
check-pg: $(if $(PG),$(BUILD)/tests/test_store_contract $(PG_TESTS) $(GATEWAY) $(WSD) $(PLUGINS))
	@if [ -n "$(PG)" ]; then tests/pg/with-cluster.sh sh -c '\
		SIO_TEST_STORE=postgresql SIO_TEST_BIN=$(BUILD)/tests \
			$(BUILD)/tests/test_store_contract && \
		$(BUILD)/tests/pg/test_store_pg && \
		GATEWAY=$(GATEWAY) WSD=$(WSD) \
			tests/interop/run-servers.sh lighttpd nginx fallback && \
		BUILD=$(BUILD) node --test --test-reporter=spec tests/pg/hosts.test.mjs'; \
	else echo "make check-pg: skipped: built without libpq" \
		"(libpq-dev: scripts/deps.sh build)"; \
		if [ "$${CI:-}" = true ]; then \
			echo "make check-pg: CI must run it"; exit 1; fi; fi

# Three siogate hosts on one PostgreSQL database behind nginx, each in
# network, pid and uts namespaces of its own, on a private bridge
# (tests/cluster/run.sh): the interop suite through the load balancer, a
# publish across hosts, a host killed mid-stream, sioctl, a PostgreSQL
# restart, a host's link cut and a partition, a websocket refused on one
# host and the session carried on over polling on the others. Needs root
# and ip netns; skipped without them, but CI must run it.
cluster: $(if $(PG),$(GATEWAY) $(WSD) $(CTL) $(PLUGINS))
	@if [ -n "$(PG)" ]; then BUILD=$(BUILD) tests/cluster/run.sh; \
	else echo "make cluster: skipped: built without libpq" \
		"(libpq-dev: scripts/deps.sh build)"; \
		if [ "$${CI:-}" = true ]; then \
			echo "make cluster: CI must run it"; exit 1; fi; fi

# Everything a user relies on: the CUnit suites, wire scenarios behind
# lighttpd, nginx and Apache, the real client in Node, the demo in chromium.
test: deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory check-pg
	@$(MAKE) --no-print-directory cluster
	@$(MAKE) --no-print-directory wire
	@$(MAKE) --no-print-directory interop
	@$(MAKE) --no-print-directory snippets
	@$(MAKE) --no-print-directory hosting
	@$(MAKE) --no-print-directory flash
	@$(MAKE) --no-print-directory wsd-wire
	@$(MAKE) --no-print-directory examples
	@$(MAKE) --no-print-directory ctl
	@$(MAKE) --no-print-directory publish
	@$(MAKE) --no-print-directory bridge
	@$(MAKE) --no-print-directory clients
	@$(MAKE) --no-print-directory stats
	@$(MAKE) --no-print-directory faults
	@$(MAKE) --no-print-directory install-test
	@$(MAKE) --no-print-directory browser

# Wire scenarios: sio-gateway behind real lighttpd, nginx, Apache
# (mod_proxy_fcgi) and Apache mod_cgid on loopback ports; every server runs
# even when one fails. make wire WIRE_SERVERS=nginx picks some.
WIRE_SERVERS ?= lighttpd nginx apache apache-cgi
wire: $(GATEWAY) $(WSD) $(PLUGINS) $(CLIENT_STAMP)
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

# The snippets of deploy/snippets/ in a copy of the stock Debian
# configuration of Apache, lighttpd and nginx, each enabled the Debian way,
# with the interop suite, an htmlfile stream and hixie-76 through it:
# make snippets [SNIPPET_SERVERS="apache2 lighttpd nginx"]
snippets: $(GATEWAY) $(WSD) $(PLUGINS)
	tests/snippets/run.sh $(SNIPPET_SERVERS)
.PHONY: snippets

# The shared-hosting recipe (docs/shared-hosting.md) on Apache set up as
# such hosts are (AllowOverride, mod_cgid, the main config not the user's):
# the user's .htaccess and the static gateway as sio-gateway.cgi, with the
# interop suite (xhr-polling) and chromium (xhr-polling, jsonp-polling)
# through it; the CGI processes counted (tests/hosting/).
hosting: deps $(STATIC_GATEWAY) $(GATEWAY)
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
	node --test --test-reporter=spec tests/hosting/
.PHONY: hosting

# The chat demo in Debian's chromium (headless), two pages exchanging a
# message: over websocket (sio-wsd), over a websocket that fails (fallback to
# polling), over xhr-polling and jsonp-polling; the stats and transports
# pages over websocket, xhr-polling and jsonp-polling, with screenshots in
# var/browser/ (tests/browser/*.test.mjs); the chat page loading
# socket.io.js from the gateway behind each server, 304 on the second load.
browser: deps $(GATEWAY) $(WSD) $(PLUGINS)
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
	@$(MAKE) --no-print-directory $(CLIENT_STAMP)
	node --test --test-reporter=spec tests/browser/

# flashsocket (hixie-76) and the Flash policy file against sio-wsd's flash
# listener and policy port, behind lighttpd (tests/lib/hixie.mjs).
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
# make bench [ARGS=--quick]; a third column, siogate on PostgreSQL (a
# throwaway cluster of scripts/pg-cluster.sh), unless ARGS=--no-pg. Not
# part of all or test.
LOADGEN = $(BUILD)/loadgen
$(LOADGEN): bench/loadgen.c | $(BUILD)/.dirs
	$(CC) $(CFLAGS) -o $@ $< -lwebsockets -luv

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(GATEWAY) $(WSD) $(PLUGINS) $(LOADGEN)
	BUILD=$(BUILD) bench/run.sh $(ARGS)
	node bench/bridge.mjs

# Events with an ack through the bridge to a PHP application (PHP-FPM
# behind nginx) beside a C plugin and socket.io 0.9.19's Node handler:
# acks/s and p50/p99 (make bench runs it too): make bench-bridge
# [SESSIONS=10 EVENTS=300].
bench-bridge: $(GATEWAY) $(WSD) $(PLUGINS)
	node bench/bridge.mjs $(or $(SESSIONS),10) $(or $(EVENTS),300)

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
examples: $(GATEWAY) $(WSD) $(PLUGINS) $(CLIENT_STAMP)
	node --test --test-reporter=spec tests/examples/

# sioctl against lighttpd + sio-gateway + sio-wsd with socket.io-client
# 0.9.16 on websocket and xhr-polling; also the README's SQL from the sqlite3
# shell and ctl/push.php from php-cli (tests/ctl/, node --test).
ctl: $(GATEWAY) $(WSD) $(PLUGINS) $(CTL)
	node --test --test-reporter=spec --test-concurrency=1 tests/ctl/

# POST /<resource>/publish against lighttpd + sio-gateway + sio-wsd with
# socket.io-client 0.9.16 on websocket and xhr-polling, every action and
# every refusal; one publish behind nginx, apache and apache-cgi
# (tests/publish/, node --test).
publish: $(GATEWAY) $(WSD) $(PLUGINS)
	node --test --test-reporter=spec --test-concurrency=1 tests/publish/

# app = bridge against lighttpd + sio-gateway + sio-wsd and a Node
# application (tests/bridge/app.mjs): the events and the actions with
# socket.io-client 0.9.16 on websocket and xhr-polling, a slow, a dead
# and a broken application, order under load (tests/bridge/, node --test).
bridge: $(GATEWAY) $(WSD) $(PLUGINS)
	node --test --test-reporter=spec --test-concurrency=1 tests/bridge/

# The publishing helpers ctl/siogate.php (php-cli) and ctl/siogate.py
# (python3): signatures against Node's crypto, the builders' JSON, publish()
# against a stand-in server, then against lighttpd + sio-gateway + sio-wsd
# with socket.io-client 0.9.16 (tests/clients/, node --test).
clients: $(GATEWAY) $(WSD) $(PLUGINS)
	node --test --test-reporter=spec --test-concurrency=1 tests/clients/

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
FUZZ_TARGETS ?= wire text hixie route request config origin publish
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -Igateway -Iwsd \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC     = common/buf.c common/config.c common/json.c common/packet.c \
               common/result.c \
               common/payload.c common/request.c common/text.c \
               gateway/route.c wsd/hixie.c wsd/policy.c wsd/route.c
FUZZ_OBJ     = $(FUZZ_SRC:%.c=$(BUILD)/fuzz/%.o)
# The publish target's action lists reach the store and the engine
# (actions.c queues as well as parses): the rest of the library, built the
# same way, as an archive the linker takes only what it needs from.
FUZZ_LIB_SRC = $(filter-out $(FUZZ_SRC),$(LIB_SRC)) $(BUILD)/apps.c
FUZZ_LIB     = $(BUILD)/fuzz/libsio.a

$(BUILD)/fuzz/common/sqlite/db.o: $(BUILD)/schema.inc
$(BUILD)/fuzz/common/sqlite/db.o: FUZZ_CFLAGS += -I$(BUILD)
$(FUZZ_LIB): $(FUZZ_LIB_SRC:%.c=$(BUILD)/fuzz/%.o)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/$(BUILD)/%.o: $(BUILD)/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(BUILD)/fuzz/%.o: %.c $(BUILD)/fuzz/%.d
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/fuzz_%: tests/fuzz_parsers.c $(wildcard tests/fuzz_*.h) $(FUZZ_OBJ) $(FUZZ_LIB)
	clang $(FUZZ_CFLAGS) -Itests -fsanitize=fuzzer -DFUZZ_NAME='"$*"' \
		-o $@ $< $(FUZZ_OBJ) $(FUZZ_LIB) $(LDLIBS)

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

# Every C file of the tree in the style of .clang-format: make format
# rewrites them, make format-check (CI) fails on the first that differs.
FORMAT_SRC = $(wildcard common/*.[ch] common/sqlite/*.[ch] common/pg/*.[ch] gateway/*.[ch] wsd/*.[ch] ctl/*.[ch] \
               examples/*/*.[ch] tests/*.[ch] tests/pg/*.[ch] bench/*.[ch])
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)
.PHONY: format-check

clean:
	rm -rf build build-asan

# --- install, uninstall -------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] and the directories below:
# the daemons in SBINDIR (sio-gateway, sio-wsd: Debian puts daemons in
# sbin), sioctl in BINDIR, the public header and siogate.pc, the examples'
# plugins in LIBDIR (NAME.so), their sources and pages, the deploy configs
# with scripts/webserver.sh, ctl/push.php, the publishing helpers
# ctl/siogate.php and ctl/siogate.py, schema/schema.sql and the
# socket.io-client files in DATADIR, the docs, the man pages, the systemd
# units and the tmpfiles.d entry of RUNSTATEDIR (made at boot), the data
# directory LOCALSTATEDIR, and SYSCONFDIR/siogate.conf unless one exists
# (never overwritten). make uninstall with the same variables removes
# exactly those, the config only while it is as installed.
# docs/service.md describes the layout, docs/guide.md building an
# application against the installed header.
DESTDIR ?=
INSTALL ?= install
I_BIN    = $(DESTDIR)$(BINDIR)
I_SBIN   = $(DESTDIR)$(SBINDIR)
I_INC    = $(DESTDIR)$(INCLUDEDIR)
I_PC     = $(DESTDIR)$(PKGCONFIGDIR)
I_SHARE  = $(DESTDIR)$(DATADIR)
I_LIB    = $(DESTDIR)$(LIBDIR)
I_DOC    = $(DESTDIR)$(DOCDIR)
I_MAN    = $(DESTDIR)$(MANDIR)
I_UNIT   = $(DESTDIR)$(SYSTEMDUNITDIR)
I_TMPF   = $(DESTDIR)$(TMPFILESDIR)
I_ETC    = $(DESTDIR)$(SYSCONFDIR)
I_VAR    = $(DESTDIR)$(LOCALSTATEDIR)
I_PROGS  = sio-gateway sio-wsd
I_TOOLS  = sioctl
EX_NAMES = $(notdir $(patsubst %/,%,$(dir $(wildcard examples/*/*.c))))
# every example's directory: the C ones and the PHP ones (app = bridge)
EX_DIRS  = $(notdir $(patsubst %/,%,$(dir $(wildcard examples/*/*.c examples/*/*.php))))
EX_FILES = $(filter-out %~,$(wildcard examples/*/*.c examples/*/*.h examples/*/*.html examples/*/*.css examples/*/*.js examples/*/*.php))
DEPLOY_FILES = $(wildcard deploy/*.conf.in) deploy/README.md
DATA_FILES = ctl/push.php ctl/siogate.php ctl/siogate.py schema/schema.sql
# The snippets for the web server already running (deploy/snippets/SERVER/).
SNIPPETS = $(filter-out %~,$(wildcard deploy/snippets/*/*))
DOC_FILES = README.md siogate.conf.example $(wildcard docs/*.md)
SIO_VERSION = $(shell sed -n 's/^\#define SIOGATE_VERSION "\(.*\)"/\1/p' common/siogate.h)

# The installed files that name a directory: @NAME@ of the variables above.
# LimitNOFILE: max_websockets' default plus headroom for the listeners,
# the database, the doorbells and the log (docs/service.md).
SIO_MAX_WEBSOCKETS = $(shell sed -n 's/^[[:space:]]*c->max_websockets = \([0-9]*\);.*/\1/p' common/config.c)
SIO_NOFILE = $(shell echo $$(( $(SIO_MAX_WEBSOCKETS) + 1024 )))
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(SIO_VERSION)|g' \
	-e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
	-e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' \
	-e 's|@RUN_DIR@|$(RUNSTATEDIR)|g' -e 's|@USER@|$(SIO_USER)|g' \
	-e 's|@GROUP@|$(SIO_GROUP)|g' -e 's|@LIMIT_NOFILE@|$(SIO_NOFILE)|g' \
	-e 's|@MAX_WEBSOCKETS@|$(SIO_MAX_WEBSOCKETS)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'
# Files made from templates depend on the directories' values: the stamp
# changes when one does, so `make install PREFIX=/usr` after a build for
# /usr/local makes them again.
DIRS_STAMP = $(BUILD)/.install-dirs
DIRS_VALUES = $(PREFIX) $(BINDIR) $(SBINDIR) $(INCLUDEDIR) $(DATADIR) $(LIBDIR) \
	$(SYSCONFDIR) $(LOCALSTATEDIR) $(RUNSTATEDIR) $(DOCDIR) $(SIO_USER) \
	$(SIO_GROUP) $(SIO_VERSION) $(SIO_NOFILE)
$(shell mkdir -p $(BUILD) && (echo '$(DIRS_VALUES)' | cmp -s - $(DIRS_STAMP) || \
	echo '$(DIRS_VALUES)' > $(DIRS_STAMP)))
UNITS_IN = $(wildcard deploy/systemd/*.service.in deploy/systemd/*.socket.in)
UNITS    = $(UNITS_IN:deploy/systemd/%.in=$(BUILD)/systemd/%)
TMPFILES = $(BUILD)/systemd/siogate-tmpfiles.conf
# The config installed as SYSCONFDIR/siogate.conf: the example with the
# system's data and run directories.
ETC_CONF = $(BUILD)/siogate.conf

$(BUILD)/systemd/%: deploy/systemd/%.in $(DIRS_STAMP)
	@mkdir -p $(dir $@)
	$(SUBST) $< > $@
$(TMPFILES): deploy/systemd/tmpfiles.conf.in $(DIRS_STAMP)
	@mkdir -p $(dir $@)
	$(SUBST) $< > $@
$(BUILD)/siogate.pc: siogate.pc.in $(DIRS_STAMP) | $(BUILD)/.dirs
	$(SUBST) $< > $@
$(ETC_CONF): siogate.conf.example $(DIRS_STAMP) | $(BUILD)/.dirs
	sed -e 's|^#database = .*|database = $(LOCALSTATEDIR)/siogate.db|' \
		-e 's|^#run_dir = .*|run_dir = $(RUNSTATEDIR)|' $< > $@

units: $(UNITS) $(TMPFILES)

# Man pages: siogate.conf(5) generated from docs/configuration.md, the
# programs' pages from man/*.8.in (tests/package/man.test.mjs checks them
# against the settings of common/config.c and each program's --help).
MAN8 = $(patsubst man/%.in,$(BUILD)/man/%,$(wildcard man/*.8.in))
MAN5 = $(BUILD)/man/siogate.conf.5
$(BUILD)/man/%.8: man/%.8.in $(DIRS_STAMP)
	@mkdir -p $(dir $@)
	$(SUBST) $< > $@
$(MAN5): docs/configuration.md scripts/man-conf.py $(DIRS_STAMP)
	@mkdir -p $(dir $@)
	python3 scripts/man-conf.py $< $(SIO_VERSION) > $@.tmp && mv $@.tmp $@
man: $(MAN8) $(MAN5)

install: all $(BUILD)/siogate.pc $(ETC_CONF) $(UNITS) $(TMPFILES) man
	$(INSTALL) -d -m 0755 $(I_BIN) $(I_SBIN) $(I_INC) $(I_PC) $(I_LIB) \
		$(I_SHARE)/examples $(I_SHARE)/deploy $(I_SHARE)/scripts \
		$(I_SHARE)/ctl $(I_SHARE)/schema $(I_DOC) $(I_MAN)/man5 \
		$(I_MAN)/man8 $(I_UNIT) $(I_TMPF) $(I_ETC) \
		$(addprefix $(I_SHARE)/examples/,$(EX_DIRS))
	$(INSTALL) -d -m 0750 $(I_VAR)
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(I_PROGS)) $(I_SBIN)/
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(I_TOOLS)) $(I_BIN)/
	$(INSTALL) -m 0644 common/siogate.h $(I_INC)/siogate.h
	$(INSTALL) -m 0644 $(BUILD)/siogate.pc $(I_PC)/siogate.pc
	@set -e; for f in $(EX_FILES); do \
		echo "$(INSTALL) -m 0644 $$f $(I_SHARE)/$$f"; \
		$(INSTALL) -m 0644 $$f $(I_SHARE)/$$f; done
	$(INSTALL) -m 0755 $(PLUGINS) $(I_LIB)/
	$(INSTALL) -m 0644 $(DEPLOY_FILES) $(I_SHARE)/deploy/
	$(INSTALL) -m 0755 scripts/webserver.sh $(I_SHARE)/scripts/webserver.sh
	@set -e; for f in $(SNIPPETS); do \
		echo "$(INSTALL) -d $(I_SHARE)/$$(dirname $$f); $$f with @RUN_DIR@ = $(RUNSTATEDIR) > $(I_SHARE)/$$f"; \
		$(INSTALL) -d -m 0755 $(I_SHARE)/$$(dirname $$f); \
		$(SUBST) $$f > $(I_SHARE)/$$f; chmod 0644 $(I_SHARE)/$$f; done
	$(INSTALL) -m 0644 ctl/push.php ctl/siogate.php ctl/siogate.py $(I_SHARE)/ctl/
	$(INSTALL) -m 0644 schema/schema.sql $(I_SHARE)/schema/schema.sql
	$(INSTALL) -d -m 0755 $(I_DOC)/docs
	@if [ -f $(CLIENT_STAMP) ]; then set -x; \
		$(INSTALL) -d -m 0755 $(I_SHARE)/client; \
		$(INSTALL) -m 0644 $(addprefix $(BUILD)/client/,$(CLIENT_FILES) \
			$(CLIENT_GZ)) $(I_SHARE)/client/; \
	else echo "make install: no socket.io-client files to install" \
		"(npm ci, then make)"; fi
	$(INSTALL) -m 0644 README.md siogate.conf.example $(I_DOC)/
	$(INSTALL) -m 0644 $(wildcard docs/*.md) $(I_DOC)/docs/
	$(INSTALL) -m 0644 $(MAN5) $(I_MAN)/man5/
	$(INSTALL) -m 0644 $(MAN8) $(I_MAN)/man8/
	$(INSTALL) -m 0644 $(UNITS) $(I_UNIT)/
	$(INSTALL) -m 0644 $(TMPFILES) $(I_TMPF)/siogate.conf
	@if [ -e $(I_ETC)/siogate.conf ]; then \
		echo "$(I_ETC)/siogate.conf exists: kept"; \
	else echo "$(INSTALL) -m 0644 $(ETC_CONF) $(I_ETC)/siogate.conf"; \
		$(INSTALL) -m 0644 $(ETC_CONF) $(I_ETC)/siogate.conf; fi

uninstall: $(ETC_CONF)
	rm -f $(addprefix $(I_SBIN)/,$(I_PROGS)) $(addprefix $(I_BIN)/,$(I_TOOLS)) \
		$(I_INC)/siogate.h $(I_PC)/siogate.pc
	rm -f $(addprefix $(I_SHARE)/,$(EX_FILES)) \
		$(foreach n,$(EX_NAMES),$(I_LIB)/$(n).so)
	rm -f $(addprefix $(I_SHARE)/,$(DEPLOY_FILES) $(DATA_FILES) $(SNIPPETS)) \
		$(I_SHARE)/scripts/webserver.sh
	rm -f $(addprefix $(I_SHARE)/client/,$(CLIENT_FILES) $(CLIENT_GZ))
	rm -f $(I_DOC)/README.md $(I_DOC)/siogate.conf.example \
		$(addprefix $(I_DOC)/,$(wildcard docs/*.md))
	rm -f $(addprefix $(I_MAN)/man5/,$(notdir $(MAN5))) \
		$(addprefix $(I_MAN)/man8/,$(notdir $(MAN8)))
	rm -f $(addprefix $(I_UNIT)/,$(notdir $(UNITS))) $(I_TMPF)/siogate.conf
	@if [ -f $(I_ETC)/siogate.conf ] && [ -f $(ETC_CONF) ] && \
	    cmp -s $(ETC_CONF) $(I_ETC)/siogate.conf; then \
		echo "rm -f $(I_ETC)/siogate.conf"; rm -f $(I_ETC)/siogate.conf; \
	elif [ -e $(I_ETC)/siogate.conf ]; then \
		echo "$(I_ETC)/siogate.conf changed since installed: kept"; fi
	rmdir $(addprefix $(I_SHARE)/examples/,$(EX_DIRS)) $(I_SHARE)/examples \
		$(sort $(dir $(addprefix $(I_SHARE)/,$(SNIPPETS)))) \
		$(I_SHARE)/deploy/snippets $(I_SHARE)/deploy $(I_SHARE)/scripts \
		$(I_SHARE)/ctl $(I_SHARE)/schema $(I_SHARE)/client $(I_SHARE) $(I_LIB) \
		$(I_DOC)/docs $(I_DOC) $(I_ETC) $(I_VAR) 2>/dev/null || true

# make deb: the Debian package (debian/, debhelper) built from a copy of
# the tree's files (git ls-files: committed and new, not ignored) under
# $(BUILD)/deb/, where the .deb lands. make package-test (not in make
# test: debootstrap takes minutes the first time; CI runs it): the units
# checked with systemd-analyze verify, the man pages, and the .deb
# installed into a clean Debian 12 root serving the chat demo behind its
# lighttpd (tests/package/).
DEB_DIR = $(BUILD)/deb
DEB_SRC = $(DEB_DIR)/siogate-$(SIO_VERSION)
deb:
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); \
	if [ "$$v" != "$(SIO_VERSION)" ]; then \
		echo "debian/changelog is at $$v, siogate.h at $(SIO_VERSION): add an entry (dch -v $(SIO_VERSION))"; \
		exit 1; fi
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t $(DEB_SRC)
	if [ -d node_modules/socket.io-client/dist ]; then \
		cp -r --parents node_modules/socket.io-client/dist $(DEB_SRC); fi
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	@ls -l $(DEB_DIR)/*.deb

# What building and testing the package needs beyond scripts/deps.sh.
PACKAGE_DEPS = debhelper dpkg-dev fakeroot debootstrap systemd iproute2 util-linux
package-test: deps all
	@missing=$$(for p in $(PACKAGE_DEPS); do dpkg-query -W -f='$${Status}' $$p \
		2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "package-test: installing" $$missing; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $$missing >/dev/null; fi
	@[ -d node_modules/socket.io-client ] || npm ci --no-audit --no-fund
	node --test --test-reporter=spec --test-concurrency=1 tests/package/

: install into a temporary prefix, build the guide's
# app outside the tree with pkg-config, serve it behind lighttpd with the
# installed programs, talk to it with socket.io-client 0.9.16, uninstall.
install-test: all
	node --test --test-reporter=spec tests/install/

.PHONY: install uninstall install-test units man deb package-test
