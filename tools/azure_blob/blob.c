// SPDX-License-Identifier: MIT
/*
 * libazblob: Blob operations, retries and the parallel transfer engine.
 *
 * Memory: a transfer keeps at most `parallel` chunk buffers of
 * `chunk_size` bytes (at least two for uploads, which read one chunk ahead
 * to choose between Put Blob and Put Block), plus the block list of an
 * upload (about 40 bytes per block) and one response head buffer (16 KiB)
 * per request in flight. Downloads are written in order, so a pipe works
 * as well as a file.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "internal.h"

#define ERRBUF_SIZE	4096	/* body buffer for error replies */
#define LIST_BUF_START	(256u << 10)
#define RETRY_CAP_MS	10000u
#define RANGE_MD5_MAX	(4u << 20)	/* x-ms-range-get-content-md5 limit */

struct azb_client {
	struct azb_config cfg;
	struct azb_transport *t;
	char *endpoint_path;
	char *host;
	azb_progress_fn progress;
	void *parg;
	struct azb_token *tok;	/* bearer or managed identity; or NULL */
};

/* localhost, 127.0.0.0/8, [::1]: a loopback endpoint (azblobd's) */
static bool loopback_host(const char *h)
{
	return !azb_ascii_ncasecmp(h, "localhost", 9) ? !h[9] || h[9] == ':' :
	       !strncmp(h, "127.", 4) || !strncmp(h, "[::1]", 5);
}

/* ---- client ---- */

bool azb_have_http(void)
{
#ifdef AZB_HAVE_CURL
	return true;
#else
	return false;
#endif
}

void azb_auto_choose(int open_errno, bool have_http, const char *path,
		     struct azb_auto *a)
{
	memset(a, 0, sizeof(*a));
	a->kind = AZB_TRANSPORT_AUTO;
	switch (open_errno) {
	case 0:
		a->kind = AZB_TRANSPORT_DEVICE;
		snprintf(a->why, sizeof(a->why), "%s opens", path);
		return;
	case ENOENT:
	case ENOTDIR:
		snprintf(a->why, sizeof(a->why),
			 "there is no %s (no device offered, or no driver)",
			 path);
		break;
	case EACCES:
	case EPERM:
	case ENODEV:
	case ENXIO:
		snprintf(a->why, sizeof(a->why), "%s cannot be opened: %s",
			 path, strerror(open_errno));
		a->notice = have_http;
		break;
	default:
		snprintf(a->why, sizeof(a->why), "cannot open %s: %s", path,
			 strerror(open_errno));
		return;
	}
	if (have_http)
		a->kind = AZB_TRANSPORT_HTTP;
	else
		strncat(a->why, ", and this azblob has no http transport",
			sizeof(a->why) - strlen(a->why) - 1);
}

int azb_client_new(const struct azb_config *cfg, struct azb_client **out,
		   struct azb_error *err)
{
	struct azb_client *c;
	const char *h, *p;
	enum azb_transport_kind kind = cfg->transport;
	struct azb_auto a;
	char *path = NULL;
	int fd = -1, open_errno;

	if (!cfg->endpoint || !cfg->account) {
		azb_seterr(err, AZB_EUSAGE,
			   "no account: give --connection-string, --account-url or AZURE_STORAGE_CONNECTION_STRING");
		return -EINVAL;
	}
	if (cfg->chunk_size < 1 || cfg->chunk_size > (100u << 20)) {
		azb_seterr(err, AZB_EUSAGE,
			   "chunk size must be between 1 byte and 100 MiB");
		return -EINVAL;
	}
	c = azb_xmalloc(sizeof(*c));
	c->cfg = *cfg;
	c->cfg.endpoint = azb_xstrdup(cfg->endpoint);
	c->cfg.account = azb_xstrdup(cfg->account);
	c->cfg.sas = cfg->sas ? azb_xstrdup(cfg->sas) : NULL;
	c->cfg.bearer_token = cfg->bearer_token ?
			      azb_xstrdup(cfg->bearer_token) : NULL;
	if (!c->cfg.parallel)
		c->cfg.parallel = 1;
	if (c->cfg.put_threshold > c->cfg.chunk_size)
		c->cfg.put_threshold = c->cfg.chunk_size;
	h = strstr(c->cfg.endpoint, "://") + 3;
	p = strchr(h, '/');
	c->host = p ? strndup(h, p - h) : azb_xstrdup(h);
	c->endpoint_path = azb_xstrdup(p ? p : "");
	if (azb_token_new(&c->cfg, &c->tok, err)) {
		azb_client_free(c);
		return -EINVAL;
	}

	if (kind == AZB_TRANSPORT_AUTO) {
		path = azb_device_path(&c->cfg);
		fd = open(path, O_RDWR | O_CLOEXEC);
		open_errno = fd < 0 ? errno : 0;
		azb_auto_choose(open_errno, azb_have_http(), path, &a);
		if (a.kind == AZB_TRANSPORT_AUTO) {
			if (err)
				err->sys_errno = open_errno;
			azb_seterr(err, AZB_ETRANSPORT,
				   "no transport: %s (azblob doctor tells why)",
				   a.why);
			free(path);
			azb_client_free(c);
			return -EINVAL;
		}
		if (a.notice)
			azb_notice(&c->cfg, "%s; using the http transport (azblob doctor tells why)",
				   a.why);
		kind = a.kind;
	}
	if (c->tok && kind == AZB_TRANSPORT_HTTP &&
	    azb_ascii_ncasecmp(c->cfg.endpoint, "https://", 8) &&
	    !loopback_host(c->host)) {
		azb_seterr(err, AZB_EUSAGE,
			   "a bearer token is sent over https only (or to a loopback endpoint such as azblobd's): %s",
			   c->cfg.endpoint);
		if (fd >= 0)
			close(fd);
		free(path);
		azb_client_free(c);
		return -EINVAL;
	}
	if (kind == AZB_TRANSPORT_DEVICE) {
		/* 8192 pages per request, minus head and response pages */
		if (c->cfg.chunk_size > (size_t)(AZB_DEVICE_MAX_PAGES - 8) *
		    4096) {
			azb_seterr(err, AZB_EUSAGE,
				   "chunk size too large for the device (max %u KiB)",
				   (AZB_DEVICE_MAX_PAGES - 8) * 4);
			if (fd >= 0)
				close(fd);
			free(path);
			azb_client_free(c);
			return -EINVAL;
		}
		if (fd >= 0)
			c->t = azb_transport_device_from_fd(&c->cfg, fd, path);
		else
			c->t = azb_transport_device_new(&c->cfg, err);
	} else {
		if (fd >= 0)
			close(fd);
#ifdef AZB_HAVE_CURL
		c->t = azb_transport_http_new(&c->cfg, err);
#else
		azb_seterr(err, AZB_EUSAGE,
			   "this azblob has only the device transport");
#endif
	}
	free(path);
	if (!c->t) {
		azb_client_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

void azb_client_free(struct azb_client *c)
{
	if (!c)
		return;
	if (c->t)
		c->t->destroy(c->t);
	free(c->host);
	free(c->endpoint_path);
	azb_token_free(c->tok);
	azb_config_free(&c->cfg);
	free(c);
}

const char *azb_client_transport_name(const struct azb_client *c)
{
	return c->t->name;
}

void azb_client_set_progress(struct azb_client *c, azb_progress_fn fn,
			     void *arg)
{
	c->progress = fn;
	c->parg = arg;
}

/* ---- requests ---- */

static void req_new(struct azb_client *c, struct azb_request *r,
		    const char *method, const char *container,
		    const char *blob)
{
	azb_req_init(r, method);
	azb_str_puts(&r->path, "/");
	if (container)
		azb_percent_encode(&r->path, container, false);
	if (blob) {
		azb_str_puts(&r->path, "/");
		azb_percent_encode(&r->path, blob, true);
	}
	azb_req_header(r, "Host", c->host);
	azb_req_header(r, "x-ms-version", AZB_API_VERSION);
}

static void req_cond(struct azb_request *r, const struct azb_cond *cond)
{
	if (!cond)
		return;
	if (cond->if_match)
		azb_req_header(r, "If-Match", cond->if_match);
	if (cond->if_none_match)
		azb_req_header(r, "If-None-Match", cond->if_none_match);
}

/*
 * A request's bearer token: the generation it was sent with, and whether
 * a refusal (401, 403) was tried again with a new one, which a managed
 * identity's token gets once per request.
 */
struct auth_try {
	unsigned int gen;
	bool renewed;
};

/*
 * Date, Content-Length, credentials; then the head. Run per attempt.
 * Fails only when a bearer token cannot be had (err set).
 */
static int req_finish(struct azb_client *c, struct azb_request *r,
		      size_t body_len, struct azb_str *head,
		      struct auth_try *at, struct azb_error *err)
{
	struct azb_str q = {0}, authz = {0};
	char date[64];
	int ret = 0;

	azb_http_date(date, time(NULL));
	azb_req_header(r, "x-ms-date", date);
	if (body_len || !strcmp(r->method, "PUT")) {
		char n[32];

		snprintf(n, sizeof(n), "%zu", body_len);
		azb_req_header(r, "Content-Length", n);
	}
	head->len = 0;
	if (c->tok) {
		ret = azb_token_authz(c->tok, &authz, &at->gen, err);
		if (ret)
			return ret;
		azb_req_header(r, "Authorization", authz.p);
		explicit_bzero(authz.p, authz.len);
		azb_str_free(&authz);
		azb_req_head(r, head);
	} else if (c->cfg.key_len) {
		ret = azb_sharedkey_sign(r, c->cfg.account, c->endpoint_path,
					 c->cfg.key, c->cfg.key_len, &authz);
		if (ret)
			return ret;
		azb_req_header(r, "Authorization", authz.p);
		azb_str_free(&authz);
		azb_req_head(r, head);
	} else if (c->cfg.sas) {
		/* The SAS goes on the query of this head only. */
		struct azb_str saved = r->query;

		azb_str_add(&q, saved.len ? saved.p : "", saved.len);
		if (q.len)
			azb_str_puts(&q, "&");
		azb_str_puts(&q, c->cfg.sas);
		r->query = q;
		azb_req_head(r, head);
		r->query = saved;
		azb_str_free(&q);
	} else {
		azb_req_head(r, head);
	}
	return 0;
}

/* ---- outcome of one attempt ---- */

enum { JUDGE_DONE, JUDGE_RETRY, JUDGE_FAIL };

static bool retryable_errno(int e)
{
	switch (e) {
	case ETIMEDOUT: case EIO: case ENOMEM: case EAGAIN: case EPROTO:
	case ECONNRESET: case EBUSY:
		return true;
	default:
		return false;
	}
}

static unsigned int backoff_ms(struct azb_client *c, unsigned int attempt,
			       const struct azb_response *resp)
{
	unsigned int d = c->cfg.retry_base_ms << (attempt < 10 ? attempt : 10);
	unsigned int r = 0;
	const char *ra = resp ? azb_resp_get(resp, "Retry-After") : NULL;

	if (d > RETRY_CAP_MS)
		d = RETRY_CAP_MS;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	d = d / 2 + (d ? r % (d / 2 + 1) : 0);	/* jitter: [d/2, d] */
	if (ra) {
		char *end;
		unsigned long s = strtoul(ra, &end, 10);

		if (!*end && s * 1000 > d)
			d = s > 60 ? 60000 : (unsigned int)s * 1000;
	}
	return d;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void transport_error(struct azb_xfer *x, struct azb_error *err)
{
	if (err) {
		err->sys_errno = -x->terr;
		err->dev_status = x->dev_status;
	}
	azb_seterr(err, AZB_ETRANSPORT, "transport error: %s", x->terr_msg);
}

/*
 * Parse the response head of a finished attempt. JUDGE_DONE: *resp holds
 * a final HTTP answer; JUDGE_RETRY: try again after *delay; JUDGE_FAIL:
 * err is set.
 */
static int judge(struct azb_client *c, struct azb_xfer *x,
		 unsigned int attempt, struct auth_try *at,
		 struct azb_response *resp, unsigned int *delay,
		 struct azb_error *err)
{
	bool left = attempt < c->cfg.retries;

	memset(resp, 0, sizeof(*resp));
	if (x->terr) {
		transport_error(x, err);
		if (left && retryable_errno(-x->terr)) {
			*delay = backoff_ms(c, attempt, NULL);
			goto retry;
		}
		return JUDGE_FAIL;
	}
	if (azb_parse_response_head(x->resp, x->resp_len, resp)) {
		x->terr = -EPROTO;
		snprintf(x->terr_msg, sizeof(x->terr_msg),
			 "malformed HTTP response head (%zu bytes)",
			 x->resp_len);
		transport_error(x, err);
		if (left) {
			*delay = backoff_ms(c, attempt, NULL);
			goto retry;
		}
		return JUDGE_FAIL;
	}
	if ((resp->status == 401 || resp->status == 403) && c->tok &&
	    !at->renewed && azb_token_refused(c->tok, at->gen)) {
		/* a token revoked or expired early: once with a new one */
		at->renewed = true;
		*delay = 0;
		if (c->cfg.verbose)
			fprintf(stderr,
				"azblob: HTTP %d to the managed identity's token: fetching a new one and retrying\n",
				resp->status);
		azb_response_free(resp);
		return JUDGE_RETRY;
	}
	switch (resp->status) {
	case 408: case 429: case 500: case 502: case 503: case 504:
		if (left) {
			*delay = backoff_ms(c, attempt, resp);
			azb_response_free(resp);
			goto retry;
		}
		break;
	}
	return JUDGE_DONE;
retry:
	if (c->cfg.verbose)
		fprintf(stderr, "azblob: retry %u in %u ms (%s)\n",
			attempt + 1, *delay,
			x->terr ? x->terr_msg : "HTTP status");
	return JUDGE_RETRY;
}

/* Turn a final non-success HTTP answer into an error. */
static int http_error(struct azb_client *c, struct azb_xfer *x,
		      const struct azb_response *resp, struct azb_error *err)
{
	char hint[200] = "";
	const char *ec = azb_resp_get(resp, "x-ms-error-code");
	char xcode[96] = "", xmsg[200] = "";
	int code;

	switch (resp->status) {
	case 304: code = AZB_ENOTMOD; break;
	case 401: case 403: code = AZB_EAUTH; break;
	case 404: code = AZB_ENOTFOUND; break;
	case 409: code = AZB_ECONFLICT; break;
	case 412: code = AZB_EPRECOND; break;
	default: code = AZB_EHTTP; break;
	}
	if (x->rbuf && x->rlen && !x->body_len)
		azb_parse_error_xml(x->rbuf, x->rlen, xcode, sizeof(xcode),
				    xmsg, sizeof(xmsg));
	if (!ec)
		ec = xcode;
	if (err) {
		err->http_status = resp->status;
		snprintf(err->error_code, sizeof(err->error_code), "%s", ec);
	}
	if (c->tok && code == AZB_EAUTH) {
		hint[0] = ';';
		hint[1] = ' ';
		azb_token_describe(c->tok, hint + 2, sizeof(hint) - 2);
	}
	azb_seterr(err, code, "HTTP %d %s%s%s%s%s", resp->status,
		   xmsg[0] ? xmsg : resp->reason, ec[0] ? " (" : "", ec,
		   ec[0] ? ")" : "", hint);
	return -code;
}

/*
 * One request with retries. rbuf/rcap: download buffer; with grow, a body
 * larger than the buffer makes it grow to the Content-Length and the
 * request is sent again (List Blobs, whose size is not known up front).
 */
struct call {
	struct azb_request req;
	const void *body;
	size_t body_len;
	void **rbuf;
	size_t *rcap;
	bool grow;
	bool is_head;
	struct azb_response resp;
	size_t rlen;
};

static int run_call(struct azb_client *c, struct call *k,
		    struct azb_error *err)
{
	struct azb_xfer *x = azb_xmalloc(sizeof(*x));
	struct azb_str head = {0};
	char ebuf[ERRBUF_SIZE];
	struct auth_try at = {0};
	unsigned int attempt = 0, delay = 0;
	int ret;

	for (;;) {
		ret = req_finish(c, &k->req, k->body_len, &head, &at, err);
		if (ret) {
			if (!err || !err->code)
				azb_seterr(err, AZB_EUSAGE,
					   "cannot sign the request");
			ret = -(err && err->code ? err->code : AZB_EUSAGE);
			break;
		}
		memset(x, 0, offsetof(struct azb_xfer, resp));
		x->head = head.p;
		x->head_len = head.len;
		x->body = k->body_len ? k->body : NULL;
		x->body_len = k->body_len;
		x->is_head = k->is_head;
		x->timeout_ms = c->cfg.timeout_ms;
		x->sync = true;
		if (k->rbuf && *k->rbuf) {
			x->rbuf = *k->rbuf;
			x->rcap = *k->rcap;
		} else if (!k->body_len && !k->is_head) {
			x->rbuf = ebuf;
			x->rcap = sizeof(ebuf);
		}
		ret = c->t->submit(c->t, x);
		if (ret || c->t->reap(c->t) != x) {
			azb_seterr(err, AZB_ETRANSPORT,
				   "transport failed to run the request");
			ret = -EIO;
			break;
		}
		switch (judge(c, x, attempt, &at, &k->resp, &delay, err)) {
		case JUDGE_RETRY:
			attempt++;
			sleep_ms(delay);
			continue;
		case JUDGE_FAIL:
			ret = -AZB_ETRANSPORT;
			goto out;
		}
		if (k->grow && x->overflow && k->resp.status / 100 == 2 &&
		    k->resp.content_length > 0 &&
		    k->resp.content_length < (64 << 20)) {
			void *nb = realloc(*k->rbuf, k->resp.content_length);

			if (!nb)
				abort();
			*k->rbuf = nb;
			*k->rcap = k->resp.content_length;
			azb_response_free(&k->resp);
			continue;
		}
		if (k->resp.status >= 300) {
			ret = http_error(c, x, &k->resp, err);
			break;
		}
		if (x->overflow) {
			azb_seterr(err, AZB_EINTEGRITY,
				   "response body larger than expected (Content-Length %lld)",
				   (long long)k->resp.content_length);
			ret = -AZB_EINTEGRITY;
			break;
		}
		k->rlen = x->rlen;
		ret = 0;
		break;
	}
out:
	azb_str_free(&head);
	free(x);
	return ret;
}

static void call_free(struct call *k)
{
	azb_req_free(&k->req);
	azb_response_free(&k->resp);
}

static void props_from(const struct azb_response *r, struct azb_props *p)
{
	const char *v;

	memset(p, 0, sizeof(*p));
	if (r->content_length > 0)
		p->size = (uint64_t)r->content_length;
#define COPY(field, name) \
	do { \
		v = azb_resp_get(r, name); \
		if (v) \
			snprintf(p->field, sizeof(p->field), "%s", v); \
	} while (0)
	COPY(etag, "ETag");
	COPY(last_modified, "Last-Modified");
	COPY(content_type, "Content-Type");
	COPY(content_md5, "Content-MD5");
	COPY(blob_type, "x-ms-blob-type");
#undef COPY
}

/* ---- containers, properties, delete ---- */

static int simple(struct azb_client *c, const char *method,
		  const char *container, const char *blob, bool restype,
		  const struct azb_cond *cond, struct azb_props *p,
		  struct azb_error *err)
{
	struct call k = {0};
	int ret;

	req_new(c, &k.req, method, container, blob);
	if (restype)
		azb_req_query(&k.req, "restype", "container");
	req_cond(&k.req, cond);
	k.is_head = !strcmp(method, "HEAD");
	ret = run_call(c, &k, err);
	if (!ret && p)
		props_from(&k.resp, p);
	call_free(&k);
	return ret;
}

int azb_container_create(struct azb_client *c, const char *container,
			 struct azb_error *err)
{
	return simple(c, "PUT", container, NULL, true, NULL, NULL, err);
}

int azb_container_delete(struct azb_client *c, const char *container,
			 const struct azb_cond *cond, struct azb_error *err)
{
	return simple(c, "DELETE", container, NULL, true, cond, NULL, err);
}

int azb_container_props(struct azb_client *c, const char *container,
			struct azb_props *p, struct azb_error *err)
{
	return simple(c, "HEAD", container, NULL, true, NULL, p, err);
}

int azb_blob_props(struct azb_client *c, const char *container,
		   const char *blob, const struct azb_cond *cond,
		   struct azb_props *p, struct azb_error *err)
{
	return simple(c, "HEAD", container, blob, false, cond, p, err);
}

int azb_blob_delete(struct azb_client *c, const char *container,
		    const char *blob, const struct azb_cond *cond,
		    struct azb_error *err)
{
	return simple(c, "DELETE", container, blob, false, cond, NULL, err);
}

/* ---- list ---- */

int azb_list_blobs(struct azb_client *c, const char *container,
		   const char *prefix, const char *delimiter,
		   const char *marker, unsigned int max_results,
		   struct azb_list_page *page, struct azb_error *err)
{
	struct call k = {0};
	size_t cap = LIST_BUF_START;
	void *buf = azb_xmalloc(cap);
	char n[16];
	int ret;

	req_new(c, &k.req, "GET", container, NULL);
	azb_req_query(&k.req, "restype", "container");
	azb_req_query(&k.req, "comp", "list");
	if (prefix && *prefix)
		azb_req_query(&k.req, "prefix", prefix);
	if (delimiter && *delimiter)
		azb_req_query(&k.req, "delimiter", delimiter);
	if (marker && *marker)
		azb_req_query(&k.req, "marker", marker);
	if (max_results) {
		snprintf(n, sizeof(n), "%u", max_results);
		azb_req_query(&k.req, "maxresults", n);
	}
	k.rbuf = &buf;
	k.rcap = &cap;
	k.grow = true;
	ret = run_call(c, &k, err);
	if (!ret)
		ret = azb_parse_list_xml(buf, k.rlen, page, err);
	call_free(&k);
	free(buf);
	return ret;
}

/* ---- the parallel engine ---- */

enum { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

struct slot {
	struct azb_xfer *x;
	struct azb_request req;
	struct azb_str head;
	unsigned char *buf;
	size_t len;		/* upload length / expected download length */
	uint64_t index, off;
	unsigned int attempt;
	struct auth_try at;
	int state;
	bool want_md5;
};

struct engine {
	struct azb_client *c;
	struct slot *slots;
	unsigned int n;
	int fail;
};

static void engine_init(struct engine *e, struct azb_client *c,
			unsigned int n)
{
	unsigned int i;

	e->c = c;
	e->n = n;
	e->fail = 0;
	e->slots = azb_xmalloc(n * sizeof(*e->slots));
	for (i = 0; i < n; i++) {
		e->slots[i].x = azb_xmalloc(sizeof(struct azb_xfer));
		e->slots[i].buf = malloc(c->cfg.chunk_size);
		if (!e->slots[i].buf)
			abort();
	}
}

static void engine_drain(struct engine *e)
{
	/* Buffers belong to the transport until their completion. */
	while (e->c->t->inflight)
		if (!e->c->t->reap(e->c->t))
			break;
}

static void engine_free(struct engine *e)
{
	unsigned int i;

	engine_drain(e);
	for (i = 0; i < e->n; i++) {
		azb_req_free(&e->slots[i].req);
		azb_str_free(&e->slots[i].head);
		free(e->slots[i].x);
		free(e->slots[i].buf);
	}
	free(e->slots);
}

/* The code of a failed slot_submit(): a token's failure, or transport. */
static int submit_code(const struct azb_error *err)
{
	return err && err->code ? err->code : AZB_ETRANSPORT;
}

static int slot_submit(struct engine *e, struct slot *s, bool upload,
		       bool sync, struct azb_error *err)
{
	struct azb_client *c = e->c;
	struct azb_xfer *x = s->x;

	if (req_finish(c, &s->req, upload ? s->len : 0, &s->head, &s->at,
		       err)) {
		if (!err || !err->code)
			azb_seterr(err, AZB_EUSAGE, "cannot sign the request");
		return -EINVAL;
	}
	memset(x, 0, offsetof(struct azb_xfer, resp));
	x->head = s->head.p;
	x->head_len = s->head.len;
	if (upload) {
		x->body = s->len ? s->buf : NULL;
		x->body_len = s->len;
	} else {
		x->rbuf = s->buf;
		x->rcap = c->cfg.chunk_size;
	}
	x->timeout_ms = c->cfg.timeout_ms;
	x->sync = sync;
	x->priv = s;
	s->state = SLOT_BUSY;
	if (c->t->submit(c->t, x)) {
		azb_seterr(err, AZB_ETRANSPORT, "cannot submit the request");
		return -EIO;
	}
	return 0;
}

/*
 * Reap one completion and judge it. Returns the slot when it finished
 * successfully with the expected status, NULL after a retry was issued
 * (or on failure: e->fail set).
 */
static struct slot *engine_reap(struct engine *e, bool upload, int want1,
				int want2, struct azb_error *err)
{
	struct azb_client *c = e->c;
	struct azb_response resp;
	struct azb_xfer *x = c->t->reap(c->t);
	unsigned int delay;
	struct slot *s;

	if (!x) {
		azb_seterr(err, AZB_ETRANSPORT, "transport lost a request");
		e->fail = AZB_ETRANSPORT;
		return NULL;
	}
	s = x->priv;
	switch (judge(c, x, s->attempt, &s->at, &resp, &delay, err)) {
	case JUDGE_RETRY:
		s->attempt++;
		sleep_ms(delay);
		if (slot_submit(e, s, upload, false, err))
			e->fail = submit_code(err);
		return NULL;
	case JUDGE_FAIL:
		e->fail = AZB_ETRANSPORT;
		s->state = SLOT_FREE;
		return NULL;
	}
	if (resp.status != want1 && resp.status != want2) {
		e->fail = -http_error(e->c, x, &resp, err);
		s->state = SLOT_FREE;
		azb_response_free(&resp);
		return NULL;
	}
	if (!upload) {
		const char *md5 = azb_resp_get(&resp, "Content-MD5");

		if (x->overflow || x->rlen != s->len ||
		    resp.content_length != (int64_t)s->len) {
			azb_seterr(err, AZB_EINTEGRITY,
				   "range at %llu: got %zu bytes (Content-Length %lld), expected %zu",
				   (unsigned long long)s->off, x->rlen,
				   (long long)resp.content_length, s->len);
			e->fail = AZB_EINTEGRITY;
		} else if (s->want_md5 && md5) {
			char got[32];

			azb_md5_b64(s->buf, s->len, got);
			if (strcmp(got, md5)) {
				azb_seterr(err, AZB_EINTEGRITY,
					   "Content-MD5 mismatch in range at %llu",
					   (unsigned long long)s->off);
				e->fail = AZB_EINTEGRITY;
			}
		}
	}
	azb_response_free(&resp);
	if (e->fail) {
		s->state = SLOT_FREE;
		return NULL;
	}
	s->state = SLOT_DONE;
	return s;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= w;
	}
	return 0;
}

static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += r;
	}
	return (ssize_t)got;
}

/* ---- download ---- */

int azb_blob_get(struct azb_client *c, const char *container,
		 const char *blob, int fd, uint64_t off, int64_t len,
		 const struct azb_cond *cond, struct azb_props *out,
		 uint64_t *written, struct azb_error *err)
{
	struct azb_props p;
	struct azb_cond pin = {0};
	struct engine e;
	EVP_MD_CTX *md = NULL;
	uint64_t end, nchunks, next_sub = 0, next_wr = 0, done = 0;
	size_t csz = c->cfg.chunk_size;
	unsigned int par = c->cfg.parallel;
	bool whole;
	int ret;

	*written = 0;
	ret = azb_blob_props(c, container, blob, cond, &p, err);
	if (ret)
		return ret;
	if (out)
		*out = p;
	if (off > p.size || (off == p.size && p.size && len != 0)) {
		azb_seterr(err, AZB_EHTTP,
			   "range start %llu is beyond the blob's %llu bytes",
			   (unsigned long long)off,
			   (unsigned long long)p.size);
		if (err)
			err->http_status = 416;
		return -AZB_EHTTP;
	}
	end = len < 0 || off + (uint64_t)len > p.size ? p.size :
	      off + (uint64_t)len;
	whole = off == 0 && end == p.size;
	nchunks = (end - off + csz - 1) / csz;
	if (par > nchunks)
		par = nchunks ? (unsigned int)nchunks : 1;
	/* Every chunk must come from the version we probed. */
	pin.if_match = p.etag[0] ? p.etag : NULL;
	if (whole && p.content_md5[0] && !c->cfg.no_md5) {
		md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_md5(), NULL);
	}
	engine_init(&e, c, par);
	while (next_wr < nchunks && !e.fail) {
		struct slot *s;

		while (next_sub < nchunks && next_sub < next_wr + par) {
			char range[64];

			s = &e.slots[next_sub % par];
			azb_req_free(&s->req);
			req_new(c, &s->req, "GET", container, blob);
			s->index = next_sub;
			s->off = off + next_sub * csz;
			s->len = end - s->off < csz ? end - s->off : csz;
			s->attempt = 0;
			s->at.renewed = false;
			snprintf(range, sizeof(range), "bytes=%llu-%llu",
				 (unsigned long long)s->off,
				 (unsigned long long)(s->off + s->len - 1));
			azb_req_header(&s->req, "Range", range);
			req_cond(&s->req, &pin);
			s->want_md5 = s->len <= RANGE_MD5_MAX &&
				      !c->cfg.no_md5;
			if (s->want_md5)
				azb_req_header(&s->req,
					       "x-ms-range-get-content-md5",
					       "true");
			if (slot_submit(&e, s, false, nchunks == 1 || par == 1,
					err)) {
				e.fail = submit_code(err);
				break;
			}
			next_sub++;
		}
		if (e.fail)
			break;
		s = &e.slots[next_wr % par];
		if (s->state == SLOT_DONE) {
			ret = write_all(fd, s->buf, s->len);
			if (ret) {
				if (err)
					err->sys_errno = -ret;
				azb_seterr(err, AZB_EOTHER, "write: %s",
					   strerror(-ret));
				e.fail = AZB_EOTHER;
				break;
			}
			if (md)
				EVP_DigestUpdate(md, s->buf, s->len);
			s->state = SLOT_FREE;
			done += s->len;
			*written = done;
			next_wr++;
			if (c->progress)
				c->progress(c->parg, done, end - off);
			continue;
		}
		engine_reap(&e, false, 206, 206, err);
	}
	engine_free(&e);
	ret = e.fail ? -e.fail : 0;
	if (!ret && md) {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int dl = 0;
		char b64[32];

		EVP_DigestFinal_ex(md, d, &dl);
		EVP_EncodeBlock((unsigned char *)b64, d, (int)dl);
		if (strcmp(b64, p.content_md5)) {
			azb_seterr(err, AZB_EINTEGRITY,
				   "Content-MD5 mismatch: blob says %s, data has %s",
				   p.content_md5, b64);
			ret = -AZB_EINTEGRITY;
		}
	}
	EVP_MD_CTX_free(md);
	return ret;
}

/* ---- upload ---- */

static int put_single(struct azb_client *c, const char *container,
		      const char *blob, const void *buf, size_t len,
		      const struct azb_cond *cond, struct azb_props *out,
		      struct azb_error *err)
{
	struct call k = {0};
	char md5[32];
	int ret;

	req_new(c, &k.req, "PUT", container, blob);
	azb_req_header(&k.req, "Content-Type", "application/octet-stream");
	md5[0] = '\0';
	if (!c->cfg.no_md5) {
		azb_md5_b64(buf, len, md5);
		azb_req_header(&k.req, "Content-MD5", md5);
	}
	azb_req_header(&k.req, "x-ms-blob-type", "BlockBlob");
	req_cond(&k.req, cond);
	k.body = buf;
	k.body_len = len;
	ret = run_call(c, &k, err);
	if (!ret && out) {
		props_from(&k.resp, out);
		out->size = len;
		snprintf(out->content_md5, sizeof(out->content_md5), "%s",
			 md5);
	}
	call_free(&k);
	if (!ret && c->progress)
		c->progress(c->parg, len, len);
	return ret;
}

static void block_id(uint64_t i, char out[32])
{
	char raw[32];

	snprintf(raw, sizeof(raw), "azblob-%012llu", (unsigned long long)i);
	EVP_EncodeBlock((unsigned char *)out, (unsigned char *)raw, 19);
}

int azb_blob_put(struct azb_client *c, const char *container,
		 const char *blob, int fd, int64_t size_hint,
		 const struct azb_cond *cond, struct azb_props *out,
		 struct azb_error *err)
{
	size_t csz = c->cfg.chunk_size;
	unsigned int par = c->cfg.parallel < 2 ? 2 : c->cfg.parallel;
	struct engine e;
	struct slot *s0;
	EVP_MD_CTX *md = NULL;
	uint64_t nblocks = 0, done = 0, total;
	bool eof = false, pending0 = true;
	ssize_t n0;
	int ret = 0;

	if (size_hint >= 0 && (uint64_t)size_hint <= c->cfg.put_threshold &&
	    (uint64_t)size_hint < csz)
		par = 1;	/* it fits one Put Blob: one buffer */
	engine_init(&e, c, par);
	s0 = &e.slots[0];
	n0 = read_full(fd, s0->buf, csz);
	if (n0 < 0) {
		if (err)
			err->sys_errno = (int)-n0;
		azb_seterr(err, AZB_EOTHER, "read: %s", strerror((int)-n0));
		engine_free(&e);
		return -AZB_EOTHER;
	}
	if ((size_t)n0 < csz && (size_t)n0 <= c->cfg.put_threshold) {
		ret = put_single(c, container, blob, s0->buf, n0, cond, out,
				 err);
		engine_free(&e);
		return ret;
	}
	total = size_hint > 0 ? (uint64_t)size_hint : 0;
	if (!c->cfg.no_md5) {
		md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_md5(), NULL);
	}

	for (;;) {
		unsigned int i;
		struct slot *s;

		while (!e.fail && !eof) {
			char id[32], md5[32];
			ssize_t r;

			for (i = 0, s = NULL; i < e.n; i++)
				if (e.slots[i].state == SLOT_FREE) {
					s = &e.slots[i];
					break;
				}
			if (!s)
				break;
			if (pending0) {
				s = s0;
				r = n0;
				pending0 = false;
			} else {
				r = read_full(fd, s->buf, csz);
			}
			if (r < 0) {
				if (err)
					err->sys_errno = (int)-r;
				azb_seterr(err, AZB_EOTHER, "read: %s",
					   strerror((int)-r));
				e.fail = AZB_EOTHER;
				break;
			}
			if (r == 0) {
				eof = true;
				break;
			}
			if ((size_t)r < csz)
				eof = true;
			if (nblocks == 50000) {
				azb_seterr(err, AZB_EUSAGE,
					   "more than 50000 blocks: raise --chunk-size");
				e.fail = AZB_EUSAGE;
				break;
			}
			if (md)
				EVP_DigestUpdate(md, s->buf, r);
			s->len = (size_t)r;
			s->index = nblocks++;
			s->attempt = 0;
			s->at.renewed = false;
			azb_req_free(&s->req);
			req_new(c, &s->req, "PUT", container, blob);
			block_id(s->index, id);
			azb_req_query(&s->req, "comp", "block");
			azb_req_query(&s->req, "blockid", id);
			if (md) {
				azb_md5_b64(s->buf, s->len, md5);
				azb_req_header(&s->req, "Content-MD5", md5);
			}
			if (slot_submit(&e, s, true, false, err))
				e.fail = submit_code(err);
		}
		if (e.fail || !c->t->inflight)
			break;
		s = engine_reap(&e, true, 201, 201, err);
		if (s) {
			s->state = SLOT_FREE;
			done += s->len;
			if (c->progress)
				c->progress(c->parg, done,
					    total > done ? total : 0);
		}
	}
	engine_free(&e);
	if (!e.fail) {
		struct azb_str xml = {0};
		struct call k = {0};
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int dl = 0;
		char whole[32] = "", md5[32], id[32];
		uint64_t i;

		if (md) {
			EVP_DigestFinal_ex(md, d, &dl);
			EVP_EncodeBlock((unsigned char *)whole, d, (int)dl);
		}
		azb_str_puts(&xml,
			     "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
		for (i = 0; i < nblocks; i++) {
			block_id(i, id);
			azb_str_printf(&xml, "<Latest>%s</Latest>", id);
		}
		azb_str_puts(&xml, "</BlockList>");
		req_new(c, &k.req, "PUT", container, blob);
		azb_req_query(&k.req, "comp", "blocklist");
		azb_req_header(&k.req, "Content-Type", "application/xml");
		azb_md5_b64(xml.p, xml.len, md5);
		azb_req_header(&k.req, "Content-MD5", md5);
		if (md)
			azb_req_header(&k.req, "x-ms-blob-content-md5", whole);
		azb_req_header(&k.req, "x-ms-blob-content-type",
			       "application/octet-stream");
		req_cond(&k.req, cond);
		k.body = xml.p;
		k.body_len = xml.len;
		ret = run_call(c, &k, err);
		if (!ret && out) {
			props_from(&k.resp, out);
			out->size = done;
			snprintf(out->content_md5, sizeof(out->content_md5),
				 "%s", whole);
		}
		call_free(&k);
		azb_str_free(&xml);
	} else {
		ret = -e.fail;
	}
	EVP_MD_CTX_free(md);
	return ret;
}
