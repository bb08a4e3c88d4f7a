/* SPDX-License-Identifier: MIT */
/*
 * The sandbox (see sandbox.h). Three layers, each covering what the
 * others cannot:
 *
 *  - capabilities, with capset(2) and prctl(2) directly: three calls do
 *    not justify a library dependency, and libcap's cap_set_proc changes
 *    only the calling thread anyway, exactly like the raw call;
 *  - Landlock: the daemon stays uid 0, and uid 0 without capabilities
 *    still owns most of the file system. Unlinking our socket file at
 *    exit is the one file operation left, and seccomp cannot look at
 *    path strings, so Landlock confines removal to the UAPI directory;
 *  - seccomp (libseccomp): the system call allow-list, with argument
 *    filters where a call is needed only in a narrow form.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "uapi_server.h"

#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif
/* siginfo's si_code for a SIGSYS from a seccomp filter (the kernel's
 * SYS_SECCOMP, which the C library does not name). */
#define SB_SYS_SECCOMP 1
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
/* Landlock rights newer than some installed headers. */
#define SB_LL_REFER (1ULL << 13)
#define SB_LL_TRUNCATE (1ULL << 14)
#define SB_LL_V1 ((1ULL << 13) - 1)

#define SB_NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum sb_mode { SB_ON, SB_OFF, SB_LOG };

static enum sb_mode sb_mode = SB_ON;

/* What the daemon still needs once its sockets exist: SO_MARK and the
 * forced buffer sizes (CAP_NET_ADMIN), binding a port below
 * ip_unprivileged_port_start (CAP_NET_BIND_SERVICE). */
#define SB_KEEP_CAPS ((1ULL << CAP_NET_ADMIN) | (1ULL << CAP_NET_BIND_SERVICE))

int cwg_sandbox_configure(int *argc, char **argv)
{
	const char *s = getenv("CWG_SANDBOX");
	int out = 1;

	if (!s || !*s || !strcmp(s, "1"))
		sb_mode = SB_ON;
	else if (!strcmp(s, "0"))
		sb_mode = SB_OFF;
	else if (!strcmp(s, "log"))
		sb_mode = SB_LOG;
	else {
		fprintf(stderr, "cwg: CWG_SANDBOX must be 0, 1 or log, not "
			"'%s'\n", s);
		return -1;
	}
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--no-sandbox"))
			sb_mode = SB_OFF;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

/* ---- capabilities ---- */

static int sb_capget(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct c[_LINUX_CAPABILITY_U32S_3];

	memset(c, 0, sizeof(c));
	if (syscall(SYS_capget, &h, c) < 0)
		return -errno;
	*eff = (uint64_t)c[1].effective << 32 | c[0].effective;
	*prm = (uint64_t)c[1].permitted << 32 | c[0].permitted;
	return 0;
}

static int sb_capset(uint64_t caps)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct c[_LINUX_CAPABILITY_U32S_3];

	memset(c, 0, sizeof(c));
	for (int i = 0; i < 2; i++) {
		c[i].effective = (uint32_t)(caps >> (32 * i));
		c[i].permitted = (uint32_t)(caps >> (32 * i));
	}
	return syscall(SYS_capset, &h, c) < 0 ? -errno : 0;
}

static int sb_drop_caps(void)
{
	uint64_t eff, prm, keep;
	int r;

	r = sb_capget(&eff, &prm);
	if (r) {
		cwg_log_error("sandbox: capget: %s", strerror(-r));
		return -1;
	}
	keep = prm & SB_KEEP_CAPS;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL) {
		cwg_log_error("sandbox: clearing ambient capabilities: %s",
			      strerror(errno));
		return -1;
	}
	/* The bounding set only matters at execve, which seccomp forbids;
	 * dropping it needs CAP_SETPCAP, which a launcher may have withheld
	 * from us, so an unremovable entry is noted, not fatal. */
	for (int cap = 0; cap < 64; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0)
			break; /* past the kernel's last capability */
		if (in && !(SB_KEEP_CAPS & (1ULL << cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			cwg_log_verbose("sandbox: capability %d stays in the "
					"bounding set: %s", cap,
					strerror(errno));
	}
	/* Root regains nothing through exec or setuid from here on
	 * (best effort: it needs CAP_SETPCAP, and seccomp forbids both). */
	(void)prctl(PR_SET_SECUREBITS,
		    SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		    SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
		    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0);
	r = sb_capset(keep);
	if (!r)
		r = sb_capget(&eff, &prm);
	if (!r && (eff != keep || prm != keep))
		r = -EPERM;
	if (r) {
		cwg_log_error("sandbox: dropping capabilities: %s",
			      strerror(-r));
		return -1;
	}
	return 0;
}

/* ---- Landlock ---- */

/*
 * 1 when the file system is now confined, 0 when the kernel has no
 * Landlock (the seccomp list still forbids every call that creates,
 * opens, renames or links files), -1 on failure.
 */
static int sb_landlock(void)
{
	struct landlock_ruleset_attr attr = { 0 };
	struct landlock_path_beneath_attr beneath = {
		.allowed_access = LANDLOCK_ACCESS_FS_REMOVE_FILE,
	};
	long abi;
	int rs, dir, r = -1;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
		      LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		cwg_log_verbose("sandbox: no Landlock (%s): file removal is "
				"not confined", strerror(errno));
		return 0;
	}
	attr.handled_access_fs = SB_LL_V1;
	if (abi >= 2)
		attr.handled_access_fs |= SB_LL_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= SB_LL_TRUNCATE;
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0) {
		cwg_log_error("sandbox: landlock_create_ruleset: %s",
			      strerror(errno));
		return -1;
	}
	/* Without the directory there is no socket file of ours to remove,
	 * and the ruleset then allows nothing at all. */
	dir = open(CWG_UAPI_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0) {
		beneath.parent_fd = dir;
		if (syscall(SYS_landlock_add_rule, rs,
			    LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) < 0) {
			cwg_log_error("sandbox: landlock_add_rule: %s",
				      strerror(errno));
			goto out;
		}
	}
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
		cwg_log_error("sandbox: landlock_restrict_self: %s",
			      strerror(errno));
		goto out;
	}
	r = 1;
out:
	if (dir >= 0)
		close(dir);
	close(rs);
	return r;
}

/* ---- seccomp: where ---- */

/*
 * The allow-list below names the calls that x86_64's C library makes for
 * the daemon. Another architecture's kernel table may route the same work
 * through calls the list does not know, and the filter would then kill a
 * healthy daemon on its first use of one: the 32-bit ABIs (i386, armel,
 * armhf, mipsel) map memory with mmap2, take locks with fcntl64, keep
 * time with the *_time64 calls and (i386, mipsel) reach the sockets
 * through socketcall, as ppc64el and s390x do too. So the filter is only
 * installed where the list is known to be right:
 *
 *  - x86_64, where tests/net/80-sandbox.sh runs the daemon under it;
 *  - aarch64, whose table is the kernel's generic one: each of its calls
 *    exists under the same name on x86_64, none of the 32-bit variants
 *    exists, and for each older call on the list that it lacks (open,
 *    creat, poll, epoll_wait, dup2, stat, lstat, unlink, time) the C
 *    library makes the generic one, which the list names too (openat,
 *    ppoll, epoll_pwait, dup3, newfstatat, unlinkat, clock_gettime).
 *    tests/unit/test_sandbox.c checks this against libseccomp's tables;
 *    the daemon has not run under the filter there.
 *
 * Elsewhere the capabilities and Landlock still apply and one log line
 * says the filter is off: a weaker sandbox beats a daemon that dies in
 * the field. riscv64 has aarch64's shape and could join once someone
 * runs the daemon there.
 */
static bool sb_filter_fits(uint32_t arch)
{
	return arch == SCMP_ARCH_X86_64 || arch == SCMP_ARCH_AARCH64;
}

/* Debian's names for libseccomp's architectures, for the log. */
static const char *sb_arch_name(uint32_t arch)
{
	switch (arch) {
	case SCMP_ARCH_X86_64:	return "amd64";
	case SCMP_ARCH_AARCH64:	return "arm64";
	case SCMP_ARCH_X86:	return "i386";
	case SCMP_ARCH_ARM:	return "armel/armhf";
	case SCMP_ARCH_X32:	return "x32";
	case SCMP_ARCH_MIPSEL:	return "mipsel";
	case SCMP_ARCH_MIPSEL64: return "mips64el";
	case SCMP_ARCH_PPC64LE:	return "ppc64el";
	case SCMP_ARCH_S390X:	return "s390x";
	case SCMP_ARCH_RISCV64:	return "riscv64";
	default:		return "this architecture";
	}
}

/* ---- seccomp: a call the list forgets ---- */

/*
 * Such a call is trapped rather than killed outright, so that the daemon
 * can say which one it was where its log goes (stderr, or syslog for a
 * daemon; log.c sends from a signal handler too): a daemon dead of SIGSYS
 * with nothing in its log leaves only an audit record in the kernel
 * log, if that. The handler then dies the way the filter used to kill:
 * it installs, on its own thread, a last filter that kills the process
 * on any call and repeats the trapped one, so the kernel still logs the
 * call (actions_logged has kill_process by default) and the exit status
 * is still SIGSYS's. The forbidden call itself never runs.
 */
static char sb_trap_head[96];
static size_t sb_trap_head_len;
static const char sb_trap_tail[] =
	" is not on the allow-list: the process stops. CWG_SANDBOX=log "
	"lets it run on and has the kernel log each such call; please "
	"report it.";

static struct sock_filter sb_kill_all[] = {
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

/* Async-signal-safe: writes v in decimal to end (exclusive), backwards;
 * returns where it starts. */
static char *sb_utoa(char *end, unsigned int v)
{
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static void sb_on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sock_fprog last = {
		.len = SB_NELEM(sb_kill_all), .filter = sb_kill_all,
	};
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	char num[12], *n = sb_utoa(num + sizeof(num), (unsigned int)
				  si->si_syscall);
	struct iovec iov[] = {
		{ sb_trap_head, sb_trap_head_len },
		{ n, (size_t)(num + sizeof(num) - n) },
		{ (void *)sb_trap_tail, sizeof(sb_trap_tail) - 1 },
	};

	(void)uc;
	if (si->si_code != SB_SYS_SECCOMP)
		goto die; /* a plain kill -SYS */
	cwg_log_error_async(iov, 3);
	if (!syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &last))
		syscall(si->si_syscall, 0, 0, 0, 0, 0, 0);
	/* Only if the kernel refused the last filter: SIGSYS, unhandled,
	 * once this handler returns. */
die:
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static int sb_trap_install(uint32_t arch)
{
	struct sigaction sa = { .sa_sigaction = sb_on_sigsys,
				.sa_flags = SA_SIGINFO };
	int n;

	n = snprintf(sb_trap_head, sizeof(sb_trap_head),
		     "sandbox: %s system call ", sb_arch_name(arch));
	sb_trap_head_len = n > 0 ? (size_t)n : 0;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

/* ---- seccomp: what ---- */

/*
 * Allowed with any arguments. Each is either harmless on its own (time,
 * memory, futexes) or acts only on descriptors the process already holds
 * (read, write, the socket I/O calls): without open, socket (but UDP)
 * and accept on the UAPI listener, no new kind of descriptor can appear.
 * Names unknown on an architecture are skipped.
 */
static const char *const sb_allow[] = {
	/* descriptors we hold: TUN, UDP, UAPI clients, epoll, event fds,
	 * the syslog socket */
	"read", "write", "readv", "writev", "close",
	"recvfrom", "sendto", "recvmsg", "sendmsg", "recvmmsg", "sendmmsg",
	"accept4", "bind", "getsockname", "getsockopt", "shutdown",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl",
	"epoll_create1", "eventfd2", "poll", "ppoll",
	"dup", "dup2", "dup3",
	/* the UAPI socket file: watched by stat, removed at exit */
	"fstat", "newfstatat", "stat", "lstat", "statx",
	"unlink", "unlinkat",
	/* memory, threads' own bookkeeping, time */
	"brk", "mmap", "munmap", "mprotect", "madvise", "mremap",
	"futex", "futex_waitv", "set_robust_list", "rseq",
	"sched_yield", "sched_getaffinity", "getcpu",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"clock_nanosleep", "nanosleep", "getrandom",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	/* signals: our own mask and handlers, and leaving */
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack",
	"restart_syscall", "exit", "exit_group",
};

/* The ioctls run after start-up: TUN queries and offload switches on
 * our own TUN descriptor, interface queries on the MTU socket and (an
 * endpoint's zone, SIOCGIFINDEX) on a UDP socket. Setters on interfaces
 * (SIOCSIF*) would work with CAP_NET_ADMIN, hence a list. */
static const unsigned long sb_ioctls[] = {
	TUNGETIFF, TUNGETDEVNETNS, TUNGETFEATURES, TUNSETOFFLOAD,
	TUNGETVNETHDRSZ, TUNSETVNETHDRSZ,
	SIOCGIFMTU, SIOCGIFFLAGS, SIOCGIFINDEX, SIOCGIFNAME,
	FIONBIO, FIONREAD,
};

static const char *const sb_open_calls[] = {
	"open", "openat", "openat2", "creat",
};

static const int sb_fcntls[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD };
static const int sb_sockopt_levels[] = {
	SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP,
};

#if defined(__s390__) || defined(__s390x__) || defined(__CRIS__)
#define SB_CLONE_FLAGS_ARG 1
#else
#define SB_CLONE_FLAGS_ARG 0
#endif

/* libseccomp's SCMP_An() leave datum_b to C's zeroing, which clang's
 * -Wmissing-field-initializers refuses. */
#define SB_ARG(i, o, a, b) ((struct scmp_arg_cmp){ .arg = (i), .op = (o), \
	.datum_a = (scmp_datum_t)(a), .datum_b = (scmp_datum_t)(b) })
#define SB_EQ(i, v) SB_ARG(i, SCMP_CMP_EQ, v, 0)

static int sb_seccomp(uint32_t arch)
{
	const uint64_t thread = CLONE_THREAD | CLONE_VM | CLONE_SIGHAND;
	uint32_t deflt = sb_mode == SB_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	scmp_filter_ctx f = seccomp_init(deflt);
	const char *what = "seccomp_init";
	int r = -ENOMEM;

	if (!f)
		goto fail;
	what = "SIGSYS handler";
	r = sb_mode == SB_LOG ? 0 : sb_trap_install(arch);
	if (r)
		goto fail;
	what = "filter attributes";
	/* All threads, should any exist already; and a mismatch of
	 * architecture (a 32-bit syscall entry) is an attack too. */
	r = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH,
				     SCMP_ACT_KILL_PROCESS);
	if (r)
		goto fail;
	what = "allow-list";
	for (size_t i = 0; i < SB_NELEM(sb_allow); i++) {
		int nr = seccomp_syscall_resolve_name(sb_allow[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
		if (r)
			goto fail;
	}
	what = "ioctl rules";
	for (size_t i = 0; i < SB_NELEM(sb_ioctls); i++) {
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SB_EQ(1, sb_ioctls[i]));
		if (r)
			goto fail;
	}
	what = "fcntl rules";
	for (size_t i = 0; i < SB_NELEM(sb_fcntls); i++) {
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				     SB_EQ(1, sb_fcntls[i]));
		if (r)
			goto fail;
	}
	what = "setsockopt rules";
	for (size_t i = 0; i < SB_NELEM(sb_sockopt_levels); i++) {
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 1,
				     SB_EQ(1, sb_sockopt_levels[i]));
		if (r)
			goto fail;
	}
	/* Rebinding the listen port: UDP over IPv4 or IPv6, nothing else
	 * (no netlink, no raw, no packet sockets, no unix connections). */
	what = "socket rules";
	for (int fam = 0; fam < 2; fam++) {
		for (int proto = 0; proto < 2; proto++) {
			r = seccomp_rule_add(f, SCMP_ACT_ALLOW,
				SCMP_SYS(socket), 3,
				SB_EQ(0, fam ? AF_INET6 : AF_INET),
				SB_ARG(1, SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM),
				SB_EQ(2, proto ? IPPROTO_UDP : 0));
			if (r)
				goto fail;
		}
	}
	/*
	 * The syslog socket (log.c): an AF_UNIX datagram socket, connected
	 * to /dev/log before this filter, that sends with the calls above.
	 * It alone may connect again, to reach a syslog daemon restarted
	 * with a new socket: the rule matches all 64 bits of the argument,
	 * so a number with high bits set, which the kernel would cut down
	 * to this descriptor, does not pass. A connect, like a sendmsg
	 * with an address (which no filter can look into), may name
	 * another datagram socket in the file system, which Landlock does
	 * not guard either: a subverted daemon could write to journald's
	 * native socket, say, whose lines it could forge through /dev/log
	 * anyway. The socket rules above let no second one be made.
	 */
	if (cwg_log_syslog_fd() >= 0) {
		what = "connect rule";
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(connect), 1,
				     SB_EQ(0, cwg_log_syslog_fd()));
		if (r)
			goto fail;
	}
	/* Threads, never processes. clone3 passes its flags in memory,
	 * out of the filter's sight: ENOSYS makes glibc fall back to
	 * clone, whose flags we can check. */
	what = "clone rules";
	r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			     SB_ARG(SB_CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ,
				    thread, thread));
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS),
				     SCMP_SYS(clone3), 0);
	if (r)
		goto fail;
	/* abort() and raise() signal this process; uid 0 could otherwise
	 * signal every root process on the host. */
	what = "signal rules";
	r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			     SB_EQ(0, getpid()));
	if (r)
		goto fail;
	what = "prctl rules";
	r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			     SB_EQ(0, PR_SET_NAME));
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				     SB_EQ(0, PR_GET_NAME));
	if (r)
		goto fail;
	/* The SIGSYS handler's last filter (see sb_on_sigsys): flags 0,
	 * so no listener descriptor and no other thread is touched, and a
	 * filter added can only forbid more. */
	what = "seccomp rule";
	r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 2,
			     SB_EQ(0, SECCOMP_SET_MODE_FILTER), SB_EQ(1, 0));
	if (r)
		goto fail;
	/* tun.c follows an interface moved to another namespace with
	 * setns(), which needs CAP_SYS_ADMIN that we no longer have: a
	 * plain refusal lets it carry on without following. */
	what = "setns rule";
	r = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 0);
	if (r)
		goto fail;
	/* Opening files is refused, not punished: the C library opens some
	 * lazily and copes with failure (free() in a thread's arena reads
	 * /proc/sys/vm/overcommit_memory the first time it shrinks a heap),
	 * and dying there would turn a harmless probe into an outage. */
	what = "open rules";
	for (size_t i = 0; i < SB_NELEM(sb_open_calls); i++) {
		int nr = seccomp_syscall_resolve_name(sb_open_calls[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), nr, 0);
		if (r)
			goto fail;
	}
	what = "seccomp_load";
	r = seccomp_load(f);
	if (r)
		goto fail;
	seccomp_release(f);
	return 0;
fail:
	cwg_log_error("sandbox: %s: %s", what, strerror(r < 0 ? -r : ENOMEM));
	if (f)
		seccomp_release(f);
	return -1;
}

/* ---- entry ---- */

/*
 * Work that would otherwise happen lazily, inside the sandbox, with
 * calls it forbids: the time zone (log lines open /etc/localtime on
 * first use) and the crypto library (configuration files, providers).
 */
static int sb_preload(void)
{
	uint8_t priv[CWG_KEY_LEN], pub[CWG_KEY_LEN];
	bool ok;

	tzset();
	if (cwg_init())
		return -1;
	cwg_key_generate(priv);
	ok = cwg_key_public(pub, priv);
	cwg_wipe(priv, sizeof(priv));
	return ok ? 0 : -1;
}

int cwg_sandbox_enter(void)
{
	uint32_t arch = seccomp_arch_native();
	bool filter = sb_filter_fits(arch);
	int ll;

	if (sb_mode == SB_OFF) {
		cwg_log_verbose("Sandbox off");
		return 0;
	}
#ifdef CWG_SANITIZED
	/* A sanitizer's runtime ptraces the process (LeakSanitizer at exit)
	 * and writes report files: exactly what the sandbox forbids. The
	 * sandbox is tested on the regular build. */
	cwg_log_verbose("Sandbox off: sanitizer build");
	return 0;
#endif
	if (sb_preload()) {
		cwg_log_error("sandbox: crypto library failed to initialise");
		return -1;
	}
	/* Landlock and (without CAP_SYS_ADMIN) seccomp both want it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		cwg_log_error("sandbox: PR_SET_NO_NEW_PRIVS: %s",
			      strerror(errno));
		return -1;
	}
	if (sb_drop_caps())
		return -1;
	ll = sb_landlock();
	if (ll < 0 || (filter && sb_seccomp(arch)))
		return -1;
	if (!filter)
		cwg_log_error("Sandbox without its seccomp filter: the system "
			      "call allow-list is not known to be right on "
			      "%s; capabilities and Landlock still apply",
			      sb_arch_name(arch));
	cwg_log_verbose("Sandbox on%s: capabilities NET_ADMIN and "
			"NET_BIND_SERVICE kept, file removal %s, seccomp "
			"filter %s", sb_mode == SB_LOG ? " (log only)" : "",
			ll ? "confined to " CWG_UAPI_DIR : "not confined",
			filter ? "on" : "off");
	return 0;
}
