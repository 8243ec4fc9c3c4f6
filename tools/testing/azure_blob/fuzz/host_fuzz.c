// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side fuzzing of the driver: the VSP's "fuzz" fault makes up packets
 * around every completion (random types, ids, lengths, statuses, bogus
 * len8/offset8, duplicates) while this program keeps sync ioctls and
 * io_uring commands in flight and, now and then, the host rescinds and
 * re-offers the device (rescind storms). A request the host's lies leave
 * without a completion ends with the next rescind. Afterwards the fault is
 * cleared, the device offered again, and it must work byte-exact with the
 * pin counters matching. Then the host pushes ring indices out of range
 * (the VSP's `ring` command): requests must fail with EIO while the
 * outbound ring's indices are bad, nothing may complete (and the channel's
 * tasklet may not spin) while the inbound write index is bad, and after
 * the host restores the index (or rescinds) every request ends exactly
 * once. Prints TAP.
 *
 *   host_fuzz [--seed N] [--seconds N]
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "azblob_lib.h"
#include "azblob_uring.h"

#define PG		AZB_PAGE
#define SYNC_THREADS	3
#define DEPTH		16
/*
 * Tasklet runs allowed while the inbound write index is bad for 400 ms:
 * the host's interrupts then are a handful; a channel whose tasklet is
 * rescheduled for as long as the index stands runs it every 2 jiffies.
 */
#define RING_MAX_TASKLETS	10
/*
 * What the VMBus core (and vmbus_emu, its stand-in) says, ratelimited,
 * when it finds the inbound write index past the end of the ring; at most
 * the burst of the default ratelimit per case.
 */
#define RING_IN_MSG		"inbound ring write index out of range"
#define RING_MAX_SAID		10

static volatile int stop;

struct tstats {
	unsigned long done, ok, err[160], bad;
	char first_bad[160];
};

static void note(struct tstats *t, int err, bool uring, uint32_t resp_len,
		 uint32_t cap)
{
	t->done++;
	if (!err) {
		t->ok++;
		if (resp_len > cap && !t->bad++)
			snprintf(t->first_bad, sizeof(t->first_bad),
				 "response_len %u > %u", resp_len, cap);
		return;
	}
	if (err > 0 && err < 160)
		t->err[err]++;
	switch (err) {
	case EPROTO: case ENODEV: case EIO: case ENOMEM:
		return;
	case ECANCELED:
		if (uring)
			return;
		break;
	default:
		break;
	}
	if (!t->bad++)
		snprintf(t->first_bad, sizeof(t->first_bad), "%s error %d (%s)",
			 uring ? "io_uring" : "ioctl", err, strerror(err));
}

/* A fresh fd once the device is back; -1 when stopping. */
static int reopen(int fd)
{
	if (fd >= 0)
		close(fd);
	while (!stop) {
		fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		azb_sleep_ms(20);
	}
	return -1;
}

struct worker {
	pthread_t thread;
	uint32_t seed;
	struct tstats st;
};

static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void make_req(struct az_blob_request_sync *r, uint8_t *area,
		     uint32_t *seed)
{
	uint32_t req_len = 1 + xs(seed) % 3000;
	uint32_t data_len = xs(seed) % 3 ? xs(seed) % (6 * PG) : 0;

	azb_fill(area, req_len, *seed);
	azb_req_init(r, *seed, area, req_len, area + PG, PG, area + 2 * PG,
		     data_len, data_len && xs(seed) % 2 ? data_len : 0);
}

static void *sync_fn(void *arg)
{
	struct worker *w = arg;
	struct az_blob_request_sync r;
	uint8_t *area = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = reopen(-1), ret;

	while (!stop && fd >= 0) {
		make_req(&r, area, &w->seed);
		ret = azb_submit(fd, &r);
		note(&w->st, ret, false, r.response.response_len, PG);
		if (ret == ENODEV)
			fd = reopen(fd);
	}
	if (fd >= 0)
		close(fd);
	munmap(area, 8 * PG);
	return NULL;
}

static void *uring_fn(void *arg)
{
	struct worker *w = arg;
	struct az_blob_request_sync r[DEPTH];
	uint8_t *area = mmap(NULL, DEPTH * 8 * PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct io_uring ring;
	struct azb_cqe c;
	int fd = reopen(-1), i, inflight = 0;
	bool nodev = false;

	memset(r, 0, sizeof(r));
	if (azb_ring_init(&ring, DEPTH, AZB_RING_FLAGS))
		return NULL;
	while (fd >= 0) {
		/* top up unless stopping or the device went away */
		while (!stop && !nodev && inflight < DEPTH) {
			for (i = 0; i < DEPTH; i++)
				if (!r[i].guid[15])
					break;
			make_req(&r[i], area + i * 8 * PG, &w->seed);
			r[i].guid[15] = 1;	/* slot in use */
			azb_ring_prep_req(&ring, fd, &r[i], i);
			inflight++;
		}
		azb_ring_submit(&ring);
		if (!inflight) {
			if (stop)
				break;
			fd = reopen(fd);
			nodev = false;
			continue;
		}
		/* a command the host never completes ends with a rescind */
		if (azb_ring_reap(&ring, &c, 1000))
			continue;
		inflight--;
		r[c.user_data].guid[15] = 0;
		note(&w->st, -c.res, true,
		     AZ_BLOB_URING_RESPONSE_LEN(c.big0), PG);
		if (c.res == -ENODEV)
			nodev = true;
	}
	io_uring_queue_exit(&ring);
	if (fd >= 0)
		close(fd);
	munmap(area, DEPTH * 8 * PG);
	return NULL;
}

static int cycle(void)
{
	int ret;

	ret = azb_host(NULL, 0, "rescind 0");
	if (!ret)
		ret = azb_wait_path(AZB_DEV, false, 5000);
	if (!ret)
		ret = azb_host(NULL, 0, "offer 0");
	if (!ret)
		ret = azb_wait_path(AZB_DEV, true, 5000);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Ring indices pushed out of range */

struct ring_ctx {
	uint8_t *area;		/* 8 pages per request */
	struct az_blob_request_sync r[5];
	unsigned long lies;
};

static void ring_req(struct ring_ctx *x, int i, uint32_t tag)
{
	uint8_t *a = x->area + i * 8 * PG;

	azb_fill(a, 700 + i, tag);
	azb_req_init(&x->r[i], tag, a, 700 + i, a + PG, PG, a + 2 * PG,
		     3 * PG, 0);
}

/* A sync request and an io_uring command; both must end with EIO. */
static int ring_send_fails(struct ring_ctx *x, int fd, struct io_uring *ring,
			   char *why, size_t len)
{
	struct azb_cqe c;
	int ret;

	ring_req(x, 0, 11);
	ret = azb_submit(fd, &x->r[0]);
	if (ret != EIO) {
		snprintf(why, len, "ioctl gave %d, want EIO", ret);
		return -1;
	}
	ring_req(x, 1, 12);
	azb_ring_prep_req(ring, fd, &x->r[1], 1);
	azb_ring_submit(ring);
	ret = azb_ring_reap(ring, &c, 5000);
	if (ret || c.res != -EIO) {
		snprintf(why, len, "io_uring gave %d/%d, want -EIO", ret,
			 c.res);
		return -1;
	}
	return 0;
}

static int ring_echo_ok(struct ring_ctx *x, int fd, char *why, size_t len)
{
	int ret;

	ring_req(x, 0, 13);
	ret = azb_submit(fd, &x->r[0]);
	if (ret) {
		snprintf(why, len, "request after restore: %s",
			 strerror(ret));
		return -1;
	}
	return azb_echo_verify(&x->r[0], NULL, why, len);
}

/*
 * The host's read index of the outbound ring, or the guest's own write
 * index there, past the end: the VMBus core refuses to write, so requests
 * fail with EIO before the host owns them; once the host puts the index
 * back the device works again.
 */
static bool ring_out_case(struct ring_ctx *x, int fd, struct io_uring *ring,
			  const char *which, const uint32_t *vals, int nvals,
			  char *why, size_t len)
{
	char reply[128];
	int i, ret;

	for (i = 0; i < nvals; i++) {
		ret = azb_host(reply, sizeof(reply), "ring 0 %s %u", which,
			       vals[i]);
		if (ret) {
			snprintf(why, len, "ring 0 %s %u: %d", which, vals[i],
				 ret);
			return false;
		}
		x->lies++;
		ret = ring_send_fails(x, fd, ring, why, len);
		if (azb_host(NULL, 0, "ring 0 restore") && !ret) {
			snprintf(why, len, "restore failed");
			ret = -1;
		}
		if (ret || ring_echo_ok(x, fd, why, len))
			return false;
	}
	snprintf(why, len, "%d values, EIO each time, works after restore",
		 nvals);
	return true;
}

struct sync_arg {
	int fd;
	struct az_blob_request_sync *r;
	int ret;
	volatile int done;
};

/* The kernel log from now on: /dev/kmsg, positioned at its end. */
static int kmsg_open_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Count the records logged since kmsg_open_end() that contain @str. */
static int kmsg_count(int fd, const char *str)
{
	char rec[2048];
	ssize_t r;
	int n = 0;

	for (;;) {
		r = read(fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue;	/* records overwritten: go on */
		if (r <= 0)
			return n;
		rec[r] = '\0';
		n += !!strstr(rec, str);
	}
}

/*
 * Runs of the TASKLET softirq so far, summed over the CPUs (the VMBus
 * channel callbacks run in tasklets); -1 if /proc/softirqs has none.
 */
static long tasklet_runs(void)
{
	FILE *f = fopen("/proc/softirqs", "r");
	char line[4096], *p, *end;
	long sum = -1, v;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, "TASKLET:", 8))
			continue;
		sum = 0;
		for (p += 8;; p = end) {
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			sum += v;
		}
		break;
	}
	fclose(f);
	return sum;
}

static void *sync_one(void *p)
{
	struct sync_arg *a = p;

	a->ret = azb_submit(a->fd, a->r);
	a->done = 1;
	return NULL;
}

/*
 * The host's write index of the inbound ring past the end, with four
 * io_uring commands and one ioctl in flight. The driver must read nothing
 * (a stale completion in the ring could otherwise free pages the host
 * owns): nothing completes while the lie stands. Then the host either puts
 * the index back, and every request completes byte-exact, or rescinds,
 * and every request ends with ENODEV. The VMBus core says that the index
 * is bad (its ratelimited message, once to RING_MAX_SAID times), and it
 * must not spin on the bad index: the channel's tasklet runs only when
 * the host interrupts, not again and again while the index stands (a
 * spinning channel runs it every few milliseconds).
 */
static bool ring_in_case(struct ring_ctx *x, struct io_uring *ring,
			 uint32_t val, bool rescind, char *why, size_t len)
{
	struct sync_arg sa = { 0 };
	uint64_t in_flight = 0;
	struct azb_cqe c;
	pthread_t th;
	bool ok = false, lost = false;
	long t0, slept, tasklets0, tasklets;
	int fd, kfd, i, ret, early = 0, good = 0, said;

	fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "open: %s", strerror(errno));
		return false;
	}
	kfd = kmsg_open_end();
	if (kfd < 0) {
		snprintf(why, len, "/dev/kmsg: %s", strerror(errno));
		close(fd);
		return false;
	}
	ret = azb_host(NULL, 0, "ring 0 in_write %u", val);
	if (ret) {
		snprintf(why, len, "ring 0 in_write %u: %d", val, ret);
		close(kfd);
		close(fd);
		return false;
	}
	x->lies++;
	tasklets0 = tasklet_runs();
	for (i = 0; i < 4; i++) {
		ring_req(x, i, 20 + i);
		azb_ring_prep_req(ring, fd, &x->r[i], i);
	}
	azb_ring_submit(ring);
	ring_req(x, 4, 24);
	sa.fd = fd;
	sa.r = &x->r[4];
	pthread_create(&th, NULL, sync_one, &sa);

	/* The host has them all and has completed them; the guest waits. */
	t0 = azb_now_ms();
	while (azb_now_ms() - t0 < 400) {
		if (!azb_ring_reap(ring, &c, 20))
			early++;
	}
	slept = azb_now_ms() - t0;
	tasklets = tasklet_runs() - tasklets0;
	azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);
	if (early || sa.done || in_flight != 5) {
		snprintf(why, len,
			 "while the index was out of range: %d commands and %d ioctls completed, in_flight %" PRIu64,
			 early, sa.done, in_flight);
		azb_host(NULL, 0, "ring 0 restore");
		goto out;
	}
	if (tasklets0 < 0 || tasklets > RING_MAX_TASKLETS) {
		snprintf(why, len,
			 "while the index was out of range: %ld tasklet runs in %ld ms, want at most %d (/proc/softirqs %s)",
			 tasklets, slept, RING_MAX_TASKLETS,
			 tasklets0 < 0 ? "has no TASKLET line" : "read");
		azb_host(NULL, 0, "ring 0 restore");
		goto out;
	}

	if (rescind) {
		ret = azb_host(NULL, 0, "rescind 0");
		if (!ret)
			ret = azb_wait_path(AZB_DEV, false, 5000);
	} else {
		ret = azb_host(NULL, 0, "ring 0 restore");
	}
	if (ret) {
		snprintf(why, len, "%s failed: %d", rescind ? "rescind" :
			 "restore", ret);
		goto out;
	}
	for (i = 0; i < 4; i++) {
		if (azb_ring_reap(ring, &c, 10000))
			break;
		if (rescind) {
			good += c.res == -ENODEV;
			continue;
		}
		if (c.res || c.user_data >= 4)
			continue;
		azb_cqe_to_response(&c, &x->r[c.user_data]);
		good += !azb_echo_verify(&x->r[c.user_data], NULL, why, len);
	}
	/* A request the guest lost would hang the ioctl: end it for good. */
	for (t0 = azb_now_ms(); !sa.done && azb_now_ms() - t0 < 10000;)
		azb_sleep_ms(10);
	if (!sa.done && !rescind) {
		rescind = true;
		lost = true;
		if (!azb_host(NULL, 0, "rescind 0"))
			azb_wait_path(AZB_DEV, false, 5000);
	}
	pthread_join(th, NULL);
	if (lost)
		good = -1;
	else if (rescind)
		good += sa.ret == ENODEV;
	else
		good += !sa.ret && !azb_echo_verify(&x->r[4], NULL, why, len);
	ok = good == 5;
	said = kmsg_count(kfd, RING_IN_MSG);
	close(kfd);
	if (ok && (said < 1 || said > RING_MAX_SAID)) {
		ok = false;
		snprintf(why, len,
			 "index %u: the guest said %d times \"" RING_IN_MSG "\", want 1 to %d",
			 val, said, RING_MAX_SAID);
	} else if (ok) {
		snprintf(why, len,
			 "index %u: nothing completed in %ld ms (%ld tasklet runs, said so %d times), then 5 of 5 %s",
			 val, slept, tasklets, said,
			 rescind ? "ENODEV after rescind" :
			 "byte-exact after restore");
	} else if (lost) {
		snprintf(why, len,
			 "index %u: the ioctl never completed after restore (lost; ended by a rescind)",
			 val);
	} else {
		snprintf(why, len, "index %u: %d of 5 %s (ioctl %d)", val,
			 good, rescind ? "ENODEV" : "byte-exact", sa.ret);
	}
	close(fd);
	if (rescind) {
		if (azb_host(NULL, 0, "offer 0") ||
		    azb_wait_path(AZB_DEV, true, 5000)) {
			snprintf(why, len, "no device after the re-offer");
			ok = false;
		}
	}
	return ok;
out:
	/* Reap what is left, so that the next case starts with an empty ring. */
	for (i = early; i < 4; i++)
		if (azb_ring_reap(ring, &c, 5000))
			break;
	pthread_join(th, NULL);
	close(kfd);
	close(fd);
	return false;
}

static void ring_phase(uint64_t seed, long base)
{
	struct ring_ctx x = { 0 };
	struct io_uring ring;
	char reply[128], why[200] = "";
	uint32_t size = 0, out_vals[5], in_vals[3], rnd = (uint32_t)seed | 1;
	uint64_t in_flight = 1;
	int fd, i;
	bool ok;

	x.area = mmap(NULL, 5 * 8 * PG, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
	if (x.area == MAP_FAILED || fd < 0 ||
	    azb_ring_init(&ring, 8, AZB_RING_FLAGS)) {
		printf("Bail out! ring phase setup\n");
		exit(1);
	}
	/* The ring's size from the host's answer to a first lie. */
	if (!azb_host(reply, sizeof(reply), "ring 0 out_read 4294967295")) {
		const char *p = strstr(reply, "size=");

		x.lies++;
		if (!p || sscanf(p, "size=%u", &size) != 1)
			size = 0;
	}
	azb_host(NULL, 0, "ring 0 restore");
	if (!size) {
		printf("Bail out! the VSP has no ring command (%s)\n", reply);
		exit(1);
	}
	/* Just past the end, one packet past it, and seeded values beyond. */
	out_vals[0] = size;
	out_vals[1] = size + 8;
	out_vals[2] = 0xffffffff;
	for (i = 3; i < 5; i++)
		out_vals[i] = size + xs(&rnd) % (0xffffffffu - size);
	in_vals[0] = size;
	in_vals[1] = size + xs(&rnd) % (0xffffffffu - size);
	in_vals[2] = 0xfffffff8;
	printf("# ring: size %u, values %u %u %u %u %u\n", size, out_vals[0],
	       out_vals[1], out_vals[2], out_vals[3], out_vals[4]);

	ok = ring_out_case(&x, fd, &ring, "out_read", out_vals, 5, why,
			   sizeof(why));
	azb_tap(ok, "ring_out_read_index", "%s", why);
	ok = ring_out_case(&x, fd, &ring, "out_write", out_vals, 5, why,
			   sizeof(why));
	azb_tap(ok, "ring_out_write_index", "%s", why);
	close(fd);

	ok = ring_in_case(&x, &ring, in_vals[0], false, why, sizeof(why)) &&
	     ring_in_case(&x, &ring, in_vals[1], false, why, sizeof(why));
	azb_tap(ok, "ring_in_write_index_restored", "%s", why);
	ok = ring_in_case(&x, &ring, in_vals[2], true, why, sizeof(why));
	azb_tap(ok, "ring_in_write_index_rescinded", "%s", why);

	/* Afterwards: the device works, nothing pinned, nothing in flight. */
	fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
	ok = fd >= 0 && !ring_echo_ok(&x, fd, why, sizeof(why));
	azb_wait_pins(base, 5000);
	azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);
	azb_tap(ok && azb_pins_outstanding() == base && !in_flight,
	    "ring_device_works_pins_match",
	    "%lu lies; %s pins %ld base %ld in_flight %" PRIu64, x.lies,
	    ok ? "echo ok," : why, azb_pins_outstanding(), base, in_flight);
	if (fd >= 0)
		close(fd);
	io_uring_queue_exit(&ring);
	munmap(x.area, 5 * 8 * PG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ }
	};
	struct worker w[SYNC_THREADS + 1];
	unsigned long seconds = 40, e, cycles = 0, cycle_bad = 0, joined;
	struct tstats tot = { 0 };
	uint64_t seed = 1, in_flight = 1;
	char reply[256] = "", why[160] = "", line[600];
	long base, t0, next_storm;
	int i, c, n, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [--seed N] [--seconds N]\n",
				argv[0]);
			return 2;
		}
	}
	printf("TAP version 13\n1..9\n# host_fuzz: seed %" PRIu64
	       " seconds %lu\n", seed, seconds);
	fflush(stdout);
	if (azb_rig_clean()) {
		printf("Bail out! rig not clean\n");
		return 1;
	}
	base = azb_pins_outstanding();
	ret = azb_host(reply, sizeof(reply), "fault 0 fuzz %" PRIu64,
		       seed & 0xffffffffu);
	if (ret) {
		printf("Bail out! the VSP has no fuzz fault (%d)\n", ret);
		return 1;
	}
	for (i = 0; i <= SYNC_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].seed = (uint32_t)seed * 2654435761u + i + 1;
		pthread_create(&w[i].thread, NULL,
			       i < SYNC_THREADS ? sync_fn : uring_fn, &w[i]);
	}
	t0 = azb_now_ms();
	next_storm = t0 + 2000;
	while (azb_now_ms() - t0 < (long)seconds * 1000) {
		azb_sleep_ms(100);
		if (azb_now_ms() < next_storm)
			continue;
		/* a storm: 1 to 3 rescind/offer cycles back to back */
		n = 1 + (int)((seed + cycles) % 3);
		for (i = 0; i < n; i++) {
			cycles++;
			if (cycle())
				cycle_bad++;
		}
		next_storm = azb_now_ms() + 3000 + (long)((seed >> 3) % 3000);
	}
	azb_host(reply, sizeof(reply), "stats 0");
	printf("# host: %s\n", reply);
	/* Stop: clear the fault, end what the lies left hanging. */
	printf("# traffic ends after %lu rescind/offer cycles\n", cycles);
	fflush(stdout);
	stop = 1;
	azb_host(NULL, 0, "fault 0 none");
	if (cycle())
		cycle_bad++;
	cycles++;
	printf("# the last cycle is done; joining the traffic threads\n");
	fflush(stdout);
	for (i = 0, joined = 0; i <= SYNC_THREADS; i++) {
		if (!pthread_join(w[i].thread, NULL))
			joined++;
		tot.done += w[i].st.done;
		tot.ok += w[i].st.ok;
		tot.bad += w[i].st.bad;
		for (e = 0; e < 160; e++)
			tot.err[e] += w[i].st.err[e];
		if (w[i].st.bad && !tot.first_bad[0])
			memcpy(tot.first_bad, w[i].st.first_bad,
			       sizeof(tot.first_bad));
	}
	n = snprintf(line, sizeof(line), "%lu requests, %lu ok;", tot.done,
		     tot.ok);
	for (e = 1; e < 160; e++)
		if (tot.err[e] && n < (int)sizeof(line) - 24)
			n += snprintf(line + n, sizeof(line) - n, " %s=%lu",
				      strerrorname_np(e) ? strerrorname_np(e) :
				      "?", tot.err[e]);
	printf("# %s\n", line);
	azb_tap(!tot.bad && tot.done > 0, "traffic_errors_documented",
	    "%lu bad%s%s", tot.bad, tot.first_bad[0] ? ": " : "",
	    tot.first_bad);
	azb_tap(!cycle_bad, "rescind_storms",
		"%lu rescind/offer cycles, %lu failed", cycles, cycle_bad);
	azb_tap(joined == SYNC_THREADS + 1, "traffic_ended",
	    "%lu of %d threads joined", joined, SYNC_THREADS + 1);

	/* The device after the storm. */
	{
		struct az_blob_request_sync r;
		uint8_t *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct azb_host_stats st = { 0 };
		int fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);

		azb_fill(a, 500, 3);
		azb_req_init(&r, 3, a, 500, a + PG, 516, a + 2 * PG, 2 * PG, 0);
		ret = fd < 0 ? errno : azb_submit(fd, &r);
		if (!ret && azb_echo_verify(&r, NULL, why, sizeof(why)))
			ret = -1;
		azb_wait_pins(base, 5000);
		azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);
		azb_host_stats(0, &st);
		azb_tap(!ret && azb_pins_outstanding() == base && !in_flight &&
		    !st.violations, "device_works_pins_match",
		    "ret %d %s pins %ld base %ld in_flight %" PRIu64
		    " violations %ld", ret, why, azb_pins_outstanding(), base,
		    in_flight, st.violations);
		if (fd >= 0)
			close(fd);
	}
	ring_phase(seed, base);
	azb_rig_clean();
	printf("# host_fuzz: seed %" PRIu64 "\n", seed);
	return azb_tap_failed() ? 1 : 0;
}
