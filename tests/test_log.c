/*
 * test_log.c: the log suite. A client's newline or terminal escape in a
 * message comes out escaped on one line; a long message is cut and the
 * line still ends; the rate limit lets a burst through per interval and
 * counts what it dropped.
 */
#include <string.h>

#include "cu.h"
#include "log.h"

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

	CU_ASSERT_STRING_EQUAL(line, "sio-test[7]: info: sid: a\\nsio-gateway[1]: "
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

static void
test_ratelimit(void)
{
	struct sio_ratelimit rl = {0};
	unsigned dropped = 99, shown = 0;

	for (int i = 0; i < 100; i++)
		shown += (unsigned)sio_ratelimit_take(&rl, 1000 + i, 5, 1000, &dropped);
	CU_ASSERT_EQUAL(shown, 5);
	CU_ASSERT_EQUAL(dropped, 0);
	CU_ASSERT_EQUAL(sio_ratelimit_take(&rl, 1999, 5, 1000, &dropped), 0);
	CU_ASSERT_EQUAL(sio_ratelimit_take(&rl, 2000, 5, 1000, &dropped), 1);
	CU_ASSERT_EQUAL(dropped, 96);
	CU_ASSERT_EQUAL(sio_ratelimit_take(&rl, 2001, 5, 1000, &dropped), 1);
	CU_ASSERT_EQUAL(dropped, 0);
}

static const struct cu_test tests[] = {
    {"log format escapes newlines and terminal escapes onto one line",
     test_escapes_controls},
    {"log format cuts a long message between escapes and ends the line",
     test_cuts_long_messages},
    {"log rate limit lets a burst through per interval and counts the rest",
     test_ratelimit},
    {NULL, NULL},
};

int
main(void)
{
	return cu_run("log", tests, NULL, NULL);
}
