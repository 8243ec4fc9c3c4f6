// SPDX-License-Identifier: GPL-2.0
/*
 * Reference VSP: the null and echo backends, and the list of backends.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <string.h>
#include <stdlib.h>

#include "vsp.h"

uint32_t fnv1a32(const uint8_t *p, size_t n)
{
	uint32_t h = 0x811c9dc5u;

	while (n--) {
		h ^= *p++;
		h *= 0x01000193u;
	}
	return h;
}

uint64_t fnv1a64_update(uint64_t h, const uint8_t *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint8_t echo_pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(((uint32_t)(seed ^ i) * 0x9E3779B1u) >> 24);
}

static void null_submit(struct vsp_request *req)
{
	vsp_req_complete(req, 0, 0);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/*
 * Echo: response = request bytes + (le64 sum, le32 dv, le32 seed), cut to
 * the response buffer; downloads get pattern(seed, i), uploads are summed.
 */
static void echo_submit(struct vsp_request *req)
{
	uint32_t rl = req->msg.request_buffer_length;
	uint32_t dl = req->msg.data_buffer_length;
	uint32_t dv = req->msg.data_buffer_valid;
	uint32_t cap = req->msg.response_buffer_length;
	uint8_t chunk[65536];
	uint64_t sum = 0;
	uint32_t seed, n, i, off;
	uint8_t *resp;

	resp = malloc((size_t)rl + 16);
	if (!resp) {
		vsp_req_complete(req, 12, 0);
		return;
	}
	if (vsp_req_read(req, VSP_BUF_REQUEST, 0, resp, rl))
		goto fail;
	seed = fnv1a32(resp, rl);

	if (dv == 0 && dl > 0) {
		for (off = 0; off < dl; off += n) {
			n = dl - off < sizeof(chunk) ? dl - off : sizeof(chunk);
			for (i = 0; i < n; i++)
				chunk[i] = echo_pattern(seed, off + i);
			if (vsp_req_write(req, VSP_BUF_DATA, off, chunk, n))
				goto fail;
		}
	} else if (dv > 0) {
		sum = 0xcbf29ce484222325ull;
		for (off = 0; off < dv; off += n) {
			n = dv - off < sizeof(chunk) ? dv - off : sizeof(chunk);
			if (vsp_req_read(req, VSP_BUF_DATA, off, chunk, n))
				goto fail;
			sum = fnv1a64_update(sum, chunk, n);
		}
	}

	put_le64(resp + rl, sum);
	put_le32(resp + rl + 8, dv);
	put_le32(resp + rl + 12, seed);
	n = (uint64_t)rl + 16 < cap ? rl + 16 : cap;
	if (vsp_req_write(req, VSP_BUF_RESPONSE, 0, resp, n))
		goto fail;
	free(resp);
	vsp_req_complete(req, 0, n);
	return;
fail:
	free(resp);
	vsp_req_complete(req, 5, 0);
}

static void sync_cancel(struct vsp_request *req)
{
	(void)req;	/* completes inside submit: nothing is pending */
}

static const struct vsp_backend null_backend = {
	.name = "null", .submit = null_submit, .cancel = sync_cancel,
};

static const struct vsp_backend echo_backend = {
	.name = "echo", .submit = echo_submit, .cancel = sync_cancel,
};

static const struct vsp_backend *const backends[] = {
	&null_backend, &echo_backend, &vsp_http_backend,
};

const struct vsp_backend *vsp_backend_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}
