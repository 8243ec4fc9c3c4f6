// SPDX-License-Identifier: MIT
/*
 * azblobd: log lines on standard error. Under systemd (JOURNAL_STREAM
 * names our standard error) each line starts with its syslog priority,
 * "<6>", which journald turns into the entry's priority; elsewhere with
 * the time and the priority's name.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include "azblobd.h"

static int log_level = AZD_NOTICE;
static bool log_journal;

void azd_log_init(int level)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_level = level;
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    !fstat(2, &st) && st.st_dev == dev && st.st_ino == ino)
		log_journal = true;
}

bool azd_log_on(int level)
{
	return level <= log_level;
}

void azd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice",
		"info", "debug",
	};
	char line[2048];
	size_t n;
	va_list ap;

	if (level > log_level)
		return;
	if (log_journal) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>", level);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      ".%03ld azblobd %s: ",
				      ts.tv_nsec / 1000000, names[level & 7]);
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	/* one write per line: threads do not interleave their lines */
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}
