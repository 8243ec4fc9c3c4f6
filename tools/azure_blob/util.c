// SPDX-License-Identifier: MIT
/*
 * libazblob: strings, encodings and digests.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
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

int azb_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		int x = azb_ascii_lower((unsigned char)*a);
		int y = azb_ascii_lower((unsigned char)*b);

		if (x != y || !x)
			return x - y;
	}
	return 0;
}

int azb_ascii_casecmp(const char *a, const char *b)
{
	return azb_ascii_ncasecmp(a, b, (size_t)-1);
}

/* RFC 3986 unreserved characters: ASCII only. */
static bool unreserved(int c)
{
	return azb_ascii_alnum(c) || c == '-' || c == '_' || c == '.' ||
	       c == '~';
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
	c = azb_ascii_lower(c);
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

/*
 * RFC 1123 date, as x-ms-date and the Shared Key signature need it. HTTP
 * dates are English whatever the locale: strftime's %a and %b follow
 * LC_TIME, which a program using this library may have set with
 * setlocale(LC_ALL, ""), so the names come from fixed tables.
 */
void azb_http_date(char out[64], time_t t)
{
	static const char wday[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	};
	static const char mon[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900) {
		/* No four-digit year: the epoch, which the service refuses. */
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 wday[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Length of the UTF-8 sequence at s (1..4), 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* no overlong forms, no surrogates, nothing above U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return n;
}

void azb_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t n = utf8_len(p);

		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p, f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
		} else if (!n) {
			fputs("\\ufffd", f);
			n = 1;
		} else {
			fwrite(p, 1, n, f);
		}
		p += n ? n : 1;
	}
	fputc('"', f);
}

void azb_notice(const struct azb_config *cfg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cfg && cfg->notice)
		cfg->notice(cfg->notice_arg, msg);
	else
		fprintf(stderr, "azblob: %s\n", msg);
}

const char *azb_test_root(void)
{
	const char *root = secure_getenv("AZBLOB_TEST_ROOT");

	return root ? root : "";
}

char *azb_device_path(const struct azb_config *cfg)
{
	struct azb_str s = {0};

	if (cfg && cfg->device)
		return azb_xstrdup(cfg->device);
	azb_str_puts(&s, azb_test_root());
	azb_str_puts(&s, AZB_DEVICE_PATH);
	return s.p;
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
