/* SPDX-License-Identifier: MIT */
/*
 * ring.c: the single-producer, single-consumer span ring of ring.h.
 *
 * head and tail are free-running 64-bit counters (they cannot wrap in the
 * life of a process, and the arithmetic below is modular anyway); a slot
 * index is counter & mask. The ring holds head - tail records, and is full
 * when that difference exceeds mask.
 *
 * The producer owns head, dropped and cached_tail; the consumer owns
 * tail. Each side reads its own counter relaxed (nobody else writes it)
 * and the other's with acquire, and advances its own with a release store:
 *   - producer: fill slot, release head  ->  consumer: acquire head, copy;
 *   - consumer: copy slot, release tail  ->  producer: acquire tail, reuse.
 * The second pair is what stops the producer overwriting a slot the
 * consumer is still copying.
 *
 * cached_tail is the producer's last acquired view of tail. Since tail only
 * grows, a stale view only underestimates the free space, so the producer
 * re-reads tail (the consumer's cache line) only when the ring looks full.
 */
#include "ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

int ring_init(struct ring *r, size_t capacity)
{
	/* Round up to a power of two, at least 2, refusing sizes whose byte
	 * count would overflow size_t. */
	size_t cap = 2;
	while (cap < capacity) {
		if (cap > SIZE_MAX / 2 / sizeof(struct span_record)) {
			errno = ENOMEM;
			return -1;
		}
		cap <<= 1;
	}
	/* mmap, not malloc: the ring may be created from inside a hooked
	 * allocator. Anonymous pages come zeroed. */
	void *p = mmap(NULL, cap * sizeof(struct span_record), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	r->slots = p;
	r->mask = cap - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->dropped, 0);
	r->cached_tail = 0;
	atomic_init(&r->tail, 0);
	return 0;
}

void ring_destroy(struct ring *r)
{
	if (r->slots != NULL)
		munmap(r->slots, (size_t)(r->mask + 1) * sizeof(struct span_record));
	r->slots = NULL;
	r->mask = 0;
}

struct span_record *ring_reserve(struct ring *r)
{
	/* Only this thread writes head: relaxed is enough to read it back. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (head - r->cached_tail > r->mask) {
		/* Looks full: refresh the view of tail. Acquire pairs with the
		 * consumer's release in ring_consume(), so its copy of the slot
		 * we are about to reuse has finished. */
		r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head - r->cached_tail > r->mask) {
			/* A relaxed RMW rather than load+store: a signal handler
			 * on this thread dropping too cannot lose a count. The
			 * drop path is the rare one. */
			atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
			return NULL;
		}
	}
	return &r->slots[head & r->mask];
}

void ring_publish(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* Release: the record's plain stores become visible before head. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

struct span_record *ring_reserve_next(struct ring *r)
{
	uint64_t next = atomic_load_explicit(&r->head, memory_order_relaxed) + 1;
	if (next - r->cached_tail > r->mask) {
		r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (next - r->cached_tail > r->mask)
			return NULL;
	}
	return &r->slots[next & r->mask];
}

void ring_publish_two(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	atomic_store_explicit(&r->head, head + 2, memory_order_release);
}

size_t ring_consume(struct ring *r, struct span_record *out, size_t max)
{
	/* Only this thread writes tail. */
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* Acquire pairs with ring_publish(): records up to head are complete. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t ready = head - tail;
	size_t n = ready < max ? (size_t)ready : max;
	if (n == 0)
		return 0;
	/* At most two runs: up to the end of the slots, then from the start. */
	size_t first = (size_t)(tail & r->mask);
	size_t run = (size_t)(r->mask + 1) - first;
	if (run > n)
		run = n;
	memcpy(out, &r->slots[first], run * sizeof *out);
	if (run < n)
		memcpy(out + run, &r->slots[0], (n - run) * sizeof *out);
	/* Release: our copies are done before the producer may reuse them. */
	atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

uint64_t ring_dropped(const struct ring *r)
{
	return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

size_t ring_discard(struct ring *r)
{
	/* No other side runs (contract): relaxed would do; release keeps the
	 * usual pairing should a consumer start right after. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	atomic_store_explicit(&r->tail, head, memory_order_release);
	r->cached_tail = head;
	atomic_store_explicit(&r->dropped, 0, memory_order_relaxed);
	return (size_t)(head - tail);
}
