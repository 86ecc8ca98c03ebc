/*
 * result.h: the one setter of the char *err buffers (SIO_ERR_LEN bytes)
 * that functions fill when they fail. The result codes themselves and the
 * three error channels are described in siogate.h.
 */
#ifndef SIO_RESULT_H
#define SIO_RESULT_H

#include <stdarg.h>

#include "siogate.h"

/*
 * Formats a message into err (SIO_ERR_LEN bytes, cut to fit, always
 * NUL-terminated); err may be NULL: nothing is written. Returns SIO_ERR,
 * so a failure reads `return sio_err(err, "...")`.
 */
int sio_err(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sio_verr(char *err, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
