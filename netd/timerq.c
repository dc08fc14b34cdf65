/*
 * timerq.c: a binary min-heap of timer deadlines (timerq.h). The heap
 * grows by doubling and shrinks when it is a quarter full, so it costs
 * a pointer per armed timer, not per timer.
 */
#include <stdlib.h>

#include "log.h"
#include "timerq.h"

#define TIMERQ_MIN	16

void
timerq_init(struct timerq *q)
{
	q->heap = NULL;
	q->n = q->cap = 0;
}

void
timerq_free(struct timerq *q)
{
	size_t	i;

	for (i = 0; i < q->n; i++)
		q->heap[i]->pos = 0;
	free(q->heap);
	timerq_init(q);
}

static void
timerq_set(struct timerq *q, size_t i, struct timerq_entry *e)
{
	q->heap[i] = e;
	e->pos = (uint32_t)i + 1;
}

static void
timerq_up(struct timerq *q, size_t i)
{
	struct timerq_entry	*e = q->heap[i];
	size_t			 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (q->heap[parent]->due <= e->due)
			break;
		timerq_set(q, i, q->heap[parent]);
		i = parent;
	}
	timerq_set(q, i, e);
}

static void
timerq_down(struct timerq *q, size_t i)
{
	struct timerq_entry	*e = q->heap[i];
	size_t			 c;

	while ((c = 2 * i + 1) < q->n) {
		if (c + 1 < q->n && q->heap[c + 1]->due < q->heap[c]->due)
			c++;
		if (e->due <= q->heap[c]->due)
			break;
		timerq_set(q, i, q->heap[c]);
		i = c;
	}
	timerq_set(q, i, e);
}

static void
timerq_resize(struct timerq *q, size_t cap)
{
	struct timerq_entry	**h;

	if ((h = reallocarray(q->heap, cap, sizeof(*h))) == NULL)
		fatal("reallocarray");
	q->heap = h;
	q->cap = cap;
}

void
timerq_add(struct timerq *q, struct timerq_entry *e, uint64_t due)
{
	size_t	i;

	if (e->pos != 0) {
		i = e->pos - 1;
		e->due = due;
		timerq_up(q, i);
		timerq_down(q, e->pos - 1);
		return;
	}
	if (q->n == q->cap)
		timerq_resize(q, q->cap ? 2 * q->cap : TIMERQ_MIN);
	e->due = due;
	q->heap[q->n++] = e;
	timerq_up(q, q->n - 1);
}

void
timerq_del(struct timerq *q, struct timerq_entry *e)
{
	struct timerq_entry	*last;
	size_t			 i;

	if (e->pos == 0)
		return;
	i = e->pos - 1;
	e->pos = 0;
	last = q->heap[--q->n];
	if (i < q->n) {
		q->heap[i] = last;
		timerq_up(q, i);
		timerq_down(q, last->pos - 1);
	}
	if (q->cap > TIMERQ_MIN && q->n < q->cap / 4)
		timerq_resize(q, q->cap / 2);
}

int
timerq_pending(const struct timerq_entry *e)
{
	return e->pos != 0;
}

struct timerq_entry *
timerq_first(const struct timerq *q)
{
	return q->n > 0 ? q->heap[0] : NULL;
}

struct timerq_entry *
timerq_expired(struct timerq *q, uint64_t now)
{
	struct timerq_entry	*e;

	if ((e = timerq_first(q)) == NULL || e->due > now)
		return NULL;
	timerq_del(q, e);
	return e;
}
