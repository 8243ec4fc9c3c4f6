// SPDX-License-Identifier: MIT
/*
 * libazblob: HTTP/1.1 request heads, the Shared Key signer and the one
 * response head parser every transport uses.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "internal.h"

void azb_req_init(struct azb_request *r, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
}

void azb_req_free(struct azb_request *r)
{
	int i;

	for (i = 0; i < r->nhdr; i++) {
		free(r->hdr[i].name);
		free(r->hdr[i].value);
	}
	azb_str_free(&r->path);
	azb_str_free(&r->query);
	r->nhdr = 0;
}

void azb_req_header(struct azb_request *r, const char *name,
		    const char *value)
{
	int i;

	for (i = 0; i < r->nhdr; i++) {
		if (!azb_ascii_casecmp(r->hdr[i].name, name)) {
			free(r->hdr[i].value);
			r->hdr[i].value = azb_xstrdup(value);
			return;
		}
	}
	if (r->nhdr == AZB_MAX_HEADERS)
		abort();
	r->hdr[r->nhdr].name = azb_xstrdup(name);
	r->hdr[r->nhdr].value = azb_xstrdup(value);
	r->nhdr++;
}

void azb_req_query(struct azb_request *r, const char *name,
		   const char *value)
{
	if (r->query.len)
		azb_str_puts(&r->query, "&");
	azb_percent_encode(&r->query, name, false);
	azb_str_puts(&r->query, "=");
	azb_percent_encode(&r->query, value, false);
}

const char *azb_req_get(const struct azb_request *r, const char *name)
{
	int i;

	for (i = 0; i < r->nhdr; i++)
		if (!azb_ascii_casecmp(r->hdr[i].name, name))
			return r->hdr[i].value;
	return NULL;
}

void azb_req_head(const struct azb_request *r, struct azb_str *head)
{
	int i;

	azb_str_printf(head, "%s %s", r->method,
		       r->path.len ? r->path.p : "/");
	if (r->query.len)
		azb_str_printf(head, "?%s", r->query.p);
	azb_str_puts(head, " HTTP/1.1\r\n");
	for (i = 0; i < r->nhdr; i++)
		azb_str_printf(head, "%s: %s\r\n", r->hdr[i].name,
			       r->hdr[i].value);
	azb_str_puts(head, "\r\n");
}

/* ---- Shared Key ---- */

struct kv {
	char *k;
	char *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

static char *lower_dup(const char *s, size_t n)
{
	char *p = azb_xmalloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)azb_ascii_lower((unsigned char)s[i]);
	return p;
}

/* Trim and fold runs of whitespace into one space (Shared Key rule). */
static char *fold_value(const char *v)
{
	char *out = azb_xmalloc(strlen(v) + 1), *o = out;
	bool space = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			space = true;
			continue;
		}
		if (space && o != out)
			*o++ = ' ';
		space = false;
		*o++ = *v;
	}
	*o = '\0';
	return out;
}

int azb_sharedkey_string_to_sign(const struct azb_request *r,
				 const char *account,
				 const char *endpoint_path,
				 struct azb_str *out)
{
	static const char *const std[] = {
		"Content-Encoding", "Content-Language", "Content-Length",
		"Content-MD5", "Content-Type", "Date", "If-Modified-Since",
		"If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
	};
	struct kv xms[AZB_MAX_HEADERS];
	struct kv *q = NULL;
	size_t nq = 0, i, nx = 0;
	int ret = 0;

	azb_str_printf(out, "%s\n", r->method);
	for (i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
		const char *v = azb_req_get(r, std[i]);

		/* Since 2015-02-21 a zero Content-Length is signed empty. */
		if (v && !strcmp(std[i], "Content-Length") && !strcmp(v, "0"))
			v = NULL;
		azb_str_printf(out, "%s\n", v ? v : "");
	}

	for (i = 0; i < (size_t)r->nhdr; i++) {
		if (azb_ascii_ncasecmp(r->hdr[i].name, "x-ms-", 5))
			continue;
		xms[nx].k = lower_dup(r->hdr[i].name, strlen(r->hdr[i].name));
		xms[nx].v = fold_value(r->hdr[i].value);
		nx++;
	}
	qsort(xms, nx, sizeof(xms[0]), kv_cmp);
	for (i = 0; i < nx; i++) {
		azb_str_printf(out, "%s:%s\n", xms[i].k, xms[i].v);
		free(xms[i].k);
		free(xms[i].v);
	}

	azb_str_printf(out, "/%s%s%s", account, endpoint_path,
		       r->path.len ? r->path.p : "/");

	/* Query parameters: names lowercased, values decoded, sorted. */
	if (r->query.len) {
		const char *p = r->query.p;

		q = azb_xmalloc(sizeof(*q) * (r->query.len / 2 + 2));
		while (*p) {
			const char *amp = strchr(p, '&');
			size_t n = amp ? (size_t)(amp - p) : strlen(p);
			const char *eq = memchr(p, '=', n);
			struct azb_str k = {0}, v = {0};

			if (n == 0) {
				p++;
				continue;
			}
			if (azb_percent_decode(p, eq ? (size_t)(eq - p) : n,
					       &k) ||
			    azb_percent_decode(eq ? eq + 1 : p + n,
					       eq ? n - (eq - p) - 1 : 0, &v)) {
				azb_str_free(&k);
				azb_str_free(&v);
				ret = -EINVAL;
				break;
			}
			q[nq].k = lower_dup(k.p, k.len);
			q[nq].v = v.p;
			azb_str_free(&k);
			nq++;
			p += n;
			if (*p == '&')
				p++;
		}
		qsort(q, nq, sizeof(*q), kv_cmp);
		for (i = 0; i < nq; i++) {
			if (i && !strcmp(q[i].k, q[i - 1].k))
				azb_str_printf(out, ",%s", q[i].v);
			else
				azb_str_printf(out, "\n%s:%s", q[i].k,
					       q[i].v);
		}
		for (i = 0; i < nq; i++) {
			free(q[i].k);
			free(q[i].v);
		}
		free(q);
	}
	return ret;
}

int azb_sharedkey_sign(const struct azb_request *r, const char *account,
		       const char *endpoint_path, const unsigned char *key,
		       size_t key_len, struct azb_str *authz)
{
	struct azb_str sts = {0};
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *b64;
	int ret;

	ret = azb_sharedkey_string_to_sign(r, account, endpoint_path, &sts);
	if (ret) {
		azb_str_free(&sts);
		return ret;
	}
	if (!HMAC(EVP_sha256(), key, (int)key_len,
		  (const unsigned char *)sts.p, sts.len, mac, &maclen)) {
		azb_str_free(&sts);
		return -EIO;
	}
	azb_str_free(&sts);
	b64 = azb_b64_encode(mac, maclen);
	azb_str_printf(authz, "SharedKey %s:%s", account, b64);
	free(b64);
	return 0;
}

/* ---- response head ---- */

void azb_response_free(struct azb_response *resp)
{
	free(resp->storage);
	memset(resp, 0, sizeof(*resp));
}

const char *azb_resp_get(const struct azb_response *resp, const char *name)
{
	int i;

	for (i = 0; i < resp->nhdr; i++)
		if (!azb_ascii_casecmp(resp->hdr[i].name, name))
			return resp->hdr[i].value;
	return NULL;
}

static char *next_line(char *p, char *end, char **next)
{
	char *nl = memchr(p, '\n', end - p);

	if (!nl)
		return NULL;
	*next = nl + 1;
	if (nl > p && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return p;
}

/*
 * Parse "HTTP/1.1 200 OK\r\nName: value\r\n...\r\n\r\n". The head must be
 * complete (end with an empty line); anything after it is ignored.
 * Returns 0 or -EPROTO.
 */
int azb_parse_response_head(const char *buf, size_t len,
			    struct azb_response *resp)
{
	char *p, *end, *line, *next, *sp;
	bool done = false;
	long st;

	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
	resp->storage = azb_xmalloc(len + 1);
	memcpy(resp->storage, buf, len);
	p = resp->storage;
	end = p + len;

	line = next_line(p, end, &next);
	if (!line || strncmp(line, "HTTP/", 5))
		goto bad;
	sp = strchr(line, ' ');
	if (!sp)
		goto bad;
	st = strtol(sp + 1, &p, 10);
	if (p != sp + 4 || st < 100 || st > 599 || (*p && *p != ' '))
		goto bad;
	resp->status = (int)st;
	if (*p == ' ')
		snprintf(resp->reason, sizeof(resp->reason), "%s", p + 1);

	for (p = next; p < end; p = next) {
		char *colon, *v, *e;

		line = next_line(p, end, &next);
		if (!line)
			goto bad;
		if (!*line) {
			done = true;
			break;
		}
		colon = strchr(line, ':');
		if (!colon || colon == line || resp->nhdr == AZB_MAX_HEADERS)
			goto bad;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		resp->hdr[resp->nhdr].name = line;
		resp->hdr[resp->nhdr].value = v;
		resp->nhdr++;
		if (!azb_ascii_casecmp(line, "Content-Length")) {
			char *ep;
			unsigned long long cl;

			if (*v < '0' || *v > '9')
				goto bad;
			errno = 0;
			cl = strtoull(v, &ep, 10);
			if (*ep || errno || cl > INT64_MAX)
				goto bad;
			if (resp->content_length >= 0 &&
			    (uint64_t)resp->content_length != cl)
				goto bad;
			resp->content_length = (int64_t)cl;
		}
	}
	if (!done)
		goto bad;
	return 0;
bad:
	azb_response_free(resp);
	return -EPROTO;
}
