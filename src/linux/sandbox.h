/* SPDX-License-Identifier: MIT */
/*
 * Least privilege for the running daemon. Once the TUN device, the UDP
 * sockets and the UAPI listening socket exist, the process keeps only
 * CAP_NET_ADMIN (SO_MARK, forced socket buffer sizes) and
 * CAP_NET_BIND_SERVICE (rebinding to a port below 1024), may remove files
 * only in the UAPI directory (Landlock, where the kernel has it), and runs
 * under a seccomp allow-list that kills the whole process on anything
 * else, after naming the call in its log: no exec, no fork, no sockets but
 * UDP, no ioctls but the few the data path and MTU tracking use. open()
 * and setns() fail with an error instead, because code we do not own (the
 * C library) or code that can live without them (tun.c's namespace
 * follower) calls them. The filter is installed only on the architectures
 * whose system call tables the list is known to fit (x86_64, aarch64; see
 * sandbox.c); elsewhere a log line says it is off.
 *
 * Capabilities and Landlock domains belong to threads, not processes:
 * cwg_sandbox_enter must run on the main thread before any other thread
 * is created, so that the data threads inherit the reduced state.
 */
#ifndef CWG_LINUX_SANDBOX_H
#define CWG_LINUX_SANDBOX_H

/*
 * Removes every "--no-sandbox" from argv (compacting it and *argc) and
 * reads CWG_SANDBOX (unset, "1": on; "0": off; "log": on, but syscalls
 * outside the list are logged by the kernel instead of killing, to find
 * what a new code path needs). 0, or -1 after a message on stderr.
 */
int cwg_sandbox_configure(int *argc, char **argv);

/*
 * Enters the sandbox, unless turned off. 0, or -1 after a log line; the
 * process may then be half-restricted and should exit.
 */
int cwg_sandbox_enter(void);

#endif
