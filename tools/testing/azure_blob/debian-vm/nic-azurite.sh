# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# nic-azurite.sh - one Azurite blob store for the Debian guest, reachable
# both through the device (the VSP's http backend, on the loopback) and
# over the guest's own virtio NIC, plain HTTP and HTTPS. Sourced by the
# host halves of the guest's runs (demo.sh; the benchmark and the
# interoperability runs compare the paths on it). Bash; the caller has
# `set -u` and runs as root.
#
#   nic_azurite_install      outside the namespace (it has no route to the
#                            registries): socat and openssl (apt), Azurite
#                            (npm, build/azurite)
#   nic_azurite_start DIR    inside netns.sh's namespace: Azurite on
#                            127.0.0.1:AZ_PORT (e2e/azurite.sh, in-memory
#                            store), and in front of it, on the tap's
#                            address 169.254.77.1 only:
#                              :80    plain HTTP (socat, TCP relay)
#                              :443   HTTPS, a certificate for
#                                     IP:169.254.77.1 signed by a CA made
#                                     for this run (scripts/local-ca.sh)
#                              :8443  HTTPS, a certificate of the same CA
#                                     for the name wrong-name.invalid only
#                                     (a client that verifies refuses it)
#                            Both HTTPS ports terminate TLS in socat and
#                            relay to Azurite: the VSP's backend takes
#                            http:// on the loopback only, and one Azurite
#                            process serves one protocol from a store no
#                            other process can share. So HTTP and HTTPS
#                            pass the same relay and differ only by TLS.
#                            Writes DIR/nic.env, DIR/ca.pem (the CA the
#                            guest trusts), DIR/socat-{http,https,badname}.log,
#                            and sets nic.env's variables in the caller:
#                              AZ_PORT           Azurite on 127.0.0.1
#                              NIC_ADDR          169.254.77.1
#                              NIC_HTTP_PORT NIC_HTTPS_PORT NIC_BADNAME_PORT
#                              NIC_ACCOUNT NIC_KEY   Azurite's account
#                            Returns non-zero (everything stopped) when a
#                            part did not start.
#                            With NIC_OAUTH=1 Azurite checks bearer tokens
#                            too (--oauth basic, which it does over https
#                            only): it serves https on 127.0.0.1 with a
#                            certificate of the run's CA, the front ends
#                            relay to it through TLS, and AZ_PORT is a
#                            plain http relay on 127.0.0.1 in front of it
#                            (for the VSP's backend); AZ_TLS_PORT is
#                            Azurite's own. The front ends' certificates
#                            also name nic.internal and
#                            NIC_ACCOUNT.nic.internal (clients that build
#                            https://ACCOUNT.SUFFIX, e.g. rclone 1.60).
#   nic_azurite_stop DIR     stops what nic_azurite_start started
#   nic_azurite_payload DIR PAYLOAD
#                            PAYLOAD/nic/: nic.env, ca.pem and nic-guest.sh,
#                            the guest's half (trusting the CA the Debian
#                            way, endpoints and connection strings; see its
#                            header); the guest finds them in
#                            /run/azblob-rig/nic/
#   nic_azurite_peers DIR    prints "http N https N badname N": the
#                            connections each front end accepted from the
#                            guest's address 169.254.77.2
#
# Copyright (c) 2026 The hv_azure_blob authors

nic_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nic_rig=$(cd "$nic_here/.." && pwd)
# shellcheck source=SCRIPTDIR/payload-lib.sh
. "$nic_here/payload-lib.sh"

nic_azurite_install() {
	"$nic_rig/scripts/apt-need.sh" socat openssl >&2 &&
		dvm_azurite_install
}

# nic_front DIR NAME PORT ADDRESS-OPTIONS: one socat front end, to
# Azurite (nic_upstream)
nic_upstream=''
nic_front() {
	local dir=$1 name=$2 port=$3 listen=$4

	# -b: relay in 256 KiB blocks, not socat's default 8 KiB
	socat -d -d -b 262144 "$listen" "${nic_upstream:-TCP:127.0.0.1:$AZ_PORT}" \
		>"$dir/socat-$name.log" 2>&1 </dev/null &
	echo $! >"$dir/socat-$name.pid"
	for _ in $(seq 50); do
		grep -q 'listening on' "$dir/socat-$name.log" && return 0
		kill -0 "$(cat "$dir/socat-$name.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "nic-azurite: socat for $name ($NIC_ADDR:$port) did not start:" \
		"$(tail -n 3 "$dir/socat-$name.log")" >&2
	return 1
}

nic_azurite_start() {
	local dir=$1 tls=reuseaddr,fork,verify=0

	mkdir -p "$dir/badname"
	NIC_ADDR=169.254.77.1 NIC_HTTP_PORT=80 NIC_HTTPS_PORT=443
	NIC_BADNAME_PORT=8443 NIC_ACCOUNT=devstoreaccount1
	NIC_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	AZ_TLS_PORT=''
	nic_upstream=''
	if ! "$nic_rig/scripts/local-ca.sh" "$dir" "IP:$NIC_ADDR" nic.internal \
		"$NIC_ACCOUNT.nic.internal"; then
		return 1
	fi
	if [ "${NIC_OAUTH:-0}" = 1 ]; then
		mkdir -p "$dir/azurite-tls"
		cp "$dir/ca.pem" "$dir/ca.key" "$dir/azurite-tls/" &&
			"$nic_rig/scripts/local-ca.sh" "$dir/azurite-tls" \
				IP:127.0.0.1 >/dev/null || return 1
		AZ_TLS_PORT=$("$nic_rig/e2e/azurite.sh" start "$dir" -- \
			--oauth basic --cert "$dir/azurite-tls/server.pem" \
			--key "$dir/azurite-tls/server.key") || return 1
		# the loopback hop to Azurite is not verified: it stays in the
		# namespace
		nic_upstream=OPENSSL:127.0.0.1:$AZ_TLS_PORT,verify=0
		AZ_PORT=$((AZ_TLS_PORT + 1))
		while (exec 3<>"/dev/tcp/127.0.0.1/$AZ_PORT") 2>/dev/null; do
			AZ_PORT=$((AZ_PORT + 1))
		done
		NIC_ADDR=127.0.0.1 nic_front "$dir" plain "$AZ_PORT" \
			"TCP-LISTEN:$AZ_PORT,bind=127.0.0.1,reuseaddr,fork" ||
			{ nic_azurite_stop "$dir"; return 1; }
	else
		AZ_PORT=$("$nic_rig/e2e/azurite.sh" start "$dir") || return 1
	fi
	if ! cp "$dir/ca.pem" "$dir/ca.key" "$dir/badname/" ||
	   ! "$nic_rig/scripts/local-ca.sh" "$dir/badname" wrong-name.invalid ||
	   ! nic_front "$dir" http "$NIC_HTTP_PORT" \
		"TCP-LISTEN:$NIC_HTTP_PORT,bind=$NIC_ADDR,reuseaddr,fork" ||
	   ! nic_front "$dir" https "$NIC_HTTPS_PORT" \
		"OPENSSL-LISTEN:$NIC_HTTPS_PORT,bind=$NIC_ADDR,$tls,cert=$dir/server.pem,key=$dir/server.key" ||
	   ! nic_front "$dir" badname "$NIC_BADNAME_PORT" \
		"OPENSSL-LISTEN:$NIC_BADNAME_PORT,bind=$NIC_ADDR,$tls,cert=$dir/badname/server.pem,key=$dir/badname/server.key"; then
		nic_azurite_stop "$dir"
		return 1
	fi
	cat >"$dir/nic.env" <<EOF
AZ_PORT=$AZ_PORT
AZ_TLS_PORT=$AZ_TLS_PORT
NIC_ADDR=$NIC_ADDR
NIC_HTTP_PORT=$NIC_HTTP_PORT
NIC_HTTPS_PORT=$NIC_HTTPS_PORT
NIC_BADNAME_PORT=$NIC_BADNAME_PORT
NIC_ACCOUNT=$NIC_ACCOUNT
NIC_KEY=$NIC_KEY
EOF
}

nic_azurite_stop() {
	local dir=$1 name

	for name in http https badname plain; do
		[ -f "$dir/socat-$name.pid" ] || continue
		kill "$(cat "$dir/socat-$name.pid")" 2>/dev/null
		rm -f "$dir/socat-$name.pid"
	done
	"$nic_rig/e2e/azurite.sh" stop "$dir"
}

nic_azurite_payload() {
	local dir=$1 payload=$2

	mkdir -p "$payload/nic"
	cp "$dir/nic.env" "$dir/ca.pem" "$payload/nic/" &&
		install -m 0644 "$nic_here/nic-guest.sh" "$payload/nic/nic-guest.sh"
}

nic_azurite_peers() {
	local dir=$1 name out=''

	for name in http https badname; do
		out+="${out:+ }$name $(grep -c 'accepting connection from AF=2 169\.254\.77\.2:' \
			"$dir/socat-$name.log" 2>/dev/null)"
	done
	echo "$out"
}
