// SPDX-License-Identifier: MIT
/*
 * azblobd: the configuration file, "key = value" lines, '#' comments.
 * Unknown keys and bad values are errors: a typo must not silently fall
 * back to a default.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "azblobd.h"

void azd_config_defaults(struct azd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->port = 10180;
	snprintf(c->device, sizeof(c->device), "%s", AZB_DEVICE_PATH);
	c->memory_cap = 256ull << 20;
	c->part_size = 8u << 20;
	c->parts_in_flight = 4;
	c->threads = 4;
	c->max_connections = 256;
	c->idle_timeout_s = 120;
	c->request_timeout_ms = 120000;
	c->ring_depth = 64;
	c->log_level = AZD_NOTICE;
}

static int parse_size(const char *v, uint64_t *out)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': n <<= 10; end++; break;
	case 'M': case 'm': n <<= 20; end++; break;
	case 'G': case 'g': n <<= 30; end++; break;
	default: break;
	}
	/* 8M, 8MiB and 8MB all mean 8 x 2^20 bytes */
	if (end > v && isalpha((unsigned char)end[-1]) &&
	    (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	*out = n;
	return 0;
}

static int parse_uint(const char *v, unsigned int lo, unsigned int hi,
		      unsigned int *out)
{
	unsigned long n;
	char *end;

	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -EINVAL;
	*out = (unsigned int)n;
	return 0;
}

static int parse_level(const char *v, int *out)
{
	static const char *const names[] = {
		[AZD_ERR] = "error", [AZD_WARNING] = "warning",
		[AZD_NOTICE] = "notice", [AZD_INFO] = "info",
		[AZD_DEBUG] = "debug",
	};
	int i;

	for (i = AZD_ERR; i <= AZD_DEBUG; i++) {
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* acct.blob.core.windows.net: lower-case letters, digits, '-', '.' */
static int set_host(struct azd_config *c, const char *v)
{
	size_t n = strcspn(v, ".");
	const char *p;

	if (!v[n] || n == 0 || n >= sizeof(c->account) ||
	    strlen(v) >= sizeof(c->host))
		return -EINVAL;
	for (p = v; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '-' && *p != '.')
			return -EINVAL;
	snprintf(c->host, sizeof(c->host), "%s", v);
	memcpy(c->account, v, n);
	c->account[n] = '\0';
	return 0;
}

/* an absolute path */
static int set_path(char *dst, size_t len, const char *v)
{
	if (*v != '/' || strlen(v) >= len)
		return -EINVAL;
	snprintf(dst, len, "%s", v);
	return 0;
}

static int set_key(struct azd_config *c, const char *k, const char *v)
{
	uint64_t sz;

	if (!strcmp(k, "port"))
		return parse_uint(v, 1, 65535, &c->port);
	if (!strcmp(k, "https_port"))
		return parse_uint(v, 0, 65535, &c->https_port);
	if (!strcmp(k, "tls_cert"))
		return set_path(c->tls_cert, sizeof(c->tls_cert), v);
	if (!strcmp(k, "tls_key"))
		return set_path(c->tls_key, sizeof(c->tls_key), v);
	if (!strcmp(k, "host"))
		return set_host(c, v);
	if (!strcmp(k, "device"))
		return set_path(c->device, sizeof(c->device), v);
	if (!strcmp(k, "memory_cap")) {
		if (parse_size(v, &sz))
			return -EINVAL;
		c->memory_cap = sz;
		return 0;
	}
	if (!strcmp(k, "part_size")) {
		if (parse_size(v, &sz) || sz < 64 * 1024 || sz % AZD_PAGE ||
		    sz > azd_max_data(AZD_PAGE))
			return -EINVAL;
		c->part_size = (size_t)sz;
		return 0;
	}
	if (!strcmp(k, "parts_in_flight"))
		return parse_uint(v, 1, 64, &c->parts_in_flight);
	if (!strcmp(k, "threads"))
		return parse_uint(v, 1, 64, &c->threads);
	if (!strcmp(k, "max_connections"))
		return parse_uint(v, 1, 65536, &c->max_connections);
	if (!strcmp(k, "idle_timeout"))
		return parse_uint(v, 1, 86400, &c->idle_timeout_s);
	if (!strcmp(k, "request_timeout_ms"))
		return parse_uint(v, 1, 3600000, &c->request_timeout_ms);
	if (!strcmp(k, "ring_depth"))
		return parse_uint(v, 1, 1024, &c->ring_depth);
	if (!strcmp(k, "log_level"))
		return parse_level(v, &c->log_level);
	return -ENOENT;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int azd_config_load(struct azd_config *c, const char *path, char *err,
		    size_t errlen)
{
	char line[1024];
	unsigned int lineno = 0;
	uint64_t need;
	FILE *f;
	int ret = 0;

	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k, *v, *eq, *hash;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path,
				 lineno);
			ret = -EINVAL;
			break;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		k = trim(line);
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: not 'key = value'", path,
				 lineno);
			ret = -EINVAL;
			break;
		}
		*eq = '\0';
		v = trim(eq + 1);
		k = trim(k);
		ret = set_key(c, k, v);
		if (ret == -ENOENT) {
			snprintf(err, errlen, "%s:%u: unknown key '%s'", path,
				 lineno, k);
			break;
		}
		if (ret) {
			snprintf(err, errlen, "%s:%u: bad value '%s' for %s",
				 path, lineno, v, k);
			break;
		}
	}
	fclose(f);
	if (ret)
		return ret;
	if (!c->host[0]) {
		snprintf(err, errlen,
			 "%s: no 'host' (the account's host name, e.g. host = myaccount.blob.core.windows.net)",
			 path);
		return -EINVAL;
	}
	if (c->https_port && (!c->tls_cert[0] || !c->tls_key[0])) {
		snprintf(err, errlen,
			 "%s: https_port needs tls_cert and tls_key (PEM files: the server certificate and its key)",
			 path);
		return -EINVAL;
	}
	if (!c->https_port && (c->tls_cert[0] || c->tls_key[0])) {
		snprintf(err, errlen,
			 "%s: tls_cert and tls_key are used only with https_port",
			 path);
		return -EINVAL;
	}
	if (c->https_port && c->https_port == c->port) {
		snprintf(err, errlen,
			 "%s: https_port must differ from port (%u)", path,
			 c->port);
		return -EINVAL;
	}
	/* The largest single request must fit under the cap. */
	need = azd_job_charge(AZD_PAGE, azd_max_data(AZD_PAGE));
	if (c->memory_cap < need) {
		snprintf(err, errlen,
			 "%s: memory_cap %llu is below one full request (%llu bytes)",
			 path, (unsigned long long)c->memory_cap,
			 (unsigned long long)need);
		return -EINVAL;
	}
	return 0;
}
