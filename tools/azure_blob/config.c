// SPDX-License-Identifier: MIT
/*
 * libazblob: endpoints, connection strings, credentials.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

int azb_config_init(struct azb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->transport = AZB_TRANSPORT_AUTO;
	cfg->chunk_size = 8u << 20;
	cfg->put_threshold = 8u << 20;
	cfg->parallel = 4;
	cfg->timeout_ms = 120000;
	cfg->retries = 5;
	cfg->retry_base_ms = 200;
	return 0;
}

void azb_config_free(struct azb_config *cfg)
{
	free(cfg->endpoint);
	free(cfg->account);
	free(cfg->sas);
	if (cfg->bearer_token)
		explicit_bzero(cfg->bearer_token, strlen(cfg->bearer_token));
	free(cfg->bearer_token);
	memset(cfg->key, 0, sizeof(cfg->key));
	cfg->endpoint = cfg->account = cfg->sas = cfg->bearer_token = NULL;
	cfg->key_len = 0;
}

int azb_config_set_key(struct azb_config *cfg, const char *b64,
		       struct azb_error *err)
{
	if (azb_b64_decode(b64, cfg->key, sizeof(cfg->key), &cfg->key_len)) {
		cfg->key_len = 0;
		azb_seterr(err, AZB_EUSAGE, "account key is not valid base64");
		return -EINVAL;
	}
	return 0;
}

static void set_sas(struct azb_config *cfg, const char *sas)
{
	while (*sas == '?')
		sas++;
	free(cfg->sas);
	cfg->sas = *sas ? azb_xstrdup(sas) : NULL;
}

/*
 * scheme://host[:port][/path][?sas]. A non-empty path makes the URL
 * path-style: its first segment is the account (Azurite, IP endpoints);
 * otherwise the account is the first label of the host name.
 */
int azb_config_from_url(struct azb_config *cfg, const char *url,
			struct azb_error *err)
{
	const char *host, *path, *q;
	char *u;
	size_t n;

	host = strstr(url, "://");
	if (!host || (azb_ascii_ncasecmp(url, "http://", 7) &&
		      azb_ascii_ncasecmp(url, "https://", 8))) {
		azb_seterr(err, AZB_EUSAGE, "bad account URL '%s'", url);
		return -EINVAL;
	}
	host += 3;
	q = strchr(host, '?');
	n = q ? (size_t)(q - url) : strlen(url);
	u = azb_xmalloc(n + 1);
	memcpy(u, url, n);
	while (n && u[n - 1] == '/')
		u[--n] = '\0';
	path = strchr(u + (host - url), '/');
	free(cfg->endpoint);
	cfg->endpoint = u;
	if (q)
		set_sas(cfg, q + 1);
	if (!cfg->account) {
		const char *a = path ? path + 1 : u + (host - url);
		size_t an = strcspn(a, path ? "/" : ".:/");

		if (!an) {
			azb_seterr(err, AZB_EUSAGE,
				   "cannot tell the account from '%s'", url);
			return -EINVAL;
		}
		cfg->account = azb_xmalloc(an + 1);
		memcpy(cfg->account, a, an);
	}
	return 0;
}

int azb_config_from_connection_string(struct azb_config *cfg, const char *cs,
				      struct azb_error *err)
{
	char *dup = azb_xstrdup(cs), *save = NULL, *tok;
	char *proto = NULL, *name = NULL, *key = NULL, *blob_ep = NULL;
	char *suffix = NULL, *sas = NULL;
	bool dev = false;
	int ret = 0;

	for (tok = strtok_r(dup, ";", &save); tok;
	     tok = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tok, '=');

		while (*tok == ' ' || *tok == '\t' || *tok == '\r' ||
		       *tok == '\n')
			tok++;
		if (!*tok)
			continue;
		if (!eq) {
			azb_seterr(err, AZB_EUSAGE,
				   "connection string: '%s' is not key=value",
				   tok);
			ret = -EINVAL;
			goto out;
		}
		*eq++ = '\0';
		if (!azb_ascii_casecmp(tok, "DefaultEndpointsProtocol"))
			proto = eq;
		else if (!azb_ascii_casecmp(tok, "AccountName"))
			name = eq;
		else if (!azb_ascii_casecmp(tok, "AccountKey"))
			key = eq;
		else if (!azb_ascii_casecmp(tok, "BlobEndpoint"))
			blob_ep = eq;
		else if (!azb_ascii_casecmp(tok, "EndpointSuffix"))
			suffix = eq;
		else if (!azb_ascii_casecmp(tok, "SharedAccessSignature"))
			sas = eq;
		else if (!azb_ascii_casecmp(tok, "UseDevelopmentStorage"))
			dev = !azb_ascii_casecmp(eq, "true");
	}
	if (dev) {
		name = AZB_DEV_ACCOUNT;
		key = AZB_DEV_KEY;
		if (!blob_ep)
			blob_ep = AZB_DEV_ENDPOINT;
	}
	if (name) {
		free(cfg->account);
		cfg->account = azb_xstrdup(name);
	}
	if (blob_ep) {
		ret = azb_config_from_url(cfg, blob_ep, err);
	} else if (name) {
		struct azb_str u = {0};

		azb_str_printf(&u, "%s://%s.blob.%s", proto ? proto : "https",
			       name, suffix ? suffix : "core.windows.net");
		ret = azb_config_from_url(cfg, u.p, err);
		azb_str_free(&u);
	} else {
		azb_seterr(err, AZB_EUSAGE,
			   "connection string has neither AccountName nor BlobEndpoint");
		ret = -EINVAL;
	}
	if (!ret && key)
		ret = azb_config_set_key(cfg, key, err);
	if (!ret && sas)
		set_sas(cfg, sas);
out:
	free(dup);
	return ret;
}
