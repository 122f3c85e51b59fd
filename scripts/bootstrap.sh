#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian 12 machine:
# the apt packages for building and booting kernels and VMs, and the
# pinned Python tools in ./.venv. Safe to re-run; it only adds what is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

apt_packages=(
	bc bison flex cpio kmod rsync zstd xz-utils dwarves libelf-dev libssl-dev
	build-essential fakeroot dpkg-dev git
	# bindeb-pkg's build dependencies: tests/vm/vmtest.sh builds the fleet
	# kernel's packages itself, maybe before any role has installed them.
	debhelper libdw-dev
	busybox-static qemu-system-x86 qemu-utils debootstrap
	openssh-client python3-venv socat e2fsprogs fdisk shellcheck
	# agentns_build's signed apt repository (tests/unit/playbooks/test_build_repo.py)
	reprepro gnupg
)

# Debian's linux-source-7.3 lives in trixie-backports; pin it low so only
# packages asked for by name come from there.
if ! grep -rqs trixie-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "bootstrap: adding trixie-backports (for linux-source-7.3)"
	cat >/etc/apt/sources.list.d/agentns-trixie-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	printf 'Package: *\nPin: release n=trixie-backports\nPin-Priority: 100\n' \
		>/etc/apt/preferences.d/agentns-trixie-backports
	need_update=1
fi
missing=()
for p in "${apt_packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "bootstrap: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	need_update=1
fi
if [[ -n ${need_update:-} ]]; then
	apt-get update -qq
fi
if ((${#missing[@]})); then
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The development tools (requirements-dev.txt, which pulls in the collection's
# runtime requirements.txt); the stamp covers both files.
venv=$top/.venv
stamp=$venv/.requirements.sha256
want=$(cat "$top/requirements.txt" "$top/requirements-dev.txt" | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	echo "bootstrap: creating Python venv in $venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --upgrade pip
	"$venv/bin/pip" install -q -r "$top/requirements-dev.txt"
	echo "$want" >"$stamp"
fi

# agentns.fleet resolves to this checkout (ansible.cfg's collections_path and
# the Molecule scenarios' ANSIBLE_COLLECTIONS_PATH), never to an installed copy.
link=$top/.ansible/collections/ansible_collections/agentns/fleet
if [[ $(readlink "$link" 2>/dev/null) != "$top" ]]; then
	mkdir -p "$(dirname "$link")"
	rm -rf "$link"
	ln -s "$top" "$link"
fi
