/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM agent_ns

#if !defined(_TRACE_AGENT_NS_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_AGENT_NS_H

#include <linux/agent_namespaces.h>
#include <linux/tracepoint.h>

TRACE_EVENT(agent_session_start,

	TP_PROTO(const struct agent_namespace *ns),

	TP_ARGS(ns),

	TP_STRUCT__entry(
		__array(u8, sid, AGENT_NS_SESSION_ID_LEN)
		__array(u8, parent, AGENT_NS_SESSION_ID_LEN)
		__field(pid_t, pid)
	),

	TP_fast_assign(
		memcpy(__entry->sid, ns->session_id, AGENT_NS_SESSION_ID_LEN);
		memcpy(__entry->parent, ns->parent_id, AGENT_NS_SESSION_ID_LEN);
		__entry->pid = current->pid;
	),

	TP_printk("sid=%16phN parent=%16phN pid=%d",
		  __entry->sid, __entry->parent, __entry->pid)
);

TRACE_EVENT(agent_session_end,

	TP_PROTO(const struct agent_namespace *ns,
		 const struct agent_ns_counters *c),

	TP_ARGS(ns, c),

	TP_STRUCT__entry(
		__array(u8, sid, AGENT_NS_SESSION_ID_LEN)
		__field(u64, total_syscalls)
		__field(u64, openat_count)
		__field(u64, write_bytes)
		__field(u64, connect_count)
		__field(u64, unlink_count)
		__field(u64, fork_count)
		__field(u64, elapsed_ns)
	),

	TP_fast_assign(
		memcpy(__entry->sid, ns->session_id, AGENT_NS_SESSION_ID_LEN);
		__entry->total_syscalls = c->total_syscalls;
		__entry->openat_count = c->openat_count;
		__entry->write_bytes = c->write_bytes;
		__entry->connect_count = c->connect_count;
		__entry->unlink_count = c->unlink_count;
		__entry->fork_count = c->fork_count;
		__entry->elapsed_ns = c->elapsed_ns;
	),

	TP_printk("sid=%16phN total_syscalls=%llu openat_count=%llu write_bytes=%llu connect_count=%llu unlink_count=%llu fork_count=%llu elapsed_ns=%llu",
		  __entry->sid, __entry->total_syscalls, __entry->openat_count,
		  __entry->write_bytes, __entry->connect_count,
		  __entry->unlink_count, __entry->fork_count,
		  __entry->elapsed_ns)
);

TRACE_EVENT(agent_intent_set,

	TP_PROTO(const struct agent_namespace *ns, const char *tag),

	TP_ARGS(ns, tag),

	TP_STRUCT__entry(
		__array(u8, sid, AGENT_NS_SESSION_ID_LEN)
		__string(tag, tag)
	),

	TP_fast_assign(
		memcpy(__entry->sid, ns->session_id, AGENT_NS_SESSION_ID_LEN);
		__assign_str(tag);
	),

	TP_printk("sid=%16phN tag=%s", __entry->sid, __get_str(tag))
);

#endif /* _TRACE_AGENT_NS_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
