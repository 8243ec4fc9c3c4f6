// SPDX-License-Identifier: GPL-2.0
/*
 * hostile: the load of the azblobd stress suite in the guest. Worker
 * threads open many connections to azblobd and send malformed, lying,
 * slow or unfinished HTTP requests; at the same time client threads make
 * valid Shared Key round trips (Put Blob, then Get Blob, every byte
 * compared), each on a connection of its own.
 *
 *   hostile --key B64 [--port N] [--account A] [--container C]
 *           [--sas QUERY] [--big BLOB] [--requests N] [--workers K]
 *           [--clients M] [--max-body BYTES] [--seed S]
 *
 * --requests hostile requests in all (default 100000) by --workers
 * threads (48), while --clients threads (64) make round trips with
 * bodies of up to --max-body bytes (1 MiB) until the hostile requests are
 * done (two round trips each at least). --big names a blob larger than
 * one device request in the container, read with --sas (the split GETs
 * that are closed early or not read). Prints per kind "kind NAME
 * requests N conns N answered N closed N hung N" (answered: a status
 * line came back; closed: the server closed without one; hung: neither
 * within 60 s), then "valid round_trips N bytes N failed N" and
 * "hostile requests N in S s". Exits 0 when every round trip was
 * byte-exact and no hostile connection hung.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "internal.h"

/* longer than the stress configuration's idle timeout (30 s) */
#define HUNG_MS		90000
#define MIB		(1024 * 1024)

static int port = 10180;
static const char *account = "devstoreaccount1", *container = "stress";
static const char *sas, *big;
static unsigned char key[128];
static size_t key_len, max_body = MIB;
static unsigned long long want_requests = 100000;
static atomic_ullong claimed, done_requests;
static atomic_bool hostile_done;
static unsigned int seed = 1;

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 2685821657736338717ull) >> 32);
}

static int connect_lo(void)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int s, tries;

	for (tries = 0; tries < 50; tries++) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -1;
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			return s;
		close(s);
		/* the listen queue may be full for a moment */
		usleep(20000);
	}
	return -1;
}

/* Send all of it; false when the server closed or reset (expected). */
static bool send_all(int s, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n) {
		w = send(s, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

static void reset_close(int s)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(s);
}

/* ---- hostile kinds ---- */

enum outcome { ANSWERED, CLOSED, HUNG, NOT_WAITED };

enum kind {
	K_GARBAGE, K_FRAMING, K_HUGE_HEADER, K_HUGE_LINE, K_MANY_HEADERS,
	K_CL_SHORT, K_CL_LONG, K_CL_BAD, K_PIPELINE, K_SLOW_HEAD,
	K_SLOW_BODY, K_EARLY_HEAD, K_EARLY_BODY, K_EXPECT_BIG, K_IDLE,
	K_SPLIT_ABORT, K_NO_READ, K_NKINDS,
};

static const struct {
	const char *name;
	unsigned int weight;	/* of 1000 */
} kinds[K_NKINDS] = {
	[K_GARBAGE] = { "garbage", 120 },
	[K_FRAMING] = { "bad-framing", 150 },
	[K_HUGE_HEADER] = { "1MiB-header-line", 12 },
	[K_HUGE_LINE] = { "1MiB-request-line", 12 },
	[K_MANY_HEADERS] = { "20000-headers", 6 },
	[K_CL_SHORT] = { "content-length-longer-than-body", 40 },
	[K_CL_LONG] = { "content-length-shorter-than-body", 10 },
	[K_CL_BAD] = { "content-length-malformed", 60 },
	[K_PIPELINE] = { "pipelined-then-garbage", 300 },
	[K_SLOW_HEAD] = { "slow-head", 4 },
	[K_SLOW_BODY] = { "slow-body", 4 },
	[K_EARLY_HEAD] = { "close-mid-head", 120 },
	[K_EARLY_BODY] = { "close-mid-body", 60 },
	[K_EXPECT_BIG] = { "expect-100-40MB", 50 },
	[K_IDLE] = { "connect-send-nothing", 50 },
	[K_SPLIT_ABORT] = { "split-get-reset", 4 },
	[K_NO_READ] = { "split-get-not-read", 3 },
};

static struct {
	atomic_ullong requests, conns, answered, closed, hung;
} tally[K_NKINDS];

/*
 * Send out[0..len) (may be empty) while reading what comes back, until
 * want status lines ("HTTP/1.1"; the bodies here, XML and
 * libmicrohttpd's error pages, never have it) came or the server closed, at most wait_ms: ANSWERED, CLOSED
 * (before want answers) or HUNG. Reading while sending: a server that
 * answers pipelined requests stops reading when its answers are not
 * read, and a client that only sends would wait for it forever.
 */
static enum outcome send_drain(int s, const char *out, size_t len,
			       unsigned int wait_ms, unsigned int want)
{
	char buf[16384], tail[8] = "";
	uint64_t end = now_ms() + wait_ms;
	struct pollfd p = { .fd = s };
	unsigned int answers = 0;
	size_t i, sent = 0;
	ssize_t n;
	int left;

	for (;;) {
		if (answers >= want && sent == len)
			return ANSWERED;
		left = (int)(end - now_ms());
		if (left <= 0)
			return HUNG;
		p.events = POLLIN | (sent < len ? POLLOUT : 0);
		if (poll(&p, 1, left) <= 0)
			continue;
		if (p.revents & POLLOUT) {
			n = send(s, out + sent, len - sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = len;	/* closed on us: read the rest */
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return answers >= want ? ANSWERED : CLOSED;
		/* status lines across reads: keep a few bytes of the last */
		for (i = 0; i < (size_t)n; i++) {
			memmove(tail, tail + 1, sizeof(tail) - 1);
			tail[sizeof(tail) - 1] = buf[i];
			if (!memcmp(tail, "HTTP/1.1", 8))
				answers++;
		}
	}
}

static void count_outcome(enum kind k, enum outcome o, unsigned int reqs)
{
	atomic_fetch_add(&tally[k].requests, reqs);
	atomic_fetch_add(&tally[k].conns, 1);
	if (o == ANSWERED)
		atomic_fetch_add(&tally[k].answered, 1);
	else if (o == CLOSED)
		atomic_fetch_add(&tally[k].closed, 1);
	else if (o == HUNG)
		atomic_fetch_add(&tally[k].hung, 1);
	atomic_fetch_add(&done_requests, reqs);
}

static void finish_conn(int s, enum kind k, unsigned int reqs,
			unsigned int want)
{
	enum outcome o = send_drain(s, NULL, 0, HUNG_MS, want);

	close(s);
	count_outcome(k, o, reqs);
}

static char *filled(size_t n, char c)
{
	char *p = azb_xmalloc(n + 1);

	memset(p, c, n);
	return p;
}

static void k_garbage(uint64_t *r)
{
	char buf[260];
	size_t n = 1 + rnd(r) % 250, i;
	int s = connect_lo();

	if (s < 0)
		return;
	for (i = 0; i < n; i++)
		buf[i] = (char)rnd(r);
	memcpy(buf + n, "\r\n\r\n", 4);
	send_all(s, buf, n + 4);
	finish_conn(s, K_GARBAGE, 1, 1);
}

static void k_framing(uint64_t *r)
{
	static const char *const heads[] = {
		"GET /%s/x HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
		"GET /%s/x HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET /%s/x HTTP/1.1\nHost: x\n\n",
		"GET /%s/x HTTP/1.1\r\nHost : x\r\n\r\n",
		"GET /%s/x HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n  b\r\n\r\n",
		"GET  /%s/x  HTTP/1.1\r\nHost: x\r\n\r\n",
		"G\x01T /%s/x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%s/x HTTP/1.1\r\n\r\n",
		"GET http://evil.invalid/%s/x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%s/x\r\n\r\n",
		"GET /%s/x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"PUT /%s/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
		"PUT /%s/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"\r\n\r\n\r\n\r\n",
		"GET /%s/%%zz%%00 HTTP/1.1\r\nHost: x\r\n\r\n",
		/* a chunked body shorter than its Content-Length */
		"PUT /%s/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1000000\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		/* a NUL byte in a header name: the part after it follows */
		"GET /%s/x HTTP/1.1\r\nHost: x\r\nX-A",
	};
	const unsigned int nul = sizeof(heads) / sizeof(heads[0]) - 1;
	const unsigned int blank = 13;
	unsigned int i = rnd(r) % (nul + 1);
	char buf[512];
	int n, s = connect_lo();

	if (s < 0)
		return;
	n = snprintf(buf, sizeof(buf), heads[i], container);
	if (i == nul) {
		buf[n++] = '\0';
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "b: c\r\n\r\n");
	}
	send_all(s, buf, (size_t)n);
	if (i == blank) {
		/* empty lines before a request are skipped: no answer yet */
		usleep(100000);
		close(s);
		count_outcome(K_FRAMING, NOT_WAITED, 1);
		return;
	}
	finish_conn(s, K_FRAMING, 1, 1);
}

static void k_huge(uint64_t *r, enum kind k)
{
	struct azb_str h = {0};
	char *line = filled(MIB, 'a');
	enum outcome o;
	int s = connect_lo();

	(void)r;
	if (s < 0) {
		free(line);
		return;
	}
	if (k == K_HUGE_HEADER)
		azb_str_printf(&h, "GET /%s/x HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n",
			       container, line);
	else
		azb_str_printf(&h, "GET /%s/%s HTTP/1.1\r\nHost: x\r\n\r\n",
			       container, line);
	free(line);
	o = send_drain(s, h.p, h.len, HUNG_MS, 1);
	azb_str_free(&h);
	close(s);
	count_outcome(k, o, 1);
}

static void k_many_headers(uint64_t *r)
{
	struct azb_str h = {0};
	enum outcome o;
	unsigned int i;
	int s = connect_lo();

	(void)r;
	if (s < 0)
		return;
	azb_str_printf(&h, "GET /%s/x HTTP/1.1\r\nHost: x\r\n", container);
	for (i = 0; i < 20000; i++)
		azb_str_printf(&h, "X-%u: %u\r\n", i, i);
	azb_str_puts(&h, "\r\n");
	o = send_drain(s, h.p, h.len, HUNG_MS, 1);
	azb_str_free(&h);
	close(s);
	count_outcome(K_MANY_HEADERS, o, 1);
}

/*
 * Content-Length larger than the body: azblobd takes a buffer of the
 * declared size; the client sends part and closes or resets after a
 * moment (a client that died mid-upload).
 */
static void k_cl_short(uint64_t *r)
{
	static const size_t sizes[] = {
		1000, 65536, MIB, 8 * MIB, 33529856,
	};
	size_t decl = sizes[rnd(r) % 5], sent = rnd(r) % (decl < 65536 ? decl : 65536);
	char head[256], *body = filled(sent, 'b');
	int n, s = connect_lo();

	if (s < 0) {
		free(body);
		return;
	}
	n = snprintf(head, sizeof(head),
		     "PUT /%s/lie-%u HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: %zu\r\n\r\n",
		     container, rnd(r) % 100, decl);
	if (send_all(s, head, (size_t)n))
		send_all(s, body, sent);
	free(body);
	usleep(1000 * (rnd(r) % 200));
	if (rnd(r) & 1)
		reset_close(s);
	else
		close(s);
	count_outcome(K_CL_SHORT, NOT_WAITED, 1);
}

/*
 * Content-Length shorter than the body: the rest is read as the next
 * request (garbage). The first goes to the device without credentials.
 */
static void k_cl_long(uint64_t *r)
{
	char buf[512];
	int n, s = connect_lo();

	if (s < 0)
		return;
	n = snprintf(buf, sizeof(buf),
		     "PUT /%s/lie-long-%u HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 5\r\n\r\n0123456789 and then some GARBAGE\r\n\r\n",
		     container, rnd(r) % 100);
	send_all(s, buf, (size_t)n);
	finish_conn(s, K_CL_LONG, 2, 2);
}

static void k_cl_bad(uint64_t *r)
{
	static const char *const lens[] = {
		"-5", "99999999999999999999999", "12abc", "", " 5 5",
		"0x10", "5, 7", "18446744073709551615", "+5",
	};
	char buf[512];
	unsigned int i = rnd(r) % (sizeof(lens) / sizeof(lens[0]));
	int n, s = connect_lo();

	if (s < 0)
		return;
	if (rnd(r) % 3 == 0)
		n = snprintf(buf, sizeof(buf),
			     "PUT /%s/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n01234",
			     container);
	else
		n = snprintf(buf, sizeof(buf),
			     "PUT /%s/x HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n01234",
			     container, lens[i]);
	send_all(s, buf, (size_t)n);
	finish_conn(s, K_CL_BAD, 1, 1);
}

/*
 * Requests azblobd answers itself on a kept-alive connection (a
 * path-style URL with Shared Key, a chunked upload, two Range headers),
 * sent in one go, then garbage that ends the connection.
 */
static void k_pipeline(uint64_t *r)
{
	struct azb_str h = {0};
	unsigned int i, n = 20 + rnd(r) % 81;
	enum outcome o;
	int s = connect_lo();

	if (s < 0)
		return;
	for (i = 0; i < n; i++) {
		switch (rnd(r) % 3) {
		case 0:
			azb_str_printf(&h, "GET /%s/%s/p%u HTTP/1.1\r\nHost: x\r\nAuthorization: SharedKey %s:AAAA\r\n\r\n",
				       account, container, i, account);
			break;
		case 1:
			azb_str_printf(&h, "GET /%s/p%u HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n",
				       container, i);
			break;
		default:
			azb_str_printf(&h, "HEAD /%s/%s/p%u?comp=list HTTP/1.1\r\nHost: x\r\nAuthorization: SharedKey %s:BBBB\r\n\r\n",
				       account, container, i, account);
			break;
		}
	}
	azb_str_puts(&h, "\x16\x03\x01 not http at all\r\n\r\n");
	/* an answer each, and one (400) for the garbage */
	o = send_drain(s, h.p, h.len, HUNG_MS, n + 1);
	azb_str_free(&h);
	close(s);
	count_outcome(K_PIPELINE, o, n + 1);
}

/* A head (or a body) a few bytes at a time over a second or two. */
static void k_slow(uint64_t *r, enum kind k)
{
	char buf[512];
	size_t n, i, step;
	int s = connect_lo();

	if (s < 0)
		return;
	if (k == K_SLOW_HEAD)
		n = (size_t)snprintf(buf, sizeof(buf),
				     "GET /%s/%s/slow HTTP/1.1\r\nHost: x\r\nAuthorization: SharedKey %s:CCCC\r\nX-Padding: %0100u\r\n\r\n",
				     account, container, account, 0u);
	else
		n = (size_t)snprintf(buf, sizeof(buf),
				     "PUT /%s/slow HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 4096\r\n\r\n%0200u",
				     container, 0u);
	step = 1 + rnd(r) % 8;
	for (i = 0; i < n; i += step) {
		if (!send_all(s, buf + i, n - i < step ? n - i : step))
			break;
		usleep(10000 + 1000 * (rnd(r) % 20));
	}
	if (k == K_SLOW_BODY) {
		/* never finished: 200 of 4096 bytes, then gone */
		close(s);
		count_outcome(k, NOT_WAITED, 1);
		return;
	}
	finish_conn(s, k, 1, 1);
}

static void k_early(uint64_t *r, enum kind k)
{
	char buf[512], *body;
	size_t n, cut;
	int s = connect_lo();

	if (s < 0)
		return;
	if (k == K_EARLY_HEAD) {
		n = (size_t)snprintf(buf, sizeof(buf),
				     "PUT /%s/early HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 100\r\n\r\n",
				     container);
		cut = 1 + rnd(r) % (n - 2);
		send_all(s, buf, cut);
	} else {
		n = (size_t)snprintf(buf, sizeof(buf),
				     "PUT /%s/early HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 262144\r\n\r\n",
				     container);
		cut = rnd(r) % 262144;
		body = filled(cut, 'e');
		if (send_all(s, buf, n))
			send_all(s, body, cut);
		free(body);
	}
	if (rnd(r) % 4)
		usleep(1000 * (rnd(r) % 50));
	if (rnd(r) & 1)
		reset_close(s);
	else
		close(s);
	count_outcome(k, NOT_WAITED, 1);
}

static void k_expect_big(uint64_t *r)
{
	char buf[512];
	int n, s = connect_lo();

	if (s < 0)
		return;
	n = snprintf(buf, sizeof(buf),
		     "PUT /%s/big-%u HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nAuthorization: SharedKey %s:DDDD\r\nExpect: 100-continue\r\nContent-Length: 40000000\r\n\r\n",
		     container, rnd(r) % 100, account);
	send_all(s, buf, (size_t)n);
	finish_conn(s, K_EXPECT_BIG, 1, 1);
}

static void k_idle(uint64_t *r)
{
	int s = connect_lo();

	if (s < 0)
		return;
	usleep(1000 * (rnd(r) % 300));
	close(s);
	count_outcome(K_IDLE, NOT_WAITED, 1);
}

/* A split GET of a large blob: reset after a little, or not read. */
static void k_split(uint64_t *r, enum kind k)
{
	char buf[65536];
	size_t got = 0, stop = 1 + rnd(r) % (4 * MIB);
	ssize_t n;
	int s;

	if (!sas || !big)
		return;
	s = connect_lo();
	if (s < 0)
		return;
	n = snprintf(buf, sizeof(buf), "GET /%s/%s?%s HTTP/1.1\r\nHost: x\r\n\r\n",
		     container, big, sas);
	send_all(s, buf, (size_t)n);
	if (k == K_NO_READ) {
		sleep(1 + rnd(r) % 2);
	} else {
		while (got < stop) {
			n = recv(s, buf, sizeof(buf), 0);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	reset_close(s);
	count_outcome(k, NOT_WAITED, 1);
}

static enum kind pick(uint64_t *r)
{
	unsigned int total = 0, i, x;

	for (i = 0; i < K_NKINDS; i++)
		total += kinds[i].weight;
	x = rnd(r) % total;
	for (i = 0; i < K_NKINDS; i++) {
		if (x < kinds[i].weight)
			return (enum kind)i;
		x -= kinds[i].weight;
	}
	return K_GARBAGE;
}

static void *hostile_thread(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + seed;

	while (atomic_load(&done_requests) < want_requests) {
		enum kind k = pick(&r);

		/* connections that fail count nothing: stop somewhere */
		if (atomic_fetch_add(&claimed, 1) >= want_requests * 2)
			break;
		switch (k) {
		case K_GARBAGE: k_garbage(&r); break;
		case K_FRAMING: k_framing(&r); break;
		case K_HUGE_HEADER: case K_HUGE_LINE: k_huge(&r, k); break;
		case K_MANY_HEADERS: k_many_headers(&r); break;
		case K_CL_SHORT: k_cl_short(&r); break;
		case K_CL_LONG: k_cl_long(&r); break;
		case K_CL_BAD: k_cl_bad(&r); break;
		case K_PIPELINE: k_pipeline(&r); break;
		case K_SLOW_HEAD: case K_SLOW_BODY: k_slow(&r, k); break;
		case K_EARLY_HEAD: case K_EARLY_BODY: k_early(&r, k); break;
		case K_EXPECT_BIG: k_expect_big(&r); break;
		case K_IDLE: k_idle(&r); break;
		case K_SPLIT_ABORT: case K_NO_READ: k_split(&r, k); break;
		default: break;
		}
	}
	return NULL;
}

/* ---- valid round trips ---- */

static atomic_ullong v_trips, v_bytes, v_failed;
static pthread_mutex_t v_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int v_reported;

static void v_fail(unsigned int id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void v_fail(unsigned int id, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	atomic_fetch_add(&v_failed, 1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&v_lock);
	if (v_reported++ < 20)
		printf("valid-failure client %u: %s\n", id, msg);
	fflush(stdout);
	pthread_mutex_unlock(&v_lock);
}

struct vconn {
	int s;
	char *buf;	/* response head and body */
	size_t cap;
};

/*
 * One request on the client's kept-alive connection (opened when
 * needed); the answer's status, and its body in c->buf (*blen bytes).
 */
static int v_request(struct vconn *c, const char *method, const char *path,
		     const char *body, size_t body_len, size_t *blen,
		     char *why, size_t whylen)
{
	struct azb_request r;
	struct azb_str head = {0}, authz = {0};
	struct azb_response resp;
	struct pollfd p;
	size_t got = 0, hoff = 0, need = 0;
	char date[64], num[32], *hend;
	int status = -1;
	ssize_t n;

	azb_req_init(&r, NULL);
	r.method = (char *)method;
	azb_str_puts(&r.path, path);
	azb_req_header(&r, "Host", "127.0.0.1");
	azb_req_header(&r, "x-ms-version", AZB_API_VERSION);
	azb_http_date(date, time(NULL));
	azb_req_header(&r, "x-ms-date", date);
	if (!strcmp(method, "PUT")) {
		azb_req_header(&r, "x-ms-blob-type", "BlockBlob");
		snprintf(num, sizeof(num), "%zu", body_len);
		azb_req_header(&r, "Content-Length", num);
	}
	azb_sharedkey_sign(&r, account, "", key, key_len, &authz);
	azb_req_header(&r, "Authorization", authz.p);
	azb_req_head(&r, &head);
	r.method = NULL;
	azb_req_free(&r);
	azb_str_free(&authz);

	if (c->s < 0)
		c->s = connect_lo();
	if (c->s < 0) {
		snprintf(why, whylen, "connect: %s", strerror(errno));
		goto out;
	}
	if (!send_all(c->s, head.p, head.len) ||
	    (body_len && !send_all(c->s, body, body_len))) {
		snprintf(why, whylen, "send: %s", strerror(errno));
		goto out;
	}
	p.fd = c->s;
	p.events = POLLIN;
	for (;;) {
		if (got + 65536 > c->cap) {
			c->cap = c->cap * 2 + 65536;
			c->buf = realloc(c->buf, c->cap);
			if (!c->buf)
				abort();
		}
		if (poll(&p, 1, 600000) <= 0) {
			snprintf(why, whylen, "no answer in 600 s");
			goto out;
		}
		n = recv(c->s, c->buf + got, c->cap - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, whylen, "connection closed after %zu bytes of the answer",
				 got);
			goto out;
		}
		got += (size_t)n;
		if (!hoff) {
			hend = memmem(c->buf, got, "\r\n\r\n", 4);
			if (!hend)
				continue;
			hoff = (size_t)(hend - c->buf) + 4;
			if (azb_parse_response_head(c->buf, got, &resp)) {
				snprintf(why, whylen, "malformed response head");
				goto out;
			}
			status = resp.status;
			need = resp.content_length > 0 && strcmp(method, "HEAD") ?
			       (size_t)resp.content_length : 0;
			azb_response_free(&resp);
		}
		if (got >= hoff + need)
			break;
	}
	if (got != hoff + need) {
		snprintf(why, whylen, "%zu bytes after the answer", got - hoff - need);
		status = -1;
		goto out;
	}
	memmove(c->buf, c->buf + hoff, need);
	*blen = need;
	azb_str_free(&head);
	return status;
out:
	azb_str_free(&head);
	if (c->s >= 0)
		close(c->s);
	c->s = -1;
	return -1;
}

static void *valid_thread(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg, trip = 0;
	uint64_t r = 0x51ed270b27d0a4e7ull ^ ((uint64_t)id << 32) ^ seed;
	struct vconn c = { .s = -1 };
	char *body = azb_xmalloc(max_body + 1), path[128], why[300];
	size_t len, blen, i;
	int st;

	while (!atomic_load(&hostile_done) || trip < 2) {
		switch (rnd(&r) % 8) {
		case 0: len = 0; break;
		case 1: len = 1 + rnd(&r) % 100; break;
		case 7: len = max_body - rnd(&r) % 3; break;
		default: len = rnd(&r) % (max_body / 4 + 1); break;
		}
		for (i = 0; i < len; i++)
			body[i] = (char)rnd(&r);
		snprintf(path, sizeof(path), "/%s/v%u-%u", container, id,
			 trip % 4);
		trip++;
		st = v_request(&c, "PUT", path, body, len, &blen, why,
			       sizeof(why));
		if (st != 201) {
			v_fail(id, "PUT %s (%zu bytes): %d %s", path, len, st,
			       st < 0 ? why : "");
			continue;
		}
		st = v_request(&c, "GET", path, NULL, 0, &blen, why,
			       sizeof(why));
		if (st != 200) {
			v_fail(id, "GET %s: %d %s", path, st, st < 0 ? why : "");
			continue;
		}
		if (blen != len || memcmp(c.buf, body, len)) {
			v_fail(id, "GET %s: %zu bytes, want %zu, or different bytes",
			       path, blen, len);
			continue;
		}
		atomic_fetch_add(&v_trips, 1);
		atomic_fetch_add(&v_bytes, 2 * len);
	}
	if (c.s >= 0)
		close(c.s);
	free(c.buf);
	free(body);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "account", required_argument, NULL, 'a' },
		{ "key", required_argument, NULL, 'k' },
		{ "container", required_argument, NULL, 'c' },
		{ "sas", required_argument, NULL, 's' },
		{ "big", required_argument, NULL, 'B' },
		{ "requests", required_argument, NULL, 'n' },
		{ "workers", required_argument, NULL, 'w' },
		{ "clients", required_argument, NULL, 'm' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int workers = 48, clients = 64, i;
	unsigned long long hung = 0;
	pthread_t *th;
	uint64_t t0, t1;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'a': account = optarg; break;
		case 'k':
			if (azb_b64_decode(optarg, key, sizeof(key), &key_len))
				return 2;
			break;
		case 'c': container = optarg; break;
		case 's': sas = optarg; break;
		case 'B': big = optarg; break;
		case 'n': want_requests = strtoull(optarg, NULL, 10); break;
		case 'w': workers = (unsigned int)atoi(optarg); break;
		case 'm': clients = (unsigned int)atoi(optarg); break;
		case 'b': max_body = strtoull(optarg, NULL, 10); break;
		case 'S': seed = (unsigned int)atoi(optarg); break;
		default: return 2;
		}
	}
	if (!key_len || !workers || optind != argc) {
		fprintf(stderr, "usage: hostile --key B64 [options] (see the source)\n");
		return 2;
	}
	th = azb_xmalloc((workers + clients) * sizeof(*th));
	t0 = now_ms();
	for (i = 0; i < clients; i++)
		if (pthread_create(&th[workers + i], NULL, valid_thread,
				   (void *)(uintptr_t)i))
			return 1;
	for (i = 0; i < workers; i++)
		if (pthread_create(&th[i], NULL, hostile_thread,
				   (void *)(uintptr_t)(i + 1)))
			return 1;
	for (i = 0; i < workers; i++)
		pthread_join(th[i], NULL);
	t1 = now_ms();
	atomic_store(&hostile_done, true);
	for (i = 0; i < clients; i++)
		pthread_join(th[workers + i], NULL);
	for (i = 0; i < K_NKINDS; i++) {
		printf("kind %s requests %llu conns %llu answered %llu closed %llu hung %llu\n",
		       kinds[i].name,
		       (unsigned long long)atomic_load(&tally[i].requests),
		       (unsigned long long)atomic_load(&tally[i].conns),
		       (unsigned long long)atomic_load(&tally[i].answered),
		       (unsigned long long)atomic_load(&tally[i].closed),
		       (unsigned long long)atomic_load(&tally[i].hung));
		hung += atomic_load(&tally[i].hung);
	}
	printf("valid round_trips %llu bytes %llu failed %llu clients %u\n",
	       (unsigned long long)atomic_load(&v_trips),
	       (unsigned long long)atomic_load(&v_bytes),
	       (unsigned long long)atomic_load(&v_failed), clients);
	printf("hostile requests %llu in %.1f s, %u workers\n",
	       (unsigned long long)atomic_load(&done_requests),
	       (double)(t1 - t0) / 1000.0, workers);
	free(th);
	return atomic_load(&v_failed) || hung ||
	       atomic_load(&done_requests) < want_requests ? 1 : 0;
}
