/* SPDX-License-Identifier: MIT */
/*
 * hook_targets.c: functions for test_hook_engine to hook, in the shapes
 * that stress the stub: integer, stack and varargs arguments, a struct
 * returned through a hidden pointer, double and long double returns,
 * recursion, longjmp, signals and backtraces. Built at -O2 into the test
 * binary; each is noinline/noipa so calls really go through its entry and
 * its body is large enough (>= 5 bytes) to take the patch.
 */
#include "hook_targets.h"

#include <signal.h>
#include <stdarg.h>
#include <unwind.h>

#define TARGET __attribute__((noinline, noipa))

TARGET int ht_add(int a, int b)
{
	return a * 3 + b * 5 - 7;
}

TARGET long ht_many(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, long a9, long a10,
                    int nextra, ...)
{
	long s = a1 * 1 + a2 * 2 + a3 * 3 + a4 * 4 + a5 * 5 + a6 * 6 + a7 * 7 + a8 * 8 + a9 * 9 + a10 * 10;
	va_list ap;
	va_start(ap, nextra);
	for (int i = 0; i < nextra; i++) {
		if (i % 2 == 0)
			s += (long)(va_arg(ap, double) * 1000.0) * (i + 11);
		else
			s += va_arg(ap, long) * (i + 11);
	}
	va_end(ap);
	return s;
}

TARGET struct ht_big ht_struct(long x, long y)
{
	struct ht_big b = { x, y, x + y, x * y, x - y };
	return b;
}

TARGET double ht_double(double x, double y, int n)
{
	double r = 0;
	for (int i = 0; i < n; i++)
		r += x * i + y;
	return r;
}

TARGET long double ht_ldouble(long double x, int n)
{
	long double r = 1;
	for (int i = 0; i < n; i++)
		r = r * x + 0.5L;
	return r;
}

int (*volatile ht_recurse_ptr)(int) = ht_recurse;

TARGET int ht_recurse(int n)
{
	if (n <= 0)
		return 0;
	return ht_recurse_ptr(n - 1) + 1; /* through the entry, never a loop */
}

TARGET int ht_mix(int x)
{
	return (x * 2654435761u) >> 7 ^ x;
}

TARGET int ht_jumper(jmp_buf *env, int n)
{
	if (n % 4 == 0)
		longjmp(*env, n);
	return n * 11 + 1;
}

TARGET int ht_raise(int sig, int x)
{
	raise(sig);
	return x * 5 + 2;
}

TARGET int ht_tiny(int x)
{
	return x;
}

struct bt_state {
	uintptr_t *ips;
	int n, max;
};

static _Unwind_Reason_Code bt_step(struct _Unwind_Context *ctx, void *arg)
{
	struct bt_state *st = arg;
	if (st->n >= st->max)
		return _URC_END_OF_STACK;
	st->ips[st->n++] = _Unwind_GetIP(ctx);
	return _URC_NO_REASON;
}

TARGET int ht_backtrace(uintptr_t *ips, int max)
{
	struct bt_state st = { ips, 0, max };
	_Unwind_Backtrace(bt_step, &st);
	return st.n;
}

TARGET int ht_backtrace_caller(uintptr_t *ips, int max)
{
	static volatile int sink __attribute__((used));
	int n = ht_backtrace(ips, max);
	sink = n; /* not a tail call: this frame must be on the stack */
	return n;
}
