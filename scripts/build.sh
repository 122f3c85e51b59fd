#!/usr/bin/env bash
# Fetch Debian's linux-source, apply the agentns series, configure and build.
#
#   scripts/build.sh                       # minimal QEMU guest bzImage
#   BUILD_KERNEL=0 scripts/build.sh        # stop after patching, print tree
#   KVER=7.3 KSRC=/path/to/tree scripts/build.sh
#   TARGET=bindeb-pkg BASE_CONFIG=/boot/config-$(uname -r) scripts/build.sh
#   scripts/build.sh --source              # print the pristine tree's path
#
# Inputs (environment):
#   KVER          linux-source-$KVER Debian package to use (default 7.3)
#   KSRC          an unpacked pristine kernel tree to copy instead of the package
#   KSRC_TARBALL  a linux-source tarball (.tar.xz) instead of the package
#   BASE_CONFIG   "tinyconfig" (default) or a config file to start from
#   LSMOD         a distro config trimmed to a fleet's modules: the lsmod (or
#                 /proc/modules) listing make localmodconfig keeps, applied to
#                 BASE_CONFIG before the fragments
#   FRAGMENTS     space-separated config fragments merged on top
#                 (default: kernel/configs/agentns_vmtest.config; CONFIG_AGENT_NS is forced)
#   AGENT_NS      y (default) or n: build the series with CONFIG_AGENT_NS=n
#   PATCHES       0 to build the tree without the series (a stock kernel)
#   TARGET        make target: bzImage (default) or bindeb-pkg; config stops
#                 after configuring (OUT gets the .config only)
#   LOCALVERSION  appended to the release (default -agentns)
#   OUT           where the result goes (default: cache dir keyed by inputs)
#   JOBS          make -j (default: nproc + 1)
#   ARCH          kernel architecture, for a 32-bit build: i386 (default: the
#                 host's; the fragments say 64-bit)
#
# Prints "BUILD_OUT=<dir>" last; <dir> holds bzImage or the .deb files,
# the .config used and build.log. An unchanged input is not rebuilt.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${AGENTNS_CACHE_DIR:-$HOME/.cache/agentns}
KVER=${KVER:-7.3}
BASE_CONFIG=${BASE_CONFIG:-tinyconfig}
FRAGMENTS=${FRAGMENTS:-$top/kernel/configs/agentns_vmtest.config}
AGENT_NS=${AGENT_NS:-y}
PATCHES=${PATCHES:-1}
TARGET=${TARGET:-bzImage}
LOCALVERSION=${LOCALVERSION:--agentns}
JOBS=${JOBS:-$(($(nproc) + 1))}
BUILD_KERNEL=${BUILD_KERNEL:-1}

# Bump when a change to this script changes what it builds: the cache key
# holds this number rather than the script's bytes, so a comment or a
# progress message does not rebuild every cached kernel.
recipe_version=2

log() { printf '[build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Cache entries are built in place, so two runs building the same one must
# take turns: hold an exclusive flock on LOCKFILE while the entry is made.
# The second run then finds it done. Says when it waits, so a hang has a
# name. Sets lock_fd (closing it releases the lock; so does exit).
lock_fd=
lock() {
	local lockfile=$1
	mkdir -p "$(dirname "$lockfile")"
	exec {lock_fd}>"$lockfile"
	if ! flock -n "$lock_fd"; then
		log "waiting for another build holding $lockfile"
		flock "$lock_fd"
	fi
}

# Unpack the pristine source once per source version; echo its path.
pristine_tree() {
	if [[ -n ${KSRC:-} ]]; then
		[[ -f $KSRC/Makefile ]] || die "KSRC=$KSRC is not a kernel tree"
		echo "$KSRC"
		return
	fi
	local tarball=${KSRC_TARBALL:-}
	if [[ -z $tarball ]]; then
		local debdir=$cache/src deb fd
		lock "$debdir/.download.lock"
		fd=$lock_fd
		deb=$(find "$debdir" -maxdepth 1 -name "linux-source-${KVER}_*.deb" | sort -V | tail -n1)
		if [[ -z $deb ]]; then
			log "downloading linux-source-$KVER (Debian package)"
			(cd "$debdir" && apt-get download "linux-source-$KVER" >&2) ||
				die "apt-get download linux-source-$KVER failed: is trixie-backports in apt's sources? (scripts/bootstrap.sh adds it)"
			deb=$(find "$debdir" -maxdepth 1 -name "linux-source-${KVER}_*.deb" | sort -V | tail -n1)
		fi
		tarball=$debdir/$(basename "$deb" .deb).tar.xz
		if [[ ! -f $tarball ]]; then
			dpkg-deb --fsys-tarfile "$deb" |
				tar -xO "./usr/src/linux-source-$KVER.tar.xz" >"$tarball.tmp"
			mv "$tarball.tmp" "$tarball"
		fi
		exec {fd}>&-
	fi
	local dir ufd
	dir=$cache/src/$(basename "$tarball" .tar.xz)
	lock "$dir.lock"
	ufd=$lock_fd
	if [[ ! -f $dir/.unpacked ]]; then
		log "unpacking $(basename "$tarball")"
		rm -rf "$dir" && mkdir -p "$dir"
		tar -xf "$tarball" -C "$dir" --strip-components=1
		touch "$dir/.unpacked"
	fi
	exec {ufd}>&-
	echo "$dir"
}

series_files() {
	[[ $PATCHES == 1 ]] || return 0
	find "$top/patches" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' | sort
}

# Files the series touches, relative to the tree. The selftests under
# tools/ are not part of any kernel image: a test-only change must not
# rebuild (and re-release) the kernel.
series_paths() {
	local f
	for f in $(series_files); do sed -n 's|^+++ b/||p' "$f"; done |
		grep -v '^tools/testing/' | sort -u
}

# Hash of everything that changes the result: the patched files as they
# end up (so rewording a commit message or regenerating the series with
# the same code reuses the build), the config inputs and recipe_version.
# Contents, not paths: every clone of the repository (CI's included) must
# find the same entry. The one path kept is a KSRC tree of the user's own.
input_key() {
	local src=$1 tree=$2 f
	[[ -n ${KSRC:-} ]] || src=$(basename "$src")
	{
		echo "src=$src agent_ns=$AGENT_NS patches=$PATCHES target=$TARGET lv=$LOCALVERSION"
		[[ -z ${ARCH:-} ]] || echo "arch=$ARCH"
		for f in $(series_paths); do
			echo "$f $(sha256sum <"$tree/$f" | cut -c1-64)"
		done
		for f in $FRAGMENTS; do sha256sum <"$f"; done
		if [[ -f $BASE_CONFIG ]]; then
			sha256sum <"$BASE_CONFIG"
		else
			echo "base=$BASE_CONFIG"
		fi
		if [[ -n ${LSMOD:-} ]]; then
			echo "lsmod=$(awk '$1 != "Module" && NF { print $1 }' "$LSMOD" | sort -u | sha256sum | cut -c1-64)"
		fi
		echo "recipe=$recipe_version"
	} | sha256sum | cut -c1-16
}

apply_series() {
	local tree=$1 p
	for p in $(series_files); do
		patch -d "$tree" -p1 --forward --quiet <"$p" ||
			die "$(basename "$p") does not apply (scripts/rebase-check.sh tells which hunks)"
	done
}

configure() {
	local tree=$1 obj=$2
	if [[ $BASE_CONFIG == tinyconfig ]]; then
		make -s -C "$tree" O="$obj" tinyconfig >/dev/null
	else
		cp "$BASE_CONFIG" "$obj/.config"
	fi
	if [[ -n ${LSMOD:-} ]]; then
		[[ -f $LSMOD ]] || die "LSMOD $LSMOD: no such file"
		# Drops every module the listing does not name; oldconfig's questions
		# about symbols the base config lacks get their defaults.
		{ yes '' || true; } | make -s -C "$tree" O="$obj" LSMOD="$LSMOD" localmodconfig >/dev/null 2>&1 ||
			die "make localmodconfig with LSMOD=$LSMOD failed"
	fi
	local forced=$obj/agentns-forced.config
	echo "CONFIG_AGENT_NS=$AGENT_NS" >"$forced"
	[[ $TARGET == bindeb-pkg ]] && printf 'CONFIG_SYSTEM_TRUSTED_KEYS=""\nCONFIG_SYSTEM_REVOCATION_KEYS=""\nCONFIG_MODULE_SIG_KEY="certs/signing_key.pem"\n' >>"$forced"
	# shellcheck disable=SC2086
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" $FRAGMENTS "$forced" >/dev/null
	make -s -C "$tree" O="$obj" olddefconfig
	local want=$AGENT_NS got
	got=$(grep -E '^CONFIG_AGENT_NS=y' "$obj/.config" >/dev/null && echo y || echo n)
	[[ $PATCHES == 0 || $got == "$want" ]] || die "CONFIG_AGENT_NS=$want did not stick (got $got)"
}

# Long builds: a heartbeat line per minute with the last object built.
build_with_progress() {
	local tree=$1 obj=$2 logf=$3
	# make runs in a session of its own, so an interrupt of this script
	# (which a background job would not see) stops the whole build.
	setsid make -C "$tree" O="$obj" -j"$JOBS" LOCALVERSION="$LOCALVERSION" \
		KDEB_PKGVERSION="${KDEB_PKGVERSION:-1}" "$TARGET" >"$logf" 2>&1 &
	local pid=$! start=$SECONDS timer ended rc
	trap 'kill -TERM -- -'"$pid"' 2>/dev/null; log "interrupted"; exit 130' INT TERM
	# A progress line a minute; make's end ends the wait at once, not at
	# the next full minute.
	while :; do
		sleep 60 &
		timer=$! ended='' rc=0
		wait -n -p ended "$pid" "$timer" || rc=$?
		[[ $ended == "$pid" ]] && break
		log "building ($(((SECONDS - start) / 60)) min): $(tail -n1 "$logf" | cut -c1-100)"
	done
	kill "$timer" 2>/dev/null || true
	wait "$timer" 2>/dev/null || true
	((rc == 0)) || { tail -n 40 "$logf" >&2; die "kernel build failed, log: $logf"; }
	trap - INT TERM
	log "built in $((SECONDS - start)) s"
}

# A build that was killed outright (SIGKILL, a lost machine) never ran its
# cleanup: each live build holds an flock on its work directory's .lock, so
# a directory whose lock is free is left over and can go. BUILD_KERNEL=0
# trees are the caller's (.keep).
reap_stale_work() {
	local dir
	for dir in "$cache"/work/build.*; do
		[[ -d $dir && ! -e $dir/.keep ]] || continue
		if [[ -e $dir/.lock ]]; then
			flock -n "$dir/.lock" true || continue
		elif [[ -z $(find "$dir" -maxdepth 0 -mmin +10) ]]; then
			continue # just created, its lock not taken yet
		fi
		log "removing $dir, left by an interrupted build"
		rm -rf "$dir"
	done
}

main() {
	local src key obj
	src=$(pristine_tree)
	if [[ ${1:-} == --source ]]; then
		echo "$src"
		return
	fi
	mkdir -p "$cache/work"
	reap_stale_work
	work=$(mktemp -d "$cache/work/build.XXXXXX")
	lock "$work/.lock"
	trap 'rm -rf "$work"' EXIT
	cp -al "$src/." "$work/tree"
	apply_series "$work/tree"
	log "applied $(series_files | wc -l) patches to $(basename "$src")"
	if [[ $BUILD_KERNEL != 1 ]]; then
		trap - EXIT
		touch "$work/.keep"
		echo "BUILD_OUT=$work/tree"
		return
	fi
	key=$(input_key "$src" "$work/tree")
	OUT=${OUT:-$cache/kernels/$key}
	lock "$OUT.lock"
	if [[ -f $OUT/.done ]]; then
		log "reusing cached build $OUT"
		echo "BUILD_OUT=$OUT"
		return
	fi
	obj=$work/obj
	mkdir -p "$obj" "$OUT"
	configure "$work/tree" "$obj"
	if [[ $TARGET == config ]]; then
		cp "$obj/.config" "$OUT/config"
		touch "$OUT/.done"
		echo "BUILD_OUT=$OUT"
		return
	fi
	build_with_progress "$work/tree" "$obj" "$OUT/build.log"
	cp "$obj/.config" "$OUT/config"
	if [[ $TARGET == bzImage ]]; then
		cp "$obj/arch/x86/boot/bzImage" "$OUT/bzImage"
	else
		mv "$work"/*.deb "$OUT/" 2>/dev/null || mv "$obj"/../*.deb "$OUT/"
	fi
	make -s -C "$work/tree" O="$obj" kernelrelease >"$OUT/kernelrelease"
	touch "$OUT/.done"
	echo "BUILD_OUT=$OUT"
}

main "$@"
