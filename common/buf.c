/*
 * buf.c: the growable byte buffer every encoder appends to (buf.h). It
 * grows geometrically and keeps one spare byte for the terminating NUL, so
 * a buffer holding text can be handed to C string functions as it is.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "siogate.h"

void
sio_buf_init(struct sio_buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void
sio_buf_cleanup(struct sio_buf *b)
{
	free(b->p);
	sio_buf_init(b);
}

void
sio_buf_reset(struct sio_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
sio_buf_truncate(struct sio_buf *b, size_t len)
{
	assert(len <= b->len);
	b->len = len;
	if (b->p)
		b->p[len] = '\0';
}

/* Makes room for extra more bytes plus the NUL; the contents stay put. */
static int
sio_buf_reserve(struct sio_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - 1 - b->len)
		return SIO_ERR;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return SIO_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->p, cap);
	if (p == NULL)
		return SIO_ERR;
	b->p = p;
	b->cap = cap;
	return SIO_OK;
}

int
sio_buf_append(struct sio_buf *b, const void *data, size_t len)
{
	if (sio_buf_reserve(b, len) != SIO_OK)
		return SIO_ERR;
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return SIO_OK;
}

int
sio_buf_puts(struct sio_buf *b, const char *s)
{
	return sio_buf_append(b, s, strlen(s));
}

int
sio_buf_putc(struct sio_buf *b, char c)
{
	return sio_buf_append(b, &c, 1);
}

int
sio_buf_printf(struct sio_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sio_buf_reserve(b, (size_t)n) != SIO_OK)
		return SIO_ERR;
	va_start(ap, fmt);
	/* The reserve above left room for n bytes and the NUL. */
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return SIO_OK;
}

char *
sio_buf_steal(struct sio_buf *b)
{
	char *p = b->p;

	sio_buf_init(b);
	return p;
}

size_t
sio_buf_copy(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(src, size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
	return len;
}
