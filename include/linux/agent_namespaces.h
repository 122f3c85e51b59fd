/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_AGENT_NAMESPACES_H
#define _LINUX_AGENT_NAMESPACES_H

#include <linux/jump_label.h>
#include <linux/jump_label_ratelimit.h>
#include <linux/list.h>
#include <asm/local64.h>
#include <linux/ns_common.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <uapi/linux/agent_namespaces.h>

/* Nesting limit, the same as for pid namespaces. */
#define AGENT_NS_MAX_LEVEL	32

struct seq_file;
struct user_namespace;

/* Counters bumped on the syscall paths; elapsed_ns is derived on read. */
enum agent_ns_counter {
	AGENT_NS_SYSCALLS,
	AGENT_NS_OPENAT,
	AGENT_NS_WRITE_BYTES,
	AGENT_NS_CONNECT,
	AGENT_NS_UNLINK,
	AGENT_NS_FORK,
	AGENT_NS_NR_COUNTERS
};

/* What the reaper decided about one namespace. */
enum agent_ns_verdict {
	AGENT_NS_WITHIN,
	AGENT_NS_OVER_BUDGET,
	AGENT_NS_OVER_LIFETIME,
};

/*
 * A remote reader must never see half an update: on 64-bit a u64 moved
 * by this_cpu_add() (one instruction, no preemption window) and read
 * whole; on 32-bit a local64_t.
 */
struct agent_ns_pcpu {
#ifdef CONFIG_64BIT
	u64 val[AGENT_NS_NR_COUNTERS];
#else
	local64_t val[AGENT_NS_NR_COUNTERS];
#endif
};

static inline u64 agent_ns_pcpu_read(struct agent_ns_pcpu *pc,
				     enum agent_ns_counter counter)
{
#ifdef CONFIG_64BIT
	return READ_ONCE(pc->val[counter]);
#else
	return local64_read(&pc->val[counter]);
#endif
}

/**
 * struct agent_namespace - one agent session
 * @ns:          common namespace bits; @ns.ns_type is 0, see agent_namespaces.c
 * @session_id:  128 random bits, never all zero (all zero only for init)
 * @parent_id:   session id of the namespace this one was created from
 * @parent:      the namespace this one was created in (holds a reference)
 * @level:       depth in the tree, 0 for the initial namespace
 * @start_ns:    boottime at creation, for elapsed_ns and max_lifetime
 * @user_ns:     owning user namespace
 * @ucounts:     charge against max_agent_namespaces of the creator
 * @counters:    per-CPU counts of the tasks in this namespace only
 * @folded:      counts its dead descendants left behind
 * @children:    live child namespaces
 * @sibling:     entry on the parent's @children
 * @lock:        protects @intent, @budget and @budget_hit
 * @intent:      NUL-terminated intent tag, at most 63 bytes kept
 * @budget:      limits enforced by the reaper, 0 = no limit
 * @budget_hit:  the reaper already reported this namespace over budget
 * @reap_signal: signal the reaper's task walk delivers to this namespace
 * @list:        entry on the list of live namespaces the reaper walks
 */
struct agent_namespace {
	struct ns_common ns;
	u8 session_id[AGENT_NS_SESSION_ID_LEN];
	u8 parent_id[AGENT_NS_SESSION_ID_LEN];
	struct agent_namespace *parent;
	unsigned int level;
	u64 start_ns;
	struct user_namespace *user_ns;
	struct ucounts *ucounts;
	struct agent_ns_pcpu __percpu *counters;
	/* agent_ns_list_lock: @folded, @children, @sibling */
	u64 folded[AGENT_NS_NR_COUNTERS];
	struct list_head children;
	struct list_head sibling;
	spinlock_t lock;	/* intent, budget, budget_hit */
	char intent[AGENT_NS_INTENT_TAG_LEN];
	struct agent_ns_budget budget;
	bool budget_hit;
	int reap_signal;
	struct list_head list;
} __randomize_layout;

#ifdef CONFIG_AGENT_NS

extern struct agent_namespace init_agent_ns;
extern const struct proc_ns_operations agentns_operations;
extern struct static_key_false_deferred agent_ns_hooks_key;

static inline struct agent_namespace *to_agent_ns(struct ns_common *ns)
{
	return container_of(ns, struct agent_namespace, ns);
}

static inline struct agent_namespace *get_agent_ns(struct agent_namespace *ns)
{
	__ns_ref_inc(&ns->ns);
	return ns;
}

void put_agent_ns(struct agent_namespace *ns);
struct agent_namespace *copy_agent_ns(u64 flags, struct user_namespace *user_ns,
				      struct agent_namespace *old_ns);
void agent_ns_nsproxy_active_get(struct nsproxy *nsp);
void agent_ns_nsproxy_active_put(struct nsproxy *nsp);
void agent_ns_forked_new(struct task_struct *p);
void __init agent_ns_init(void);

int agent_ns_prctl(int option, unsigned long arg2, unsigned long arg3,
		   unsigned long arg4, unsigned long arg5);
int proc_agent_session_show(struct seq_file *m, struct pid_namespace *pid_ns,
			    struct pid *pid, struct task_struct *task);
int proc_agent_counters_show(struct seq_file *m, struct pid_namespace *pid_ns,
			     struct pid *pid, struct task_struct *task);

enum agent_ns_verdict
agent_ns_judge(const struct agent_ns_budget *b,
	       const struct agent_ns_counters *c, u64 start_ns, u64 now,
	       u64 lifetime_ns);
int agent_ns_verdict_signal(enum agent_ns_verdict v, u32 action);

/*
 * Off while kernel.agent_ns.enabled=0. Tasks inside also lose their
 * syscall work bit then (agent_ns_set_syscall_work()).
 */
DECLARE_STATIC_KEY_TRUE(agent_ns_counting_key);

/* One count into this CPU's slot of @c. */
static __always_inline void agent_ns_add(struct agent_ns_pcpu __percpu *c,
					 enum agent_ns_counter counter,
					 u64 delta)
{
#ifdef CONFIG_64BIT
	this_cpu_add(c->val[counter], delta);
#else
	/* Preemption off: the add must land in the slot of the CPU it reads. */
	preempt_disable();
	local64_add(delta, &this_cpu_ptr(c)->val[counter]);
	preempt_enable();
#endif
}

/*
 * Where a task's counts go: the counters of its agent namespace, NULL in
 * the initial one. Set with every change of the task's nsproxy (fork,
 * setns, PR_SET_AGENT_NS, exit), which pins the namespace meanwhile.
 * Syscalls are counted as syscall work: only tasks inside carry the bit,
 * so tasks outside pay nothing on syscall entry, namespaces or not.
 */
static inline void agent_ns_set_task_counters(struct task_struct *p,
					      struct nsproxy *nsp)
{
	struct agent_namespace *ns = nsp ? nsp->agent_ns : NULL;
	struct agent_ns_pcpu __percpu *c;

	c = ns && ns != &init_agent_ns ? ns->counters : NULL;
	WRITE_ONCE(p->agent_counters, c);
#ifdef CONFIG_GENERIC_ENTRY
	if (c && static_key_enabled(&agent_ns_counting_key))
		set_task_syscall_work(p, SYSCALL_AGENT_NS);
	else
		clear_task_syscall_work(p, SYSCALL_AGENT_NS);
#endif
}

/*
 * Does @tsk count right now? Its syscall work bit says "inside a
 * namespace and kernel.agent_ns.enabled": one test of a word of its own.
 */
static __always_inline bool agent_ns_task_counts(struct task_struct *tsk)
{
#ifdef CONFIG_GENERIC_ENTRY
	/* A byte test, where test_bit() loads the word and tests the bit. */
	return task_thread_info(tsk)->syscall_work &
	       SYSCALL_WORK_SYSCALL_AGENT_NS;
#else
	return READ_ONCE(tsk->agent_counters) &&
	       static_branch_likely(&agent_ns_counting_key);
#endif
}

/*
 * Counter hooks for the other paths. agent_ns_hooks_key is on only while
 * at least one agent namespace other than the initial one exists (and
 * for a few seconds after the last one went): with none, a hook is a
 * patched-out branch; with some, a task that does not count pays a test
 * of its own work bit.
 */
static __always_inline void agent_ns_count_task_n(struct task_struct *tsk,
						  enum agent_ns_counter counter,
						  u64 delta)
{
	struct agent_ns_pcpu __percpu *c;

	if (!static_branch_unlikely(&agent_ns_hooks_key.key) ||
	    !agent_ns_task_counts(tsk))
		return;
	c = READ_ONCE(tsk->agent_counters);
	if (likely(c))
		agent_ns_add(c, counter, delta);
}

static __always_inline void agent_ns_count(enum agent_ns_counter counter,
					   u64 delta)
{
	agent_ns_count_task_n(current, counter, delta);
}

static __always_inline void agent_ns_count_task(struct task_struct *tsk,
						enum agent_ns_counter counter)
{
	agent_ns_count_task_n(tsk, counter, 1);
}

/*
 * From syscall work, whose bit is set only while the task has counters
 * and counting is enabled (both changed under the task's lock).
 */
static __always_inline void agent_ns_count_syscall(void)
{
	struct agent_ns_pcpu __percpu *c = READ_ONCE(current->agent_counters);

	if (likely(c))
		agent_ns_add(c, AGENT_NS_SYSCALLS, 1);
}

#else /* !CONFIG_AGENT_NS */

static inline void agent_ns_nsproxy_active_get(struct nsproxy *nsp) { }
static inline void agent_ns_nsproxy_active_put(struct nsproxy *nsp) { }
static inline void agent_ns_forked_new(struct task_struct *p) { }
static inline void agent_ns_init(void) { }

static inline int agent_ns_prctl(int option, unsigned long arg2,
				 unsigned long arg3, unsigned long arg4,
				 unsigned long arg5)
{
	return -EINVAL;
}

static inline void agent_ns_set_task_counters(struct task_struct *p,
					      struct nsproxy *nsp) { }
static inline void agent_ns_count(enum agent_ns_counter counter, u64 delta) { }
static inline void agent_ns_count_syscall(void) { }
static inline void agent_ns_count_task(struct task_struct *tsk,
				       enum agent_ns_counter counter) { }
static inline void agent_ns_count_task_n(struct task_struct *tsk,
					 enum agent_ns_counter counter,
					 u64 delta) { }

#endif /* CONFIG_AGENT_NS */

#endif /* _LINUX_AGENT_NAMESPACES_H */
