/*
 * perm.c: the ownership and mode rule for the run directory and the
 * database (perm.h).
 */
#include "perm.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "siogate.h"

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

int
sio_perm_safe(const char *what, const char *path, const struct stat *sb,
              int shared_group, const char *risk, char *err)
{
	if (sb->st_uid != geteuid() &&
	    !(shared_group && perm_in_group(sb->st_gid))) {
		if (err != NULL)
			snprintf(err, SIO_ERR_LEN,
			         "%s %s belongs to uid %u, not to this user "
			         "(uid %u)%s: refused, %s",
			         what, path, (unsigned)sb->st_uid,
			         (unsigned)geteuid(),
			         shared_group ? " nor to one of its groups" : "",
			         risk);
		return SIO_ERR;
	}
	if (sb->st_mode & S_IWOTH) {
		if (err != NULL)
			snprintf(err, SIO_ERR_LEN,
			         "%s %s is writable by every user (mode %04o): "
			         "refused, %s (chmod o-w)",
			         what, path, (unsigned)(sb->st_mode & 07777),
			         risk);
		return SIO_ERR;
	}
	return SIO_OK;
}
