/* SPDX-License-Identifier: MIT */
/*
 * The fake file-system root of the doctor and fallback tests, a directory
 * under /tmp that AZBLOB_TEST_ROOT points the library at:
 * fakeroot_make(NAME) creates /tmp/azb-NAME.XXXXXX in root[],
 * mkparents() creates every directory above a path (mkdir -p of its
 * dirname), put_node() a character node under the root, and
 * fakeroot_remove() removes the root again.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#ifndef AZB_TESTS_FAKEROOT_H
#define AZB_TESTS_FAKEROOT_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static char root[64];

static bool fakeroot_make(const char *name)
{
	snprintf(root, sizeof(root), "/tmp/azb-%s.XXXXXX", name);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return false;
	}
	return true;
}

static void fakeroot_remove(void)
{
	char cmd[sizeof(root) + 16];

	if (strncmp(root, "/tmp/azb-", 9))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "# could not remove %s\n", root);
}

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

/* A character node under the root; false when this user may not mknod. */
static bool put_node(const char *rel, unsigned int ma, unsigned int mi,
		     mode_t mode, gid_t gid)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	mkparents(p);
	unlink(p);
	if (mknod(p, S_IFCHR | mode, makedev(ma, mi)) ||
	    chown(p, 0, gid) || chmod(p, mode))
		return false;
	return true;
}

#endif /* AZB_TESTS_FAKEROOT_H */
