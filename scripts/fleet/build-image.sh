#!/usr/bin/env bash
# Build, or reuse from the cache, a Debian base image of the test fleet:
# Debian 12 (bookworm), or the release AGENTNS_IMAGE_SUITE names (trixie).
#
# Usage: [AGENTNS_IMAGE_SUITE=trixie] scripts/fleet/build-image.sh [--force]
#
# The image lands in $AGENTNS_CACHE_DIR/images/<recipe hash>/ (default cache
# dir ~/.cache/agentns) and holds:
#   base.qcow2            BIOS/GRUB-bootable Debian 12 disk (stock kernel)
#   id_ed25519[.pub]      SSH key of the `agentns` user (passwordless sudo)
#   manifest.json         recipe hash, kernel version, build time
#   firstboot-console.log serial log of the boot that installed GRUB
# The recipe hash covers this script and every input below, so editing either
# gives a new image and an unchanged recipe reuses the cached one.
# Progress goes to stderr; the image directory is the last line on stdout.
#
# This machine cannot partition loop devices, so nothing is mounted: the root
# tree is built with debootstrap, written into the partition with
# `mkfs.ext4 -d` at a 1 MiB offset, and GRUB is installed from inside the
# guest on a first boot through QEMU's direct kernel boot.
#
# Interrupting it (INT, TERM, HUP) stops every step it started (each runs in
# a process group of its own, so QEMU under `timeout` is reached too) and
# removes its work directory ($AGENTNS_CACHE_DIR/images/.build-*). Work
# directories of builds that died without cleaning up are removed by the next
# build. Only one build runs at a time: a second one waits for the lock, says
# who holds it, and gives up after AGENTNS_IMAGE_LOCK_TIMEOUT seconds
# (default 3600).
set -euo pipefail

suite=${AGENTNS_IMAGE_SUITE:-bookworm}
mirror=${AGENTNS_IMAGE_MIRROR:-http://deb.debian.org/debian}
security_mirror=${AGENTNS_IMAGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
disk_mb=${AGENTNS_IMAGE_DISK_MB:-4096}
firstboot_timeout=${AGENTNS_IMAGE_BOOT_TIMEOUT:-900}
lock_timeout=${AGENTNS_IMAGE_LOCK_TIMEOUT:-3600}
cache_root=${AGENTNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agentns}

# minbase plus what Ansible, testinfra and the kernel roles need on a host.
packages=(
	systemd systemd-sysv udev dbus kmod
	linux-image-amd64 initramfs-tools zstd
	openssh-server sudo python3 python3-apt
	iproute2 procps netbase
)

force=0
for arg in "$@"; do
	case $arg in
	--force) force=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-image: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

log() { echo "build-image: $*" >&2; }

# The step running now: `run` starts each long step as the leader of a new
# session, so cleanup can stop the whole step (timeout, QEMU, debootstrap and
# its chroot children) however deep it forks. The step never inherits fd 9,
# the image lock: an orphaned step must not block the next build.
child=
run() {
	local rc=0
	setsid "$@" <&0 9>&- &
	child=$!
	wait "$child" || rc=$?
	child=
	return "$rc"
}

stop_child() {
	[[ -n $child ]] || return 0
	kill -TERM -- "-$child" 2>/dev/null || true
	# Give the step 10 s to exit, then kill whatever is left of its group.
	(
		sleep 10
		kill -KILL -- "-$child" 2>/dev/null
	) 9>&- &
	local killer=$!
	wait "$child" 2>/dev/null || true
	kill "$killer" 2>/dev/null || true
	kill -KILL -- "-$child" 2>/dev/null || true
	child=
}

# Remove a work directory: unmount whatever a step left mounted in it
# (deepest first), and never let rm cross into a mount.
remove_work() {
	local dir=$1 mnt
	while read -r mnt; do
		umount -l "$mnt" || true
	done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r || true)
	rm -rf --one-file-system "$dir"
}

# Who has the lock file open (pid and command line), for a build that waits.
lock_holders() {
	local fd pid
	for fd in /proc/[0-9]*/fd/*; do
		[[ $(readlink "$fd" 2>/dev/null) == "$1" ]] || continue
		pid=${fd#/proc/}
		pid=${pid%%/*}
		[[ $pid == "$$" ]] && continue
		printf 'pid %s: %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
	done | sort -u
}

take_lock() {
	local lock=$1 waited=0 step
	exec 9>>"$lock"
	flock -n 9 && return 0
	while :; do
		if ((waited % 60 == 0)); then
			log "waiting for the image lock $lock (${waited}s of ${lock_timeout}s); open by:"
			{ lock_holders "$lock" || true; } 9>&- | sed 's/^/build-image:   /' >&2 9>&-
		fi
		if ((waited >= lock_timeout)); then
			log "gave up after ${waited}s (AGENTNS_IMAGE_LOCK_TIMEOUT); if no build is running, a process above holds it by mistake"
			exit 1
		fi
		# Short steps: a signal is handled only once flock returns.
		step=$((lock_timeout - waited < 5 ? lock_timeout - waited : 5))
		flock -w "$step" 9 && return 0
		waited=$((waited + step))
	done
}

self=$(readlink -f "${BASH_SOURCE[0]}")
recipe_hash=$(
	{
		cat "$self"
		printf '%s\n' "$suite" "$mirror" "$security_mirror" "$disk_mb"
	} | sha256sum | cut -c1-16
)
images=$cache_root/images
out=$images/$recipe_hash
mkdir -p "$images"

work=
cleanup() {
	# A second Ctrl-C (or a TERM from whoever ran us) must not cut this short.
	trap '' INT TERM HUP
	stop_child
	if [[ -n $work ]]; then
		remove_work "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A finished image (its manifest is written last) needs no lock: a run that
# wants the cached Debian 12 image must not wait while another builds 13.
reuse_cached() {
	if [[ $force == 0 && -f $out/base.qcow2 && -f $out/manifest.json ]]; then
		log "reusing cached image $out (recipe $recipe_hash)"
		echo "$out"
		exit 0
	fi
}
reuse_cached

# Two runs asking for the image at once must not build it twice.
take_lock "$images/.lock"
reuse_cached

for tool in debootstrap sfdisk mkfs.ext4 qemu-system-x86_64 qemu-img ssh-keygen; do
	command -v "$tool" >/dev/null || {
		log "missing $tool (run scripts/bootstrap.sh)"
		exit 1
	}
done
if [[ $(id -u) != 0 ]]; then
	log "debootstrap needs root"
	exit 1
fi

# Every build holds the lock, so a work directory seen now is from a build
# that was killed before it could clean up.
for stale in "$images"/.build-*; do
	[[ -d $stale ]] || continue
	log "removing $stale, left by an interrupted build"
	remove_work "$stale"
done

start=$(date +%s)
work=$(mktemp -d "$images/.build-$recipe_hash.XXXXXX")
root=$work/root

in_root() { run env LC_ALL=C DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }

log "debootstrap $suite from $mirror into $root"
run debootstrap --variant=minbase --components=main \
	--include="$(
		IFS=,
		echo "${packages[*]}"
	)" \
	"$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -n 30 "$work/debootstrap.log" >&2
	log "debootstrap failed"
	exit 1
}

cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF

# Docs, man pages and translations are dead weight on a test host, now and for
# every package installed later.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-agentns-nodoc" <<'EOF'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
EOF
cat >"$root/etc/apt/apt.conf.d/01-agentns" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF

# grub-pc is installed separately so debconf can be told first that no boot
# disk exists yet; grub-install runs on the first boot instead.
mount -t proc proc "$root/proc"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
in_root debconf-set-selections <<'EOF'
grub-pc grub-pc/install_devices multiselect
grub-pc grub-pc/install_devices_empty boolean true
EOF
log "installing grub-pc"
in_root apt-get -q update >>"$work/debootstrap.log" 2>&1
in_root apt-get -q -y install grub-pc >>"$work/debootstrap.log" 2>&1 || {
	tail -n 30 "$work/debootstrap.log" >&2
	log "grub-pc install failed"
	exit 1
}
in_root apt-get -q clean

# Drivers for hardware a QEMU guest never has take half of the module tree.
kver=$(basename "$(find "$root/boot" -name 'vmlinuz-*' | sort | tail -n 1)")
kver=${kver#vmlinuz-}
log "trimming kernel modules of $kver"
mods=$root/usr/lib/modules/$kver/kernel
rm -rf "$mods"/drivers/{gpu,media,infiniband,iio,staging,comedi,bluetooth,isdn} \
	"$mods"/drivers/net/{wireless,ethernet,can} "$mods"/sound \
	"$mods"/net/{bluetooth,mac80211,wireless}
in_root depmod -a "$kver"
# A small initramfs boots faster (GRUB reads it through BIOS calls, slowly
# under TCG). The chroot cannot see the VM's hardware, so name the modules for
# this one; kernels installed later are built on the VM, where `dep` sees it.
initramfs_conf=$root/etc/initramfs-tools/conf.d/agentns-modules
cp "$root/etc/initramfs-tools/modules" "$work/initramfs-modules"
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic >>"$root/etc/initramfs-tools/modules"
echo MODULES=list >"$initramfs_conf"
in_root update-initramfs -u -k "$kver" >>"$work/debootstrap.log" 2>&1
cp "$work/initramfs-modules" "$root/etc/initramfs-tools/modules"
echo MODULES=dep >"$initramfs_conf"
rm -f "$root/usr/sbin/policy-rc.d"
umount "$root/proc"

log "configuring the guest"
echo agentns-base >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	agentns-base
::1		localhost ip6-localhost ip6-loopback
EOF
# QEMU user-mode networking always answers DNS on 10.0.2.3.
echo "nameserver 10.0.2.3" >"$root/etc/resolv.conf"

root_uuid=$(cat /proc/sys/kernel/random/uuid)
echo "UUID=$root_uuid / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"

mkdir -p "$root/etc/default/grub.d"
cat >"$root/etc/default/grub.d/agentns.cfg" <<'EOF'
# Serial console for GRUB and the kernel: the VM has no display, and the
# console log is what tells why a host did not come back.
GRUB_TIMEOUT=1
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200 panic=10"
GRUB_DISABLE_OS_PROBER=true
EOF

cat >"$root/etc/systemd/network/80-agentns-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
in_root systemctl enable systemd-networkd.service 2>/dev/null
# Units that only slow a TCG boot down or could wait on a prompt.
in_root systemctl mask systemd-networkd-wait-online.service systemd-firstboot.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
	fstrim.timer 2>/dev/null

cat >"$root/etc/ssh/sshd_config.d/agentns.conf" <<'EOF'
UseDNS no
PasswordAuthentication no
EOF

# No address space randomisation in user space: under TCG every process
# that maps libc and ld.so at new addresses gets its own translation of
# their code. Measured in a fleet VM: 300 runs of /bin/true added 683,000
# translation blocks and took 46 s with it, 35,600 and 24 s without. Those
# piles of blocks on one page of memory are also what froze guests in GRUB
# after a reboot: copying the initrd over such a page crawled at about 40
# bytes a second, every write invalidating blocks one by one
# (guest-state-*.txt, 2026-12-05). The agent namespace tests do not depend
# on it; a real host keeps the kernel's default.
cat >"$root/etc/sysctl.d/10-agentns-tcg-no-aslr.conf" <<'EOF'
kernel.randomize_va_space = 0
EOF

log "creating user agentns and its SSH key"
in_root useradd --create-home --shell /bin/bash agentns
echo 'agentns ALL=(ALL:ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/agentns"
chmod 0440 "$root/etc/sudoers.d/agentns"
ssh-keygen -q -t ed25519 -N '' -C "agentns-fleet-$recipe_hash" -f "$work/id_ed25519"
install -d -m 0700 "$root/home/agentns/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$root/home/agentns/.ssh/authorized_keys"
in_root chown -R agentns:agentns /home/agentns/.ssh

# One-shot unit for the first boot: put GRUB on the disk, then power off.
# The machine id is emptied last so each VM made from the image gets its own.
cat >"$root/usr/local/sbin/agentns-firstboot" <<'EOF'
#!/bin/sh
set -e
grub-install --target=i386-pc /dev/vda
update-grub
systemctl disable agentns-firstboot.service
rm -f /var/lib/dbus/machine-id
: >/etc/machine-id
sync
echo "agentns-firstboot: ok"
EOF
chmod 0755 "$root/usr/local/sbin/agentns-firstboot"
cat >"$root/etc/systemd/system/agentns-firstboot.service" <<'EOF'
[Unit]
Description=Install GRUB on the first boot of the agentns base image
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/agentns-firstboot
ExecStopPost=/bin/systemctl --no-block poweroff
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable agentns-firstboot.service 2>/dev/null

log "trimming docs and caches"
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
	"$root"/usr/share/lintian "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
	"$root"/var/cache/debconf/*-old "$root"/var/log/*.log "$root"/var/log/apt/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

cp "$root/boot/vmlinuz-$kver" "$root/boot/initrd.img-$kver" "$work/"

log "writing the ${disk_mb} MiB disk (partition 1 from sector 2048)"
raw=$work/disk.raw
truncate -s "${disk_mb}M" "$raw"
echo 'start=2048, type=83, bootable' | sfdisk -q --label dos "$raw"
run mkfs.ext4 -q -F -L agentns-root -U "$root_uuid" -d "$root" \
	-E offset=1048576 "$raw" "$(((disk_mb - 1) * 1024))k"

log "first boot: grub-install inside the guest (TCG, up to ${firstboot_timeout}s)"
rc=0
run timeout "$firstboot_timeout" qemu-system-x86_64 \
	-machine pc -accel tcg -smp 1 -m 1024 \
	-nodefaults -display none -no-reboot \
	-kernel "$work/vmlinuz-$kver" -initrd "$work/initrd.img-$kver" \
	-append "root=/dev/vda1 rw console=ttyS0,115200" \
	-drive "file=$raw,format=raw,if=virtio,cache=unsafe" \
	-device virtio-rng-pci -nic none \
	-serial "file:$work/firstboot-console.log" || rc=$?
if [[ $rc != 0 ]] || ! grep -q 'agentns-firstboot: ok' "$work/firstboot-console.log"; then
	tail -n 40 "$work/firstboot-console.log" >&2 || true
	log "first boot failed (qemu rc=$rc); console log above"
	exit 1
fi

log "converting to qcow2"
# Compressed: a third of the size, and no slower to boot under TCG.
run qemu-img convert -c -f raw -O qcow2 "$raw" "$work/base.qcow2"

rm -rf "$out"
mkdir -p "$out"
mv "$work/base.qcow2" "$work/firstboot-console.log" "$work/id_ed25519" "$work/id_ed25519.pub" "$out/"
cat >"$out/manifest.json" <<EOF
{
  "recipe": "$recipe_hash",
  "suite": "$suite",
  "kernel": "$kver",
  "disk_mb": $disk_mb,
  "root_uuid": "$root_uuid",
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "build_seconds": $(($(date +%s) - start))
}
EOF
log "built $out in $(($(date +%s) - start))s ($(du -h "$out/base.qcow2" | cut -f1) on disk)"
echo "$out"
