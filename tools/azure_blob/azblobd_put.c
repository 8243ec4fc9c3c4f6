// SPDX-License-Identifier: MIT
/*
 * azblobd: a Put Blob whose body does not fit one device request,
 * carried as Put Block + Put Block List. Only for a BlockBlob Put Blob
 * authorized by a SAS or a bearer token: neither signs the request's
 * path, query or headers, so the daemon may send requests of its own
 * with the same token. (Shared Key signs each request: such an upload
 * keeps getting 413 from the HTTP front.)
 *
 * The body streams in through the library's upload callbacks into
 * blocks of part_size bytes (smaller when a Put Block head leaves less
 * room in one device request). Each full block goes to the device as
 * Put Block (the client's target with &comp=block&blockid=, its
 * authorization, x-ms-version, x-ms-client-request-id, lease and
 * encryption headers, a fresh x-ms-date). Block ids are
 * base64("azblobd-<random 64-bit hex>-<8-digit index>"): all of one
 * length, new for every upload. Up to parts_in_flight blocks are held
 * per upload, each charged to the memory cap before it is mapped; the
 * connection is suspended (its socket not read) while it waits for room
 * or for a block to come back. No blob is held whole.
 *
 * The MD5 of the body is computed as it streams. At its end, once every
 * block is back: a Content-MD5 that does not match is answered 400
 * Md5Mismatch and nothing is committed; else Put Block List commits the
 * blocks in order, carrying the blob's properties (Content-Type and the
 * other content headers as their x-ms-blob-* forms, Content-MD5 or the
 * computed one as x-ms-blob-content-md5), metadata, tags, tier,
 * encryption, lease and the conditional headers. The client gets its
 * status and headers, with Content-MD5 of the body as Put Blob returns
 * it.
 *
 * A Put Block that fails (after two more tries for transport errors and
 * 5xx) ends the upload: the rest of the body is read and dropped, the
 * client gets that status and error code, and no Put Block List is
 * sent. A client that goes away, or a daemon killed, leaves only
 * uncommitted blocks, which the service discards on its own: a partial
 * blob is never committed.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "azblobd_req.h"

#define BLOCK_RETRIES	2
#define MAX_BLOCKS	50000u		/* the service's limit per blob */
#define DRAIN_MAX	(1ull << 30)	/* as the HTTP front's */

struct azd_put {
	struct azd_req *r;
	size_t block;		/* bytes per block, the last one shorter */
	uint64_t nblocks;
	uint64_t next;		/* index of the block being filled */
	uint64_t sent;		/* Put Blocks that came back 2xx */
	char idbase[32];	/* "azblobd-<16 hex>-" */
	struct azd_job *cur;	/* being filled or waiting for the cap */
	size_t cur_got;
	unsigned int inflight;	/* Put Blocks with the device */
	bool waiting;		/* mw is queued (for cur or list) */
	struct azd_mem_wait mw;
	EVP_MD_CTX *md5;
	char md5_b64[32];	/* of the whole body, once it is in */
	struct azb_str xml;	/* the block list */
	struct azd_job *list;	/* Put Block List */
	bool list_sent, list_done;
	bool closed;		/* the library is done with the request */
	bool failed;
	unsigned int fail_status;
	char fail_code[64];
	char fail_msg[512];
};

/* copied from the client's request to every Put Block */
static bool block_header(const char *n)
{
	return !strcasecmp(n, "Authorization") ||
	       !strcasecmp(n, "x-ms-version") ||
	       !strcasecmp(n, "x-ms-client-request-id") ||
	       !strcasecmp(n, "x-ms-lease-id") ||
	       !strncasecmp(n, "x-ms-encryption-", 16);
}

/* copied as they are to Put Block List */
static bool list_header(const char *n)
{
	static const char *const names[] = {
		"Authorization", "x-ms-version", "x-ms-client-request-id",
		"x-ms-lease-id", "x-ms-tags", "x-ms-access-tier",
		"x-ms-blob-cache-control", "x-ms-legal-hold", "If-Match",
		"If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
		"x-ms-if-tags",
	};
	static const char *const prefixes[] = {
		"x-ms-blob-content-", "x-ms-meta-", "x-ms-encryption-",
		"x-ms-immutability-policy-",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(n, names[i]))
			return true;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncasecmp(n, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Put Blob's content headers and their names on Put Block List */
static const char *const content_map[][2] = {
	{ "Content-Type", "x-ms-blob-content-type" },
	{ "Content-Encoding", "x-ms-blob-content-encoding" },
	{ "Content-Language", "x-ms-blob-content-language" },
	{ "Cache-Control", "x-ms-blob-cache-control" },
	{ "Content-Disposition", "x-ms-blob-content-disposition" },
	{ "Content-MD5", "x-ms-blob-content-md5" },
};

bool azd_put_splittable(const struct azd_req *r)
{
	const char *t = azd_req_header(r, "x-ms-blob-type");
	const char *q = strchr(r->uri, '?');

	if (strcmp(r->method, "PUT") || !t || strcmp(t, "BlockBlob"))
		return false;
	if (r->auth != AZD_AUTH_SAS && r->auth != AZD_AUTH_BEARER)
		return false;
	/* a plain Put Blob: no comp= (Put Block, ...), no restype= */
	for (; q; q = strchr(q, '&')) {
		q++;
		if (!strncasecmp(q, "comp=", 5) || !strncasecmp(q, "restype=", 8))
			return false;
	}
	return true;
}

/* base64 block id of block i, percent-encoded for the query or not */
static void block_id(const struct azd_put *p, uint64_t i, bool query,
		     struct azb_str *out)
{
	char raw[48], *b64, *c;

	snprintf(raw, sizeof(raw), "%s%08" PRIu64, p->idbase, i);
	b64 = azb_b64_encode(raw, strlen(raw));
	for (c = b64; *c; c++) {
		if (query && *c == '+')
			azb_str_puts(out, "%2B");
		else if (query && *c == '/')
			azb_str_puts(out, "%2F");
		else if (query && *c == '=')
			azb_str_puts(out, "%3D");
		else
			azb_str_add(out, c, 1);
	}
	free(b64);
}

static void head_start(const struct azd_put *p, struct azb_str *out,
		       const char *comp, int64_t index, uint64_t clen)
{
	const struct azd_req *r = p->r;
	char date[64];

	out->len = 0;
	azb_str_printf(out, "PUT %s%c%s", r->uri,
		       strchr(r->uri, '?') ? '&' : '?', comp);
	if (index >= 0) {
		azb_str_puts(out, "&blockid=");
		block_id(p, (uint64_t)index, true, out);
	}
	azb_str_puts(out, " HTTP/1.1\r\n");
	azb_str_printf(out, "Host: %s\r\n", r->cfg->host);
	azb_str_printf(out, "Content-Length: %" PRIu64 "\r\n", clen);
	/* SAS and bearer tokens sign no date: each request gets its own */
	azb_http_date(date, time(NULL));
	azb_str_printf(out, "x-ms-date: %s\r\n", date);
}

static void block_head(const struct azd_put *p, uint64_t index,
		       uint64_t len, struct azb_str *out)
{
	const struct azd_req *r = p->r;
	unsigned int i;

	head_start(p, out, "comp=block", (int64_t)index, len);
	for (i = 0; i < r->nhdrs; i++)
		if (block_header(r->hdrs[i].name))
			azb_str_printf(out, "%s: %s\r\n", r->hdrs[i].name,
				       r->hdrs[i].value);
	azb_str_puts(out, "\r\n");
}

static void list_head(const struct azd_put *p, struct azb_str *out)
{
	const struct azd_req *r = p->r;
	const char *v;
	unsigned int i;
	size_t k;

	head_start(p, out, "comp=blocklist", -1, p->xml.len);
	azb_str_puts(out, "Content-Type: application/xml\r\n");
	for (i = 0; i < r->nhdrs; i++)
		if (list_header(r->hdrs[i].name))
			azb_str_printf(out, "%s: %s\r\n", r->hdrs[i].name,
				       r->hdrs[i].value);
	/* an x-ms-blob-* header of the client's wins over the plain one */
	for (k = 0; k < sizeof(content_map) / sizeof(content_map[0]); k++) {
		if (azd_req_header(r, content_map[k][1]))
			continue;
		v = azd_req_header(r, content_map[k][0]);
		if (!v && !strcasecmp(content_map[k][0], "Content-MD5"))
			v = p->md5_b64;
		if (v)
			azb_str_printf(out, "%s: %s\r\n", content_map[k][1], v);
	}
	azb_str_puts(out, "\r\n");
}

static void fail_locked(struct azd_put *p, unsigned int status,
			const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail_locked(struct azd_put *p, unsigned int status,
			const char *code, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->fail_status = status;
	snprintf(p->fail_code, sizeof(p->fail_code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(p->fail_msg, sizeof(p->fail_msg), fmt, ap);
	va_end(ap);
}

static void fail_device_locked(struct azd_put *p, const char *what,
			       const struct azb_xfer *x)
{
	if (x->terr == -ENODEV || x->terr == -ENOENT)
		fail_locked(p, 503, "DeviceUnavailable",
			    "%s is not available (%s); retry later; nothing was committed",
			    p->r->cfg->device, x->terr_msg);
	else
		fail_locked(p, 502, "DeviceRequestFailed",
			    "%s did not reach the blob service through %s: %s; nothing was committed",
			    what, p->r->cfg->device, x->terr_msg);
}

/* ---- Put Block ---- */

static void block_done(struct azd_job *j);
static void put_granted(struct azd_mem_wait *w);

/* A job for block p->next, charged or queued for the cap (r->lock). */
static void block_new_locked(struct azd_put *p)
{
	struct azd_req *r = p->r;
	struct azb_str head = {0};
	uint64_t off = p->next * p->block, len = r->clen - off;
	struct azd_job *j;
	size_t charge;

	if (len > p->block)
		len = p->block;
	block_head(p, p->next, len, &head);
	j = azd_job_new(head.p, head.len, (size_t)len, true, false,
			r->cfg->request_timeout_ms);
	charge = azd_job_charge(head.len, (size_t)len);
	azb_str_free(&head);
	if (!j) {
		fail_locked(p, 503, "ServerBusy",
			    "azblobd is out of memory; nothing was committed");
		return;
	}
	j->owner = p;
	j->done = block_done;
	j->off = off;
	j->len = len;
	p->cur = j;
	p->cur_got = 0;
	if (!azd_mem_take(&p->mw, charge)) {
		p->waiting = true;
		azd_req_get(r);		/* the wait's reference */
		return;
	}
	j->charged = charge;
	if (azd_job_map(j))
		fail_locked(p, 503, "ServerBusy",
			    "azblobd could not map %" PRIu64 " bytes for a block; nothing was committed",
			    len);
}

static void block_done(struct azd_job *j)
{
	struct azd_put *p = j->owner;
	struct azd_req *r = p->r;
	struct azd_job *orphan = j;
	struct azb_response dev;
	char target[320], code[64] = "", why[340];
	bool retry = true, wake = false;
	int status = 0;

	pthread_mutex_lock(&r->lock);
	r->dev_requests++;
	if (p->closed || p->failed)
		goto out;
	if (j->x->terr) {
		snprintf(why, sizeof(why), "%s", j->x->terr_msg);
	} else if (azb_parse_response_head(j->x->resp, j->x->resp_len,
					   &dev)) {
		snprintf(why, sizeof(why), "malformed response head");
	} else {
		status = dev.status;
		snprintf(code, sizeof(code), "%s",
			 azb_resp_get(&dev, "x-ms-error-code") ?
			 azb_resp_get(&dev, "x-ms-error-code") : "");
		snprintf(why, sizeof(why), "HTTP %d %s", status, code);
		retry = status >= 500;
		azb_response_free(&dev);
	}
	if (status / 100 == 2) {
		p->sent++;
	} else if (retry && j->attempt < BLOCK_RETRIES) {
		j->attempt++;
		azd_log_target(r->uri, target, sizeof(target));
		azd_log(AZD_WARNING,
			"block at %" PRIu64 " of %s: %s; sending it again",
			j->off, target, why);
		azd_req_get(r);
		azd_dev_submit(j);
		orphan = NULL;
	} else if (j->x->terr) {
		fail_device_locked(p, "a Put Block", j->x);
	} else {
		fail_locked(p, status ? (unsigned int)status : 502,
			    code[0] ? code :
			    status ? "BlockUploadFailed" : "DeviceRequestFailed",
			    "Put Block %" PRIu64 " of %" PRIu64 " (bytes %" PRIu64 "-%" PRIu64 "), into which azblobd split this upload, failed: %s; nothing was committed",
			    j->off / p->block + 1, p->nblocks, j->off,
			    j->off + j->len - 1, why);
	}
out:
	if (orphan) {
		p->inflight--;
		wake = !p->closed && azd_req_wake_locked(r);
	}
	azd_job_end_unlock(r, wake, orphan);
}

/* ---- Put Block List ---- */

static void list_done(struct azd_job *j)
{
	struct azd_put *p = j->owner;
	struct azd_req *r = p->r;
	struct azd_job *orphan = NULL;
	bool wake = false;

	pthread_mutex_lock(&r->lock);
	r->dev_requests++;
	p->list_done = true;
	if (p->closed) {
		orphan = j;
		p->list = NULL;
	} else {
		wake = azd_req_wake_locked(r);
	}
	azd_job_end_unlock(r, wake, orphan);
}

static void list_submit_locked(struct azd_put *p)
{
	struct azd_job *j = p->list;

	if (azd_job_map(j)) {
		fail_locked(p, 503, "ServerBusy",
			    "azblobd could not map the block list; nothing was committed");
		return;
	}
	memcpy(j->data, p->xml.p, p->xml.len);
	p->list_sent = true;
	azd_req_get(p->r);	/* the job's reference */
	azd_dev_submit(j);
}

static void list_new_locked(struct azd_put *p)
{
	struct azd_req *r = p->r;
	struct azb_str head = {0};
	struct azd_job *j;
	size_t charge;
	uint64_t i;

	p->xml.len = 0;
	azb_str_puts(&p->xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (i = 0; i < p->nblocks; i++) {
		azb_str_puts(&p->xml, "<Latest>");
		block_id(p, i, false, &p->xml);
		azb_str_puts(&p->xml, "</Latest>");
	}
	azb_str_puts(&p->xml, "</BlockList>");
	list_head(p, &head);
	j = azd_job_new(head.p, head.len, p->xml.len, true, false,
			r->cfg->request_timeout_ms);
	charge = azd_job_charge(head.len, p->xml.len);
	azb_str_free(&head);
	if (!j) {
		fail_locked(p, 503, "ServerBusy",
			    "azblobd is out of memory; nothing was committed");
		return;
	}
	j->owner = p;
	j->done = list_done;
	p->list = j;
	if (!azd_mem_take(&p->mw, charge)) {
		p->waiting = true;
		azd_req_get(r);
		return;
	}
	j->charged = charge;
	list_submit_locked(p);
}

/* the cap made room for p->cur, or for p->list when it exists */
static void put_granted(struct azd_mem_wait *w)
{
	struct azd_put *p = (struct azd_put *)((char *)w -
					       offsetof(struct azd_put, mw));
	struct azd_req *r = p->r;
	struct azd_job *j, *orphan = NULL;
	bool wake = false;

	pthread_mutex_lock(&r->lock);
	p->waiting = false;
	j = p->list ? p->list : p->cur;
	j->charged = w->bytes;
	if (p->closed) {
		orphan = j;
		if (j == p->list)
			p->list = NULL;
		else
			p->cur = NULL;
	} else {
		if (j == p->list)
			list_submit_locked(p);
		else if (azd_job_map(j))
			fail_locked(p, 503, "ServerBusy",
				    "azblobd could not map a block; nothing was committed");
		wake = azd_req_wake_locked(r);
	}
	azd_job_end_unlock(r, wake, orphan);
}

/* ---- the answer ---- */

static enum MHD_Result list_reply(struct azd_req *r)
{
	struct azd_put *p = r->put;
	struct azd_job *j = p->list;
	struct MHD_Response *resp;
	struct azb_response dev;
	struct azb_str body = {0};
	enum MHD_Result ret;
	const char *code;
	int i, k;

	if (j->x->terr == -ENODEV || j->x->terr == -ENOENT)
		return azd_answer_error(r, 503, "DeviceUnavailable",
					"%s went away with the Put Block List (%s); the blob may or may not be committed",
					r->cfg->device, j->x->terr_msg);
	if (j->x->terr)
		return azd_answer_error(r, 502, "DeviceRequestFailed",
					"the Put Block List did not come back through %s: %s; the blob may or may not be committed",
					r->cfg->device, j->x->terr_msg);
	if (azb_parse_response_head(j->x->resp, j->x->resp_len, &dev))
		return azd_answer_error(r, 502, "DeviceRequestFailed",
					"the host's response head to the Put Block List is malformed (%zu bytes); the blob may or may not be committed",
					j->x->resp_len);
	code = azb_resp_get(&dev, "x-ms-error-code");
	if (dev.status / 100 != 2 && code) {
		/* the service's error, in its format (its body stayed there) */
		azb_str_printf(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>Put Block List, with which azblobd commits this upload, was answered HTTP %d; nothing was committed</Message></Error>",
			       code, dev.status);
	}
	resp = MHD_create_response_from_buffer(body.len, body.p,
					       MHD_RESPMEM_MUST_COPY);
	azb_str_free(&body);
	if (!resp) {
		azb_response_free(&dev);
		return MHD_NO;
	}
	/* the block list's digests, not the blob's: left out */
	for (i = k = 0; i < dev.nhdr; i++)
		if (strcasecmp(dev.hdr[i].name, "Content-MD5") &&
		    strcasecmp(dev.hdr[i].name, "x-ms-content-crc64"))
			dev.hdr[k++] = dev.hdr[i];
	dev.nhdr = k;
	azd_copy_headers(resp, &dev);
	if (code && !azb_resp_get(&dev, "Content-Type"))
		MHD_add_response_header(resp, "Content-Type",
					"application/xml");
	if (dev.status / 100 == 2)
		MHD_add_response_header(resp, "Content-MD5", p->md5_b64);
	r->status = (unsigned int)dev.status;
	r->state = AZD_ST_ANSWERED;
	azb_response_free(&dev);
	ret = MHD_queue_response(r->mc, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The whole body is in and every block back: check, commit, answer. */
static enum MHD_Result put_finish(struct azd_req *r)
{
	struct azd_put *p = r->put;
	const char *want = azd_req_header(r, "Content-MD5");
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	bool wake;

	pthread_mutex_lock(&r->lock);
	if (p->inflight || p->waiting || (p->list_sent && !p->list_done)) {
		azd_req_suspend_locked(r);	/* a completion wakes us */
		pthread_mutex_unlock(&r->lock);
		return MHD_YES;
	}
	if (p->list_done) {
		pthread_mutex_unlock(&r->lock);
		return list_reply(r);
	}
	if (p->failed) {
		pthread_mutex_unlock(&r->lock);
		return azd_answer_error(r, p->fail_status, p->fail_code, "%s",
					p->fail_msg);
	}
	pthread_mutex_unlock(&r->lock);
	if (!p->md5_b64[0]) {
		EVP_DigestFinal_ex(p->md5, md, &mdlen);
		EVP_EncodeBlock((unsigned char *)p->md5_b64, md, (int)mdlen);
	}
	if (want && strcmp(want, p->md5_b64))
		return azd_answer_error(r, 400, "Md5Mismatch",
					"The MD5 value specified in the request did not match with the MD5 value calculated by the server: Content-MD5 %.40s, the body's %s; azblobd sent its %" PRIu64 " blocks and no Put Block List: nothing was committed",
					want, p->md5_b64, p->nblocks);
	pthread_mutex_lock(&r->lock);
	list_new_locked(p);
	wake = false;
	if (p->list_sent || p->waiting)
		azd_req_suspend_locked(r);
	else
		wake = true;	/* failed at once: answer it */
	pthread_mutex_unlock(&r->lock);
	if (wake)
		return put_finish(r);
	return MHD_YES;
}

/* After a failure: drop the rest of the body, then answer. */
static enum MHD_Result put_drain(struct azd_req *r, size_t *size)
{
	struct azd_put *p = r->put;
	struct azd_job *drop = NULL;
	bool cancelled = false;

	pthread_mutex_lock(&r->lock);
	if (p->waiting && !p->list && azd_mem_cancel(&p->mw)) {
		p->waiting = false;
		cancelled = true;
	}
	if (!p->waiting && p->cur) {
		drop = p->cur;
		p->cur = NULL;
	}
	pthread_mutex_unlock(&r->lock);
	azd_job_free(drop);
	if (cancelled)
		azd_req_put(r);
	if (*size && r->clen - r->body_got <= DRAIN_MAX) {
		r->body_got += *size;
		*size = 0;
		if (r->body_got < r->clen && azd_req_peer_gone(r))
			return MHD_NO;
		return MHD_YES;
	}
	if (!*size && r->body_got < r->clen)
		return MHD_YES;
	*size = 0;
	return put_finish(r);
}

enum MHD_Result azd_put_carry(struct azd_req *r, const char *data,
			      size_t *size)
{
	struct azd_put *p = r->put;
	struct azd_job *j;
	bool failed, full;
	size_t n;

	pthread_mutex_lock(&r->lock);
	failed = p->failed;
	pthread_mutex_unlock(&r->lock);
	if (failed)
		return put_drain(r, size);
	if (!*size) {
		if (r->body_got < r->clen)
			return MHD_YES;
		return put_finish(r);
	}
	while (*size) {
		pthread_mutex_lock(&r->lock);
		if (!p->cur && !p->waiting && !p->failed &&
		    p->inflight < r->cfg->parts_in_flight)
			block_new_locked(p);
		if (p->failed) {
			pthread_mutex_unlock(&r->lock);
			return put_drain(r, size);
		}
		if (!p->cur || p->waiting) {
			/* the rest stays with the library until there is room */
			azd_req_suspend_locked(r);
			pthread_mutex_unlock(&r->lock);
			return MHD_YES;
		}
		j = p->cur;
		pthread_mutex_unlock(&r->lock);

		n = (size_t)(j->len - p->cur_got);
		if (n > *size)
			n = *size;
		memcpy((char *)j->data + p->cur_got, data, n);
		EVP_DigestUpdate(p->md5, data, n);
		p->cur_got += n;
		r->body_got += n;
		data += n;
		*size -= n;
		full = p->cur_got == j->len;
		if (!full)
			continue;
		pthread_mutex_lock(&r->lock);
		p->cur = NULL;
		p->next++;
		p->inflight++;
		azd_req_get(r);		/* the job's reference */
		azd_dev_submit(j);
		pthread_mutex_unlock(&r->lock);
	}
	if (r->body_got < r->clen && azd_req_peer_gone(r))
		return MHD_NO;		/* ends the connection */
	return MHD_YES;
}

enum MHD_Result azd_put_start(struct azd_req *r)
{
	struct azd_put *p;
	struct azb_str head = {0};
	const char *md5 = azd_req_header(r, "Content-MD5");
	unsigned char rnd[8], dig[32];
	size_t max, dlen;

	if (md5 && (azb_b64_decode(md5, dig, sizeof(dig), &dlen) || dlen != 16))
		return azd_answer_error(r, 400, "InvalidHeaderValue",
					"Content-MD5 must be the base64 of 16 bytes, not '%.60s'",
					md5);
	p = azb_xmalloc(sizeof(*p));
	p->r = r;
	p->mw.granted = put_granted;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		struct timespec ts;
		uint64_t v;

		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		v ^= (uint64_t)(uintptr_t)p;
		memcpy(rnd, &v, sizeof(rnd));
	}
	snprintf(p->idbase, sizeof(p->idbase), "azblobd-%02x%02x%02x%02x%02x%02x%02x%02x-",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6],
		 rnd[7]);
	/* the block size: part_size, or less if the Put Block head is large */
	block_head(p, 0, r->cfg->part_size, &head);
	max = azd_max_data(head.len + 32) / AZD_PAGE * AZD_PAGE;
	azb_str_free(&head);
	p->block = r->cfg->part_size < max ? r->cfg->part_size : max;
	p->nblocks = (r->clen + p->block - 1) / p->block;
	if (p->nblocks > MAX_BLOCKS) {
		uint64_t nb = p->nblocks;
		size_t bs = p->block;

		free(p);
		return azd_answer_error(r, 413, "RequestBodyTooLarge",
					"Upload in blocks (Python azure-storage-blob: max_single_put_size and max_block_size; JavaScript: maxSingleShotSize and blockSize). This body of %llu bytes would take %llu blocks of %zu bytes, more than the %u a blob may have",
					(unsigned long long)r->clen,
					(unsigned long long)nb, bs,
					MAX_BLOCKS);
	}
	p->md5 = EVP_MD_CTX_new();
	if (!p->md5 || !EVP_DigestInit_ex(p->md5, EVP_md5(), NULL)) {
		EVP_MD_CTX_free(p->md5);
		free(p);
		return azd_answer_error(r, 503, "ServerBusy",
					"azblobd is out of memory");
	}
	r->put = p;
	r->state = AZD_ST_PUT;
	azd_log(AZD_DEBUG, "PUT: %llu bytes in %llu blocks of %zu",
		(unsigned long long)r->clen, (unsigned long long)p->nblocks,
		p->block);
	return MHD_YES;
}

/* The library is done with the request: drop what is not in flight. */
void azd_put_close(struct azd_req *r)
{
	struct azd_put *p = r->put;
	struct azd_job *drop[2] = { NULL, NULL };
	bool cancelled = false;

	if (!p)
		return;
	pthread_mutex_lock(&r->lock);
	p->closed = true;
	if (p->waiting && azd_mem_cancel(&p->mw)) {
		p->waiting = false;
		cancelled = true;
	}
	if (!p->waiting) {
		/* one waiting for the cap is freed by put_granted */
		drop[0] = p->cur;
		p->cur = NULL;
		if (!p->list_sent || p->list_done) {
			drop[1] = p->list;
			p->list = NULL;
		}
	}
	pthread_mutex_unlock(&r->lock);
	azd_job_free(drop[0]);
	azd_job_free(drop[1]);
	if (cancelled)
		azd_req_put(r);
}

void azd_put_describe(const struct azd_put *p, char *out, size_t cap)
{
	if (!p) {
		*out = '\0';
		return;
	}
	snprintf(out, cap, " (%" PRIu64 " block%s%s)", p->sent,
		 p->sent == 1 ? "" : "s",
		 p->list_done ? " + block list" : ", no block list");
}

void azd_put_free(struct azd_put *p)
{
	if (!p)
		return;
	azd_job_free(p->cur);
	azd_job_free(p->list);
	EVP_MD_CTX_free(p->md5);
	azb_str_free(&p->xml);
	free(p);
}
