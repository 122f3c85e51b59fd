#!/usr/bin/env bash
# Print the 7-hex release suffix of a kernel build: a hash of what makes it
# distinct (kernel version and source, base config, local version, the
# series' code and the config fragments). The agentns_build role names its
# kernel LOCALVERSION-SUFFIX (7.3.4-agentns-1a2b3c4) with it, and
# tests/vm/vmtest.sh uses it to build and boot that very kernel, so the VM
# test loop and the fleet share one cached build.
#
# Only the patches' diffs count (not commit messages, index lines or the
# signature): regenerating the series with the same code keeps the suffix.
#
# Environment (as for scripts/build.sh):
#   TREE          checkout holding patches/ (default: this one)
#   KVER          Debian linux-source version (default 7.3)
#   SOURCE        package (default), tarball or tree
#   KSRC_TARBALL  the tarball, with SOURCE=tarball
#   KSRC          the pristine tree, with SOURCE=tree
#   BASE_CONFIG   tinyconfig (default) or a config file
#   LOCALVERSION  default -agentns
#   FRAGMENTS     config fragments, space-separated paths
#   LSMOD         the modules a localmodconfig build keeps (lsmod or /proc/modules format)
set -euo pipefail

tree=${TREE:-$(cd "$(dirname "$0")/.." && pwd)}
kver=${KVER:-7.3}
source=${SOURCE:-package}
base=${BASE_CONFIG:-tinyconfig}
lv=${LOCALVERSION:--agentns}
# The module names of an lsmod listing (or /proc/modules), sorted, once each.
modules_of() { awk '$1 != "Module" && NF { print $1 }' "$1" | sort -u; }

# A base config file counts by its content only: the same config read from
# another host of the fleet (another path in the build cache) is the same kernel.
base_name="file"
[[ $base == tinyconfig ]] && base_name=tinyconfig

{
	printf '%s %s %s %s\n' "agentns-build kver=$kver" "source=$source" "base=$base_name" "localversion=$lv"
	for p in "$tree"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
		# Selftests (tools/testing/) are not in the kernel: skip their hunks.
		sed -n '/^diff --git /,$p' "$p" | sed '/^-- $/,$d' | grep -v '^index ' |
			awk '/^diff --git /{skip = ($3 ~ /^a\/tools\/testing\//)} !skip' || true
	done
	for f in ${FRAGMENTS:-}; do
		cat "$f"
	done
	if [[ $base != tinyconfig ]]; then
		cat "$base"
	fi
	if [[ -n ${LSMOD:-} ]]; then
		echo "localmodconfig:"
		modules_of "$LSMOD"
	fi
	case $source in
	tarball) stat -L -c '%n %s %Y' "$KSRC_TARBALL" ;;
	tree) printf '%s\n' "$KSRC" ;;
	esac
} | sha256sum | cut -c1-7
