/* SPDX-License-Identifier: MIT */
/*
 * symbol_table.c: demangle every function symbol once, then answer
 * pattern queries from four chained hash indexes in one array:
 *
 *   heads[k*n + hash % n] -> entry -> entry.next[k] -> ... -> NO_ENTRY
 *
 * for k in INDEX_KEY, INDEX_MANGLED, INDEX_LAST, INDEX_FIRST (n buckets). Entries are sorted by address so that results
 * come out in a stable, readable order.
 */
#define _GNU_SOURCE
#include "symbol_table.h"

#include "glob.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_ENTRY UINT32_MAX
/* Longest demangled name kept; longer ones are truncated by demangle(). */
#define DEMANGLED_MAX 4096

/*
 * A fast string hash, 8 bytes at a time (start-up hashes every symbol name
 * three times). Quality only needs to spread chains; strings are compared
 * on lookup anyway.
 */
static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		s += 8;
		len -= 8;
	}
	uint64_t tail = 0;
	memcpy(&tail, s, len);
	h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* The text after the last "::" of key (len bytes), and its length. */
static const char *last_segment(const char *key, size_t len, size_t *seglen)
{
	const char *p = key + len;
	while (p - key >= 2 && !(p[-1] == ':' && p[-2] == ':'))
		p--;
	if (p - key < 2)
		p = key;
	*seglen = len - (size_t)(p - key);
	return p;
}

/* The text before the first "::" (a Rust crate or C++ namespace), and its length. */
static const char *first_segment(const char *key, size_t *seglen)
{
	const char *colons = strstr(key, "::");
	*seglen = colons != NULL ? (size_t)(colons - key) : strlen(key);
	return key;
}

/*
 * Points at "h<16 hex>" in a legacy Rust symbol "...17h<16 hex>E", or NULL.
 * The hash ends the path, so only a suffix (".llvm.123") can follow it.
 */
static const char *legacy_hash(const char *mangled, size_t len)
{
	for (size_t end = len; end >= 20 && len - end <= 64; end--) {
		const char *p = mangled + end - 20; /* "17h" + 16 hex + "E" */
		if (p[19] != 'E' || p[0] != '1' || p[1] != '7' || p[2] != 'h')
			continue;
		size_t i = 0;
		while (i < 16 && ((p[3 + i] >= '0' && p[3 + i] <= '9') || (p[3 + i] >= 'a' && p[3 + i] <= 'f')))
			i++;
		if (i == 16)
			return p + 2;
	}
	return NULL;
}

/* Puts entry index at the head of its chain in index. */
static void chain_push(struct symbol_table *t, enum symbol_index index, uint64_t hash, uint32_t i)
{
	uint32_t *head = &t->heads[index * t->nbuckets + (hash & (t->nbuckets - 1))];
	t->entries[i].next[index] = *head;
	*head = i;
}

/* First entry of the chain for hash in index (NO_ENTRY when empty). */
static uint32_t chain_first(const struct symbol_table *t, enum symbol_index index, uint64_t hash)
{
	return t->heads[index * t->nbuckets + (hash & (t->nbuckets - 1))];
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
	uint64_t (*hashes)[INDEX_COUNT] = NULL; /* per entry, per index; freed before returning */
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
			e->hash = legacy_hash(sym->name, strlen(sym->name));
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

	/*
	 * Pass 2: hash chains, a power-of-two table at most half full. Linking
	 * is a random access per entry and index; computing every hash first
	 * lets the linking loop prefetch the heads it will touch a few entries
	 * ahead, which halves the time on a 300k-symbol binary.
	 */
	t->nbuckets = 16;
	while (t->nbuckets < t->count * 2)
		t->nbuckets *= 2;
	t->heads = malloc(INDEX_COUNT * t->nbuckets * sizeof *t->heads);
	hashes = malloc((t->count ? t->count : 1) * sizeof *hashes);
	if (t->heads == NULL || hashes == NULL)
		goto oom;
	memset(t->heads, 0xff, INDEX_COUNT * t->nbuckets * sizeof *t->heads);
	for (size_t i = 0; i < t->count; i++) {
		const struct symbol_entry *e = &t->entries[i];
		size_t keylen = strlen(e->key), seglen;
		const char *seg;
		hashes[i][INDEX_KEY] = hash_bytes(e->key, keylen);
		hashes[i][INDEX_MANGLED] = e->key == e->mangled ? hashes[i][INDEX_KEY]
		                                                : hash_bytes(e->mangled, strlen(e->mangled));
		seg = last_segment(e->key, keylen, &seglen);
		hashes[i][INDEX_LAST] = hash_bytes(seg, seglen);
		seg = first_segment(e->key, &seglen);
		hashes[i][INDEX_FIRST] = hash_bytes(seg, seglen);
	}
	enum { PREFETCH_AHEAD = 16 };
	size_t mask = t->nbuckets - 1;
	for (size_t i = t->count; i-- > 0;) {
		if (i >= PREFETCH_AHEAD)
			for (int k = 0; k < INDEX_COUNT; k++)
				__builtin_prefetch(&t->heads[k * t->nbuckets + (hashes[i - PREFETCH_AHEAD][k] & mask)], 1);
		for (int k = 0; k < INDEX_COUNT; k++)
			chain_push(t, (enum symbol_index)k, hashes[i][k], (uint32_t)i);
	}
	free(hashes);
	return ELF_OK;
oom:
	free(hashes);
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
	if (glob_match(pattern, e->key) || glob_match(pattern, e->mangled))
		return true;
	return search_glob != NULL && glob_match(search_glob, e->key);
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

/* Adds every entry of index's chain for text whose field equals it, per accept(). */
typedef bool (*accept_fn)(const struct symbol_entry *e, const char *pattern, const void *arg);

static void match_chain(const struct symbol_table *t, enum symbol_index index, const char *text, size_t len,
                        accept_fn accept, const char *pattern, const void *arg, struct match_set *set)
{
	for (uint32_t i = chain_first(t, index, hash_bytes(text, len)); i != NO_ENTRY; i = t->entries[i].next[index])
		if (accept(&t->entries[i], pattern, arg))
			match_set_add(set, i);
}

static bool key_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return strcmp(e->key, pattern) == 0;
}

static bool mangled_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return strcmp(e->mangled, pattern) == 0;
}

static bool hash_form_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return matches_with_hash(e, pattern);
}

static bool suffix_equals(const struct symbol_entry *e, const char *pattern, const void *arg)
{
	(void)arg;
	return key_has_segment_suffix(e->key, pattern);
}

static bool glob_accepts(const struct symbol_entry *e, const char *pattern, const void *search_glob)
{
	return glob_matches(e, pattern, search_glob);
}

static void match_exact(const struct symbol_table *t, const char *pattern, enum match_mode mode,
                        struct match_set *set)
{
	size_t plen = strlen(pattern);
	match_chain(t, INDEX_KEY, pattern, plen, key_equals, pattern, NULL, set);
	match_chain(t, INDEX_MANGLED, pattern, plen, mangled_equals, pattern, NULL, set);
	/* "path::h<hash>": look the path up, then compare the hash. */
	if (plen > 19 && pattern[plen - 19] == ':' && pattern[plen - 18] == ':' && pattern[plen - 17] == 'h')
		match_chain(t, INDEX_KEY, pattern, plen - 19, hash_form_equals, pattern, NULL, set);
	/* Search mode: the pattern's last segment finds the candidates. */
	if (mode == MATCH_SEARCH) {
		size_t seglen;
		const char *seg = last_segment(pattern, plen, &seglen);
		match_chain(t, INDEX_LAST, seg, seglen, suffix_equals, pattern, NULL, set);
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

	/*
	 * A literal last segment ("a::*::insert") or first segment ("crate::*")
	 * selects candidates by hash. A glob over mangled names has no "::", so
	 * it never takes these paths and nothing is missed. Search mode may
	 * match any trailing segments, so only the last segment is usable.
	 */
	size_t plen = strlen(pattern), seglen;
	const char *last = last_segment(pattern, plen, &seglen);
	if (last != pattern && !symbol_pattern_is_glob(last)) {
		match_chain(t, INDEX_LAST, last, seglen, glob_accepts, pattern, search_glob, set);
		free(search_glob);
		return;
	}
	const char *first = first_segment(pattern, &seglen);
	if (mode == MATCH_EXACT && seglen < plen && memchr(first, '*', seglen) == NULL &&
	    memchr(first, '?', seglen) == NULL && memchr(first, '[', seglen) == NULL) {
		match_chain(t, INDEX_FIRST, first, seglen, glob_accepts, pattern, NULL, set);
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
