// SPDX-License-Identifier: MIT
/*
 * libazblob: azblob doctor - can this host's Azure Blob device be used,
 * and if not, why and what fixes it.
 *
 * The facts come from where the kernel publishes them: the host's offers
 * under /sys/bus/vmbus/devices (class_id, driver), the driver under
 * /sys/module/hv_azure_blob and /sys/bus/vmbus/drivers/hv_azure_blob, its
 * nodes under /sys/class/misc/azure_blob*, then the node itself: stat(),
 * open(O_RDWR), and an empty request through the ioctl and as an io_uring
 * command, which the driver refuses with EINVAL before it pins anything
 * or talks to the host. Every path is taken under AZBLOB_TEST_ROOT (the
 * unit tests' fake hosts); the calls on the node go through
 * struct azb_sys_ops.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include "internal.h"

static int real_open_node(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : fd;
}

const struct azb_sys_ops azb_sys_real = {
	.open_node = real_open_node,
	.ioctl_probe = azb_dev_ioctl_probe,
	.uring_probe = azb_dev_uring_probe,
};

/* snprintf for messages and names, which may be cut */
static void put(char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

/* root + abs into out; false when it does not fit */
static bool sys_path(char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool sys_path(char *out, size_t n, const char *fmt, ...)
{
	const char *root = azb_test_root();
	size_t len = strlen(root);
	va_list ap;
	int r;

	if (len >= n)
		return false;
	memcpy(out, root, len);
	va_start(ap, fmt);
	r = vsnprintf(out + len, n - len, fmt, ap);
	va_end(ap);
	return r >= 0 && (size_t)r < n - len;
}

/* First line of a sysfs file, without its newline; "" when absent. */
static bool read_attr(char *buf, size_t n, const char *path)
{
	FILE *f = fopen(path, "re");
	bool ok;

	buf[0] = '\0';
	if (!f)
		return false;
	ok = fgets(buf, (int)n, f) != NULL;
	fclose(f);
	if (!ok) {
		buf[0] = '\0';
		return false;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* "{0590B792-...}\n" and "0590b792-..." compare equal */
static bool is_blob_class(const char *v)
{
	char g[40];
	size_t i, n = 0;

	for (i = 0; v[i] && n < sizeof(g) - 1; i++) {
		if (v[i] == '{' || v[i] == '}' || v[i] == ' ')
			continue;
		g[n++] = (char)azb_ascii_lower((unsigned char)v[i]);
	}
	g[n] = '\0';
	return !strcmp(g, AZB_BLOB_CLASS_ID);
}

static void check_offer(struct azb_doctor *d)
{
	char dir[PATH_MAX], p[PATH_MAX], v[128], link[PATH_MAX];
	struct dirent *de;
	DIR *dh;

	if (!sys_path(dir, sizeof(dir), "/sys/bus/vmbus/devices"))
		return;
	dh = opendir(dir);
	if (!dh)
		return;
	d->vmbus = true;
	while ((de = readdir(dh))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		d->vmbus_devices++;
		if (snprintf(p, sizeof(p), "%s/%s/class_id", dir,
			     de->d_name) >= (int)sizeof(p) ||
		    !read_attr(v, sizeof(v), p) || !is_blob_class(v))
			continue;
		if (d->offered++)
			continue;
		put(d->instance, sizeof(d->instance), "%s", de->d_name);
		put(p, sizeof(p), "%s/%s/driver", dir, de->d_name);
		n = readlink(p, link, sizeof(link) - 1);
		if (n > 0) {
			const char *base;

			link[n] = '\0';
			base = strrchr(link, '/');
			put(d->bound_to, sizeof(d->bound_to), "%s",
				 base ? base + 1 : link);
		}
	}
	closedir(dh);
}

static void check_driver(struct azb_doctor *d)
{
	char p[PATH_MAX], v[64];
	struct dirent *de;
	struct utsname u;
	DIR *dh;

	if (!uname(&u))
		put(d->kernel, sizeof(d->kernel), "%s", u.release);
	if (sys_path(p, sizeof(p), "/sys/module/%s", AZB_DRIVER_NAME) &&
	    exists(p)) {
		d->module = true;
		sys_path(p, sizeof(p), "/sys/module/%s/initstate",
			 AZB_DRIVER_NAME);
		read_attr(d->initstate, sizeof(d->initstate), p);
		sys_path(p, sizeof(p), "/sys/module/%s/version",
			 AZB_DRIVER_NAME);
		read_attr(d->version, sizeof(d->version), p);
		sys_path(p, sizeof(p), "/sys/module/%s/srcversion",
			 AZB_DRIVER_NAME);
		read_attr(d->srcversion, sizeof(d->srcversion), p);
		sys_path(p, sizeof(p), "/sys/module/%s/taint",
			 AZB_DRIVER_NAME);
		read_attr(d->taint, sizeof(d->taint), p);
	}
	if (sys_path(p, sizeof(p), "/sys/bus/vmbus/drivers/%s",
		     AZB_DRIVER_NAME) && exists(p))
		d->registered = true;

	/* The nodes the driver registered: /sys/class/misc/azure_blob* */
	if (!sys_path(p, sizeof(p), "/sys/class/misc"))
		return;
	dh = opendir(p);
	if (!dh)
		return;
	while ((de = readdir(dh)) && d->nmisc < AZB_DOC_MISC_MAX) {
		char a[PATH_MAX];
		unsigned int ma, mi;

		if (strncmp(de->d_name, "azure_blob", 10) ||
		    snprintf(a, sizeof(a), "%s/%s/dev", p, de->d_name) >=
		    (int)sizeof(a) || !read_attr(v, sizeof(v), a) ||
		    sscanf(v, "%u:%u", &ma, &mi) != 2)
			continue;
		put(d->misc[d->nmisc].name, sizeof(d->misc[0].name),
			 "%s", de->d_name);
		d->misc[d->nmisc].major = ma;
		d->misc[d->nmisc].minor = mi;
		d->nmisc++;
	}
	closedir(dh);
}

static void check_user(struct azb_doctor *d)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw)
		put(d->user, sizeof(d->user), "%s", pw->pw_name);
	else
		put(d->user, sizeof(d->user), "uid %u",
		    (unsigned int)geteuid());
}

static void check_groups(struct azb_doctor *d)
{
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(d->gid);
	gid_t groups[256];
	int n, i;

	if (getegid() == d->gid)
		d->user_in_group = true;
	n = getgroups(sizeof(groups) / sizeof(groups[0]), groups);
	for (i = 0; i < n; i++)
		if (groups[i] == d->gid)
			d->user_in_group = true;
	if (pw && pw->pw_gid == d->gid)
		d->user_listed = true;
	for (i = 0; pw && gr && gr->gr_mem[i]; i++)
		if (!strcmp(gr->gr_mem[i], pw->pw_name))
			d->user_listed = true;
}

static void check_node(struct azb_doctor *d)
{
	struct passwd *pw;
	struct group *gr;
	struct stat st;
	unsigned int i;

	if (stat(d->path, &st))
		return;
	d->node_exists = true;
	d->node_chr = S_ISCHR(st.st_mode);
	d->major = major(st.st_rdev);
	d->minor = minor(st.st_rdev);
	d->mode = st.st_mode & 07777;
	d->uid = st.st_uid;
	d->gid = st.st_gid;
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	if (pw)
		put(d->owner, sizeof(d->owner), "%s", pw->pw_name);
	else
		put(d->owner, sizeof(d->owner), "uid %u", d->uid);
	if (gr)
		put(d->group, sizeof(d->group), "%s", gr->gr_name);
	else
		put(d->group, sizeof(d->group), "gid %u", d->gid);
	for (i = 0; i < d->nmisc; i++)
		if (d->node_chr && d->misc[i].major == d->major &&
		    d->misc[i].minor == d->minor)
			d->node_matches = true;
	check_groups(d);
}

static void set_verdict(struct azb_doctor *d, enum azb_doctor_status s,
			const char *hint_fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_verdict(struct azb_doctor *d, enum azb_doctor_status s,
			const char *hint_fmt, ...)
{
	static const int exits[] = {
		[AZB_DOC_USABLE] = 0,
		[AZB_DOC_NO_DEVICE] = AZB_ENOTFOUND,
		[AZB_DOC_NO_DRIVER] = AZB_ETRANSPORT,
		[AZB_DOC_NO_NODE] = AZB_ETRANSPORT,
		[AZB_DOC_PERMISSION] = AZB_EAUTH,
		[AZB_DOC_BROKEN] = AZB_ETRANSPORT,
	};
	va_list ap;

	d->status = s;
	d->exit = exits[s];
	d->hint[0] = '\0';
	if (hint_fmt) {
		va_start(ap, hint_fmt);
		vsnprintf(d->hint, sizeof(d->hint), hint_fmt, ap);
		va_end(ap);
	}
}

/* The node refused this user: whose it is, and what opens it. */
static void verdict_permission(struct azb_doctor *d)
{
	put(d->summary, sizeof(d->summary),
		 "%s refuses %s: %s (owner %s, group %s, mode %04o)",
		 d->path, d->user,
		 strerror(d->open_errno), d->owner, d->group,
		 (unsigned int)d->mode);
	if (d->open_errno == EPERM)
		set_verdict(d, AZB_DOC_PERMISSION,
			    "the kernel refused the open whatever the mode (EPERM): a device cgroup (in a container) or a security module decides");
	else if (d->user_listed && !d->user_in_group &&
		 (d->mode & 060) == 060)
		set_verdict(d, AZB_DOC_PERMISSION,
			    "%s is in group %s, but this login started before that: log in again (or run `newgrp %s`)",
			    d->user, d->group, d->group);
	else if (d->gid != 0 && (d->mode & 060) == 060)
		set_verdict(d, AZB_DOC_PERMISSION,
			    "members of group %s may open it: `sudo usermod -aG %s $USER`, then log in again",
			    d->group, d->group);
	else if ((d->mode & 066) == 066 || (d->user_in_group &&
					     (d->mode & 060) == 060))
		set_verdict(d, AZB_DOC_PERMISSION,
			    "the mode allows it, so an ACL or a security module refuses: see `getfacl %s` and the audit log",
			    d->path);
	else
		set_verdict(d, AZB_DOC_PERMISSION,
			    "only %s may open it; to give a group access, a udev rule such as /etc/udev/rules.d/60-azure-blob.rules: KERNEL==\"azure_blob*\", SUBSYSTEM==\"misc\", GROUP=\"azureblob\", MODE=\"0660\", then `sudo udevadm trigger -s misc`, `sudo usermod -aG azureblob $USER` and log in again",
			    d->owner);
}

/* No node at the path: from the host's offer down to the node. */
static void verdict_absent(struct azb_doctor *d)
{
	if (!d->offered && !d->registered && !d->module) {
		put(d->summary, sizeof(d->summary),
			 "there is no %s and the host offers no Azure Blob device%s",
			 d->path, d->vmbus ? "" :
			 " (no VMBus: not a Hyper-V or Azure guest)");
		set_verdict(d, AZB_DOC_NO_DEVICE,
			    "the Azure host offers the device to VMs of its own choosing; without it, %s",
			    azb_have_http() ? "--transport auto uses http" :
			    "use an azblob with the http transport (this one has only the device)");
	} else if (!d->offered) {
		put(d->summary, sizeof(d->summary),
			 "the driver is loaded, but the host offers no Azure Blob device (class %s) and there is no %s",
			 AZB_BLOB_CLASS_ID, d->path);
		set_verdict(d, AZB_DOC_NO_DEVICE,
			    "the host has not offered the device to this VM, or has taken it back");
	} else if (!d->registered && !d->module) {
		put(d->summary, sizeof(d->summary),
			 "the host offers the Azure Blob device (%s), but the driver %s is not loaded",
			 d->instance, AZB_DRIVER_NAME);
		set_verdict(d, AZB_DOC_NO_DRIVER,
			    "`sudo modprobe %s` (the module for kernel %s must be installed)",
			    AZB_DRIVER_NAME, d->kernel);
	} else if (strcmp(d->bound_to, AZB_DRIVER_NAME)) {
		put(d->summary, sizeof(d->summary),
			 "the host offers the device (%s) and %s is loaded, but the device is %s%s",
			 d->instance, AZB_DRIVER_NAME,
			 d->bound_to[0] ? "bound to " : "not bound to it",
			 d->bound_to);
		set_verdict(d, AZB_DOC_NO_DRIVER,
			    "the driver's probe failed or it was unbound: see `dmesg | grep %s`",
			    AZB_DRIVER_NAME);
	} else if (d->nmisc) {
		put(d->summary, sizeof(d->summary),
			 "the driver has the device (%s is %u:%u), but there is no %s",
			 d->misc[0].name, d->misc[0].major, d->misc[0].minor,
			 d->path);
		set_verdict(d, AZB_DOC_NO_NODE,
			    "devtmpfs or udev did not make the node: `sudo mknod -m 0600 /dev/%s c %u %u` (or the --device of another node)",
			    d->misc[0].name, d->misc[0].major, d->misc[0].minor);
	} else {
		put(d->summary, sizeof(d->summary),
			 "the driver has the device but registered no node, and there is no %s",
			 d->path);
		set_verdict(d, AZB_DOC_NO_NODE,
			    "see `dmesg | grep %s`", AZB_DRIVER_NAME);
	}
}

/* The node opens: is the Azure Blob driver behind it? */
static void verdict_open(struct azb_doctor *d)
{
	if (d->ioctl_errno == EINVAL) {
		put(d->summary, sizeof(d->summary),
			 "%s opens and the driver answers%s", d->path,
			 d->uring_ok ? "" : " (through the ioctl only)");
		set_verdict(d, AZB_DOC_USABLE, NULL);
		return;
	}
	if (d->ioctl_errno == ENOTTY)
		put(d->summary, sizeof(d->summary),
			 "%s opens, but it is not the Azure Blob driver's node (the ioctl: %s)",
			 d->path, strerror(d->ioctl_errno));
	else if (d->ioctl_errno == ENODEV)
		put(d->summary, sizeof(d->summary),
			 "%s opens, but its device is gone (the host took it back): %s",
			 d->path, strerror(d->ioctl_errno));
	else
		put(d->summary, sizeof(d->summary),
			 "%s opens, but the driver's answer to an empty request is %s (errno %d), not EINVAL",
			 d->path, strerror(d->ioctl_errno), d->ioctl_errno);
	if (d->nmisc)
		set_verdict(d, AZB_DOC_BROKEN,
			    "the driver's node is %s (%u:%u): use /dev/%s, or --device with it",
			    d->misc[0].name, d->misc[0].major, d->misc[0].minor,
			    d->misc[0].name);
	else
		set_verdict(d, AZB_DOC_BROKEN,
			    "the driver registered no node: see the lines above");
}

/* ENODEV, ENXIO, or anything else open() can say */
static void verdict_stale(struct azb_doctor *d)
{
	put(d->summary, sizeof(d->summary),
		 "%s (%s %u:%u) cannot be opened: %s", d->path,
		 d->node_chr ? "character device" : "not a character device",
		 d->major, d->minor, strerror(d->open_errno));
	if (d->open_errno != ENODEV && d->open_errno != ENXIO)
		set_verdict(d, AZB_DOC_BROKEN, NULL);
	else if (!d->offered)
		set_verdict(d, AZB_DOC_BROKEN,
			    "no device is behind the node: the host offers no Azure Blob device%s",
			    d->module || d->registered ? "" :
			    " and the driver is not loaded");
	else if (!d->registered && !d->module)
		set_verdict(d, AZB_DOC_BROKEN,
			    "no driver is behind the node: `sudo modprobe %s`",
			    AZB_DRIVER_NAME);
	else if (d->nmisc && !d->node_matches)
		set_verdict(d, AZB_DOC_BROKEN,
			    "the node is stale: the driver's node is %s, %u:%u (`sudo rm %s`; devtmpfs or udev makes the right one)",
			    d->misc[0].name, d->misc[0].major, d->misc[0].minor,
			    d->path);
	else
		set_verdict(d, AZB_DOC_BROKEN,
			    "the device went away while the node stayed: see `dmesg | grep %s`",
			    AZB_DRIVER_NAME);
}

void azb_doctor_check(struct azb_doctor *d, const char *device,
		      const struct azb_sys_ops *ops)
{
	struct azb_config cfg = { .device = device };
	char *path = azb_device_path(&cfg);
	int fd;

	memset(d, 0, sizeof(*d));
	put(d->path, sizeof(d->path), "%s", path);
	free(path);
	d->ioctl_errno = -1;
	d->uring_errno = -1;
	check_user(d);
	check_offer(d);
	check_driver(d);
	check_node(d);

	fd = ops->open_node(d->path);
	d->open_errno = fd < 0 ? -fd : 0;
	if (fd >= 0) {
		d->ioctl_errno = ops->ioctl_probe(fd);
		d->uring_errno = ops->uring_probe(fd, &d->uring_stage);
		d->uring_ok = d->uring_errno == EINVAL &&
			      d->uring_stage == AZB_URING_COMMAND;
		close(fd);
	}
	azb_auto_choose(d->open_errno, azb_have_http(), d->path, &d->autosel);

	if (!d->open_errno)
		verdict_open(d);
	else if (d->open_errno == ENOENT || d->open_errno == ENOTDIR)
		verdict_absent(d);
	else if (d->open_errno == EACCES || d->open_errno == EPERM)
		verdict_permission(d);
	else
		verdict_stale(d);
}

const char *azb_doctor_status_name(enum azb_doctor_status s)
{
	switch (s) {
	case AZB_DOC_USABLE: return "usable";
	case AZB_DOC_NO_DEVICE: return "no_device";
	case AZB_DOC_NO_DRIVER: return "no_driver";
	case AZB_DOC_NO_NODE: return "no_node";
	case AZB_DOC_PERMISSION: return "permission";
	default: return "broken";
	}
}

/* What the io_uring probe's answer means. */
static const char *uring_text(const struct azb_doctor *d)
{
	if (d->uring_errno < 0)
		return "not asked (the node does not open)";
	if (d->uring_ok)
		return "commands work (the driver refuses an empty command with EINVAL, as it should)";
	if (d->uring_stage == AZB_URING_SETUP) {
		switch (d->uring_errno) {
		case ENOSYS: return "the kernel has no io_uring";
		case EPERM: return "io_uring is disabled (sysctl kernel.io_uring_disabled)";
		case EINVAL: return "the kernel's io_uring has no 128-byte submissions (before Linux 5.19)";
		default: return "the ring could not be set up";
		}
	}
	switch (d->uring_errno) {
	case EOPNOTSUPP: return "the driver does not take io_uring commands (built for an older kernel); requests use the ioctl";
	case EACCES: return "a security module refuses io_uring commands on the node";
	default: return "the driver's answer to an empty command is not EINVAL";
	}
}

static const char *kind_name(enum azb_transport_kind k)
{
	return k == AZB_TRANSPORT_DEVICE ? "device" :
	       k == AZB_TRANSPORT_HTTP ? "http" : "none";
}

/* the device's way of carrying parallel requests, for the auto line */
static const char *auto_io(const struct azb_doctor *d)
{
	if (d->autosel.kind != AZB_TRANSPORT_DEVICE)
		return "";
	return d->uring_ok ? "io_uring for parallel requests, the ioctl for lone ones" :
	       "the ioctl for every request";
}

static void print_text(const struct azb_doctor *d, FILE *f)
{
	unsigned int i;

	fprintf(f, "azblob doctor: %s\n", d->path);
	if (!d->vmbus)
		fprintf(f, "  host offer  no VMBus (/sys/bus/vmbus/devices): not a Hyper-V or Azure guest\n");
	else if (!d->offered)
		fprintf(f, "  host offer  none: %u VMBus device%s, none of class %s\n",
			d->vmbus_devices, d->vmbus_devices == 1 ? "" : "s",
			AZB_BLOB_CLASS_ID);
	else
		fprintf(f, "  host offer  %u Azure Blob device%s (class %s): %s, %s%s\n",
			d->offered, d->offered == 1 ? "" : "s",
			AZB_BLOB_CLASS_ID, d->instance,
			d->bound_to[0] ? "bound to " : "bound to no driver",
			d->bound_to);
	if (d->module || d->registered) {
		fprintf(f, "  driver      %s: %s%s, %s on VMBus; version %s, srcversion %s%s%s; kernel %s\n",
			AZB_DRIVER_NAME,
			d->initstate[0] ? "module, " : "built in",
			d->initstate,
			d->registered ? "registered" : "not registered",
			d->version[0] ? d->version : "none",
			d->srcversion[0] ? d->srcversion : "none",
			d->taint[0] ? ", taint " : "", d->taint, d->kernel);
	} else {
		fprintf(f, "  driver      %s not loaded, kernel %s\n",
			AZB_DRIVER_NAME, d->kernel);
	}
	for (i = 0; i < d->nmisc; i++)
		fprintf(f, "  misc        %s %u:%u\n", d->misc[i].name,
			d->misc[i].major, d->misc[i].minor);
	if (d->node_exists)
		fprintf(f, "  node        %s %u:%u, owner %s, group %s, mode %04o%s\n",
			d->node_chr ? "character device" :
			"not a character device",
			d->major, d->minor, d->owner, d->group,
			(unsigned int)d->mode,
			d->nmisc && !d->node_matches ?
			" (not the driver's node)" : "");
	else
		fprintf(f, "  node        absent\n");
	if (d->open_errno)
		fprintf(f, "  open        O_RDWR as %s: %s (errno %d)\n",
			d->user,
			strerror(d->open_errno), d->open_errno);
	else
		fprintf(f, "  open        O_RDWR: ok\n");
	if (d->ioctl_errno >= 0)
		fprintf(f, "  ioctl       %s\n", d->ioctl_errno == EINVAL ?
			"the driver answers (EINVAL for an empty request, as it should)" :
			strerror(d->ioctl_errno));
	fprintf(f, "  io_uring    %s", uring_text(d));
	if (d->uring_errno > 0 && !d->uring_ok)
		fprintf(f, " [%s, errno %d]", strerror(d->uring_errno),
			d->uring_errno);
	fputc('\n', f);
	fprintf(f, "  auto        --transport auto: %s, because %s%s%s\n",
		kind_name(d->autosel.kind), d->autosel.why,
		*auto_io(d) ? "; " : "", auto_io(d));
	fprintf(f, "  verdict     %s: %s\n",
		d->status == AZB_DOC_USABLE ? "usable" : "not usable",
		d->summary);
	if (d->hint[0])
		fprintf(f, "  fix         %s\n", d->hint);
}

static void json_kv(FILE *f, const char *k, const char *v, bool comma)
{
	fprintf(f, "%s\"%s\":", comma ? "," : "", k);
	azb_json_str(f, v);
}

static void print_json(const struct azb_doctor *d, FILE *f)
{
	char mode[8];
	unsigned int i;

	fprintf(f, "{\"ok\":%s,\"usable\":%s,\"exit\":%d",
		d->status == AZB_DOC_USABLE ? "true" : "false",
		d->status == AZB_DOC_USABLE ? "true" : "false", d->exit);
	json_kv(f, "status", azb_doctor_status_name(d->status), true);
	json_kv(f, "device", d->path, true);
	json_kv(f, "summary", d->summary, true);
	json_kv(f, "hint", d->hint, true);
	fprintf(f, ",\"offer\":{\"vmbus\":%s,\"vmbus_devices\":%u,\"offered\":%u",
		d->vmbus ? "true" : "false", d->vmbus_devices, d->offered);
	json_kv(f, "class_id", AZB_BLOB_CLASS_ID, true);
	json_kv(f, "instance", d->instance, true);
	json_kv(f, "bound_to", d->bound_to, true);
	fprintf(f, "},\"driver\":{\"loaded\":%s,\"module\":%s,\"registered\":%s",
		d->module || d->registered ? "true" : "false",
		d->module ? "true" : "false",
		d->registered ? "true" : "false");
	json_kv(f, "initstate", d->initstate, true);
	json_kv(f, "version", d->version, true);
	json_kv(f, "srcversion", d->srcversion, true);
	json_kv(f, "taint", d->taint, true);
	json_kv(f, "kernel", d->kernel, true);
	fprintf(f, ",\"misc\":[");
	for (i = 0; i < d->nmisc; i++) {
		fprintf(f, "%s{", i ? "," : "");
		json_kv(f, "name", d->misc[i].name, false);
		fprintf(f, ",\"major\":%u,\"minor\":%u}", d->misc[i].major,
			d->misc[i].minor);
	}
	put(mode, sizeof(mode), "%04o", (unsigned int)d->mode);
	fprintf(f, "]},\"node\":{\"exists\":%s,\"char\":%s,\"matches_driver\":%s,\"major\":%u,\"minor\":%u",
		d->node_exists ? "true" : "false",
		d->node_chr ? "true" : "false",
		d->node_matches ? "true" : "false", d->major, d->minor);
	json_kv(f, "mode", d->node_exists ? mode : "", true);
	json_kv(f, "owner", d->owner, true);
	json_kv(f, "group", d->group, true);
	json_kv(f, "user", d->user, true);
	fprintf(f, ",\"user_in_group\":%s,\"open_errno\":%d",
		d->user_in_group ? "true" : "false", d->open_errno);
	json_kv(f, "open_error", d->open_errno ? strerror(d->open_errno) : "",
		true);
	fprintf(f, "},\"ioctl\":{\"asked\":%s,\"works\":%s,\"errno\":%d}",
		d->ioctl_errno >= 0 ? "true" : "false",
		d->ioctl_errno == EINVAL ? "true" : "false",
		d->ioctl_errno >= 0 ? d->ioctl_errno : 0);
	fprintf(f, ",\"io_uring\":{\"asked\":%s,\"works\":%s,\"errno\":%d",
		d->uring_errno >= 0 ? "true" : "false",
		d->uring_ok ? "true" : "false",
		d->uring_errno >= 0 ? d->uring_errno : 0);
	json_kv(f, "stage", d->uring_errno < 0 ? "" :
		d->uring_stage == AZB_URING_SETUP ? "setup" : "command", true);
	json_kv(f, "detail", uring_text(d), true);
	fprintf(f, "},\"auto\":{");
	json_kv(f, "transport", kind_name(d->autosel.kind), false);
	json_kv(f, "io", d->autosel.kind != AZB_TRANSPORT_DEVICE ? "" :
		d->uring_ok ? "io_uring" : "ioctl", true);
	fprintf(f, ",\"notice\":%s", d->autosel.notice ? "true" : "false");
	json_kv(f, "why", d->autosel.why, true);
	fprintf(f, "}}\n");
}

void azb_doctor_print(const struct azb_doctor *d, FILE *f, bool json)
{
	if (json)
		print_json(d, f);
	else
		print_text(d, f);
}

int azb_doctor(const char *device, int json, FILE *out)
{
	struct azb_doctor *d = azb_xmalloc(sizeof(*d));
	int ret;

	azb_doctor_check(d, device, &azb_sys_real);
	azb_doctor_print(d, out, json);
	ret = d->exit;
	free(d);
	return ret;
}
