// SPDX-License-Identifier: MIT
/*
 * json_check - is a file one JSON text (RFC 8259), and what does a
 * top-level member hold? For guests that have no python or jq.
 *
 *   json_check FILE           exit 0 when FILE is valid JSON, else 1 with
 *                             the byte offset of the first error
 *   json_check FILE KEY       the same, and print the value of the
 *                             top-level object's member KEY as it is
 *                             written (strings with their quotes); exit 3
 *                             when there is no such member
 *
 * Strict: no trailing commas, no comments, no control characters in
 * strings, valid escapes and UTF-8, numbers in the RFC's grammar,
 * nothing but white space after the value, nesting up to 64 levels.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH	64
#define MAX_SIZE	(16u << 20)

struct parser {
	const unsigned char *s;
	size_t n, i;
	int depth;
	const char *key;	/* member of the top-level object to print */
	bool found;
	const char *err;
};

static bool fail(struct parser *p, const char *what)
{
	if (!p->err)
		p->err = what;
	return false;
}

static void ws(struct parser *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
			       p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static bool lit(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->n - p->i < n || memcmp(p->s + p->i, word, n))
		return fail(p, "bad literal");
	p->i += n;
	return true;
}

static bool digits(struct parser *p)
{
	size_t start = p->i;

	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > start;
}

static bool number(struct parser *p)
{
	if (p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if (!digits(p))
		return fail(p, "bad number");
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!digits(p))
			return fail(p, "bad fraction");
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!digits(p))
			return fail(p, "bad exponent");
	}
	return true;
}

static int hex4(const unsigned char *s)
{
	int v = 0, i;

	for (i = 0; i < 4; i++) {
		int c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* one UTF-8 sequence at p->i (not ASCII), as RFC 3629 allows */
static bool utf8(struct parser *p)
{
	unsigned char c = p->s[p->i], lo = 0x80, hi = 0xbf;
	size_t n, k;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return fail(p, "bad UTF-8");
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p->n - p->i < n)
		return fail(p, "bad UTF-8");
	for (k = 1; k < n; k++, lo = 0x80, hi = 0xbf)
		if (p->s[p->i + k] < lo || p->s[p->i + k] > hi)
			return fail(p, "bad UTF-8");
	p->i += n;
	return true;
}

static bool string(struct parser *p)
{
	p->i++;	/* the opening quote */
	while (p->i < p->n) {
		unsigned char c = p->s[p->i];

		if (c == '"') {
			p->i++;
			return true;
		}
		if (c < 0x20)
			return fail(p, "control character in a string");
		if (c >= 0x80) {
			if (!utf8(p))
				return false;
			continue;
		}
		p->i++;
		if (c != '\\')
			continue;
		if (p->i >= p->n)
			break;
		c = p->s[p->i++];
		if (c == 'u') {
			int v;

			if (p->n - p->i < 4 || (v = hex4(p->s + p->i)) < 0)
				return fail(p, "bad \\u escape");
			p->i += 4;
			/* a surrogate pair, high then low */
			if (v >= 0xd800 && v <= 0xdbff) {
				if (p->n - p->i < 6 || p->s[p->i] != '\\' ||
				    p->s[p->i + 1] != 'u' ||
				    (v = hex4(p->s + p->i + 2)) < 0xdc00 ||
				    v > 0xdfff)
					return fail(p, "lone surrogate");
				p->i += 6;
			} else if (v >= 0xdc00 && v <= 0xdfff) {
				return fail(p, "lone surrogate");
			}
		} else if (!strchr("\"\\/bfnrt", c) || !c) {
			return fail(p, "bad escape");
		}
	}
	return fail(p, "unterminated string");
}

static bool value(struct parser *p);

static bool members(struct parser *p, bool top)
{
	p->i++;	/* { */
	ws(p);
	if (p->i < p->n && p->s[p->i] == '}') {
		p->i++;
		return true;
	}
	for (;;) {
		size_t k0, v0;

		ws(p);
		if (p->i >= p->n || p->s[p->i] != '"')
			return fail(p, "member name expected");
		k0 = p->i;
		if (!string(p))
			return false;
		ws(p);
		if (p->i >= p->n || p->s[p->i] != ':')
			return fail(p, "':' expected");
		p->i++;
		ws(p);
		v0 = p->i;
		if (!value(p))
			return false;
		if (top && p->key) {
			size_t klen = strlen(p->key);
			const unsigned char *name = p->s + k0 + 1;
			size_t i = k0 + 1;

			/* the raw name, up to its closing quote */
			while (i < p->n && p->s[i] != '"') {
				if (p->s[i] == '\\')
					i++;
				i++;
			}
			if ((size_t)(p->s + i - name) == klen &&
			    !memcmp(name, p->key, klen) && !p->found) {
				p->found = true;
				fwrite(p->s + v0, 1, p->i - v0, stdout);
				fputc('\n', stdout);
			}
		}
		ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == '}') {
			p->i++;
			return true;
		}
		return fail(p, "',' or '}' expected");
	}
}

static bool elements(struct parser *p)
{
	p->i++;	/* [ */
	ws(p);
	if (p->i < p->n && p->s[p->i] == ']') {
		p->i++;
		return true;
	}
	for (;;) {
		ws(p);
		if (!value(p))
			return false;
		ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == ']') {
			p->i++;
			return true;
		}
		return fail(p, "',' or ']' expected");
	}
}

static bool value(struct parser *p)
{
	bool top = p->depth == 0, ok;

	if (p->i >= p->n)
		return fail(p, "value expected");
	switch (p->s[p->i]) {
	case '{':
	case '[':
		if (++p->depth > MAX_DEPTH)
			return fail(p, "nested too deep");
		ok = p->s[p->i] == '{' ? members(p, top) : elements(p);
		p->depth--;
		return ok;
	case '"':
		return string(p);
	case 't':
		return lit(p, "true");
	case 'f':
		return lit(p, "false");
	case 'n':
		return lit(p, "null");
	default:
		if (p->s[p->i] == '-' ||
		    (p->s[p->i] >= '0' && p->s[p->i] <= '9'))
			return number(p);
		return fail(p, "value expected");
	}
}

int main(int argc, char **argv)
{
	struct parser p = { 0 };
	unsigned char *buf;
	size_t n = 0;
	FILE *f;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: json_check FILE [KEY]\n");
		return 2;
	}
	f = strcmp(argv[1], "-") ? fopen(argv[1], "rb") : stdin;
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	buf = malloc(MAX_SIZE);
	if (!buf)
		return 2;
	n = fread(buf, 1, MAX_SIZE, f);
	if (f != stdin)
		fclose(f);
	if (n == MAX_SIZE) {
		fprintf(stderr, "json_check: %s: larger than %u bytes\n",
			argv[1], MAX_SIZE);
		return 1;
	}
	p.s = buf;
	p.n = n;
	p.key = argc == 3 ? argv[2] : NULL;
	ws(&p);
	if (value(&p)) {
		ws(&p);
		if (p.i != p.n)
			fail(&p, "text after the value");
	}
	if (p.err) {
		fprintf(stderr, "json_check: %s: %s at byte %zu\n", argv[1],
			p.err, p.i);
		free(buf);
		return 1;
	}
	free(buf);
	return p.key && !p.found ? 3 : 0;
}
