// SPDX-License-Identifier: MIT
/*
 * scenario_cxx.cpp: C++ exceptions through hooked functions, for the
 * scenario tests (tests/preload/test_scenarios.c). Built with g++ -O2.
 *
 * Usage: scenario_cxx N
 *   Round i (0 <= i < N) calls scen::outer(i) -> scen::middle(i) ->
 *   scen::inner(i). inner throws scen::failure when i % 4 == 0; middle
 *   holds an object with a destructor (a cleanup runs while the exception
 *   passes through it) and does not catch; outer catches and returns
 *   normally. When i % 5 == 0 the round also calls scen::middle(i)
 *   directly from main, inside a try: then the exception leaves a hooked
 *   root and is caught by main.
 *
 * So: outer runs N times and always returns; middle and inner run once per
 * outer call plus once per direct call, and unwind when i % 4 == 0. Every
 * printed line depends on every return value and caught exception. Exit 0.
 */
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#define HOOKED __attribute__((noinline, noclone))

namespace scen {

struct failure : std::runtime_error {
	long code;
	explicit failure(long c) : std::runtime_error("scenario failure"), code(c) {}
};

// Counts cleanups run during unwinding (and normal scope exits).
static long guards_released;

struct guard {
	long value;
	explicit guard(long v) : value(v) {}
	~guard() { guards_released += value; }
};

static inline long opaque(long v)
{
	__asm__ volatile("" : "+r"(v));
	return v;
}

static HOOKED long inner(long i)
{
	if (i % 4 == 0)
		throw failure(i * 10 + 7);
	return i * 3 + 1;
}

static HOOKED long middle(long i)
{
	guard g(opaque(i) + 1);
	return inner(opaque(i)) * 2 + g.value;
}

HOOKED long outer(long i)
{
	try {
		return middle(i) + 5;
	} catch (const failure &e) {
		return -e.code;
	}
}

} // namespace scen

int main(int argc, char **argv)
{
	long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 10;
	for (long i = 0; i < n; i++) {
		long r = scen::outer(i);
		long direct = 0;
		if (i % 5 == 0) {
			try {
				direct = scen::middle(i);
			} catch (const scen::failure &e) {
				direct = 1000000 + e.code;
			}
		}
		std::printf("cxx %ld: outer %ld direct %ld guards %ld\n", i, r, direct, scen::guards_released);
	}
	return 0;
}
