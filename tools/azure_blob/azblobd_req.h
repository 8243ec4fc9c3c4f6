/* SPDX-License-Identifier: MIT */
/*
 * azblobd: one HTTP request on its way through the device, shared by the
 * HTTP front (azblobd_http.c), the split GET (azblobd_get.c) and the
 * split upload (azblobd_put.c).
 *
 * A request is reference counted: the HTTP library's side holds one
 * reference until it reports the request completed, and so does every
 * job the device holds for it, every wait for the memory cap, and a
 * streamed response until the library frees it. Its state is guarded by
 * its lock; the lock is never held while giving memory back (that may
 * call other requests' granted callbacks) or resuming the connection.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef AZBLOBD_REQ_H
#define AZBLOBD_REQ_H

#include <pthread.h>
#include <time.h>
#include <microhttpd.h>
#include "azblobd.h"

enum azd_auth {
	AZD_AUTH_NONE,		/* anonymous (public container) */
	AZD_AUTH_SHAREDKEY,	/* signs the method, headers and resource */
	AZD_AUTH_SAS,		/* signs nothing of the request's headers */
	AZD_AUTH_BEARER,	/* a token, signs nothing of the request */
	AZD_AUTH_OTHER,		/* unknown scheme: treated as signed */
};

enum azd_state {
	AZD_ST_WAIT_MEM,	/* the first job waits for the cap */
	AZD_ST_BODY,		/* receiving an upload's body */
	AZD_ST_DEVICE,		/* the first job is with the device */
	AZD_ST_STREAM,		/* a split GET's response is streaming */
	AZD_ST_PUT,		/* a split upload: blocks, then the list */
	AZD_ST_DRAIN,		/* our error waits for the request's end */
	AZD_ST_ANSWERED,	/* a response is queued */
};

struct azd_hdr {
	char *name;
	char *value;
};

struct azd_conn;
struct azd_stream;
struct azd_put;

struct azd_req {
	pthread_mutex_t lock;
	unsigned int refs;
	struct MHD_Connection *mc;
	const struct azd_config *cfg;
	uid_t uid;
	char *uri;		/* request-target as sent, maybe unprefixed */
	char method[24];
	struct azd_hdr *hdrs;
	unsigned int nhdrs;
	enum azd_auth auth;
	bool is_head;
	bool blob_get;		/* GET of a blob (no comp= / restype=) */
	bool has_clen, chunked;
	uint64_t clen;
	bool has_range;		/* one range bytes=A-B or bytes=A- */
	uint64_t range_first, range_last;	/* last UINT64_MAX: open */

	enum azd_state state;
	bool suspended;		/* the connection is suspended by us */
	bool gone;		/* the library is done with the request */
	bool job_done;		/* the first job came back */
	bool reissued;
	bool first_call;	/* inside the request's first call */
	struct azb_str err_body;	/* an answer of our own */
	char err_code[48];
	struct azd_job *job;	/* the first (only) job */
	struct azd_mem_wait mw;
	uint64_t body_got;
	struct azd_stream *st;
	struct azd_put *put;

	/* for the log line */
	unsigned int status;
	unsigned int dev_requests;
	uint64_t bytes_out;
	struct timespec t0;
};

void azd_req_get(struct azd_req *r);
void azd_req_put(struct azd_req *r);
/* under r->lock, from the library's callbacks: stop reading/writing */
void azd_req_suspend_locked(struct azd_req *r);
/* under r->lock: true if the caller must azd_req_resume() after unlock */
bool azd_req_wake_locked(struct azd_req *r);
void azd_req_resume(struct azd_req *r);
/*
 * The end of a device job's completion, entered under r->lock: unlock,
 * resume the connection if wake, free orphan (a job the request no
 * longer holds, or NULL) and drop the job's reference on r.
 */
void azd_job_end_unlock(struct azd_req *r, bool wake, struct azd_job *orphan);
/* the client closed its end with nothing left to read */
bool azd_req_peer_gone(struct azd_req *r);
/* the first of the client's headers of that name, or NULL */
const char *azd_req_header(const struct azd_req *r, const char *name);

/*
 * The head sent to the device: the client's request line and headers,
 * Host set to the account's host, hop-by-hop headers dropped. With
 * range (a part of a split GET) the range and conditional headers are
 * replaced by x-ms-range and If-Match: etag.
 */
void azd_build_head(const struct azd_req *r, struct azb_str *out,
		    const char *range, const char *etag);
/* the request-target for a log line, a SAS signature left out */
void azd_log_target(const char *uri, char *out, size_t cap);
/* copy the device's response headers onto an HTTP library response */
void azd_copy_headers(struct MHD_Response *resp,
		      const struct azb_response *dev);

/* split GET: stream a 2xx whose body did not fit the first job */
enum MHD_Result azd_stream_start(struct azd_req *r,
				 const struct azb_response *first);
uint64_t azd_stream_bytes(const struct azd_stream *st);

/*
 * An answer of our own in the blob service's error format (sent after
 * the body when decided in the request's first call).
 */
enum MHD_Result azd_answer_error(struct azd_req *r, unsigned int status,
				 const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* split upload: a SAS or bearer Put Blob larger than one request */
bool azd_put_splittable(const struct azd_req *r);
enum MHD_Result azd_put_start(struct azd_req *r);	/* first call */
enum MHD_Result azd_put_carry(struct azd_req *r, const char *data,
			      size_t *size);
void azd_put_close(struct azd_req *r);	/* the library is done with r */
void azd_put_describe(const struct azd_put *p, char *out, size_t cap);
void azd_put_free(struct azd_put *p);

#endif /* AZBLOBD_REQ_H */
