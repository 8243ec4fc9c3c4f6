// SPDX-License-Identifier: MIT
/*
 * libazblob: the device transport (/dev/azure_blob).
 *
 * One request = the request head in the request buffer, the body in the
 * data buffer (data_valid = upload length; for downloads data_len = the
 * expected body size), the response head back in the response buffer.
 * Single requests use the synchronous ioctl; when several are in flight
 * they go through io_uring (IORING_OP_URING_CMD). Without io_uring in the
 * kernel, or without io_uring commands in the driver (-EOPNOTSUPP), every
 * request takes the ioctl, after one notice.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <liburing.h>
#include <openssl/rand.h>
#include <misc/hv_azure_blob.h>
#include "internal.h"

#define PAGE_4K 4096u

struct dev_transport {
	struct azb_transport t;
	int fd;
	bool ring_up;		/* the ring exists */
	bool ring_ok;		/* new requests may go through it */
	unsigned int ring_inflight;	/* commands in the ring */
	struct io_uring ring;
	struct azb_xfer **done;
	unsigned int ndone;
	const struct azb_config *cfg;
	char *path;
};

_Static_assert(sizeof(struct az_blob_request_sync) == 72,
	       "struct az_blob_request_sync must be 72 bytes");
_Static_assert(offsetof(struct io_uring_sqe, cmd) == 48,
	       "the SQE command area starts at byte 48");

static size_t span_pages(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	if (!len)
		return 0;
	return (a + len - 1) / PAGE_4K - a / PAGE_4K + 1;
}

static int dev_fill(struct azb_xfer *x, struct az_blob_request_sync *rq)
{
	void *data = NULL;
	size_t dlen = 0, dvalid = 0;

	memset(rq, 0, sizeof(*rq));
	if (x->body_len) {
		data = (void *)x->body;
		dlen = dvalid = x->body_len;
	} else if (x->rcap && !x->is_head) {
		data = x->rbuf;
		dlen = x->rcap;
	}
	if (dlen > UINT32_MAX || x->head_len > UINT32_MAX)
		return -E2BIG;
	if (span_pages(data, dlen) + span_pages(x->head, x->head_len) +
	    span_pages(x->resp, sizeof(x->resp)) > AZ_BLOB_MAX_PAGES)
		return -E2BIG;
	RAND_bytes(rq->guid, sizeof(rq->guid));
	rq->timeout = x->timeout_ms;
	rq->request_len = (__u32)x->head_len;
	rq->response_len = sizeof(x->resp);
	rq->data_len = (__u32)dlen;
	rq->data_valid = (__u32)dvalid;
	rq->request_buffer = (uintptr_t)x->head;
	rq->response_buffer = (uintptr_t)x->resp;
	rq->data_buffer = (uintptr_t)data;
	return 0;
}

/* What the reference host's http backend means by a host status. */
static const char *host_status_str(__u32 status)
{
	switch (status) {
	case ECONNREFUSED: return "the blob service refused the connection";
	case ETIMEDOUT: return "the blob service timed out";
	case ECONNRESET: return "the connection to the blob service broke";
	case EHOSTUNREACH: return "the blob service is unreachable";
	case EPROTO: return "the blob service's answer is not HTTP";
	case EIO: return "the host's transport failed";
	case ENOMEM: return "the host is out of memory";
	case EINVAL: return "the host refused the packet";
	case EBADMSG: return "the host found the request head malformed";
	case EMSGSIZE: return "the response head does not fit the response buffer";
	case EOVERFLOW: return "the response body does not fit the data buffer";
	default: return "the host could not carry out the request";
	}
}

/* Interpret status/response_len the same way for ioctl and io_uring. */
static void dev_complete(struct azb_xfer *x, int res, __u32 status,
			 __u32 resp_len, const char *how)
{
	struct azb_response r;

	x->resp_len = 0;
	x->rlen = 0;
	x->overflow = false;
	if (res < 0) {
		x->terr = res;
		snprintf(x->terr_msg, sizeof(x->terr_msg), "%s: %s (errno %d)",
			 how, strerror(-res), -res);
		return;
	}
	/*
	 * EOVERFLOW with a head: the body was cut at the data buffer, as
	 * over http; the head's Content-Length tells the caller.
	 */
	if (status && !(status == EOVERFLOW && resp_len &&
			resp_len <= sizeof(x->resp))) {
		x->terr = -EIO;
		x->dev_status = status;
		snprintf(x->terr_msg, sizeof(x->terr_msg),
			 "device host status %u: %s", status,
			 host_status_str(status));
		return;
	}
	if (resp_len > sizeof(x->resp)) {
		x->terr = -EPROTO;
		snprintf(x->terr_msg, sizeof(x->terr_msg),
			 "device reported %u response bytes, buffer holds %zu",
			 resp_len, sizeof(x->resp));
		return;
	}
	x->resp_len = resp_len;
	/* The body length is the response's Content-Length. */
	if (azb_parse_response_head(x->resp, resp_len, &r))
		return;	/* the caller reports the malformed head */
	if (x->body_len || x->is_head || r.content_length <= 0) {
		x->rlen = 0;
	} else if ((uint64_t)r.content_length > x->rcap || status) {
		x->rlen = x->rcap;
		x->overflow = true;
	} else {
		x->rlen = (size_t)r.content_length;
	}
	azb_response_free(&r);
}

/* One request through the synchronous ioctl; x is complete on return. */
static void dev_ioctl(struct dev_transport *d, struct azb_xfer *x)
{
	struct az_blob_request_sync rq;
	int ret;

	x->terr = 0;
	x->dev_status = 0;
	x->terr_msg[0] = '\0';
	ret = dev_fill(x, &rq);
	if (ret) {
		dev_complete(x, ret, 0, 0, "request");
		return;
	}
	do {
		ret = ioctl(d->fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &rq);
	} while (ret < 0 && errno == EINTR);
	dev_complete(x, ret < 0 ? -errno : 0, rq.response.status,
		     rq.response.response_len, "ioctl");
}

/*
 * An AZ_BLOB_URING_CMD_REQUEST submission: the 80-byte command area of a
 * 128-byte SQE holds the request (all zero when rq is NULL), then 8 zero
 * bytes.
 */
static void dev_prep_cmd(struct io_uring_sqe *sqe, int fd,
			 const struct az_blob_request_sync *rq)
{
	unsigned char *area;

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = AZ_BLOB_URING_CMD_REQUEST;
	/*
	 * Hide the pointer's origin from the compiler, which sizes struct
	 * io_uring_sqe at 64 bytes.
	 */
	area = (unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd);
	__asm__("" : "+r"(area));
	memset(area, 0, 80);
	if (rq)
		memcpy(area, rq, sizeof(*rq));
}

static int dev_submit(struct azb_transport *t, struct azb_xfer *x)
{
	struct dev_transport *d = (struct dev_transport *)t;
	struct az_blob_request_sync rq;
	struct io_uring_sqe *sqe;
	int ret;

	if (!d->ring_ok || t->depth == 1 || x->sync) {
		dev_ioctl(d, x);
		d->done[d->ndone++] = x;
		t->inflight++;
		return 0;
	}
	x->terr = 0;
	x->dev_status = 0;
	x->terr_msg[0] = '\0';
	ret = dev_fill(x, &rq);
	if (ret) {
		dev_complete(x, ret, 0, 0, "request");
		d->done[d->ndone++] = x;
		t->inflight++;
		return 0;
	}
	sqe = io_uring_get_sqe(&d->ring);
	if (!sqe) {
		io_uring_submit(&d->ring);
		sqe = io_uring_get_sqe(&d->ring);
		if (!sqe)
			return -EBUSY;
	}
	dev_prep_cmd(sqe, d->fd, &rq);
	io_uring_sqe_set_data(sqe, x);
	ret = io_uring_submit(&d->ring);
	if (ret < 0)
		return ret;
	d->ring_inflight++;
	t->inflight++;
	return 0;
}

static struct azb_xfer *dev_reap(struct azb_transport *t)
{
	struct dev_transport *d = (struct dev_transport *)t;
	struct io_uring_cqe *cqe;
	struct azb_xfer *x;
	__u64 big;
	int ret, res;

	if (d->ndone) {
		x = d->done[0];
		memmove(d->done, d->done + 1, --d->ndone * sizeof(*d->done));
		t->inflight--;
		return x;
	}
	if (!d->ring_inflight)
		return NULL;
	do {
		ret = io_uring_wait_cqe(&d->ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		return NULL;
	x = io_uring_cqe_get_data(cqe);
	res = cqe->res;
	big = cqe->big_cqe[0];
	io_uring_cqe_seen(&d->ring, cqe);
	d->ring_inflight--;
	t->inflight--;
	if (res == -EOPNOTSUPP) {
		/*
		 * The driver has no io_uring commands (built for an older
		 * kernel): this one never reached it. It and every later
		 * request take the ioctl.
		 */
		if (d->ring_ok)
			azb_notice(d->cfg,
				   "%s: the driver does not take io_uring commands (%s); using its ioctl, one request at a time",
				   d->path, strerror(EOPNOTSUPP));
		d->ring_ok = false;
		dev_ioctl(d, x);
		return x;
	}
	dev_complete(x, res < 0 ? res : 0, AZ_BLOB_URING_STATUS(big),
		     AZ_BLOB_URING_RESPONSE_LEN(big), "io_uring");
	return x;
}

static void dev_destroy(struct azb_transport *t)
{
	struct dev_transport *d = (struct dev_transport *)t;

	/* The host owns the buffers until it completes: drain first. */
	while (t->inflight)
		if (!dev_reap(t))
			break;
	if (d->ring_up)
		io_uring_queue_exit(&d->ring);
	close(d->fd);
	free(d->done);
	free(d->path);
	free(d);
}

struct azb_transport *azb_transport_device_from_fd(const struct azb_config *cfg,
						   int fd, const char *path)
{
	struct dev_transport *d;
	unsigned int depth = cfg->parallel ? cfg->parallel : 1;
	int ret;

	d = azb_xmalloc(sizeof(*d));
	d->t.name = "device";
	d->t.submit = dev_submit;
	d->t.reap = dev_reap;
	d->t.destroy = dev_destroy;
	d->t.depth = depth;
	d->fd = fd;
	d->cfg = cfg;
	d->path = azb_xstrdup(path);
	d->done = azb_xmalloc(sizeof(*d->done) * (depth + 1));
	if (depth > 1) {
		unsigned int entries = 1;

		while (entries < depth)
			entries <<= 1;
		ret = io_uring_queue_init(entries, &d->ring,
					  IORING_SETUP_SQE128 |
					  IORING_SETUP_CQE32);
		if (ret < 0) {
			/* No io_uring, or disabled, or too old for SQE128. */
			azb_notice(cfg,
				   "io_uring is not available (%s); using the ioctl of %s, one request at a time",
				   strerror(-ret), path);
			d->t.depth = 1;
		} else {
			d->ring_up = true;
			d->ring_ok = true;
		}
	}
	return &d->t;
}

struct azb_transport *azb_transport_device_new(const struct azb_config *cfg,
					       struct azb_error *err)
{
	struct azb_transport *t;
	char *path = azb_device_path(cfg);
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (err)
			err->sys_errno = errno;
		azb_seterr(err, AZB_ETRANSPORT,
			   "cannot open %s: %s (azblob doctor tells why)",
			   path, strerror(errno));
		free(path);
		return NULL;
	}
	t = azb_transport_device_from_fd(cfg, fd, path);
	free(path);
	return t;
}

int azb_dev_ioctl_probe(int fd)
{
	struct az_blob_request_sync rq;

	memset(&rq, 0, sizeof(rq));
	if (!ioctl(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &rq))
		return 0;
	return errno;
}

int azb_dev_uring_probe(int fd, enum azb_uring_stage *stage)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int ret;

	*stage = AZB_URING_SETUP;
	ret = io_uring_queue_init(2, &ring, IORING_SETUP_SQE128 |
				  IORING_SETUP_CQE32);
	if (ret < 0)
		return -ret;
	*stage = AZB_URING_COMMAND;
	sqe = io_uring_get_sqe(&ring);
	dev_prep_cmd(sqe, fd, NULL);
	ret = io_uring_submit(&ring);
	if (ret >= 0) {
		do {
			ret = io_uring_wait_cqe(&ring, &cqe);
		} while (ret == -EINTR);
	}
	if (ret >= 0) {
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return -ret;
}

/*
 * The same steps for programs that drive their own ring on the device
 * (azblobd): lay out a transfer's request (-E2BIG above the page bound),
 * prepare its command, interpret its completion.
 */
int azb_dev_fill(struct azb_xfer *x, struct az_blob_request_sync *rq)
{
	return dev_fill(x, rq);
}

void azb_dev_prep_sqe(struct io_uring_sqe *sqe, int fd,
		      const struct az_blob_request_sync *rq)
{
	dev_prep_cmd(sqe, fd, rq);
}

void azb_dev_complete(struct azb_xfer *x, int res, unsigned int status,
		      unsigned int resp_len, const char *how)
{
	dev_complete(x, res, status, resp_len, how);
}
