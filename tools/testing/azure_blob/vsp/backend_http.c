// SPDX-License-Identifier: GPL-2.0
/*
 * Reference VSP: the http backend. Each request is carried to a Blob
 * service (Azurite on the loopback) as one HTTP/1.1 exchange:
 *
 *   request buffer   an HTTP/1.1 request head (request line with a target
 *                    relative to the endpoint, headers, empty line)
 *   data buffer      the request body (the first data_buffer_valid bytes)
 *                    or, for a download, where the response body goes
 *   response buffer  the response head as received (a chunked body is
 *                    de-chunked and announced with Content-Length)
 *
 * The loop thread parses the head and copies the upload body out of guest
 * memory; one worker thread runs every transfer on a libcurl multi handle
 * (connections are kept and reused, up to --http-max-inflight transfers at
 * once) and hands each result back with vsp_loop_post(); the loop thread
 * writes the head and the body into the guest pages and completes. Guest
 * pages are touched only on the loop thread, so a channel that goes away
 * with transfers in flight (cancel) costs nothing but their results.
 *
 * Host status (the completion's error field), errno values:
 *   0            an HTTP response was obtained, whatever its HTTP status
 *   ECONNREFUSED the Blob service refused the connection
 *   ETIMEDOUT    connect or exchange timed out (timeout_ms or
 *                --http-timeout-ms, the smaller one)
 *   ECONNRESET   the connection broke during the exchange
 *   EHOSTUNREACH the endpoint could not be reached or resolved
 *   EPROTO       the Blob service's answer was not valid HTTP
 *   EIO          any other transport failure
 *   ENOMEM       the host ran out of memory
 *   EBADMSG      the request buffer is not a valid request head
 *   EMSGSIZE     the response head does not fit the response buffer
 *                (nothing is written, response_len 0)
 *   EOVERFLOW    a 2xx response body is larger than the data buffer: the
 *                head is written (its Content-Length is the full size)
 *                and the first data_buffer_length bytes of the body
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "vsp.h"

#define HTTP_DEFAULT_ENDPOINT	"http://127.0.0.1:10000/devstoreaccount1"
#define HTTP_CONNECT_TIMEOUT_MS	5000L
#define HTTP_URL_MAX		8192

static char http_endpoint[HTTP_URL_MAX] = HTTP_DEFAULT_ENDPOINT;
static uint32_t http_max_inflight = 64;
static uint32_t http_timeout_ms = 120000;
static bool http_keep_host;	/* send the request head's Host */

enum http_kind { K_GET, K_HEAD, K_UPLOAD, K_OTHER };

struct http_job {
	struct http_job *next;		/* worker lists */
	struct vsp_request *req;	/* loop thread only */
	int cancelled;			/* atomic: the loop thread let go */

	/* the request, built on the loop thread */
	char *url;
	char method[32];
	enum http_kind kind;
	struct curl_slist *hdrs;
	uint8_t *up;
	uint32_t up_len, up_off;
	uint32_t data_cap;	/* bytes the data buffer takes (downloads) */
	uint32_t resp_cap;
	long timeout_ms;

	/* the result, built by the worker */
	CURL *easy;
	char *head;
	size_t head_len, head_alloc;
	bool head_big, chunked;
	uint8_t *body;
	size_t body_len, body_alloc;
	uint64_t body_total;
	CURLcode rc;
	long os_errno;
	long http_code;
	char errbuf[CURL_ERROR_SIZE];
	uint32_t status;
	uint64_t start_ns;
};

static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_job *incoming, **incoming_tail = &incoming;
static CURLM *multi;
static bool worker_started;
static uint64_t stat_sent, stat_failed;

/* ---------------------------------------------------------------------- */
/* Configuration */

/* Only http:// to the loopback: 127.0.0.0/8, localhost or [::1]. */
static int endpoint_check(const char *url)
{
	char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL,
	     *frag = NULL;
	CURLU *u = curl_url();
	int ret = -1;

	if (!u || strlen(url) >= HTTP_URL_MAX - 1024 ||
	    curl_url_set(u, CURLUPART_URL, url, 0))
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    strcasecmp(scheme, "http"))
		goto out;
	if (!curl_url_get(u, CURLUPART_USER, &user, 0) ||
	    !curl_url_get(u, CURLUPART_QUERY, &query, 0) ||
	    !curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0))
		goto out;
	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]"))
		ret = 0;
	else if (!strncmp(host, "127.", 4) &&
		 strspn(host, "0123456789.") == strlen(host))
		ret = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return ret;
}

int vsp_http_set_endpoint(const char *url)
{
	size_t n;

	if (endpoint_check(url))
		return -1;
	snprintf(http_endpoint, sizeof(http_endpoint), "%s", url);
	n = strlen(http_endpoint);
	while (n > 0 && http_endpoint[n - 1] == '/')
		http_endpoint[--n] = '\0';
	return 0;
}

int vsp_http_set_max_inflight(uint32_t n)
{
	if (n < 1 || n > 4096)
		return -1;
	http_max_inflight = n;
	return 0;
}

int vsp_http_set_timeout_ms(uint32_t ms)
{
	if (ms < 1)
		return -1;
	http_timeout_ms = ms;
	return 0;
}

void vsp_http_set_keep_host(bool on)
{
	http_keep_host = on;
}

const char *vsp_http_endpoint(void)
{
	return http_endpoint;
}

static int http_check_arg(const char *arg)
{
	return endpoint_check(arg);
}

/* ---------------------------------------------------------------------- */
/* The worker thread */

static void job_free(struct http_job *j)
{
	curl_slist_free_all(j->hdrs);
	free(j->url);
	free(j->up);
	free(j->head);
	free(j->body);
	free(j);
}

static bool job_cancelled(struct http_job *j)
{
	return __atomic_load_n(&j->cancelled, __ATOMIC_ACQUIRE);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_job *j = arg;
	size_t len = size * n;

	/* A new status line (after an interim 1xx response): start over. */
	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		j->head_len = 0;
		j->chunked = false;
	}
	/* Rewriting Transfer-Encoding shrinks a head by at most 9 bytes. */
	if (j->head_len + len > (size_t)j->resp_cap + 16) {
		j->head_big = true;
		return 0;
	}
	if (j->head_len + len > j->head_alloc) {
		size_t na = j->head_alloc ? j->head_alloc * 2 : 1024;
		char *nh;

		while (na < j->head_len + len)
			na *= 2;
		nh = realloc(j->head, na);
		if (!nh)
			return 0;
		j->head = nh;
		j->head_alloc = na;
	}
	memcpy(j->head + j->head_len, p, len);
	j->head_len += len;
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_job *j = arg;
	size_t len = size * n, take = 0;

	if (j->kind != K_UPLOAD && j->body_len < j->data_cap) {
		take = j->data_cap - j->body_len;
		if (take > len)
			take = len;
		if (j->body_len + take > j->body_alloc) {
			size_t na = j->body_alloc ? j->body_alloc * 2 : 65536;
			uint8_t *nb;

			while (na < j->body_len + take)
				na *= 2;
			if (na > j->data_cap)
				na = j->data_cap;
			nb = realloc(j->body, na);
			if (!nb)
				return 0;
			j->body = nb;
			j->body_alloc = na;
		}
		memcpy(j->body + j->body_len, p, take);
		j->body_len += take;
	}
	/* Count (and drop) the rest: the connection stays reusable. */
	j->body_total += len;
	return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *arg)
{
	struct http_job *j = arg;
	size_t len = size * n, left = j->up_len - j->up_off;

	if (len > left)
		len = left;
	memcpy(p, j->up + j->up_off, len);
	j->up_off += len;
	return len;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct http_job *j = arg;

	if (origin != SEEK_SET || off < 0 || off > j->up_len)
		return CURL_SEEKFUNC_FAIL;
	j->up_off = (uint32_t)off;
	return CURL_SEEKFUNC_OK;
}

static CURL *easy_get(void)
{
	return curl_easy_init();
}

static int job_start(struct http_job *j)
{
	CURL *e = easy_get();

	if (!e)
		return -1;
	j->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, j->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 j->timeout_ms < HTTP_CONNECT_TIMEOUT_MS ?
			 j->timeout_ms : HTTP_CONNECT_TIMEOUT_MS);
	/* Hand the body over as it arrives: no content decoding. */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	curl_easy_setopt(e, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
	switch (j->kind) {
	case K_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	case K_GET:
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		break;
	case K_UPLOAD:
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)j->up_len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, j);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, j);
		break;
	case K_OTHER:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
		break;
	}
	if (curl_multi_add_handle(multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		j->easy = NULL;
		return -1;
	}
	return 0;
}

static uint32_t curl_status(struct http_job *j)
{
	switch (j->rc) {
	case CURLE_COULDNT_CONNECT:
		if (j->os_errno == ETIMEDOUT || j->os_errno == EHOSTUNREACH ||
		    j->os_errno == ENETUNREACH)
			return j->os_errno;
		return ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return ECONNRESET;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
		return EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	case CURLE_WRITE_ERROR:
		return j->head_big ? EMSGSIZE : ENOMEM;
	default:
		return EIO;
	}
}

/*
 * Make the head the guest gets: as received, except that a chunked body,
 * which libcurl de-chunked, is announced by its Content-Length.
 */
static int head_finish(struct http_job *j)
{
	char cl[64], *nh, *line, *end, *out;
	size_t cll, n;

	if (j->head_len < 4 || memcmp(j->head + j->head_len - 4, "\r\n\r\n", 4))
		return -1;
	if (!j->chunked)
		return 0;
	cll = snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n",
		       (unsigned long long)j->body_total);
	nh = malloc(j->head_len + cll);
	if (!nh)
		return -1;
	out = nh;
	for (line = j->head; line < j->head + j->head_len; line = end) {
		end = memmem(line, j->head + j->head_len - line, "\r\n", 2);
		end = end ? end + 2 : j->head + j->head_len;
		n = end - line;
		if (n == 2) {		/* the empty line */
			memcpy(out, cl, cll);
			out += cll;
		} else if (!strncasecmp(line, "Transfer-Encoding:", 18) ||
			   !strncasecmp(line, "Content-Length:", 15)) {
			continue;
		}
		memcpy(out, line, n);
		out += n;
	}
	free(j->head);
	j->head = nh;
	j->head_len = out - nh;
	j->head_alloc = j->head_len;
	return 0;
}

static void job_result(struct http_job *j)
{
	char *te;

	if (j->rc != CURLE_OK) {
		j->status = curl_status(j);
		return;
	}
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->http_code);
	if (j->head_len) {
		te = memmem(j->head, j->head_len, "\r\n", 2);
		while (te && te + 2 < j->head + j->head_len) {
			te += 2;
			if (!strncasecmp(te, "Transfer-Encoding:", 18) &&
			    memmem(te, j->head + j->head_len - te, "chunked", 7))
				j->chunked = true;
			te = memmem(te, j->head + j->head_len - te, "\r\n", 2);
		}
	}
	if (head_finish(j)) {
		j->status = EPROTO;
		return;
	}
	if (j->head_len > j->resp_cap) {
		j->status = EMSGSIZE;
		return;
	}
	if (j->kind != K_UPLOAD && j->kind != K_HEAD &&
	    j->http_code / 100 == 2 && j->body_total > j->data_cap)
		j->status = EOVERFLOW;
}

static void http_done(void *arg);

static void job_finish(struct http_job *j, CURLcode rc)
{
	j->rc = rc;
	curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &j->os_errno);
	if (!job_cancelled(j))
		job_result(j);
	curl_multi_remove_handle(multi, j->easy);
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
	if (job_cancelled(j) || vsp_loop_post(http_done, j))
		job_free(j);
}

static void *worker(void *arg)
{
	struct http_job *waiting = NULL, **wtail = &waiting, *active = NULL;
	struct http_job *j, **pp, *list;
	uint32_t running = 0;
	int still, left;
	CURLMsg *m;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&http_lock);
		list = incoming;
		incoming = NULL;
		incoming_tail = &incoming;
		pthread_mutex_unlock(&http_lock);
		if (list) {
			*wtail = list;
			while (list->next)
				list = list->next;
			wtail = &list->next;
		}
		/* Drop what the loop thread cancelled. */
		for (pp = &waiting; (j = *pp);) {
			if (job_cancelled(j)) {
				*pp = j->next;
				job_free(j);
			} else {
				pp = &j->next;
			}
		}
		wtail = pp;
		for (pp = &active; (j = *pp);) {
			if (job_cancelled(j)) {
				*pp = j->next;
				curl_multi_remove_handle(multi, j->easy);
				curl_easy_cleanup(j->easy);
				job_free(j);
				running--;
			} else {
				pp = &j->next;
			}
		}
		while (waiting && running < http_max_inflight) {
			j = waiting;
			waiting = j->next;
			if (!waiting)
				wtail = &waiting;
			if (job_start(j)) {
				j->rc = CURLE_OUT_OF_MEMORY;
				j->status = ENOMEM;
				if (vsp_loop_post(http_done, j))
					job_free(j);
				continue;
			}
			j->next = active;
			active = j;
			running++;
		}
		curl_multi_perform(multi, &still);
		while ((m = curl_multi_info_read(multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  (char **)&j);
			for (pp = &active; *pp && *pp != j; pp = &(*pp)->next)
				;
			if (*pp)
				*pp = j->next;
			running--;
			job_finish(j, m->data.result);
		}
		curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

static int worker_start(void)
{
	pthread_t t;

	if (worker_started)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -1;
	multi = curl_multi_init();
	if (!multi)
		return -1;
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)http_max_inflight);
	if (pthread_create(&t, NULL, worker, NULL))
		return -1;
	pthread_detach(t);
	worker_started = true;
	vsp_log("http: endpoint %s, max in flight %u, timeout %u ms",
		http_endpoint, http_max_inflight, http_timeout_ms);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The loop thread */

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_vchar_or_ws(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool name_is(const char *p, size_t n, const char *name)
{
	return n == strlen(name) && !strncasecmp(p, name, n);
}

/*
 * Parse the request head into @j. Returns NULL or why it is malformed.
 * @dv: upload bytes (data_buffer_valid).
 */
static const char *parse_head(struct http_job *j, char *buf, uint32_t len,
			      uint32_t dv, const char *endpoint)
{
	bool has_accept = false, has_expect = false, has_ctype = false;
	bool has_cl = false;
	unsigned long long cl = 0;
	char *p = buf, *end = buf + len, *eol, *sp1, *sp2, *colon, *v, *e;
	size_t n;
	struct curl_slist *l;

	if (len < 4 || memcmp(end - 4, "\r\n\r\n", 4))
		return "no empty line at the end of the buffer";
	if (memmem(buf, len, "\r\n\r\n", 4) != end - 4)
		return "bytes after the empty line (a body in the request buffer)";
	for (n = 0; n < len; n++)
		if ((buf[n] == '\r' && buf[n + 1] != '\n') ||
		    (buf[n] == '\n' && (!n || buf[n - 1] != '\r')) ||
		    !buf[n])
			return "bare CR, LF or NUL";

	/* request line: method SP request-target SP HTTP/1.1 */
	eol = memmem(p, end - p, "\r\n", 2);
	sp1 = memchr(p, ' ', eol - p);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', eol - sp1 - 1) : NULL;
	if (!sp2 || sp1 == p || sp1 - p >= (long)sizeof(j->method))
		return "bad request line";
	for (v = p; v < sp1; v++)
		if (!is_tchar(*v))
			return "bad method";
	memcpy(j->method, p, sp1 - p);
	j->method[sp1 - p] = '\0';
	if (sp1[1] != '/')
		return "request-target does not start with '/'";
	for (v = sp1 + 1; v < sp2; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f)
			return "bad character in the request-target";
	if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.1", 8))
		return "not HTTP/1.1";
	if (sp2 - sp1 - 1 > HTTP_URL_MAX)
		return "request-target too long";
	if (asprintf(&j->url, "%s%.*s", endpoint, (int)(sp2 - sp1 - 1),
		     sp1 + 1) < 0) {
		j->url = NULL;
		return "out of memory";
	}

	/* header lines */
	for (p = eol + 2; p < end - 2; p = eol + 2) {
		eol = memmem(p, end - p, "\r\n", 2);
		colon = memchr(p, ':', eol - p);
		if (!colon || colon == p)
			return "header line without a name";
		for (v = p; v < colon; v++)
			if (!is_tchar(*v))
				return "bad header name";
		for (v = colon + 1; v < eol; v++)
			if (!is_vchar_or_ws(*v))
				return "bad character in a header value";
		n = colon - p;
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		e = eol;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		/*
		 * The endpoint's authority instead, unless the guest's Host
		 * names the account (a host-style endpoint at the endpoint's
		 * address, as the real host would reach the account).
		 */
		if (name_is(p, n, "Host") && !http_keep_host)
			continue;
		if (name_is(p, n, "Transfer-Encoding"))
			return "Transfer-Encoding in the request";
		if (name_is(p, n, "Content-Length")) {
			char num[24];

			if (has_cl || e == v || e - v >= (long)sizeof(num) ||
			    strspn(v, "0123456789") < (size_t)(e - v))
				return "bad or repeated Content-Length";
			memcpy(num, v, e - v);
			num[e - v] = '\0';
			cl = strtoull(num, NULL, 10);
			has_cl = true;
		}
		has_accept |= name_is(p, n, "Accept");
		has_expect |= name_is(p, n, "Expect");
		has_ctype |= name_is(p, n, "Content-Type");
		/*
		 * The line goes out as it is; an empty value needs libcurl's
		 * "Name;" form ("Name:" would remove the header).
		 */
		*eol = '\0';
		if (e == v) {
			*colon = ';';
			colon[1] = '\0';
		}
		l = curl_slist_append(j->hdrs, p);
		*eol = '\r';
		if (!l)
			return "out of memory";
		j->hdrs = l;
	}

	if (dv && (!has_cl || cl != dv))
		return "upload without a matching Content-Length";
	if (!dv && has_cl && cl)
		return "Content-Length without the body (data_buffer_valid 0)";
	if (!strcmp(j->method, "HEAD")) {
		if (dv)
			return "HEAD with a body";
		j->kind = K_HEAD;
	} else if (!strcmp(j->method, "GET") && !dv) {
		j->kind = K_GET;
	} else if (dv || !strcmp(j->method, "PUT") ||
		   !strcmp(j->method, "POST")) {
		j->kind = K_UPLOAD;
	} else {
		j->kind = K_OTHER;
	}
	/* libcurl adds nothing of its own that the client did not send. */
	if (!has_accept)
		j->hdrs = curl_slist_append(j->hdrs, "Accept:");
	if (!has_expect)
		j->hdrs = curl_slist_append(j->hdrs, "Expect:");
	if (!has_ctype)
		j->hdrs = curl_slist_append(j->hdrs, "Content-Type:");
	j->hdrs = curl_slist_append(j->hdrs, "Transfer-Encoding:");
	if (!j->hdrs)
		return "out of memory";
	return NULL;
}

static void fail_now(struct vsp_request *req, struct http_job *j,
		     uint32_t status, const char *why)
{
	vsp_log("http: request %llu: host status %u: %s",
		(unsigned long long)req->trans_id, status, why);
	stat_failed++;
	if (j)
		job_free(j);
	req->backend_priv = NULL;
	vsp_req_complete(req, status, 0);
}

static void http_submit(struct vsp_request *req)
{
	uint32_t rl = req->msg.request_buffer_length;
	uint32_t dl = req->msg.data_buffer_length;
	uint32_t dv = req->msg.data_buffer_valid;
	const char *endpoint = vsp_req_backend_arg(req);
	struct http_job *j;
	const char *why;
	char *head;

	if (!endpoint)
		endpoint = http_endpoint;
	if (worker_start()) {
		fail_now(req, NULL, EIO, "cannot start the http worker");
		return;
	}
	j = calloc(1, sizeof(*j));
	head = malloc((size_t)rl + 1);
	if (!j || !head) {
		free(head);
		free(j);
		fail_now(req, NULL, ENOMEM, "out of memory");
		return;
	}
	if (vsp_req_read(req, VSP_BUF_REQUEST, 0, head, rl)) {
		free(head);
		fail_now(req, j, EIO, "cannot read the request buffer");
		return;
	}
	head[rl] = '\0';
	why = parse_head(j, head, rl, dv, endpoint);
	free(head);
	if (why) {
		fail_now(req, j, strcmp(why, "out of memory") ? EBADMSG : ENOMEM,
			 why);
		return;
	}
	if (dv) {
		j->up = malloc(dv);
		j->up_len = dv;
		if (!j->up) {
			fail_now(req, j, ENOMEM, "out of memory");
			return;
		}
		if (vsp_req_read(req, VSP_BUF_DATA, 0, j->up, dv)) {
			fail_now(req, j, EIO, "cannot read the data buffer");
			return;
		}
	} else {
		j->data_cap = dl;
	}
	j->resp_cap = req->msg.response_buffer_length;
	j->timeout_ms = http_timeout_ms;
	if (req->msg.timeout_ms && req->msg.timeout_ms < http_timeout_ms)
		j->timeout_ms = req->msg.timeout_ms;
	j->req = req;
	j->start_ns = vsp_now_ns();
	req->backend_priv = j;
	stat_sent++;

	pthread_mutex_lock(&http_lock);
	*incoming_tail = j;
	incoming_tail = &j->next;
	pthread_mutex_unlock(&http_lock);
	curl_multi_wakeup(multi);
}

/* Loop thread: the worker finished @arg. */
static void http_done(void *arg)
{
	struct http_job *j = arg;
	struct vsp_request *req = j->req;
	uint32_t rlen = 0;

	if (job_cancelled(j)) {
		job_free(j);
		return;
	}
	req->backend_priv = NULL;
	if (j->status == 0 || j->status == EOVERFLOW) {
		if (vsp_req_write(req, VSP_BUF_RESPONSE, 0, j->head,
				  j->head_len) ||
		    (j->body_len && vsp_req_write(req, VSP_BUF_DATA, 0,
						  j->body, j->body_len)))
			j->status = EIO;
		else
			rlen = j->head_len;
	}
	if (j->status) {
		stat_failed++;
		vsp_log("http: request %llu: %s %s -> host status %u (%s%s%s), HTTP %ld, body %llu, data buffer %u",
			(unsigned long long)req->trans_id, j->method, j->url,
			j->status, strerror(j->status),
			j->rc ? ": " : "",
			j->rc ? (j->errbuf[0] ? j->errbuf :
				 curl_easy_strerror(j->rc)) : "",
			j->http_code, (unsigned long long)j->body_total,
			j->data_cap);
	} else if (req->slot && vsp_trace_enabled(req)) {
		vsp_log("http: request %llu: %s %s -> HTTP %ld, head %zu, body %llu, %llu us",
			(unsigned long long)req->trans_id, j->method, j->url,
			j->http_code, j->head_len,
			(unsigned long long)j->body_total,
			(unsigned long long)(vsp_now_ns() - j->start_ns) / 1000);
	}
	if (j->status && j->status != EOVERFLOW)
		rlen = 0;
	vsp_req_complete(req, j->status, rlen);
	job_free(j);
}

/* Loop thread: the channel went away; the worker frees the job. */
static void http_cancel(struct vsp_request *req)
{
	struct http_job *j = req->backend_priv;

	if (!j)
		return;
	req->backend_priv = NULL;
	vsp_log("http: request %llu: %s %s cancelled (channel closed)",
		(unsigned long long)req->trans_id, j->method, j->url);
	__atomic_store_n(&j->cancelled, 1, __ATOMIC_RELEASE);
	curl_multi_wakeup(multi);
}

void vsp_http_stats(void)
{
	if (worker_started)
		vsp_log("http: requests %llu, host failures %llu",
			(unsigned long long)stat_sent,
			(unsigned long long)stat_failed);
}

const struct vsp_backend vsp_http_backend = {
	.name = "http",
	.submit = http_submit,
	.cancel = http_cancel,
	.check_arg = http_check_arg,
};
