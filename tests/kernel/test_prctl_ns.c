// SPDX-License-Identifier: GPL-2.0
/*
 * Hermetic round trip of the primary interface: prctl(PR_SET_AGENT_NS)
 * creates a namespace, and /proc/self/agent_session and the GET prctls
 * must agree about it. Also the error paths of creation, the intent tag
 * and the all-zero view of the init namespace.
 */
#include "agentns_test.h"

static const struct agent_ns_budget valid_budget = {
	.max_syscalls = 1000000,
	.action = AGENT_NS_BUDGET_LOG,
};

static void get_intent(struct __test_metadata *_metadata,
		       char tag[AGENT_NS_INTENT_TAG_LEN])
{
	/* Poison first: the kernel must hand back a terminated string. */
	memset(tag, 0x7f, AGENT_NS_INTENT_TAG_LEN);
	CHECK(agent_prctl(PR_GET_AGENT_INTENT_TAG, (unsigned long)tag,
			  0, 0, 0) == 0,
	      "PR_GET_AGENT_INTENT_TAG: %s", strerror(errno));
	CHECK(memchr(tag, '\0', AGENT_NS_INTENT_TAG_LEN),
	      "intent tag is not NUL-terminated within 64 bytes");
}

/* Everything the init namespace must show; the caller is known to be in it. */
static void check_init_view(struct __test_metadata *_metadata)
{
	struct agent_ns_counters c, zero;
	char hex[SID_HEX_LEN + 1], tag[AGENT_NS_INTENT_TAG_LEN];
	long rc;

	own_session(_metadata, hex);
	CHECK(is_zero_hex(hex), "init namespace session is %s, want zeros",
	      hex);
	prctl_parent(_metadata, hex);
	CHECK(is_zero_hex(hex), "init namespace parent id is %s, want zeros",
	      hex);

	memset(&c, 0xff, sizeof(c));
	memset(&zero, 0, sizeof(zero));
	CHECK(agent_prctl(PR_GET_AGENT_COUNTERS, (unsigned long)&c,
			  0, 0, 0) == 0,
	      "PR_GET_AGENT_COUNTERS in init ns: %s", strerror(errno));
	CHECK(!memcmp(&c, &zero, sizeof(c)),
	      "init namespace counters are not all zero (syscalls=%llu)",
	      (unsigned long long)c.total_syscalls);

	get_intent(_metadata, tag);
	CHECK(tag[0] == '\0', "init namespace intent is '%s', want empty",
	      tag);

	rc = agent_prctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)"nope",
			 0, 0, 0);
	CHECK(rc == -1 && errno == EPERM,
	      "PR_SET_AGENT_INTENT_TAG in init ns: rc=%ld errno=%s, want EPERM",
	      rc, strerror(errno));

	rc = agent_prctl(PR_SET_AGENT_BUDGET_LIMITS,
			 (unsigned long)&valid_budget, 0, 0, 0);
	CHECK(rc == -1 && errno == EPERM,
	      "PR_SET_AGENT_BUDGET_LIMITS in init ns: rc=%ld errno=%s, want EPERM",
	      rc, strerror(errno));
}

static void enter_init_ns_and_check(struct __test_metadata *_metadata)
{
	int fd = open("/proc/1/ns/agent", O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0, "open /proc/1/ns/agent: %s", strerror(errno));
	CHECK(setns(fd, 0) == 0, "setns(init agent ns): %s", strerror(errno));
	close(fd);
	check_init_view(_metadata);
}

static void test_init_ns(struct __test_metadata *_metadata)
{
	char hex[SID_HEX_LEN + 1];

	own_session(_metadata, hex);
	if (is_zero_hex(hex)) {
		check_init_view(_metadata);
		return;
	}
	/* Started inside an agent namespace: look from pid 1's instead. */
	if (pid1_in_init_ns(_metadata)) {
		run_in_child(_metadata, "init namespace view", enter_init_ns_and_check);
		return;
	}
	note("neither this task nor pid 1 is in the init agent namespace: init view not checked");
}

/* Every unused argument must be zero; nothing may be created otherwise. */
static void test_unused_args(struct __test_metadata *_metadata)
{
	static const unsigned long args[4][4] = {
		{ 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 },
	};
	char before[SID_HEX_LEN + 1], after[SID_HEX_LEN + 1];
	long rc;
	int i;

	own_session(_metadata, before);
	for (i = 0; i < 4; i++) {
		rc = agent_prctl(PR_SET_AGENT_NS, args[i][0], args[i][1],
				 args[i][2], args[i][3]);
		CHECK(rc == -1 && errno == EINVAL,
		      "PR_SET_AGENT_NS with arg%d=1: rc=%ld errno=%s, want EINVAL",
		      i + 2, rc, strerror(errno));
		own_session(_metadata, after);
		CHECK(!strcmp(before, after),
		      "PR_SET_AGENT_NS with arg%d=1 changed the session", i + 2);
	}
}

/* Create, then check /proc, prctl, parent id and the fresh empty tag. */
static void create_and_check(struct __test_metadata *_metadata,
			     char session[SID_HEX_LEN + 1])
{
	char before[SID_HEX_LEN + 1], parent[SID_HEX_LEN + 1];
	char other[SID_HEX_LEN + 1], tag[AGENT_NS_INTENT_TAG_LEN];
	long rc;

	own_session(_metadata, before);
	rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
	CHECK(rc == 0, "PR_SET_AGENT_NS: %s", strerror(errno));

	own_session(_metadata, session);
	CHECK(!is_zero_hex(session), "session is all zero after creation");
	CHECK(strcmp(session, before), "session %s unchanged by creation",
	      session);
	proc_session(_metadata, getpid(), other);
	CHECK(!strcmp(session, other), "/proc/%d/agent_session %s != %s",
	      getpid(), other, session);

	prctl_parent(_metadata, parent);
	CHECK(!strcmp(parent, before),
	      "parent id %s, want the creator's session %s", parent, before);

	get_intent(_metadata, tag);
	CHECK(tag[0] == '\0', "fresh namespace has intent '%s', want empty",
	      tag);
}

static void set_intent(struct __test_metadata *_metadata, const char *tag)
{
	CHECK(agent_prctl(PR_SET_AGENT_INTENT_TAG, (unsigned long)tag,
			  0, 0, 0) == 0,
	      "PR_SET_AGENT_INTENT_TAG('%.20s...'): %s", tag, strerror(errno));
}

static void test_intent(struct __test_metadata *_metadata)
{
	char tag[AGENT_NS_INTENT_TAG_LEN], want[128];
	int i;

	set_intent(_metadata, "summarise-inbox");
	get_intent(_metadata, tag);
	CHECK(!strcmp(tag, "summarise-inbox"), "intent '%s', want '%s'",
	      tag, "summarise-inbox");

	/* Exactly 63 bytes fit; 100 bytes are cut to 63, not refused. */
	for (i = 0; i < 100; i++)
		want[i] = 'a' + i % 26;
	want[63] = '\0';
	set_intent(_metadata, want);
	get_intent(_metadata, tag);
	CHECK(strlen(tag) == 63 && !strcmp(tag, want),
	      "63-byte intent came back as '%s' (%zu bytes)", tag, strlen(tag));

	for (i = 0; i < 100; i++)
		want[i] = 'A' + i % 26;
	want[100] = '\0';
	set_intent(_metadata, want);
	get_intent(_metadata, tag);
	CHECK(strlen(tag) == 63 && !strncmp(tag, want, 63),
	      "100-byte intent came back as '%s' (%zu bytes), want its first 63",
	      tag, strlen(tag));
}

/* Capabilities are per task: lose CAP_SYS_ADMIN in a child only. */
static void eperm_without_cap(struct __test_metadata *_metadata)
{
	char before[SID_HEX_LEN + 1], after[SID_HEX_LEN + 1];
	long rc;

	own_session(_metadata, before);
	drop_cap_sys_admin(_metadata);

	rc = agent_prctl(PR_SET_AGENT_NS, 0, 0, 0, 0);
	CHECK(rc == -1 && errno == EPERM,
	      "PR_SET_AGENT_NS without CAP_SYS_ADMIN: rc=%ld errno=%s, want EPERM",
	      rc, strerror(errno));
	own_session(_metadata, after);
	CHECK(!strcmp(before, after), "session changed despite EPERM");

	rc = agent_prctl(PR_SET_AGENT_BUDGET_LIMITS,
			 (unsigned long)&valid_budget, 0, 0, 0);
	CHECK(rc == -1 && errno == EPERM,
	      "PR_SET_AGENT_BUDGET_LIMITS without CAP_SYS_ADMIN: rc=%ld errno=%s, want EPERM",
	      rc, strerror(errno));
}

static void test_other_reader(struct __test_metadata *_metadata,
			      const char *session)
{
	char hex[SID_HEX_LEN + 1];
	pid_t self = getpid(), pid;
	int rc;

	/* Another task reading our /proc file must see our session. */
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		proc_session(_metadata, self, hex);
		_exit(strcmp(hex, session) ? 1 : 0);
	}
	rc = wait_exit(_metadata, pid);
	CHECK(rc == 0, "/proc/%d/agent_session read by a child differs", self);
}

/* The init namespace shows zeros and refuses tags and budgets. */
TEST(init_namespace_view)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	test_init_ns(_metadata);
}

TEST(unused_args_einval)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	test_unused_args(_metadata);
}

/* Create, read back from another task, set intents, nest, args again. */
TEST(create_and_nest)
{
	char first[SID_HEX_LEN + 1], second[SID_HEX_LEN + 1];
	char parent[SID_HEX_LEN + 1], tag[AGENT_NS_INTENT_TAG_LEN];

	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);

	create_and_check(_metadata, first);
	note("created session %s", first);
	test_other_reader(_metadata, first);
	test_intent(_metadata);

	/* Nested creation: a new id, the previous one as parent, no tag. */
	create_and_check(_metadata, second);
	EXPECT_STRNE(first, second) TH_LOG("nested creation reused session %s", first);
	prctl_parent(_metadata, parent);
	EXPECT_STREQ(first, parent) TH_LOG("nested parent is not the creator's session");
	get_intent(_metadata, tag);
	EXPECT_STREQ("", tag) TH_LOG("nested namespace inherited an intent");

	test_unused_args(_metadata);
}

TEST(eperm_without_cap_sys_admin)
{
	require_agentns(_metadata);
	require_cap_sys_admin(_metadata);
	run_in_child(_metadata, "EPERM without CAP_SYS_ADMIN", eperm_without_cap);
}

TEST_HARNESS_MAIN
