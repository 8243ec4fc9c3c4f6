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
#include <limits.h>
#include <time.h>
#include <sys/types.h>
#include "azblob.h"

#define AZB_RESP_HEAD_MAX	16384	/* response buffer of one request */
#define AZB_MAX_HEADERS		64
#define AZB_DEVICE_MAX_PAGES	8192	/* AZ_BLOB_MAX_PAGES of the uapi */

/*
 * The VMBus interface type (class id) the host offers the Azure Blob
 * device under: HV_AZURE_BLOB_GUID of include/linux/hyperv.h with the
 * series, the id table of drivers/hv/hv_azure_blob.c.
 */
#define AZB_BLOB_CLASS_ID	"0590b792-db64-45cc-81db-b8d70c577c9e"
#define AZB_DRIVER_NAME		"hv_azure_blob"

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

/* ---- bearer tokens (auth.c) ---- */
struct azb_token;
/* *out stays NULL for AZB_AUTH_DEFAULT */
int azb_token_new(const struct azb_config *cfg, struct azb_token **out,
		  struct azb_error *err);
void azb_token_free(struct azb_token *t);
/* authz = "Bearer <token>", the token fetched or refreshed when due */
int azb_token_authz(struct azb_token *t, struct azb_str *authz,
		    struct azb_error *err);
unsigned int azb_token_fetches(struct azb_token *t);
void azb_token_describe(struct azb_token *t, char *buf, size_t len);
time_t azb_jwt_exp(const char *token);
/* The IMDS token answer: access_token and its expiry. */
int azb_imds_parse(const char *body, size_t len, time_t now, char **token,
		   time_t *expires, char *why, size_t whylen);

/* base64 / digests via libcrypto */
char *azb_b64_encode(const void *data, size_t len);
int azb_b64_decode(const char *b64, unsigned char *out, size_t cap,
		   size_t *outlen);
void azb_md5_b64(const void *data, size_t len, char out[32]);
void azb_percent_encode(struct azb_str *s, const char *txt, bool keep_slash);

/*
 * ASCII character classes and case folding. Header names, URL encodings
 * and connection string keys are ASCII by definition; <ctype.h> and
 * strcasecmp() follow LC_CTYPE, where the Turkish 'I' does not fold to
 * 'i' and ISO-8859 locales call bytes above 127 letters.
 */
static inline int azb_ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static inline bool azb_ascii_alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

int azb_ascii_casecmp(const char *a, const char *b);
int azb_ascii_ncasecmp(const char *a, const char *b, size_t n);
int azb_percent_decode(const char *in, size_t n, struct azb_str *out);
void azb_http_date(char out[64], time_t t);
/* JSON string literal: quotes, '\\', controls escaped; non-UTF-8 as U+FFFD */
void azb_json_str(FILE *f, const char *s);
/* A one-line notice through cfg->notice, or "azblob: ..." on stderr. */
void azb_notice(const struct azb_config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * AZBLOB_TEST_ROOT, for the unit tests only: a directory that stands for
 * "/" wherever the library looks at the system (/sys, the default device
 * node). Unset (the normal case), paths are the system's own.
 */
const char *azb_test_root(void);
/* cfg->device, or AZB_DEVICE_PATH under the test root; free() it. */
char *azb_device_path(const struct azb_config *cfg);

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

/*
 * The device transport's pieces, for programs that drive their own ring
 * (azblobd): fill the request of a transfer (-E2BIG above the page bound),
 * prepare its io_uring command, and interpret a completion.
 */
struct az_blob_request_sync;
struct io_uring_sqe;
int azb_dev_fill(struct azb_xfer *x, struct az_blob_request_sync *rq);
void azb_dev_prep_sqe(struct io_uring_sqe *sqe, int fd,
		      const struct az_blob_request_sync *rq);
void azb_dev_complete(struct azb_xfer *x, int res, unsigned int status,
		      unsigned int resp_len, const char *how);
struct azb_transport *azb_transport_device_new(const struct azb_config *cfg,
					       struct azb_error *err);
/* The same on a node already open (fd is the transport's from now on). */
struct azb_transport *azb_transport_device_from_fd(const struct azb_config *cfg,
						   int fd, const char *path);

/* ---- what --transport auto picks ---- */
struct azb_auto {
	enum azb_transport_kind kind;	/* HTTP or DEVICE; AUTO: none fits */
	bool notice;	/* the node exists but refused: say so once */
	char why[320];
};

/*
 * The choice from the errno of opening the node O_RDWR (0: it opened):
 * the device when it opens; http when there is no node (ENOENT, ENOTDIR)
 * or the node refuses (EACCES, EPERM, ENODEV, ENXIO: with a notice);
 * nothing for other errors, or when have_http is false and the device
 * cannot be used.
 */
void azb_auto_choose(int open_errno, bool have_http, const char *path,
		     struct azb_auto *a);
/* Whether this build has the http transport (libcurl). */
bool azb_have_http(void);

/* ---- checks of the device node (transport_device.c) ---- */
/*
 * An empty request (every field zero) is refused by the driver's checks
 * with EINVAL before anything is pinned or sent to the host: the cheapest
 * question the ABI allows. Both return the errno of the answer (0 if the
 * request was accepted, which the driver never does).
 */
int azb_dev_ioctl_probe(int fd);
enum azb_uring_stage {
	AZB_URING_SETUP = 1,	/* io_uring_setup() of an SQE128/CQE32 ring */
	AZB_URING_COMMAND = 2,	/* the AZ_BLOB_URING_CMD_REQUEST command */
};
int azb_dev_uring_probe(int fd, enum azb_uring_stage *stage);

/* ---- azblob doctor (doctor.c) ---- */
/* The system calls the doctor makes on the node; unit tests replace them. */
struct azb_sys_ops {
	int (*open_node)(const char *path);	/* fd or -errno */
	int (*ioctl_probe)(int fd);		/* as azb_dev_ioctl_probe */
	int (*uring_probe)(int fd, enum azb_uring_stage *stage);
};
extern const struct azb_sys_ops azb_sys_real;

enum azb_doctor_status {
	AZB_DOC_USABLE,		/* the node opens and the driver answers */
	AZB_DOC_NO_DEVICE,	/* no node, and the host offers no device */
	AZB_DOC_NO_DRIVER,	/* offered, the driver is not loaded */
	AZB_DOC_NO_NODE,	/* the driver has the device, no node */
	AZB_DOC_PERMISSION,	/* the node refuses this user */
	AZB_DOC_BROKEN,		/* anything else (stale node, not the driver) */
};

#define AZB_DOC_MISC_MAX	8

struct azb_doctor {
	char path[PATH_MAX];
	/* the host's offer */
	bool vmbus;			/* /sys/bus/vmbus/devices exists */
	unsigned int vmbus_devices;
	unsigned int offered;		/* of them with the Azure Blob class */
	char instance[80];		/* the first one's device name */
	char bound_to[64];		/* its driver, "" when none */
	/* the driver */
	bool module;			/* /sys/module/hv_azure_blob */
	bool registered;		/* /sys/bus/vmbus/drivers/hv_azure_blob */
	char initstate[16], version[64], srcversion[64], taint[16];
	char kernel[80];
	unsigned int nmisc;		/* /sys/class/misc/azure_blob* */
	struct {
		char name[32];
		unsigned int major, minor;
	} misc[AZB_DOC_MISC_MAX];
	/* the node */
	bool node_exists, node_chr, node_matches;
	unsigned int major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	char owner[64], group[64];
	bool user_in_group;	/* this process has the node's group */
	bool user_listed;	/* the group lists this user (a later login) */
	char user[64];
	int open_errno;
	int ioctl_errno;	/* -1: not asked */
	int uring_errno;	/* -1: not asked */
	enum azb_uring_stage uring_stage;
	/* the verdict */
	struct azb_auto autosel;
	bool uring_ok;
	enum azb_doctor_status status;
	int exit;
	char summary[512];
	char hint[768];
};

void azb_doctor_check(struct azb_doctor *d, const char *device,
		      const struct azb_sys_ops *ops);
void azb_doctor_print(const struct azb_doctor *d, FILE *f, bool json);
const char *azb_doctor_status_name(enum azb_doctor_status s);

#endif /* AZBLOB_INTERNAL_H */
