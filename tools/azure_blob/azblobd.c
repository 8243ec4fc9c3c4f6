// SPDX-License-Identifier: MIT
/*
 * azblobd - the Azure Blob REST API on 127.0.0.1 and ::1, every request
 * carried through /dev/azure_blob.
 *
 *   azblobd [--config FILE] [--check]
 *
 * Programs that speak Blob REST (the Azure SDKs, azure-cli, rclone, the
 * azblob CLI's http transport) use the device by pointing their endpoint
 * at http://127.0.0.1:PORT. The daemon holds no keys: requests keep the
 * client's own authorization (Shared Key, SAS, bearer token).
 *
 * Signals: TERM/INT stop (requests in flight are finished first, for up
 * to 30 s), USR1 logs the counters.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "azblobd.h"

#define STOP_GRACE_S	30

static const char usage_text[] =
"usage: azblobd [--config FILE] [--check]\n"
"  --config FILE   configuration (default " AZD_DEFAULT_CONFIG ")\n"
"  --check         read the configuration, print it and exit\n";

static void print_config(const struct azd_config *c)
{
	printf("port = %u\nhttps_port = %u\ntls_cert = %s\ntls_key = %s\n"
	       "host = %s\naccount = %s\ndevice = %s\n"
	       "memory_cap = %llu\npart_size = %zu\nparts_in_flight = %u\n"
	       "threads = %u\nmax_connections = %u\nidle_timeout = %u\n"
	       "request_timeout_ms = %u\nring_depth = %u\nlog_level = %d\n"
	       "max_body = %zu\n",
	       c->port, c->https_port, c->tls_cert, c->tls_key, c->host,
	       c->account, c->device,
	       (unsigned long long)c->memory_cap, c->part_size,
	       c->parts_in_flight, c->threads, c->max_connections,
	       c->idle_timeout_s, c->request_timeout_ms, c->ring_depth,
	       c->log_level, azd_max_data(AZD_PAGE));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = AZD_DEFAULT_CONFIG;
	struct azd_config cfg;
	struct timespec t0, now;
	char err[512];
	bool check = false;
	sigset_t set;
	int c, sig;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	azd_config_defaults(&cfg);
	if (azd_config_load(&cfg, path, err, sizeof(err))) {
		fprintf(stderr, "azblobd: %s\n", err);
		return 2;
	}
	if (check) {
		print_config(&cfg);
		return 0;
	}
	azd_log_init(cfg.log_level);

	/* the signals go to this thread only, the others inherit the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	azd_mem_init(cfg.memory_cap);
	if (azd_dev_start(&cfg))
		return 1;
	if (azd_http_start(&cfg)) {
		azd_dev_stop();
		return 1;
	}
	if (cfg.https_port)
		azd_log(AZD_NOTICE,
			"serving https://127.0.0.1:%u and https://[::1]:%u with %s",
			cfg.https_port, cfg.https_port, cfg.tls_cert);
	azd_log(AZD_NOTICE,
		"serving http://127.0.0.1:%u and http://[::1]:%u as %s through %s; memory cap %llu bytes, at most %zu bytes of body per device request",
		cfg.port, cfg.port, cfg.host, cfg.device,
		(unsigned long long)cfg.memory_cap, azd_max_data(AZD_PAGE));
	azd_notify("READY=1\nSTATUS=serving");

	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR1) {
			azd_http_log_stats();
			continue;
		}
		if (sig == SIGHUP) {
			azd_log(AZD_NOTICE,
				"SIGHUP: the configuration is read at start only; restart to apply changes");
			continue;
		}
		break;
	}

	azd_notify("STOPPING=1");
	azd_log(AZD_NOTICE, "stopping (signal %d)", sig);
	azd_http_quiesce();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (azd_http_active()) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= STOP_GRACE_S) {
			/*
			 * Suspended connections cannot be stopped cleanly; the
			 * driver keeps the buffers of requests the host still
			 * holds pinned after we exit.
			 */
			azd_log(AZD_WARNING,
				"%u requests still active after %d s; exiting",
				azd_http_active(), STOP_GRACE_S);
			azd_http_log_stats();
			_exit(0);
		}
		usleep(50 * 1000);
	}
	azd_http_stop();
	azd_dev_stop();
	azd_http_log_stats();
	return 0;
}
