/* SPDX-License-Identifier: MIT */
/* hook_targets.h: functions test_hook_engine hooks (hook_targets.c, hook_targets_cxx.cpp). */
#ifndef STDBTEL_HOOK_TARGETS_H
#define STDBTEL_HOOK_TARGETS_H

#include <setjmp.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ht_big {
	long a, b, c, d, e;
};

int ht_add(int a, int b);
long ht_many(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, long a9, long a10,
             int nextra, ...);
struct ht_big ht_struct(long x, long y);
double ht_double(double x, double y, int n);
long double ht_ldouble(long double x, int n);
int ht_recurse(int n);
int ht_mix(int x);
int ht_jumper(jmp_buf *env, int n);
int ht_raise(int sig, int x);
int ht_tiny(int x);
int ht_backtrace(uintptr_t *ips, int max);
int ht_backtrace_caller(uintptr_t *ips, int max);

/* C++ (hook_targets_cxx.cpp): cxx_thrower throws n (an int) when n % 3 == 0,
 * else returns n * 7; cxx_middle calls it and adds 100; cxx_catch calls
 * cxx_middle and returns -(the thrown value) when it throws. */
int cxx_thrower(int n);
int cxx_middle(int n);
int cxx_catch(int n);
/* The same with a destructor in cxx_middle_raii that sets *cleanup =
 * ht_add(*cleanup, 1), which runs as a landing pad while unwinding. */
int cxx_middle_raii(int n, int *cleanup);
int cxx_catch_raii(int n, int *cleanup);

#ifdef __cplusplus
}
#endif

#endif
