/* SPDX-License-Identifier: MIT */
/*
 * dlopen_plugin.c: a library dlopen_target loads at run time by its bare
 * name, found only through the target's own DT_RUNPATH/DT_RPATH ($ORIGIN).
 * plugin_work is the function a hook names with object = "libdlopen_plugin*".
 */
#include <stdint.h>

__attribute__((noinline)) static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	return x ^ (x >> 29);
}

__attribute__((noinline)) uint64_t plugin_work(uint64_t seed, unsigned rounds)
{
	uint64_t h = seed;
	for (unsigned i = 0; i < rounds; i++)
		h = mix(h + i);
	return h;
}
