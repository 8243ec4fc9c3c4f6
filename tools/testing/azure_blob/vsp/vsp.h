/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reference VSP (host side) of the Azure Blob test rig: shared definitions.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef VSP_H
#define VSP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus_emu_proto.h"

#define VSP_PAGE_SIZE		4096u
#define VSP_MAX_PAGES		8192u	/* pages in one request */

/* VMBus packet format (the wire format; see include/linux/hyperv.h) */
#define VM_PKT_DATA_INBAND		6
#define VM_PKT_DATA_USING_GPA_DIRECT	9
#define VM_PKT_COMP			11
#define VMBUS_FLAG_COMPLETION_REQUESTED	1

struct vmpacket_desc {
	uint16_t type;
	uint16_t offset8;
	uint16_t len8;
	uint16_t flags;
	uint64_t trans_id;
} __attribute__((packed));

/* struct hv_ring_buffer: the header page of a ring */
struct ring_hdr {
	uint32_t write_index;
	uint32_t read_index;
	uint32_t interrupt_mask;
	uint32_t pending_send_sz;
	uint32_t reserved1[12];
	uint32_t feature_bits;
} __attribute__((packed));

/* The Azure Blob in-band request message of the wire protocol, 56 bytes */
struct az_blob_msg {
	uint32_t version;
	uint32_t timeout_ms;
	uint32_t data_buffer_offset;
	uint32_t data_buffer_length;
	uint32_t data_buffer_valid;
	uint32_t operation_type;
	uint32_t request_buffer_offset;
	uint32_t request_buffer_length;
	uint32_t response_buffer_offset;
	uint32_t response_buffer_length;
	uint8_t transaction_id[16];
} __attribute__((packed));

/* The completion payload, 12 bytes */
struct az_blob_comp {
	uint32_t length;
	uint32_t error;
	uint32_t response_len;
} __attribute__((packed));

_Static_assert(sizeof(struct vmpacket_desc) == 16, "desc");
_Static_assert(sizeof(struct az_blob_msg) == 56, "msg");
_Static_assert(sizeof(struct az_blob_comp) == 12, "comp");

#define AZ_BLOB_OP_USER_REQUEST	0x100

/* ---- logging ---- */
void vsp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- time and timers (loop thread only) ---- */
uint64_t vsp_now_ns(void);

struct vsp_timer {
	uint64_t due_ns;
	void (*fn)(struct vsp_timer *t);
	struct vsp_timer *next;
	bool armed;
};

void vsp_timer_arm(struct vsp_timer *t, uint64_t delay_ns);
void vsp_timer_cancel(struct vsp_timer *t);

/*
 * Run fn(arg) on the loop thread. The only VSP function that may be called
 * from other threads: a backend with worker threads hands its results back
 * through it.
 */
int vsp_loop_post(void (*fn)(void *arg), void *arg);

/* ---- guest memory ---- */
/* Host address of [gpa, gpa + len) or NULL when not inside guest RAM. */
void *guest_ptr(uint64_t gpa, uint64_t len);
int guest_mem_attach(const struct vmbus_emu_mailbox *mb);
void guest_mem_detach(void);

/* ---- requests and backends ---- */
enum vsp_buf {
	VSP_BUF_DATA,
	VSP_BUF_REQUEST,
	VSP_BUF_RESPONSE,
};

struct vsp_slot;
struct vsp_backend;

/**
 * struct vsp_request - one request the guest sent
 *
 * Backends read the fields, move bytes with vsp_req_read()/vsp_req_write()
 * and finish with vsp_req_complete(), at once or later (asynchronously),
 * always on the loop thread. After vsp_req_complete() or after the core
 * called the backend's cancel() the backend must not touch the request.
 */
struct vsp_request {
	struct vsp_slot *slot;
	uint64_t trans_id;
	struct az_blob_msg msg;
	uint32_t npfn;
	uint8_t **pages;	/* host address of each 4 KiB guest page */
	uint64_t *pfns;

	/* result */
	uint32_t status;
	uint32_t response_len;

	/* core state */
	int state;
	struct vsp_timer timer;
	struct vsp_request *prev, *next;	/* slot's request list */
	const struct vsp_backend *backend;	/* the one that got submit() */
	void *backend_priv;
};

int vsp_req_read(struct vsp_request *req, enum vsp_buf which, uint32_t off,
		 void *dst, uint32_t len);
int vsp_req_write(struct vsp_request *req, enum vsp_buf which, uint32_t off,
		  const void *src, uint32_t len);
uint32_t vsp_req_len(const struct vsp_request *req, enum vsp_buf which);
/* The slot's backend argument (`backend <slot> NAME ARG`) or NULL. */
const char *vsp_req_backend_arg(const struct vsp_request *req);
/* Whether `trace <slot> on` is set for the request's slot. */
bool vsp_trace_enabled(const struct vsp_request *req);
void vsp_req_complete(struct vsp_request *req, uint32_t status,
		      uint32_t response_len);

/**
 * struct vsp_backend - how requests are carried out
 * @name: the name the `backend` control command selects it by
 * @submit: start the request; call vsp_req_complete() now or later
 * @cancel: the channel went away: forget the request (it is freed after
 *	this returns); only called for requests submitted and not completed
 * @check_arg: optional; accepts (0) or refuses the argument of
 *	`backend <slot> NAME ARG`. Backends without it take no argument.
 */
struct vsp_backend {
	const char *name;
	void (*submit)(struct vsp_request *req);
	void (*cancel)(struct vsp_request *req);
	int (*check_arg)(const char *arg);
};

const struct vsp_backend *vsp_backend_find(const char *name);

/* The http backend (backend_http.c): configured before the loop runs. */
extern const struct vsp_backend vsp_http_backend;
int vsp_http_set_endpoint(const char *url);
int vsp_http_set_max_inflight(uint32_t n);
int vsp_http_set_timeout_ms(uint32_t ms);
void vsp_http_set_keep_host(bool on);
const char *vsp_http_endpoint(void);
void vsp_http_stats(void);

/* FNV-1a, as the echo backend defines it */
uint32_t fnv1a32(const uint8_t *p, size_t n);
uint64_t fnv1a64_update(uint64_t h, const uint8_t *p, size_t n);

#endif /* VSP_H */
