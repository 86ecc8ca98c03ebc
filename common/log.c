/*
 * log.c: log line formatting with control characters escaped, and the
 * rate limit for repeated lines (log.h). Pure: no I/O, no clock.
 */
#include "log.h"

#include <stdio.h>
#include <string.h>

static const char *const log_names[] = {"error", "warn", "info", "debug"};

/* Copies src into dst (room bytes, room >= 5 for an escape and the NUL),
 * escaping control characters; returns the bytes written. */
static size_t
log_escape(char *dst, size_t room, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *src != '\0'; src++) {
		unsigned char c = (unsigned char)*src;
		char esc[4];
		size_t k = 0;

		if (c >= 0x20 && c != 0x7f) {
			esc[k++] = (char)c;
		} else {
			esc[k++] = '\\';
			if (c == '\n' || c == '\r' || c == '\t') {
				esc[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			} else {
				esc[k++] = 'x';
				esc[k++] = hex[c >> 4];
				esc[k++] = hex[c & 15];
			}
		}
		if (n + k + 1 > room)
			break;
		memcpy(dst + n, esc, k);
		n += k;
	}
	dst[n] = '\0';
	return n;
}

size_t
sio_log_format(char *line, size_t cap, const char *prog, int pid,
               enum sio_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	int h;
	size_t n;

	if ((unsigned)level > SIO_LOG_DEBUG)
		level = SIO_LOG_DEBUG;
	h = snprintf(line, cap - 1, "%s[%d]: %s: ", prog, pid, log_names[level]);
	n = h < 0 ? 0 : (size_t)h >= cap - 1 ? cap - 2 : (size_t)h;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n += log_escape(line + n, cap - 1 - n, msg);
	line[n++] = '\n';
	line[n] = '\0';
	return n;
}

int
sio_ratelimit_take(struct sio_ratelimit *rl, long long now_ms, unsigned burst,
                   long long interval_ms, unsigned *dropped)
{
	if (now_ms - rl->start_ms >= interval_ms || now_ms < rl->start_ms) {
		rl->start_ms = now_ms;
		rl->shown = 0;
	}
	if (rl->shown >= burst) {
		rl->dropped++;
		return 0;
	}
	rl->shown++;
	if (dropped != NULL)
		*dropped = rl->dropped;
	rl->dropped = 0;
	return 1;
}
