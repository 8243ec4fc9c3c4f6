# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# nic-guest.sh - the Debian guest's half of nic-azurite.sh, sourced in the
# guest from the payload (/run/azblob-rig/nic/, or NIC_DIR). Reads
# nic.env beside it. Bash.
#
#   nic_trust             as root: the run's CA (ca.pem) into the system's
#                         trust store the Debian way, as
#                         /usr/local/share/ca-certificates/azblob-rig-ca.crt
#                         and update-ca-certificates; libcurl (azblob's
#                         http transport) then verifies the server with
#                         Debian's bundle, /etc/ssl/certs/ca-certificates.crt
#   nic_untrust           as root: takes it out again
#   nic_url KIND          the blob endpoint (path-style, with the account)
#                         of KIND: http (plain, on the NIC), https (a
#                         certificate for 169.254.77.1) or badname (HTTPS
#                         with a certificate of the same CA for another
#                         name), e.g. https://169.254.77.1:443/devstoreaccount1
#   nic_cs KIND           a connection string for azblob and the Azure
#                         SDKs, for nic_url KIND
#
# Copyright (c) 2026 The hv_azure_blob authors

NIC_DIR=${NIC_DIR:-/run/azblob-rig/nic}
# shellcheck source=/dev/null
. "$NIC_DIR/nic.env"
nic_crt=/usr/local/share/ca-certificates/azblob-rig-ca.crt

nic_trust() {
	install -D -m 0644 "$NIC_DIR/ca.pem" "$nic_crt" &&
		update-ca-certificates >/dev/null 2>&1 &&
		grep -qF "$(sed -n 2p "$NIC_DIR/ca.pem")" \
			/etc/ssl/certs/ca-certificates.crt
}

nic_untrust() {
	rm -f "$nic_crt"
	update-ca-certificates --fresh >/dev/null 2>&1
}

nic_url() {
	case $1 in
	http) echo "http://$NIC_ADDR:$NIC_HTTP_PORT/$NIC_ACCOUNT" ;;
	https) echo "https://$NIC_ADDR:$NIC_HTTPS_PORT/$NIC_ACCOUNT" ;;
	badname) echo "https://$NIC_ADDR:$NIC_BADNAME_PORT/$NIC_ACCOUNT" ;;
	*) echo "nic_url: http, https or badname, not '$1'" >&2; return 2 ;;
	esac
}

nic_cs() {
	local url proto

	url=$(nic_url "$1") || return
	proto=${url%%:*}
	echo "DefaultEndpointsProtocol=$proto;AccountName=$NIC_ACCOUNT;AccountKey=$NIC_KEY;BlobEndpoint=$url"
}
