/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket /var/run/wireguard/IFACE.sock: creation (before the
 * launcher returns), the accept loop and per-client buffering, driven by
 * the control thread's epoll. Every client is non-blocking; one that
 * never sends, or never reads, costs a slot and nothing else: when the
 * slots run out, the client that made no progress for the longest is
 * closed to make room, and answers nobody reads are dropped (longest
 * stalled first) once together they pass CWG_UAPI_OUT_BUDGET.
 */
#ifndef CWG_LINUX_UAPI_SERVER_H
#define CWG_LINUX_UAPI_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cwg/uapi.h>

#define CWG_UAPI_DIR "/var/run/wireguard"
#define CWG_UAPI_MAX_CLIENTS 256
/* Past this much unsent output a client is not read until it catches up. */
#define CWG_UAPI_OUT_HIGH (1u << 20)
/* Unsent output of all clients together, past which stalled ones (no
 * progress for CWG_UAPI_STALL_NS: `wg` reads its answer whole, at once)
 * are closed. A `get` of a very large
 * configuration is tens of MiB, so this bounds memory at the budget plus
 * the answer being built. */
#define CWG_UAPI_OUT_BUDGET (16u << 20)
#define CWG_UAPI_STALL_NS 250000000ULL

struct cwg_uapi_client;

struct cwg_uapi_server {
	int listen_fd;
	int epfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/* The file we bound: gone or replaced means "shut down". */
	dev_t sock_dev;
	ino_t sock_ino;
	bool have_ino;
	struct cwg_device *dev;
	const struct cwg_uapi_host *host;
	/* Called after each batch of client input (the device wants a tick
	 * right after configuration). */
	void (*configured)(void *ctx);
	void *ctx;
	struct cwg_uapi_client *clients;	/* live ones */
	unsigned int nclients;
	/* Closed in the current epoll batch, freed by the reap. */
	struct cwg_uapi_client *dead;
};

/* The socket path for an interface name; -ENAMETOOLONG. */
int cwg_uapi_path(char *path, size_t len, const char *ifname);
/*
 * Creates the listening socket at path: -EADDRINUSE when a live daemon
 * answers there (a stale file from a dead one is replaced), else 0 or a
 * negative errno; err gets a message.
 */
int cwg_uapi_listen(const char *path, int *fd, char *err, size_t errlen);

/* Registers listen_fd with epfd (data.u64 = listen_tag). */
int cwg_uapi_server_start(struct cwg_uapi_server *s, int listen_fd,
			  const char *path, int epfd, uint64_t listen_tag);
/*
 * accept, client_event and tick may close any client, also one whose event
 * sits later in the batch epoll_wait returned: a closed client stays
 * allocated, its events ignored, until cwg_uapi_server_reap, which the
 * control loop calls once it has dispatched the whole batch.
 */
/* The listening socket is readable. */
void cwg_uapi_server_accept(struct cwg_uapi_server *s);
/* Events for a client; data.ptr was the client. */
void cwg_uapi_server_client_event(struct cwg_uapi_server *s, void *client,
				  uint32_t events);
/* Frees the clients closed since the last reap: call it only when no event
 * that names one is left undispatched (after each epoll_wait batch). */
void cwg_uapi_server_reap(struct cwg_uapi_server *s);
/* false once our socket file was removed or replaced. */
bool cwg_uapi_server_socket_present(struct cwg_uapi_server *s);
/* From the timer: closes stalled readers over the output budget and takes
 * up requests that were waiting for room. */
void cwg_uapi_server_tick(struct cwg_uapi_server *s);
/* Closes and frees every client (reaps too) and the listener; unlinks the
 * file if still ours. */
void cwg_uapi_server_stop(struct cwg_uapi_server *s);

#endif
