/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "offload.h"
#include "tun.h"

#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif

static int ctl_socket(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* Interface ioctls work on any socket family; v4 may be disabled. */
	if (s < 0)
		s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return s;
}

static int tun_getiff(int fd, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	return ioctl(fd, TUNGETIFF, ifr) < 0 ? -errno : 0;
}

static uint32_t tun_disabled(void)
{
	return cwg_offload_parse_disable(getenv("CWG_DISABLE_OFFLOADS"), NULL);
}

/*
 * Asks for the offloads not disabled, most first: USO is new (6.2) and
 * an unknown bit fails the whole request, so each refusal drops the
 * newest kind and tries again. Without any, the header stays (we still
 * write coalesced packets) and the kernel hands over plain packets.
 */
static void tun_set_offloads(struct cwg_tun *t, uint32_t disabled)
{
	unsigned tries[3], n = 0;
	int one = CWG_VNET_HDR_LEN;

	t->offloads = 0;
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &one) < 0) {
		/* The default is this size; only an odd kernel says no. */
	}
	if (!(disabled & CWG_OFFLOAD_TSO)) {
		unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
			       TUN_F_TSO_ECN;

		if (!(disabled & CWG_OFFLOAD_USO))
			tries[n++] = tso | CWG_TUN_F_USO4 | CWG_TUN_F_USO6;
		tries[n++] = tso;
	} else if (!(disabled & CWG_OFFLOAD_USO)) {
		tries[n++] = TUN_F_CSUM | CWG_TUN_F_USO4 | CWG_TUN_F_USO6;
	}
	tries[n++] = TUN_F_CSUM;
	for (unsigned i = 0; i < n; i++)
		if (ioctl(t->fd, TUNSETOFFLOAD, tries[i]) == 0) {
			t->offloads = tries[i];
			return;
		}
	if (ioctl(t->fd, TUNSETOFFLOAD, 0) < 0) {
		/* Nothing offloaded is the state a TUN starts in. */
	}
}

void cwg_tun_describe(const struct cwg_tun *t, char *buf, size_t len)
{
	snprintf(buf, len, "tun_vnet=%s tso=%s uso=%s csum=%s",
		 t->vnet ? "on" : "off",
		 t->offloads & TUN_F_TSO4 ? "on" : "off",
		 t->offloads & CWG_TUN_F_USO4 ? "on" : "off",
		 t->offloads & TUN_F_CSUM ? "on" : "off");
}

/* The namespace the interface lives in now, as a new fd; -1 if the
 * kernel cannot say (before TUNGETDEVNETNS). */
static int tun_netns(const struct cwg_tun *t, struct stat *st)
{
	int ns = ioctl(t->fd, TUNGETDEVNETNS);

	if (ns >= 0 && fstat(ns, st) < 0) {
		close(ns);
		ns = -1;
	}
	return ns;
}

static int tun_finish(struct cwg_tun *t, char *err, size_t errlen)
{
	struct ifreq ifr;
	struct stat st;
	int r, fl, ns;

	r = tun_getiff(t->fd, &ifr);
	if (r) {
		snprintf(err, errlen, "TUNGETIFF: %s", strerror(-r));
		return r;
	}
	if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP)) != IFF_TUN ||
	    !(ifr.ifr_flags & IFF_NO_PI)) {
		snprintf(err, errlen,
			 "TUN device needs IFF_TUN|IFF_NO_PI (flags 0x%x)",
			 (unsigned)ifr.ifr_flags);
		return -EINVAL;
	}
	t->vnet = ifr.ifr_flags & IFF_VNET_HDR;
	if (t->vnet)
		tun_set_offloads(t, tun_disabled());
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = '\0';
	fl = fcntl(t->fd, F_GETFL);
	if (fl < 0 || fcntl(t->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "TUN O_NONBLOCK: %s", strerror(-r));
		return r;
	}
	t->ctl_fd = ctl_socket();
	if (t->ctl_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-r));
		return r;
	}
	/* Without /proc we cannot come back from setns(): then MTU changes
	 * are only followed while the interface stays in our namespace. */
	t->home_ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	/* The interface starts out here, where ctl_fd is. */
	ns = tun_netns(t, &st);
	if (ns >= 0) {
		t->ns_ino = st.st_ino;
		t->ns_dev = st.st_dev;
		close(ns);
	}
	return 0;
}

static void tun_init(struct cwg_tun *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = t->ctl_fd = t->home_ns_fd = -1;
}

int cwg_tun_create(struct cwg_tun *t, const char *name, uint32_t mtu,
		   char *err, size_t errlen)
{
	struct ifreq ifr;
	int r;

	tun_init(t);
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		if (r == -ENOENT || r == -ENODEV)
			snprintf(err, errlen, "/dev/net/tun does not exist");
		else
			snprintf(err, errlen, "open /dev/net/tun: %s",
				 strerror(-r));
		return r;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (!(tun_disabled() & CWG_OFFLOAD_TUN_VNET))
		ifr.ifr_flags |= IFF_VNET_HDR;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	r = ioctl(t->fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
	if (r == -EINVAL && (ifr.ifr_flags & IFF_VNET_HDR)) {
		/* A kernel without virtio headers on TUN: plain packets. */
		ifr.ifr_flags &= (short)~IFF_VNET_HDR;
		r = ioctl(t->fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
	}
	if (r) {
		if (r == -EPERM)
			snprintf(err, errlen, "creating TUN device %s: "
				 "operation not permitted", name);
		else if (r == -EBUSY)
			snprintf(err, errlen, "TUN device %s is in use", name);
		else
			snprintf(err, errlen, "creating TUN device %s: %s",
				 name, strerror(-r));
		cwg_tun_close(t);
		return r;
	}
	r = tun_finish(t, err, errlen);
	if (r) {
		cwg_tun_close(t);
		return r;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(t->ctl_fd, SIOCSIFMTU, &ifr) < 0) {
		r = -errno;
		snprintf(err, errlen, "setting MTU of %s: %s", t->name,
			 strerror(-r));
		cwg_tun_close(t);
		return r;
	}
	return 0;
}

int cwg_tun_adopt(struct cwg_tun *t, int fd, char *err, size_t errlen)
{
	int r;

	tun_init(t);
	t->fd = fd;
	r = tun_finish(t, err, errlen);
	if (r) {
		t->fd = -1; /* not ours to close on failure */
		cwg_tun_close(t);
	}
	return r;
}

/*
 * Points ctl_fd at the namespace the interface lives in now. A moved
 * interface keeps its TUN fd but not its place: a name lookup in our own
 * namespace would then find nothing, or somebody else's interface. So
 * this says false when ctl_fd cannot be made to follow (no /proc at
 * start, or setns() refused, as it is once the sandbox dropped
 * CAP_SYS_ADMIN) and the caller must not look the name up.
 */
static bool tun_follow_netns(struct cwg_tun *t)
{
	struct stat st;
	bool ok = false;
	int ns, s;

	ns = tun_netns(t, &st);
	if (ns < 0)
		return true; /* an old kernel: interfaces cannot be told apart */
	if (st.st_ino == t->ns_ino && st.st_dev == t->ns_dev) {
		close(ns);
		return true;
	}
	/* setns() on this thread only; sockets keep their namespace. */
	if (t->home_ns_fd >= 0 && setns(ns, CLONE_NEWNET) == 0) {
		s = ctl_socket();
		if (setns(t->home_ns_fd, CLONE_NEWNET) < 0) {
			/* Cannot happen short of a kernel bug; staying in the
			 * wrong namespace would misplace every later socket. */
			perror("cwg: setns back to our namespace");
			_exit(1);
		}
		if (s >= 0) {
			close(t->ctl_fd);
			t->ctl_fd = s;
			t->ns_ino = st.st_ino;
			t->ns_dev = st.st_dev;
			ok = true;
		}
	}
	close(ns);
	return ok;
}

/* An ifreq naming the interface now (TUNGETIFF always reports the
 * current name, after any rename), with ctl_fd in its namespace. */
static int tun_ifreq(struct cwg_tun *t, struct ifreq *ifr)
{
	char name[IFNAMSIZ];
	int r = tun_getiff(t->fd, ifr);

	if (r)
		return r;
	memcpy(name, ifr->ifr_name, IFNAMSIZ);
	if (!tun_follow_netns(t))
		return -EXDEV; /* moved where we cannot look */
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, name, IFNAMSIZ);
	return 0;
}

int cwg_tun_get_mtu(struct cwg_tun *t, uint32_t *mtu)
{
	struct ifreq ifr;
	int r = tun_ifreq(t, &ifr);

	if (r)
		return r; /* the caller keeps the last MTU */
	if (ioctl(t->ctl_fd, SIOCGIFMTU, &ifr) < 0)
		return -errno;
	if (ifr.ifr_mtu <= 0)
		return -EINVAL;
	*mtu = (uint32_t)ifr.ifr_mtu;
	return 0;
}

int cwg_tun_is_up(struct cwg_tun *t)
{
	struct ifreq ifr;
	int r = tun_ifreq(t, &ifr);

	if (r)
		return r;
	if (ioctl(t->ctl_fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	return (ifr.ifr_flags & IFF_UP) != 0;
}

bool cwg_tun_alive(const struct cwg_tun *t)
{
	struct ifreq ifr;

	/* A deleted interface detaches its queues: EBADFD from now on. */
	return tun_getiff(t->fd, &ifr) != -EBADFD;
}

void cwg_tun_close(struct cwg_tun *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->ctl_fd >= 0)
		close(t->ctl_fd);
	if (t->home_ns_fd >= 0)
		close(t->home_ns_fd);
	t->fd = t->ctl_fd = t->home_ns_fd = -1;
}
