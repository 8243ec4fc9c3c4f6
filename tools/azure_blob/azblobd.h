/* SPDX-License-Identifier: MIT */
/*
 * azblobd: the Blob REST API on the loopback interface, every request
 * carried through /dev/azure_blob. Declarations shared by its parts:
 * configuration, log, memory cap, device ring, peer check, HTTP front.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef AZBLOBD_H
#define AZBLOBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "internal.h"

#define AZD_PAGE		4096u	/* Hyper-V page, the device's unit */
#define AZD_DEFAULT_CONFIG	"/etc/azblobd.conf"
#define AZD_ERRBODY		4096u	/* data buffer for an error body */

struct azd_config {
	unsigned int port;		/* on 127.0.0.1 and ::1 */
	unsigned int https_port;	/* 0: no https */
	char tls_cert[256];		/* PEM: server certificate (chain) */
	char tls_key[256];		/* PEM: its private key */
	char host[256];			/* Host the device gets */
	char account[64];		/* first label of host */
	char device[256];
	uint64_t memory_cap;		/* bytes of request buffers at once */
	size_t part_size;		/* parts of a split GET, first try */
	unsigned int parts_in_flight;	/* per split GET, first included */
	unsigned int threads;		/* HTTP threads per address */
	unsigned int max_connections;	/* per address */
	unsigned int idle_timeout_s;	/* HTTP connection inactivity */
	unsigned int request_timeout_ms;	/* passed to the host */
	unsigned int ring_depth;	/* device requests in flight */
	int log_level;			/* syslog priority, 3..7 */
};

/* ---- log: stderr, with journald priority prefixes under systemd ---- */
enum {
	AZD_ERR = 3,
	AZD_WARNING = 4,
	AZD_NOTICE = 5,
	AZD_INFO = 6,
	AZD_DEBUG = 7,
};

void azd_log_init(int level);
bool azd_log_on(int level);
void azd_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- configuration file ---- */
void azd_config_defaults(struct azd_config *c);
int azd_config_load(struct azd_config *c, const char *path, char *err,
		    size_t errlen);

/* ---- the memory cap: bytes of buffers of requests, FIFO waiters ---- */
struct azd_mem_wait {
	struct azd_mem_wait *next;
	size_t bytes;
	bool queued;
	/* called without any lock held once the bytes are taken */
	void (*granted)(struct azd_mem_wait *w);
};

void azd_mem_init(uint64_t cap);
/* true: taken now; false: queued, granted() runs when they are free */
bool azd_mem_take(struct azd_mem_wait *w, size_t bytes);
/* true: removed from the queue; false: granted() has run or will run */
bool azd_mem_cancel(struct azd_mem_wait *w);
void azd_mem_give(size_t bytes);
void azd_mem_stats(uint64_t *used, uint64_t *peak, uint64_t *waits);

/* ---- device requests ---- */
struct azd_job {
	struct azb_xfer *x;	/* page aligned; x->resp: response buffer */
	char *head;		/* request head, page aligned */
	size_t head_alloc;
	void *data;		/* data buffer, page aligned (mmap) */
	size_t data_alloc;
	size_t charged;		/* bytes charged to the memory cap */
	void (*done)(struct azd_job *j);	/* device thread */
	void *owner;
	struct azd_job *next;	/* submission queue */
	uint64_t off, len;	/* a part of a split GET: body offset, size */
	unsigned int attempt;
	bool ready;		/* completed (parts) */
	bool failed;		/* completed, not usable (parts) */
};

/* Data bytes one request can carry with a request head of head_len. */
size_t azd_max_data(size_t head_len);
/* Bytes of the cap a job with that head and data buffer is charged. */
size_t azd_job_charge(size_t head_len, size_t data_len);
/*
 * A job with a copy of the head; data_len bytes of data buffer, mapped
 * now (map) or later by azd_job_map(). upload: the buffer is the body.
 */
struct azd_job *azd_job_new(const char *head, size_t head_len,
			    size_t data_len, bool upload, bool is_head,
			    unsigned int timeout_ms);
int azd_job_map(struct azd_job *j);
void azd_job_free(struct azd_job *j);	/* gives back j->charged */

int azd_dev_start(const struct azd_config *cfg);
void azd_dev_submit(struct azd_job *j);	/* any thread */
void azd_dev_stop(void);
struct azd_dev_stats {
	uint64_t submitted;	/* handed to the driver */
	uint64_t completed;	/* completions seen */
	uint64_t failed;	/* errno or non-zero host status */
	uint64_t bytes_up, bytes_down;
	uint64_t reopens;
};
void azd_dev_get_stats(struct azd_dev_stats *s);

/* ---- who connected, and may that user use the device ---- */
int azd_peer_uid(int fd, uid_t *uid);
/* 0: uid could open the device read-write; else -EACCES with why */
int azd_access(uid_t uid, const char *device, char *why, size_t len);

/* ---- HTTP front ---- */
int azd_http_start(const struct azd_config *cfg);
void azd_http_quiesce(void);
unsigned int azd_http_active(void);
void azd_http_stop(void);
void azd_http_log_stats(void);

/* ---- service manager ---- */
void azd_notify(const char *state);

#endif /* AZBLOBD_H */
