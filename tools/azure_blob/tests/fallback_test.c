// SPDX-License-Identifier: MIT
/*
 * Unit tests of the device fallbacks (TAP), with the kernel's own
 * answers: what --transport auto picks for each errno of the open; then
 * /dev/zero, which opens and takes neither io_uring commands (EOPNOTSUPP)
 * nor the ioctl (ENOTTY; /dev/null has an io_uring command of its own
 * since Linux 6.x); a seccomp filter that refuses io_uring_setup() as
 * container runtimes do; nodes of an unregistered major (ENXIO) and of an
 * unregistered misc minor (ENODEV) in a temporary directory.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include "internal.h"
#include "tap.h"
#include "fakeroot.h"


/* ---- what --transport auto picks ---- */

static void test_auto(void)
{
	static const struct {
		int err;
		bool http;
		enum azb_transport_kind kind;
		bool notice;
	} t[] = {
		{ 0, true, AZB_TRANSPORT_DEVICE, false },
		{ 0, false, AZB_TRANSPORT_DEVICE, false },
		{ ENOENT, true, AZB_TRANSPORT_HTTP, false },
		{ ENOTDIR, true, AZB_TRANSPORT_HTTP, false },
		{ ENOENT, false, AZB_TRANSPORT_AUTO, false },
		{ EACCES, true, AZB_TRANSPORT_HTTP, true },
		{ EPERM, true, AZB_TRANSPORT_HTTP, true },
		{ ENODEV, true, AZB_TRANSPORT_HTTP, true },
		{ ENXIO, true, AZB_TRANSPORT_HTTP, true },
		{ EACCES, false, AZB_TRANSPORT_AUTO, false },
		{ EIO, true, AZB_TRANSPORT_AUTO, false },
		{ EMFILE, true, AZB_TRANSPORT_AUTO, false },
	};
	unsigned int i, bad = 0;
	struct azb_auto a;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		azb_auto_choose(t[i].err, t[i].http, "/dev/azure_blob", &a);
		if (a.kind != t[i].kind || a.notice != t[i].notice) {
			bad++;
			printf("# errno %d http %d: kind %d notice %d (%s)\n",
			       t[i].err, t[i].http, a.kind, a.notice, a.why);
		}
	}
	CHECK(!bad, "auto: %zu cases of errno and build, %u wrong",
	      sizeof(t) / sizeof(t[0]), bad);
}
/* ---- fallbacks with the kernel's answers ---- */

static unsigned int notices;
static char last_notice[512];

static void count_notice(void *arg, const char *msg)
{
	(void)arg;
	notices++;
	snprintf(last_notice, sizeof(last_notice), "%s", msg);
}

static const char head[] = "PUT /c/b?comp=block HTTP/1.1\r\nContent-Length: 4\r\n\r\n";

static void xfer_init(struct azb_xfer *x)
{
	memset(x, 0, sizeof(*x));
	x->head = head;
	x->head_len = sizeof(head) - 1;
	x->body = "abcd";
	x->body_len = 4;
	x->timeout_ms = 1000;
}

/*
 * Submit n requests, reap them all; count the ones that failed in the
 * ioctl with ENOTTY (what /dev/zero answers).
 */
static unsigned int run_batch(struct azb_transport *t, unsigned int n)
{
	struct azb_xfer x[8];
	unsigned int i, enotty = 0;

	for (i = 0; i < n; i++) {
		xfer_init(&x[i]);
		if (t->submit(t, &x[i]))
			return 0;
	}
	for (i = 0; i < n; i++) {
		struct azb_xfer *got = t->reap(t);

		if (got && got->terr == -ENOTTY &&
		    !strncmp(got->terr_msg, "ioctl: ", 7))
			enotty++;
		else if (got)
			printf("# reaped: terr %d %s\n", got->terr, got->terr_msg);
	}
	return t->inflight || t->reap(t) ? 0 : enotty;
}

static void test_uring_fallback(void)
{
	struct azb_config cfg;
	struct azb_transport *t;
	struct azb_error err = {0};
	int e;

	azb_config_init(&cfg);
	cfg.device = "/dev/zero";
	cfg.parallel = 4;
	cfg.notice = count_notice;
	notices = 0;
	t = azb_transport_device_new(&cfg, &err);
	if (!t) {
		CHECK(0, "device transport on /dev/zero: %s", err.message);
		return;
	}
	e = run_batch(t, 4);
	CHECK(e == 4 && notices == 1 && strstr(last_notice, "io_uring commands") &&
	      strstr(last_notice, strerror(EOPNOTSUPP)),
	      "io_uring EOPNOTSUPP: %d of 4 in flight redone through the ioctl, %u notice (%s)",
	      e, notices, last_notice);
	e = run_batch(t, 3);
	CHECK(e == 3 && notices == 1,
	      "after the fallback: %d of 3 through the ioctl, still %u notice",
	      e, notices);
	t->destroy(t);
	azb_config_free(&cfg);
}

/* io_uring_setup() refused (ENOSYS) by seccomp, in a child */
static int deny_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]),
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
	return 0;
}

struct ring_result {
	int filter;
	unsigned int ioctls, notices;
	char notice[512];
};

static void test_no_ring(void)
{
	struct ring_result r = {0};
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct azb_config cfg;
		struct azb_transport *t;

		close(pfd[0]);
		notices = 0;
		last_notice[0] = '\0';
		r.filter = deny_uring();
		azb_config_init(&cfg);
		cfg.device = "/dev/zero";
		cfg.parallel = 4;
		cfg.notice = count_notice;
		t = azb_transport_device_new(&cfg, NULL);
		if (t) {
			r.ioctls = run_batch(t, 4);
			t->destroy(t);
		}
		r.notices = notices;
		snprintf(r.notice, sizeof(r.notice), "%s", last_notice);
		if (write(pfd[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &r, sizeof(r)) != sizeof(r)) {
		CHECK(0, "no io_uring: the child reported nothing");
		close(pfd[0]);
		if (pid > 0)
			waitpid(pid, &status, 0);
		return;
	}
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (r.filter) {
		CHECK(0, "no io_uring: seccomp filter: %s", strerror(-r.filter));
		return;
	}
	CHECK(r.ioctls == 4 && r.notices == 1 &&
	      strstr(r.notice, "io_uring is not available"),
	      "no io_uring (seccomp): %u of 4 through the ioctl, %u notice (%s)",
	      r.ioctls, r.notices, r.notice);
}
/* ---- azb_client_new() with --transport auto on real nodes ---- */

/* a character major that nothing registered, for ENXIO */
static unsigned int free_major(void)
{
	static const unsigned int candidates[] = {
		240, 241, 242, 243, 244, 60, 61, 62, 63, 120, 121,
	};
	char line[128];
	unsigned int i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		FILE *f = fopen("/proc/devices", "r");
		bool used = false, chr = false;
		unsigned int ma;

		if (!f)
			return 0;
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "Character", 9))
				chr = true;
			else if (!strncmp(line, "Block", 5))
				chr = false;
			else if (chr && sscanf(line, "%u", &ma) == 1 &&
				 ma == candidates[i])
				used = true;
		}
		fclose(f);
		if (!used)
			return candidates[i];
	}
	return 0;
}

/* a misc minor that nothing registered, for ENODEV */
static unsigned int free_misc_minor(void)
{
	unsigned int mi;

	for (mi = 64; mi < 128; mi++) {
		FILE *f = fopen("/proc/misc", "r");
		char line[128];
		unsigned int m;
		bool used = false;

		if (!f)
			return 0;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%u", &m) == 1 && m == mi)
				used = true;
		fclose(f);
		if (!used)
			return mi;
	}
	return 0;
}

static void auto_case(const char *what, const char *device,
		      const char *want_transport, unsigned int want_notices,
		      int want_errno)
{
	struct azb_config cfg;
	struct azb_client *c = NULL;
	struct azb_error err = {0};
	int ret;

	azb_config_init(&cfg);
	azb_config_from_connection_string(&cfg, "UseDevelopmentStorage=true",
					  &err);
	cfg.device = device;
	cfg.notice = count_notice;
	notices = 0;
	last_notice[0] = '\0';
	ret = azb_client_new(&cfg, &c, &err);
	CHECK(!ret && !strcmp(azb_client_transport_name(c), want_transport) &&
	      notices == want_notices &&
	      (!want_errno || strstr(last_notice, strerror(want_errno))),
	      "auto, %s: %s, %u notice%s%s%s", what,
	      ret ? err.message : azb_client_transport_name(c), notices,
	      notices == 1 ? "" : "s", notices ? ": " : "", last_notice);
	azb_client_free(c);
	azb_config_free(&cfg);
}

static void test_auto_client(void)
{
	char p[PATH_MAX];
	unsigned int ma = free_major(), mi = free_misc_minor();

	snprintf(p, sizeof(p), "%s/dev/absent", root);
	auto_case("no node", p, "http", 0, 0);
	auto_case("/dev/zero opens", "/dev/zero", "device", 0, 0);
	if (ma && put_node("dev/enxio", ma, 0, 0600, 0)) {
		snprintf(p, sizeof(p), "%s/dev/enxio", root);
		auto_case("node of an unregistered major (ENXIO)", p, "http",
			  1, ENXIO);
	} else {
		SKIP("auto, ENXIO: no free major or no mknod");
	}
	if (mi && put_node("dev/enodev", 10, mi, 0600, 0)) {
		snprintf(p, sizeof(p), "%s/dev/enodev", root);
		auto_case("node of an unregistered misc minor (ENODEV)", p,
			  "http", 1, ENODEV);
	} else {
		SKIP("auto, ENODEV: no free misc minor or no mknod");
	}
}
int main(void)
{
	if (!fakeroot_make("fallback"))
		return 2;
	test_auto();
	test_uring_fallback();
	test_no_ring();
	test_auto_client();
	fakeroot_remove();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
