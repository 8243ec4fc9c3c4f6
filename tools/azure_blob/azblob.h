/* SPDX-License-Identifier: MIT */
/*
 * libazblob - a small Azure Blob Storage client with two transports:
 * HTTP (libcurl) and the Azure Blob VMBus device (/dev/azure_blob).
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef AZBLOB_H
#define AZBLOB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * libazblob.so exports what this header declares and nothing else: the
 * library is built with -fvisibility=hidden, and these pragmas give the
 * declarations below default visibility.
 */
#pragma GCC visibility push(default)

#define AZB_API_VERSION		"2021-08-06"
#define AZB_DEV_ACCOUNT		"devstoreaccount1"
#define AZB_DEV_KEY \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/" \
	"KBHBeksoGMGw=="
#define AZB_DEV_ENDPOINT	"http://127.0.0.1:10000/devstoreaccount1"
#define AZB_DEVICE_PATH		"/dev/azure_blob"

/* Exit codes of the CLI; the library maps every failure to one of them. */
enum azb_code {
	AZB_OK = 0,
	AZB_EOTHER = 1,		/* local I/O or internal error */
	AZB_EUSAGE = 2,		/* bad command line or configuration */
	AZB_ENOTFOUND = 3,	/* HTTP 404 */
	AZB_ECONFLICT = 4,	/* HTTP 409 */
	AZB_EPRECOND = 5,	/* HTTP 412 (If-Match / If-None-Match: *) */
	AZB_ENOTMOD = 6,	/* HTTP 304 (If-None-Match on a read) */
	AZB_EAUTH = 7,		/* HTTP 401 / 403 */
	AZB_EHTTP = 8,		/* any other HTTP error status */
	AZB_ETRANSPORT = 9,	/* connection, timeout, device errno/status */
	AZB_EINTEGRITY = 10,	/* MD5 or length mismatch */
};

enum azb_transport_kind {
	AZB_TRANSPORT_AUTO,
	AZB_TRANSPORT_HTTP,
	AZB_TRANSPORT_DEVICE,
};

/*
 * How requests are authorized. DEFAULT: Shared Key when a key is set,
 * else the SAS, else none. BEARER: cfg->bearer_token (a Microsoft Entra
 * ID token for https://storage.azure.com/). MSI: a token of the VM's
 * managed identity from the Instance Metadata Service, refreshed before
 * it expires. A bearer token is sent over https, to the device, or to a
 * loopback http endpoint (azblobd) only.
 */
enum azb_auth_kind {
	AZB_AUTH_DEFAULT,
	AZB_AUTH_BEARER,
	AZB_AUTH_MSI,
};

/*
 * A one-line notice the library gives once per client when it falls back
 * (auto to http, io_uring to the ioctl); msg has no trailing newline.
 */
typedef void (*azb_notice_fn)(void *arg, const char *msg);

struct azb_config {
	char *endpoint;		/* scheme://host[:port][/path], no trailing / */
	char *account;
	unsigned char key[128];	/* decoded Shared Key */
	size_t key_len;		/* 0: no Shared Key */
	char *sas;		/* SAS query without '?', or NULL */
	enum azb_transport_kind transport;
	const char *device;	/* device node; NULL: AZB_DEVICE_PATH */
	size_t chunk_size;	/* block / range size */
	size_t put_threshold;	/* single Put Blob up to this size */
	unsigned int parallel;	/* requests in flight */
	unsigned int timeout_ms;	/* per request */
	unsigned int retries;	/* extra attempts on retryable failures */
	unsigned int retry_base_ms;
	int verbose;
	azb_notice_fn notice;	/* NULL: "azblob: <msg>" on stderr */
	void *notice_arg;
	/* added in 0.1.0's second revision: keep at the end */
	const char *ca_file;	/* https: CA bundle (PEM); NULL: system's */
	enum azb_auth_kind auth;
	char *bearer_token;	/* AZB_AUTH_BEARER; azb_config_set_bearer */
	const char *msi_client_id;	/* user-assigned identity; NULL: the VM's */
	/* added in 0.1.0's third revision: keep at the end */
	int no_md5;		/* send no Content-MD5 and check none */
};

/* Details of the last failure, for messages and JSON output. */
struct azb_error {
	int code;		/* enum azb_code */
	int http_status;	/* 0 if none */
	char error_code[96];	/* x-ms-error-code */
	int sys_errno;		/* errno from the device / local I/O */
	unsigned int dev_status; /* host status from the device */
	char message[256];
};

struct azb_props {
	uint64_t size;
	char etag[96];
	char last_modified[64];
	char content_type[128];
	char content_md5[32];	/* base64 */
	char blob_type[32];
};

struct azb_list_item {
	char *name;
	int is_prefix;
	uint64_t size;
	char etag[96];
	char last_modified[64];
	char content_md5[32];
};

struct azb_list_page {
	struct azb_list_item *items;
	size_t n;
	char *next_marker;	/* NULL or "" when the listing is complete */
};

typedef void (*azb_progress_fn)(void *arg, uint64_t done, uint64_t total);

struct azb_cond {
	const char *if_match;
	const char *if_none_match;
};

struct azb_client;

int azb_config_init(struct azb_config *cfg);
void azb_config_free(struct azb_config *cfg);
/* Parse an Azure connection string (incl. UseDevelopmentStorage=true). */
int azb_config_from_connection_string(struct azb_config *cfg, const char *cs,
				      struct azb_error *err);
/* Parse an account URL, path-style or host-style, optionally with ?SAS. */
int azb_config_from_url(struct azb_config *cfg, const char *url,
			struct azb_error *err);
int azb_config_set_key(struct azb_config *cfg, const char *b64,
		       struct azb_error *err);
/*
 * Copy a bearer token (surrounding blanks and a final newline are
 * dropped; it must be one line of printable ASCII) and select
 * AZB_AUTH_BEARER.
 */
int azb_config_set_bearer(struct azb_config *cfg, const char *token,
			  struct azb_error *err);

int azb_client_new(const struct azb_config *cfg, struct azb_client **out,
		   struct azb_error *err);
void azb_client_free(struct azb_client *c);
const char *azb_client_transport_name(const struct azb_client *c);
void azb_client_set_progress(struct azb_client *c, azb_progress_fn fn,
			     void *arg);

int azb_container_create(struct azb_client *c, const char *container,
			 struct azb_error *err);
int azb_container_delete(struct azb_client *c, const char *container,
			 const struct azb_cond *cond, struct azb_error *err);
int azb_container_props(struct azb_client *c, const char *container,
			struct azb_props *p, struct azb_error *err);
int azb_blob_props(struct azb_client *c, const char *container,
		   const char *blob, const struct azb_cond *cond,
		   struct azb_props *p, struct azb_error *err);
int azb_blob_delete(struct azb_client *c, const char *container,
		    const char *blob, const struct azb_cond *cond,
		    struct azb_error *err);
/* Upload from fd (file or pipe). size_hint: -1 if unknown. */
int azb_blob_put(struct azb_client *c, const char *container,
		 const char *blob, int fd, int64_t size_hint,
		 const struct azb_cond *cond, struct azb_props *out,
		 struct azb_error *err);
/*
 * Download to fd, written sequentially. off/len select a range; len < 0
 * means to the end of the blob.
 */
int azb_blob_get(struct azb_client *c, const char *container,
		 const char *blob, int fd, uint64_t off, int64_t len,
		 const struct azb_cond *cond, struct azb_props *out,
		 uint64_t *written, struct azb_error *err);
int azb_list_blobs(struct azb_client *c, const char *container,
		   const char *prefix, const char *delimiter,
		   const char *marker, unsigned int max_results,
		   struct azb_list_page *page, struct azb_error *err);
void azb_list_page_free(struct azb_list_page *page);

const char *azb_code_name(int code);

/*
 * Check whether this host's Azure Blob device can be used (the host's
 * offer on VMBus, the driver, the node and its permissions, the ioctl and
 * io_uring commands, the choice of --transport auto) and print the report
 * to out, for people or (json) as one JSON object. device: the node, NULL
 * for AZB_DEVICE_PATH. Returns the exit status of `azblob doctor`: 0 when
 * the device is usable, see README.md for the others.
 */
int azb_doctor(const char *device, int json, FILE *out);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* AZBLOB_H */
