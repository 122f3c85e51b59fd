#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The KUnit suite "agent_ns" (CONFIG_AGENT_NS_KUNIT_TEST, built in) runs
# at boot: its results must be in the kernel log with no failure and no
# skip. Skips when the kernel log holds no agent_ns KUnit results (built
# without the tests, or the log has rotated since boot).

. "$(dirname "$0")/lib.sh"

require_agentns
log=$(dmesg 2>/dev/null) || skip "cannot read the kernel log (dmesg)"
summary=$(echo "$log" | grep -o '# agent_ns: pass:[0-9]* fail:[0-9]* skip:[0-9]*' | tail -n 1)
[ -n "$summary" ] ||
	skip "no KUnit results for agent_ns in the kernel log" \
		"(CONFIG_AGENT_NS_KUNIT_TEST not built in?)"
note "$summary"
echo "$log" | grep -E '(not )?ok [0-9]+ agent_ns' | sed 's/^/# /'
pass=$(echo "$summary" | sed -n 's/.*pass:\([0-9]*\).*/\1/p')
nfail=$(echo "$summary" | sed -n 's/.*fail:\([0-9]*\).*/\1/p')
nskip=$(echo "$summary" | sed -n 's/.*skip:\([0-9]*\).*/\1/p')
check "KUnit agent_ns: no test passed" [ "$pass" -gt 0 ]
check "KUnit agent_ns: $nfail failed" [ "$nfail" -eq 0 ]
check "KUnit agent_ns: $nskip skipped" [ "$nskip" -eq 0 ]
# shellcheck disable=SC2016 # expanded by eval, on purpose
check "KUnit agent_ns: suite not reported ok" \
	eval 'echo "$log" | grep -Eq "(^|[] ])ok [0-9]+ agent_ns\$"'
pass
