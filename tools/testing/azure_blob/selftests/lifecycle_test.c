// SPDX-License-Identifier: GPL-2.0
/*
 * Device lifetime: host rescind with requests pending and files open, the
 * device coming back, rescind under load, two devices at once, suspend and
 * resume, and unbinding the driver while the host holds a request.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"

AZB_FIXTURE(life, true)

#define PG		AZB_PAGE

struct io {
	uint8_t *area;
	struct az_blob_request_sync r;
};

static int io_init(struct io *io, uint32_t tag, uint32_t data_pages)
{
	io->area = mmap(NULL, (data_pages + 2) * PG, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (io->area == MAP_FAILED)
		return -1;
	azb_fill(io->area, 300, tag);
	azb_req_init(&io->r, tag, io->area, 300, io->area + PG, 316,
		     data_pages ? io->area + 2 * PG : NULL, data_pages * PG, 0);
	return 0;
}

static int io_check(int fd, uint32_t tag)
{
	struct io io;
	char why[160];
	int ret;

	if (io_init(&io, tag, 2))
		return -ENOMEM;
	ret = azb_submit(fd, &io.r);
	if (!ret && azb_echo_verify(&io.r, NULL, why, sizeof(why)))
		ret = -EIO;
	munmap(io.area, 4 * PG);
	return ret;
}

TEST_F_TIMEOUT(life, rescind_with_pending_requests, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	pid_t pid[2];
	int i, fd, status;

	ASSERT_NE(LONG_MIN, base);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			struct io io;

			if (io_init(&io, 3000 + i, 4))
				_exit(100);
			/* exit code: the errno (0 if it succeeded) */
			_exit(azb_submit(self->fd, &io.r));
		}
	}
	ASSERT_EQ(0, azb_wait_held(0, 2, 5000));
	EXPECT_LE(base + 2 * 6, azb_pins_outstanding());

	ASSERT_EQ(0, azb_host(NULL, 0, "rescind 0"));
	for (i = 0; i < 2; i++) {
		ASSERT_LE(0, azb_wait_child(pid[i], &status, 5000))
			TH_LOG("request %d still blocked after rescind", i);
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(ENODEV, WEXITSTATUS(status))
			TH_LOG("pending request %d ended with errno %d", i,
			       WEXITSTATUS(status));
	}
	ASSERT_EQ(0, azb_wait_path(AZB_DEV, false, 5000))
		TH_LOG("%s still present after rescind", AZB_DEV);
	EXPECT_NE(0, access(AZB_SYSFS, F_OK));
	/* The file opened before the rescind fails every new request. */
	EXPECT_EQ(ENODEV, io_check(self->fd, 3010));
	EXPECT_EQ(ENODEV, io_check(self->fd, 3011));
	EXPECT_EQ(0, azb_wait_pins(base, 5000))
		TH_LOG("outstanding pins %ld, before %ld",
		       azb_pins_outstanding(), base);

	/* The host offers the device again: a new, working device. */
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, azb_host(NULL, 0, "offer 0"));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV, true, 5000));
	fd = open(AZB_DEV, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, io_check(fd, 3020));
	EXPECT_EQ(0, io_check(fd, 3021));
	/* The old file still belongs to the removed device. */
	EXPECT_EQ(ENODEV, io_check(self->fd, 3022));
	close(fd);
	EXPECT_EQ(0, azb_wait_pins(base, 3000));
	EXPECT_EQ(base, azb_pins_outstanding());
}

TEST_F_TIMEOUT(life, rescind_idle_open_file, AZB_LONG_TIMEOUT)
{
	struct stat st;
	int fd;

	EXPECT_EQ(0, io_check(self->fd, 3100));
	ASSERT_EQ(0, azb_host(NULL, 0, "rescind 0"));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV, false, 5000));
	EXPECT_EQ(ENODEV, io_check(self->fd, 3101));
	/* Closing after removal is fine; so is an unknown ioctl. */
	EXPECT_EQ(-1, ioctl(self->fd, _IO('R', 0xf5)));
	ASSERT_EQ(0, azb_host(NULL, 0, "offer 0"));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV, true, 5000));
	ASSERT_EQ(0, stat(AZB_DEV, &st));
	AZB_EXPECT_NODE_MODE(st);
	fd = open(AZB_DEV, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, io_check(fd, 3102));
	close(fd);
}

struct loader {
	pthread_t thread;
	int fd;
	int id;
	volatile int stop;
	int ok, nodev, other, other_err;
};

static void *loader_fn(void *arg)
{
	struct loader *l = arg;
	uint32_t i;

	for (i = 0; !l->stop; i++) {
		int ret = io_check(l->fd, 4000 + l->id * 100000 + i);

		if (ret == 0) {
			l->ok++;
		} else if (ret == ENODEV) {
			l->nodev++;
		} else {
			l->other++;
			l->other_err = ret;
		}
		if (ret == ENODEV && l->nodev > 20)
			break;
	}
	return NULL;
}

TEST_F_TIMEOUT(life, rescind_under_load, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding();
	struct loader l[4];
	int i, fd;

	memset(l, 0, sizeof(l));
	ASSERT_EQ(0, azb_host(NULL, 0, "latency 0 1000"));
	for (i = 0; i < 4; i++) {
		l[i].fd = self->fd;
		l[i].id = i;
		ASSERT_EQ(0, pthread_create(&l[i].thread, NULL, loader_fn,
					    &l[i]));
	}
	azb_sleep_ms(500);
	ASSERT_EQ(0, azb_host(NULL, 0, "rescind 0"));
	azb_sleep_ms(200);
	for (i = 0; i < 4; i++) {
		l[i].stop = 1;
		pthread_join(l[i].thread, NULL);
		TH_LOG("thread %d: %d ok, %d ENODEV, %d other", i, l[i].ok,
		       l[i].nodev, l[i].other);
		EXPECT_LT(0, l[i].ok);
		EXPECT_LT(0, l[i].nodev);
		EXPECT_EQ(0, l[i].other)
			TH_LOG("unexpected error %d", l[i].other_err);
	}
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	ASSERT_EQ(0, azb_host(NULL, 0, "latency 0 0"));
	ASSERT_EQ(0, azb_host(NULL, 0, "offer 0"));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV, true, 5000));
	fd = open(AZB_DEV, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, io_check(fd, 3200));
	close(fd);
}

struct held {
	pthread_t thread;
	int fd;
	int ret;
	volatile int done;
	uint32_t tag;
};

static void *held_fn(void *arg)
{
	struct held *h = arg;

	h->ret = io_check(h->fd, h->tag);
	h->done = 1;
	return NULL;
}

TEST_F_TIMEOUT(life, two_devices, AZB_LONG_TIMEOUT)
{
	struct held h = { .tag = 3300 };
	struct stat st;
	int fd1;

	ASSERT_NE(0, access(AZB_DEV1, F_OK));
	ASSERT_EQ(0, azb_host(NULL, 0, "offer 1"));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV1, true, 5000));
	ASSERT_EQ(0, stat(AZB_DEV1, &st));
	AZB_EXPECT_NODE_MODE(st);
	EXPECT_EQ(0, access("/sys/class/misc/azure_blob1/submitted", R_OK));
	/* The debugfs directory may follow the node by a moment. */
	if (access(AZB_DEBUGFS, F_OK) == 0)
		EXPECT_EQ(0, azb_wait_path(AZB_DEBUGFS "/azure_blob1/pending",
					   true, 2000));
	fd1 = open(AZB_DEV1, O_RDWR);
	ASSERT_LE(0, fd1);
	EXPECT_EQ(0, io_check(fd1, 3301));
	EXPECT_EQ(0, io_check(self->fd, 3302));

	/* Slot 1 holds its request; slot 0 is not affected. */
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 1 hold"));
	h.fd = fd1;
	ASSERT_EQ(0, pthread_create(&h.thread, NULL, held_fn, &h));
	ASSERT_EQ(0, azb_wait_held(1, 1, 5000));
	EXPECT_EQ(0, io_check(self->fd, 3303));
	EXPECT_EQ(0, io_check(self->fd, 3304));
	EXPECT_EQ(0, h.done);
	ASSERT_EQ(0, azb_host(NULL, 0, "release 1"));
	pthread_join(h.thread, NULL);
	EXPECT_EQ(0, h.ret);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 1 none"));

	ASSERT_EQ(0, azb_host(NULL, 0, "rescind 1"));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV1, false, 5000));
	EXPECT_EQ(ENODEV, io_check(fd1, 3305));
	close(fd1);
	EXPECT_EQ(0, io_check(self->fd, 3306));
}

#define AZB_PM_CTL	"/sys/kernel/debug/vmbus_emu/pm"

/* Ask the emulated VMBus to suspend or resume slot 0's driver. */
static int pm(const char *op)
{
	char cmd[32];
	int fd, len, ret = 0;

	fd = open(AZB_PM_CTL, O_WRONLY);
	if (fd < 0)
		return -errno;
	len = snprintf(cmd, sizeof(cmd), "%s 0\n", op);
	if (write(fd, cmd, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Suspend closes the channel and resume reopens it (what the VMBus core
 * does around hibernation). A request made while the device is suspended
 * waits for the resume. One the host holds when the suspend comes is given
 * a bounded time; the driver never abandons it: the suspend fails with
 * EBUSY, the device keeps working and the request completes when the host
 * lets it. Then suspend and resume work, and no page stays pinned.
 */
TEST_F_TIMEOUT(life, suspend_resume, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding(), start;
	int status;
	pid_t pid;

	if (access(AZB_PM_CTL, W_OK))
		SKIP(return, "%s absent: no emulated VMBus", AZB_PM_CTL);
	ASSERT_NE(LONG_MIN, base);
	ASSERT_EQ(0, io_check(self->fd, 3400));

	/* A request during suspension waits for the resume. */
	ASSERT_EQ(0, pm("suspend"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		status = io_check(self->fd, 3401);
		_exit(status < 0 ? 200 : status);
	}
	EXPECT_EQ(-1, azb_wait_child(pid, &status, 1000))
		TH_LOG("a request completed while the device was suspended");
	ASSERT_EQ(0, pm("resume"));
	ASSERT_LE(0, azb_wait_child(pid, &status, 5000))
		TH_LOG("the waiting request did not finish after resume");
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, io_check(self->fd, 3402));

	/* A request the host holds keeps the device from suspending. */
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		status = io_check(self->fd, 3403);
		_exit(status < 0 ? 200 : status);
	}
	ASSERT_EQ(0, azb_wait_held(0, 1, 5000));
	start = azb_now_ms();
	EXPECT_EQ(-EBUSY, pm("suspend"));
	/* The driver gave the host its drain time first. */
	EXPECT_LE(9000, azb_now_ms() - start);
	EXPECT_EQ(-1, azb_wait_child(pid, &status, 200))
		TH_LOG("the held request ended when the suspend failed");
	/* The host lets go: the request completes; the device works. */
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_LE(0, azb_wait_child(pid, &status, 5000));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, io_check(self->fd, 3404));
	ASSERT_EQ(0, pm("suspend"));
	ASSERT_EQ(0, pm("resume"));
	EXPECT_EQ(0, io_check(self->fd, 3405));
	EXPECT_EQ(0, azb_wait_pins(base, 5000))
		TH_LOG("outstanding pins %ld, before %ld",
		       azb_pins_outstanding(), base);
}

#define AZB_DRIVER	"/sys/bus/vmbus/drivers/hv_azure_blob"
#define AZB_PAGES_KEPT	AZB_DEBUGFS "/pages_kept"

/*
 * Unbinding the driver while the host holds a request: the host gets its
 * drain time, the caller then gets ENODEV, and the request's pages, which
 * the host may still be writing, stay pinned for good and are counted in
 * pages_kept. The device binds again and works.
 */
TEST_F_TIMEOUT(life, unbind_keeps_pages, AZB_LONG_TIMEOUT)
{
	long base = azb_pins_outstanding(), start;
	uint64_t kept0 = 0, kept = 0;
	char link[256], *name;
	int status;
	ssize_t n;
	pid_t pid;

	if (access(AZB_DRIVER "/unbind", W_OK) ||
	    azb_read_u64(AZB_PAGES_KEPT, &kept0))
		SKIP(return, "no %s/unbind or %s", AZB_DRIVER, AZB_PAGES_KEPT);
	ASSERT_NE(LONG_MIN, base);
	n = readlink(AZB_SYSFS "/device", link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = '\0';
	name = strrchr(link, '/');
	name = name ? name + 1 : link;

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		status = io_check(self->fd, 3500);
		_exit(status < 0 ? 200 : status);
	}
	ASSERT_EQ(0, azb_wait_held(0, 1, 5000));
	start = azb_now_ms();
	ASSERT_EQ(0, azb_write_text(AZB_DRIVER "/unbind", name));
	EXPECT_LE(9000, azb_now_ms() - start);
	ASSERT_LE(0, azb_wait_child(pid, &status, 5000));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(ENODEV, WEXITSTATUS(status));

	/* The request's 4 pages stay pinned, and are counted. */
	ASSERT_EQ(0, azb_read_u64(AZB_PAGES_KEPT, &kept));
	EXPECT_EQ(4, kept - kept0);
	EXPECT_EQ(base + (long)(kept - kept0), azb_pins_outstanding());

	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, azb_write_text(AZB_DRIVER "/bind", name));
	ASSERT_EQ(0, azb_wait_path(AZB_DEV, true, 5000));
	close(self->fd);
	self->fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, io_check(self->fd, 3501));
}

TEST_HARNESS_MAIN
