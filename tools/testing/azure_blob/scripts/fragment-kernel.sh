# SPDX-License-Identifier: GPL-2.0
#
# Build an x86_64 kernel from `allnoconfig` plus configuration fragments.
# The rig's debug guest kernel (debug/build-kernel.sh) and the KUnit
# kernel (scripts/kunit.sh) are both made this way, from the same first
# fragment (debug/debug.config), with the same make command line and
# compiler cache: most of their object files preprocess to the same text,
# so whichever of the two is built second takes them from the cache.
# Sourced, not run; expects static/lib.sh to be sourced first.
#
#   fragment_config KSRC KOBJ FRAGMENT...
#	KOBJ/.config: allnoconfig with the fragments as KCONFIG_ALLCONFIG.
#	A later fragment overrides an earlier one symbol by symbol. Every
#	resulting line must hold in the final configuration. .config is
#	only replaced when it changes, so an up-to-date tree does not rebuild.
#   fragment_build KSRC KOBJ LABEL JOBS
#	`make all` at nice DEBUG_KERNEL_NICE (default 10); the wall time is
#	appended to KOBJ/../build-times.log.
#
# Environment: CCACHE_DIR (default /var/cache/hv_azure_blob/ccache).
#
# Copyright (c) 2026 The hv_azure_blob authors

export CCACHE_DIR="${CCACHE_DIR:-/var/cache/hv_azure_blob/ccache}"
# Hash paths inside the checkout as relative ones and leave the working
# directory out, so that a fresh clone elsewhere (CI) and the other kernel
# of this file hit the objects an earlier build compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$AZ_BLOB_SRCTREE}"
export CCACHE_NOHASHDIR=true

# The make variables must not change from run to run, nor between the two
# kernels: a different CC rebuilds everything and shares nothing
# (fragment_build spells the same command out under nice).
fragment_make() {
	local ksrc=$1 kobj=$2

	shift 2
	make -C "$ksrc" O="$kobj" CC="ccache gcc" "$@"
}

# fragment_merge FRAGMENT... - the fragments as one, the last word on
# each symbol kept in the place of its first mention
fragment_merge() {
	awk '
	function sym(line,   s) {
		if (line ~ /^CONFIG_[A-Za-z0-9_]+=/) {
			s = line; sub(/=.*/, "", s); return s
		}
		if (line ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) {
			s = line; sub(/^# /, "", s); sub(/ .*/, "", s); return s
		}
		return ""
	}
	{
		s = sym($0)
		if (s == "") next
		if (!(s in val)) order[n++] = s
		val[s] = $0
	}
	END { for (i = 0; i < n; i++) print val[order[i]] }' "$@"
}

fragment_config() {
	local ksrc=$1 kobj=$2 frag want line s

	shift 2
	mkdir -p "$kobj"
	frag="$kobj/.config.fragment"
	want="$kobj/.config.want"
	fragment_merge "$@" > "$frag"
	fragment_make "$ksrc" "$kobj" -s KCONFIG_CONFIG=.config.want \
		KCONFIG_ALLCONFIG="$frag" allnoconfig
	rm -f "$want.old"

	# Every line of the fragments must have survived the dependencies.
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF "$line" "$want" ||
				die "$kobj: '$line' did not stick in .config" ;;
		"# CONFIG_"*" is not set")
			s=${line#\# }; s=${s%% *}
			! grep -q "^$s=" "$want" ||
				die "$kobj: $s is set in .config" ;;
		esac
	done < "$frag"

	if cmp -s "$want" "$kobj/.config"; then
		rm -f "$want"
	else
		log "$kobj: new .config"
		mv "$want" "$kobj/.config"
	fi
}

fragment_build() {
	local ksrc=$1 kobj=$2 label=$3 jobs=$4 start end rc cold=warm

	[ -f "$kobj/vmlinux" ] || cold=empty-obj
	mkdir -p "$CCACHE_DIR"
	# Cap the shared cache (it is reused by every later run here).
	ccache -M 5G >/dev/null
	start=$(date +%s)
	set +e
	nice -n "${DEBUG_KERNEL_NICE:-10}" make -C "$ksrc" O="$kobj" \
		CC="ccache gcc" -j"$jobs" all
	rc=$?
	set -e
	end=$(date +%s)
	echo "$(date -u +%FT%TZ) $cold rc=$rc $((end - start)) s" \
		>> "$kobj/../build-times.log"
	log "$label: make ($cold obj dir) exited with $rc after" \
		"$((end - start)) s"
	return "$rc"
}
