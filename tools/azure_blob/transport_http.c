// SPDX-License-Identifier: MIT
/*
 * libazblob: the HTTP transport (libcurl multi interface).
 *
 * The request head built by the library is split back into method,
 * request-target and header lines; the URL is the blob endpoint followed by
 * the request-target, exactly what a host does with the device's request
 * buffer. The raw response head is collected through CURLOPT_HEADERFUNCTION
 * and parsed by the library's one response parser.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "internal.h"

struct http_transport {
	struct azb_transport t;
	char *endpoint;
	char *ca_file;		/* CURLOPT_CAINFO, or NULL: the system's */
	CURLM *multi;
	CURL **pool;		/* idle easy handles (keep their connections) */
	unsigned int npool;
	struct azb_xfer **done;
	unsigned int ndone;
};

struct http_xfer {
	CURL *easy;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct azb_xfer *x = arg;
	size_t len = size * n;

	/* A new status line (after 100 Continue): start over. */
	if (len >= 5 && !memcmp(p, "HTTP/", 5))
		x->resp_len = 0;
	if (x->resp_len + len > sizeof(x->resp))
		return 0;
	memcpy(x->resp + x->resp_len, p, len);
	x->resp_len += len;
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct azb_xfer *x = arg;
	size_t len = size * n, room = x->rcap - x->rlen;

	if (len > room) {
		x->overflow = true;
		len = room;
	}
	if (len)
		memcpy((char *)x->rbuf + x->rlen, p, len);
	x->rlen += len;
	/* Keep reading so the connection stays reusable. */
	return size * n;
}

static int http_submit(struct azb_transport *t, struct azb_xfer *x)
{
	struct http_transport *h = (struct http_transport *)t;
	struct http_xfer *hx = azb_xmalloc(sizeof(*hx));
	struct azb_str url = {0}, method = {0};
	const char *p = x->head, *eol, *sp1, *sp2;
	bool has_ctype = false;
	CURL *e;

	eol = strstr(p, "\r\n");
	sp1 = eol ? memchr(p, ' ', eol - p) : NULL;
	sp2 = sp1 ? memchr(sp1 + 1, ' ', eol - sp1 - 1) : NULL;
	if (!sp2) {
		free(hx);
		return -EINVAL;
	}
	azb_str_add(&method, p, sp1 - p);
	azb_str_puts(&url, h->endpoint);
	azb_str_add(&url, sp1 + 1, sp2 - sp1 - 1);

	for (p = eol + 2; (eol = strstr(p, "\r\n")) && eol != p; p = eol + 2) {
		char line[8192];
		size_t n = eol - p;

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (!azb_ascii_ncasecmp(line, "Content-Type:", 13))
			has_ctype = true;
		hx->hdrs = curl_slist_append(hx->hdrs, line);
	}
	/* Stop libcurl from adding headers of its own. */
	hx->hdrs = curl_slist_append(hx->hdrs, "Expect:");
	hx->hdrs = curl_slist_append(hx->hdrs, "Accept:");
	if (!has_ctype)
		hx->hdrs = curl_slist_append(hx->hdrs, "Content-Type:");

	if (h->npool) {
		e = h->pool[--h->npool];
		curl_easy_reset(e);
	} else {
		e = curl_easy_init();
		if (!e)
			abort();
	}
	hx->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, url.p);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hx->hdrs);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, hx->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (h->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	if (x->is_head) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.p);
		if (x->body || !strcmp(method.p, "PUT")) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)x->body_len);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS,
					 x->body ? x->body : "");
		}
	}
	azb_str_free(&url);
	azb_str_free(&method);
	x->tpriv = hx;
	x->resp_len = 0;
	x->rlen = 0;
	x->overflow = false;
	x->terr = 0;
	x->terr_msg[0] = '\0';
	curl_multi_add_handle(h->multi, e);
	t->inflight++;
	return 0;
}

static void http_finish(struct http_transport *h, CURL *e, CURLcode rc)
{
	struct azb_xfer *x = NULL;
	struct http_xfer *hx;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
	hx = x->tpriv;
	curl_multi_remove_handle(h->multi, e);
	if (rc != CURLE_OK) {
		x->terr = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		snprintf(x->terr_msg, sizeof(x->terr_msg), "%s%s%s",
			 curl_easy_strerror(rc), hx->errbuf[0] ? ": " : "",
			 hx->errbuf);
	}
	curl_slist_free_all(hx->hdrs);
	h->pool[h->npool++] = e;
	free(hx);
	x->tpriv = NULL;
	/* Still in flight for the caller until reap() hands it back. */
	h->done[h->ndone++] = x;
}

static struct azb_xfer *http_reap(struct azb_transport *t)
{
	struct http_transport *h = (struct http_transport *)t;

	while (!h->ndone) {
		int running = 0, left;
		CURLMsg *m;

		if (!t->inflight)
			return NULL;
		curl_multi_perform(h->multi, &running);
		while ((m = curl_multi_info_read(h->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				http_finish(h, m->easy_handle, m->data.result);
		if (!h->ndone && running)
			curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
	}
	{
		struct azb_xfer *x = h->done[0];

		memmove(h->done, h->done + 1, --h->ndone * sizeof(*h->done));
		t->inflight--;
		return x;
	}
}

static void http_destroy(struct azb_transport *t)
{
	struct http_transport *h = (struct http_transport *)t;

	while (t->inflight)
		if (!http_reap(t))
			break;
	while (h->npool)
		curl_easy_cleanup(h->pool[--h->npool]);
	curl_multi_cleanup(h->multi);
	free(h->pool);
	free(h->done);
	free(h->endpoint);
	free(h->ca_file);
	free(h);
}

struct azb_transport *azb_transport_http_new(const struct azb_config *cfg,
					     struct azb_error *err)
{
	struct http_transport *h;
	unsigned int depth = cfg->parallel ? cfg->parallel : 1;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		azb_seterr(err, AZB_ETRANSPORT, "libcurl initialisation failed");
		return NULL;
	}
	h = azb_xmalloc(sizeof(*h));
	h->t.name = "http";
	h->t.submit = http_submit;
	h->t.reap = http_reap;
	h->t.destroy = http_destroy;
	h->t.depth = depth;
	h->endpoint = azb_xstrdup(cfg->endpoint);
	h->ca_file = cfg->ca_file ? azb_xstrdup(cfg->ca_file) : NULL;
	h->multi = curl_multi_init();
	h->pool = azb_xmalloc(sizeof(*h->pool) * (depth + 1));
	h->done = azb_xmalloc(sizeof(*h->done) * (depth + 1));
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)depth + 1);
	return &h->t;
}
