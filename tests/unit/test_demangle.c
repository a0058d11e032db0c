/* SPDX-License-Identifier: MIT */
/*
 * test_demangle.c: unit tests for symbols/demangle.h.
 *
 * Expected strings come from GNU c++filt 2.40 run with --no-verbose (-i),
 * which prints the same display form as demangle(): Rust legacy without
 * the hash, Rust v0 without crate disambiguators, std::string for Ss.
 * Where c++filt has no answer (Rust v0 structural constants, vendor
 * suffixes on Rust symbols, non-ASCII legacy escapes) the expectation
 * follows rustc-demangle's alternate form and RFC 2603, as noted.
 * The last tests feed malformed and mutated symbols under ASan/UBSan.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "demangle.h"

#define BIG 4096

static void check(const char *sym, enum demangle_scheme scheme, const char *expect)
{
	char out[BIG];
	enum demangle_scheme got = demangle(sym, out, sizeof(out));

	cr_expect_eq(got, scheme, "%s: scheme %s, expected %s", sym,
		     demangle_scheme_name(got), demangle_scheme_name(scheme));
	cr_expect_str_eq(out, expect, "%s", sym);
}

static void check_key(const char *demangled, const char *expect)
{
	char out[BIG];

	demangle_match_key(demangled, out, sizeof(out));
	cr_expect_str_eq(out, expect, "key of %s", demangled);
}

/* demangle, then key */
static void check_sym_key(const char *sym, const char *expect)
{
	char out[BIG];

	cr_expect_neq(demangle(sym, out, sizeof(out)), DEMANGLE_NONE, "%s", sym);
	check_key(out, expect);
}

/* ---- Rust legacy ----------------------------------------------------- */

Test(rust_legacy, spacetimedb_path)
{
	check("_ZN11spacetimedb4host12instance_env11InstanceEnv6insert17h0123456789abcdefE",
	      DEMANGLE_RUST_LEGACY, "spacetimedb::host::instance_env::InstanceEnv::insert");
}

Test(rust_legacy, trait_impl)
{
	check("_ZN146_$LT$spacetimedb..host..wasmtime..wasmtime_module..WasmtimeInstance"
	      "$u20$as$u20$spacetimedb..host..wasm_common..module_host_actor..WasmInstance"
	      "$GT$12call_reducer17h0123456789abcdefE",
	      DEMANGLE_RUST_LEGACY,
	      "<spacetimedb::host::wasmtime::wasmtime_module::WasmtimeInstance as "
	      "spacetimedb::host::wasm_common::module_host_actor::WasmInstance>::call_reducer");
}

Test(rust_legacy, closure)
{
	check("_ZN22spacetimedb_client_api6routes8database4call28_$u7b$$u7b$closure$u7d$$u7d$"
	      "17h0123456789abcdefE",
	      DEMANGLE_RUST_LEGACY, "spacetimedb_client_api::routes::database::call::{{closure}}");
}

Test(rust_legacy, header_example)
{
	check("_ZN1m2db12RelationalDB6insert17h0123456789abcdefE", DEMANGLE_RUST_LEGACY,
	      "m::db::RelationalDB::insert");
}

Test(rust_legacy, generic_escapes)
{
	check("_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$"
	      "$u7b$closure$u7d$$u7d$$GT$17h0123456789abcdefE",
	      DEMANGLE_RUST_LEGACY, "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>");
	check("_ZN42_$LT$$RF$T$u20$as$u20$core..fmt..Debug$GT$3fmt17h1f2f691ae02ab468E",
	      DEMANGLE_RUST_LEGACY, "<&T as core::fmt::Debug>::fmt");
	check("_ZN106_$LT$core..ops..range..Range$LT$usize$GT$$u20$as$u20$core..slice..index.."
	      "SliceIndex$LT$$u5b$T$u5d$$GT$$GT$13get_unchecked18precondition_check"
	      "17hb4f4a34cf45f830cE",
	      DEMANGLE_RUST_LEGACY,
	      "<core::ops::range::Range<usize> as core::slice::index::SliceIndex<[T]>>"
	      "::get_unchecked::precondition_check");
}

Test(rust_legacy, punctuation_escapes)
{
	check("_ZN1m11a$BP$b$SP$c17h0123456789abcdefE", DEMANGLE_RUST_LEGACY, "m::a*b@c");
	check("_ZN1m13a$u7e$b$u27$c17h0123456789abcdefE", DEMANGLE_RUST_LEGACY, "m::a~b'c");
	check("_ZN1m10a$C$b$u5b$17h0123456789abcdefE", DEMANGLE_RUST_LEGACY, "m::a,b[");
	check("_ZN1m6a.b..c17h0123456789abcdefE", DEMANGLE_RUST_LEGACY, "m::a.b::c");
}

Test(rust_legacy, leading_underscore_and_unknown_escape)
{
	/* "_$" starts an escaped identifier; an unknown escape stays verbatim */
	check("_ZN1m10_$LT$T$GT$17h0123456789abcdefE", DEMANGLE_RUST_LEGACY, "m::<T>");
	check("_ZN1m6a$XY$b17h0123456789abcdefE", DEMANGLE_RUST_LEGACY, "m::a$XY$b");
}

Test(rust_legacy, non_ascii_escapes)
{
	/* rustc-demangle decodes any $u...$; c++filt only ASCII ones */
	check("_ZN1x13gr$uf6$$udf$e17h9f0f66a3230e5cbaE", DEMANGLE_RUST_LEGACY, "x::größe");
	check("_ZN1x15_$u6771$$u4eac$17ha673ff1552f4742eE", DEMANGLE_RUST_LEGACY, "x::東京");
}

Test(rust_legacy, suffixes)
{
	check("_ZN1m3foo17h0123456789abcdefE.llvm.1234567", DEMANGLE_RUST_LEGACY,
	      "m::foo [clone .llvm.1234567]");
	check("_ZN1m3foo17h0123456789abcdefE.cold.1", DEMANGLE_RUST_LEGACY, "m::foo [clone .cold.1]");
	check("_ZN4core3fmt5Write9write_fmt17h0123456789abcdefE@@V1", DEMANGLE_RUST_LEGACY,
	      "core::fmt::Write::write_fmt@@V1");
}

Test(rust_legacy, not_rust_is_cxx)
{
	/* no hash, or a hash that is not 16 lowercase hex digits: C++ */
	check("_ZN1m3fooE", DEMANGLE_CXX, "m::foo");
	check("_ZN1m3foo17h0123456789ABCDEFE", DEMANGLE_CXX, "m::foo::h0123456789ABCDEF");
}

/* ---- Rust v0 --------------------------------------------------------- */

Test(rust_v0, inherent_impl)
{
	check("_RNvMNtNtCskK7mfDs1mzF_1m2db13relational_dbNtB2_12RelationalDB6insert",
	      DEMANGLE_RUST_V0, "<m::db::relational_db::RelationalDB>::insert");
	check("_RNvMNtCs1234_1m2dbNtB2_12RelationalDB6insert", DEMANGLE_RUST_V0,
	      "<m::db::RelationalDB>::insert");
}

Test(rust_v0, paths)
{
	check("_RNvCs1234_1m3foo", DEMANGLE_RUST_V0, "m::foo");
	check("_RNvNtCs1234_1m3foo3bar", DEMANGLE_RUST_V0, "m::foo::bar");
	check("_RNvNvCs1234_1m4main4BAR0", DEMANGLE_RUST_V0, "m::main::BAR0");
	/* the instantiating crate is not printed */
	check("_RNvCs1234_1m3fooCs5678_4core", DEMANGLE_RUST_V0, "m::foo");
}

Test(rust_v0, closures_and_shims)
{
	check("_RNCNvCs1234_1m4main0", DEMANGLE_RUST_V0, "m::main::{closure#0}");
	check("_RNCNvCs1234_1m4mains_0", DEMANGLE_RUST_V0, "m::main::{closure#1}");
	check("_RNSNvCs1234_1m4main6vtable", DEMANGLE_RUST_V0, "m::main::{shim:vtable#0}");
}

Test(rust_v0, trait_impls)
{
	check("_RNvXCs1234_1mNtB2_3FooNtNtCs5678_4core3fmt5Debug3fmt", DEMANGLE_RUST_V0,
	      "<m::Foo as core::fmt::Debug>::fmt");
	check("_RNvYNtCs1234_1m3FooNtNtCs5678_4core5clone5Clone5clone", DEMANGLE_RUST_V0,
	      "<m::Foo as core::clone::Clone>::clone");
}

Test(rust_v0, generic_args)
{
	check("_RINvCs1234_1m3foomE", DEMANGLE_RUST_V0, "m::foo::<u32>");
	check("_RINvCs1234_1m3fooNtB2_3BarE", DEMANGLE_RUST_V0, "m::foo::<m::Bar>");
	/* in type position generic arguments have no "::" */
	check("_RINvNtCs1234_1m3foo3barINtB4_3BazpEE", DEMANGLE_RUST_V0, "m::foo::bar::<m::Baz<_>>");
}

Test(rust_v0, types)
{
	check("_RINvCs1234_1m3fooRShE", DEMANGLE_RUST_V0, "m::foo::<&[u8]>");
	check("_RINvCs1234_1m3fooQeE", DEMANGLE_RUST_V0, "m::foo::<&mut str>");
	check("_RINvCs1234_1m3fooPaOzE", DEMANGLE_RUST_V0, "m::foo::<*const i8, *mut !>");
	check("_RINvCs1234_1m3fooAhj4_E", DEMANGLE_RUST_V0, "m::foo::<[u8; 4]>");
	check("_RINvCs1234_1m3fooTlmEE", DEMANGLE_RUST_V0, "m::foo::<(i32, u32)>");
	check("_RINvCs1234_1m3fooTlEE", DEMANGLE_RUST_V0, "m::foo::<(i32,)>");
	check("_RINvCs1234_1m3foouE", DEMANGLE_RUST_V0, "m::foo::<()>");
	check("_RINvCs1234_1m3fooRL_hE", DEMANGLE_RUST_V0, "m::foo::<&u8>");
}

Test(rust_v0, fn_pointers)
{
	check("_RINvCs1234_1m3fooFhEmE", DEMANGLE_RUST_V0, "m::foo::<fn(u8) -> u32>");
	check("_RINvCs1234_1m3fooFUKCEuE", DEMANGLE_RUST_V0, "m::foo::<unsafe extern \"C\" fn()>");
	check("_RINvCs1234_1m3fooFK9rust_callEuE", DEMANGLE_RUST_V0,
	      "m::foo::<extern \"rust-call\" fn()>");
	check("_RINvCs1234_1m3fooFG_RL0_hEuE", DEMANGLE_RUST_V0, "m::foo::<for<'a> fn(&'a u8)>");
}

Test(rust_v0, dyn_traits)
{
	check("_RINvCs1234_1m3fooDNtNtCs5678_4core3fmt5DebugEL_E", DEMANGLE_RUST_V0,
	      "m::foo::<dyn core::fmt::Debug>");
	check("_RINvCs1234_1m3fooDNtNtNtCs5678_4core4iter6traits8Iteratorp4ItemhEL_E",
	      DEMANGLE_RUST_V0, "m::foo::<dyn core::iter::traits::Iterator<Item = u8>>");
}

Test(rust_v0, const_generics)
{
	check("_RINvCs1234_1m3fooKj4_E", DEMANGLE_RUST_V0, "m::foo::<4>");
	check("_RINvCs1234_1m3fooKb1_Kb0_E", DEMANGLE_RUST_V0, "m::foo::<true, false>");
	check("_RINvCs1234_1m3fooKc61_E", DEMANGLE_RUST_V0, "m::foo::<'a'>");
	check("_RINvCs1234_1m3fooKln5_E", DEMANGLE_RUST_V0, "m::foo::<-5>");
	check("_RINvCs1234_1m3fooKpE", DEMANGLE_RUST_V0, "m::foo::<_>");
	check("_RINvCsbVXqutUjNVO_1x5boolcKb1_Kc78_Kln5_EB2_", DEMANGLE_RUST_V0,
	      "x::boolc::<true, 'x', -5>");
	/* wider than 64 bits: hex, as rustc-demangle */
	check("_RINvCs1234_1m3fooKo80000000000000000000000000000000_E", DEMANGLE_RUST_V0,
	      "m::foo::<0x80000000000000000000000000000000>");
}

Test(rust_v0, structural_consts)
{
	/* rustc-demangle's alternate form; c++filt 2.40 rejects these */
	check("_RINvCs1234_1m3fooKRe616263_E", DEMANGLE_RUST_V0, "m::foo::<\"abc\">");
	check("_RINvCs1234_1m3fooKe616263_E", DEMANGLE_RUST_V0, "m::foo::<{*\"abc\"}>");
	check("_RINvCs1234_1m3fooKAh1_h2_h3_EE", DEMANGLE_RUST_V0, "m::foo::<{[1, 2, 3]}>");
	check("_RINvCs1234_1m3fooKTh1_b0_EE", DEMANGLE_RUST_V0, "m::foo::<{(1, false)}>");
	check("_RINvCs1234_1m3fooKRRRh0_E", DEMANGLE_RUST_V0, "m::foo::<{&&&0}>");
	check("_RINvCs1234_1m3fooKVNvINtNtC4core6option6OptionjE4SomeTj0_EE", DEMANGLE_RUST_V0,
	      "m::foo::<{core::option::Option::<usize>::Some(0)}>");
	check("_RINvCs1234_1m3fooKVNtC3foo3BarS1sRe616263_2chc78_EE", DEMANGLE_RUST_V0,
	      "m::foo::<{foo::Bar { s: \"abc\", ch: 'x' }}>");
}

Test(rust_v0, punycode)
{
	check("_RNvCsbVXqutUjNVO_1xu9gre_6ka8i", DEMANGLE_RUST_V0, "x::größe");
	check("_RNvCsbVXqutUjNVO_1xu7_1lqs71d", DEMANGLE_RUST_V0, "x::東京");
}

Test(rust_v0, suffixes)
{
	check("_RNvCs1234_1m3foo.llvm.8412345", DEMANGLE_RUST_V0, "m::foo [clone .llvm.8412345]");
	check("_RNvNtNtCsjrHSEGnQ3l9_3std6thread11main_thread4MAIN.0", DEMANGLE_RUST_V0,
	      "std::thread::main_thread::MAIN [clone .0]");
}

Test(rust_v0, bad_backrefs)
{
	char out[64];

	/* a backref must point before itself */
	cr_expect_eq(demangle("_RNvB_3foo", out, sizeof(out)), DEMANGLE_NONE);
	cr_expect_eq(demangle("_RNvB0_3foo", out, sizeof(out)), DEMANGLE_NONE);
	cr_expect_eq(demangle("_RNvNvB1_3foo3bar", out, sizeof(out)), DEMANGLE_NONE);
	cr_expect_str_eq(out, "");
}

/* ---- Itanium C++ ----------------------------------------------------- */

Test(cxx, functions)
{
	check("_ZN5redis4callEP6clienti", DEMANGLE_CXX, "redis::call(client*, int)");
	check("_Z1fv", DEMANGLE_CXX, "f()");
	check("_Z1fiz", DEMANGLE_CXX, "f(int, ...)");
	check("_ZNK1A1fIiEEvv", DEMANGLE_CXX, "void A::f<int>() const");
	check("_ZNKR1A1fEv", DEMANGLE_CXX, "A::f() const &");
	check("_ZNKO1A1fEv", DEMANGLE_CXX, "A::f() const &&");
	check("_ZN12_GLOBAL__N_13fooEv", DEMANGLE_CXX, "(anonymous namespace)::foo()");
}

Test(cxx, std_abbreviations)
{
	check("_Z1fSs", DEMANGLE_CXX, "f(std::string)");
	check("_Z1fSo", DEMANGLE_CXX, "f(std::ostream)");
	check("_Z1fSaIcE", DEMANGLE_CXX, "f(std::allocator<char>)");
	check("_ZNSsD1Ev", DEMANGLE_CXX,
	      "std::basic_string<char, std::char_traits<char>, std::allocator<char> >::~basic_string()");
	check("_ZNSdC2Ev", DEMANGLE_CXX,
	      "std::basic_iostream<char, std::char_traits<char> >::basic_iostream()");
	check("_ZNSt8ios_base4InitC1Ev", DEMANGLE_CXX, "std::ios_base::Init::Init()");
	check("_ZSt4cout", DEMANGLE_CXX, "std::cout");
}

Test(cxx, substitutions_and_templates)
{
	check("_Z1fSt6vectorIiSaIiEE", DEMANGLE_CXX, "f(std::vector<int, std::allocator<int> >)");
	check("_Z1fRKSt6vectorIS_IiSaIiEESaIS1_EE", DEMANGLE_CXX,
	      "f(std::vector<std::vector<int, std::allocator<int> >, "
	      "std::allocator<std::vector<int, std::allocator<int> > > > const&)");
	check("_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEC1Ev", DEMANGLE_CXX,
	      "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >"
	      "::basic_string()");
	check("_ZSt3maxIiERKT_S2_S2_", DEMANGLE_CXX, "int const& std::max<int>(int const&, int const&)");
	check("_Z1fIiEvT_S0_", DEMANGLE_CXX, "void f<int>(int, int)");
	check("_ZNKSt8functionIFviEEclEi", DEMANGLE_CXX, "std::function<void (int)>::operator()(int) const");
}

Test(cxx, packs_and_forwarding)
{
	check("_ZSt7forwardIRiEOT_RNSt16remove_referenceIS1_E4typeE", DEMANGLE_CXX,
	      "int& std::forward<int&>(std::remove_reference<int&>::type&)");
	check("_ZNSt6vectorIiSaIiEE12emplace_backIJiRcEEEvDpOT_", DEMANGLE_CXX,
	      "void std::vector<int, std::allocator<int> >::emplace_back<int, char&>(int&&, char&)");
	check("_ZNSt6vectorIiSaIiEE12emplace_backIJEEEvDpOT_", DEMANGLE_CXX,
	      "void std::vector<int, std::allocator<int> >::emplace_back<>()");
	check("_Z1fIJicEEvDpPT_", DEMANGLE_CXX, "void f<int, char>(int*, char*)");
}

Test(cxx, declarators)
{
	check("_Z1fPFviE", DEMANGLE_CXX, "f(void (*)(int))");
	check("_Z1fKPFvvE", DEMANGLE_CXX, "f(void (* const)())");
	check("_Z1fRA3_i", DEMANGLE_CXX, "f(int (&) [3])");
	check("_Z1fPA3_A4_i", DEMANGLE_CXX, "f(int (*) [3][4])");
	check("_Z1fM1AKFvvE", DEMANGLE_CXX, "f(void (A::*)() const)");
	check("_Z1fM1Ai", DEMANGLE_CXX, "f(int A::*)");
	check("_Z1fPVKi", DEMANGLE_CXX, "f(int const volatile*)");
	check("_Z1fPVKA3_i", DEMANGLE_CXX, "f(int volatile const (*) [3])");
	check("_Z1fPFPFvvEvE", DEMANGLE_CXX, "f(void (*(*)())())");
	check("_Z1fPDoFvvE", DEMANGLE_CXX, "f(void (*)() noexcept)");
	check("_Z1fIiEPFvvEv", DEMANGLE_CXX, "void (*f<int>())()");
	check("_Z1fDv4_f", DEMANGLE_CXX, "f(float __vector(4))");
}

Test(cxx, operators)
{
	check("_ZN1AcviEv", DEMANGLE_CXX, "A::operator int()");
	check("_ZN1AnwEm", DEMANGLE_CXX, "A::operator new(unsigned long)");
	check("_ZN1AdaEPv", DEMANGLE_CXX, "A::operator delete[](void*)");
	check("_ZN1AltIiEEbv", DEMANGLE_CXX, "bool A::operator< <int>()");
	check("_ZN1AaSERKS_", DEMANGLE_CXX, "A::operator=(A const&)");
	check("_ZN1AssERKS_", DEMANGLE_CXX, "A::operator<=>(A const&)");
	check("_Zli2_xPKc", DEMANGLE_CXX, "operator\"\" _x(char const*)");
	check("_ZnwmRKSt9nothrow_t", DEMANGLE_CXX, "operator new(unsigned long, std::nothrow_t const&)");
}

Test(cxx, local_names_and_lambdas)
{
	check("_ZZ3fooIiEvvE1x", DEMANGLE_CXX, "foo<int>()::x");
	check("_ZZ3foovEs_0", DEMANGLE_CXX, "foo()::string literal");
	check("_ZZ3foovEd0_N1A1fEv", DEMANGLE_CXX, "foo()::{default arg#2}::A::f()");
	check("_ZZ1fvENKUlvE0_clEv", DEMANGLE_CXX, "f()::{lambda()#2}::operator()() const");
	check("_ZZ1fvENKUlT_E_clIiEEDaS_", DEMANGLE_CXX,
	      "auto f()::{lambda(auto:1)#1}::operator()<int>(int) const");
	check("_ZN1AUt0_E", DEMANGLE_CXX, "A::{unnamed type#2}");
	check("_ZN1A1fB5cxx11Ev", DEMANGLE_CXX, "A::f[abi:cxx11]()");
}

Test(cxx, special_names)
{
	check("_ZTVN1A1BE", DEMANGLE_CXX, "vtable for A::B");
	check("_ZTISt9exception", DEMANGLE_CXX, "typeinfo for std::exception");
	check("_ZTSSt9exception", DEMANGLE_CXX, "typeinfo name for std::exception");
	check("_ZThn8_N1A1fEv", DEMANGLE_CXX, "non-virtual thunk to A::f()");
	check("_ZTv0_n24_N1A1fEv", DEMANGLE_CXX, "virtual thunk to A::f()");
	check("_ZGVZ3foovE1x", DEMANGLE_CXX, "guard variable for foo()::x");
	check("_ZTCN1A1BE0_N1C1DE", DEMANGLE_CXX, "construction vtable for C::D-in-A::B");
	check("_ZTHN1A1xE", DEMANGLE_CXX, "TLS init function for A::x");
}

Test(cxx, literals_and_expressions)
{
	check("_Z3fooILi5EEvv", DEMANGLE_CXX, "void foo<5>()");
	check("_Z3fooILm5EEvv", DEMANGLE_CXX, "void foo<5ul>()");
	check("_Z3fooILin5EEvv", DEMANGLE_CXX, "void foo<-5>()");
	check("_Z3fooILb1EEvv", DEMANGLE_CXX, "void foo<true>()");
	check("_Z3fooILc97EEvv", DEMANGLE_CXX, "void foo<(char)97>()");
	check("_Z3fooIXadL_Z1gvEEEvv", DEMANGLE_CXX, "void foo<&(g())>()");
	check("_Z1fIiEDTplfp_Li1EET_", DEMANGLE_CXX, "decltype ({parm#1}+(1)) f<int>(int)");
	check("_Z1fIiEDTgtfp_Li1EET_", DEMANGLE_CXX, "decltype (({parm#1}>(1))) f<int>(int)");
}

Test(cxx, clone_suffixes)
{
	check("_Z3foov.cold", DEMANGLE_CXX, "foo() [clone .cold]");
	check("_Z3foov.isra.0", DEMANGLE_CXX, "foo() [clone .isra.0]");
	check("_Z3foov.constprop.0.isra.0", DEMANGLE_CXX, "foo() [clone .constprop.0] [clone .isra.0]");
	check("_Z1fv.isra.0.cold", DEMANGLE_CXX, "f() [clone .isra.0] [clone .cold]");
	/* c++filt rejects these two; they are still one symbol each */
	check("_ZN1A1xE.lto_priv.0", DEMANGLE_CXX, "A::x [clone .lto_priv.0]");
	check("_Z3foov.llvm.123ABC", DEMANGLE_CXX, "foo() [clone .llvm.123ABC]");
	check("_Z1fv@GLIBCXX_3.4", DEMANGLE_CXX, "f()@GLIBCXX_3.4");
}

/* ---- not mangled, malformed, truncated ------------------------------- */

Test(plain, c_names)
{
	const char *names[] = {"main", "memcpy", "foo.cold", "_start", "__libc_start_main",
			       "_Z", "_R", "_ZN", "", "_", "Zfoo", "_RUST"};
	char out[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		strcpy(out, "junk");
		cr_expect_eq(demangle(names[i], out, sizeof(out)), DEMANGLE_NONE, "%s", names[i]);
		cr_expect_str_eq(out, "", "%s", names[i]);
	}
	cr_expect_eq(demangle(NULL, out, sizeof(out)), DEMANGLE_NONE);
	cr_expect_str_eq(demangle_scheme_name(DEMANGLE_RUST_V0), "rust-v0");
}

Test(plain, malformed)
{
	const char *bad[] = {
		"_ZN1m3foo", "_ZN3fooE1", "_Z1fPP", "_ZNK", "_Z1fS_", "_Z1fT_", "_ZTV",
		"_ZN1m3foo17h0123456789abcdefE$junk", "_RNvCs1234_1m3foo_x",
		"_RC3fo", "_RNvC3foo", "_RNvCs1234_1m100foo", "_RINvCs1234_1m3foom", "_R0NvC1m3foo",
		"_ZN1m99999999999999999999foo17h0123456789abcdefE", "_Z1f\xff",
	};
	char out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(demangle(bad[i], out, sizeof(out)), DEMANGLE_NONE, "%s", bad[i]);
		cr_expect_str_eq(out, "", "%s", bad[i]);
	}
}

Test(plain, truncation)
{
	char out[16];

	cr_expect_eq(demangle("_ZN11spacetimedb4host12instance_env11InstanceEnv6insert"
			      "17h0123456789abcdefE", out, sizeof(out)), DEMANGLE_RUST_LEGACY);
	cr_expect_str_eq(out, "spacetimedb:...");
	cr_expect_eq(demangle("_ZN5redis4callEP6clienti", out, sizeof(out)), DEMANGLE_CXX);
	cr_expect_str_eq(out, "redis::call(...");
	cr_expect_eq(demangle("_RNvMNtCs1234_1m2dbNtB2_12RelationalDB6insert", out, 4),
		     DEMANGLE_RUST_V0);
	cr_expect_str_eq(out, "...");
	cr_expect_eq(demangle("_Z1fv", out, 1), DEMANGLE_CXX);
	cr_expect_str_eq(out, "");
	cr_expect_eq(demangle("_Z1fv", NULL, 0), DEMANGLE_CXX);
	demangle_match_key("spacetimedb::host::instance_env", out, sizeof(out));
	cr_expect_str_eq(out, "spacetimedb:...");
}

Test(plain, deep_nesting)
{
	static char sym[20000];
	char out[256];
	size_t n;

	/* pointer to pointer to ... : bounded recursion, no crash */
	memcpy(sym, "_Z1f", 4);
	n = 4;
	while (n < 10004)
		sym[n++] = 'P';
	memcpy(sym + n, "v", 2);
	cr_expect_eq(demangle(sym, out, sizeof(out)), DEMANGLE_NONE);

	/* a v0 chain of nested paths and of tuple types */
	memcpy(sym, "_R", 2);
	n = 2;
	while (n < 10002)
		sym[n++] = 'N', sym[n++] = 'v';
	memcpy(sym + n, "C1m", 4);
	cr_expect_eq(demangle(sym, out, sizeof(out)), DEMANGLE_NONE);
	memcpy(sym, "_RINvC1m1fT", 11);
	n = 11;
	while (n < 10011)
		sym[n++] = 'T';
	sym[n] = '\0';
	cr_expect_eq(demangle(sym, out, sizeof(out)), DEMANGLE_NONE);
}

static void put_base62(char **p, unsigned v)
{
	static const char digits[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	/* v0 backref to position v: "_" for 0, else base-62 of v - 1, "_" */
	if (v > 0) {
		if (v - 1 >= 62)
			*(*p)++ = digits[(v - 1) / 62];
		*(*p)++ = digits[(v - 1) % 62];
	}
	*(*p)++ = '_';
}

Test(plain, exponential_expansion)
{
	/*
	 * Types whose text doubles at each level, through v0 backrefs and
	 * C++ substitutions: 2^40 characters if fully expanded. The output is
	 * cut at the buffer and the work stays small (were it not, the test
	 * would not finish; no Criterion .timeout: it leaks under LSan).
	 */
	static char sym[4096];
	char out[512], *p;
	const int k = 40;

	/* _R I NvC1m1f  T^k h (B<inner> E)^k E: level j is (level j-1, level j-1) */
	p = sym + sprintf(sym, "_RINvC1m1f");
	for (int j = 0; j < k; j++)
		*p++ = 'T';
	*p++ = 'h';
	for (int j = 1; j <= k; j++) {
		/* level j starts at 8 + k - j (after "_R"); level j-1 just after */
		*p++ = 'B';
		put_base62(&p, (unsigned)(8 + k - j + 1));
		*p++ = 'E';
	}
	strcpy(p, "E");
	cr_expect_eq(demangle(sym, out, sizeof(out)), DEMANGLE_RUST_V0);
	cr_expect_eq(strlen(out), sizeof(out) - 1);
	cr_expect_eq(strncmp(out, "m::f::<((((", 11), 0, "%s", out);

	/* _Z1f St4pairIiiE S_IS0_S0_E S_IS1_S1_E ...: std::pair<prev, prev> */
	p = sym + sprintf(sym, "_Z1fSt4pairIiiE");
	for (int j = 1; j <= 30; j++)
		p += sprintf(p, "S_IS%c_S%c_E", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[j - 1],
			     "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[j - 1]);
	cr_expect_eq(demangle(sym, out, sizeof(out)), DEMANGLE_CXX, "%s", sym);
	cr_expect_eq(strlen(out), sizeof(out) - 1);
	cr_expect_eq(strncmp(out, "f(std::pair<int, int>, std::pair<std::pair<int, int>, ", 52), 0,
		     "%s", out);
}

/* ---- match keys ------------------------------------------------------ */

Test(match_key, header_examples)
{
	check_key("<m::db::RelationalDB>::insert", "m::db::RelationalDB::insert");
	check_key("run_inner::<spacetimedb::Foo>", "run_inner");
	check_key("redis::call(client*, int) const", "redis::call");
	check_key("<A as B>::f", "<A as B>::f");
	check_key("m::f [clone .cold]", "m::f [clone .cold]");
}

Test(match_key, plain_names)
{
	check_key("main", "main");
	check_key("foo.cold", "foo.cold");
	check_key("memcpy@GLIBC_2.14", "memcpy@GLIBC_2.14");
	check_key("", "");
}

Test(match_key, rust_schemes_agree)
{
	/* the same function named by v0 and by legacy gives the same key */
	check_sym_key("_RNvMNtNtCskK7mfDs1mzF_1m2db13relational_dbNtB2_12RelationalDB6insert",
		      "m::db::relational_db::RelationalDB::insert");
	check_sym_key("_ZN1m2db13relational_db12RelationalDB6insert17h0123456789abcdefE",
		      "m::db::relational_db::RelationalDB::insert");
	check_key("<alloc::vec::Vec<u8>>::push", "alloc::vec::Vec::push");
	check_key("alloc::vec::Vec<T,A>::push", "alloc::vec::Vec::push");
	check_key("<x::Rect<f32> as x::Shape>::name", "<x::Rect as x::Shape>::name");
	check_key("<x::Rect<T> as x::Shape>::name", "<x::Rect as x::Shape>::name");
}

Test(match_key, rust_shapes)
{
	check_key("core::ptr::drop_in_place::<alloc::vec::Vec<u8>>", "core::ptr::drop_in_place");
	check_key("core::ptr::drop_in_place<alloc::vec::Vec<u8>>", "core::ptr::drop_in_place");
	check_key("<&mut W as core::fmt::Write>::write_str", "<&mut W as core::fmt::Write>::write_str");
	check_key("<fn() -> u8 as core::fmt::Debug>::fmt", "<fn() -> u8 as core::fmt::Debug>::fmt");
	check_key("core::slice::<impl [T]>::len", "core::slice::<impl [T]>::len");
	check_key("m::main::{closure#0}", "m::main::{closure#0}");
	check_key("<<A as B>::C as D>::f", "<<A as B>::C as D>::f");
	check_key("<m::Foo>::bar::<u8>::{closure#1}", "m::Foo::bar::{closure#1}");
	check_key("m::foo [clone .llvm.1234]", "m::foo");
	check_key("m::foo [clone .cold]", "m::foo [clone .cold]");
	check_key("m::foo [clone .part.0] [clone .llvm.77]", "m::foo [clone .part.0]");
	check_key("foo(int) [clone .constprop.0] [clone .isra.0]", "foo [clone .constprop.0] [clone .isra.0]");
}

Test(match_key, cxx_shapes)
{
	check_key("void std::vector<int, std::allocator<int> >::emplace_back<int>(int&&)",
		  "std::vector::emplace_back");
	check_key("int const& std::max<int>(int const&, int const&)", "std::max");
	check_key("bool A::operator< <int>()", "A::operator<");
	check_key("A::operator int() const", "A::operator int");
	check_key("A::operator()(int) const &", "A::operator()");
	check_key("operator new(unsigned long)", "operator new");
	check_key("(anonymous namespace)::foo(int)", "(anonymous namespace)::foo");
	check_key("foo()::{lambda(int)#1}::operator()(int) const", "foo::{lambda(int)#1}::operator()");
	check_key("A::f[abi:cxx11]()", "A::f");
	check_key("vtable for std::foo<int>", "vtable for std::foo");
	/* every prefix the printer writes is one the key keeps (one shared list) */
	check_key("template parameter object for ns::A<1>", "template parameter object for ns::A");
	check_key("construction vtable for std::ios-in-std::foo", "construction vtable for std::ios-in-std::foo");
	check_key("non-virtual thunk to A::f()", "non-virtual thunk to A::f");
	check_key("foo() [clone .isra.0] [clone .cold]", "foo [clone .isra.0] [clone .cold]");
	check_sym_key("_ZN5redis4callEP6clienti", "redis::call");
}

/* ---- mutation fuzzing ------------------------------------------------ */

static const char *const seeds[] = {
	"_ZN11spacetimedb4host12instance_env11InstanceEnv6insert17h0123456789abcdefE",
	"_ZN146_$LT$spacetimedb..host..wasmtime..wasmtime_module..WasmtimeInstance$u20$as$u20$"
	"spacetimedb..host..wasm_common..module_host_actor..WasmInstance$GT$12call_reducer"
	"17h0123456789abcdefE",
	"_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure"
	"$u7d$$u7d$$GT$17h0123456789abcdefE",
	"_RNvMNtNtCskK7mfDs1mzF_1m2db13relational_dbNtB2_12RelationalDB6insert",
	"_RNvMs3_NtCslNYArtu3iFV_5alloc7raw_vecINtB5_6RawVecINtNtB7_5boxed3BoxDINtNtNtCsgEmfK2I1SD"
	"S_4core3ops8function5FnMutuEp6OutputINtNtB1c_6result6ResultuNtNtNtCsjrHSEGnQ3l9_3std2io5e"
	"rror5ErrorENtNtB1c_6marker4SyncNtB32_4SendEL_EE8grow_oneB2s_",
	"_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeINtNtNtCsduwmD7cSIQq_5gimli4read4line8LineRo"
	"wsINtNtBL_12endian_slice11EndianSliceNtNtBN_9endianity12LittleEndianEINtBJ_21Incomplete"
	"LineProgramB1q_jEjEECsjrHSEGnQ3l9_3std",
	"_RINvCs1234_1m3fooKVNtC3foo3BarS1sRe616263_2chc78_EE",
	"_RINvCs1234_1m3fooFG_RL0_hEuE",
	"_RNvCsbVXqutUjNVO_1xu9gre_6ka8i",
	"_ZNSt6vectorIiSaIiEE12emplace_backIJiRcEEEvDpOT_",
	"_ZSt7forwardIRiEOT_RNSt16remove_referenceIS1_E4typeE",
	"_ZZNSt9once_flag18_Prepare_executionC1IZSt9call_onceIMSt6threadFvvEJPS3_EEvRS_OT_DpOT0_EU"
	"lvE_EERS8_ENUlvE_8__invokeEv",
	"_ZN4llvm17make_filter_rangeIRNS_10BasicBlockESt8functionIFbRNS_11InstructionEEEEENS_14ite"
	"rator_rangeINS_20filter_iterator_implIDTclsr3stdE5beginclsr3stdE7declvalIRT_EEEET0_NS_6d"
	"etail15fwd_or_bidi_tagISC_E4typeEEEEEOSA_SD_",
	"_Z1fPVKA3_i", "_Z1fPFPFvvEvE", "_ZZ1fvENKUlT_E_clIiEEDaS_", "_ZTCN1A1BE0_N1C1DE",
	"_Z1fIiEDTgtfp_Li1EET_", "_Z3foov.constprop.0.isra.0", "_ZNKSt8functionIFviEEclEi",
	"_ZN1AcvT_IiEEv", "_Z1fIJEiEvv", "_ZThn8_N1A1fEv", "_ZGVZ3foovE1x",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, so failures reproduce */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static const char alphabet[] = "0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$.@";

Test(fuzz, mutated_real_symbols)
{
	static char buf[1024], out[512], key[512];
	const size_t nseeds = sizeof(seeds) / sizeof(seeds[0]);
	const size_t sizes[] = {1, 2, 8, 31, sizeof(out)};
	unsigned long demangled = 0;

	for (int iter = 0; iter < 50000; iter++) {
		size_t len;
		int edits = rng() % 2 ? 1 : 1 + (int)(rng() % 4);

		strcpy(buf, seeds[rng() % nseeds]);
		len = strlen(buf);
		for (int e = 0; e < edits; e++) {
			size_t at = len ? rng() % len : 0;

			switch (rng() % 6) {
			case 0: /* replace a byte, sometimes with any byte value */
				if (len)
					buf[at] = rng() % 8 ? alphabet[rng() % (sizeof(alphabet) - 1)]
							    : (char)(1 + rng() % 255);
				break;
			case 1: /* insert a byte */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at + 1);
					buf[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
					len++;
				}
				break;
			case 2: /* delete a span */
				if (len) {
					size_t n = 1 + rng() % 8;

					if (n > len - at)
						n = len - at;
					memmove(buf + at, buf + at + n, len - at - n + 1);
					len -= n;
				}
				break;
			case 3: { /* duplicate a span */
				size_t n = 1 + rng() % 24;

				if (n > len - at)
					n = len - at;
				if (len + n < sizeof(buf)) {
					memmove(buf + at + n, buf + at, len - at + 1);
					len += n;
				}
				break;
			}
			case 4: { /* splice the tail of another seed */
				const char *o = seeds[rng() % nseeds];
				size_t from = rng() % strlen(o);

				if (at + strlen(o + from) < sizeof(buf))
					strcpy(buf + at, o + from);
				len = strlen(buf);
				break;
			}
			default: /* truncate */
				buf[at] = '\0';
				len = at;
				break;
			}
		}
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			enum demangle_scheme sc = demangle(buf, out, sizes[s]);

			cr_assert(strlen(out) < sizes[s], "unterminated output for %s", buf);
			if (sc == DEMANGLE_NONE)
				cr_assert_str_eq(out, "", "%s", buf);
			else if (s == sizeof(sizes) / sizeof(sizes[0]) - 1)
				demangled++;
			demangle_match_key(out, key, sizes[s]);
			cr_assert(strlen(key) < sizes[s]);
		}
		demangle_match_key(buf, key, sizeof(key));
	}
	/* the mutations must not all be rejected, or the test is hollow */
	cr_expect_gt(demangled, 2500, "only %lu of 50000 mutants demangled", demangled);
}
