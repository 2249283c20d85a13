/* SPDX-License-Identifier: MIT */
/*
 * The topic tests' fixture, on top of the core one (harness.h): one actor
 * behaviour, tf_b, that publishes, subscribes, migrates, blocks and stops
 * on commands (struct tf_cmd) from the test thread or from other actors,
 * and logs everything it sees into a test-owned struct tf_rec: topic
 * deliveries with their struct pn_topic_info, the topic events, its own
 * subscribes and unsubscribes, its moves.
 *
 * The actor also checks, as it goes, what only it can see at the right
 * moment: no delivery at or before a subscription's start, none after an
 * unsubscribe made on its home shard or after PN_MSG_TOPIC_CLOSED, none
 * before PN_MSG_TOPIC_SUBSCRIBED for a subscription made away from home,
 * sequence numbers strictly increasing, pn_topic_delivery() NULL for every
 * other message, payloads intact. A violation is counted in bad and the
 * first one described in why.
 *
 * Threads: the actor writes a log entry or a result, then publishes its
 * count with a release store (nlog, ndel, nrc); the test reads entries only
 * below a count it loaded (acquire), or once the runtime is shut down.
 */
#ifndef PN_TESTS_CORE_TOPIC_FIX_H
#define PN_TESTS_CORE_TOPIC_FIX_H

#include "harness.h"

#define TF_CMD	0x2100u /* struct tf_cmd, from the test: logs a result */
#define TF_GO	0x2101u /* struct tf_cmd, from an actor: no result */
#define TF_KICK 0x2102u /* a stream's next burst */
#define TF_APP	0x2200u /* the type published messages have by default */

#define TF_LOG	 16384
#define TF_RC	 256
#define TF_SUBS	 4
#define TF_OPTS	 6
#define TF_BUF	 (65536 + 64)
#define TF_HDR	 16 /* payload header: pub, cnt, key (if len >= 16) */
#define TF_NPUBS 64 /* publisher ids (tf_rec.id) the order checks track */

enum tf_op {
	TF_NOP,
	TF_SUB,		/* subscribe(topic, opts[opts]): rc, start */
	TF_UNSUB,	/* unsubscribe(topic) */
	TF_PUB,		/* publish n now (stops at the first error): rc */
	TF_TRY,		/* one publish: type a, key, data v (a pointer), len */
	TF_STREAM,	/* publish n, burst per turn (v: timer period ns) */
	TF_STREAM_END,	/* end the stream now */
	TF_WRITABLE,	/* pn_topic_notify_writable(topic) */
	TF_MIGRATE,	/* pn_migrate(a) */
	TF_MIGRATE_PID, /* pn_migrate_pid(pid, a) */
	TF_STOP,	/* return PN_STOP */
	TF_FAIL,	/* return a (< 0): a crash */
	TF_KILL,	/* pn_kill(pid) */
	TF_BLOCK,	/* spin until tf_release (bounded by H_WAIT) */
	TF_CLOSE,	/* pn_topic_close(topic) from the handler */
	TF_SUB_GO,	/* subscribe, then send pid a TF_GO publish order
			 * (n, len, keymode, key) once active */
	TF_PUB_CLOSE,	/* publish n, then pn_topic_close(topic) */
	TF_EXPECT,	/* the test subscribes it from outside: track topic */
};
#define TF_OPTS_NULL 0xffffu /* TF_SUB with opts NULL */

/* How a publish picks its key: cnt (the publisher's counter), cnt % key,
 * or key itself. */
enum tf_keymode { TF_KEY_CNT, TF_KEY_MOD, TF_KEY_FIXED };

struct tf_cmd {
	uint16_t op;	/* enum tf_op */
	uint16_t opts;	/* TF_SUB: index into tf_rec.opts */
	int32_t a;	/* shard, return code, type */
	uint32_t topic; /* topic id */
	uint32_t n;	/* messages */
	uint32_t len;	/* payload bytes */
	uint32_t keymode, burst;
	uint64_t key;
	uint64_t v;
	pn_pid pid;
};

enum tf_kind {
	TF_K_DLV = 1,	 /* a topic delivery */
	TF_K_SUB,	 /* its own subscribe: reason = rc, seq = start */
	TF_K_UNSUB,	 /* its own unsubscribe: reason = rc */
	TF_K_SUBSCRIBED, /* PN_MSG_TOPIC_SUBSCRIBED: seq */
	TF_K_WRITABLE,	 /* PN_MSG_TOPIC_WRITABLE */
	TF_K_CLOSED,	 /* PN_MSG_TOPIC_CLOSED: reason, seq */
	TF_K_MIGRATED,	 /* PN_MSG_MIGRATED: reason = status, key = to */
	TF_K_CLEANUP,	 /* its cleanup: reason */
};

struct tf_ent {
	uint8_t kind;	/* enum tf_kind */
	uint8_t ok;	/* delivery: payload intact, to == self */
	uint16_t shard; /* where it was handled */
	uint32_t topic, type, len, gap, conflated;
	uint32_t pub, cnt; /* from the payload header (len >= TF_HDR) */
	int32_t reason;	   /* delivery: the first wrong payload byte, or -1 */
	uint64_t seq, key;
	pn_pid from;
	uintptr_t data; /* pn_msg_data() */
};

struct tf_sub {
	uint32_t topic;
	uint8_t state; /* enum: none, pending, on, leaving (away unsub) */
	uint64_t start, last;
	struct tf_cmd go; /* TF_SUB_GO away: sent on SUBSCRIBED */
	bool has_go;
};

struct tf_rec {
	/* set by the test before the spawn */
	int id;
	struct pn_topic_sub_opts opts[TF_OPTS];
	bool keep_on_shutdown; /* a stream goes on after PN_MSG_SHUTDOWN */
	/* Set by the test once pn_topic_unsubscribe_pid() returned: topic
	 * id + 1 of which any later delivery is a violation (0: none). */
	_Atomic uint32_t gone;
	/* written by the actor */
	pn_pid self;
	struct pn_ctx *_Atomic ctx; /* the last handler's (-EPERM checks) */
	_Atomic int tid; /* its shard thread's, at the last handler */
	_Atomic bool started;
	_Atomic unsigned shard;
	struct tf_ent log[TF_LOG];
	_Atomic unsigned nlog, ndel, overflow;
	int rc[TF_RC];
	uint64_t start[TF_RC];
	_Atomic unsigned nrc;
	_Atomic unsigned bad;
	char why[200];
	/* publishing */
	_Atomic uint32_t published, eagain;
	_Atomic int pub_err; /* the first error a stream got */
	/* Per topic (the first TF_SUBS it publishes to): the payload
	 * counter, so that each publisher's messages of a topic are
	 * numbered 0, 1, 2...; past them the counter over all topics. */
	uint32_t pub_topic[TF_SUBS], pub_cnt[TF_SUBS];
	bool pub_used[TF_SUBS];
	_Atomic uint32_t pub_n[TF_SUBS];
	uint32_t cnt; /* publishes, over every topic */
	struct {
		struct tf_cmd c;
		uint32_t left;
		uint64_t timer;
		bool waiting; /* for PN_MSG_TOPIC_WRITABLE */
		bool kicked;
	} stream;
	_Atomic bool stream_done;
	/* blocking */
	_Atomic bool blocking;
	_Atomic bool block_timeout;
	unsigned cleanups;
	int cleanup_reason;
	struct tf_sub subs[TF_SUBS];
	unsigned char buf[TF_BUF];
};

/* @call must return @want (printing pn_last_error() if not). */
#define TF_EXPECT_RC(call, want)                                               \
	do {                                                                   \
		int rc_ = (call);                                              \
		if (rc_ != (want))                                             \
			print_message("%s: %d (%s)\n", #call, rc_,             \
				      pn_last_error());                        \
		assert_int_equal(rc_, (want));                                 \
	} while (0)

extern const struct pn_behaviour tf_b;

/* A predicate (pn_topic_filter_fn) passing keys with key % mod != rem,
 * and recording its calls; @arg is a struct tf_filt. */
struct tf_filt {
	uint64_t mod, rem; /* set by the test */
	_Atomic unsigned calls, passed, bad;
	_Atomic int tid; /* the thread of its last call */
	_Atomic uint64_t kmin, kmax;
};
bool tf_filter(void *arg, uint64_t key, const struct pn_msg *m);
void tf_filt_init(struct tf_filt *f, uint64_t mod, uint64_t rem);
/* Released by the test: TF_BLOCK handlers return. */
extern atomic_bool tf_release;

/* The payload a publisher with id @pub puts in message @cnt of @len bytes
 * with @key; and its check. */
void tf_payload(unsigned char *buf, size_t len, uint32_t pub, uint32_t cnt,
		uint64_t key);
/* -1 if intact, else the index of the first wrong byte (8: the key). */
int tf_payload_check(const unsigned char *buf, size_t len, uint32_t *pub,
		     uint32_t *cnt, uint64_t key);

/* h_config() for the topic tests: also no watchdog (blocked shards). */
void tf_config(struct pn_config *c);
void tf_init(struct tf_rec *r, int id);
/* Spawn @r's actor from outside on @shard, wait for its STARTED. */
pn_pid tf_spawn(struct tf_rec *r, int shard);
/* Send @c to @r (from the test thread) and wait for its result. */
int tf_do(struct tf_rec *r, struct tf_cmd c);
/* Send @c without waiting; tf_result() waits for result number @k. */
void tf_send(struct tf_rec *r, struct tf_cmd c);
int tf_result(struct tf_rec *r, unsigned k);
/* Shortcuts of tf_do(). */
int tf_sub(struct tf_rec *r, uint32_t topic, unsigned opts, uint64_t *start);
int tf_unsub(struct tf_rec *r, uint32_t topic);
int tf_pub(struct tf_rec *r, uint32_t topic, uint32_t n, uint32_t len);

/* Wait (bounded by H_WAIT; fails naming @what) until @cond(@arg). */
void tf_until(bool (*cond)(void *), void *arg, const char *what);
void tf_wait_ndel(struct tf_rec *r, unsigned n);
/* Wait until @r logged an entry of @kind for @topic; its index. */
int tf_wait_kind(struct tf_rec *r, uint8_t kind, uint32_t topic);
/* The same for its entry number @k (from 0) of @kind for @topic. */
int tf_wait_nth(struct tf_rec *r, uint8_t kind, uint32_t topic, unsigned k);
/* Deliveries of @topic from publisher @pub after entry @from; wait until
 * there are @want. */
unsigned tf_count_pub(const struct tf_rec *r, uint32_t topic, unsigned from,
		      uint32_t pub);
void tf_wait_pub(struct tf_rec *r, uint32_t topic, unsigned from, uint32_t pub,
		 unsigned want);
/* Wait until @r's actor has started blocking (TF_BLOCK). */
void tf_wait_blocking(struct tf_rec *r);
void tf_wait_stream(struct tf_rec *r);
/* Wait until topic @id has @n subscribers / is numbered up to @seq
 * (exactly); until @r's last delivery of @topic is at least @seq. */
void tf_wait_subscribers(uint32_t id, uint32_t n);
void tf_wait_seq(uint32_t id, uint64_t seq);
void tf_wait_last(struct tf_rec *r, uint32_t topic, uint64_t seq);

/* Index of @r's @k-th entry of @kind for @topic after @from, or -1. */
int tf_find(const struct tf_rec *r, uint8_t kind, uint32_t topic, unsigned from,
	    unsigned k);
unsigned tf_count(const struct tf_rec *r, uint8_t kind, uint32_t topic,
		  unsigned from);
/* Its last delivery of @topic (NULL: none). */
const struct tf_ent *tf_last(const struct tf_rec *r, uint32_t topic);
/* Assert no violation and no log overflow (prints why). */
void tf_assert_clean(const struct tf_rec *r);
/*
 * Assert @r's deliveries of @topic from entry @from on (up to its next
 * TF_K_UNSUB or TF_K_CLOSED of @topic) are exactly seq @start + 1 ..
 * @end (@end 0: any end), gap-free, gap and conflated 0, payloads intact,
 * each publisher's counters consecutive. Returns how many.
 */
unsigned tf_assert_window(const struct tf_rec *r, uint32_t topic, unsigned from,
			  uint64_t start, uint64_t end);
/* The same for the entries from @from to @to (excluded). */
unsigned tf_assert_range(const struct tf_rec *r, uint32_t topic, unsigned from,
			 unsigned to, uint64_t start, uint64_t end);

/* What @r published to @topic (accepted publishes). */
uint32_t tf_published(const struct tf_rec *r, uint32_t topic);

struct pn_topic_stats tf_stats(uint32_t id);
/* Print @st on one line (for a failure's context). */
void tf_print_stats(const char *what, const struct pn_topic_stats *st);
/* cmocka teardown: release blocked handlers, then h_teardown(). */
int tf_teardown(void **state);
/* Wait until topic @id's delivered and filtered counts are at least
 * @delivered and @filtered (fails after H_WAIT); its counters then. */
struct pn_topic_stats tf_stats_reach(uint32_t id, uint64_t delivered,
				     uint64_t filtered);
uint32_t tf_open(const char *name, unsigned home, uint32_t max_lag);

#endif /* PN_TESTS_CORE_TOPIC_FIX_H */
