/*
 * buf.h: a growable byte buffer, the output of every encoder in siogate.
 * Encoders append to a caller-owned struct sio_buf; appending may move p,
 * so never keep a pointer into a buffer across an append. p is always
 * NUL-terminated after a successful append (the NUL is not counted in len).
 */
#ifndef SIO_BUF_H
#define SIO_BUF_H

#include <stddef.h>

struct sio_buf {
	char *p;
	size_t len;
	size_t cap;
};

/* Empty buffer, no allocation. */
void sio_buf_init(struct sio_buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void sio_buf_cleanup(struct sio_buf *b);
/* Sets len to 0, keeping the storage. */
void sio_buf_reset(struct sio_buf *b);
/* Drops the bytes after the first len (len <= b->len), keeping the storage;
 * how an encoder that failed halfway leaves its buffer unchanged. */
void sio_buf_truncate(struct sio_buf *b, size_t len);
/* Appends bytes / a C string / a formatted string / one byte. SIO_OK or
 * SIO_ERR (out of memory; the buffer is unchanged on error). */
int sio_buf_append(struct sio_buf *b, const void *data, size_t len);
int sio_buf_puts(struct sio_buf *b, const char *s);
int sio_buf_printf(struct sio_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sio_buf_putc(struct sio_buf *b, char c);
/* Takes the storage out: returns p (caller frees with free()) or NULL when
 * nothing was allocated; the buffer is left empty. */
char *sio_buf_steal(struct sio_buf *b);

/* Copies the C string src into the array dst of size bytes (size > 0),
 * cut to fit and always terminated, as snprintf("%s") would, without the
 * formatting; returns the length copied. */
size_t sio_buf_copy(char *dst, size_t size, const char *src);

#endif
