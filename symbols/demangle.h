/* SPDX-License-Identifier: MIT */
/*
 * demangle.h: symbol demangling for Rust (legacy and v0) and Itanium C++.
 *
 * Owns: turning a linker symbol into the name a person writes, and the
 * normalised "match key" that config patterns are compared against. Pure:
 * no I/O, no globals, no allocation (output goes to caller buffers), safe
 * on any input (malformed names return DEMANGLE_NONE, never crash, bounded
 * recursion).
 *
 * Display forms follow the well-known tools, so users can paste from them:
 *   Rust legacy  _ZN1m2db12RelationalDB6insert17h0123456789abcdefE
 *                -> m::db::RelationalDB::insert            (hash dropped)
 *   Rust v0      _RNvMNtCs1234_1m2dbNtB2_12RelationalDB6insert
 *                -> <m::db::RelationalDB>::insert           (rustc-demangle's
 *                   alternate form: no crate disambiguators)
 *   C++          _ZN5redis4callEP6clienti -> redis::call(client*, int)
 */
#ifndef STDBTEL_DEMANGLE_H
#define STDBTEL_DEMANGLE_H

#include <stddef.h>

enum demangle_scheme {
	DEMANGLE_NONE,        /* not mangled, or not understood */
	DEMANGLE_RUST_LEGACY, /* _ZN...17h<16 hex>E with Rust escapes */
	DEMANGLE_RUST_V0,     /* _R... */
	DEMANGLE_CXX,         /* Itanium C++ ABI (_Z...) */
};

/*
 * Demangles sym into out (always NUL-terminated when outsz > 0; truncated
 * output is still returned with the scheme, and ends with "..."). Returns
 * the scheme, or DEMANGLE_NONE with out set to "" when sym is not a mangled
 * name this demangler understands. Suffixes such as ".cold", ".llvm.123",
 * ".isra.0" are kept as " [.cold]" style trailers.
 */
enum demangle_scheme demangle(const char *sym, char *out, size_t outsz);

/*
 * Writes the match key of a demangled (or plain) name: the path a person
 * writes, so the same function matches whatever scheme named it.
 *   "<m::db::RelationalDB>::insert"          -> "m::db::RelationalDB::insert"
 *   "run_inner::<spacetimedb::Foo>"          -> "run_inner"  (generic args dropped)
 *   "redis::call(client*, int) const"        -> "redis::call" (parameters dropped)
 *   "<A as B>::f"                            -> "<A as B>::f" (trait impls kept)
 *   "m::f [.cold]"                           -> "m::f [.cold]" (trailers kept)
 * Plain C names are returned unchanged.
 */
void demangle_match_key(const char *demangled, char *out, size_t outsz);

const char *demangle_scheme_name(enum demangle_scheme scheme);

#endif
