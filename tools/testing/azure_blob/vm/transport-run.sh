#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest payload that checks the emulated VMBus transport on its own (no
# driver needed): control commands, offers, rescinds, sysfs. Used as
# `run` by `make vm-transport`.
#
# Copyright (c) 2026 The hv_azure_blob authors

H=/sys/kernel/debug/vmbus_emu/host
D=/sys/bus/vmbus/devices
fails=0

ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; fails=$((fails + 1)); }
cmd() { echo "$1" > $H 2>/dev/null; }

cmd "stats 0" && ok "stats accepted" || nok "stats"
r=$(cat $H)
case "$r" in
"ok requests=0 completed=0 held=0 violations=0") ok "stats reply: $r" ;;
*) nok "stats reply: $r" ;;
esac

dev0=$D/a2b10000-0000-4000-8000-000000000000
[ -d $dev0 ] && ok "slot 0 offered at boot" || nok "slot 0 missing"
c=$(cat $dev0/class_id 2>/dev/null)
[ "$c" = "{0590b792-db64-45cc-81db-b8d70c577c9e}" ] && ok "class_id $c" ||
	nok "class_id '$c'"
i=$(cat $dev0/device_id 2>/dev/null)
[ "$i" = "{a2b10000-0000-4000-8000-000000000000}" ] && ok "device_id $i" ||
	nok "device_id '$i'"

cmd "bogus 1" && nok "bad command accepted" || ok "bad command refused"
case "$(cat $H)" in error*) ok "error reply" ;; *) nok "no error reply" ;; esac
cmd "offer 9" && nok "slot 9 accepted" || ok "slot 9 refused"
cmd "fault 0 delay" && nok "delay without ms accepted" ||
	ok "delay without ms refused"
cmd "offer 0" && nok "double offer accepted" || ok "double offer refused"

dev1=$D/a2b10000-0000-4000-8000-000000000001
cmd "offer 1" && ok "offer 1" || nok "offer 1"
[ -d $dev1 ] && ok "slot 1 device registered" || nok "slot 1 device missing"
cmd "rescind 1" && ok "rescind 1" || nok "rescind 1"
[ -d $dev1 ] && nok "slot 1 device still there" || ok "slot 1 device removed"
cmd "rescind 1" && nok "second rescind accepted" || ok "second rescind refused"
cmd "offer 1" && [ -d $dev1 ] && ok "re-offer 1" || nok "re-offer 1"
cmd "rescind 1" || nok "rescind 1 again"

for c in "backend 0 null" "backend 0 echo" "latency 0 100" "fault 0 hold" \
	 "release 0" "fault 0 delay 5" "fault 0 status 7" "fault 0 bad_id_dup" \
	 "trace 0 on" "trace 0 off" "reset"; do
	cmd "$c" && ok "$c" || nok "$c"
done

# control round trip: 200 commands
t0=$(cut -d' ' -f1 /proc/uptime)
n=0
while [ $n -lt 200 ]; do cmd "stats 0" || break; n=$((n + 1)); done
t1=$(cut -d' ' -f1 /proc/uptime)
echo "# 200 control round trips in $(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}') s (incl. shell overhead)"

echo "# $fails failures"
[ $fails -eq 0 ]
