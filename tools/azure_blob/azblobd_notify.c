// SPDX-License-Identifier: MIT
/*
 * azblobd: readiness for the service manager (Type=notify). The
 * protocol is one datagram, "READY=1" and the like, to the unix socket
 * named by $NOTIFY_SOCKET ('@' = the abstract namespace); without the
 * variable this does nothing.
 *
 * Copyright (c) 2026 The hv_azure_blob authors
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "azblobd.h"

void azd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t sl;
	size_t n;
	int s;

	if (!path || (*path != '/' && *path != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (*path == '@')
		sa.sun_path[0] = '\0';
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	if (sendto(s, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, sl) < 0)
		azd_log(AZD_WARNING, "NOTIFY_SOCKET %s: %s", path,
			strerror(errno));
	close(s);
}
