/*
 * test_timerq.c: the timer heap against a plain array of deadlines,
 * under random arms, moves and removals; expiry comes in deadline order.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "timerq.h"

#define N	200

static struct timerq_entry	e[N];
static uint64_t			model[N];	/* 0: not armed */

/* The heap's order holds and every position is right. */
static int
heap_ok(const struct timerq *q)
{
	size_t	i;

	for (i = 0; i < q->n; i++) {
		if (q->heap[i]->pos != i + 1)
			return 0;
		if (i > 0 && q->heap[(i - 1) / 2]->due > q->heap[i]->due)
			return 0;
	}
	return 1;
}

int
main(void)
{
	struct timerq		 q;
	struct timerq_entry	*t;
	uint64_t		 now, last, min;
	size_t			 i, k, armed, bad = 0;
	int			 step;

	srandom(15);
	timerq_init(&q);
	CHECK(timerq_first(&q) == NULL, "an empty heap has a first entry");
	CHECK(timerq_expired(&q, UINT64_MAX) == NULL, "an empty heap expires");
	for (i = 0; i < N; i++)
		e[i].tag = (uint32_t)i;

	for (step = 0; step < 20000; step++) {
		k = (size_t)random() % N;
		if (random() % 3 == 0) {
			timerq_del(&q, &e[k]);
			model[k] = 0;
		} else {
			model[k] = 1 + (uint64_t)(random() % 100000);
			timerq_add(&q, &e[k], model[k]);
		}
		if (!heap_ok(&q))
			bad++;
	}
	CHECK(bad == 0, "the heap was out of order after %zu steps", bad);
	for (i = armed = 0, min = UINT64_MAX; i < N; i++) {
		if (model[i] != 0) {
			armed++;
			if (model[i] < min)
				min = model[i];
		}
		if (timerq_pending(&e[i]) != (model[i] != 0))
			bad++;
	}
	CHECK(bad == 0, "%zu entries pending where they should not be", bad);
	CHECK(q.n == armed, "%zu armed, the heap holds %zu", armed, q.n);
	CHECK(armed > 0 && timerq_first(&q)->due == min,
	    "the first deadline is not the earliest");

	/* Expiry: nothing before the earliest, then all in order. */
	CHECK(timerq_expired(&q, min - 1) == NULL, "expired before its time");
	now = 50000;
	last = 0;
	for (k = 0; (t = timerq_expired(&q, now)) != NULL; k++) {
		if (t->due < last || t->due > now || model[t->tag] != t->due ||
		    timerq_pending(t))
			bad++;
		last = t->due;
		model[t->tag] = 0;
	}
	CHECK(bad == 0, "%zu entries expired out of order", bad);
	for (i = 0; i < N; i++)
		if (model[i] != 0 && model[i] <= now)
			bad++;
	CHECK(bad == 0, "%zu due entries did not expire", bad);
	CHECK(k > 0 && heap_ok(&q), "expiry broke the heap (%zu expired)", k);
	timerq_free(&q);
	for (i = 0; i < N; i++)
		if (timerq_pending(&e[i]))
			bad++;
	CHECK(bad == 0 && q.n == 0, "entries still pending after the free");
	return test_done();
}
