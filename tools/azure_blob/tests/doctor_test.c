// SPDX-License-Identifier: MIT
/*
 * Unit tests of azblob doctor (TAP).
 *
 * The doctor reads a fake host under AZBLOB_TEST_ROOT (a temporary
 * directory with sys/ and dev/ as the kernel would fill them) and, where
 * this machine cannot produce the answer (it has no Azure Blob driver),
 * gets the node's answers from struct azb_sys_ops. Its two questions to
 * the node are also asked of /dev/zero, which answers them as a node
 * without the driver does.
 *
 *   doctor_test JSON_DIR   run; each case's `doctor --json` output goes to
 *                          JSON_DIR/<case>.json for tests/unit.sh to parse
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "internal.h"
#include "tap.h"
#include "fakeroot.h"

static const char *json_dir;

/* ---- the fake host ---- */

static void put_file(const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	mkparents(p);
	f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static void put_dir(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s/", root, rel);
	mkparents(p);
}

static void put_link(const char *rel, const char *target)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	mkparents(p);
	unlink(p);
	if (symlink(target, p)) {
		perror(p);
		exit(2);
	}
}

static void rm_rel(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	unlink(p);
}

#define NETVSC_CLASS	"{f8615163-df3e-46c5-913f-f2d2f965ed0e}"
#define BLOB_DEV	"sys/bus/vmbus/devices/6f2a3c1e-57d0-4b7a-9a1e-0c3d5e7f9b21"

/* a VMBus with a NIC; then the Azure Blob device; then its driver */
static void host_nic(void)
{
	put_file("sys/bus/vmbus/devices/9c1f3a20-0b44-4d1e-8d0a-5f6e7a8b9c0d/class_id",
		 NETVSC_CLASS "\n");
}

static void host_offer(void)
{
	put_file(BLOB_DEV "/class_id",
		 "{0590B792-DB64-45CC-81DB-B8D70C577C9E}\n");
}

static void host_driver(void)
{
	put_file("sys/module/hv_azure_blob/initstate", "live\n");
	put_file("sys/module/hv_azure_blob/srcversion",
		 "3F1C0E5A9B7D2C4E6A8B0C1\n");
	put_file("sys/module/hv_azure_blob/taint", "OE\n");
	put_dir("sys/bus/vmbus/drivers/hv_azure_blob");
	put_link(BLOB_DEV "/driver", "../../../../bus/vmbus/drivers/hv_azure_blob");
	put_file("sys/class/misc/azure_blob/dev", "10:123\n");
}

/* ---- the node's answers ---- */

static int fake_open_err, fake_ioctl, fake_uring;
static enum azb_uring_stage fake_stage;

static int fake_open(const char *path)
{
	(void)path;
	if (fake_open_err)
		return -fake_open_err;
	return open("/dev/zero", O_RDWR | O_CLOEXEC);
}

static int fake_ioctl_probe(int fd)
{
	(void)fd;
	return fake_ioctl;
}

static int fake_uring_probe(int fd, enum azb_uring_stage *stage)
{
	(void)fd;
	*stage = fake_stage;
	return fake_uring;
}

static const struct azb_sys_ops fake_ops = {
	.open_node = fake_open,
	.ioctl_probe = fake_ioctl_probe,
	.uring_probe = fake_uring_probe,
};

static void save_json(const char *name, const struct azb_doctor *d)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s.json", json_dir, name);
	f = fopen(p, "w");
	if (!f) {
		CHECK(0, "%s: cannot write %s", name, p);
		return;
	}
	azb_doctor_print(d, f, true);
	fclose(f);
}

static void show(const struct azb_doctor *d)
{
	char *buf = NULL, *line, *save;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	azb_doctor_print(d, f, false);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		printf("#   %s\n", line);
	free(buf);
}

/* a gid this process is not in, and its name */
static gid_t other_group(char *name, size_t n)
{
	static const gid_t candidates[] = { 6, 24, 29, 65534 };
	gid_t groups[256];
	int ng = getgroups(256, groups), i, j;

	for (i = 0; i < 4; i++) {
		struct group *gr = getgrgid(candidates[i]);
		bool mine = getegid() == candidates[i];

		for (j = 0; j < ng; j++)
			mine |= groups[j] == candidates[i];
		if (gr && !mine) {
			snprintf(name, n, "%s", gr->gr_name);
			return candidates[i];
		}
	}
	snprintf(name, n, "gid 65534");
	return 65534;
}

static void test_doctor(void)
{
	struct azb_doctor d;
	char group[64], want[160];
	gid_t gid = other_group(group, sizeof(group));
	bool nodes;

	/* 1. no device offered: a VMBus with a NIC only, no node */
	host_nic();
	azb_doctor_check(&d, NULL, &azb_sys_real);
	show(&d);
	save_json("no_device", &d);
	CHECK(d.status == AZB_DOC_NO_DEVICE && d.exit == AZB_ENOTFOUND &&
	      d.vmbus && d.vmbus_devices == 1 && !d.offered &&
	      d.open_errno == ENOENT,
	      "doctor, no device offered: no_device, exit 3 (%s, exit %d, %u of %u offered)",
	      azb_doctor_status_name(d.status), d.exit, d.offered,
	      d.vmbus_devices);
	CHECK(d.autosel.kind == AZB_TRANSPORT_HTTP && !d.autosel.notice,
	      "doctor, no device offered: auto picks http without a notice (%s)",
	      d.autosel.why);

	/* 2. offered, the module not loaded */
	host_offer();
	azb_doctor_check(&d, NULL, &azb_sys_real);
	show(&d);
	save_json("no_driver", &d);
	CHECK(d.status == AZB_DOC_NO_DRIVER && d.exit == AZB_ETRANSPORT &&
	      d.offered == 1 && !d.bound_to[0] &&
	      strstr(d.instance, "6f2a3c1e") &&
	      strstr(d.hint, "modprobe hv_azure_blob"),
	      "doctor, offered but no module: no_driver, exit 9, modprobe (%s; %s)",
	      d.summary, d.hint);

	/* 3. loaded and bound, the node refuses this user (group access) */
	host_driver();
	nodes = put_node("dev/azure_blob", 10, 123, 0660, gid);
	if (!nodes) {
		SKIP("doctor, node EACCES: mknod needs root");
	} else {
		fake_open_err = EACCES;
		azb_doctor_check(&d, NULL, &fake_ops);
		show(&d);
		save_json("permission_group", &d);
		snprintf(want, sizeof(want), "usermod -aG %s $USER", group);
		CHECK(d.status == AZB_DOC_PERMISSION &&
		      d.exit == AZB_EAUTH && d.node_chr && d.node_matches &&
		      d.mode == 0660 && !strcmp(d.group, group) &&
		      !strcmp(d.srcversion, "3F1C0E5A9B7D2C4E6A8B0C1") &&
		      !strcmp(d.bound_to, "hv_azure_blob") &&
		      strstr(d.hint, want),
		      "doctor, node EACCES, group %s has access: permission, exit 7, '%s' (%s)",
		      group, want, d.hint);
		CHECK(d.autosel.kind == AZB_TRANSPORT_HTTP && d.autosel.notice &&
		      strstr(d.autosel.why, "Permission denied"),
		      "doctor, node EACCES: auto picks http with a notice (%s)",
		      d.autosel.why);

		/* 3b. root's alone: a group needs a udev rule first */
		put_node("dev/azure_blob", 10, 123, 0600, 0);
		azb_doctor_check(&d, NULL, &fake_ops);
		save_json("permission_root", &d);
		CHECK(d.status == AZB_DOC_PERMISSION &&
		      strstr(d.hint, "60-azure-blob.rules") &&
		      strstr(d.hint, "GROUP=\"azureblob\", MODE=\"0660\""),
		      "doctor, node EACCES, mode 0600 root: the udev rule (%s)",
		      d.hint);
	}

	/* 4. usable */
	if (nodes) {
		fake_open_err = 0;
		fake_ioctl = EINVAL;
		fake_uring = EINVAL;
		fake_stage = AZB_URING_COMMAND;
		azb_doctor_check(&d, NULL, &fake_ops);
		show(&d);
		save_json("usable", &d);
		CHECK(d.status == AZB_DOC_USABLE && d.exit == 0 && d.uring_ok &&
		      d.autosel.kind == AZB_TRANSPORT_DEVICE && !d.hint[0],
		      "doctor, usable: exit 0, io_uring works, auto picks the device (%s)",
		      d.summary);

		/* 4b. usable through the ioctl only */
		fake_uring = EOPNOTSUPP;
		azb_doctor_check(&d, NULL, &fake_ops);
		save_json("usable_ioctl", &d);
		CHECK(d.status == AZB_DOC_USABLE && d.exit == 0 && !d.uring_ok &&
		      strstr(d.summary, "ioctl only"),
		      "doctor, io_uring EOPNOTSUPP: still usable, through the ioctl (%s)",
		      d.summary);

		/* 4c. a node that opens but is not the driver's */
		fake_ioctl = ENOTTY;
		azb_doctor_check(&d, NULL, &fake_ops);
		CHECK(d.status == AZB_DOC_BROKEN && d.exit == AZB_ETRANSPORT &&
		      strstr(d.summary, "not the Azure Blob driver's node"),
		      "doctor, ioctl ENOTTY: broken, exit 9 (%s)", d.summary);

		/* 5. a stale node: not the driver's numbers, ENXIO */
		put_node("dev/azure_blob", 10, 57, 0600, 0);
		fake_open_err = ENXIO;
		azb_doctor_check(&d, NULL, &fake_ops);
		save_json("stale", &d);
		CHECK(d.status == AZB_DOC_BROKEN && !d.node_matches &&
		      strstr(d.hint, "stale") &&
		      strstr(d.hint, "azure_blob, 10:123"),
		      "doctor, stale node ENXIO: broken, names the driver's node (%s)",
		      d.hint);
	} else {
		SKIP("doctor, usable: mknod needs root");
	}

	/* 6. the driver has the device, the node is missing */
	rm_rel("dev/azure_blob");
	azb_doctor_check(&d, NULL, &azb_sys_real);
	save_json("no_node", &d);
	CHECK(d.status == AZB_DOC_NO_NODE && d.exit == AZB_ETRANSPORT &&
	      strstr(d.hint, "mknod -m 0600 /dev/azure_blob c 10 123"),
	      "doctor, no node: no_node, the mknod that makes it (%s)", d.hint);

	/* a path JSON must escape: quote, backslash, controls, not UTF-8 */
	azb_doctor_check(&d, "/tmp/x\"y\\z\n\x01\x7f\xff\xc3\xa4", &azb_sys_real);
	save_json("escapes", &d);
	CHECK(d.status == AZB_DOC_NO_NODE,
	      "doctor, a --device path with quotes, controls and bad UTF-8: no_node (its JSON: tests/unit.sh)");
}

/* the doctor's questions, asked of /dev/zero: no driver behind it */
static void test_probes(void)
{
	enum azb_uring_stage stage;
	int fd, e;

	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	e = azb_dev_uring_probe(fd, &stage);
	CHECK(e == EOPNOTSUPP && stage == AZB_URING_COMMAND,
	      "io_uring question to /dev/zero: the command gets EOPNOTSUPP (%s, stage %d)",
	      strerror(e), stage);
	e = azb_dev_ioctl_probe(fd);
	CHECK(e == ENOTTY, "ioctl question to /dev/zero: ENOTTY (%s)",
	      strerror(e));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: doctor_test JSON_DIR\n");
		return 2;
	}
	json_dir = argv[1];
	if (!fakeroot_make("doctor"))
		return 2;
	setenv("AZBLOB_TEST_ROOT", root, 1);
	test_doctor();
	test_probes();
	fakeroot_remove();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
