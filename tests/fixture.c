/*
 * fixture.c: the test transport of the engine's suites (fixture.h): a
 * store in a temporary directory, the engine's context over it, and a
 * client's side of it (open a session, feed a packet, drain the outbox).
 */
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "cu.h"
#include "fixture.h"
#include "request.h"

char *dir;
struct sio_store *st;
struct sio_config cfg;
struct sio_session_ctx x;
long long now;
long long step_ms;

/* The boot clock follows now, but for the steps a test gives the wall
 * clock (now) alone. */
static long long
fixture_mono(void)
{
	return now - step_ms;
}

void
fixture_open_store(int max_queue)
{
	struct sio_store_opts opts = {.max_queue = max_queue};
	char err[SIO_ERR_LEN], *path;
	int n;

	/* a database per limit (siogate.db without one): the holder "test"
	 * is registered once in each */
	n = max_queue == 0
	        ? asprintf(&path, "%s/siogate.db", dir)
	        : asprintf(&path, "%s/siogate-%d.db", dir, max_queue);
	CU_ASSERT_FATAL(n > 0);
	st = sio_store_open(path, &opts, err);
	free(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	x.store = st;
	/* the test transport is a registered holder, as a daemon would be */
	CU_ASSERT_FATAL(sio_store_process_register(st, "test", (int)getpid(),
	                                           now) == SIO_OK);
}

void
fixture_setup(const struct sio_plugin *plugin)
{
	dir = cu_tmpdir();
	sio_config_defaults(&cfg);
	memset(&x, 0, sizeof(x));
	x.cfg = &cfg;
	x.plugin = plugin;
	x.mono = fixture_mono;
	now = T0;
	step_ms = 0;
	fixture_open_store(0);
}

void
fixture_teardown(void)
{
	sio_store_close(st);
	st = NULL;
	cu_rmtree(dir);
	free(dir);
	dir = NULL;
}

void
open_session(char sid[SIO_SID_LEN + 1], const char *q)
{
	struct sio_request req;
	int changed;

	CU_ASSERT_FATAL(sio_request_init(&req, "127.0.0.1", q, NULL) == SIO_OK);
	CU_ASSERT_FATAL(sio_session_handshake(&x, &req, now, sid) == SIO_OK);
	sio_request_cleanup(&req);
	CU_ASSERT_FATAL(sio_session_attach(st, sid, SIO_TRANSPORT_XHR_POLLING,
	                                   "test", 1, now, &changed) == SIO_OK);
	CU_ASSERT(changed == 1);
}

int
feed(const char *sid, const char *pkt)
{
	struct sio_slice s = {pkt, strlen(pkt)};

	return sio_session_receive(&x, sid, &s, 1, now);
}

static int
collect(void *udata, const char *pkt, size_t len)
{
	struct sio_buf *b = udata;

	if (b->len)
		sio_buf_putc(b, '\n');
	return sio_buf_append(b, pkt, len);
}

char *
drain(const char *sid)
{
	struct sio_buf b;
	long long last = 0;

	sio_buf_init(&b);
	sio_buf_puts(&b, "");
	CU_ASSERT(sio_store_outbox_peek(st, sid, now, 10000, NULL, 0, collect,
	                                &b, &last) >= 0);
	CU_ASSERT(sio_store_outbox_del(st, sid, now, last) == SIO_OK);
	return sio_buf_steal(&b);
}
