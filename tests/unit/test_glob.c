/* SPDX-License-Identifier: MIT */
/* test_glob.c: glob_match against fnmatch(3) (flags 0, C locale) as the oracle. */
#include <criterion/criterion.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>

#include "glob.h"

Test(glob, cases)
{
	static const struct {
		const char *pattern, *text;
		bool match;
	} cases[] = {
		{ "", "", true },
		{ "", "a", false },
		{ "*", "", true },
		{ "*", "spacetimedb::sql::run", true },
		{ "db_*", "db_insert", true },
		{ "db_*", "xdb_insert", false },
		{ "*insert", "a::b::insert", true },
		{ "a::*::insert", "a::b::c::insert", true },
		{ "a::*::insert", "a::insert", false },
		{ "InstanceEnv::datastore_*_scan_*_chunks", "InstanceEnv::datastore_index_scan_range_bsatn_chunks", true },
		{ "?all", "call", true },
		{ "?all", "all", false },
		{ "[cb]all", "ball", true },
		{ "[!cb]all", "ball", false },
		{ "[^cb]all", "tall", true },
		{ "[a-c]x", "bx", true },
		{ "[a-c]x", "dx", false },
		{ "[]]x", "]x", true },
		{ "a[", "a[", true },
		{ "\\*", "*", true },
		{ "\\*", "a", false },
		{ "<* as *>::call_reducer", "<a::W as b::I>::call_reducer", true },
		{ "*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
		{ "redis-*", "redis-server", true },
		{ "spacetimedb-standalone", "spacetimedb-standalone", true },
		{ "spacetimedb-standalone", "spacetimedb-cli", false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_expect_eq(glob_match(cases[i].pattern, cases[i].text), cases[i].match, "\"%s\" vs \"%s\"",
		             cases[i].pattern, cases[i].text);
		cr_expect_eq(fnmatch(cases[i].pattern, cases[i].text, 0) == 0, cases[i].match,
		             "oracle disagrees with the table: \"%s\" vs \"%s\"", cases[i].pattern, cases[i].text);
	}
}

/*
 * Malformed patterns (a '[' with no ']' after it, a trailing lone '\\') are
 * left out of the comparison: POSIX leaves them open and glibc rejects them.
 */
static bool well_formed(const char *p)
{
	for (; *p; p++) {
		if (*p == '\\' && *++p == '\0')
			return false;
		if (*p == '[') {
			const char *close = p + 1;
			if (*close == '!' || *close == '^')
				close++;
			if (*close == ']')
				close++;
			while (*close && *close != ']')
				close++;
			if (*close != ']')
				return false;
		}
	}
	return true;
}

/* Random patterns over a small alphabet, compared with fnmatch. */
Test(glob, agrees_with_fnmatch_on_random_inputs)
{
	static const char pattern_chars[] = "ab:*?[]!-\\";
	static const char text_chars[] = "ab:[]-\\";
	srand(7);
	size_t compared = 0;
	for (int n = 0; n < 200000; n++) {
		char pattern[12], text[12];
		int plen = rand() % 10, tlen = rand() % 10;
		for (int i = 0; i < plen; i++)
			pattern[i] = pattern_chars[rand() % (sizeof pattern_chars - 1)];
		pattern[plen] = '\0';
		for (int i = 0; i < tlen; i++)
			text[i] = text_chars[rand() % (sizeof text_chars - 1)];
		text[tlen] = '\0';
		if (!well_formed(pattern))
			continue;
		bool expected = fnmatch(pattern, text, 0) == 0;
		cr_assert_eq(glob_match(pattern, text), expected, "\"%s\" vs \"%s\": fnmatch says %d", pattern, text,
		             expected);
		compared++;
	}
	cr_assert_gt(compared, 100000, "only %zu well-formed patterns compared", compared);
}
