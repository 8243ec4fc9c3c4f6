// SPDX-License-Identifier: GPL-2.0
/*
 * rawreq: send one request through /dev/azure_blob with buffers of chosen
 * sizes and show what the host did: the completion's status and
 * response_len, the response head, the data buffer. The e2e test uses it
 * for the host statuses the Blob client never provokes (a malformed head,
 * a head or a body too large for its buffer).
 *
 *   rawreq [--device P] [--resp-len N] [--data-len N] [--out FILE]
 *          (--head-file FILE | METHOD TARGET)
 *
 * METHOD TARGET builds a Shared Key signed head for Azurite's dev account
 * (path-style endpoint http://127.0.0.1:10000/devstoreaccount1; TARGET is
 * relative to it and has no query). --head-file sends the file's bytes as
 * the request head unchanged.
 *
 * Output: "status N", "response_len N", then the response head.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <misc/hv_azure_blob.h>

#define ACCOUNT	"devstoreaccount1"
#define KEY_B64	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				exit(1);
		}
		r = read(fd, buf + n, cap - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	*len = n;
	return buf;
}

static char *signed_head(const char *method, const char *target,
			 size_t *len)
{
	unsigned char key[128], mac[EVP_MAX_MD_SIZE];
	char date[64], sts[4096], sig[128], *head;
	unsigned int maclen;
	time_t now = time(NULL);
	struct tm tm;
	int klen, n;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	/* Shared Key: 11 empty standard headers, canonical x-ms-*, resource */
	n = snprintf(sts, sizeof(sts),
		     "%s\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:2021-08-06\n/%s/%s%s",
		     method, date, ACCOUNT, ACCOUNT, target);
	klen = EVP_DecodeBlock(key, (const unsigned char *)KEY_B64,
			       strlen(KEY_B64));
	klen -= 2;	/* the key ends in "==" */
	HMAC(EVP_sha256(), key, klen, (unsigned char *)sts, n, mac, &maclen);
	EVP_EncodeBlock((unsigned char *)sig, mac, maclen);
	n = asprintf(&head,
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:10000\r\n"
		     "x-ms-date: %s\r\nx-ms-version: 2021-08-06\r\n"
		     "Authorization: SharedKey %s:%s\r\n\r\n",
		     method, target, date, ACCOUNT, sig);
	if (n < 0)
		exit(1);
	*len = n;
	return head;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "resp-len", required_argument, NULL, 'r' },
		{ "data-len", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "head-file", required_argument, NULL, 'f' },
		{ }
	};
	const char *dev = "/dev/azure_blob", *out = NULL, *head_file = NULL;
	size_t resp_cap = 16384, data_len = 0, head_len;
	struct az_blob_request_sync rq;
	char *head, *resp, *data;
	int c, fd, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'r': resp_cap = strtoul(optarg, NULL, 0); break;
		case 'l': data_len = strtoul(optarg, NULL, 0); break;
		case 'o': out = optarg; break;
		case 'f': head_file = optarg; break;
		default: return 2;
		}
	}
	if (head_file) {
		head = read_file(head_file, &head_len);
		if (!head) {
			perror(head_file);
			return 2;
		}
	} else if (argc - optind == 2 && argv[optind + 1][0] == '/' &&
		   !strchr(argv[optind + 1], '?')) {
		head = signed_head(argv[optind], argv[optind + 1], &head_len);
	} else {
		fprintf(stderr, "usage: rawreq [--device P] [--resp-len N] [--data-len N] [--out F] (--head-file F | METHOD /TARGET)\n");
		return 2;
	}
	resp = calloc(1, resp_cap + 1);
	data = calloc(1, data_len + 1);
	fd = open(dev, O_RDWR);
	if (!resp || !data || fd < 0) {
		perror(dev);
		return 1;
	}
	memset(&rq, 0, sizeof(rq));
	rq.guid[0] = 0x42;
	rq.timeout = 30000;
	rq.request_len = head_len;
	rq.response_len = resp_cap;
	rq.data_len = data_len;
	rq.request_buffer = (unsigned long)head;
	rq.response_buffer = (unsigned long)resp;
	rq.data_buffer = data_len ? (unsigned long)data : 0;
	ret = ioctl(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &rq);
	if (ret) {
		printf("ioctl errno %d (%s)\n", errno, strerror(errno));
		return 1;
	}
	printf("status %u\nresponse_len %u\n", rq.response.status,
	       rq.response.response_len);
	if (rq.response.response_len <= resp_cap)
		fwrite(resp, 1, rq.response.response_len, stdout);
	if (out) {
		FILE *f = fopen(out, "w");

		if (!f || fwrite(data, 1, data_len, f) != data_len || fclose(f)) {
			perror(out);
			return 1;
		}
	}
	return 0;
}
