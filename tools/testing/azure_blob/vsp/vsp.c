// SPDX-License-Identifier: GPL-2.0
/*
 * Reference VSP of the Azure Blob test rig: the host side of vmbus_emu.
 *
 * One process, one event loop. It is the ivshmem server QEMU connects to
 * (it owns the mailbox shared memory and every eventfd), it maps the
 * guest's RAM file, and it plays the Hyper-V host for the emulated VMBus:
 * it offers and rescinds devices, reads the guest's packets from the
 * channel rings, validates them strictly, runs a backend, writes the
 * results into guest pages and posts completions.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vsp.h"

#define HOST_PEER	0
#define GUEST_PEER	1
#define NVEC		VMBUS_EMU_NR_VECTORS
#define MAX_PKT		(512 * 1024)

/* Request states */
enum { RQ_LATENCY, RQ_BACKEND, RQ_DELAY, RQ_HELD, RQ_DONE };

enum fault {
	F_NONE, F_HOLD, F_DELAY, F_STATUS, F_RESP_LEN_OVER, F_SHORT_PACKET,
	F_WRONG_TYPE, F_BAD_ID_UNKNOWN, F_BAD_ID_ZERO, F_BAD_ID_DUP, F_FUZZ,
	F_LONG_COMPLETION,
};

static const char *const fault_names[] = {
	[F_NONE] = "none", [F_HOLD] = "hold", [F_DELAY] = "delay",
	[F_STATUS] = "status", [F_RESP_LEN_OVER] = "resp_len_over",
	[F_SHORT_PACKET] = "short_packet", [F_WRONG_TYPE] = "wrong_type",
	[F_BAD_ID_UNKNOWN] = "bad_id_unknown", [F_BAD_ID_ZERO] = "bad_id_zero",
	[F_BAD_ID_DUP] = "bad_id_dup", [F_FUZZ] = "fuzz",
	[F_LONG_COMPLETION] = "long_completion",
};

struct ring {
	struct ring_hdr *hdr;
	uint8_t *data;
	uint32_t dsize;
};

/*
 * Packets waiting for room in the guest's inbound ring. A group is
 * published with one write index update, so the guest sees all of its
 * packets at once (a fault's extra packet and the real completion).
 */
#define GROUP_MAX	8

struct outpkt {
	struct outpkt *next;
	uint32_t n;
	uint32_t len[GROUP_MAX];
	uint32_t total;
	uint8_t buf[];
};

struct vsp_slot {
	unsigned int idx;
	bool offered;
	bool open;
	bool broken;
	uint32_t gen;		/* bumped whenever the channel goes away */
	struct ring out, in;	/* out: guest to host, in: host to guest */
	struct outpkt *q_head, *q_tail;

	const struct vsp_backend *backend;
	char backend_arg[512];	/* `backend <slot> NAME ARG`, "" if none */
	uint32_t latency_us;
	/*
	 * `pace`: the host reads at most one packet from the guest's ring per
	 * pace_us, so the ring fills up behind it; pace_timer brings the loop
	 * back when the next one is due.
	 */
	uint32_t pace_us;
	uint64_t pace_next_ns;
	struct vsp_timer pace_timer;
	enum fault fault;
	uint32_t fault_arg;
	uint64_t fuzz_state;	/* PRNG of the fuzz fault */
	uint64_t fuzzed;	/* packets the fuzz fault made up */
	bool lie;		/* next group's last packet: these len8/offset8 */
	uint16_t lie_len8, lie_offset8;
	bool trace;

	/*
	 * `ring` command: a ring index the host has pushed out of range. The
	 * host stops using that ring until `ring <slot> restore` puts the
	 * saved index back.
	 */
	enum ring_lie { LIE_NONE, LIE_IN_WRITE, LIE_OUT_READ, LIE_OUT_WRITE } lie_ring;
	uint32_t lie_saved, lie_value;

	uint64_t requests, completed, violations;
	uint64_t latency_fired, latency_late_ns;	/* `latency` timers */
	unsigned int held;
	struct vsp_request *reqs;	/* every live request */

	uint32_t pending_cmd;	/* command waiting for offer/rescind done */
	bool has_pending_cmd;

	uint32_t kick_read;	/* guest's inbound read index at the last tick */
	uint64_t kicks;		/* interrupts the tick had to resend */
};

const char *vsp_ram_path;
static const char *sock_path;
static FILE *log_fp;
static int epfd, listen_fd = -1, client_fd = -1, timer_fd, sig_fd, post_fd;
static int host_ev[NVEC], guest_ev[NVEC];
static int shm_fd;
static struct vmbus_emu_mailbox *mb;
static struct vsp_slot slots[VMBUS_EMU_MAX_SLOTS];
static uint32_t seen_gen;
static bool attached;
static bool quit;
static uint32_t poll_us;
static uint8_t *pktbuf;
static uint64_t stat_doorbells, stat_polled, stat_kicks;
static const struct vsp_backend *default_backend;

/*
 * Under TCG with one vCPU, QEMU does not turn the guest's memory barriers
 * into host barriers (they only matter between vCPUs), so the VMBus
 * "unmask, then look again" handshake with this process can lose a wake-up
 * in either direction. While a channel is open the loop therefore ticks
 * every VSP_TICK_MS: it drains the guest's rings, and it interrupts a
 * guest that has left unread packets in its inbound ring, interrupts
 * unmasked, for a whole tick.
 */
#define VSP_TICK_MS	1

/* ---------------------------------------------------------------------- */
/* Logging and time */

void vsp_log(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (!log_fp)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(log_fp, "[%5ld.%06ld] ", (long)ts.tv_sec, ts.tv_nsec / 1000);
	va_start(ap, fmt);
	vfprintf(log_fp, fmt, ap);
	va_end(ap);
	fputc('\n', log_fp);
	fflush(log_fp);
}

uint64_t vsp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static struct vsp_timer *timers;

static void timer_program(void)
{
	struct itimerspec its = { 0 };

	if (timers) {
		its.it_value.tv_sec = timers->due_ns / 1000000000ull;
		its.it_value.tv_nsec = timers->due_ns % 1000000000ull;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void vsp_timer_cancel(struct vsp_timer *t)
{
	struct vsp_timer **pp;

	if (!t->armed)
		return;
	for (pp = &timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	timer_program();
}

void vsp_timer_arm(struct vsp_timer *t, uint64_t delay_ns)
{
	struct vsp_timer **pp;

	vsp_timer_cancel(t);
	t->due_ns = vsp_now_ns() + delay_ns;
	for (pp = &timers; *pp && (*pp)->due_ns <= t->due_ns; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->armed = true;
	timer_program();
}

static void timers_run(void)
{
	uint64_t now = vsp_now_ns();
	struct vsp_timer *t;

	while (timers && timers->due_ns <= now) {
		t = timers;
		timers = t->next;
		t->armed = false;
		t->fn(t);
	}
	timer_program();
}

struct post {
	struct post *next;
	void (*fn)(void *arg);
	void *arg;
};

static pthread_mutex_t post_lock = PTHREAD_MUTEX_INITIALIZER;
static struct post *posts, **posts_tail = &posts;

int vsp_loop_post(void (*fn)(void *arg), void *arg)
{
	struct post *p = malloc(sizeof(*p));
	uint64_t one = 1;

	if (!p)
		return -1;
	p->fn = fn;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&post_lock);
	*posts_tail = p;
	posts_tail = &p->next;
	pthread_mutex_unlock(&post_lock);
	return write(post_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

static void posts_run(void)
{
	struct post *list, *p;
	uint64_t v;

	if (read(post_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vsp_log("post eventfd: %s", strerror(errno));
	pthread_mutex_lock(&post_lock);
	list = posts;
	posts = NULL;
	posts_tail = &posts;
	pthread_mutex_unlock(&post_lock);
	while ((p = list)) {
		list = p->next;
		p->fn(p->arg);
		free(p);
	}
}

/* ---------------------------------------------------------------------- */
/* Doorbells and the control queues */

static void ring_guest(unsigned int vector)
{
	uint64_t one = 1;

	if (write(guest_ev[vector], &one, sizeof(one)) != sizeof(one))
		vsp_log("guest eventfd %u: %s", vector, strerror(errno));
}

static void send_msg(uint32_t type, uint32_t slot, uint32_t seq,
		     uint32_t status, const char *text)
{
	struct vmbus_emu_queue *q = &mb->h2g;
	struct vmbus_emu_msg *m;
	uint32_t prod = q->prod;
	int spins = 0;

	while (prod - __atomic_load_n(&q->cons, __ATOMIC_ACQUIRE) >=
	       VMBUS_EMU_QUEUE_DEPTH) {
		/* The guest drains the queue from a work item: wait a bit. */
		if (++spins > 100000) {
			vsp_log("h2g queue full, dropping message %u", type);
			return;
		}
		usleep(10);
	}
	m = &q->msg[prod % VMBUS_EMU_QUEUE_DEPTH];
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->slot = slot;
	m->seq = seq;
	m->status = status;
	if (text)
		snprintf(m->text, sizeof(m->text), "%s", text);
	__atomic_store_n(&q->prod, prod + 1, __ATOMIC_RELEASE);
	ring_guest(VMBUS_EMU_VEC_CTRL);
}

static void cmd_reply(uint32_t seq, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cmd_reply(uint32_t seq, int err, const char *fmt, ...)
{
	char text[VMBUS_EMU_TEXT_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	vsp_log("command %u -> %s", seq, text);
	send_msg(VMBUS_EMU_H2G_CMD_REPLY, 0, seq, err, text);
}

/* ---------------------------------------------------------------------- */
/* Rings */

static uint32_t ring_used(const struct ring *r, uint32_t rd, uint32_t wr)
{
	return wr >= rd ? wr - rd : r->dsize - rd + wr;
}

static void ring_copy_from(const struct ring *r, uint32_t at, void *dst,
			   uint32_t len)
{
	uint32_t first = r->dsize - at < len ? r->dsize - at : len;

	memcpy(dst, r->data + at, first);
	memcpy((uint8_t *)dst + first, r->data, len - first);
}

static uint32_t ring_copy_to(struct ring *r, uint32_t at, const void *src,
			     uint32_t len)
{
	uint32_t first = r->dsize - at < len ? r->dsize - at : len;

	memcpy(r->data + at, src, first);
	memcpy(r->data, (const uint8_t *)src + first, len - first);
	at += len;
	return at >= r->dsize ? at - r->dsize : at;
}

/* Try to put a group of packets into the guest's inbound ring. */
static int in_ring_put(struct vsp_slot *s, const struct outpkt *p)
{
	struct ring *r = &s->in;
	uint32_t rd = __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE);
	uint32_t wr = r->hdr->write_index;
	uint32_t need = p->total + 8 * p->n, free_b, next, i, off = 0;
	uint64_t prev;

	if (rd >= r->dsize || wr >= r->dsize) {
		vsp_log("slot %u: inbound ring indices broken (r %u w %u)",
			s->idx, rd, wr);
		s->broken = true;
		return -1;
	}
	free_b = rd > wr ? rd - wr : r->dsize - (wr - rd);
	if (free_b <= need) {
		__atomic_store_n(&r->hdr->pending_send_sz, need,
				 __ATOMIC_SEQ_CST);
		return 1;
	}
	if (r->hdr->pending_send_sz)
		__atomic_store_n(&r->hdr->pending_send_sz, 0, __ATOMIC_RELAXED);
	next = wr;
	for (i = 0; i < p->n; i++) {
		prev = (uint64_t)next << 32;
		next = ring_copy_to(r, next, p->buf + off, p->len[i]);
		next = ring_copy_to(r, next, &prev, 8);
		off += p->len[i];
	}
	__atomic_store_n(&r->hdr->write_index, next, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Signal only an empty-to-non-empty change the guest waits for. */
	if (!__atomic_load_n(&r->hdr->interrupt_mask, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE) == wr)
		ring_guest(VMBUS_EMU_VEC_SLOT(s->idx));
	return 0;
}

static void in_queue_flush(struct vsp_slot *s)
{
	struct outpkt *p;

	while (s->open && !s->broken && s->lie_ring != LIE_IN_WRITE &&
	       (p = s->q_head)) {
		if (in_ring_put(s, p))
			return;
		s->q_head = p->next;
		if (!s->q_head)
			s->q_tail = NULL;
		free(p);
	}
}

struct pkt_spec {
	uint16_t type;
	uint64_t trans_id;
	const void *payload;
	uint32_t plen;
};

/* Queue a group of in-band packets (offset8 = 2) and try to post it. */
static void post_group(struct vsp_slot *s, const struct pkt_spec *ps,
		       uint32_t n)
{
	uint32_t total = 0, i, off = 0;
	struct vmpacket_desc *d;
	struct outpkt *p;

	for (i = 0; i < n; i++)
		total += (16 + ps[i].plen + 7) & ~7u;
	p = calloc(1, sizeof(*p) + total);
	if (!p)
		return;
	p->n = n;
	p->total = total;
	for (i = 0; i < n; i++) {
		p->len[i] = (16 + ps[i].plen + 7) & ~7u;
		d = (struct vmpacket_desc *)(p->buf + off);
		d->type = ps[i].type;
		d->offset8 = 2;
		d->len8 = p->len[i] / 8;
		/* the fuzz fault's bogus descriptor, last in its group */
		if (s->lie && i == n - 1) {
			d->offset8 = s->lie_offset8;
			d->len8 = s->lie_len8;
			s->lie = false;
		}
		d->flags = 0;
		d->trans_id = ps[i].trans_id;
		memcpy(p->buf + off + 16, ps[i].payload, ps[i].plen);
		off += p->len[i];
	}
	if (s->q_tail)
		s->q_tail->next = p;
	else
		s->q_head = p;
	s->q_tail = p;
	in_queue_flush(s);
}

static void post_packet(struct vsp_slot *s, uint16_t type, uint64_t trans_id,
			const void *payload, uint32_t plen)
{
	struct pkt_spec ps = { type, trans_id, payload, plen };

	post_group(s, &ps, 1);
}

/* ---------------------------------------------------------------------- */
/* Requests */

static void req_unlink(struct vsp_request *req)
{
	struct vsp_slot *s = req->slot;

	if (req->prev)
		req->prev->next = req->next;
	else
		s->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
}

static void req_free(struct vsp_request *req)
{
	vsp_timer_cancel(&req->timer);
	free(req->pages);
	free(req->pfns);
	free(req);
}

const char *vsp_req_backend_arg(const struct vsp_request *req)
{
	return req->slot->backend_arg[0] ? req->slot->backend_arg : NULL;
}

bool vsp_trace_enabled(const struct vsp_request *req)
{
	return req->slot->trace;
}

uint32_t vsp_req_len(const struct vsp_request *req, enum vsp_buf which)
{
	switch (which) {
	case VSP_BUF_DATA:
		return req->msg.data_buffer_length;
	case VSP_BUF_REQUEST:
		return req->msg.request_buffer_length;
	default:
		return req->msg.response_buffer_length;
	}
}

static uint32_t req_off(const struct vsp_request *req, enum vsp_buf which)
{
	switch (which) {
	case VSP_BUF_DATA:
		return req->msg.data_buffer_offset;
	case VSP_BUF_REQUEST:
		return req->msg.request_buffer_offset;
	default:
		return req->msg.response_buffer_offset;
	}
}

static int req_copy(struct vsp_request *req, enum vsp_buf which,
		    uint32_t off, void *buf, uint32_t len, bool to_guest)
{
	uint64_t pos = (uint64_t)req_off(req, which) + off;
	uint8_t *p = buf;

	if (req->state == RQ_DONE || !req->slot->open ||
	    (uint64_t)off + len > vsp_req_len(req, which))
		return -1;
	while (len) {
		uint32_t in_page = pos % VSP_PAGE_SIZE;
		uint32_t n = VSP_PAGE_SIZE - in_page;
		uint8_t *g = req->pages[pos / VSP_PAGE_SIZE] + in_page;

		if (n > len)
			n = len;
		if (to_guest)
			memcpy(g, p, n);
		else
			memcpy(p, g, n);
		p += n;
		pos += n;
		len -= n;
	}
	return 0;
}

int vsp_req_read(struct vsp_request *req, enum vsp_buf which, uint32_t off,
		 void *dst, uint32_t len)
{
	return req_copy(req, which, off, dst, len, false);
}

int vsp_req_write(struct vsp_request *req, enum vsp_buf which, uint32_t off,
		  const void *src, uint32_t len)
{
	return req_copy(req, which, off, (void *)src, len, true);
}

/*
 * The fuzz fault: a seeded host that lies. Around each real completion it
 * publishes, in the same ring update, made-up packets: any type, ids that
 * name no request (0, above the guest's 1024 request slots, huge), random
 * payloads of 0 to 16 bytes, a bogus len8/offset8 on a 32-byte packet, and
 * duplicates of the real completion after it. The real completion carries
 * a random status or response_len now and then. A bogus len8 makes the
 * 6.12 ring reader take up to its 4 KiB buffer (the guest's max_pkt_size)
 * as one packet and lose its place in the ring: the guest then reads stale
 * ring contents as packets, and the requests whose completions it skipped
 * end with the next rescind; so that lie is the rarest. Ids 1..1024 are
 * only ever used for the request being completed: anything else could
 * complete a request the host has not read yet, whose pages it would then
 * write after the guest freed them.
 */
static uint64_t fuzz_rnd(struct vsp_slot *s)
{
	uint64_t z = (s->fuzz_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t fuzz_bogus_id(struct vsp_slot *s)
{
	switch (fuzz_rnd(s) % 4) {
	case 0:
		return 0;
	case 1:
		return 1025 + fuzz_rnd(s) % 64000;
	case 2:
		return 0x7fff0000u | (fuzz_rnd(s) & 0xffff);
	default:
		return fuzz_rnd(s) | (1ull << 40);
	}
}

static uint16_t fuzz_type(struct vsp_slot *s)
{
	switch (fuzz_rnd(s) % 4) {
	case 0:
	case 1:
		return VM_PKT_COMP;
	case 2:
		return VM_PKT_DATA_INBAND;
	default:
		return fuzz_rnd(s);
	}
}

static void fuzz_completion(struct vsp_slot *s, struct vsp_request *req,
			    struct az_blob_comp *c)
{
	uint8_t junk[GROUP_MAX][24];
	struct pkt_spec ps[GROUP_MAX];
	struct az_blob_comp real = *c;
	uint32_t n = 0, i, extra, lie;

	/* made-up packets before the real one */
	extra = fuzz_rnd(s) % 4;
	for (i = 0; i < extra; i++, n++) {
		uint64_t r = fuzz_rnd(s);

		memcpy(junk[n], &r, 8);
		r = fuzz_rnd(s);
		memcpy(junk[n] + 8, &r, 8);
		r = fuzz_rnd(s);
		memcpy(junk[n] + 16, &r, 8);
		/* sometimes a plausible completion payload */
		if (fuzz_rnd(s) % 2)
			memcpy(junk[n], c, sizeof(*c));
		/* At most 32 bytes a packet (a 16-byte header and payload). */
		ps[n] = (struct pkt_spec){ fuzz_type(s), fuzz_bogus_id(s),
					   junk[n], fuzz_rnd(s) % 17 };
	}
	/* the real completion, sometimes lying about its result */
	switch (fuzz_rnd(s) % 8) {
	case 0:
		real.error = fuzz_rnd(s);
		break;
	case 1:
		real.response_len = fuzz_rnd(s) %
				    (req->msg.response_buffer_length + 2);
		break;
	case 2:
		real.response_len = fuzz_rnd(s);
		break;
	case 3:
		real.length = fuzz_rnd(s);
		break;
	default:
		break;
	}
	ps[n++] = (struct pkt_spec){ VM_PKT_COMP, req->trans_id, &real,
				     sizeof(real) };
	/* duplicates, in the same update */
	extra = fuzz_rnd(s) % 8 == 0 ? 1 + fuzz_rnd(s) % 2 : 0;
	for (i = 0; i < extra; i++)
		ps[n++] = (struct pkt_spec){ VM_PKT_COMP, req->trans_id, c,
					     sizeof(*c) };
	/*
	 * A last packet, 32 bytes long, with a bogus data offset (one group
	 * in 12) or a bogus length too (one in 256: it makes the guest lose
	 * its place in the ring until the next rescind, so more often would
	 * leave little traffic to fuzz).
	 */
	lie = fuzz_rnd(s) % 256;
	if (lie < 22) {
		static const uint16_t lens[] = { 0, 1, 0xffff, 0x8000 };
		uint64_t r = fuzz_rnd(s);

		memcpy(junk[n], c, sizeof(*c));
		memcpy(junk[n] + 12, &r, 4);
		ps[n] = (struct pkt_spec){ fuzz_type(s), fuzz_bogus_id(s),
					   junk[n], 16 };
		s->lie = true;
		s->lie_len8 = lie ? 4 : lens[fuzz_rnd(s) % 4];
		s->lie_offset8 = fuzz_rnd(s);
		n++;
	}
	s->fuzzed += n - 1 - extra;
	post_group(s, ps, n);
	s->completed++;
	if (s->trace)
		vsp_log("slot %u: fuzz: id %" PRIu64 " in a group of %u",
			s->idx, req->trans_id, n);
}

static void send_completion(struct vsp_request *req)
{
	struct vsp_slot *s = req->slot;
	struct az_blob_comp c = {
		.length = sizeof(c),
		.error = req->status,
		.response_len = req->response_len,
	};
	uint32_t short_payload = sizeof(c);
	uint8_t long_payload[24] = { 0 };
	struct pkt_spec ps[GROUP_MAX];
	uint32_t n = 0;

	if (s->fault == F_FUZZ) {
		fuzz_completion(s, req, &c);
		return;
	}
	switch (s->fault) {
	case F_SHORT_PACKET:
		ps[n++] = (struct pkt_spec){ VM_PKT_COMP, req->trans_id,
					     &short_payload, 4 };
		break;
	case F_WRONG_TYPE:
		ps[n++] = (struct pkt_spec){ VM_PKT_DATA_INBAND, req->trans_id,
					     &c, sizeof(c) };
		break;
	case F_BAD_ID_UNKNOWN:
		ps[n++] = (struct pkt_spec){ VM_PKT_COMP, 0x7fff0001, &c,
					     sizeof(c) };
		break;
	case F_BAD_ID_ZERO:
		ps[n++] = (struct pkt_spec){ VM_PKT_COMP, 0, &c, sizeof(c) };
		break;
	default:
		break;
	}
	/*
	 * long_completion: the completion carries 24 payload bytes, the 12
	 * of the protocol and zeros, as a host with a longer completion
	 * format would send.
	 */
	if (s->fault == F_LONG_COMPLETION) {
		memcpy(long_payload, &c, sizeof(c));
		ps[n++] = (struct pkt_spec){ VM_PKT_COMP, req->trans_id,
					     long_payload,
					     sizeof(long_payload) };
	} else {
		ps[n++] = (struct pkt_spec){ VM_PKT_COMP, req->trans_id, &c,
					     sizeof(c) };
	}
	/*
	 * The duplicate goes out with the original, in one ring update:
	 * sent later it could hit the id reused by the next request, which
	 * no guest can tell from a real completion.
	 */
	if (s->fault == F_BAD_ID_DUP)
		ps[n++] = (struct pkt_spec){ VM_PKT_COMP, req->trans_id, &c,
					     sizeof(c) };
	post_group(s, ps, n);
	s->completed++;
	if (s->trace)
		vsp_log("slot %u: complete id %" PRIu64 " error %u response_len %u",
			s->idx, req->trans_id, req->status, req->response_len);
}

static void req_finish(struct vsp_request *req)
{
	req->state = RQ_DONE;
	send_completion(req);
	req_unlink(req);
	req_free(req);
}

static void req_delay_done(struct vsp_timer *t)
{
	struct vsp_request *req = (struct vsp_request *)
		((char *)t - offsetof(struct vsp_request, timer));

	req_finish(req);
}

void vsp_req_complete(struct vsp_request *req, uint32_t status,
		      uint32_t response_len)
{
	struct vsp_slot *s = req->slot;

	if (req->state != RQ_BACKEND)
		return;
	req->status = status;
	req->response_len = response_len;
	if (s->fault == F_RESP_LEN_OVER)
		req->response_len = req->msg.response_buffer_length + 1;
	if (s->fault == F_HOLD) {
		req->state = RQ_HELD;
		s->held++;
		return;
	}
	if (s->fault == F_DELAY && s->fault_arg) {
		req->state = RQ_DELAY;
		req->timer.fn = req_delay_done;
		vsp_timer_arm(&req->timer, (uint64_t)s->fault_arg * 1000000ull);
		return;
	}
	req_finish(req);
}

static void req_run(struct vsp_request *req)
{
	struct vsp_slot *s = req->slot;

	req->state = RQ_BACKEND;
	if (s->fault == F_STATUS) {
		vsp_req_complete(req, s->fault_arg, 0);
		return;
	}
	req->backend = s->backend;
	req->backend->submit(req);
}

static void req_latency_done(struct vsp_timer *t)
{
	struct vsp_request *req = (struct vsp_request *)
		((char *)t - offsetof(struct vsp_request, timer));

	/* How much later than asked the host's latency ended. */
	req->slot->latency_fired++;
	req->slot->latency_late_ns += vsp_now_ns() - t->due_ns;
	req_run(req);
}

/* Drop every request of a channel that went away: no completion. */
static void slot_drop_requests(struct vsp_slot *s)
{
	struct vsp_request *req;

	while ((req = s->reqs)) {
		if (req->state == RQ_BACKEND)
			req->backend->cancel(req);
		if (req->state == RQ_HELD)
			s->held--;
		req->state = RQ_DONE;
		req_unlink(req);
		req_free(req);
	}
	s->held = 0;
}

static void violation(struct vsp_slot *s, uint64_t trans_id, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void violation(struct vsp_slot *s, uint64_t trans_id, const char *fmt,
		      ...)
{
	struct az_blob_comp c = { .length = sizeof(c), .error = 22 };
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->violations++;
	vsp_log("slot %u: VIOLATION id %" PRIu64 ": %s", s->idx, trans_id, text);
	post_packet(s, VM_PKT_COMP, trans_id, &c, sizeof(c));
	s->completed++;
}

static void trace_request(struct vsp_slot *s, const struct vsp_request *req,
			  uint32_t range_len)
{
	const struct az_blob_msg *m = &req->msg;
	const uint8_t *g = m->transaction_id;
	char pfns[256];
	uint32_t i;
	int n = 0;

	for (i = 0; i < req->npfn && n < (int)sizeof(pfns) - 24; i++) {
		if (req->npfn > 8 && i == 4) {
			n += snprintf(pfns + n, sizeof(pfns) - n, " ...");
			i = req->npfn - 4;
		}
		n += snprintf(pfns + n, sizeof(pfns) - n, " %#" PRIx64,
			      req->pfns[i]);
	}
	vsp_log("slot %u: request id %" PRIu64 " npfn %u range_len %u pfns:%s",
		s->idx, req->trans_id, req->npfn, range_len, pfns);
	vsp_log("slot %u:   version %u timeout_ms %u op %#x data off %u len %u valid %u req off %u len %u resp off %u len %u",
		s->idx, m->version, m->timeout_ms, m->operation_type,
		m->data_buffer_offset, m->data_buffer_length,
		m->data_buffer_valid, m->request_buffer_offset,
		m->request_buffer_length, m->response_buffer_offset,
		m->response_buffer_length);
	vsp_log("slot %u:   transaction_id %02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		s->idx, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8],
		g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static uint32_t span_pages(uint32_t off_in_page, uint32_t len)
{
	return (uint32_t)(((uint64_t)off_in_page + len + VSP_PAGE_SIZE - 1) /
			  VSP_PAGE_SIZE);
}

/* Check that buffer @name occupies exactly pages [first, first + n). */
static int check_buf(struct vsp_slot *s, uint64_t id, const char *name,
		     uint32_t off, uint32_t len, uint32_t first,
		     uint32_t range_len, uint32_t *npages)
{
	uint64_t base = (uint64_t)first * VSP_PAGE_SIZE;

	if (off < base || off - base >= VSP_PAGE_SIZE) {
		violation(s, id, "%s offset %u not in its first page %u", name,
			  off, first);
		return -1;
	}
	if ((uint64_t)off + len > range_len) {
		violation(s, id, "%s %u+%u outside the range (%u)", name, off,
			  len, range_len);
		return -1;
	}
	*npages = span_pages(off - base, len);
	return 0;
}

static void handle_packet(struct vsp_slot *s, const uint8_t *pkt, uint32_t len)
{
	const struct vmpacket_desc *d = (const void *)pkt;
	uint64_t id = d->trans_id;
	uint32_t off = d->offset8 * 8u, rangecount, range_len, range_off;
	uint32_t npfn, dp = 0, rp = 0, pp = 0, i;
	struct vsp_request *req, *r;
	struct az_blob_msg m;

	s->requests++;
	if (d->type != VM_PKT_DATA_USING_GPA_DIRECT) {
		violation(s, id, "packet type %u, not GPA direct", d->type);
		return;
	}
	if (d->flags != VMBUS_FLAG_COMPLETION_REQUESTED) {
		violation(s, id, "flags %#x, completion not requested",
			  d->flags);
		return;
	}
	if (id == 0) {
		violation(s, id, "transaction id 0");
		return;
	}
	for (r = s->reqs; r; r = r->next) {
		if (r->trans_id == id) {
			violation(s, id, "transaction id already in flight");
			return;
		}
	}
	if (off < 32 || off > len || (off - 32) % 8) {
		violation(s, id, "data offset %u bad for GPA direct", off);
		return;
	}
	if (len - off < sizeof(m)) {
		violation(s, id, "in-band payload %u bytes, need %zu",
			  len - off, sizeof(m));
		return;
	}
	memcpy(&rangecount, pkt + 20, 4);
	memcpy(&range_len, pkt + 24, 4);
	memcpy(&range_off, pkt + 28, 4);
	npfn = (off - 32) / 8;
	memcpy(&m, pkt + off, sizeof(m));
	if (rangecount != 1) {
		violation(s, id, "rangecount %u", rangecount);
		return;
	}
	if (range_off != 0) {
		violation(s, id, "range offset %u", range_off);
		return;
	}
	if (npfn == 0 || npfn > VSP_MAX_PAGES ||
	    (uint64_t)npfn * VSP_PAGE_SIZE != range_len) {
		violation(s, id, "range len %u for %u PFNs", range_len, npfn);
		return;
	}
	if (m.version != 0) {
		violation(s, id, "message version %u", m.version);
		return;
	}
	if (m.operation_type != AZ_BLOB_OP_USER_REQUEST) {
		violation(s, id, "operation %#x", m.operation_type);
		return;
	}
	if (!m.request_buffer_length || !m.response_buffer_length) {
		violation(s, id, "empty request or response buffer");
		return;
	}
	if (m.data_buffer_valid > m.data_buffer_length) {
		violation(s, id, "data valid %u > data length %u",
			  m.data_buffer_valid, m.data_buffer_length);
		return;
	}
	if (m.data_buffer_length) {
		if (check_buf(s, id, "data", m.data_buffer_offset,
			      m.data_buffer_length, 0, range_len, &dp))
			return;
	} else if (m.data_buffer_offset) {
		violation(s, id, "data offset %u without data",
			  m.data_buffer_offset);
		return;
	}
	if (check_buf(s, id, "request", m.request_buffer_offset,
		      m.request_buffer_length, dp, range_len, &rp) ||
	    check_buf(s, id, "response", m.response_buffer_offset,
		      m.response_buffer_length, dp + rp, range_len, &pp))
		return;
	if (dp + rp + pp != npfn) {
		violation(s, id, "%u PFNs for %u data + %u request + %u response pages",
			  npfn, dp, rp, pp);
		return;
	}

	req = calloc(1, sizeof(*req));
	if (req) {
		req->pages = calloc(npfn, sizeof(*req->pages));
		req->pfns = calloc(npfn, sizeof(*req->pfns));
	}
	if (!req || !req->pages || !req->pfns) {
		if (req)
			req_free(req);
		vsp_log("slot %u: out of memory", s->idx);
		violation(s, id, "host out of memory");
		return;
	}
	req->slot = s;
	req->trans_id = id;
	req->msg = m;
	req->npfn = npfn;
	for (i = 0; i < npfn; i++) {
		memcpy(&req->pfns[i], pkt + 32 + 8 * i, 8);
		req->pages[i] = guest_ptr(req->pfns[i] * VSP_PAGE_SIZE,
					  VSP_PAGE_SIZE);
		if (req->pfns[i] > (UINT64_MAX >> 12) || !req->pages[i]) {
			violation(s, id, "PFN %#" PRIx64 " (#%u) outside guest RAM",
				  req->pfns[i], i);
			req_free(req);
			return;
		}
	}
	if (s->trace)
		trace_request(s, req, range_len);

	req->next = s->reqs;
	if (s->reqs)
		s->reqs->prev = req;
	s->reqs = req;
	if (s->latency_us) {
		req->state = RQ_LATENCY;
		req->timer.fn = req_latency_done;
		vsp_timer_arm(&req->timer, (uint64_t)s->latency_us * 1000);
	} else {
		req_run(req);
	}
}

/* The loop looks at every channel after any event: nothing more to do. */
static void pace_due(struct vsp_timer *t)
{
	(void)t;
}

/* With `pace`: may the host read the next packet now? */
static bool pace_allows(struct vsp_slot *s)
{
	uint64_t now;

	if (!s->pace_us)
		return true;
	now = vsp_now_ns();
	if (now < s->pace_next_ns) {
		if (!s->pace_timer.armed) {
			s->pace_timer.fn = pace_due;
			vsp_timer_arm(&s->pace_timer, s->pace_next_ns - now);
		}
		return false;
	}
	s->pace_next_ns = now + (uint64_t)s->pace_us * 1000;
	return true;
}

/* Read every packet the guest queued on a channel. Returns packets read. */
static unsigned int slot_drain(struct vsp_slot *s)
{
	struct ring *r = &s->out;
	unsigned int n = 0;
	uint32_t rd, wr, used, len, free_before, pend;
	struct vmpacket_desc d;

	if (!s->open || s->broken || s->lie_ring == LIE_OUT_READ ||
	    s->lie_ring == LIE_OUT_WRITE)
		return 0;
	rd = r->hdr->read_index;
	for (;;) {
		wr = __atomic_load_n(&r->hdr->write_index, __ATOMIC_ACQUIRE);
		if (rd >= r->dsize || wr >= r->dsize) {
			vsp_log("slot %u: outbound ring indices broken (r %u w %u)",
				s->idx, rd, wr);
			s->violations++;
			s->broken = true;
			break;
		}
		used = ring_used(r, rd, wr);
		if (used == 0 || !pace_allows(s))
			break;
		if (used < sizeof(d) + 8)
			goto bad;
		ring_copy_from(r, rd, &d, sizeof(d));
		len = d.len8 * 8u;
		if (len < sizeof(d) || len + 8 > used || len > MAX_PKT)
			goto bad;
		ring_copy_from(r, rd, pktbuf, len);
		rd = (rd + len + 8) % r->dsize;
		free_before = r->dsize - used;
		__atomic_store_n(&r->hdr->read_index, rd, __ATOMIC_SEQ_CST);
		/* Flow control: wake a guest waiting for room. */
		pend = __atomic_load_n(&r->hdr->pending_send_sz,
				       __ATOMIC_ACQUIRE);
		if (pend && free_before <= pend &&
		    r->dsize - ring_used(r, rd, wr) > pend)
			ring_guest(VMBUS_EMU_VEC_SLOT(s->idx));
		handle_packet(s, pktbuf, len);
		n++;
		if (!s->open)
			break;
	}
	return n;
bad:
	vsp_log("slot %u: malformed packet in the outbound ring (used %u len %u)",
		s->idx, used, d.len8 * 8u);
	s->violations++;
	s->broken = true;
	return n;
}

/* ---------------------------------------------------------------------- */
/* Channels */

static void slot_close(struct vsp_slot *s)
{
	struct outpkt *p;

	slot_drop_requests(s);
	while ((p = s->q_head)) {
		s->q_head = p->next;
		free(p);
	}
	s->q_tail = NULL;
	if (s->open)
		vsp_log("slot %u: channel closed", s->idx);
	s->open = false;
	s->broken = false;
	s->lie_ring = LIE_NONE;
	s->gen++;
	memset(&s->out, 0, sizeof(s->out));
	memset(&s->in, 0, sizeof(s->in));
}

static int map_ring(struct ring *r, uint64_t gpa, uint32_t size)
{
	uint8_t *p;

	if (gpa % VSP_PAGE_SIZE || size % VSP_PAGE_SIZE ||
	    size < 2 * VSP_PAGE_SIZE)
		return -1;
	p = guest_ptr(gpa, size);
	if (!p)
		return -1;
	r->hdr = (struct ring_hdr *)p;
	r->data = p + VSP_PAGE_SIZE;
	r->dsize = size - VSP_PAGE_SIZE;
	if (r->hdr->read_index >= r->dsize || r->hdr->write_index >= r->dsize)
		return -1;
	return 0;
}

static void slot_open(struct vsp_slot *s)
{
	const struct vmbus_emu_slot_desc *sd = &mb->slot[s->idx];
	int err = 0;

	if (!s->offered)
		err = ENODEV;
	else if (s->open)
		err = EBUSY;
	else if (map_ring(&s->out, sd->out_gpa, sd->out_size) ||
		 map_ring(&s->in, sd->in_gpa, sd->in_size))
		err = EINVAL;
	if (err) {
		vsp_log("slot %u: open refused (%s): out %#" PRIx64 "+%u in %#" PRIx64 "+%u",
			s->idx, strerror(err), (uint64_t)sd->out_gpa,
			sd->out_size, (uint64_t)sd->in_gpa, sd->in_size);
		if (err == EINVAL) {
			memset(&s->out, 0, sizeof(s->out));
			memset(&s->in, 0, sizeof(s->in));
		}
		send_msg(VMBUS_EMU_H2G_OPEN_RESULT, s->idx, 0, err, NULL);
		return;
	}
	s->open = true;
	s->broken = false;
	vsp_log("slot %u: channel open: out %#" PRIx64 "+%u in %#" PRIx64 "+%u",
		s->idx, (uint64_t)sd->out_gpa, sd->out_size,
		(uint64_t)sd->in_gpa, sd->in_size);
	send_msg(VMBUS_EMU_H2G_OPEN_RESULT, s->idx, 0, 0, NULL);
}

static void slot_reset_config(struct vsp_slot *s)
{
	s->backend = default_backend;
	s->backend_arg[0] = '\0';
	s->latency_us = 0;
	s->pace_us = 0;
	vsp_timer_cancel(&s->pace_timer);
	s->fault = F_NONE;
	s->fault_arg = 0;
	s->trace = false;
}

static void release_held(struct vsp_slot *s)
{
	struct vsp_request *req, *next;

	for (req = s->reqs; req; req = next) {
		next = req->next;
		if (req->state == RQ_HELD) {
			s->held--;
			req_finish(req);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Test-control commands from the guest */

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long x;

	if (!s || !*s)
		return -1;
	errno = 0;
	x = strtoul(s, &end, 0);
	if (errno || *end || x > UINT32_MAX || *s == '-')
		return -1;
	*v = x;
	return 0;
}

/* The index a `ring` lie overwrites (the header is 4-byte aligned). */
static uint32_t *lie_index(struct vsp_slot *s, enum ring_lie which)
{
	struct ring_hdr *h = which == LIE_IN_WRITE ? s->in.hdr : s->out.hdr;
	size_t off = which == LIE_OUT_READ ?
		     offsetof(struct ring_hdr, read_index) :
		     offsetof(struct ring_hdr, write_index);

	return (uint32_t *)((uint8_t *)h + off);
}

/*
 * `ring <slot> in_write|out_read|out_write <value>`: write an index the
 * guest must not trust into one of the channel's rings and interrupt the
 * guest. in_write is the host's write index of the guest's inbound ring,
 * out_read the host's read index of the outbound ring, out_write the
 * guest's own write index of the outbound ring (which the host can write
 * too: the header is shared). Only values past the end of the ring are
 * taken. While the lie stands the host stops using that ring: it reads no
 * requests after an out_* lie, and publishes no completions and resends
 * no interrupts after an in_write one. `ring <slot> restore` writes the saved index back
 * (out_write only if the guest has not replaced the value) and resumes.
 */
static void ring_command(uint32_t seq, struct vsp_slot *s, int argc,
			 char **argv)
{
	static const char *const names[] = {
		[LIE_IN_WRITE] = "in_write", [LIE_OUT_READ] = "out_read",
		[LIE_OUT_WRITE] = "out_write",
	};
	uint32_t *idx, v, expect, size;
	enum ring_lie which;

	if (!s->open || s->broken) {
		cmd_reply(seq, ENODEV, "error: slot %u has no open channel",
			  s->idx);
		return;
	}
	if (argc == 1 && !strcmp(argv[0], "restore")) {
		if (s->lie_ring == LIE_NONE) {
			cmd_reply(seq, 0, "ok");
			return;
		}
		idx = lie_index(s, s->lie_ring);
		expect = s->lie_value;
		__atomic_compare_exchange_n(idx, &expect, s->lie_saved, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		vsp_log("slot %u: ring %s restored to %u", s->idx,
			names[s->lie_ring], s->lie_saved);
		s->lie_ring = LIE_NONE;
		/* Catch up on both rings, then tell the guest. */
		slot_drain(s);
		in_queue_flush(s);
		ring_guest(VMBUS_EMU_VEC_SLOT(s->idx));
		cmd_reply(seq, 0, "ok");
		return;
	}
	for (which = LIE_IN_WRITE; which <= LIE_OUT_WRITE; which++)
		if (argc == 2 && !strcmp(argv[0], names[which]))
			break;
	if (which > LIE_OUT_WRITE || parse_u32(argv[1], &v) ||
	    s->lie_ring != LIE_NONE) {
		cmd_reply(seq, EINVAL, "error: ring in_write|out_read|out_write <value> or restore, one at a time");
		return;
	}
	idx = lie_index(s, which);
	size = which == LIE_IN_WRITE ? s->in.dsize : s->out.dsize;
	if (v < size) {
		cmd_reply(seq, EINVAL, "error: %u is inside the ring", v);
		return;
	}
	/* Take what the guest has queued first: the lie starts clean. */
	if (which != LIE_IN_WRITE)
		slot_drain(s);
	s->lie_ring = which;
	s->lie_value = v;
	s->lie_saved = __atomic_exchange_n(idx, v, __ATOMIC_SEQ_CST);
	vsp_log("slot %u: ring %s %u (was %u)", s->idx, names[which], v,
		s->lie_saved);
	ring_guest(VMBUS_EMU_VEC_SLOT(s->idx));
	cmd_reply(seq, 0, "ok was=%u size=%u", s->lie_saved, size);
}

static void handle_command(uint32_t seq, char *text)
{
	char *argv[8], *save = NULL, *tok;
	struct vsp_slot *s = NULL;
	const struct vsp_backend *be;
	uint32_t slot, v;
	int argc = 0, i;

	vsp_log("command %u: %s", seq, text);
	for (tok = strtok_r(text, " \t", &save); tok && argc < 8;
	     tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	if (!argc)
		goto bad;

	if (!strcmp(argv[0], "reset") && argc == 1) {
		for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
			if (slots[i].fault == F_HOLD)
				release_held(&slots[i]);
			slot_reset_config(&slots[i]);
		}
		cmd_reply(seq, 0, "ok");
		return;
	}
	if (argc < 2 || parse_u32(argv[1], &slot) ||
	    slot >= VMBUS_EMU_MAX_SLOTS)
		goto bad;
	s = &slots[slot];

	if (!strcmp(argv[0], "offer") && argc == 2) {
		if (s->offered || s->has_pending_cmd) {
			cmd_reply(seq, EINVAL, "error: slot %u already offered",
				  slot);
			return;
		}
		s->offered = true;
		s->pending_cmd = seq;
		s->has_pending_cmd = true;
		vsp_log("slot %u: offer", slot);
		send_msg(VMBUS_EMU_H2G_OFFER, slot, 0, 0, NULL);
	} else if (!strcmp(argv[0], "rescind") && argc == 2) {
		if (!s->offered || s->has_pending_cmd) {
			cmd_reply(seq, EINVAL, "error: slot %u not offered",
				  slot);
			return;
		}
		vsp_log("slot %u: rescind", slot);
		slot_close(s);
		s->offered = false;
		s->pending_cmd = seq;
		s->has_pending_cmd = true;
		send_msg(VMBUS_EMU_H2G_RESCIND, slot, 0, 0, NULL);
	} else if (!strcmp(argv[0], "backend") && (argc == 3 || argc == 4)) {
		be = vsp_backend_find(argv[2]);
		if (!be || (argc == 4 && (!be->check_arg ||
					  strlen(argv[3]) >= sizeof(s->backend_arg) ||
					  be->check_arg(argv[3]))))
			goto bad;
		/* Requests in flight finish on the backend they started on. */
		s->backend = be;
		snprintf(s->backend_arg, sizeof(s->backend_arg), "%s",
			 argc == 4 ? argv[3] : "");
		cmd_reply(seq, 0, "ok");
	} else if (!strcmp(argv[0], "latency") && argc == 3) {
		if (parse_u32(argv[2], &v))
			goto bad;
		s->latency_us = v;
		s->latency_fired = 0;
		s->latency_late_ns = 0;
		cmd_reply(seq, 0, "ok");
	} else if (!strcmp(argv[0], "pace") && argc == 3) {
		if (parse_u32(argv[2], &v))
			goto bad;
		s->pace_us = v;
		s->pace_next_ns = 0;
		vsp_timer_cancel(&s->pace_timer);
		cmd_reply(seq, 0, "ok");
	} else if (!strcmp(argv[0], "fault") && argc >= 3) {
		for (i = 0; i < (int)(sizeof(fault_names) / sizeof(fault_names[0])); i++)
			if (!strcmp(argv[2], fault_names[i]))
				break;
		if (i == (int)(sizeof(fault_names) / sizeof(fault_names[0])))
			goto bad;
		v = 0;
		if (i == F_DELAY || i == F_STATUS || i == F_FUZZ) {
			if (argc != 4 || parse_u32(argv[3], &v))
				goto bad;
		} else if (argc != 3) {
			goto bad;
		}
		if (s->fault == F_HOLD && i != F_HOLD)
			release_held(s);
		s->fault = i;
		s->fault_arg = v;
		if (i == F_FUZZ) {
			s->fuzz_state = v;
			s->fuzzed = 0;
		}
		cmd_reply(seq, 0, "ok");
	} else if (!strcmp(argv[0], "ring") && (argc == 3 || argc == 4)) {
		ring_command(seq, s, argc - 2, argv + 2);
	} else if (!strcmp(argv[0], "release") && argc == 2) {
		v = s->held;
		release_held(s);
		cmd_reply(seq, 0, "ok released=%u", v);
	} else if (!strcmp(argv[0], "stats") && argc == 2) {
		cmd_reply(seq, 0,
			  "ok requests=%" PRIu64 " completed=%" PRIu64 " held=%u violations=%" PRIu64 " fuzzed=%" PRIu64 " latency_fired=%" PRIu64 " latency_late_ns=%" PRIu64,
			  s->requests, s->completed, s->held, s->violations,
			  s->fuzzed, s->latency_fired,
			  s->latency_fired ? s->latency_late_ns /
					     s->latency_fired : 0);
	} else if (!strcmp(argv[0], "trace") && argc == 3) {
		if (!strcmp(argv[2], "on"))
			s->trace = true;
		else if (!strcmp(argv[2], "off"))
			s->trace = false;
		else
			goto bad;
		cmd_reply(seq, 0, "ok");
	} else {
		goto bad;
	}
	return;
bad:
	cmd_reply(seq, EINVAL, "error: bad command");
}

/* ---------------------------------------------------------------------- */
/* The mailbox */

static void guest_attach_check(void)
{
	uint32_t gen = __atomic_load_n(&mb->guest_gen, __ATOMIC_ACQUIRE);
	int i;

	if (gen == seen_gen)
		return;
	seen_gen = gen;
	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		slot_close(&slots[i]);
		slots[i].has_pending_cmd = false;
	}
	mb->g2h.prod = mb->g2h.cons = 0;
	mb->h2g.prod = mb->h2g.cons = 0;
	attached = false;
	guest_mem_detach();
	if (mb->guest_attached) {
		if (guest_mem_attach(mb)) {
			vsp_log("guest attach (gen %u) refused", gen);
			return;
		}
		attached = true;
		vsp_log("guest attached (gen %u), peer %u", gen,
			mb->guest_peer_id);
	} else {
		vsp_log("guest detached (gen %u)", gen);
	}
	__atomic_store_n(&mb->host_ack_gen, gen, __ATOMIC_RELEASE);
	if (!attached)
		return;
	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		if (slots[i].offered) {
			vsp_log("slot %d: offer", i);
			send_msg(VMBUS_EMU_H2G_OFFER, i, 0, 0, NULL);
		}
	}
}

static void ctrl_drain(void)
{
	struct vmbus_emu_queue *q = &mb->g2h;
	struct vmbus_emu_msg m;
	struct vsp_slot *s;
	uint32_t prod, cons;

	guest_attach_check();
	if (!attached)
		return;
	cons = q->cons;
	for (;;) {
		prod = __atomic_load_n(&q->prod, __ATOMIC_ACQUIRE);
		if (prod == cons)
			break;
		if (prod - cons > VMBUS_EMU_QUEUE_DEPTH) {
			vsp_log("bad g2h queue: prod %u cons %u", prod, cons);
			break;
		}
		memcpy(&m, &q->msg[cons % VMBUS_EMU_QUEUE_DEPTH], sizeof(m));
		__atomic_store_n(&q->cons, ++cons, __ATOMIC_RELEASE);
		m.text[sizeof(m.text) - 1] = '\0';
		if (m.type != VMBUS_EMU_G2H_CMD && m.slot >= VMBUS_EMU_MAX_SLOTS) {
			vsp_log("message %u for bad slot %u", m.type, m.slot);
			continue;
		}
		s = m.type == VMBUS_EMU_G2H_CMD ? NULL : &slots[m.slot];
		switch (m.type) {
		case VMBUS_EMU_G2H_OPEN:
			slot_open(s);
			break;
		case VMBUS_EMU_G2H_CLOSE:
			slot_close(s);
			send_msg(VMBUS_EMU_H2G_CLOSE_DONE, s->idx, 0, 0, NULL);
			break;
		case VMBUS_EMU_G2H_OFFER_DONE:
			vsp_log("slot %u: guest registered the device (status %u)",
				s->idx, m.status);
			if (s->has_pending_cmd) {
				s->has_pending_cmd = false;
				if (m.status)
					cmd_reply(s->pending_cmd, EIO,
						  "error: guest offer failed: %u",
						  m.status);
				else
					cmd_reply(s->pending_cmd, 0, "ok");
			}
			break;
		case VMBUS_EMU_G2H_RESCIND_DONE:
			vsp_log("slot %u: guest removed the device", s->idx);
			if (s->has_pending_cmd) {
				s->has_pending_cmd = false;
				cmd_reply(s->pending_cmd, 0, "ok");
			}
			break;
		case VMBUS_EMU_G2H_CMD:
			handle_command(m.seq, m.text);
			break;
		default:
			vsp_log("unknown message %u", m.type);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* The ivshmem server side */

static int send_fd_msg(int sock, int64_t v, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &v, .iov_len = sizeof(v) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == sizeof(v) ? 0 : -1;
}

static int ep_add(int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_LISTEN = 100, TAG_CLIENT, TAG_TIMER, TAG_SIGNAL, TAG_POST };

static void accept_client(void)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC), i, err = 0;

	if (fd < 0)
		return;
	if (client_fd >= 0) {
		vsp_log("refusing a second ivshmem client");
		close(fd);
		return;
	}
	/* version, the client's id, the shared memory */
	err |= send_fd_msg(fd, 0, -1);
	err |= send_fd_msg(fd, GUEST_PEER, -1);
	err |= send_fd_msg(fd, -1, shm_fd);
	/* the host as a peer: eventfds to interrupt it, vector by vector */
	for (i = 0; i < NVEC; i++)
		err |= send_fd_msg(fd, HOST_PEER, host_ev[i]);
	/* the client's own vectors */
	for (i = 0; i < NVEC; i++)
		err |= send_fd_msg(fd, GUEST_PEER, guest_ev[i]);
	if (err) {
		vsp_log("ivshmem setup failed: %s", strerror(errno));
		close(fd);
		return;
	}
	client_fd = fd;
	ep_add(fd, TAG_CLIENT);
	vsp_log("QEMU connected (guest peer %d, %d vectors)", GUEST_PEER,
		NVEC);
}

/* ---------------------------------------------------------------------- */
/* Polling and the loop */

/* Process every channel; with @mask, leave host interrupts masked. */
static unsigned int poll_channels(bool mask)
{
	unsigned int n = 0, i;
	struct vsp_slot *s;

	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		s = &slots[i];
		if (!s->open || s->broken)
			continue;
		__atomic_store_n(&s->out.hdr->interrupt_mask, 1,
				 __ATOMIC_SEQ_CST);
		n += slot_drain(s);
		in_queue_flush(s);
		if (!s->open || s->broken || mask)
			continue;
		/* Unmask, then look again: a packet may have slipped in. */
		__atomic_store_n(&s->out.hdr->interrupt_mask, 0,
				 __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		n += slot_drain(s);
	}
	return n;
}

static void unmask_all(void)
{
	unsigned int i;

	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++)
		if (slots[i].open && !slots[i].broken)
			__atomic_store_n(&slots[i].out.hdr->interrupt_mask, 0,
					 __ATOMIC_SEQ_CST);
}

/*
 * Adaptive busy-poll: after work, keep polling the rings with interrupts
 * masked for up to poll_us; any packet found restarts the window.
 */
static void busy_poll(void)
{
	uint64_t end = vsp_now_ns() + (uint64_t)poll_us * 1000;
	unsigned int n;

	while (vsp_now_ns() < end && !timers) {
		n = poll_channels(true);
		if (n) {
			stat_polled += n;
			end = vsp_now_ns() + (uint64_t)poll_us * 1000;
		}
		__builtin_ia32_pause();
	}
	unmask_all();
	poll_channels(false);
}

static void drain_eventfd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vsp_log("eventfd read: %s", strerror(errno));
}

/* The tick's second half: resend a lost host-to-guest interrupt. */
static void kick_stale(void)
{
	struct vsp_slot *s;
	uint32_t rd, wr;
	unsigned int i;

	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		s = &slots[i];
		/*
		 * Behind a write index put past the end of the ring nothing
		 * waits for the guest: no interrupt is lost.
		 */
		if (!s->open || s->broken || s->lie_ring == LIE_IN_WRITE)
			continue;
		rd = __atomic_load_n(&s->in.hdr->read_index, __ATOMIC_ACQUIRE);
		wr = __atomic_load_n(&s->in.hdr->write_index, __ATOMIC_ACQUIRE);
		if (rd != wr && rd == s->kick_read &&
		    !__atomic_load_n(&s->in.hdr->interrupt_mask,
				     __ATOMIC_ACQUIRE)) {
			s->kicks++;
			stat_kicks++;
			ring_guest(VMBUS_EMU_VEC_SLOT(s->idx));
		}
		s->kick_read = rd;
	}
}

static bool any_open(void)
{
	unsigned int i;

	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++)
		if (slots[i].open && !slots[i].broken)
			return true;
	return false;
}

static void loop(void)
{
	uint64_t last_tick = vsp_now_ns();
	struct epoll_event evs[32];
	struct signalfd_siginfo si;
	int n, i;
	char c;

	while (!quit) {
		n = epoll_wait(epfd, evs, 32, any_open() ? VSP_TICK_MS : 1000);
		if (n < 0 && errno != EINTR) {
			vsp_log("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag < NVEC) {
				drain_eventfd(host_ev[tag]);
				stat_doorbells++;
				if (tag == VMBUS_EMU_VEC_CTRL)
					ctrl_drain();
			} else if (tag == TAG_LISTEN) {
				accept_client();
			} else if (tag == TAG_CLIENT) {
				if (read(client_fd, &c, 1) <= 0) {
					vsp_log("QEMU disconnected");
					quit = true;
				}
			} else if (tag == TAG_TIMER) {
				drain_eventfd(timer_fd);
				timers_run();
			} else if (tag == TAG_SIGNAL) {
				if (read(sig_fd, &si, sizeof(si)) > 0)
					vsp_log("signal %u, shutting down",
						si.ssi_signo);
				quit = true;
			} else if (tag == TAG_POST) {
				posts_run();
			}
		}
		if (!mb || quit)
			continue;
		/* The control queue is cheap to look at: never miss it. */
		ctrl_drain();
		if (poll_channels(poll_us != 0) && poll_us)
			busy_poll();
		else if (poll_us)
			unmask_all();
		if (vsp_now_ns() - last_tick >= VSP_TICK_MS * 1000000ull) {
			kick_stale();
			last_tick = vsp_now_ns();
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vsp --socket PATH --guest-ram FILE [--log FILE]\n"
		"           [--offer SLOT]... [--no-offer] [--poll-us N]\n"
		"           [--backend null|echo|http] [--http-endpoint URL]\n"
		"           [--http-max-inflight N] [--http-timeout-ms MS]\n"
		"           [--http-keep-host]\n"
		"  --socket     ivshmem server socket QEMU connects to\n"
		"  --guest-ram  QEMU's memory-backend-file (share=on)\n"
		"  --log        log file (default: stderr)\n"
		"  --offer      offer the device in SLOT at start (default 0)\n"
		"  --no-offer   offer nothing at start\n"
		"  --poll-us    busy-poll the rings for N us after work (0)\n"
		"  --backend    every slot's backend at start and after reset (echo)\n"
		"  --http-endpoint      blob endpoint of the http backend, loopback\n"
		"               only (http://127.0.0.1:10000/devstoreaccount1)\n"
		"  --http-max-inflight  HTTP transfers at once (64)\n"
		"  --http-timeout-ms    bound of one HTTP exchange (120000)\n"
		"  --http-keep-host     send the request's Host, not the endpoint's\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "guest-ram", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "offer", required_argument, NULL, 'o' },
		{ "no-offer", no_argument, NULL, 'n' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "backend", required_argument, NULL, 'b' },
		{ "http-endpoint", required_argument, NULL, 'e' },
		{ "http-max-inflight", required_argument, NULL, 'm' },
		{ "http-timeout-ms", required_argument, NULL, 't' },
		{ "http-keep-host", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool offer_set = false, offer[VMBUS_EMU_MAX_SLOTS] = { false };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sigset_t mask;
	uint32_t v;
	int c, i;

	log_fp = stderr;
	default_backend = vsp_backend_find("echo");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'r':
			vsp_ram_path = optarg;
			break;
		case 'l':
			log_fp = fopen(optarg, "a");
			if (!log_fp) {
				perror(optarg);
				return 1;
			}
			break;
		case 'o':
			if (parse_u32(optarg, &v) || v >= VMBUS_EMU_MAX_SLOTS) {
				usage();
				return 1;
			}
			offer[v] = true;
			offer_set = true;
			break;
		case 'n':
			offer_set = true;
			break;
		case 'p':
			if (parse_u32(optarg, &poll_us)) {
				usage();
				return 1;
			}
			break;
		case 'b':
			default_backend = vsp_backend_find(optarg);
			if (!default_backend) {
				fprintf(stderr, "vsp: unknown backend %s\n", optarg);
				return 1;
			}
			break;
		case 'e':
			if (vsp_http_set_endpoint(optarg)) {
				fprintf(stderr,
					"vsp: --http-endpoint %s: need http:// on 127.0.0.0/8, localhost or [::1]\n",
					optarg);
				return 1;
			}
			break;
		case 'm':
			if (parse_u32(optarg, &v) || vsp_http_set_max_inflight(v)) {
				usage();
				return 1;
			}
			break;
		case 't':
			if (parse_u32(optarg, &v) || vsp_http_set_timeout_ms(v)) {
				usage();
				return 1;
			}
			break;
		case 'k':
			vsp_http_set_keep_host(true);
			break;
		default:
			usage();
			return c == 'h' ? 0 : 1;
		}
	}
	if (!sock_path || !vsp_ram_path || strlen(sock_path) >= sizeof(sa.sun_path)) {
		usage();
		return 1;
	}
	if (!offer_set)
		offer[0] = true;

	pktbuf = malloc(MAX_PKT);
	shm_fd = memfd_create("vmbus_emu_mailbox", MFD_CLOEXEC);
	if (!pktbuf || shm_fd < 0 || ftruncate(shm_fd, VMBUS_EMU_SHM_SIZE)) {
		perror("mailbox");
		return 1;
	}
	mb = mmap(NULL, VMBUS_EMU_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		  shm_fd, 0);
	if (mb == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	mb->magic = VMBUS_EMU_MAGIC;
	mb->version = VMBUS_EMU_VERSION;
	mb->size = VMBUS_EMU_SHM_SIZE;
	mb->host_peer_id = HOST_PEER;
	mb->host_state = VMBUS_EMU_HOST_UP;

	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++) {
		slots[i].idx = i;
		slots[i].offered = offer[i];
		slot_reset_config(&slots[i]);
	}

	epfd = epoll_create1(EPOLL_CLOEXEC);
	for (i = 0; i < NVEC; i++) {
		host_ev[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		guest_ev[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (host_ev[i] < 0 || guest_ev[i] < 0 || ep_add(host_ev[i], i)) {
			perror("eventfd");
			return 1;
		}
	}
	/*
	 * The default 50 us timer slack would add itself to every `latency`:
	 * the host's latency is what was set, not "at least that".
	 */
	prctl(PR_SET_TIMERSLACK, 1UL);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	post_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (timer_fd < 0 || post_fd < 0 || sig_fd < 0 ||
	    ep_add(timer_fd, TAG_TIMER) || ep_add(post_fd, TAG_POST) ||
	    ep_add(sig_fd, TAG_SIGNAL)) {
		perror("setup");
		return 1;
	}

	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, sock_path);
	unlink(sock_path);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(listen_fd, 4) || ep_add(listen_fd, TAG_LISTEN)) {
		perror(sock_path);
		return 1;
	}
	vsp_log("vsp: listening on %s, guest RAM %s, poll %u us, backend %s%s%s",
		sock_path, vsp_ram_path, poll_us, default_backend->name,
		default_backend == &vsp_http_backend ? " " : "",
		default_backend == &vsp_http_backend ? vsp_http_endpoint() : "");

	loop();

	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++)
		slot_close(&slots[i]);
	mb->host_state = VMBUS_EMU_HOST_DOWN;
	vsp_log("vsp: exit; interrupts resent by the tick %" PRIu64, stat_kicks);
	vsp_http_stats();
	vsp_log("vsp: exit; doorbells %" PRIu64 ", packets found by polling %" PRIu64,
		stat_doorbells, stat_polled);
	for (i = 0; i < VMBUS_EMU_MAX_SLOTS; i++)
		if (slots[i].requests)
			vsp_log("slot %d: requests=%" PRIu64 " completed=%" PRIu64 " violations=%" PRIu64,
				i, slots[i].requests, slots[i].completed,
				slots[i].violations);
	if (client_fd >= 0)
		close(client_fd);
	close(listen_fd);
	unlink(sock_path);
	munmap(mb, VMBUS_EMU_SHM_SIZE);
	free(pktbuf);
	if (log_fp != stderr)
		fclose(log_fp);
	return 0;
}
