// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the Azure Blob VMBus driver.
 *
 * The host is played by static stubs of az_blob_send(),
 * az_blob_open_channel(), az_blob_vmbus_close() and of the ring's free
 * space (az_blob_ring_space(), az_blob_ring_notify()); completions are fed
 * to az_blob_handle_packet() as the channel callback would, or put into an
 * inbound ring that the channel callback reads with the VMBus core's
 * iterator. io_uring is played by stubs of the driver's wrappers of its
 * command API, so a test can stand where io_uring's cancellation and task
 * work would and reach into the window of a send. Requests run through
 * az_blob_ioctl_request() and the io_uring command on real user memory
 * (kunit_vm_mmap()), from the test thread or from kthreads that borrow its
 * mm, so pinning, the PFN list and the copies back to user space are the
 * real ones.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */

#include <kunit/resource.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/bottom_half.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/highmem.h>
#include <linux/io_uring/cmd.h>
#include <linux/io_uring_types.h>
#include <linux/hyperv.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/prandom.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>
#include <linux/unaligned.h>
#include <linux/workqueue.h>
#include <uapi/misc/hv_azure_blob.h>

#include "hv_azure_blob.h"
#include "hyperv_vmbus.h"

#define AZ_TEST_RQSTOR_SIZE	64
#define AZ_TEST_MAX_PKTS	16
#define AZ_TEST_WAIT		(10 * HZ)
#define AZ_TEST_LATE_MS		100
/* Bytes the echoing host writes into the response buffer, at most. */
#define AZ_TEST_ECHO_LEN	123
#define AZ_TEST_SENTINEL	0x5a5a5a5aU

/* ---------------------------------------------------------------------- */
/* uapi layout */

static void az_blob_uapi_layout_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, sizeof(struct az_blob_request_sync), 72);
	KUNIT_EXPECT_EQ(test, offsetof(struct az_blob_request_sync, guid), 0);
	KUNIT_EXPECT_EQ(test, offsetof(struct az_blob_request_sync, timeout),
			16);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync, request_len), 20);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync, response_len), 24);
	KUNIT_EXPECT_EQ(test, offsetof(struct az_blob_request_sync, data_len),
			28);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync, data_valid), 32);
	KUNIT_EXPECT_EQ(test, offsetof(struct az_blob_request_sync, reserved),
			36);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync, request_buffer),
			40);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync, response_buffer),
			48);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync, data_buffer), 56);
	KUNIT_EXPECT_EQ(test, offsetof(struct az_blob_request_sync, response),
			64);
	KUNIT_EXPECT_EQ(test, __alignof__(struct az_blob_request_sync), 8);

	KUNIT_EXPECT_EQ(test, sizeof(struct az_blob_request_sync_response), 8);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync_response, status),
			0);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_request_sync_response,
				 response_len), 4);

	KUNIT_EXPECT_EQ(test, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
			_IOWR('R', 0xf0, struct az_blob_request_sync));
	KUNIT_EXPECT_EQ(test, _IOC_SIZE(IOCTL_AZ_BLOB_DRIVER_USER_REQUEST), 72);
	KUNIT_EXPECT_EQ(test, AZ_BLOB_URING_CMD_REQUEST,
			_IOWR('R', 0xf1, struct az_blob_request_sync));

	/* The wire structures of the protocol. */
	KUNIT_EXPECT_EQ(test, sizeof(struct az_blob_vsp_request), 56);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_vsp_request, transaction_id),
			40);
	KUNIT_EXPECT_EQ(test, sizeof(struct az_blob_vsp_completion), 12);
	KUNIT_EXPECT_EQ(test,
			offsetof(struct az_blob_vsp_completion, response_len),
			8);
}

/* ---------------------------------------------------------------------- */
/* Validation matrix */

struct az_validate_case {
	const char *name;
	struct az_blob_request_sync r;
	int err;
};

#define AZ_MB(x)	((u64)(x) << 20)

static const struct az_validate_case az_validate_cases[] = {
	{ "minimal", { .request_len = 1, .response_len = 1,
		       .request_buffer = AZ_MB(1), .response_buffer = AZ_MB(2) },
	  0 },
	{ "reserved", { .request_len = 1, .response_len = 1, .reserved = 1,
			.request_buffer = AZ_MB(1),
			.response_buffer = AZ_MB(2) }, -EINVAL },
	{ "request_len_0", { .response_len = 1, .request_buffer = AZ_MB(1),
			     .response_buffer = AZ_MB(2) }, -EINVAL },
	{ "response_len_0", { .request_len = 1, .request_buffer = AZ_MB(1),
			      .response_buffer = AZ_MB(2) }, -EINVAL },
	{ "data_valid_over_data_len",
	  { .request_len = 1, .response_len = 1, .data_len = 10,
	    .data_valid = 11, .request_buffer = AZ_MB(1),
	    .response_buffer = AZ_MB(2), .data_buffer = AZ_MB(3) }, -EINVAL },
	{ "data_valid_without_data",
	  { .request_len = 1, .response_len = 1, .data_valid = 1,
	    .request_buffer = AZ_MB(1), .response_buffer = AZ_MB(2) },
	  -EINVAL },
	{ "data_valid_eq_data_len",
	  { .request_len = 1, .response_len = 1, .data_len = 10,
	    .data_valid = 10, .request_buffer = AZ_MB(1),
	    .response_buffer = AZ_MB(2), .data_buffer = AZ_MB(3) }, 0 },
	{ "request_wraps", { .request_len = 4, .response_len = 1,
			     .request_buffer = U64_MAX - 2,
			     .response_buffer = AZ_MB(2) }, -EINVAL },
	{ "request_ends_at_top", { .request_len = 3, .response_len = 1,
				   .request_buffer = U64_MAX - 3,
				   .response_buffer = AZ_MB(2) }, 0 },
	{ "response_wraps", { .request_len = 1, .response_len = 0x1000,
			      .request_buffer = AZ_MB(1),
			      .response_buffer = U64_MAX - 0xfff }, -EINVAL },
	{ "data_wraps", { .request_len = 1, .response_len = 1, .data_len = 2,
			  .request_buffer = AZ_MB(1),
			  .response_buffer = AZ_MB(2),
			  .data_buffer = U64_MAX }, -EINVAL },
	{ "data_ignored_when_len_0",
	  { .request_len = 1, .response_len = 1, .request_buffer = AZ_MB(1),
	    .response_buffer = AZ_MB(2), .data_buffer = U64_MAX }, 0 },
	/* 8190 + 1 + 1 pages: exactly AZ_BLOB_MAX_PAGES. */
	{ "max_pages", { .request_len = 1, .response_len = 1,
			 .data_len = (AZ_BLOB_MAX_PAGES - 2) * 4096,
			 .request_buffer = AZ_MB(1) + 4095,
			 .response_buffer = AZ_MB(2),
			 .data_buffer = AZ_MB(64) }, 0 },
	/* The same data buffer one byte later touches one more page. */
	{ "max_pages_plus_1", { .request_len = 1, .response_len = 1,
				.data_len = (AZ_BLOB_MAX_PAGES - 2) * 4096,
				.request_buffer = AZ_MB(1),
				.response_buffer = AZ_MB(2),
				.data_buffer = AZ_MB(64) + 1 }, -E2BIG },
	/*
	 * The bound counts Hyper-V pages whatever PAGE_SIZE is: buffers that
	 * start inside a 64 KiB page (Hyper-V page 5, 15 and 9 of theirs) and
	 * span 1 + 1 + 8190 Hyper-V pages pass, one byte more does not.
	 */
	{ "max_pages_mid_64k_page",
	  { .request_len = 1, .response_len = 1,
	    .data_len = (AZ_BLOB_MAX_PAGES - 2) * 4096 - 100,
	    .request_buffer = AZ_MB(1) + 5 * 4096 + 7,
	    .response_buffer = AZ_MB(2) + 15 * 4096 + 4095,
	    .data_buffer = AZ_MB(64) + 9 * 4096 + 100 }, 0 },
	{ "max_pages_plus_1_mid_64k_page",
	  { .request_len = 1, .response_len = 1,
	    .data_len = (AZ_BLOB_MAX_PAGES - 2) * 4096 - 99,
	    .request_buffer = AZ_MB(1) + 5 * 4096 + 7,
	    .response_buffer = AZ_MB(2) + 15 * 4096 + 4095,
	    .data_buffer = AZ_MB(64) + 9 * 4096 + 100 }, -E2BIG },
	/* Two bytes straddling a page boundary are two pages. */
	{ "request_straddle_over", { .request_len = 2, .response_len = 1,
				     .data_len = (AZ_BLOB_MAX_PAGES - 2) * 4096,
				     .request_buffer = AZ_MB(1) + 4095,
				     .response_buffer = AZ_MB(2),
				     .data_buffer = AZ_MB(64) }, -E2BIG },
	{ "huge_lengths", { .request_len = U32_MAX, .response_len = U32_MAX,
			    .request_buffer = AZ_MB(1),
			    .response_buffer = AZ_MB(2) }, -E2BIG },
};

KUNIT_ARRAY_PARAM_DESC(az_validate, az_validate_cases, name);

static void az_blob_validate_test(struct kunit *test)
{
	const struct az_validate_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, az_blob_validate(&c->r), c->err);
}

/* ---------------------------------------------------------------------- */
/* Layout of a request: az_blob_req_init() */

struct az_layout_case {
	const char *name;
	struct az_blob_request_sync r;
	/* per buffer, in packet order: data, request, response */
	u32 hv_pages[AZ_BLOB_NR_BUFS];
	u32 range_offset[AZ_BLOB_NR_BUFS];
	u32 total;
	/* CPU pages per buffer with 64 KiB pages (with 4 KiB: hv_pages) */
	u32 pages_64k[AZ_BLOB_NR_BUFS];
};

static const struct az_layout_case az_layout_cases[] = {
	{ "aligned",
	  { .data_len = 8192, .request_len = 4096, .response_len = 4096,
	    .data_buffer = 0x10000, .request_buffer = 0x20000,
	    .response_buffer = 0x30000 },
	  { 2, 1, 1 }, { 0, 2 * 4096, 3 * 4096 }, 4, { 1, 1, 1 } },
	{ "unaligned",
	  { .data_len = 8, .request_len = 4096, .response_len = 4095,
	    .data_buffer = 0x10ffc, .request_buffer = 0x20001,
	    .response_buffer = 0x30001 },
	  { 2, 2, 1 }, { 0xffc, 2 * 4096 + 1, 4 * 4096 + 1 }, 5, { 1, 1, 1 } },
	{ "shared_page",
	  { .request_len = 20, .response_len = 50,
	    .request_buffer = 0x5000 + 10, .response_buffer = 0x5000 + 100,
	    .data_buffer = 0x5000 },
	  { 0, 1, 1 }, { 0, 10, 4096 + 100 }, 2, { 0, 1, 1 } },
	{ "one_byte",
	  { .request_len = 1, .response_len = 1, .data_len = 1,
	    .request_buffer = 0x7fff, .response_buffer = 0x8000,
	    .data_buffer = 0x9abc },
	  { 1, 1, 1 }, { 0xabc, 4096 + 0xfff, 2 * 4096 }, 3, { 1, 1, 1 } },
	{ "max_pages",
	  { .request_len = 1, .response_len = 1,
	    .data_len = (AZ_BLOB_MAX_PAGES - 2) * 4096,
	    .request_buffer = AZ_MB(1) + 4095, .response_buffer = AZ_MB(2),
	    .data_buffer = AZ_MB(64) },
	  { AZ_BLOB_MAX_PAGES - 2, 1, 1 },
	  { 0, (AZ_BLOB_MAX_PAGES - 2) * 4096 + 4095,
	    (AZ_BLOB_MAX_PAGES - 1) * 4096 }, AZ_BLOB_MAX_PAGES,
	  { (AZ_BLOB_MAX_PAGES - 2) / 16 + 1, 1, 1 } },
	/*
	 * Inside 64 KiB pages: data from Hyper-V page 5 of one, the request
	 * across the end of one into the next, the response from Hyper-V
	 * page 14 of one into the next.
	 */
	{ "mid_64k_page",
	  { .data_len = 3 * 4096, .request_len = 200,
	    .response_len = 3 * 4096,
	    .data_buffer = 0x10000 + 5 * 4096 + 0x123,
	    .request_buffer = 0x20000 + 15 * 4096 + 4000,
	    .response_buffer = 0x40000 + 14 * 4096 + 8 },
	  { 4, 2, 4 }, { 0x123, 4 * 4096 + 4000, 6 * 4096 + 8 }, 10,
	  { 1, 2, 2 } },
};

KUNIT_ARRAY_PARAM_DESC(az_layout, az_layout_cases, name);

/* CPU pages holding the bytes [@addr, @addr + @len), by page numbers. */
static u32 az_ref_cpu_pages(u64 addr, u32 len)
{
	if (!len)
		return 0;
	return ((addr + len - 1) >> PAGE_SHIFT) - (addr >> PAGE_SHIFT) + 1;
}

/*
 * The CPU pages a case expects of a buffer: its Hyper-V pages with 4 KiB
 * pages, the case's own count with 64 KiB pages, and the count by page
 * numbers for other page sizes.
 */
static u32 az_expect_cpu_pages(u32 hv_pages, u32 pages_64k, u64 addr,
			       u32 len)
{
	if (PAGE_SIZE == HV_HYP_PAGE_SIZE)
		return hv_pages;
	if (PAGE_SIZE == SZ_64K)
		return pages_64k;
	return az_ref_cpu_pages(addr, len);
}

static void az_blob_req_init_test(struct kunit *test)
{
	const struct az_layout_case *c = test->param_value;
	const struct az_blob_request_sync *r = &c->r;
	struct az_blob_req *req;
	u32 first = 0, first_page = 0;
	int i;

	req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req);
	KUNIT_ASSERT_EQ(test, az_blob_validate(r), 0);
	az_blob_req_init(req, r);

	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		const struct az_blob_buf *b = &req->bufs[i];

		KUNIT_EXPECT_EQ_MSG(test, b->nr_hvpages, c->hv_pages[i],
				    "buffer %d", i);
		/* CPU pages: as many as Hyper-V pages only with 4 KiB pages. */
		KUNIT_EXPECT_EQ_MSG(test, b->nr_pages,
				    az_expect_cpu_pages(c->hv_pages[i],
							c->pages_64k[i],
							b->uaddr, b->len),
				    "buffer %d", i);
		KUNIT_EXPECT_EQ_MSG(test, b->nr_pages,
				    az_ref_cpu_pages(b->uaddr, b->len),
				    "buffer %d", i);
		KUNIT_EXPECT_EQ_MSG(test, b->first_hvpage, first,
				    "buffer %d", i);
		KUNIT_EXPECT_EQ_MSG(test, b->first_page, first_page,
				    "buffer %d", i);
		KUNIT_EXPECT_EQ_MSG(test, b->range_offset, c->range_offset[i],
				    "buffer %d", i);
		KUNIT_EXPECT_EQ_MSG(test, b->nr_pinned, 0, "buffer %d", i);
		first += b->nr_hvpages;
		first_page += b->nr_pages;
	}
	KUNIT_EXPECT_EQ(test, req->nr_hvpages, c->total);
	KUNIT_EXPECT_EQ(test, req->nr_pages, first_page);
	KUNIT_EXPECT_LE(test, req->nr_pages, req->nr_hvpages);
	KUNIT_EXPECT_LE(test, req->nr_pages, AZ_BLOB_MAX_CPU_PAGES);

	KUNIT_EXPECT_EQ(test, req->bufs[AZ_BLOB_BUF_DATA].gup_flags,
			(unsigned int)FOLL_WRITE);
	KUNIT_EXPECT_EQ(test, req->bufs[AZ_BLOB_BUF_REQUEST].gup_flags, 0);
	KUNIT_EXPECT_EQ(test, req->bufs[AZ_BLOB_BUF_RESPONSE].gup_flags,
			(unsigned int)FOLL_WRITE);
	/* An absent data buffer has no address, whatever the caller said. */
	if (!r->data_len)
		KUNIT_EXPECT_EQ(test, req->bufs[AZ_BLOB_BUF_DATA].uaddr, 0);

	KUNIT_EXPECT_EQ(test, le32_to_cpu(req->msg.data_buffer_offset),
			c->range_offset[AZ_BLOB_BUF_DATA]);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req->msg.request_buffer_offset),
			c->range_offset[AZ_BLOB_BUF_REQUEST]);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req->msg.response_buffer_offset),
			c->range_offset[AZ_BLOB_BUF_RESPONSE]);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req->msg.data_buffer_length),
			r->data_len);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req->msg.request_buffer_length),
			r->request_len);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(req->msg.response_buffer_length),
			r->response_len);
	/* Every buffer ends inside the range. */
	for (i = 0; i < AZ_BLOB_NR_BUFS; i++)
		KUNIT_EXPECT_LE_MSG(test,
				    (u64)req->bufs[i].range_offset +
				    req->bufs[i].len,
				    (u64)req->nr_hvpages * HV_HYP_PAGE_SIZE,
				    "buffer %d", i);
}

/* ---------------------------------------------------------------------- */
/* The fake host */

enum az_host_mode {
	AZ_HOST_SYNC,		/* complete inside az_blob_send() */
	AZ_HOST_LATE,		/* complete from a work item, later */
	AZ_HOST_TWICE,		/* complete twice inside az_blob_send() */
	AZ_HOST_GARBAGE,	/* a bad packet first, then the completion */
	AZ_HOST_HOLD,		/* never complete */
};

enum az_garbage {
	AZ_GARBAGE_SHORT,
	AZ_GARBAGE_EMPTY,
	AZ_GARBAGE_UNKNOWN_ID,
	AZ_GARBAGE_UNISSUED_ID,
	AZ_GARBAGE_ID_ZERO,
	AZ_GARBAGE_WRONG_TYPE,
	AZ_GARBAGE_RESP_LEN_OVER,
	AZ_GARBAGE_STATUS,
};

struct az_host_pkt {
	struct az_blob_req *req;
	u64 id;
	struct az_blob_vsp_request msg;
	struct vmbus_packet_mpb_array *desc;
	u32 desc_size;
	bool completed;
	/* what the host saw in the request and data buffers */
	bool request_ok;
	bool data_ok;
	/* the request's pages when it was sent, and the device's pin count */
	u32 nr_pages;
	u32 nr_hvpages;
	u32 buf_pages[AZ_BLOB_NR_BUFS];
	u32 buf_hvpages[AZ_BLOB_NR_BUFS];
	unsigned long dev_pinned;
};

/* The VMBus device, its channel and the host behind it. */
struct az_host {
	struct hv_device hdev;
	struct vmbus_channel chan;
	struct kunit *test;
	struct az_blob_dev *dev;
	bool registered;
	bool probed;

	spinlock_t lock;	/* nr_pkts, nr_ready, nr_sends, fail_sends */
	wait_queue_head_t wq;
	enum az_host_mode mode;
	enum az_garbage garbage;
	struct az_host_pkt pkts[AZ_TEST_MAX_PKTS];
	/* packet slots taken, and filled in */
	int nr_pkts;
	int nr_ready;
	int nr_sends;
	u32 status;
	/* what az_blob_send() returns, for the next fail_sends calls */
	int send_err;
	int fail_sends;
	int open_err;
	int nr_opens;
	int nr_closes;
	/* expected content, for the host to check */
	const u8 *expect_request;
	const u8 *expect_data;
	/* called by the az_blob_vmbus_close() stub */
	void (*on_close)(struct az_host *host);
	void *on_close_ctx;
	struct delayed_work late_work;
	/* bytes free in the ring to the host, as az_blob_ring_space() says */
	u32 ring_space;
	/* the last pending send size the driver asked for, and how often */
	u32 notify_bytes;
	int nr_notify;
	/* inside az_blob_send(); a command's task work queued meanwhile */
	bool in_send;
	int tw_in_send;
	/* a command io_uring cancels from inside az_blob_send() */
	struct io_uring_cmd *cancel_in_send;
};

KUNIT_DEFINE_ACTION_WRAPPER(az_kfree_action, kfree, const void *);
KUNIT_DEFINE_ACTION_WRAPPER(az_free_page_action, __free_page, struct page *);

static struct az_host *az_host_of(struct az_blob_dev *dev)
{
	return container_of(dev->hdev, struct az_host, hdev);
}

struct az_test_pkt {
	struct vmpacket_descriptor desc;
	union {
		struct az_blob_vsp_completion comp;
		u8 raw[16];
	};
};

/* A packet as the host lays it out: the descriptor, then a completion. */
static void az_pkt_init(struct az_test_pkt *pkt, u16 type, u64 id,
			u32 datalen, u32 status, u32 response_len)
{
	memset(pkt, 0, sizeof(*pkt));
	pkt->desc.type = type;
	pkt->desc.offset8 = sizeof(pkt->desc) >> 3;
	pkt->desc.len8 = (sizeof(pkt->desc) + datalen) >> 3;
	pkt->desc.trans_id = id;
	pkt->comp.length = cpu_to_le32(sizeof(pkt->comp));
	pkt->comp.error = cpu_to_le32(status);
	pkt->comp.response_len = cpu_to_le32(response_len);
}

/* Feed one packet to the driver as the channel callback (softirq) would. */
static void az_host_deliver(struct az_blob_dev *dev, u16 type, u64 id,
			    u32 datalen, u32 status, u32 response_len)
{
	struct az_test_pkt pkt;

	az_pkt_init(&pkt, type, id, datalen, status, response_len);
	local_bh_disable();
	az_blob_handle_packet(dev, &pkt.desc);
	local_bh_enable();
}

static void az_host_complete(struct az_blob_dev *dev, u64 id, u32 status,
			     u32 response_len)
{
	az_host_deliver(dev, VM_PKT_COMP, id,
			ALIGN(sizeof(struct az_blob_vsp_completion), 8),
			status, response_len);
}

/* Copy to or from the guest memory the packet's GPA range describes. */
static void az_host_gpa_rw(const struct vmbus_packet_mpb_array *desc,
			   u32 off, void *buf, u32 len, bool write)
{
	while (len) {
		u64 hvpfn = desc->range.pfn_array[off >> HV_HYP_PAGE_SHIFT];
		u32 o = off & (HV_HYP_PAGE_SIZE - 1);
		u32 n = min_t(u32, len, HV_HYP_PAGE_SIZE - o);
		struct page *page = pfn_to_page(hvpfn >> (PAGE_SHIFT -
							  HV_HYP_PAGE_SHIFT));
		u32 poff = ((hvpfn << HV_HYP_PAGE_SHIFT) & ~PAGE_MASK) + o;
		u8 *va = kmap_local_page(page);

		if (write)
			memcpy(va + poff, buf, n);
		else
			memcpy(buf, va + poff, n);
		kunmap_local(va);
		off += n;
		buf += n;
		len -= n;
	}
}

/* The byte the echoing host writes at offset @i of a response. */
static u8 az_echo_byte(u32 i)
{
	return (u8)(i * 7 + 3);
}

/*
 * Act on the request buffers as a host would: check what the guest sent
 * and write the response. Returns the response length.
 */
static u32 az_host_echo(struct az_host *host, struct az_host_pkt *p)
{
	u32 len = le32_to_cpu(p->msg.response_buffer_length);
	u32 req_len = le32_to_cpu(p->msg.request_buffer_length);
	u32 dv = le32_to_cpu(p->msg.data_buffer_valid);
	u8 *buf;
	u32 i;

	len = min_t(u32, len, AZ_TEST_ECHO_LEN);
	buf = kmalloc(max3(len, req_len, dv) + 1, GFP_KERNEL);
	if (!buf)
		return 0;
	if (host->expect_request) {
		az_host_gpa_rw(p->desc,
			       le32_to_cpu(p->msg.request_buffer_offset), buf,
			       req_len, false);
		p->request_ok = !memcmp(buf, host->expect_request, req_len);
	}
	if (host->expect_data) {
		az_host_gpa_rw(p->desc, le32_to_cpu(p->msg.data_buffer_offset),
			       buf, dv, false);
		p->data_ok = !memcmp(buf, host->expect_data, dv);
	}
	for (i = 0; i < len; i++)
		buf[i] = az_echo_byte(i);
	az_host_gpa_rw(p->desc, le32_to_cpu(p->msg.response_buffer_offset),
		       buf, len, true);
	kfree(buf);
	return len;
}

static void az_host_send_garbage(struct az_host *host, struct az_host_pkt *p)
{
	struct az_blob_dev *dev = host->dev;
	u32 len = sizeof(struct az_blob_vsp_completion);

	switch (host->garbage) {
	case AZ_GARBAGE_SHORT:
		/* 4 bytes of payload, padded to 8 by the ring. */
		az_host_deliver(dev, VM_PKT_COMP, p->id, 8, 0, 0);
		break;
	case AZ_GARBAGE_EMPTY:
		az_host_deliver(dev, VM_PKT_COMP, p->id, 0, 0, 0);
		break;
	case AZ_GARBAGE_UNKNOWN_ID:
		az_host_deliver(dev, VM_PKT_COMP, 0x7fff0001, 16, 0, 0);
		break;
	case AZ_GARBAGE_UNISSUED_ID:
		az_host_deliver(dev, VM_PKT_COMP, p->id + 1, 16, 0, 0);
		break;
	case AZ_GARBAGE_ID_ZERO:
		az_host_deliver(dev, VM_PKT_COMP, 0, 16, 0, 0);
		break;
	case AZ_GARBAGE_WRONG_TYPE:
		az_host_deliver(dev, VM_PKT_DATA_INBAND, p->id, 16, 0, len);
		break;
	default:
		break;
	}
}

static void az_host_late_work(struct work_struct *work)
{
	struct az_host *host = container_of(to_delayed_work(work),
					    struct az_host, late_work);
	int i;

	for (i = 0; i < READ_ONCE(host->nr_ready); i++) {
		struct az_host_pkt *p = &host->pkts[i];
		u32 len;

		if (p->completed)
			continue;
		len = az_host_echo(host, p);
		p->completed = true;
		az_host_complete(host->dev, p->id, host->status, len);
	}
}

/* az_blob_send() stub: the host receives a request packet. */
static int az_host_send(struct az_blob_dev *dev, struct az_blob_req *req)
{
	struct kunit *test = kunit_get_current_test();
	struct az_host *host = az_host_of(dev);
	struct vmbus_channel *chan = dev->hdev->channel;
	struct az_host_pkt *p;
	u32 len;
	int i;

	spin_lock(&host->lock);
	host->nr_sends++;
	spin_unlock(&host->lock);
	/* io_uring's cancellation, beside an issuer in io-wq. */
	if (host->cancel_in_send)
		az_blob_uring_cmd(host->cancel_in_send, IO_URING_F_CANCEL);
	spin_lock(&host->lock);
	if (host->fail_sends) {
		host->fail_sends--;
		spin_unlock(&host->lock);
		wake_up_all(&host->wq);
		return host->send_err;
	}
	if (host->nr_pkts == AZ_TEST_MAX_PKTS) {
		spin_unlock(&host->lock);
		KUNIT_FAIL(test, "more packets than the fake host holds");
		return -EAGAIN;
	}
	p = &host->pkts[host->nr_pkts++];
	spin_unlock(&host->lock);

	/*
	 * No assertions here: this may run in a caller's kthread, which
	 * must not abort the test.
	 */
	p->desc = kmemdup(req->desc, req->desc_size, GFP_KERNEL);
	if (!p->desc || kunit_add_action_or_reset(test, az_kfree_action,
						  p->desc)) {
		KUNIT_FAIL(test, "out of memory");
		return -ENOMEM;
	}
	p->req = req;
	p->msg = req->msg;
	p->desc_size = req->desc_size;
	p->nr_pages = req->nr_pages;
	p->nr_hvpages = req->nr_hvpages;
	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		p->buf_pages[i] = req->bufs[i].nr_pages;
		p->buf_hvpages[i] = req->bufs[i].nr_hvpages;
	}
	p->dev_pinned = READ_ONCE(dev->nr_pinned);
	/* What vmbus_sendpacket_mpb_desc() does with the request id. */
	p->id = chan->next_request_id_callback(chan, (uintptr_t)req);
	if (p->id == VMBUS_RQST_ERROR) {
		KUNIT_FAIL(test, "request ids exhausted");
		return -EAGAIN;
	}

	/* The host has the request: it is pending, its pages pinned. */
	KUNIT_EXPECT_EQ(test, req->state, AZ_BLOB_REQ_SENDING);
	KUNIT_EXPECT_FALSE(test, list_empty(&req->node));
	for (i = 0; i < req->nr_pages; i++) {
		struct page *page = req->pages[i];

		/* The zero page (read-only memory) is never pinned. */
		if (is_zero_page(page))
			continue;
		KUNIT_EXPECT_TRUE_MSG(test,
				      folio_maybe_dma_pinned(page_folio(page)),
				      "page %d not pinned", i);
	}

	spin_lock(&host->lock);
	host->nr_ready++;
	spin_unlock(&host->lock);
	wake_up_all(&host->wq);

	switch (host->mode) {
	case AZ_HOST_SYNC:
	case AZ_HOST_TWICE:
		len = az_host_echo(host, p);
		p->completed = true;
		az_host_complete(dev, p->id, host->status, len);
		if (host->mode == AZ_HOST_TWICE)
			az_host_complete(dev, p->id, host->status, len);
		break;
	case AZ_HOST_LATE:
		schedule_delayed_work(&host->late_work,
				      msecs_to_jiffies(AZ_TEST_LATE_MS));
		break;
	case AZ_HOST_GARBAGE:
		az_host_send_garbage(host, p);
		/* The bad packet completed nothing. */
		KUNIT_EXPECT_EQ(test, req->state, AZ_BLOB_REQ_SENDING);
		KUNIT_EXPECT_FALSE(test, req->host_done);
		KUNIT_EXPECT_FALSE(test, completion_done(&req->done));
		KUNIT_EXPECT_FALSE(test, list_empty(&req->node));
		len = az_host_echo(host, p);
		if (host->garbage == AZ_GARBAGE_RESP_LEN_OVER)
			len = le32_to_cpu(req->msg.response_buffer_length) + 1;
		p->completed = true;
		az_host_complete(dev, p->id, host->status, len);
		break;
	case AZ_HOST_HOLD:
		break;
	}
	return 0;
}

/* az_blob_send() stub, in the send's window: see az_host_send(). */
static int az_host_send_window(struct az_blob_dev *dev,
			       struct az_blob_req *req)
{
	struct az_host *host = az_host_of(dev);
	int ret;

	WRITE_ONCE(host->in_send, true);
	ret = az_host_send(dev, req);
	WRITE_ONCE(host->in_send, false);
	return ret;
}

/* az_blob_ring_space() stub */
static u32 az_host_ring_space(struct az_blob_dev *dev)
{
	return READ_ONCE(az_host_of(dev)->ring_space);
}

/* az_blob_ring_notify() stub */
static void az_host_ring_notify(struct az_blob_dev *dev, u32 bytes)
{
	struct az_host *host = az_host_of(dev);

	spin_lock(&host->lock);
	host->notify_bytes = bytes;
	host->nr_notify++;
	spin_unlock(&host->lock);
	wake_up_all(&host->wq);
}

/* az_blob_open_channel() stub: a channel with a real request-id table. */
static int az_host_open(struct az_blob_dev *dev)
{
	struct az_host *host = az_host_of(dev);
	struct vmbus_channel *chan = dev->hdev->channel;
	struct vmbus_requestor *rqstor = &chan->requestor;
	int i;

	host->nr_opens++;
	if (host->open_err)
		return host->open_err;

	/* A reopen (resume) starts with a new table. */
	kfree(rqstor->req_arr);
	bitmap_free(rqstor->req_bitmap);

	rqstor->req_arr = kcalloc(AZ_TEST_RQSTOR_SIZE, sizeof(u64),
				  GFP_KERNEL);
	rqstor->req_bitmap = bitmap_zalloc(AZ_TEST_RQSTOR_SIZE, GFP_KERNEL);
	if (!rqstor->req_arr || !rqstor->req_bitmap) {
		kfree(rqstor->req_arr);
		bitmap_free(rqstor->req_bitmap);
		return -ENOMEM;
	}
	for (i = 0; i < AZ_TEST_RQSTOR_SIZE - 1; i++)
		rqstor->req_arr[i] = i + 1;
	rqstor->req_arr[i] = U64_MAX;
	rqstor->size = AZ_TEST_RQSTOR_SIZE;
	rqstor->next_request_id = 0;
	spin_lock_init(&rqstor->req_lock);

	chan->rqstor_size = AZ_TEST_RQSTOR_SIZE;
	chan->next_request_id_callback = vmbus_next_request_id;
	chan->request_addr_callback = vmbus_request_addr;
	host->dev = dev;
	return 0;
}

/* az_blob_vmbus_close() stub */
static void az_host_close(struct az_blob_dev *dev)
{
	struct az_host *host = az_host_of(dev);

	host->nr_closes++;
	if (host->on_close)
		host->on_close(host);
}

static void az_host_hdev_release(struct device *d)
{
	struct az_host *host = container_of(d, struct az_host, hdev.device);

	kfree(host->chan.requestor.req_arr);
	bitmap_free(host->chan.requestor.req_bitmap);
	kfree(host);
}

static void az_host_unregister(void *data)
{
	struct az_host *host = data;

	device_unregister(&host->hdev.device);
}

static void az_host_remove(void *data)
{
	struct az_host *host = data;

	cancel_delayed_work_sync(&host->late_work);
	if (host->probed)
		az_blob_remove(&host->hdev);
	host->probed = false;
}

/* A registered VMBus device with the fake host behind it, not probed. */
static struct az_host *az_host_create(struct kunit *test)
{
	static atomic_t seq = ATOMIC_INIT(0);
	struct az_host *host;
	int ret;

	/*
	 * Before the actions below: cleanup runs in reverse order, and the
	 * removal at cleanup still needs the stubs.
	 */
	kunit_activate_static_stub(test, az_blob_send, az_host_send_window);
	kunit_activate_static_stub(test, az_blob_open_channel, az_host_open);
	kunit_activate_static_stub(test, az_blob_vmbus_close, az_host_close);
	kunit_activate_static_stub(test, az_blob_ring_space,
				   az_host_ring_space);
	kunit_activate_static_stub(test, az_blob_ring_notify,
				   az_host_ring_notify);

	host = kzalloc(sizeof(*host), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, host);
	host->test = test;
	host->ring_space = SZ_1M;
	spin_lock_init(&host->lock);
	init_waitqueue_head(&host->wq);
	INIT_DELAYED_WORK(&host->late_work, az_host_late_work);
	host->hdev.channel = &host->chan;
	host->hdev.device.release = az_host_hdev_release;
	device_initialize(&host->hdev.device);
	ret = dev_set_name(&host->hdev.device, "az_blob_kunit.%d",
			   atomic_inc_return(&seq));
	if (!ret)
		ret = device_add(&host->hdev.device);
	if (ret) {
		put_device(&host->hdev.device);
		KUNIT_ASSERT_EQ(test, ret, 0);
	}
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							az_host_unregister,
							host), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, az_host_remove,
							host), 0);

	return host;
}

static struct az_host *az_host_probe(struct kunit *test)
{
	struct az_host *host = az_host_create(test);

	KUNIT_ASSERT_EQ(test, az_blob_probe(&host->hdev, NULL), 0);
	host->probed = true;
	KUNIT_ASSERT_PTR_EQ(test, host->dev,
			    (struct az_blob_dev *)hv_get_drvdata(&host->hdev));
	return host;
}

static bool az_host_sent(struct az_host *host, int n)
{
	bool ret;

	spin_lock(&host->lock);
	ret = host->nr_ready >= n;
	spin_unlock(&host->lock);
	return ret;
}

/* The device is idle: nothing pending, no budget held. */
static void az_expect_idle(struct kunit *test, struct az_blob_dev *dev)
{
	spin_lock_bh(&dev->lock);
	KUNIT_EXPECT_TRUE(test, list_empty(&dev->pending));
	KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 0);
	KUNIT_EXPECT_EQ(test, dev->nr_pinned, 0);
	spin_unlock_bh(&dev->lock);
}

/* Count slab corruption (double frees, ...) instead of only logging it. */
static int *az_count_slab_errors(struct kunit *test)
{
	struct kunit_resource *res;
	int *errors;

	res = kunit_kzalloc(test, sizeof(*res), GFP_KERNEL);
	errors = kunit_kzalloc(test, sizeof(*errors), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, res);
	KUNIT_ASSERT_NOT_NULL(test, errors);
	KUNIT_ASSERT_EQ(test, kunit_add_named_resource(test, NULL, NULL, res,
						       "slab_errors", errors),
			0);
	return errors;
}

/* An extra reference on the device, as an open file holds. */
static void az_dev_release(struct kref *kref)
{
	kfree(container_of(kref, struct az_blob_dev, kref));
}

static void az_dev_put(void *data)
{
	struct az_blob_dev *dev = data;

	kref_put(&dev->kref, az_dev_release);
}

static void az_dev_get(struct kunit *test, struct az_blob_dev *dev)
{
	kref_get(&dev->kref);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, az_dev_put, dev),
			0);
}

/* ---------------------------------------------------------------------- */
/* User memory */

struct az_user {
	unsigned long base;	/* user address */
	size_t len;
};

static unsigned long az_user_map(struct kunit *test, size_t len,
				 unsigned long prot)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, len, prot,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "no user memory");
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	return addr;
}

static void az_user_write(struct kunit *test, unsigned long addr,
			  const void *buf, size_t len)
{
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)addr, buf, len), 0);
}

static void az_user_read(struct kunit *test, unsigned long addr, void *buf,
			 size_t len)
{
	KUNIT_ASSERT_EQ(test, copy_from_user(buf, (void __user *)addr, len), 0);
}

static void az_user_fill(struct kunit *test, unsigned long addr, u8 byte,
			 size_t len)
{
	u8 *buf = kunit_kmalloc(test, len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, byte, len);
	az_user_write(test, addr, buf, len);
	kunit_kfree(test, buf);
}

/* The end of a mapped, faulted-in page that has no mapping after it. */
static unsigned long az_user_hole(struct kunit *test)
{
	unsigned long base = az_user_map(test, 2 * PAGE_SIZE,
					 PROT_READ | PROT_WRITE);

	az_user_fill(test, base, 0, PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, vm_munmap(base + PAGE_SIZE, PAGE_SIZE), 0);
	return base + PAGE_SIZE;
}

/*
 * A read-only user mapping holding @len bytes of @buf: a shmem page mapped
 * twice, written through a writable mapping.
 */
static unsigned long az_user_read_only_copy(struct kunit *test,
					    const void *buf, size_t len)
{
	unsigned long rw, ro;
	struct file *file;

	file = shmem_file_setup("az_blob_kunit", PAGE_SIZE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	rw = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED, 0);
	ro = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
	fput(file);
	KUNIT_ASSERT_FALSE(test, !rw || IS_ERR_VALUE(rw));
	KUNIT_ASSERT_FALSE(test, !ro || IS_ERR_VALUE(ro));
	az_user_write(test, rw, buf, len);
	return ro;
}

/*
 * A request in user memory with its three buffers in one page each, the
 * argument in a fourth page. Returns the user address of the argument.
 */
static unsigned long az_user_request(struct kunit *test,
				     struct az_blob_request_sync *r)
{
	unsigned long base = az_user_map(test, 4 * PAGE_SIZE,
					 PROT_READ | PROT_WRITE);
	unsigned long uarg = base + 3 * PAGE_SIZE + 64;
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 16; i++)
		r->guid[i] = i;
	r->timeout = 1000;
	r->request_len = 100;
	r->response_len = 200;
	r->data_len = 300;
	r->data_valid = 0;
	r->request_buffer = base + 10;
	r->response_buffer = base + PAGE_SIZE + 20;
	r->data_buffer = base + 2 * PAGE_SIZE + 30;
	r->response.status = AZ_TEST_SENTINEL;
	r->response.response_len = AZ_TEST_SENTINEL;
	az_user_write(test, uarg, r, sizeof(*r));
	return uarg;
}

/*
 * The Hyper-V PFN of the user address @addr, in a mapping at @base whose
 * CPU pages are @pages: the CPU page's first Hyper-V PFN plus the index of
 * the Hyper-V page inside it.
 */
static u64 az_user_hvpfn(struct page **pages, unsigned long base,
			 unsigned long addr)
{
	return page_to_hvpfn(pages[(addr - base) >> PAGE_SHIFT]) +
	       (((addr - base) & ~PAGE_MASK) >> HV_HYP_PAGE_SHIFT);
}

/* ---------------------------------------------------------------------- */
/* The wire message, built from real pinned user pages */

static void az_blob_wire_message_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_request_sync r = { }, out;
	struct page *pages[6] = { };
	const u32 data_len = 2 * 4096 + 0x10, req_len = 200, resp_len = 300;
	unsigned long base, uarg;
	const u64 *pfn;
	u8 *req_bytes, *data_bytes, *resp;
	u8 exp[56];
	long ret;
	int i, n;

	base = az_user_map(test, 6 * PAGE_SIZE, PROT_READ | PROT_WRITE);
	/*
	 * data: Hyper-V pages 0-2 of CPU page 0 (CPU pages 0-2 with 4 KiB
	 * pages); request: Hyper-V pages 0-1 of CPU page 3 (CPU pages 3-4);
	 * response: Hyper-V page 0 of CPU page 4 (shared with the request
	 * with 4 KiB pages).
	 */
	r.data_buffer = base + 0x100;
	r.request_buffer = base + 3 * PAGE_SIZE + 4000;
	r.response_buffer = base + 4 * PAGE_SIZE + 500;
	r.request_len = req_len;
	r.response_len = resp_len;
	r.data_len = data_len;
	r.data_valid = data_len;
	r.timeout = 0x01020304;
	for (i = 0; i < 16; i++)
		r.guid[i] = 0xa0 + i;
	r.response.status = AZ_TEST_SENTINEL;
	r.response.response_len = AZ_TEST_SENTINEL;
	uarg = base + 5 * PAGE_SIZE + 8;
	az_user_write(test, uarg, &r, sizeof(r));

	req_bytes = kunit_kmalloc(test, req_len, GFP_KERNEL);
	data_bytes = kunit_kmalloc(test, data_len, GFP_KERNEL);
	resp = kunit_kmalloc(test, resp_len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req_bytes);
	KUNIT_ASSERT_NOT_NULL(test, data_bytes);
	KUNIT_ASSERT_NOT_NULL(test, resp);
	for (i = 0; i < req_len; i++)
		req_bytes[i] = i ^ 0x5c;
	for (i = 0; i < data_len; i++)
		data_bytes[i] = i * 13;
	az_user_write(test, r.request_buffer, req_bytes, req_len);
	az_user_write(test, r.data_buffer, data_bytes, data_len);
	az_user_fill(test, r.response_buffer, 0xee, resp_len);

	/* Fault the pages in and hold them, so their PFNs cannot change. */
	n = get_user_pages_fast(base, 5, FOLL_WRITE, pages);
	KUNIT_ASSERT_EQ(test, n, 5);

	host->mode = AZ_HOST_SYNC;
	host->status = 0x11223344;
	host->expect_request = req_bytes;
	host->expect_data = data_bytes;
	ret = az_blob_ioctl_request(host->dev, (void __user *)uarg);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_ASSERT_EQ(test, host->nr_pkts, 1);
	KUNIT_EXPECT_TRUE(test, host->pkts[0].request_ok);
	KUNIT_EXPECT_TRUE(test, host->pkts[0].data_ok);

	/* One range, offset 0, data then request then response pages. */
	pfn = host->pkts[0].desc->range.pfn_array;
	KUNIT_EXPECT_EQ(test, host->pkts[0].desc->rangecount, 1);
	KUNIT_EXPECT_EQ(test, host->pkts[0].desc->range.offset, 0);
	KUNIT_EXPECT_EQ(test, host->pkts[0].desc->range.len, 6 * 4096);
	KUNIT_EXPECT_EQ(test, host->pkts[0].desc_size,
			struct_size(host->pkts[0].desc, range.pfn_array, 6));
	KUNIT_EXPECT_EQ(test, pfn[0], az_user_hvpfn(pages, base, base));
	KUNIT_EXPECT_EQ(test, pfn[1], az_user_hvpfn(pages, base, base + 4096));
	KUNIT_EXPECT_EQ(test, pfn[2], az_user_hvpfn(pages, base, base + 8192));
	KUNIT_EXPECT_EQ(test, pfn[3],
			az_user_hvpfn(pages, base, base + 3 * PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, pfn[4],
			az_user_hvpfn(pages, base,
				      base + 3 * PAGE_SIZE + 4096));
	KUNIT_EXPECT_EQ(test, pfn[5],
			az_user_hvpfn(pages, base, base + 4 * PAGE_SIZE));
	if (PAGE_SIZE == HV_HYP_PAGE_SIZE) {
		/* With 4 KiB pages every PFN is a CPU page's own. */
		KUNIT_EXPECT_EQ(test, pfn[1], (u64)page_to_pfn(pages[1]));
		KUNIT_EXPECT_EQ(test, pfn[5], (u64)page_to_pfn(pages[4]));
	}

	/* The in-band message, byte by byte: little-endian fields. */
	memset(exp, 0, sizeof(exp));
	put_unaligned_le32(AZ_BLOB_VSP_VERSION, exp + 0);
	put_unaligned_le32(0x01020304, exp + 4);
	put_unaligned_le32(0x100, exp + 8);
	put_unaligned_le32(data_len, exp + 12);
	put_unaligned_le32(data_len, exp + 16);
	put_unaligned_le32(0x100, exp + 20);		/* operation */
	put_unaligned_le32(3 * 4096 + 4000, exp + 24);
	put_unaligned_le32(req_len, exp + 28);
	put_unaligned_le32(5 * 4096 + 500, exp + 32);
	put_unaligned_le32(resp_len, exp + 36);
	for (i = 0; i < 16; i++)
		exp[40 + i] = 0xa0 + i;
	KUNIT_EXPECT_MEMEQ(test, &host->pkts[0].msg, exp, sizeof(exp));

	/* The result went back to user space ... */
	az_user_read(test, uarg, &out, sizeof(out));
	KUNIT_EXPECT_EQ(test, out.response.status, 0x11223344);
	KUNIT_EXPECT_EQ(test, out.response.response_len, AZ_TEST_ECHO_LEN);
	/* ... and what the host wrote through the PFNs is in the buffer. */
	az_user_read(test, r.response_buffer, resp, resp_len);
	for (i = 0; i < resp_len; i++)
		if (resp[i] != (i < AZ_TEST_ECHO_LEN ? az_echo_byte(i) : 0xee))
			break;
	KUNIT_EXPECT_EQ_MSG(test, i, resp_len, "response byte %d wrong", i);

	/* Every page is unpinned, the budget returned. */
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_FALSE_MSG(test,
				       folio_maybe_dma_pinned(page_folio(pages[i])),
				       "page %d still pinned", i);
		put_page(pages[i]);
	}
	az_expect_idle(test, host->dev);
	KUNIT_EXPECT_EQ(test, atomic64_read(&host->dev->stats.submitted), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&host->dev->stats.failed), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&host->dev->stats.bytes),
			data_len + req_len + resp_len);
}

/* az_blob_fill_desc() on its own: CPU pages to Hyper-V PFNs. */

#define AZ_DESC_MAX_PFNS	12

struct az_desc_case {
	const char *name;
	struct az_blob_request_sync r;
	/* the address of the Hyper-V page each PFN names, in packet order */
	u64 hvpage[AZ_DESC_MAX_PFNS];
	u32 nr;
};

static const struct az_desc_case az_desc_cases[] = {
	{ "straddle",
	  { .request_len = 10, .response_len = 4096,
	    .request_buffer = 0x7000 + 4090, .response_buffer = 0x9000 + 1 },
	  { 0x7000, 0x8000, 0x9000, 0xa000 }, 4 },
	/* Hyper-V pages 5-8, 15-16 (two CPU pages) and 14-17 (two). */
	{ "mid_64k_page",
	  { .data_len = 3 * 4096, .request_len = 200,
	    .response_len = 3 * 4096,
	    .data_buffer = 0x10000 + 5 * 4096 + 0x123,
	    .request_buffer = 0x20000 + 15 * 4096 + 4000,
	    .response_buffer = 0x40000 + 14 * 4096 + 8 },
	  { 0x15000, 0x16000, 0x17000, 0x18000, 0x2f000, 0x30000,
	    0x4e000, 0x4f000, 0x50000, 0x51000 }, 10 },
	/* One Hyper-V page holds all three buffers: it appears three times. */
	{ "shared_hvpage",
	  { .data_len = 100, .request_len = 20, .response_len = 50,
	    .data_buffer = 0x25000 + 2000, .request_buffer = 0x25000 + 10,
	    .response_buffer = 0x25000 + 100 },
	  { 0x25000, 0x25000, 0x25000 }, 3 },
	/* The last Hyper-V page of a 64 KiB page, and the first of the next. */
	{ "64k_page_ends",
	  { .data_len = 2, .request_len = 4096, .response_len = 1,
	    .data_buffer = 0xf000 + 4095, .request_buffer = 0x1f000,
	    .response_buffer = 0x2ffff },
	  { 0xf000, 0x10000, 0x1f000, 0x2f000 }, 4 },
};

KUNIT_ARRAY_PARAM_DESC(az_desc, az_desc_cases, name);

/* Pages standing for user memory: one per CPU page number, made on use. */
struct az_fake_mem {
	u64 pfn[2 * AZ_DESC_MAX_PFNS];
	struct page *page[2 * AZ_DESC_MAX_PFNS];
	int nr;
};

static struct page *az_fake_page(struct kunit *test, struct az_fake_mem *m,
				 u64 addr)
{
	u64 pfn = addr >> PAGE_SHIFT;
	int i;

	for (i = 0; i < m->nr; i++)
		if (m->pfn[i] == pfn)
			return m->page[i];
	KUNIT_ASSERT_LT(test, m->nr, ARRAY_SIZE(m->page));
	m->page[i] = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m->page[i]);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							az_free_page_action,
							m->page[i]), 0);
	m->pfn[i] = pfn;
	m->nr++;
	return m->page[i];
}

static void az_blob_fill_desc_test(struct kunit *test)
{
	const struct az_desc_case *c = test->param_value;
	struct az_fake_mem *mem;
	struct az_blob_req *req;
	u32 i, k;

	req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	mem = kunit_kzalloc(test, sizeof(*mem), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req);
	KUNIT_ASSERT_NOT_NULL(test, mem);
	KUNIT_ASSERT_EQ(test, az_blob_validate(&c->r), 0);
	az_blob_req_init(req, &c->r);
	KUNIT_ASSERT_EQ(test, req->nr_hvpages, c->nr);
	KUNIT_ASSERT_LE(test, req->nr_pages, c->nr);

	/* What pinning gives: the CPU pages of each buffer, in order. */
	req->pages = kunit_kcalloc(test, req->nr_pages, sizeof(*req->pages),
				   GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req->pages);
	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		const struct az_blob_buf *b = &req->bufs[i];

		for (k = 0; k < b->nr_pages; k++)
			req->pages[b->first_page + k] =
				az_fake_page(test, mem,
					     (b->uaddr & PAGE_MASK) +
					     (u64)k * PAGE_SIZE);
	}
	req->desc_size = struct_size(req->desc, range.pfn_array, c->nr);
	req->desc = kunit_kzalloc(test, req->desc_size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req->desc);

	az_blob_fill_desc(req);
	KUNIT_EXPECT_EQ(test, req->desc->rangecount, 1);
	KUNIT_EXPECT_EQ(test, req->desc->range.offset, 0);
	KUNIT_EXPECT_EQ(test, req->desc->range.len, c->nr * HV_HYP_PAGE_SIZE);
	for (i = 0; i < c->nr; i++) {
		u64 a = c->hvpage[i];

		KUNIT_EXPECT_EQ_MSG(test, req->desc->range.pfn_array[i],
				    page_to_hvpfn(az_fake_page(test, mem, a)) +
				    ((a & ~PAGE_MASK) >> HV_HYP_PAGE_SHIFT),
				    "pfn %u (address %#llx)", i, a);
	}
}

/* ---------------------------------------------------------------------- */
/* The ioctl path: user memory, budgets and what reaches the host */

enum az_ioctl_setup {
	AZ_IOCTL_OK,
	AZ_IOCTL_UARG_NULL,
	AZ_IOCTL_UARG_READ_ONLY,
	AZ_IOCTL_REQUEST_KERNEL,
	AZ_IOCTL_REQUEST_NONE,
	AZ_IOCTL_REQUEST_READ_ONLY,
	AZ_IOCTL_RESPONSE_READ_ONLY,
	AZ_IOCTL_DATA_READ_ONLY,
	AZ_IOCTL_DATA_ABSENT_BAD,
	AZ_IOCTL_RESERVED,
	AZ_IOCTL_TOO_BIG,
	AZ_IOCTL_SEND_EIO,
	AZ_IOCTL_SEND_EAGAIN,
	AZ_IOCTL_SEND_ENODEV,
	AZ_IOCTL_RESP_LEN_EXACT,
	AZ_IOCTL_RESPONSE_PARTIAL,
	AZ_IOCTL_REQUEST_PARTIAL,
};

struct az_ioctl_case {
	const char *name;
	enum az_ioctl_setup setup;
	long err;
	int sends;	/* calls of az_blob_send() */
	int pkts;	/* packets the host accepted */
};

static const struct az_ioctl_case az_ioctl_cases[] = {
	{ "ok", AZ_IOCTL_OK, 0, 1, 1 },
	{ "uarg_null", AZ_IOCTL_UARG_NULL, -EFAULT, 0, 0 },
	{ "uarg_read_only", AZ_IOCTL_UARG_READ_ONLY, -EFAULT, 1, 1 },
	{ "request_kernel_address", AZ_IOCTL_REQUEST_KERNEL, -EFAULT, 0, 0 },
	{ "request_prot_none", AZ_IOCTL_REQUEST_NONE, -EFAULT, 0, 0 },
	{ "request_read_only", AZ_IOCTL_REQUEST_READ_ONLY, 0, 1, 1 },
	{ "response_read_only", AZ_IOCTL_RESPONSE_READ_ONLY, -EFAULT, 0, 0 },
	{ "data_read_only", AZ_IOCTL_DATA_READ_ONLY, -EFAULT, 0, 0 },
	{ "data_absent_bad_address", AZ_IOCTL_DATA_ABSENT_BAD, 0, 1, 1 },
	{ "reserved", AZ_IOCTL_RESERVED, -EINVAL, 0, 0 },
	{ "too_big", AZ_IOCTL_TOO_BIG, -E2BIG, 0, 0 },
	{ "send_eio", AZ_IOCTL_SEND_EIO, -EIO, 1, 0 },
	{ "send_ring_full_retries", AZ_IOCTL_SEND_EAGAIN, 0, 3, 1 },
	{ "send_enodev", AZ_IOCTL_SEND_ENODEV, -ENODEV, 1, 0 },
	{ "response_len_exact", AZ_IOCTL_RESP_LEN_EXACT, 0, 1, 1 },
	{ "response_runs_off_mapping", AZ_IOCTL_RESPONSE_PARTIAL, -EFAULT, 0,
	  0 },
	{ "request_runs_off_mapping", AZ_IOCTL_REQUEST_PARTIAL, -EFAULT, 0,
	  0 },
};

KUNIT_ARRAY_PARAM_DESC(az_ioctl, az_ioctl_cases, name);

static void az_blob_ioctl_test(struct kunit *test)
{
	const struct az_ioctl_case *c = test->param_value;
	struct az_host *host = az_host_probe(test);
	struct az_blob_request_sync r, out;
	unsigned long uarg, ro;
	long ret;

	uarg = az_user_request(test, &r);
	ro = az_user_map(test, PAGE_SIZE, PROT_READ);
	host->mode = AZ_HOST_SYNC;

	switch (c->setup) {
	case AZ_IOCTL_UARG_NULL:
		uarg = 0;
		break;
	case AZ_IOCTL_UARG_READ_ONLY:
		/* Readable: the request runs; the result cannot be stored. */
		uarg = az_user_read_only_copy(test, &r, sizeof(r));
		break;
	case AZ_IOCTL_REQUEST_KERNEL:
		r.request_buffer = (u64)(uintptr_t)host;
		break;
	case AZ_IOCTL_REQUEST_NONE:
		r.request_buffer = az_user_map(test, PAGE_SIZE, PROT_NONE);
		break;
	case AZ_IOCTL_REQUEST_READ_ONLY:
		r.request_buffer = ro + 5;
		break;
	case AZ_IOCTL_RESPONSE_READ_ONLY:
		r.response_buffer = ro + 5;
		break;
	case AZ_IOCTL_DATA_READ_ONLY:
		r.data_buffer = ro;
		break;
	case AZ_IOCTL_DATA_ABSENT_BAD:
		r.data_len = 0;
		r.data_buffer = (u64)(uintptr_t)host;
		break;
	case AZ_IOCTL_RESERVED:
		r.reserved = 1;
		break;
	case AZ_IOCTL_TOO_BIG:
		r.data_len = AZ_BLOB_MAX_PAGES * 4096;
		break;
	case AZ_IOCTL_SEND_EIO:
		host->send_err = -EIO;
		host->fail_sends = 1;
		break;
	case AZ_IOCTL_SEND_EAGAIN:
		host->send_err = -EAGAIN;
		host->fail_sends = 2;
		break;
	case AZ_IOCTL_SEND_ENODEV:
		host->send_err = -ENODEV;
		host->fail_sends = 1;
		break;
	case AZ_IOCTL_RESP_LEN_EXACT:
		r.response_len = AZ_TEST_ECHO_LEN;
		break;
	case AZ_IOCTL_RESPONSE_PARTIAL:
		/* The first page pins, the second is not mapped. */
		r.response_buffer = az_user_hole(test) - 50;
		break;
	case AZ_IOCTL_REQUEST_PARTIAL:
		r.request_buffer = az_user_hole(test) - 50;
		break;
	case AZ_IOCTL_OK:
		break;
	}

	if (uarg && c->setup != AZ_IOCTL_UARG_READ_ONLY)
		az_user_write(test, uarg, &r, sizeof(r));

	ret = az_blob_ioctl_request(host->dev, (void __user *)uarg);
	KUNIT_EXPECT_EQ(test, ret, c->err);
	KUNIT_EXPECT_EQ(test, host->nr_sends, c->sends);
	KUNIT_EXPECT_EQ(test, host->nr_pkts, c->pkts);
	az_expect_idle(test, host->dev);

	if (!uarg)
		return;
	az_user_read(test, uarg, &out, sizeof(out));
	if (!c->err) {
		KUNIT_EXPECT_EQ(test, out.response.status, 0);
		KUNIT_EXPECT_EQ(test, out.response.response_len,
				min_t(u32, r.response_len, AZ_TEST_ECHO_LEN));
	} else if (c->setup != AZ_IOCTL_UARG_READ_ONLY) {
		KUNIT_EXPECT_EQ(test, out.response.status, AZ_TEST_SENTINEL);
		KUNIT_EXPECT_EQ(test, out.response.response_len,
				AZ_TEST_SENTINEL);
	}
}

/* ---------------------------------------------------------------------- */
/* Completion hardening */

struct az_garbage_case {
	const char *name;
	enum az_host_mode mode;
	enum az_garbage garbage;
	u32 status;
	long err;
};

static const struct az_garbage_case az_garbage_cases[] = {
	{ "short_payload", AZ_HOST_GARBAGE, AZ_GARBAGE_SHORT, 0, 0 },
	{ "empty_payload", AZ_HOST_GARBAGE, AZ_GARBAGE_EMPTY, 0, 0 },
	{ "unknown_id", AZ_HOST_GARBAGE, AZ_GARBAGE_UNKNOWN_ID, 0, 0 },
	{ "unissued_id", AZ_HOST_GARBAGE, AZ_GARBAGE_UNISSUED_ID, 0, 0 },
	{ "id_zero", AZ_HOST_GARBAGE, AZ_GARBAGE_ID_ZERO, 0, 0 },
	{ "wrong_type", AZ_HOST_GARBAGE, AZ_GARBAGE_WRONG_TYPE, 0, 0 },
	{ "response_len_over", AZ_HOST_GARBAGE, AZ_GARBAGE_RESP_LEN_OVER, 0,
	  -EPROTO },
	{ "host_status", AZ_HOST_GARBAGE, AZ_GARBAGE_STATUS, 5, 0 },
	{ "duplicate", AZ_HOST_TWICE, 0, 0, 0 },
	{ "late", AZ_HOST_LATE, 0, 0, 0 },
};

KUNIT_ARRAY_PARAM_DESC(az_garbage, az_garbage_cases, name);

static void az_blob_completion_test(struct kunit *test)
{
	const struct az_garbage_case *c = test->param_value;
	int *slab_errors = az_count_slab_errors(test);
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r, out;
	unsigned long uarg;
	long ret;

	uarg = az_user_request(test, &r);
	host->mode = c->mode;
	host->garbage = c->garbage;
	host->status = c->status;

	ret = az_blob_ioctl_request(dev, (void __user *)uarg);
	KUNIT_EXPECT_EQ(test, ret, c->err);
	KUNIT_ASSERT_EQ(test, host->nr_pkts, 1);

	az_user_read(test, uarg, &out, sizeof(out));
	if (c->err) {
		/* Nothing is reported for a request that failed. */
		KUNIT_EXPECT_EQ(test, out.response.status, AZ_TEST_SENTINEL);
		KUNIT_EXPECT_EQ(test, out.response.response_len,
				AZ_TEST_SENTINEL);
		KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.failed), 1);
		KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.completed), 0);
	} else {
		KUNIT_EXPECT_EQ(test, out.response.status, c->status);
		KUNIT_EXPECT_EQ(test, out.response.response_len,
				AZ_TEST_ECHO_LEN);
		KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.failed),
				c->status ? 1 : 0);
		KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.completed),
				c->status ? 0 : 1);
	}

	/* A completion for the freed request is dropped, not used. */
	az_host_complete(dev, host->pkts[0].id, 0, 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.completed) +
			atomic64_read(&dev->stats.failed), 1);
	az_expect_idle(test, dev);

	/* The device still works. */
	host->mode = AZ_HOST_SYNC;
	host->status = 0;
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(dev, (void __user *)uarg),
			0);
	KUNIT_EXPECT_EQ(test, host->nr_pkts, 2);
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, *slab_errors, 0);
}

/* ---------------------------------------------------------------------- */
/* Lifecycle: probe, remove with requests in flight */

/* A caller blocked in the ioctl, in a kthread sharing the test's mm. */
struct az_caller {
	struct kunit *test;
	struct az_blob_dev *dev;
	struct mm_struct *mm;
	unsigned long uarg;
	/* an io_uring command to issue instead of the ioctl */
	struct io_uring_cmd *cmd;
	unsigned int issue_flags;
	long ret;
	struct completion done;
};

static int az_caller_fn(void *data)
{
	struct az_caller *c = data;

	current->kunit_test = c->test;
	kthread_use_mm(c->mm);
	if (c->cmd)
		c->ret = az_blob_uring_cmd(c->cmd, c->issue_flags);
	else
		c->ret = az_blob_ioctl_request(c->dev,
					       (void __user *)c->uarg);
	kthread_unuse_mm(c->mm);
	mmput(c->mm);
	current->kunit_test = NULL;
	complete(&c->done);
	return 0;
}

/* Freed by the test only once the caller is done; leaked if it hangs. */
static void az_caller_free(void *data)
{
	struct az_caller *c = data;

	if (try_wait_for_completion(&c->done))
		kfree(c);
}

static struct az_caller *az_caller_run(struct kunit *test,
				       struct az_blob_dev *dev,
				       unsigned long uarg,
				       struct io_uring_cmd *cmd,
				       unsigned int issue_flags)
{
	struct task_struct *task;
	struct az_caller *c;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	c->dev = dev;
	c->uarg = uarg;
	c->cmd = cmd;
	c->issue_flags = issue_flags;
	c->ret = 1;
	c->mm = current->mm;
	init_completion(&c->done);
	mmget(c->mm);
	task = kthread_run(az_caller_fn, c, "az_blob_kunit");
	if (IS_ERR(task)) {
		mmput(c->mm);
		kfree(c);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	}
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, az_caller_free,
							c), 0);
	return c;
}

/* A caller doing the ioctl on the request at @uarg. */
static struct az_caller *az_caller_start(struct kunit *test,
					 struct az_blob_dev *dev,
					 unsigned long uarg)
{
	return az_caller_run(test, dev, uarg, NULL, 0);
}

static long az_caller_wait(struct kunit *test, struct az_caller *c)
{
	if (!wait_for_completion_timeout(&c->done, AZ_TEST_WAIT)) {
		KUNIT_FAIL(test, "the caller did not return");
		return 1;
	}
	return c->ret;
}

/* Run the channel callback as the VMBus core does: in softirq context. */
static void az_run_callback(struct az_blob_dev *dev)
{
	local_bh_disable();
	az_blob_on_channel_callback(dev);
	local_bh_enable();
}

/*
 * An inbound write index past the end of the ring, read by the VMBus
 * core's own code: the check is the core's (drivers/hv has no KUnit
 * suite, so its test lives here, with a driver to feed). While the index
 * is bad the iterator yields nothing, hv_get_bytes_to_read() and
 * hv_end_read() give 0 (no rescheduled tasklet), and a completion waiting
 * in the ring stays there with its request; once the host puts the index
 * back, the same callback reads it.
 */
static void az_blob_inbound_index_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct hv_ring_buffer_info *rbi = &host->chan.inbound;
	struct az_blob_request_sync r;
	struct az_test_pkt *pkt;
	struct az_caller *c;
	unsigned long uarg;
	u32 len, bad[3];
	int i;

	rbi->ring_buffer = kunit_kzalloc(test, 3 * PAGE_SIZE, GFP_KERNEL);
	rbi->pkt_buffer = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, rbi->ring_buffer);
	KUNIT_ASSERT_NOT_NULL(test, rbi->pkt_buffer);
	rbi->ring_size = 3 * PAGE_SIZE;
	rbi->ring_datasize = rbi->ring_size - sizeof(struct hv_ring_buffer);
	rbi->pkt_buffer_size = PAGE_SIZE;
	rbi->priv_read_index = 0;

	uarg = az_user_request(test, &r);
	host->mode = AZ_HOST_HOLD;
	c = az_caller_start(test, dev, uarg);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 1),
						   AZ_TEST_WAIT));

	/* The completion and its trailer wait in the ring. */
	pkt = (struct az_test_pkt *)rbi->ring_buffer->buffer;
	az_pkt_init(pkt, VM_PKT_COMP, host->pkts[0].id,
		    sizeof(*pkt) - sizeof(pkt->desc), 0, 0);
	len = sizeof(*pkt) + sizeof(u64);

	/* Just at the end, one packet past it, and as far as it goes. */
	bad[0] = rbi->ring_datasize;
	bad[1] = rbi->ring_datasize + len;
	bad[2] = U32_MAX & ~7U;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		rbi->ring_buffer->write_index = bad[i];
		KUNIT_EXPECT_NULL_MSG(test, hv_pkt_iter_first(&host->chan),
				      "write index %u", bad[i]);
		KUNIT_EXPECT_EQ_MSG(test, hv_get_bytes_to_read(rbi), 0,
				    "write index %u", bad[i]);
		KUNIT_EXPECT_EQ_MSG(test, hv_end_read(rbi), 0,
				    "write index %u", bad[i]);

		/* The VMBus core calls back as often as the host signals. */
		az_run_callback(dev);
		az_run_callback(dev);
		KUNIT_EXPECT_EQ(test, rbi->priv_read_index, 0);
		KUNIT_EXPECT_EQ(test, rbi->ring_buffer->read_index, 0);
		KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 1);
		KUNIT_EXPECT_FALSE(test, completion_done(&c->done));
	}

	/* A read index past the end leaves nothing to count either. */
	rbi->ring_buffer->write_index = len;
	rbi->ring_buffer->read_index = rbi->ring_datasize;
	KUNIT_EXPECT_EQ(test, hv_get_bytes_to_read(rbi), 0);
	KUNIT_EXPECT_EQ(test, hv_end_read(rbi), 0);
	rbi->ring_buffer->read_index = 0;

	/* The host puts the index back: the request completes. */
	KUNIT_EXPECT_EQ(test, hv_get_bytes_to_read(rbi), len);
	az_run_callback(dev);
	KUNIT_EXPECT_EQ(test, rbi->ring_buffer->read_index, len);
	KUNIT_EXPECT_EQ(test, hv_end_read(rbi), 0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c), 0);
	az_expect_idle(test, dev);
}

struct az_remove_ctx {
	struct kunit *test;
	unsigned long uarg;
	long ret;
	int sent_before;
	int sent_after;
};

/* A request that arrives while the device is being removed. */
static void az_remove_on_close(struct az_host *host)
{
	struct az_remove_ctx *ctx = host->on_close_ctx;
	struct az_caller *c;

	ctx->sent_before = host->nr_sends;
	c = az_caller_start(ctx->test, host->dev, ctx->uarg);
	ctx->ret = az_caller_wait(ctx->test, c);
	ctx->sent_after = host->nr_sends;
}

static void az_blob_remove_in_flight_test(struct kunit *test)
{
	int *slab_errors = az_count_slab_errors(test);
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_remove_ctx ctx = { .test = test, .ret = 1 };
	struct az_blob_request_sync r, out;
	unsigned long uarg[3];
	struct az_caller *c[2];
	int i;

	for (i = 0; i < 3; i++)
		uarg[i] = az_user_request(test, &r);
	/* Hold an open file's reference: the device outlives remove. */
	az_dev_get(test, dev);

	host->mode = AZ_HOST_HOLD;
	for (i = 0; i < 2; i++)
		c[i] = az_caller_start(test, dev, uarg[i]);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 2),
						   AZ_TEST_WAIT));
	KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 2);
	KUNIT_EXPECT_FALSE(test, completion_done(&c[0]->done));
	KUNIT_EXPECT_FALSE(test, completion_done(&c[1]->done));

	/* The host is gone: removal does not wait for it. */
	host->chan.rescind = true;
	ctx.uarg = uarg[2];
	host->on_close_ctx = &ctx;
	host->on_close = az_remove_on_close;
	az_blob_remove(&host->hdev);
	host->probed = false;

	KUNIT_EXPECT_EQ(test, host->nr_closes, 1);
	KUNIT_EXPECT_EQ(test, ctx.ret, -ENODEV);
	KUNIT_EXPECT_EQ(test, ctx.sent_after, ctx.sent_before);
	for (i = 0; i < 2; i++) {
		KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[i]), -ENODEV);
		az_user_read(test, uarg[i], &out, sizeof(out));
		KUNIT_EXPECT_EQ(test, out.response.status, AZ_TEST_SENTINEL);
	}

	/* Each request freed once: only the test's reference is left. */
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, dev->state, AZ_BLOB_DEV_REMOVED);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kref), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.submitted), 2);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.failed), 2);

	/* A request on the open file after removal. */
	KUNIT_EXPECT_EQ(test,
			az_blob_ioctl_request(dev, (void __user *)uarg[0]),
			-ENODEV);
	KUNIT_EXPECT_EQ(test, host->nr_pkts, 2);
	KUNIT_EXPECT_EQ(test, *slab_errors, 0);
}

/* A caller over the device's bound waits for budget, then proceeds. */
static void az_blob_budget_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r;
	unsigned long uarg[2];
	struct az_caller *c[2];

	uarg[0] = az_user_request(test, &r);
	uarg[1] = az_user_request(test, &r);
	dev->max_in_flight = 1;
	host->mode = AZ_HOST_HOLD;

	c[0] = az_caller_start(test, dev, uarg[0]);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 1),
						   AZ_TEST_WAIT));
	c[1] = az_caller_start(test, dev, uarg[1]);
	/* The second caller runs, and waits without pinning anything. */
	msleep(50);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	KUNIT_EXPECT_FALSE(test, completion_done(&c[1]->done));
	KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 1);
	KUNIT_EXPECT_EQ(test, dev->nr_pinned, 3);

	/* The first completes; the second gets its budget and is sent. */
	az_host_complete(dev, host->pkts[0].id, 0, 0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[0]), 0);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 2),
						   AZ_TEST_WAIT));
	KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 1);
	az_host_complete(dev, host->pkts[1].id, 0, 0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[1]), 0);
	az_expect_idle(test, dev);
}

/* Removal also ends the wait of a caller that has no budget yet. */
static void az_blob_remove_budget_waiter_test(struct kunit *test)
{
	int *slab_errors = az_count_slab_errors(test);
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r;
	unsigned long uarg[2];
	struct az_caller *c[2];

	uarg[0] = az_user_request(test, &r);
	uarg[1] = az_user_request(test, &r);
	az_dev_get(test, dev);
	dev->max_in_flight = 1;
	host->mode = AZ_HOST_HOLD;

	c[0] = az_caller_start(test, dev, uarg[0]);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 1),
						   AZ_TEST_WAIT));
	c[1] = az_caller_start(test, dev, uarg[1]);
	msleep(50);
	KUNIT_EXPECT_FALSE(test, completion_done(&c[1]->done));

	host->chan.rescind = true;
	az_blob_remove(&host->hdev);
	host->probed = false;
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[0]), -ENODEV);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[1]), -ENODEV);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kref), 1);
	KUNIT_EXPECT_EQ(test, *slab_errors, 0);
}

/* Removal gives a live host time to complete what it holds. */
static void az_blob_remove_drains_test(struct kunit *test)
{
	int *slab_errors = az_count_slab_errors(test);
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r, out;
	struct az_caller *c;
	unsigned long uarg;
	unsigned long start;

	uarg = az_user_request(test, &r);
	az_dev_get(test, dev);
	host->mode = AZ_HOST_LATE;
	c = az_caller_start(test, dev, uarg);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 1),
						   AZ_TEST_WAIT));

	start = jiffies;
	az_blob_remove(&host->hdev);
	host->probed = false;
	/* Well inside the drain timeout: it ended with the completion. */
	KUNIT_EXPECT_LT(test, jiffies - start, 5 * HZ);
	KUNIT_EXPECT_TRUE(test, host->pkts[0].completed);
	KUNIT_EXPECT_EQ(test, host->nr_closes, 1);

	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c), 0);
	az_user_read(test, uarg, &out, sizeof(out));
	KUNIT_EXPECT_EQ(test, out.response.status, 0);
	KUNIT_EXPECT_EQ(test, out.response.response_len, AZ_TEST_ECHO_LEN);
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kref), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.completed), 1);
	KUNIT_EXPECT_EQ(test, *slab_errors, 0);
}

/* Device names, and a failed probe leaves nothing behind. */
static void az_blob_probe_test(struct kunit *test)
{
	struct az_host *a, *b, *bad;

	a = az_host_probe(test);
	KUNIT_EXPECT_STREQ(test, a->dev->name, "azure_blob");
	KUNIT_EXPECT_EQ(test, a->dev->state, AZ_BLOB_DEV_OPEN);
	KUNIT_EXPECT_TRUE(test, a->dev->chan_open);
	KUNIT_EXPECT_EQ(test, a->nr_opens, 1);
	KUNIT_EXPECT_EQ(test, a->dev->max_in_flight, 1024);
	/* CPU pages: three of the largest requests at least, 1 GiB at most. */
	KUNIT_EXPECT_GE(test, a->dev->max_pinned, 3UL * AZ_BLOB_MAX_CPU_PAGES);
	KUNIT_EXPECT_LE(test, a->dev->max_pinned, SZ_1G >> PAGE_SHIFT);

	bad = az_host_create(test);
	bad->open_err = -EIO;
	KUNIT_EXPECT_EQ(test, az_blob_probe(&bad->hdev, NULL), -EIO);
	KUNIT_EXPECT_EQ(test, bad->nr_opens, 1);
	KUNIT_EXPECT_EQ(test, bad->nr_closes, 0);

	/* The failed probe gave its id back. */
	b = az_host_probe(test);
	KUNIT_EXPECT_STREQ(test, b->dev->name, "azure_blob1");

	az_blob_remove(&a->hdev);
	a->probed = false;
	KUNIT_EXPECT_EQ(test, a->nr_closes, 1);
	a = az_host_probe(test);
	KUNIT_EXPECT_STREQ(test, a->dev->name, "azure_blob");
}

/* ---------------------------------------------------------------------- */
/* The character device: open files, ioctl commands, sysfs */

/* Open the misc device as misc_open() would, without a device node. */
static struct file *az_file_open(struct kunit *test, struct az_blob_dev *dev)
{
	struct file *file;

	file = kunit_kzalloc(test, sizeof(*file), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, file);
	file->f_op = dev->misc.fops;
	file->private_data = &dev->misc;
	KUNIT_ASSERT_EQ(test, file->f_op->open(NULL, file), 0);
	KUNIT_EXPECT_PTR_EQ(test, file->private_data, (void *)dev);
	return file;
}

static long az_file_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	return file->f_op->unlocked_ioctl(file, cmd, arg);
}

static void az_blob_file_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r, out;
	unsigned long uarg;
	struct file *file;

	uarg = az_user_request(test, &r);
	host->mode = AZ_HOST_SYNC;
	file = az_file_open(test, dev);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kref), 2);

	KUNIT_EXPECT_EQ(test, az_file_ioctl(file,
					    IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
					    uarg), 0);
	az_user_read(test, uarg, &out, sizeof(out));
	KUNIT_EXPECT_EQ(test, out.response.response_len, AZ_TEST_ECHO_LEN);
	/* Other commands, the io_uring one included, are not ioctls. */
	KUNIT_EXPECT_EQ(test, az_file_ioctl(file, AZ_BLOB_URING_CMD_REQUEST,
					    uarg), -ENOTTY);
	KUNIT_EXPECT_EQ(test, az_file_ioctl(file, _IOWR('R', 0xf0, u64), uarg),
			-ENOTTY);
	KUNIT_EXPECT_EQ(test, host->nr_pkts, 1);

	/* The open file keeps the device, not the channel. */
	az_blob_remove(&host->hdev);
	host->probed = false;
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kref), 1);
	KUNIT_EXPECT_EQ(test, az_file_ioctl(file,
					    IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
					    uarg), -ENODEV);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	KUNIT_EXPECT_EQ(test, file->f_op->release(NULL, file), 0);
}

struct az_uring_case {
	const char *name;
	u32 cmd_op;
	unsigned int issue_flags;
	u64 trailer;
	u32 reserved;
	u32 data_len;
	bool no_budget;		/* the device has no budget left */
	bool ro_response;	/* the response buffer is read-only */
	int err;
};

#define AZ_URING_FLAGS	(IO_URING_F_SQE128 | IO_URING_F_CQE32)

static const struct az_uring_case az_uring_cases[] = {
	{ .name = "no_sqe128", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = IO_URING_F_CQE32, .err = -EINVAL },
	{ .name = "no_cqe32", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = IO_URING_F_SQE128, .err = -EINVAL },
	{ .name = "trailer", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = AZ_URING_FLAGS, .trailer = 1, .err = -EINVAL },
	{ .name = "trailer_high_byte", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = AZ_URING_FLAGS, .trailer = 1ULL << 63,
	  .err = -EINVAL },
	{ .name = "reserved", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = AZ_URING_FLAGS, .reserved = 1, .err = -EINVAL },
	{ .name = "too_big", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = AZ_URING_FLAGS,
	  .data_len = AZ_BLOB_MAX_PAGES * 4096, .err = -E2BIG },
	{ .name = "ioctl_command", .cmd_op = IOCTL_AZ_BLOB_DRIVER_USER_REQUEST,
	  .issue_flags = AZ_URING_FLAGS, .err = -ENOTTY },
	{ .name = "nonblock_no_budget", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = AZ_URING_FLAGS | IO_URING_F_NONBLOCK,
	  .no_budget = true, .err = -EAGAIN },
	{ .name = "read_only_response", .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = AZ_URING_FLAGS | IO_URING_F_UNLOCKED,
	  .ro_response = true, .err = -EFAULT },
	{ .name = "nonblock_read_only_response",
	  .cmd_op = AZ_BLOB_URING_CMD_REQUEST,
	  .issue_flags = AZ_URING_FLAGS | IO_URING_F_NONBLOCK,
	  .ro_response = true, .err = -EAGAIN },
};

KUNIT_ARRAY_PARAM_DESC(az_uring, az_uring_cases, name);

/* io_uring commands refused before anything reaches the host. */
static void az_blob_uring_refused_test(struct kunit *test)
{
	const struct az_uring_case *c = test->param_value;
	struct az_host *host = az_host_probe(test);
	struct az_blob_request_sync r, *s;
	struct io_uring_sqe *sqe;
	struct io_uring_cmd *cmd;
	struct file *file;

	az_user_request(test, &r);
	r.reserved = c->reserved;
	if (c->data_len)
		r.data_len = c->data_len;
	if (c->ro_response)
		r.response_buffer = az_user_map(test, PAGE_SIZE, PROT_READ);
	if (c->no_budget)
		host->dev->max_in_flight = 0;
	file = az_file_open(test, host->dev);
	sqe = kunit_kzalloc(test, 2 * sizeof(*sqe), GFP_KERNEL);
	cmd = kunit_kzalloc(test, sizeof(*cmd), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sqe);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	s = (struct az_blob_request_sync *)sqe->cmd;
	*s = r;
	memcpy(s + 1, &c->trailer, sizeof(c->trailer));
	cmd->file = file;
	cmd->sqe = sqe;
	cmd->cmd_op = c->cmd_op;

	KUNIT_EXPECT_EQ(test, file->f_op->uring_cmd(cmd, c->issue_flags),
			c->err);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 0);
	az_expect_idle(test, host->dev);
	KUNIT_EXPECT_EQ(test, file->f_op->release(NULL, file), 0);
}

/* ---------------------------------------------------------------------- */
/* io_uring commands, with the test playing io_uring */

/* Issued from an io-wq worker, and inline from the submitting task. */
#define AZ_URING_IOWQ	(AZ_URING_FLAGS | IO_URING_F_UNLOCKED | \
			 IO_URING_F_IOWQ)
#define AZ_URING_INLINE	(AZ_URING_FLAGS | IO_URING_F_NONBLOCK)

/* A command with its 128-byte SQE, and what the driver did with it. */
struct az_fake_cmd {
	struct io_uring_cmd cmd;
	struct io_uring_sqe sqe[2];
	struct az_host *host;
	spinlock_t lock;	/* everything below */
	int nr_done;
	long ret;
	u64 res2;
	int nr_marked;
	/* az_blob_send() calls, and requests the host had, when marked */
	int sends_at_mark;
	int ready_at_mark;
	void (*tw)(struct io_uring_cmd *cmd, unsigned int issue_flags);
	int nr_tw;
};

static struct az_fake_cmd *az_fake_of(struct io_uring_cmd *cmd)
{
	return container_of(cmd, struct az_fake_cmd, cmd);
}

/* az_blob_cmd_done() stub: io_uring posts the completion. */
static void az_fake_done(struct io_uring_cmd *cmd, ssize_t ret, u64 res2,
			 unsigned int issue_flags)
{
	struct az_fake_cmd *fc = az_fake_of(cmd);

	spin_lock(&fc->lock);
	fc->nr_done++;
	fc->ret = ret;
	fc->res2 = res2;
	spin_unlock(&fc->lock);
	wake_up_all(&fc->host->wq);
}

/* az_blob_cmd_mark_cancelable() stub */
static void az_fake_mark(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct az_fake_cmd *fc = az_fake_of(cmd);
	struct az_host *host = fc->host;

	spin_lock(&host->lock);
	fc->sends_at_mark = host->nr_sends;
	fc->ready_at_mark = host->nr_ready;
	spin_unlock(&host->lock);
	spin_lock(&fc->lock);
	fc->nr_marked++;
	spin_unlock(&fc->lock);
}

/* az_blob_cmd_complete_in_task() stub: io_uring queues the task work. */
static void az_fake_task_work(struct io_uring_cmd *cmd,
			      void (*fn)(struct io_uring_cmd *, unsigned int))
{
	struct az_fake_cmd *fc = az_fake_of(cmd);
	struct az_host *host = fc->host;

	spin_lock(&host->lock);
	if (READ_ONCE(host->in_send))
		host->tw_in_send++;
	spin_unlock(&host->lock);
	spin_lock(&fc->lock);
	fc->tw = fn;
	fc->nr_tw++;
	spin_unlock(&fc->lock);
	wake_up_all(&host->wq);
}

/* The submitting task runs the command's task work. */
static void az_fake_run_task_work(struct kunit *test, struct az_fake_cmd *fc)
{
	void (*fn)(struct io_uring_cmd *cmd, unsigned int issue_flags);

	spin_lock(&fc->lock);
	fn = fc->tw;
	fc->tw = NULL;
	spin_unlock(&fc->lock);
	KUNIT_ASSERT_NOT_NULL(test, fn);
	fn(&fc->cmd, IO_URING_F_COMPLETE_DEFER);
}

static void az_fake_uring(struct kunit *test)
{
	kunit_activate_static_stub(test, az_blob_cmd_done, az_fake_done);
	kunit_activate_static_stub(test, az_blob_cmd_mark_cancelable,
				   az_fake_mark);
	kunit_activate_static_stub(test, az_blob_cmd_complete_in_task,
				   az_fake_task_work);
}

/* A command carrying @r on @file. */
static struct az_fake_cmd *az_fake_cmd(struct kunit *test, struct az_host *host,
				       struct file *file,
				       const struct az_blob_request_sync *r)
{
	struct az_fake_cmd *fc = kunit_kzalloc(test, sizeof(*fc), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, fc);
	memcpy(fc->sqe[0].cmd, r, sizeof(*r));
	fc->cmd.file = file;
	fc->cmd.sqe = fc->sqe;
	fc->cmd.cmd_op = AZ_BLOB_URING_CMD_REQUEST;
	fc->host = host;
	spin_lock_init(&fc->lock);
	return fc;
}

/* A request whose buffers are faulted in, as an inline issue needs. */
static void az_user_request_present(struct kunit *test,
				    struct az_blob_request_sync *r)
{
	az_user_request(test, r);
	az_user_fill(test, r->request_buffer, 'q', r->request_len);
	az_user_fill(test, r->response_buffer, 0, r->response_len);
	az_user_fill(test, r->data_buffer, 0, r->data_len);
}

/* Wait for the work item that frees abandoned requests. */
static void az_wait_freed(struct kunit *test, struct az_blob_dev *dev)
{
	unsigned long end = jiffies + AZ_TEST_WAIT;

	while (READ_ONCE(dev->nr_in_flight) && time_before(jiffies, end))
		usleep_range(5000, 10000);
	KUNIT_EXPECT_EQ(test, READ_ONCE(dev->nr_in_flight), 0);
}

static int az_fake_nr_done(struct az_fake_cmd *fc)
{
	int n;

	spin_lock(&fc->lock);
	n = fc->nr_done;
	spin_unlock(&fc->lock);
	return n;
}

static bool az_fake_tw_queued(struct az_fake_cmd *fc)
{
	bool queued;

	spin_lock(&fc->lock);
	queued = fc->tw;
	spin_unlock(&fc->lock);
	return queued;
}

enum az_window_setup {
	AZ_WINDOW_RING_FULL,	/* the send finds the ring full */
	AZ_WINDOW_SEND_EIO,	/* the send fails */
	AZ_WINDOW_SEND_ENODEV,	/* the channel is rescinded during the send */
	AZ_WINDOW_SENT,		/* the send succeeds, the host holds it */
	AZ_WINDOW_COMPLETED,	/* the host completes it inside the send */
};

struct az_window_case {
	const char *name;
	enum az_window_setup setup;
	bool cancel;		/* io_uring cancels inside the send */
	long ret;		/* the command's one completion */
	int sends;
};

static const struct az_window_case az_window_cases[] = {
	{ "cancel_ring_full", AZ_WINDOW_RING_FULL, true, -ECANCELED, 1 },
	{ "cancel_send_eio", AZ_WINDOW_SEND_EIO, true, -EIO, 1 },
	{ "cancel_send_enodev", AZ_WINDOW_SEND_ENODEV, true, -ENODEV, 1 },
	{ "cancel_sent", AZ_WINDOW_SENT, true, -ECANCELED, 1 },
	{ "cancel_completed", AZ_WINDOW_COMPLETED, true, 0, 1 },
	{ "completed_in_send", AZ_WINDOW_COMPLETED, false, 0, 1 },
	{ "ring_full_retried", AZ_WINDOW_RING_FULL, false, 0, 2 },
};

KUNIT_ARRAY_PARAM_DESC(az_window, az_window_cases, name);

/*
 * A command issued from an io-wq worker, with io_uring's cancellation and
 * the host's completion inside the window of its send. Whatever the order,
 * the command completes exactly once, no task work is queued while the
 * issuer may still touch the request, and nothing stays pinned or
 * reserved: a cancelled command that the host holds is abandoned to it
 * and freed when it completes.
 */
static void az_blob_uring_window_test(struct kunit *test)
{
	const struct az_window_case *c = test->param_value;
	int *slab_errors = az_count_slab_errors(test);
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r;
	struct az_fake_cmd *fc;
	struct file *file;

	az_fake_uring(test);
	az_user_request(test, &r);
	file = az_file_open(test, dev);
	fc = az_fake_cmd(test, host, file, &r);
	if (c->cancel)
		host->cancel_in_send = &fc->cmd;
	host->mode = AZ_HOST_HOLD;
	switch (c->setup) {
	case AZ_WINDOW_RING_FULL:
		host->mode = AZ_HOST_SYNC;
		host->send_err = -EAGAIN;
		host->fail_sends = 1;
		break;
	case AZ_WINDOW_SEND_EIO:
		host->send_err = -EIO;
		host->fail_sends = 1;
		break;
	case AZ_WINDOW_SEND_ENODEV:
		host->send_err = -ENODEV;
		host->fail_sends = 1;
		break;
	case AZ_WINDOW_SENT:
		break;
	case AZ_WINDOW_COMPLETED:
		host->mode = AZ_HOST_SYNC;
		break;
	}

	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, AZ_URING_IOWQ),
			-EIOCBQUEUED);
	host->cancel_in_send = NULL;
	KUNIT_EXPECT_EQ(test, host->nr_sends, c->sends);
	/* Cancelable before it was sent, since the host may complete it. */
	KUNIT_EXPECT_EQ(test, fc->nr_marked, 1);
	KUNIT_EXPECT_EQ(test, fc->sends_at_mark, 0);
	KUNIT_EXPECT_EQ(test, host->tw_in_send, 0);

	if (c->setup == AZ_WINDOW_SENT) {
		/* Abandoned to the host, which completes it later. */
		KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 1);
		KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 1);
		az_host_complete(dev, host->pkts[0].id, 0, 0);
		az_wait_freed(test, dev);
		KUNIT_EXPECT_FALSE(test, az_fake_tw_queued(fc));
	} else if (!c->ret) {
		/* Completed through its task work, after the send. */
		KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 0);
		KUNIT_ASSERT_TRUE(test, az_fake_tw_queued(fc));
		az_fake_run_task_work(test, fc);
	}
	KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 1);
	KUNIT_EXPECT_EQ(test, fc->ret, c->ret);
	if (!c->ret)
		KUNIT_EXPECT_EQ(test, fc->res2,
				(u64)min_t(u32, r.response_len,
					   AZ_TEST_ECHO_LEN) << 32);
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, file->f_op->release(NULL, file), 0);
	KUNIT_EXPECT_EQ(test, *slab_errors, 0);
}

/*
 * Issued inline, a command never sleeps: a full ring, an empty budget or
 * pages that are not faulted in send it back with -EAGAIN (io_uring then
 * issues it from io-wq), with nothing held and nothing marked. Once the
 * host has it, it is cancelable.
 */
static void az_blob_uring_inline_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r, cold;
	struct az_fake_cmd *fc;
	struct file *file;

	az_fake_uring(test);
	az_user_request_present(test, &r);
	file = az_file_open(test, dev);
	host->mode = AZ_HOST_HOLD;

	/* The ring is full. */
	fc = az_fake_cmd(test, host, file, &r);
	host->send_err = -EAGAIN;
	host->fail_sends = 1;
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, AZ_URING_INLINE),
			-EAGAIN);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	KUNIT_EXPECT_EQ(test, fc->nr_marked, 0);
	KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.ring_full_waits), 0);
	az_expect_idle(test, dev);

	/* Pages never touched: pinning would fault them in. */
	az_user_request(test, &cold);
	fc = az_fake_cmd(test, host, file, &cold);
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, AZ_URING_INLINE),
			-EAGAIN);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	az_expect_idle(test, dev);
	/* From io-wq the same command faults them in and is sent. */
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, AZ_URING_IOWQ),
			-EIOCBQUEUED);
	KUNIT_EXPECT_EQ(test, host->nr_ready, 1);
	az_host_complete(dev, host->pkts[0].id, 0, 0);
	az_fake_run_task_work(test, fc);
	KUNIT_EXPECT_EQ(test, fc->ret, 0);

	/* Sent inline: marked cancelable once the host had it. */
	fc = az_fake_cmd(test, host, file, &r);
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, AZ_URING_INLINE),
			-EIOCBQUEUED);
	KUNIT_EXPECT_EQ(test, fc->nr_marked, 1);
	KUNIT_EXPECT_EQ(test, fc->ready_at_mark, 2);
	/* The ring goes away: cancelled at once, freed after the host. */
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, IO_URING_F_CANCEL),
			0);
	KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 1);
	KUNIT_EXPECT_EQ(test, fc->ret, -ECANCELED);
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, IO_URING_F_CANCEL),
			0);
	KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 1);
	az_host_complete(dev, host->pkts[1].id, 0, 0);
	az_wait_freed(test, dev);
	KUNIT_EXPECT_FALSE(test, az_fake_tw_queued(fc));

	/* No budget. */
	dev->max_in_flight = 0;
	fc = az_fake_cmd(test, host, file, &r);
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, AZ_URING_INLINE),
			-EAGAIN);
	dev->max_in_flight = 1024;
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, file->f_op->release(NULL, file), 0);
}

/* Ring bytes the packet of a request of @nr_hvpages pages takes. */
static u32 az_ring_need(u32 nr_hvpages)
{
	return ALIGN(struct_size_t(struct vmbus_packet_mpb_array,
				   range.pfn_array, nr_hvpages) +
		     sizeof(struct az_blob_vsp_request), 8) + sizeof(u64);
}

/* An inbound ring with nothing in it, for the channel callback. */
static void az_host_empty_inbound(struct kunit *test, struct az_host *host)
{
	struct hv_ring_buffer_info *rbi = &host->chan.inbound;

	rbi->ring_buffer = kunit_kzalloc(test, 3 * PAGE_SIZE, GFP_KERNEL);
	rbi->pkt_buffer = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, rbi->ring_buffer);
	KUNIT_ASSERT_NOT_NULL(test, rbi->pkt_buffer);
	rbi->ring_size = 3 * PAGE_SIZE;
	rbi->ring_datasize = rbi->ring_size - sizeof(struct hv_ring_buffer);
	rbi->pkt_buffer_size = PAGE_SIZE;
}

/*
 * A full ring: the request waits, asking the host to interrupt when its
 * packet fits, and a later, smaller request that would fit waits behind it
 * instead of overtaking it. When the host makes room (the channel
 * callback), both are sent, in the order they came.
 */
static void az_blob_ring_full_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync big, small;
	unsigned long ubig, usmall;
	struct az_caller *c[2];
	u32 need_big, need_small;

	az_host_empty_inbound(test, host);
	ubig = az_user_request(test, &big);
	usmall = az_user_request(test, &small);
	/* 100 KiB of data: 27 Hyper-V pages in all, against 3. */
	big.data_buffer = az_user_map(test, 25 * HV_HYP_PAGE_SIZE,
				      PROT_READ | PROT_WRITE);
	big.data_len = 100 * 1024;
	az_user_write(test, ubig, &big, sizeof(big));
	need_big = az_ring_need(27);
	need_small = az_ring_need(3);

	host->mode = AZ_HOST_SYNC;
	host->ring_space = need_small + 1;
	host->send_err = -EAGAIN;
	host->fail_sends = 1;
	c[0] = az_caller_start(test, dev, ubig);
	KUNIT_ASSERT_TRUE(test,
			  wait_event_timeout(host->wq,
					     READ_ONCE(host->notify_bytes),
					     AZ_TEST_WAIT));
	KUNIT_EXPECT_EQ(test, dev->ring_wait_need, need_big);
	KUNIT_EXPECT_EQ(test, host->notify_bytes, need_big);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.ring_full_waits), 1);

	c[1] = az_caller_start(test, dev, usmall);
	msleep(50);
	/* Neither was sent again; the small one waits in line. */
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	KUNIT_EXPECT_FALSE(test, completion_done(&c[0]->done));
	KUNIT_EXPECT_FALSE(test, completion_done(&c[1]->done));
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.ring_full_waits), 2);
	KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 2);

	/* An interrupt without room for the first changes nothing. */
	az_run_callback(dev);
	msleep(20);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);

	/* The host made room. */
	WRITE_ONCE(host->ring_space, SZ_1M);
	az_run_callback(dev);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[0]), 0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[1]), 0);
	KUNIT_ASSERT_EQ(test, host->nr_pkts, 2);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(host->pkts[0].msg.data_buffer_length),
			big.data_len);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(host->pkts[1].msg.data_buffer_length),
			small.data_len);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 3);
	/* The line is empty: the host is asked for nothing. */
	KUNIT_EXPECT_EQ(test, dev->ring_wait_need, 0);
	KUNIT_EXPECT_EQ(test, host->notify_bytes, 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&dev->ring_waiters));
	az_expect_idle(test, dev);
}

/*
 * Waiting for room ends with the command: an io-wq issuer waiting in line
 * is cancelled by io_uring and completes the command once with -ECANCELED;
 * an ioctl waiting in line when the device is removed fails with -ENODEV.
 */
static void az_blob_ring_wait_cancel_test(struct kunit *test)
{
	int *slab_errors = az_count_slab_errors(test);
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r;
	struct az_caller *c[2];
	struct az_fake_cmd *fc;
	unsigned long uarg;
	struct file *file;

	az_fake_uring(test);
	uarg = az_user_request(test, &r);
	file = az_file_open(test, dev);
	fc = az_fake_cmd(test, host, file, &r);
	az_dev_get(test, dev);
	host->mode = AZ_HOST_SYNC;
	host->ring_space = 0;
	host->send_err = -EAGAIN;
	host->fail_sends = 1;

	c[0] = az_caller_run(test, dev, 0, &fc->cmd, AZ_URING_IOWQ);
	KUNIT_ASSERT_TRUE(test,
			  wait_event_timeout(host->wq,
					     READ_ONCE(host->notify_bytes),
					     AZ_TEST_WAIT));
	c[1] = az_caller_start(test, dev, uarg);
	msleep(50);
	KUNIT_EXPECT_EQ(test, atomic64_read(&dev->stats.ring_full_waits), 2);

	/* The ring goes away while the io-wq issuer waits for room. */
	KUNIT_EXPECT_EQ(test, az_blob_uring_cmd(&fc->cmd, IO_URING_F_CANCEL),
			0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[0]), -EIOCBQUEUED);
	KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 1);
	KUNIT_EXPECT_EQ(test, fc->ret, -ECANCELED);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);

	/* The ioctl behind it is first now; then the device goes. */
	msleep(20);
	KUNIT_EXPECT_FALSE(test, completion_done(&c[1]->done));
	host->chan.rescind = true;
	az_blob_remove(&host->hdev);
	host->probed = false;
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[1]), -ENODEV);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	KUNIT_EXPECT_TRUE(test, list_empty(&dev->ring_waiters));
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, az_fake_nr_done(fc), 1);
	KUNIT_EXPECT_EQ(test, file->f_op->release(NULL, file), 0);
	KUNIT_EXPECT_EQ(test, *slab_errors, 0);
}

/*
 * Suspend never abandons a request: while the host holds one past the
 * drain time, suspend fails with -EBUSY and the device takes requests
 * again; once the host is done, suspend and resume work.
 */
static void az_blob_suspend_busy_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r;
	unsigned long uarg[2];
	struct az_caller *c;

	uarg[0] = az_user_request(test, &r);
	uarg[1] = az_user_request(test, &r);
	dev->drain_timeout = HZ / 10;
	host->mode = AZ_HOST_HOLD;
	c = az_caller_start(test, dev, uarg[0]);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 1),
						   AZ_TEST_WAIT));

	KUNIT_EXPECT_EQ(test, az_blob_suspend(&host->hdev), -EBUSY);
	KUNIT_EXPECT_EQ(test, host->nr_closes, 0);
	KUNIT_EXPECT_EQ(test, dev->state, AZ_BLOB_DEV_OPEN);
	KUNIT_EXPECT_FALSE(test, completion_done(&c->done));

	host->mode = AZ_HOST_SYNC;
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(dev,
						    (void __user *)uarg[1]), 0);
	az_host_complete(dev, host->pkts[0].id, 0, 0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c), 0);

	KUNIT_EXPECT_EQ(test, az_blob_suspend(&host->hdev), 0);
	KUNIT_EXPECT_EQ(test, host->nr_closes, 1);
	KUNIT_EXPECT_EQ(test, az_blob_resume(&host->hdev), 0);
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(dev,
						    (void __user *)uarg[1]), 0);
	az_expect_idle(test, dev);
}

/*
 * Removal with a live host that does not complete in time: the channel is
 * closed and the caller gets -ENODEV, but the pages the host may still
 * write stay pinned.
 */
static void az_blob_remove_keeps_pages_test(struct kunit *test)
{
	int *slab_errors = az_count_slab_errors(test);
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct page *pages[AZ_BLOB_INLINE_PAGES];
	struct az_blob_request_sync r;
	struct az_caller *c;
	unsigned long uarg;
	u32 i, nr;

	uarg = az_user_request(test, &r);
	az_dev_get(test, dev);
	dev->drain_timeout = HZ / 10;
	host->mode = AZ_HOST_HOLD;
	c = az_caller_start(test, dev, uarg);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 1),
						   AZ_TEST_WAIT));
	nr = host->pkts[0].req->nr_pages;
	KUNIT_ASSERT_LE(test, nr, ARRAY_SIZE(pages));
	memcpy(pages, host->pkts[0].req->pages, nr * sizeof(pages[0]));

	az_blob_remove(&host->hdev);
	host->probed = false;
	KUNIT_EXPECT_EQ(test, host->nr_closes, 1);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c), -ENODEV);
	az_expect_idle(test, dev);
	KUNIT_EXPECT_EQ(test, kref_read(&dev->kref), 1);
	for (i = 0; i < nr; i++) {
		/* The zero page (an untouched request buffer) is not pinned. */
		if (is_zero_page(pages[i]))
			continue;
		KUNIT_EXPECT_TRUE_MSG(test,
				      folio_maybe_dma_pinned(page_folio(pages[i])),
				      "page %u unpinned", i);
	}
	/* The host of this test is done with them. */
	unpin_user_pages(pages, nr);
	KUNIT_EXPECT_EQ(test, *slab_errors, 0);
}

static const struct attribute *az_sysfs_attr(struct az_blob_dev *dev,
					     const char *name)
{
	const struct attribute_group *const *g;
	struct attribute *const *a;

	for (g = dev->misc.groups; g && *g; g++)
		for (a = (*g)->attrs; *a; a++)
			if (!strcmp((*a)->name, name))
				return *a;
	return NULL;
}

static void az_expect_sysfs(struct kunit *test, struct az_blob_dev *dev,
			    const char *name, const char *value)
{
	const struct attribute *attr = az_sysfs_attr(dev, name);
	struct device_attribute *da;
	char *buf;

	KUNIT_ASSERT_NOT_NULL_MSG(test, attr, "no attribute %s", name);
	KUNIT_EXPECT_EQ(test, attr->mode, 0444);
	da = container_of(attr, struct device_attribute, attr);
	buf = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_EXPECT_GT(test, da->show(dev->misc.this_device, da, buf), 0);
	KUNIT_EXPECT_STREQ_MSG(test, buf, value, "attribute %s", name);
}

static void az_blob_sysfs_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync r;
	unsigned long uarg;
	char buf[32];

	uarg = az_user_request(test, &r);
	host->mode = AZ_HOST_SYNC;
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(dev, (void __user *)uarg),
			0);
	host->status = 9;
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(dev, (void __user *)uarg),
			0);

	az_expect_sysfs(test, dev, "submitted", "2\n");
	az_expect_sysfs(test, dev, "completed", "1\n");
	az_expect_sysfs(test, dev, "failed", "1\n");
	snprintf(buf, sizeof(buf), "%u\n",
		 2 * (r.request_len + r.response_len + r.data_len));
	az_expect_sysfs(test, dev, "bytes", buf);
	az_expect_sysfs(test, dev, "in_flight", "0\n");
	az_expect_sysfs(test, dev, "pinned_pages", "0\n");
	az_expect_sysfs(test, dev, "max_in_flight", "1024\n");
	snprintf(buf, sizeof(buf), "%lu\n", dev->max_pinned);
	az_expect_sysfs(test, dev, "max_pinned_pages", buf);
	KUNIT_EXPECT_EQ(test, dev->misc.mode, 0600);
	KUNIT_EXPECT_PTR_EQ(test, dev->misc.this_device->parent,
			    &host->hdev.device);
}

/* ---------------------------------------------------------------------- */
/* CPU pages and Hyper-V pages */

/*
 * The request of the most CPU pages, AZ_BLOB_MAX_CPU_PAGES, from @base, a
 * CPU page boundary. With r Hyper-V pages in a CPU page: the data starts
 * at the last Hyper-V page of a CPU page and spans h Hyper-V pages, the
 * most that leaves four for the others with h - 2 a multiple of r, so that
 * its last CPU page holds only one of them; the request and the response
 * are two bytes across the end of a CPU page (two Hyper-V pages, two CPU
 * pages). Returns h. The layout takes AZ_LARGEST_SPAN CPU pages from
 * @base, the last one free for the ioctl argument.
 */
#define AZ_LARGEST_HVPAGES \
	(AZ_BLOB_MAX_PAGES - 4 - (AZ_BLOB_MAX_PAGES - 6) % AZ_BLOB_HVPAGES_PER_PAGE)
#define AZ_LARGEST_SPAN \
	((AZ_LARGEST_HVPAGES - 2) / AZ_BLOB_HVPAGES_PER_PAGE + 7)

static u32 az_largest_request(struct az_blob_request_sync *r, u64 base)
{
	u32 h = AZ_LARGEST_HVPAGES;
	/* CPU pages of the data: its first one, and one per r after it. */
	u64 after = (h - 2) / AZ_BLOB_HVPAGES_PER_PAGE + 2;

	memset(r, 0, sizeof(*r));
	r->data_buffer = base + PAGE_SIZE - HV_HYP_PAGE_SIZE;
	r->data_len = h * HV_HYP_PAGE_SIZE;
	r->request_buffer = base + (after + 1) * PAGE_SIZE - 1;
	r->request_len = 2;
	r->response_buffer = base + (after + 3) * PAGE_SIZE - 1;
	r->response_len = 2;
	r->timeout = 1000;
	return h;
}

/* The bound on one request's CPU pages is reached, and never passed. */
static void az_blob_cpu_pages_bound_test(struct kunit *test)
{
	const u64 per = AZ_BLOB_HVPAGES_PER_PAGE;
	struct az_blob_request_sync r;
	struct az_blob_req *req;
	struct rnd_state rnd;
	u32 h, i, n, accepted = 0, most = 0;

	req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req);

	/* 8192 with 4 KiB pages (as many as Hyper-V pages), 517 with 64. */
	if (PAGE_SIZE == HV_HYP_PAGE_SIZE)
		KUNIT_EXPECT_EQ(test, AZ_BLOB_MAX_CPU_PAGES, AZ_BLOB_MAX_PAGES);
	if (PAGE_SIZE == SZ_64K)
		KUNIT_EXPECT_EQ(test, AZ_BLOB_MAX_CPU_PAGES, 517);

	h = az_largest_request(&r, SZ_256M);
	KUNIT_ASSERT_EQ(test, az_blob_validate(&r), 0);
	az_blob_req_init(req, &r);
	KUNIT_EXPECT_EQ(test, req->nr_hvpages, h + 4);
	KUNIT_EXPECT_LE(test, req->nr_hvpages, AZ_BLOB_MAX_PAGES);
	KUNIT_EXPECT_EQ(test, req->nr_pages, AZ_BLOB_MAX_CPU_PAGES);
	KUNIT_EXPECT_EQ(test, req->bufs[AZ_BLOB_BUF_REQUEST].nr_pages, 2);
	KUNIT_EXPECT_EQ(test, req->bufs[AZ_BLOB_BUF_RESPONSE].nr_pages, 2);

	/* Buffers anywhere in CPU pages, many near the Hyper-V page bound. */
	prandom_seed_state(&rnd, 0x61a2b10b);
	for (i = 0; i < 4000; i++) {
		u32 hreq = 1 + prandom_u32_state(&rnd) % 64;
		u32 hresp = 1 + prandom_u32_state(&rnd) % 64;
		u32 hdata = AZ_BLOB_MAX_PAGES - hreq - hresp;

		if (i & 1)
			hdata = prandom_u32_state(&rnd) % hdata;
		else
			hdata -= prandom_u32_state(&rnd) % 4;
		memset(&r, 0, sizeof(r));
		r.request_buffer = SZ_1M + prandom_u32_state(&rnd) % PAGE_SIZE;
		r.response_buffer = SZ_2M + prandom_u32_state(&rnd) % PAGE_SIZE;
		r.data_buffer = SZ_256M + prandom_u32_state(&rnd) % PAGE_SIZE;
		r.request_len = (hreq - 1) * HV_HYP_PAGE_SIZE + 1 +
				prandom_u32_state(&rnd) % HV_HYP_PAGE_SIZE;
		r.response_len = (hresp - 1) * HV_HYP_PAGE_SIZE + 1 +
				 prandom_u32_state(&rnd) % HV_HYP_PAGE_SIZE;
		r.data_len = hdata ? (hdata - 1) * HV_HYP_PAGE_SIZE + 1 +
			     prandom_u32_state(&rnd) % HV_HYP_PAGE_SIZE : 0;
		if (az_blob_validate(&r))
			continue;
		memset(req, 0, sizeof(*req));
		az_blob_req_init(req, &r);
		accepted++;
		most = max(most, req->nr_pages);
		KUNIT_EXPECT_LE(test, req->nr_hvpages, AZ_BLOB_MAX_PAGES);
		KUNIT_EXPECT_LE(test, req->nr_pages, AZ_BLOB_MAX_CPU_PAGES);
		for (n = 0; n < AZ_BLOB_NR_BUFS; n++) {
			const struct az_blob_buf *b = &req->bufs[n];

			KUNIT_EXPECT_EQ(test, b->nr_pages,
					az_ref_cpu_pages(b->uaddr, b->len));
			KUNIT_EXPECT_GE(test, (u64)b->nr_pages,
					DIV_ROUND_UP((u64)b->nr_hvpages, per));
			KUNIT_EXPECT_LE(test, b->nr_pages, b->nr_hvpages);
		}
	}
	/* Most were in bounds; none needed more CPU pages than the bound. */
	KUNIT_EXPECT_GT(test, accepted, 2500);
	kunit_info(test, "%u requests in bounds, at most %u of %lu CPU pages\n",
		   accepted, most, AZ_BLOB_MAX_CPU_PAGES);
}

/*
 * The Hyper-V pages and the CPU pages the driver counted for each buffer
 * of a sent packet, against what the case expects (az_expect_cpu_pages()).
 */
static void az_expect_pkt_bufs(struct kunit *test,
			       const struct az_host_pkt *p,
			       const struct az_blob_request_sync *r,
			       const u32 hv[AZ_BLOB_NR_BUFS],
			       const u32 p64k[AZ_BLOB_NR_BUFS])
{
	const u64 a[AZ_BLOB_NR_BUFS] = { r->data_buffer, r->request_buffer,
					 r->response_buffer };
	const u32 l[AZ_BLOB_NR_BUFS] = { r->data_len, r->request_len,
					 r->response_len };
	int i;

	for (i = 0; i < AZ_BLOB_NR_BUFS; i++) {
		KUNIT_EXPECT_EQ_MSG(test, p->buf_hvpages[i], hv[i],
				    "buffer %d", i);
		KUNIT_EXPECT_EQ_MSG(test, p->buf_pages[i],
				    az_expect_cpu_pages(hv[i], p64k[i], a[i],
							l[i]),
				    "buffer %d", i);
	}
}

/*
 * Exactly AZ_BLOB_MAX_PAGES Hyper-V pages, from buffers that start inside
 * a 64 KiB page, go to the host through real pinned memory; one byte more
 * is refused before anything is pinned. The bound is the same whatever
 * PAGE_SIZE is; the CPU pages pinned for it are not.
 */
static void az_blob_max_pages_ioctl_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	const u32 hv[AZ_BLOB_NR_BUFS] = { AZ_BLOB_MAX_PAGES - 2, 1, 1 };
	const u32 p64k[AZ_BLOB_NR_BUFS] = { 513, 1, 1 };
	struct az_blob_request_sync r = { }, out;
	unsigned long base, uarg;
	struct az_host_pkt *p;

	base = az_user_map(test, ALIGN(8206 * HV_HYP_PAGE_SIZE, PAGE_SIZE),
			   PROT_READ | PROT_WRITE);
	/* Hyper-V pages 9-8198, 8200 and 8201 of the mapping. */
	r.data_buffer = base + 9 * HV_HYP_PAGE_SIZE + 100;
	r.data_len = (AZ_BLOB_MAX_PAGES - 2) * HV_HYP_PAGE_SIZE - 100;
	r.request_buffer = base + 8200 * HV_HYP_PAGE_SIZE + 5;
	r.request_len = 10;
	r.response_buffer = base + 8201 * HV_HYP_PAGE_SIZE + 4095;
	r.response_len = 1;
	uarg = base + 8204 * HV_HYP_PAGE_SIZE + 64;
	az_user_write(test, uarg, &r, sizeof(r));

	host->mode = AZ_HOST_SYNC;
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(dev, (void __user *)uarg),
			0);
	KUNIT_ASSERT_EQ(test, host->nr_pkts, 1);
	p = &host->pkts[0];
	KUNIT_EXPECT_EQ(test, p->nr_hvpages, AZ_BLOB_MAX_PAGES);
	KUNIT_EXPECT_EQ(test, p->desc->range.len,
			AZ_BLOB_MAX_PAGES * HV_HYP_PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, p->desc_size,
			struct_size(p->desc, range.pfn_array,
				    AZ_BLOB_MAX_PAGES));
	az_expect_pkt_bufs(test, p, &r, hv, p64k);
	/* The budget was charged the CPU pages. */
	KUNIT_EXPECT_EQ(test, p->dev_pinned, p->nr_pages);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(p->msg.request_buffer_offset),
			(AZ_BLOB_MAX_PAGES - 2) * HV_HYP_PAGE_SIZE + 5);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(p->msg.response_buffer_offset),
			(AZ_BLOB_MAX_PAGES - 1) * HV_HYP_PAGE_SIZE + 4095);
	az_user_read(test, uarg, &out, sizeof(out));
	KUNIT_EXPECT_EQ(test, out.response.response_len, 1);
	az_expect_idle(test, dev);

	/* One byte more of data is one Hyper-V page more. */
	r.data_len++;
	az_user_write(test, uarg, &r, sizeof(r));
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(dev, (void __user *)uarg),
			-E2BIG);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	az_expect_idle(test, dev);
}

/*
 * Buffers starting inside 64 KiB pages, on real pinned memory: the host
 * reads the request and the data and writes the response through the
 * PFNs, each the first Hyper-V PFN of its CPU page plus the index of the
 * Hyper-V page inside it; each buffer counts CPU pages for the pins and
 * Hyper-V pages for the packet.
 */
static void az_blob_hvpage_pfns_test(struct kunit *test)
{
	/* Hyper-V pages 5-8, 15-16 and 30-33 of the mapping. */
	static const u32 hvpage[] = { 5, 6, 7, 8, 15, 16, 30, 31, 32, 33 };
	const u32 hv[AZ_BLOB_NR_BUFS] = { 4, 2, 4 };
	const u32 p64k[AZ_BLOB_NR_BUFS] = { 1, 2, 2 };
	const u32 map_len = 3 * SZ_64K;
	struct az_host *host = az_host_probe(test);
	struct az_blob_request_sync r = { }, out;
	u32 nr_cpu = map_len / PAGE_SIZE;
	u8 *req_bytes, *data_bytes, *resp;
	unsigned long base, uarg;
	struct az_host_pkt *p;
	struct page **pages;
	const u64 *pfn;
	int i, n;

	base = az_user_map(test, map_len, PROT_READ | PROT_WRITE);
	r.data_buffer = base + 5 * HV_HYP_PAGE_SIZE + 0x123;
	r.data_len = 3 * HV_HYP_PAGE_SIZE;
	r.data_valid = r.data_len;
	r.request_buffer = base + 15 * HV_HYP_PAGE_SIZE + 4000;
	r.request_len = 200;
	r.response_buffer = base + 30 * HV_HYP_PAGE_SIZE + 8;
	r.response_len = 3 * HV_HYP_PAGE_SIZE;
	uarg = base + 40 * HV_HYP_PAGE_SIZE + 64;
	az_user_write(test, uarg, &r, sizeof(r));

	req_bytes = kunit_kmalloc(test, r.request_len, GFP_KERNEL);
	data_bytes = kunit_kmalloc(test, r.data_len, GFP_KERNEL);
	resp = kunit_kmalloc(test, r.response_len, GFP_KERNEL);
	pages = kunit_kcalloc(test, nr_cpu, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req_bytes);
	KUNIT_ASSERT_NOT_NULL(test, data_bytes);
	KUNIT_ASSERT_NOT_NULL(test, resp);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	for (i = 0; i < r.request_len; i++)
		req_bytes[i] = i * 3 + 1;
	for (i = 0; i < r.data_len; i++)
		data_bytes[i] = i ^ (i >> 8);
	az_user_write(test, r.request_buffer, req_bytes, r.request_len);
	az_user_write(test, r.data_buffer, data_bytes, r.data_len);
	az_user_fill(test, r.response_buffer, 0xee, r.response_len);
	/* Fault the pages in and hold them, so their PFNs cannot change. */
	n = get_user_pages_fast(base, nr_cpu, FOLL_WRITE, pages);
	KUNIT_ASSERT_EQ(test, n, nr_cpu);

	host->mode = AZ_HOST_SYNC;
	host->expect_request = req_bytes;
	host->expect_data = data_bytes;
	KUNIT_EXPECT_EQ(test, az_blob_ioctl_request(host->dev,
						    (void __user *)uarg), 0);
	KUNIT_ASSERT_EQ(test, host->nr_pkts, 1);
	p = &host->pkts[0];
	KUNIT_EXPECT_TRUE(test, p->request_ok);
	KUNIT_EXPECT_TRUE(test, p->data_ok);

	KUNIT_ASSERT_EQ(test, p->nr_hvpages, ARRAY_SIZE(hvpage));
	pfn = p->desc->range.pfn_array;
	for (i = 0; i < ARRAY_SIZE(hvpage); i++)
		KUNIT_EXPECT_EQ_MSG(test, pfn[i],
				    az_user_hvpfn(pages, base,
						  base + hvpage[i] *
						  HV_HYP_PAGE_SIZE),
				    "pfn %d", i);
	az_expect_pkt_bufs(test, p, &r, hv, p64k);
	KUNIT_EXPECT_EQ(test, p->dev_pinned, p->nr_pages);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(p->msg.data_buffer_offset), 0x123);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(p->msg.request_buffer_offset),
			4 * HV_HYP_PAGE_SIZE + 4000);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(p->msg.response_buffer_offset),
			6 * HV_HYP_PAGE_SIZE + 8);

	/* What the host wrote through the PFNs is where the caller put it. */
	az_user_read(test, uarg, &out, sizeof(out));
	KUNIT_EXPECT_EQ(test, out.response.response_len, AZ_TEST_ECHO_LEN);
	az_user_read(test, r.response_buffer, resp, r.response_len);
	for (i = 0; i < r.response_len; i++)
		if (resp[i] != (i < AZ_TEST_ECHO_LEN ? az_echo_byte(i) : 0xee))
			break;
	KUNIT_EXPECT_EQ_MSG(test, i, r.response_len, "response byte %d wrong",
			    i);
	for (i = 0; i < n; i++)
		put_page(pages[i]);
	az_expect_idle(test, host->dev);
}

/*
 * The pin budget counts CPU pages: a device bounded to exactly the largest
 * request admits it, charges it its CPU pages (pinned_pages), and lets the
 * next request wait until it is done.
 */
static void az_blob_pin_budget_cpu_pages_test(struct kunit *test)
{
	struct az_host *host = az_host_probe(test);
	struct az_blob_dev *dev = host->dev;
	struct az_blob_request_sync big, small;
	unsigned long base, ubig, usmall;
	struct az_host_pkt *p;
	struct az_caller *c[2];
	char buf[32];
	u32 h;

	base = az_user_map(test, AZ_LARGEST_SPAN * PAGE_SIZE,
			   PROT_READ | PROT_WRITE);
	h = az_largest_request(&big, base);
	ubig = base + (AZ_LARGEST_SPAN - 1) * PAGE_SIZE;
	az_user_write(test, ubig, &big, sizeof(big));
	usmall = az_user_request(test, &small);

	dev->max_pinned = AZ_BLOB_MAX_CPU_PAGES;
	host->mode = AZ_HOST_HOLD;
	c[0] = az_caller_start(test, dev, ubig);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 1),
						   AZ_TEST_WAIT));
	p = &host->pkts[0];
	KUNIT_EXPECT_EQ(test, p->nr_hvpages, h + 4);
	KUNIT_EXPECT_EQ(test, p->nr_pages, AZ_BLOB_MAX_CPU_PAGES);
	KUNIT_EXPECT_EQ(test, p->dev_pinned, AZ_BLOB_MAX_CPU_PAGES);
	KUNIT_EXPECT_EQ(test, p->desc->range.len, (h + 4) * HV_HYP_PAGE_SIZE);
	snprintf(buf, sizeof(buf), "%lu\n", AZ_BLOB_MAX_CPU_PAGES);
	az_expect_sysfs(test, dev, "pinned_pages", buf);

	/* Three CPU pages more do not fit: the next request waits. */
	c[1] = az_caller_start(test, dev, usmall);
	msleep(50);
	KUNIT_EXPECT_EQ(test, host->nr_sends, 1);
	KUNIT_EXPECT_FALSE(test, completion_done(&c[1]->done));
	KUNIT_EXPECT_EQ(test, dev->nr_in_flight, 1);

	az_host_complete(dev, p->id, 0, 0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[0]), 0);
	KUNIT_ASSERT_TRUE(test, wait_event_timeout(host->wq,
						   az_host_sent(host, 2),
						   AZ_TEST_WAIT));
	KUNIT_EXPECT_EQ(test, host->pkts[1].dev_pinned, 3);
	az_host_complete(dev, host->pkts[1].id, 0, 0);
	KUNIT_EXPECT_EQ(test, az_caller_wait(test, c[1]), 0);
	az_expect_sysfs(test, dev, "pinned_pages", "0\n");
	az_expect_idle(test, dev);
}

/* ---------------------------------------------------------------------- */
/* The VPCI offer VMBus ignores */

static void az_blob_vpci_offer_test(struct kunit *test)
{
	static const guid_t pcie = GUID_INIT(0x44c4f61d, 0x4444, 0x4400, 0x9d,
					     0x52, 0x80, 0x2e, 0x27, 0xed,
					     0xe1, 0x9f);
	static const guid_t blob = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81,
					     0xdb, 0xb8, 0xd7, 0x0c, 0x57,
					     0x7c, 0x9e);
	static const guid_t vpci = GUID_INIT(0xd4573da2, 0x2caa, 0x4711, 0xa8,
					     0xf9, 0xbb, 0xab, 0xf4, 0xee,
					     0x96, 0x85);
	struct vmbus_channel_offer_channel *offer;
	guid_t other;

	offer = kunit_kzalloc(test, sizeof(*offer), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, offer);

	offer->offer.if_type = pcie;
	offer->offer.if_instance = vpci;
	KUNIT_EXPECT_TRUE(test, vmbus_is_ignored_vpci_offer(offer));

	/* Any other PCI pass-through device stays. */
	other = vpci;
	other.b[15] ^= 1;
	offer->offer.if_instance = other;
	KUNIT_EXPECT_FALSE(test, vmbus_is_ignored_vpci_offer(offer));
	offer->offer.if_instance = guid_null;
	KUNIT_EXPECT_FALSE(test, vmbus_is_ignored_vpci_offer(offer));

	/* The VMBus Azure Blob device itself stays, whatever its instance. */
	offer->offer.if_type = blob;
	offer->offer.if_instance = vpci;
	KUNIT_EXPECT_FALSE(test, vmbus_is_ignored_vpci_offer(offer));

	/* Instance and class swapped. */
	offer->offer.if_type = vpci;
	offer->offer.if_instance = pcie;
	KUNIT_EXPECT_FALSE(test, vmbus_is_ignored_vpci_offer(offer));
}

static struct kunit_case az_blob_test_cases[] = {
	KUNIT_CASE(az_blob_uapi_layout_test),
	KUNIT_CASE_PARAM(az_blob_validate_test, az_validate_gen_params),
	KUNIT_CASE_PARAM(az_blob_req_init_test, az_layout_gen_params),
	KUNIT_CASE_PARAM(az_blob_fill_desc_test, az_desc_gen_params),
	KUNIT_CASE(az_blob_wire_message_test),
	KUNIT_CASE_PARAM(az_blob_ioctl_test, az_ioctl_gen_params),
	KUNIT_CASE_PARAM(az_blob_completion_test, az_garbage_gen_params),
	KUNIT_CASE(az_blob_probe_test),
	KUNIT_CASE(az_blob_budget_test),
	KUNIT_CASE(az_blob_inbound_index_test),
	KUNIT_CASE(az_blob_remove_in_flight_test),
	KUNIT_CASE(az_blob_remove_budget_waiter_test),
	KUNIT_CASE(az_blob_remove_drains_test),
	KUNIT_CASE(az_blob_file_test),
	KUNIT_CASE_PARAM(az_blob_uring_refused_test, az_uring_gen_params),
	KUNIT_CASE_PARAM(az_blob_uring_window_test, az_window_gen_params),
	KUNIT_CASE(az_blob_uring_inline_test),
	KUNIT_CASE(az_blob_ring_full_test),
	KUNIT_CASE(az_blob_ring_wait_cancel_test),
	KUNIT_CASE(az_blob_suspend_busy_test),
	KUNIT_CASE(az_blob_remove_keeps_pages_test),
	KUNIT_CASE(az_blob_sysfs_test),
	KUNIT_CASE(az_blob_cpu_pages_bound_test),
	KUNIT_CASE(az_blob_max_pages_ioctl_test),
	KUNIT_CASE(az_blob_hvpage_pfns_test),
	KUNIT_CASE(az_blob_pin_budget_cpu_pages_test),
	KUNIT_CASE(az_blob_vpci_offer_test),
	{}
};

/*
 * Without Hyper-V the driver's init fails to register with VMBus and gives
 * its work queue back; the tests that abandon requests to the host need
 * one.
 */
static bool az_suite_made_wq;

static int az_blob_suite_init(struct kunit_suite *suite)
{
	if (az_blob_wq)
		return 0;
	az_blob_wq = alloc_workqueue("hv_azure_blob_kunit", 0, 0);
	az_suite_made_wq = az_blob_wq;
	return az_blob_wq ? 0 : -ENOMEM;
}

static void az_blob_suite_exit(struct kunit_suite *suite)
{
	if (!az_suite_made_wq)
		return;
	destroy_workqueue(az_blob_wq);
	az_blob_wq = NULL;
	az_suite_made_wq = false;
}

static struct kunit_suite az_blob_test_suite = {
	.name = "hv_azure_blob",
	.suite_init = az_blob_suite_init,
	.suite_exit = az_blob_suite_exit,
	.test_cases = az_blob_test_cases,
};

kunit_test_suite(az_blob_test_suite);

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
MODULE_DESCRIPTION("KUnit tests of the Azure Blob VMBus driver");
MODULE_LICENSE("GPL");
