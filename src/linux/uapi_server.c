/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "uapi_server.h"

#define READ_CHUNK 4096
/* Bytes read from one client per wakeup, so a chatty one cannot starve
 * the others (or the timers). */
#define READ_BUDGET (64 * 1024)

/*
 * One connection to the socket. Only the control thread touches clients.
 *
 * Lifetime: the server owns each client. Two places hold its address: the
 * server's list (s->clients while live, s->dead once closed) and epoll
 * (data.ptr), from which epoll_wait copies it into the control loop's
 * batch, where it stays until the batch is dispatched, EPOLL_CTL_DEL or
 * not. So a client is never freed where it is closed: client_close()
 * removes its descriptor from epoll, closes it, wipes and frees its
 * connection and output, sets dead and moves it to s->dead; events that
 * still name it are ignored. cwg_uapi_server_reap(), which the control
 * loop calls after each batch (no copy of the address is left then),
 * frees the dead; cwg_uapi_server_stop() closes and frees them all.
 */
struct cwg_uapi_client {
	int fd;
	struct cwg_uapi_conn *conn;
	struct cwg_uapi_buf out;
	size_t out_off;
	bool input_done;	/* EOF, or the request stream was refused */
	bool dead;		/* closed; on s->dead until the reap */
	uint32_t mask;		/* what epoll watches now */
	uint64_t progress_ns;	/* last byte read or written (monotonic) */
	bool deferred;		/* not read while answers pile up unread */
	/* Live: doubly linked on s->clients. Dead: next links s->dead. */
	struct cwg_uapi_client *next;
	struct cwg_uapi_client **pprev;
};

int cwg_uapi_path(char *path, size_t len, const char *ifname)
{
	int n = snprintf(path, len, "%s/%s.sock", CWG_UAPI_DIR, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int uapi_connect_probe(const struct sockaddr_un *sa)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (s < 0)
		return -errno;
	r = connect(s, (const struct sockaddr *)sa, sizeof(*sa)) ? -errno : 0;
	close(s);
	return r;
}

int cwg_uapi_listen(const char *path, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	mode_t old_mask;
	int s, r;

	*fd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (mkdir(CWG_UAPI_DIR, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "mkdir %s: %s", CWG_UAPI_DIR,
			 strerror(-r));
		return r;
	}
	r = uapi_connect_probe(&sa);
	if (!r) {
		snprintf(err, errlen, "%s: already running", path);
		return -EADDRINUSE;
	}
	/* Nobody answers: a dead daemon's leftover, or nothing at all. */
	if (r != -ENOENT && unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "removing stale %s: %s", path,
			 strerror(-r));
		return r;
	}
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	/* Created 0600 from the start: no window where others connect. */
	old_mask = umask(0177);
	r = bind(s, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old_mask);
	if (!r && listen(s, 128) < 0)
		r = -errno;
	if (r) {
		snprintf(err, errlen, "%s: %s", path,
			 r == -EADDRINUSE ? "already running" : strerror(-r));
		close(s);
		return r;
	}
	*fd = s;
	return 0;
}

int cwg_uapi_server_start(struct cwg_uapi_server *s, int listen_fd,
			  const char *path, int epfd, uint64_t listen_tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = listen_tag };
	struct stat st;
	int fl;

	s->listen_fd = listen_fd;
	s->epfd = epfd;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->clients = NULL;
	s->nclients = 0;
	s->dead = NULL;
	s->have_ino = false;
	if (stat(path, &st) == 0) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
		s->have_ino = true;
	}
	/* An inherited descriptor (WG_UAPI_FD) may be blocking. */
	fl = fcntl(listen_fd, F_GETFL);
	if (fl >= 0)
		fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
	fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
	return epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) ? -errno : 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t client_pending(const struct cwg_uapi_client *c)
{
	return c->out.len - c->out_off;
}

static size_t total_pending(const struct cwg_uapi_server *s)
{
	const struct cwg_uapi_client *x;
	size_t total = 0;

	for (x = s->clients; x; x = x->next)
		total += client_pending(x);
	return total;
}

/* Unlink now, free at the reap: see struct cwg_uapi_client. */
static void client_close(struct cwg_uapi_server *s, struct cwg_uapi_client *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	cwg_uapi_conn_free(c->conn);
	c->conn = NULL;
	cwg_uapi_buf_free(&c->out); /* wipes: get output holds keys */
	c->out_off = 0;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	s->nclients--;
	c->dead = true;
	c->pprev = NULL;
	c->next = s->dead;
	s->dead = c;
}

void cwg_uapi_server_reap(struct cwg_uapi_server *s)
{
	while (s->dead) {
		struct cwg_uapi_client *c = s->dead;

		s->dead = c->next;
		free(c);
	}
}

static void client_set_mask(struct cwg_uapi_server *s,
			    struct cwg_uapi_client *c, uint32_t mask)
{
	struct epoll_event ev = { .events = mask, .data.ptr = c };

	if (mask == c->mask)
		return;
	c->mask = mask;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

void cwg_uapi_server_accept(struct cwg_uapi_server *s)
{
	for (;;) {
		struct cwg_uapi_client *c;
		struct epoll_event ev;
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				cwg_log_error("UAPI accept: %s", strerror(errno));
			return;
		}
		if (s->nclients >= CWG_UAPI_MAX_CLIENTS) {
			/* Refusing would let idle clients lock `wg` out. */
			struct cwg_uapi_client *x, *idle = s->clients;

			for (x = s->clients; x; x = x->next)
				if (x->progress_ns < idle->progress_ns)
					idle = x;
			cwg_log_verbose("UAPI: %u clients, closing the longest idle",
					s->nclients);
			client_close(s, idle);
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->conn = cwg_uapi_conn_new(s->dev, s->host);
		if (!c || !c->conn) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->mask = EPOLLIN;
		c->progress_ns = mono_ns();
		ev.events = c->mask;
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			cwg_uapi_conn_free(c->conn);
			free(c);
			close(fd);
			continue;
		}
		c->next = s->clients;
		c->pprev = &s->clients;
		if (s->clients)
			s->clients->pprev = &c->next;
		s->clients = c;
		s->nclients++;
	}
}

/* Writes what it can; false when the client is gone. */
static bool client_flush(struct cwg_uapi_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off,
				 c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN;
		}
		c->out_off += (size_t)n;
		c->progress_ns = mono_ns();
	}
	cwg_wipe(c->out.data, c->out.len);
	c->out.len = 0;
	c->out_off = 0;
	return true;
}

/* false when the client is gone. */
static bool client_read(struct cwg_uapi_server *s, struct cwg_uapi_client *c)
{
	char buf[READ_CHUNK];
	size_t budget = READ_BUDGET;
	bool fed = false, ok = true;

	while (!c->input_done && budget &&
	       c->out.len - c->out_off < CWG_UAPI_OUT_HIGH) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ok = errno == EAGAIN;
			break;
		}
		if (n == 0) {
			c->input_done = true;
			break;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		fed = true;
		c->progress_ns = mono_ns();
		if (cwg_uapi_feed(c->conn, buf, (size_t)n, &c->out) < 0)
			c->input_done = true;
	}
	cwg_wipe(buf, sizeof(buf)); /* set requests carry keys */
	if (fed && s->configured)
		s->configured(s->ctx);
	return ok;
}

/*
 * Answers nobody reads must not pin memory without bound: past the budget,
 * close the clients that stalled longest (never keep, which just asked).
 */
static void enforce_out_budget(struct cwg_uapi_server *s,
			       struct cwg_uapi_client *keep)
{
	uint64_t now = mono_ns();

	for (;;) {
		struct cwg_uapi_client *x, *victim = NULL;
		size_t total = 0;

		for (x = s->clients; x; x = x->next) {
			total += client_pending(x);
			if (x != keep && client_pending(x) &&
			    now - x->progress_ns >= CWG_UAPI_STALL_NS &&
			    (!victim || x->progress_ns < victim->progress_ns))
				victim = x;
		}
		if (total <= CWG_UAPI_OUT_BUDGET || !victim)
			return;
		cwg_log_verbose("UAPI: %zu bytes of answers unread, closing a "
				"stalled client", total);
		client_close(s, victim);
	}
}

void cwg_uapi_server_client_event(struct cwg_uapi_server *s, void *client,
				  uint32_t events)
{
	struct cwg_uapi_client *c = client;
	uint32_t mask = 0;

	/* Closed earlier in this batch. */
	if (c->dead)
		return;
	/* While unread answers fill the budget, no new request is taken up:
	 * the tick retries once stalled readers have been closed. */
	c->deferred = !c->input_done && total_pending(s) >= CWG_UAPI_OUT_BUDGET;
	/* Hung up for good: nobody is left to answer, and epoll would keep
	 * reporting it while the client waits. */
	if (c->deferred && (events & (EPOLLHUP | EPOLLERR)))
		goto close;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->deferred &&
	    !client_read(s, c))
		goto close;
	if (!client_flush(c))
		goto close;
	/* A finished client is closed once its answer is out. */
	if (c->input_done && c->out.len == 0)
		goto close;
	if (!c->input_done && !c->deferred &&
	    client_pending(c) < CWG_UAPI_OUT_HIGH)
		mask |= EPOLLIN;
	if (c->out.len)
		mask |= EPOLLOUT;
	/* Neither readable nor writable left to wait for: a dead peer. */
	if ((!mask && !c->deferred) || (events & EPOLLERR))
		goto close;
	client_set_mask(s, c, mask);
	return;
close:
	client_close(s, c);
}

void cwg_uapi_server_tick(struct cwg_uapi_server *s)
{
	struct cwg_uapi_client *c, *next;

	enforce_out_budget(s, NULL);
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (c->deferred)
			cwg_uapi_server_client_event(s, c, EPOLLIN);
	}
}

bool cwg_uapi_server_socket_present(struct cwg_uapi_server *s)
{
	struct stat st;

	if (stat(s->path, &st) < 0)
		return errno != ENOENT;
	return !s->have_ino ||
	       (st.st_dev == s->sock_dev && st.st_ino == s->sock_ino);
}

void cwg_uapi_server_stop(struct cwg_uapi_server *s)
{
	while (s->clients)
		client_close(s, s->clients);
	cwg_uapi_server_reap(s);
	if (s->listen_fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	/* Someone else's socket at our path (a successor) stays. */
	if (s->have_ino && cwg_uapi_server_socket_present(s))
		unlink(s->path);
}
