/* SPDX-License-Identifier: MIT */
/*
 * cwg [-f|--foreground] INTERFACE: wireguard-go's command line contract.
 *
 * Start-up does everything that needs the interface name (the TUN, the
 * UAPI socket) before the launching process returns, because the caller
 * may rename the interface or move it to another namespace right after.
 * Unless told to stay in the foreground, the process forks: the child
 * finishes setting up (device, UDP sockets, threads) while the parent
 * waits on a pipe, and the parent exits 0 only once the child says it is
 * ready, 1 otherwise. Errors before that point reach the caller's stderr.
 * The child logs to syslog from the fork on (log.c), and afterwards points
 * stdout and stderr to /dev/null, so `$(cwg wg0 2>&1)` does not hang on a
 * pipe the daemon holds open. Only where there is no syslog socket does
 * it keep them, when LOG_LEVEL was set, as wireguard-go does.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cwg/cwg.h>
#include "daemon.h"
#include "log.h"
#include "pool.h"
#include "sandbox.h"

/* The daemon's version is libcwg's (include/cwg/cwg.h), as the Debian
 * package's is. */
#define CWG_STR(x) #x
#define CWG_XSTR(x) CWG_STR(x)
#define CWG_VERSION CWG_XSTR(CWG_VERSION_MAJOR) "." CWG_XSTR(CWG_VERSION_MINOR)
/* Timers: the core wants a tick at least every 100 ms. */
#define TICK_NS (50 * 1000000L)
/* MTU re-read and liveness checks, in ticks. */
#define SLOW_TICKS 10

enum ctl_tag {
	CTL_SIGNAL = 1,
	CTL_TIMER,
	CTL_NOTIFY,
	CTL_LISTEN,
	CTL_TAG_MAX,
};

static void usage(FILE *f, const char *argv0)
{
	fprintf(f, "Usage: %s [-f/--foreground] [--no-sandbox] INTERFACE-NAME\n",
		argv0);
}

static int env_fd(const char *name)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return -2;
	return (int)v;
}

static int64_t wall_offset_ns(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return ((int64_t)rt.tv_sec - (int64_t)mono.tv_sec) * 1000000000LL +
	       ((int64_t)rt.tv_nsec - (int64_t)mono.tv_nsec);
}

/* ---- UAPI host callbacks (control thread, no device lock held) ---- */

static uint16_t host_get_listen_port(void *ctx)
{
	struct cwg_daemon *d = ctx;

	return cwg_udp_get_port(&d->udp);
}

static int host_set_listen_port(void *ctx, uint16_t port)
{
	struct cwg_daemon *d = ctx;
	uint16_t old = cwg_udp_get_port(&d->udp);
	int r = cwg_udp_bind(&d->udp, port);

	if (r) {
		cwg_log_error("Failed to bind port %u: %s", port,
			      strerror(-r));
		return r == -EADDRINUSE ? -CWG_EADDRINUSE : r;
	}
	if (cwg_udp_get_port(&d->udp) != old) {
		/* Replies from a socket on another port: the source
		 * addresses learned on the old one may no longer apply,
		 * as the kernel reasons too. */
		cwg_device_forget_sources(d->dev, NULL, 0);
	}
	return 0;
}

static uint32_t host_get_fwmark(void *ctx)
{
	struct cwg_daemon *d = ctx;

	return cwg_udp_get_fwmark(&d->udp);
}

static int host_set_fwmark(void *ctx, uint32_t mark)
{
	struct cwg_daemon *d = ctx;
	int r = cwg_udp_set_fwmark(&d->udp, mark);

	if (r)
		cwg_log_error("Failed to set fwmark: %s", strerror(-r));
	return r;
}

/* Zones of endpoints such as "[fe80::1%eth0]:51820", as `wg` sends them. */
static uint32_t host_ifname_to_index(void *ctx, const char *name)
{
	struct cwg_daemon *d = ctx;

	return cwg_udp_ifindex(&d->udp, name);
}

/* ---- control thread ---- */

/* Timers run only while the interface is up: down, it sends nothing (no
 * handshake, no keepalive), as the kernel's module stops its peers'
 * timers (Debian's wireguard-go does send then); the first tick after
 * up catches up. When the state cannot be read (the interface moved
 * where we cannot look), the timers run as before. Five system calls a
 * tick (tun_ifreq and SIOCGIFFLAGS), all allowed by the sandbox. */
static void ctl_tick(struct cwg_daemon *d, struct cwg_udp_io *io)
{
	struct cwg_out out;

	if (cwg_tun_is_up(&d->tun) == 0)
		return;
	cwg_out_init(&out);
	cwg_device_tick(d->dev, cwg_now_ns(), &out);
	cwg_udp_send(&d->udp, io, d->dev, &out.net);
	cwg_pkt_free_list(&out.tun);
	if (out.flush)
		cwg_datapath_flush_soon(d);
}

struct ctl_ctx {
	struct cwg_daemon *d;
	struct cwg_udp_io *io;
};

static void ctl_configured(void *ctx)
{
	struct ctl_ctx *c = ctx;

	ctl_tick(c->d, c->io);
	c->d->trim_due = true;
}

/*
 * Memory a configuration freed goes back to the system. glibc keeps freed
 * heap memory for reuse, and once a big block has been freed it raises
 * the sizes from which blocks get mappings of their own and the heap's
 * free top is returned (up to 32 and 64 MiB): a configuration that grew
 * by tens of MiB (allowed-IPs nodes, lookup tables, UAPI answers) and
 * shrank again would stay resident. Fixed thresholds keep big blocks in
 * their own mappings, and a trim after configuration (on the slow tick,
 * so at most twice a second) returns what was freed inside the heap.
 */
static void mem_setup(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

static void mem_trim(struct cwg_daemon *d)
{
	if (!d->trim_due)
		return;
	d->trim_due = false;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void ctl_update_mtu(struct cwg_daemon *d, uint32_t *cur)
{
	uint32_t mtu;

	if (cwg_tun_get_mtu(&d->tun, &mtu) == 0 && mtu != *cur) {
		cwg_log_verbose("MTU now %u", mtu);
		cwg_device_set_mtu(d->dev, mtu);
		*cur = mtu;
	}
}

/* Runs until told to stop; returns the reason for the log. */
static const char *ctl_loop(struct cwg_daemon *d, int sigfd, int timerfd,
			    struct cwg_udp_io *io)
{
	uint32_t mtu = 0, ticks = 0;

	ctl_update_mtu(d, &mtu);
	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(d->ctl_epfd, ev, 16, -1);

		if (n < 0 && errno != EINTR)
			return "epoll failed";
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64, v;

			switch (tag) {
			case CTL_SIGNAL: {
				struct signalfd_siginfo si;

				if (read(sigfd, &si, sizeof(si)) ==
				    (ssize_t)sizeof(si))
					return si.ssi_signo == SIGINT ?
						"SIGINT" : "SIGTERM";
				break;
			}
			case CTL_TIMER:
				if (read(timerfd, &v, sizeof(v)) < 0)
					break;
				cwg_device_set_wall_offset(d->dev,
							   wall_offset_ns());
				ctl_tick(d, io);
				cwg_uapi_server_tick(&d->uapi);
				if (!cwg_uapi_server_socket_present(&d->uapi))
					return "UAPI socket removed";
				if (++ticks % SLOW_TICKS)
					break;
				if (!cwg_tun_alive(&d->tun))
					return "interface deleted";
				ctl_update_mtu(d, &mtu);
				mem_trim(d);
				break;
			case CTL_NOTIFY:
				return "interface deleted";
			case CTL_LISTEN:
				cwg_uapi_server_accept(&d->uapi);
				break;
			default:
				cwg_uapi_server_client_event(&d->uapi,
							     ev[i].data.ptr,
							     ev[i].events);
				break;
			}
		}
		/* Clients closed in this batch: no event names them now. */
		cwg_uapi_server_reap(&d->uapi);
	}
}

static int ctl_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- start-up ---- */

static void tell_parent(int *fd, char c)
{
	if (*fd < 0)
		return;
	if (write(*fd, &c, 1) < 0) {
		/* The launcher died; nothing left to tell. */
	}
	close(*fd);
	*fd = -1;
}

/* The daemon's stdio after start-up: its log goes to syslog, or where
 * there is none, to the stderr it keeps when LOG_LEVEL was set
 * (wireguard-go's rule). null was opened before the sandbox, which
 * forbids open(). */
static void detach_stdio(int null)
{
	if (null < 0)
		return;
	cwg_log_detach();
	dup2(null, STDIN_FILENO);
	if (!cwg_log_requested() || cwg_log_syslog_fd() >= 0) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	close(null);
}

/* Waits for the child's verdict; the launcher's exit status. */
static int launcher_wait(int rfd)
{
	char c = 0;
	ssize_t n;

	do
		n = read(rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 && c == 'R' ? 0 : 1;
}

static int run(struct cwg_daemon *d, int uapi_fd, const char *path,
	       int ready_fd)
{
	struct ctl_ctx cc = { .d = d };
	struct itimerspec its = {
		.it_interval = { .tv_nsec = TICK_NS },
		.it_value = { .tv_nsec = TICK_NS },
	};
	sigset_t sigs;
	int sigfd = -1, timerfd = -1, null_fd = -1, r = 1;
	const char *why;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	cc.io = malloc(sizeof(*cc.io));
	d->ctl_epfd = epoll_create1(EPOLL_CLOEXEC);
	d->tx_epfd = epoll_create1(EPOLL_CLOEXEC);
	d->rx_epfd = epoll_create1(EPOLL_CLOEXEC);
	d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->flush_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!cc.io || d->ctl_epfd < 0 || d->tx_epfd < 0 || d->rx_epfd < 0 ||
	    d->stop_fd < 0 || d->notify_fd < 0 || d->flush_fd < 0 ||
	    sigfd < 0 || timerfd < 0 ||
	    ctl_add(d->ctl_epfd, sigfd, CTL_SIGNAL) ||
	    ctl_add(d->ctl_epfd, timerfd, CTL_TIMER) ||
	    ctl_add(d->ctl_epfd, d->notify_fd, CTL_NOTIFY) ||
	    timerfd_settime(timerfd, 0, &its, NULL) ||
	    cwg_uapi_server_start(&d->uapi, uapi_fd, path, d->ctl_epfd,
				  CTL_LISTEN)) {
		cwg_log_error("Failed to set up the event loop: %s",
			      strerror(errno));
		goto out;
	}
	if (cwg_pkt_pool_init(CWG_PKT_POOL_DEFAULT)) {
		cwg_log_error("Failed to allocate the packet pool");
		goto out;
	}
	/* The core's buffers come from the pool from now on. */
	cwg_set_pkt_allocator(&cwg_pool_allocator);
	d->dev = cwg_device_new(NULL, NULL);
	if (!d->dev) {
		cwg_log_error("Failed to create the device: out of memory");
		goto out;
	}
	cwg_device_set_wall_offset(d->dev, wall_offset_ns());
	/* Staged data leaves through the TX threads only (datapath.c). */
	cwg_device_set_deferred_flush(d->dev, true);
	/* Packets waiting for handshakes may hold a quarter of the pool,
	 * as much as the TUN reader leaves free for everything else: peers
	 * that never answer cannot stop the TUN reads of live ones. */
	cwg_device_set_staged_limit(d->dev, cwg_pkt_pool_size() / 4);
	cwg_udp_init(&d->udp, d->rx_epfd);
	r = cwg_udp_bind(&d->udp, 0);
	if (r) {
		cwg_log_error("Failed to bind UDP sockets: %s", strerror(-r));
		r = 1;
		goto out_udp;
	}
	d->host = (struct cwg_uapi_host){
		.ctx = d,
		.get_listen_port = host_get_listen_port,
		.set_listen_port = host_set_listen_port,
		.get_fwmark = host_get_fwmark,
		.set_fwmark = host_set_fwmark,
		.ifname_to_index = host_ifname_to_index,
	};
	d->uapi.dev = d->dev;
	d->uapi.host = &d->host;
	d->uapi.configured = ctl_configured;
	d->uapi.ctx = &cc;
	if (ready_fd >= 0)
		null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* Before the data threads: they inherit what is left. */
	if (cwg_sandbox_enter()) {
		cwg_log_error("Failed to enter the sandbox (--no-sandbox or "
			      "CWG_SANDBOX=0 turns it off)");
		r = 1;
		goto out_udp;
	}
	r = cwg_datapath_start(d);
	if (r) {
		cwg_log_error("Failed to start threads: %s", strerror(-r));
		r = 1;
		goto out_udp;
	}
	cwg_log_verbose("Device started");
	if (ready_fd >= 0) {
		tell_parent(&ready_fd, 'R');
		detach_stdio(null_fd);
		null_fd = -1;
	}

	why = ctl_loop(d, sigfd, timerfd, cc.io);
	cwg_log_verbose("Shutting down: %s", why);
	r = 0;
	cwg_datapath_stop(d);
out_udp:
	/* Clients hold the device: they go first. */
	cwg_uapi_server_stop(&d->uapi);
	cwg_udp_close(&d->udp);
	cwg_device_free(d->dev); /* wipes keys */
	cwg_thread_cleanup(); /* and the main thread's cipher state */
	d->dev = NULL;
out:
	if (d->uapi.listen_fd >= 0) {
		cwg_uapi_server_stop(&d->uapi);
	} else if (!d->uapi.path[0]) {
		close(uapi_fd);
		if (!getenv("WG_UAPI_FD"))
			unlink(path);
	}
	cwg_tun_close(&d->tun);
	free(cc.io);
	if (null_fd >= 0)
		close(null_fd);
	return r;
}

int main(int argc, char **argv)
{
	static struct cwg_daemon daemon_state;
	struct cwg_daemon *d = &daemon_state;
	const char *name = NULL, *fg_env;
	char path[108], err[256];
	bool foreground = false;
	int tun_fd, uapi_fd, r, threads, pipefd[2] = { -1, -1 };

	if (cwg_sandbox_configure(&argc, argv))
		return 1;
	mem_setup();

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("cwg v%s\n\nUserspace WireGuard daemon for Linux.\n",
		       CWG_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc == 3 && (!strcmp(argv[1], "-f") ||
			  !strcmp(argv[1], "--foreground"))) {
		foreground = true;
		name = argv[2];
	} else if (argc == 2 && argv[1][0] != '-') {
		name = argv[1];
	} else {
		usage(stderr, argv[0]);
		return 1;
	}
	fg_env = getenv("WG_PROCESS_FOREGROUND");
	if (fg_env && !strcmp(fg_env, "1"))
		foreground = true;
	cwg_log_init(name);

	if (!*name || strlen(name) >= IFNAMSIZ) {
		fprintf(stderr, "cwg: interface name '%s' is %s (1 to %d "
			"characters)\n", name, *name ? "too long" : "empty",
			IFNAMSIZ - 1);
		return 1;
	}
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		fprintf(stderr, "cwg: invalid interface name '%s'\n", name);
		return 1;
	}
	if (cwg_uapi_path(path, sizeof(path), name)) {
		fprintf(stderr, "cwg: socket path too long\n");
		return 1;
	}
	memset(d, 0, sizeof(*d));
	d->ifname = name;
	threads = cwg_datapath_threads(getenv("CWG_THREADS"));
	if (threads < 0) {
		fprintf(stderr, "cwg: CWG_THREADS must be a number from 1 to "
			"%d\n", CWG_MAX_DATA_THREADS);
		return 1;
	}
	d->nthreads = (uint32_t)threads;
	d->uapi.listen_fd = -1;
	d->tun.fd = d->tun.ctl_fd = d->tun.home_ns_fd = -1;

	tun_fd = env_fd("WG_TUN_FD");
	uapi_fd = env_fd("WG_UAPI_FD");
	if (tun_fd == -2 || uapi_fd == -2) {
		fprintf(stderr, "cwg: WG_TUN_FD / WG_UAPI_FD must be "
			"descriptor numbers\n");
		return 1;
	}
	/* Before the TUN: a live daemon would make TUNSETIFF fail with
	 * EBUSY, a less helpful message than this one. */
	if (uapi_fd < 0) {
		r = cwg_uapi_listen(path, &uapi_fd, err, sizeof(err));
		if (r) {
			fprintf(stderr, "cwg: %s\n", err);
			return 1;
		}
	}
	if (tun_fd >= 0)
		r = cwg_tun_adopt(&d->tun, tun_fd, err, sizeof(err));
	else
		r = cwg_tun_create(&d->tun, name, CWG_TUN_DEFAULT_MTU, err,
				   sizeof(err));
	if (r) {
		fprintf(stderr, "cwg: %s\n", err);
		if (!getenv("WG_UAPI_FD"))
			unlink(path);
		return 1;
	}
	if (!foreground) {
		pid_t pid;

		if (pipe2(pipefd, O_CLOEXEC) < 0) {
			perror("cwg: pipe");
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			perror("cwg: fork");
			return 1;
		}
		if (pid > 0) {
			close(pipefd[1]);
			return launcher_wait(pipefd[0]);
		}
		close(pipefd[0]);
		setsid();
		/* Before the sandbox, which allows no new socket. */
		cwg_log_open_syslog(_PATH_LOG);
	}
	return run(d, uapi_fd, path, pipefd[1]);
}
