/* SPDX-License-Identifier: MIT */
/*
 * ring.h: a bounded single-producer, single-consumer queue of span
 * records. Each hooked thread owns one ring and is its only producer; the
 * exporter thread is the only consumer of every ring.
 *
 * Owns: the slots (a power-of-two count of struct span_record, allocated
 * once, before the producer uses the ring) and two counters. The producer
 * never waits: when the ring is full the record is dropped and counted.
 * Neither side takes a lock, allocates or makes a system call after
 * ring_init(). Memory order: the producer publishes a slot with a release
 * store of head; the consumer reads head with acquire, copies the slot,
 * then frees it with a release store of tail.
 *
 *   slots: [ ... consumed ... | tail -> ready for consumer ... | head -> free ... ]
 *   head and tail are free-running uint64 counters; slot = counter & mask.
 */
#ifndef STDBTEL_RING_H
#define STDBTEL_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span_record.h"

struct ring {
	struct span_record *slots;
	uint64_t mask;             /* capacity - 1 */
	/*
	 * Written by the producer only; own cache line. The fields the other
	 * side reads are _Atomic so that no access can be a plain, racy one;
	 * ring.c uses the explicit orders below, never the seq_cst default.
	 */
	_Alignas(64) _Atomic uint64_t head; /* next slot to write (atomic, release) */
	_Atomic uint64_t dropped;  /* records refused because the ring was full (atomic, relaxed) */
	uint64_t cached_tail;      /* producer's last view of tail: avoids reading the shared line */
	/* Written by the consumer only; own cache line. */
	_Alignas(64) _Atomic uint64_t tail; /* next slot to read (atomic, release) */
};

/*
 * Allocates capacity slots (rounded up to a power of two, at least 2) with
 * mmap (not malloc: the ring may be created inside a hooked allocator).
 * Returns 0, or -1 (errno set) when memory cannot be had.
 */
int ring_init(struct ring *r, size_t capacity);

/* Releases the slots. Only when neither side can touch the ring again. */
void ring_destroy(struct ring *r);

/*
 * Producer: returns the slot to fill, or NULL when the ring is full (the
 * drop is counted). Fill it, then call ring_publish(). At most one
 * reserved, unpublished slot at a time. Wait-free, async-signal-safe
 * provided a signal handler on the same thread does not interleave a
 * reserve/publish pair with the interrupted one (callers guard with a
 * per-thread flag).
 */
struct span_record *ring_reserve(struct ring *r);
void ring_publish(struct ring *r);

/*
 * Producer, for two records that must reach the consumer together (a
 * span's stack and the span): after ring_reserve() returned a slot, the
 * slot after it, or NULL when the ring has no room for both (nothing is
 * counted: the caller goes on with the first slot alone). Fill both, then
 * ring_publish_two(): the consumer sees both or neither.
 */
struct span_record *ring_reserve_next(struct ring *r);
void ring_publish_two(struct ring *r);

/*
 * Consumer: copies up to max ready records into out, in order, frees
 * their slots, and returns how many were copied.
 */
size_t ring_consume(struct ring *r, struct span_record *out, size_t max);

/* Records dropped so far (readable from any thread). */
uint64_t ring_dropped(const struct ring *r);

/*
 * Empties the ring without reading it and zeroes its drop count; the slots
 * stay allocated. For a fork child, whose copy of the ring holds records
 * the parent writes itself: only while neither side can run concurrently
 * (one thread, signals blocked). Returns the number of records discarded.
 */
size_t ring_discard(struct ring *r);

#endif
