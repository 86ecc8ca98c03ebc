/*
 * doorbell.c: the datagram sockets of doorbell.h. A bell is an AF_UNIX
 * SOCK_DGRAM socket bound to <run_dir>/<name>.bell; a ring is one datagram
 * holding a sid. Everything is non-blocking, and a ring that cannot be
 * delivered at once is dropped (SIO_FULL): the holder also watches
 * PRAGMA data_version, so a lost ring only delays a packet.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "doorbell.h"
#include "perm.h"
#include "result.h"
#include "siogate.h"

struct sio_doorbell {
	int fd;
	dev_t dev; /* of the bound file: close removes only our own */
	ino_t ino;
	mode_t mode; /* of the socket file; its directory's adds x bits */
	struct sockaddr_un sa;
};

/* Fills sa with the bell path of name; err (may be NULL) says why not. */
static int
doorbell_addr(const char *run_dir, const char *name, struct sockaddr_un *sa,
              char *err)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (name[0] == '\0' || strchr(name, '/') != NULL) {
		if (err)
			sio_err(err, "bad doorbell name '%s'", name);
		return SIO_ERR;
	}
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s.bell", run_dir,
	             name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		if (err)
			sio_err(err,
			        "doorbell path too long (%d bytes, at most"
			        " %zu): %s/%s.bell",
			        n, sizeof(sa->sun_path) - 1, run_dir, name);
		return SIO_ERR;
	}
	return SIO_OK;
}

#define DOORBELL_RISK "another user could replace its doorbells"

/*
 * mkdir -p; the last directory gets exactly mode when created here. The
 * path is checked before (nothing is made where another user could
 * have put something) and after (perm.h): once it passes, no other user
 * can change what it names, so each ring's lookup finds our bells.
 */
static int
doorbell_mkdirs(const char *dir, mode_t mode, int shared_group, char *err)
{
	int flags = SIO_PERM_DIR | (shared_group ? SIO_PERM_SHARED : 0);
	char path[PATH_MAX];
	char *p;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		sio_err(err, "run directory path too long");
		return SIO_ERR;
	}
	if (sio_perm_path_safe("run_dir", dir, flags | SIO_PERM_MISSING,
	                       DOORBELL_RISK, err) != SIO_OK)
		return SIO_ERR;
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST)
			goto err;
		*p = '/';
	}
	if (mkdir(path, mode) == 0) {
		if (chmod(path, mode) < 0) /* umask may have taken bits */
			goto err;
	} else if (errno != EEXIST)
		goto err;
	return sio_perm_path_safe("run_dir", dir, flags, DOORBELL_RISK, err);
err:
	sio_err(err, "%s: %s", path, strerror(errno));
	return SIO_ERR;
}

/*
 * Binds d->fd to d->sa with mode. On Linux the file takes the socket
 * inode's mode less the umask, so fchmod first keeps it at most mode
 * without touching the process-wide umask; chmod then adds back what the
 * umask took.
 */
static int
doorbell_bind(struct sio_doorbell *d, mode_t mode, char *err)
{
	struct stat sb;

	if (unlink(d->sa.sun_path) < 0 && errno != ENOENT)
		goto err; /* a stale bell of an earlier process */
	if (fchmod(d->fd, mode) < 0 ||
	    bind(d->fd, (struct sockaddr *)&d->sa, sizeof(d->sa)) < 0 ||
	    chmod(d->sa.sun_path, mode) < 0 || stat(d->sa.sun_path, &sb) < 0)
		goto err;
	d->dev = sb.st_dev;
	d->ino = sb.st_ino;
	return SIO_OK;
err:
	sio_err(err, "%s: %s", d->sa.sun_path, strerror(errno));
	return SIO_ERR;
}

struct sio_doorbell *
sio_doorbell_open(const char *run_dir, const char *name, int shared_group,
                  char *err)
{
	struct sio_doorbell *d;
	char dummy[SIO_ERR_LEN];

	if (err == NULL)
		err = dummy;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		sio_err(err, "out of memory");
		return NULL;
	}
	d->fd = -1;
	d->mode = shared_group ? 0660 : 0600;
	if (doorbell_addr(run_dir, name, &d->sa, err) != SIO_OK ||
	    doorbell_mkdirs(run_dir, shared_group ? 0770 : 0700, shared_group,
	                    err) != SIO_OK)
		goto err;
	d->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0) {
		sio_err(err, "socket: %s", strerror(errno));
		goto err;
	}
	if (doorbell_bind(d, d->mode, err) != SIO_OK)
		goto err;
	return d;
err:
	if (d->fd >= 0)
		close(d->fd);
	free(d);
	return NULL;
}

int
sio_doorbell_check(struct sio_doorbell *d, char *err)
{
	struct sio_doorbell fresh = *d;
	char dir[sizeof(d->sa.sun_path)], *slash;
	struct stat sb;
	int was = stat(d->sa.sun_path, &sb);

	if (was == 0 && sb.st_dev == d->dev && sb.st_ino == d->ino)
		return SIO_OK;
	/* A new socket bound to the name, then moved onto our descriptor:
	 * whoever polls it sees the new one from its next call on. */
	snprintf(dir, sizeof(dir), "%s", d->sa.sun_path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if (doorbell_mkdirs(dir, d->mode | 0100 | (d->mode & 060 ? 010 : 0),
	                    (d->mode & 060) != 0, err) != SIO_OK)
		return SIO_ERR;
	fresh.fd =
	    socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fresh.fd < 0) {
		sio_err(err, "socket: %s", strerror(errno));
		return SIO_ERR;
	}
	if (doorbell_bind(&fresh, d->mode, err) != SIO_OK) {
		close(fresh.fd);
		return SIO_ERR;
	}
	if (dup3(fresh.fd, d->fd, O_CLOEXEC) < 0) {
		sio_err(err, "dup3: %s", strerror(errno));
		unlink(fresh.sa.sun_path);
		close(fresh.fd);
		return SIO_ERR;
	}
	close(fresh.fd);
	d->dev = fresh.dev;
	d->ino = fresh.ino;
	sio_err(err, "%s was %s: bound again", d->sa.sun_path,
	        was == 0 ? "replaced" : "removed");
	return SIO_ABSENT;
}

void
sio_doorbell_close(struct sio_doorbell *d)
{
	struct stat sb;

	if (d == NULL)
		return;
	/* Only our own file: a successor may have bound the same name. */
	if (stat(d->sa.sun_path, &sb) == 0 && sb.st_dev == d->dev &&
	    sb.st_ino == d->ino)
		unlink(d->sa.sun_path);
	close(d->fd);
	free(d);
}

int
sio_doorbell_fd(const struct sio_doorbell *d)
{
	return d->fd;
}

int
sio_doorbell_recv(struct sio_doorbell *d, char *sid, size_t size)
{
	ssize_t n;

	assert(size > 0);
	do
		n = recv(d->fd, sid, size - 1, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		sid[0] = '\0';
		return errno == EAGAIN || errno == EWOULDBLOCK ? SIO_ABSENT
		                                               : SIO_ERR;
	}
	sid[n] = '\0';
	return SIO_OK;
}

int
sio_doorbell_ring(int fd, const char *run_dir, const char *name,
                  const char *sid)
{
	struct sockaddr_un sa;
	socklen_t len;
	ssize_t n;

	if (doorbell_addr(run_dir, name, &sa, NULL) != SIO_OK)
		return SIO_ERR;
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	                  strlen(sa.sun_path) + 1);
	do
		n = sendto(fd, sid, strlen(sid), MSG_DONTWAIT | MSG_NOSIGNAL,
		           (struct sockaddr *)&sa, len);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return SIO_OK;
	/* Full, gone, or not listening: the ring is only a hint. */
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return SIO_FULL;
	if (errno == ENOENT || errno == ECONNREFUSED)
		return SIO_ABSENT;
	return SIO_ERR;
}

int
sio_doorbell_sender(void)
{
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int
sio_doorbell_remove(const char *run_dir, const char *name)
{
	struct sockaddr_un sa;
	struct stat sb;

	if (doorbell_addr(run_dir, name, &sa, NULL) != SIO_OK)
		return SIO_ERR;
	if (lstat(sa.sun_path, &sb) < 0)
		return errno == ENOENT ? SIO_OK : SIO_ERR;
	if (!S_ISSOCK(sb.st_mode))
		return SIO_ERR;
	return unlink(sa.sun_path) == 0 || errno == ENOENT ? SIO_OK : SIO_ERR;
}
