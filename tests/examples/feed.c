// SPDX-License-Identifier: MIT
/*
 * A market-data feed fanned out to order books (README "Topics"). A feed
 * handler thread outside the runtime publishes quotes for 64 instruments
 * to the topic "md" (the key is the instrument). Eight order books, spread
 * over every shard, each subscribe to the instruments of their key range,
 * lossless: the feed waits when one falls max_lag behind. A top-of-book
 * display subscribes to everything with CONFLATE: when it falls behind it
 * gets only the latest quote of each instrument. Each book checks that its
 * quotes come in sequence and per instrument in the feed's order and
 * counts them; the display checks that the last quote of every instrument
 * reached it. Exit 0 when every count and price matches the feed's.
 */
#include "pinion.h"

#include <stdio.h>
#include <string.h>

#define INSTRUMENTS 64
#define BOOKS	    8
#define QUOTES	    200000
#define QUOTE	    0x200u /* struct quote, key = instrument */
#define END	    0x201u /* the feed is done (key 0: every book gets it) */
#define C_READY	    1
#define C_DONE	    2

struct quote {
	uint32_t instrument, n; /* n: this instrument's quote number */
	int64_t price;
};

struct book {
	unsigned id;
	uint64_t lo, hi, last_seq;
	uint32_t n[INSTRUMENTS];
	int64_t price[INSTRUMENTS];
	bool conflating, bad;
};

static uint32_t md;		      /* the topic */
static struct book result[BOOKS + 1]; /* each book's copy at END */

/* Books take key 0 (END) and their own range. The argument is the
 * book's state, which stays put: books do not migrate. */
static bool book_filter(void *arg, uint64_t key, const struct pn_msg *m)
{
	const struct book *b = arg;

	(void)m;
	return key == 0 || (key >= b->lo && key <= b->hi);
}

static int book_init(struct pn_ctx *ctx, void *state, const void *arg,
		     size_t len)
{
	struct book *b = state;
	unsigned i = *(const unsigned *)arg;
	struct pn_topic_sub_opts o = {.policy = PN_TOPIC_BACKPRESSURE};

	(void)len;
	b->id = i;
	if (i == BOOKS) { /* the display: everything, latest per key */
		o.policy = PN_TOPIC_CONFLATE;
		b->conflating = true;
	} else { /* instruments [lo, hi], and the END marker's key 0 */
		b->lo = i * (INSTRUMENTS / BOOKS) + 1;
		b->hi = b->lo + INSTRUMENTS / BOOKS - 1;
		o.filter = book_filter;
		o.filter_arg = b;
	}
	/* On the book's home shard: active when this returns. */
	if (pn_topic_subscribe(ctx, md, &o, &b->last_seq) < 0)
		return -1;
	pn_runtime_notify(pn_ctx_runtime(ctx), C_READY);
	return 0;
}

static int book_handle(struct pn_ctx *ctx, void *state, const struct pn_msg *m)
{
	struct book *b = state;
	const struct pn_topic_info *in = pn_topic_delivery(ctx);
	const struct quote *q = PN_MSG_AS(m, struct quote);

	if (!in)
		return 0; /* not a topic delivery */
	if (in->seq <= b->last_seq || (!b->conflating && !q && m->type != END))
		b->bad = true;
	b->last_seq = in->seq;
	if (m->type == END) { /* main reads it after the notify's wait */
		result[b->id] = *b;
		pn_runtime_notify(pn_ctx_runtime(ctx), C_DONE);
		return 0;
	}
	if (!q || q->instrument >= INSTRUMENTS ||
	    (!b->conflating && (in->key < b->lo || in->key > b->hi)) ||
	    q->n <= b->n[q->instrument])
		b->bad = true; /* out of range, or out of order */
	else if (!b->conflating && q->n != b->n[q->instrument] + 1)
		b->bad = true; /* a lossless book missed one */
	else {
		b->n[q->instrument] = q->n;
		b->price[q->instrument] = q->price;
	}
	return 0;
}

static const struct pn_behaviour book_b = {
	.name = "book",
	.state_size = sizeof(struct book),
	.init = book_init,
	.handle = book_handle,
};

int main(void)
{
	struct pn_config c;
	struct pn_runtime *rt;
	struct pn_producer *feed;
	uint32_t sent[INSTRUMENTS] = {0};
	int64_t last[INSTRUMENTS] = {0};
	struct quote q;
	int err = 0;

	pn_config_init(&c);
	c.no_pin = true;
	if (pn_runtime_create(&c, &rt) < 0 || pn_runtime_start(rt) < 0 ||
	    pn_topic_open(rt, "md", NULL, &md) < 0 ||
	    pn_producer_create(rt, &feed) < 0) {
		fprintf(stderr, "feed: %s\n", pn_last_error());
		return 1;
	}
	for (unsigned i = 0; i <= BOOKS && !err; i++) {
		struct pn_spawn_opts so = {
			.shard = PN_SHARD_ANY, .arg = &i, .arg_len = sizeof(i)};
		pn_pid pid;

		err = pn_runtime_spawn(rt, &book_b, &so, &pid);
	}
	/* Every book subscribed: from here on, nothing is missed. */
	for (unsigned i = 0; i <= BOOKS && !err; i++) {
		int code;

		err = pn_runtime_wait(rt, 10000000000ull, &code);
	}
	for (unsigned k = 0; k < QUOTES && !err; k++) {
		unsigned i = (k * 7) % INSTRUMENTS;

		q = (struct quote){i, ++sent[i], 1000 + (int64_t)(k % 97)};
		last[i] = q.price;
		err = pn_topic_publish_ext(feed, md, QUOTE, i + 1, &q,
					   sizeof(q), UINT64_MAX);
	}
	if (!err)
		err = pn_topic_publish_ext(feed, md, END, 0, NULL, 0,
					   UINT64_MAX);
	for (unsigned i = 0; i <= BOOKS && !err; i++) {
		int code;

		err = pn_runtime_wait(rt, 10000000000ull, &code);
	}
	if (err < 0)
		fprintf(stderr, "feed: %s\n", pn_last_error());
	struct pn_topic_stats st = {0};

	pn_topic_stats(rt, md, &st);
	pn_producer_destroy(feed);
	pn_runtime_shutdown(rt, 5000000000ull, NULL);
	for (unsigned i = 0; i <= BOOKS && !err; i++) {
		const struct book *b = &result[i];

		for (unsigned j = 0; j < INSTRUMENTS; j++) {
			bool mine = b->conflating ||
				    (j + 1 >= b->lo && j + 1 <= b->hi);

			if (b->bad ||
			    (mine &&
			     (b->n[j] != sent[j] || b->price[j] != last[j])) ||
			    (!mine && b->n[j])) {
				fprintf(stderr,
					"feed: book %u instrument %u: "
					"%u quotes, price %lld\n",
					i, j, b->n[j], (long long)b->price[j]);
				err = -1;
				break;
			}
		}
	}
	pn_runtime_destroy(rt);
	if (err)
		return 1;
	printf("feed: %u quotes to %u books and a conflating display, every "
	       "one in order (%llu delivered, %llu conflated, %llu refused)\n",
	       QUOTES, BOOKS, (unsigned long long)st.delivered,
	       (unsigned long long)st.conflated,
	       (unsigned long long)st.refused);
	return 0;
}
