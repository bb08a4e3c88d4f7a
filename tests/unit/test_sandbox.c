/* SPDX-License-Identifier: MIT */
/*
 * The seccomp part of the sandbox (src/linux/sandbox.c), which only the
 * daemon runs, so this test includes its source like
 * test_fuzz_regressions.c includes the fuzzers'.
 *
 * Per architecture, against libseccomp's own system call tables: the
 * filter may be on only where its allow-list, written for x86_64, is
 * right, meaning no 32-bit variant of a call (mmap2, fcntl64, socketcall,
 * *_time64) exists there, every call there also exists on x86_64 under
 * that name, and each listed call the architecture lacks has its
 * replacement listed. Then, where this host runs the filter: a call the
 * list forgets is named on stderr before the process dies of SIGSYS, and
 * CWG_SANDBOX=log lets the process run on. Last, a daemon's syslog under
 * the filter: lines get through, also to a syslog socket that was
 * replaced meanwhile (connect() again), and so does the forgotten call's
 * name.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The Makefile links libseccomp into the daemon alone, so the library is
 * opened at run time here: with these names defined first, <seccomp.h>
 * (included by sandbox.c) declares each function the sandbox and this
 * test call as a pointer instead, which libseccomp_open() fills in.
 */
#define seccomp_arch_native (*dl_seccomp_arch_native)
#define seccomp_init (*dl_seccomp_init)
#define seccomp_attr_set (*dl_seccomp_attr_set)
#define seccomp_rule_add (*dl_seccomp_rule_add)
#define seccomp_load (*dl_seccomp_load)
#define seccomp_release (*dl_seccomp_release)
#define seccomp_syscall_resolve_name (*dl_seccomp_syscall_resolve_name)
#define seccomp_syscall_resolve_name_arch \
	(*dl_seccomp_syscall_resolve_name_arch)
#define seccomp_syscall_resolve_num_arch (*dl_seccomp_syscall_resolve_num_arch)

#include "../../src/linux/log.c"
#include "../../src/linux/sandbox.c"
#include "tap.h"

static bool libseccomp_open(void)
{
	void *lib = dlopen("libseccomp.so.2", RTLD_NOW);
	bool all = lib;

#define LOAD(fn) (all = all && (*(void **)&dl_##fn = dlsym(lib, #fn)))
	LOAD(seccomp_arch_native);
	LOAD(seccomp_init);
	LOAD(seccomp_attr_set);
	LOAD(seccomp_rule_add);
	LOAD(seccomp_load);
	LOAD(seccomp_release);
	LOAD(seccomp_syscall_resolve_name);
	LOAD(seccomp_syscall_resolve_name_arch);
	LOAD(seccomp_syscall_resolve_num_arch);
#undef LOAD
	return all;
}

/* Debian's architectures (release and ports) that libseccomp knows. */
static const struct {
	uint32_t arch;
	const char *name;
} archs[] = {
	{ SCMP_ARCH_X86_64, "amd64" },	{ SCMP_ARCH_AARCH64, "arm64" },
	{ SCMP_ARCH_X86, "i386" },	{ SCMP_ARCH_ARM, "armel/armhf" },
	{ SCMP_ARCH_MIPSEL64, "mips64el" }, { SCMP_ARCH_MIPSEL, "mipsel" },
	{ SCMP_ARCH_PPC64LE, "ppc64el" }, { SCMP_ARCH_S390X, "s390x" },
	{ SCMP_ARCH_RISCV64, "riscv64" }, { SCMP_ARCH_X32, "x32" },
	{ SCMP_ARCH_PPC64, "ppc64" },	{ SCMP_ARCH_PPC, "powerpc" },
	{ SCMP_ARCH_PARISC, "hppa" },
};

/* Where 32-bit ABIs route work the list names in its 64-bit form. */
static const char *const variants[] = {
	"mmap2", "fcntl64", "socketcall", "ipc", "_llseek", "fstat64",
	"fstatat64", "stat64", "lstat64", "sigreturn", "clock_gettime64",
	"clock_getres_time64", "clock_nanosleep_time64", "futex_time64",
	"ppoll_time64", "pselect6_time64", "recvmmsg_time64",
	"rt_sigtimedwait_time64", "timerfd_settime64",
};

/* Older calls, and what the C library makes where the kernel lacks one. */
static const struct {
	const char *old, *new;
} replaced[] = {
	{ "open", "openat" },		{ "creat", "openat" },
	{ "poll", "ppoll" },		{ "epoll_wait", "epoll_pwait" },
	{ "dup2", "dup3" },		{ "stat", "newfstatat" },
	{ "lstat", "newfstatat" },	{ "unlink", "unlinkat" },
	{ "time", "clock_gettime" },
};

/* Called with a filter rule of their own (argument checks, or a refusal
 * other than the default): a multiplexed form would need another rule. */
static const char *const ruled[] = {
	"ioctl", "fcntl", "setsockopt", "socket", "clone", "clone3",
	"tgkill", "prctl", "setns", "seccomp", "connect",
};

static bool real(uint32_t arch, const char *name)
{
	return seccomp_syscall_resolve_name_arch(arch, name) >= 0;
}

static bool listed(const char *name)
{
	for (size_t i = 0; i < SB_NELEM(sb_allow); i++)
		if (!strcmp(sb_allow[i], name))
			return true;
	for (size_t i = 0; i < SB_NELEM(sb_open_calls); i++)
		if (!strcmp(sb_open_calls[i], name))
			return true;
	return false;
}

/* A listed call missing on arch is fine if its replacement is listed. */
static bool replaced_there(uint32_t arch, const char *name)
{
	for (size_t i = 0; i < SB_NELEM(replaced); i++)
		if (!strcmp(replaced[i].old, name))
			return listed(replaced[i].new) &&
			       real(arch, replaced[i].new);
	return false;
}

/* Why the allow-list does not fit an architecture: how many reasons,
 * the first of them, and all of them where it matters. */
struct misfit {
	const char *arch;
	bool say_all;
	unsigned int n;
	char first[96];
};

static void misfit(struct misfit *m, const char *fmt, const char *name)
{
	char why[96];

	snprintf(why, sizeof(why), fmt, name);
	if (!m->n++)
		snprintf(m->first, sizeof(m->first), "%s", why);
	if (m->say_all)
		diag("%s: %s", m->arch, why);
}

static void check_missing(struct misfit *m, uint32_t arch,
			  const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!real(arch, names[i]) && !replaced_there(arch, names[i]))
			misfit(m, "%s is not a call of its own, nor replaced",
			       names[i]);
}

/* Whether the allow-list is right for arch. */
static bool list_fits(uint32_t arch, struct misfit *m)
{
	check_missing(m, arch, sb_allow, SB_NELEM(sb_allow));
	check_missing(m, arch, sb_open_calls, SB_NELEM(sb_open_calls));
	for (size_t i = 0; i < SB_NELEM(variants); i++)
		if (real(arch, variants[i]))
			misfit(m, "has %s", variants[i]);
	for (size_t i = 0; i < SB_NELEM(ruled); i++)
		if (!real(arch, ruled[i]))
			misfit(m, "%s is not a call of its own", ruled[i]);
	for (int nr = 0; nr < 1024; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(arch, nr);

		if (name && !real(SCMP_ARCH_X86_64, name))
			misfit(m, "has %s, which x86_64 has not", name);
		free(name);
	}
	return !m->n;
}

static void test_archs(void)
{
	ok(sb_filter_fits(SCMP_ARCH_X86_64), "amd64: filter on");
	ok(sb_filter_fits(SCMP_ARCH_AARCH64), "arm64: filter on");
	ok(!sb_filter_fits(SCMP_ARCH_X86), "i386: filter off");
	ok(!sb_filter_fits(SCMP_ARCH_ARM), "armel/armhf: filter off");
	ok(!sb_filter_fits(SCMP_ARCH_X32), "x32: filter off");
	for (size_t i = 0; i < SB_NELEM(archs); i++) {
		bool on = sb_filter_fits(archs[i].arch);
		struct misfit m = { .arch = archs[i].name, .say_all = on };
		bool fits = list_fits(archs[i].arch, &m);

		ok(!on || fits, "%s: filter %s, allow-list %s", archs[i].name,
		   on ? "on" : "off", fits ? "fits" : "does not fit");
		if (!fits && !on)
			diag("%s: %u reasons, first: %s", archs[i].name, m.n,
			     m.first);
	}
}

/*
 * A child with the filter on (or logging) calls getppid, which is not on
 * the list; returns its wait status and what it wrote to stderr.
 */
static int run_forgotten_call(enum sb_mode mode, char *out, size_t cap)
{
	int fds[2], status = -1;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(fds))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		cwg_log_init("t");
		sb_mode = mode;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    sb_seccomp(seccomp_arch_native()))
			_exit(3);
		syscall(SYS_getppid);
		_exit(0);
	}
	close(fds[1]);
	while (pid > 0 && len + 1 < cap &&
	       (n = read(fds[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return status;
}

static void test_forgotten_call(void)
{
	char out[1024], want[64];
	int st;

	snprintf(want, sizeof(want), " system call %d is not on the allow-list",
		 (int)SYS_getppid);
	st = run_forgotten_call(SB_ON, out, sizeof(out));
	ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	   "a call outside the list: the process dies of SIGSYS (status %#x)",
	   (unsigned int)st);
	ok(strstr(out, want) != NULL, "... after naming it on stderr");
	if (!strstr(out, want))
		diag("stderr: '%s'", out);
	st = run_forgotten_call(SB_LOG, out, sizeof(out));
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "CWG_SANDBOX=log: the same call lets it run on (status %#x)",
	   (unsigned int)st);
}

static int sink_at(const char *at)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", at);
	unlink(at);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Whether the sink holds a datagram containing what, within a second. */
static bool sink_has(int fd, const char *what)
{
	struct timeval tv = { .tv_sec = 1 };
	char buf[1024];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (strstr(buf, what))
			return true;
		diag("syslog: '%s'", buf);
	}
	return false;
}

/*
 * A child logs to syslog at a socket of ours, enters the filter, waits
 * for the socket to be replaced (a syslog daemon's restart), logs a line
 * and calls getppid, which is not on the list.
 */
static void test_syslog(void)
{
	char dir[] = "/tmp/cwg-test-sandbox.XXXXXX", at[96], want[64];
	int go[2], ready[2], sink, sink2 = -1, st = -1;
	char c = 0;
	pid_t pid;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(at, sizeof(at), "%s/log", dir);
	sink = sink_at(at);
	if (sink < 0 || pipe(go) || pipe(ready)) {
		ok(0, "syslog sink at %s: %s", at, strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* The parent's end only: closing it must free the socket. */
		close(sink);
		cwg_log_init("t");
		sb_mode = SB_ON;
		if (cwg_log_open_syslog(at) ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    sb_seccomp(seccomp_arch_native()))
			_exit(3);
		cwg_log_detach();
		cwg_log_error("under the filter");
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(4);
		cwg_log_error("to the new socket");
		syscall(SYS_getppid);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (pid > 0 && read(ready[0], &c, 1) == 1) {
		ok(sink_has(sink, ": t: under the filter"),
		   "syslog under the filter: a line gets through");
		close(sink);
		sink = -1;
		sink2 = sink_at(at);
		ok(sink2 >= 0 && write(go[1], "g", 1) == 1 &&
		   sink_has(sink2, ": t: to the new socket"),
		   "... and to a new syslog socket, reconnecting");
		snprintf(want, sizeof(want), " system call %d is not on the "
			 "allow-list", (int)SYS_getppid);
		ok(sink_has(sink2, want), "... and the forgotten call's name");
	} else {
		ok(0, "the child got ready");
	}
	close(go[1]);
	close(ready[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	   "... before dying of SIGSYS (status %#x)", (unsigned int)st);
	if (sink >= 0)
		close(sink);
	if (sink2 >= 0)
		close(sink2);
	unlink(at);
	rmdir(dir);
}

int main(void)
{
	if (!libseccomp_open()) {
		printf("1..0 # SKIP libseccomp.so.2: %s\n", dlerror());
		return 0;
	}
	test_archs();
	if (sb_filter_fits(seccomp_arch_native())) {
		test_forgotten_call();
		test_syslog();
	} else
		diag("no filter on this architecture, none to run");
	return done_testing();
}
