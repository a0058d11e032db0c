/* SPDX-License-Identifier: MIT */
/*
 * hook_targets_cxx.cpp: a C++ exception thrown from (cxx_thrower) and
 * through (cxx_middle) hooked functions and caught by their caller
 * (cxx_catch). extern "C" names so the C test can take their addresses.
 */
#include "hook_targets.h"

#define TARGET __attribute__((noinline, noipa))

extern "C" TARGET int cxx_thrower(int n)
{
	if (n % 3 == 0)
		throw n;
	return n * 7;
}

extern "C" TARGET int cxx_middle(int n)
{
	int r = cxx_thrower(n);
	return r + 100;
}

extern "C" TARGET int cxx_catch(int n)
{
	try {
		return cxx_middle(n);
	} catch (int v) {
		return -v;
	}
}

namespace {
/* A cleanup that runs during unwinding and calls a hooked function. */
struct calls_on_unwind {
	int *out;
	~calls_on_unwind() { *out = ht_add(*out, 1); }
};
}

extern "C" TARGET int cxx_middle_raii(int n, int *cleanup)
{
	calls_on_unwind guard{ cleanup };
	int r = cxx_thrower(n);
	return r + 200;
}

extern "C" TARGET int cxx_catch_raii(int n, int *cleanup)
{
	try {
		return cxx_middle_raii(n, cleanup);
	} catch (int v) {
		return -v;
	}
}
