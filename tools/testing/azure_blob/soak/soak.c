// SPDX-License-Identifier: GPL-2.0
/*
 * Soak test of /dev/azure_blob: for --seconds, worker processes keep mixed
 * traffic going (sync ioctls from two threads and io_uring at a random
 * depth per process; mostly small requests, some of 64 KiB, a few of 1 to
 * 4 MiB; every echo response checked byte-exact) while the controller
 * SIGKILLs a random worker every few seconds and starts a new one,
 * switches the host between the echo and null backends, and rescinds and
 * re-offers the device twice. With --http, one more process moves blobs
 * through /dev/azure_blob1, whose host carries them to a Blob service
 * (the VSP's http backend), with azblob put/get and compares the bytes.
 * Reports requests done, errors by kind, MemFree, Slab and the pin
 * counters at start and end; fails when a worker dies on its own, the
 * traffic is too thin, pins differ, memory grew beyond a tolerance or an
 * undocumented error was seen. Prints the report between
 * SOAK-REPORT-BEGIN/END and TAP.
 *
 *   soak [--seconds N] [--workers N] [--http AZBLOB]
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
#include <spawn.h>
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
/* Data up to this size lives in the job's own reused buffer. */
#define SMALL_MAX	(64 * 1024)
#define LARGE_MAX	(4 * 1024 * 1024 - PG)
/* Downloads larger than this are checked on samples (see check_data). */
#define FULL_CHECK_MAX	(256 * 1024)
/* A working soak does far more; a dying worker pool does far less. */
#define MIN_REQ_PER_S	500
#define HTTP_DEV	"/dev/azure_blob1"
#define HTTP_CONTAINER	"soak"

/* Shared with the workers (MAP_SHARED): counters survive a SIGKILL. */
struct shared {
	unsigned long sync_done, uring_done, ok, bytes, large;
	unsigned long checked_full, checked_sampled, bad_echo;
	unsigned long err[NERR];
	unsigned long http_ops, http_ok, http_bytes, http_bad, http_differ;
	unsigned long http_exit[16];
	volatile int http_stop;
	/* odd while the host runs the null backend (or is switching) */
	volatile unsigned long gen;
	char first_bad[200];
};

static struct shared *sh;

/*
 * Upload source: LARGE_MAX bytes filled once before the workers fork, and
 * the FNV-1a 64 state after each whole page, so an upload of any length
 * costs at most a page of hashing to check.
 */
static uint8_t *up_src;
static uint64_t up_fnv[LARGE_MAX / PG + 1];

static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint64_t fnv64_more(uint64_t h, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint8_t up_byte(size_t i)
{
	return azb_pattern(0x5eed, (uint32_t)i) ^ (uint8_t)(i >> 12);
}

static int up_src_init(void)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	up_src = mmap(NULL, LARGE_MAX, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (up_src == MAP_FAILED)
		return -1;
	for (i = 0; i < LARGE_MAX; i++)
		up_src[i] = up_byte(i);
	up_fnv[0] = h;
	for (i = 0; i < LARGE_MAX / PG; i++) {
		h = fnv64_more(h, up_src + i * PG, PG);
		up_fnv[i + 1] = h;
	}
	return 0;
}

/* FNV-1a 64 of up_src[0, len). */
static uint64_t up_sum(size_t len)
{
	size_t pages = len / PG;

	return fnv64_more(up_fnv[pages], up_src + pages * PG, len % PG);
}

enum size_class { SZ_NONE, SZ_SMALL, SZ_MEDIUM, SZ_LARGE };

struct job {
	/* reused: request page, response page, SMALL_MAX + PG of data */
	uint8_t *buf;
	/* a fresh mapping for a large download, or NULL */
	uint8_t *big;
	size_t big_len;
	uint32_t req_off, up_off;
	unsigned long gen;
	struct az_blob_request_sync r;
};

#define JOB_BUF_LEN	(2 * PG + SMALL_MAX + PG)

static int job_init(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->buf = mmap(NULL, JOB_BUF_LEN, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return j->buf == MAP_FAILED ? -1 : 0;
}

/*
 * One request: 1..256 request bytes (now and then up to 2 KiB), a
 * response buffer that fits the echo, cuts it or has room to spare, and
 * data: none (1/4), up to 4 KiB (~2/3), up to 64 KiB (1/16), or 64 KiB to
 * 4 MiB (1/128). A third of the requests with data upload it.
 */
static void job_make(struct job *j, uint32_t *s)
{
	uint32_t r = xs(s) % 1024, req_len, resp_len, data_len, dv = 0;
	uint8_t *data = NULL;

	req_len = xs(s) % 8 ? 1 + xs(s) % 256 : 1 + xs(s) % 2048;
	j->req_off = xs(s) % (PG - req_len + 1);
	switch (xs(s) % 8) {
	case 0:
		resp_len = 1 + xs(s) % (req_len + AZB_TRAILER);
		break;
	case 1:
		resp_len = req_len + AZB_TRAILER + xs(s) % 512;
		break;
	default:
		resp_len = req_len + AZB_TRAILER;
	}
	if (r < 8)
		data_len = SMALL_MAX + 1 + xs(s) % (LARGE_MAX - SMALL_MAX);
	else if (r < 72)
		data_len = 1 + xs(s) % SMALL_MAX;
	else if (r < 328)
		data_len = 0;
	else
		data_len = 1 + xs(s) % 4096;

	j->big = NULL;
	if (data_len && xs(s) % 3 == 0) {
		/* upload: from the shared source, at an offset when small */
		j->up_off = data_len <= SMALL_MAX ? xs(s) % PG : 0;
		data = up_src + j->up_off;
		dv = data_len - (xs(s) % 4 ? 0 : xs(s) % data_len);
	} else if (data_len > SMALL_MAX) {
		/* large download: fresh, unfaulted pages the pin faults in */
		j->big_len = data_len;
		j->big = mmap(NULL, data_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (j->big == MAP_FAILED) {
			j->big = NULL;
			data_len = SMALL_MAX;
		}
		data = j->big;
	}
	if (data_len && !data)
		data = j->buf + 2 * PG + xs(s) % PG;

	azb_fill(j->buf + j->req_off, req_len, *s);
	azb_req_init(&j->r, *s, j->buf + j->req_off, req_len, j->buf + PG,
		     resp_len, data, data_len, dv);
	j->gen = __atomic_load_n(&sh->gen, __ATOMIC_ACQUIRE);
}

static void note_bad(const char *what)
{
	if (__atomic_add_fetch(&sh->bad_echo, 1, __ATOMIC_RELAXED) == 1)
		snprintf(sh->first_bad, sizeof(sh->first_bad), "%s", what);
}

/*
 * Check a download: every byte up to FULL_CHECK_MAX; above it, the first
 * and the last page whole and 64 bytes at a varying offset of every other
 * page (each page's bytes differ, so a page in the wrong place or not
 * written at all shows up). Returns true when full.
 */
static bool check_data(const struct az_blob_request_sync *r, uint32_t seed,
		       uint32_t *s)
{
	const uint8_t *d = (const void *)(uintptr_t)r->data_buffer;
	uint32_t n = r->data_len, i, p, off, end;
	char why[200];

	for (p = 0; p * PG < n; p++) {
		off = p * PG;
		end = off + PG < n ? off + PG : n;
		if (n > FULL_CHECK_MAX && p && end != n) {
			off += xs(s) % (PG - 64);
			end = off + 64;
		}
		for (i = off; i < end; i++) {
			if (d[i] != azb_pattern(seed, i)) {
				snprintf(why, sizeof(why),
					 "data byte %u of %u is 0x%02x, want 0x%02x",
					 i, n, d[i], azb_pattern(seed, i));
				note_bad(why);
				return n <= FULL_CHECK_MAX;
			}
		}
	}
	return n <= FULL_CHECK_MAX;
}

static void check_echo(struct job *j, uint32_t *s)
{
	const struct az_blob_request_sync *r = &j->r;
	const uint8_t *req = (const void *)(uintptr_t)r->request_buffer;
	const uint8_t *resp = (const void *)(uintptr_t)r->response_buffer;
	uint32_t seed = azb_fnv1a32(req, r->request_len), n, i;
	uint8_t want[2048 + AZB_TRAILER + 512];
	uint64_t sum = 0;
	char why[200];
	bool full = true;

	if (r->data_valid && j->up_off)
		sum = fnv64_more(0xcbf29ce484222325ull, up_src + j->up_off,
				 r->data_valid);
	else if (r->data_valid)
		sum = up_sum(r->data_valid);
	memcpy(want, req, r->request_len);
	for (i = 0; i < 8; i++)
		want[r->request_len + i] = sum >> (8 * i);
	for (i = 0; i < 4; i++) {
		want[r->request_len + 8 + i] = r->data_valid >> (8 * i);
		want[r->request_len + 12 + i] = seed >> (8 * i);
	}
	n = r->request_len + AZB_TRAILER;
	if (n > r->response_len)
		n = r->response_len;
	if (r->response.status || r->response.response_len != n) {
		snprintf(why, sizeof(why), "status %u response_len %u, want 0 %u",
			 r->response.status, r->response.response_len, n);
		note_bad(why);
		return;
	}
	if (memcmp(resp, want, n)) {
		for (i = 0; resp[i] == want[i]; i++)
			;
		snprintf(why, sizeof(why),
			 "response byte %u of %u is 0x%02x, want 0x%02x (req %u, dv %u)",
			 i, n, resp[i], want[i], r->request_len, r->data_valid);
		note_bad(why);
		return;
	}
	if (r->data_valid) {
		/* the host must not write into an upload: sample it */
		for (i = 0; i < 4; i++) {
			uint32_t k = j->up_off + xs(s) % r->data_len;

			if (up_src[k] != up_byte(k)) {
				note_bad("upload source modified");
				return;
			}
		}
	} else if (r->data_len) {
		full = check_data(r, seed, s);
	}
	__atomic_add_fetch(full ? &sh->checked_full : &sh->checked_sampled, 1,
			   __ATOMIC_RELAXED);
}

static void job_done(struct job *j, int err, bool uring, uint32_t *s)
{
	__atomic_add_fetch(uring ? &sh->uring_done : &sh->sync_done, 1,
			   __ATOMIC_RELAXED);
	if (j->r.data_len > SMALL_MAX)
		__atomic_add_fetch(&sh->large, 1, __ATOMIC_RELAXED);
	if (err) {
		__atomic_add_fetch(&sh->err[err > 0 && err < NERR ? err : 0],
				   1, __ATOMIC_RELAXED);
	} else {
		__atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sh->bytes, j->r.data_len, __ATOMIC_RELAXED);
		/* Only when the host surely ran echo from submit to now. */
		if (!(j->gen & 1) &&
		    __atomic_load_n(&sh->gen, __ATOMIC_ACQUIRE) == j->gen)
			check_echo(j, s);
	}
	if (j->big)
		munmap(j->big, j->big_len);
	j->big = NULL;
}

static int open_dev(const char *path)
{
	int fd;

	for (;;) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		azb_sleep_ms(20);
	}
}

static void *sync_thread(void *arg)
{
	uint32_t seed = (uintptr_t)arg;
	int fd = open_dev(AZB_DEV), ret;
	struct job j;

	if (job_init(&j))
		_exit(3);
	for (;;) {
		job_make(&j, &seed);
		ret = azb_submit(fd, &j.r);
		job_done(&j, ret, false, &seed);
		if (ret == ENODEV) {
			close(fd);
			fd = open_dev(AZB_DEV);
		}
	}
	return NULL;
}

static void uring_loop(uint32_t seed)
{
	unsigned int depth = 1u << (xs(&seed) % 5), i, inflight = 0;
	struct job *jobs = calloc(depth, sizeof(*jobs));
	bool *busy = calloc(depth, sizeof(*busy));
	struct io_uring ring;
	struct azb_cqe c;
	int fd = open_dev(AZB_DEV);
	bool nodev = false;

	if (!jobs || !busy || azb_ring_init(&ring, depth, AZB_RING_FLAGS))
		_exit(3);
	for (i = 0; i < depth; i++)
		if (job_init(&jobs[i]))
			_exit(3);
	for (;;) {
		for (i = 0; i < depth && !nodev; i++) {
			if (busy[i])
				continue;
			job_make(&jobs[i], &seed);
			azb_ring_prep_req(&ring, fd, &jobs[i].r, i);
			busy[i] = true;
			inflight++;
		}
		azb_ring_submit(&ring);
		if (!inflight) {
			/* every request of the old device is back */
			close(fd);
			fd = open_dev(AZB_DEV);
			nodev = false;
			continue;
		}
		/* a reap that times out is not an error: wait again */
		if (azb_ring_reap(&ring, &c, 5000))
			continue;
		i = c.user_data;
		if (i >= depth || !busy[i])
			_exit(4);
		inflight--;
		busy[i] = false;
		if (!c.res)
			azb_cqe_to_response(&c, &jobs[i].r);
		job_done(&jobs[i], -c.res, true, &seed);
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
		if (pthread_create(&t, NULL, sync_thread,
				   (void *)(uintptr_t)(seed * 31 + i + 1)))
			_exit(5);
	uring_loop(seed * 17 + 5);
	_exit(0);
}

/* ---- the http worker: azblob put/get through /dev/azure_blob1 ---- */

static const char *azblob;

/* Run azblob with @args (NULL-terminated); its exit code or 15. */
static int run_azblob(const char *const *args)
{
	const char *argv[16] = { azblob, "--transport", "device", "--device",
				 HTTP_DEV, "--no-progress", "--retries", "0" };
	posix_spawn_file_actions_t fa;
	int i, n = 8, st;
	pid_t pid;

	for (i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/tmp/soak-http.err",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&pid, azblob, &fa, NULL, (char *const *)argv,
			environ)) {
		posix_spawn_file_actions_destroy(&fa);
		return 15;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 15;
	return WEXITSTATUS(st) < 15 ? WEXITSTATUS(st) : 15;
}

static int write_file(const char *path, const uint8_t *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n = 0;

	if (fd < 0)
		return -1;
	while (len && (n = write(fd, p, len)) > 0) {
		p += n;
		len -= n;
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

static bool file_equals(const char *path, const uint8_t *p, size_t len)
{
	uint8_t buf[65536];
	int fd = open(path, O_RDONLY);
	ssize_t n;
	bool eq = true;

	if (fd < 0)
		return false;
	while (eq && (n = read(fd, buf, sizeof(buf))) > 0) {
		if ((size_t)n > len || memcmp(buf, p, n))
			eq = false;
		p += n;
		len -= n;
	}
	close(fd);
	return eq && len == 0;
}

static void http_fail(int rc, const char *what)
{
	char msg[160] = "";
	char line[200];

	__atomic_add_fetch(rc ? &sh->http_exit[rc & 15] : &sh->http_differ, 1,
			   __ATOMIC_RELAXED);
	if (__atomic_add_fetch(&sh->http_bad, 1, __ATOMIC_RELAXED) == 1) {
		azb_read_text("/tmp/soak-http.err", msg, sizeof(msg));
		msg[strcspn(msg, "\n")] = '\0';
		snprintf(line, sizeof(line), "%s (exit %d): %s", what, rc, msg);
		/* first_bad is the echo's; the http one goes to stderr */
		fprintf(stderr, "# soak: http: %s\n", line);
	}
}

/*
 * Blobs of 0 B to 3 MiB + 5: each put from a file, got back into another
 * and compared; the big ones in 1 MiB blocks, 4 in flight (io_uring).
 */
static void http_loop(uint32_t seed)
{
	static const char up[] = "/tmp/soak-http.up", down[] = "/tmp/soak-http.down";
	char blob[64];
	uint32_t len, r;
	const uint8_t *src;
	int rc;

	while (!sh->http_stop) {
		r = xs(&seed) % 16;
		len = r == 0 ? 0 : r < 10 ? 1 + xs(&seed) % 8192 :
		      r < 15 ? 1 + xs(&seed) % (512 * 1024) :
		      3 * 1024 * 1024 + 5;
		/* a window of the upload source that moves */
		src = up_src + xs(&seed) % (LARGE_MAX - 3 * 1024 * 1024 - 5);
		snprintf(blob, sizeof(blob), HTTP_CONTAINER "/b%u", xs(&seed) % 64);
		__atomic_add_fetch(&sh->http_ops, 1, __ATOMIC_RELAXED);
		if (write_file(up, src, len)) {
			http_fail(15, "write the upload file");
			continue;
		}
		if (len > 1024 * 1024)
			rc = run_azblob((const char *[]){ "--chunk-size", "1M",
				"--parallel", "4", "put", up, blob, NULL });
		else
			rc = run_azblob((const char *[]){ "put", up, blob, NULL });
		if (rc) {
			http_fail(rc, "put");
			continue;
		}
		rc = len > 1024 * 1024 ?
			run_azblob((const char *[]){ "--chunk-size", "1M",
				"--parallel", "4", "get", blob, down, NULL }) :
			run_azblob((const char *[]){ "get", blob, down, NULL });
		if (rc) {
			http_fail(rc, "get");
			continue;
		}
		if (!file_equals(down, src, len)) {
			http_fail(0, "downloaded bytes differ");
			continue;
		}
		__atomic_add_fetch(&sh->http_ok, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&sh->http_bytes, 2ul * len, __ATOMIC_RELAXED);
		unlink(down);
	}
}

static pid_t spawn_http(uint32_t seed)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	http_loop(seed | 1);
	_exit(0);
}

/* Slot 1 with the http backend, and the container; 0 or -1. */
static int http_setup(void)
{
	int rc;

	if (azb_host(NULL, 0, "offer 1") ||
	    azb_wait_path(HTTP_DEV, true, 5000) ||
	    azb_host(NULL, 0, "backend 1 http"))
		return -1;
	rc = run_azblob((const char *[]){ "mb", HTTP_CONTAINER, NULL });
	return rc == 0 || rc == 4 ? 0 : -1;
}

/* ---- the controller ---- */

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

static unsigned long requests(void)
{
	return sh->sync_done + sh->uring_done;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 't' },
		{ "workers", required_argument, NULL, 'w' },
		{ "http", required_argument, NULL, 'h' },
		{ }
	};
	long seconds = 600, t0, now, next_kill, next_backend, last_print = 0;
	long mem0, slab0, mem1, slab1, pins0, pins1;
	int nworkers = 4, c, i, st, rescinds = 0, rescind_bad = 0, kills = 0;
	int deaths = 0, http_deaths = 0, backend_switches = 0;
	unsigned long bad_err = 0, e, last_req = 0, rate;
	uint64_t in_flight = 1, in_flight1 = 0;
	pid_t w[MAX_WORKERS], hw = 0, pid;
	uint32_t seed = 12345;
	bool ok, http_ok = true;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			seconds = strtol(optarg, NULL, 0);
			break;
		case 'w':
			nworkers = atoi(optarg);
			break;
		case 'h':
			azblob = optarg;
			break;
		default:
			return 2;
		}
	}
	if (nworkers < 1 || nworkers > MAX_WORKERS)
		nworkers = 4;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || up_src_init() || azb_rig_clean())
		return 1;
	printf("TAP version 13\n1..%d\n# soak: %ld s, %d worker processes%s\n",
	       azblob ? 5 : 4, seconds, nworkers,
	       azblob ? ", http traffic on " HTTP_DEV : "");
	fflush(stdout);
	if (azblob && http_setup()) {
		printf("# soak: http: setting up slot 1 or the container failed\n");
		http_ok = false;
	}

	drop_caches();
	mem0 = meminfo_kb("MemFree");
	slab0 = meminfo_kb("Slab");
	pins0 = azb_pins_outstanding();

	for (i = 0; i < nworkers; i++)
		w[i] = spawn_worker(seed + i);
	if (azblob && http_ok)
		hw = spawn_http(seed * 7);
	t0 = azb_now_ms();
	next_kill = t0 + 2000;
	next_backend = t0 + 45000;
	last_print = t0;
	while ((now = azb_now_ms()) - t0 < seconds * 1000) {
		azb_sleep_ms(200);
		/* a worker that ends without our SIGKILL is a failure */
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			printf("# soak: process %d died on its own (%s %d)\n",
			       pid, WIFSIGNALED(st) ? "signal" : "exit",
			       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			if (pid == hw) {
				http_deaths++;
				hw = spawn_http(xs(&seed));
				continue;
			}
			deaths++;
			for (i = 0; i < nworkers; i++)
				if (w[i] == pid)
					w[i] = spawn_worker(xs(&seed));
		}
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
			/* echo most of the time, null for 10 s */
			__atomic_add_fetch(&sh->gen, 1, __ATOMIC_RELEASE);
			if (azb_host(NULL, 0, "backend 0 null") == 0) {
				backend_switches++;
				azb_sleep_ms(10000);
				azb_host(NULL, 0, "backend 0 echo");
			}
			__atomic_add_fetch(&sh->gen, 1, __ATOMIC_RELEASE);
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
			printf("# %3ld s: %lu requests (%lu/s), %lu ok, %lu large, %d kills, http %lu/%lu ok\n",
			       (now - t0) / 1000, requests(),
			       (requests() - last_req) * 1000 /
			       (now - last_print),
			       sh->ok, sh->large, kills, sh->http_ok,
			       sh->http_ops);
			fflush(stdout);
			last_req = requests();
			last_print = now;
		}
	}
	now = azb_now_ms();
	for (i = 0; i < nworkers; i++) {
		kill(w[i], SIGKILL);
		waitpid(w[i], NULL, 0);
	}
	if (hw) {
		/* let the current put/get finish: no orphan keeps slot 1 busy */
		sh->http_stop = 1;
		for (i = 0; i < 1200 && waitpid(hw, NULL, WNOHANG) == 0; i++)
			azb_sleep_ms(100);
		if (i == 1200) {
			printf("# soak: http: the worker did not stop in 120 s\n");
			http_deaths++;
			kill(hw, SIGKILL);
			waitpid(hw, NULL, 0);
		}
	}
	azb_read_u64("/sys/class/misc/azure_blob1/in_flight", &in_flight1);
	azb_rig_clean();
	azb_wait_pins(pins0, 10000);
	azb_sleep_ms(500);
	unlink("/tmp/soak-http.up");
	unlink("/tmp/soak-http.down");
	unlink("/tmp/soak-http.err");
	drop_caches();
	mem1 = meminfo_kb("MemFree");
	slab1 = meminfo_kb("Slab");
	pins1 = azb_pins_outstanding();
	azb_read_u64(AZB_SYSFS "/in_flight", &in_flight);
	rate = requests() * 1000 / (now - t0 > 0 ? now - t0 : 1);

	printf("SOAK-REPORT-BEGIN\n");
	printf("duration_s %ld\nworkers %d (2 sync threads + 1 io_uring loop each)\n",
	       seconds, nworkers);
	printf("worker_kills %d\nworker_deaths_unasked %d\nrescind_cycles %d (failed %d)\n",
	       kills, deaths, rescinds, rescind_bad);
	printf("backend_switches %d (echo, null for 10 s every 45 s)\n",
	       backend_switches);
	printf("requests %lu (sync %lu, io_uring %lu), %lu/s\nsucceeded %lu\n",
	       requests(), sh->sync_done, sh->uring_done, rate, sh->ok);
	printf("large_requests %lu (64 KiB to 4 MiB)\ndata_bytes %lu\n",
	       sh->large, sh->bytes);
	printf("echo_checked %lu (full %lu, sampled %lu: downloads over %d KiB)\nbad_echo %lu%s%s\n",
	       sh->checked_full + sh->checked_sampled, sh->checked_full,
	       sh->checked_sampled, FULL_CHECK_MAX / 1024, sh->bad_echo,
	       sh->bad_echo ? ", first: " : "", sh->first_bad);
	for (e = 0; e < NERR; e++) {
		if (!sh->err[e])
			continue;
		printf("error %s %lu\n", e && strerrorname_np(e) ?
		       strerrorname_np(e) : "other", sh->err[e]);
		if (!e || !documented(e))
			bad_err += sh->err[e];
	}
	if (azblob) {
		printf("http_blob_round_trips %lu (ok %lu, failed %lu, bytes differ %lu), bytes moved %lu, worker deaths %d\n",
		       sh->http_ops, sh->http_ok, sh->http_bad,
		       sh->http_differ, sh->http_bytes, http_deaths);
		for (e = 0; e < 16; e++)
			if (sh->http_exit[e])
				printf("http_error azblob_exit_%lu %lu\n", e,
				       sh->http_exit[e]);
		printf("http_in_flight_end %" PRIu64 "\n", in_flight1);
	}
	printf("memfree_kb start %ld end %ld\nslab_kb start %ld end %ld\n",
	       mem0, mem1, slab0, slab1);
	printf("pins_outstanding start %ld end %ld\nin_flight_end %" PRIu64 "\n",
	       pins0, pins1, in_flight);
	printf("SOAK-REPORT-END\n");

	ok = requests() > 0 && !bad_err && !sh->bad_echo && !deaths;
	printf("%s 1 soak_traffic # %lu undocumented errors, %lu bad echoes, %d workers died on their own\n",
	       ok ? "ok" : "not ok", bad_err, sh->bad_echo, deaths);
	ok = rate >= MIN_REQ_PER_S;
	printf("%s 2 soak_throughput # %lu requests/s (at least %d)\n",
	       ok ? "ok" : "not ok", rate, MIN_REQ_PER_S);
	ok = pins1 == pins0 && !in_flight && rescinds == 2 && !rescind_bad;
	printf("%s 3 soak_pins_and_rescinds # pins %ld -> %ld\n",
	       ok ? "ok" : "not ok", pins0, pins1);
	ok = mem1 >= mem0 - MEM_TOLERANCE_KB &&
	     slab1 <= slab0 + SLAB_TOLERANCE_KB;
	printf("%s 4 soak_memory # MemFree %+ld kB, Slab %+ld kB (tolerance %d/%d kB)\n",
	       ok ? "ok" : "not ok", mem1 - mem0, slab1 - slab0,
	       MEM_TOLERANCE_KB, SLAB_TOLERANCE_KB);
	if (azblob) {
		ok = http_ok && sh->http_ok > 0 && !sh->http_bad &&
		     !http_deaths;
		printf("%s 5 soak_http # %lu blob round trips through %s, %lu failed\n",
		       ok ? "ok" : "not ok", sh->http_ok, HTTP_DEV,
		       sh->http_bad);
	}
	return 0;
}
