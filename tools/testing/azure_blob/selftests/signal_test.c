// SPDX-License-Identifier: GPL-2.0
/*
 * Signals during a request: a fatal signal ends the wait at once while the
 * pages stay pinned until the host completes; an ordinary signal does not
 * abort the request.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "azblob_fixture.h"

AZB_FIXTURE(sig, true)

#define PG		AZB_PAGE
#define DATA_PAGES	16
/* data + request + response pages of one request */
#define REQ_PAGES	(DATA_PAGES + 2)

struct held_req {
	uint8_t *area;
	struct az_blob_request_sync r;
};

static int held_req_init(struct held_req *h, uint32_t tag)
{
	h->area = mmap(NULL, REQ_PAGES * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->area == MAP_FAILED)
		return -1;
	azb_fill(h->area + DATA_PAGES * PG, 500, tag);
	azb_req_init(&h->r, tag, h->area + DATA_PAGES * PG, 500,
		     h->area + (DATA_PAGES + 1) * PG, 516,
		     h->area, DATA_PAGES * PG, 0);
	return 0;
}

static bool pending_has(const char *word)
{
	char buf[4096];

	if (azb_read_text(AZB_DEBUGFS "/azure_blob/pending", buf, sizeof(buf)))
		return false;
	return strstr(buf, word);
}

TEST_F(sig, sigkill_while_held)
{
	long base = azb_pins_outstanding();
	struct held_req h;
	int status = 0;
	long took;
	pid_t pid;
	char why[160];

	ASSERT_NE(LONG_MIN, base) TH_LOG("no nr_foll_pin_* in /proc/vmstat");
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (held_req_init(&h, 1000))
			_exit(100);
		_exit(azb_submit(self->fd, &h.r) == 0 ? 0 : 101);
	}
	ASSERT_EQ(0, azb_wait_held(0, 1, 5000)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	EXPECT_LE(base + REQ_PAGES, azb_pins_outstanding());
	/* Not finished before the kill. */
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG));

	ASSERT_EQ(0, kill(pid, SIGKILL));
	took = azb_wait_child(pid, &status, 2000);
	ASSERT_LE(0, took) {
		TH_LOG("killed process did not exit within 2 s");
		azb_host(NULL, 0, "release 0");
		waitpid(pid, &status, 0);
	}
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGKILL, WTERMSIG(status));
	TH_LOG("killed process exited after %ld ms", took);

	/* The host still owns the pages: they stay pinned. */
	azb_sleep_ms(200);
	EXPECT_LE(base + REQ_PAGES, azb_pins_outstanding())
		TH_LOG("pages unpinned while the host still holds them");
	if (access(AZB_DEBUGFS "/azure_blob/pending", R_OK) == 0)
		EXPECT_TRUE(pending_has("abandoned"));

	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	EXPECT_EQ(0, azb_wait_pins(base, 5000))
		TH_LOG("outstanding pins %ld, before %ld",
		       azb_pins_outstanding(), base);
	EXPECT_EQ(base, azb_pins_outstanding());

	/* The device keeps working. */
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 none"));
	ASSERT_EQ(0, held_req_init(&h, 1001));
	ASSERT_EQ(0, azb_submit(self->fd, &h.r));
	ASSERT_EQ(0, azb_echo_verify(&h.r, NULL, why, sizeof(why)))
		TH_LOG("%s", why);
}

struct thread_req {
	pthread_t thread;
	int fd;
	int ret;
	volatile int done;
	struct held_req h;
};

static void *thread_req_fn(void *arg)
{
	struct thread_req *t = arg;

	t->ret = azb_submit(t->fd, &t->h.r);
	t->done = 1;
	return NULL;
}

TEST_F(sig, sigkill_multithreaded_process)
{
	long base = azb_pins_outstanding();
	int status = 0;
	long took;
	pid_t pid;

	ASSERT_NE(LONG_MIN, base);
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct thread_req t[4];
		int i;

		for (i = 0; i < 4; i++) {
			t[i].fd = self->fd;
			t[i].done = 0;
			if (held_req_init(&t[i].h, 1100 + i))
				_exit(100);
			if (pthread_create(&t[i].thread, NULL, thread_req_fn,
					   &t[i]))
				_exit(101);
		}
		for (i = 0; i < 4; i++)
			pthread_join(t[i].thread, NULL);
		_exit(102);
	}
	ASSERT_EQ(0, azb_wait_held(0, 4, 5000)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	EXPECT_LE(base + 4 * REQ_PAGES, azb_pins_outstanding());
	ASSERT_EQ(0, kill(pid, SIGKILL));
	took = azb_wait_child(pid, &status, 2000);
	ASSERT_LE(0, took) {
		azb_host(NULL, 0, "release 0");
		waitpid(pid, &status, 0);
	}
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_LE(base + 4 * REQ_PAGES, azb_pins_outstanding());
	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	EXPECT_EQ(0, azb_wait_pins(base, 5000));
	EXPECT_EQ(base, azb_pins_outstanding());
}

static volatile sig_atomic_t usr1_count;

static void usr1_handler(int sig)
{
	(void)sig;
	usr1_count++;
}

TEST_F(sig, sigusr1_does_not_abort)
{
	struct sigaction sa = { .sa_handler = usr1_handler };	/* no restart */
	struct azb_host_stats before, after;
	struct thread_req t = { .fd = self->fd };
	char why[160];
	int i;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, held_req_init(&t.h, 1200));
	ASSERT_EQ(0, azb_host_stats(0, &before));
	ASSERT_EQ(0, azb_host(NULL, 0, "fault 0 hold"));
	ASSERT_EQ(0, pthread_create(&t.thread, NULL, thread_req_fn, &t));
	ASSERT_EQ(0, azb_wait_held(0, 1, 5000));
	for (i = 0; i < 5; i++) {
		pthread_kill(t.thread, SIGUSR1);
		azb_sleep_ms(50);
	}
	azb_sleep_ms(200);
	EXPECT_EQ(0, t.done) TH_LOG("request ended by SIGUSR1: %s",
				    strerror(t.ret));
	ASSERT_EQ(0, azb_wait_held(0, 1, 1000));
	ASSERT_EQ(0, azb_host(NULL, 0, "release 0"));
	pthread_join(t.thread, NULL);
	ASSERT_EQ(0, t.ret) TH_LOG("ioctl: %s", strerror(t.ret));
	/* The handler ran (at the latest when the ioctl returned). */
	EXPECT_LE(1, usr1_count);
	ASSERT_EQ(0, azb_echo_verify(&t.h.r, NULL, why, sizeof(why)))
		TH_LOG("%s", why);
	/* Sent once: not restarted or resubmitted by the signals. */
	ASSERT_EQ(0, azb_host_stats(0, &after));
	EXPECT_EQ(before.requests + 1, after.requests);
}

TEST_HARNESS_MAIN
