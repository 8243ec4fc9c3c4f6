// SPDX-License-Identifier: GPL-2.0
/*
 * Azure Blob VMBus driver (VSC).
 *
 * On Azure the host can carry out Blob storage requests itself, straight to
 * the storage back end, over transports the VM does not have. This driver is
 * the guest side of that service. User space puts each request into three
 * buffers (request, response and data, shaped like HTTP) and hands them to
 * /dev/azure_blob. The driver pins the buffers, describes them to the host
 * in one GPA-direct VMBus packet and completes the request when the host's
 * completion arrives. The driver never looks inside the buffers and copies
 * none of them.
 *
 * The host owns a request's pages from the moment the packet is sent until
 * its completion arrives (or the channel is closed): whatever the caller
 * does in between (a fatal signal, closing the file, the device going away),
 * the pages stay pinned and the request stays allocated until then.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */

#include <linux/debugfs.h>
#include <linux/hyperv.h>
#include <linux/idr.h>
#include <linux/io_uring/cmd.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/rwsem.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include <asm/mshyperv.h>
#include <uapi/misc/hv_azure_blob.h>

#include "hv_azure_blob.h"

/*
 * Each ring holds at least one request of AZ_BLOB_MAX_PAGES (Hyper-V) pages:
 * its descriptor lists 8192 PFNs of 8 bytes.
 */
#define AZ_BLOB_RING_SIZE	(128 * 1024)
/*
 * Requests the host may hold at once. The smallest request packet takes
 * 112 bytes of the ring, so this many always fit in AZ_BLOB_RING_SIZE.
 */
#define AZ_BLOB_RQSTOR_SIZE	1024
/*
 * Inbound packets are completions, a descriptor and a 12-byte payload, but
 * the VMBus core truncates a packet longer than this and then loses its
 * place in the ring: leave room for a host that sends longer completions.
 */
#define AZ_BLOB_MAX_PKT_SIZE	VMBUS_DEFAULT_MAX_PKT_SIZE
/* Time one run of the channel callback may take before it yields. */
#define AZ_BLOB_CALLBACK_BUDGET_MS	2
/*
 * Bounds on the CPU pages one device keeps pinned for requests in flight
 * (az_blob_dev.max_pinned; the budget charges each request its CPU pages):
 * room for three of the largest requests, and no more than 1 GiB.
 */
#define AZ_BLOB_MIN_PINNED	(3UL * AZ_BLOB_MAX_CPU_PAGES)
#define AZ_BLOB_MAX_PINNED	(SZ_1G >> PAGE_SHIFT)
static_assert(AZ_BLOB_MIN_PINNED <= AZ_BLOB_MAX_PINNED);
/* How long removal and suspend wait for the host to complete what it holds. */
#define AZ_BLOB_DRAIN_TIMEOUT	(10 * HZ)

static_assert(sizeof(struct az_blob_request_sync) == 72);
static_assert(offsetof(struct az_blob_request_sync, guid) == 0);
static_assert(offsetof(struct az_blob_request_sync, timeout) == 16);
static_assert(offsetof(struct az_blob_request_sync, request_len) == 20);
static_assert(offsetof(struct az_blob_request_sync, response_len) == 24);
static_assert(offsetof(struct az_blob_request_sync, data_len) == 28);
static_assert(offsetof(struct az_blob_request_sync, data_valid) == 32);
static_assert(offsetof(struct az_blob_request_sync, reserved) == 36);
static_assert(offsetof(struct az_blob_request_sync, request_buffer) == 40);
static_assert(offsetof(struct az_blob_request_sync, response_buffer) == 48);
static_assert(offsetof(struct az_blob_request_sync, data_buffer) == 56);
static_assert(offsetof(struct az_blob_request_sync, response) == 64);
static_assert(sizeof(struct az_blob_vsp_request) == 56);
static_assert(sizeof(struct az_blob_vsp_completion) == 12);

/*
 * The task state of a wait as @how allows it. A caller waiting here waits
 * for the host, not for this machine: the killable wait does not count in
 * the load average.
 */
static unsigned int az_blob_wait_state(enum az_blob_wait how)
{
	return how == AZ_BLOB_WAIT_INTR ? TASK_INTERRUPTIBLE :
					  TASK_KILLABLE | TASK_NOLOAD;
}

static DEFINE_IDA(az_blob_ida);
static struct dentry *az_blob_debugfs_root;
/* CPU pages left pinned for good (az_blob_fail_pending()), all devices. */
static atomic_t az_blob_pages_kept = ATOMIC_INIT(0);
/* Releases requests whose caller is gone, once the host completes them. */
VISIBLE_IF_KUNIT struct workqueue_struct *az_blob_wq;
EXPORT_SYMBOL_IF_KUNIT(az_blob_wq);

static void az_blob_dev_release(struct kref *kref)
{
	struct az_blob_dev *dev = container_of(kref, struct az_blob_dev, kref);

	kfree(dev);
}

static void az_blob_dev_put(struct az_blob_dev *dev)
{
	kref_put(&dev->kref, az_blob_dev_release);
}

static bool az_blob_pending_empty(struct az_blob_dev *dev)
{
	bool empty;

	spin_lock_bh(&dev->lock);
	empty = list_empty(&dev->pending);
	spin_unlock_bh(&dev->lock);
	return empty;
}

/**
 * az_blob_validate() - check a user request before anything is pinned
 * @r: the request as copied from user space
 *
 * Checks every field that can be checked without touching user memory. The
 * three buffers may overlap each other and share pages; that is allowed.
 *
 * Return: 0, -EINVAL for a bad field, or -E2BIG when the buffers span more
 * than %AZ_BLOB_MAX_PAGES Hyper-V pages, whatever the CPU's page size.
 */
VISIBLE_IF_KUNIT int az_blob_validate(const struct az_blob_request_sync *r)
{
	u64 end, pages;

	if (r->reserved)
		return -EINVAL;
	if (!r->request_len || !r->response_len)
		return -EINVAL;
	if (r->data_valid > r->data_len)
		return -EINVAL;
	if (check_add_overflow(r->request_buffer, (u64)r->request_len, &end) ||
	    check_add_overflow(r->response_buffer, (u64)r->response_len, &end))
		return -EINVAL;
	if (r->data_len &&
	    check_add_overflow(r->data_buffer, (u64)r->data_len, &end))
		return -EINVAL;

	pages = az_blob_hvpages(r->request_buffer, r->request_len) +
		az_blob_hvpages(r->response_buffer, r->response_len) +
		az_blob_hvpages(r->data_buffer, r->data_len);
	if (pages > AZ_BLOB_MAX_PAGES)
		return -E2BIG;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_validate);

/**
 * az_blob_req_init() - lay out a request's buffers and its message
 * @req: the request, zeroed except for @req->dev
 * @r: the validated user request
 *
 * Fills in where each buffer starts and how many pages it spans, CPU pages
 * (for pinning, and the budget) and Hyper-V pages (the PFNs), in the order
 * the host expects them in the PFN list (data, request, response), and the
 * in-band message with every offset into the one GPA range, which counts
 * Hyper-V pages. Touches no user memory.
 */
VISIBLE_IF_KUNIT void az_blob_req_init(struct az_blob_req *req,
				       const struct az_blob_request_sync *r)
{
	struct az_blob_vsp_request *msg = &req->msg;
	u32 hv_first = 0, first = 0;
	int i;

	req->bufs[AZ_BLOB_BUF_DATA] = (struct az_blob_buf) {
		.uaddr = r->data_len ? r->data_buffer : 0,
		.len = r->data_len,
		.gup_flags = FOLL_WRITE,
	};
	req->bufs[AZ_BLOB_BUF_REQUEST] = (struct az_blob_buf) {
		.uaddr = r->request_buffer,
		.len = r->request_len,
		.gup_flags = 0,
	};
	req->bufs[AZ_BLOB_BUF_RESPONSE] = (struct az_blob_buf) {
		.uaddr = r->response_buffer,
		.len = r->response_len,
		.gup_flags = FOLL_WRITE,
	};

	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		struct az_blob_buf *b = &req->bufs[i];

		b->nr_pages = az_blob_cpu_pages(b->uaddr, b->len);
		b->nr_hvpages = az_blob_hvpages(b->uaddr, b->len);
		b->first_page = first;
		b->first_hvpage = hv_first;
		/* Offset of the buffer's first byte inside the GPA range. */
		b->range_offset = hv_first * HV_HYP_PAGE_SIZE +
				  (b->len ? offset_in_hvpage(b->uaddr) : 0);
		first += b->nr_pages;
		hv_first += b->nr_hvpages;
	}
	req->nr_pages = first;
	req->nr_hvpages = hv_first;

	msg->version = cpu_to_le32(AZ_BLOB_VSP_VERSION);
	msg->timeout_ms = cpu_to_le32(r->timeout);
	msg->data_buffer_offset =
		cpu_to_le32(req->bufs[AZ_BLOB_BUF_DATA].range_offset);
	msg->data_buffer_length = cpu_to_le32(r->data_len);
	msg->data_buffer_valid = cpu_to_le32(r->data_valid);
	msg->operation_type = cpu_to_le32(AZ_BLOB_VSP_OP_USER_REQUEST);
	msg->request_buffer_offset =
		cpu_to_le32(req->bufs[AZ_BLOB_BUF_REQUEST].range_offset);
	msg->request_buffer_length = cpu_to_le32(r->request_len);
	msg->response_buffer_offset =
		cpu_to_le32(req->bufs[AZ_BLOB_BUF_RESPONSE].range_offset);
	msg->response_buffer_length = cpu_to_le32(r->response_len);
	import_guid(&msg->transaction_id, r->guid);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_req_init);

/**
 * az_blob_fill_desc() - build the GPA-direct descriptor from pinned pages
 * @req: a request whose pages are all pinned
 *
 * Writes one range covering all Hyper-V pages of the three buffers, data
 * first, then request, then response. A CPU page of PAGE_SIZE holds
 * %AZ_BLOB_HVPAGES_PER_PAGE Hyper-V pages: the PFN of each is the CPU page's
 * first Hyper-V PFN (page_to_hvpfn()) plus its index inside the CPU page.
 * A page shared by two buffers appears once for each of them.
 */
VISIBLE_IF_KUNIT void az_blob_fill_desc(struct az_blob_req *req)
{
	struct vmbus_packet_mpb_array *desc = req->desc;
	u64 *pfn = desc->range.pfn_array;
	int i;

	desc->rangecount = 1;
	desc->range.offset = 0;
	desc->range.len = req->nr_hvpages * HV_HYP_PAGE_SIZE;

	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		const struct az_blob_buf *b = &req->bufs[i];
		u64 hvaddr = b->uaddr & HV_HYP_PAGE_MASK;
		u64 base = b->uaddr & PAGE_MASK;
		u32 n;

		for (n = 0; n < b->nr_hvpages; n++, hvaddr += HV_HYP_PAGE_SIZE) {
			u64 idx = (hvaddr - base) >> PAGE_SHIFT;
			struct page *page = req->pages[b->first_page + idx];

			*pfn++ = page_to_hvpfn(page) +
				 (offset_in_page(hvaddr) >> HV_HYP_PAGE_SHIFT);
		}
	}
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_fill_desc);

static void az_blob_req_free_arrays(struct az_blob_req *req)
{
	if (req->pages != req->inline_pages)
		kvfree(req->pages);
	if ((void *)req->desc != req->inline_desc)
		kvfree(req->desc);
}

/**
 * az_blob_req_alloc() - allocate a request for a validated user request
 * @dev: the device
 * @r: the validated user request
 *
 * Return: the request, holding a reference on @dev, or NULL.
 */
VISIBLE_IF_KUNIT struct az_blob_req *
az_blob_req_alloc(struct az_blob_dev *dev, const struct az_blob_request_sync *r)
{
	struct az_blob_req *req;

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		return NULL;
	req->dev = dev;
	az_blob_req_init(req, r);

	/*
	 * Small requests, the common case, need no further allocation: the
	 * pages array counts CPU pages, the descriptor Hyper-V pages.
	 */
	if (req->nr_pages <= ARRAY_SIZE(req->inline_pages))
		req->pages = req->inline_pages;
	else
		req->pages = kvcalloc(req->nr_pages, sizeof(*req->pages),
				      GFP_KERNEL);
	req->desc_size = struct_size(req->desc, range.pfn_array,
				     req->nr_hvpages);
	if (req->desc_size <= sizeof(req->inline_desc))
		req->desc = (struct vmbus_packet_mpb_array *)req->inline_desc;
	else
		req->desc = kvzalloc(req->desc_size, GFP_KERNEL);
	if (!req->pages || !req->desc) {
		az_blob_req_free_arrays(req);
		kfree(req);
		return NULL;
	}
	INIT_LIST_HEAD(&req->node);
	INIT_LIST_HEAD(&req->ring_node);
	init_completion(&req->done);
	req->state = AZ_BLOB_REQ_NEW;
	req->pid = task_tgid_nr(current);
	req->start = ktime_get();
	kref_get(&dev->kref);
	return req;
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_req_alloc);

static bool az_blob_try_reserve(struct az_blob_dev *dev, struct az_blob_req *req,
				int *err)
{
	bool done = true;

	spin_lock_bh(&dev->lock);
	if (dev->state == AZ_BLOB_DEV_REMOVED) {
		*err = -ENODEV;
	} else if (dev->nr_in_flight < dev->max_in_flight &&
		   dev->nr_pinned + req->nr_pages <= dev->max_pinned) {
		dev->nr_in_flight++;
		dev->nr_pinned += req->nr_pages;
		req->reserved = true;
		*err = 0;
	} else {
		done = false;
	}
	spin_unlock_bh(&dev->lock);
	return done;
}

/*
 * Take the request's share of the device's in-flight and pinned-page
 * budget, waiting as @how allows while the device is over either bound.
 * Nothing is pinned before this succeeds.
 */
static int az_blob_reserve(struct az_blob_dev *dev, struct az_blob_req *req,
			   enum az_blob_wait how)
{
	int err = 0;

	if (how == AZ_BLOB_WAIT_NEVER)
		return az_blob_try_reserve(dev, req, &err) ? err : -EAGAIN;
	if (wait_event_state(dev->budget_wq,
			     az_blob_try_reserve(dev, req, &err),
			     az_blob_wait_state(how)))
		return -EINTR;
	return err;
}

static void az_blob_unreserve(struct az_blob_dev *dev, struct az_blob_req *req)
{
	if (!req->reserved)
		return;
	spin_lock_bh(&dev->lock);
	dev->nr_in_flight--;
	dev->nr_pinned -= req->nr_pages;
	spin_unlock_bh(&dev->lock);
	req->reserved = false;
	wake_up_all(&dev->budget_wq);
}

static void az_blob_unpin(struct az_blob_req *req)
{
	int i;

	if (req->keep_pages)
		return;
	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		struct az_blob_buf *b = &req->bufs[i];
		struct page **pages = req->pages + b->first_page;

		if (!b->nr_pinned)
			continue;
		if (b->gup_flags & FOLL_WRITE)
			unpin_user_pages_dirty_lock(pages, b->nr_pinned, true);
		else
			unpin_user_pages(pages, b->nr_pinned);
		b->nr_pinned = 0;
	}
}

/*
 * Unpin a request's pages and return its budget. Process context only:
 * unpinning dirty pages may sleep. Only once the host no longer owns them.
 */
static void az_blob_req_release_pages(struct az_blob_req *req)
{
	az_blob_unpin(req);
	az_blob_unreserve(req->dev, req);
}

static void az_blob_req_destroy(struct az_blob_req *req)
{
	struct az_blob_dev *dev = req->dev;

	az_blob_req_free_arrays(req);
	kfree(req);
	az_blob_dev_put(dev);
}

static void az_blob_req_free(struct az_blob_req *req)
{
	az_blob_req_release_pages(req);
	az_blob_req_destroy(req);
}

static void az_blob_req_free_work(struct work_struct *work)
{
	az_blob_req_free(container_of(work, struct az_blob_req, free_work));
}

/*
 * Pin the request's pages. With @nowait nothing is faulted in: a page that
 * is not there (or not writable yet) fails the pin with -EAGAIN, and the
 * caller tries again where it may sleep.
 *
 * The pins last for one request, until the host completes it or the
 * channel closes: I/O pins, as direct I/O takes on its buffers, however
 * long the host holds the request (as a storage host may hold a command).
 * Not FOLL_LONGTERM, which is for memory registered with a device for as
 * long as the registration lasts: it would refuse writable file-backed
 * mappings that need dirty tracking and migrate pages on every request.
 * Not charged to RLIMIT_MEMLOCK (pinned_vm), as block I/O is not: the
 * pins are bounded by AZ_BLOB_MAX_PAGES Hyper-V pages (at most
 * AZ_BLOB_MAX_CPU_PAGES CPU pages) per request and by dev->max_pinned CPU
 * pages per device, and the device node is root's.
 */
static int az_blob_pin(struct az_blob_req *req, bool nowait)
{
	unsigned int nofault = nowait ? FOLL_NOFAULT : 0;
	int i;

	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		struct az_blob_buf *b = &req->bufs[i];
		struct page **pages = req->pages + b->first_page;
		unsigned long start = b->uaddr & PAGE_MASK;
		int ret;

		if (!b->nr_pages)
			continue;
		ret = pin_user_pages_fast(start, b->nr_pages,
					  b->gup_flags | nofault, pages);
		if (ret > 0)
			b->nr_pinned = ret;
		if (ret != b->nr_pages) {
			az_blob_unpin(req);
			if (nowait)
				return -EAGAIN;
			return ret < 0 ? ret : -EFAULT;
		}
	}
	return 0;
}

/* The one place a request reaches the host; KUnit plays the host here. */
VISIBLE_IF_KUNIT int az_blob_send(struct az_blob_dev *dev,
				  struct az_blob_req *req)
{
	KUNIT_STATIC_STUB_REDIRECT(az_blob_send, dev, req);

	return vmbus_sendpacket_mpb_desc(dev->hdev->channel, req->desc,
					 req->desc_size, &req->msg,
					 sizeof(req->msg), (uintptr_t)req);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_send);

/*
 * Bytes free in the ring to the host. Only while the channel is open: with
 * &az_blob_dev.chan_rwsem held, or &az_blob_dev.lock and the state OPEN.
 */
VISIBLE_IF_KUNIT u32 az_blob_ring_space(struct az_blob_dev *dev)
{
	KUNIT_STATIC_STUB_REDIRECT(az_blob_ring_space, dev);

	return hv_get_bytes_to_write(&dev->hdev->channel->outbound);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_ring_space);

/*
 * Ask the host to interrupt once more than @bytes of the ring to the host
 * are free (0: no longer). The host interrupts when the free space crosses
 * that size, so whoever sets it looks at the free space again afterwards.
 * With &az_blob_dev.chan_rwsem held.
 */
VISIBLE_IF_KUNIT void az_blob_ring_notify(struct az_blob_dev *dev, u32 bytes)
{
	KUNIT_STATIC_STUB_REDIRECT(az_blob_ring_notify, dev, bytes);

	set_channel_pending_send_size(dev->hdev->channel, bytes);
	/* Publish the size before the free space is looked at again. */
	virt_mb();
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_ring_notify);

/* Ring bytes a request's packet takes: the core appends a u64 to it. */
static u32 az_blob_ring_need(const struct az_blob_req *req)
{
	return ALIGN(req->desc_size + sizeof(req->msg), sizeof(u64)) +
	       sizeof(u64);
}

static struct az_blob_req *az_blob_first_ring_waiter(struct az_blob_dev *dev)
{
	return list_first_entry_or_null(&dev->ring_waiters, struct az_blob_req,
					ring_node);
}

/*
 * Whether a request waiting in az_blob_submit() should look again: it was
 * cancelled, the device went away, or it is first in line and its packet
 * fits in the ring now.
 */
static bool az_blob_may_retry(struct az_blob_dev *dev, struct az_blob_req *req)
{
	bool retry;

	spin_lock_bh(&dev->lock);
	retry = req->cancelled || dev->state == AZ_BLOB_DEV_REMOVED ||
		(dev->state == AZ_BLOB_DEV_OPEN &&
		 az_blob_first_ring_waiter(dev) == req &&
		 az_blob_ring_space(dev) > az_blob_ring_need(req));
	spin_unlock_bh(&dev->lock);
	return retry;
}

/*
 * Take @req out of the line for ring space; the next in line may try.
 * Returns the room the new first needs (0: the line is empty) to pass to
 * az_blob_ring_notify(). With &az_blob_dev.lock held.
 */
static u32 az_blob_ring_leave(struct az_blob_dev *dev, struct az_blob_req *req)
{
	struct az_blob_req *first;

	if (list_empty(&req->ring_node))
		return dev->ring_wait_need;
	list_del_init(&req->ring_node);
	first = az_blob_first_ring_waiter(dev);
	dev->ring_wait_need = first ? az_blob_ring_need(first) : 0;
	return dev->ring_wait_need;
}

/* Put @req in line for ring space. With &az_blob_dev.lock held. */
static void az_blob_ring_join(struct az_blob_dev *dev, struct az_blob_req *req)
{
	if (!list_empty(&req->ring_node))
		return;
	list_add_tail(&req->ring_node, &dev->ring_waiters);
	if (az_blob_first_ring_waiter(dev) == req)
		dev->ring_wait_need = az_blob_ring_need(req);
	atomic64_inc(&dev->stats.ring_full_waits);
}

/* The host is done with a request: give it back to whoever owns it. */
static void az_blob_req_hand_back(struct az_blob_req *req, bool abandoned);

/*
 * One attempt at handing @req to the host, with &az_blob_dev.chan_rwsem
 * held for reading. Returns 0 once the host has it, -EAGAIN when it has to
 * wait (for the device to resume, for its turn or for room in the ring; it
 * is then in line for room unless @how is %AZ_BLOB_WAIT_NEVER), or the
 * error that ends it. On 0, *@abandoned says that io_uring cancelled the
 * command during the send: the host owns the request, which is now
 * abandoned, and the caller completes the command with -ECANCELED.
 */
static int az_blob_try_send(struct az_blob_dev *dev, struct az_blob_req *req,
			    enum az_blob_wait how, bool *abandoned)
{
	u64 bytes = (u64)req->bufs[AZ_BLOB_BUF_DATA].len +
		    req->bufs[AZ_BLOB_BUF_REQUEST].len +
		    req->bufs[AZ_BLOB_BUF_RESPONSE].len;
	bool hand_back = false, leave_line = false;
	struct az_blob_req *first;
	u32 notify = 0;
	int ret = 0;

	spin_lock_bh(&dev->lock);
	first = az_blob_first_ring_waiter(dev);
	if (dev->state == AZ_BLOB_DEV_REMOVED)
		ret = -ENODEV;
	else if (req->cancelled)
		ret = -ECANCELED;
	else if (dev->state != AZ_BLOB_DEV_OPEN || (first && first != req))
		ret = -EAGAIN;
	if (ret == -EAGAIN && how != AZ_BLOB_WAIT_NEVER)
		az_blob_ring_join(dev, req);
	if (ret) {
		spin_unlock_bh(&dev->lock);
		return ret;
	}
	req->seq = ++dev->seq;
	req->state = AZ_BLOB_REQ_SENDING;
	list_add_tail(&req->node, &dev->pending);
	spin_unlock_bh(&dev->lock);

	ret = az_blob_send(dev, req);

	/*
	 * While SENDING, neither the completion nor a cancellation gives the
	 * request away: the request and the device are still ours here.
	 */
	spin_lock_bh(&dev->lock);
	if (ret) {
		list_del_init(&req->node);
		req->state = AZ_BLOB_REQ_NEW;
		if (ret == -EAGAIN && req->cancelled) {
			ret = -ECANCELED;
		} else if (ret == -EAGAIN && how != AZ_BLOB_WAIT_NEVER) {
			/* The ring is full: wait for room, in line. */
			az_blob_ring_join(dev, req);
			if (az_blob_first_ring_waiter(dev) == req)
				notify = dev->ring_wait_need;
		}
	} else {
		atomic64_inc(&dev->stats.submitted);
		atomic64_add(bytes, &dev->stats.bytes);
		leave_line = !list_empty(&req->ring_node);
		if (leave_line)
			notify = az_blob_ring_leave(dev, req);
		if (req->host_done) {
			req->state = AZ_BLOB_REQ_DONE;
			hand_back = true;
		} else if (req->cancelled) {
			req->state = AZ_BLOB_REQ_ABANDONED;
			req->cmd = NULL;
			*abandoned = true;
		} else {
			req->state = AZ_BLOB_REQ_HOST;
		}
	}
	spin_unlock_bh(&dev->lock);

	if (notify || leave_line)
		az_blob_ring_notify(dev, notify);
	if (leave_line)
		wake_up_all(&dev->ring_wq);
	if (hand_back)
		az_blob_req_hand_back(req, false);
	return ret;
}

/*
 * Hand a pinned request to the host, waiting as @how allows while the
 * device is suspended or the ring to the host is full. Requests waiting
 * for room are sent in the order they came, so a large request is not
 * overtaken for ever by small ones; the host interrupts when room is made
 * (pending send size), and the channel callback wakes the line.
 *
 * From the moment the packet is in the ring the host owns the request: the
 * completion may run before the send returns, so the request is on the
 * pending list (state SENDING) before it is sent.
 *
 * Return: 0 when the host owns the request (see az_blob_try_send() for
 * *@abandoned), else an error and the request is still the caller's.
 */
static int az_blob_submit(struct az_blob_dev *dev, struct az_blob_req *req,
			  enum az_blob_wait how, bool *abandoned)
{
	bool open;
	u32 notify;
	int ret;

	*abandoned = false;
	for (;;) {
		down_read(&dev->chan_rwsem);
		ret = az_blob_try_send(dev, req, how, abandoned);
		up_read(&dev->chan_rwsem);
		if (ret != -EAGAIN || how == AZ_BLOB_WAIT_NEVER)
			break;
		if (wait_event_state(dev->ring_wq,
				     az_blob_may_retry(dev, req),
				     az_blob_wait_state(how))) {
			ret = -EINTR;
			break;
		}
	}
	if (!ret || list_empty(&req->ring_node))
		return ret;

	/* Out of the line, and let the next one try. */
	down_read(&dev->chan_rwsem);
	spin_lock_bh(&dev->lock);
	notify = az_blob_ring_leave(dev, req);
	open = dev->state == AZ_BLOB_DEV_OPEN;
	spin_unlock_bh(&dev->lock);
	if (open)
		az_blob_ring_notify(dev, notify);
	up_read(&dev->chan_rwsem);
	wake_up_all(&dev->ring_wq);
	return ret;
}

static void az_blob_uring_done(struct io_uring_cmd *cmd,
			       unsigned int issue_flags);

/* io_uring's command API; KUnit plays io_uring here. */
VISIBLE_IF_KUNIT void az_blob_cmd_done(struct io_uring_cmd *cmd, ssize_t ret,
				       u64 res2, unsigned int issue_flags)
{
	KUNIT_STATIC_STUB_REDIRECT(az_blob_cmd_done, cmd, ret, res2,
				   issue_flags);

	io_uring_cmd_done(cmd, ret, res2, issue_flags);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_cmd_done);

VISIBLE_IF_KUNIT void az_blob_cmd_mark_cancelable(struct io_uring_cmd *cmd,
						  unsigned int issue_flags)
{
	KUNIT_STATIC_STUB_REDIRECT(az_blob_cmd_mark_cancelable, cmd,
				   issue_flags);

	io_uring_cmd_mark_cancelable(cmd, issue_flags);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_cmd_mark_cancelable);

VISIBLE_IF_KUNIT void
az_blob_cmd_complete_in_task(struct io_uring_cmd *cmd,
			     void (*fn)(struct io_uring_cmd *, unsigned int))
{
	KUNIT_STATIC_STUB_REDIRECT(az_blob_cmd_complete_in_task, cmd, fn);

	io_uring_cmd_do_in_task_lazy(cmd, fn);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_cmd_complete_in_task);

static void az_blob_req_hand_back(struct az_blob_req *req, bool abandoned)
{
	if (abandoned)
		queue_work(az_blob_wq, &req->free_work);
	else if (req->cmd)
		az_blob_cmd_complete_in_task(req->cmd, az_blob_uring_done);
	else
		complete(&req->done);
}

/*
 * The host is done with @req (it completed it, or the channel is closed):
 * record the result and give the request back to whoever owns it now, or,
 * while it is being sent, leave that to its submitter. Any context; the
 * caller has already taken @req off the pending list.
 */
static void az_blob_req_finish(struct az_blob_req *req, int result,
			       u32 status, u32 response_len)
{
	struct az_blob_dev *dev = req->dev;
	enum az_blob_req_state prev;

	req->result = result;
	req->status = status;
	req->response_len = response_len;
	if (result || status)
		atomic64_inc(&dev->stats.failed);
	else
		atomic64_inc(&dev->stats.completed);

	spin_lock_bh(&dev->lock);
	prev = req->state;
	if (prev == AZ_BLOB_REQ_SENDING)
		req->host_done = true;
	else
		req->state = AZ_BLOB_REQ_DONE;
	if (list_empty(&dev->pending))
		wake_up_all(&dev->drain_wq);
	spin_unlock_bh(&dev->lock);

	if (prev != AZ_BLOB_REQ_SENDING)
		az_blob_req_hand_back(req, prev == AZ_BLOB_REQ_ABANDONED);
}

/**
 * az_blob_handle_packet() - handle one packet from the host
 * @dev: the device
 * @desc: the packet, already copied out of the ring by the VMBus core
 *
 * The host is not trusted: the packet type, its length, the transaction id
 * and the lengths in the payload are all checked. A bad packet is logged
 * (ratelimited) and dropped; it never completes a request it does not name.
 *
 * Context: the channel callback (softirq).
 */
VISIBLE_IF_KUNIT void az_blob_handle_packet(struct az_blob_dev *dev,
					    const struct vmpacket_descriptor *desc)
{
	struct vmbus_channel *chan = dev->hdev->channel;
	const struct az_blob_vsp_completion *comp;
	struct az_blob_req *req;
	u32 status, response_len;
	u64 addr;

	if (desc->type != VM_PKT_COMP) {
		dev_err_ratelimited(&dev->hdev->device,
				    "unexpected packet type %u from host\n",
				    desc->type);
		return;
	}
	if (hv_pkt_datalen(desc) < sizeof(*comp)) {
		dev_err_ratelimited(&dev->hdev->device,
				    "short completion from host (%u bytes)\n",
				    hv_pkt_datalen(desc));
		return;
	}

	addr = chan->request_addr_callback(chan, desc->trans_id);
	if (addr == VMBUS_RQST_ERROR || addr == VMBUS_NO_RQSTOR || !addr) {
		dev_err_ratelimited(&dev->hdev->device,
				    "completion with invalid id %llu from host\n",
				    desc->trans_id);
		return;
	}
	req = (struct az_blob_req *)(uintptr_t)addr;

	comp = hv_pkt_data(desc);
	status = le32_to_cpu(comp->error);
	response_len = le32_to_cpu(comp->response_len);

	spin_lock(&dev->lock);
	list_del_init(&req->node);
	spin_unlock(&dev->lock);

	if (response_len > req->bufs[AZ_BLOB_BUF_RESPONSE].len) {
		dev_err_ratelimited(&dev->hdev->device,
				    "host wrote %u bytes into a %u byte response buffer\n",
				    response_len,
				    req->bufs[AZ_BLOB_BUF_RESPONSE].len);
		az_blob_req_finish(req, -EPROTO, status, 0);
		return;
	}
	az_blob_req_finish(req, 0, status, response_len);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_handle_packet);

VISIBLE_IF_KUNIT void az_blob_on_channel_callback(void *context)
{
	unsigned long time_limit = jiffies +
		msecs_to_jiffies(AZ_BLOB_CALLBACK_BUDGET_MS);
	struct az_blob_dev *dev = context;
	struct vmbus_channel *chan = dev->hdev->channel;
	const struct vmpacket_descriptor *desc;
	u32 need;

	/*
	 * The host interrupts when it made room in the ring to it for the
	 * first request waiting (az_blob_ring_notify()): let that one try.
	 */
	need = READ_ONCE(dev->ring_wait_need);
	if (need && az_blob_ring_space(dev) > need)
		wake_up_all(&dev->ring_wq);

	/*
	 * The VMBus core reads nothing while the host's write index is past
	 * the end of the ring: a stale completion left in the ring, which
	 * could name an id reused since, is never taken for a new one.
	 */
	foreach_vmbus_pkt(desc, chan) {
		/*
		 * A host flooding the ring must not keep this softirq busy:
		 * stop, and let the VMBus core call back for the rest.
		 */
		if (time_after(jiffies, time_limit)) {
			hv_pkt_iter_close(chan);
			return;
		}
		az_blob_handle_packet(dev, desc);
	}
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_on_channel_callback);

/*
 * Fail every request the host still holds, once the channel is closed and
 * no completion can come. Closing the channel ends the host's part in it,
 * but nothing in the protocol says that the host has stopped writing the
 * pages of requests it did not complete. After a rescind the host has
 * torn the channel down itself (and the VMBus core frees the ring memory
 * on the same understanding): their pages are unpinned. Otherwise, with
 * @keep_pages, they stay pinned for good: counted (in CPU pages) in the
 * debugfs file pages_kept, and said once in the log.
 */
static void az_blob_fail_pending(struct az_blob_dev *dev, int err,
				 bool keep_pages)
{
	unsigned long kept = 0, nr = 0;
	struct az_blob_req *req;

	spin_lock_bh(&dev->lock);
	while ((req = list_first_entry_or_null(&dev->pending,
					       struct az_blob_req, node))) {
		list_del_init(&req->node);
		if (keep_pages) {
			req->keep_pages = true;
			kept += req->nr_pages;
			nr++;
		}
		spin_unlock_bh(&dev->lock);
		az_blob_req_finish(req, err, 0, 0);
		spin_lock_bh(&dev->lock);
	}
	spin_unlock_bh(&dev->lock);

	if (kept) {
		atomic_add(kept, &az_blob_pages_kept);
		dev_warn(&dev->hdev->device,
			 "host did not complete %lu requests before the channel closed: keeping their %lu pages of %lu KiB pinned\n",
			 nr, kept, PAGE_SIZE / SZ_1K);
	}
}

/*
 * Wait for the caller's request. Only a fatal signal ends the wait early;
 * the request is then abandoned to the completion path, which frees it once
 * the host is done with it.
 */
static int az_blob_wait(struct az_blob_dev *dev, struct az_blob_req *req)
{
	if (!wait_for_completion_state(&req->done,
				       az_blob_wait_state(AZ_BLOB_WAIT_KILLABLE)))
		return 0;

	spin_lock_bh(&dev->lock);
	if (req->state == AZ_BLOB_REQ_HOST) {
		req->state = AZ_BLOB_REQ_ABANDONED;
		spin_unlock_bh(&dev->lock);
		return -EINTR;
	}
	spin_unlock_bh(&dev->lock);
	/* Completed while we were being killed: finish normally. */
	wait_for_completion_state(&req->done, TASK_IDLE);
	return 0;
}

/*
 * Everything before a request reaches the host: validate, allocate, take
 * budget, pin, build the packet, waiting as @how allows.
 */
static struct az_blob_req *az_blob_prepare(struct az_blob_dev *dev,
					   const struct az_blob_request_sync *r,
					   enum az_blob_wait how)
{
	struct az_blob_req *req;
	int ret;

	ret = az_blob_validate(r);
	if (ret)
		return ERR_PTR(ret);
	if (!access_ok(u64_to_user_ptr(r->request_buffer), r->request_len) ||
	    !access_ok(u64_to_user_ptr(r->response_buffer), r->response_len) ||
	    (r->data_len &&
	     !access_ok(u64_to_user_ptr(r->data_buffer), r->data_len)))
		return ERR_PTR(-EFAULT);

	req = az_blob_req_alloc(dev, r);
	if (!req)
		return ERR_PTR(-ENOMEM);
	INIT_WORK(&req->free_work, az_blob_req_free_work);

	ret = az_blob_reserve(dev, req, how);
	if (!ret)
		ret = az_blob_pin(req, how == AZ_BLOB_WAIT_NEVER);
	if (ret) {
		az_blob_req_free(req);
		return ERR_PTR(ret);
	}
	az_blob_fill_desc(req);
	return req;
}

VISIBLE_IF_KUNIT long
az_blob_ioctl_request(struct az_blob_dev *dev,
		      struct az_blob_request_sync __user *uarg)
{
	struct az_blob_request_sync r;
	struct az_blob_req *req;
	bool abandoned;
	long ret;

	if (copy_from_user(&r, uarg, sizeof(r)))
		return -EFAULT;
	req = az_blob_prepare(dev, &r, AZ_BLOB_WAIT_KILLABLE);
	if (IS_ERR(req))
		return PTR_ERR(req);

	ret = az_blob_submit(dev, req, AZ_BLOB_WAIT_KILLABLE, &abandoned);
	if (ret)
		goto free_req;

	ret = az_blob_wait(dev, req);
	if (ret)
		return ret;	/* the request now belongs to the host */

	ret = req->result;
	if (!ret) {
		struct az_blob_request_sync_response out = {
			.status = req->status,
			.response_len = req->response_len,
		};

		if (copy_to_user(&uarg->response, &out, sizeof(out)))
			ret = -EFAULT;
	}
free_req:
	az_blob_req_free(req);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_ioctl_request);

static long az_blob_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct az_blob_dev *dev = file->private_data;

	switch (cmd) {
	case IOCTL_AZ_BLOB_DRIVER_USER_REQUEST:
		return az_blob_ioctl_request(dev, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

/* What a command keeps in its io_uring pdu. */
struct az_blob_uring_pdu {
	struct az_blob_req *req;
};

static struct az_blob_req *az_blob_uring_req(struct io_uring_cmd *cmd)
{
	return io_uring_cmd_to_pdu(cmd, struct az_blob_uring_pdu)->req;
}

/* Task work: the host is done with the command's request. */
static void az_blob_uring_done(struct io_uring_cmd *cmd,
			       unsigned int issue_flags)
{
	struct az_blob_req *req = az_blob_uring_req(cmd);
	int ret = req->result;
	u64 res2 = 0;

	if (!ret)
		res2 = req->status | (u64)req->response_len << 32;
	az_blob_req_release_pages(req);
	az_blob_cmd_done(cmd, ret, res2, issue_flags);
	az_blob_req_destroy(req);
}

/*
 * The ring or its task is going away, and io_uring cancels the command (it
 * calls again until the command is completed). A command the host holds
 * is completed now with -ECANCELED and its request abandoned to the
 * completion path, which frees it once the host is done. A command the
 * host already completed is left to its pending task work. A command not
 * yet with the host is still being issued from an io-wq worker (waiting
 * for ring space, or inside the send): it is marked cancelled and its
 * issuer completes it. Each command completes exactly once.
 */
static int az_blob_uring_cancel(struct az_blob_dev *dev,
				struct io_uring_cmd *cmd,
				unsigned int issue_flags)
{
	struct az_blob_req *req = az_blob_uring_req(cmd);
	bool cancel = false;

	spin_lock_bh(&dev->lock);
	switch (req->state) {
	case AZ_BLOB_REQ_HOST:
		req->state = AZ_BLOB_REQ_ABANDONED;
		req->cmd = NULL;
		cancel = true;
		break;
	case AZ_BLOB_REQ_NEW:
	case AZ_BLOB_REQ_SENDING:
		req->cancelled = true;
		break;
	default:
		break;
	}
	spin_unlock_bh(&dev->lock);

	if (cancel)
		az_blob_cmd_done(cmd, -ECANCELED, 0, issue_flags);
	else
		wake_up_all(&dev->ring_wq);
	return 0;
}

static void az_blob_uring_read_sqe(struct az_blob_request_sync *r,
				   const struct az_blob_request_sync *s)
{
	memcpy(r->guid, s->guid, sizeof(r->guid));
	r->timeout = READ_ONCE(s->timeout);
	r->request_len = READ_ONCE(s->request_len);
	r->response_len = READ_ONCE(s->response_len);
	r->data_len = READ_ONCE(s->data_len);
	r->data_valid = READ_ONCE(s->data_valid);
	r->reserved = READ_ONCE(s->reserved);
	r->request_buffer = READ_ONCE(s->request_buffer);
	r->response_buffer = READ_ONCE(s->response_buffer);
	r->data_buffer = READ_ONCE(s->data_buffer);
}

static int az_blob_uring_request(struct az_blob_dev *dev,
				 struct io_uring_cmd *cmd,
				 unsigned int issue_flags)
{
	const struct az_blob_request_sync *s = io_uring_sqe_cmd(cmd->sqe);
	struct az_blob_request_sync r = { };
	enum az_blob_wait how;
	struct az_blob_req *req;
	bool abandoned;
	int ret;

	/* The command area of a 128-byte SQE: the request and 8 spare bytes. */
	BUILD_BUG_ON(sizeof(*s) + sizeof(u64) !=
		     2 * sizeof(struct io_uring_sqe) -
		     offsetof(struct io_uring_sqe, cmd));
	if (!(issue_flags & IO_URING_F_SQE128) ||
	    !(issue_flags & IO_URING_F_CQE32))
		return -EINVAL;
	az_blob_uring_read_sqe(&r, s);
	/* The 8 bytes after the request in the 80-byte command area. */
	if (READ_ONCE(*(const u64 *)(s + 1)))
		return -EINVAL;

	/*
	 * Issued inline (with the ring's lock held), the command must not
	 * sleep: what would wait returns -EAGAIN, and io_uring issues the
	 * command again from an io-wq worker, where it may.
	 */
	if ((issue_flags & IO_URING_F_NONBLOCK) ||
	    !(issue_flags & IO_URING_F_UNLOCKED))
		how = AZ_BLOB_WAIT_NEVER;
	else
		how = AZ_BLOB_WAIT_INTR;

	req = az_blob_prepare(dev, &r, how);
	if (IS_ERR(req))
		return PTR_ERR(req);
	req->cmd = cmd;
	io_uring_cmd_to_pdu(cmd, struct az_blob_uring_pdu)->req = req;

	/*
	 * The command must be cancelable before the host can complete it,
	 * and must not be once it is handed back to io_uring by a return. An
	 * io-wq worker issues the command without the ring's lock, beside the
	 * task that runs the completion's task work and beside io_uring's
	 * cancellation: it marks the command first, then waits and sends, and
	 * completes it with az_blob_cmd_done() whatever happens. Issued
	 * inline, the ring's lock keeps both away until this returns: the
	 * command is marked once the host has it.
	 */
	if (how == AZ_BLOB_WAIT_INTR)
		az_blob_cmd_mark_cancelable(cmd, issue_flags);
	ret = az_blob_submit(dev, req, how, &abandoned);
	if (ret && how == AZ_BLOB_WAIT_NEVER) {
		az_blob_req_free(req);
		return ret;
	}
	if (ret) {
		az_blob_req_release_pages(req);
		az_blob_cmd_done(cmd, ret, 0, issue_flags);
		az_blob_req_destroy(req);
	} else if (abandoned) {
		/* Cancelled while it was sent: the host owns the request. */
		az_blob_cmd_done(cmd, -ECANCELED, 0, issue_flags);
	} else if (how == AZ_BLOB_WAIT_NEVER) {
		az_blob_cmd_mark_cancelable(cmd, issue_flags);
	}
	return -EIOCBQUEUED;
}

VISIBLE_IF_KUNIT int az_blob_uring_cmd(struct io_uring_cmd *cmd,
				       unsigned int issue_flags)
{
	struct az_blob_dev *dev = cmd->file->private_data;

	if (issue_flags & IO_URING_F_CANCEL)
		return az_blob_uring_cancel(dev, cmd, issue_flags);

	switch (cmd->cmd_op) {
	case AZ_BLOB_URING_CMD_REQUEST:
		return az_blob_uring_request(dev, cmd, issue_flags);
	default:
		return -ENOTTY;
	}
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_uring_cmd);

static int az_blob_fop_open(struct inode *inode, struct file *file)
{
	struct az_blob_dev *dev = container_of(file->private_data,
					       struct az_blob_dev, misc);

	/* misc_open() and misc_deregister() serialise: dev is alive here. */
	kref_get(&dev->kref);
	file->private_data = dev;
	return 0;
}

static int az_blob_fop_release(struct inode *inode, struct file *file)
{
	az_blob_dev_put(file->private_data);
	return 0;
}

static const struct file_operations az_blob_fops = {
	.owner = THIS_MODULE,
	.open = az_blob_fop_open,
	.release = az_blob_fop_release,
	.unlocked_ioctl = az_blob_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.uring_cmd = az_blob_uring_cmd,
	.llseek = noop_llseek,
};

static struct az_blob_dev *az_blob_from_device(struct device *d)
{
	struct miscdevice *misc = dev_get_drvdata(d);

	return container_of(misc, struct az_blob_dev, misc);
}

static ssize_t az_blob_stat_show(char *buf, const atomic64_t *counter)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(counter));
}

static ssize_t submitted_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	return az_blob_stat_show(buf, &az_blob_from_device(d)->stats.submitted);
}
static DEVICE_ATTR_RO(submitted);

static ssize_t completed_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	return az_blob_stat_show(buf, &az_blob_from_device(d)->stats.completed);
}
static DEVICE_ATTR_RO(completed);

static ssize_t failed_show(struct device *d, struct device_attribute *attr,
			   char *buf)
{
	return az_blob_stat_show(buf, &az_blob_from_device(d)->stats.failed);
}
static DEVICE_ATTR_RO(failed);

static ssize_t bytes_show(struct device *d, struct device_attribute *attr,
			  char *buf)
{
	return az_blob_stat_show(buf, &az_blob_from_device(d)->stats.bytes);
}
static DEVICE_ATTR_RO(bytes);

static ssize_t ring_full_waits_show(struct device *d,
				    struct device_attribute *attr, char *buf)
{
	return az_blob_stat_show(buf,
				 &az_blob_from_device(d)->stats.ring_full_waits);
}
static DEVICE_ATTR_RO(ring_full_waits);

static ssize_t in_flight_show(struct device *d, struct device_attribute *attr,
			      char *buf)
{
	struct az_blob_dev *dev = az_blob_from_device(d);

	return sysfs_emit(buf, "%u\n", READ_ONCE(dev->nr_in_flight));
}
static DEVICE_ATTR_RO(in_flight);

static ssize_t pinned_pages_show(struct device *d,
				 struct device_attribute *attr, char *buf)
{
	struct az_blob_dev *dev = az_blob_from_device(d);

	return sysfs_emit(buf, "%lu\n", READ_ONCE(dev->nr_pinned));
}
static DEVICE_ATTR_RO(pinned_pages);

static ssize_t max_in_flight_show(struct device *d,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", az_blob_from_device(d)->max_in_flight);
}
static DEVICE_ATTR_RO(max_in_flight);

static ssize_t max_pinned_pages_show(struct device *d,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", az_blob_from_device(d)->max_pinned);
}
static DEVICE_ATTR_RO(max_pinned_pages);

static struct attribute *az_blob_attrs[] = {
	&dev_attr_submitted.attr,
	&dev_attr_completed.attr,
	&dev_attr_failed.attr,
	&dev_attr_bytes.attr,
	&dev_attr_ring_full_waits.attr,
	&dev_attr_in_flight.attr,
	&dev_attr_pinned_pages.attr,
	&dev_attr_max_in_flight.attr,
	&dev_attr_max_pinned_pages.attr,
	NULL
};
ATTRIBUTE_GROUPS(az_blob);

static const char * const az_blob_req_state_names[] = {
	[AZ_BLOB_REQ_NEW] = "new",
	[AZ_BLOB_REQ_SENDING] = "sending",
	[AZ_BLOB_REQ_HOST] = "host",
	[AZ_BLOB_REQ_ABANDONED] = "abandoned",
	[AZ_BLOB_REQ_DONE] = "done",
};

static int az_blob_pending_show(struct seq_file *s, void *unused)
{
	struct az_blob_dev *dev = s->private;
	struct az_blob_req *req;
	ktime_t now = ktime_get();

	/* cpu_pages: CPU pages pinned; hv_pages: Hyper-V pages (PFNs) sent. */
	seq_puts(s, "seq pid state age_ms request_len response_len data_len cpu_pages hv_pages\n");
	spin_lock_bh(&dev->lock);
	list_for_each_entry(req, &dev->pending, node)
		seq_printf(s, "%llu %d %s %lld %u %u %u %u %u\n", req->seq,
			   req->pid, az_blob_req_state_names[req->state],
			   ktime_ms_delta(now, req->start),
			   req->bufs[AZ_BLOB_BUF_REQUEST].len,
			   req->bufs[AZ_BLOB_BUF_RESPONSE].len,
			   req->bufs[AZ_BLOB_BUF_DATA].len, req->nr_pages,
			   req->nr_hvpages);
	spin_unlock_bh(&dev->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(az_blob_pending);

/* Open the channel; KUnit replaces this to run without a host. */
VISIBLE_IF_KUNIT int az_blob_open_channel(struct az_blob_dev *dev)
{
	struct vmbus_channel *chan = dev->hdev->channel;

	KUNIT_STATIC_STUB_REDIRECT(az_blob_open_channel, dev);

	chan->max_pkt_size = AZ_BLOB_MAX_PKT_SIZE;
	chan->rqstor_size = AZ_BLOB_RQSTOR_SIZE;
	chan->next_request_id_callback = vmbus_next_request_id;
	chan->request_addr_callback = vmbus_request_addr;

	return vmbus_open(chan, VMBUS_RING_SIZE(AZ_BLOB_RING_SIZE),
			  VMBUS_RING_SIZE(AZ_BLOB_RING_SIZE), NULL, 0,
			  az_blob_on_channel_callback, dev);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_open_channel);

/* Close the channel; KUnit replaces this to run without a host. */
VISIBLE_IF_KUNIT void az_blob_vmbus_close(struct az_blob_dev *dev)
{
	KUNIT_STATIC_STUB_REDIRECT(az_blob_vmbus_close, dev);

	vmbus_close(dev->hdev->channel);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_vmbus_close);

/* Move the device to @state; everyone waiting looks at it again. */
static void az_blob_set_state(struct az_blob_dev *dev,
			      enum az_blob_dev_state state)
{
	down_write(&dev->chan_rwsem);
	spin_lock_bh(&dev->lock);
	dev->state = state;
	spin_unlock_bh(&dev->lock);
	up_write(&dev->chan_rwsem);
	wake_up_all(&dev->budget_wq);
	wake_up_all(&dev->ring_wq);
}

/*
 * Stop new requests and give the host a bounded time to complete what it
 * holds (unless it is gone). Removal then closes the channel and fails what
 * is left (az_blob_fail_pending()). Suspend never abandons a request: while
 * the host still holds one it gives up with -EBUSY, which fails the
 * suspend (or hibernation), and the device takes requests again. Called
 * with no lock held; @state is the state the device moves to.
 */
static int az_blob_close_channel(struct az_blob_dev *dev,
				 enum az_blob_dev_state state, int err)
{
	struct vmbus_channel *chan = dev->hdev->channel;
	bool drained = true;

	az_blob_set_state(dev, state);
	/* Suspended earlier, or a failed resume: nothing left to close. */
	if (!dev->chan_open)
		return 0;
	if (!chan->rescind)
		drained = wait_event_idle_timeout(dev->drain_wq,
						  az_blob_pending_empty(dev),
						  dev->drain_timeout);
	if (!drained && state == AZ_BLOB_DEV_SUSPENDED) {
		dev_warn(&dev->hdev->device,
			 "host still holds requests after %u ms, not suspending\n",
			 jiffies_to_msecs(dev->drain_timeout));
		az_blob_set_state(dev, AZ_BLOB_DEV_OPEN);
		return -EBUSY;
	}
	az_blob_vmbus_close(dev);
	dev->chan_open = false;
	az_blob_fail_pending(dev, err, !chan->rescind);
	return 0;
}

VISIBLE_IF_KUNIT int az_blob_probe(struct hv_device *hdev,
				   const struct hv_vmbus_device_id *id)
{
	struct az_blob_dev *dev;
	int ret;

	if (hv_is_isolation_supported()) {
		dev_err(&hdev->device,
			"not supported in isolated VMs: the host cannot reach private pages\n");
		return -EOPNOTSUPP;
	}

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	kref_init(&dev->kref);
	dev->hdev = hdev;
	init_rwsem(&dev->chan_rwsem);
	spin_lock_init(&dev->lock);
	INIT_LIST_HEAD(&dev->pending);
	INIT_LIST_HEAD(&dev->ring_waiters);
	init_waitqueue_head(&dev->budget_wq);
	init_waitqueue_head(&dev->ring_wq);
	init_waitqueue_head(&dev->drain_wq);
	dev->drain_timeout = AZ_BLOB_DRAIN_TIMEOUT;
	dev->state = AZ_BLOB_DEV_OPEN;
	dev->max_in_flight = AZ_BLOB_RQSTOR_SIZE;
	dev->max_pinned = clamp(totalram_pages() / 4, AZ_BLOB_MIN_PINNED,
				AZ_BLOB_MAX_PINNED);

	dev->id = ida_alloc(&az_blob_ida, GFP_KERNEL);
	if (dev->id < 0) {
		ret = dev->id;
		goto free_dev;
	}
	if (dev->id)
		snprintf(dev->name, sizeof(dev->name), "azure_blob%d", dev->id);
	else
		strscpy(dev->name, "azure_blob", sizeof(dev->name));

	hv_set_drvdata(hdev, dev);
	ret = az_blob_open_channel(dev);
	if (ret) {
		dev_err(&hdev->device, "cannot open channel: %d\n", ret);
		goto free_id;
	}
	dev->chan_open = true;

	dev->misc = (struct miscdevice) {
		.minor = MISC_DYNAMIC_MINOR,
		.name = dev->name,
		.fops = &az_blob_fops,
		.parent = &hdev->device,
		.groups = az_blob_groups,
		.mode = 0600,
	};
	/* Everything about the device exists before its node appears. */
	dev->debugfs = debugfs_create_dir(dev->name, az_blob_debugfs_root);
	debugfs_create_file("pending", 0400, dev->debugfs, dev,
			    &az_blob_pending_fops);
	ret = misc_register(&dev->misc);
	if (ret) {
		dev_err(&hdev->device, "cannot register %s: %d\n", dev->name,
			ret);
		goto remove_debugfs;
	}
	return 0;

remove_debugfs:
	debugfs_remove(dev->debugfs);
	az_blob_vmbus_close(dev);
free_id:
	ida_free(&az_blob_ida, dev->id);
free_dev:
	az_blob_dev_put(dev);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_probe);

VISIBLE_IF_KUNIT void az_blob_remove(struct hv_device *hdev)
{
	struct az_blob_dev *dev = hv_get_drvdata(hdev);

	/* No new opens; open files keep @dev (not the channel) alive. */
	misc_deregister(&dev->misc);
	debugfs_remove(dev->debugfs);
	az_blob_close_channel(dev, AZ_BLOB_DEV_REMOVED, -ENODEV);
	ida_free(&az_blob_ida, dev->id);
	az_blob_dev_put(dev);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_remove);

VISIBLE_IF_KUNIT int az_blob_suspend(struct hv_device *hdev)
{
	struct az_blob_dev *dev = hv_get_drvdata(hdev);

	return az_blob_close_channel(dev, AZ_BLOB_DEV_SUSPENDED, -EIO);
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_suspend);

VISIBLE_IF_KUNIT int az_blob_resume(struct hv_device *hdev)
{
	struct az_blob_dev *dev = hv_get_drvdata(hdev);
	int ret;

	ret = az_blob_open_channel(dev);
	if (ret) {
		dev_err(&hdev->device, "cannot reopen channel: %d\n", ret);
		return ret;
	}
	dev->chan_open = true;
	az_blob_set_state(dev, AZ_BLOB_DEV_OPEN);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(az_blob_resume);

static const struct hv_vmbus_device_id az_blob_id_table[] = {
	{ HV_AZURE_BLOB_GUID, },
	{ },
};
MODULE_DEVICE_TABLE(vmbus, az_blob_id_table);

static struct hv_driver az_blob_drv = {
	.name = KBUILD_MODNAME,
	.id_table = az_blob_id_table,
	.probe = az_blob_probe,
	.remove = az_blob_remove,
	.suspend = az_blob_suspend,
	.resume = az_blob_resume,
	.driver = {
		.probe_type = PROBE_PREFER_ASYNCHRONOUS,
	},
};

static int __init az_blob_init(void)
{
	int ret;

	az_blob_wq = alloc_workqueue("hv_azure_blob", 0, 0);
	if (!az_blob_wq)
		return -ENOMEM;
	az_blob_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_atomic_t("pages_kept", 0400, az_blob_debugfs_root,
				&az_blob_pages_kept);

	ret = vmbus_driver_register(&az_blob_drv);
	if (ret) {
		debugfs_remove(az_blob_debugfs_root);
		az_blob_debugfs_root = NULL;
		destroy_workqueue(az_blob_wq);
		az_blob_wq = NULL;
	}
	return ret;
}

static void __exit az_blob_exit(void)
{
	vmbus_driver_unregister(&az_blob_drv);
	/* Requests abandoned by killed callers are freed by now. */
	destroy_workqueue(az_blob_wq);
	debugfs_remove(az_blob_debugfs_root);
}

module_init(az_blob_init);
module_exit(az_blob_exit);

MODULE_DESCRIPTION("Microsoft Azure Blob VMBus driver");
MODULE_LICENSE("GPL");
