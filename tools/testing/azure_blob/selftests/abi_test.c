// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/azure_blob ioctl ABI: argument validation, error codes, the page
 * bound, open flags and permissions.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"

AZB_FIXTURE(abi, false)

#define PG		AZB_PAGE

static void *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A valid small request over three separate pages of @area (3 pages). */
static void small_req(struct az_blob_request_sync *r, uint8_t *area)
{
	azb_fill(area, 64, 1);
	azb_req_init(r, 1, area, 64, area + PG, 64 + AZB_TRAILER,
		     area + 2 * PG, 100, 0);
}

TEST(struct_layout)
{
	struct az_blob_request_sync r;

	ASSERT_EQ(72, sizeof(r));
	ASSERT_EQ(0, offsetof(struct az_blob_request_sync, guid));
	ASSERT_EQ(16, offsetof(struct az_blob_request_sync, timeout));
	ASSERT_EQ(20, offsetof(struct az_blob_request_sync, request_len));
	ASSERT_EQ(24, offsetof(struct az_blob_request_sync, response_len));
	ASSERT_EQ(28, offsetof(struct az_blob_request_sync, data_len));
	ASSERT_EQ(32, offsetof(struct az_blob_request_sync, data_valid));
	ASSERT_EQ(36, offsetof(struct az_blob_request_sync, reserved));
	ASSERT_EQ(40, offsetof(struct az_blob_request_sync, request_buffer));
	ASSERT_EQ(48, offsetof(struct az_blob_request_sync, response_buffer));
	ASSERT_EQ(56, offsetof(struct az_blob_request_sync, data_buffer));
	ASSERT_EQ(64, offsetof(struct az_blob_request_sync, response));
	ASSERT_EQ(0xc04852f0UL, (unsigned long)IOCTL_AZ_BLOB_DRIVER_USER_REQUEST);
}

TEST_F(abi, valid_request_succeeds)
{
	struct az_blob_request_sync r;
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	char why[128];

	ASSERT_NE(NULL, area);
	small_req(&r, area);
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	if (self->rig)
		ASSERT_EQ(0, azb_echo_verify(&r, NULL, why, sizeof(why)))
			TH_LOG("%s", why);
	munmap(area, 3 * PG);
}

TEST_F(abi, efault_argument)
{
	uint8_t *area = map(2 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync *r;

	ASSERT_NE(NULL, area);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
			    (void *)0x10));
	EXPECT_EQ(EFAULT, errno);

	/* The argument in a PROT_NONE page. */
	ASSERT_EQ(0, mprotect(area + PG, PG, PROT_NONE));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
			    area + PG));
	EXPECT_EQ(EFAULT, errno);

	/* The argument straddles the end of the accessible page. */
	r = (void *)(area + PG - 40);
	memset(r, 0, 40);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, r));
	EXPECT_EQ(EFAULT, errno);

	/* Kernel address. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
			    (void *)0xffffffff81000000UL));
	EXPECT_EQ(EFAULT, errno);
	munmap(area, 2 * PG);
}

enum which { REQ, RESP, DATA };

static uint64_t *buf_field(struct az_blob_request_sync *r, enum which w)
{
	switch (w) {
	case REQ:
		return (uint64_t *)&r->request_buffer;
	case RESP:
		return (uint64_t *)&r->response_buffer;
	default:
		return (uint64_t *)&r->data_buffer;
	}
}

static int bad_buffer(int fd, enum which w, uint64_t addr)
{
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;
	int ret;

	if (!area)
		return -1;
	small_req(&r, area);
	*buf_field(&r, w) = addr;
	ret = azb_submit(fd, &r);
	munmap(area, 3 * PG);
	return ret;
}

TEST_F(abi, efault_buffers)
{
	uint8_t *none = map(4 * PG, PROT_NONE);
	uint8_t *gone = map(4 * PG, PROT_READ | PROT_WRITE);
	enum which w;

	ASSERT_NE(NULL, none);
	ASSERT_NE(NULL, gone);
	ASSERT_EQ(0, munmap(gone, 4 * PG));
	for (w = REQ; w <= DATA; w++) {
		EXPECT_EQ(EFAULT, bad_buffer(self->fd, w, (uintptr_t)none + 5))
			TH_LOG("PROT_NONE buffer %d", w);
		EXPECT_EQ(EFAULT, bad_buffer(self->fd, w, (uintptr_t)gone))
			TH_LOG("unmapped buffer %d", w);
		EXPECT_EQ(EFAULT, bad_buffer(self->fd, w, 0))
			TH_LOG("NULL buffer %d", w);
		EXPECT_EQ(EFAULT, bad_buffer(self->fd, w,
					     0xffff888000000000ULL))
			TH_LOG("kernel address buffer %d", w);
	}
	munmap(none, 4 * PG);
}

TEST_F(abi, efault_buffer_partly_mapped)
{
	uint8_t *area = map(8 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;

	ASSERT_NE(NULL, area);
	/* The data buffer's last page is PROT_NONE. */
	ASSERT_EQ(0, mprotect(area + 7 * PG, PG, PROT_NONE));
	azb_fill(area, 64, 2);
	azb_req_init(&r, 2, area, 64, area + PG, 128, area + 3 * PG,
		     4 * PG + 1, 0);
	EXPECT_EQ(EFAULT, azb_submit(self->fd, &r));
	/* The request buffer runs into the PROT_NONE page. */
	azb_req_init(&r, 3, area + 7 * PG - 10, 20, area + PG, 128,
		     NULL, 0, 0);
	EXPECT_EQ(EFAULT, azb_submit(self->fd, &r));
	munmap(area, 8 * PG);
}

TEST_F(abi, efault_readonly_response_and_data)
{
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	uint8_t *ro = map(2 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;

	ASSERT_NE(NULL, area);
	ASSERT_NE(NULL, ro);
	memset(ro, 0x5a, 2 * PG);	/* real pages, not the zero page */
	ASSERT_EQ(0, mprotect(ro, 2 * PG, PROT_READ));

	small_req(&r, area);
	r.response_buffer = (uintptr_t)ro;
	EXPECT_EQ(EFAULT, azb_submit(self->fd, &r));

	small_req(&r, area);
	r.data_buffer = (uintptr_t)ro + PG;
	EXPECT_EQ(EFAULT, azb_submit(self->fd, &r));

	/* Read-only response buffer even when the data buffer is absent. */
	small_req(&r, area);
	r.data_len = 0;
	r.response_buffer = (uintptr_t)ro + 100;
	EXPECT_EQ(EFAULT, azb_submit(self->fd, &r));

	/* Nothing was written into the read-only pages. */
	for (size_t i = 0; i < 2 * PG; i++)
		ASSERT_EQ(0x5a, ro[i]);
	munmap(area, 3 * PG);
	munmap(ro, 2 * PG);
}

TEST_F(abi, readonly_request_ok)
{
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	uint8_t *ro = map(2 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;
	char why[128];

	ASSERT_NE(NULL, area);
	ASSERT_NE(NULL, ro);
	azb_fill(ro, 2 * PG, 77);
	ASSERT_EQ(0, mprotect(ro, 2 * PG, PROT_READ));
	/* Crosses the page boundary of the read-only mapping. */
	azb_req_init(&r, 4, ro + PG - 700, 1500, area, 1500 + AZB_TRAILER,
		     area + PG, 3000, 0);
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	if (self->rig)
		ASSERT_EQ(0, azb_echo_verify(&r, NULL, why, sizeof(why)))
			TH_LOG("%s", why);

	/* A read-only zero-page request buffer (never written). */
	munmap(ro, 2 * PG);
	ro = map(PG, PROT_READ);
	ASSERT_NE(NULL, ro);
	azb_req_init(&r, 5, ro, 333, area, PG, NULL, 0, 0);
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	if (self->rig)
		ASSERT_EQ(0, azb_echo_verify(&r, NULL, why, sizeof(why)))
			TH_LOG("%s", why);
	munmap(ro, PG);
	munmap(area, 3 * PG);
}

TEST_F(abi, einval_fields)
{
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;

	ASSERT_NE(NULL, area);

	small_req(&r, area);
	r.request_len = 0;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &r)) TH_LOG("request_len 0");

	small_req(&r, area);
	r.response_len = 0;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &r)) TH_LOG("response_len 0");

	small_req(&r, area);
	r.data_valid = r.data_len + 1;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &r))
		TH_LOG("data_valid > data_len");

	small_req(&r, area);
	r.data_len = 0;
	r.data_valid = 1;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &r))
		TH_LOG("data_valid 1, data_len 0");

	small_req(&r, area);
	r.data_valid = 0xffffffff;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &r))
		TH_LOG("data_valid ~0");

	small_req(&r, area);
	r.reserved = 1;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &r)) TH_LOG("reserved 1");

	small_req(&r, area);
	r.reserved = 0x80000000;
	EXPECT_EQ(EINVAL, azb_submit(self->fd, &r))
		TH_LOG("reserved 0x80000000");

	/* The output fields are not inputs: garbage there is accepted. */
	small_req(&r, area);
	r.response.status = 0x12345678;
	r.response.response_len = 0x9abcdef0;
	EXPECT_EQ(0, azb_submit(self->fd, &r)) TH_LOG("output garbage");
	munmap(area, 3 * PG);
}

TEST_F(abi, einval_wrapping_buffer)
{
	enum which w;

	for (w = REQ; w <= DATA; w++) {
		/* 64..128 bytes starting 10 bytes before the end. */
		EXPECT_EQ(EINVAL, bad_buffer(self->fd, w, ~0ULL - 9))
			TH_LOG("buffer %d wraps", w);
		EXPECT_EQ(EINVAL, bad_buffer(self->fd, w, ~0ULL))
			TH_LOG("buffer %d at ~0", w);
	}
}

TEST_F(abi, e2big_page_bound)
{
	size_t len = (AZ_BLOB_MAX_PAGES + 4) * PG;
	uint8_t *big = map(len, PROT_READ | PROT_WRITE);
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	uint8_t *none = map(len, PROT_NONE);
	struct az_blob_request_sync r;

	ASSERT_NE(NULL, big);
	ASSERT_NE(NULL, area);
	ASSERT_NE(NULL, none);

	/* 8191 data pages + 1 request page + 1 response page. */
	small_req(&r, area);
	r.data_buffer = (uintptr_t)big;
	r.data_len = (AZ_BLOB_MAX_PAGES - 1) * PG;
	EXPECT_EQ(E2BIG, azb_submit(self->fd, &r)) TH_LOG("8193 pages");

	/* 8190 data pages' worth of bytes, misaligned: spans 8191 pages. */
	small_req(&r, area);
	r.data_buffer = (uintptr_t)big + 1;
	r.data_len = (AZ_BLOB_MAX_PAGES - 2) * PG;
	EXPECT_EQ(E2BIG, azb_submit(self->fd, &r))
		TH_LOG("misaligned data, 8193 pages");

	/* The request buffer alone crosses the bound. */
	small_req(&r, area);
	r.request_buffer = (uintptr_t)big;
	r.request_len = AZ_BLOB_MAX_PAGES * PG;
	EXPECT_EQ(E2BIG, azb_submit(self->fd, &r)) TH_LOG("request 8192+");

	/* The response buffer alone crosses the bound. */
	small_req(&r, area);
	r.response_buffer = (uintptr_t)big;
	r.response_len = AZ_BLOB_MAX_PAGES * PG;
	r.data_len = 0;
	EXPECT_EQ(E2BIG, azb_submit(self->fd, &r)) TH_LOG("response 8192+");

	/* Huge lengths. */
	small_req(&r, area);
	r.data_buffer = (uintptr_t)big;
	r.data_len = 0xffffffff;
	EXPECT_EQ(E2BIG, azb_submit(self->fd, &r)) TH_LOG("data_len ~0");

	/* Checked before pinning: inaccessible memory still says E2BIG. */
	small_req(&r, area);
	r.data_buffer = (uintptr_t)none;
	r.data_len = AZ_BLOB_MAX_PAGES * PG;
	EXPECT_EQ(E2BIG, azb_submit(self->fd, &r)) TH_LOG("PROT_NONE data");

	munmap(none, len);
	munmap(big, len);
	munmap(area, 3 * PG);
}

TEST_F_TIMEOUT(abi, max_pages_exactly, AZB_LONG_TIMEOUT)
{
	size_t len = AZ_BLOB_MAX_PAGES * PG;
	uint8_t *big = map(len, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;
	long base = azb_pins_outstanding();
	char why[128];

	ASSERT_NE(NULL, big);
	/*
	 * 8190 data pages, then the request and the response page: exactly
	 * AZ_BLOB_MAX_PAGES in one request.
	 */
	azb_fill(big + (len - 2 * PG), 200, 9);
	azb_req_init(&r, 6, big + (len - 2 * PG), 200,
		     big + (len - PG), 200 + AZB_TRAILER,
		     big, (AZ_BLOB_MAX_PAGES - 2) * PG, 0);
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	if (self->rig)
		ASSERT_EQ(0, azb_echo_verify(&r, NULL, why, sizeof(why)))
			TH_LOG("%s", why);

	/* Misaligned by one byte, one page less: still 8192 pages. */
	azb_req_init(&r, 7, big + (len - 2 * PG), 200,
		     big + (len - PG), 200 + AZB_TRAILER,
		     big + 1, (AZ_BLOB_MAX_PAGES - 3) * PG, 0);
	ASSERT_EQ(0, azb_submit(self->fd, &r));
	if (self->rig)
		ASSERT_EQ(0, azb_echo_verify(&r, NULL, why, sizeof(why)))
			TH_LOG("%s", why);
	munmap(big, len);
	if (base != LONG_MIN)
		ASSERT_EQ(0, azb_wait_pins(base, 3000));
}

TEST_F(abi, enotty_commands)
{
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;
	char big[128] = { 0 };
	unsigned long cmds[] = {
		_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf1, struct az_blob_request_sync),
		_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xef, struct az_blob_request_sync),
		_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf0, char[64]),
		_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf0, char[80]),
		_IOW(AZ_BLOB_MAGIC_NUMBER, 0xf0, struct az_blob_request_sync),
		_IOR(AZ_BLOB_MAGIC_NUMBER, 0xf0, struct az_blob_request_sync),
		_IO(AZ_BLOB_MAGIC_NUMBER, 0xf0),
		_IOWR('S', 0xf0, struct az_blob_request_sync),
		0,
		FIONREAD,
	};
	size_t i;

	ASSERT_NE(NULL, area);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		small_req(&r, area);
		memcpy(big, &r, sizeof(r));
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], big))
			TH_LOG("command 0x%lx accepted", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("command 0x%lx", cmds[i]);
	}
	munmap(area, 3 * PG);
}

TEST_F(abi, open_flags)
{
	int flags[] = { O_RDWR, O_RDONLY, O_WRONLY, O_RDWR | O_NONBLOCK,
			O_RDWR | O_CLOEXEC, O_RDWR | O_NOCTTY };
	uint8_t *area = map(3 * PG, PROT_READ | PROT_WRITE);
	struct az_blob_request_sync r;
	size_t i;
	int fd;

	ASSERT_NE(NULL, area);
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		fd = open(AZB_DEV, flags[i]);
		ASSERT_LE(0, fd) TH_LOG("open flags 0x%x", flags[i]);
		small_req(&r, area);
		EXPECT_EQ(0, azb_submit(fd, &r)) TH_LOG("flags 0x%x", flags[i]);
		close(fd);
	}
	/* Many opens of the same device at once are independent. */
	{
		int fds[32];

		for (i = 0; i < 32; i++) {
			fds[i] = open(AZB_DEV, O_RDWR);
			ASSERT_LE(0, fds[i]);
		}
		for (i = 0; i < 32; i += 7) {
			small_req(&r, area);
			EXPECT_EQ(0, azb_submit(fds[i], &r));
		}
		for (i = 0; i < 32; i++)
			close(fds[i]);
	}
	/* A dup()ed fd and an fd inherited across fork work. */
	fd = dup(self->fd);
	ASSERT_LE(0, fd);
	small_req(&r, area);
	EXPECT_EQ(0, azb_submit(fd, &r));
	close(fd);
	munmap(area, 3 * PG);
}

TEST_F(abi, permissions)
{
	struct stat st;
	pid_t pid;
	int status;

	ASSERT_EQ(0, stat(AZB_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	AZB_EXPECT_NODE_MODE(st);
	if (geteuid() != 0)
		SKIP(return, "not root: cannot check the unprivileged open");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = open(AZB_DEV, O_RDWR);
		if (fd >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("an unprivileged user opened %s (or setuid failed)",
		       AZB_DEV);
}

TEST_HARNESS_MAIN
