/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Azure Blob VMBus driver: the wire protocol and the driver's internals,
 * shared by the driver and its KUnit test.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _HV_AZURE_BLOB_H
#define _HV_AZURE_BLOB_H

#include <linux/completion.h>
#include <linux/hyperv.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uuid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

struct az_blob_request_sync;
struct io_uring_cmd;

#define AZ_BLOB_VSP_VERSION		0
#define AZ_BLOB_VSP_OP_USER_REQUEST	0x100
#define AZ_BLOB_VSP_OP_REGISTER_BUFFER	0x101	/* defined by the host, unused */
#define AZ_BLOB_VSP_OP_DEREGISTER_BUFFER 0x102	/* defined by the host, unused */

/**
 * struct az_blob_vsp_request - in-band message of a request packet
 * @version: protocol version, %AZ_BLOB_VSP_VERSION
 * @timeout_ms: the caller's timeout, for the host
 * @data_buffer_offset: byte offset of the data buffer in the GPA range
 * @data_buffer_length: data buffer length (0: no data pages)
 * @data_buffer_valid: bytes of the data buffer the host should send
 * @operation_type: %AZ_BLOB_VSP_OP_USER_REQUEST
 * @request_buffer_offset: byte offset of the request buffer in the range
 * @request_buffer_length: request buffer length
 * @response_buffer_offset: byte offset of the response buffer in the range
 * @response_buffer_length: response buffer length
 * @transaction_id: the caller's GUID
 *
 * The GPA range lists the data, request and response buffers' pages, in
 * that order. Little-endian on the wire.
 */
struct az_blob_vsp_request {
	__le32 version;
	__le32 timeout_ms;
	__le32 data_buffer_offset;
	__le32 data_buffer_length;
	__le32 data_buffer_valid;
	__le32 operation_type;
	__le32 request_buffer_offset;
	__le32 request_buffer_length;
	__le32 response_buffer_offset;
	__le32 response_buffer_length;
	guid_t transaction_id;
} __packed;

/**
 * struct az_blob_vsp_completion - payload of the host's completion packet
 * @length: payload length as the host sees it (informational)
 * @error: host status, 0 on success
 * @response_len: bytes the host wrote into the response buffer
 */
struct az_blob_vsp_completion {
	__le32 length;
	__le32 error;
	__le32 response_len;
} __packed;

/*
 * Two units of pages are counted here. The host speaks Hyper-V pages of
 * HV_HYP_PAGE_SIZE (4 KiB) whatever the guest's page size: every PFN, offset
 * and length in a packet, and AZ_BLOB_MAX_PAGES. Pinning and the budgets
 * count CPU pages of PAGE_SIZE (4 KiB on x86, 4, 16 or 64 KiB on arm64).
 */

/* Hyper-V pages in one CPU page: 1 with 4 KiB pages, 16 with 64 KiB pages. */
#define AZ_BLOB_HVPAGES_PER_PAGE	(PAGE_SIZE / HV_HYP_PAGE_SIZE)

/* Buffers in the order their pages appear in the packet. */
enum az_blob_buf_index {
	AZ_BLOB_BUF_DATA,
	AZ_BLOB_BUF_REQUEST,
	AZ_BLOB_BUF_RESPONSE,
	AZ_BLOB_NR_BUFS,
};

/*
 * Most CPU pages one request spans. A buffer of h Hyper-V pages starts at
 * one of the r = AZ_BLOB_HVPAGES_PER_PAGE Hyper-V pages of a CPU page, so
 * it spans at most DIV_ROUND_UP(h + r - 1, r) = (h + 2 * (r - 1)) / r CPU
 * pages: up to r - 1 Hyper-V pages more at either end. The three buffers
 * together span at most AZ_BLOB_MAX_PAGES Hyper-V pages, hence the sum
 * below; requests of exactly that many CPU pages exist. With 4 KiB pages it
 * is AZ_BLOB_MAX_PAGES (8192), with 64 KiB pages 517.
 */
#define AZ_BLOB_MAX_CPU_PAGES \
	((AZ_BLOB_MAX_PAGES + \
	  AZ_BLOB_NR_BUFS * 2 * (AZ_BLOB_HVPAGES_PER_PAGE - 1)) / \
	 AZ_BLOB_HVPAGES_PER_PAGE)

/* Requests spanning at most this many CPU pages keep them inline... */
#define AZ_BLOB_INLINE_PAGES	16
/* ... and at most this many Hyper-V pages (PFNs) their descriptor. */
#define AZ_BLOB_INLINE_HVPAGES	16
/* The descriptor of such a request, in u64 words. */
#define AZ_BLOB_INLINE_DESC_WORDS \
	DIV_ROUND_UP(sizeof(struct vmbus_packet_mpb_array) + \
		     AZ_BLOB_INLINE_HVPAGES * sizeof(u64), sizeof(u64))

/**
 * struct az_blob_buf - one of a request's user buffers
 * @uaddr: user address of the first byte
 * @len: length in bytes (0 only for an absent data buffer)
 * @gup_flags: FOLL_WRITE when the host writes the buffer
 * @nr_pages: CPU pages spanned
 * @nr_pinned: CPU pages currently pinned
 * @nr_hvpages: Hyper-V pages spanned (PFNs in the packet)
 * @first_page: index of the buffer's first CPU page in &az_blob_req.pages
 * @first_hvpage: index of its first PFN in the packet's PFN array
 * @range_offset: byte offset of @uaddr inside the packet's GPA range, which
 *	counts Hyper-V pages
 */
struct az_blob_buf {
	u64 uaddr;
	u32 len;
	unsigned int gup_flags;
	u32 nr_pages;
	u32 nr_pinned;
	u32 nr_hvpages;
	u32 first_page;
	u32 first_hvpage;
	u32 range_offset;
};

/**
 * enum az_blob_req_state - who owns a request
 * @AZ_BLOB_REQ_NEW: the submitting caller; the host has not seen it
 * @AZ_BLOB_REQ_SENDING: the submitting caller, inside the send: the host
 *	may already have the packet, and may even complete it, but whoever
 *	else acts on the request (the completion, a cancellation) leaves the
 *	rest to the submitter, which looks at the request again when the send
 *	returns
 * @AZ_BLOB_REQ_HOST: the host; the caller waits for it
 * @AZ_BLOB_REQ_ABANDONED: the host; the caller is gone, the completion path
 *	frees it
 * @AZ_BLOB_REQ_DONE: the caller again; the host is done with it
 */
enum az_blob_req_state {
	AZ_BLOB_REQ_NEW,
	AZ_BLOB_REQ_SENDING,
	AZ_BLOB_REQ_HOST,
	AZ_BLOB_REQ_ABANDONED,
	AZ_BLOB_REQ_DONE,
};

/**
 * enum az_blob_wait - how a caller may wait before its request is sent
 * @AZ_BLOB_WAIT_KILLABLE: the ioctl: only a fatal signal ends a wait
 * @AZ_BLOB_WAIT_INTR: an io_uring command issued from an io-wq worker: any
 *	signal ends a wait, and so does io_uring's cancellation, which
 *	signals the worker
 * @AZ_BLOB_WAIT_NEVER: an io_uring command issued inline
 *	(%IO_URING_F_NONBLOCK): never sleep, fail with -EAGAIN instead and
 *	let io_uring issue the command again from io-wq
 */
enum az_blob_wait {
	AZ_BLOB_WAIT_KILLABLE,
	AZ_BLOB_WAIT_INTR,
	AZ_BLOB_WAIT_NEVER,
};

/**
 * enum az_blob_dev_state - whether a device accepts requests
 * @AZ_BLOB_DEV_OPEN: the channel is open
 * @AZ_BLOB_DEV_SUSPENDED: the channel is closed for suspend; requests wait
 * @AZ_BLOB_DEV_REMOVED: the device is gone; requests fail with -ENODEV
 */
enum az_blob_dev_state {
	AZ_BLOB_DEV_OPEN,
	AZ_BLOB_DEV_SUSPENDED,
	AZ_BLOB_DEV_REMOVED,
};

/**
 * struct az_blob_stats - per-device counters, shown in sysfs
 * @submitted: requests sent to the host
 * @completed: requests the host completed with status 0
 * @failed: requests that completed with a host status, a protocol error or
 *	because the device went away
 * @bytes: sum of the three buffer lengths of the requests sent
 * @ring_full_waits: requests that found the ring to the host full (or
 *	others already waiting for room in it) and waited for room
 */
struct az_blob_stats {
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t failed;
	atomic64_t bytes;
	atomic64_t ring_full_waits;
};

/**
 * struct az_blob_dev - one Azure Blob VMBus device
 * @kref: held by the VMBus binding, each open file and each request
 * @hdev: the VMBus device; valid until remove
 * @misc: the character device
 * @name: the misc device name
 * @id: index of the device among this driver's devices
 * @debugfs: per-device debugfs directory
 * @chan_open: the channel is open; changed only by probe, remove, suspend
 *	and resume, which the driver core serialises
 * @chan_rwsem: held for reading while a request is sent to the channel and
 *	for writing while @state changes, so the channel is never closed under
 *	a sender
 * @lock: protects @state, @pending, @ring_waiters, @ring_wait_need,
 *	@nr_in_flight, @nr_pinned, @seq and the state of every request
 * @state: whether requests are accepted
 * @pending: requests the host owns or may own (SENDING, HOST or ABANDONED)
 * @ring_waiters: requests waiting for room in the ring to the host, oldest
 *	first; only the first may send while the list is not empty
 * @ring_wait_need: ring bytes the first of @ring_waiters needs, 0 if none
 * @nr_in_flight: requests holding budget, from reservation until freed
 * @max_in_flight: bound on @nr_in_flight
 * @nr_pinned: CPU pages held by requests in flight (the sum of their
 *	&az_blob_req.nr_pages)
 * @max_pinned: bound on @nr_pinned, in CPU pages
 * @seq: sequence number of the last request sent
 * @budget_wq: callers waiting for budget
 * @ring_wq: @ring_waiters, and callers waiting for the device to resume
 * @drain_wq: removal and suspend waiting for @pending to drain
 * @drain_timeout: how long removal and suspend wait for the host, in jiffies
 * @stats: counters
 */
struct az_blob_dev {
	struct kref kref;
	struct hv_device *hdev;
	struct miscdevice misc;
	char name[24];
	int id;
	struct dentry *debugfs;
	bool chan_open;
	struct rw_semaphore chan_rwsem; /* senders vs. channel close */
	spinlock_t lock; /* state, pending list, budgets, request states */
	enum az_blob_dev_state state;
	struct list_head pending;
	struct list_head ring_waiters;
	u32 ring_wait_need;
	u32 nr_in_flight;
	u32 max_in_flight;
	unsigned long nr_pinned;
	unsigned long max_pinned;
	u64 seq;
	wait_queue_head_t budget_wq;
	wait_queue_head_t ring_wq;
	wait_queue_head_t drain_wq;
	unsigned long drain_timeout;
	struct az_blob_stats stats;
};

/**
 * struct az_blob_req - one request, from validation until the host is done
 * @dev: the device; the request holds a reference
 * @node: entry in &az_blob_dev.pending while the host owns the request
 * @ring_node: entry in &az_blob_dev.ring_waiters while waiting for room
 * @done: completed when the host is done with the request
 * @free_work: frees an abandoned request after the host completed it
 * @cmd: the io_uring command that carries the request, or NULL for the
 *	ioctl; cleared when the command is cancelled
 * @state: owner of the request, under &az_blob_dev.lock
 * @reserved: the request holds its share of the device's budget
 * @cancelled: io_uring cancelled the command before it reached the host;
 *	its issuer completes it (under &az_blob_dev.lock)
 * @host_done: the host completed the request while it was being sent (under
 *	&az_blob_dev.lock)
 * @keep_pages: the host may still write the pages: never unpin them
 * @result: 0, -EPROTO (bad completion) or the error that ended it
 * @status: the host's status
 * @response_len: bytes the host wrote into the response buffer
 * @bufs: the user buffers
 * @nr_pages: CPU pages of all buffers
 * @nr_hvpages: Hyper-V pages of all buffers (PFNs in the packet)
 * @pages: pinned CPU pages of all buffers, in packet order; @inline_pages
 *	or allocated
 * @desc: the GPA-direct descriptor; @inline_desc or allocated
 * @desc_size: size of @desc in bytes
 * @msg: the in-band message
 * @seq: sequence number, for debugfs
 * @pid: thread group of the submitter, for debugfs
 * @start: when the request was created
 * @inline_pages: @pages of a small request
 * @inline_desc: @desc of a small request
 */
struct az_blob_req {
	struct az_blob_dev *dev;
	struct list_head node;
	struct list_head ring_node;
	struct completion done;
	struct work_struct free_work;
	struct io_uring_cmd *cmd;
	enum az_blob_req_state state;
	bool reserved;
	bool cancelled;
	bool host_done;
	bool keep_pages;
	int result;
	u32 status;
	u32 response_len;
	struct az_blob_buf bufs[AZ_BLOB_NR_BUFS];
	u32 nr_pages;
	u32 nr_hvpages;
	struct page **pages;
	struct vmbus_packet_mpb_array *desc;
	u32 desc_size;
	struct az_blob_vsp_request msg;
	u64 seq;
	pid_t pid;
	ktime_t start;
	struct page *inline_pages[AZ_BLOB_INLINE_PAGES];
	u64 inline_desc[AZ_BLOB_INLINE_DESC_WORDS];
};

/* Hyper-V pages spanned by @len bytes at @addr. */
static inline u64 az_blob_hvpages(u64 addr, u32 len)
{
	if (!len)
		return 0;
	return HVPFN_UP((addr & (HV_HYP_PAGE_SIZE - 1)) + len);
}

/* CPU pages spanned by @len bytes at @addr. */
static inline u32 az_blob_cpu_pages(u64 addr, u32 len)
{
	if (!len)
		return 0;
	return DIV_ROUND_UP((addr & ~PAGE_MASK) + len, PAGE_SIZE);
}

#if IS_ENABLED(CONFIG_KUNIT)
/* Frees abandoned requests; KUnit makes one when the driver did not load. */
extern struct workqueue_struct *az_blob_wq;
int az_blob_validate(const struct az_blob_request_sync *r);
void az_blob_req_init(struct az_blob_req *req,
		      const struct az_blob_request_sync *r);
void az_blob_fill_desc(struct az_blob_req *req);
struct az_blob_req *az_blob_req_alloc(struct az_blob_dev *dev,
				      const struct az_blob_request_sync *r);
void az_blob_handle_packet(struct az_blob_dev *dev,
			   const struct vmpacket_descriptor *desc);
void az_blob_on_channel_callback(void *context);
int az_blob_send(struct az_blob_dev *dev, struct az_blob_req *req);
u32 az_blob_ring_space(struct az_blob_dev *dev);
void az_blob_ring_notify(struct az_blob_dev *dev, u32 bytes);
void az_blob_cmd_done(struct io_uring_cmd *cmd, ssize_t ret, u64 res2,
		      unsigned int issue_flags);
void az_blob_cmd_mark_cancelable(struct io_uring_cmd *cmd,
				 unsigned int issue_flags);
void az_blob_cmd_complete_in_task(struct io_uring_cmd *cmd,
				  void (*fn)(struct io_uring_cmd *,
					     unsigned int));
int az_blob_open_channel(struct az_blob_dev *dev);
void az_blob_vmbus_close(struct az_blob_dev *dev);
long az_blob_ioctl_request(struct az_blob_dev *dev,
			   struct az_blob_request_sync __user *uarg);
int az_blob_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);
int az_blob_probe(struct hv_device *hdev, const struct hv_vmbus_device_id *id);
void az_blob_remove(struct hv_device *hdev);
int az_blob_suspend(struct hv_device *hdev);
int az_blob_resume(struct hv_device *hdev);
#endif

#endif /* _HV_AZURE_BLOB_H */
