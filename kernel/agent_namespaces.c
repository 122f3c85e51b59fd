// SPDX-License-Identifier: GPL-2.0-only
/*
 * Agent namespaces: tag every task of an agent session with a 128-bit
 * session id, an intent tag and per-namespace counters, and bound what
 * the session may spend.
 *
 * Typing: struct ns_common carries a u32 type, for the upstream
 * namespaces their CLONE_NEW* bit, which also feeds CLONE_NS_ALL, the
 * flags unshare(2) and setns(2) accept. An agent namespace must never be
 * created through unshare(2), so its type AGENT_NS is no CLONE_NEW* bit
 * and it stays out of FOR_EACH_NS_TYPE, but it is in the namespace trees
 * like the others: listns(2), nsfs file handles, NS_GET_NSTYPE,
 * NS_GET_PARENT and NS_GET_USERNS work on it. CLONE_NEWAGENT is a
 * clone3(2)-only bit above 32.
 *
 * Nesting: a namespace made inside another is its child and holds a
 * reference on it. A count is charged to the task's own namespace only,
 * one per-CPU add whatever the depth; what a namespace reports and is
 * judged on are the totals of its whole subtree, summed on read over its
 * live descendants plus what dead ones left: a dying namespace folds its
 * totals into its parent, so a child never takes counts away from the
 * limits above it. The reaper judges each namespace on those subtree
 * totals and signals every process whose namespace lies below a doomed
 * one.
 */

#include <linux/agent_namespaces.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/mutex.h>
#include <linux/nstree.h>
#include <linux/percpu.h>
#include <linux/prctl.h>
#include <linux/proc_ns.h>
#include <linux/ptrace.h>
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
/* Processes the reaper signals between two yields of the CPU. */
#define AGENT_NS_REAP_BATCH	256
#define AGENT_NS_REAP_RESTARTS	8
/* The hooks stay on this long after the last namespace went. */
#define AGENT_NS_KEY_OFF_DELAY	(10 * HZ)

static struct kmem_cache *agent_ns_cachep __ro_after_init;

static int sysctl_agent_ns_enabled __read_mostly = 1;
static int sysctl_agent_ns_max_lifetime __read_mostly = 86400;

/*
 * One reference per live non-initial namespace, taken before the
 * namespace can run anything and dropped with a delay, so a loop of
 * create and exit cannot turn into code patching IPIs on every CPU.
 */
DEFINE_STATIC_KEY_DEFERRED_FALSE(agent_ns_hooks_key, AGENT_NS_KEY_OFF_DELAY);
DEFINE_STATIC_KEY_TRUE(agent_ns_counting_key);
/* Serialises kernel.agent_ns.enabled writes with their key and work bits. */
static DEFINE_MUTEX(agent_ns_enabled_mutex);

/*
 * Live non-initial namespaces, walked by the reaper under RCU. The lock
 * also keeps the tree (children, sibling) and the folded counts, so a
 * subtree summed under it counts a dying child exactly once.
 */
static LIST_HEAD(agent_ns_list);
static DEFINE_SPINLOCK(agent_ns_list_lock);
static atomic_t agent_ns_live = ATOMIC_INIT(0);

/*
 * Initial like the others: a fixed id and inode, always active, never
 * refcounted (the ns_ref helpers skip initial ids). Spelled out rather
 * than NS_COMMON_INIT(), whose type maps are built for CLONE_NEW* types.
 */
struct agent_namespace init_agent_ns = {
	.ns.ns_type		= AGENT_NS,
	.ns.ns_id		= AGENT_NS_INIT_ID,
	.ns.inum		= AGENT_NS_INIT_INO,
	.ns.ops			= &agentns_operations,
	.ns.__ns_ref		= REFCOUNT_INIT(1),
	.ns.__ns_ref_active	= ATOMIC_INIT(1),
	.ns.ns_unified_node.ns_list_entry =
		LIST_HEAD_INIT(init_agent_ns.ns.ns_unified_node.ns_list_entry),
	.ns.ns_tree_node.ns_list_entry =
		LIST_HEAD_INIT(init_agent_ns.ns.ns_tree_node.ns_list_entry),
	.ns.ns_owner_node.ns_list_entry =
		LIST_HEAD_INIT(init_agent_ns.ns.ns_owner_node.ns_list_entry),
	.ns.ns_owner_root.ns_list_head =
		LIST_HEAD_INIT(init_agent_ns.ns.ns_owner_root.ns_list_head),
	.user_ns		= &init_user_ns,
	.lock			= __SPIN_LOCK_UNLOCKED(init_agent_ns.lock),
	.list			= LIST_HEAD_INIT(init_agent_ns.list),
	.children		= LIST_HEAD_INIT(init_agent_ns.children),
	.sibling		= LIST_HEAD_INIT(init_agent_ns.sibling),
};

static void agent_ns_reap(struct work_struct *work);
static DECLARE_DELAYED_WORK(agent_ns_reaper, agent_ns_reap);

static bool agent_ns_is_init(const struct agent_namespace *ns)
{
	return ns == &init_agent_ns;
}

/* Adds what @ns counted itself and what its dead descendants left. */
static void agent_ns_add_own(struct agent_namespace *ns, u64 *sum)
{
	int cpu, i;

	lockdep_assert_held(&agent_ns_list_lock);
	for (i = 0; i < AGENT_NS_NR_COUNTERS; i++)
		sum[i] += ns->folded[i];
	for_each_possible_cpu(cpu) {
		struct agent_ns_pcpu *pc = per_cpu_ptr(ns->counters, cpu);

		for (i = 0; i < AGENT_NS_NR_COUNTERS; i++)
			sum[i] += agent_ns_pcpu_read(pc, i);
	}
}

/* Pre-order walk of the live subtree of @root, @root first. */
static struct agent_namespace *
agent_ns_next_descendant(struct agent_namespace *pos,
			 struct agent_namespace *root)
{
	if (!list_empty(&pos->children))
		return list_first_entry(&pos->children, struct agent_namespace,
					sibling);
	for (; pos != root; pos = pos->parent)
		if (!list_is_last(&pos->sibling, &pos->parent->children))
			return list_next_entry(pos, sibling);
	return NULL;
}

static void agent_ns_fill_counters(struct agent_namespace *ns,
				   const u64 *sum,
				   struct agent_ns_counters *out)
{
	out->total_syscalls = sum[AGENT_NS_SYSCALLS];
	out->openat_count = sum[AGENT_NS_OPENAT];
	out->write_bytes = sum[AGENT_NS_WRITE_BYTES];
	out->connect_count = sum[AGENT_NS_CONNECT];
	out->unlink_count = sum[AGENT_NS_UNLINK];
	out->fork_count = sum[AGENT_NS_FORK];
	out->elapsed_ns = ktime_get_boottime_ns() - ns->start_ns;
}

/*
 * The totals of @ns's subtree. Its size is bounded by the ucounts limit
 * of the users below it; the reaper reads one namespace at a time.
 */
static void agent_ns_read_counters(struct agent_namespace *ns,
				   struct agent_ns_counters *out)
{
	u64 sum[AGENT_NS_NR_COUNTERS] = {};
	struct agent_namespace *pos;

	memset(out, 0, sizeof(*out));
	if (agent_ns_is_init(ns))
		return;

	spin_lock(&agent_ns_list_lock);
	for (pos = ns; pos; pos = agent_ns_next_descendant(pos, ns))
		agent_ns_add_own(pos, sum);
	spin_unlock(&agent_ns_list_lock);
	agent_ns_fill_counters(ns, sum, out);
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
	u64 sum[AGENT_NS_NR_COUNTERS] = {};
	struct agent_ns_counters final;
	struct agent_namespace *parent = ns->parent;
	int i;

	/* Lookups run under RCU: the memory outlives the removal. */
	__ns_tree_remove(&ns->ns, &agent_ns_tree);

	/*
	 * No task is left to count and every child, holding a reference
	 * on us, is gone and folded into us already: our totals are final.
	 * They move to the parent in the same critical section that takes
	 * us out of the tree, so no reader counts them twice or not at all.
	 */
	spin_lock(&agent_ns_list_lock);
	WARN_ON_ONCE(!list_empty(&ns->children));
	agent_ns_add_own(ns, sum);
	if (!agent_ns_is_init(parent))
		for (i = 0; i < AGENT_NS_NR_COUNTERS; i++)
			parent->folded[i] += sum[i];
	list_del(&ns->sibling);
	list_del_rcu(&ns->list);
	spin_unlock(&agent_ns_list_lock);

	memset(&final, 0, sizeof(final));
	agent_ns_fill_counters(ns, sum, &final);
	trace_agent_session_end(ns, &final, AGENT_NS_WITHIN, 0);
	atomic_dec(&agent_ns_live);
	/* Never sleeps: the last reference is dropped by a delayed work. */
	static_branch_slow_dec_deferred(&agent_ns_hooks_key);

	dec_ucount(ns->ucounts, UCOUNT_AGENT_NAMESPACES);
	put_user_ns(ns->user_ns);
	__ns_common_free(&ns->ns);
	/* The reaper walks agent_ns_list under RCU. */
	call_rcu(&ns->ns.ns_rcu, agent_ns_free_rcu);
}

void put_agent_ns(struct agent_namespace *ns)
{
	struct agent_namespace *parent;

	/* A loop rather than recursion: each child holds its parent. */
	while (ns && __ns_ref_put(&ns->ns)) {
		parent = ns->parent;
		free_agent_ns(ns);
		ns = parent;
	}
}

static struct agent_namespace *create_agent_ns(struct user_namespace *user_ns,
					       struct agent_namespace *parent)
{
	struct ucounts *ucounts;
	struct agent_namespace *ns;
	int err;

	if (!READ_ONCE(sysctl_agent_ns_enabled))
		return ERR_PTR(-EOPNOTSUPP);
	if (parent->level >= AGENT_NS_MAX_LEVEL)
		return ERR_PTR(-ENOSPC);
	/* /proc/sys/user/max_agent_namespaces, like the other types. */
	ucounts = inc_ucount(user_ns, current_euid(), UCOUNT_AGENT_NAMESPACES);
	if (!ucounts)
		return ERR_PTR(-ENOSPC);
	/*
	 * Hooks on before anybody can run in the namespace: this returns
	 * only once the key is on everywhere, whoever else is switching it.
	 */
	static_branch_deferred_inc(&agent_ns_hooks_key);

	err = -ENOMEM;
	ns = kmem_cache_zalloc(agent_ns_cachep, GFP_KERNEL_ACCOUNT);
	if (!ns)
		goto fail_ucounts;

	ns->counters = alloc_percpu_gfp(struct agent_ns_pcpu, GFP_KERNEL_ACCOUNT);
	if (!ns->counters)
		goto fail_free;

	err = __ns_common_init(&ns->ns, AGENT_NS, &agentns_operations, 0);
	if (err)
		goto fail_counters;

	do {
		get_random_bytes(ns->session_id, sizeof(ns->session_id));
	} while (!memchr_inv(ns->session_id, 0, sizeof(ns->session_id)));
	memcpy(ns->parent_id, parent->session_id, sizeof(ns->parent_id));
	ns->parent = get_agent_ns(parent);
	ns->level = parent->level + 1;
	ns->start_ns = ktime_get_boottime_ns();
	ns->user_ns = get_user_ns(user_ns);
	ns->ucounts = ucounts;
	spin_lock_init(&ns->lock);
	INIT_LIST_HEAD(&ns->children);
	/*
	 * An id from the shared generator, and into the trees once the
	 * owner is set. listns() and file handles see it only once a task
	 * is in it (an active reference).
	 */
	__ns_tree_add(&ns->ns, &agent_ns_tree, 0);

	spin_lock(&agent_ns_list_lock);
	list_add_tail_rcu(&ns->list, &agent_ns_list);
	list_add_tail(&ns->sibling, &parent->children);
	spin_unlock(&agent_ns_list_lock);
	atomic_inc(&agent_ns_live);
	/* The reaper sleeps while there is nothing to reap: wake it. */
	schedule_delayed_work(&agent_ns_reaper, AGENT_NS_REAP_INTERVAL);

	return ns;

fail_counters:
	free_percpu(ns->counters);
fail_free:
	kmem_cache_free(agent_ns_cachep, ns);
fail_ucounts:
	static_branch_slow_dec_deferred(&agent_ns_hooks_key);
	dec_ucount(ucounts, UCOUNT_AGENT_NAMESPACES);
	return ERR_PTR(err);
}

struct agent_namespace *copy_agent_ns(u64 flags, struct user_namespace *user_ns,
				      struct agent_namespace *old_ns)
{
	if (!(flags & CLONE_NEWAGENT))
		return get_agent_ns(old_ns);
	return create_agent_ns(user_ns, old_ns);
}

/* clone3(CLONE_NEWAGENT): @p, the child, is the task that moved. */
void agent_ns_forked_new(struct task_struct *p)
{
	trace_agent_session_start(p->nsproxy->agent_ns, p);
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

/* Is @ns @ancestor or below it? */
static bool agent_ns_in_subtree(struct agent_namespace *ns,
				struct agent_namespace *ancestor)
{
	while (ns->level > ancestor->level)
		ns = ns->parent;
	return ns == ancestor;
}

static int agentns_install(struct nsset *nsset, struct ns_common *new)
{
	struct nsproxy *nsproxy = nsset->nsproxy;
	struct agent_namespace *ns = to_agent_ns(new);

	if (!ns_capable(ns->user_ns, CAP_SYS_ADMIN) ||
	    !ns_capable(nsset->cred->user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	/*
	 * Leaving the subtree would leave the limits that apply to it:
	 * only the global administrator, who can switch agent namespaces
	 * off anyway, may enter a namespace outside its own subtree.
	 */
	if (!agent_ns_in_subtree(ns, current->nsproxy->agent_ns) &&
	    !capable(CAP_SYS_ADMIN))
		return -EPERM;
	/* All threads of a process share one agent namespace. */
	if (!thread_group_empty(current))
		return -EINVAL;

	get_agent_ns(ns);
	put_agent_ns(nsproxy->agent_ns);
	nsproxy->agent_ns = ns;
	return 0;
}

static struct user_namespace *agentns_owner(struct ns_common *ns)
{
	return to_agent_ns(ns)->user_ns;
}

/*
 * NS_GET_PARENT: like the pid namespace, only a parent at or below the
 * caller's own agent namespace; the initial namespace has none (EPERM).
 */
static struct ns_common *agentns_get_parent(struct ns_common *ns)
{
	struct agent_namespace *parent = to_agent_ns(ns)->parent;

	if (!parent || !agent_ns_in_subtree(parent, current->nsproxy->agent_ns))
		return ERR_PTR(-EPERM);
	return &get_agent_ns(parent)->ns;
}

const struct proc_ns_operations agentns_operations = {
	.name		= "agent",
	.get		= agentns_get,
	.put		= agentns_put,
	.install	= agentns_install,
	.owner		= agentns_owner,
	.get_parent	= agentns_get_parent,
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
	struct agent_namespace *ns;
	struct agent_ns_counters c;

	/*
	 * Counters tell what a task does, like /proc/PID/io: only a
	 * process that may ptrace-read the task sees them (its own
	 * process always may).
	 */
	if (!ptrace_may_access(task, PTRACE_MODE_READ_FSCREDS))
		return -EACCES;
	ns = task_agent_ns(task);
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

	/*
	 * All threads of a process share one agent namespace: moving one
	 * thread would split the process, and the reaper signals whole
	 * processes. A single-threaded caller cannot grow a thread while
	 * it is in here, so the check holds until the switch.
	 */
	if (!thread_group_empty(current))
		return -EINVAL;
	if (!ns_capable(current_user_ns(), CAP_SYS_ADMIN))
		return -EPERM;

	new_nsp = unshare_agent_nsproxy();
	if (IS_ERR(new_nsp))
		return PTR_ERR(new_nsp);
	switch_task_namespaces(current, new_nsp);
	trace_agent_session_start(new_nsp->agent_ns, current);
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

	/* Pad: PR_GET_AGENT_INTENT_TAG copies all 64 bytes out. */
	spin_lock(&ns->lock);
	strscpy_pad(ns->intent, tag);
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

/*
 * The verdict on one namespace, a pure function of its limits, its
 * subtree's counters, its start and the time the walk sampled once: a
 * namespace created after that sample (start_ns > now) is within its
 * limits until the next walk, never a wrapped-around "very old" one.
 */
enum agent_ns_verdict
agent_ns_judge(const struct agent_ns_budget *b,
	       const struct agent_ns_counters *c, u64 start_ns, u64 now,
	       u64 lifetime_ns)
{
	u64 elapsed;

	if (start_ns > now)
		return AGENT_NS_WITHIN;
	elapsed = now - start_ns;
	if (lifetime_ns && elapsed > lifetime_ns)
		return AGENT_NS_OVER_LIFETIME;
	if ((b->max_syscalls && c->total_syscalls > b->max_syscalls) ||
	    (b->max_write_bytes && c->write_bytes > b->max_write_bytes) ||
	    (b->max_elapsed_ns && elapsed > b->max_elapsed_ns))
		return AGENT_NS_OVER_BUDGET;
	return AGENT_NS_WITHIN;
}

/* The signal for a verdict: lifetime kills, a budget takes its action. */
int agent_ns_verdict_signal(enum agent_ns_verdict v, u32 action)
{
	if (v == AGENT_NS_OVER_LIFETIME)
		return SIGKILL;
	if (v != AGENT_NS_OVER_BUDGET)
		return 0;
	switch (action) {
	case AGENT_NS_BUDGET_SIGTERM:
		return SIGTERM;
	case AGENT_NS_BUDGET_SIGKILL:
		return SIGKILL;
	}
	return 0;
}

static int agent_ns_verdict(struct agent_namespace *ns, u64 now)
{
	struct agent_ns_counters c;
	struct agent_ns_budget b;
	enum agent_ns_verdict v;
	bool first;
	u64 lifetime;
	int sig;

	lifetime = (u64)READ_ONCE(sysctl_agent_ns_max_lifetime) * NSEC_PER_SEC;
	spin_lock(&ns->lock);
	b = ns->budget;
	spin_unlock(&ns->lock);
	agent_ns_read_counters(ns, &c);
	c.elapsed_ns = now > ns->start_ns ? now - ns->start_ns : 0;

	v = agent_ns_judge(&b, &c, ns->start_ns, now, lifetime);
	if (v == AGENT_NS_WITHIN)
		return 0;
	sig = agent_ns_verdict_signal(v, b.action);

	spin_lock(&ns->lock);
	first = !ns->budget_hit;
	ns->budget_hit = true;
	spin_unlock(&ns->lock);
	/* Every signal is logged; a log-only budget is reported once. */
	if (sig || first)
		pr_info_ratelimited("agent_ns: session %*phN (id %llu) over %s: syscalls=%llu write_bytes=%llu elapsed_ns=%llu, action %s\n",
				    AGENT_NS_SESSION_ID_LEN, ns->session_id,
				    ns->ns.ns_id,
				    v == AGENT_NS_OVER_LIFETIME ?
				    "max_lifetime" : "budget",
				    c.total_syscalls, c.write_bytes,
				    c.elapsed_ns,
				    sig == SIGKILL ? "SIGKILL" :
				    sig == SIGTERM ? "SIGTERM" : "log");
	trace_agent_session_reap(ns, &c, v, sig);
	return sig;
}

/* The strongest verdict on @ns or any of its ancestors. */
static int agent_ns_subtree_signal(struct agent_namespace *ns)
{
	int sig = 0, s;

	for (; !agent_ns_is_init(ns); ns = ns->parent) {
		s = READ_ONCE(ns->reap_signal);
		if (s == SIGKILL)
			return SIGKILL;
		if (s)
			sig = s;
	}
	return sig;
}

/* The signal for process @p: any live thread tells its namespace. */
static int agent_ns_process_signal(struct task_struct *p)
{
	struct task_struct *t;
	int sig = 0;

	for_each_thread(p, t) {
		task_lock(t);
		if (t->nsproxy) {
			sig = agent_ns_subtree_signal(t->nsproxy->agent_ns);
			task_unlock(t);
			break;
		}
		task_unlock(t);
	}
	return sig;
}

/*
 * One pass over all processes for all doomed namespaces: each namespace's
 * verdict is parked in ns->reap_signal first, so the walk is O(processes)
 * rather than O(processes * namespaces). A process is signalled when its
 * namespace or any ancestor of it is doomed.
 */
static void agent_ns_signal_doomed(void)
{
	struct task_struct *p;
	int restarts = 0;
	unsigned int n;
	bool alive;

again:
	n = 0;
	rcu_read_lock();
	for_each_process(p) {
		int sig = agent_ns_process_signal(p);

		if (sig)
			group_send_sig_info(sig, SEND_SIG_PRIV, p, PIDTYPE_TGID);
		if (++n % AGENT_NS_REAP_BATCH)
			continue;
		/* Yield now and then; p pins our place in the task list. */
		get_task_struct(p);
		rcu_read_unlock();
		cond_resched();
		rcu_read_lock();
		alive = pid_alive(p);
		put_task_struct(p);
		if (!alive) {
			/* Our place is gone: start over, a signal twice is fine. */
			rcu_read_unlock();
			if (++restarts > AGENT_NS_REAP_RESTARTS)
				return;
			goto again;
		}
	}
	rcu_read_unlock();
}

/*
 * One walk: judge every namespace (yielding between namespaces, each one
 * pinned while the RCU read section is dropped), then signal. Namespaces
 * created while it runs are judged on the next walk. It re-arms only
 * while some agent namespace exists; creation arms it again.
 */
static void agent_ns_reap(struct work_struct *work)
{
	u64 now = ktime_get_boottime_ns();
	struct agent_namespace *ns, *prev = NULL;
	bool doomed = false;

	/* kernel.agent_ns.enabled=0: no action at all. */
	if (!READ_ONCE(sysctl_agent_ns_enabled))
		goto rearm;

	rcu_read_lock();
	list_for_each_entry_rcu(ns, &agent_ns_list, list) {
		int sig;

		/* Dying: no process is left in it to act on. */
		if (!__ns_ref_get(&ns->ns))
			continue;
		rcu_read_unlock();
		if (prev)
			put_agent_ns(prev);
		prev = ns;

		sig = agent_ns_verdict(ns, now);
		WRITE_ONCE(ns->reap_signal, sig);
		doomed |= sig != 0;

		cond_resched();
		rcu_read_lock();
	}
	rcu_read_unlock();
	if (prev)
		put_agent_ns(prev);

	if (doomed)
		agent_ns_signal_doomed();
rearm:
	if (atomic_read(&agent_ns_live))
		schedule_delayed_work(&agent_ns_reaper, AGENT_NS_REAP_INTERVAL);
}

/* sysctl: kernel.agent_ns.{enabled,max_lifetime} */

/*
 * The syscall work bit of every task inside a namespace follows
 * kernel.agent_ns.enabled, the way syscall tracepoints set theirs. Forks
 * take tasklist_lock for writing to fix the child up (below), so none is
 * missed; the task's lock orders us with its own namespace switches, so
 * the bit is never set on a task without counters.
 */
static void agent_ns_set_syscall_work(bool on)
{
#ifdef CONFIG_GENERIC_ENTRY
	struct task_struct *g, *t;

	read_lock(&tasklist_lock);
	for_each_process_thread(g, t) {
		task_lock(t);
		if (on && t->agent_counters)
			set_task_syscall_work(t, SYSCALL_AGENT_NS);
		else
			clear_task_syscall_work(t, SYSCALL_AGENT_NS);
		task_unlock(t);
	}
	read_unlock(&tasklist_lock);
#endif
}

static int agent_ns_enabled_handler(const struct ctl_table *table, int dir,
				    void *buffer, size_t *lenp, loff_t *ppos)
{
	bool on;
	int ret;

	mutex_lock(&agent_ns_enabled_mutex);
	ret = proc_dointvec_minmax(table, dir, buffer, lenp, ppos);
	on = READ_ONCE(sysctl_agent_ns_enabled);
	if (!ret && SYSCTL_USER_TO_KERN(dir) &&
	    on != static_key_enabled(&agent_ns_counting_key)) {
		if (on)
			static_branch_enable(&agent_ns_counting_key);
		else
			static_branch_disable(&agent_ns_counting_key);
		agent_ns_set_syscall_work(on);
	}
	mutex_unlock(&agent_ns_enabled_mutex);
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
	BUILD_BUG_ON(hweight64(CLONE_NEWAGENT) != 1);
	/*
	 * AGENT_NS, the type in the trees, must name no upstream namespace
	 * and stay out of every flag unshare(2) accepts (check_unshare_flags()),
	 * or unshare(AGENT_NS) would mean something.
	 */
	BUILD_BUG_ON(!is_power_of_2(AGENT_NS) || AGENT_NS > U32_MAX);
	BUILD_BUG_ON(AGENT_NS & (CLONE_NS_ALL | CLONE_THREAD | CLONE_FS |
				 CLONE_SIGHAND | CLONE_VM | CLONE_FILES |
				 CLONE_SYSVSEM | UNSHARE_EMPTY_MNTNS));
	/* The initial id and inode next to the upstream ones, colliding with none. */
	BUILD_BUG_ON(AGENT_NS_INIT_ID - MNT_NS_INIT_ID != 1);
	BUILD_BUG_ON(MNT_NS_ANON_INO - AGENT_NS_INIT_INO != 1);

	agent_ns_cachep = KMEM_CACHE(agent_namespace, SLAB_PANIC | SLAB_ACCOUNT);
	__ns_tree_add_raw(&init_agent_ns.ns, &agent_ns_tree);
}

static int __init agent_ns_late_init(void)
{
	register_sysctl_init("kernel/agent_ns", agent_ns_sysctls);
	return 0;
}
late_initcall(agent_ns_late_init);

#if IS_ENABLED(CONFIG_AGENT_NS_KUNIT_TEST)
#include <kunit/test.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>

/* Tests of the reaper's verdict: a pure function of limits and clocks. */

#define T_SEC	((u64)NSEC_PER_SEC)
#define T_LIFE	(86400ULL * T_SEC)

static const struct agent_ns_budget t_none;

static enum agent_ns_verdict t_judge(const struct agent_ns_budget *b,
				     u64 syscalls, u64 bytes, u64 start,
				     u64 now, u64 life)
{
	struct agent_ns_counters c = {
		.total_syscalls = syscalls,
		.write_bytes = bytes,
	};

	return agent_ns_judge(b, &c, start, now, life);
}

static void agent_ns_test_no_limits(struct kunit *test)
{
	u64 big = U64_MAX / 2;

	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, 0, 0, T_LIFE),
			AGENT_NS_WITHIN);
	KUNIT_EXPECT_EQ(test, t_judge(&t_none, big, big, 1000, 1000 + T_SEC,
				      T_LIFE), AGENT_NS_WITHIN);
	/* No lifetime limit at all (0): even a very old one is within. */
	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, 0, U64_MAX, 0),
			AGENT_NS_WITHIN);
}

/* A namespace created after the walk sampled now: judged next walk. */
static void agent_ns_test_created_mid_walk(struct kunit *test)
{
	struct agent_ns_budget b = {
		.max_syscalls = 1, .max_write_bytes = 1, .max_elapsed_ns = 1,
		.action = AGENT_NS_BUDGET_SIGKILL,
	};
	u64 now = 5000 * T_SEC;
	u64 starts[] = { now + 1, now + T_SEC, U64_MAX };
	int i;

	for (i = 0; i < ARRAY_SIZE(starts); i++) {
		KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, starts[i], now, 1),
				AGENT_NS_WITHIN);
		KUNIT_EXPECT_EQ(test, t_judge(&b, 10, 10, starts[i], now,
					      T_LIFE), AGENT_NS_WITHIN);
	}
	/* start == now: zero elapsed, within a lifetime of 1 ns. */
	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, now, now, 1),
			AGENT_NS_WITHIN);
	/* The next walk sees it one tick older and judges it. */
	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, now + 1,
				      now + 60 * T_SEC, T_SEC),
			AGENT_NS_OVER_LIFETIME);
	KUNIT_EXPECT_EQ(test, t_judge(&b, 10, 0, now + 1, now + 60 * T_SEC,
				      T_LIFE), AGENT_NS_OVER_BUDGET);
}

static void agent_ns_test_lifetime(struct kunit *test)
{
	struct agent_ns_budget b = { .max_syscalls = 100 };
	u64 start = 7 * T_SEC;

	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, start, start + T_LIFE,
				      T_LIFE), AGENT_NS_WITHIN);
	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, start,
				      start + T_LIFE + 1, T_LIFE),
			AGENT_NS_OVER_LIFETIME);
	/* Lifetime wins over a budget that is also exceeded. */
	KUNIT_EXPECT_EQ(test, t_judge(&b, 1000, 0, start, start + T_LIFE + 1,
				      T_LIFE), AGENT_NS_OVER_LIFETIME);
	/* The largest max_lifetime the sysctl takes does not overflow. */
	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, 0, (u64)INT_MAX * T_SEC,
				      (u64)INT_MAX * T_SEC), AGENT_NS_WITHIN);
	KUNIT_EXPECT_EQ(test, t_judge(&t_none, 0, 0, 0,
				      (u64)INT_MAX * T_SEC + 1,
				      (u64)INT_MAX * T_SEC),
			AGENT_NS_OVER_LIFETIME);
}

static void agent_ns_test_budget(struct kunit *test)
{
	struct agent_ns_budget sys = { .max_syscalls = 100 };
	struct agent_ns_budget wr = { .max_write_bytes = 4096 };
	struct agent_ns_budget el = { .max_elapsed_ns = 30 * T_SEC };
	struct agent_ns_budget all = {
		.max_syscalls = 100, .max_write_bytes = 4096,
		.max_elapsed_ns = 30 * T_SEC,
	};
	u64 s = T_SEC;

	/* At the limit is within, past it is over; 0 means no limit. */
	KUNIT_EXPECT_EQ(test, t_judge(&sys, 100, 1 << 30, s, s, T_LIFE),
			AGENT_NS_WITHIN);
	KUNIT_EXPECT_EQ(test, t_judge(&sys, 101, 0, s, s, T_LIFE),
			AGENT_NS_OVER_BUDGET);
	KUNIT_EXPECT_EQ(test, t_judge(&wr, 1 << 30, 4096, s, s, T_LIFE),
			AGENT_NS_WITHIN);
	KUNIT_EXPECT_EQ(test, t_judge(&wr, 0, 4097, s, s, T_LIFE),
			AGENT_NS_OVER_BUDGET);
	KUNIT_EXPECT_EQ(test, t_judge(&el, 1 << 30, 1 << 30, s,
				      s + 30 * T_SEC, T_LIFE),
			AGENT_NS_WITHIN);
	KUNIT_EXPECT_EQ(test, t_judge(&el, 0, 0, s, s + 30 * T_SEC + 1,
				      T_LIFE), AGENT_NS_OVER_BUDGET);
	/* Any one limit of several is enough. */
	KUNIT_EXPECT_EQ(test, t_judge(&all, 100, 4096, s, s + 30 * T_SEC,
				      T_LIFE), AGENT_NS_WITHIN);
	KUNIT_EXPECT_EQ(test, t_judge(&all, 101, 0, s, s, T_LIFE),
			AGENT_NS_OVER_BUDGET);
	KUNIT_EXPECT_EQ(test, t_judge(&all, 0, 4097, s, s, T_LIFE),
			AGENT_NS_OVER_BUDGET);
	KUNIT_EXPECT_EQ(test, t_judge(&all, 0, 0, s, s + 31 * T_SEC, T_LIFE),
			AGENT_NS_OVER_BUDGET);
	/* elapsed_ns in the counters is ignored: the walk's clock counts. */
	{
		struct agent_ns_counters c = { .elapsed_ns = U64_MAX };

		KUNIT_EXPECT_EQ(test, agent_ns_judge(&el, &c, s, s, T_LIFE),
				AGENT_NS_WITHIN);
	}
}

static void agent_ns_test_signal(struct kunit *test)
{
	u32 a;

	for (a = 0; a <= AGENT_NS_BUDGET_SIGKILL + 1; a++) {
		KUNIT_EXPECT_EQ(test,
				agent_ns_verdict_signal(AGENT_NS_WITHIN, a), 0);
		KUNIT_EXPECT_EQ(test,
				agent_ns_verdict_signal(AGENT_NS_OVER_LIFETIME,
							a), SIGKILL);
	}
	KUNIT_EXPECT_EQ(test, agent_ns_verdict_signal(AGENT_NS_OVER_BUDGET,
						      AGENT_NS_BUDGET_LOG), 0);
	KUNIT_EXPECT_EQ(test, agent_ns_verdict_signal(AGENT_NS_OVER_BUDGET,
						      AGENT_NS_BUDGET_SIGTERM),
			SIGTERM);
	KUNIT_EXPECT_EQ(test, agent_ns_verdict_signal(AGENT_NS_OVER_BUDGET,
						      AGENT_NS_BUDGET_SIGKILL),
			SIGKILL);
}

/*
 * A counter read from another CPU is never half an update. The writer
 * moves its slot across the 32-bit boundary and back (0xffffffff <->
 * 0x100000000), so a read split into two 32-bit loads shows 0 or
 * 0x1ffffffff. Meant for 32-bit kernels (kunit.py --arch=i386); with one
 * CPU the two only interleave where the writer is preempted.
 */
struct agent_ns_tear {
	struct agent_ns_pcpu __percpu *c;
	unsigned long flips;
	bool started;
};

static int agent_ns_tear_writer(void *arg)
{
	struct agent_ns_tear *t = arg;

	agent_ns_add(t->c, AGENT_NS_WRITE_BYTES, 0xffffffffULL);
	/* Pairs with the reader's acquire: it sees the first value. */
	smp_store_release(&t->started, true);
	while (!kthread_should_stop()) {
		agent_ns_add(t->c, AGENT_NS_WRITE_BYTES, 1);
		agent_ns_add(t->c, AGENT_NS_WRITE_BYTES, U64_MAX);
		t->flips++;
		cond_resched();
	}
	return 0;
}

static void agent_ns_test_counter_tear(struct kunit *test)
{
	struct agent_ns_tear t = {};
	unsigned long reads = 0, torn = 0, end;
	struct task_struct *writer;
	u64 v, bad = 0;
	int cpu;

	t.c = alloc_percpu(struct agent_ns_pcpu);
	KUNIT_ASSERT_NOT_NULL(test, t.c);
	cpu = cpumask_next(raw_smp_processor_id(), cpu_online_mask);
	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	writer = kthread_create(agent_ns_tear_writer, &t, "agent_ns_tear");
	if (IS_ERR(writer)) {
		free_percpu(t.c);
		KUNIT_FAIL(test, "kthread_create: %ld", PTR_ERR(writer));
		return;
	}
	kthread_bind(writer, cpu);
	wake_up_process(writer);
	/* Pairs with the writer's release of its first value. */
	while (!smp_load_acquire(&t.started))
		cond_resched();

	end = jiffies + msecs_to_jiffies(200);
	while (time_before(jiffies, end)) {
		v = agent_ns_pcpu_read(per_cpu_ptr(t.c, cpu),
				       AGENT_NS_WRITE_BYTES);
		if (v != 0xffffffffULL && v != 0x100000000ULL) {
			torn++;
			bad = v;
		}
		if (!(++reads % 1024))
			cond_resched();
	}
	kthread_stop(writer);
	free_percpu(t.c);

	kunit_info(test, "%lu reads of CPU %d's slot over %lu flips",
		   reads, cpu, t.flips);
	KUNIT_EXPECT_EQ_MSG(test, torn, 0, "e.g. %#llx", bad);
	KUNIT_EXPECT_GT(test, t.flips, 0);
}

static struct kunit_case agent_ns_test_cases[] = {
	KUNIT_CASE(agent_ns_test_no_limits),
	KUNIT_CASE(agent_ns_test_created_mid_walk),
	KUNIT_CASE(agent_ns_test_lifetime),
	KUNIT_CASE(agent_ns_test_budget),
	KUNIT_CASE(agent_ns_test_signal),
	KUNIT_CASE(agent_ns_test_counter_tear),
	{}
};

static struct kunit_suite agent_ns_test_suite = {
	.name = "agent_ns",
	.test_cases = agent_ns_test_cases,
};

kunit_test_suite(agent_ns_test_suite);
#endif /* CONFIG_AGENT_NS_KUNIT_TEST */
