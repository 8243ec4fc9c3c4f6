// SPDX-License-Identifier: GPL-2.0
/*
 * The io_uring command AZ_BLOB_URING_CMD_REQUEST: byte-exact echo round
 * trips at queue depths 1 to 256, alongside sync ioctls of other threads;
 * the ring and command checks (SQE128/CQE32, trailing bytes, cmd_op, bad
 * buffers); cancellation when the ring or its task goes away while the host
 * holds the commands; rescind with commands in flight; host status. On a
 * kernel whose io_uring cannot cancel a command (before Linux 6.7) the
 * device takes no io_uring command: the tests that need them skip, and
 * one checks that every command fails with EOPNOTSUPP there.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"
#include "azblob_uring.h"

/*
 * uring: the depth variants; uring1: everything else, once; both skip
 * where the kernel has no io_uring commands for the device. uring_kernel:
 * what the kernel calls for.
 */
AZB_FIXTURE_CHECKED(uring, true, AZB_NEED_URING(self->fd))
AZB_FIXTURE_CHECKED(uring1, true, AZB_NEED_URING(self->fd))
AZB_FIXTURE(uring_kernel, false)

#define PG		AZB_PAGE
#define NO_TRAILER	0

/* One request with its own buffers, sized at random. */
struct io {
	uint8_t *area;
	size_t area_len;
	uint8_t *copy;		/* upload data as sent */
	struct az_blob_request_sync r;
};

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void io_free(struct io *io)
{
	if (io->area && io->area != MAP_FAILED)
		munmap(io->area, io->area_len);
	free(io->copy);
	memset(io, 0, sizeof(*io));
}

/*
 * Random shape: request 1..6000 bytes at a random offset, a response
 * buffer that truncates the echo now and then, no data, a download or an
 * upload of up to 40 KiB. The buffers share pages sometimes.
 */
static int io_random(struct io *io, uint32_t tag, uint32_t *seed)
{
	uint32_t req_len = 1 + rnd(seed) % 6000;
	uint32_t resp_len, data_len = 0, data_valid = 0, kind = rnd(seed) % 3;
	uint32_t req_off = rnd(seed) % PG, data_off;
	uint8_t *req, *resp, *data = NULL;

	memset(io, 0, sizeof(*io));
	resp_len = rnd(seed) % 4 ? req_len + AZB_TRAILER :
		   1 + rnd(seed) % (req_len + AZB_TRAILER);
	if (kind)
		data_len = 1 + rnd(seed) % (40 * 1024);
	if (kind == 2)
		data_valid = 1 + rnd(seed) % data_len;
	io->area_len = 3 * PG + req_len + resp_len + data_len + PG;
	io->area = mmap(NULL, io->area_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (io->area == MAP_FAILED)
		return -1;
	req = io->area + req_off;
	/* Right after the request: the two share a page. */
	resp = req + req_len;
	data_off = rnd(seed) % PG;
	data = io->area + ((req_off + req_len + resp_len + PG - 1) & ~(PG - 1)) +
	       data_off;
	azb_fill(req, req_len, tag);
	if (data_valid) {
		azb_fill(data, data_len, tag ^ 0x5a5a);
		io->copy = malloc(data_len);
		if (!io->copy)
			return -1;
		memcpy(io->copy, data, data_len);
	}
	azb_req_init(&io->r, tag, req, req_len, resp, resp_len,
		     data_len ? data : NULL, data_len, data_valid);
	return 0;
}

static int io_small(struct io *io, uint32_t tag, uint32_t data_pages)
{
	memset(io, 0, sizeof(*io));
	io->area_len = (data_pages + 2) * PG;
	io->area = mmap(NULL, io->area_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (io->area == MAP_FAILED)
		return -1;
	azb_fill(io->area, 200, tag);
	azb_req_init(&io->r, tag, io->area, 200, io->area + PG, 216,
		     data_pages ? io->area + 2 * PG : NULL, data_pages * PG, 0);
	return 0;
}

/*
 * Keep @depth commands in flight until @total have completed; verify each
 * byte-exact. Returns the number of failures (0), reporting the first.
 */
static int run_depth(struct __test_metadata *_metadata, int fd,
		     unsigned int depth, unsigned int total, uint32_t seed)
{
	struct io *ios = calloc(depth, sizeof(*ios));
	unsigned int sent = 0, done = 0, i, failures = 0;
	struct io_uring ring;
	struct azb_cqe c;
	char why[160];
	int ret;

	if (!ios)
		return -1;
	ret = azb_ring_init(&ring, depth, AZB_RING_FLAGS);
	if (ret) {
		TH_LOG("ring of %u: %s", depth, strerror(-ret));
		free(ios);
		return -1;
	}
	for (i = 0; i < depth && sent < total; i++, sent++) {
		if (io_random(&ios[i], sent + 1, &seed) ||
		    azb_ring_prep_req(&ring, fd, &ios[i].r, i))
			return -1;
	}
	if (azb_ring_submit(&ring) != (int)i) {
		TH_LOG("submit of %u failed", i);
		return -1;
	}
	while (done < total) {
		ret = azb_ring_reap(&ring, &c, 20000);
		if (ret) {
			TH_LOG("depth %u: no completion (%s) after %u of %u",
			       depth, strerror(-ret), done, total);
			failures++;
			break;
		}
		done++;
		i = c.user_data;
		if (i >= depth) {
			TH_LOG("depth %u: user_data %u", depth, i);
			failures++;
			break;
		}
		if (c.res) {
			if (!failures++)
				TH_LOG("depth %u: command %u res %d", depth, i,
				       c.res);
		} else {
			azb_cqe_to_response(&c, &ios[i].r);
			if (azb_echo_verify(&ios[i].r, ios[i].copy, why,
					    sizeof(why)) && !failures++)
				TH_LOG("depth %u: command %u: %s", depth, i,
				       why);
		}
		io_free(&ios[i]);
		if (sent < total) {
			if (io_random(&ios[i], sent + 1, &seed) ||
			    azb_ring_prep_req(&ring, fd, &ios[i].r, i) ||
			    azb_ring_submit(&ring) != 1) {
				failures++;
				break;
			}
			sent++;
		}
	}
	for (i = 0; i < depth; i++)
		io_free(&ios[i]);
	io_uring_queue_exit(&ring);
	free(ios);
	return failures;
}

FIXTURE_VARIANT(uring) {
	unsigned int depth;
};

#define DEPTH_VARIANT(n)			\
FIXTURE_VARIANT_ADD(uring, depth_##n) {		\
	.depth = n,				\
}

DEPTH_VARIANT(1);
DEPTH_VARIANT(2);
DEPTH_VARIANT(8);
DEPTH_VARIANT(32);
DEPTH_VARIANT(64);
DEPTH_VARIANT(128);
DEPTH_VARIANT(256);

/* Round trips at the variant's queue depth, byte-exact, pins balanced. */
TEST_F_TIMEOUT(uring, echo_at_depth, AZB_LONG_TIMEOUT)
{
	unsigned int total = variant->depth * 3 < 48 ? 48 : variant->depth * 3;
	long base = azb_pins_outstanding();
	struct azb_host_stats st;

	ASSERT_EQ(0, run_depth(_metadata, self->fd, variant->depth, total,
			       0x9e37 + variant->depth));
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
	ASSERT_EQ(0, azb_host_stats(0, &st));
	EXPECT_EQ(0, st.violations);
}

struct sync_worker {
	pthread_t thread;
	int fd;
	uint32_t seed;
	volatile int *stop;
	unsigned int done, failed;
	char why[160];
};

static void *sync_worker_fn(void *arg)
{
	struct sync_worker *w = arg;
	struct io io;
	int ret;

	while (!*w->stop) {
		memset(&io, 0, sizeof(io));
		if (io_random(&io, 0x10000 + w->done, &w->seed)) {
			w->failed++;
			break;
		}
		ret = azb_submit(w->fd, &io.r);
		if (ret) {
			if (!w->failed++)
				snprintf(w->why, sizeof(w->why), "ioctl: %s",
					 strerror(ret));
		} else if (azb_echo_verify(&io.r, io.copy, w->why,
					   sizeof(w->why))) {
			w->failed++;
		}
		w->done++;
		io_free(&io);
	}
	return NULL;
}

/* io_uring at depth 32 on one fd while four threads issue sync ioctls. */
TEST_F_TIMEOUT(uring1, mixed_with_sync_ioctls, AZB_LONG_TIMEOUT)
{
	struct sync_worker w[4];
	volatile int stop = 0;
	long base = azb_pins_outstanding();
	int fd2, i, failures;
	unsigned int sync_done = 0;

	fd2 = open(AZB_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		/* Two threads share the ring's fd, two use their own. */
		w[i].fd = i < 2 ? self->fd : fd2;
		w[i].seed = 77 + i;
		w[i].stop = &stop;
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL,
					    sync_worker_fn, &w[i]));
	}
	failures = run_depth(_metadata, self->fd, 32, 400, 4242);
	stop = 1;
	for (i = 0; i < 4; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(0, w[i].failed) TH_LOG("sync thread %d: %s", i,
						 w[i].why);
		sync_done += w[i].done;
	}
	close(fd2);
	EXPECT_EQ(0, failures);
	EXPECT_LT(0, sync_done);
	TH_LOG("400 io_uring commands alongside %u sync ioctls", sync_done);
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
}

/* Submit one command on a fresh ring with @flags and return its res. */
static int one_cmd(int fd, unsigned int flags, uint32_t cmd_op,
		   const struct az_blob_request_sync *r, uint64_t trailer,
		   struct azb_cqe *out)
{
	struct io_uring ring;
	struct azb_cqe c;
	int ret;

	ret = azb_ring_init(&ring, 4, flags);
	if (ret)
		return 1000 + ret;
	if (azb_ring_prep(&ring, fd, cmd_op, r, trailer, 7) ||
	    azb_ring_submit(&ring) != 1) {
		io_uring_queue_exit(&ring);
		return 2000;
	}
	ret = azb_ring_reap(&ring, &c, 10000);
	io_uring_queue_exit(&ring);
	if (ret)
		return 3000 + ret;
	if (c.user_data != 7)
		return 4000;
	if (out)
		*out = c;
	return c.res;
}

/* The command needs SQE128 and CQE32: without either, EINVAL in res. */
TEST_F(uring1, ring_flags)
{
	struct io io;
	struct azb_cqe c;
	char why[160];

	ASSERT_EQ(0, io_small(&io, 1, 1));
	EXPECT_EQ(-EINVAL, one_cmd(self->fd, 0, AZ_BLOB_URING_CMD_REQUEST,
				   &io.r, 0, NULL));
	EXPECT_EQ(-EINVAL, one_cmd(self->fd, IORING_SETUP_SQE128,
				   AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, NULL));
	EXPECT_EQ(-EINVAL, one_cmd(self->fd, IORING_SETUP_CQE32,
				   AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, NULL));
	/* The response poison is untouched: nothing ran. */
	EXPECT_EQ(0, io.area[PG]);
	ASSERT_EQ(0, one_cmd(self->fd, AZB_RING_FLAGS,
			     AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, &c));
	azb_cqe_to_response(&c, &io.r);
	EXPECT_EQ(0, azb_echo_verify(&io.r, NULL, why, sizeof(why)))
		TH_LOG("%s", why);
	io_free(&io);
}

/* Any non-zero byte in the trailing 8 bytes: EINVAL. */
TEST_F(uring1, trailing_bytes)
{
	struct io io;
	int b;

	ASSERT_EQ(0, io_small(&io, 2, 0));
	for (b = 0; b < 8; b++)
		EXPECT_EQ(-EINVAL, one_cmd(self->fd, AZB_RING_FLAGS,
					   AZ_BLOB_URING_CMD_REQUEST, &io.r,
					   1ull << (8 * b + b % 8), NULL))
			TH_LOG("trailing byte %d", b);
	EXPECT_EQ(-EINVAL, one_cmd(self->fd, AZB_RING_FLAGS,
				   AZ_BLOB_URING_CMD_REQUEST, &io.r, ~0ull,
				   NULL));
	EXPECT_EQ(0, one_cmd(self->fd, AZB_RING_FLAGS,
			     AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, NULL));
	io_free(&io);
}

/* Unknown cmd_op, including the ioctl's number: ENOTTY. */
TEST_F(uring1, unknown_cmd_op)
{
	static const uint32_t ops[] = {
		0, 1, 0xf1, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
		AZ_BLOB_URING_CMD_REQUEST + 1,
		_IOW(AZ_BLOB_MAGIC_NUMBER, 0xf1, struct az_blob_request_sync),
		0xffffffffu,
	};
	struct io io;
	unsigned int i;

	ASSERT_EQ(0, io_small(&io, 3, 0));
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		EXPECT_EQ(-ENOTTY, one_cmd(self->fd, AZB_RING_FLAGS, ops[i],
					   &io.r, 0, NULL))
			TH_LOG("cmd_op %#x", ops[i]);
	io_free(&io);
}

/* Bad buffers and fields give the ioctl's errors in res. */
TEST_F(uring1, bad_arguments)
{
	long base = azb_pins_outstanding();
	struct az_blob_request_sync r;
	uint8_t *ro, *none, *gone;
	struct io io;

	ASSERT_EQ(0, io_small(&io, 4, 1));
	ro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/*
	 * Unmapped: low in the address space, below the program, where no
	 * mmap() lands (a freed mapping's address would be reused by the
	 * rings one_cmd() sets up).
	 */
	gone = (uint8_t *)0x200000;
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_NE(MAP_FAILED, none);
	ASSERT_EQ(-1, msync(gone, PG, MS_ASYNC));
	ASSERT_EQ(ENOMEM, errno);

#define EXPECT_RES(err, field, value) do {				\
		r = io.r;						\
		r.field = (value);					\
		EXPECT_EQ(err, one_cmd(self->fd, AZB_RING_FLAGS,	\
				       AZ_BLOB_URING_CMD_REQUEST, &r,	\
				       0, NULL))			\
			TH_LOG(#field " = " #value);			\
	} while (0)

	EXPECT_RES(-EFAULT, request_buffer, (uintptr_t)gone);
	EXPECT_RES(-EFAULT, request_buffer, (uintptr_t)none);
	EXPECT_RES(-EFAULT, response_buffer, (uintptr_t)gone);
	EXPECT_RES(-EFAULT, response_buffer, (uintptr_t)ro);
	EXPECT_RES(-EFAULT, response_buffer, (uintptr_t)none);
	EXPECT_RES(-EFAULT, data_buffer, (uintptr_t)ro);
	EXPECT_RES(-EFAULT, data_buffer, (uintptr_t)gone);
	EXPECT_RES(-EFAULT, data_buffer, 0);
	EXPECT_RES(-EFAULT, request_buffer, 0xffffffff81000000ull);
	EXPECT_RES(-EFAULT, response_buffer, 0xffff888000000000ull);
	EXPECT_RES(-EINVAL, reserved, 1);
	EXPECT_RES(-EINVAL, request_len, 0);
	EXPECT_RES(-EINVAL, response_len, 0);
	EXPECT_RES(-EINVAL, data_valid, io.r.data_len + 1);
	EXPECT_RES(-EINVAL, request_buffer, ~0ull - 10);
	EXPECT_RES(-E2BIG, data_len, AZ_BLOB_MAX_PAGES * PG);
	/* A read-only request buffer is fine. */
	EXPECT_RES(0, request_buffer, (uintptr_t)ro);
#undef EXPECT_RES

	munmap(ro, PG);
	munmap(none, PG);
	io_free(&io);
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
}

/* Host status n: res 0, big_cqe status n, response_len 0. */
TEST_F(uring1, host_status)
{
	struct azb_cqe c;
	struct io io;

	ASSERT_EQ(0, io_small(&io, 5, 2));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 status 7"));
	EXPECT_EQ(0, one_cmd(self->fd, AZB_RING_FLAGS,
			     AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, &c));
	EXPECT_EQ(7, AZ_BLOB_URING_STATUS(c.big0));
	EXPECT_EQ(0, AZ_BLOB_URING_RESPONSE_LEN(c.big0));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 status 4294967295"));
	EXPECT_EQ(0, one_cmd(self->fd, AZB_RING_FLAGS,
			     AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, &c));
	EXPECT_EQ(0xffffffffu, AZ_BLOB_URING_STATUS(c.big0));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 resp_len_over"));
	EXPECT_EQ(-EPROTO, one_cmd(self->fd, AZB_RING_FLAGS,
				   AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, &c));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	EXPECT_EQ(0, one_cmd(self->fd, AZB_RING_FLAGS,
			     AZ_BLOB_URING_CMD_REQUEST, &io.r, 0, &c));
	EXPECT_EQ(0, AZ_BLOB_URING_STATUS(c.big0));
	EXPECT_EQ(216, AZ_BLOB_URING_RESPONSE_LEN(c.big0));
	io_free(&io);
}

/* The module's line at load on a kernel without io_uring commands. */
#define NO_URING_LINE	"hv_azure_blob: io_uring commands unsupported: "

/* How many lines of the kernel log hold @needle; -errno on failure. */
static int klog_count(const char *needle)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	const char *p;
	char *buf;
	int n = 0, len;

	if (size <= 0)
		return size < 0 ? -errno : -ENODATA;
	buf = calloc(1, size + 1);
	if (!buf)
		return -ENOMEM;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (len < 0) {
		n = -errno;
		free(buf);
		return n;
	}
	buf[len] = 0;
	for (p = buf; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(buf);
	return n;
}

/*
 * The device's io_uring commands are what the kernel calls for. Where
 * io_uring cannot cancel a command (before Linux 6.7) the device takes
 * none: a valid request fails with EOPNOTSUPP on every ring, reaches no
 * host and pins nothing, the ioctl on the same file works, and the module
 * said so once at load. From 6.7 on it takes them (the other tests).
 */
TEST_F(uring_kernel, support_as_kernel)
{
	static const unsigned int flags[] = {
		0, IORING_SETUP_SQE128, IORING_SETUP_CQE32, AZB_RING_FLAGS,
	};
	long base = azb_pins_outstanding();
	struct azb_host_stats before, after;
	char why[200];
	struct io io;
	unsigned int i;
	int support;

	support = azb_uring_support(self->fd, why, sizeof(why));
	ASSERT_LE(0, support) TH_LOG("%s", why);
	TH_LOG("%s", why);
	EXPECT_EQ(support ? 0 : 1, klog_count(NO_URING_LINE))
		TH_LOG("lines \"%s...\" in the kernel log", NO_URING_LINE);
	if (support)
		return;

	ASSERT_EQ(0, io_small(&io, 6, 2));
	if (self->rig)
		ASSERT_EQ(0, azb_host_stats(0, &before));
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		EXPECT_EQ(-EOPNOTSUPP, one_cmd(self->fd, flags[i],
					       AZ_BLOB_URING_CMD_REQUEST,
					       &io.r, 0, NULL))
			TH_LOG("ring flags %#x", flags[i]);
	/* The response poison is untouched: nothing ran. */
	EXPECT_EQ(0, io.area[PG]);
	EXPECT_EQ(base, azb_pins_outstanding());
	if (self->rig) {
		ASSERT_EQ(0, azb_host_stats(0, &after));
		EXPECT_EQ(before.requests, after.requests);
		/* The ioctl on the same file: the echo host's round trip. */
		ASSERT_EQ(0, azb_submit(self->fd, &io.r));
		EXPECT_EQ(0, azb_echo_verify(&io.r, NULL, why, sizeof(why)))
			TH_LOG("%s", why);
	}
	io_free(&io);
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
}

#define HELD		8
#define HELD_DATA	4	/* data pages of each held command */
#define HELD_PAGES	(HELD * (HELD_DATA + 2))

static int submit_held(struct io_uring *ring, int fd, struct io *ios,
		       uint32_t tag)
{
	int i;

	for (i = 0; i < HELD; i++) {
		if (io_small(&ios[i], tag + i, HELD_DATA) ||
		    azb_ring_prep_req(ring, fd, &ios[i].r, i))
			return -1;
	}
	return azb_ring_submit(ring) == HELD ? 0 : -1;
}

/* The device still works for a fresh ring. */
static int uring_works(int fd)
{
	struct azb_cqe c;
	struct io io;
	char why[160];
	int ret;

	if (io_small(&io, 99, 3))
		return -ENOMEM;
	ret = one_cmd(fd, AZB_RING_FLAGS, AZ_BLOB_URING_CMD_REQUEST, &io.r, 0,
		      &c);
	if (!ret) {
		azb_cqe_to_response(&c, &io.r);
		if (azb_echo_verify(&io.r, NULL, why, sizeof(why)))
			ret = -EIO;
	}
	io_free(&io);
	return ret;
}

/*
 * The submitting task exits while the host holds its commands and another
 * process keeps the ring: the task exits at once; the commands stay with
 * the host (pages pinned) and complete on the ring once it lets go.
 */
TEST_F_TIMEOUT(uring1, task_exit_ring_kept, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	struct io_uring ring;
	unsigned int seen = 0, ok = 0;
	struct azb_cqe c;
	int status = 0;
	long took;
	pid_t pid;

	ASSERT_NE(LONG_MIN, base);
	ASSERT_EQ(0, azb_ring_init(&ring, 16, AZB_RING_FLAGS));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct io ios[HELD];

		if (submit_held(&ring, self->fd, ios, 500))
			_exit(100);
		pause();
		_exit(101);
	}
	ASSERT_EQ(0, azb_wait_held(0, HELD, 5000)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	EXPECT_LE(base + HELD_PAGES, azb_pins_outstanding());
	ASSERT_EQ(0, kill(pid, SIGKILL));
	took = azb_wait_child(pid, &status, 3000);
	ASSERT_LE(0, took) TH_LOG("child did not exit within 3 s");
	ASSERT_TRUE(WIFSIGNALED(status));
	TH_LOG("task with %d held commands exited after %ld ms", HELD, took);

	/* Nothing completes, nothing is unpinned, while the host holds. */
	EXPECT_EQ(-ETIME, azb_ring_reap(&ring, &c, 300));
	EXPECT_LE(base + HELD_PAGES, azb_pins_outstanding());
	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	while (seen < HELD && !azb_ring_reap(&ring, &c, 5000)) {
		seen++;
		/* The host completed them; a cancellation would be fine too. */
		if (c.res == 0 || c.res == -ECANCELED)
			ok++;
		else
			TH_LOG("command %llu res %d",
			       (unsigned long long)c.user_data, c.res);
	}
	EXPECT_EQ(HELD, seen);
	EXPECT_EQ(HELD, ok);
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
	EXPECT_EQ(-ETIME, azb_ring_reap(&ring, &c, 200));
	io_uring_queue_exit(&ring);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	EXPECT_EQ(0, uring_works(self->fd));
}

/*
 * The submitting task execs while the host holds its commands: io_uring
 * cancels every command of the task, the driver completes each with
 * -ECANCELED (seen on the ring, which the parent keeps), and the pages
 * stay pinned until the host lets go. (A ring's own teardown cancels the
 * same way, but nobody is left to read its completions.)
 */
TEST_F_TIMEOUT(uring1, exec_cancels, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	unsigned int seen = 0, canceled = 0;
	struct io_uring ring;
	struct azb_cqe c;
	long t0;
	pid_t pid;

	ASSERT_EQ(0, azb_ring_init(&ring, 16, AZB_RING_FLAGS));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct io ios[HELD];

		if (submit_held(&ring, self->fd, ios, 550))
			_exit(100);
		if (azb_wait_held(0, HELD, 5000))
			_exit(101);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(102);
	}
	t0 = azb_now_ms();
	while (seen < HELD && !azb_ring_reap(&ring, &c, 8000)) {
		seen++;
		if (c.res == -ECANCELED)
			canceled++;
		else
			TH_LOG("command %llu: res %d",
			       (unsigned long long)c.user_data, c.res);
	}
	EXPECT_EQ(HELD, seen);
	EXPECT_EQ(HELD, canceled);
	TH_LOG("%u of %d commands cancelled by exec after %ld ms", canceled,
	       HELD, azb_now_ms() - t0);
	/* The child exec'd and sleeps: it did not exit with an error. */
	EXPECT_EQ(0, waitpid(pid, NULL, WNOHANG));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	azb_sleep_ms(100);
	EXPECT_LE(base + HELD_PAGES, azb_pins_outstanding())
		TH_LOG("pages unpinned while the host holds them");
	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
	/* Nothing completes twice. */
	EXPECT_EQ(-ETIME, azb_ring_reap(&ring, &c, 300));
	io_uring_queue_exit(&ring);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	EXPECT_EQ(0, uring_works(self->fd));
}

/* io_uring_queue_exit() with commands held returns promptly. */
TEST_F_TIMEOUT(uring1, ring_exit_while_held, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	struct io_uring ring;
	struct io ios[HELD];
	uint64_t in_flight;
	long t0;
	int i;

	ASSERT_EQ(0, azb_ring_init(&ring, 16, AZB_RING_FLAGS));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	ASSERT_EQ(0, submit_held(&ring, self->fd, ios, 600));
	ASSERT_EQ(0, azb_wait_held(0, HELD, 5000));
	t0 = azb_now_ms();
	io_uring_queue_exit(&ring);
	EXPECT_GT(1000, azb_now_ms() - t0);
	/* Let the ring's exit work run: the commands are cancelled. */
	azb_sleep_ms(300);
	EXPECT_LE(base + HELD_PAGES, azb_pins_outstanding())
		TH_LOG("pages unpinned while the host holds them");
	ASSERT_EQ(0, azb_read_u64(AZB_SYSFS "/in_flight", &in_flight));
	EXPECT_EQ(HELD, in_flight);
	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
	ASSERT_EQ(0, azb_read_u64(AZB_SYSFS "/in_flight", &in_flight));
	EXPECT_EQ(0, in_flight);
	for (i = 0; i < HELD; i++)
		io_free(&ios[i]);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	EXPECT_EQ(0, uring_works(self->fd));
}

/* A process holding a ring with held commands exits promptly. */
TEST_F_TIMEOUT(uring1, process_exit_while_held, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	int status = 0, sig;
	long took;
	pid_t pid;

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	for (sig = 0; sig < 2; sig++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct io_uring ring;
			struct io ios[HELD];

			if (azb_ring_init(&ring, 16, AZB_RING_FLAGS) ||
			    submit_held(&ring, self->fd, ios, 700))
				_exit(100);
			/* The parent kills us, or we exit with them held. */
			if (sig)
				pause();
			azb_wait_held(0, HELD * 1, 5000);
			_exit(0);
		}
		ASSERT_EQ(0, azb_wait_held(0, HELD, 5000));
		if (sig)
			kill(pid, SIGKILL);
		took = azb_wait_child(pid, &status, 3000);
		ASSERT_LE(0, took) {
			azb_host(NULL, 0, "release 0");
			waitpid(pid, &status, 0);
		}
		TH_LOG("%s with %d held commands: gone after %ld ms",
		       sig ? "SIGKILL" : "exit", HELD, took);
		EXPECT_TRUE(sig ? WIFSIGNALED(status) :
			    WIFEXITED(status) && !WEXITSTATUS(status));
		EXPECT_LE(base + HELD_PAGES, azb_pins_outstanding());
		ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
		EXPECT_EQ(0, azb_wait_pins(base, 5000));
		EXPECT_EQ(base, azb_pins_outstanding());
	}
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	EXPECT_EQ(0, uring_works(self->fd));
}

/*
 * Rescind with commands in flight: each completes with -ENODEV, the old
 * file refuses new ones, and the device offered again works.
 */
TEST_F_TIMEOUT(uring1, rescind_in_flight, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	struct io_uring ring;
	unsigned int seen = 0, nodev = 0;
	struct io ios[HELD];
	struct azb_cqe c;
	int fd2, i;

	ASSERT_EQ(0, azb_ring_init(&ring, 16, AZB_RING_FLAGS));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	ASSERT_EQ(0, submit_held(&ring, self->fd, ios, 800));
	ASSERT_EQ(0, azb_wait_held(0, HELD, 5000));
	ASSERT_EQ(0, azb_host(NULL, 0, "rescind 0"));
	while (seen < HELD && !azb_ring_reap(&ring, &c, 5000)) {
		seen++;
		if (c.res == -ENODEV)
			nodev++;
		else
			TH_LOG("command %llu res %d",
			       (unsigned long long)c.user_data, c.res);
	}
	EXPECT_EQ(HELD, seen);
	EXPECT_EQ(HELD, nodev);
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
	EXPECT_EQ(0, azb_wait_path(AZB_DEV, false, 5000));

	/* The old file: -ENODEV through the ring. */
	ASSERT_EQ(0, azb_ring_prep_req(&ring, self->fd, &ios[0].r, 100));
	ASSERT_EQ(1, azb_ring_submit(&ring));
	ASSERT_EQ(0, azb_ring_reap(&ring, &c, 5000));
	EXPECT_EQ(-ENODEV, c.res);

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, azb_host(NULL, 0, "offer 0"));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV, true, 5000));
	fd2 = open(AZB_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, uring_works(fd2));
	close(fd2);
	for (i = 0; i < HELD; i++)
		io_free(&ios[i]);
	io_uring_queue_exit(&ring);
}

TEST_HARNESS_MAIN
