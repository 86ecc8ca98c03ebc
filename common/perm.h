/*
 * perm.h: whether a path siogate shares between its processes (the run
 * directory with its doorbells, the database) is safe from the machine's
 * other users. One who can replace a doorbell reads the session ids rung
 * to it; one who can write the database forges sessions and reads them.
 */
#ifndef SIO_PERM_H
#define SIO_PERM_H

#include <sys/stat.h>

/*
 * SIO_OK when sb (of path, named `what` in messages: "run_dir",
 * "database") belongs to this user, or with shared_group to one of its
 * groups, and is not writable by every user. Else SIO_ERR with err (may
 * be NULL, SIO_ERR_LEN bytes) saying which rule failed and `risk`, what
 * another user could do.
 */
int sio_perm_safe(const char *what, const char *path, const struct stat *sb,
                  int shared_group, const char *risk, char *err);

#endif
