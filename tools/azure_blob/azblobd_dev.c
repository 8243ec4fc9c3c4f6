// SPDX-License-Identifier: MIT
/*
 * azblobd: device requests. One thread owns one io_uring (SQE128 and
 * CQE32, as the device's command needs) and /dev/azure_blob; the HTTP
 * threads queue jobs to it and it keeps up to ring_depth of them in
 * flight. An eventfd read sits in the same ring, so the thread waits in
 * one place for completions and for new jobs. The request buffers are
 * laid out and completions interpreted by the client library's device
 * transport (azb_dev_fill, azb_dev_prep_sqe, azb_dev_complete).
 *
 * When the device goes away (rescind: ENODEV), the file is closed and
 * opened again before the next request, so a device offered again is
 * used without a restart.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <misc/hv_azure_blob.h>
#include "azblobd.h"

static struct {
	pthread_t thread;
	pthread_mutex_t lock;	/* queue, stop, stats */
	struct azd_job *qhead, *qtail;
	bool stop, started;
	int efd;
	uint64_t efd_val;
	/* device thread only */
	struct io_uring ring;
	int fd;
	unsigned int inflight, depth;
	time_t last_open_try;
	char path[256];
	struct azd_dev_stats st;
} dev = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.efd = -1,
};

static char efd_tag;	/* user_data of the eventfd read */

static size_t round_page(size_t n)
{
	return (n + AZD_PAGE - 1) / AZD_PAGE * AZD_PAGE;
}

/* pages of the response buffer inside a page-aligned struct azb_xfer */
static size_t resp_pages(void)
{
	size_t off = offsetof(struct azb_xfer, resp) % AZD_PAGE;

	return (off + sizeof(((struct azb_xfer *)0)->resp) - 1) / AZD_PAGE + 1;
}

size_t azd_max_data(size_t head_len)
{
	size_t head_pages = round_page(head_len ? head_len : 1) / AZD_PAGE;

	return (AZ_BLOB_MAX_PAGES - resp_pages() - head_pages) * AZD_PAGE;
}

size_t azd_job_charge(size_t head_len, size_t data_len)
{
	return round_page(sizeof(struct azb_xfer)) + round_page(head_len) +
	       round_page(data_len);
}

struct azd_job *azd_job_new(const char *head, size_t head_len,
			    size_t data_len, bool upload, bool is_head,
			    unsigned int timeout_ms)
{
	struct azd_job *j = azb_xmalloc(sizeof(*j));

	j->x = aligned_alloc(AZD_PAGE, round_page(sizeof(*j->x)));
	j->head_alloc = round_page(head_len);
	j->head = aligned_alloc(AZD_PAGE, j->head_alloc);
	if (!j->x || !j->head) {
		free(j->x);
		free(j->head);
		free(j);
		return NULL;
	}
	memset(j->x, 0, sizeof(*j->x));
	memcpy(j->head, head, head_len);
	j->x->head = j->head;
	j->x->head_len = head_len;
	j->x->timeout_ms = timeout_ms;
	j->x->is_head = is_head;
	j->data_alloc = round_page(data_len);
	if (upload)
		j->x->body_len = data_len;
	else
		j->x->rcap = is_head ? 0 : data_len;
	j->charged = 0;
	return j;
}

int azd_job_map(struct azd_job *j)
{
	void *p;

	if (!j->data_alloc || j->data)
		return 0;
	p = mmap(NULL, j->data_alloc, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	j->data = p;
	if (j->x->body_len)
		j->x->body = p;
	else
		j->x->rbuf = p;
	return 0;
}

void azd_job_free(struct azd_job *j)
{
	if (!j)
		return;
	if (j->data)
		munmap(j->data, j->data_alloc);
	free(j->head);
	free(j->x);
	if (j->charged)
		azd_mem_give(j->charged);
	free(j);
}

void azd_dev_submit(struct azd_job *j)
{
	uint64_t one = 1;
	ssize_t n;

	j->next = NULL;
	pthread_mutex_lock(&dev.lock);
	if (dev.qtail)
		dev.qtail->next = j;
	else
		dev.qhead = j;
	dev.qtail = j;
	pthread_mutex_unlock(&dev.lock);
	do {
		n = write(dev.efd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

void azd_dev_get_stats(struct azd_dev_stats *s)
{
	pthread_mutex_lock(&dev.lock);
	*s = dev.st;
	pthread_mutex_unlock(&dev.lock);
}

static void count(uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&dev.lock);
	*field += n;
	pthread_mutex_unlock(&dev.lock);
}

/* Open the device (again); at most once a second after a failure. */
static int dev_open(void)
{
	time_t now = time(NULL);

	if (dev.fd >= 0)
		return 0;
	if (dev.last_open_try == now)
		return -ENODEV;
	dev.last_open_try = now;
	dev.fd = open(dev.path, O_RDWR | O_CLOEXEC);
	if (dev.fd < 0) {
		int e = errno;

		azd_log(AZD_ERR, "cannot open %s: %s", dev.path, strerror(e));
		return -e;
	}
	count(&dev.st.reopens, 1);
	azd_log(AZD_NOTICE, "opened %s", dev.path);
	return 0;
}

static void finish(struct azd_job *j, int res, unsigned int status,
		   unsigned int resp_len)
{
	azb_dev_complete(j->x, res, status, resp_len, "io_uring");
	if (j->x->terr)
		count(&dev.st.failed, 1);
	else if (j->x->rlen)
		count(&dev.st.bytes_down, j->x->rlen);
	if (res == -ENODEV && dev.fd >= 0) {
		/* io_uring holds its own reference to the file */
		azd_log(AZD_WARNING, "%s went away (ENODEV); reopening",
			dev.path);
		close(dev.fd);
		dev.fd = -1;
	}
	j->done(j);
}

static void arm_eventfd(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&dev.ring);

	/* one slot is kept for this read (see the ring size) */
	io_uring_prep_read(sqe, dev.efd, &dev.efd_val, sizeof(dev.efd_val), 0);
	io_uring_sqe_set_data(sqe, &efd_tag);
}

static void submit_queued(void)
{
	struct az_blob_request_sync rq;
	struct io_uring_sqe *sqe;
	struct azd_job *j;
	int ret;

	while (dev.inflight < dev.depth) {
		pthread_mutex_lock(&dev.lock);
		j = dev.qhead;
		if (j) {
			dev.qhead = j->next;
			if (!dev.qhead)
				dev.qtail = NULL;
		}
		pthread_mutex_unlock(&dev.lock);
		if (!j)
			return;
		j->x->terr = 0;
		j->x->dev_status = 0;
		j->x->terr_msg[0] = '\0';
		ret = dev_open();
		if (!ret)
			ret = azb_dev_fill(j->x, &rq);
		if (ret) {
			finish(j, ret, 0, 0);
			continue;
		}
		sqe = io_uring_get_sqe(&dev.ring);
		if (!sqe) {
			io_uring_submit(&dev.ring);
			sqe = io_uring_get_sqe(&dev.ring);
		}
		if (!sqe) {
			finish(j, -EBUSY, 0, 0);
			continue;
		}
		azb_dev_prep_sqe(sqe, dev.fd, &rq);
		io_uring_sqe_set_data(sqe, j);
		dev.inflight++;
		pthread_mutex_lock(&dev.lock);
		dev.st.submitted++;
		if (j->x->body_len)
			dev.st.bytes_up += j->x->body_len;
		pthread_mutex_unlock(&dev.lock);
	}
}

static bool queue_empty(void)
{
	bool empty;

	pthread_mutex_lock(&dev.lock);
	empty = !dev.qhead;
	pthread_mutex_unlock(&dev.lock);
	return empty;
}

static void *dev_thread(void *arg)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen;
	bool rearm, stop;
	int ret;

	(void)arg;
	arm_eventfd();
	for (;;) {
		submit_queued();
		ret = io_uring_submit_and_wait(&dev.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY) {
			azd_log(AZD_ERR, "io_uring_submit_and_wait: %s",
				strerror(-ret));
			sleep(1);
		}
		rearm = false;
		seen = 0;
		io_uring_for_each_cqe(&dev.ring, head, cqe) {
			void *data = io_uring_cqe_get_data(cqe);
			struct azd_job *j = data;
			__u64 big;

			seen++;
			if (data == &efd_tag) {
				rearm = true;
				continue;
			}
			big = cqe->big_cqe[0];
			dev.inflight--;
			count(&dev.st.completed, 1);
			finish(j, cqe->res < 0 ? cqe->res : 0,
			       AZ_BLOB_URING_STATUS(big),
			       AZ_BLOB_URING_RESPONSE_LEN(big));
		}
		io_uring_cq_advance(&dev.ring, seen);
		if (rearm)
			arm_eventfd();
		pthread_mutex_lock(&dev.lock);
		stop = dev.stop;
		pthread_mutex_unlock(&dev.lock);
		if (stop && !dev.inflight && queue_empty())
			break;
	}
	return NULL;
}

int azd_dev_start(const struct azd_config *cfg)
{
	unsigned int entries = 2;
	int ret;

	snprintf(dev.path, sizeof(dev.path), "%s", cfg->device);
	dev.depth = cfg->ring_depth;
	dev.fd = open(dev.path, O_RDWR | O_CLOEXEC);
	if (dev.fd < 0) {
		ret = -errno;
		azd_log(AZD_ERR, "cannot open %s: %s", dev.path,
			strerror(errno));
		return ret;
	}
	dev.efd = eventfd(0, EFD_CLOEXEC);
	if (dev.efd < 0) {
		ret = -errno;
		close(dev.fd);
		return ret;
	}
	/* the commands in flight plus the eventfd read */
	while (entries < dev.depth + 1)
		entries <<= 1;
	ret = io_uring_queue_init(entries, &dev.ring,
				  IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	if (ret < 0) {
		azd_log(AZD_ERR, "io_uring with SQE128/CQE32: %s",
			strerror(-ret));
		close(dev.efd);
		close(dev.fd);
		return ret;
	}
	ret = pthread_create(&dev.thread, NULL, dev_thread, NULL);
	if (ret) {
		io_uring_queue_exit(&dev.ring);
		close(dev.efd);
		close(dev.fd);
		return -ret;
	}
	dev.started = true;
	return 0;
}

/* Wait for the jobs in flight (the host owns their buffers), then stop. */
void azd_dev_stop(void)
{
	uint64_t one = 1;

	if (!dev.started)
		return;
	pthread_mutex_lock(&dev.lock);
	dev.stop = true;
	pthread_mutex_unlock(&dev.lock);
	if (write(dev.efd, &one, sizeof(one)) < 0)
		azd_log(AZD_WARNING, "eventfd: %s", strerror(errno));
	pthread_join(dev.thread, NULL);
	io_uring_queue_exit(&dev.ring);
	if (dev.fd >= 0)
		close(dev.fd);
	close(dev.efd);
	dev.started = false;
}
