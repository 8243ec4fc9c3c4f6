// SPDX-License-Identifier: MIT
/*
 * azblobd: a GET whose answer does not fit one device request. The first
 * job's answer gives the status, the headers, the ETag and the first
 * bytes; the client gets that status and those headers at once, with the
 * whole body's Content-Length. The rest is read in parts of part_size
 * bytes, each its own device request with x-ms-range and If-Match: the
 * first answer's ETag (a blob that changes midway fails its parts
 * instead of mixing versions), up to parts_in_flight parts held at once,
 * and written to the client in order. A part that fails after its
 * retries ends the response where it begins: the parts before it are
 * written, then the connection is closed, and the client sees a short
 * body rather than wrong bytes.
 *
 * Only for requests whose authorization signs none of the headers (SAS,
 * bearer, anonymous); a Shared Key signature covers the range headers.
 *
 * Memory: at most parts_in_flight buffers of part_size bytes, each
 * charged to the memory cap before it is mapped; a part that does not
 * fit waits in the cap's queue, and a client that stops reading stops
 * new parts.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "azblobd_req.h"

#define PART_RETRIES	2
#define RING		64	/* >= the largest parts_in_flight */

struct azd_stream {
	struct azd_req *r;
	uint64_t total;		/* body bytes */
	uint64_t base;		/* blob offset of body byte 0 */
	uint64_t next_off;	/* body offset of the next part to create */
	uint64_t sent;		/* body bytes handed to the library */
	char etag[128];
	struct azd_job *q[RING];	/* parts in body order */
	unsigned int qh, qn;
	struct azd_mem_wait mw;
	struct azd_job *waiting;	/* the part waiting for the cap */
	bool failed, closed;
	char why[320];
};

uint64_t azd_stream_bytes(const struct azd_stream *st)
{
	return st->sent;
}

static void part_done(struct azd_job *j);

static void fail_locked(struct azd_stream *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail_locked(struct azd_stream *st, const char *fmt, ...)
{
	va_list ap;

	if (st->failed)
		return;
	st->failed = true;
	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
}

static void part_submit_locked(struct azd_stream *st, struct azd_job *j)
{
	if (azd_job_map(j)) {
		fail_locked(st, "out of memory for a part's buffer");
		j->ready = true;	/* nothing in flight: freed with the ring */
		j->failed = true;
		return;
	}
	azd_req_get(st->r);
	azd_dev_submit(j);
}

/* Create and start parts while the ring has room (under r->lock). */
static void issue_more_locked(struct azd_stream *st)
{
	struct azd_req *r = st->r;
	struct azb_str head = {0};
	char range[64];
	struct azd_job *j;
	uint64_t len;
	size_t charge;

	while (!st->failed && !st->closed && !st->waiting &&
	       st->qn < r->cfg->parts_in_flight && st->next_off < st->total) {
		len = st->total - st->next_off;
		if (len > r->cfg->part_size)
			len = r->cfg->part_size;
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64,
			 st->base + st->next_off,
			 st->base + st->next_off + len - 1);
		azd_build_head(r, &head, range, st->etag);
		j = azd_job_new(head.p, head.len, (size_t)len, false, false,
				r->cfg->request_timeout_ms);
		if (!j) {
			fail_locked(st, "out of memory for a part");
			break;
		}
		j->owner = st;
		j->done = part_done;
		j->off = st->next_off;
		j->len = len;
		st->q[(st->qh + st->qn++) % RING] = j;
		st->next_off += len;
		charge = azd_job_charge(head.len, (size_t)len);
		if (!azd_mem_take(&st->mw, charge)) {
			st->waiting = j;
			azd_req_get(r);		/* the wait's reference */
			break;
		}
		j->charged = charge;
		part_submit_locked(st, j);
	}
	azb_str_free(&head);
}

static void part_granted(struct azd_mem_wait *w)
{
	struct azd_stream *st = (struct azd_stream *)((char *)w -
					offsetof(struct azd_stream, mw));
	struct azd_req *r = st->r;
	struct azd_job *j, *orphan = NULL;

	pthread_mutex_lock(&r->lock);
	j = st->waiting;
	st->waiting = NULL;
	j->charged = w->bytes;
	if (st->closed) {
		orphan = j;	/* the ring was emptied when it closed */
	} else {
		part_submit_locked(st, j);
		issue_more_locked(st);
	}
	pthread_mutex_unlock(&r->lock);
	azd_job_free(orphan);
	azd_req_put(r);
}

/* Is this part's answer the bytes we asked for? NULL: yes. */
static const char *part_check(struct azd_stream *st, struct azd_job *j,
			      bool *retry)
{
	static __thread char why[400];
	struct azb_response dev;
	const char *etag;

	*retry = false;
	if (j->x->terr) {
		*retry = true;
		snprintf(why, sizeof(why), "%.320s", j->x->terr_msg);
		return why;
	}
	if (azb_parse_response_head(j->x->resp, j->x->resp_len, &dev)) {
		*retry = true;
		return "malformed response head";
	}
	etag = azb_resp_get(&dev, "ETag");
	if (dev.status != 206) {
		*retry = dev.status >= 500;
		snprintf(why, sizeof(why), "HTTP %d %s", dev.status,
			 azb_resp_get(&dev, "x-ms-error-code") ?
			 azb_resp_get(&dev, "x-ms-error-code") : "");
	} else if (dev.content_length != (int64_t)j->len ||
		   j->x->rlen != j->len || j->x->overflow) {
		snprintf(why, sizeof(why),
			 "%zu bytes (Content-Length %lld) for a part of %llu",
			 j->x->rlen, (long long)dev.content_length,
			 (unsigned long long)j->len);
	} else if (etag && strcmp(etag, st->etag)) {
		snprintf(why, sizeof(why), "ETag %s, not %s", etag, st->etag);
	} else {
		azb_response_free(&dev);
		return NULL;
	}
	azb_response_free(&dev);
	return why;
}

static void part_done(struct azd_job *j)
{
	struct azd_stream *st = j->owner;
	struct azd_req *r = st->r;
	struct azd_job *orphan = NULL;
	const char *why;
	bool retry, wake = false;

	pthread_mutex_lock(&r->lock);
	r->dev_requests++;
	if (st->closed) {
		orphan = j;
	} else {
		why = part_check(st, j, &retry);
		if (why && retry && j->attempt < PART_RETRIES) {
			char target[320];

			j->attempt++;
			azd_log_target(r->uri, target, sizeof(target));
			azd_log(AZD_WARNING,
				"part at %llu of %s: %s; asking again",
				(unsigned long long)j->off, target, why);
			azd_req_get(r);
			azd_dev_submit(j);
		} else {
			if (why)
				fail_locked(st, "part at byte %llu: %s",
					    (unsigned long long)j->off, why);
			j->failed = why != NULL;
			j->ready = true;
			wake = azd_req_wake_locked(r);
		}
	}
	azd_job_end_unlock(r, wake, orphan);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct azd_stream *st = cls;
	struct azd_req *r = st->r;
	struct azd_job *drop[RING], *j;
	unsigned int ndrop = 0, i;
	ssize_t n = 0;

	pthread_mutex_lock(&r->lock);
	while (st->qn) {
		j = st->q[st->qh];
		if (!j->ready || j->off + j->len > pos)
			break;
		drop[ndrop++] = j;
		st->qh = (st->qh + 1) % RING;
		st->qn--;
	}
	issue_more_locked(st);
	j = st->qn ? st->q[st->qh] : NULL;
	if ((j && j->failed) || (!j && st->failed)) {
		char target[320];

		n = MHD_CONTENT_READER_END_WITH_ERROR;
		azd_log_target(r->uri, target, sizeof(target));
		azd_log(AZD_WARNING,
			"uid %u GET %s: closing the connection after %llu of %llu bytes: %s",
			(unsigned int)r->uid, target, (unsigned long long)pos,
			(unsigned long long)st->total, st->why);
	} else if (!j || !j->ready || pos < j->off) {
		azd_req_suspend_locked(r);	/* a part's completion wakes us */
	} else {
		n = (ssize_t)(j->off + j->len - pos);
		if ((size_t)n > max)
			n = (ssize_t)max;
		memcpy(buf, (char *)j->data + (pos - j->off), (size_t)n);
		st->sent = pos + (uint64_t)n;
	}
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < ndrop; i++)
		azd_job_free(drop[i]);
	return n;
}

/* The library is done with the response: drop what is not in flight. */
static void stream_free(void *cls)
{
	struct azd_stream *st = cls;
	struct azd_req *r = st->r;
	struct azd_job *drop[RING];
	unsigned int ndrop = 0, i;
	bool cancelled = false;

	pthread_mutex_lock(&r->lock);
	st->closed = true;
	while (st->qn) {
		struct azd_job *j = st->q[st->qh];

		st->qh = (st->qh + 1) % RING;
		st->qn--;
		if (j->ready)
			drop[ndrop++] = j;	/* in flight: part_done frees */
		else if (j == st->waiting && azd_mem_cancel(&st->mw))
			cancelled = true;
	}
	if (cancelled) {
		drop[ndrop++] = st->waiting;
		st->waiting = NULL;
	}
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < ndrop; i++)
		azd_job_free(drop[i]);
	if (cancelled)
		azd_req_put(r);
	azd_req_put(r);		/* the response's reference */
}

enum MHD_Result azd_stream_start(struct azd_req *r,
				 const struct azb_response *first)
{
	const char *cr = azb_resp_get(first, "Content-Range");
	struct MHD_Response *resp;
	struct azd_stream *st;
	struct azd_job *j = r->job;
	enum MHD_Result ret;

	st = azb_xmalloc(sizeof(*st));
	st->r = r;
	st->total = (uint64_t)first->content_length;
	snprintf(st->etag, sizeof(st->etag), "%s", azb_resp_get(first, "ETag"));
	if (first->status == 206 && cr)
		sscanf(cr, "bytes %" SCNu64, &st->base);
	st->mw.granted = part_granted;
	/* the first answer is the first part */
	j->owner = st;
	j->done = part_done;
	j->off = 0;
	j->len = j->x->rlen;
	j->ready = true;
	st->q[0] = j;
	st->qn = 1;
	st->next_off = j->len;
	r->job = NULL;
	r->st = st;

	resp = MHD_create_response_from_callback(st->total, 256 * 1024,
						 stream_read, st, stream_free);
	if (!resp) {
		azd_job_free(j);
		st->qn = 0;
		return MHD_NO;
	}
	azd_copy_headers(resp, first);
	r->status = (unsigned int)first->status;
	azd_log(AZD_DEBUG, "GET: %llu bytes from %llu in parts of %zu",
		(unsigned long long)st->total,
		(unsigned long long)st->base, r->cfg->part_size);
	pthread_mutex_lock(&r->lock);
	azd_req_get(r);		/* the response's reference */
	r->state = AZD_ST_STREAM;
	issue_more_locked(st);
	pthread_mutex_unlock(&r->lock);
	ret = MHD_queue_response(r->mc, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}
