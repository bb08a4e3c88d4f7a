/* SPDX-License-Identifier: MIT */
/*
 * The cross-platform configuration protocol (what `wg` speaks over
 * /var/run/wireguard/IFACE.sock): a pure parser and printer applied to a
 * struct cwg_device. No sockets here: the host feeds it the bytes a client
 * sent and writes back what it produces.
 *
 * A connection may carry several requests, each "get=1\n\n" or
 * "set=1\n" + key=value lines + "\n". A set is applied line by line as the
 * bytes arrive (as wireguard-go does), each batch of complete lines under
 * the device's configuration lock, so a client that stalls mid-request
 * holds no lock. The first bad line ends the request with "errno=-N\n\n";
 * what earlier lines did stays done, the rest of the request is skipped.
 */
#ifndef CWG_UAPI_H
#define CWG_UAPI_H

#include <cwg/cwg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Settings that belong to the host, not the core. */
struct cwg_uapi_host {
	void *ctx;
	uint16_t (*get_listen_port)(void *ctx);
	/* 0, or a negative errno (-EADDRINUSE when the port is taken). */
	int (*set_listen_port)(void *ctx, uint16_t port);
	uint32_t (*get_fwmark)(void *ctx);
	int (*set_fwmark)(void *ctx, uint32_t mark);
	/*
	 * The index of the network interface called name (NUL-terminated,
	 * any length), in the namespace of the host's UDP sockets, or 0 if
	 * there is none: for endpoints such as "[fe80::1%eth0]:51820", the
	 * form `wg` sends. Called without the device's configuration lock.
	 * NULL: only numeric zones ("%2") are accepted.
	 */
	uint32_t (*ifname_to_index)(void *ctx, const char *name);
};

/* A growable output buffer; the host drains it to the socket. */
struct cwg_uapi_buf {
	char *data;
	size_t len;
	size_t cap;
};
CWG_EXPORT void cwg_uapi_buf_free(struct cwg_uapi_buf *b);

struct cwg_uapi_conn;

CWG_EXPORT struct cwg_uapi_conn *cwg_uapi_conn_new(struct cwg_device *dev,
					const struct cwg_uapi_host *host);
CWG_EXPORT void cwg_uapi_conn_free(struct cwg_uapi_conn *c);

/*
 * Feed bytes received from the client; responses are appended to out.
 * Returns 0 to keep the connection, or -1 when it must be closed (a line
 * longer than CWG_UAPI_MAX_LINE, an unknown operation, out of memory).
 * Secrets are wiped from the connection's line buffer after use.
 */
#define CWG_UAPI_MAX_LINE 4096
CWG_EXPORT int cwg_uapi_feed(struct cwg_uapi_conn *c, const char *data, size_t len,
		  struct cwg_uapi_buf *out);

/* One whole exchange, for tests and fuzzers: feed request, return 0/-1. */
CWG_EXPORT int cwg_uapi_request(struct cwg_device *dev, const struct cwg_uapi_host *host,
		     const char *request, size_t len, struct cwg_uapi_buf *out);

#ifdef __cplusplus
}
#endif

#endif
