// SPDX-License-Identifier: GPL-2.0
/*
 * Soak test of /dev/azure_blob: for --seconds, worker processes keep mixed
 * traffic going (sync ioctls from threads and io_uring at random depths,
 * sizes from a byte to a few MiB, echo downloads checked byte-exact) while
 * the controller SIGKILLs a random worker every few seconds and starts a
 * new one, switches the host between the echo and null backends, and
 * rescinds and re-offers the device twice. Reports requests done, errors
 * by kind, MemFree, Slab and the pin counters at start and end; fails when
 * pins differ, memory grew beyond a tolerance or an undocumented error
 * was seen. Prints the report between SOAK-REPORT-BEGIN/END and TAP.
 *
 *   soak [--seconds N] [--workers N]
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "azblob_lib.h"
#include "azblob_uring.h"

#define PG		AZB_PAGE
#define MAX_WORKERS	8
#define NERR		160
#define MEM_TOLERANCE_KB	(24 * 1024)
#define SLAB_TOLERANCE_KB	(8 * 1024)

/* Shared with the workers (MAP_SHARED): counters survive a SIGKILL. */
struct shared {
	unsigned long sync_done, uring_done, ok, bytes, bad_echo;
	unsigned long err[NERR];
	volatile int echo;	/* the host runs the echo backend */
};

static struct shared *sh;

static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint32_t pick_size(uint32_t *s)
{
	switch (xs(s) % 32) {
	case 0:
		return 4 * 1024 * 1024 - PG;
	case 1: case 2:
		return (1 + xs(s) % 256) * PG;		/* up to 1 MiB */
	case 3: case 4: case 5: case 6:
		return 1 + xs(s) % 16;
	default:
		return xs(s) % (32 * 1024);
	}
}

struct job {
	uint8_t *area;
	size_t len;
	struct az_blob_request_sync r;
};

static int job_make(struct job *j, uint32_t *s)
{
	uint32_t req_len = 1 + xs(s) % 2048, data_len = pick_size(s);
	bool upload = data_len && xs(s) % 3 == 0;

	j->len = 2 * PG + data_len;
	j->area = mmap(NULL, j->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (j->area == MAP_FAILED)
		return -1;
	azb_fill(j->area, req_len, *s);
	if (upload)
		memset(j->area + 2 * PG, 0x3c, data_len);
	azb_req_init(&j->r, *s, j->area, req_len, j->area + PG,
		     req_len + AZB_TRAILER, data_len ? j->area + 2 * PG : NULL,
		     data_len, upload ? data_len : 0);
	return 0;
}

static void job_done(struct job *j, int err, bool uring)
{
	char why[160];
	int echo = sh->echo;

	__atomic_add_fetch(uring ? &sh->uring_done : &sh->sync_done, 1,
			   __ATOMIC_RELAXED);
	if (err) {
		__atomic_add_fetch(&sh->err[err < NERR ? err : 0], 1,
				   __ATOMIC_RELAXED);
	} else {
		__atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sh->bytes, j->r.data_len, __ATOMIC_RELAXED);
		/* Only when the backend surely stayed echo: null writes 0. */
		if (echo && sh->echo && j->r.response.response_len &&
		    azb_echo_verify(&j->r, NULL, why, sizeof(why)))
			__atomic_add_fetch(&sh->bad_echo, 1, __ATOMIC_RELAXED);
	}
	munmap(j->area, j->len);
}

static int open_dev(void)
{
	int fd;

	for (;;) {
		fd = open(AZB_DEV, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		azb_sleep_ms(50);
	}
}

static void *sync_thread(void *arg)
{
	uint32_t seed = (uintptr_t)arg;
	int fd = open_dev(), ret;
	struct job j;

	for (;;) {
		if (job_make(&j, &seed)) {
			azb_sleep_ms(10);
			continue;
		}
		ret = azb_submit(fd, &j.r);
		job_done(&j, ret, false);
		if (ret == ENODEV) {
			close(fd);
			fd = open_dev();
		}
	}
	return NULL;
}

static void uring_loop(uint32_t seed)
{
	unsigned int depth = 1u << (xs(&seed) % 5), i, inflight = 0;
	struct job *jobs = calloc(depth, sizeof(*jobs));
	struct io_uring ring;
	struct azb_cqe c;
	int fd = open_dev();
	bool nodev = false;

	if (!jobs || azb_ring_init(&ring, depth, AZB_RING_FLAGS))
		_exit(3);
	for (;;) {
		for (i = 0; i < depth && !nodev; i++) {
			if (jobs[i].area || job_make(&jobs[i], &seed))
				continue;
			azb_ring_prep_req(&ring, fd, &jobs[i].r, i);
			inflight++;
		}
		azb_ring_submit(&ring);
		if (!inflight) {
			close(fd);
			fd = open_dev();
			nodev = false;
			continue;
		}
		if (azb_ring_reap(&ring, &c, 5000))
			continue;
		inflight--;
		i = c.user_data;
		if (!c.res)
			azb_cqe_to_response(&c, &jobs[i].r);
		job_done(&jobs[i], -c.res, true);
		jobs[i].area = NULL;
		if (c.res == -ENODEV)
			nodev = true;
	}
}

static pid_t spawn_worker(uint32_t seed)
{
	pid_t pid = fork();
	pthread_t t;
	int i;

	if (pid)
		return pid;
	for (i = 0; i < 2; i++)
		pthread_create(&t, NULL, sync_thread,
			       (void *)(uintptr_t)(seed * 31 + i + 1));
	uring_loop(seed * 17 + 5);
	_exit(0);
}

static long meminfo_kb(const char *key)
{
	char line[128];
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "3\n", 2) < 0)
			perror("drop_caches");
		close(fd);
	}
}

static bool documented(int e)
{
	switch (e) {
	case EFAULT: case EINVAL: case E2BIG: case ENOMEM: case EPROTO:
	case ENODEV: case EIO: case EINTR: case ENOTTY: case ECANCELED:
		return true;
	default:
		return false;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 't' },
		{ "workers", required_argument, NULL, 'w' },
		{ }
	};
	long seconds = 600, t0, now, next_kill, next_backend, last_print = 0;
	long mem0, slab0, mem1, slab1, pins0, pins1;
	int nworkers = 4, c, i, rescinds = 0, rescind_bad = 0, kills = 0;
	unsigned long bad_err = 0, e;
	uint64_t in_flight = 1;
	pid_t w[MAX_WORKERS];
	uint32_t seed = 12345;
	bool ok;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			seconds = strtol(optarg, NULL, 0);
			break;
		case 'w':
			nworkers = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (nworkers < 1 || nworkers > MAX_WORKERS)
		nworkers = 4;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || azb_rig_clean())
		return 1;
	sh->echo = 1;
	printf("TAP version 13\n1..3\n# soak: %ld s, %d worker processes\n",
	       seconds, nworkers);
	fflush(stdout);

	drop_caches();
	mem0 = meminfo_kb("MemFree");
	slab0 = meminfo_kb("Slab");
	pins0 = azb_pins_outstanding();

	for (i = 0; i < nworkers; i++)
		w[i] = spawn_worker(seed + i);
	t0 = azb_now_ms();
	next_kill = t0 + 2000;
	next_backend = t0 + 45000;
	while ((now = azb_now_ms()) - t0 < seconds * 1000) {
		azb_sleep_ms(200);
		now = azb_now_ms();
		if (now >= next_kill) {
			i = xs(&seed) % nworkers;
			kill(w[i], SIGKILL);
			waitpid(w[i], NULL, 0);
			kills++;
			w[i] = spawn_worker(xs(&seed));
			next_kill = now + 2000 + xs(&seed) % 4000;
		}
		if (now >= next_backend) {
			/* echo most of the time, null for a while */
			sh->echo = 0;
			azb_sleep_ms(50);
			if (azb_host(NULL, 0, "backend 0 null") == 0) {
				azb_sleep_ms(10000);
				azb_host(NULL, 0, "backend 0 echo");
				azb_sleep_ms(200);
			}
			sh->echo = 1;
			next_backend = azb_now_ms() + 45000;
		}
		if (rescinds < 2 &&
		    now - t0 >= (rescinds + 1) * seconds * 1000 / 3) {
			rescinds++;
			if (azb_host(NULL, 0, "rescind 0") ||
			    azb_wait_path(AZB_DEV, false, 5000) ||
			    azb_host(NULL, 0, "offer 0") ||
			    azb_wait_path(AZB_DEV, true, 5000))
				rescind_bad++;
		}
		if (now - last_print >= 30000) {
			printf("# %3ld s: %lu sync + %lu io_uring requests, %lu ok, %d kills\n",
			       (now - t0) / 1000, sh->sync_done, sh->uring_done,
			       sh->ok, kills);
			fflush(stdout);
			last_print = now;
		}
	}
	for (i = 0; i < nworkers; i++) {
		kill(w[i], SIGKILL);
		waitpid(w[i], NULL, 0);
	}
	azb_rig_clean();
	azb_wait_pins(pins0, 10000);
	azb_sleep_ms(500);
	drop_caches();
	mem1 = meminfo_kb("MemFree");
	slab1 = meminfo_kb("Slab");
	pins1 = azb_pins_outstanding();
	azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);

	printf("SOAK-REPORT-BEGIN\n");
	printf("duration_s %ld\nworkers %d\nworker_kills %d\nrescind_cycles %d (failed %d)\n",
	       seconds, nworkers, kills, rescinds, rescind_bad);
	printf("backends echo, null (echo except 10 s every 45 s)\n");
	printf("requests %lu (sync %lu, io_uring %lu)\nsucceeded %lu\ndata_bytes %lu\nbad_echo %lu\n",
	       sh->sync_done + sh->uring_done, sh->sync_done, sh->uring_done,
	       sh->ok, sh->bytes, sh->bad_echo);
	for (e = 0; e < NERR; e++) {
		if (!sh->err[e])
			continue;
		printf("error %s %lu\n", e && strerrorname_np(e) ?
		       strerrorname_np(e) : "other", sh->err[e]);
		if (!e || !documented(e))
			bad_err += sh->err[e];
	}
	printf("memfree_kb start %ld end %ld\nslab_kb start %ld end %ld\n",
	       mem0, mem1, slab0, slab1);
	printf("pins_outstanding start %ld end %ld\nin_flight_end %" PRIu64 "\n",
	       pins0, pins1, in_flight);
	printf("SOAK-REPORT-END\n");

	ok = sh->sync_done + sh->uring_done > 0 && !bad_err && !sh->bad_echo;
	printf("%s 1 soak_traffic # %lu undocumented errors, %lu bad echoes\n",
	       ok ? "ok" : "not ok", bad_err, sh->bad_echo);
	ok = pins1 == pins0 && !in_flight && rescinds == 2 && !rescind_bad;
	printf("%s 2 soak_pins_and_rescinds # pins %ld -> %ld\n",
	       ok ? "ok" : "not ok", pins0, pins1);
	ok = mem1 >= mem0 - MEM_TOLERANCE_KB &&
	     slab1 <= slab0 + SLAB_TOLERANCE_KB;
	printf("%s 3 soak_memory # MemFree %+ld kB, Slab %+ld kB (tolerance %d/%d kB)\n",
	       ok ? "ok" : "not ok", mem1 - mem0, slab1 - slab0,
	       MEM_TOLERANCE_KB, SLAB_TOLERANCE_KB);
	return 0;
}
