/* SPDX-License-Identifier: MIT */
/*
 * elf_file.h: reading function symbols out of ELF64 files.
 *
 * Owns: the bytes of one ELF file (mapped read-only) and the list of its
 * symbols from .symtab and .dynsym. Every offset, size and index read from
 * the file is checked against the mapping, so a corrupt or truncated file
 * gives an error with a reason, never a crash. No globals; not thread-safe
 * per object (callers give each thread its own).
 *
 * Addresses are the file's st_value (link-time virtual addresses); the
 * caller adds the load bias of the running object.
 *
 * Left out as well as imports: STT_SECTION and STT_FILE symbols, and
 * symbols whose st_shndx is reserved (SHN_ABS, SHN_COMMON, SHN_XINDEX),
 * since their st_value is not an address in a loaded section. Symbol
 * versions are not read: a name exported at several versions (libc's
 * memcpy) appears once per version, each with its own value.
 */
#ifndef STDBTEL_ELF_FILE_H
#define STDBTEL_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum elf_status {
	ELF_OK = 0,
	ELF_ERR_IO,        /* open/stat/mmap failed (errno text in the message) */
	ELF_ERR_FORMAT,    /* not ELF, not 64-bit little-endian, or corrupt */
	ELF_ERR_NOSYMBOLS, /* valid ELF without .symtab and .dynsym */
};

enum elf_symbol_source {
	ELF_FROM_SYMTAB,
	ELF_FROM_DYNSYM,
};

/* One symbol. name points into the file's string table (valid until elf_close). */
struct elf_symbol {
	const char *name;
	uint64_t value;   /* st_value: link-time address */
	uint64_t size;    /* st_size: 0 when the toolchain did not record one */
	uint8_t bind;     /* STB_LOCAL, STB_GLOBAL, STB_WEAK, ... */
	uint8_t type;     /* STT_FUNC, STT_GNU_IFUNC, STT_OBJECT, ... */
	uint16_t shndx;   /* section index; SHN_UNDEF for imports */
	enum elf_symbol_source source;
};

struct elf_file {
	const uint8_t *data; /* the whole file, mapped read-only */
	size_t size;
	bool mapped;         /* data came from mmap (elf_open), not the caller */
	uint16_t e_type;     /* ET_EXEC or ET_DYN */
	uint16_t e_machine;  /* EM_X86_64, EM_AARCH64, ... */
	uint64_t entry;      /* e_entry, link-time: where execution starts (0: none) */
	bool has_symtab;     /* false: stripped, symbols are .dynsym only */
	uint64_t shoff, shnum;      /* section header table, range-checked at open */
	struct elf_symbol *symbols; /* defined symbols (shndx != SHN_UNDEF) with a
	                               non-empty name, .symtab first; a .dynsym
	                               entry equal (name, value) to a .symtab entry
	                               is left out */
	size_t nsymbols;
};

/*
 * Maps path read-only and reads its symbols. On failure returns the status,
 * writes a reason (without the path) to err, and leaves *ef closed.
 * *ef is overwritten, not closed first. The names point into the mapping:
 * the file must not be truncated or rewritten in place while ef is open
 * (replacing it by rename, as installers do, is fine).
 */
enum elf_status elf_open(struct elf_file *ef, const char *path, char *err, size_t errlen);

/* Whether the function at link-time address value is where execution starts (e_entry). */
static inline bool elf_is_entry_point(const struct elf_file *ef, uint64_t value)
{
	return ef->entry != 0 && value == ef->entry;
}

/*
 * Same as elf_open over caller-owned bytes (for tests: truncated and
 * corrupted images). data must outlive ef.
 */
enum elf_status elf_open_mem(struct elf_file *ef, const void *data, size_t size,
                             char *err, size_t errlen);

/* Releases what elf_open*() acquired. Safe on a zeroed or closed ef. */
void elf_close(struct elf_file *ef);

/*
 * Points *code at the file's bytes for [vaddr, vaddr + size): the contents
 * of the allocated, executable section holding that whole range (what the
 * loader maps there). Returns false when no such section holds it, e.g. a
 * symbol spanning two sections or one in .bss. The bytes live as long as ef.
 */
bool elf_code_at(const struct elf_file *ef, uint64_t vaddr, uint64_t size, const uint8_t **code);

/* True for symbols that name code: STT_FUNC and STT_GNU_IFUNC. */
bool elf_symbol_is_function(const struct elf_symbol *sym);

#endif
