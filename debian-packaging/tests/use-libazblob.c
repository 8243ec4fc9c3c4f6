// SPDX-License-Identifier: MIT
/*
 * A program built against the installed libazblob-dev alone (pkg-config
 * azblob): the public API over HTTP against a local stub of the Blob
 * service, a configuration error, a device that is not there, and the
 * driver's uapi header from <misc/hv_azure_blob.h>. Prints one line per
 * check and exits non-zero if one fails.
 *
 * usage: use-libazblob ENDPOINT_URL
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <azblob.h>
#include <misc/hv_azure_blob.h>

_Static_assert(sizeof(struct az_blob_request_sync) == 72,
	       "the ioctl's request is 72 bytes");
_Static_assert(offsetof(struct az_blob_request_sync, response) == 64,
	       "the response follows the three buffer pointers");

static int failed;

static void check(int ok, const char *what, const struct azb_error *err)
{
	printf("%s: %s", ok ? "ok" : "FAIL", what);
	if (err && err->code)
		printf(" [%s: %s]", azb_code_name(err->code), err->message);
	printf("\n");
	failed |= !ok;
}

int main(int argc, char **argv)
{
	struct azb_config cfg, bad, dev;
	struct azb_client *c = NULL, *d = NULL;
	struct azb_error err = {0};
	struct azb_props p;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: %s ENDPOINT_URL\n", argv[0]);
		return 2;
	}

	azb_config_init(&cfg);
	ret = azb_config_from_url(&cfg, argv[1], &err);
	check(!ret, "account URL parsed", &err);
	ret = azb_config_set_key(&cfg, "c2VjcmV0LWtleS1mb3ItdGVzdHM=", &err);
	check(!ret, "Shared Key set", &err);
	cfg.transport = AZB_TRANSPORT_HTTP;
	cfg.retries = 0;
	cfg.timeout_ms = 10000;
	ret = azb_client_new(&cfg, &c, &err);
	check(!ret && c, "HTTP client created", &err);
	if (c) {
		check(!strcmp(azb_client_transport_name(c), "http"),
		      "transport is http", NULL);
		memset(&p, 0, sizeof(p));
		ret = azb_blob_props(c, "box", "blob.bin", NULL, &p, &err);
		check(!ret && p.size == 4242 &&
		      !strcmp(p.etag, "\"0x8DC0FFEE\""),
		      "Get Blob Properties answered by the service stub", &err);
		memset(&err, 0, sizeof(err));
		ret = azb_blob_props(c, "box", "missing", NULL, &p, &err);
		check(ret < 0 && err.code == AZB_ENOTFOUND &&
		      err.http_status == 404 &&
		      !strcmp(err.error_code, "BlobNotFound"),
		      "a missing blob is AZB_ENOTFOUND with the service's code",
		      NULL);
		azb_client_free(c);
	}
	azb_config_free(&cfg);

	memset(&err, 0, sizeof(err));
	azb_config_init(&bad);
	ret = azb_config_from_connection_string(&bad, "no equals sign", &err);
	check(ret < 0 && err.code == AZB_EUSAGE &&
	      !strcmp(azb_code_name(err.code), azb_code_name(AZB_EUSAGE)),
	      "a malformed connection string is AZB_EUSAGE", NULL);
	azb_config_free(&bad);

	memset(&err, 0, sizeof(err));
	azb_config_init(&dev);
	ret = azb_config_from_connection_string(&dev,
						"UseDevelopmentStorage=true",
						&err);
	dev.transport = AZB_TRANSPORT_DEVICE;
	dev.device = "/nonexistent/azure_blob";
	ret = ret ? ret : azb_client_new(&dev, &d, &err);
	check(ret < 0 && !d && err.code == AZB_ETRANSPORT &&
	      err.sys_errno == ENOENT,
	      "an absent device is AZB_ETRANSPORT with ENOENT", NULL);
	azb_config_free(&dev);

	return failed;
}
