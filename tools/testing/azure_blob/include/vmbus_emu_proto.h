/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Mailbox protocol between vmbus_emu.ko (the guest) and the reference VSP
 * (the host) of the Azure Blob test rig.
 *
 * The mailbox is the shared memory of an ivshmem-doorbell PCI device
 * (BAR2). The host creates and initialises it before the guest starts; the
 * guest maps it write-back. All fields are little-endian and of fixed size;
 * the layout is the same for the kernel and for user space.
 *
 * Doorbells: the guest rings the host by writing
 * (host_peer_id << 16 | vector) to the ivshmem Doorbell register; the host
 * rings the guest through the guest's MSI-X vectors. Vector 0 is the
 * control vector both ways; vector 1 + slot belongs to the channel of
 * device slot <slot>.
 *
 * VMBus rings are not in the mailbox: each channel's two rings (struct
 * hv_ring_buffer header page + data pages, physically contiguous) live in
 * guest RAM; the guest passes their guest physical addresses in the slot
 * descriptor. The host reaches guest RAM through the shared memory backend
 * of the VM, using the System RAM ranges the guest reports in the mailbox
 * header to translate and validate guest physical addresses.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef _VMBUS_EMU_PROTO_H
#define _VMBUS_EMU_PROTO_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/build_bug.h>
#else
#include <assert.h>
#endif

#define VMBUS_EMU_MAGIC		0x554d4556	/* "VEMU" */
#define VMBUS_EMU_VERSION	1
/* Size of the shared memory the host creates (a power of two). */
#define VMBUS_EMU_SHM_SIZE	(64 * 1024)

#define VMBUS_EMU_MAX_SLOTS	8
#define VMBUS_EMU_MAX_RAM	32
#define VMBUS_EMU_QUEUE_DEPTH	32	/* messages per control queue, 2^n */
#define VMBUS_EMU_TEXT_LEN	208	/* command text incl. the NUL */

#define VMBUS_EMU_VEC_CTRL	0
#define VMBUS_EMU_VEC_SLOT(s)	(1 + (s))
#define VMBUS_EMU_NR_VECTORS	(1 + VMBUS_EMU_MAX_SLOTS)

/* ivshmem BAR0 registers */
#define IVSHMEM_REG_INTR_MASK	0x00
#define IVSHMEM_REG_INTR_STATUS	0x04
#define IVSHMEM_REG_IV_POSITION	0x08
#define IVSHMEM_REG_DOORBELL	0x0c

/* Instance GUID of slot N: a2b10000-0000-4000-8000-0000000000NN */
#define VMBUS_EMU_INSTANCE_D1	0xa2b10000

/* struct vmbus_emu_mailbox.host_state */
enum vmbus_emu_host_state {
	VMBUS_EMU_HOST_DOWN	= 0,
	VMBUS_EMU_HOST_UP	= 1,
};

/* struct vmbus_emu_msg.type */
enum vmbus_emu_msg_type {
	/* guest to host */
	VMBUS_EMU_G2H_OPEN		= 1,	/* slot: rings in slot desc */
	VMBUS_EMU_G2H_CLOSE		= 2,	/* slot */
	VMBUS_EMU_G2H_OFFER_DONE	= 3,	/* slot, status */
	VMBUS_EMU_G2H_RESCIND_DONE	= 4,	/* slot */
	VMBUS_EMU_G2H_CMD		= 5,	/* seq, text */
	/* host to guest */
	VMBUS_EMU_H2G_OFFER		= 64,	/* slot */
	VMBUS_EMU_H2G_RESCIND		= 65,	/* slot */
	VMBUS_EMU_H2G_OPEN_RESULT	= 66,	/* slot, status */
	VMBUS_EMU_H2G_CLOSE_DONE	= 67,	/* slot */
	VMBUS_EMU_H2G_CMD_REPLY		= 68,	/* seq, status, text */
};

/**
 * struct vmbus_emu_ram_range - one System RAM range of the guest
 * @start: guest physical address of the first byte
 * @len: length in bytes
 */
struct vmbus_emu_ram_range {
	__le64 start;
	__le64 len;
};

/**
 * struct vmbus_emu_msg - one control message
 * @type: enum vmbus_emu_msg_type
 * @slot: device slot the message is about
 * @seq: command sequence number (CMD and CMD_REPLY)
 * @status: 0 or a positive errno value
 * @arg: reserved, zero
 * @text: NUL-terminated command (CMD) or reply (CMD_REPLY) text
 */
struct vmbus_emu_msg {
	__le32 type;
	__le32 slot;
	__le32 seq;
	__le32 status;
	__le64 arg[4];
	char text[VMBUS_EMU_TEXT_LEN];
};

/**
 * struct vmbus_emu_queue - single-producer single-consumer message queue
 * @prod: messages produced (free running; written by the producer only)
 * @cons: messages consumed (free running; written by the consumer only)
 * @reserved: padding to 64 bytes
 * @msg: the messages, index = counter % VMBUS_EMU_QUEUE_DEPTH
 *
 * The producer writes the message, then publishes it with a release store
 * of @prod, then rings the consumer's control vector.
 */
struct vmbus_emu_queue {
	__le32 prod;
	__le32 cons;
	__le32 reserved[14];
	struct vmbus_emu_msg msg[VMBUS_EMU_QUEUE_DEPTH];
};

/**
 * struct vmbus_emu_slot_desc - the rings of one open channel
 * @out_gpa: guest physical address of the guest-to-host ring (header page)
 * @in_gpa: guest physical address of the host-to-guest ring (header page)
 * @out_size: size of the guest-to-host ring in bytes, header page included
 * @in_size: size of the host-to-guest ring in bytes, header page included
 * @reserved: zero
 *
 * Written by the guest before VMBUS_EMU_G2H_OPEN of the slot.
 */
struct vmbus_emu_slot_desc {
	__le64 out_gpa;
	__le64 in_gpa;
	__le32 out_size;
	__le32 in_size;
	__le32 reserved[2];
};

/**
 * struct vmbus_emu_mailbox - the layout of the shared memory (BAR2)
 * @magic: VMBUS_EMU_MAGIC, written by the host
 * @version: VMBUS_EMU_VERSION, written by the host
 * @size: size of the shared memory, written by the host
 * @host_peer_id: the host's ivshmem peer id (doorbell target)
 * @host_state: enum vmbus_emu_host_state
 * @guest_gen: incremented by the guest when it attaches (after it wrote
 *	@guest_peer_id and the RAM ranges) and when it detaches
 * @guest_attached: 1 while the guest driver is bound, 0 otherwise
 * @host_ack_gen: the host's copy of @guest_gen once it reset both queues
 *	and all channels for that generation
 * @guest_peer_id: the guest's ivshmem peer id (IVPosition)
 * @nr_ram: number of valid entries in @ram
 * @reserved: zero
 * @ram: the guest's System RAM ranges, ascending
 * @slot: per-slot ring descriptors
 * @g2h: guest-to-host control queue
 * @h2g: host-to-guest control queue
 */
struct vmbus_emu_mailbox {
	__le32 magic;
	__le32 version;
	__le32 size;
	__le32 host_peer_id;
	__le32 host_state;
	__le32 guest_gen;
	__le32 guest_attached;
	__le32 host_ack_gen;
	__le32 guest_peer_id;
	__le32 nr_ram;
	__le32 reserved[6];
	struct vmbus_emu_ram_range ram[VMBUS_EMU_MAX_RAM];
	struct vmbus_emu_slot_desc slot[VMBUS_EMU_MAX_SLOTS];
	struct vmbus_emu_queue g2h;
	struct vmbus_emu_queue h2g;
};

static_assert(sizeof(struct vmbus_emu_ram_range) == 16, "ram range");
static_assert(sizeof(struct vmbus_emu_msg) == 256, "msg size");
static_assert(sizeof(struct vmbus_emu_queue) == 64 + 32 * 256, "queue");
static_assert(sizeof(struct vmbus_emu_slot_desc) == 32, "slot desc");
static_assert(sizeof(struct vmbus_emu_mailbox) ==
	      64 + 32 * 16 + 8 * 32 + 2 * (64 + 32 * 256), "mailbox");
static_assert(sizeof(struct vmbus_emu_mailbox) <= VMBUS_EMU_SHM_SIZE,
	      "mailbox fits the shared memory");

#endif /* _VMBUS_EMU_PROTO_H */
