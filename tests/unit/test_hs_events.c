/*
 * test_hs_events.c: hs_events_pair, which replays one data timer's two
 * events of a forwarder report (the event that stops the timer and the
 * one that starts it) in the order their times give. Every combination
 * of which events the report holds, how their times compare and the tie
 * rule: the calls made leave the timer as a replay of the events one by
 * one in time order would (on a tie, start last only with start_on_tie),
 * whatever state the timer was in, and neither is called for an event
 * the report does not hold.
 */
#include "../../netd/handshake.c"

#include "test.h"

/* Reached only from handshake_main(): never here. */
void sandbox_handshake(void) { abort(); }

static int	running;	/* the model timer */
static char	calls[8];
static size_t	ncalls;

static void
model_stop(struct hs_peer *p)
{
	(void)p;
	running = 0;
	if (ncalls < sizeof(calls) - 1)
		calls[ncalls++] = 'x';
}

static void
model_start(struct hs_peer *p)
{
	(void)p;
	running = 1;	/* armed, or kept running (never restarted) */
	if (ncalls < sizeof(calls) - 1)
		calls[ncalls++] = 's';
}

#define EV_STOP		0x08
#define EV_START	0x01

int
main(void)
{
	static const uint64_t	times[][2] = {
		{ 100, 200 }, { 200, 100 }, { 150, 150 }, { 0, 0 },
		{ UINT64_MAX, 0 }, { 0, UINT64_MAX }, { UINT64_MAX, UINT64_MAX },
	};
	uint32_t	e, others;
	size_t		i;
	int		tie, before, want, start_last, bad = 0, n = 0;

	for (e = 0; e < 4; e++)
	for (others = 0; others < 2; others++)
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
	for (tie = 0; tie < 2; tie++)
	for (before = 0; before < 2; before++) {
		uint32_t	ev = ((e & 1) ? EV_STOP : 0) |
		    ((e & 2) ? EV_START : 0) | (others ? 0x70 : 0);
		uint64_t	ts = times[i][0], tb = times[i][1];

		running = before;
		ncalls = 0;
		memset(calls, 0, sizeof(calls));
		hs_events_pair(NULL, ev, EV_STOP, ts, EV_START, tb, tie,
		    model_stop, model_start);
		/* The replay, one event at a time, in time order. */
		start_last = tb > ts || (tie && tb == ts);
		want = before;
		if ((ev & EV_STOP) && (ev & EV_START))
			want = start_last ? 1 : 0;
		else if (ev & EV_START)
			want = 1;
		else if (ev & EV_STOP)
			want = 0;
		n++;
		if (running != want ||
		    (!(ev & EV_STOP) && strchr(calls, 'x') != NULL) ||
		    (!(ev & EV_START) && strchr(calls, 's') != NULL) ||
		    ((ev & EV_START) && strchr(calls, 's') == NULL) ||
		    ncalls > 2) {
			if (bad++ < 5)
				fprintf(stderr, "events %x t_stop %llu t_start "
				    "%llu tie %d before %d: calls \"%s\", "
				    "timer %d, want %d\n", ev,
				    (unsigned long long)ts,
				    (unsigned long long)tb, tie, before, calls,
				    running, want);
		}
	}
	CHECK(bad == 0, "%d of %d combinations left the timer wrong", bad, n);
	CHECK(n == 4 * 2 * 7 * 2 * 2, "%d combinations tried", n);
	return test_done();
}
