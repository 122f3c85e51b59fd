#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection without Docker, once for each
# ansible-core version the collection claims (meta/runtime.yml) that this
# machine can install: the .venv's own (the newest) and the older ones below,
# each from a virtual environment cached under ~/.cache/agentns/venvs/ and
# created from the package index on first use.
#
# ansible-test only works inside .../ansible_collections/NAMESPACE/NAME/, so
# the collection's files (what git tracks or would track: .gitignore'd build
# products and the venv stay out) are copied into a throw-away tree of that
# shape. Each sanity test runs in a virtual environment that ansible-test
# creates and fills from PyPI on first use, with Python 3.11.
#
# Usage: scripts/ansible-test-sanity.sh [ansible-test sanity options] [paths]
#   e.g. scripts/ansible-test-sanity.sh --test validate-modules plugins/
# Set KEEP_TREE=1 to keep the copied tree for inspection, and
# AGENTNS_SANITY_CORES to choose the versions ("venv" is the .venv's), e.g.
#   AGENTNS_SANITY_CORES=venv scripts/ansible-test-sanity.sh
# Each version needs a tests/sanity/ignore-X.Y.txt.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# The older claimed versions, pinned to their last release; the newest is the
# one requirements-dev.txt pins into .venv.
older_cores=(2.17.14 2.18.19)
read -r -a cores <<<"${AGENTNS_SANITY_CORES:-venv ${older_cores[*]}}"
venv_cache=${AGENTNS_VENV_CACHE:-$HOME/.cache/agentns/venvs}
if [[ ! -x $top/.venv/bin/ansible-test ]]; then
	echo "ansible-test-sanity: $top/.venv/bin/ansible-test is missing; run scripts/bootstrap.sh" >&2
	exit 2
fi

# Print the ansible-test of one version, creating its venv when missing.
ansible_test_for() {
	local core=$1 dir python_version
	if [[ $core == venv ]]; then
		echo "$top/.venv/bin/ansible-test"
		return
	fi
	python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	dir=$venv_cache/ansible-core-$core-py$python_version
	if [[ ! -x $dir/bin/ansible-test ]]; then
		echo "ansible-test-sanity: creating $dir" >&2
		mkdir -p "$venv_cache"
		if ! { python3 -m venv "$dir" && "$dir/bin/pip" install -q "ansible-core==$core"; } >&2; then
			rm -rf "$dir"
			return 1
		fi
	fi
	echo "$dir/bin/ansible-test"
}

# Each sanity test gets a virtual environment that ansible-test seeds with pip
# through get-pip.py from ci-files.testing.ansible.com, which is out of reach
# here. ansible-test uses a cached copy when there is one, so leave an offline
# stand-in there: it installs Python's bundled pip (ensurepip), then the pip
# version ansible-test asked for from the package index.
seed_pip_bootstrap() {
	local python=$1 requirements version cache
	requirements=$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py
	version=$(sed -n "s/^ *pip='\([0-9.]*\)',\{0,1\}$/\1/p" "$requirements" | head -n1)
	[[ -n $version ]] || return 0
	cache=$HOME/.ansible/test/cache/get_pip_${version//./_}.py
	[[ -s $cache ]] && return 0
	mkdir -p "$(dirname "$cache")"
	cat >"$cache" <<-'PY'
		# Offline stand-in for get-pip.py, written by agentns' scripts/ansible-test-sanity.sh
		# because ci-files.testing.ansible.com cannot be reached. Delete it to use the real one.
		import subprocess
		import sys

		args = sys.argv[1:]
		skipped = ('--no-setuptools', '--no-wheel')
		subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade', '--default-pip'])
		subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + [a for a in args if a not in skipped])
		if '--no-setuptools' in args:
		    subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet', 'setuptools'])
	PY
	echo "ansible-test-sanity: wrote offline pip bootstrap $cache"
}

namespace=$(sed -n 's/^namespace: *//p' "$top/galaxy.yml")
name=$(sed -n 's/^name: *//p' "$top/galaxy.yml")
work=$(mktemp -d "${TMPDIR:-/tmp}/agentns-sanity.XXXXXX")
if [[ ${KEEP_TREE:-0} == 1 ]]; then
	echo "ansible-test-sanity: tree kept in $work"
else
	trap 'rm -rf "$work"' EXIT
fi
tree=$work/ansible_collections/$namespace/$name
mkdir -p "$tree"

# Copy rather than symlink: ansible-test resolves symlinks and would then see
# files outside the ansible_collections tree.
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	# .ansible/ is ansible-lint's cache, not part of the collection.
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		grep -zv '^\.ansible/' |
		rsync -a --from0 --files-from=- "$top/" "$tree/"
else
	rsync -a --exclude=.venv --exclude=.git --exclude=build --exclude='*.tar.gz' \
		--exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache "$top/" "$tree/"
fi

# Default to the controller's Python unless the caller picked versions.
python_args=(--python 3.11)
for arg in "$@"; do
	case $arg in --python | --python=*) python_args=() ;; esac
done

cd "$tree"
rc=0
summary=()
for core in "${cores[@]}"; do
	if ! ansible_test=$(ansible_test_for "$core"); then
		summary+=("FAILED ansible-core $core: could not install it")
		rc=1
		continue
	fi
	version=$("$(dirname "$ansible_test")/python" -c 'from ansible.release import __version__; print(__version__)')
	seed_pip_bootstrap "$(dirname "$ansible_test")/python"
	echo "ansible-test-sanity: ansible-core $version"
	if "$ansible_test" sanity --local "${python_args[@]}" --color no "$@"; then
		summary+=("ok     ansible-core $version")
	else
		summary+=("FAILED ansible-core $version")
		rc=1
	fi
done
printf 'ansible-test-sanity: %s\n' "${summary[@]}"
exit "$rc"
