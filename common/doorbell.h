/*
 * doorbell.h: how a writer wakes the process that holds a session. Each
 * long-running process owns a datagram socket `<run_dir>/<name>.bell`;
 * after committing packets for a session the writer sends the sid to the
 * holder's bell. Datagrams are hints: a full queue drops them, and a
 * holder also polls PRAGMA data_version at a low rate to catch rows written
 * by programs that do not ring.
 */
#ifndef SIO_DOORBELL_H
#define SIO_DOORBELL_H

#include <stddef.h>

struct sio_doorbell;

/*
 * Creates and binds the bell of process name in run_dir (created 0700, or
 * 0770 with shared_group), non-blocking, socket mode 0600/0660. The
 * path to run_dir must pass sio_perm_path_safe() (perm.h): every link and
 * directory on the way root's or this user's, none writable by another
 * user, run_dir itself this user's (with shared_group, or a group it is
 * in). Returns the bell, or NULL with the reason in err. Caller frees
 * with sio_doorbell_close(), which also removes the socket file.
 */
struct sio_doorbell *sio_doorbell_open(const char *run_dir, const char *name,
                                       int shared_group, char *err);
void sio_doorbell_close(struct sio_doorbell *d);

/* The descriptor to poll for reading. */
int sio_doorbell_fd(const struct sio_doorbell *d);

/*
 * Checks that the bell's file is still this socket: a bell removed or
 * replaced (an operator, a cleanup of run_dir) silently gets no rings.
 * If it is not, binds a new socket to the name (the run directory made
 * again if gone) and moves it onto the same descriptor, which a caller
 * polling it must poll again. Returns SIO_OK when the bell was in place,
 * SIO_ABSENT when it was not and was bound again (err says what was
 * found), SIO_ERR
 * with the reason in err when it could not be (the bell unchanged).
 */
int sio_doorbell_check(struct sio_doorbell *d, char *err);

/*
 * Reads one ring: copies the sid (NUL-terminated, at most size-1 bytes).
 * SIO_OK, SIO_ABSENT when none is waiting, SIO_ERR.
 */
int sio_doorbell_recv(struct sio_doorbell *d, char *sid, size_t size);

/*
 * Rings process name in run_dir about sid, from socket fd (an unbound
 * AF_UNIX datagram socket, non-blocking; see sio_doorbell_sender()).
 * Never blocks: SIO_FULL when the bell's queue is full, SIO_ABSENT when
 * the bell is missing (or not listening). The
 * path is looked up at each ring: the caller has checked run_dir with
 * sio_perm_path_safe(), after which no other user can change what it
 * names (the store does so when it opens).
 */
int sio_doorbell_ring(int fd, const char *run_dir, const char *name,
                      const char *sid);

/* The ring that names no session but all of them (no sid has this
 * character): the process looks at every session it holds for packets
 * ready, as after a write that rang nobody. Rung by the listener for
 * other hosts (store.h: sio_store_listen()) for a notification that
 * would have named too many, and after it listens again. */
#define SIO_DOORBELL_ALL "*"

/* A socket for sio_doorbell_ring(), or -1. Close it with close(). */
int sio_doorbell_sender(void);

/*
 * Removes the bell file of process name in run_dir, left by a process that
 * is gone (its lease lapsed), when it is a socket: never another kind of
 * file. SIO_OK when removed or absent, SIO_ERR.
 */
int sio_doorbell_remove(const char *run_dir, const char *name);

#endif
