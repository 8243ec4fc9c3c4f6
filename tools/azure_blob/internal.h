/* SPDX-License-Identifier: MIT */
/*
 * libazblob internals: request heads, response head parser, Shared Key
 * signer, transports.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef AZBLOB_INTERNAL_H
#define AZBLOB_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include "azblob.h"

#define AZB_RESP_HEAD_MAX	16384	/* response buffer of one request */
#define AZB_MAX_HEADERS		64
#define AZB_DEVICE_MAX_PAGES	8192	/* AZ_BLOB_MAX_PAGES of the uapi */

/* ---- growable string ---- */
struct azb_str {
	char *p;
	size_t len, cap;
};

void azb_str_add(struct azb_str *s, const char *txt, size_t n);
void azb_str_puts(struct azb_str *s, const char *txt);
void azb_str_printf(struct azb_str *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void azb_str_free(struct azb_str *s);

void *azb_xmalloc(size_t n);
char *azb_xstrdup(const char *s);
void azb_seterr(struct azb_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* base64 / digests via libcrypto */
char *azb_b64_encode(const void *data, size_t len);
int azb_b64_decode(const char *b64, unsigned char *out, size_t cap,
		   size_t *outlen);
void azb_md5_b64(const void *data, size_t len, char out[32]);
void azb_percent_encode(struct azb_str *s, const char *txt, bool keep_slash);
int azb_percent_decode(const char *in, size_t n, struct azb_str *out);
void azb_http_date(char out[64], time_t t);

/* ---- request description ---- */
struct azb_header {
	char *name;
	char *value;
};

struct azb_request {
	const char *method;
	struct azb_str path;	/* encoded path relative to the endpoint */
	struct azb_str query;	/* encoded query without '?', may be empty */
	struct azb_header hdr[AZB_MAX_HEADERS];
	int nhdr;
	uint64_t content_length;	/* body length (uploads) */
};

void azb_req_init(struct azb_request *r, const char *method);
void azb_req_free(struct azb_request *r);
void azb_req_header(struct azb_request *r, const char *name,
		    const char *value);
void azb_req_query(struct azb_request *r, const char *name,
		   const char *value);
const char *azb_req_get(const struct azb_request *r, const char *name);

/*
 * Shared Key: the string to sign and the Authorization value.
 * endpoint_path is the path part of the blob endpoint ("" for host-style,
 * "/devstoreaccount1" for path-style).
 */
int azb_sharedkey_string_to_sign(const struct azb_request *r,
				 const char *account,
				 const char *endpoint_path,
				 struct azb_str *out);
int azb_sharedkey_sign(const struct azb_request *r, const char *account,
		       const char *endpoint_path, const unsigned char *key,
		       size_t key_len, struct azb_str *authz);
/* Serialise the HTTP/1.1 request head (request line .. empty line). */
void azb_req_head(const struct azb_request *r, struct azb_str *head);

/* ---- response head (shared by every transport) ---- */
struct azb_response {
	int status;
	char reason[160];
	struct azb_header hdr[AZB_MAX_HEADERS];
	int nhdr;
	int64_t content_length;	/* -1 if absent */
	char *storage;		/* copy of the head the headers point into */
};

int azb_parse_response_head(const char *buf, size_t len,
			    struct azb_response *resp);
void azb_response_free(struct azb_response *resp);
const char *azb_resp_get(const struct azb_response *resp, const char *name);

/* ---- XML list ---- */
int azb_parse_list_xml(const char *xml, size_t len,
		       struct azb_list_page *page, struct azb_error *err);
int azb_parse_error_xml(const char *xml, size_t len, char *code,
			size_t code_cap, char *msg, size_t msg_cap);

/* ---- transports ---- */
struct azb_xfer {
	/* in */
	const char *head;	/* request head, NUL terminated */
	size_t head_len;
	const void *body;	/* upload body or NULL */
	size_t body_len;
	void *rbuf;		/* download body buffer */
	size_t rcap;
	unsigned int timeout_ms;
	bool is_head;		/* HEAD: no response body */
	bool sync;		/* a lone request: device uses the ioctl */
	/* out */
	char resp[AZB_RESP_HEAD_MAX];
	size_t resp_len;
	size_t rlen;		/* body bytes stored in rbuf */
	bool overflow;		/* body larger than rcap */
	int terr;		/* 0, or transport failure (-errno) */
	unsigned int dev_status;	/* device: host status when != 0 */
	char terr_msg[320];
	/* engine private */
	void *priv;
	void *tpriv;
	int slot;
};

struct azb_transport {
	const char *name;
	/* queue a transfer; completion is reported by reap() */
	int (*submit)(struct azb_transport *t, struct azb_xfer *x);
	/* wait for one completed transfer */
	struct azb_xfer *(*reap)(struct azb_transport *t);
	void (*destroy)(struct azb_transport *t);
	/* submitted and not yet handed back by reap() */
	unsigned int inflight;
	unsigned int depth;	/* transfers allowed in flight */
};

struct azb_transport *azb_transport_http_new(const struct azb_config *cfg,
					     struct azb_error *err);
struct azb_transport *azb_transport_device_new(const struct azb_config *cfg,
					       struct azb_error *err);

#endif /* AZBLOB_INTERNAL_H */
