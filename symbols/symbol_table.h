/* SPDX-License-Identifier: MIT */
/*
 * symbol_table.h: the functions of one ELF object, demangled and indexed
 * so that a config's symbol patterns resolve quickly.
 *
 * Owns: an elf_file, one entry per function symbol with its match key
 * (see demangle_match_key()), and hash indexes over the match keys, the
 * mangled names, and the keys' first and last path segments.
 *
 * A pattern matches an entry when it is equal to, or (with * ? [ ]) a glob
 * over, the entry's match key or its mangled name. A Rust legacy symbol
 * also matches its key with the hash appended, "path::h0123456789abcdef".
 * MATCH_SEARCH (the `stdbtel symbols` command) also accepts trailing path
 * segments: "RelationalDB::insert" finds "m::db::RelationalDB::insert".
 *
 * Cost: opening is linear in the number of symbols (demangling dominates)
 * and builds the key index; the other indexes are built by the first
 * pattern that needs one. An exact pattern is a hash lookup; a glob whose last segment is literal
 * is a hash lookup plus fnmatch on the candidates; so is a glob whose first
 * segment is literal ("spacetimedb::*"); other globs scan every key with a
 * substring prefilter. Not thread-safe; read-only after open.
 */
#ifndef STDBTEL_SYMBOL_TABLE_H
#define STDBTEL_SYMBOL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "demangle.h"
#include "elf_file.h"

/* The hash indexes, each a set of chains through symbol_entry.next[]. */
enum symbol_index {
	INDEX_KEY,      /* whole match key */
	INDEX_MANGLED,  /* whole mangled name */
	INDEX_LAST,     /* key's last segment: "insert" of "a::B::insert" */
	INDEX_FIRST,    /* key's first segment: "a" of "a::B::insert" (a crate) */
	INDEX_COUNT,
};

struct symbol_entry {
	const char *mangled;  /* the linker's name (points into the ELF mapping) */
	const char *key;      /* match key; == mangled for plain C names */
	const char *hash;     /* Rust legacy hash "h0123..." (16 hex digits), or NULL */
	uint64_t value;       /* link-time address; add the load bias at run time */
	uint64_t size;
	uint8_t bind;
	enum demangle_scheme scheme;
	enum elf_symbol_source source;
	uint32_t next[INDEX_COUNT]; /* next entry in each index's chain */
};

struct symbol_table {
	struct elf_file elf;
	struct symbol_entry *entries;
	size_t count;
	char *keys;           /* one block holding every demangled key */
	uint32_t *heads[INDEX_COUNT]; /* nbuckets chain heads per index; NULL until needed */
	size_t nbuckets;
	uint32_t *by_address; /* entry indexes sorted by value; NULL until an address lookup */
};

enum match_mode {
	MATCH_EXACT,  /* the config's rule: whole key or mangled name, or a glob over either */
	MATCH_SEARCH, /* also trailing path segments, for people looking for a name */
};

/*
 * Opens path and indexes its function symbols. On failure returns the ELF
 * status with a reason in err (without the path) and leaves *t closed.
 */
enum elf_status symbol_table_open(struct symbol_table *t, const char *path, char *err, size_t errlen);

/* Same over caller-owned ELF bytes (tests). */
enum elf_status symbol_table_open_mem(struct symbol_table *t, const void *data, size_t size,
                                      char *err, size_t errlen);

void symbol_table_close(struct symbol_table *t);

/*
 * Calls fn for each entry matching pattern, in ascending address order, and
 * returns how many matched. May build an index on first use (the table is
 * not const); if memory for it runs out, the query scans instead.
 */
typedef void (*symbol_match_fn)(const struct symbol_entry *entry, void *ctx);
size_t symbol_table_match(struct symbol_table *t, const char *pattern, enum match_mode mode,
                          symbol_match_fn fn, void *ctx);

/*
 * The function whose body holds link-time address addr: the entry with the
 * greatest value <= addr, when addr is inside its size (or it has no size
 * and is the nearest below). NULL when none. Builds an address index on
 * first use (NULL too if memory for it runs out).
 */
const struct symbol_entry *symbol_table_find_address(struct symbol_table *t, uint64_t addr);

/* True when pattern uses glob characters (* ? [). */
bool symbol_pattern_is_glob(const char *pattern);

#endif
