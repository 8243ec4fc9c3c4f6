// SPDX-License-Identifier: MIT
/*
 * libazblob: strings, encodings and digests.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "internal.h"

void *azb_xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		fprintf(stderr, "azblob: out of memory\n");
		abort();
	}
	return p;
}

char *azb_xstrdup(const char *s)
{
	size_t n = strlen(s);
	char *p = azb_xmalloc(n + 1);

	memcpy(p, s, n);
	return p;
}

void azb_str_add(struct azb_str *s, const char *txt, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 64;
		char *p;

		while (cap < s->len + n + 1)
			cap *= 2;
		p = realloc(s->p, cap);
		if (!p) {
			fprintf(stderr, "azblob: out of memory\n");
			abort();
		}
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, txt, n);
	s->len += n;
	s->p[s->len] = '\0';
}

void azb_str_puts(struct azb_str *s, const char *txt)
{
	azb_str_add(s, txt, strlen(txt));
}

void azb_str_printf(struct azb_str *s, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		azb_str_add(s, small, n);
		return;
	}
	{
		char *big = azb_xmalloc(n + 1);

		va_start(ap, fmt);
		vsnprintf(big, n + 1, fmt, ap);
		va_end(ap);
		azb_str_add(s, big, n);
		free(big);
	}
}

void azb_str_free(struct azb_str *s)
{
	free(s->p);
	s->p = NULL;
	s->len = s->cap = 0;
}

void azb_seterr(struct azb_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

char *azb_b64_encode(const void *data, size_t len)
{
	char *out = azb_xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

int azb_b64_decode(const char *b64, unsigned char *out, size_t cap,
		   size_t *outlen)
{
	size_t n = strlen(b64), pad = 0;
	unsigned char *tmp;
	int r;

	if (n == 0 || n % 4)
		return -EINVAL;
	if (b64[n - 1] == '=')
		pad++;
	if (b64[n - 2] == '=')
		pad++;
	if (n / 4 * 3 - pad > cap)
		return -E2BIG;
	tmp = azb_xmalloc(n / 4 * 3 + 1);
	r = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)n);
	if (r < 0) {
		free(tmp);
		return -EINVAL;
	}
	memcpy(out, tmp, n / 4 * 3 - pad);
	*outlen = n / 4 * 3 - pad;
	free(tmp);
	return 0;
}

void azb_md5_b64(const void *data, size_t len, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

static bool unreserved(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

void azb_percent_encode(struct azb_str *s, const char *txt, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *txt; txt++) {
		unsigned char c = (unsigned char)*txt;
		char e[3];

		if (unreserved(c) || (keep_slash && c == '/')) {
			azb_str_add(s, (const char *)&c, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		azb_str_add(s, e, 3);
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int azb_percent_decode(const char *in, size_t n, struct azb_str *out)
{
	size_t i;

	azb_str_add(out, "", 0);
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		azb_str_add(out, &c, 1);
	}
	return 0;
}

void azb_http_date(char out[64], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

const char *azb_code_name(int code)
{
	switch (code) {
	case AZB_OK: return "ok";
	case AZB_EUSAGE: return "usage";
	case AZB_ENOTFOUND: return "not_found";
	case AZB_ECONFLICT: return "conflict";
	case AZB_EPRECOND: return "precondition_failed";
	case AZB_ENOTMOD: return "not_modified";
	case AZB_EAUTH: return "auth";
	case AZB_EHTTP: return "http";
	case AZB_ETRANSPORT: return "transport";
	case AZB_EINTEGRITY: return "integrity";
	default: return "error";
	}
}
