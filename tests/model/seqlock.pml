/* SPDX-License-Identifier: MIT */
/*
 * The seqlock of core/base/seqlock.h: pn__seq_write_begin(),
 * pn__seq_write_end(), pn__seq_read_begin(), pn__seq_read_ok(); its users
 * are the name registry (core/sup/registry.c), the meter's per-actor table
 * (core/sched/meter.c, core/obs/metrics.c) and the flight recorder
 * (core/sched/flight.c).
 *
 * Modelled: one writer (one at a time is the caller's duty: the
 * registry's mutex, the owning shard) making W = 3 write sections over a
 * 2-word record; in section k it makes seq odd, stores w0 = k, then
 * w1 = k (one step each), and makes seq even (2k). Two readers, each
 * looping until it accepts a read: load seq into b, load w0, then w1 (one
 * step each), then pn__seq_read_ok(): b even and seq reloaded == b. The
 * readers do not skip an odd b themselves (the registry spins on it, the
 * others skip the record): the check inside pn__seq_read_ok() is what
 * makes that optional, so that is what is modelled.
 *
 * Memory model: sequentially consistent (spin's). This model checks the
 * interleavings: that the two sequence loads around the field loads are
 * enough, with the odd value, to reject every read a section overlaps.
 * That the C11 code gives the same order on weak hardware is the fences'
 * job (the release fence after the odd store, the acquire fence before
 * the reload, the release store of the even value and the acquire first
 * load: the pairing in seqlock.h), and what the two-thread test
 * (tests/core/base/test_seqlock.c, also under ThreadSanitizer) exercises.
 *
 * Properties:
 *  - A reader that accepts has read a consistent record (w0 == w1) and it
 *    is the record of the section its begin value names (w0 == b / 2).
 *  - No spurious rejection: a read begun after the last section (b == 2W)
 *    is accepted. (Spin checks safety only, so this assertion is what
 *    stands for "a reader ends once the writer has".)
 *
 * Variants:
 *  - MUTANT_NORECHECK (seqlock_mutant_norecheck.pml): the reader does not
 *    reload seq; b even is enough.
 *  - MUTANT_ODDOK (seqlock_mutant_oddok.pml): pn__seq_read_ok() does not
 *    test b for odd; an unchanged seq is enough.
 */

#define W	3		/* write sections */

byte seq;			/* 0 .. 2W: no wrap */
byte w0, w1;			/* the record */

proctype Writer()
{
	byte k = 1;

	do
	:: k <= W ->
		seq++;		/* pn__seq_write_begin(): odd */
		w0 = k;
		w1 = k;
		seq++;		/* pn__seq_write_end(): even */
		k++
	:: else -> break
	od
}

proctype Reader()
{
	byte b, r0, r1;
	bool ok;

	do
	::
		b = seq;	/* pn__seq_read_begin() */
		r0 = w0;
		r1 = w1;
		/* pn__seq_read_ok(): one step, the reload of seq */
#if defined(MUTANT_NORECHECK)
		ok = ((b & 1) == 0);
#elif defined(MUTANT_ODDOK)
		ok = (seq == b);
#else
		ok = ((b & 1) == 0 && seq == b);
#endif
		if
		:: ok ->
			assert(r0 == r1);
			assert(r0 == b / 2);
			break
		:: else ->
			assert(b != 2 * W)
		fi
	od
}

init
{
	atomic {
		run Writer();
		run Reader();
		run Reader()
	}
}
