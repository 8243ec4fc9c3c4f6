#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Start and stop Azurite's blob service on the loopback for the VM tests.
# Uses the same cached install as the client's tests (build/azurite,
# azurite@3.35.0, the newest that runs on Node.js 20); installs nodejs/npm
# from apt and Azurite from npm when missing.
#
#   azurite.sh start STATE_DIR [PORT] [-- AZURITE_ARGS...]
#                                       prints the port; STATE_DIR gets
#                                       azurite.pid, azurite.port, azurite.log
#   azurite.sh stop STATE_DIR
#
# AZURITE_ARGS go to Azurite's blob service as they are, e.g.
# --oauth basic --cert server.pem --key server.key (bearer tokens, https).
#
# PORT defaults to 10000, or the first free port from 10100 up when 10000
# is taken (someone else's Azurite). Data lives in memory only.
#
# Copyright (c) 2026 The hv_azure_blob authors

set -eu
TOP=$(cd "$(dirname "$0")/../../../.." && pwd)
AZ_DIR=$TOP/build/azurite
AZ_VERSION=3.35.0

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install_azurite() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "azurite: installing nodejs and npm (apt)" >&2
		"$TOP/tools/testing/azure_blob/scripts/apt-need.sh" nodejs npm >&2
	fi
	if [ "$(node -p "require('$AZ_DIR/node_modules/azurite/package.json').version" 2>/dev/null)" != "$AZ_VERSION" ]; then
		mkdir -p "$AZ_DIR"
		echo "azurite: installing azurite@$AZ_VERSION into $AZ_DIR (npm)" >&2
		(cd "$AZ_DIR" && npm install --no-audit --no-fund \
			--loglevel=error "azurite@$AZ_VERSION" >&2)
	fi
}

start() {
	local dir=$1 port=${2:-} pid
	shift 2
	mkdir -p "$dir"
	install_azurite
	if [ -z "$port" ]; then
		port=10000
		if port_busy $port; then
			port=10100
			while port_busy $port; do port=$((port + 1)); done
		fi
	elif port_busy "$port"; then
		echo "azurite: 127.0.0.1:$port is in use" >&2
		return 1
	fi
	node "$AZ_DIR/node_modules/azurite/dist/src/blob/main.js" \
		--blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence \
		--skipApiVersionCheck --disableTelemetry --silent "$@" \
		>"$dir/azurite.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/azurite.pid"
	echo "$port" >"$dir/azurite.port"
	for _ in $(seq 1 80); do
		port_busy "$port" && { echo "$port"; return 0; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	echo "azurite: did not start: $(tail -n 5 "$dir/azurite.log")" >&2
	stop "$dir"
	return 1
}

stop() {
	local dir=$1 pid
	[ -f "$dir/azurite.pid" ] || return 0
	pid=$(cat "$dir/azurite.pid")
	rm -f "$dir/azurite.pid"
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 20); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
start)
	dir=${2:?state dir} port=
	shift 2
	if [ $# -gt 0 ] && [ "$1" != "--" ]; then
		port=$1
		shift
	fi
	[ "${1:-}" = "--" ] && shift
	start "$dir" "$port" "$@" ;;
stop) stop "${2:?state dir}" ;;
*) echo "usage: $0 start STATE_DIR [PORT] [-- AZURITE_ARGS...] | stop STATE_DIR" >&2
   exit 2 ;;
esac
