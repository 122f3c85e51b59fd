/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Agent namespaces: userspace ABI.
 *
 * An agent namespace tags every task in it with a 128-bit session id, an
 * optional intent tag and a set of per-namespace counters, so that the
 * actions of one agent session can be accounted for and bounded.
 *
 * These numbers are ABI: programs built elsewhere already use them.
 */
#ifndef _UAPI_LINUX_AGENT_NAMESPACES_H
#define _UAPI_LINUX_AGENT_NAMESPACES_H

#include <linux/types.h>

#define AGENT_NS_SESSION_ID_LEN		16
#define AGENT_NS_INTENT_TAG_LEN		64

/* prctl(2) options; "ATNS" keeps them clear of the generic PR_* range. */
#define PR_AGENT_BASE			0x41544E53
#define PR_GET_AGENT_SESSION_ID		(PR_AGENT_BASE + 1)
#define PR_SET_AGENT_INTENT_TAG		(PR_AGENT_BASE + 2)
#define PR_GET_AGENT_INTENT_TAG		(PR_AGENT_BASE + 3)
#define PR_SET_AGENT_BUDGET_LIMITS	(PR_AGENT_BASE + 4)
#define PR_GET_AGENT_COUNTERS		(PR_AGENT_BASE + 5)
#define PR_GET_AGENT_PARENT_ID		(PR_AGENT_BASE + 6)
#define PR_SET_AGENT_NS			(PR_AGENT_BASE + 7)

/* struct agent_ns_budget.action */
#define AGENT_NS_BUDGET_LOG		0
#define AGENT_NS_BUDGET_SIGTERM		1
#define AGENT_NS_BUDGET_SIGKILL		2

/* A limit of 0 means "no limit". */
struct agent_ns_budget {
	__u64 max_syscalls;
	__u64 max_write_bytes;
	__u64 max_elapsed_ns;
	__u32 action;
	__u32 reserved;		/* must be 0 */
};

struct agent_ns_counters {
	__u64 total_syscalls;
	__u64 openat_count;
	__u64 write_bytes;
	__u64 connect_count;
	__u64 unlink_count;
	__u64 fork_count;
	__u64 elapsed_ns;
};

#endif /* _UAPI_LINUX_AGENT_NAMESPACES_H */
