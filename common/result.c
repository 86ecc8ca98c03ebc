/*
 * result.c: names of the result codes and the setter of err buffers.
 */
#include <stdio.h>

#include "result.h"

const char *
sio_strerror(int rc)
{
	switch (rc) {
	case SIO_OK:
		return "ok";
	case SIO_ERR:
		return "error";
	case SIO_AGAIN:
		return "incomplete";
	case SIO_ABSENT:
		return "absent";
	case SIO_CLOSED:
		return "closed";
	case SIO_FULL:
		return "full";
	case SIO_TOO_BIG:
		return "too big";
	case SIO_REJECT:
		return "rejected";
	default:
		return "unknown result";
	}
}

int
sio_verr(char *err, const char *fmt, va_list ap)
{
	if (err != NULL)
		vsnprintf(err, SIO_ERR_LEN, fmt, ap);
	return SIO_ERR;
}

int
sio_err(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sio_verr(err, fmt, ap);
	va_end(ap);
	return SIO_ERR;
}
