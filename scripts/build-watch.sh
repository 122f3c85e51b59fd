#!/usr/bin/env bash
# Run the kernel build of the agentns_build role's background job, and stop
# it when no one waits for it any more.
#
#   scripts/build-watch.sh HEARTBEAT ABANDON TIMEOUT COMMAND [ARG...]
#
# COMMAND (bash scripts/build.sh) runs in a session of its own. It is
# stopped when HEARTBEAT was not touched for ABANDON seconds (every round of
# the role's polling touches it; a play that was interrupted, died or lost
# the build host does not), when it has run for TIMEOUT seconds, or when
# this script gets TERM, INT or HUP: its process group gets TERM
# (scripts/build.sh then stops make and removes its work directory, which
# frees the cache lock a re-run waits on), KILL if COMMAND still runs GRACE
# seconds later (default 60), and the reason goes to stderr.
#
# Exits with COMMAND's status (a stopped build's is not 0); removes
# HEARTBEAT when COMMAND is over.
set -u

heartbeat=$1 abandon=$2 timeout=$3
shift 3
grace=${GRACE:-60}
# Look about ten times per ABANDON (or TIMEOUT), at most every 30 s.
every=$(((abandon < timeout ? abandon : timeout) / 10))
((every >= 1)) || every=1
((every <= 30)) || every=30

log() { printf '[build %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# TERM the command's process group, saying why; KILL it if the command
# still runs $grace s later.
stop() {
	local i
	log "$1"
	kill -TERM -- "-$pid" 2>/dev/null
	for ((i = 0; i < grace; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 1
	done
	log "still running $grace s after TERM: killed"
	kill -KILL -- "-$pid" 2>/dev/null
}

# Beside the command: stop it when its heartbeat or its time runs out. A
# missing heartbeat counts as touched when the build started.
watch() {
	local start now touched nap=
	trap 'kill "$nap" 2>/dev/null; exit' TERM
	printf -v start '%(%s)T' -1
	while :; do
		sleep "$every" &
		nap=$!
		wait "$nap"
		printf -v now '%(%s)T' -1
		touched=$(stat -c %Y "$heartbeat" 2>/dev/null) || touched=$start
		if ((now - touched >= abandon)); then
			stop "abandoned: no one polled this build for $((now - touched)) s; stopped"
			return
		elif ((now - start >= timeout)); then
			stop "timed out: ran for $((now - start)) s (limit $timeout s); stopped"
			return
		fi
	done
}

touch "$heartbeat"
# Not a process group leader (no job control here): setsid does not fork,
# so $pid is the new session's and process group's id.
setsid "$@" &
pid=$!
watch </dev/null >/dev/null &
watcher=$!
trap 'kill "$watcher" 2>/dev/null; rm -f "$heartbeat"' EXIT
trap 'stop "interrupted; stopped"; exit 143' TERM INT HUP
wait "$pid"
