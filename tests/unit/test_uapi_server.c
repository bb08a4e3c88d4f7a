/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket server (src/linux/uapi_server.c) driven the way the
 * control loop in main.c drives it, over a real listening socket in a
 * temporary directory and a real epoll set. The point is the clients'
 * lifetime: a client the server closes while an event for it sits later
 * in the same epoll batch (evicted by accept with the table full, or by
 * the tick over the output budget) must not be touched once freed. Under
 * ASan (make SANITIZE=address) freeing at close showed up here as a
 * heap-use-after-free, and a client left unfreed at stop as a leak.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tap.h"
#include <cwg/uapi.h>

/* The server and the log are daemon objects, not in libcwg: built in here,
 * as test_fuzz_regressions.c does with the fuzz targets. */
#include "linux/log.c"
#include "linux/uapi_server.c"

#define TAG_LISTEN 1
#define MAX_EVENTS 1024
#define GET "get=1\n\n"

struct rig {
	char dir[64];
	char path[128];
	int epfd;
	struct cwg_uapi_host host;	/* no listen port, no fwmark */
	struct cwg_device *dev;
	struct cwg_uapi_server s;
};

static int rig_start(struct rig *r)
{
	struct sockaddr_un sa;
	int lfd;

	memset(r, 0, sizeof(*r));
	r->epfd = -1;
	snprintf(r->dir, sizeof(r->dir), "/tmp/cwg-test-uapi.XXXXXX");
	if (!mkdtemp(r->dir))
		return -1;
	snprintf(r->path, sizeof(r->path), "%s/t.sock", r->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, r->path, strlen(r->path));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 512)) {
		if (lfd >= 0)
			close(lfd);
		rmdir(r->dir);
		return -1;
	}
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->dev = cwg_device_new(NULL, NULL);
	r->s.dev = r->dev;
	r->s.host = &r->host;
	if (r->epfd < 0 || !r->dev ||
	    cwg_uapi_server_start(&r->s, lfd, r->path, r->epfd, TAG_LISTEN))
		return -1;
	return 0;
}

static void rig_stop(struct rig *r)
{
	cwg_uapi_server_stop(&r->s);
	close(r->epfd);
	cwg_device_free(r->dev);
	unlink(r->path);
	rmdir(r->dir);
}

/*
 * One pass of the control loop: one epoll_wait batch, with the tick first
 * (as when the timer's event leads the batch) and the listener before the
 * clients, so that what accept and the tick close may still have events
 * waiting behind them. Returns the number of events.
 */
static int batch(struct rig *r, bool tick_first, bool reap)
{
	static struct epoll_event ev[MAX_EVENTS];
	int n = epoll_wait(r->epfd, ev, MAX_EVENTS, 0);

	if (tick_first)
		cwg_uapi_server_tick(&r->s);
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == TAG_LISTEN)
			cwg_uapi_server_accept(&r->s);
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 != TAG_LISTEN)
			cwg_uapi_server_client_event(&r->s, ev[i].data.ptr,
						     ev[i].events);
	if (reap)
		cwg_uapi_server_reap(&r->s);
	return n;
}

/* Until nothing is ready (bounded: a spinning server fails the caller's
 * checks rather than hanging the test). */
static void pump(struct rig *r)
{
	for (int i = 0; i < 1000 && batch(r, false, true) > 0; i++)
		;
}

static int client_connect(const struct rig *r)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, r->path, strlen(r->path));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool client_send(int fd, const char *msg)
{
	return send(fd, msg, strlen(msg), MSG_NOSIGNAL) ==
	       (ssize_t)strlen(msg);
}

enum reply { REPLY_NONE, REPLY_ANSWER, REPLY_CLOSED };

/*
 * Reads what the server sent this client, pumping the server (when r is
 * given) while the answer is still coming: a whole answer (ends in errno=0
 * and a blank line), nothing yet, or a connection closed with no answer.
 */
static enum reply client_reply(struct rig *r, int fd)
{
	static const char end[] = "errno=0\n\n";
	char buf[4096], tail[sizeof(end)] = "";
	size_t got = 0;

	for (int rounds = 0; rounds < 100000;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!r || !strcmp(tail, end))
				break;
			pump(r);
			rounds++;
			continue;
		}
		if (n <= 0)	/* EOF, or ECONNRESET: closed unread */
			return got ? REPLY_ANSWER : REPLY_CLOSED;
		for (ssize_t i = 0; i < n; i++) {
			memmove(tail, tail + 1, sizeof(tail) - 2);
			tail[sizeof(tail) - 2] = buf[i];
		}
		got += (size_t)n;
	}
	return got && !strcmp(tail, end) ? REPLY_ANSWER : REPLY_NONE;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Fills the table: CWG_UAPI_MAX_CLIENTS connections, all accepted. */
static bool fill_table(struct rig *r, int *cl)
{
	for (int i = 0; i < CWG_UAPI_MAX_CLIENTS; i++) {
		cl[i] = client_connect(r);
		if (cl[i] < 0)
			return false;
		pump(r);
	}
	return r->s.nclients == CWG_UAPI_MAX_CLIENTS;
}

static void close_all(int *cl, int n)
{
	for (int i = 0; i < n; i++)
		if (cl[i] >= 0)
			close(cl[i]);
}

/*
 * The table is full and every client has sent get=1; a new connection
 * arrives. In one batch, accept evicts the longest idle client, whose
 * request is in that same batch: its event must be ignored, not
 * dispatched to freed memory.
 */
static void test_accept_evicts_client_in_batch(void)
{
	int cl[CWG_UAPI_MAX_CLIENTS + 1], n, answered = 0, closed = 0;
	struct rig r;

	if (rig_start(&r)) {
		ok(0, "accept: server started (%s)", strerror(errno));
		return;
	}
	ok(fill_table(&r, cl), "accept: %d clients connected",
	   CWG_UAPI_MAX_CLIENTS);
	for (int i = 0; i < CWG_UAPI_MAX_CLIENTS; i++)
		client_send(cl[i], GET);
	cl[CWG_UAPI_MAX_CLIENTS] = client_connect(&r);
	ok(cl[CWG_UAPI_MAX_CLIENTS] >= 0, "accept: one more connects");
	n = batch(&r, false, true);
	ok(n == CWG_UAPI_MAX_CLIENTS + 1,
	   "accept: one batch holds the connection and %d requests (%d)",
	   CWG_UAPI_MAX_CLIENTS, n);
	ok(r.s.nclients == CWG_UAPI_MAX_CLIENTS,
	   "accept: the table stays at %d (%u)", CWG_UAPI_MAX_CLIENTS,
	   r.s.nclients);
	pump(&r);
	for (int i = 0; i < CWG_UAPI_MAX_CLIENTS; i++) {
		enum reply rep = client_reply(NULL, cl[i]);

		answered += rep == REPLY_ANSWER;
		closed += rep == REPLY_CLOSED;
	}
	ok(answered == CWG_UAPI_MAX_CLIENTS - 1 && closed == 1,
	   "accept: one client evicted unanswered, the others answered "
	   "(%d answered, %d closed)", answered, closed);
	ok(client_send(cl[CWG_UAPI_MAX_CLIENTS], GET),
	   "accept: the new client sends get=1");
	pump(&r);
	ok(client_reply(&r, cl[CWG_UAPI_MAX_CLIENTS]) == REPLY_ANSWER,
	   "accept: ... and is answered");
	close_all(cl, CWG_UAPI_MAX_CLIENTS + 1);
	pump(&r);
	ok(r.s.nclients == 0, "accept: all hung up, none left (%u)",
	   r.s.nclients);
	rig_stop(&r);
}

/* A peer with this many /32s makes each get=1 answer about 1 MB. */
#define BIG_PREFIXES 45000
#define BUDGET_CLIENTS 8
#define GETS_EACH 4

static bool configure_big_peer(struct rig *r)
{
	size_t cap = 200 + BIG_PREFIXES * 32, len;
	char *req = malloc(cap), hex[65];
	struct cwg_uapi_buf out = { 0 };
	uint8_t sk[32], pk[32];
	bool good;

	if (!req)
		return false;
	for (int i = 0; i < 32; i++)
		sk[i] = (uint8_t)(i * 7 + 1);
	cwg_x25519_clamp(sk);
	cwg_x25519_public(pk, sk);
	hex_encode(hex, pk, 32);
	len = (size_t)snprintf(req, cap, "set=1\npublic_key=%s\n", hex);
	for (int i = 0; i < BIG_PREFIXES; i++)
		len += (size_t)snprintf(req + len, cap - len,
					"allowed_ip=10.%d.%d.%d/32\n",
					i >> 16, (i >> 8) & 255, i & 255);
	len += (size_t)snprintf(req + len, cap - len, "\n");
	good = cwg_uapi_request(r->dev, &r->host, req, len, &out) == 0 &&
	       out.len >= 9 && !memcmp(out.data, "errno=0\n\n", 9);
	cwg_uapi_buf_free(&out);
	free(req);
	return good;
}

/*
 * Clients asked for big answers and read none; together they pass the
 * output budget. They have stalled, and now hang up: the batch brings the
 * timer (the tick closes stalled clients over the budget) and their
 * hang-ups. A client the tick closed must not get its hang-up dispatched.
 */
static void test_tick_closes_client_in_batch(void)
{
	int cl[BUDGET_CLIENTS], n, fresh;
	struct timespec stall = { .tv_nsec = CWG_UAPI_STALL_NS + 50000000 };
	struct rig r;
	size_t pending;

	if (rig_start(&r)) {
		ok(0, "budget: server started (%s)", strerror(errno));
		return;
	}
	ok(configure_big_peer(&r), "budget: a peer with %d prefixes",
	   BIG_PREFIXES);
	for (int i = 0; i < BUDGET_CLIENTS; i++) {
		cl[i] = client_connect(&r);
		for (int k = 0; k < GETS_EACH && cl[i] >= 0; k++)
			client_send(cl[i], GET);
	}
	pump(&r);
	pending = total_pending(&r.s);
	ok(pending > CWG_UAPI_OUT_BUDGET,
	   "budget: unread answers pass the budget (%zu > %u bytes)",
	   pending, CWG_UAPI_OUT_BUDGET);
	nanosleep(&stall, NULL);
	close_all(cl, BUDGET_CLIENTS);
	n = batch(&r, true, true);
	ok(n == BUDGET_CLIENTS, "budget: one batch holds the tick and %d "
	   "hang-ups (%d)", BUDGET_CLIENTS, n);
	pump(&r);
	ok(r.s.nclients == 0, "budget: none left (%u)", r.s.nclients);
	fresh = client_connect(&r);
	ok(fresh >= 0 && client_send(fresh, GET) &&
	   client_reply(&r, fresh) == REPLY_ANSWER,
	   "budget: a new client gets its whole answer");
	close(fresh);
	rig_stop(&r);
}

/* The control loop may return in the middle of a batch: stop then frees
 * the clients closed in it too (LeakSanitizer checks at exit). */
static void test_stop_frees_closed_clients(void)
{
	int cl[CWG_UAPI_MAX_CLIENTS + 1];
	struct rig r;

	if (rig_start(&r)) {
		ok(0, "stop: server started (%s)", strerror(errno));
		return;
	}
	ok(fill_table(&r, cl), "stop: %d clients connected",
	   CWG_UAPI_MAX_CLIENTS);
	cl[CWG_UAPI_MAX_CLIENTS] = client_connect(&r);
	batch(&r, false, false);
	ok(r.s.nclients == CWG_UAPI_MAX_CLIENTS,
	   "stop: one evicted, one accepted, not reaped (%u)", r.s.nclients);
	rig_stop(&r);
	ok(r.s.nclients == 0 && !r.s.clients, "stop: no client left");
	close_all(cl, CWG_UAPI_MAX_CLIENTS + 1);
}

int main(void)
{
	if (cwg_crypto_init() != 0) {
		ok(0, "crypto init");
		return done_testing();
	}
	raise_fd_limit();
	cwg_log_init("test");
	test_accept_evicts_client_in_batch();
	test_tick_closes_client_in_batch();
	test_stop_frees_closed_clients();
	return done_testing();
}
