/*
 * log.c: log line formatting with control characters escaped, and the
 * rate limit for repeated lines (log.h). Pure: no I/O, no clock.
 */
#include "log.h"
#include "payload.h"

#include <stdio.h>
#include <string.h>

static const char *const log_names[] = {"error", "warn", "info", "debug"};

/* The length of the UTF-8 character at s[0..len) when it is valid and not
 * a C1 control (U+0080 to U+009F, which some terminals obey), else 0. */
static size_t
log_char(const unsigned char *s, size_t len)
{
	size_t n = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
	           : s[0] >= 0xe0 && s[0] <= 0xef ? 3
	           : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
	                                          : 0;

	if (n == 0 || n > len || sio_payload_utf16_len((const char *)s, n) < 0)
		return 0;
	if (s[0] == 0xc2 && s[1] < 0xa0)
		return 0;
	return n;
}

size_t
sio_log_escape(char *dst, size_t room, const char *src, size_t len,
               size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)src;
	size_t n = 0, i = 0;

	while (i < len) {
		unsigned char c = u[i];
		const char *from = src + i; /* what goes out: raw, or esc */
		char esc[4];
		size_t k = 1, w = 1; /* bytes written, bytes of src */

		if (c >= 0x80 && (w = log_char(u + i, len - i)) > 0) {
			k = w;
		} else if (c < 0x20 || c >= 0x7f) {
			w = 1;
			from = esc;
			esc[0] = '\\';
			if (c == '\n' || c == '\r' || c == '\t') {
				esc[1] = c == '\n'   ? 'n'
				         : c == '\r' ? 'r'
				                     : 't';
				k = 2;
			} else {
				esc[1] = 'x';
				esc[2] = hex[c >> 4];
				esc[3] = hex[c & 15];
				k = 4;
			}
		}
		if (n + k + 1 > room)
			break;
		memcpy(dst + n, from, k);
		n += k;
		i += w;
	}
	if (room > 0)
		dst[n] = '\0';
	if (used != NULL)
		*used = i;
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
	n += sio_log_escape(line + n, cap - 1 - n, msg, strlen(msg), NULL);
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
