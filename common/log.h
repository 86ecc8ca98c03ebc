/*
 * log.h: the pure parts of the programs' log lines. Formatting escapes the
 * control characters a client can put in a message (a newline must not
 * forge a line, an escape sequence must not reach a terminal; sioctl
 * escapes what it prints with the same function), and a rate
 * limit keeps a repeated line (an accept that fails on every turn, a flood
 * of refusals) from filling the disk. Library code never writes a line:
 * the programs do, with these, through the sink at the end, which writes
 * only what a program hands it.
 */
#ifndef SIO_LOG_H
#define SIO_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
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
	unsigned shown;     /* lines let through in this interval */
	unsigned dropped;   /* lines dropped since the last one let through */
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

/*
 * An ISO-8601 UTC time with milliseconds, "2026-01-02T03:04:05.678Z",
 * for realtime ts, into out (cap >= 32). Returns its length.
 */
size_t sio_log_stamp(char *out, size_t cap, long long sec, long nsec);

/* The syslog(3) priority of level (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG). */
int sio_log_priority(enum sio_log_level level);

/*
 * 1 when journal_stream (the JOURNAL_STREAM variable, "DEV:INO", may be
 * NULL) names the file dev, ino (stderr's): systemd's journal reads the
 * stream and stamps each line itself. Pure.
 */
int sio_log_journald(const char *journal_stream, unsigned long long dev,
                     unsigned long long ino);

/*
 * Where a program's lines go: the `log` setting. "stderr", "syslog"
 * (LOG_DAEMON, priorities from the level) or a file appended to. Lines on
 * stderr or a file start with sio_log_stamp()'s time, except on a stderr
 * the journal reads. The sink writes only what a program hands it; the
 * program owns the struct, which writing threads may share: reopening
 * swaps the file under the same descriptor (dup2), so a line being
 * written goes to the old file or the new one, never to a closed one.
 */
enum sio_log_dest { SIO_LOG_TO_STDERR = 0, SIO_LOG_TO_SYSLOG, SIO_LOG_TO_FILE };

struct sio_log_sink {
	const char *prog;  /* borrowed: the syslog ident too */
	int fd;            /* the sink's own descriptor, -1 before open */
	int _Atomic dest;  /* enum sio_log_dest */
	int _Atomic stamp; /* 1: lines carry a time */
	int syslog_open;
};

/*
 * Opens (or, when open, reopens) s for spec (a `log` value): a file is
 * opened O_APPEND|O_CREAT (0640) and replaces the previous target. SIO_OK,
 * or SIO_ERR with the reason in err, s unchanged (still writing where it
 * did). Not to be called by two threads at once.
 */
int sio_log_sink_open(struct sio_log_sink *s, const char *prog,
                      const char *spec, char *err);

/* Writes one line (from sio_log_format(), newline included) at level. */
void sio_log_sink_write(struct sio_log_sink *s, enum sio_log_level level,
                        const char *line, size_t len);

/*
 * One line of a program to s: "<prog>[<pid>]: <level>: ..." formatted by
 * sio_log_format() (prog: s->prog, set by the caller before the sink is
 * opened) and written by sio_log_sink_write(). The caller checks the
 * level. Threads may share s.
 */
void sio_log_sink_vlog(struct sio_log_sink *s, enum sio_log_level level,
                       const char *fmt, va_list ap);
/*
 * As sio_log_sink_vlog(), but a line of rl's kind (one rl each, zeroed
 * static) is written at most SIO_LOG_BURST times per SIO_LOG_INTERVAL_MS
 * of the monotonic clock; the next line written says how many were
 * dropped. Threads may share rl: its calls are serialised here.
 */
void sio_log_sink_vlimited(struct sio_log_sink *s, struct sio_ratelimit *rl,
                           enum sio_log_level level, const char *fmt,
                           va_list ap);

#endif
