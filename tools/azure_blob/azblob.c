// SPDX-License-Identifier: MIT
/*
 * azblob - Azure Blob Storage command line client.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "azblob.h"

static const char usage_text[] =
"usage: azblob [options] COMMAND ARGS\n"
"\n"
"commands:\n"
"  mb CONTAINER                 create a container\n"
"  rb CONTAINER                 delete a container\n"
"  put FILE|- CONTAINER/BLOB    upload (Put Blob, or Put Block + Put Block List)\n"
"  get CONTAINER/BLOB [FILE|-]  download (default: standard output)\n"
"  stat CONTAINER[/BLOB]        show properties\n"
"  ls CONTAINER[/PREFIX]        list blobs (all pages)\n"
"  rm CONTAINER/BLOB            delete a blob\n"
"  doctor                       can this host's Azure Blob device be used? why\n"
"                               not? (no account needed; exit 0: usable)\n"
"\n"
"options:\n"
"  --connection-string CS   (or AZURE_STORAGE_CONNECTION_STRING);\n"
"                           UseDevelopmentStorage=true means Azurite\n"
"  --account-url URL        http(s)://host[:port][/account][?SAS]\n"
"  --account-key KEY        Shared Key (base64) for --account-url\n"
"  --sas TOKEN              SAS query string\n"
"  --auth key|bearer|msi    key: Shared Key or SAS from the options above\n"
"                           (default); bearer: an Entra ID token from\n"
"                           --token-file or AZBLOB_BEARER_TOKEN; msi: the\n"
"                           VM's managed identity (Instance Metadata Service)\n"
"  --token-file FILE        the bearer token (one line)\n"
"  --msi-client-id ID       a user-assigned identity's client id\n"
"  --ca-file FILE           https: trust the CAs in FILE (PEM) instead of\n"
"                           the system's\n"
"  --transport auto|device|http   (auto: the device if it opens, else http)\n"
"  --device PATH            device node (default /dev/azure_blob)\n"
"  --chunk-size N[KMG]      block / range size (default 8M)\n"
"  --put-threshold N[KMG]   single Put Blob up to N (default and max: chunk size)\n"
"  --parallel N             requests in flight (default 4)\n"
"  --range A-B | A-         byte range for get (inclusive)\n"
"  --if-match ETAG          --if-none-match ETAG|*   conditional request\n"
"  --page-size N            List Blobs page size (default 5000)\n"
"  --delimiter D            list with a delimiter (virtual directories)\n"
"  --timeout MS             per request (default 120000)\n"
"  --retries N              extra attempts on 408/429/5xx/transport errors (5)\n"
"  --no-md5                 send no Content-MD5 and check none (integrity is\n"
"                           then the transport's: TLS, or the device)\n"
"  --json                   machine-readable output on stdout\n"
"  --progress / --no-progress   progress bar (default: when stderr is a tty)\n"
"  -v, --verbose            log retries\n"
"\n"
"exit codes: 0 ok, 1 local error, 2 usage, 3 not found (404), 4 conflict\n"
"(409), 5 precondition failed (412), 6 not modified (304), 7 auth (401/403),\n"
"8 other HTTP error, 9 transport error, 10 integrity (MD5/length) error\n";

struct progress {
	int on;
	struct timespec start, last;
	uint64_t done;
	const char *what;
};

static double since(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	struct timespec now;
	double el, rate;
	char bar[31];
	int i, fill = 0;

	p->done = done;
	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (since(&p->last, &now) < 0.1 && (!total || done < total))
		return;
	p->last = now;
	el = since(&p->start, &now);
	rate = el > 0 ? done / el / 1048576.0 : 0;
	if (total)
		fill = (int)(30.0 * done / total);
	for (i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : (total ? '.' : ' ');
	bar[30] = '\0';
	if (total)
		fprintf(stderr, "\r%s [%s] %3d%% %8.1f MiB %7.1f MiB/s",
			p->what, bar, (int)(100.0 * done / total),
			done / 1048576.0, rate);
	else
		fprintf(stderr, "\r%s %8.1f MiB %7.1f MiB/s", p->what,
			done / 1048576.0, rate);
}

static void progress_end(struct progress *p)
{
	if (p->on && p->done)
		fputc('\n', stderr);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* "container/blob" -> container, blob (blob may be NULL when allowed). */
static int split_path(char *arg, char **container, char **blob, int need)
{
	char *slash = strchr(arg, '/');

	*container = arg;
	*blob = NULL;
	if (slash) {
		*slash = '\0';
		if (slash[1])
			*blob = slash + 1;
	}
	if (!**container || (need && !*blob))
		return -1;
	return 0;
}

static void print_props(int json, const char *name,
			const struct azb_props *p, int is_container)
{
	if (json) {
		printf("{\"ok\":true,\"name\":");
		json_str(stdout, name);
		if (!is_container)
			printf(",\"size\":%llu", (unsigned long long)p->size);
		printf(",\"etag\":");
		json_str(stdout, p->etag);
		printf(",\"last_modified\":");
		json_str(stdout, p->last_modified);
		if (!is_container) {
			printf(",\"content_type\":");
			json_str(stdout, p->content_type);
			printf(",\"content_md5\":");
			json_str(stdout, p->content_md5);
			printf(",\"blob_type\":");
			json_str(stdout, p->blob_type);
		}
		printf("}\n");
		return;
	}
	printf("name:          %s\n", name);
	if (!is_container)
		printf("size:          %llu\n", (unsigned long long)p->size);
	printf("etag:          %s\n", p->etag);
	printf("last-modified: %s\n", p->last_modified);
	if (!is_container) {
		printf("content-type:  %s\n", p->content_type);
		printf("content-md5:   %s\n", p->content_md5);
		printf("blob-type:     %s\n", p->blob_type);
	}
}

static int report(int json, const char *cmd, int ret,
		  const struct azb_error *err)
{
	int code;

	if (!ret)
		return 0;
	code = err->code ? err->code : AZB_EOTHER;
	fprintf(stderr, "azblob %s: %s", cmd, err->message);
	if (err->sys_errno)
		fprintf(stderr, " [errno %d]", err->sys_errno);
	if (err->dev_status)
		fprintf(stderr, " [host status %u]", err->dev_status);
	fputc('\n', stderr);
	if (json) {
		printf("{\"ok\":false,\"command\":\"%s\",\"exit\":%d,\"code\":\"%s\",\"http_status\":%d,\"error_code\":",
		       cmd, code, azb_code_name(code), err->http_status);
		json_str(stdout, err->error_code);
		printf(",\"errno\":%d,\"device_status\":%u,\"message\":",
		       err->sys_errno, err->dev_status);
		json_str(stdout, err->message);
		printf("}\n");
	}
	return code;
}

enum {
	O_CS = 256, O_URL, O_KEY, O_SAS, O_TRANSPORT, O_DEVICE, O_CHUNK,
	O_THRESH, O_PAR, O_RANGE, O_IFM, O_IFNM, O_PAGE, O_DELIM, O_TIMEOUT,
	O_RETRIES, O_JSON, O_PROG, O_NOPROG, O_AUTH, O_TOKEN_FILE, O_MSI_ID,
	O_CA_FILE, O_NO_MD5,
};

static const struct option longopts[] = {
	{ "connection-string", required_argument, NULL, O_CS },
	{ "account-url", required_argument, NULL, O_URL },
	{ "account-key", required_argument, NULL, O_KEY },
	{ "sas", required_argument, NULL, O_SAS },
	{ "auth", required_argument, NULL, O_AUTH },
	{ "token-file", required_argument, NULL, O_TOKEN_FILE },
	{ "msi-client-id", required_argument, NULL, O_MSI_ID },
	{ "ca-file", required_argument, NULL, O_CA_FILE },
	{ "no-md5", no_argument, NULL, O_NO_MD5 },
	{ "transport", required_argument, NULL, O_TRANSPORT },
	{ "device", required_argument, NULL, O_DEVICE },
	{ "chunk-size", required_argument, NULL, O_CHUNK },
	{ "put-threshold", required_argument, NULL, O_THRESH },
	{ "parallel", required_argument, NULL, O_PAR },
	{ "range", required_argument, NULL, O_RANGE },
	{ "if-match", required_argument, NULL, O_IFM },
	{ "if-none-match", required_argument, NULL, O_IFNM },
	{ "page-size", required_argument, NULL, O_PAGE },
	{ "delimiter", required_argument, NULL, O_DELIM },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "json", no_argument, NULL, O_JSON },
	{ "progress", no_argument, NULL, O_PROG },
	{ "no-progress", no_argument, NULL, O_NOPROG },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "azblob: %s\n(azblob --help for usage)\n", msg);
	return AZB_EUSAGE;
}

/* A usage error found after the options were read; returns -EINVAL. */
static int cli_error(struct azb_error *err, const char *msg)
{
	size_t n = strlen(msg);

	if (n >= sizeof(err->message))
		n = sizeof(err->message) - 1;
	err->code = AZB_EUSAGE;
	memcpy(err->message, msg, n);
	err->message[n] = '\0';
	return -EINVAL;
}

/* The bearer token: --token-file, else $AZBLOB_BEARER_TOKEN. */
static int load_token(struct azb_config *cfg, const char *file,
		      struct azb_error *err)
{
	char buf[16384];
	size_t n;
	FILE *f;
	int ret;

	if (!file) {
		const char *env = getenv("AZBLOB_BEARER_TOKEN");

		if (!env || !*env) {
			return cli_error(err, "--auth bearer needs --token-file FILE or AZBLOB_BEARER_TOKEN");
		}
		return azb_config_set_bearer(cfg, env, err);
	}
	f = fopen(file, "re");
	if (!f) {
		snprintf(buf, sizeof(buf), "--token-file %s: %s", file,
			 strerror(errno));
		return cli_error(err, buf);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n == sizeof(buf) - 1) {
		return cli_error(err, "--token-file: larger than 16 KiB");
	}
	buf[n] = '\0';
	ret = azb_config_set_bearer(cfg, buf, err);
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

int main(int argc, char **argv)
{
	struct azb_config cfg;
	struct azb_error err = {0};
	struct azb_client *c = NULL;
	struct azb_cond cond = {0};
	struct progress prog = {0};
	const char *cs = NULL, *url = NULL, *key = NULL, *sas = NULL;
	const char *range = NULL, *delim = NULL, *cmd, *token_file = NULL;
	int auth = AZB_AUTH_DEFAULT;
	unsigned int page_size = 0;
	int json = 0, want_prog = -1, opt, ret = 0, code = 0;
	uint64_t v, thresh = 0;
	char *container, *blob;

	azb_config_init(&cfg);
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case O_CS: cs = optarg; break;
		case O_URL: url = optarg; break;
		case O_KEY: key = optarg; break;
		case O_SAS: sas = optarg; break;
		case O_AUTH:
			if (!strcmp(optarg, "key"))
				auth = AZB_AUTH_DEFAULT;
			else if (!strcmp(optarg, "bearer"))
				auth = AZB_AUTH_BEARER;
			else if (!strcmp(optarg, "msi"))
				auth = AZB_AUTH_MSI;
			else
				return usage_error("--auth: key, bearer or msi");
			break;
		case O_TOKEN_FILE: token_file = optarg; break;
		case O_MSI_ID: cfg.msi_client_id = optarg; break;
		case O_CA_FILE: cfg.ca_file = optarg; break;
		case O_NO_MD5: cfg.no_md5 = 1; break;
		case O_TRANSPORT:
			if (!strcmp(optarg, "auto"))
				cfg.transport = AZB_TRANSPORT_AUTO;
			else if (!strcmp(optarg, "http"))
				cfg.transport = AZB_TRANSPORT_HTTP;
			else if (!strcmp(optarg, "device"))
				cfg.transport = AZB_TRANSPORT_DEVICE;
			else
				return usage_error("--transport: auto, device or http");
			break;
		case O_DEVICE: cfg.device = optarg; break;
		case O_CHUNK:
			if (parse_size(optarg, &v) || !v || v > (100u << 20))
				return usage_error("--chunk-size: 1 byte .. 100M");
			cfg.chunk_size = v;
			break;
		case O_THRESH:
			if (parse_size(optarg, &v))
				return usage_error("--put-threshold: a size");
			thresh = v;
			break;
		case O_PAR:
			if (parse_size(optarg, &v) || !v || v > 64)
				return usage_error("--parallel: 1 .. 64");
			cfg.parallel = (unsigned int)v;
			break;
		case O_RANGE: range = optarg; break;
		case O_IFM: cond.if_match = optarg; break;
		case O_IFNM: cond.if_none_match = optarg; break;
		case O_PAGE:
			if (parse_size(optarg, &v) || !v || v > 5000)
				return usage_error("--page-size: 1 .. 5000");
			page_size = (unsigned int)v;
			break;
		case O_DELIM: delim = optarg; break;
		case O_TIMEOUT:
			if (parse_size(optarg, &v) || !v || v > 3600000)
				return usage_error("--timeout: milliseconds");
			cfg.timeout_ms = (unsigned int)v;
			break;
		case O_RETRIES:
			if (parse_size(optarg, &v) || v > 20)
				return usage_error("--retries: 0 .. 20");
			cfg.retries = (unsigned int)v;
			break;
		case O_JSON: json = 1; break;
		case O_PROG: want_prog = 1; break;
		case O_NOPROG: want_prog = 0; break;
		case 'v': cfg.verbose = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error("bad option");
		}
	}
	if (optind >= argc)
		return usage_error("missing command");
	cmd = argv[optind++];
	if (!strcmp(cmd, "doctor")) {
		if (optind != argc)
			return usage_error("expected: doctor (with --device, --json)");
		code = azb_doctor(cfg.device, json, stdout);
		fflush(stdout);
		azb_config_free(&cfg);
		return code;
	}
	cfg.put_threshold = thresh ? thresh : cfg.chunk_size;

	if (!cs && !url)
		cs = getenv("AZURE_STORAGE_CONNECTION_STRING");
	if (cs && !url)
		ret = azb_config_from_connection_string(&cfg, cs, &err);
	else if (url)
		ret = azb_config_from_url(&cfg, url, &err);
	if (!ret && key)
		ret = azb_config_set_key(&cfg, key, &err);
	if (!ret && sas) {
		free(cfg.sas);
		cfg.sas = strdup(sas[0] == '?' ? sas + 1 : sas);
	}
	if (!ret && token_file && auth != AZB_AUTH_BEARER)
		ret = cli_error(&err, "--token-file goes with --auth bearer");
	if (!ret && cfg.msi_client_id && auth != AZB_AUTH_MSI)
		ret = cli_error(&err, "--msi-client-id goes with --auth msi");
	if (!ret && auth == AZB_AUTH_BEARER)
		ret = load_token(&cfg, token_file, &err);
	cfg.auth = auth;
	if (!ret)
		ret = azb_client_new(&cfg, &c, &err);
	if (ret) {
		code = report(json, cmd, ret, &err);
		goto out;
	}
	prog.on = want_prog >= 0 ? want_prog : (isatty(2) && !json);
	clock_gettime(CLOCK_MONOTONIC, &prog.start);
	azb_client_set_progress(c, progress_cb, &prog);

	if (!strcmp(cmd, "mb") || !strcmp(cmd, "rb")) {
		if (optind + 1 != argc || strchr(argv[optind], '/')) {
			code = usage_error("expected: mb|rb CONTAINER");
			goto out;
		}
		ret = cmd[0] == 'm' ?
			azb_container_create(c, argv[optind], &err) :
			azb_container_delete(c, argv[optind], &cond, &err);
		if (!ret && json)
			printf("{\"ok\":true,\"container\":\"%s\"}\n",
			       argv[optind]);
	} else if (!strcmp(cmd, "put")) {
		struct azb_props p;
		struct stat st;
		int fd = 0;

		if (optind + 2 != argc ||
		    split_path(argv[optind + 1], &container, &blob, 1)) {
			code = usage_error("expected: put FILE|- CONTAINER/BLOB");
			goto out;
		}
		if (strcmp(argv[optind], "-")) {
			fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				err.sys_errno = errno;
				err.code = AZB_EOTHER;
				snprintf(err.message, sizeof(err.message),
					 "%s: %s", argv[optind],
					 strerror(errno));
				code = report(json, cmd, -1, &err);
				goto out;
			}
		}
		prog.what = "put";
		ret = azb_blob_put(c, container, blob, fd,
				   fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
				   st.st_size : -1, &cond, &p, &err);
		progress_end(&prog);
		if (fd)
			close(fd);
		if (!ret && json) {
			printf("{\"ok\":true,\"blob\":");
			json_str(stdout, blob);
			printf(",\"size\":%llu,\"etag\":",
			       (unsigned long long)p.size);
			json_str(stdout, p.etag);
			printf(",\"content_md5\":");
			json_str(stdout, p.content_md5);
			printf(",\"transport\":\"%s\"}\n",
			       azb_client_transport_name(c));
		}
	} else if (!strcmp(cmd, "get")) {
		struct azb_props p;
		uint64_t off = 0, written = 0;
		int64_t len = -1;
		const char *outp;
		int fd = 1;

		if (optind + 1 != argc && optind + 2 != argc) {
			code = usage_error("expected: get CONTAINER/BLOB [FILE|-]");
			goto out;
		}
		if (split_path(argv[optind], &container, &blob, 1)) {
			code = usage_error("expected: get CONTAINER/BLOB [FILE|-]");
			goto out;
		}
		if (range) {
			char *end;
			unsigned long long a, b;

			a = strtoull(range, &end, 10);
			if (end == range || *end != '-') {
				code = usage_error("--range: A-B or A-");
				goto out;
			}
			off = a;
			if (end[1]) {
				b = strtoull(end + 1, &end, 10);
				if (*end || b < a) {
					code = usage_error("--range: A-B with B >= A");
					goto out;
				}
				len = (int64_t)(b - a + 1);
			}
		}
		outp = optind + 2 == argc ? argv[optind + 1] : "-";
		if (strcmp(outp, "-")) {
			fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC |
				  O_CLOEXEC, 0644);
			if (fd < 0) {
				err.sys_errno = errno;
				err.code = AZB_EOTHER;
				snprintf(err.message, sizeof(err.message),
					 "%s: %s", outp, strerror(errno));
				code = report(json, cmd, -1, &err);
				goto out;
			}
		} else if (json) {
			code = usage_error("--json with get needs an output FILE");
			goto out;
		}
		prog.what = "get";
		ret = azb_blob_get(c, container, blob, fd, off, len, &cond,
				   &p, &written, &err);
		progress_end(&prog);
		if (fd != 1 && close(fd) && !ret) {
			err.sys_errno = errno;
			err.code = AZB_EOTHER;
			snprintf(err.message, sizeof(err.message), "%s: %s",
				 outp, strerror(errno));
			ret = -1;
		}
		if (!ret && json) {
			printf("{\"ok\":true,\"blob\":");
			json_str(stdout, blob);
			printf(",\"size\":%llu,\"written\":%llu,\"etag\":",
			       (unsigned long long)p.size,
			       (unsigned long long)written);
			json_str(stdout, p.etag);
			printf(",\"content_md5\":");
			json_str(stdout, p.content_md5);
			printf(",\"transport\":\"%s\"}\n",
			       azb_client_transport_name(c));
		}
	} else if (!strcmp(cmd, "stat")) {
		struct azb_props p;

		if (optind + 1 != argc ||
		    split_path(argv[optind], &container, &blob, 0)) {
			code = usage_error("expected: stat CONTAINER[/BLOB]");
			goto out;
		}
		ret = blob ? azb_blob_props(c, container, blob, &cond, &p,
					    &err) :
			     azb_container_props(c, container, &p, &err);
		if (!ret)
			print_props(json, blob ? blob : container, &p, !blob);
	} else if (!strcmp(cmd, "ls")) {
		struct azb_list_page pg;
		char *marker = NULL;
		size_t total = 0, pages = 0, i;

		if (optind + 1 != argc ||
		    split_path(argv[optind], &container, &blob, 0)) {
			code = usage_error("expected: ls CONTAINER[/PREFIX]");
			goto out;
		}
		do {
			ret = azb_list_blobs(c, container, blob, delim, marker,
					     page_size, &pg, &err);
			free(marker);
			marker = NULL;
			if (ret)
				break;
			if (json && !pages) {
				printf("{\"ok\":true,\"container\":");
				json_str(stdout, container);
				printf(",\"items\":[");
			}
			pages++;
			for (i = 0; i < pg.n; i++, total++) {
				struct azb_list_item *it = &pg.items[i];

				if (json) {
					printf("%s{\"name\":", total ? "," : "");
					json_str(stdout, it->name);
					if (it->is_prefix) {
						printf(",\"prefix\":true}");
						continue;
					}
					printf(",\"size\":%llu,\"etag\":",
					       (unsigned long long)it->size);
					json_str(stdout, it->etag);
					printf(",\"last_modified\":");
					json_str(stdout, it->last_modified);
					printf(",\"content_md5\":");
					json_str(stdout, it->content_md5);
					printf("}");
				} else if (it->is_prefix) {
					printf("%12s  %-29s  %s\n", "PRE", "",
					       it->name);
				} else {
					printf("%12llu  %-29s  %s\n",
					       (unsigned long long)it->size,
					       it->last_modified, it->name);
				}
			}
			if (pg.next_marker && pg.next_marker[0])
				marker = strdup(pg.next_marker);
			azb_list_page_free(&pg);
		} while (marker);
		if (json && !ret)
			printf("],\"count\":%zu,\"pages\":%zu}\n", total,
			       pages);
		else if (json && pages)
			printf("],\"complete\":false}\n");
	} else if (!strcmp(cmd, "rm")) {
		if (optind + 1 != argc ||
		    split_path(argv[optind], &container, &blob, 1)) {
			code = usage_error("expected: rm CONTAINER/BLOB");
			goto out;
		}
		ret = azb_blob_delete(c, container, blob, &cond, &err);
		if (!ret && json) {
			printf("{\"ok\":true,\"blob\":");
			json_str(stdout, blob);
			printf("}\n");
		}
	} else {
		code = usage_error("unknown command");
		goto out;
	}
	code = report(json, cmd, ret, &err);
out:
	fflush(stdout);
	azb_client_free(c);
	azb_config_free(&cfg);
	return code;
}
