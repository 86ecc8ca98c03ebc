/*
 * static.c: socket.io-client's files, served by sio-gateway under the
 * resource as socket.io 0.9 serves them (its lib/static.js), so that a 0.9
 * page's <script src="/socket.io/socket.io.js"> works unchanged. The
 * names are a fixed table (route.c); no part of a request reaches the
 * file system. The files come from client_dir, where the build and make
 * install put socket.io-client 0.9.16's dist/ files and a gzip -9 -n copy
 * of each script (the same command socket.io 0.9 runs). Each file is read
 * on its first request and kept: a FastCGI gateway reads it once, a CGI
 * one reads only the file asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "http.h"
#include "result.h"

/* Bytes in one client file: the SWFs are 172 KiB, socket.io.js 99 KiB. */
#define STATIC_MAX (8 << 20)
/* socket.io 0.9's 'browser client expires', for a versioned name. */
#define STATIC_EXPIRES 315360000

static const struct {
	const char *name; /* in client_dir; "<name>.gz" beside it */
	const char *type;
	int gzip; /* negotiated; the SWFs are compressed already */
} static_files[GW_STATIC_COUNT] = {
    [GW_STATIC_JS] = {"socket.io.js", "application/javascript", 1},
    [GW_STATIC_MIN_JS] = {"socket.io.min.js", "application/javascript", 1},
    [GW_STATIC_SWF] = {"WebSocketMain.swf", "application/x-shockwave-flash", 0},
    [GW_STATIC_SWF_INSECURE] = {"WebSocketMainInsecure.swf",
                                "application/x-shockwave-flash", 0}};

/* One representation of a file, read once; never freed. */
struct static_body {
	const char *p; /* NULL until read */
	size_t len;
	char etag[20]; /* "\"<16 hex>\"" */
};

static struct static_body static_cache[GW_STATIC_COUNT][2]; /* [file][gz] */
static pthread_mutex_t static_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Reads path whole into b. SIO_OK; SIO_ABSENT when it does not exist;
 * SIO_ERR with the reason in err (not a regular file, too large, I/O).
 * O_NONBLOCK: a FIFO put there must not hold the thread in open().
 */
static int
static_read(const char *path, struct static_body *b, char *err)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		sio_err(err, "%.200s: %s", path, strerror(errno));
		return errno == ENOENT ? SIO_ABSENT : SIO_ERR;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > STATIC_MAX) {
		sio_err(err,
		        "%.200s: not a regular file of at "
		        "most %d bytes",
		        path, STATIC_MAX);
		goto err;
	}
	/* +1: a file that grew since fstat shows as a short read's opposite */
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		sio_err(err, "%.200s: out of memory", path);
		goto err;
	}
	for (;;) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sio_err(err, "%.200s: %s", path, strerror(errno));
			goto err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			sio_err(err, "%.200s: changed while read", path);
			goto err;
		}
	}
	close(fd);
	/* FNV-1a: a strong validator needs only to change with the bytes */
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < got; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	snprintf(b->etag, sizeof(b->etag), "\"%016llx\"",
	         (unsigned long long)h);
	b->len = got;
	b->p = p;
	return SIO_OK;
err:
	free(p);
	close(fd);
	return SIO_ERR;
}

/* The representation to send: file's gzip copy when *gz and it exists
 * (*gz is left 1), else the file (*gz set to 0). Copies it to *out; SIO_OK,
 * or SIO_ERR when the file cannot be read (logged). */
static int
static_get(int file, int *gzp, struct static_body *out)
{
	static struct sio_ratelimit rl;
	char path[SIO_CONFIG_PATH_MAX + 64], err[SIO_ERR_LEN];
	int rc = SIO_OK, gz = *gzp;

	pthread_mutex_lock(&static_lock);
	for (; gz >= 0; gz--) {
		struct static_body *b = &static_cache[file][gz];
		rc = SIO_OK;
		if (b->p != NULL)
			break;
		snprintf(path, sizeof(path), "%s/%s%s", gw.cfg->client_dir,
		         static_files[file].name, gz ? ".gz" : "");
		rc = static_read(path, b, err);
		if (rc == SIO_OK)
			break;
		/* a missing .gz: the plain file will do */
		if (gz && rc == SIO_ABSENT)
			continue;
		gw_log_limited(
		    &rl, SIO_LOG_ERROR,
		    "client file: %s (client_dir: socket.io-client's "
		    "files, installed by make install)",
		    err);
		break;
	}
	if (rc == SIO_OK) {
		*out = static_cache[file][gz];
		*gzp = gz;
	}
	pthread_mutex_unlock(&static_lock);
	return rc == SIO_OK ? SIO_OK : SIO_ERR;
}

/* A plain-text answer that is no file (errors). */
static void
static_text(struct gw_req *r, const char *status, const char *extra,
            const char *text)
{
	struct sio_buf h;

	sio_buf_init(&h);
	if (sio_buf_printf(&h,
	                   "Status: %s\r\nContent-Type: text/plain; "
	                   "charset=UTF-8\r\nContent-Length: %zu\r\n%s"
	                   "X-Content-Type-Options: nosniff\r\n\r\n%s",
	                   status, strlen(text), extra, text) == SIO_OK)
		gw_req_write(r, h.p, h.len);
	sio_buf_cleanup(&h);
	gw_req_end(r);
}

/* socket.io 0.9's headers for a versioned name: cached for ten years. */
static int
static_expires(struct sio_buf *h)
{
	char date[64], expires[64];
	time_t now = time(NULL), later = now + STATIC_EXPIRES;
	struct tm tm;

	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
	         gmtime_r(&now, &tm));
	strftime(expires, sizeof(expires), "%a, %d %b %Y %H:%M:%S GMT",
	         gmtime_r(&later, &tm));
	return sio_buf_printf(h,
	                      "Cache-Control: private, x-gzip-ok=\"\", "
	                      "max-age=%d\r\nDate: %s\r\nExpires: %s\r\n",
	                      STATIC_EXPIRES, date, expires);
}

void
gw_static_serve(struct gw_req *r, const struct gw_route *rt, const char *method)
{
	struct static_body b;
	struct sio_buf h;
	int gz, head = strcmp(method, "HEAD") == 0, rc, fresh;

	if (rt->file < 0) {
		static_text(r, "404 Not Found", "",
		            "Custom builds (socket.io+<transports>.js) are not "
		            "served: load socket.io.js.\n");
		return;
	}
	if (!head && strcmp(method, "GET") != 0) {
		static_text(r, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
		            "GET or HEAD\n");
		return;
	}
	gz = static_files[rt->file].gzip &&
	     sio_http_accepts(gw_req_param(r, "HTTP_ACCEPT_ENCODING"), "gzip");
	if (static_get(rt->file, &gz, &b) != SIO_OK) {
		static_text(r, "404 Not Found", "",
		            "socket.io-client's files are not installed "
		            "(client_dir)\n");
		return;
	}
	fresh =
	    sio_http_etag_match(gw_req_param(r, "HTTP_IF_NONE_MATCH"), b.etag);
	sio_buf_init(&h);
	rc = sio_buf_printf(&h, "Status: %s\r\nETag: %s\r\n",
	                    fresh ? "304 Not Modified" : "200 OK", b.etag);
	if (rc == SIO_OK && static_files[rt->file].gzip)
		rc = sio_buf_puts(&h, "Vary: Accept-Encoding\r\n");
	if (rc == SIO_OK && rt->versioned)
		rc = static_expires(&h);
	if (rc == SIO_OK && !fresh)
		rc =
		    sio_buf_printf(&h,
		                   "Content-Type: %s\r\nContent-Length: %zu\r\n"
		                   "%sX-Content-Type-Options: nosniff\r\n",
		                   static_files[rt->file].type, b.len,
		                   gz ? "Content-Encoding: gzip\r\n" : "");
	if (rc == SIO_OK)
		rc = sio_buf_puts(&h, "\r\n");
	if (rc == SIO_OK && gw_req_write(r, h.p, h.len) == SIO_OK && !fresh &&
	    !head)
		gw_req_write(r, b.p, b.len);
	sio_buf_cleanup(&h);
	gw_req_end(r);
}
