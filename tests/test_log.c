/*
 * test_log.c: the log suite. A client's newline or terminal escape in a
 * message comes out escaped on one line; a long message is cut and the
 * line still ends; the rate limit lets a burst through per interval and
 * counts what it dropped. The sink: its times, its syslog priorities, how
 * it tells the journal's stream, and a file reopened after a rotation.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cu.h"
#include "log.h"
#include "siogate.h"

static size_t
fmt(char *line, size_t cap, const char *f, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = sio_log_format(line, cap, "sio-test", 7, SIO_LOG_INFO, f, ap);
	va_end(ap);
	return n;
}

static void
test_escapes_controls(void)
{
	char line[256];
	size_t n = fmt(line, sizeof(line), "%s: %s", "sid",
	               "a\nsio-gateway[1]: error: forged\x1b[2J\x7f\t");

	CU_ASSERT_STRING_EQUAL(line,
	                       "sio-test[7]: info: sid: a\\nsio-gateway[1]: "
	                       "error: forged\\x1b[2J\\x7f\\t\n");
	CU_ASSERT_EQUAL(n, strlen(line));
	CU_ASSERT_PTR_NULL(memchr(line, '\n', n - 1));
}

static void
test_cuts_long_messages(void)
{
	char line[80], big[600];

	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	size_t n = fmt(line, sizeof(line), "%s", big);
	CU_ASSERT_EQUAL(n, strlen(line));
	CU_ASSERT(n < sizeof(line));
	CU_ASSERT_EQUAL(line[n - 1], '\n');
	CU_ASSERT_PTR_NULL(memchr(line, '\n', n - 1));
	/* an escape is never cut in half */
	CU_ASSERT_EQUAL(line[n - 2], 'n');
	CU_ASSERT_EQUAL(line[n - 3], '\\');
}

/* An 8-bit CSI (raw, or as the C1 character U+009B) starts an escape
 * sequence on some terminals too. */
static void
test_escapes_c1_and_bad_bytes(void)
{
	char line[256];

	fmt(line, sizeof(line), "%s", "\2332J \302\23331m caf\xc3\xa9");
	CU_ASSERT_STRING_EQUAL(line, "sio-test[7]: info: \\x9b2J \\xc2\\x9b31m "
	                             "caf\xc3\xa9\n");
}

/* What a terminal gets: UTF-8 text as it is, every control character
 * (C0, DEL, C1) and every byte outside valid UTF-8 as \xHH. */
static void
test_escape_table(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} t[] = {
	    {"plain text", 10, "plain text"},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
	    {"\x1b]0;title\x07", 10, "\\x1b]0;title\\x07"},
	    {"a\0b", 3, "a\\x00b"},
	    /* octal, so that the digits after stay digits: \233 is 0x9b */
	    {"\302\23331m", 5, "\\xc2\\x9b31m"},    /* C1 CSI */
	    {"\xc2\xa0", 2, "\xc2\xa0"},            /* U+00A0 stays */
	    {"\2332J", 3, "\\x9b2J"},               /* a lone 8-bit CSI */
	    {"caf\xc3", 4, "caf\\xc3"},             /* cut character */
	    {"\xc0\xaf", 2, "\\xc0\\xaf"},          /* overlong */
	    {"\xed\xa0\x80", 3, "\\xed\\xa0\\x80"}, /* surrogate */
	    {"\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"}, /* > U+10FFFF */
	    {"\xff\xfe", 2, "\\xff\\xfe"},
	    {"\r\n\t\x7f", 4, "\\r\\n\\t\\x7f"},
	};
	char out[128];
	size_t used;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n =
		    sio_log_escape(out, sizeof(out), t[i].in, t[i].len, &used);
		CU_ASSERT_STRING_EQUAL(out, t[i].want);
		CU_ASSERT_EQUAL(n, strlen(t[i].want));
		CU_ASSERT_EQUAL(used, t[i].len);
	}
}

/* A full buffer ends before the escape or character that does not fit. */
static void
test_escape_stops_whole(void)
{
	char out[6];
	size_t used, n;

	n = sio_log_escape(out, sizeof(out), "ab\x1b", 3, &used);
	CU_ASSERT_STRING_EQUAL(out, "ab"); /* "ab\x1b" needs 7 with the NUL */
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(used, 2);
	n = sio_log_escape(out, sizeof(out), "abc\xf0\x9f\x98\x80", 7, &used);
	CU_ASSERT_STRING_EQUAL(out, "abc");
	CU_ASSERT_EQUAL(used, 3);
	n = sio_log_escape(out, 1, "abc", 3, &used);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void
test_ratelimit(void)
{
	struct sio_ratelimit rl = {0};
	unsigned dropped = 99, shown = 0;

	for (int i = 0; i < 100; i++)
		shown += (unsigned)sio_ratelimit_take(&rl, 1000 + i, 5, 1000,
		                                      &dropped);
	CU_ASSERT_EQUAL(shown, 5);
	CU_ASSERT_EQUAL(dropped, 0);
	CU_ASSERT_EQUAL(sio_ratelimit_take(&rl, 1999, 5, 1000, &dropped), 0);
	CU_ASSERT_EQUAL(sio_ratelimit_take(&rl, 2000, 5, 1000, &dropped), 1);
	CU_ASSERT_EQUAL(dropped, 96);
	CU_ASSERT_EQUAL(sio_ratelimit_take(&rl, 2001, 5, 1000, &dropped), 1);
	CU_ASSERT_EQUAL(dropped, 0);
}

static void
test_stamp(void)
{
	static const struct {
		long long sec;
		long nsec;
		const char *want;
	} t[] = {
	    {0, 0, "1970-01-01T00:00:00.000Z"},
	    {1767323045, 678901234, "2026-01-02T03:04:05.678Z"},
	    {951782400, 999999999, "2000-02-29T00:00:00.999Z"},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CU_ASSERT_EQUAL(
		    sio_log_stamp(out, sizeof(out), t[i].sec, t[i].nsec),
		    strlen(t[i].want));
		CU_ASSERT_STRING_EQUAL(out, t[i].want);
	}
}

static void
test_priorities(void)
{
	CU_ASSERT_EQUAL(sio_log_priority(SIO_LOG_ERROR), LOG_ERR);
	CU_ASSERT_EQUAL(sio_log_priority(SIO_LOG_WARN), LOG_WARNING);
	CU_ASSERT_EQUAL(sio_log_priority(SIO_LOG_INFO), LOG_INFO);
	CU_ASSERT_EQUAL(sio_log_priority(SIO_LOG_DEBUG), LOG_DEBUG);
}

static void
test_journald(void)
{
	static const struct {
		const char *env;
		int want;
	} t[] = {
	    {"64769:1234567", 1},
	    {"64769:1234568", 0},
	    {"64768:1234567", 0},
	    {"64769:1234567x", 0},
	    {"64769", 0},
	    {":1234567", 0},
	    {"64769:", 0},
	    {"", 0},
	    {NULL, 0},
	    {"99999999999999999999999:1", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CU_ASSERT_EQUAL(sio_log_journald(t[i].env, 64769, 1234567),
		                t[i].want);
}

/* A file sink appends stamped lines; reopened after a rename it writes
 * to a new file under the old name, and the renamed one is left alone. */
static void
test_sink_file_reopen(void)
{
	struct sio_log_sink s = {.fd = -1};
	char *dir = cu_tmpdir(), path[512], moved[520], buf[512],
	     err[SIO_ERR_LEN];
	const char line[] = "sio-test[7]: info: one\n";
	FILE *f;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/x.log", dir);
	snprintf(moved, sizeof(moved), "%s.1", path);
	CU_ASSERT_EQUAL_FATAL(sio_log_sink_open(&s, "sio-test", path, err),
	                      SIO_OK);
	sio_log_sink_write(&s, SIO_LOG_INFO, line, strlen(line));
	CU_ASSERT_EQUAL(rename(path, moved), 0);
	CU_ASSERT_EQUAL(sio_log_sink_open(&s, "sio-test", path, err), SIO_OK);
	sio_log_sink_write(&s, SIO_LOG_WARN, "sio-test[7]: warn: two\n", 23);
	f = fopen(moved, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	CU_ASSERT_EQUAL(n, 25 + strlen(line));
	CU_ASSERT_STRING_EQUAL(buf + 25, line);
	CU_ASSERT_EQUAL(buf[10], 'T');
	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf + 25, "sio-test[7]: warn: two\n");
	/* a file that cannot be opened leaves the sink as it was */
	snprintf(moved, sizeof(moved), "%s/no/such/dir", dir);
	CU_ASSERT_EQUAL(sio_log_sink_open(&s, "sio-test", moved, err), SIO_ERR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
	CU_ASSERT_EQUAL(atomic_load(&s.dest), SIO_LOG_TO_FILE);
	close(s.fd);
	cu_rmtree(dir);
	free(dir);
}

/* vlog() with varargs, as the programs' wrappers call it. */
static void
log_to(struct sio_log_sink *s, struct sio_ratelimit *rl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (rl == NULL)
		sio_log_sink_vlog(s, SIO_LOG_WARN, fmt, ap);
	else
		sio_log_sink_vlimited(s, rl, SIO_LOG_WARN, fmt, ap);
	va_end(ap);
}

/* The programs' lines: prog and pid in front, the message escaped; a
 * limited kind lets SIO_LOG_BURST through in an interval. */
static void
test_sink_vlog_and_limited(void)
{
	struct sio_log_sink s = {.fd = -1};
	struct sio_ratelimit rl = {0};
	char *dir = cu_tmpdir(), path[512], buf[2048], want[128],
	     err[SIO_ERR_LEN];
	int lines = 0;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/v.log", dir);
	CU_ASSERT_EQUAL_FATAL(sio_log_sink_open(&s, "sio-v", path, err),
	                      SIO_OK);
	log_to(&s, NULL, "a %s", "b\nc");
	log_to(&s, NULL, "x\ny");
	for (int i = 0; i < SIO_LOG_BURST + 3; i++)
		log_to(&s, &rl, "again %d", i);
	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	snprintf(want, sizeof(want), "sio-v[%d]: warn: ", (int)getpid());
	while (fgets(buf, sizeof(buf), f) != NULL) {
		CU_ASSERT_PTR_NOT_NULL(strstr(buf, want));
		lines++;
	}
	fclose(f);
	CU_ASSERT_EQUAL(lines, 2 + SIO_LOG_BURST);
	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "warn: a b\\nc\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "warn: x\\ny\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "again 4\n"));
	CU_ASSERT_PTR_NULL(strstr(buf, "again 5"));
	CU_ASSERT_EQUAL(rl.dropped, 3);
	close(s.fd);
	cu_rmtree(dir);
	free(dir);
}

static const struct cu_test tests[] = {
    {"log format escapes newlines and terminal escapes onto one line",
     test_escapes_controls},
    {"log format cuts a long message between escapes and ends the line",
     test_cuts_long_messages},
    {"log format escapes C1 controls and bytes outside UTF-8",
     test_escapes_c1_and_bad_bytes},
    {"log escape keeps UTF-8 text and escapes controls, C1 and bad bytes",
     test_escape_table},
    {"log escape stops before what does not fit, never inside it",
     test_escape_stops_whole},
    {"log rate limit lets a burst through per interval and counts the rest",
     test_ratelimit},
    {"log stamp is ISO-8601 UTC with milliseconds", test_stamp},
    {"log levels map to syslog priorities", test_priorities},
    {"JOURNAL_STREAM names stderr only as DEV:INO, exactly", test_journald},
    {"a log file sink is reopened after a rotation; a bad path changes "
     "nothing",
     test_sink_file_reopen},
    {"log sink vlog writes prog[pid] lines; vlimited a burst of them",
     test_sink_vlog_and_limited},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("log", tests, NULL, NULL);
}
