// SPDX-License-Identifier: MIT
/*
 * Unit tests of libazblob: Shared Key string-to-sign, response head parser,
 * List Blobs XML parser, connection strings, and the http transport's
 * completion accounting against a local server. TAP output.
 *
 *   unit_test            run the tests
 *   unit_test sts N      print the string-to-sign of vector N
 *   unit_test sig N      print the Authorization value of vector N
 *   unit_test locale     setlocale(LC_ALL, "") first, then the checks of
 *                        what must not follow the locale (tests/unit.sh
 *                        runs it under generated non-English locales)
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "tap.h"


/* Vector 0: path-style List Blobs (Azurite layout). */
static void vec0(struct azb_request *r)
{
	azb_req_init(r, "GET");
	azb_str_puts(&r->path, "/mycontainer");
	azb_req_header(r, "Host", "127.0.0.1:10000");
	azb_req_header(r, "x-ms-version", "2021-08-06");
	azb_req_header(r, "x-ms-date", "Mon, 05 Jan 2026 10:00:00 GMT");
	azb_req_header(r, "X-MS-Meta-Note", "  two   words ");
	azb_req_query(r, "restype", "container");
	azb_req_query(r, "comp", "list");
	azb_req_query(r, "Marker", "a b/c");
	azb_req_query(r, "maxresults", "10");
}

static const char vec0_sts[] =
	"GET\n\n\n\n\n\n\n\n\n\n\n\n"
	"x-ms-date:Mon, 05 Jan 2026 10:00:00 GMT\n"
	"x-ms-meta-note:two words\n"
	"x-ms-version:2021-08-06\n"
	"/devstoreaccount1/devstoreaccount1/mycontainer\n"
	"comp:list\n"
	"marker:a b/c\n"
	"maxresults:10\n"
	"restype:container";

/* Vector 1: host-style Put Block with MD5, zero Content-Length signs empty. */
static void vec1(struct azb_request *r)
{
	azb_req_init(r, "PUT");
	azb_str_puts(&r->path, "/c1/dir/blob%20name");
	azb_req_header(r, "Host", "myaccount.blob.core.windows.net");
	azb_req_header(r, "x-ms-version", "2021-08-06");
	azb_req_header(r, "x-ms-date", "Tue, 06 Jan 2026 11:22:33 GMT");
	azb_req_header(r, "Content-Type", "application/octet-stream");
	azb_req_header(r, "Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==");
	azb_req_header(r, "Content-Length", "0");
	azb_req_header(r, "If-Match", "\"0x8D\"");
	azb_req_header(r, "Range", "bytes=0-99");
	azb_req_query(r, "comp", "block");
	azb_req_query(r, "blockid", "YQ==");
}

static const char vec1_sts[] =
	"PUT\n\n\n\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/octet-stream\n\n\n"
	"\"0x8D\"\n\n\nbytes=0-99\n"
	"x-ms-date:Tue, 06 Jan 2026 11:22:33 GMT\n"
	"x-ms-version:2021-08-06\n"
	"/myaccount/c1/dir/blob%20name\n"
	"blockid:YQ==\n"
	"comp:block";

static const char *vec_account[] = { AZB_DEV_ACCOUNT, "myaccount" };
static const char *vec_eppath[] = { "/devstoreaccount1", "" };
static const char *vec_key[] = {
	AZB_DEV_KEY,
	"c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU2Nzg5",
};

static void vec(int n, struct azb_request *r)
{
	if (n == 0)
		vec0(r);
	else
		vec1(r);
}

static int print_vec(const char *what, int n)
{
	struct azb_request r;
	struct azb_str s = {0};
	unsigned char key[128];
	size_t kl;

	if (n < 0 || n > 1)
		return 2;
	vec(n, &r);
	if (!strcmp(what, "sts")) {
		azb_sharedkey_string_to_sign(&r, vec_account[n], vec_eppath[n],
					     &s);
	} else {
		azb_b64_decode(vec_key[n], key, sizeof(key), &kl);
		azb_sharedkey_sign(&r, vec_account[n], vec_eppath[n], key, kl,
				   &s);
	}
	fwrite(s.p, 1, s.len, stdout);
	azb_str_free(&s);
	azb_req_free(&r);
	return 0;
}

static void test_signer(void)
{
	struct azb_request r;
	struct azb_str s = {0}, head = {0};

	vec0(&r);
	azb_sharedkey_string_to_sign(&r, vec_account[0], vec_eppath[0], &s);
	CHECK(!strcmp(s.p, vec0_sts),
	      "string-to-sign, path-style list (account twice, query sorted, decoded)");
	azb_req_head(&r, &head);
	CHECK(!strncmp(head.p,
		       "GET /mycontainer?restype=container&comp=list&Marker=a%20b%2Fc&maxresults=10 HTTP/1.1\r\nHost: 127.0.0.1:10000\r\n",
		       98) && head.len > 4 &&
	      !strcmp(head.p + head.len - 4, "\r\n\r\n"),
	      "request head: request line, Host first, ends with an empty line");
	azb_str_free(&s);
	azb_str_free(&head);
	azb_req_free(&r);

	vec1(&r);
	azb_sharedkey_string_to_sign(&r, vec_account[1], vec_eppath[1], &s);
	CHECK(!strcmp(s.p, vec1_sts),
	      "string-to-sign, host-style put block (standard headers in order)");
	azb_str_free(&s);
	azb_req_header(&r, "Content-Length", "5");
	azb_sharedkey_string_to_sign(&r, vec_account[1], vec_eppath[1], &s);
	CHECK(!strncmp(s.p, "PUT\n\n\n5\n", 8),
	      "non-zero Content-Length is signed");
	azb_str_free(&s);
	azb_req_free(&r);
}

static void test_response(void)
{
	static const char ok[] =
		"HTTP/1.1 206 Partial Content\r\n"
		"Content-Length: 100\r\n"
		"ETag:   \"0x8D\"  \r\n"
		"x-ms-error-code: \r\n"
		"Content-Range: bytes 0-99/1000\r\n"
		"\r\n"
		"BODY";
	struct azb_response r;
	int ret;

	ret = azb_parse_response_head(ok, sizeof(ok) - 1, &r);
	CHECK(!ret && r.status == 206 && r.content_length == 100 &&
	      !strcmp(r.reason, "Partial Content") && r.nhdr == 4,
	      "response head: status, reason, Content-Length, headers");
	CHECK(!ret && !strcmp(azb_resp_get(&r, "etag"), "\"0x8D\"") &&
	      !strcmp(azb_resp_get(&r, "X-MS-ERROR-CODE"), ""),
	      "response head: case-insensitive lookup, trimmed values");
	azb_response_free(&r);

	ret = azb_parse_response_head("HTTP/1.1 404 The specified blob does not exist.\nx-ms-error-code: BlobNotFound\n\n",
				      79, &r);
	CHECK(!ret && r.status == 404 && r.content_length == -1 &&
	      !strcmp(azb_resp_get(&r, "x-ms-error-code"), "BlobNotFound"),
	      "response head: bare LF line ends, no Content-Length");
	azb_response_free(&r);

	ret = azb_parse_response_head("HTTP/2 200\r\n\r\n", 14, &r);
	CHECK(!ret && r.status == 200 && r.reason[0] == '\0',
	      "response head: HTTP/2 status line without reason");
	azb_response_free(&r);

	CHECK(azb_parse_response_head("HTTP/1.1 200 OK\r\nA: b\r\n", 23,
				      &r) == -EPROTO,
	      "response head: truncated (no empty line) is rejected");
	CHECK(azb_parse_response_head("HTTP/1.1 20 OK\r\n\r\n", 18, &r) ==
	      -EPROTO, "response head: bad status code is rejected");
	CHECK(azb_parse_response_head("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
				      28, &r) == -EPROTO,
	      "response head: header without colon is rejected");
	CHECK(azb_parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
				      57, &r) == -EPROTO,
	      "response head: conflicting Content-Length is rejected");
	CHECK(azb_parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
				      39, &r) == -EPROTO,
	      "response head: negative Content-Length is rejected");
	CHECK(azb_parse_response_head("", 0, &r) == -EPROTO,
	      "response head: empty buffer is rejected");
}

static void test_xml(void)
{
	static const char list[] =
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		"<EnumerationResults ServiceEndpoint=\"http://x/\" ContainerName=\"c\">"
		"<Prefix>p</Prefix><MaxResults>3</MaxResults><Blobs>"
		"<Blob><Name>p/a &amp; b</Name><Properties>"
		"<Last-Modified>Mon, 05 Jan 2026 10:00:00 GMT</Last-Modified>"
		"<Etag>0x1</Etag><Content-Length>12345678901</Content-Length>"
		"<Content-MD5>1B2M2Y8AsgTpgAmY7PhCfg==</Content-MD5>"
		"</Properties></Blob>"
		"<BlobPrefix><Name>p/dir/</Name></BlobPrefix>"
		"<Blob><Name>p/z</Name><Properties><Content-Length>0</Content-Length>"
		"</Properties></Blob>"
		"</Blobs><NextMarker>2!8!cC96</NextMarker></EnumerationResults>";
	static const char last[] =
		"<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>";
	static const char err_xml[] =
		"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>"
		"<Message>The specified blob does not exist.\nRequestId:1\nTime:x</Message></Error>";
	struct azb_list_page pg;
	char code[64], msg[128];
	int ret;

	ret = azb_parse_list_xml(list, sizeof(list) - 1, &pg, NULL);
	CHECK(!ret && pg.n == 3, "list xml: three entries");
	CHECK(!ret && !strcmp(pg.items[0].name, "p/a & b") &&
	      pg.items[0].size == 12345678901ULL &&
	      !strcmp(pg.items[0].etag, "0x1") &&
	      !strcmp(pg.items[0].content_md5, "1B2M2Y8AsgTpgAmY7PhCfg=="),
	      "list xml: name (entities), 64-bit size, etag, md5");
	CHECK(!ret && pg.items[1].is_prefix &&
	      !strcmp(pg.items[1].name, "p/dir/") && pg.items[2].size == 0,
	      "list xml: BlobPrefix entry, zero-size blob");
	CHECK(!ret && !strcmp(pg.next_marker, "2!8!cC96"),
	      "list xml: NextMarker");
	if (!ret)
		azb_list_page_free(&pg);
	ret = azb_parse_list_xml(last, sizeof(last) - 1, &pg, NULL);
	CHECK(!ret && pg.n == 0 && !strcmp(pg.next_marker, ""),
	      "list xml: last page has an empty marker");
	if (!ret)
		azb_list_page_free(&pg);
	CHECK(azb_parse_list_xml("<EnumerationResults><Blobs><Blob>", 33,
				 &pg, NULL) == -EPROTO,
	      "list xml: truncated document is rejected");
	CHECK(azb_parse_list_xml("<Error/>", 8, &pg, NULL) == -EPROTO,
	      "list xml: wrong root is rejected");
	CHECK(azb_parse_list_xml("<EnumerationResults><Blobs><Blob><Name>x</Name><Properties><Content-Length>z</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
				 141, &pg, NULL) == -EPROTO,
	      "list xml: non-numeric Content-Length is rejected");
	ret = azb_parse_error_xml(err_xml, sizeof(err_xml) - 1, code,
				  sizeof(code), msg, sizeof(msg));
	CHECK(!ret && !strcmp(code, "BlobNotFound") &&
	      !strcmp(msg, "The specified blob does not exist."),
	      "error xml: code and first message line");
}

static void test_config(void)
{
	struct azb_config c;
	struct azb_error e = {0};
	int ret;

	azb_config_init(&c);
	ret = azb_config_from_connection_string(&c, "UseDevelopmentStorage=true", &e);
	CHECK(!ret && !strcmp(c.endpoint, AZB_DEV_ENDPOINT) &&
	      !strcmp(c.account, AZB_DEV_ACCOUNT) && c.key_len == 64,
	      "connection string: development storage");
	azb_config_free(&c);

	azb_config_init(&c);
	ret = azb_config_from_connection_string(&c,
		"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net", &e);
	CHECK(!ret && !strcmp(c.endpoint, "https://acct.blob.core.windows.net") &&
	      !strcmp(c.account, "acct") && c.key_len == 6,
	      "connection string: account name + suffix");
	azb_config_free(&c);

	azb_config_init(&c);
	ret = azb_config_from_connection_string(&c,
		"BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;SharedAccessSignature=sv=2021-08-06&sig=abc", &e);
	CHECK(!ret && !strcmp(c.endpoint, AZB_DEV_ENDPOINT) &&
	      !strcmp(c.account, "devstoreaccount1") &&
	      !strcmp(c.sas, "sv=2021-08-06&sig=abc") && !c.key_len,
	      "connection string: BlobEndpoint (path-style) + SAS");
	azb_config_free(&c);

	azb_config_init(&c);
	ret = azb_config_from_url(&c, "https://myacct.blob.core.windows.net/?sv=1&sig=x", &e);
	CHECK(!ret && !strcmp(c.endpoint, "https://myacct.blob.core.windows.net") &&
	      !strcmp(c.account, "myacct") && !strcmp(c.sas, "sv=1&sig=x"),
	      "account URL: host-style with SAS");
	azb_config_free(&c);

	azb_config_init(&c);
	ret = azb_config_from_connection_string(&c, "AccountKey=abc", &e);
	CHECK(ret && e.code == AZB_EUSAGE,
	      "connection string: missing account is a usage error");
	azb_config_free(&c);
}

/*
 * The http transport's accounting: inflight counts transfers submitted
 * and not yet handed back by reap(), as the device transport does. A
 * server that answers several requests at once makes libcurl finish them
 * in one pass; a transport that counted them done then would tell a
 * caller nothing is in flight while completions still wait in its queue,
 * and the next lone request would reap one of those instead of its own.
 */
#define HTTP_ROUNDS	20
#define HTTP_DEPTH	4

struct http_server {
	int lfd;
	int rounds;
};

static void *http_server_main(void *arg)
{
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	struct http_server *srv = arg;
	int fds[HTTP_DEPTH], r, i;

	for (r = 0; r < srv->rounds; r++) {
		/* Take every request of the round, then answer them all. */
		for (i = 0; i < HTTP_DEPTH; i++) {
			char buf[4096];
			size_t got = 0;
			ssize_t n;

			fds[i] = accept(srv->lfd, NULL, NULL);
			if (fds[i] < 0)
				return NULL;
			while (got < sizeof(buf) - 1) {
				n = read(fds[i], buf + got, sizeof(buf) - 1 - got);
				if (n <= 0)
					break;
				got += n;
				buf[got] = '\0';
				if (strstr(buf, "\r\n\r\n"))
					break;
			}
		}
		usleep(20000);
		for (i = 0; i < HTTP_DEPTH; i++)
			if (write(fds[i], ok, sizeof(ok) - 1) < 0)
				break;
		for (i = 0; i < HTTP_DEPTH; i++)
			close(fds[i]);
	}
	return NULL;
}

static void test_http_reap(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct http_server srv = { .rounds = HTTP_ROUNDS };
	struct azb_xfer x[HTTP_DEPTH];
	struct azb_transport *t;
	struct azb_config cfg;
	struct azb_error err;
	char endpoint[64];
	const char *head =
		"GET /c/b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	unsigned int bad_count = 0, bad_x = 0, reaped = 0, r, i;
	bool lost = false;
	pthread_t th;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(srv.lfd, HTTP_DEPTH) ||
	    getsockname(srv.lfd, (struct sockaddr *)&sa, &salen)) {
		CHECK(0, "http transport: local server: %s", strerror(errno));
		return;
	}
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u",
		 ntohs(sa.sin_port));
	azb_config_init(&cfg);
	cfg.endpoint = strdup(endpoint);
	cfg.parallel = HTTP_DEPTH;
	cfg.timeout_ms = 10000;
	t = azb_transport_http_new(&cfg, &err);
	if (!t || pthread_create(&th, NULL, http_server_main, &srv)) {
		CHECK(0, "http transport: set up");
		return;
	}
	for (r = 0; r < HTTP_ROUNDS && !lost; r++) {
		bool seen[HTTP_DEPTH] = { false };

		memset(x, 0, sizeof(x));
		for (i = 0; i < HTTP_DEPTH; i++) {
			x[i].head = head;
			x[i].head_len = strlen(head);
			x[i].timeout_ms = cfg.timeout_ms;
			if (t->submit(t, &x[i]))
				lost = true;
		}
		for (i = 0; i < HTTP_DEPTH && !lost; i++) {
			struct azb_xfer *got = t->reap(t);

			if (!got) {
				lost = true;
				break;
			}
			reaped++;
			if (got < x || got >= x + HTTP_DEPTH ||
			    seen[got - x] || got->terr)
				bad_x++;
			else
				seen[got - x] = true;
			if (t->inflight != HTTP_DEPTH - 1 - i)
				bad_count++;
		}
	}
	CHECK(!lost && reaped == HTTP_ROUNDS * HTTP_DEPTH && !bad_x,
	      "http transport: %u of %u transfers reaped, each once and ok",
	      reaped, HTTP_ROUNDS * HTTP_DEPTH);
	CHECK(!bad_count,
	      "http transport: inflight counts the unreaped (%u wrong of %u)",
	      bad_count, reaped);
	CHECK(!t->reap(t), "http transport: reap with nothing in flight is NULL");
	t->destroy(t);
	shutdown(srv.lfd, SHUT_RDWR);	/* wakes a server still in accept() */
	pthread_join(th, NULL);
	close(srv.lfd);
	azb_config_free(&cfg);
}

/*
 * Header names, percent-encoding and their case rules are ASCII: under
 * tr_TR 'I' does not fold to 'i' (strcasecmp, tolower), under ISO-8859
 * locales isalnum() is true for bytes above 127.
 */
static void test_locale_ascii(const char *name)
{
	static const char head[] =
		"HTTP/1.1 200 OK\r\nX-MS-REQUEST-ID: r1\r\n"
		"CONTENT-LENGTH: 7\r\n\r\n";
	struct azb_request r;
	struct azb_response resp;
	struct azb_str e = {0}, sts = {0};
	const char *v;
	int ret;

	/* "d/\u00e4 b" in UTF-8 */
	azb_percent_encode(&e, "d/\xc3\xa4 b", true);
	CHECK(!strcmp(e.p, "d/%C3%A4%20b"),
	      "percent-encoding under %s: \"%s\"", name, e.p);
	azb_str_free(&e);

	azb_req_init(&r, "GET");
	azb_str_puts(&r.path, "/c/b");
	azb_req_header(&r, "If-Match", "\"0x1\"");
	azb_req_header(&r, "x-ms-date", "Mon, 05 Jan 2026 10:00:00 GMT");
	azb_req_header(&r, "x-ms-meta-ID", "7");
	v = azb_req_get(&r, "if-match");
	CHECK(v && !strcmp(v, "\"0x1\""),
	      "request header lookup under %s: if-match finds If-Match", name);
	azb_sharedkey_string_to_sign(&r, "acct", "", &sts);
	CHECK(sts.p && strstr(sts.p, "\n\"0x1\"\n") &&
	      strstr(sts.p, "\nx-ms-meta-id:7\n"),
	      "string-to-sign under %s: If-Match signed, x-ms-meta-ID as x-ms-meta-id",
	      name);
	azb_str_free(&sts);
	azb_req_free(&r);

	ret = azb_parse_response_head(head, sizeof(head) - 1, &resp);
	v = ret ? NULL : azb_resp_get(&resp, "x-ms-request-id");
	CHECK(!ret && resp.content_length == 7 && v && !strcmp(v, "r1"),
	      "response head under %s: upper-case names found", name);
	if (!ret)
		azb_response_free(&resp);
}

/*
 * Under the locale of the environment (setlocale(LC_ALL, "") as a program
 * using the library may call it): the x-ms-date value stays RFC 1123 in
 * English. The reference is strftime() in the C locale.
 */
#define DATE_MON_05_JAN_2026	1767607200	/* 10:00:00 UTC */

static void test_locale(void)
{
	const char *name = setlocale(LC_ALL, "");
	locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	time_t t = DATE_MON_05_JAN_2026;
	char here[64] = "", ref[64] = "", got[64];
	unsigned int i, bad = 0;
	struct tm tm;

	CHECK(name && strcmp(name, "C") && strcmp(name, "POSIX") && c,
	      "locale: setlocale(LC_ALL, \"\") chose %s",
	      name ? name : "nothing");
	gmtime_r(&t, &tm);
	strftime(here, sizeof(here), "%a %b", &tm);
	if (c)
		strftime_l(ref, sizeof(ref), "%a %b", &tm, c);
	/* An English locale would let the old strftime() code pass. */
	CHECK(strcmp(here, ref),
	      "locale: %s calls Mon Jan \"%s\" (C locale: \"%s\")",
	      name ? name : "?", here, ref);
	azb_http_date(got, t);
	CHECK(!strcmp(got, "Mon, 05 Jan 2026 10:00:00 GMT"),
	      "x-ms-date under %s: \"%s\"", name ? name : "?", got);
	/* Every weekday and month name, and the digits around them. */
	for (i = 0; i < 400 && c; i++, t += 86400 + 3661) {
		gmtime_r(&t, &tm);
		strftime_l(ref, sizeof(ref), "%a, %d %b %Y %H:%M:%S GMT", &tm,
			   c);
		azb_http_date(got, t);
		if (strcmp(got, ref) && !bad++)
			printf("# %s, want %s\n", got, ref);
	}
	CHECK(c && !bad,
	      "x-ms-date under %s equals the C locale's for 400 days (%u differ)",
	      name ? name : "?", bad);
	if (c)
		freelocale(c);
	test_locale_ascii(name ? name : "?");
}

/* IMDS answers and JWT exp claims (auth.c). */
static void test_tokens(void)
{
	static const char ok_str[] =
		"{\"access_token\":\"eyJ0.eyJ1.c2ln\",\"expires_in\":\"86399\","
		"\"expires_on\":\"1800000000\",\"token_type\":\"Bearer\"}";
	static const char ok_num[] =
		"{\"access_token\":\"t\",\"expires_in\":3600}";
	static const char no_tok[] = "{\"expires_in\":\"3600\"}";
	static const char no_exp[] = "{\"access_token\":\"t\"}";
	static const char bad_exp[] =
		"{\"access_token\":\"t\",\"expires_on\":\"soon\"}";
	/* {"alg":"none"} . {"exp":1700000000,"aud":"x"} . sig */
	static const char jwt[] =
		"eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDAsImF1ZCI6IngifQ.c2ln";
	struct azb_config cfg;
	struct azb_error err = {0};
	char *tok, why[128];
	time_t exp;
	int ret;

	ret = azb_imds_parse(ok_str, strlen(ok_str), 1000, &tok, &exp, why,
			     sizeof(why));
	CHECK(!ret && !strcmp(tok, "eyJ0.eyJ1.c2ln") && exp == 1800000000,
	      "imds: access_token, expires_on as a string wins");
	free(tok);
	ret = azb_imds_parse(ok_num, strlen(ok_num), 1000, &tok, &exp, why,
			     sizeof(why));
	CHECK(!ret && exp == 4600, "imds: expires_in as a number, from now");
	free(tok);
	CHECK(azb_imds_parse(no_tok, strlen(no_tok), 0, &tok, &exp, why,
			     sizeof(why)) && !tok && strstr(why, "access_token"),
	      "imds: no access_token is an error (%s)", why);
	CHECK(azb_imds_parse(no_exp, strlen(no_exp), 0, &tok, &exp, why,
			     sizeof(why)) && !tok && strstr(why, "expires"),
	      "imds: no expiry is an error (%s)", why);
	CHECK(azb_imds_parse(bad_exp, strlen(bad_exp), 0, &tok, &exp, why,
			     sizeof(why)) && !tok,
	      "imds: a non-numeric expires_on is an error");
	CHECK(azb_imds_parse("{\"access", 9, 0, &tok, &exp, why,
			     sizeof(why)) && !tok,
	      "imds: truncated JSON is an error");
	CHECK(azb_jwt_exp(jwt) == 1700000000, "jwt: exp claim read");
	CHECK(azb_jwt_exp("not-a-jwt") == 0 && azb_jwt_exp("a.b.c") == 0,
	      "jwt: no exp for a malformed token");

	azb_config_init(&cfg);
	CHECK(!azb_config_set_bearer(&cfg, "  abc.def \n", &err) &&
	      !strcmp(cfg.bearer_token, "abc.def") &&
	      cfg.auth == AZB_AUTH_BEARER,
	      "bearer: blanks and newline trimmed, auth set");
	CHECK(azb_config_set_bearer(&cfg, "a b", &err) == -EINVAL &&
	      err.code == AZB_EUSAGE && !strcmp(cfg.bearer_token, "abc.def"),
	      "bearer: an inner blank is refused, the old token kept");
	CHECK(azb_config_set_bearer(&cfg, "\n", &err) == -EINVAL,
	      "bearer: an empty token is refused");
	azb_config_free(&cfg);
	CHECK(!cfg.bearer_token, "bearer: freed with the configuration");
}

int main(int argc, char **argv)
{
	if (argc == 3)
		return print_vec(argv[1], atoi(argv[2]));
	if (argc == 2 && !strcmp(argv[1], "locale")) {
		test_locale();
		printf("1..%d\n", tests);
		return failed ? 1 : 0;
	}
	test_signer();
	test_response();
	test_xml();
	test_config();
	test_http_reap();
	test_tokens();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
