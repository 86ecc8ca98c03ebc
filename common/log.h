/*
 * log.h: the pure parts of the programs' log lines. Formatting escapes the
 * control characters a client can put in a message (a newline must not
 * forge a line, an escape sequence must not reach a terminal; sioctl
 * escapes what it prints with the same function), and a rate
 * limit keeps a repeated line (an accept that fails on every turn, a flood
 * of refusals) from filling the disk. Library code never writes a line:
 * the programs do, with these.
 */
#ifndef SIO_LOG_H
#define SIO_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "config.h"

/*
 * Copies src[0..len) into dst (room bytes) for a log line or a terminal:
 * every control character (bytes below 0x20, 0x7f, the C1 controls U+0080
 * to U+009F) and every byte that is not part of valid UTF-8 is written as
 * \n, \r, \t or \xHH, so no byte from a client can end a line, move the
 * cursor or start an escape sequence; other characters stay as they are.
 * Stops before a character or escape that would not fit (4 bytes at most
 * each). Returns the bytes written; dst is NUL-terminated when room > 0;
 * *used (may be NULL) is the number of bytes of src consumed.
 */
size_t sio_log_escape(char *dst, size_t room, const char *src, size_t len,
                      size_t *used);

/*
 * Formats "<prog>[<pid>]: <level>: <message>\n" into line (cap bytes, cap
 * >= 64), the message cut to fit and escaped by sio_log_escape() (so one
 * call is one line). Returns the length written, newline included; line
 * is always NUL-terminated.
 */
size_t sio_log_format(char *line, size_t cap, const char *prog, int pid,
                      enum sio_log_level level, const char *fmt, va_list ap);

/*
 * A rate limit for one kind of line: at most `burst` lines per
 * `interval_ms`. The caller owns the struct (zeroed to start) and
 * serialises calls on it.
 */
/* The programs' limit for a repeated line: 5 a minute. */
#define SIO_LOG_BURST 5
#define SIO_LOG_INTERVAL_MS 60000

struct sio_ratelimit {
	long long start_ms; /* the current interval began here */
	unsigned  shown;    /* lines let through in this interval */
	unsigned  dropped;  /* lines dropped since the last one let through */
};

/*
 * Returns 1 when a line may be written at now_ms (a monotonic clock), 0
 * when it is to be dropped. On 1, *dropped (may be NULL) is the number of
 * lines dropped before this one, so the caller can say so; the count then
 * starts again.
 */
int sio_ratelimit_take(struct sio_ratelimit *rl, long long now_ms,
                       unsigned burst, long long interval_ms,
                       unsigned *dropped);

#endif
