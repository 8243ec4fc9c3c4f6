#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# netns.sh [--tap NAME] CMD [ARG...] - run CMD in a network namespace of
# its own (unshare -n): the loopback up and a tap device NAME (default
# azbtap0) with the host's link-local address 169.254.77.1/16, for the
# Debian guest's virtio NIC (its address: 169.254.77.2/16). No other
# interface, no default route: whatever listens in the namespace is
# reachable by the guest and by nothing else.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -euo pipefail

tap=azbtap0
if [ "${1:-}" = --tap ]; then
	tap=$2
	shift 2
fi
[ $# -gt 0 ] || { echo "usage: $0 [--tap NAME] CMD [ARG...]" >&2; exit 2; }

# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare --net -- bash -c '
	set -e
	tap=$1
	shift
	ip link set lo up
	ip tuntap add dev "$tap" mode tap
	ip addr add 169.254.77.1/16 dev "$tap"
	ip link set "$tap" up
	exec "$@"
' netns "$tap" "$@"
