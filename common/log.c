/*
 * log.c: log line formatting with control characters escaped, the rate
 * limit for repeated lines, and the sink a program writes its lines to
 * (log.h). All but the sink are pure: no I/O, no clock.
 */
#include "clock.h"
#include "log.h"
#include "payload.h"
#include "result.h"
#include "siogate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

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
	h = snprintf(line, cap - 1, "%s[%d]: %s: ", prog, pid,
	             log_names[level]);
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

size_t
sio_log_stamp(char *out, size_t cap, long long sec, long nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	size_t n;

	if (gmtime_r(&t, &tm) == NULL ||
	    (n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		if (cap > 0)
			out[0] = '\0';
		return 0;
	}
	n += (size_t)snprintf(out + n, cap - n, ".%03ldZ",
	                      nsec / 1000000 % 1000);
	return n < cap ? n : cap - 1;
}

int
sio_log_priority(enum sio_log_level level)
{
	switch (level) {
	case SIO_LOG_ERROR:
		return LOG_ERR;
	case SIO_LOG_WARN:
		return LOG_WARNING;
	case SIO_LOG_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

int
sio_log_journald(const char *journal_stream, unsigned long long dev,
                 unsigned long long ino)
{
	unsigned long long d, i;
	char *end;

	if (journal_stream == NULL || *journal_stream == '\0')
		return 0;
	errno = 0;
	d = strtoull(journal_stream, &end, 10);
	if (errno != 0 || end == journal_stream || *end != ':')
		return 0;
	journal_stream = end + 1;
	i = strtoull(journal_stream, &end, 10);
	if (errno != 0 || end == journal_stream || *end != '\0')
		return 0;
	return d == dev && i == ino;
}

/* 1 when stderr is the journal's stream (systemd sets JOURNAL_STREAM). */
static int
log_stderr_journald(void)
{
	struct stat sb;

	if (fstat(STDERR_FILENO, &sb) != 0)
		return 0;
	return sio_log_journald(getenv("JOURNAL_STREAM"),
	                        (unsigned long long)sb.st_dev,
	                        (unsigned long long)sb.st_ino);
}

int
sio_log_sink_open(struct sio_log_sink *s, const char *prog, const char *spec,
                  char *err)
{
	int dest = strcmp(spec, "syslog") == 0   ? SIO_LOG_TO_SYSLOG
	           : strcmp(spec, "stderr") == 0 ? SIO_LOG_TO_STDERR
	                                         : SIO_LOG_TO_FILE;
	int fd = STDERR_FILENO, stamp = 1;

	s->prog = prog;
	if (dest == SIO_LOG_TO_FILE) {
		fd = open(spec,
		          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		          0640);
		if (fd < 0) {
			sio_err(err, "log %.200s: %s", spec, strerror(errno));
			return SIO_ERR;
		}
	} else if (dest == SIO_LOG_TO_STDERR) {
		stamp = !log_stderr_journald();
	}
	if (dest == SIO_LOG_TO_SYSLOG && !s->syslog_open) {
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		s->syslog_open = 1;
	}
	if (dest != SIO_LOG_TO_SYSLOG) {
		/* the sink's descriptor keeps its number: a thread writing
		 * now writes to the old file or the new one */
		if (s->fd < 0)
			s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		else if (dup3(fd, s->fd, O_CLOEXEC) < 0) {
			sio_err(err, "log %.200s: %s", spec, strerror(errno));
			if (fd != STDERR_FILENO)
				close(fd);
			return SIO_ERR;
		}
		if (fd != STDERR_FILENO)
			close(fd);
		/* a closed stderr is no reason not to start: lines go
		 * nowhere until a file is named */
		if (s->fd < 0 && dest == SIO_LOG_TO_FILE) {
			sio_err(err, "log %.200s: %s", spec, strerror(errno));
			return SIO_ERR;
		}
	}
	atomic_store(&s->stamp, stamp);
	atomic_store(&s->dest, dest);
	return SIO_OK;
}

void
sio_log_sink_write(struct sio_log_sink *s, enum sio_log_level level,
                   const char *line, size_t len)
{
	char buf[1100];
	const char *msg;
	size_t n;
	int fd = s->fd >= 0 ? s->fd : STDERR_FILENO;

	if (atomic_load(&s->dest) == SIO_LOG_TO_SYSLOG) {
		/* syslog adds the name and pid, the priority says the level:
		 * the message after "prog[pid]: level: " */
		msg = strstr(line, "]: ");
		msg = msg != NULL ? strstr(msg + 3, ": ") : NULL;
		msg = msg != NULL ? msg + 2 : line;
		n = len - (size_t)(msg - line);
		if (n > 0 && msg[n - 1] == '\n')
			n--;
		syslog(sio_log_priority(level), "%.*s", (int)n, msg);
		return;
	}
	if (atomic_load(&s->stamp) && len + 34 < sizeof(buf)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		n = sio_log_stamp(buf, sizeof(buf), ts.tv_sec, ts.tv_nsec);
		buf[n++] = ' ';
		memcpy(buf + n, line, len);
		line = buf;
		len += n;
	}
	/* one write, so that lines of threads do not mix */
	if (write(fd, line, len) < 0)
		return; /* nowhere left to say so */
}

void
sio_log_sink_vlog(struct sio_log_sink *s, enum sio_log_level level,
                  const char *fmt, va_list ap)
{
	char line[1024];
	size_t len;

	len = sio_log_format(line, sizeof(line), s->prog ? s->prog : "siogate",
	                     (int)getpid(), level, fmt, ap);
	sio_log_sink_write(s, level, line, len);
}

/* sio_log_sink_vlog() with a format of its own. */
static void
log_sink_printf(struct sio_log_sink *s, enum sio_log_level level,
                const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sio_log_sink_vlog(s, level, fmt, ap);
	va_end(ap);
}

void
sio_log_sink_vlimited(struct sio_log_sink *s, struct sio_ratelimit *rl,
                      enum sio_log_level level, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned dropped = 0;
	int ok;

	pthread_mutex_lock(&lock);
	ok = sio_ratelimit_take(rl, sio_clock_mono_us() / 1000, SIO_LOG_BURST,
	                        SIO_LOG_INTERVAL_MS, &dropped);
	pthread_mutex_unlock(&lock);
	if (!ok)
		return;
	if (dropped > 0)
		log_sink_printf(s, level, "(%u lines like the next dropped)",
		                dropped);
	sio_log_sink_vlog(s, level, fmt, ap);
}
