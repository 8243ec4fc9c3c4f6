// SPDX-License-Identifier: MIT
/*
 * libazblob: bearer tokens (Microsoft Entra ID). Either a token the
 * caller gives (cfg->bearer_token), or one of the VM's managed identity
 * from the Azure Instance Metadata Service (IMDS): fetched on first use,
 * fetched again 5 minutes before it expires (half way through for tokens
 * that live less than 10 minutes), and kept by the client otherwise.
 *
 * IMDS: GET http://169.254.169.254/metadata/identity/oauth2/token
 * ?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F
 * [&client_id=ID] with "Metadata: true", never through a proxy. The
 * answer is JSON with access_token and expires_on (seconds since the
 * epoch) and expires_in (seconds), numbers written as strings.
 *
 * AZBLOB_IMDS_ENDPOINT replaces the URL before the '?': for the test
 * suite's responder only.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef AZB_HAVE_CURL
#include <curl/curl.h>
#include <json-c/json.h>
#endif
#include "internal.h"

#define IMDS_TOKEN_URL	"http://169.254.169.254/metadata/identity/oauth2/token"
#define IMDS_QUERY	"?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F"
#define REFRESH_EARLY_S	300
#define IMDS_BODY_MAX	(64 * 1024)

struct azb_token {
	pthread_mutex_t lock;
	enum azb_auth_kind kind;
	char *token;
	time_t expires;		/* 0: not known */
	time_t refresh_at;	/* 0: never (a static token) */
	char *client_id;
	unsigned int retries, retry_base_ms, timeout_ms;
	unsigned int fetches;
};

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* A token as read from a file or the environment: one line, no blanks. */
int azb_config_set_bearer(struct azb_config *cfg, const char *token,
			  struct azb_error *err)
{
	size_t a = 0, n = strlen(token), i;

	while (a < n && (token[a] == ' ' || token[a] == '\t'))
		a++;
	while (n > a && (token[n - 1] == '\n' || token[n - 1] == '\r' ||
			 token[n - 1] == ' ' || token[n - 1] == '\t'))
		n--;
	if (n == a) {
		azb_seterr(err, AZB_EUSAGE, "the bearer token is empty");
		return -EINVAL;
	}
	for (i = a; i < n; i++) {
		unsigned char ch = (unsigned char)token[i];

		if (ch <= ' ' || ch >= 127) {
			azb_seterr(err, AZB_EUSAGE,
				   "the bearer token has a blank or non-ASCII byte at offset %zu (one token, one line)",
				   i - a);
			return -EINVAL;
		}
	}
	wipe_free(cfg->bearer_token);
	cfg->bearer_token = azb_xmalloc(n - a + 1);
	memcpy(cfg->bearer_token, token + a, n - a);
	cfg->bearer_token[n - a] = '\0';
	cfg->auth = AZB_AUTH_BEARER;
	return 0;
}

#ifdef AZB_HAVE_CURL
/* A number IMDS writes as a string ("1700000000") or as a number. */
static bool json_seconds(struct json_object *o, const char *key, long long *v)
{
	struct json_object *f;
	const char *s;
	char *end;

	if (!json_object_object_get_ex(o, key, &f))
		return false;
	if (json_object_is_type(f, json_type_int)) {
		*v = json_object_get_int64(f);
		return true;
	}
	if (!json_object_is_type(f, json_type_string))
		return false;
	s = json_object_get_string(f);
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !errno && !*end;
}

int azb_imds_parse(const char *body, size_t len, time_t now, char **token,
		   time_t *expires, char *why, size_t whylen)
{
	struct json_tokener *tk = json_tokener_new();
	struct json_object *o, *f;
	long long on, in;
	const char *s;
	int ret = -EPROTO;

	*token = NULL;
	*expires = 0;
	o = tk ? json_tokener_parse_ex(tk, body, (int)len) : NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(why, whylen, "the answer is not a JSON object");
		goto out;
	}
	s = json_object_object_get_ex(o, "access_token", &f) &&
	    json_object_is_type(f, json_type_string) ?
	    json_object_get_string(f) : NULL;
	if (!s || !*s) {
		snprintf(why, whylen, "the answer has no access_token");
		goto out;
	}
	if (json_seconds(o, "expires_on", &on) && on > 0) {
		*expires = (time_t)on;
	} else if (json_seconds(o, "expires_in", &in) && in > 0) {
		*expires = now + (time_t)in;
	} else {
		snprintf(why, whylen,
			 "the answer has neither expires_on nor expires_in");
		goto out;
	}
	*token = azb_xstrdup(s);
	ret = 0;
out:
	if (o)
		json_object_put(o);
	if (tk)
		json_tokener_free(tk);
	return ret;
}

/* "error_description (error)" of an IMDS error answer, or its start. */
static void imds_error(const char *body, size_t len, char *out, size_t n)
{
	struct json_object *o, *e = NULL, *d = NULL;
	struct json_tokener *tk = json_tokener_new();

	o = tk ? json_tokener_parse_ex(tk, body, (int)len) : NULL;
	if (o && json_object_is_type(o, json_type_object)) {
		json_object_object_get_ex(o, "error", &e);
		json_object_object_get_ex(o, "error_description", &d);
	}
	if (e || d)
		snprintf(out, n, "%s (%s)",
			 d ? json_object_get_string(d) : "",
			 e ? json_object_get_string(e) : "");
	else
		snprintf(out, n, "%.*s", len > 160 ? 160 : (int)len, body);
	if (o)
		json_object_put(o);
	if (tk)
		json_tokener_free(tk);
}

struct imds_buf {
	char *p;
	size_t len;
};

static size_t on_imds_body(char *data, size_t sz, size_t nm, void *arg)
{
	struct imds_buf *b = arg;
	size_t n = sz * nm;

	if (b->len + n > IMDS_BODY_MAX)
		return 0;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return n;
}

static const char *imds_url_base(void)
{
	const char *e = secure_getenv("AZBLOB_IMDS_ENDPOINT");

	return e && *e ? e : IMDS_TOKEN_URL;
}

/* One fetch with retries; on success t->token and the times are new. */
static int imds_fetch(struct azb_token *t, struct azb_error *err)
{
	struct imds_buf b = { .p = azb_xmalloc(IMDS_BODY_MAX + 1) };
	struct curl_slist *hdrs = curl_slist_append(NULL, "Metadata: true");
	char cerr[CURL_ERROR_SIZE], why[300];
	struct azb_str url = {0};
	unsigned int attempt;
	long status = 0;
	CURL *e = curl_easy_init();
	int ret = -EIO;

	azb_str_printf(&url, "%s%s", imds_url_base(), IMDS_QUERY);
	if (t->client_id) {
		azb_str_puts(&url, "&client_id=");
		azb_percent_encode(&url, t->client_id, false);
	}
	if (!e || !hdrs) {
		azb_seterr(err, AZB_EOTHER, "managed identity: out of memory");
		goto out;
	}
	for (attempt = 0;; attempt++) {
		CURLcode rc;
		bool again;

		b.len = 0;
		cerr[0] = '\0';
		curl_easy_reset(e);
		curl_easy_setopt(e, CURLOPT_URL, url.p);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_imds_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
		t->fetches++;
		rc = curl_easy_perform(e);
		status = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		/* IMDS asks for retries on 404, 410 (not ready), 429, 5xx */
		again = rc != CURLE_OK || status == 404 || status == 410 ||
			status == 429 || status >= 500;
		if (!again || attempt >= t->retries)
			break;
		usleep(1000u * (t->retry_base_ms <<
				(attempt < 5 ? attempt : 5)));
	}
	if (!status) {
		azb_seterr(err, AZB_ETRANSPORT,
			   "managed identity: cannot reach the Instance Metadata Service at %s: %s (an Azure VM with an identity assigned is needed)",
			   imds_url_base(), cerr[0] ? cerr : "no answer");
		goto out;
	}
	b.p[b.len] = '\0';
	if (status != 200) {
		imds_error(b.p, b.len, why, sizeof(why));
		if (err)
			err->http_status = (int)status;
		azb_seterr(err, status == 400 || status == 403 ? AZB_EAUTH :
			   AZB_EHTTP,
			   "managed identity: the Instance Metadata Service answered %ld: %s%s",
			   status, why,
			   status == 400 && !t->client_id ?
			   "; with more than one identity, give --msi-client-id" :
			   "");
		goto out;
	}
	{
		time_t now = time(NULL), exp, life;
		char *tok;

		if (azb_imds_parse(b.p, b.len, now, &tok, &exp, why,
				   sizeof(why))) {
			azb_seterr(err, AZB_EAUTH,
				   "managed identity: %s", why);
			goto out;
		}
		wipe_free(t->token);
		t->token = tok;
		t->expires = exp;
		life = exp - now;
		t->refresh_at = life > 2 * REFRESH_EARLY_S ?
				exp - REFRESH_EARLY_S : now + life / 2;
	}
	ret = 0;
out:
	explicit_bzero(b.p, b.len);
	free(b.p);
	azb_str_free(&url);
	curl_slist_free_all(hdrs);
	if (e)
		curl_easy_cleanup(e);
	return ret;
}

/* The "exp" claim of a JWT, without checking its signature; 0: none. */
time_t azb_jwt_exp(const char *token)
{
	const char *a = strchr(token, '.'), *z;
	struct json_tokener *tk;
	struct json_object *o, *f;
	unsigned char *raw;
	size_t n, i, rawlen;
	time_t exp = 0;
	char *b64;

	z = a ? strchr(a + 1, '.') : NULL;
	if (!z || z - a - 1 > 8192)
		return 0;
	n = (size_t)(z - a - 1);
	b64 = azb_xmalloc(n + 4);
	for (i = 0; i < n; i++) {
		char ch = a[1 + i];

		b64[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
	}
	while (i % 4)
		b64[i++] = '=';
	b64[i] = '\0';
	raw = azb_xmalloc(i);
	tk = json_tokener_new();
	o = tk && !azb_b64_decode(b64, raw, i, &rawlen) ?
	    json_tokener_parse_ex(tk, (char *)raw, (int)rawlen) : NULL;
	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "exp", &f) &&
	    json_object_is_type(f, json_type_int))
		exp = (time_t)json_object_get_int64(f);
	if (o)
		json_object_put(o);
	if (tk)
		json_tokener_free(tk);
	free(raw);
	free(b64);
	return exp;
}
#else
time_t azb_jwt_exp(const char *token)
{
	(void)token;
	return 0;
}
#endif

int azb_token_new(const struct azb_config *cfg, struct azb_token **out,
		  struct azb_error *err)
{
	struct azb_token *t;

	*out = NULL;
	if (cfg->auth == AZB_AUTH_DEFAULT)
		return 0;
	if (cfg->auth == AZB_AUTH_BEARER && !cfg->bearer_token) {
		azb_seterr(err, AZB_EUSAGE,
			   "bearer authentication needs a token (azblob: --token-file FILE or AZBLOB_BEARER_TOKEN)");
		return -EINVAL;
	}
	if (cfg->auth != AZB_AUTH_BEARER && cfg->auth != AZB_AUTH_MSI) {
		azb_seterr(err, AZB_EUSAGE, "unknown authentication kind %d",
			   (int)cfg->auth);
		return -EINVAL;
	}
#ifndef AZB_HAVE_CURL
	if (cfg->auth == AZB_AUTH_MSI) {
		azb_seterr(err, AZB_EUSAGE,
			   "managed identity needs the http client (to ask the Instance Metadata Service); this azblob has only the device transport");
		return -EINVAL;
	}
#endif
	t = azb_xmalloc(sizeof(*t));
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->kind = cfg->auth;
	t->retries = cfg->retries;
	t->retry_base_ms = cfg->retry_base_ms ? cfg->retry_base_ms : 1;
	t->timeout_ms = cfg->timeout_ms < 30000 ? cfg->timeout_ms : 30000;
	if (cfg->auth == AZB_AUTH_BEARER) {
		t->token = azb_xstrdup(cfg->bearer_token);
		t->expires = azb_jwt_exp(t->token);
	} else if (cfg->msi_client_id) {
		t->client_id = azb_xstrdup(cfg->msi_client_id);
	}
	*out = t;
	return 0;
}

void azb_token_free(struct azb_token *t)
{
	if (!t)
		return;
	wipe_free(t->token);
	free(t->client_id);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int azb_token_authz(struct azb_token *t, struct azb_str *authz,
		    struct azb_error *err)
{
	int ret = 0;

	(void)err;
	pthread_mutex_lock(&t->lock);
#ifdef AZB_HAVE_CURL
	if (t->kind == AZB_AUTH_MSI &&
	    (!t->token || time(NULL) >= t->refresh_at)) {
		struct azb_error e2 = {0};

		ret = imds_fetch(t, &e2);
		/* a failed refresh is not fatal while the old token lives */
		if (ret && t->token && time(NULL) < t->expires)
			ret = 0;
		else if (ret && err)
			*err = e2;
	}
#endif
	if (!ret)
		azb_str_printf(authz, "Bearer %s", t->token);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

unsigned int azb_token_fetches(struct azb_token *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->fetches;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* For a 401/403: what the token was, and whether it had expired. */
void azb_token_describe(struct azb_token *t, char *buf, size_t len)
{
	const char *what = t->kind == AZB_AUTH_MSI ?
			   "managed identity's token" : "bearer token";
	char when[32] = "";
	time_t now = time(NULL), exp;
	struct tm tm;

	pthread_mutex_lock(&t->lock);
	exp = t->expires;
	pthread_mutex_unlock(&t->lock);
	if (exp && gmtime_r(&exp, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!when[0])
		snprintf(buf, len, "the %s was refused", what);
	else if (exp <= now)
		snprintf(buf, len, "the %s was refused: it expired at %s",
			 what, when);
	else
		snprintf(buf, len,
			 "the %s (valid until %s) was refused: has its identity a Storage Blob Data role on the account?",
			 what, when);
}
