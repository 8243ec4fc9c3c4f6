// SPDX-License-Identifier: GPL-2.0
/*
 * probe: the azblobd suite's HTTP tool in the guest, where busybox has
 * no HTTP client that can sign Shared Key requests or misbehave on
 * purpose.
 *
 *   probe as UID GID GROUPS -- PROG ARGS...
 *       run PROG as UID:GID with the supplementary GROUPS (a,b,c or -)
 *   probe req [--v6] [--port N] [--account A --key B64] [--sas QUERY]
 *             [-H 'Name: value']... [--body-len N] [--declare-len N]
 *             [--out FILE] METHOD TARGET
 *       one request (Shared Key signed with --key; TARGET is the path and
 *       query); prints "status N", "header Name: value" lines, "body N"
 *       and, for an error, "message ..." from its XML body
 *   probe raw [--v6] [--port N] [--hold-ms N] [--linger0] [--read N]
 *       write standard input to the server as it is, then read the answer
 *       (at most N bytes, default all) until the server closes or
 *       --hold-ms passes; prints "sent N", "received N" and the first
 *       line; with --read the connection is closed after N bytes (an
 *       early close), --linger0 makes that close a reset; with
 *       --pause-ms as well, reading stops for that long after N bytes
 *       and then goes on to the end
 *   probe notify-wait PATH SECONDS
 *       bind a unix datagram socket at PATH (what $NOTIFY_SOCKET names)
 *       and print the first message that arrives
 *   probe wait-port PORT SECONDS
 *       exit 0 once 127.0.0.1:PORT accepts connections
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "internal.h"

static int connect_to(int port, int v6)
{
	struct sockaddr_in a4 = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct sockaddr_in6 a6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons((uint16_t)port),
		.sin6_addr = IN6ADDR_LOOPBACK_INIT,
	};
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	if (v6 ? connect(s, (struct sockaddr *)&a6, sizeof(a6)) :
		 connect(s, (struct sockaddr *)&a4, sizeof(a4))) {
		close(s);
		return -1;
	}
	return s;
}

static int write_all(int s, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n) {
		w = send(s, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- as ---- */

static int cmd_as(int argc, char **argv)
{
	gid_t groups[64];
	int ng = 0;
	char *g, *save = NULL;

	if (argc < 7 || strcmp(argv[5], "--")) {
		fprintf(stderr, "usage: probe as UID GID GROUPS -- PROG ARGS...\n");
		return 2;
	}
	if (strcmp(argv[4], "-"))
		for (g = strtok_r(argv[4], ",", &save); g && ng < 64;
		     g = strtok_r(NULL, ",", &save))
			groups[ng++] = (gid_t)atoi(g);
	if (setgroups((size_t)ng, groups) || setgid((gid_t)atoi(argv[3])) ||
	    setuid((uid_t)atoi(argv[2]))) {
		perror("probe as");
		return 1;
	}
	execvp(argv[6], argv + 6);
	perror(argv[6]);
	return 127;
}

/* ---- req ---- */

static void print_message(const char *body, size_t n)
{
	const char *a = memmem(body, n, "<Message>", 9), *b;

	if (!a)
		return;
	a += 9;
	b = memmem(a, n - (size_t)(a - body), "</Message>", 10);
	if (b)
		printf("message %.*s\n", (int)(b - a), a);
}

static int cmd_req(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "v6", no_argument, NULL, '6' },
		{ "port", required_argument, NULL, 'p' },
		{ "account", required_argument, NULL, 'a' },
		{ "key", required_argument, NULL, 'k' },
		{ "sas", required_argument, NULL, 's' },
		{ "body-len", required_argument, NULL, 'b' },
		{ "declare-len", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *account = "devstoreaccount1", *sas = NULL, *out = NULL;
	unsigned char key[128];
	size_t key_len = 0, body_len = 0, got = 0, cap, i;
	long long declare = -1;
	int port = 10180, v6 = 0, c, s, fd = -1;
	struct azb_request r;
	struct azb_str head = {0}, authz = {0};
	struct azb_response resp;
	char *buf, *q, *target, date[64], *hend = NULL;
	size_t hoff = 0;
	int64_t clen = -1;
	ssize_t n;

	azb_req_init(&r, NULL);
	while ((c = getopt_long(argc, argv, "H:", opts, NULL)) != -1) {
		switch (c) {
		case '6': v6 = 1; break;
		case 'p': port = atoi(optarg); break;
		case 'a': account = optarg; break;
		case 'k':
			if (azb_b64_decode(optarg, key, sizeof(key), &key_len))
				return 2;
			break;
		case 's': sas = optarg; break;
		case 'b': body_len = strtoull(optarg, NULL, 10); break;
		case 'd': declare = strtoll(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		case 'H': {
			char *colon = strchr(optarg, ':');

			if (!colon)
				return 2;
			*colon = '\0';
			azb_req_header(&r, optarg, colon + 1 + (colon[1] == ' '));
			break;
		}
		default:
			return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: probe req [options] METHOD TARGET\n");
		return 2;
	}
	r.method = argv[optind];
	target = argv[optind + 1];
	q = strchr(target, '?');
	azb_str_add(&r.path, target, q ? (size_t)(q - target) : strlen(target));
	if (q)
		azb_str_puts(&r.query, q + 1);
	if (sas) {
		if (r.query.len)
			azb_str_puts(&r.query, "&");
		azb_str_puts(&r.query, sas);
	}
	azb_req_header(&r, "Host", "127.0.0.1");
	if (!azb_req_get(&r, "x-ms-version"))
		azb_req_header(&r, "x-ms-version", AZB_API_VERSION);
	azb_http_date(date, time(NULL));
	azb_req_header(&r, "x-ms-date", date);
	if (body_len || declare >= 0 || !strcmp(r.method, "PUT")) {
		char num[32];

		snprintf(num, sizeof(num), "%lld",
			 declare >= 0 ? declare : (long long)body_len);
		azb_req_header(&r, "Content-Length", num);
	}
	if (key_len) {
		if (azb_sharedkey_sign(&r, account, "", key, key_len, &authz))
			return 2;
		azb_req_header(&r, "Authorization", authz.p);
	}
	azb_req_head(&r, &head);

	s = connect_to(port, v6);
	if (s < 0) {
		perror("probe req: connect");
		return 1;
	}
	if (write_all(s, head.p, head.len))
		return 1;
	if (body_len) {
		char *body = azb_xmalloc(1 << 20);

		for (i = 0; i < (1u << 20); i++)
			body[i] = (char)(i * 7 + 3);
		for (i = 0; i < body_len; i += 1u << 20)
			if (write_all(s, body, body_len - i < (1u << 20) ?
				      body_len - i : 1u << 20))
				break;
		free(body);
	}

	cap = 1 << 16;
	buf = azb_xmalloc(cap);
	for (;;) {
		if (got == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				return 1;
		}
		n = recv(s, buf + got, cap - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (!hoff) {
			hend = memmem(buf, got, "\r\n\r\n", 4);
			if (!hend)
				continue;
			hoff = (size_t)(hend - buf) + 4;
			if (!strcmp(r.method, "HEAD"))
				break;
			if (azb_parse_response_head(buf, got, &resp))
				break;
			clen = resp.content_length;
			azb_response_free(&resp);
		}
		if (clen >= 0 && got >= hoff + (size_t)clen)
			break;
	}
	close(s);
	if (!got || azb_parse_response_head(buf, got, &resp)) {
		printf("no response (%zu bytes)\n", got);
		return 1;
	}
	hend = (char *)memmem(buf, got, "\r\n\r\n", 4) + 4;
	printf("status %d\n", resp.status);
	for (i = 0; i < (size_t)resp.nhdr; i++)
		printf("header %s: %s\n", resp.hdr[i].name, resp.hdr[i].value);
	printf("body %zu\n", got - (size_t)(hend - buf));
	if (resp.status >= 400)
		print_message(hend, got - (size_t)(hend - buf));
	if (out) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, hend, got - (size_t)(hend - buf)) < 0)
			return 1;
		close(fd);
	}
	azb_response_free(&resp);
	azb_req_free(&r);
	azb_str_free(&head);
	azb_str_free(&authz);
	free(buf);
	return 0;
}

/* ---- raw ---- */

static int cmd_raw(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "v6", no_argument, NULL, '6' },
		{ "port", required_argument, NULL, 'p' },
		{ "hold-ms", required_argument, NULL, 'h' },
		{ "read", required_argument, NULL, 'r' },
		{ "linger0", no_argument, NULL, 'l' },
		{ "pause-ms", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	int port = 10180, v6 = 0, hold = 5000, linger0 = 0, pause = -1, c, s;
	size_t sent = 0, rmax = SIZE_MAX, recvd = 0;
	char buf[65536], first[200] = "";
	struct pollfd pfd;
	ssize_t n;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case '6': v6 = 1; break;
		case 'p': port = atoi(optarg); break;
		case 'h': hold = atoi(optarg); break;
		case 'r': rmax = strtoull(optarg, NULL, 10); break;
		case 'l': linger0 = 1; break;
		case 'w': pause = atoi(optarg); break;
		default: return 2;
		}
	}
	s = connect_to(port, v6);
	if (s < 0) {
		perror("probe raw: connect");
		return 1;
	}
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		if (write_all(s, buf, (size_t)n))
			break;	/* the server may close on us */
		sent += (size_t)n;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, hold) > 0) {
		if (recvd >= rmax) {
			if (pause < 0)
				break;
			usleep((useconds_t)pause * 1000);
			pause = -1;
			rmax = SIZE_MAX;
		}
		n = recv(s, buf, recvd + sizeof(buf) > rmax ?
			 rmax - recvd : sizeof(buf), 0);
		if (n <= 0)
			break;
		if (!recvd) {
			char *nl = memchr(buf, '\r', (size_t)n);

			snprintf(first, sizeof(first), "%.*s",
				 (int)(nl ? nl - buf : (n < 100 ? n : 100)),
				 buf);
		}
		recvd += (size_t)n;
	}
	if (linger0) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(s);
	printf("sent %zu\nreceived %zu\nfirst %s\n", sent, recvd, first);
	return 0;
}

static int cmd_notify_wait(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	char msg[512];
	ssize_t n;
	int s;

	if (argc != 4 || strlen(argv[2]) >= sizeof(sa.sun_path))
		return 2;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
	unlink(argv[2]);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("probe notify-wait");
		return 1;
	}
	chmod(argv[2], 0666);
	pfd.fd = s;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, atoi(argv[3]) * 1000) <= 0)
		return 1;
	n = recv(s, msg, sizeof(msg) - 1, 0);
	if (n < 0)
		return 1;
	msg[n] = '\0';
	printf("%s\n", msg);
	return 0;
}

static int cmd_wait_port(int argc, char **argv)
{
	int i, s;

	if (argc != 4)
		return 2;
	for (i = 0; i < atoi(argv[3]) * 10; i++) {
		s = connect_to(atoi(argv[2]), 0);
		if (s >= 0) {
			close(s);
			return 0;
		}
		usleep(100000);
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "as"))
		return cmd_as(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "req"))
		return cmd_req(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "raw"))
		return cmd_raw(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "wait-port"))
		return cmd_wait_port(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "notify-wait"))
		return cmd_notify_wait(argc, argv);
	fprintf(stderr, "usage: probe as|req|raw|wait-port|notify-wait ...\n");
	return 2;
}
