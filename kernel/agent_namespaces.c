// SPDX-License-Identifier: GPL-2.0-only
/*
 * Agent namespaces: tag every task of an agent session with a 128-bit
 * session id, an intent tag and per-namespace counters, and bound what
 * the session may spend.
 *
 * Typing: struct ns_common carries a u32 CLONE_NEW* bit as ns_type, and
 * that bit also feeds CLONE_NS_ALL, which unshare(2) and setns(2) accept.
 * No 32-bit bit is free, and an agent namespace must never be created
 * through unshare(2). So the agent namespace keeps ns_type 0, is not part
 * of FOR_EACH_NS_TYPE and is not added to the namespace trees: it gets a
 * unique ns_id and an nsfs inode, so /proc/PID/ns/agent and setns(fd, 0)
 * work, but listns(2) does not list it and nsfs file handles cannot name
 * it. CLONE_NEWAGENT is a clone3(2)-only bit above 32.
 */

#include <linux/agent_namespaces.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/nstree.h>
#include <linux/percpu.h>
#include <linux/prctl.h>
#include <linux/proc_ns.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysctl.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <linux/workqueue.h>

#define CREATE_TRACE_POINTS
#include <trace/events/agent_ns.h>

#define AGENT_NS_REAP_INTERVAL	(60 * HZ)

static struct kmem_cache *agent_ns_cachep __ro_after_init;

static int sysctl_agent_ns_enabled __read_mostly = 1;
static int sysctl_agent_ns_max_lifetime __read_mostly = 86400;

DEFINE_STATIC_KEY_FALSE(agent_ns_hooks_key);

/* Live non-initial namespaces, walked by the reaper under RCU. */
static LIST_HEAD(agent_ns_list);
static DEFINE_SPINLOCK(agent_ns_list_lock);
static atomic_t agent_ns_live = ATOMIC_INIT(0);

/* Serialises flipping agent_ns_hooks_key. */
static DEFINE_MUTEX(agent_ns_key_mutex);

struct agent_namespace init_agent_ns = {
	.ns.__ns_ref		= REFCOUNT_INIT(1),
	.ns.__ns_ref_active	= ATOMIC_INIT(1),
	.ns.ops			= &agentns_operations,
	.user_ns		= &init_user_ns,
	.lock			= __SPIN_LOCK_UNLOCKED(init_agent_ns.lock),
	.list			= LIST_HEAD_INIT(init_agent_ns.list),
};

static void agent_ns_update_key(void)
{
	bool want;

	mutex_lock(&agent_ns_key_mutex);
	want = READ_ONCE(sysctl_agent_ns_enabled) &&
	       atomic_read(&agent_ns_live) > 0;
	if (want && !static_key_enabled(&agent_ns_hooks_key))
		static_branch_enable(&agent_ns_hooks_key);
	else if (!want && static_key_enabled(&agent_ns_hooks_key))
		static_branch_disable(&agent_ns_hooks_key);
	mutex_unlock(&agent_ns_key_mutex);
}

static void agent_ns_key_workfn(struct work_struct *work)
{
	agent_ns_update_key();
}

/* Namespaces can be freed where sleeping is not allowed: flip the key later. */
static DECLARE_WORK(agent_ns_key_work, agent_ns_key_workfn);

static bool agent_ns_is_init(const struct agent_namespace *ns)
{
	return ns == &init_agent_ns;
}

static void agent_ns_read_counters(struct agent_namespace *ns,
				   struct agent_ns_counters *out)
{
	u64 sum[AGENT_NS_NR_COUNTERS] = {};
	int cpu, i;

	memset(out, 0, sizeof(*out));
	if (agent_ns_is_init(ns))
		return;

	for_each_possible_cpu(cpu) {
		const struct agent_ns_pcpu *pc = per_cpu_ptr(ns->counters, cpu);

		for (i = 0; i < AGENT_NS_NR_COUNTERS; i++)
			sum[i] += READ_ONCE(pc->val[i]);
	}
	out->total_syscalls = sum[AGENT_NS_SYSCALLS];
	out->openat_count = sum[AGENT_NS_OPENAT];
	out->write_bytes = sum[AGENT_NS_WRITE_BYTES];
	out->connect_count = sum[AGENT_NS_CONNECT];
	out->unlink_count = sum[AGENT_NS_UNLINK];
	out->fork_count = sum[AGENT_NS_FORK];
	out->elapsed_ns = ktime_get_boottime_ns() - ns->start_ns;
}

void __agent_ns_count(struct task_struct *tsk, enum agent_ns_counter counter,
		      u64 delta)
{
	struct nsproxy *nsp = tsk->nsproxy;
	struct agent_namespace *ns;

	/* Exiting tasks have dropped their nsproxy already. */
	if (unlikely(!nsp))
		return;
	ns = nsp->agent_ns;
	if (agent_ns_is_init(ns))
		return;
	this_cpu_add(ns->counters->val[counter], delta);
}

static void agent_ns_free_rcu(struct rcu_head *head)
{
	struct agent_namespace *ns = container_of(head, struct agent_namespace,
						  ns.ns_rcu);

	free_percpu(ns->counters);
	kmem_cache_free(agent_ns_cachep, ns);
}

static void free_agent_ns(struct agent_namespace *ns)
{
	struct agent_ns_counters final;

	agent_ns_read_counters(ns, &final);
	trace_agent_session_end(ns, &final);

	spin_lock(&agent_ns_list_lock);
	list_del_rcu(&ns->list);
	spin_unlock(&agent_ns_list_lock);
	if (atomic_dec_and_test(&agent_ns_live))
		schedule_work(&agent_ns_key_work);

	put_user_ns(ns->user_ns);
	__ns_common_free(&ns->ns);
	/* The reaper walks agent_ns_list under RCU. */
	call_rcu(&ns->ns.ns_rcu, agent_ns_free_rcu);
}

void put_agent_ns(struct agent_namespace *ns)
{
	if (__ns_ref_put(&ns->ns))
		free_agent_ns(ns);
}

static struct agent_namespace *create_agent_ns(struct user_namespace *user_ns,
					       struct agent_namespace *parent)
{
	struct agent_namespace *ns;
	int err;

	if (!READ_ONCE(sysctl_agent_ns_enabled))
		return ERR_PTR(-EOPNOTSUPP);

	ns = kmem_cache_zalloc(agent_ns_cachep, GFP_KERNEL_ACCOUNT);
	if (!ns)
		return ERR_PTR(-ENOMEM);

	ns->counters = alloc_percpu_gfp(struct agent_ns_pcpu, GFP_KERNEL_ACCOUNT);
	if (!ns->counters) {
		err = -ENOMEM;
		goto fail_free;
	}

	err = __ns_common_init(&ns->ns, 0, &agentns_operations, 0);
	if (err)
		goto fail_counters;
	/* An id from the shared id space, without joining the trees. */
	__ns_tree_gen_id(&ns->ns, 0);

	do {
		get_random_bytes(ns->session_id, sizeof(ns->session_id));
	} while (!memchr_inv(ns->session_id, 0, sizeof(ns->session_id)));
	memcpy(ns->parent_id, parent->session_id, sizeof(ns->parent_id));
	ns->start_ns = ktime_get_boottime_ns();
	ns->user_ns = get_user_ns(user_ns);
	spin_lock_init(&ns->lock);

	spin_lock(&agent_ns_list_lock);
	list_add_tail_rcu(&ns->list, &agent_ns_list);
	spin_unlock(&agent_ns_list_lock);
	if (atomic_inc_return(&agent_ns_live) == 1)
		agent_ns_update_key();

	trace_agent_session_start(ns);
	return ns;

fail_counters:
	free_percpu(ns->counters);
fail_free:
	kmem_cache_free(agent_ns_cachep, ns);
	return ERR_PTR(err);
}

struct agent_namespace *copy_agent_ns(u64 flags, struct user_namespace *user_ns,
				      struct agent_namespace *old_ns)
{
	if (!(flags & CLONE_NEWAGENT))
		return get_agent_ns(old_ns);
	return create_agent_ns(user_ns, old_ns);
}

void agent_ns_nsproxy_active_get(struct nsproxy *nsp)
{
	__ns_ref_active_get(&nsp->agent_ns->ns);
}

void agent_ns_nsproxy_active_put(struct nsproxy *nsp)
{
	__ns_ref_active_put(&nsp->agent_ns->ns);
}

/* nsfs: /proc/PID/ns/agent and setns(fd, 0) */

static struct ns_common *agentns_get(struct task_struct *task)
{
	struct agent_namespace *ns = NULL;
	struct nsproxy *nsproxy;

	task_lock(task);
	nsproxy = task->nsproxy;
	if (nsproxy)
		ns = get_agent_ns(nsproxy->agent_ns);
	task_unlock(task);

	return ns ? &ns->ns : NULL;
}

static void agentns_put(struct ns_common *ns)
{
	put_agent_ns(to_agent_ns(ns));
}

static int agentns_install(struct nsset *nsset, struct ns_common *new)
{
	struct nsproxy *nsproxy = nsset->nsproxy;
	struct agent_namespace *ns = to_agent_ns(new);

	if (!ns_capable(ns->user_ns, CAP_SYS_ADMIN) ||
	    !ns_capable(nsset->cred->user_ns, CAP_SYS_ADMIN))
		return -EPERM;

	get_agent_ns(ns);
	put_agent_ns(nsproxy->agent_ns);
	nsproxy->agent_ns = ns;
	return 0;
}

static struct user_namespace *agentns_owner(struct ns_common *ns)
{
	return to_agent_ns(ns)->user_ns;
}

const struct proc_ns_operations agentns_operations = {
	.name		= "agent",
	.get		= agentns_get,
	.put		= agentns_put,
	.install	= agentns_install,
	.owner		= agentns_owner,
};

/* /proc/PID/agent_session and /proc/PID/agent_counters */

static struct agent_namespace *task_agent_ns(struct task_struct *task)
{
	struct ns_common *ns = agentns_get(task);

	return ns ? to_agent_ns(ns) : NULL;
}

int proc_agent_session_show(struct seq_file *m, struct pid_namespace *pid_ns,
			    struct pid *pid, struct task_struct *task)
{
	struct agent_namespace *ns = task_agent_ns(task);

	if (!ns)
		return -ESRCH;
	seq_printf(m, "%*phN\n", AGENT_NS_SESSION_ID_LEN, ns->session_id);
	put_agent_ns(ns);
	return 0;
}

int proc_agent_counters_show(struct seq_file *m, struct pid_namespace *pid_ns,
			     struct pid *pid, struct task_struct *task)
{
	struct agent_namespace *ns = task_agent_ns(task);
	struct agent_ns_counters c;

	if (!ns)
		return -ESRCH;
	agent_ns_read_counters(ns, &c);
	put_agent_ns(ns);

	seq_printf(m,
		   "{\"total_syscalls\":%llu,\"openat_count\":%llu,\"write_bytes\":%llu,\"connect_count\":%llu,\"unlink_count\":%llu,\"fork_count\":%llu,\"elapsed_ns\":%llu}\n",
		   c.total_syscalls, c.openat_count, c.write_bytes,
		   c.connect_count, c.unlink_count, c.fork_count, c.elapsed_ns);
	return 0;
}

/* prctl(2) */

static int agent_ns_create_and_enter(void)
{
	struct nsproxy *new_nsp;

	if (!ns_capable(current_user_ns(), CAP_SYS_ADMIN))
		return -EPERM;

	new_nsp = unshare_agent_nsproxy();
	if (IS_ERR(new_nsp))
		return PTR_ERR(new_nsp);
	switch_task_namespaces(current, new_nsp);
	return 0;
}

static int agent_ns_set_intent(struct agent_namespace *ns,
			       const char __user *utag)
{
	char tag[AGENT_NS_INTENT_TAG_LEN];
	long len;

	if (agent_ns_is_init(ns))
		return -EPERM;

	len = strncpy_from_user(tag, utag, sizeof(tag));
	if (len < 0)
		return len;
	/* Longer tags are cut to the first 63 bytes, not refused. */
	tag[sizeof(tag) - 1] = '\0';

	spin_lock(&ns->lock);
	strscpy(ns->intent, tag);
	spin_unlock(&ns->lock);

	trace_agent_intent_set(ns, tag);
	return 0;
}

static int agent_ns_get_intent(struct agent_namespace *ns, char __user *utag)
{
	char tag[AGENT_NS_INTENT_TAG_LEN];

	spin_lock(&ns->lock);
	memcpy(tag, ns->intent, sizeof(tag));
	spin_unlock(&ns->lock);

	return copy_to_user(utag, tag, sizeof(tag)) ? -EFAULT : 0;
}

static int agent_ns_set_budget(struct agent_namespace *ns,
			       const struct agent_ns_budget __user *ubudget)
{
	struct agent_ns_budget budget;

	if (copy_from_user(&budget, ubudget, sizeof(budget)))
		return -EFAULT;
	if (budget.reserved || budget.action > AGENT_NS_BUDGET_SIGKILL)
		return -EINVAL;
	if (agent_ns_is_init(ns) || !ns_capable(ns->user_ns, CAP_SYS_ADMIN))
		return -EPERM;

	spin_lock(&ns->lock);
	ns->budget = budget;
	ns->budget_hit = false;
	spin_unlock(&ns->lock);
	return 0;
}

static int agent_ns_get_counters(struct agent_namespace *ns,
				 struct agent_ns_counters __user *ucounters)
{
	struct agent_ns_counters c;

	agent_ns_read_counters(ns, &c);
	return copy_to_user(ucounters, &c, sizeof(c)) ? -EFAULT : 0;
}

int agent_ns_prctl(int option, unsigned long arg2, unsigned long arg3,
		   unsigned long arg4, unsigned long arg5)
{
	/* The caller's own namespace stays pinned by its nsproxy. */
	struct agent_namespace *ns = current->nsproxy->agent_ns;
	void __user *uptr = (void __user *)arg2;

	switch (option) {
	case PR_SET_AGENT_NS:
		if (arg2 || arg3 || arg4 || arg5)
			return -EINVAL;
		return agent_ns_create_and_enter();
	case PR_GET_AGENT_SESSION_ID:
		return copy_to_user(uptr, ns->session_id,
				    AGENT_NS_SESSION_ID_LEN) ? -EFAULT : 0;
	case PR_GET_AGENT_PARENT_ID:
		return copy_to_user(uptr, ns->parent_id,
				    AGENT_NS_SESSION_ID_LEN) ? -EFAULT : 0;
	case PR_SET_AGENT_INTENT_TAG:
		return agent_ns_set_intent(ns, uptr);
	case PR_GET_AGENT_INTENT_TAG:
		return agent_ns_get_intent(ns, uptr);
	case PR_SET_AGENT_BUDGET_LIMITS:
		return agent_ns_set_budget(ns, uptr);
	case PR_GET_AGENT_COUNTERS:
		return agent_ns_get_counters(ns, uptr);
	}
	return -EINVAL;
}

/* The reaper: budgets and kernel.agent_ns.max_lifetime */

static int agent_ns_verdict(struct agent_namespace *ns, u64 now)
{
	struct agent_ns_counters c;
	struct agent_ns_budget b;
	bool over, first;
	u64 lifetime;

	lifetime = (u64)READ_ONCE(sysctl_agent_ns_max_lifetime) * NSEC_PER_SEC;
	if (now - ns->start_ns > lifetime)
		return SIGKILL;

	spin_lock(&ns->lock);
	b = ns->budget;
	spin_unlock(&ns->lock);
	if (!b.max_syscalls && !b.max_write_bytes && !b.max_elapsed_ns)
		return 0;

	agent_ns_read_counters(ns, &c);
	over = (b.max_syscalls && c.total_syscalls > b.max_syscalls) ||
	       (b.max_write_bytes && c.write_bytes > b.max_write_bytes) ||
	       (b.max_elapsed_ns && c.elapsed_ns > b.max_elapsed_ns);
	if (!over)
		return 0;

	spin_lock(&ns->lock);
	first = !ns->budget_hit;
	ns->budget_hit = true;
	spin_unlock(&ns->lock);
	if (first)
		pr_info("agent_ns: session %*phN over budget: syscalls=%llu write_bytes=%llu elapsed_ns=%llu\n",
			AGENT_NS_SESSION_ID_LEN, ns->session_id,
			c.total_syscalls, c.write_bytes, c.elapsed_ns);

	switch (b.action) {
	case AGENT_NS_BUDGET_SIGTERM:
		return SIGTERM;
	case AGENT_NS_BUDGET_SIGKILL:
		return SIGKILL;
	}
	return 0;
}

/*
 * One pass over all tasks for all doomed namespaces: each namespace's
 * verdict is parked in ns->reap_signal first, so the task walk is O(tasks)
 * rather than O(tasks * namespaces).
 */
static void agent_ns_signal_doomed(void)
{
	struct task_struct *g, *t;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		struct nsproxy *nsp;
		int sig = 0;

		task_lock(t);
		nsp = t->nsproxy;
		if (nsp)
			sig = READ_ONCE(nsp->agent_ns->reap_signal);
		task_unlock(t);
		if (sig)
			group_send_sig_info(sig, SEND_SIG_PRIV, t, PIDTYPE_TGID);
	}
	rcu_read_unlock();
}

static void agent_ns_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(agent_ns_reaper, agent_ns_reap);

static void agent_ns_reap(struct work_struct *work)
{
	u64 now = ktime_get_boottime_ns();
	struct agent_namespace *ns;
	bool doomed = false;

	rcu_read_lock();
	list_for_each_entry_rcu(ns, &agent_ns_list, list) {
		int sig = agent_ns_verdict(ns, now);

		WRITE_ONCE(ns->reap_signal, sig);
		doomed |= sig != 0;
	}
	rcu_read_unlock();

	if (doomed)
		agent_ns_signal_doomed();

	schedule_delayed_work(&agent_ns_reaper, AGENT_NS_REAP_INTERVAL);
}

/* sysctl: kernel.agent_ns.{enabled,max_lifetime} */

static int agent_ns_enabled_handler(const struct ctl_table *table, int write,
				    void *buffer, size_t *lenp, loff_t *ppos)
{
	int ret = proc_dointvec_minmax(table, write, buffer, lenp, ppos);

	if (!ret && write)
		agent_ns_update_key();
	return ret;
}

static const struct ctl_table agent_ns_sysctls[] = {
	{
		.procname	= "enabled",
		.data		= &sysctl_agent_ns_enabled,
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= agent_ns_enabled_handler,
		.extra1		= SYSCTL_ZERO,
		.extra2		= SYSCTL_ONE,
	},
	{
		.procname	= "max_lifetime",
		.data		= &sysctl_agent_ns_max_lifetime,
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ONE,
		.extra2		= SYSCTL_INT_MAX,
	},
};

/* Called from nsproxy_cache_init(), before the first fork. */
void __init agent_ns_init(void)
{
	/* CLONE_NEWAGENT must stay out of every upstream clone bit. */
	BUILD_BUG_ON(CLONE_NEWAGENT & CLONE_UPSTREAM_FLAGS);
	BUILD_BUG_ON(CLONE_NEWAGENT & CLONE_NS_ALL);
	BUILD_BUG_ON(CLONE_NEWAGENT <= U32_MAX);
	BUILD_BUG_ON(!is_power_of_2(CLONE_NEWAGENT));

	agent_ns_cachep = KMEM_CACHE(agent_namespace, SLAB_PANIC | SLAB_ACCOUNT);
	if (__ns_common_init(&init_agent_ns.ns, 0, &agentns_operations, 0))
		panic("agent_ns: cannot allocate the initial namespace inode\n");
	/* __ns_common_init() reset these; the initial namespace never dies. */
	atomic_set(&init_agent_ns.ns.__ns_ref_active, 1);
	__ns_tree_gen_id(&init_agent_ns.ns, 0);
}

static int __init agent_ns_late_init(void)
{
	register_sysctl_init("kernel/agent_ns", agent_ns_sysctls);
	schedule_delayed_work(&agent_ns_reaper, AGENT_NS_REAP_INTERVAL);
	return 0;
}
late_initcall(agent_ns_late_init);
