/*
 * test_http_client.c: the bridge's HTTP client against a small HTTP server
 * that the suite runs in a thread, on 127.0.0.1 (an ephemeral port) or on
 * a unix socket. The server answers one connection at a time as its mode
 * says and records what it saw of the request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cu.h"
#include "http_client.h"
#include "siogate.h"

enum mode { M_200, M_204, M_500, M_HANG, M_BIG, M_MIDBODY, M_ECHO };

struct server {
	int lfd;
	int stop[2]; /* a pipe: written to stop the thread */
	pthread_t th;
	enum mode mode;
	char path[256]; /* the unix socket, "" for TCP */
	int port;
	pthread_mutex_t mu;
	/* what the last request had */
	int saw_xtest, saw_len, saw_ua, saw_host, body_ok;
	size_t body_len;
};

static struct server srv;

static void
put(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;
	ssize_t w;

	while (off < n) {
		w = write(fd, s + off, n - off);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* Reads the request (headers, then Content-Length bytes) into buf. */
static ssize_t
read_request(int fd, char *buf, size_t cap, char **body)
{
	size_t n = 0, want = 0;
	char *eoh = NULL, *cl;
	ssize_t r;

	for (;;) {
		if (n + 1 >= cap)
			return -1;
		r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if (eoh == NULL && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			want = (size_t)(eoh + 4 - buf) +
			       (cl ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (eoh != NULL && n >= want) {
			*body = eoh + 4;
			return (ssize_t)n;
		}
	}
}

static void
serve(int fd)
{
	static char buf[256 * 1024];
	char head[256], *body, *cl, *p;
	size_t blen, i;
	ssize_t n;
	int ok = 1;

	n = read_request(fd, buf, sizeof(buf), &body);
	if (n < 0)
		return;
	blen = (size_t)(buf + n - body);
	for (i = 0; i < blen; i++)
		if (body[i] != (char)('a' + i % 26))
			ok = 0;
	body[-2] = '\0';
	pthread_mutex_lock(&srv.mu);
	srv.saw_xtest = strstr(buf, "\r\nX-Test: yes\r\n") != NULL;
	cl = strcasestr(buf, "\r\ncontent-length: ");
	srv.saw_len = cl != NULL && strtoul(cl + 18, &p, 10) == blen;
	srv.saw_ua = strcasestr(buf, "\r\nuser-agent: siogate/") != NULL;
	srv.saw_host = strcasestr(buf, "\r\nhost: ") != NULL;
	srv.body_ok = ok;
	srv.body_len = blen;
	pthread_mutex_unlock(&srv.mu);
	switch (srv.mode) {
	case M_200:
		put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		        "Connection: close\r\n\r\nhello");
		break;
	case M_204:
		put(fd, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
		break;
	case M_500:
		put(fd, "HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n"
		        "Connection: close\r\n\r\noops");
		break;
	case M_HANG: {
		struct pollfd pf = {srv.stop[0], POLLIN, 0};

		poll(&pf, 1, 10000);
		break;
	}
	case M_BIG:
		put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n"
		        "Connection: close\r\n\r\n");
		memset(buf, 'x', 5000);
		buf[5000] = '\0';
		put(fd, buf);
		break;
	case M_MIDBODY:
		put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
		        "Connection: close\r\n\r\n0123456789");
		break;
	case M_ECHO:
		snprintf(head, sizeof(head),
		         "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
		         "Connection: close\r\n\r\n%zu",
		         snprintf(NULL, 0, "%zu", blen), blen);
		put(fd, head);
		break;
	}
}

static void *
server_main(void *arg)
{
	struct pollfd pf[2];
	int fd;

	(void)arg;
	pf[0].fd = srv.lfd;
	pf[0].events = POLLIN;
	pf[1].fd = srv.stop[0];
	pf[1].events = POLLIN;
	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (!pf[0].revents)
			continue;
		fd = accept(srv.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd);
		close(fd);
	}
	return NULL;
}

static void
server_start(enum mode m, const char *unix_path)
{
	struct sockaddr_in in;
	struct sockaddr_un un;
	socklen_t sl = sizeof(in);

	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	srv.mode = m;
	CU_ASSERT_FATAL(pipe(srv.stop) == 0);
	if (unix_path != NULL) {
		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", unix_path);
		snprintf(srv.path, sizeof(srv.path), "%s", unix_path);
		srv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		CU_ASSERT_FATAL(
		    bind(srv.lfd, (struct sockaddr *)&un, sizeof(un)) == 0);
	} else {
		memset(&in, 0, sizeof(in));
		in.sin_family = AF_INET;
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
		CU_ASSERT_FATAL(
		    bind(srv.lfd, (struct sockaddr *)&in, sizeof(in)) == 0);
		CU_ASSERT_FATAL(
		    getsockname(srv.lfd, (struct sockaddr *)&in, &sl) == 0);
		srv.port = ntohs(in.sin_port);
	}
	CU_ASSERT_FATAL(listen(srv.lfd, 16) == 0);
	CU_ASSERT_FATAL(pthread_create(&srv.th, NULL, server_main, NULL) == 0);
}

static void
server_stop(void)
{
	CU_ASSERT(write(srv.stop[1], "x", 1) == 1);
	pthread_join(srv.th, NULL);
	close(srv.lfd);
	close(srv.stop[0]);
	close(srv.stop[1]);
	if (srv.path[0])
		unlink(srv.path);
	pthread_mutex_destroy(&srv.mu);
}

/* One request's result, copied by done. */
struct got {
	int calls;
	enum sio_http_failure failure;
	int status;
	char body[8192];
	size_t len;
	char err[128];
};

static void
on_done(void *udata, const struct sio_http_result *r)
{
	struct got *g = udata;

	g->calls++;
	g->failure = r->failure;
	g->status = r->status;
	g->len = r->len;
	snprintf(g->body, sizeof(g->body), "%s", r->body);
	snprintf(g->err, sizeof(g->err), "%s", r->err);
}

static void
target_tcp(struct sio_http_target *t, int port)
{
	char url[128], err[SIO_ERR_LEN];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook?x=1", port);
	CU_ASSERT_FATAL(sio_http_target_parse(url, t, err) == SIO_OK);
}

/* Posts body to t on an own-context client and services until done. */
static void
post(const struct sio_http_target *t, const char *body, size_t len,
     long timeout_ms, size_t max, struct got *g)
{
	static const char *const hdr[] = {"X-Test", "yes"};
	struct sio_http_client *c;
	char err[SIO_ERR_LEN];
	long long end = cu_now_ms() + 5000;

	memset(g, 0, sizeof(*g));
	c = sio_http_client_new(NULL, 4, err);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FATAL(sio_http_post(c, t, hdr, 1, body, len, timeout_ms, max,
	                              on_done, g) == SIO_OK);
	CU_ASSERT(g->calls == 0); /* never from inside sio_http_post() */
	CU_ASSERT(sio_http_client_busy(c) == 1);
	while (g->calls == 0 && cu_now_ms() < end)
		CU_ASSERT(sio_http_client_service(c, 100) == SIO_OK);
	CU_ASSERT(g->calls == 1);
	CU_ASSERT(sio_http_client_busy(c) == 0);
	sio_http_client_free(c);
	CU_ASSERT(g->calls == 1);
}

static void
run_mode(enum mode m, long timeout_ms, size_t max, struct got *g)
{
	struct sio_http_target t;

	server_start(m, NULL);
	target_tcp(&t, srv.port);
	post(&t, "abc", 3, timeout_ms, max, g);
	server_stop();
}

static void
test_200(void)
{
	struct got g;

	run_mode(M_200, 3000, 1024, &g);
	CU_ASSERT(g.failure == SIO_HTTP_OK);
	CU_ASSERT(g.status == 200);
	CU_ASSERT(g.len == 5 && strcmp(g.body, "hello") == 0);
	CU_ASSERT_STRING_EQUAL(g.err, "");
	CU_ASSERT(srv.saw_xtest && srv.saw_len && srv.saw_ua && srv.saw_host);
	CU_ASSERT(srv.body_ok && srv.body_len == 3);
}

static void
test_204(void)
{
	struct got g;

	run_mode(M_204, 3000, 1024, &g);
	CU_ASSERT(g.failure == SIO_HTTP_OK);
	CU_ASSERT(g.status == 204);
	CU_ASSERT(g.len == 0 && g.body[0] == '\0');
}

static void
test_500(void)
{
	struct got g;

	run_mode(M_500, 3000, 1024, &g);
	CU_ASSERT(g.failure == SIO_HTTP_OK);
	CU_ASSERT(g.status == 500);
	CU_ASSERT_STRING_EQUAL(g.body, "oops");
}

static void
test_refused(void)
{
	struct sockaddr_in in;
	socklen_t sl = sizeof(in);
	struct sio_http_target t;
	struct got g;
	int fd;

	/* a port that was just free: nobody listens there */
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&in, sizeof(in)) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&in, &sl) == 0);
	close(fd);
	target_tcp(&t, ntohs(in.sin_port));
	post(&t, "abc", 3, 3000, 1024, &g);
	CU_ASSERT(g.failure == SIO_HTTP_CONNECT);
	CU_ASSERT(g.status == 0);
	CU_ASSERT(g.err[0] != '\0');
}

static void
test_timeout(void)
{
	long long t0 = cu_now_ms();
	struct got g;

	run_mode(M_HANG, 300, 1024, &g);
	CU_ASSERT(g.failure == SIO_HTTP_TIMEOUT);
	CU_ASSERT(cu_now_ms() - t0 >= 290);
}

static void
test_too_big(void)
{
	struct got g;

	run_mode(M_BIG, 3000, 1000, &g);
	CU_ASSERT(g.failure == SIO_HTTP_TOO_BIG);
	CU_ASSERT(g.len == 0);
}

static void
test_midbody(void)
{
	struct got g;

	run_mode(M_MIDBODY, 3000, 1024, &g);
	CU_ASSERT(g.failure == SIO_HTTP_PROTOCOL);
}

static void
test_big_request(void)
{
	struct sio_http_target t;
	size_t n = 100 * 1024, i;
	char *body = malloc(n);
	char want[32];
	struct got g;

	CU_ASSERT_FATAL(body != NULL);
	for (i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	server_start(M_ECHO, NULL);
	target_tcp(&t, srv.port);
	post(&t, body, n, 3000, 1024, &g);
	server_stop();
	free(body);
	snprintf(want, sizeof(want), "%zu", n);
	CU_ASSERT(g.failure == SIO_HTTP_OK && g.status == 200);
	CU_ASSERT_STRING_EQUAL(g.body, want);
	CU_ASSERT(srv.body_ok && srv.saw_len && srv.saw_xtest);
}

static void
test_full(void)
{
	struct sio_http_target t;
	struct sio_http_client *c;
	char err[SIO_ERR_LEN];
	struct got g[3];
	long long end = cu_now_ms() + 5000;
	int i;

	memset(g, 0, sizeof(g));
	server_start(M_204, NULL);
	target_tcp(&t, srv.port);
	c = sio_http_client_new(NULL, 2, err);
	CU_ASSERT_FATAL(c != NULL);
	for (i = 0; i < 2; i++)
		CU_ASSERT(sio_http_post(c, &t, NULL, 0, "x", 1, 3000, 100,
		                        on_done, &g[i]) == SIO_OK);
	CU_ASSERT(sio_http_post(c, &t, NULL, 0, "x", 1, 3000, 100, on_done,
	                        &g[2]) == SIO_FULL);
	CU_ASSERT(sio_http_client_busy(c) == 2);
	while ((g[0].calls == 0 || g[1].calls == 0) && cu_now_ms() < end)
		sio_http_client_service(c, 100);
	CU_ASSERT(g[0].calls == 1 && g[1].calls == 1 && g[2].calls == 0);
	CU_ASSERT(g[0].status == 204 && g[1].status == 204);
	sio_http_client_free(c);
	server_stop();
}

static void
test_cancel(void)
{
	struct sio_http_target t;
	struct sio_http_client *c;
	char err[SIO_ERR_LEN];
	struct got g;

	memset(&g, 0, sizeof(g));
	server_start(M_HANG, NULL);
	target_tcp(&t, srv.port);
	c = sio_http_client_new(NULL, 2, err);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT(sio_http_post(c, &t, NULL, 0, "x", 1, 3000, 100, on_done,
	                        &g) == SIO_OK);
	sio_http_client_service(c, 0);
	sio_http_client_free(c);
	CU_ASSERT(g.calls == 1 && g.failure == SIO_HTTP_CONNECT);
	CU_ASSERT_STRING_EQUAL(g.err, "cancelled");
	server_stop();
}

static void
test_unix(void)
{
	char *dir = cu_tmpdir(), path[512], url[600], err[SIO_ERR_LEN];
	struct sio_http_target t;
	struct got g;

	snprintf(path, sizeof(path), "%s/app.sock", dir);
	snprintf(url, sizeof(url), "http://unix:%s:/hook", path);
	CU_ASSERT_FATAL(sio_http_target_parse(url, &t, err) == SIO_OK);
	CU_ASSERT(t.unix_socket == 1 && t.port == 0 && t.addr[0] == '+');
	CU_ASSERT_STRING_EQUAL(t.path, "/hook");
	server_start(M_200, path);
	post(&t, "abc", 3, 3000, 1024, &g);
	server_stop();
	CU_ASSERT(g.failure == SIO_HTTP_OK && g.status == 200);
	CU_ASSERT_STRING_EQUAL(g.body, "hello");
	cu_rmtree(dir);
	free(dir);
}

/* A socket that is not there fails inside lws_client_connect_via_info():
 * done still comes from the loop. */
static void
test_unix_missing(void)
{
	struct sio_http_target t;
	char err[SIO_ERR_LEN];
	struct got g;

	CU_ASSERT_FATAL(
	    sio_http_target_parse("http://unix:/nonexistent/a.sock:/", &t,
	                          err) == SIO_OK);
	post(&t, "abc", 3, 3000, 1024, &g);
	CU_ASSERT(g.failure == SIO_HTTP_CONNECT);
}

static void
test_post_wait(void)
{
	static const char *const hdr[] = {"X-Test", "yes"};
	struct sio_http_target t;
	struct sio_http_result r;

	server_start(M_200, NULL);
	target_tcp(&t, srv.port);
	CU_ASSERT_FATAL(
	    sio_http_post_wait(&t, hdr, 1, "abc", 3, 3000, 1024, &r) == SIO_OK);
	server_stop();
	CU_ASSERT(r.failure == SIO_HTTP_OK && r.status == 200);
	CU_ASSERT(r.len == 5 && strcmp(r.body, "hello") == 0);
	CU_ASSERT(srv.saw_xtest);
	sio_http_result_free(&r);
}

/* The client on a context its caller runs (sio-wsd's case). */
static void
test_shared_context(void)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct sio_http_target t;
	struct sio_http_client *c;
	char err[SIO_ERR_LEN];
	long long end = cu_now_ms() + 5000;
	struct got g;

	memset(&g, 0, sizeof(g));
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.gid = -1;
	info.uid = -1;
	ctx = lws_create_context(&info);
	CU_ASSERT_FATAL(ctx != NULL);
	c = sio_http_client_new(ctx, 4, err);
	CU_ASSERT_FATAL(c != NULL);
	server_start(M_500, NULL);
	target_tcp(&t, srv.port);
	CU_ASSERT(sio_http_post(c, &t, NULL, 0, "x", 1, 3000, 100, on_done,
	                        &g) == SIO_OK);
	while (g.calls == 0 && cu_now_ms() < end)
		lws_service(ctx, 0);
	CU_ASSERT(g.calls == 1 && g.status == 500);
	sio_http_client_free(c);
	lws_context_destroy(ctx);
	server_stop();
}

static void
test_parse(void)
{
	static const char *const bad[] = {
	    "https://example.com/",
	    "ftp://x/",
	    "http://",
	    "http:///path",
	    "http://user@127.0.0.1/",
	    "http://127.0.0.1/a#frag",
	    "http://127.0.0.1:0/",
	    "http://127.0.0.1:65536/",
	    "http://127.0.0.1:80x/",
	    "http://127.0.0.1:/",
	    "http://[::1/",
	    "http://unix:relative.sock:/x",
	    "http://unix:/tmp/a.sock",
	    "http://no-such-host.invalid/",
	    NULL,
	};
	struct sio_http_target t;
	char err[SIO_ERR_LEN];
	int i;

	CU_ASSERT(sio_http_target_parse("http://127.0.0.1:8080/app.php?x=1", &t,
	                                err) == SIO_OK);
	CU_ASSERT_STRING_EQUAL(t.host, "127.0.0.1:8080");
	CU_ASSERT_STRING_EQUAL(t.addr, "127.0.0.1");
	CU_ASSERT_STRING_EQUAL(t.path, "/app.php?x=1");
	CU_ASSERT(t.port == 8080 && !t.unix_socket);
	CU_ASSERT(sio_http_target_parse("http://localhost", &t, err) == SIO_OK);
	CU_ASSERT_STRING_EQUAL(t.host, "localhost");
	CU_ASSERT(t.port == 80);
	CU_ASSERT_STRING_EQUAL(t.path, "/");
	CU_ASSERT(strcmp(t.addr, "127.0.0.1") == 0 ||
	          strcmp(t.addr, "::1") == 0);
	CU_ASSERT(sio_http_target_parse("http://[::1]:81/x", &t, err) ==
	          SIO_OK);
	CU_ASSERT_STRING_EQUAL(t.host, "[::1]:81");
	CU_ASSERT_STRING_EQUAL(t.addr, "::1");
	CU_ASSERT(t.port == 81);
	CU_ASSERT(sio_http_target_parse("http://unix:/run/app.sock:/ev?a=b", &t,
	                                err) == SIO_OK);
	CU_ASSERT_STRING_EQUAL(t.addr, "+/run/app.sock");
	CU_ASSERT_STRING_EQUAL(t.path, "/ev?a=b");
	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		CU_ASSERT(sio_http_target_parse(bad[i], &t, err) == SIO_ERR);
		CU_ASSERT(err[0] != '\0');
	}
}

int
main(void)
{
	static const struct cu_test tests[] = {
	    {"a 200 response brings its body and the request its headers",
	     test_200},
	    {"a 204 is a complete response with an empty body", test_204},
	    {"a 500 is a complete response (any status)", test_500},
	    {"a refused connection is a connect failure", test_refused},
	    {"a server that never answers is a timeout", test_timeout},
	    {"a body over max_response is too big", test_too_big},
	    {"a server closing mid-body is a protocol failure", test_midbody},
	    {"a 100 kB request body arrives whole", test_big_request},
	    {"max_inflight requests at once, then SIO_FULL", test_full},
	    {"freeing the client cancels what is in flight", test_cancel},
	    {"a unix socket target", test_unix},
	    {"a missing unix socket is a connect failure", test_unix_missing},
	    {"post_wait blocks for the result", test_post_wait},
	    {"the client on a context its caller runs", test_shared_context},
	    {"target_parse takes the url forms and refuses others", test_parse},
	    {NULL, NULL},
	};

	lws_set_log_level(LLL_ERR, NULL);
	return cu_run("http_client", tests, NULL, NULL);
}
