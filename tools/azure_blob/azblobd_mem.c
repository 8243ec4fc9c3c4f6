// SPDX-License-Identifier: MIT
/*
 * azblobd: the memory cap. Every device request's buffers are charged
 * here before they are mapped; a request that does not fit waits in a
 * FIFO queue (its connection suspended, so its client is not read any
 * further) until enough is given back. FIFO keeps a large upload from
 * being overtaken for ever by small requests.
 *
 * Lock order: a request's lock may be held while taking this one; this
 * one is never held while calling out (granted() runs after unlocking).
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <pthread.h>
#include "azblobd.h"

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mem_cap, mem_used, mem_peak, mem_waits;
static struct azd_mem_wait *wait_head, *wait_tail;

void azd_mem_init(uint64_t cap)
{
	mem_cap = cap;
}

static void account(size_t bytes)
{
	mem_used += bytes;
	if (mem_used > mem_peak)
		mem_peak = mem_used;
}

bool azd_mem_take(struct azd_mem_wait *w, size_t bytes)
{
	bool now;

	pthread_mutex_lock(&mem_lock);
	w->bytes = bytes;
	w->next = NULL;
	now = !wait_head && mem_used + bytes <= mem_cap;
	if (now) {
		account(bytes);
		w->queued = false;
	} else {
		w->queued = true;
		mem_waits++;
		if (wait_tail)
			wait_tail->next = w;
		else
			wait_head = w;
		wait_tail = w;
	}
	pthread_mutex_unlock(&mem_lock);
	return now;
}

bool azd_mem_cancel(struct azd_mem_wait *w)
{
	struct azd_mem_wait **pp, *prev = NULL;
	bool removed = false;

	pthread_mutex_lock(&mem_lock);
	if (w->queued) {
		for (pp = &wait_head; *pp; prev = *pp, pp = &(*pp)->next) {
			if (*pp != w)
				continue;
			*pp = w->next;
			if (wait_tail == w)
				wait_tail = prev;
			w->queued = false;
			removed = true;
			break;
		}
	}
	pthread_mutex_unlock(&mem_lock);
	/* the queue's head may fit now that w is gone */
	if (removed)
		azd_mem_give(0);
	return removed;
}

void azd_mem_give(size_t bytes)
{
	struct azd_mem_wait *grant = NULL, **gtail = &grant, *w;

	pthread_mutex_lock(&mem_lock);
	mem_used -= bytes;
	while (wait_head && mem_used + wait_head->bytes <= mem_cap) {
		w = wait_head;
		wait_head = w->next;
		if (!wait_head)
			wait_tail = NULL;
		account(w->bytes);
		w->queued = false;
		w->next = NULL;
		*gtail = w;
		gtail = &w->next;
	}
	pthread_mutex_unlock(&mem_lock);
	while (grant) {
		w = grant;
		grant = w->next;
		w->next = NULL;
		w->granted(w);
	}
}

void azd_mem_stats(uint64_t *used, uint64_t *peak, uint64_t *waits)
{
	pthread_mutex_lock(&mem_lock);
	*used = mem_used;
	*peak = mem_peak;
	*waits = mem_waits;
	pthread_mutex_unlock(&mem_lock);
}
