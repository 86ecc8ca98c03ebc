/*
 * perm.c: the ownership and mode rule for the run directory and the
 * database (perm.h). sio_perm_path_safe() resolves a path itself, as
 * realpath(3) does, so that it sees every link and directory the kernel
 * would pass through, and checks each one on the way.
 */
#include "perm.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "result.h"
#include "siogate.h"

/* As many links as the kernel follows in one lookup (MAXSYMLINKS). */
#define PERM_MAX_LINKS 40

struct perm_walk {
	const char *what, *path, *risk;
	int flags;
	char *err;
	char cur[PATH_MAX];      /* resolved so far: no link, ".", ".." */
	struct stat dir;         /* of cur */
	char rest[2 * PATH_MAX]; /* still to resolve */
	int links;               /* followed so far */
	int ended;               /* the end was found, or found missing */
};

/* 1 when this process is in group gid. */
static int
perm_in_group(gid_t gid)
{
	int n = getgroups(0, NULL), in = 0;
	gid_t *g;

	if (gid == getegid())
		return 1;
	g = n > 0 ? calloc((size_t)n, sizeof(*g)) : NULL;
	if (g != NULL)
		n = getgroups(n, g);
	for (int i = 0; g != NULL && i < n; i++)
		in |= g[i] == gid;
	free(g);
	return in;
}

/*
 * Who other than the owner may write sb: NULL for no one, else words for
 * a message ("every user", "group 100, which this user is not in").
 */
static const char *
perm_writers(const struct stat *sb, char *buf, size_t size)
{
	if (sb->st_mode & S_IWOTH)
		return "every user";
	if ((sb->st_mode & S_IWGRP) && !perm_in_group(sb->st_gid)) {
		snprintf(buf, size, "group %u, which this user is not in",
		         (unsigned)sb->st_gid);
		return buf;
	}
	return NULL;
}

int
sio_perm_safe(const char *what, const char *path, const struct stat *sb,
              int shared_group, const char *risk, char *err)
{
	char buf[64];
	const char *who;

	if (sb->st_uid != geteuid() &&
	    !(shared_group && perm_in_group(sb->st_gid))) {
		if (err != NULL)
			sio_err(err,
			        "%s %s belongs to uid %u, not to this user "
			        "(uid %u)%s: refused, %s",
			        what, path, (unsigned)sb->st_uid,
			        (unsigned)geteuid(),
			        shared_group ? " nor to one of its groups" : "",
			        risk);
		return SIO_ERR;
	}
	who = perm_writers(sb, buf, sizeof(buf));
	if (who != NULL) {
		if (err != NULL)
			sio_err(err,
			        "%s %s is writable by %s (mode %04o): "
			        "refused, %s (chmod %s)",
			        what, path, who,
			        (unsigned)(sb->st_mode & 07777), risk,
			        sb->st_mode & S_IWOTH ? "o-w" : "g-w");
		return SIO_ERR;
	}
	return SIO_OK;
}

/* Writes "WHAT PATH: <fmt>: refused, RISK" to w->err; SIO_ERR. */
static int
perm_fail(struct perm_walk *w, const char *fmt, ...)
{
	char *e = w->err;
	size_t n;
	va_list ap;

	snprintf(e, SIO_ERR_LEN, "%s %s: ", w->what, w->path);
	n = strlen(e);
	va_start(ap, fmt);
	vsnprintf(e + n, SIO_ERR_LEN - n, fmt, ap);
	va_end(ap);
	n = strlen(e);
	snprintf(e + n, SIO_ERR_LEN - n, ": refused, %s", w->risk);
	return SIO_ERR;
}

/* Skips separators and "." components. */
static const char *
perm_skip(const char *p)
{
	for (;;) {
		while (*p == '/')
			p++;
		if (p[0] != '.' || (p[1] != '/' && p[1] != '\0'))
			return p;
		p++;
	}
}

/* Moves the next component of w->rest to comp (NAME_MAX + 1 bytes): 1,
 * 0 when none is left, SIO_ERR for one too long. */
static int
perm_pop(struct perm_walk *w, char *comp)
{
	const char *p = perm_skip(w->rest);
	const char *e = strchrnul(p, '/');
	size_t n = (size_t)(e - p);

	if (n == 0)
		return 0;
	if (n > NAME_MAX)
		return perm_fail(w, "a component is longer than %d bytes",
		                 NAME_MAX);
	memcpy(comp, p, n);
	comp[n] = '\0';
	memmove(w->rest, e, strlen(e) + 1);
	return 1;
}

/* w->cur, to be looked in: nobody but root, this user (for a file's own
 * directory with SIO_PERM_SHARED, a group of ours) may change its
 * entries; a sticky one protects ours, but not a place for the end. */
static int
perm_dir_ok(struct perm_walk *w, int end)
{
	const struct stat *sb = &w->dir;
	char buf[64];
	const char *who;

	if (sb->st_uid != 0 && sb->st_uid != geteuid() &&
	    !(end && (w->flags & SIO_PERM_SHARED) && perm_in_group(sb->st_gid)))
		return perm_fail(w,
		                 "directory %s belongs to uid %u, not to root "
		                 "or this user (uid %u)",
		                 w->cur, (unsigned)sb->st_uid,
		                 (unsigned)geteuid());
	who = perm_writers(sb, buf, sizeof(buf));
	if (who != NULL && (end || !(sb->st_mode & S_ISVTX)))
		return perm_fail(w,
		                 "directory %s%s is writable by %s%s "
		                 "(mode %04o)",
		                 w->cur, end ? ", which holds it," : "", who,
		                 end ? "" : " without the sticky bit",
		                 (unsigned)(sb->st_mode & 07777));
	return SIO_OK;
}

static int
perm_stat_cur(struct perm_walk *w)
{
	if (lstat(w->cur, &w->dir) < 0)
		return perm_fail(w, "%s: %s", w->cur, strerror(errno));
	return SIO_OK;
}

/* A link of root's or ours, in a directory already checked: its target
 * goes in front of what is left to resolve. */
static int
perm_link(struct perm_walk *w, const char *link, const struct stat *sb)
{
	char target[PATH_MAX], tmp[sizeof(w->rest)];
	ssize_t n;

	if (sb->st_uid != 0 && sb->st_uid != geteuid())
		return perm_fail(w,
		                 "symbolic link %s belongs to uid %u, not to "
		                 "root or this user (uid %u)",
		                 link, (unsigned)sb->st_uid,
		                 (unsigned)geteuid());
	if (++w->links > PERM_MAX_LINKS)
		return perm_fail(w, "%s: %s", link, strerror(ELOOP));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return perm_fail(w, "%s: %s", link, strerror(errno));
	target[n] = '\0';
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", target, w->rest) >=
	    sizeof(tmp))
		return perm_fail(w, "%s: %s", link, strerror(ENAMETOOLONG));
	memcpy(w->rest, tmp, sizeof(tmp));
	if (target[0] == '/') {
		strcpy(w->cur, "/");
		return perm_stat_cur(w);
	}
	return SIO_OK;
}

/* The end: a directory or a regular file, passing sio_perm_safe(). */
static int
perm_end(struct perm_walk *w, const char *path, const struct stat *sb)
{
	int dir = (w->flags & SIO_PERM_DIR) != 0;

	w->ended = 1;
	if (dir ? !S_ISDIR(sb->st_mode) : !S_ISREG(sb->st_mode))
		return perm_fail(w, "%s is not a %s", path,
		                 dir ? "directory" : "regular file");
	return sio_perm_safe(w->what, path, sb,
	                     (w->flags & SIO_PERM_SHARED) != 0, w->risk,
	                     w->err);
}

/* Looks comp up in w->cur, which has passed perm_dir_ok(). */
static int
perm_step(struct perm_walk *w, const char *comp, int last)
{
	char next[PATH_MAX];
	struct stat sb;
	char buf[64];
	const char *who;

	if ((size_t)snprintf(next, sizeof(next), "%s/%s",
	                     strcmp(w->cur, "/") ? w->cur : "",
	                     comp) >= sizeof(next))
		return perm_fail(w, "%s", strerror(ENAMETOOLONG));
	if (lstat(next, &sb) < 0) {
		if (errno != ENOENT || !(w->flags & SIO_PERM_MISSING))
			return perm_fail(w, "%s: %s", next, strerror(errno));
		/* whoever could create it could create it theirs */
		w->ended = 1;
		who = perm_writers(&w->dir, buf, sizeof(buf));
		if (who != NULL)
			return perm_fail(w,
			                 "%s does not exist and directory %s, "
			                 "where it would be made, is writable "
			                 "by %s (mode %04o)",
			                 next, w->cur, who,
			                 (unsigned)(w->dir.st_mode & 07777));
		return SIO_OK;
	}
	if (S_ISLNK(sb.st_mode))
		return perm_link(w, next, &sb);
	if (last)
		return perm_end(w, next, &sb);
	if (!S_ISDIR(sb.st_mode))
		return perm_fail(w, "%s: %s", next, strerror(ENOTDIR));
	memcpy(w->cur, next, sizeof(next));
	w->dir = sb;
	return SIO_OK;
}

/* Resolves and checks w->rest from w->cur. */
static int
perm_walk(struct perm_walk *w)
{
	char comp[NAME_MAX + 1];
	int rc, last;

	if (perm_stat_cur(w) != SIO_OK)
		return SIO_ERR;
	while (!w->ended && (rc = perm_pop(w, comp)) != 0) {
		if (rc < 0)
			return SIO_ERR;
		if (strcmp(comp, "..") == 0) { /* w->cur has no links */
			*strrchr(w->cur, '/') = '\0';
			if (w->cur[0] == '\0')
				strcpy(w->cur, "/");
			if (perm_stat_cur(w) != SIO_OK)
				return SIO_ERR;
			continue;
		}
		last = *perm_skip(w->rest) == '\0';
		if (perm_dir_ok(w, last && !(w->flags & SIO_PERM_DIR)) !=
		        SIO_OK ||
		    perm_step(w, comp, last) != SIO_OK)
			return SIO_ERR;
	}
	/* "/" or a path ending in "..": the end is where we stand */
	return w->ended ? SIO_OK : perm_end(w, w->cur, &w->dir);
}

int
sio_perm_path_safe(const char *what, const char *path, int flags,
                   const char *risk, char *err)
{
	char dummy[SIO_ERR_LEN], cwd[PATH_MAX];
	struct perm_walk *w;
	int rc, n;

	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		if (err != NULL)
			sio_err(err, "out of memory");
		return SIO_ERR;
	}
	*w = (struct perm_walk){.what = what,
	                        .path = path,
	                        .risk = risk,
	                        .flags = flags,
	                        .err = err != NULL ? err : dummy};
	strcpy(w->cur, "/");
	if (path[0] == '/')
		n = snprintf(w->rest, sizeof(w->rest), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		n = snprintf(w->rest, sizeof(w->rest), "%s/%s", cwd, path);
	else
		n = -1;
	if (n < 0 || (size_t)n >= sizeof(w->rest))
		rc = perm_fail(w, "%s", strerror(n < 0 ? errno : ENAMETOOLONG));
	else
		rc = perm_walk(w);
	free(w);
	return rc;
}
