// SPDX-License-Identifier: GPL-2.0
/*
 * vmbus_emu - an emulated VMBus for testing VMBus drivers without Hyper-V.
 *
 * This module exports the part of the hv_vmbus API that the Azure Blob
 * driver uses, with the prototypes and semantics of Linux 6.12, and carries
 * the channel traffic to a host process (the reference VSP) over an
 * ivshmem-doorbell PCI device: VMBus rings in the real ring format live in
 * guest RAM, control messages travel through the ivshmem shared memory,
 * doorbells go out through the ivshmem Doorbell register and come back as
 * MSI-X interrupts. It is a test tool: it never coexists with hv_vmbus.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/hyperv.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "vmbus_emu_proto.h"

/*
 * Linux 6.12 hands the bus callbacks and the bus functions the driver
 * core's structures as const (the bus type, the device of uevent(), the
 * driver of match()), Linux 6.1 does not. The rig builds the module for
 * both.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define EMU_CORE_CONST	const
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#error "vmbus_emu builds against Linux 6.1 or 6.12 and later"
#else
#define EMU_CORE_CONST
#endif

#define EMU_REPLY_TIMEOUT	(10 * HZ)
#define EMU_ATTACH_TIMEOUT_MS	5000
/* Every packet is followed by a u64: the write index before it, << 32. */
#define EMU_PKT_TRAILER		sizeof(u64)

/* Azure Blob class GUID: 0590b792-db64-45cc-81db-b8d70c577c9e */
static const guid_t emu_class_guid =
	GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7,
		  0x0c, 0x57, 0x7c, 0x9e);

struct emu_slot {
	unsigned int index;
	/* Protects @chan against the interrupt handler. */
	spinlock_t lock;
	struct vmbus_channel *chan;
	struct hv_device *hdev;
	struct completion open_done;
	struct completion close_done;
	int open_status;
	/* Ring memory, kept for freeing after the host let go of it. */
	struct page *out_pages;
	struct page *in_pages;
	unsigned int out_order;
	unsigned int in_order;
};

struct emu_event {
	struct work_struct work;
	u32 type;
	u32 slot;
};

struct vmbus_emu {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct vmbus_emu_mailbox *mb;
	u32 host_peer;
	int nvec;
	bool attached;

	spinlock_t g2h_lock;		/* producer side of the g2h queue */
	struct work_struct reader;	/* consumer of the h2g queue */
	struct workqueue_struct *dev_wq; /* offers and rescinds, in order */

	struct emu_slot slots[VMBUS_EMU_MAX_SLOTS];

	struct mutex cmd_mutex;		/* one test command at a time */
	struct completion cmd_done;
	u32 cmd_seq;
	int cmd_status;
	char cmd_reply[VMBUS_EMU_TEXT_LEN];
};

static struct vmbus_emu *emu;
static DEFINE_MUTEX(emu_lock);	/* emu attach/detach vs. debugfs */
static struct dentry *emu_debugfs;
/*
 * debugfs send_delay_us: widen the window of every send by spinning for up
 * to this long (a random share) before the packet goes into the ring and
 * again after the host may have seen it, so tests reach the races a
 * driver has with its own completion and with cancellation.
 */
static u32 emu_send_delay_us;

/* ---------------------------------------------------------------------- */
/* Control queues and doorbells */

static void emu_ring_host(struct vmbus_emu *e, u32 vector)
{
	iowrite32((e->host_peer << 16) | vector,
		  e->regs + IVSHMEM_REG_DOORBELL);
}

static int emu_send(struct vmbus_emu *e, u32 type, u32 slot, u32 seq,
		    u32 status, const char *text)
{
	struct vmbus_emu_queue *q = &e->mb->g2h;
	struct vmbus_emu_msg *m;
	unsigned long flags;
	u32 prod, cons;
	int tries = 0;

	for (;;) {
		spin_lock_irqsave(&e->g2h_lock, flags);
		prod = le32_to_cpu(q->prod);
		/* Pairs with the host's release of cons: the slot is free. */
		cons = le32_to_cpu(smp_load_acquire(&q->cons));
		if (prod - cons < VMBUS_EMU_QUEUE_DEPTH)
			break;
		spin_unlock_irqrestore(&e->g2h_lock, flags);
		/* The host is slow to consume: control traffic is rare. */
		if (++tries > 10000)
			return -EIO;
		if (in_task())
			usleep_range(100, 200);
		else
			cpu_relax();
	}
	m = &q->msg[prod % VMBUS_EMU_QUEUE_DEPTH];
	memset(m, 0, sizeof(*m));
	m->type = cpu_to_le32(type);
	m->slot = cpu_to_le32(slot);
	m->seq = cpu_to_le32(seq);
	m->status = cpu_to_le32(status);
	if (text)
		strscpy(m->text, text, sizeof(m->text));
	/* Publish the message before the new producer index. */
	smp_store_release(&q->prod, cpu_to_le32(prod + 1));
	spin_unlock_irqrestore(&e->g2h_lock, flags);
	emu_ring_host(e, VMBUS_EMU_VEC_CTRL);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The bus */

static int vmbus_emu_match(struct device *dev,
			   EMU_CORE_CONST struct device_driver *drv);
static int vmbus_emu_probe(struct device *dev);
static void vmbus_emu_remove(struct device *dev);
static void vmbus_emu_shutdown(struct device *dev);
static int vmbus_emu_uevent(EMU_CORE_CONST struct device *dev,
			    struct kobj_uevent_env *env);

static ssize_t class_id_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct hv_device *hdev = device_to_hv_device(dev);

	return sysfs_emit(buf, "{%pUl}\n", &hdev->dev_type);
}
static DEVICE_ATTR_RO(class_id);

static ssize_t device_id_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct hv_device *hdev = device_to_hv_device(dev);

	return sysfs_emit(buf, "{%pUl}\n", &hdev->dev_instance);
}
static DEVICE_ATTR_RO(device_id);

static ssize_t modalias_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct hv_device *hdev = device_to_hv_device(dev);

	return sysfs_emit(buf, "vmbus:%*phN\n", UUID_SIZE, &hdev->dev_type);
}
static DEVICE_ATTR_RO(modalias);

static struct attribute *vmbus_emu_dev_attrs[] = {
	&dev_attr_class_id.attr,
	&dev_attr_device_id.attr,
	&dev_attr_modalias.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vmbus_emu_dev);

static int vmbus_emu_suspend(struct device *dev)
{
	struct hv_driver *drv;

	if (!dev->driver)
		return 0;
	drv = drv_to_hv_drv(dev->driver);
	return drv->suspend ? drv->suspend(device_to_hv_device(dev)) : 0;
}

static int vmbus_emu_resume(struct device *dev)
{
	struct hv_driver *drv;

	if (!dev->driver)
		return 0;
	drv = drv_to_hv_drv(dev->driver);
	return drv->resume ? drv->resume(device_to_hv_device(dev)) : 0;
}

static const struct dev_pm_ops vmbus_emu_pm = {
	.suspend_noirq	= vmbus_emu_suspend,
	.resume_noirq	= vmbus_emu_resume,
	.freeze_noirq	= vmbus_emu_suspend,
	.thaw_noirq	= vmbus_emu_resume,
	.poweroff_noirq	= vmbus_emu_suspend,
	.restore_noirq	= vmbus_emu_resume,
};

static EMU_CORE_CONST struct bus_type vmbus_emu_bus = {
	.name		= "vmbus",
	.match		= vmbus_emu_match,
	.probe		= vmbus_emu_probe,
	.remove		= vmbus_emu_remove,
	.shutdown	= vmbus_emu_shutdown,
	.uevent		= vmbus_emu_uevent,
	.dev_groups	= vmbus_emu_dev_groups,
	.pm		= &vmbus_emu_pm,
};

static const struct hv_vmbus_device_id *
emu_get_id(const struct hv_driver *drv, const struct hv_device *hdev)
{
	const struct hv_vmbus_device_id *id = drv->id_table;

	if (!id)
		return NULL;
	for (; !guid_is_null(&id->guid); id++)
		if (guid_equal(&id->guid, &hdev->dev_type))
			return id;
	return NULL;
}

static int vmbus_emu_match(struct device *dev,
			   EMU_CORE_CONST struct device_driver *drv)
{
	const struct hv_driver *hdrv = drv_to_hv_drv(drv);

	return emu_get_id(hdrv, device_to_hv_device(dev)) ? 1 : 0;
}

static int vmbus_emu_probe(struct device *dev)
{
	struct hv_driver *drv = drv_to_hv_drv(dev->driver);
	struct hv_device *hdev = device_to_hv_device(dev);
	int ret;

	if (!drv->probe)
		return -ENODEV;
	ret = drv->probe(hdev, emu_get_id(drv, hdev));
	if (ret)
		dev_err(dev, "probe failed: %d\n", ret);
	return ret;
}

static void vmbus_emu_remove(struct device *dev)
{
	struct hv_driver *drv = drv_to_hv_drv(dev->driver);

	if (drv->remove)
		drv->remove(device_to_hv_device(dev));
}

static void vmbus_emu_shutdown(struct device *dev)
{
	struct hv_driver *drv;

	if (!dev->driver)
		return;
	drv = drv_to_hv_drv(dev->driver);
	if (drv->shutdown)
		drv->shutdown(device_to_hv_device(dev));
}

static int vmbus_emu_uevent(EMU_CORE_CONST struct device *dev,
			    struct kobj_uevent_env *env)
{
	const struct hv_device *hdev = device_to_hv_device(dev);

	return add_uevent_var(env, "MODALIAS=vmbus:%*phN", UUID_SIZE,
			      &hdev->dev_type);
}

int __vmbus_driver_register(struct hv_driver *hv_driver, struct module *owner,
			    const char *mod_name)
{
	hv_driver->driver.name = hv_driver->name;
	hv_driver->driver.owner = owner;
	hv_driver->driver.mod_name = mod_name;
	hv_driver->driver.bus = &vmbus_emu_bus;
	spin_lock_init(&hv_driver->dynids.lock);
	INIT_LIST_HEAD(&hv_driver->dynids.list);
	return driver_register(&hv_driver->driver);
}
EXPORT_SYMBOL_GPL(__vmbus_driver_register);

void vmbus_driver_unregister(struct hv_driver *hv_driver)
{
	driver_unregister(&hv_driver->driver);
}
EXPORT_SYMBOL_GPL(vmbus_driver_unregister);

/* ---------------------------------------------------------------------- */
/* Channel callbacks */

/*
 * hv_end_read() as the series' VMBus core patch makes it: the bytes to
 * read are 0 while an index is past the end of the ring, so a host that
 * puts the inbound write index there does not keep the tasklet running.
 * The stock 6.12 headers this module builds against lack that check.
 */
static u32 emu_end_read(struct hv_ring_buffer_info *rbi)
{
	u32 dsize = rbi->ring_datasize;
	u32 read, write;

	rbi->ring_buffer->interrupt_mask = 0;
	/* The mask is clear before the indices are read again. */
	virt_mb();
	read = READ_ONCE(rbi->ring_buffer->read_index);
	write = READ_ONCE(rbi->ring_buffer->write_index);
	if (unlikely(read >= dsize || write >= dsize))
		return 0;
	return write >= read ? write - read : dsize - read + write;
}

static void emu_on_event(struct tasklet_struct *t)
{
	struct vmbus_channel *chan = from_tasklet(chan, t, callback_event);
	unsigned long time_limit = jiffies + 2;
	void (*fn)(void *ctx);

	do {
		fn = READ_ONCE(chan->onchannel_callback);
		if (unlikely(!fn))
			return;
		fn(chan->channel_callback_context);
		if (chan->callback_mode != HV_CALL_BATCHED)
			return;
		if (likely(emu_end_read(&chan->inbound) == 0))
			return;
		hv_begin_read(&chan->inbound);
	} while (likely(time_before(jiffies, time_limit)));

	tasklet_schedule(&chan->callback_event);
}

static irqreturn_t emu_slot_irq(int irq, void *data)
{
	struct emu_slot *s = data;
	struct vmbus_channel *chan;
	void (*fn)(void *ctx);

	spin_lock(&s->lock);
	chan = s->chan;
	if (!chan)
		goto out;
	chan->interrupts++;
	spin_lock(&chan->sched_lock);
	fn = chan->onchannel_callback;
	if (fn) {
		switch (chan->callback_mode) {
		case HV_CALL_ISR:
			fn(chan->channel_callback_context);
			break;
		case HV_CALL_BATCHED:
			hv_begin_read(&chan->inbound);
			fallthrough;
		case HV_CALL_DIRECT:
			tasklet_schedule(&chan->callback_event);
		}
	}
	spin_unlock(&chan->sched_lock);
out:
	spin_unlock(&s->lock);
	return IRQ_HANDLED;
}

static void emu_reset_channel_cb(struct vmbus_channel *chan)
{
	unsigned long flags;

	tasklet_disable(&chan->callback_event);
	spin_lock_irqsave(&chan->sched_lock, flags);
	chan->onchannel_callback = NULL;
	spin_unlock_irqrestore(&chan->sched_lock, flags);
	chan->sc_creation_callback = NULL;
	tasklet_enable(&chan->callback_event);
}

void vmbus_set_chn_rescind_callback(struct vmbus_channel *channel,
				    void (*chn_rescind_cb)(struct vmbus_channel *))
{
	channel->chn_rescind_callback = chn_rescind_cb;
}
EXPORT_SYMBOL_GPL(vmbus_set_chn_rescind_callback);

/* ---------------------------------------------------------------------- */
/* Request ids */

u64 vmbus_next_request_id(struct vmbus_channel *channel, u64 rqst_addr)
{
	struct vmbus_requestor *rqstor = &channel->requestor;
	unsigned long flags;
	u64 id;

	if (!channel->rqstor_size)
		return VMBUS_NO_RQSTOR;

	spin_lock_irqsave(&rqstor->req_lock, flags);
	id = rqstor->next_request_id;
	if (id >= rqstor->size) {
		spin_unlock_irqrestore(&rqstor->req_lock, flags);
		return VMBUS_RQST_ERROR;
	}
	rqstor->next_request_id = rqstor->req_arr[id];
	rqstor->req_arr[id] = rqst_addr;
	__set_bit(id, rqstor->req_bitmap);
	spin_unlock_irqrestore(&rqstor->req_lock, flags);

	/* 0 is the id of unsolicited host messages: ids start at 1. */
	return id + 1;
}
EXPORT_SYMBOL_GPL(vmbus_next_request_id);

u64 __vmbus_request_addr_match(struct vmbus_channel *channel, u64 trans_id,
			       u64 rqst_addr)
{
	struct vmbus_requestor *rqstor = &channel->requestor;
	u64 addr;

	if (!channel->rqstor_size)
		return VMBUS_NO_RQSTOR;
	if (!trans_id)
		return VMBUS_RQST_ERROR;
	trans_id--;
	if (trans_id >= rqstor->size || !test_bit(trans_id, rqstor->req_bitmap))
		return VMBUS_RQST_ERROR;

	addr = rqstor->req_arr[trans_id];
	if (rqst_addr == VMBUS_RQST_ADDR_ANY || addr == rqst_addr) {
		rqstor->req_arr[trans_id] = rqstor->next_request_id;
		rqstor->next_request_id = trans_id;
		__clear_bit(trans_id, rqstor->req_bitmap);
	}
	return addr;
}
EXPORT_SYMBOL_GPL(__vmbus_request_addr_match);

u64 vmbus_request_addr_match(struct vmbus_channel *channel, u64 trans_id,
			     u64 rqst_addr)
{
	unsigned long flags;
	u64 addr;

	spin_lock_irqsave(&channel->requestor.req_lock, flags);
	addr = __vmbus_request_addr_match(channel, trans_id, rqst_addr);
	spin_unlock_irqrestore(&channel->requestor.req_lock, flags);
	return addr;
}
EXPORT_SYMBOL_GPL(vmbus_request_addr_match);

u64 vmbus_request_addr(struct vmbus_channel *channel, u64 trans_id)
{
	return vmbus_request_addr_match(channel, trans_id,
					VMBUS_RQST_ADDR_ANY);
}
EXPORT_SYMBOL_GPL(vmbus_request_addr);

static int emu_alloc_requestor(struct vmbus_requestor *rqstor, u32 size)
{
	u32 i;

	rqstor->req_arr = kcalloc(size, sizeof(u64), GFP_KERNEL);
	if (!rqstor->req_arr)
		return -ENOMEM;
	rqstor->req_bitmap = bitmap_zalloc(size, GFP_KERNEL);
	if (!rqstor->req_bitmap) {
		kfree(rqstor->req_arr);
		rqstor->req_arr = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < size; i++)
		rqstor->req_arr[i] = i + 1;
	rqstor->size = size;
	rqstor->next_request_id = 0;
	spin_lock_init(&rqstor->req_lock);
	return 0;
}

static void emu_free_requestor(struct vmbus_requestor *rqstor)
{
	kfree(rqstor->req_arr);
	bitmap_free(rqstor->req_bitmap);
	rqstor->req_arr = NULL;
	rqstor->req_bitmap = NULL;
	rqstor->size = 0;
}

/* ---------------------------------------------------------------------- */
/* Rings */

static int emu_ring_init(struct hv_ring_buffer_info *rbi, struct page *pages,
			 u32 page_cnt, u32 max_pkt_size)
{
	struct page **wrap;
	u32 i;

	/* Map the data pages twice so that a packet never wraps. */
	wrap = kcalloc(page_cnt * 2 - 1, sizeof(*wrap), GFP_KERNEL);
	if (!wrap)
		return -ENOMEM;
	wrap[0] = pages;
	for (i = 0; i < 2 * (page_cnt - 1); i++)
		wrap[i + 1] = &pages[i % (page_cnt - 1) + 1];
	rbi->ring_buffer = vmap(wrap, page_cnt * 2 - 1, VM_MAP, PAGE_KERNEL);
	kfree(wrap);
	if (!rbi->ring_buffer)
		return -ENOMEM;

	rbi->ring_buffer->write_index = 0;
	rbi->ring_buffer->read_index = 0;
	rbi->ring_buffer->interrupt_mask = 0;
	rbi->ring_buffer->pending_send_sz = 0;
	rbi->ring_buffer->feature_bits.value = 1;
	rbi->ring_size = page_cnt << PAGE_SHIFT;
	rbi->ring_size_div10_reciprocal = reciprocal_value(rbi->ring_size / 10);
	rbi->ring_datasize = rbi->ring_size - PAGE_SIZE;
	rbi->priv_read_index = 0;
	spin_lock_init(&rbi->ring_lock);
	mutex_init(&rbi->ring_buffer_mutex);

	if (max_pkt_size) {
		rbi->pkt_buffer = kzalloc(max_pkt_size, GFP_KERNEL);
		if (!rbi->pkt_buffer) {
			vunmap(rbi->ring_buffer);
			rbi->ring_buffer = NULL;
			return -ENOMEM;
		}
		rbi->pkt_buffer_size = max_pkt_size;
	}
	return 0;
}

static void emu_ring_cleanup(struct hv_ring_buffer_info *rbi)
{
	mutex_lock(&rbi->ring_buffer_mutex);
	if (rbi->ring_buffer)
		vunmap(rbi->ring_buffer);
	rbi->ring_buffer = NULL;
	mutex_unlock(&rbi->ring_buffer_mutex);
	kfree(rbi->pkt_buffer);
	rbi->pkt_buffer = NULL;
	rbi->pkt_buffer_size = 0;
}

static void emu_signal(struct vmbus_channel *chan)
{
	struct vmbus_emu *e = READ_ONCE(emu);
	u32 slot = chan->offermsg.child_relid - 1;

	chan->sig_events++;
	if (e)
		emu_ring_host(e, VMBUS_EMU_VEC_SLOT(slot));
}

static u32 emu_copy_to_ring(struct hv_ring_buffer_info *rbi, u32 at,
			    const void *src, u32 len)
{
	memcpy(hv_get_ring_buffer(rbi) + at, src, len);
	at += len;
	if (at >= rbi->ring_datasize)
		at -= rbi->ring_datasize;
	return at;
}

static int __emu_ring_write(struct vmbus_channel *chan, const struct kvec *kv,
			    u32 kv_count, u64 requestid)
{
	struct hv_ring_buffer_info *rbi = &chan->outbound;
	struct vmpacket_descriptor *desc = kv[0].iov_base;
	u64 rqst_id = VMBUS_NO_RQSTOR;
	u32 total = sizeof(u64);
	u32 read_index, old_write, avail, next;
	unsigned long flags;
	u64 prev;
	u32 i;

	if (chan->rescind)
		return -ENODEV;

	for (i = 0; i < kv_count; i++)
		total += kv[i].iov_len;

	spin_lock_irqsave(&rbi->ring_lock, flags);
	read_index = READ_ONCE(rbi->ring_buffer->read_index);
	old_write = READ_ONCE(rbi->ring_buffer->write_index);
	if (unlikely(read_index >= rbi->ring_datasize ||
		     old_write >= rbi->ring_datasize)) {
		spin_unlock_irqrestore(&rbi->ring_lock, flags);
		pr_err_ratelimited("outbound ring indices out of range: read %u write %u\n",
				   read_index, old_write);
		return -EIO;
	}
	avail = old_write >= read_index ?
		rbi->ring_datasize - (old_write - read_index) :
		read_index - old_write;
	/* A ring with exactly the packet's room left would look empty. */
	if (avail <= total) {
		chan->out_full_total++;
		if (!chan->out_full_flag) {
			chan->out_full_first++;
			chan->out_full_flag = true;
		}
		spin_unlock_irqrestore(&rbi->ring_lock, flags);
		return -EAGAIN;
	}
	chan->out_full_flag = false;

	next = old_write;
	for (i = 0; i < kv_count; i++)
		next = emu_copy_to_ring(rbi, next, kv[i].iov_base,
					kv[i].iov_len);

	if (desc->flags == VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED &&
	    chan->next_request_id_callback) {
		rqst_id = chan->next_request_id_callback(chan, requestid);
		if (rqst_id == VMBUS_RQST_ERROR) {
			spin_unlock_irqrestore(&rbi->ring_lock, flags);
			return -EAGAIN;
		}
	}
	desc = hv_get_ring_buffer(rbi) + old_write;
	WRITE_ONCE(desc->trans_id,
		   rqst_id == VMBUS_NO_RQSTOR ? requestid : rqst_id);

	prev = (u64)rbi->ring_buffer->write_index << 32;
	next = emu_copy_to_ring(rbi, next, &prev, sizeof(prev));

	/* The packet and its id are in the ring before the write index. */
	virt_mb();
	rbi->ring_buffer->write_index = next;
	spin_unlock_irqrestore(&rbi->ring_lock, flags);

	/* Signal only when the host is not polling and the ring was empty. */
	if (!READ_ONCE(rbi->ring_buffer->interrupt_mask)) {
		/* Read the host's read index after the mask. */
		virt_rmb();
		if (old_write == READ_ONCE(rbi->ring_buffer->read_index)) {
			chan->intr_out_empty++;
			emu_signal(chan);
		}
	}

	if (chan->rescind) {
		if (rqst_id != VMBUS_NO_RQSTOR && chan->request_addr_callback)
			chan->request_addr_callback(chan, rqst_id);
		return -ENODEV;
	}
	return 0;
}

static void emu_send_delay(void)
{
	u32 us = READ_ONCE(emu_send_delay_us);

	if (!us)
		return;
	us = get_random_u32_below(us + 1);
	while (us) {
		u32 n = min(us, 100U);

		udelay(n);
		us -= n;
	}
}

static int emu_ring_write(struct vmbus_channel *chan, const struct kvec *kv,
			  u32 kv_count, u64 requestid)
{
	int ret;

	emu_send_delay();
	ret = __emu_ring_write(chan, kv, kv_count, requestid);
	emu_send_delay();
	return ret;
}

int vmbus_sendpacket(struct vmbus_channel *channel, void *buffer,
		     u32 bufferlen, u64 requestid,
		     enum vmbus_packet_type type, u32 flags)
{
	struct vmpacket_descriptor desc;
	u32 len = sizeof(desc) + bufferlen;
	u32 len_aligned = ALIGN(len, sizeof(u64));
	u64 pad = 0;
	struct kvec kv[3];

	desc.type = type;
	desc.flags = flags;
	desc.offset8 = sizeof(desc) >> 3;
	desc.len8 = (u16)(len_aligned >> 3);
	desc.trans_id = VMBUS_RQST_ERROR;

	kv[0].iov_base = &desc;
	kv[0].iov_len = sizeof(desc);
	kv[1].iov_base = buffer;
	kv[1].iov_len = bufferlen;
	kv[2].iov_base = &pad;
	kv[2].iov_len = len_aligned - len;

	return emu_ring_write(channel, kv, 3, requestid);
}
EXPORT_SYMBOL(vmbus_sendpacket);

int vmbus_sendpacket_mpb_desc(struct vmbus_channel *channel,
			      struct vmbus_packet_mpb_array *desc,
			      u32 desc_size, void *buffer, u32 bufferlen,
			      u64 requestid)
{
	u32 len = desc_size + bufferlen;
	u32 len_aligned = ALIGN(len, sizeof(u64));
	u64 pad = 0;
	struct kvec kv[3];

	desc->type = VM_PKT_DATA_USING_GPA_DIRECT;
	desc->flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	desc->dataoffset8 = desc_size >> 3;
	desc->length8 = (u16)(len_aligned >> 3);
	desc->transactionid = VMBUS_RQST_ERROR;
	desc->reserved = 0;

	kv[0].iov_base = desc;
	kv[0].iov_len = desc_size;
	kv[1].iov_base = buffer;
	kv[1].iov_len = bufferlen;
	kv[2].iov_base = &pad;
	kv[2].iov_len = len_aligned - len;

	return emu_ring_write(channel, kv, 3, requestid);
}
EXPORT_SYMBOL_GPL(vmbus_sendpacket_mpb_desc);

/*
 * hv_pkt_iter_avail() of the patched core: nothing to read while the
 * host's write index is past the end of the ring, with the core's
 * ratelimited message.
 */
static u32 emu_iter_avail(const struct vmbus_channel *chan)
{
	const struct hv_ring_buffer_info *rbi = &chan->inbound;
	u32 priv = rbi->priv_read_index;
	/* The host writes the packet, then releases the write index. */
	u32 write = virt_load_acquire(&rbi->ring_buffer->write_index);

	if (unlikely(write >= rbi->ring_datasize)) {
		pr_err_ratelimited("inbound ring write index out of range: relid %u write %u size %u\n",
				   chan->offermsg.child_relid, write,
				   rbi->ring_datasize);
		return 0;
	}
	return write >= priv ? write - priv : rbi->ring_datasize - priv + write;
}

struct vmpacket_descriptor *hv_pkt_iter_first(struct vmbus_channel *channel)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;
	struct vmpacket_descriptor *desc, *copy;
	u32 avail, len, off;

	avail = emu_iter_avail(channel);
	if (avail < sizeof(*desc))
		return NULL;
	avail = min(rbi->pkt_buffer_size, avail);

	desc = hv_get_ring_buffer(rbi) + rbi->priv_read_index;
	len = READ_ONCE(desc->len8) << 3;
	off = READ_ONCE(desc->offset8) << 3;
	if (len < sizeof(*desc) || len > avail)
		len = avail;
	if (off < sizeof(*desc) || off > len)
		off = sizeof(*desc);

	/* The host can change the ring at any time: work on a copy. */
	copy = rbi->pkt_buffer;
	memcpy(copy, desc, len);
	copy->len8 = len >> 3;
	copy->offset8 = off >> 3;
	return copy;
}
EXPORT_SYMBOL_GPL(hv_pkt_iter_first);

struct vmpacket_descriptor *
__hv_pkt_iter_next(struct vmbus_channel *channel,
		   const struct vmpacket_descriptor *pkt)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;

	rbi->priv_read_index += (pkt->len8 << 3) + EMU_PKT_TRAILER;
	if (rbi->priv_read_index >= rbi->ring_datasize)
		rbi->priv_read_index -= rbi->ring_datasize;
	return hv_pkt_iter_first(channel);
}
EXPORT_SYMBOL_GPL(__hv_pkt_iter_next);

void hv_pkt_iter_close(struct vmbus_channel *channel)
{
	struct hv_ring_buffer_info *rbi = &channel->inbound;
	u32 start, pending, write_sz, read;

	/* All reads of the packets are done before the index moves. */
	virt_rmb();
	start = rbi->ring_buffer->read_index;
	rbi->ring_buffer->read_index = rbi->priv_read_index;

	if (!rbi->ring_buffer->feature_bits.feat_pending_send_sz)
		return;
	/* Commit the read index before sampling pending_send_sz. */
	virt_mb();
	pending = READ_ONCE(rbi->ring_buffer->pending_send_sz);
	if (!pending)
		return;
	/* Read the write index after pending_send_sz. */
	virt_rmb();
	write_sz = hv_get_bytes_to_write(rbi);
	read = rbi->priv_read_index >= start ? rbi->priv_read_index - start :
	       rbi->ring_datasize - start + rbi->priv_read_index;
	/* Signal only on the transition to enough free space. */
	if (write_sz - read > pending)
		return;
	if (write_sz <= pending)
		return;
	channel->intr_in_full++;
	emu_signal(channel);
}
EXPORT_SYMBOL_GPL(hv_pkt_iter_close);

/* ---------------------------------------------------------------------- */
/* Open and close */

static struct emu_slot *emu_chan_slot(struct vmbus_emu *e,
				      struct vmbus_channel *chan)
{
	u32 idx = chan->offermsg.child_relid - 1;

	if (!e || idx >= VMBUS_EMU_MAX_SLOTS)
		return NULL;
	return &e->slots[idx];
}

static void emu_free_rings(struct emu_slot *s, struct vmbus_channel *chan)
{
	emu_ring_cleanup(&chan->outbound);
	emu_ring_cleanup(&chan->inbound);
	if (s->out_pages)
		__free_pages(s->out_pages, s->out_order);
	if (s->in_pages)
		__free_pages(s->in_pages, s->in_order);
	s->out_pages = NULL;
	s->in_pages = NULL;
}

/*
 * Ask the host to drop the rings. Returns true when the host confirmed; the
 * ring memory may then be freed. Without the confirmation it is leaked:
 * the host may still write into it.
 */
static bool emu_host_close(struct vmbus_emu *e, struct emu_slot *s)
{
	reinit_completion(&s->close_done);
	if (emu_send(e, VMBUS_EMU_G2H_CLOSE, s->index, 0, 0, NULL))
		return false;
	return wait_for_completion_timeout(&s->close_done, EMU_REPLY_TIMEOUT);
}

int vmbus_open(struct vmbus_channel *channel, u32 send_ringbuffersize,
	       u32 recv_ringbuffersize, void *userdata, u32 userdatalen,
	       void (*onchannel_callback)(void *context), void *context)
{
	struct vmbus_emu *e;
	struct emu_slot *s;
	struct vmbus_emu_slot_desc *sd;
	u32 send_pages = send_ringbuffersize >> PAGE_SHIFT;
	u32 recv_pages = recv_ringbuffersize >> PAGE_SHIFT;
	unsigned long flags;
	int ret;

	if (!PAGE_ALIGNED(send_ringbuffersize) ||
	    !PAGE_ALIGNED(recv_ringbuffersize) || send_pages < 2 ||
	    recv_pages < 2 || !is_power_of_2(send_pages) ||
	    !is_power_of_2(recv_pages))
		return -EINVAL;
	if (userdatalen > MAX_USER_DEFINED_BYTES)
		return -EINVAL;

	mutex_lock(&emu_lock);
	e = emu;
	s = emu_chan_slot(e, channel);
	if (!s || !e->attached) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (channel->state != CHANNEL_OFFER_STATE) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (channel->rescind) {
		ret = -ENODEV;
		goto out_unlock;
	}

	/* Physically contiguous: the host gets each ring as one GPA. */
	s->out_order = get_order(send_ringbuffersize);
	s->in_order = get_order(recv_ringbuffersize);
	s->out_pages = alloc_pages(GFP_KERNEL | __GFP_ZERO, s->out_order);
	s->in_pages = alloc_pages(GFP_KERNEL | __GFP_ZERO, s->in_order);
	channel->ringbuffer_send_offset = send_pages;
	channel->ringbuffer_pagecount = send_pages + recv_pages;
	if (!s->out_pages || !s->in_pages) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = emu_ring_init(&channel->outbound, s->out_pages, send_pages, 0);
	if (ret)
		goto err_free;
	ret = emu_ring_init(&channel->inbound, s->in_pages, recv_pages,
			    channel->max_pkt_size);
	if (ret)
		goto err_free;

	if (channel->rqstor_size) {
		ret = emu_alloc_requestor(&channel->requestor,
					  channel->rqstor_size);
		if (ret)
			goto err_free;
	}

	spin_lock_irqsave(&channel->sched_lock, flags);
	channel->channel_callback_context = context;
	channel->onchannel_callback = onchannel_callback;
	spin_unlock_irqrestore(&channel->sched_lock, flags);

	sd = &e->mb->slot[s->index];
	sd->out_gpa = cpu_to_le64(page_to_phys(s->out_pages));
	sd->in_gpa = cpu_to_le64(page_to_phys(s->in_pages));
	sd->out_size = cpu_to_le32(send_ringbuffersize);
	sd->in_size = cpu_to_le32(recv_ringbuffersize);

	reinit_completion(&s->open_done);
	s->open_status = -ETIMEDOUT;
	ret = emu_send(e, VMBUS_EMU_G2H_OPEN, s->index, 0, 0, NULL);
	if (ret)
		goto err_cb;
	if (!wait_for_completion_timeout(&s->open_done, EMU_REPLY_TIMEOUT)) {
		dev_err(&e->pdev->dev, "slot %u: host did not answer open\n",
			s->index);
		ret = -ETIMEDOUT;
		goto err_leak;
	}
	ret = s->open_status;
	if (ret) {
		dev_err(&e->pdev->dev, "slot %u: host refused open: %d\n",
			s->index, ret);
		goto err_cb;
	}
	channel->state = CHANNEL_OPENED_STATE;
	mutex_unlock(&emu_lock);
	return 0;

err_leak:
	/* The host may still use the rings: close, and leak on no answer. */
	emu_reset_channel_cb(channel);
	if (!emu_host_close(e, s)) {
		emu_ring_cleanup(&channel->outbound);
		emu_ring_cleanup(&channel->inbound);
		s->out_pages = NULL;
		s->in_pages = NULL;
		emu_free_requestor(&channel->requestor);
		goto out_unlock;
	}
err_cb:
	emu_reset_channel_cb(channel);
	emu_free_requestor(&channel->requestor);
err_free:
	emu_free_rings(s, channel);
out_unlock:
	mutex_unlock(&emu_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(vmbus_open);

void vmbus_close(struct vmbus_channel *channel)
{
	struct vmbus_emu *e;
	struct emu_slot *s;

	emu_reset_channel_cb(channel);

	mutex_lock(&emu_lock);
	e = emu;
	s = emu_chan_slot(e, channel);
	if (!s || channel->state != CHANNEL_OPENED_STATE)
		goto out;

	channel->state = CHANNEL_OFFER_STATE;
	if (!e->attached || !emu_host_close(e, s)) {
		dev_err(&e->pdev->dev,
			"slot %u: host did not confirm close, leaking rings\n",
			s->index);
		emu_ring_cleanup(&channel->outbound);
		emu_ring_cleanup(&channel->inbound);
		s->out_pages = NULL;
		s->in_pages = NULL;
	} else {
		emu_free_rings(s, channel);
	}
	emu_free_requestor(&channel->requestor);
out:
	mutex_unlock(&emu_lock);
}
EXPORT_SYMBOL_GPL(vmbus_close);

/* ---------------------------------------------------------------------- */
/* Offers and rescinds */

static void emu_device_release(struct device *dev)
{
	struct hv_device *hdev = device_to_hv_device(dev);

	kfree(hdev->channel);
	kfree(hdev);
}

static int emu_offer(struct vmbus_emu *e, struct emu_slot *s)
{
	struct vmbus_channel *chan;
	struct hv_device *hdev;
	unsigned long flags;
	guid_t inst;
	int ret;

	if (s->hdev)
		return -EEXIST;

	inst = GUID_INIT(VMBUS_EMU_INSTANCE_D1, 0, 0x4000, 0x80, 0, 0, 0, 0,
			 0, 0, s->index);

	chan = kzalloc(sizeof(*chan), GFP_KERNEL);
	hdev = kzalloc(sizeof(*hdev), GFP_KERNEL);
	if (!chan || !hdev) {
		kfree(chan);
		kfree(hdev);
		return -ENOMEM;
	}

	spin_lock_init(&chan->sched_lock);
	init_completion(&chan->rescind_event);
	INIT_LIST_HEAD(&chan->sc_list);
	INIT_LIST_HEAD(&chan->listentry);
	tasklet_setup(&chan->callback_event, emu_on_event);
	spin_lock_init(&chan->outbound.ring_lock);
	spin_lock_init(&chan->inbound.ring_lock);
	mutex_init(&chan->outbound.ring_buffer_mutex);
	mutex_init(&chan->inbound.ring_buffer_mutex);
	spin_lock_init(&chan->requestor.req_lock);
	chan->callback_mode = HV_CALL_BATCHED;
	chan->state = CHANNEL_OFFER_STATE;
	chan->offermsg.child_relid = s->index + 1;
	chan->offermsg.offer.if_type = emu_class_guid;
	chan->offermsg.offer.if_instance = inst;
	chan->max_pkt_size = VMBUS_DEFAULT_MAX_PKT_SIZE;
	chan->device_obj = hdev;

	hdev->dev_type = emu_class_guid;
	hdev->dev_instance = inst;
	hdev->vendor_id = PCI_VENDOR_ID_MICROSOFT;
	hdev->channel = chan;
	hdev->device.bus = &vmbus_emu_bus;
	hdev->device.parent = &e->pdev->dev;
	hdev->device.release = emu_device_release;
	hdev->device.dma_parms = &hdev->dma_parms;
	hdev->device.dma_mask = &hdev->dma_mask;
	device_initialize(&hdev->device);
	dev_set_name(&hdev->device, "%pUl", &inst);
	dma_set_mask(&hdev->device, DMA_BIT_MASK(64));

	spin_lock_irqsave(&s->lock, flags);
	s->chan = chan;
	spin_unlock_irqrestore(&s->lock, flags);
	s->hdev = hdev;

	ret = device_add(&hdev->device);
	chan->probe_done = true;
	if (ret) {
		dev_err(&e->pdev->dev, "slot %u: device_add failed: %d\n",
			s->index, ret);
		spin_lock_irqsave(&s->lock, flags);
		s->chan = NULL;
		spin_unlock_irqrestore(&s->lock, flags);
		s->hdev = NULL;
		put_device(&hdev->device);
	}
	return ret;
}

static void emu_rescind(struct vmbus_emu *e, struct emu_slot *s)
{
	struct hv_device *hdev = s->hdev;
	struct vmbus_channel *chan;
	unsigned long flags;

	if (!hdev)
		return;
	chan = hdev->channel;

	/* As the real core: no callback runs once the rescind is seen. */
	emu_reset_channel_cb(chan);
	WRITE_ONCE(chan->rescind, true);

	if (chan->chn_rescind_callback) {
		chan->chn_rescind_callback(chan);
		return;
	}
	get_device(&hdev->device);
	device_unregister(&hdev->device);
	if (chan->state == CHANNEL_OPENED_STATE)
		vmbus_close(chan);
	spin_lock_irqsave(&s->lock, flags);
	s->chan = NULL;
	spin_unlock_irqrestore(&s->lock, flags);
	s->hdev = NULL;
	put_device(&hdev->device);
}

static void emu_event_fn(struct work_struct *work)
{
	struct emu_event *ev = container_of(work, struct emu_event, work);
	struct vmbus_emu *e = emu;
	struct emu_slot *s;
	int ret;

	if (!e || ev->slot >= VMBUS_EMU_MAX_SLOTS)
		goto out;
	s = &e->slots[ev->slot];
	switch (ev->type) {
	case VMBUS_EMU_H2G_OFFER:
		ret = emu_offer(e, s);
		emu_send(e, VMBUS_EMU_G2H_OFFER_DONE, s->index, 0, -ret, NULL);
		break;
	case VMBUS_EMU_H2G_RESCIND:
		emu_rescind(e, s);
		emu_send(e, VMBUS_EMU_G2H_RESCIND_DONE, s->index, 0, 0, NULL);
		break;
	}
out:
	kfree(ev);
}

static void emu_handle_msg(struct vmbus_emu *e, const struct vmbus_emu_msg *m)
{
	u32 type = le32_to_cpu(m->type);
	u32 slot = le32_to_cpu(m->slot);
	struct emu_event *ev;
	struct emu_slot *s;

	switch (type) {
	case VMBUS_EMU_H2G_OFFER:
	case VMBUS_EMU_H2G_RESCIND:
		ev = kzalloc(sizeof(*ev), GFP_KERNEL);
		if (!ev)
			break;
		INIT_WORK(&ev->work, emu_event_fn);
		ev->type = type;
		ev->slot = slot;
		queue_work(e->dev_wq, &ev->work);
		break;
	case VMBUS_EMU_H2G_OPEN_RESULT:
		if (slot >= VMBUS_EMU_MAX_SLOTS)
			break;
		s = &e->slots[slot];
		s->open_status = -(int)le32_to_cpu(m->status);
		complete(&s->open_done);
		break;
	case VMBUS_EMU_H2G_CLOSE_DONE:
		if (slot < VMBUS_EMU_MAX_SLOTS)
			complete(&e->slots[slot].close_done);
		break;
	case VMBUS_EMU_H2G_CMD_REPLY:
		if (le32_to_cpu(m->seq) != READ_ONCE(e->cmd_seq))
			break;
		e->cmd_status = -(int)le32_to_cpu(m->status);
		strscpy(e->cmd_reply, m->text, sizeof(e->cmd_reply));
		complete(&e->cmd_done);
		break;
	default:
		dev_warn_ratelimited(&e->pdev->dev, "unknown message %u\n",
				     type);
	}
}

static void emu_reader_fn(struct work_struct *work)
{
	struct vmbus_emu *e = container_of(work, struct vmbus_emu, reader);
	struct vmbus_emu_queue *q = &e->mb->h2g;
	struct vmbus_emu_msg m;
	u32 prod, cons;

	cons = le32_to_cpu(q->cons);
	for (;;) {
		/* Pairs with the host's release of prod: the message is there. */
		prod = le32_to_cpu(smp_load_acquire(&q->prod));
		if (prod == cons)
			break;
		if (prod - cons > VMBUS_EMU_QUEUE_DEPTH) {
			dev_err_ratelimited(&e->pdev->dev,
					    "bad h2g queue: prod %u cons %u\n",
					    prod, cons);
			break;
		}
		memcpy(&m, &q->msg[cons % VMBUS_EMU_QUEUE_DEPTH], sizeof(m));
		/* Done with the message: the host may reuse the slot. */
		smp_store_release(&q->cons, cpu_to_le32(++cons));
		emu_handle_msg(e, &m);
	}
}

static irqreturn_t emu_ctrl_irq(int irq, void *data)
{
	struct vmbus_emu *e = data;

	queue_work(system_highpri_wq, &e->reader);
	return IRQ_HANDLED;
}

/* ---------------------------------------------------------------------- */
/* Test control: /sys/kernel/debug/vmbus_emu/host */

static ssize_t emu_host_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	char text[VMBUS_EMU_TEXT_LEN];
	struct vmbus_emu *e;
	size_t len;
	long left;
	int ret;

	if (count == 0 || count >= sizeof(text))
		return -EINVAL;
	if (copy_from_user(text, ubuf, count))
		return -EFAULT;
	text[count] = '\0';
	len = strcspn(text, "\n");
	text[len] = '\0';

	mutex_lock(&emu_lock);
	e = emu;
	if (!e || !e->attached) {
		mutex_unlock(&emu_lock);
		return -EIO;
	}
	mutex_lock(&e->cmd_mutex);
	mutex_unlock(&emu_lock);

	reinit_completion(&e->cmd_done);
	WRITE_ONCE(e->cmd_seq, e->cmd_seq + 1);
	e->cmd_reply[0] = '\0';
	ret = emu_send(e, VMBUS_EMU_G2H_CMD, 0, e->cmd_seq, 0, text);
	if (ret)
		goto out;
	left = wait_for_completion_timeout(&e->cmd_done, EMU_REPLY_TIMEOUT);
	if (!left) {
		ret = -ETIMEDOUT;
		strscpy(e->cmd_reply, "timeout", sizeof(e->cmd_reply));
		goto out;
	}
	ret = e->cmd_status;
	if (ret && ret != -EINVAL)
		ret = -EIO;
out:
	mutex_unlock(&e->cmd_mutex);
	return ret ? ret : count;
}

static ssize_t emu_host_read(struct file *file, char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char text[VMBUS_EMU_TEXT_LEN + 1];
	struct vmbus_emu *e;
	size_t len = 0;

	mutex_lock(&emu_lock);
	e = emu;
	if (e) {
		mutex_lock(&e->cmd_mutex);
		len = scnprintf(text, sizeof(text), "%s\n", e->cmd_reply);
		mutex_unlock(&e->cmd_mutex);
	}
	mutex_unlock(&emu_lock);
	return simple_read_from_buffer(ubuf, count, ppos, text, len);
}

static const struct file_operations emu_host_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= emu_host_read,
	.write	= emu_host_write,
	.llseek	= default_llseek,
};

/*
 * Power management on request: "suspend <slot>" or "resume <slot>" written
 * to the debugfs file "pm" calls the bound driver's suspend or resume
 * callback, as the VMBus core does around hibernation (which the rig's
 * guest cannot do). It runs on the ordered device workqueue, so it never
 * races an offer or a rescind of the same slot.
 */
struct emu_pm_work {
	struct work_struct work;
	struct completion done;
	struct vmbus_emu *e;
	unsigned int slot;
	bool suspend;
	int ret;
};

static void emu_pm_fn(struct work_struct *work)
{
	struct emu_pm_work *w = container_of(work, struct emu_pm_work, work);
	struct hv_device *hdev = w->e->slots[w->slot].hdev;
	struct hv_driver *drv;

	w->ret = -ENODEV;
	if (!hdev)
		goto out;
	device_lock(&hdev->device);
	if (hdev->device.driver) {
		drv = drv_to_hv_drv(hdev->device.driver);
		if (w->suspend)
			w->ret = drv->suspend ? drv->suspend(hdev) : -EOPNOTSUPP;
		else
			w->ret = drv->resume ? drv->resume(hdev) : -EOPNOTSUPP;
	}
	device_unlock(&hdev->device);
out:
	complete(&w->done);
}

static ssize_t emu_pm_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct emu_pm_work w = { };
	char text[32], op[16];
	struct vmbus_emu *e;

	if (count == 0 || count >= sizeof(text))
		return -EINVAL;
	if (copy_from_user(text, ubuf, count))
		return -EFAULT;
	text[count] = '\0';
	if (sscanf(text, "%15s %u", op, &w.slot) != 2 ||
	    w.slot >= VMBUS_EMU_MAX_SLOTS)
		return -EINVAL;
	if (!strcmp(op, "suspend"))
		w.suspend = true;
	else if (strcmp(op, "resume"))
		return -EINVAL;

	mutex_lock(&emu_lock);
	e = emu;
	if (!e || !e->attached) {
		mutex_unlock(&emu_lock);
		return -EIO;
	}
	w.e = e;
	INIT_WORK_ONSTACK(&w.work, emu_pm_fn);
	init_completion(&w.done);
	queue_work(e->dev_wq, &w.work);
	/*
	 * Not under emu_lock: the driver's callbacks open and close the
	 * channel, which takes it. Removal of the PCI device drains dev_wq
	 * before it frees anything, so the work runs on a live device.
	 */
	mutex_unlock(&emu_lock);
	wait_for_completion(&w.done);
	destroy_work_on_stack(&w.work);
	return w.ret ? w.ret : count;
}

static const struct file_operations emu_pm_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.write	= emu_pm_write,
	.llseek	= noop_llseek,
};

/* ---------------------------------------------------------------------- */
/* The ivshmem PCI device */

static int emu_add_ram(struct resource *res, void *arg)
{
	struct vmbus_emu_mailbox *mb = arg;
	u32 n = le32_to_cpu(mb->nr_ram);

	if (n >= VMBUS_EMU_MAX_RAM)
		return -ENOSPC;
	mb->ram[n].start = cpu_to_le64(res->start);
	mb->ram[n].len = cpu_to_le64(resource_size(res));
	mb->nr_ram = cpu_to_le32(n + 1);
	return 0;
}

static int emu_attach(struct vmbus_emu *e)
{
	struct vmbus_emu_mailbox *mb = e->mb;
	u32 gen;
	int i, ret;

	mb->guest_peer_id = cpu_to_le32(ioread32(e->regs +
						 IVSHMEM_REG_IV_POSITION));
	mb->nr_ram = 0;
	ret = walk_iomem_res_desc(IORES_DESC_NONE,
				  IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
				  0, U64_MAX, mb, emu_add_ram);
	if (ret < 0 && ret != -EINVAL)
		return ret;
	if (!mb->nr_ram)
		return -ENODEV;

	gen = le32_to_cpu(mb->guest_gen) + 1;
	mb->guest_attached = cpu_to_le32(1);
	/* The peer id and RAM ranges are visible before the generation. */
	smp_store_release(&mb->guest_gen, cpu_to_le32(gen));
	emu_ring_host(e, VMBUS_EMU_VEC_CTRL);

	for (i = 0; i < EMU_ATTACH_TIMEOUT_MS / 10; i++) {
		/* Pairs with the host's release once it reset the queues. */
		if (le32_to_cpu(smp_load_acquire(&mb->host_ack_gen)) == gen)
			break;
		usleep_range(10000, 11000);
	}
	if (le32_to_cpu(mb->host_ack_gen) != gen) {
		dev_err(&e->pdev->dev, "host did not acknowledge attach\n");
		return -ETIMEDOUT;
	}
	/* The host reset both queues for this generation. */
	e->attached = true;
	return 0;
}

static void emu_detach(struct vmbus_emu *e)
{
	struct vmbus_emu_mailbox *mb = e->mb;

	mb->guest_attached = 0;
	/* The detached state is visible before the generation. */
	smp_store_release(&mb->guest_gen,
			  cpu_to_le32(le32_to_cpu(mb->guest_gen) + 1));
	emu_ring_host(e, VMBUS_EMU_VEC_CTRL);
}

static int emu_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vmbus_emu *e;
	resource_size_t start, len;
	int i, ret;

	if (READ_ONCE(emu))
		return -EBUSY;

	e = devm_kzalloc(&pdev->dev, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	e->pdev = pdev;
	spin_lock_init(&e->g2h_lock);
	INIT_WORK(&e->reader, emu_reader_fn);
	mutex_init(&e->cmd_mutex);
	init_completion(&e->cmd_done);
	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		e->slots[i].index = i;
		spin_lock_init(&e->slots[i].lock);
		init_completion(&e->slots[i].open_done);
		init_completion(&e->slots[i].close_done);
	}

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	e->regs = pcim_iomap(pdev, 0, 0);
	if (!e->regs)
		return -ENOMEM;
	start = pci_resource_start(pdev, 2);
	len = pci_resource_len(pdev, 2);
	if (len < sizeof(struct vmbus_emu_mailbox))
		return -ENODEV;
	e->mb = devm_memremap(&pdev->dev, start, len, MEMREMAP_WB);
	if (IS_ERR(e->mb))
		return PTR_ERR(e->mb);
	if (le32_to_cpu(e->mb->magic) != VMBUS_EMU_MAGIC ||
	    le32_to_cpu(e->mb->version) != VMBUS_EMU_VERSION ||
	    le32_to_cpu(e->mb->host_state) != VMBUS_EMU_HOST_UP) {
		dev_err(&pdev->dev, "no VMBus host in the shared memory\n");
		return -ENODEV;
	}
	e->host_peer = le32_to_cpu(e->mb->host_peer_id);

	/* MSI-X messages are memory writes: without this they are lost. */
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, VMBUS_EMU_NR_VECTORS,
				    VMBUS_EMU_NR_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;
	e->nvec = ret;

	e->dev_wq = alloc_ordered_workqueue("vmbus_emu_dev", 0);
	if (!e->dev_wq)
		return -ENOMEM;
	ret = devm_request_irq(&pdev->dev, pci_irq_vector(pdev, 0),
			       emu_ctrl_irq, 0, "vmbus_emu-ctrl", e);
	if (ret)
		goto err_wq;
	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		ret = devm_request_irq(&pdev->dev,
				       pci_irq_vector(pdev,
						      VMBUS_EMU_VEC_SLOT(i)),
				       emu_slot_irq, 0, "vmbus_emu-chan",
				       &e->slots[i]);
		if (ret)
			goto err_wq;
	}

	mutex_lock(&emu_lock);
	WRITE_ONCE(emu, e);
	ret = emu_attach(e);
	if (ret) {
		WRITE_ONCE(emu, NULL);
		mutex_unlock(&emu_lock);
		goto err_wq;
	}
	mutex_unlock(&emu_lock);
	pci_set_drvdata(pdev, e);
	dev_info(&pdev->dev, "attached: host peer %u, guest peer %u, %u RAM ranges\n",
		 e->host_peer, le32_to_cpu(e->mb->guest_peer_id),
		 le32_to_cpu(e->mb->nr_ram));
	/* The host may have queued offers before we were ready. */
	queue_work(system_highpri_wq, &e->reader);
	return 0;

err_wq:
	destroy_workqueue(e->dev_wq);
	return ret;
}

static void emu_pci_remove(struct pci_dev *pdev)
{
	struct vmbus_emu *e = pci_get_drvdata(pdev);
	int i;

	/* Remove every device; the drivers close their channels. */
	flush_workqueue(e->dev_wq);
	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		struct emu_slot *s = &e->slots[i];
		struct hv_device *hdev = s->hdev;
		unsigned long flags;

		if (!hdev)
			continue;
		get_device(&hdev->device);
		device_unregister(&hdev->device);
		if (hdev->channel->state == CHANNEL_OPENED_STATE)
			vmbus_close(hdev->channel);
		spin_lock_irqsave(&s->lock, flags);
		s->chan = NULL;
		spin_unlock_irqrestore(&s->lock, flags);
		s->hdev = NULL;
		put_device(&hdev->device);
	}

	mutex_lock(&emu_lock);
	e->attached = false;
	emu_detach(e);
	WRITE_ONCE(emu, NULL);
	mutex_unlock(&emu_lock);

	for (i = 0; i < VMBUS_EMU_NR_VECTORS; i++)
		devm_free_irq(&pdev->dev, pci_irq_vector(pdev, i),
			      i ? (void *)&e->slots[i - 1] : (void *)e);
	cancel_work_sync(&e->reader);
	destroy_workqueue(e->dev_wq);
}

static const struct pci_device_id emu_pci_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{ }
};
MODULE_DEVICE_TABLE(pci, emu_pci_ids);

static struct pci_driver emu_pci_driver = {
	.name		= "vmbus_emu",
	.id_table	= emu_pci_ids,
	.probe		= emu_pci_probe,
	.remove		= emu_pci_remove,
};

static int __init vmbus_emu_init(void)
{
	int ret;

	ret = bus_register(&vmbus_emu_bus);
	if (ret)
		return ret;
	emu_debugfs = debugfs_create_dir("vmbus_emu", NULL);
	debugfs_create_file("host", 0600, emu_debugfs, NULL, &emu_host_fops);
	debugfs_create_file("pm", 0200, emu_debugfs, NULL, &emu_pm_fops);
	debugfs_create_u32("send_delay_us", 0600, emu_debugfs,
			   &emu_send_delay_us);
	ret = pci_register_driver(&emu_pci_driver);
	if (ret) {
		debugfs_remove_recursive(emu_debugfs);
		bus_unregister(&vmbus_emu_bus);
	}
	return ret;
}

static void __exit vmbus_emu_exit(void)
{
	pci_unregister_driver(&emu_pci_driver);
	debugfs_remove_recursive(emu_debugfs);
	bus_unregister(&vmbus_emu_bus);
}

module_init(vmbus_emu_init);
module_exit(vmbus_emu_exit);

MODULE_DESCRIPTION("Emulated VMBus over ivshmem for testing VMBus drivers");
MODULE_LICENSE("GPL");
