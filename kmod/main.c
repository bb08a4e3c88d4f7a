// SPDX-License-Identifier: MIT
/*
 * cwg.ko: the cwg protocol core (src/core, compiled unchanged) in the
 * Linux kernel. At load it proves its crypto backend and the core
 * against the known-answer vectors, then registers the "wireguard" link
 * kind (device.c) and generic-netlink family (netlink.c) that stock `ip`
 * and `wg` drive; only one module of that kind can be loaded at a time.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>
#include <net/rtnetlink.h>

#include <cwg/cwg.h>

#include "kdev.h"
#include "kmod.h"

static bool selftest = true;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest,
		 "run the known-answer self-test at load and refuse to load if it fails (default: on)");

static int __init cwg_module_init(void)
{
	int ret = cwg_init();

	if (ret)
		return -ENOMEM;
	if (selftest) {
		ret = cwg_selftest();
		if (ret)
			return ret;
	}
	ret = cwg_kdev_init();
	if (ret)
		return ret;
	ret = cwg_netlink_init();
	if (ret) {
		cwg_kdev_exit();
		return ret;
	}
	pr_info("loaded (self-test %s)\n", selftest ? "passed" : "skipped");
	return 0;
}

static void __exit cwg_module_exit(void)
{
	cwg_netlink_exit();
	cwg_kdev_exit();
	pr_info("unloaded\n");
}

module_init(cwg_module_init);
module_exit(cwg_module_exit);
/* The code is MIT-licensed, which the kernel counts as GPL-compatible
 * only in this spelling; lib/crypto's exports need a GPL-compatible one. */
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("cwg: WireGuard from the cwg protocol core");
MODULE_AUTHOR("the cwg authors");
MODULE_ALIAS_RTNL_LINK("wireguard");
MODULE_ALIAS_GENL_FAMILY("wireguard");
