/* SPDX-License-Identifier: MIT */
/*
 * The TUN device: creation by name (only at start-up, before the launcher
 * returns), then everything through the file descriptor, because whoever
 * started us may rename the interface or move it into another network
 * namespace at any moment afterwards.
 */
#ifndef CWG_LINUX_TUN_H
#define CWG_LINUX_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CWG_TUN_DEFAULT_MTU 1420

struct cwg_tun {
	int fd;			/* non-blocking, IFF_TUN | IFF_NO_PI */
	/*
	 * With IFF_VNET_HDR every read and write carries a 10-byte
	 * virtio-net header first (src/linux/offload.h); offloads holds the
	 * TUN_F_* bits TUNSETOFFLOAD accepted (TSO and USO super-packets
	 * come only when asked for).
	 */
	bool vnet;
	unsigned offloads;
	char name[IFNAMSIZ];	/* at creation; for log lines only */
	/*
	 * MTU queries need a socket in the interface's current namespace:
	 * ctl_fd lives in the namespace whose inode is ns_ino (0: our own,
	 * not followed), home_ns_fd is ours, to return to after setns().
	 */
	int ctl_fd;
	int home_ns_fd;
	ino_t ns_ino;
	dev_t ns_dev;
};

/* TUN_F_USO4/6 (Linux 6.2), missing from older headers. */
#define CWG_TUN_F_USO4 0x20
#define CWG_TUN_F_USO6 0x40

/*
 * Creation asks for IFF_VNET_HDR and then for checksum, TSO and USO
 * offloads, each dropped when the kernel refuses it or when `disable`
 * (CWG_OFFLOAD_* bits) says so.
 *
 * 0, or a negative errno with a message in err: -ENOENT (no
 * /dev/net/tun), -EPERM, -EBUSY (a TUN of that name is in use), ...
 */
int cwg_tun_create(struct cwg_tun *t, const char *name, uint32_t mtu,
		   char *err, size_t errlen);
/* Adopts an inherited TUN descriptor (WG_TUN_FD); does not set the MTU.
 * A descriptor opened with IFF_VNET_HDR is used with its header. */
int cwg_tun_adopt(struct cwg_tun *t, int fd, char *err, size_t errlen);
/* "tun_vnet=on tso=on uso=off" for the log. */
void cwg_tun_describe(const struct cwg_tun *t, char *buf, size_t len);
/* The interface's current MTU wherever it now lives; -EBADFD when the
 * interface is gone. */
int cwg_tun_get_mtu(struct cwg_tun *t, uint32_t *mtu);
/* 1 when the interface is administratively up, 0 when down, or a
 * negative errno (it cannot be asked: deleted, moved away). */
int cwg_tun_is_up(struct cwg_tun *t);
/* false once the interface has been deleted. */
bool cwg_tun_alive(const struct cwg_tun *t);
void cwg_tun_close(struct cwg_tun *t);

#endif
