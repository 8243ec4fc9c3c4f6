// SPDX-License-Identifier: GPL-2.0
/*
 * Races of io_uring commands with their own send: commands issued from
 * io-wq workers (IOSQE_ASYNC) while the ring to the host is full, rings
 * closed and processes killed while those workers wait for room or are
 * inside the send, the host completing a command before its send returns,
 * and the channel rescinded under it all. Each test repeats its race for
 * RACE_SECONDS (default 20) and checks that every command completed once,
 * that nothing stays in flight or pinned, and that the kernel said nothing.
 *
 * To reach the windows, the emulated host reads the ring slowly (`pace`)
 * and the emulated VMBus spins for a random while around every send
 * (debugfs vmbus_emu/send_delay_us). Meant for a guest with two or more
 * CPUs: the io-wq worker, the task that runs the completions and the
 * cancellation then really run side by side.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"
#include "azblob_uring.h"

/* Every race is one of io_uring commands: none where they are absent. */
AZB_FIXTURE_CHECKED(race, true, AZB_NEED_URING(self->fd))

#define RACE_TIMEOUT	300
/* Commands per round; half of them large, sharing one data buffer. */
#define ROUND		8
/* Data pages of a large command: three fill the 128 KiB ring. */
#define BIG_PAGES	6000
#define SMALL_PAGES	2

/*
 * The large commands' data buffer: one shared mapping that every large
 * command of every round and process points into (a buffer may be in
 * several requests at once), so the ring fills without much memory.
 */
static uint8_t *big_data;

/* The buffers of one command, reused from round to round. */
struct cmd_buf {
	uint8_t *area;
	struct az_blob_request_sync r;
};

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static long race_ms(void)
{
	const char *s = getenv("RACE_SECONDS");
	long v = s ? strtol(s, NULL, 10) : 20;

	return (v > 0 ? v : 20) * 1000;
}

static int set_send_delay(unsigned int us)
{
	char text[16];

	snprintf(text, sizeof(text), "%u\n", us);
	return azb_write_text(AZB_SEND_DELAY, text);
}

/*
 * A command with @data_pages pages of data: its own request and response
 * pages, the data in big_data for a large one.
 */
static int buf_init(struct cmd_buf *b, uint32_t tag, size_t data_pages)
{
	uint8_t *data = NULL;

	b->area = mmap(NULL, 3 * AZB_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->area == MAP_FAILED)
		return -1;
	memset(b->area, 0, 3 * AZB_PAGE);
	azb_fill(b->area, 200, tag);
	if (data_pages > SMALL_PAGES)
		data = big_data;
	else if (data_pages)
		data = b->area + AZB_PAGE + 512;
	azb_req_init(&b->r, tag, b->area, 200, b->area + AZB_PAGE, 216,
		     data, data_pages * (data == big_data ? AZB_PAGE : 700), 0);
	return 0;
}

static void buf_free(struct cmd_buf *b)
{
	if (b->area && b->area != MAP_FAILED)
		munmap(b->area, 3 * AZB_PAGE);
	b->area = NULL;
}

static int bufs_init(struct cmd_buf *bufs, unsigned int n, uint32_t tag,
		     size_t big_pages)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (buf_init(&bufs[i], tag + i, i % 2 ? SMALL_PAGES : big_pages))
			return -1;
	return 0;
}

static void bufs_free(struct cmd_buf *bufs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		buf_free(&bufs[i]);
}

/* Queue @n commands (user_data from @first) with @sqe_flags; submit. */
static int submit_round(struct io_uring *ring, int fd, struct cmd_buf *bufs,
			unsigned int n, unsigned int first, uint8_t sqe_flags)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (azb_ring_prep_flags(ring, fd, AZ_BLOB_URING_CMD_REQUEST,
					&bufs[i].r, 0, first + i, sqe_flags))
			return -1;
	return io_uring_submit(ring) == (int)n ? 0 : -1;
}

/*
 * Wait until the device is idle and the pins are back to @base. Returns 0,
 * or -1 after @ms with what is left in @why.
 */
static int wait_idle(long base, long ms, char *why, size_t len)
{
	uint64_t in_flight = 1, pinned = 1;
	long end = azb_now_ms() + ms, left = 1;

	do {
		azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);
		azb_read_u64(AZB_SYSFS "/pinned_pages", &pinned);
		left = azb_pins_outstanding() - base;
		if (!in_flight && !pinned && !left)
			return 0;
		azb_sleep_ms(20);
	} while (azb_now_ms() < end);
	snprintf(why, len, "in_flight %llu pinned_pages %llu pins left %ld",
		 (unsigned long long)in_flight, (unsigned long long)pinned,
		 left);
	return -1;
}

static uint64_t sysfs_u64(const char *name)
{
	char path[128];
	uint64_t v = 0;

	snprintf(path, sizeof(path), AZB_SYSFS "/%s", name);
	azb_read_u64(path, &v);
	return v;
}

/*
 * Reap the completions a round has posted, up to @want. A command that
 * ends as its ring goes or its device is rescinded may end with an error;
 * anything else is counted in @bad. Returns the completions seen.
 */
static unsigned int reap_all(struct io_uring *ring, unsigned int want,
			     unsigned int *bad)
{
	unsigned int seen = 0;
	struct azb_cqe c;

	while (seen < want && !azb_ring_reap(ring, &c, 0)) {
		seen++;
		if (c.res && c.res != -ECANCELED && c.res != -EINTR &&
		    c.res != -ENODEV)
			(*bad)++;
	}
	return seen;
}

/* The host reads one packet per @pace us; sends spin up to @delay us. */
static int window_open(unsigned int pace, unsigned int delay)
{
	if (access(AZB_SEND_DELAY, W_OK))
		return -ENOENT;
	if (!big_data) {
		big_data = mmap(NULL, 4 * BIG_PAGES * AZB_PAGE,
				PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (big_data == MAP_FAILED) {
			big_data = NULL;
			return -ENOMEM;
		}
		memset(big_data, 0, 4 * BIG_PAGES * AZB_PAGE);
	}
	if (azb_host(NULL, 0, "pace 0 %u", pace) || set_send_delay(delay))
		return -EIO;
	return 0;
}

static void window_close(struct __test_metadata *_metadata, long base)
{
	char why[128];

	EXPECT_EQ(0, set_send_delay(0));
	EXPECT_EQ(0, azb_host(NULL, 0, "pace 0 0"));
	EXPECT_EQ(0, wait_idle(base, 15000, why, sizeof(why)))
		TH_LOG("after the races: %s", why);
}

#define RACE_SETUP(pace, delay)						\
	do {								\
		int _ret = window_open(pace, delay);			\
									\
		if (_ret == -ENOENT)					\
			SKIP(return, "%s absent: no emulated VMBus",	\
			     AZB_SEND_DELAY);				\
		ASSERT_EQ(0, _ret);					\
		if (sysconf(_SC_NPROCESSORS_ONLN) < 2)			\
			TH_LOG("one CPU: the races are reached less often"); \
	} while (0)

/*
 * Close the ring while its io-wq workers wait for room in the full ring or
 * are inside the send; the task lives on. io_uring then cancels beside the
 * live workers, over and over until they are done.
 */
TEST_F_TIMEOUT(race, ring_close_in_send_window, RACE_TIMEOUT)
{
	long base = azb_pins_outstanding(), end = azb_now_ms() + race_ms();
	unsigned int rounds = 0, bad = 0, seen = 0, submitted = 0;
	uint64_t waits = sysfs_u64("ring_full_waits");
	struct cmd_buf bufs[ROUND] = { };
	uint32_t seed = 0x1234567;
	struct io_uring ring;
	char why[128];

	ASSERT_NE(LONG_MIN, base);
	RACE_SETUP(150, 300);
	ASSERT_EQ(0, bufs_init(bufs, ROUND, 7000, BIG_PAGES));
	while (azb_now_ms() < end) {
		ASSERT_EQ(0, azb_ring_init(&ring, 2 * ROUND, AZB_RING_FLAGS));
		ASSERT_EQ(0, submit_round(&ring, self->fd, bufs, ROUND, 0,
					  IOSQE_ASYNC));
		submitted += ROUND;
		/* From at once to well after the ring filled up. */
		usleep(rnd(&seed) % 3000);
		seen += reap_all(&ring, ROUND, &bad);
		io_uring_queue_exit(&ring);
		rounds++;
		if (rounds % 32 == 0)
			ASSERT_EQ(0, wait_idle(base, 15000, why, sizeof(why)))
				TH_LOG("round %u: %s", rounds, why);
	}
	window_close(_metadata, base);
	bufs_free(bufs, ROUND);
	TH_LOG("%u rounds, %u commands, %u completions before the close, %u bad; ring-full waits %llu",
	       rounds, submitted, seen, bad,
	       (unsigned long long)(sysfs_u64("ring_full_waits") - waits));
	EXPECT_EQ(0, bad);
	EXPECT_LT(waits, sysfs_u64("ring_full_waits"))
		TH_LOG("the ring never filled up");
}

/*
 * Kill a process while its io-wq workers wait for room or send: its exit
 * cancels its commands and stops its workers.
 */
TEST_F_TIMEOUT(race, kill_in_send_window, RACE_TIMEOUT)
{
	long base = azb_pins_outstanding(), end = azb_now_ms() + race_ms();
	unsigned int rounds = 0, stuck = 0, early = 0;
	uint32_t seed = 0x89abcdef;
	int status = 0;

	ASSERT_NE(LONG_MIN, base);
	RACE_SETUP(150, 300);
	while (azb_now_ms() < end) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct cmd_buf bufs[ROUND] = { };
			struct io_uring ring;

			if (bufs_init(bufs, ROUND, 7100, BIG_PAGES) ||
			    azb_ring_init(&ring, 2 * ROUND, AZB_RING_FLAGS) ||
			    submit_round(&ring, self->fd, bufs, ROUND, 0,
					 IOSQE_ASYNC))
				_exit(100);
			pause();
			_exit(101);
		}
		usleep(rnd(&seed) % 4000);
		kill(pid, SIGKILL);
		if (azb_wait_child(pid, &status, 10000) < 0) {
			stuck++;
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		}
		if (!WIFSIGNALED(status))
			early++;
		rounds++;
	}
	window_close(_metadata, base);
	TH_LOG("%u processes killed with %u commands each; %u slow to die, %u exited early",
	       rounds, ROUND, stuck, early);
	EXPECT_EQ(0, stuck);
	EXPECT_EQ(0, early);
}

/*
 * The host completes at once while the io-wq worker is still inside the
 * send, and the submitting task, on the other CPU, runs the completion:
 * every command completes once, byte-exact.
 */
TEST_F_TIMEOUT(race, completion_in_send_window, RACE_TIMEOUT)
{
	long base = azb_pins_outstanding(), end = azb_now_ms() + race_ms();
	unsigned int rounds = 0, done = 0, bad = 0, i;
	struct cmd_buf bufs[ROUND] = { };
	struct io_uring ring;
	struct azb_cqe c;
	char why[160];

	ASSERT_NE(LONG_MIN, base);
	RACE_SETUP(0, 400);
	ASSERT_EQ(0, bufs_init(bufs, ROUND, 8000, SMALL_PAGES));
	ASSERT_EQ(0, azb_ring_init(&ring, 2 * ROUND, AZB_RING_FLAGS));
	while (azb_now_ms() < end) {
		ASSERT_EQ(0, submit_round(&ring, self->fd, bufs, ROUND, 0,
					  IOSQE_ASYNC));
		for (i = 0; i < ROUND; i++) {
			ASSERT_EQ(0, azb_ring_reap(&ring, &c, 10000));
			ASSERT_GT(ROUND, c.user_data);
			azb_cqe_to_response(&c, &bufs[c.user_data].r);
			if ((c.res || azb_echo_verify(&bufs[c.user_data].r,
						      NULL, why, sizeof(why))) &&
			    !bad++)
				TH_LOG("command %llu: res %d %s",
				       (unsigned long long)c.user_data, c.res,
				       c.res ? "" : why);
			done++;
		}
		/* Nothing more arrives: each command completed once. */
		EXPECT_EQ(-ETIME, azb_ring_reap(&ring, &c, 0));
		rounds++;
	}
	io_uring_queue_exit(&ring);
	window_close(_metadata, base);
	bufs_free(bufs, ROUND);
	TH_LOG("%u commands in %u rounds, %u bad", done, rounds, bad);
	EXPECT_EQ(0, bad);
}

/* Wait up to @ms for ring_full_waits to reach @want; returns its value. */
static uint64_t wait_ring_waits(uint64_t want, long ms)
{
	long end = azb_now_ms() + ms;
	uint64_t v;

	while ((v = sysfs_u64("ring_full_waits")) < want && azb_now_ms() < end)
		azb_sleep_ms(10);
	return v;
}

/*
 * With the ring full, a large request waiting for room is not overtaken by
 * the small ones that come after it. The host takes the first large
 * request at once and then reads nothing (a pace of one packet a minute)
 * until every command is in line: the next two large ones fill the ring,
 * the fourth waits in an io-wq worker, and only then come the small ones,
 * which would fit. A slow kernel (KASAN under TCG pins 7000 pages slowly)
 * thus cannot let the host drain the ring before the line forms. Each
 * command in line holds an io-wq worker; the task's io-wq was sized by the
 * first ring it used (the four entries of the support probe), so the test
 * sets the bound workers to one per command.
 */
TEST_F_TIMEOUT(race, ring_full_in_order, RACE_TIMEOUT)
{
	enum { BIGS = 4, SMALLS = 6, N = BIGS + SMALLS };
	unsigned int workers[2] = { N, 0 };	/* bound, unbound (unchanged) */
	uint64_t waits = sysfs_u64("ring_full_waits"), big_in_line, in_line;
	long base = azb_pins_outstanding();
	unsigned int i, pos = 0, big_pos = 0;
	struct cmd_buf bufs[N] = { };
	struct io_uring ring;
	struct azb_cqe c;

	ASSERT_NE(LONG_MIN, base);
	RACE_SETUP(60 * 1000 * 1000, 0);
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, buf_init(&bufs[i], 9000 + i,
				      i < BIGS ? BIG_PAGES + 1000 : SMALL_PAGES));
	ASSERT_EQ(0, azb_ring_init(&ring, 2 * N, AZB_RING_FLAGS));
	ASSERT_LE(0, io_uring_register_iowq_max_workers(&ring, workers));
	ASSERT_EQ(0, submit_round(&ring, self->fd, bufs, BIGS, 0, 0));
	big_in_line = wait_ring_waits(waits + 1, 30000) - waits;
	ASSERT_EQ(0, submit_round(&ring, self->fd, bufs + BIGS, SMALLS, BIGS,
				  0));
	in_line = wait_ring_waits(waits + 1 + SMALLS, 30000) - waits;
	ASSERT_EQ(0, azb_host(NULL, 0, "pace 0 0"));
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, azb_ring_reap(&ring, &c, 30000));
		EXPECT_EQ(0, c.res);
		pos++;
		if (c.user_data == BIGS - 1)
			big_pos = pos;
	}
	io_uring_queue_exit(&ring);
	window_close(_metadata, base);
	bufs_free(bufs, N);
	TH_LOG("the large request that waited completed as number %u of %u; in line for room while the host read nothing: %llu before the small ones, %llu after",
	       big_pos, N, (unsigned long long)big_in_line,
	       (unsigned long long)in_line);
	EXPECT_EQ(1, big_in_line);
	EXPECT_EQ(1 + SMALLS, in_line);
	EXPECT_EQ(BIGS, big_pos);
}

/*
 * The host rescinds the channel while io-wq workers send into the full
 * ring and the ring is then closed: the commands end once each (completed,
 * -ENODEV or -ECANCELED) and the device comes back.
 */
TEST_F_TIMEOUT(race, rescind_in_send_window, RACE_TIMEOUT)
{
	long base = azb_pins_outstanding(), end = azb_now_ms() + race_ms() / 2;
	unsigned int rounds = 0, bad = 0, seen = 0;
	struct cmd_buf bufs[ROUND] = { };
	uint32_t seed = 0x2468ace;
	struct io_uring ring;
	int fd;

	ASSERT_NE(LONG_MIN, base);
	RACE_SETUP(150, 300);
	ASSERT_EQ(0, bufs_init(bufs, ROUND, 7200, BIG_PAGES));
	while (azb_now_ms() < end) {
		fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, azb_ring_init(&ring, 2 * ROUND, AZB_RING_FLAGS));
		ASSERT_EQ(0, submit_round(&ring, fd, bufs, ROUND, 0,
					  IOSQE_ASYNC));
		usleep(rnd(&seed) % 2000);
		ASSERT_EQ(0, azb_host(NULL, 0, "rescind 0"));
		seen += reap_all(&ring, ROUND, &bad);
		io_uring_queue_exit(&ring);
		close(fd);
		ASSERT_EQ(0, azb_host(NULL, 0, "offer 0"));
		ASSERT_EQ(0, azb_wait_path(AZB_DEV, true, 5000));
		rounds++;
	}
	window_close(_metadata, base);
	bufs_free(bufs, ROUND);
	TH_LOG("%u rescinds, %u completions seen, %u bad", rounds, seen, bad);
	EXPECT_EQ(0, bad);
}

TEST_HARNESS_MAIN
