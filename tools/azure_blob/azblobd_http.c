// SPDX-License-Identifier: MIT
/*
 * azblobd: the HTTP front. libmicrohttpd parses HTTP on 127.0.0.1 and
 * ::1 (a thread pool per address); each request is turned back into an
 * HTTP/1.1 request head, byte for byte as the client sent it except for
 * Host (the account's host) and the hop-by-hop headers, and carried
 * through the device as one request:
 *
 *   - an upload (Content-Length > 0) is read into one page-aligned data
 *     buffer and sent when complete. Larger than one device request: a
 *     BlockBlob Put Blob authorized by a SAS or a bearer token goes on
 *     as Put Block + Put Block List (azblobd_put.c); any other (Shared
 *     Key signs the request, anonymous, not a Put Blob) gets 413
 *     RequestBodyTooLarge, naming the client settings to change
 *     (max_single_put_size, maxSingleShotSize);
 *   - anything else gets a data buffer for its answer (part_size for a
 *     GET, 4 KiB for an error body) and no body; a 2xx answer larger
 *     than that goes on as a split GET (azblobd_get.c) when the
 *     request's authorization allows added headers, or is asked again
 *     with a buffer of its size (Shared Key signs the headers: a read
 *     that needs more than one device request cannot be served);
 *   - path-style URLs (/account/container/blob) signed with Shared Key
 *     cover the account twice and cannot be forwarded: 400.
 *
 * The connection is suspended while its request waits for the memory
 * cap or for the device, and resumed by whoever ends the wait.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <misc/hv_azure_blob.h>
#include "azblobd_req.h"

/* per connection: who is on the other end, may it use the device */
struct azd_conn {
	uid_t uid;
	bool denied;
	bool unchecked;		/* no device node to check against yet */
	char why[400];
	char *uri;		/* raw request-target of the current request */
};

static const struct azd_config *cfg;
/* http on 127.0.0.1 and ::1, then https on both when configured */
#define AZD_NDAEMONS	4
static struct MHD_Daemon *daemons[AZD_NDAEMONS];
static char *tls_cert, *tls_key;	/* PEM, read once at start */
static atomic_uint active;
static atomic_ullong st_requests, st_denied, st_errors, st_split,
	st_split_put;

/* ---- reference counting, suspend and resume ---- */

void azd_req_get(struct azd_req *r)
{
	r->refs++;	/* callers hold r->lock or own the only reference */
}

void azd_req_put(struct azd_req *r)
{
	unsigned int i, left;

	pthread_mutex_lock(&r->lock);
	left = --r->refs;
	pthread_mutex_unlock(&r->lock);
	if (left)
		return;
	azd_job_free(r->job);
	for (i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	free(r->uri);
	free(r->st);
	azd_put_free(r->put);
	azb_str_free(&r->err_body);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void azd_req_suspend_locked(struct azd_req *r)
{
	if (r->suspended)
		return;
	r->suspended = true;
	MHD_suspend_connection(r->mc);
}

bool azd_req_wake_locked(struct azd_req *r)
{
	if (!r->suspended)
		return false;
	r->suspended = false;
	return true;
}

void azd_req_resume(struct azd_req *r)
{
	MHD_resume_connection(r->mc);
}

void azd_job_end_unlock(struct azd_req *r, bool wake, struct azd_job *orphan)
{
	pthread_mutex_unlock(&r->lock);
	if (wake)
		azd_req_resume(r);
	azd_job_free(orphan);
	azd_req_put(r);
}

/* ---- the request head for the device ---- */

static const char *req_header(const struct azd_req *r, const char *name)
{
	unsigned int i;

	for (i = 0; i < r->nhdrs; i++)
		if (!strcasecmp(r->hdrs[i].name, name))
			return r->hdrs[i].value;
	return NULL;
}

const char *azd_req_header(const struct azd_req *r, const char *name)
{
	return req_header(r, name);
}

/* Hop-by-hop: for this connection only, never signed by Shared Key. */
static bool hop_by_hop(const char *name)
{
	static const char *const names[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "TE",
		"Trailer", "Transfer-Encoding", "Upgrade", "Expect",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i]))
			return true;
	return false;
}

/* replaced in the parts of a split GET */
static bool part_replaced(const char *name)
{
	static const char *const names[] = {
		"Range", "x-ms-range", "If-Match", "If-None-Match",
		"If-Modified-Since", "If-Unmodified-Since",
		"x-ms-range-get-content-md5", "x-ms-range-get-content-crc64",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i]))
			return true;
	return false;
}

void azd_build_head(const struct azd_req *r, struct azb_str *out,
		    const char *range, const char *etag)
{
	bool host = false;
	unsigned int i;

	out->len = 0;
	azb_str_printf(out, "%s %s HTTP/1.1\r\n", r->method, r->uri);
	for (i = 0; i < r->nhdrs; i++) {
		const struct azd_hdr *h = &r->hdrs[i];

		if (!strcasecmp(h->name, "Host")) {
			if (!host)
				azb_str_printf(out, "Host: %s\r\n",
					       r->cfg->host);
			host = true;
			continue;
		}
		if (hop_by_hop(h->name) || (range && part_replaced(h->name)))
			continue;
		azb_str_printf(out, "%s: %s\r\n", h->name, h->value);
	}
	if (!host)
		azb_str_printf(out, "Host: %s\r\n", r->cfg->host);
	if (range) {
		azb_str_printf(out, "x-ms-range: %s\r\n", range);
		azb_str_printf(out, "If-Match: %s\r\n", etag);
	}
	azb_str_puts(out, "\r\n");
}

void azd_copy_headers(struct MHD_Response *resp,
		      const struct azb_response *dev)
{
	int i;

	for (i = 0; i < dev->nhdr; i++) {
		const char *n = dev->hdr[i].name;

		/*
		 * The library writes Content-Length, the framing and Date (a
		 * response with a Date of its own makes libmicrohttpd 0.9.75
		 * close a connection that was suspended).
		 */
		if (!strcasecmp(n, "Content-Length") ||
		    !strcasecmp(n, "Date") || hop_by_hop(n))
			continue;
		if (MHD_add_response_header(resp, n, dev->hdr[i].value) !=
		    MHD_YES)
			azd_log(AZD_DEBUG, "response header '%s' refused", n);
	}
}

/* ---- answers of our own ---- */

static void xml_escape(struct azb_str *s, const char *t)
{
	for (; *t; t++) {
		switch (*t) {
		case '<': azb_str_puts(s, "&lt;"); break;
		case '>': azb_str_puts(s, "&gt;"); break;
		case '&': azb_str_puts(s, "&amp;"); break;
		case '"': azb_str_puts(s, "&quot;"); break;
		default: azb_str_add(s, t, 1); break;
		}
	}
}

static enum MHD_Result queue_error(struct azd_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(r->err_body.len, r->err_body.p,
					       MHD_RESPMEM_MUST_COPY);
	azb_str_free(&r->err_body);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/xml");
	MHD_add_response_header(resp, "x-ms-error-code", r->err_code);
	MHD_add_response_header(resp, "Server", "azblobd");
	r->state = AZD_ST_ANSWERED;
	ret = MHD_queue_response(r->mc, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * An answer of our own, in the blob service's error format. One decided
 * in the request's first call waits for the request's end (its body is
 * read and dropped): libmicrohttpd closes the connection after a
 * response queued that early, and a client still sending its body would
 * see the closed connection rather than the answer. It goes at once when
 * the client asked for it (Expect: 100-continue), or when the body is
 * chunked or larger than DRAIN_MAX.
 */
#define DRAIN_MAX	(1ull << 30)

static enum MHD_Result answer_verror(struct azd_req *r, unsigned int status,
				     const char *code, const char *fmt,
				     va_list ap)
	__attribute__((format(printf, 4, 0)));

static enum MHD_Result answer_verror(struct azd_req *r, unsigned int status,
				     const char *code, const char *fmt,
				     va_list ap)
{
	const char *expect = req_header(r, "Expect");
	char msg[1536];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	r->err_body.len = 0;
	azb_str_puts(&r->err_body, "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		     "<Error><Code>");
	xml_escape(&r->err_body, code);
	azb_str_puts(&r->err_body, "</Code><Message>");
	xml_escape(&r->err_body, msg);
	azb_str_puts(&r->err_body, "</Message></Error>");
	snprintf(r->err_code, sizeof(r->err_code), "%s", code);
	r->status = status;
	atomic_fetch_add(&st_errors, 1);
	azd_log(AZD_NOTICE, "uid %u %s: %u %s: %s", (unsigned int)r->uid,
		r->method, status, code, msg);
	if (r->first_call && !(expect && !strcasecmp(expect, "100-continue")) &&
	    !r->chunked && r->clen <= DRAIN_MAX) {
		r->state = AZD_ST_DRAIN;
		return MHD_YES;
	}
	return queue_error(r);
}

enum MHD_Result azd_answer_error(struct azd_req *r, unsigned int status,
				 const char *code, const char *fmt, ...)
{
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	ret = answer_verror(r, status, code, fmt, ap);
	va_end(ap);
	return ret;
}

static enum MHD_Result answer_device_error(struct azd_req *r)
{
	const struct azb_xfer *x = r->job->x;

	if (x->terr == -ENODEV || x->terr == -ENOENT)
		return azd_answer_error(r, 503, "DeviceUnavailable",
				    "%s is not available (%s); retry later",
				    r->cfg->device, x->terr_msg);
	return azd_answer_error(r, 502, "DeviceRequestFailed",
			    "the request did not reach the blob service through %s: %s",
			    r->cfg->device, x->terr_msg);
}

/* ---- answers from the device ---- */

static void free_job_cb(void *cls)
{
	azd_job_free(cls);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The device's answer, whole: its head and the body in the data buffer. */
static enum MHD_Result answer_whole(struct azd_req *r,
				    const struct azb_response *dev)
{
	struct azd_job *j = r->job;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->is_head) {
		uint64_t size = dev->content_length > 0 ?
				(uint64_t)dev->content_length : 0;

		resp = MHD_create_response_from_callback(size, 4096, no_body,
							 NULL, NULL);
	} else {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
			j->x->rlen, j->data, free_job_cb, j);
		if (resp)
			r->job = NULL;	/* the response owns it now */
	}
	if (!resp)
		return MHD_NO;
	azd_copy_headers(resp, dev);
	r->status = (unsigned int)dev->status;
	r->bytes_out = r->is_head ? 0 : j->x->rlen;
	r->state = AZD_ST_ANSWERED;
	ret = MHD_queue_response(r->mc, (unsigned int)dev->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool splittable(const struct azd_req *r)
{
	return r->auth == AZD_AUTH_SAS || r->auth == AZD_AUTH_BEARER ||
	       r->auth == AZD_AUTH_NONE;
}

static void first_done(struct azd_job *j);
static void first_granted(struct azd_mem_wait *w);

/*
 * Hand the first job to the device (under r->lock), or queue it for the
 * memory cap. Returns -ENOMEM if its buffer cannot be mapped.
 */
static int first_go_locked(struct azd_req *r)
{
	struct azd_job *j = r->job;
	size_t charge = azd_job_charge(j->x->head_len, j->data_alloc);

	if (!azd_mem_take(&r->mw, charge)) {
		azd_req_get(r);		/* the wait's reference */
		r->state = AZD_ST_WAIT_MEM;
		return 0;
	}
	j->charged = charge;
	if (azd_job_map(j))
		return -ENOMEM;
	if (j->x->body_len) {
		r->state = AZD_ST_BODY;
		return 0;
	}
	r->state = AZD_ST_DEVICE;
	r->job_done = false;
	azd_req_get(r);			/* the job's reference */
	azd_dev_submit(j);
	return 0;
}

static void first_granted(struct azd_mem_wait *w)
{
	struct azd_req *r = (struct azd_req *)((char *)w -
					       offsetof(struct azd_req, mw));
	struct azd_job *j;
	bool wake = false;

	pthread_mutex_lock(&r->lock);
	j = r->job;
	j->charged = w->bytes;
	if (!r->gone) {
		if (azd_job_map(j)) {
			/* answered as a device failure when resumed */
			j->x->terr = -ENOMEM;
			snprintf(j->x->terr_msg, sizeof(j->x->terr_msg),
				 "out of memory for the request's buffers");
			r->state = AZD_ST_DEVICE;
			r->job_done = true;
		} else if (j->x->body_len) {
			r->state = AZD_ST_BODY;
		} else {
			r->state = AZD_ST_DEVICE;
			r->job_done = false;
			azd_req_get(r);
			azd_dev_submit(j);
		}
		wake = r->state == AZD_ST_BODY || r->job_done;
		if (wake)
			wake = azd_req_wake_locked(r);
	}
	pthread_mutex_unlock(&r->lock);
	if (wake)
		azd_req_resume(r);
	azd_req_put(r);
}

static void first_done(struct azd_job *j)
{
	struct azd_req *r = j->owner;
	bool wake;

	pthread_mutex_lock(&r->lock);
	r->job_done = true;
	r->dev_requests++;
	wake = azd_req_wake_locked(r);
	pthread_mutex_unlock(&r->lock);
	if (wake)
		azd_req_resume(r);
	azd_req_put(r);
}

static struct azd_job *new_first_job(struct azd_req *r, size_t data_len,
				     bool upload)
{
	struct azb_str head = {0};
	struct azd_job *j;

	azd_build_head(r, &head, NULL, NULL);
	j = azd_job_new(head.p, head.len, data_len, upload, r->is_head,
			r->cfg->request_timeout_ms);
	azb_str_free(&head);
	if (j) {
		j->owner = r;
		j->done = first_done;
	}
	return j;
}

/*
 * Start the first job (or queue it for the memory cap). Never suspends:
 * libmicrohttpd 0.9.75 calls a handler that suspended in its first call
 * again as a first call, and a response queued there closes the
 * connection. The next call suspends while the job is away.
 */
static enum MHD_Result first_start(struct azd_req *r, size_t data_len,
				   bool upload)
{
	int ret;

	azd_job_free(r->job);
	r->job = new_first_job(r, data_len, upload);
	if (!r->job)
		return azd_answer_error(r, 503, "ServerBusy",
				    "azblobd is out of memory");
	r->mw.granted = first_granted;
	pthread_mutex_lock(&r->lock);
	ret = first_go_locked(r);
	pthread_mutex_unlock(&r->lock);
	if (ret)
		return azd_answer_error(r, 503, "ServerBusy",
				    "azblobd could not map %zu bytes for the request",
				    data_len);
	return MHD_YES;
}

/* The first job is back: answer, reissue, or stream. */
static enum MHD_Result first_reply(struct azd_req *r)
{
	struct azd_job *j = r->job;
	struct azb_response dev;
	enum MHD_Result ret;
	uint64_t total;
	size_t max;

	if (j->x->terr)
		return answer_device_error(r);
	if (azb_parse_response_head(j->x->resp, j->x->resp_len, &dev))
		return azd_answer_error(r, 502, "DeviceRequestFailed",
				    "the host's response head is malformed (%zu bytes)",
				    j->x->resp_len);
	if (!j->x->overflow || r->is_head || dev.status / 100 != 2) {
		/* an error body larger than its buffer is cut there */
		ret = answer_whole(r, &dev);
		azb_response_free(&dev);
		return ret;
	}
	total = (uint64_t)dev.content_length;
	max = azd_max_data(j->x->head_len);
	if (r->blob_get && splittable(r) && azb_resp_get(&dev, "ETag")) {
		atomic_fetch_add(&st_split, 1);
		ret = azd_stream_start(r, &dev);
		azb_response_free(&dev);
		return ret;
	}
	azb_response_free(&dev);
	if (!r->reissued && total <= max) {
		/* the same request again with room for all of the answer */
		r->reissued = true;
		return first_start(r, (size_t)total, false);
	}
	if (r->blob_get)
		return azd_answer_error(r, 400, "ResponseTooLargeForDevice",
				    "Read in ranges of at most %zu bytes (Python azure-storage-blob: max_single_get_size and max_chunk_get_size; JavaScript: downloadToBuffer with blockSize, as download() and downloadToFile() read in one GET; azblob: --chunk-size), or authorize with a SAS, with which azblobd splits large reads itself. This read returns %llu bytes in one response, more than one request through %s carries, and its Shared Key signature covers the range headers",
				    max, (unsigned long long)total,
				    r->cfg->device);
	return azd_answer_error(r, 502, "ResponseTooLargeForDevice",
			    "the answer has %llu bytes, more than the %zu one request through the device carries",
			    (unsigned long long)total, max);
}

/* ---- the request's first call: look at it, then start ---- */

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, size_t key_size,
				      const char *value, size_t value_size)
{
	struct azd_req *r = cls;
	struct azd_hdr *h;

	(void)kind;
	if (!(r->nhdrs & 15))
		r->hdrs = realloc(r->hdrs, sizeof(*r->hdrs) * (r->nhdrs + 16));
	if (!r->hdrs)
		abort();
	h = &r->hdrs[r->nhdrs++];
	h->name = strndup(key, key_size);
	h->value = strndup(value ? value : "", value ? value_size : 0);
	if (!h->name || !h->value)
		abort();
	return MHD_YES;
}

/* "bytes=A-B" or "bytes=A-": one range; anything else is no range */
static void parse_range(struct azd_req *r)
{
	const char *v = req_header(r, "x-ms-range");
	unsigned long long a, b;
	char *end;

	if (!v)
		v = req_header(r, "Range");
	if (!v || strncmp(v, "bytes=", 6) || v[6] < '0' || v[6] > '9')
		return;
	a = strtoull(v + 6, &end, 10);
	if (*end != '-')
		return;
	if (!end[1]) {
		b = UINT64_MAX;
	} else {
		if (end[1] < '0' || end[1] > '9')
			return;
		b = strtoull(end + 1, &end, 10);
		if (*end || b < a)
			return;
	}
	r->has_range = true;
	r->range_first = a;
	r->range_last = b;
}

static bool query_has(const char *uri, const char *key)
{
	const char *q = strchr(uri, '?');
	size_t n = strlen(key);

	while (q) {
		q++;
		if (!strncasecmp(q, key, n) && q[n] == '=')
			return true;
		q = strchr(q, '&');
	}
	return false;
}

static void classify(struct azd_req *r)
{
	const char *a = req_header(r, "Authorization");
	const char *v;

	if (a && (!strncasecmp(a, "SharedKey ", 10) ||
		  !strncasecmp(a, "SharedKeyLite ", 14)))
		r->auth = AZD_AUTH_SHAREDKEY;
	else if (a && !strncasecmp(a, "Bearer ", 7))
		r->auth = AZD_AUTH_BEARER;
	else if (a)
		r->auth = AZD_AUTH_OTHER;
	else if (query_has(r->uri, "sig"))
		r->auth = AZD_AUTH_SAS;
	else
		r->auth = AZD_AUTH_NONE;
	v = req_header(r, "Content-Length");
	if (v) {
		char *end;

		r->has_clen = true;
		r->clen = strtoull(v, &end, 10);
	}
	v = req_header(r, "Transfer-Encoding");
	r->chunked = v && strcasecmp(v, "identity");
	r->is_head = !strcmp(r->method, "HEAD");
	r->blob_get = !strcmp(r->method, "GET") && !query_has(r->uri, "comp") &&
		      !query_has(r->uri, "restype");
	parse_range(r);
}

/* The account as the first path segment: /acct, /acct/..., /acct?... */
static size_t account_prefix(const struct azd_req *r)
{
	size_t n = strlen(r->cfg->account);
	const char *u = r->uri;

	if (u[0] != '/' || strncasecmp(u + 1, r->cfg->account, n))
		return 0;
	if (u[n + 1] && u[n + 1] != '/' && u[n + 1] != '?')
		return 0;
	return n + 1;
}

static size_t first_size(const struct azd_req *r, size_t max)
{
	uint64_t want;

	if (r->is_head)
		return 0;
	if (!strcmp(r->method, "GET")) {
		want = r->cfg->part_size;
		if (r->blob_get && r->has_range &&
		    r->range_last != UINT64_MAX &&
		    r->range_last - r->range_first + 1 < want)
			want = r->range_last - r->range_first + 1;
		if (want < AZD_ERRBODY)
			want = AZD_ERRBODY;
		return want < max ? (size_t)want : max;
	}
	return AZD_ERRBODY;
}

static unsigned int header_count(const struct azd_req *r, const char *name)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->nhdrs; i++)
		n += !strcasecmp(r->hdrs[i].name, name);
	return n;
}

/* RFC 9110 token: a method or a header name */
static bool is_token(const char *s)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || (*s && strchr(extra, *s))))
			return false;
	return true;
}

/*
 * What the library let through but the head for the device cannot
 * carry as it is (the host refuses such a head as malformed): a method
 * or header name that is not a token, a request-target with blanks or
 * control bytes, a header value with control bytes. NULL: none.
 */
static const char *malformed(const struct azd_req *r, const char **code)
{
	const unsigned char *p;
	unsigned int i;

	*code = "InvalidUri";
	if (!is_token(r->method))
		return "the method is not a token";
	for (p = (const unsigned char *)r->uri; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return "the request-target has a blank, control or non-ASCII byte";
	*code = "InvalidHeaderName";
	for (i = 0; i < r->nhdrs; i++) {
		if (!is_token(r->hdrs[i].name))
			return "a header name is not a token";
		for (p = (const unsigned char *)r->hdrs[i].value; *p; p++)
			if ((*p < ' ' && *p != '\t') || *p == 0x7f)
				return "a header value has a control byte";
	}
	return NULL;
}

static enum MHD_Result begin(struct azd_req *r, struct azd_conn *c)
{
	/* one of each, or the host and we could read different requests */
	static const char *const once[] = {
		"Content-Length", "Host", "Transfer-Encoding", "Authorization",
		"x-ms-range", "Range",
	};
	struct azb_str head = {0};
	const char *bad, *code;
	size_t strip, max, i;
	int ret;

	if (c->unchecked) {
		/* the node was away at connect time: check when it is back */
		ret = azd_access(c->uid, r->cfg->device, c->why,
				 sizeof(c->why));
		if (ret == -ENOENT)
			return azd_answer_error(r, 503, "DeviceUnavailable",
					    "%s is not available (%s); retry later",
					    r->cfg->device, c->why);
		c->unchecked = false;
		c->denied = ret != 0;
	}
	if (c->denied) {
		atomic_fetch_add(&st_denied, 1);
		return azd_answer_error(r, 403, "DeviceAccessDenied",
				    "%s (azblobd serves only users who could open %s themselves)",
				    c->why, r->cfg->device);
	}
	if (r->uri[0] != '/')
		return azd_answer_error(r, 400, "InvalidUri",
				    "the request-target must be a path (origin form), not '%.100s'",
				    r->uri);
	bad = malformed(r, &code);
	if (bad)
		return azd_answer_error(r, 400, code,
				    "the request is malformed: %s", bad);
	classify(r);
	strip = account_prefix(r);
	if (strip && r->auth != AZD_AUTH_SAS && r->auth != AZD_AUTH_BEARER &&
	    r->auth != AZD_AUTH_NONE) {
		const char *h = req_header(r, "Host");

		return azd_answer_error(r, 400, "PathStyleNotSupported",
				    "Use the endpoint without the account in its path: BlobEndpoint=http://%s;AccountName=%s in the connection string, or the account URL http://%s. This URL is path-style (/%s/...): its Shared Key signature covers the account twice, and no request to %s can carry that",
				    h ? h : "127.0.0.1", r->cfg->account,
				    h ? h : "127.0.0.1", r->cfg->account,
				    r->cfg->host);
	}
	if (strip) {
		/* SAS and bearer sign no path: drop the account segment */
		memmove(r->uri, r->uri + strip, strlen(r->uri + strip) + 1);
		if (r->uri[0] != '/') {
			memmove(r->uri + 1, r->uri, strlen(r->uri) + 1);
			r->uri[0] = '/';
		}
	}
	for (i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		if (header_count(r, once[i]) > 1)
			return azd_answer_error(r, 400, "InvalidHeaderValue",
					    "the request has more than one %s header",
					    once[i]);
	if (r->chunked && !r->has_clen)
		return azd_answer_error(r, 411, "MissingContentLengthHeader",
				    "uploads need Content-Length: the blob service takes no chunked bodies");
	if (r->chunked)
		/*
		 * The library reads the chunked body; Content-Length would
		 * be sent on with a body of another length (or one that
		 * never completes, holding its buffer until the timeout).
		 */
		return azd_answer_error(r, 400, "InvalidHeaderValue",
				    "the request has both Transfer-Encoding and Content-Length: send a body with Content-Length only");
	azd_build_head(r, &head, NULL, NULL);
	max = azd_max_data(head.len);
	azb_str_free(&head);
	if (r->has_clen && r->clen > max && azd_put_splittable(r)) {
		/* SAS or bearer: Put Block + Put Block List (azblobd_put.c) */
		atomic_fetch_add(&st_split_put, 1);
		return azd_put_start(r);
	}
	if (r->has_clen && r->clen > max)
		return azd_answer_error(r, 413, "RequestBodyTooLarge",
				    "Upload in blocks of at most %zu bytes (Python azure-storage-blob: max_single_put_size and max_block_size; JavaScript: maxSingleShotSize and blockSize; azblob: --put-threshold and --chunk-size). This body has %llu bytes, more than one request through %s carries (%u pages of 4 KiB for the body, the request head and the response head together), and azblobd cannot split %s",
				    max, (unsigned long long)r->clen,
				    r->cfg->device, AZ_BLOB_MAX_PAGES,
				    r->auth == AZD_AUTH_SHAREDKEY ?
				    "an upload signed with Shared Key (with a SAS or a bearer token it turns a BlockBlob Put Blob into Put Block + Put Block List itself)" :
				    "this upload");
	if (r->has_clen && r->clen)
		return first_start(r, (size_t)r->clen, true);
	return first_start(r, first_size(r, max), false);
}

/* ---- libmicrohttpd callbacks ---- */

/*
 * The client closed its end and nothing of it is left to read: the rest
 * of the body never comes. libmicrohttpd 0.9.75 sometimes misses that
 * end when it arrived while its read buffer was full (a body larger than
 * the buffer, the client gone right after its last bytes); the request
 * would hold its buffer and the connection until the idle timeout.
 */
bool azd_req_peer_gone(struct azd_req *r)
{
	const union MHD_ConnectionInfo *ci;
	char c;

	ci = MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Calls after the first: body bytes, then waits, then the answer. */
static enum MHD_Result carry_on(struct azd_req *r, const char *data,
				size_t *size)
{
	enum azd_state state;
	size_t n;

	pthread_mutex_lock(&r->lock);
	state = r->state;
	if (state == AZD_ST_WAIT_MEM ||
	    (state == AZD_ST_DEVICE && !r->job_done)) {
		/* body bytes stay with the library until there is room */
		azd_req_suspend_locked(r);
		pthread_mutex_unlock(&r->lock);
		return MHD_YES;
	}
	pthread_mutex_unlock(&r->lock);

	switch (state) {
	case AZD_ST_PUT:
		return azd_put_carry(r, data, size);
	case AZD_ST_BODY:
		if (*size) {
			n = *size;
			if (n > r->clen - r->body_got)
				n = (size_t)(r->clen - r->body_got);
			memcpy((char *)r->job->data + r->body_got, data, n);
			r->body_got += n;
			*size = 0;
			if (r->body_got < r->clen && azd_req_peer_gone(r))
				return MHD_NO;	/* ends the connection */
			return MHD_YES;
		}
		if (r->body_got < r->clen)
			return MHD_YES;
		pthread_mutex_lock(&r->lock);
		r->state = AZD_ST_DEVICE;
		r->job_done = false;
		azd_req_get(r);		/* the job's reference */
		azd_dev_submit(r->job);
		if (!r->job_done)
			azd_req_suspend_locked(r);
		pthread_mutex_unlock(&r->lock);
		return MHD_YES;
	case AZD_ST_DEVICE:
		*size = 0;
		return first_reply(r);
	case AZD_ST_DRAIN:
		if (*size) {
			*size = 0;	/* the body of a refused request */
			return MHD_YES;
		}
		return queue_error(r);
	default:
		*size = 0;	/* answered already: drop the rest */
		return MHD_YES;
	}
}


static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct azd_req *r = *req_cls;
	const union MHD_ConnectionInfo *ci;
	struct azd_conn *c;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)version;
	if (!r) {
		ci = MHD_get_connection_info(mc,
					     MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		c = ci ? ci->socket_context : NULL;
		if (!c)
			return MHD_NO;
		r = azb_xmalloc(sizeof(*r));
		pthread_mutex_init(&r->lock, NULL);
		r->refs = 1;
		r->mc = mc;
		r->cfg = cfg;
		r->uid = c->uid;
		r->uri = c->uri ? c->uri : azb_xstrdup("/");
		c->uri = NULL;
		snprintf(r->method, sizeof(r->method), "%s", method);
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		MHD_get_connection_values_n(mc, MHD_HEADER_KIND,
					    collect_header, r);
		*req_cls = r;
		atomic_fetch_add(&active, 1);
		atomic_fetch_add(&st_requests, 1);
		r->first_call = true;
		ret = begin(r, c);
		r->first_call = false;
		return ret;
	}

	return carry_on(r, upload_data, upload_data_size);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci;
	struct azd_conn *c;

	(void)cls;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = ci ? ci->socket_context : NULL;
	if (c) {
		free(c->uri);
		c->uri = azb_xstrdup(uri);	/* before the library decodes it */
	}
	return NULL;
}

/* The request-target for the log, with a SAS signature blanked. */
void azd_log_target(const char *uri, char *out, size_t cap)
{
	const char *s = strstr(uri, "sig=");
	size_t n;

	if (!s || (s != uri && s[-1] != '?' && s[-1] != '&')) {
		snprintf(out, cap, "%.200s", uri);
		return;
	}
	n = (size_t)(s - uri) + 4;
	snprintf(out, cap, "%.*s...%.100s", (int)(n > 200 ? 200 : n), uri,
		 strchr(s, '&') ? strchr(s, '&') : "");
}

static void on_completed(void *cls, struct MHD_Connection *mc,
			 void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct azd_req *r = *req_cls;
	struct timespec t1;
	char target[320], split[64];
	bool cancelled;

	(void)cls;
	(void)mc;
	if (!r)
		return;
	*req_cls = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (azd_log_on(AZD_INFO)) {
		azd_log_target(r->uri, target, sizeof(target));
		pthread_mutex_lock(&r->lock);
		azd_put_describe(r->put, split, sizeof(split));
		pthread_mutex_unlock(&r->lock);
		azd_log(AZD_INFO,
			"uid %u %s %s -> %u%s, %u device request%s%s, %llu bytes out, %.1f ms",
			(unsigned int)r->uid, r->method, target, r->status,
			toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" :
			" (connection ended early)", r->dev_requests,
			r->dev_requests == 1 ? "" : "s", split,
			(unsigned long long)(r->st ? azd_stream_bytes(r->st) :
					     r->bytes_out),
			(t1.tv_sec - r->t0.tv_sec) * 1e3 +
			(t1.tv_nsec - r->t0.tv_nsec) / 1e6);
	}
	pthread_mutex_lock(&r->lock);
	r->gone = true;
	pthread_mutex_unlock(&r->lock);
	azd_put_close(r);
	cancelled = r->state == AZD_ST_WAIT_MEM && azd_mem_cancel(&r->mw);
	if (cancelled)
		azd_req_put(r);
	atomic_fetch_sub(&active, 1);
	azd_req_put(r);
}

static void on_connection(void *cls, struct MHD_Connection *mc,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	struct azd_conn *c;
	int ret;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		c = *socket_context;
		if (c) {
			free(c->uri);
			free(c);
		}
		*socket_context = NULL;
		return;
	}
	c = azb_xmalloc(sizeof(*c));
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	ret = ci ? azd_peer_uid(ci->connect_fd, &c->uid) : -EBADF;
	if (ret) {
		c->denied = true;
		c->uid = (uid_t)-1;
		snprintf(c->why, sizeof(c->why),
			 "the connecting process's user could not be found (sock_diag: %s)",
			 strerror(-ret));
	} else {
		ret = azd_access(c->uid, cfg->device, c->why, sizeof(c->why));
		c->unchecked = ret == -ENOENT;
		c->denied = ret && !c->unchecked;
	}
	*socket_context = c;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	azd_log(AZD_INFO, "http: %s", msg);
}

/* ---- start and stop ---- */

static int listen_on(int family, unsigned int port)
{
	struct sockaddr_in a4 = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct sockaddr_in6 a6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons((uint16_t)port),
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	int s, one = 1, e;

	s = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if ((family == AF_INET ?
	     bind(s, (struct sockaddr *)&a4, sizeof(a4)) :
	     bind(s, (struct sockaddr *)&a6, sizeof(a6))) ||
	    listen(s, 256)) {
		e = errno;
		close(s);
		return -e;
	}
	return s;
}

static struct MHD_Daemon *start_one(int fd, bool v6, bool tls)
{
	/* MHD_USE_SUPPRESS_DATE_NO_CLOCK closes suspended connections */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			     MHD_USE_TURBO;
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (v6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	else
		tls_opts[0].option = MHD_OPTION_END;
	return MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_ARRAY, tls_opts,
		MHD_OPTION_END);
}

/* The whole of a PEM file, NUL-terminated, at most 1 MiB. */
static char *read_pem(const char *path)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		azd_log(AZD_ERR, "cannot open %s: %s", path, strerror(e));
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= 1u << 20) {
				azd_log(AZD_ERR, "%s: larger than 1 MiB", path);
				goto fail;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				azd_log(AZD_ERR, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			azd_log(AZD_ERR, "cannot read %s: %s", path,
				strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (!strstr(buf, "-----BEGIN ")) {
		azd_log(AZD_ERR, "%s: not a PEM file", path);
		free(buf);
		return NULL;
	}
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/*
 * One listener: slot 0/1 http on 127.0.0.1/::1, 2/3 https. Without
 * 127.0.0.1 the daemon does not start; ::1 may be missing (a kernel or
 * namespace without IPv6).
 */
static int start_addr(unsigned int slot)
{
	bool v6 = slot & 1, tls = slot >= 2;
	unsigned int port = tls ? cfg->https_port : cfg->port;
	const char *addr = v6 ? "[::1]" : "127.0.0.1";
	const char *proto = tls ? "https" : "http";
	int fd;

	fd = listen_on(v6 ? AF_INET6 : AF_INET, port);
	if (fd < 0) {
		azd_log(v6 ? AZD_WARNING : AZD_ERR,
			"cannot listen on %s:%u (%s): %s", addr, port, proto,
			strerror(-fd));
		return v6 ? 0 : fd;
	}
	daemons[slot] = start_one(fd, v6, tls);
	if (!daemons[slot]) {
		close(fd);
		azd_log(v6 ? AZD_WARNING : AZD_ERR,
			"cannot start the %s server on %s%s", proto, addr,
			tls ? " (certificate and key do not match, or unreadable)" : "");
		return v6 ? 0 : -EIO;
	}
	return 0;
}

int azd_http_start(const struct azd_config *c)
{
	unsigned int slot, nslots = 2;
	int ret;

	cfg = c;
	if (c->https_port) {
		tls_cert = read_pem(c->tls_cert);
		tls_key = tls_cert ? read_pem(c->tls_key) : NULL;
		if (!tls_key)
			return -EINVAL;
		nslots = 4;
	}
	for (slot = 0; slot < nslots; slot++) {
		ret = start_addr(slot);
		if (ret) {
			azd_http_stop();
			return ret;
		}
	}
	return 0;
}

void azd_http_quiesce(void)
{
	MHD_socket s;
	int i;

	for (i = 0; i < AZD_NDAEMONS; i++) {
		if (!daemons[i])
			continue;
		s = MHD_quiesce_daemon(daemons[i]);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
}

unsigned int azd_http_active(void)
{
	return atomic_load(&active);
}

void azd_http_stop(void)
{
	int i;

	for (i = 0; i < AZD_NDAEMONS; i++) {
		if (daemons[i])
			MHD_stop_daemon(daemons[i]);
		daemons[i] = NULL;
	}
	if (tls_key)
		explicit_bzero(tls_key, strlen(tls_key));
	free(tls_key);
	free(tls_cert);
	tls_key = tls_cert = NULL;
}

void azd_http_log_stats(void)
{
	struct azd_dev_stats d;
	uint64_t used, peak, waits;

	azd_dev_get_stats(&d);
	azd_mem_stats(&used, &peak, &waits);
	azd_log(AZD_NOTICE,
		"stats: requests %llu, denied %llu, own errors %llu, split GETs %llu, split PUTs %llu, active %u; device: submitted %llu, completed %llu, failed %llu, up %llu bytes, down %llu bytes, reopened %llu; memory: used %llu, peak %llu, waits %llu",
		(unsigned long long)atomic_load(&st_requests),
		(unsigned long long)atomic_load(&st_denied),
		(unsigned long long)atomic_load(&st_errors),
		(unsigned long long)atomic_load(&st_split),
		(unsigned long long)atomic_load(&st_split_put),
		atomic_load(&active),
		(unsigned long long)d.submitted,
		(unsigned long long)d.completed, (unsigned long long)d.failed,
		(unsigned long long)d.bytes_up,
		(unsigned long long)d.bytes_down,
		(unsigned long long)d.reopens, (unsigned long long)used,
		(unsigned long long)peak, (unsigned long long)waits);
}
