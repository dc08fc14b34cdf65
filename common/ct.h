/*
 * ct.h: marks for the constant-time check (tests/ct, `make ct`).
 *
 * Built with -DWGCARD_CT (only tests/ct/run.sh does), CT_SECRET marks
 * bytes as secret and CT_PUBLIC declares bytes computed from secrets
 * public again, by telling valgrind's memcheck they are undefined or
 * defined (as ctgrind does): memcheck then reports every branch and
 * every memory index that depends on a secret. In any other build both
 * are nothing.
 *
 * CT_PUBLIC belongs only where the protocol itself makes the value
 * public: the outcome of a MAC or AEAD check, a key found to be all
 * zero (a small-order point, said on the wire by the peer's public
 * key), authenticated plaintext that is a public key or a timestamp.
 * Each use says why.
 */
#ifndef WGCARD_CT_H
#define WGCARD_CT_H

#ifdef WGCARD_CT
#include <valgrind/memcheck.h>
#define CT_SECRET(p, n)	((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define CT_PUBLIC(p, n)	((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define CT_SECRET(p, n)	((void)0)
#define CT_PUBLIC(p, n)	((void)0)
#endif

#endif /* WGCARD_CT_H */
