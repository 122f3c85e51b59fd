# shellcheck shell=bash
# Reading a kernel's serial console, for tests/vm/vmtest.sh and
# tests/vm/kunit32.sh (sourced; the caller defines log).

# What in a console log is a kernel splat.
# shellcheck disable=SC2034 # used by the scripts that source this file
kernel_splat='BUG:|WARNING:|KASAN:|Oops|general protection|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|refcount_t:|unreferenced object|UBSAN:|Kernel panic|sleeping function called from invalid context'

# KUnit's tally for the agent_ns suite, when the kernel has it.
check_kunit() {
	local console=$1 config=$2 tally
	tally=$(grep -o '# agent_ns: pass:[0-9]* fail:[0-9]* skip:[0-9]* total:[0-9]*' "$console" | tail -n1 || true)
	if [[ -z $tally ]]; then
		if [[ -n $config ]] && grep -qx 'CONFIG_AGENT_NS_KUNIT_TEST=y' "$config"; then
			log "FAIL: the kernel has the agent_ns KUnit suite but it reported nothing"
			return 1
		fi
		return 0
	fi
	echo "KUnit ${tally#\# }"
	[[ $tally == *" fail:0 skip:0 "* ]] || { log "FAIL: KUnit agent_ns: $tally"; return 1; }
}
