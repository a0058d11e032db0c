/* SPDX-License-Identifier: MIT */
/*
 * symbol_table.c: demangle every function symbol once, then answer
 * pattern queries from three chained hash indexes.
 *
 *   heads[0 .. n)      key            -> entry -> next_by_key -> ...
 *   heads[n .. 2n)     mangled name   -> entry -> next_by_mangled -> ...
 *   heads[2n .. 3n)    last segment   -> entry -> next_by_last -> ...
 *
 * Chains end in NO_ENTRY. Entries are sorted by address so that results
 * come out in a stable, readable order.
 */
#define _GNU_SOURCE
#include "symbol_table.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_ENTRY UINT32_MAX
/* Longest demangled name kept; longer ones are truncated by demangle(). */
#define DEMANGLED_MAX 4096

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The text after the last "::" (the function's own name), and its length. */
static const char *last_segment(const char *key, size_t *len)
{
	const char *seg = key;
	for (const char *p = key; (p = strstr(p, "::")) != NULL; p += 2)
		seg = p + 2;
	*len = strlen(seg);
	return seg;
}

/* Points at "h<16 hex>" in a legacy Rust symbol "..17h<16 hex>E...", or NULL. */
static const char *legacy_hash(const char *mangled)
{
	for (const char *p = strstr(mangled, "17h"); p != NULL; p = strstr(p + 1, "17h")) {
		size_t i = 0;
		while (i < 16 && ((p[3 + i] >= '0' && p[3 + i] <= '9') || (p[3 + i] >= 'a' && p[3 + i] <= 'f')))
			i++;
		if (i == 16 && p[19] == 'E')
			return p + 2;
	}
	return NULL;
}

static int compare_by_value(const void *a, const void *b)
{
	const struct symbol_entry *x = a, *y = b;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return strcmp(x->mangled, y->mangled);
}

/* Appends s to the key block; returns its offset or SIZE_MAX when out of memory. */
static size_t keys_append(char **block, size_t *used, size_t *cap, const char *s)
{
	size_t len = strlen(s) + 1;
	if (*used + len > *cap) {
		size_t ncap = *cap ? *cap * 2 : 1 << 16;
		while (ncap < *used + len)
			ncap *= 2;
		char *grown = realloc(*block, ncap);
		if (grown == NULL)
			return SIZE_MAX;
		*block = grown;
		*cap = ncap;
	}
	memcpy(*block + *used, s, len);
	*used += len;
	return *used - len;
}

static enum elf_status build_index(struct symbol_table *t, char *err, size_t errlen)
{
	const struct elf_file *ef = &t->elf;
	t->entries = calloc(ef->nsymbols ? ef->nsymbols : 1, sizeof *t->entries);
	if (t->entries == NULL)
		goto oom;

	/* Pass 1: demangle. Keys that differ from the mangled name go in one
	 * block; until it stops moving, entries hold offsets (+1, 0 = none). */
	char demangled[DEMANGLED_MAX], key[DEMANGLED_MAX];
	size_t used = 0, cap = 0;
	for (size_t i = 0; i < ef->nsymbols; i++) {
		const struct elf_symbol *sym = &ef->symbols[i];
		if (!elf_symbol_is_function(sym))
			continue;
		struct symbol_entry *e = &t->entries[t->count++];
		e->mangled = sym->name;
		e->value = sym->value;
		e->size = sym->size;
		e->bind = sym->bind;
		e->source = sym->source;
		e->scheme = demangle(sym->name, demangled, sizeof demangled);
		e->key = NULL;
		if (e->scheme == DEMANGLE_NONE)
			continue;
		if (e->scheme == DEMANGLE_RUST_LEGACY)
			e->hash = legacy_hash(sym->name);
		demangle_match_key(demangled, key, sizeof key);
		if (strcmp(key, sym->name) == 0)
			continue;
		size_t off = keys_append(&t->keys, &used, &cap, key);
		if (off == SIZE_MAX)
			goto oom;
		e->key = (const char *)(uintptr_t)(off + 1);
	}
	for (size_t i = 0; i < t->count; i++) {
		struct symbol_entry *e = &t->entries[i];
		uintptr_t off = (uintptr_t)e->key;
		e->key = off ? t->keys + (off - 1) : e->mangled;
	}
	qsort(t->entries, t->count, sizeof *t->entries, compare_by_value);

	/* Pass 2: hash chains, a power-of-two table at most half full. */
	t->nbuckets = 16;
	while (t->nbuckets < t->count * 2)
		t->nbuckets *= 2;
	t->heads = malloc(3 * t->nbuckets * sizeof *t->heads);
	if (t->heads == NULL)
		goto oom;
	memset(t->heads, 0xff, 3 * t->nbuckets * sizeof *t->heads);
	size_t mask = t->nbuckets - 1;
	for (size_t i = t->count; i-- > 0;) {
		struct symbol_entry *e = &t->entries[i];
		uint32_t *slot = &t->heads[hash_bytes(e->key, strlen(e->key)) & mask];
		e->next_by_key = *slot;
		*slot = (uint32_t)i;
		slot = &t->heads[t->nbuckets + (hash_bytes(e->mangled, strlen(e->mangled)) & mask)];
		e->next_by_mangled = *slot;
		*slot = (uint32_t)i;
		size_t seglen;
		const char *seg = last_segment(e->key, &seglen);
		slot = &t->heads[2 * t->nbuckets + (hash_bytes(seg, seglen) & mask)];
		e->next_by_last = *slot;
		*slot = (uint32_t)i;
	}
	return ELF_OK;
oom:
	snprintf(err, errlen, "out of memory indexing %zu symbols", ef->nsymbols);
	symbol_table_close(t);
	return ELF_ERR_IO;
}

enum elf_status symbol_table_open(struct symbol_table *t, const char *path, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	enum elf_status rc = elf_open(&t->elf, path, err, errlen);
	if (rc != ELF_OK)
		return rc;
	return build_index(t, err, errlen);
}

enum elf_status symbol_table_open_mem(struct symbol_table *t, const void *data, size_t size,
                                      char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	enum elf_status rc = elf_open_mem(&t->elf, data, size, err, errlen);
	if (rc != ELF_OK)
		return rc;
	return build_index(t, err, errlen);
}

void symbol_table_close(struct symbol_table *t)
{
	free(t->entries);
	free(t->keys);
	free(t->heads);
	elf_close(&t->elf);
	memset(t, 0, sizeof *t);
}

bool symbol_pattern_is_glob(const char *pattern)
{
	return strpbrk(pattern, "*?[") != NULL;
}

/* ---- matching ------------------------------------------------------------- */

/* The set of matched entry indexes, deduplicated and sorted before reporting. */
struct match_set {
	uint32_t *items;
	size_t count, cap;
	bool failed;
};

static void match_set_add(struct match_set *set, uint32_t index)
{
	if (set->count == set->cap) {
		size_t ncap = set->cap ? set->cap * 2 : 16;
		uint32_t *grown = realloc(set->items, ncap * sizeof *grown);
		if (grown == NULL) {
			set->failed = true;
			return;
		}
		set->items = grown;
		set->cap = ncap;
	}
	set->items[set->count++] = index;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* key == path + "::" + hash, for legacy symbols written with their hash. */
static bool matches_with_hash(const struct symbol_entry *e, const char *pattern)
{
	if (e->hash == NULL)
		return false;
	size_t klen = strlen(e->key), plen = strlen(pattern);
	return plen == klen + 2 + 17 && strncmp(pattern, e->key, klen) == 0 &&
	       pattern[klen] == ':' && pattern[klen + 1] == ':' && strncmp(pattern + klen + 2, e->hash, 17) == 0;
}

/* key ends with "::" + suffix (MATCH_SEARCH). */
static bool key_has_segment_suffix(const char *key, const char *suffix)
{
	size_t klen = strlen(key), slen = strlen(suffix);
	return klen > slen + 2 && strcmp(key + klen - slen, suffix) == 0 && key[klen - slen - 1] == ':' &&
	       key[klen - slen - 2] == ':';
}

static bool glob_matches(const struct symbol_entry *e, const char *pattern, const char *search_glob)
{
	if (fnmatch(pattern, e->key, 0) == 0 || fnmatch(pattern, e->mangled, 0) == 0)
		return true;
	return search_glob != NULL && fnmatch(search_glob, e->key, 0) == 0;
}

/* The longest run of characters in pattern with no glob meaning, for a strstr prefilter. */
static size_t longest_literal(const char *pattern, const char **start)
{
	size_t best = 0;
	*start = pattern;
	const char *run = pattern;
	for (const char *p = pattern;; p++) {
		if (*p == '\0' || *p == '*' || *p == '?' || *p == '[' || *p == ']' || *p == '\\') {
			if ((size_t)(p - run) > best) {
				best = (size_t)(p - run);
				*start = run;
			}
			if (*p == '\0')
				break;
			run = p + 1;
		}
	}
	return best;
}

static void match_exact(const struct symbol_table *t, const char *pattern, enum match_mode mode,
                        struct match_set *set)
{
	size_t mask = t->nbuckets - 1;
	size_t plen = strlen(pattern);
	for (uint32_t i = t->heads[hash_bytes(pattern, plen) & mask]; i != NO_ENTRY; i = t->entries[i].next_by_key)
		if (strcmp(t->entries[i].key, pattern) == 0)
			match_set_add(set, i);
	for (uint32_t i = t->heads[t->nbuckets + (hash_bytes(pattern, plen) & mask)]; i != NO_ENTRY;
	     i = t->entries[i].next_by_mangled)
		if (strcmp(t->entries[i].mangled, pattern) == 0)
			match_set_add(set, i);

	/* "path::h<hash>": look the path up, then compare the hash. */
	if (plen > 19 && pattern[plen - 19] == ':' && pattern[plen - 18] == ':' && pattern[plen - 17] == 'h') {
		for (uint32_t i = t->heads[hash_bytes(pattern, plen - 19) & mask]; i != NO_ENTRY;
		     i = t->entries[i].next_by_key)
			if (matches_with_hash(&t->entries[i], pattern))
				match_set_add(set, i);
	}

	/* Search mode: the pattern's last segment finds the candidates. */
	if (mode == MATCH_SEARCH) {
		size_t seglen;
		const char *seg = last_segment(pattern, &seglen);
		for (uint32_t i = t->heads[2 * t->nbuckets + (hash_bytes(seg, seglen) & mask)]; i != NO_ENTRY;
		     i = t->entries[i].next_by_last)
			if (key_has_segment_suffix(t->entries[i].key, pattern))
				match_set_add(set, i);
	}
}

static void match_glob(const struct symbol_table *t, const char *pattern, enum match_mode mode,
                       struct match_set *set)
{
	char *search_glob = NULL;
	if (mode == MATCH_SEARCH && asprintf(&search_glob, "*::%s", pattern) < 0) {
		set->failed = true;
		return;
	}

	/* A literal last segment ("a::*::insert") selects candidates by hash. */
	size_t seglen;
	const char *seg = last_segment(pattern, &seglen);
	if (seg != pattern && !symbol_pattern_is_glob(seg)) {
		size_t mask = t->nbuckets - 1;
		for (uint32_t i = t->heads[2 * t->nbuckets + (hash_bytes(seg, seglen) & mask)]; i != NO_ENTRY;
		     i = t->entries[i].next_by_last)
			if (glob_matches(&t->entries[i], pattern, search_glob))
				match_set_add(set, i);
		/* a glob over mangled names never has "::", so nothing is missed here */
		free(search_glob);
		return;
	}

	/* Otherwise scan, skipping entries that lack the pattern's longest literal run. */
	const char *lit;
	size_t litlen = longest_literal(pattern, &lit);
	char literal[256];
	if (litlen >= sizeof literal)
		litlen = sizeof literal - 1;
	memcpy(literal, lit, litlen);
	literal[litlen] = '\0';
	for (size_t i = 0; i < t->count; i++) {
		const struct symbol_entry *e = &t->entries[i];
		if (litlen > 0 && strstr(e->key, literal) == NULL && strstr(e->mangled, literal) == NULL)
			continue;
		if (glob_matches(e, pattern, search_glob))
			match_set_add(set, (uint32_t)i);
	}
	free(search_glob);
}

size_t symbol_table_match(const struct symbol_table *t, const char *pattern, enum match_mode mode,
                          symbol_match_fn fn, void *ctx)
{
	if (t->count == 0 || pattern[0] == '\0')
		return 0;
	struct match_set set = { 0 };
	if (symbol_pattern_is_glob(pattern))
		match_glob(t, pattern, mode, &set);
	else
		match_exact(t, pattern, mode, &set);

	qsort(set.items, set.count, sizeof *set.items, compare_u32);
	size_t reported = 0;
	for (size_t i = 0; i < set.count; i++) {
		if (i > 0 && set.items[i] == set.items[i - 1])
			continue;
		if (fn != NULL)
			fn(&t->entries[set.items[i]], ctx);
		reported++;
	}
	free(set.items);
	return reported;
}
