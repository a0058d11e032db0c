/* SPDX-License-Identifier: MIT */
/*
 * test_demangle_oracle.c: demangle() against GNU c++filt on real binaries.
 *
 * STDBTEL_ORACLE_BINARIES is a colon-separated list of ELF files. For each
 * one the symbol names from .symtab and .dynsym (nm, then sort -u) are
 * written to a temporary file and run through "c++filt -i" (one name per
 * line). --no-verbose (-i) is c++filt's form of our display form: it
 * leaves out the Rust legacy hash and the v0 crate disambiguators
 * ("m[f19dcfa532266295]::db" in the default verbose mode) and prints
 * std::string rather than the full basic_string<...> for Ss, so no other
 * normalisation of c++filt's text is needed.
 *
 * Every symbol is compared:
 *   - c++filt changed it: demangle() must give the same text, except for
 *     the listed kinds of difference below;
 *   - c++filt left it alone: demangle() must return DEMANGLE_NONE for
 *     anything not starting with _Z or _R (C names must pass through);
 *     for _Z/_R names it may still demangle (counted as "lenient").
 *
 * Accepted differences, each counted and printed per binary:
 *   rust-suffix      c++filt drops a Rust symbol's vendor suffix (".llvm.N",
 *                    ".0"); demangle.h keeps it as " [clone .llvm.N]", the
 *                    style c++filt itself uses for C++. Compared after
 *                    removing our trailers. Not capped: it is a stated
 *                    difference of format, not of demangling.
 *   rust-non-ascii   rustc-demangle decodes legacy "$u6771$" and prints v0
 *                    char constants such as 'ö' as themselves; c++filt only
 *                    decodes ASCII escapes and prints '\u{f6}'.
 *   v0-wide-const    v0 integer constants wider than 64 bits: c++filt 2.40
 *                    prints "0x" plus all but the first digit and a stray
 *                    '_'; we print rustc-demangle's "0x" + the hex digits.
 * The last two are capped at 1% of the demangled symbols of a binary; any
 * other difference fails the test. More than 100 names must be compared
 * per binary (all of them for a binary with no more than 100), and c++filt
 * must have demangled more than 100 names over the whole list, so the test
 * cannot pass without comparing anything.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demangle.h"

#define OUT_SIZE 65536 /* large enough that nothing real is truncated */

struct tally {
	unsigned long symbols, changed, equal, rust_suffix, non_ascii, wide_const;
	unsigned long mismatches, unchanged_none, lenient;
};

/* Reads one line (without '\n') into *buf; false at EOF. */
static bool read_line(FILE *f, char **buf, size_t *cap)
{
	ssize_t n = getline(buf, cap, f);

	if (n < 0)
		return false;
	if (n > 0 && (*buf)[n - 1] == '\n')
		(*buf)[n - 1] = '\0';
	return true;
}

/* Appends s to cmd, quoted for sh. */
static void append_quoted(char *cmd, size_t size, const char *s)
{
	size_t n = strlen(cmd);

	if (n + 1 < size)
		cmd[n++] = '\'';
	for (; *s && n + 5 < size; s++) {
		if (*s == '\'') {
			memcpy(cmd + n, "'\\''", 4);
			n += 4;
		} else {
			cmd[n++] = *s;
		}
	}
	if (n + 1 < size)
		cmd[n++] = '\'';
	cmd[n] = '\0';
}

/* Our text with every " [clone ...]" trailer removed. */
static void strip_trailers(const char *in, char *out, size_t size)
{
	size_t n = 0;

	while (*in && n + 1 < size) {
		if (strncmp(in, " [clone ", 8) == 0) {
			const char *end = strchr(in, ']');

			if (end) {
				in = end + 1;
				continue;
			}
		}
		out[n++] = *in++;
	}
	out[n] = '\0';
}

static bool has_wide_hex(const char *s)
{
	for (const char *p = strstr(s, "0x"); p; p = strstr(p + 2, "0x")) {
		size_t n = strspn(p + 2, "0123456789abcdef");

		if (n > 16)
			return true;
	}
	return false;
}

static bool has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static void report(const char *what, const char *sym, const char *expect, const char *got,
		   unsigned long count)
{
	if (count <= 5)
		fprintf(stderr, "  %s: %s\n    c++filt: %s\n    ours:    %s\n", what, sym, expect, got);
}

static void check_binary(const char *bin, unsigned long *demangled)
{
	char list[] = "/tmp/stdbtel-oracle-XXXXXX";
	char cmd[8192];
	static char ours[OUT_SIZE], stripped[OUT_SIZE];
	char *sym = NULL, *exp = NULL;
	size_t symcap = 0, expcap = 0;
	struct tally t = {0};
	FILE *syms, *filt;
	int fd;
	int status;

	fd = mkstemp(list);
	cr_assert(fd >= 0, "mkstemp failed");
	close(fd);

	/* symbol names, without @VERSION on .dynsym entries (the ELF names) */
	snprintf(cmd, sizeof(cmd), "{ nm --defined-only -j ");
	append_quoted(cmd, sizeof(cmd), bin);
	strncat(cmd, " 2>/dev/null; nm -D --defined-only -j --without-symbol-versions ",
		sizeof(cmd) - strlen(cmd) - 1);
	append_quoted(cmd, sizeof(cmd), bin);
	strncat(cmd, " 2>/dev/null; } | sort -u > ", sizeof(cmd) - strlen(cmd) - 1);
	append_quoted(cmd, sizeof(cmd), list);
	status = system(cmd);
	cr_assert(status == 0, "listing symbols of %s failed: %s", bin, cmd);

	snprintf(cmd, sizeof(cmd), "c++filt -i < ");
	append_quoted(cmd, sizeof(cmd), list);
	filt = popen(cmd, "r");
	cr_assert(filt != NULL, "cannot run c++filt");
	syms = fopen(list, "r");
	cr_assert(syms != NULL, "cannot read %s", list);

	while (read_line(syms, &sym, &symcap)) {
		enum demangle_scheme scheme;

		cr_assert(read_line(filt, &exp, &expcap), "c++filt gave fewer lines than symbols");
		t.symbols++;
		scheme = demangle(sym, ours, sizeof(ours));
		if (strcmp(exp, sym) == 0) {
			/* c++filt did not demangle it */
			if (scheme == DEMANGLE_NONE) {
				t.unchanged_none++;
			} else if (strncmp(sym, "_Z", 2) == 0 || strncmp(sym, "_R", 2) == 0) {
				report("lenient (c++filt failed, we demangled)", sym, exp, ours, ++t.lenient);
			} else {
				report("MISMATCH (demangled a plain name)", sym, exp, ours, ++t.mismatches);
			}
			continue;
		}
		t.changed++;
		if (scheme != DEMANGLE_NONE && strcmp(ours, exp) == 0) {
			t.equal++;
			continue;
		}
		if (scheme == DEMANGLE_RUST_LEGACY || scheme == DEMANGLE_RUST_V0) {
			strip_trailers(ours, stripped, sizeof(stripped));
			if (strcmp(stripped, exp) == 0) {
				t.rust_suffix++;
				continue;
			}
			if (has_non_ascii(stripped) && (strstr(exp, "\\u{") || strstr(exp, "$u"))) {
				report("rust-non-ascii", sym, exp, ours, ++t.non_ascii);
				continue;
			}
			if (scheme == DEMANGLE_RUST_V0 && has_wide_hex(stripped)) {
				report("v0-wide-const", sym, exp, ours, ++t.wide_const);
				continue;
			}
		}
		report("MISMATCH", sym, exp, scheme == DEMANGLE_NONE ? "(not demangled)" : ours,
		       ++t.mismatches);
	}
	cr_expect(!read_line(filt, &exp, &expcap), "c++filt gave more lines than symbols");
	fclose(syms);
	status = pclose(filt);
	unlink(list);
	free(sym);
	free(exp);
	cr_assert(status == 0, "c++filt failed (status %d)", status);

	fprintf(stderr,
		"oracle %s: %lu symbols; c++filt demangled %lu: %lu equal, %lu rust-suffix, "
		"%lu rust-non-ascii, %lu v0-wide-const, %lu mismatches; %lu left alone by both, "
		"%lu lenient; pass rate %.3f%% (%.3f%% exact)\n",
		bin, t.symbols, t.changed, t.equal, t.rust_suffix, t.non_ascii, t.wide_const,
		t.mismatches, t.unchanged_none, t.lenient,
		t.symbols ? 100.0 * (double)(t.symbols - t.mismatches) / (double)t.symbols : 0.0,
		t.changed ? 100.0 * (double)t.equal / (double)t.changed : 100.0);

	/*
	 * At least 100 names compared per binary; a binary with fewer names in
	 * all (a small C test target) has every one compared instead.
	 */
	if (t.symbols <= 100) {
		fprintf(stderr, "oracle %s: warning: only %lu symbols, all compared\n", bin, t.symbols);
		cr_expect_gt(t.symbols, 0, "%s: no symbols", bin);
		cr_expect_eq(t.lenient, 0, "%s: not every symbol was compared", bin);
	} else {
		cr_expect_gt(t.symbols - t.lenient, 100, "%s: only %lu symbols compared", bin,
			     t.symbols - t.lenient);
	}
	*demangled += t.changed;
	cr_expect_eq(t.mismatches, 0, "%s: %lu mismatches against c++filt", bin, t.mismatches);
	cr_expect_leq(t.non_ascii + t.wide_const, t.changed / 100 + 1,
		      "%s: too many accepted differences (%lu non-ASCII, %lu wide constants)", bin,
		      t.non_ascii, t.wide_const);
}

Test(oracle, cxxfilt)
{
	const char *env = getenv("STDBTEL_ORACLE_BINARIES");
	char *list, *save = NULL;
	int checked = 0;
	unsigned long demangled = 0;

	cr_assert(env != NULL && env[0] != '\0',
		  "STDBTEL_ORACLE_BINARIES is not set: give a colon-separated list of ELF "
		  "binaries to compare against c++filt (e.g. /usr/lib/x86_64-linux-gnu/libstdc++.so.6)");
	cr_assert(system("c++filt --version > /dev/null 2>&1") == 0, "c++filt is not installed");
	list = strdup(env);
	cr_assert(list != NULL);
	for (char *bin = strtok_r(list, ":", &save); bin; bin = strtok_r(NULL, ":", &save)) {
		if (bin[0] == '\0')
			continue;
		cr_assert(access(bin, R_OK) == 0, "cannot read %s", bin);
		check_binary(bin, &demangled);
		checked++;
	}
	free(list);
	cr_assert_gt(checked, 0, "STDBTEL_ORACLE_BINARIES names no binary");
	cr_assert_gt(demangled, 100, "c++filt demangled only %lu names in all: the binaries "
		     "have too few mangled names to test against", demangled);
}
