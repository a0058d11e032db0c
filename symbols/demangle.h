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
 * ".isra.0" are kept as c++filt's " [clone .cold]" trailers, one per clone
 * step (".constprop.0.isra.0" -> " [clone .constprop.0] [clone .isra.0]"),
 * for every scheme; a symbol version ("@GLIBCXX_3.4", "@@V1") is appended
 * unchanged. C++ is printed as "c++filt --no-verbose" prints it (so
 * "std::string" for Ss), Rust v0 as rustc-demangle's alternate form, with
 * punycode identifiers decoded.
 */
enum demangle_scheme demangle(const char *sym, char *out, size_t outsz);

/*
 * Writes the match key of a demangled (or plain) name: the path a person
 * writes, so the same function matches whatever scheme named it.
 *   "<m::db::RelationalDB>::insert"          -> "m::db::RelationalDB::insert"
 *   "run_inner::<spacetimedb::Foo>"          -> "run_inner"  (generic args dropped)
 *   "redis::call(client*, int) const"        -> "redis::call" (parameters dropped)
 *   "<A as B>::f"                            -> "<A as B>::f" (trait impls kept)
 *   "m::f [clone .cold]"                     -> "m::f [clone .cold]" (fragments kept apart)
 *   "m::f [clone .llvm.123]"                 -> "m::f" (ThinLTO's renamed copy is f)
 * Plain C names are returned unchanged. In detail:
 *   - every argument list directly after a name is dropped, at any depth
 *     and in every scheme: Rust "f::<T>" and "Vec<T>", C++ template
 *     arguments "vector<int>" (so "std::vector::push_back"), also inside a
 *     kept "<A as B>": "<x::Rect<f32> as x::Shape>" -> "<x::Rect as x::Shape>",
 *     which is what legacy's "<x::Rect<T> as x::Shape>" gives too;
 *   - C++: a parameter list and the qualifiers after it are dropped where
 *     they follow a name, also inside local names ("f()::x" -> "f::x");
 *     the return type of a template function is dropped ("void f<int>()"
 *     -> "f"); "[abi:cxx11]" tags are dropped; operator names stay
 *     ("A::operator<", "operator new", "A::operator int");
 *   - kept verbatim: "{closure#0}" / "{{closure}}", "{lambda(int)#1}",
 *     "(anonymous namespace)", legacy "<impl [T]>" segments, and special
 *     name prefixes ("vtable for ", "non-virtual thunk to ", ...);
 *   - trailers: " [clone .llvm.123]" marks the ThinLTO-renamed copy, which
 *     is the function itself, and is dropped; ".cold" / ".part.0" are
 *     fragments and keep their trailer, so a path never matches them.
 * out must not overlap demangled.
 */
void demangle_match_key(const char *demangled, char *out, size_t outsz);

const char *demangle_scheme_name(enum demangle_scheme scheme);

#endif
