// SPDX-License-Identifier: MIT
/*
 * azblobd: who is on the other end of a loopback connection, and could
 * that user open the device itself?
 *
 * The peer's socket is looked up by its TCP 4-tuple with one
 * NETLINK_SOCK_DIAG request (inet_diag, an exact lookup, not a dump);
 * the kernel answers with the uid that owns that socket. Without the
 * kernel's tcp_diag module (not loaded, none to load) the same socket
 * is found in /proc/net/tcp or tcp6, whose lines carry the uid too. The device
 * node's owner, group and mode are then checked for that uid the way
 * open(2) would check them, with the groups the user database gives the
 * user (getgrouplist): the owner's bits if it owns the node, else the
 * group's if it is a member, else the others'. uid 0 may open anything.
 * What the check cannot see: ACLs on the node, and groups a process
 * holds that the database does not list (newgrp, setgroups).
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "azblobd.h"

static void put_addr(__be32 out[4], const struct sockaddr_storage *ss)
{
	memset(out, 0, 4 * sizeof(out[0]));
	if (ss->ss_family == AF_INET)
		memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static __be16 port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_port;
	return ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/* "0100007F:1F90": an address and port as /proc/net/tcp prints them */
static void proc_addr(char *out, size_t cap, const struct sockaddr_storage *ss)
{
	uint32_t w[4];
	size_t n;

	if (ss->ss_family == AF_INET) {
		memcpy(w, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		n = (size_t)snprintf(out, cap, "%08X", w[0]);
	} else {
		memcpy(w, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		n = (size_t)snprintf(out, cap, "%08X%08X%08X%08X", w[0], w[1],
				     w[2], w[3]);
	}
	snprintf(out + n, cap - n, ":%04X", ntohs(port_of(ss)));
}

static int proc_uid(const struct sockaddr_storage *local,
		    const struct sockaddr_storage *peer, uid_t *uid)
{
	char want_l[64], want_r[64], line[512], l[64], r[64];
	unsigned int u;
	int ret = -ENOENT;
	FILE *f;

	proc_addr(want_l, sizeof(want_l), peer);
	proc_addr(want_r, sizeof(want_r), local);
	f = fopen(peer->ss_family == AF_INET ? "/proc/net/tcp" :
		  "/proc/net/tcp6", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* sl local rem st queues tr:when retrnsmt uid ... */
		if (sscanf(line, "%*s %63s %63s %*s %*s %*s %*s %u", l, r,
			   &u) != 3)
			continue;
		if (!strcmp(l, want_l) && !strcmp(r, want_r)) {
			*uid = (uid_t)u;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static int diag_uid(const struct sockaddr_storage *local,
		    const struct sockaddr_storage *peer, uid_t *uid);

int azd_peer_uid(int fd, uid_t *uid)
{
	static atomic_bool told;
	struct sockaddr_storage local, peer;
	socklen_t ll = sizeof(local), pl = sizeof(peer);
	int ret;

	if (getsockname(fd, (struct sockaddr *)&local, &ll) ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl))
		return -errno;
	if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	ret = diag_uid(&local, &peer, uid);
	if (!ret)
		return 0;
	if (!atomic_exchange(&told, true))
		azd_log(AZD_NOTICE,
			"sock_diag cannot look up TCP sockets (%s; is tcp_diag loaded?): using /proc/net/tcp",
			strerror(-ret));
	return proc_uid(&local, &peer, uid);
}

static int diag_uid(const struct sockaddr_storage *local,
		    const struct sockaddr_storage *peer, uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nlh;
		char buf[8192];
	} ans;
	struct nlmsghdr *h;
	ssize_t n;
	int s, ret = -ENOENT;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = peer->ss_family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0u;
	/* the peer's socket: its local end is our remote one */
	msg.req.id.idiag_sport = port_of(peer);
	msg.req.id.idiag_dport = port_of(local);
	put_addr(msg.req.id.idiag_src, peer);
	put_addr(msg.req.id.idiag_dst, local);
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0)
		return -errno;
	if (sendto(s, &msg, sizeof(msg), 0, (struct sockaddr *)&nl,
		   sizeof(nl)) < 0) {
		ret = -errno;
		goto out;
	}
	do {
		n = recv(s, &ans, sizeof(ans), 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	for (h = &ans.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			ret = e->error ? e->error : -ENOENT;
			break;
		}
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);

			*uid = m->idiag_uid;
			ret = 0;
			break;
		}
	}
out:
	close(s);
	return ret;
}

static void mode_str(mode_t m, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	out[0] = S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : '-';
	for (i = 0; i < 9; i++)
		out[i + 1] = m & (0400 >> i) ? rwx[i] : '-';
	out[10] = '\0';
}

int azd_access(uid_t uid, const char *device, char *why, size_t len)
{
	char pwbuf[4096], mode[11], owner[64], group[64], uname[64];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	gid_t *groups = NULL;
	int ngroups = 0, i;
	bool member = false;
	struct stat st;
	mode_t need;

	if (stat(device, &st)) {
		int e = errno;

		snprintf(why, len, "cannot check %s: %s", device, strerror(e));
		/* gone (rescinded): nobody can use it until it is back */
		return e == ENOENT ? -ENOENT : -EACCES;
	}
	if (uid == 0)
		return 0;
	mode_str(st.st_mode, mode);
	if (getpwuid_r(st.st_uid, &pw, pwbuf, sizeof(pwbuf), &pwp) || !pwp)
		snprintf(owner, sizeof(owner), "%u", (unsigned int)st.st_uid);
	else
		snprintf(owner, sizeof(owner), "%s", pw.pw_name);
	if (getgrgid_r(st.st_gid, &gr, pwbuf, sizeof(pwbuf), &grp) || !grp)
		snprintf(group, sizeof(group), "%u", (unsigned int)st.st_gid);
	else
		snprintf(group, sizeof(group), "%s", gr.gr_name);

	if (uid == st.st_uid) {
		if ((st.st_mode & 0600) == 0600)
			return 0;
		snprintf(why, len,
			 "uid %u owns %s (%s %s:%s) but the owner may not read and write it",
			 (unsigned int)uid, device, mode, owner, group);
		return -EACCES;
	}
	pwp = NULL;
	if (!getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &pwp) && pwp) {
		snprintf(uname, sizeof(uname), "%s", pw.pw_name);
		ngroups = 64;
		groups = azb_xmalloc(sizeof(*groups) * ngroups);
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) < 0) {
			free(groups);
			groups = azb_xmalloc(sizeof(*groups) * ngroups);
			if (getgrouplist(pw.pw_name, pw.pw_gid, groups,
					 &ngroups) < 0)
				ngroups = 0;
		}
		for (i = 0; i < ngroups; i++)
			member |= groups[i] == st.st_gid;
	} else {
		snprintf(uname, sizeof(uname), "not in the user database");
	}
	free(groups);
	need = member ? 0060 : 0006;
	if ((st.st_mode & need) == need)
		return 0;
	if (member)
		snprintf(why, len,
			 "uid %u (%s) is in group %s of %s (%s %s:%s), but the group may not read and write it",
			 (unsigned int)uid, uname, group, device, mode, owner,
			 group);
	else
		snprintf(why, len,
			 "uid %u (%s) could not open %s itself (%s %s:%s): it is neither the owner nor in group %s; add the user to group %s",
			 (unsigned int)uid, uname, device, mode, owner, group,
			 group, group);
	return -EACCES;
}
