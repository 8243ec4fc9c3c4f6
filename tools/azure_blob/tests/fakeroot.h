/* SPDX-License-Identifier: MIT */
/*
 * The fake file-system roots of the doctor and fallback tests: mkparents()
 * creates every directory above a path, as mkdir -p of its dirname does.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef AZB_TESTS_FAKEROOT_H
#define AZB_TESTS_FAKEROOT_H

#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

static void mkparents(const char *path)
{
	char p[PATH_MAX];
	char *s;

	snprintf(p, sizeof(p), "%s", path);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
}

#endif /* AZB_TESTS_FAKEROOT_H */
