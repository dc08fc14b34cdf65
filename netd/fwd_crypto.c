/*
 * fwd_crypto.c: the forwarder's AEAD jobs on worker threads.
 *
 * The I/O thread hands over a whole batch (fwd_crypto_run): the jobs
 * are claimed one at a time by the I/O thread itself and by the workers
 * it woke, and the call returns when every job is done. Each job works
 * in place on its own packet; the workers touch nothing else (no
 * keypair, no peer, no queue), so the packet logic stays on the I/O
 * thread and completes the batch in order. Small batches (a ping) are
 * run by the I/O thread alone: waking a thread costs more than the
 * crypto.
 *
 * A batch of one or two packets after a quiet spell (fewer than
 * FWD_QUIET_RECENT jobs in this millisecond and the one before) takes
 * the compact AEAD (aead.h): an echo through an idle tunnel finds every
 * cache and TLB entry gone, and libcrypto's EVP path then costs about
 * twice the compact one's (docs/performance.md "The cold path"); in a
 * stream libcrypto is the faster one again.
 *
 * The claim word packs a generation (high 32 bits) and the next job
 * (low 32 bits): a worker that wakes late for a batch already done
 * sees another generation and claims nothing of the next batch by
 * mistake.
 *
 * The AEAD is libcrypto's (aead.h), one lane per thread: the I/O
 * thread is lane 0, worker i lane i + 1, so that two threads never
 * share a cipher context. libcrypto is initialised before the threads
 * and the filter: here, unless the caller did it already (the
 * forwarder does, before its pool is mapped).
 *
 * The workers are started before the seccomp filter is installed; the
 * filter is installed with SECCOMP_FILTER_FLAG_TSYNC, so they run under
 * it as the I/O thread does. They block in futex(2) when idle.
 */
#include <sys/syscall.h>

#include <linux/futex.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "aead.h"
#include "fwd.h"
#include "log.h"

#define FWD_CRYPTO_MIN_JOBS	4	/* below: the I/O thread alone */
#define FWD_CRYPTO_MIN_BYTES	8192
#define FWD_CRYPTO_MAX_THREADS	64
#define FWD_QUIET_JOBS		2	/* a batch this small... */
#define FWD_QUIET_RECENT	8	/* ...after fewer jobs than this */

_Static_assert(FWD_CRYPTO_MAX_THREADS + 1 <= AEAD_LANES_MAX,
    "a lane for every worker and the I/O thread");

static struct {
	_Atomic uint64_t	 claim;		/* gen << 32 | next job */
	_Atomic uint32_t	 gen;		/* futex word of the workers */
	_Atomic uint32_t	 done;		/* jobs finished this gen */
	_Atomic uint32_t	 njobs;
	_Atomic int		 started;
	struct fwd_job *_Atomic	 jobs;
	int			 nthreads;
	pthread_t		 threads[FWD_CRYPTO_MAX_THREADS];
	/* The I/O thread's: the quiet-spell rule. */
	int			 compact;	/* 0: never the compact path */
	uint64_t		 win_ms;	/* this millisecond */
	uint32_t		 win_jobs;	/* jobs run in it */
	uint32_t		 prev_jobs;	/* in the one before */
	uint64_t		 ncompact;	/* jobs on the compact path */
} fc;

static void
fwd_job_compact(struct fwd_job *j)
{
	if (j->enc) {
		aead_seal_compact(j->key, j->data, j->len, NULL, 0,
		    j->counter);
		j->result = 0;
	} else
		j->result = aead_open_compact(j->key, j->data, j->len, NULL,
		    0, j->counter) == 0 ? 0 : -1;
}

/*
 * Whether a batch of n jobs at now_ms (milliseconds) comes after a quiet
 * spell; counts the jobs.
 */
static int
fwd_crypto_quiet(int n, uint64_t now_ms)
{
	int	quiet;

	if (now_ms != fc.win_ms) {
		fc.prev_jobs = now_ms == fc.win_ms + 1 ? fc.win_jobs : 0;
		fc.win_jobs = 0;
		fc.win_ms = now_ms;
	}
	quiet = fc.compact && n <= FWD_QUIET_JOBS &&
	    fc.prev_jobs + fc.win_jobs < FWD_QUIET_RECENT;
	if (fc.win_jobs < FWD_QUIET_RECENT)
		fc.win_jobs += (uint32_t)n;
	return quiet;
}

void
fwd_crypto_set_compact(int on)
{
	fc.compact = on != 0;
}

uint64_t
fwd_crypto_ncompact(void)
{
	return fc.ncompact;
}

static void
fwd_job_do(struct fwd_job *j, int lane)
{
	if (j->enc) {
		aead_seal(j->key, lane, j->data, j->len, NULL, 0, j->counter);
		j->result = 0;
	} else
		j->result = aead_open(j->key, lane, j->data, j->len, NULL, 0,
		    j->counter) == 0 ? 0 : -1;
}

/* Claims and runs jobs of generation gen on lane until none is left. */
static void
fwd_crypto_work(uint32_t gen, int lane)
{
	uint64_t	 c;
	uint32_t	 n;
	struct fwd_job	*jobs;

	for (;;) {
		c = atomic_load_explicit(&fc.claim, memory_order_acquire);
		if ((uint32_t)(c >> 32) != gen)
			return;
		n = atomic_load_explicit(&fc.njobs, memory_order_acquire);
		if ((uint32_t)c >= n)
			return;
		if (!atomic_compare_exchange_weak_explicit(&fc.claim, &c, c + 1,
		    memory_order_acq_rel, memory_order_relaxed))
			continue;
		jobs = atomic_load_explicit(&fc.jobs, memory_order_acquire);
		fwd_job_do(&jobs[(uint32_t)c], lane);
		atomic_fetch_add_explicit(&fc.done, 1, memory_order_release);
	}
}

static void *
fwd_crypto_worker(void *arg)
{
	uint32_t	seen = 0, gen;
	int		lane = (int)(intptr_t)arg;

	atomic_fetch_add(&fc.started, 1);
	for (;;) {
		gen = atomic_load_explicit(&fc.gen, memory_order_acquire);
		if (gen == seen) {
			syscall(SYS_futex, &fc.gen, FUTEX_WAIT_PRIVATE, seen,
			    NULL, NULL, 0);
			continue;
		}
		seen = gen;
		fwd_crypto_work(gen, lane);
	}
	return NULL;
}

void
fwd_crypto_init(int nthreads)
{
	sigset_t	all, old;
	int		i, r;

	if (nthreads < 0)
		nthreads = 0;
	if (nthreads > FWD_CRYPTO_MAX_THREADS)
		nthreads = FWD_CRYPTO_MAX_THREADS;
	if (aead_lanes() == 0)
		aead_init(nthreads + 1);
	else if (aead_lanes() < nthreads + 1)
		fatalx("%s: %d lanes for %d workers", __func__, aead_lanes(),
		    nthreads);
	/* Signals stay with the I/O thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		if ((r = pthread_create(&fc.threads[i], NULL,
		    fwd_crypto_worker, (void *)(intptr_t)(i + 1))) != 0) {
			errno = r;
			log_warn("crypto worker %d", i);
			break;
		}
		fc.nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/*
	 * A new thread's first calls (rseq, set_robust_list) are made by
	 * libc when it starts running: wait for that before the filter.
	 */
	while (atomic_load(&fc.started) < fc.nthreads)
		usleep(1000);
}

void
fwd_crypto_run(struct fwd_job *jobs, int n, uint64_t now_ms)
{
	uint32_t	gen, bytes = 0;
	int		i, spins;

	if (n <= 0)
		return;
	if (fwd_crypto_quiet(n, now_ms)) {
		for (i = 0; i < n; i++)
			fwd_job_compact(&jobs[i]);
		fc.ncompact += (uint64_t)n;
		return;
	}
	for (i = 0; i < n && bytes < FWD_CRYPTO_MIN_BYTES; i++)
		bytes += jobs[i].len;
	if (fc.nthreads == 0 || n < FWD_CRYPTO_MIN_JOBS ||
	    bytes < FWD_CRYPTO_MIN_BYTES) {
		for (i = 0; i < n; i++)
			fwd_job_do(&jobs[i], 0);
		return;
	}
	gen = atomic_load_explicit(&fc.gen, memory_order_relaxed) + 1;
	if (gen == 0)
		gen = 1;
	atomic_store_explicit(&fc.done, 0, memory_order_relaxed);
	atomic_store_explicit(&fc.jobs, jobs, memory_order_relaxed);
	atomic_store_explicit(&fc.njobs, (uint32_t)n, memory_order_relaxed);
	atomic_store_explicit(&fc.claim, (uint64_t)gen << 32,
	    memory_order_release);
	atomic_store_explicit(&fc.gen, gen, memory_order_release);
	syscall(SYS_futex, &fc.gen, FUTEX_WAKE_PRIVATE, fc.nthreads, NULL,
	    NULL, 0);
	fwd_crypto_work(gen, 0);
	/* The last jobs a worker claimed are a few microseconds away. */
	for (spins = 0; atomic_load_explicit(&fc.done, memory_order_acquire) <
	    (uint32_t)n; spins++)
		if (spins > 64)
			sched_yield();
}
