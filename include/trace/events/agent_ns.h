/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM agent_ns

#if !defined(_TRACE_AGENT_NS_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_AGENT_NS_H

#include <linux/agent_namespaces.h>
#include <linux/tracepoint.h>

#ifndef _TRACE_AGENT_NS_HELPERS
#define _TRACE_AGENT_NS_HELPERS
/* The namespace id (NS_GET_ID's) of @ns's parent, 0 for none. */
static inline u64 agent_ns_trace_parent_id(const struct agent_namespace *ns)
{
	return ns->parent ? ns->parent->ns.ns_id : 0;
}

/* Every event starts with the session id, the namespace id and its parent's. */
#define agent_ns_tp_assign_ids(ns)					\
	do {								\
		memcpy(__entry->sid, (ns)->session_id,			\
		       AGENT_NS_SESSION_ID_LEN);			\
		__entry->id = (ns)->ns.ns_id;				\
		__entry->parent_id = agent_ns_trace_parent_id(ns);	\
	} while (0)
#endif

/* @task is the task that moved into the new namespace. */
TRACE_EVENT(agent_session_start,

	TP_PROTO(const struct agent_namespace *ns,
		 const struct task_struct *task),

	TP_ARGS(ns, task),

	TP_STRUCT__entry(
		__array(u8, sid, AGENT_NS_SESSION_ID_LEN)
		__field(u64, id)
		__field(u64, parent_id)
		__array(u8, parent, AGENT_NS_SESSION_ID_LEN)
		__field(pid_t, pid)
	),

	TP_fast_assign(
		agent_ns_tp_assign_ids(ns);
		memcpy(__entry->parent, ns->parent_id, AGENT_NS_SESSION_ID_LEN);
		__entry->pid = task->pid;
	),

	TP_printk("sid=%16phN parent=%16phN pid=%d id=%llu parent_id=%llu",
		  __entry->sid, __entry->parent, __entry->pid, __entry->id,
		  __entry->parent_id)
);

/*
 * A namespace's totals: when it ends (verdict and sig 0), and each time
 * the reaper finds it over its limits (with the signal it sends, 0 for a
 * log-only budget).
 */
DECLARE_EVENT_CLASS(agent_ns_totals,

	TP_PROTO(const struct agent_namespace *ns,
		 const struct agent_ns_counters *c, int verdict, int sig),

	TP_ARGS(ns, c, verdict, sig),

	TP_STRUCT__entry(
		__array(u8, sid, AGENT_NS_SESSION_ID_LEN)
		__field(u64, id)
		__field(u64, parent_id)
		__field(int, verdict)
		__field(int, sig)
		__field(u64, total_syscalls)
		__field(u64, openat_count)
		__field(u64, write_bytes)
		__field(u64, connect_count)
		__field(u64, unlink_count)
		__field(u64, fork_count)
		__field(u64, elapsed_ns)
	),

	TP_fast_assign(
		agent_ns_tp_assign_ids(ns);
		__entry->verdict = verdict;
		__entry->sig = sig;
		__entry->total_syscalls = c->total_syscalls;
		__entry->openat_count = c->openat_count;
		__entry->write_bytes = c->write_bytes;
		__entry->connect_count = c->connect_count;
		__entry->unlink_count = c->unlink_count;
		__entry->fork_count = c->fork_count;
		__entry->elapsed_ns = c->elapsed_ns;
	),

	TP_printk("sid=%16phN total_syscalls=%llu openat_count=%llu write_bytes=%llu connect_count=%llu unlink_count=%llu fork_count=%llu elapsed_ns=%llu id=%llu parent_id=%llu",
		  __entry->sid, __entry->total_syscalls, __entry->openat_count,
		  __entry->write_bytes, __entry->connect_count,
		  __entry->unlink_count, __entry->fork_count,
		  __entry->elapsed_ns, __entry->id, __entry->parent_id)
);

DEFINE_EVENT(agent_ns_totals, agent_session_end,
	TP_PROTO(const struct agent_namespace *ns,
		 const struct agent_ns_counters *c, int verdict, int sig),
	TP_ARGS(ns, c, verdict, sig)
);

TRACE_DEFINE_ENUM(AGENT_NS_OVER_BUDGET);
TRACE_DEFINE_ENUM(AGENT_NS_OVER_LIFETIME);

DEFINE_EVENT_PRINT(agent_ns_totals, agent_session_reap,
	TP_PROTO(const struct agent_namespace *ns,
		 const struct agent_ns_counters *c, int verdict, int sig),
	TP_ARGS(ns, c, verdict, sig),
	TP_printk("sid=%16phN id=%llu parent_id=%llu over=%s sig=%d total_syscalls=%llu write_bytes=%llu elapsed_ns=%llu",
		  __entry->sid, __entry->id, __entry->parent_id,
		  __entry->verdict == AGENT_NS_OVER_LIFETIME ? "max_lifetime" :
		  __entry->verdict == AGENT_NS_OVER_BUDGET ? "budget" : "none",
		  __entry->sig, __entry->total_syscalls, __entry->write_bytes,
		  __entry->elapsed_ns)
);

TRACE_EVENT(agent_intent_set,

	TP_PROTO(const struct agent_namespace *ns, const char *tag),

	TP_ARGS(ns, tag),

	TP_STRUCT__entry(
		__array(u8, sid, AGENT_NS_SESSION_ID_LEN)
		__field(u64, id)
		__field(u64, parent_id)
		__string(tag, tag)
	),

	TP_fast_assign(
		agent_ns_tp_assign_ids(ns);
		__assign_str(tag);
	),

	/* The tag last: it may hold spaces. */
	TP_printk("sid=%16phN id=%llu parent_id=%llu tag=%s", __entry->sid,
		  __entry->id, __entry->parent_id, __get_str(tag))
);

#endif /* _TRACE_AGENT_NS_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
