/*
 * test_listen.c: the listen address suite, one parser for both daemons'
 * --listen: a table of specs with the kind, host and port each gives, and
 * of specs refused with a reason.
 */
#include <stdio.h>
#include <string.h>

#include "cu.h"
#include "listen.h"

static const struct {
	const char *spec;
	int unix_path, v6, port;
	const char *host;
} good[] = {
    {"127.0.0.1:9000", 0, 0, 9000, "127.0.0.1"},
    {"localhost:9000", 0, 0, 9000, "localhost"},
    {"example.org:1", 0, 0, 1, "example.org"},
    {"0.0.0.0:65535", 0, 0, 65535, "0.0.0.0"},
    {"*:8081", 0, 0, 8081, ""},
    {":8081", 0, 0, 8081, ""},
    {"8081", 0, 0, 8081, ""},
    {"[::1]:8081", 0, 1, 8081, "::1"},
    {"[::]:80", 0, 1, 80, "::"},
    {"[fe80::1%eth0]:80", 0, 1, 80, "fe80::1%eth0"},
    {"/run/siogate/gateway.sock", 1, 0, 0, ""},
    {"./gw.sock", 1, 0, 0, ""},
    {"/tmp/a:b", 1, 0, 0, ""},
};

static const struct {
	const char *spec, *why;
} bad[] = {
    {"", "not a port"},
    {"localhost", "not a port"},
    {"gw.sock", "not a port"},
    {"host:", "not a port"},
    {"host:0", "not a port"},
    {"host:65536", "not a port"},
    {"host:80x", "not a port"},
    {"host:-1", "not a port"},
    {"host:000080", "not a port"},
    {"::1:80", "needs brackets"},
    {"[::1:80", "bad brackets"},
    {"[::1]80", "not a port"},
    {"[:80", "bad brackets"},
    {"[]:80", "bad brackets"},
    {"a]:80", "stray bracket"},
};

static void
test_good(void)
{
	struct sio_listen l;
	char err[SIO_ERR_LEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = sio_listen_parse(good[i].spec, &l, err);
		CU_ASSERT_EQUAL(rc, SIO_OK);
		if (rc != SIO_OK) {
			fprintf(stderr, "%s: %s\n", good[i].spec, err);
			continue;
		}
		CU_ASSERT_EQUAL(l.unix_path, good[i].unix_path);
		if (l.unix_path)
			continue;
		CU_ASSERT_EQUAL(l.port, good[i].port);
		CU_ASSERT_EQUAL(l.v6, good[i].v6);
		CU_ASSERT_STRING_EQUAL(l.host, good[i].host);
	}
}

static void
test_bad(void)
{
	struct sio_listen l;
	char err[SIO_ERR_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(sio_listen_parse(bad[i].spec, &l, err),
		                SIO_ERR);
		if (strstr(err, bad[i].why) == NULL) {
			fprintf(stderr, "%s: %s\n", bad[i].spec, err);
			CU_FAIL("not the reason expected");
		}
	}
	/* err may be NULL */
	CU_ASSERT_EQUAL(sio_listen_parse("nope", &l, NULL), SIO_ERR);
}

/* The host fits SIO_LISTEN_HOST_MAX bytes, one more is refused. */
static void
test_host_length(void)
{
	char spec[SIO_LISTEN_HOST_MAX + 8];
	struct sio_listen l;

	memset(spec, 'h', SIO_LISTEN_HOST_MAX);
	strcpy(spec + SIO_LISTEN_HOST_MAX, ":80");
	CU_ASSERT_EQUAL(sio_listen_parse(spec, &l, NULL), SIO_OK);
	CU_ASSERT_EQUAL(strlen(l.host), SIO_LISTEN_HOST_MAX);
	memset(spec, 'h', SIO_LISTEN_HOST_MAX + 1);
	strcpy(spec + SIO_LISTEN_HOST_MAX + 1, ":80");
	CU_ASSERT_EQUAL(sio_listen_parse(spec, &l, NULL), SIO_ERR);
}

static const struct cu_test tests[] = {
    {"listen parses HOST:PORT, [V6]:PORT, :PORT, PORT and paths", test_good},
    {"listen refuses bad ports, bare IPv6 and stray brackets, saying why",
     test_bad},
    {"listen takes a host of SIO_LISTEN_HOST_MAX bytes, not one more",
     test_host_length},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("listen", tests, NULL, NULL);
}
