/* SPDX-License-Identifier: MIT */
/*
 * elf_file.c: the symbol tables of one ELF64 little-endian file.
 *
 * What it reads: the ELF header, the section header table, the first
 * SHT_SYMTAB and the first SHT_DYNSYM section (the ELF specification allows
 * one of each) and the string table each one names in sh_link. The section
 * name string table (e_shstrndx) is range-checked and used only to name
 * sections in error messages. Program headers, .gnu.hash, symbol versions
 * and SHT_SYMTAB_SHNDX are not read.
 *
 * How it checks bounds: every (offset, size) pair taken from the file goes
 * through range_in_file() before the first byte is read, which compares
 * with subtraction only, so no addition can wrap. Counts are derived from
 * checked sizes (size / entsize), and indices are compared with the section
 * count. Structures are copied out with memcpy because offsets in a corrupt
 * file (or in caller bytes for elf_open_mem) need not be aligned. A string
 * table must end in NUL, so any st_name below its size names a string that
 * is terminated inside the table; this one check per table replaces a scan
 * per symbol.
 *
 * Policy for data that is present but unusable (each is a choice, made so
 * that every symbol returned is one whose st_value plus the load bias is its
 * runtime address, and so that a damaged file fails loudly rather than
 * silently losing symbols):
 *  - A symbol or string table that is inconsistent (entsize other than
 *    sizeof(Elf64_Sym), size not a multiple of it, outside the file,
 *    SHF_COMPRESSED, sh_link not naming an SHT_STRTAB with file bytes,
 *    string table not ending in NUL, an st_name at or past the end of its
 *    string table): the whole file is ELF_ERR_FORMAT.
 *  - Symbols skipped, not errors: SHN_UNDEF (imports), empty names,
 *    STT_SECTION and STT_FILE, and every st_shndx in the reserved range
 *    SHN_LORESERVE..0xffff. That includes SHN_ABS, whose value is not
 *    relocated with the object (nm shows them as 'A'), SHN_COMMON (only in
 *    relocatable objects) and SHN_XINDEX (the real index would be in
 *    SHT_SYMTAB_SHNDX, which linked executables do not have in practice).
 *  - STT_TLS symbols are kept; their value is an offset in the TLS block,
 *    not an address, which callers that filter with elf_symbol_is_function
 *    never see.
 *  - Only ET_EXEC and ET_DYN on EM_X86_64 and EM_AARCH64 are accepted.
 *  - No section header table (e_shoff == 0, as after sstrip) is
 *    ELF_ERR_NOSYMBOLS: .dynsym is not recovered from PT_DYNAMIC.
 *  - Allocation failure is reported as ELF_ERR_IO ("out of memory").
 *
 * The checks hold for the bytes as read. A file truncated while mapped
 * raises SIGBUS on access, and one rewritten in place can change a checked
 * byte (the final NUL) afterwards; neither is guarded against (see
 * elf_open in the header).
 *
 * Runs inside a host process (LD_PRELOAD): no stdio streams, no globals,
 * no signals; snprintf is only used to format error text.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* the GNU strerror_r, which returns the text */
#endif
#include "elf_file.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What parsing needs to know about the file; lives for one elf_open*() call. */
struct elf_reader {
	const uint8_t *data;
	size_t size;
	char *err;
	size_t errlen;
	uint64_t shoff;    /* section header table offset, range-checked */
	uint64_t shnum;    /* entries in it, after the e_shnum == 0 extension */
	uint64_t shstrndx; /* section name table index, < shnum, or SHN_UNDEF */
};

/* A symbol table whose entries and string table are inside the file. */
struct symbol_table {
	uint64_t section;    /* index of the SHT_SYMTAB/SHT_DYNSYM section */
	const uint8_t *entries;
	uint64_t count;
	const char *strings; /* NUL-terminated at strings[nstrings - 1] */
	uint64_t nstrings;
};

static void set_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* strerror_r, not strerror: the host process may be calling strerror too. */
static void set_errno_error(char *err, size_t errlen, int error_number, const char *call)
{
	char text[128];

	set_error(err, errlen, "%s: %s", call, strerror_r(error_number, text, sizeof text));
}

/* True when [offset, offset + length) lies inside a file of file_size bytes. */
static bool range_in_file(size_t file_size, uint64_t offset, uint64_t length)
{
	return offset <= file_size && length <= file_size - offset;
}

/* Precondition: index < r->shnum (the table was range-checked as a whole). */
static void read_section_header(const struct elf_reader *r, uint64_t index, Elf64_Shdr *out)
{
	memcpy(out, r->data + r->shoff + index * sizeof(Elf64_Shdr), sizeof *out);
}

/*
 * The section's name for error messages, or "?" when the name table is
 * missing or damaged: a message must never depend on unchecked bytes.
 */
static const char *section_name(const struct elf_reader *r, const Elf64_Shdr *sh)
{
	Elf64_Shdr names;
	const char *start;

	if (r->shstrndx == SHN_UNDEF)
		return "?";
	read_section_header(r, r->shstrndx, &names);
	if (names.sh_type != SHT_STRTAB || (names.sh_flags & SHF_COMPRESSED) ||
	    !range_in_file(r->size, names.sh_offset, names.sh_size) ||
	    sh->sh_name >= names.sh_size)
		return "?";
	start = (const char *)r->data + names.sh_offset + sh->sh_name;
	if (memchr(start, '\0', names.sh_size - sh->sh_name) == NULL)
		return "?";
	return start;
}

/* Checks e_ident and the fields of the ELF header that the reader relies on. */
static enum elf_status check_elf_header(const struct elf_reader *r, Elf64_Ehdr *eh)
{
	if (r->size < SELFMAG || memcmp(r->data, ELFMAG, SELFMAG) != 0) {
		set_error(r->err, r->errlen, "not an ELF file (%s)",
		          r->size == 0 ? "empty" : "no \\177ELF magic");
		return ELF_ERR_FORMAT;
	}
	if (r->size < EI_NIDENT) {
		set_error(r->err, r->errlen, "ELF header truncated (file size %zu)", r->size);
		return ELF_ERR_FORMAT;
	}
	if (r->data[EI_CLASS] == ELFCLASS32) {
		set_error(r->err, r->errlen, "32-bit ELF is not supported");
		return ELF_ERR_FORMAT;
	}
	if (r->data[EI_CLASS] != ELFCLASS64) {
		set_error(r->err, r->errlen, "unknown ELF class %u", r->data[EI_CLASS]);
		return ELF_ERR_FORMAT;
	}
	if (r->data[EI_DATA] == ELFDATA2MSB) {
		set_error(r->err, r->errlen, "big-endian ELF is not supported");
		return ELF_ERR_FORMAT;
	}
	if (r->data[EI_DATA] != ELFDATA2LSB) {
		set_error(r->err, r->errlen, "unknown ELF data encoding %u", r->data[EI_DATA]);
		return ELF_ERR_FORMAT;
	}
	if (r->size < sizeof *eh) {
		set_error(r->err, r->errlen, "ELF header truncated (file size %zu, header size %zu)",
		          r->size, sizeof *eh);
		return ELF_ERR_FORMAT;
	}
	memcpy(eh, r->data, sizeof *eh);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
		set_error(r->err, r->errlen,
		          "unsupported ELF type %u (only executables and shared objects)",
		          eh->e_type);
		return ELF_ERR_FORMAT;
	}
	if (eh->e_machine != EM_X86_64 && eh->e_machine != EM_AARCH64) {
		set_error(r->err, r->errlen,
		          "unsupported machine %u (only x86-64 and aarch64)", eh->e_machine);
		return ELF_ERR_FORMAT;
	}
	return ELF_OK;
}

/*
 * Locates and range-checks the section header table, resolving the
 * extensions for >= SHN_LORESERVE sections: e_shnum == 0 means the count is
 * section 0's sh_size, e_shstrndx == SHN_XINDEX means the index is section
 * 0's sh_link.
 */
static enum elf_status read_section_table(struct elf_reader *r, const Elf64_Ehdr *eh)
{
	Elf64_Shdr first;

	if (eh->e_shoff == 0) {
		set_error(r->err, r->errlen, "no section header table");
		return ELF_ERR_NOSYMBOLS;
	}
	if (eh->e_shentsize != sizeof(Elf64_Shdr)) {
		set_error(r->err, r->errlen, "e_shentsize is %u, expected %zu",
		          eh->e_shentsize, sizeof(Elf64_Shdr));
		return ELF_ERR_FORMAT;
	}
	if (!range_in_file(r->size, eh->e_shoff, sizeof(Elf64_Shdr))) {
		set_error(r->err, r->errlen,
		          "section header table outside the file (offset %" PRIu64 ", file size %zu)",
		          (uint64_t)eh->e_shoff, r->size);
		return ELF_ERR_FORMAT;
	}
	r->shoff = eh->e_shoff;
	memcpy(&first, r->data + r->shoff, sizeof first);

	r->shnum = eh->e_shnum != 0 ? eh->e_shnum : first.sh_size;
	if (r->shnum == 0) {
		set_error(r->err, r->errlen, "no sections");
		return ELF_ERR_NOSYMBOLS;
	}
	/* Division instead of shnum * 64, which could wrap for a forged sh_size. */
	if (r->shnum > (r->size - r->shoff) / sizeof(Elf64_Shdr)) {
		set_error(r->err, r->errlen,
		          "section header table outside the file (offset %" PRIu64 ", %" PRIu64
		          " entries of %zu bytes, file size %zu)",
		          r->shoff, r->shnum, sizeof(Elf64_Shdr), r->size);
		return ELF_ERR_FORMAT;
	}

	r->shstrndx = eh->e_shstrndx == SHN_XINDEX ? first.sh_link : eh->e_shstrndx;
	if (r->shstrndx >= r->shnum) {
		set_error(r->err, r->errlen, "e_shstrndx %" PRIu64 " out of range (%" PRIu64 " sections)",
		          r->shstrndx, r->shnum);
		return ELF_ERR_FORMAT;
	}
	return ELF_OK;
}

/* Checks one SHT_SYMTAB/SHT_DYNSYM section and its string table (see the policy above). */
static enum elf_status open_symbol_table(const struct elf_reader *r, uint64_t index,
                                         const Elf64_Shdr *sh, struct symbol_table *out)
{
	const char *name = section_name(r, sh);
	Elf64_Shdr str;

	if (sh->sh_flags & SHF_COMPRESSED) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): compressed symbol tables are not supported",
		          index, name);
		return ELF_ERR_FORMAT;
	}
	if (sh->sh_entsize != sizeof(Elf64_Sym)) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): sh_entsize is %" PRIu64 ", expected %zu",
		          index, name, (uint64_t)sh->sh_entsize, sizeof(Elf64_Sym));
		return ELF_ERR_FORMAT;
	}
	if (sh->sh_size % sizeof(Elf64_Sym) != 0) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): size %" PRIu64 " is not a multiple of %zu",
		          index, name, (uint64_t)sh->sh_size, sizeof(Elf64_Sym));
		return ELF_ERR_FORMAT;
	}
	if (!range_in_file(r->size, sh->sh_offset, sh->sh_size)) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s) outside the file (offset %" PRIu64 ", size %" PRIu64
		          ", file size %zu)",
		          index, name, (uint64_t)sh->sh_offset, (uint64_t)sh->sh_size, r->size);
		return ELF_ERR_FORMAT;
	}
	if (sh->sh_link == SHN_UNDEF || sh->sh_link >= r->shnum) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): sh_link %u is not a section index (%" PRIu64
		          " sections)",
		          index, name, sh->sh_link, r->shnum);
		return ELF_ERR_FORMAT;
	}
	read_section_header(r, sh->sh_link, &str);
	/* SHT_NOBITS (as in separate debug files) has no file bytes to read. */
	if (str.sh_type != SHT_STRTAB) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): linked section %u has type %u, not SHT_STRTAB",
		          index, name, sh->sh_link, str.sh_type);
		return ELF_ERR_FORMAT;
	}
	if (str.sh_flags & SHF_COMPRESSED) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): string table %u is compressed", index, name,
		          sh->sh_link);
		return ELF_ERR_FORMAT;
	}
	if (!range_in_file(r->size, str.sh_offset, str.sh_size)) {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): string table %u outside the file (offset %" PRIu64
		          ", size %" PRIu64 ", file size %zu)",
		          index, name, sh->sh_link, (uint64_t)str.sh_offset, (uint64_t)str.sh_size,
		          r->size);
		return ELF_ERR_FORMAT;
	}
	if (str.sh_size != 0 && r->data[str.sh_offset + str.sh_size - 1] != '\0') {
		set_error(r->err, r->errlen,
		          "section %" PRIu64 " (%s): string table %u does not end with NUL", index,
		          name, sh->sh_link);
		return ELF_ERR_FORMAT;
	}

	out->section = index;
	out->entries = r->data + sh->sh_offset;
	out->count = sh->sh_size / sizeof(Elf64_Sym);
	out->strings = (const char *)r->data + str.sh_offset;
	out->nstrings = str.sh_size;
	return ELF_OK;
}

/*
 * Appends the table's defined, named symbols to out (which has room for
 * table->count more) and adds how many to *n. Fails on a name offset
 * outside the string table, whether or not the symbol would be kept.
 */
static enum elf_status collect_symbols(const struct elf_reader *r, const struct symbol_table *table,
                                       enum elf_symbol_source source, struct elf_symbol *out,
                                       size_t *n)
{
	size_t kept = *n;

	for (uint64_t i = 0; i < table->count; i++) {
		Elf64_Sym sym;
		unsigned char type;
		const char *name;

		memcpy(&sym, table->entries + i * sizeof sym, sizeof sym);
		/* st_name 0 is "no name" even when the string table is empty. */
		if (sym.st_name == 0)
			continue;
		if (sym.st_name >= table->nstrings) {
			set_error(r->err, r->errlen,
			          "section %" PRIu64 ": symbol %" PRIu64 " has name offset %u, past the"
			          " string table (size %" PRIu64 ")",
			          table->section, i, sym.st_name, table->nstrings);
			return ELF_ERR_FORMAT;
		}
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE)
			continue;
		type = ELF64_ST_TYPE(sym.st_info);
		if (type == STT_SECTION || type == STT_FILE)
			continue;
		name = table->strings + sym.st_name;
		if (name[0] == '\0')
			continue;

		out[kept].name = name;
		out[kept].value = sym.st_value;
		out[kept].size = sym.st_size;
		out[kept].bind = ELF64_ST_BIND(sym.st_info);
		out[kept].type = type;
		out[kept].shndx = sym.st_shndx;
		out[kept].source = source;
		kept++;
	}
	*n = kept;
	return ELF_OK;
}

static size_t hash_value(uint64_t value, unsigned bits)
{
	/* Fibonacci hashing: addresses differ mostly in low bits, the multiply spreads them. */
	return (size_t)((value * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

/*
 * symbols[0, nsymtab) came from .symtab and symbols[nsymtab, *n) from
 * .dynsym. Removes every .dynsym entry whose (name, value) equals some
 * .symtab entry or an earlier .dynsym entry (one function exported under
 * several symbol versions, e.g. sem_trywait@GLIBC_2.2.5 and @@GLIBC_2.34),
 * keeping the order of the rest, in O(n) expected time: an open-addressing
 * table of the .dynsym entries keyed by value (the smaller side in
 * practice), probed once per entry; names are compared only on equal
 * values. The table is temporary (a second allocation, freed here).
 */
static enum elf_status drop_dynsym_duplicates(const struct elf_reader *r,
                                              struct elf_symbol *symbols, size_t nsymtab,
                                              size_t *n)
{
	const uint32_t empty = UINT32_MAX;
	size_t ndynsym = *n - nsymtab;
	unsigned bits = 4;
	uint32_t *slots;
	size_t mask, kept;

	if (ndynsym == 0)
		return ELF_OK;
	/* Index UINT32_MAX would read as an empty slot. */
	if (ndynsym >= empty) {
		set_error(r->err, r->errlen, "too many .dynsym symbols (%zu)", ndynsym);
		return ELF_ERR_FORMAT;
	}
	/* At most half full, so probe sequences stay short. */
	while (((size_t)1 << bits) < 2 * ndynsym)
		bits++;
	mask = ((size_t)1 << bits) - 1;
	slots = malloc(((size_t)1 << bits) * sizeof *slots);
	if (slots == NULL) {
		set_error(r->err, r->errlen, "out of memory (%zu symbols)", *n);
		return ELF_ERR_IO;
	}
	memset(slots, 0xff, ((size_t)1 << bits) * sizeof *slots);

	for (size_t d = 0; d < ndynsym; d++) {
		struct elf_symbol *sym = &symbols[nsymtab + d];
		size_t slot = hash_value(sym->value, bits);

		for (; slots[slot] != empty; slot = (slot + 1) & mask) {
			const struct elf_symbol *earlier = &symbols[nsymtab + slots[slot]];

			if (earlier->value == sym->value && strcmp(earlier->name, sym->name) == 0)
				break;
		}
		if (slots[slot] != empty)
			sym->name = NULL; /* another version of an earlier entry */
		else
			slots[slot] = (uint32_t)d;
	}
	/* A matched .dynsym entry gets name NULL; each (name, value) is in the table once. */
	for (size_t s = 0; s < nsymtab; s++) {
		uint64_t value = symbols[s].value;

		for (size_t slot = hash_value(value, bits); slots[slot] != empty;
		     slot = (slot + 1) & mask) {
			struct elf_symbol *dyn = &symbols[nsymtab + slots[slot]];

			if (dyn->value == value && dyn->name != NULL &&
			    strcmp(dyn->name, symbols[s].name) == 0)
				dyn->name = NULL;
		}
	}
	free(slots);

	kept = nsymtab;
	for (size_t i = nsymtab; i < *n; i++) {
		if (symbols[i].name != NULL)
			symbols[kept++] = symbols[i];
	}
	*n = kept;
	return ELF_OK;
}

/* The work shared by elf_open and elf_open_mem; on failure ef keeps no allocation. */
static enum elf_status read_symbols(struct elf_file *ef, const uint8_t *data, size_t size,
                                    char *err, size_t errlen)
{
	struct elf_reader r = { .data = data, .size = size, .err = err, .errlen = errlen };
	struct symbol_table symtab = { 0 }, dynsym = { 0 };
	bool have_symtab = false, have_dynsym = false;
	struct elf_symbol *symbols;
	size_t capacity, n = 0, nsymtab;
	enum elf_status status;
	Elf64_Ehdr eh;

	status = check_elf_header(&r, &eh);
	if (status != ELF_OK)
		return status;
	status = read_section_table(&r, &eh);
	if (status != ELF_OK)
		return status;

	for (uint64_t i = 1; i < r.shnum && !(have_symtab && have_dynsym); i++) {
		Elf64_Shdr sh;

		read_section_header(&r, i, &sh);
		if (sh.sh_type == SHT_SYMTAB && !have_symtab) {
			status = open_symbol_table(&r, i, &sh, &symtab);
			have_symtab = true;
		} else if (sh.sh_type == SHT_DYNSYM && !have_dynsym) {
			status = open_symbol_table(&r, i, &sh, &dynsym);
			have_dynsym = true;
		}
		if (status != ELF_OK)
			return status;
	}
	if (!have_symtab && !have_dynsym) {
		set_error(err, errlen, "no .symtab or .dynsym section");
		return ELF_ERR_NOSYMBOLS;
	}

	/* Both counts are at most size / 24, so the sum cannot wrap; the product might. */
	capacity = (size_t)(symtab.count + dynsym.count);
	if (capacity == 0) {
		set_error(err, errlen, "symbol tables are empty");
		return ELF_ERR_NOSYMBOLS;
	}
	if (capacity > SIZE_MAX / sizeof *symbols) {
		set_error(err, errlen, "too many symbols (%zu)", capacity);
		return ELF_ERR_FORMAT;
	}
	symbols = malloc(capacity * sizeof *symbols);
	if (symbols == NULL) {
		set_error(err, errlen, "out of memory (%zu symbols)", capacity);
		return ELF_ERR_IO;
	}

	status = collect_symbols(&r, &symtab, ELF_FROM_SYMTAB, symbols, &n);
	nsymtab = n;
	if (status == ELF_OK)
		status = collect_symbols(&r, &dynsym, ELF_FROM_DYNSYM, symbols, &n);
	if (status == ELF_OK)
		status = drop_dynsym_duplicates(&r, symbols, nsymtab, &n);
	if (status == ELF_OK && n == 0) {
		set_error(err, errlen, "no defined symbols in .symtab or .dynsym");
		status = ELF_ERR_NOSYMBOLS;
	}
	if (status != ELF_OK) {
		free(symbols);
		return status;
	}
	/* Most .dynsym entries of an executable are imports; give the slack back. */
	if (n < capacity) {
		struct elf_symbol *shrunk = realloc(symbols, n * sizeof *symbols);

		if (shrunk != NULL)
			symbols = shrunk;
	}

	ef->data = data;
	ef->size = size;
	ef->e_type = eh.e_type;
	ef->e_machine = eh.e_machine;
	ef->entry = eh.e_entry;
	ef->has_symtab = have_symtab;
	ef->shoff = r.shoff;
	ef->shnum = r.shnum;
	ef->symbols = symbols;
	ef->nsymbols = n;
	return ELF_OK;
}

enum elf_status elf_open_mem(struct elf_file *ef, const void *data, size_t size, char *err,
                             size_t errlen)
{
	memset(ef, 0, sizeof *ef);
	if (data == NULL && size != 0) {
		set_error(err, errlen, "no data");
		return ELF_ERR_IO;
	}
	return read_symbols(ef, data, size, err, errlen);
}

enum elf_status elf_open(struct elf_file *ef, const char *path, char *err, size_t errlen)
{
	struct stat st;
	enum elf_status status;
	void *map;
	int fd, saved_errno;

	memset(ef, 0, sizeof *ef);
	/* O_NONBLOCK: opening a FIFO must fail at the S_ISREG check, not hang the host. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		set_errno_error(err, errlen, errno, "open");
		return ELF_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		saved_errno = errno;
		close(fd);
		set_errno_error(err, errlen, saved_errno, "fstat");
		return ELF_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		set_error(err, errlen, "%s",
		          S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		return ELF_ERR_IO;
	}
	if (st.st_size == 0) {
		close(fd);
		set_error(err, errlen, "not an ELF file (empty)");
		return ELF_ERR_FORMAT;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		set_error(err, errlen, "file too large to map (%" PRIu64 " bytes)",
		          (uint64_t)st.st_size);
		return ELF_ERR_IO;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	saved_errno = errno;
	/* The mapping keeps its own reference to the file. */
	close(fd);
	if (map == MAP_FAILED) {
		set_errno_error(err, errlen, saved_errno, "mmap");
		return ELF_ERR_IO;
	}

	status = read_symbols(ef, map, (size_t)st.st_size, err, errlen);
	if (status != ELF_OK) {
		munmap(map, (size_t)st.st_size);
		memset(ef, 0, sizeof *ef);
		return status;
	}
	ef->mapped = true;
	return ELF_OK;
}

void elf_close(struct elf_file *ef)
{
	if (ef->mapped && ef->data != NULL)
		munmap((void *)ef->data, ef->size);
	free(ef->symbols);
	memset(ef, 0, sizeof *ef);
}

bool elf_code_at(const struct elf_file *ef, uint64_t vaddr, uint64_t size, const uint8_t **code)
{
	if (ef->data == NULL)
		return false;
	for (uint64_t i = 1; i < ef->shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, ef->data + ef->shoff + i * sizeof sh, sizeof sh);
		if (sh.sh_type != SHT_PROGBITS || (sh.sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) != (SHF_ALLOC | SHF_EXECINSTR))
			continue;
		/* vaddr .. vaddr + size inside sh_addr .. sh_addr + sh_size, without overflow */
		if (vaddr < sh.sh_addr || vaddr - sh.sh_addr > sh.sh_size || size > sh.sh_size - (vaddr - sh.sh_addr))
			continue;
		uint64_t offset = sh.sh_offset + (vaddr - sh.sh_addr);
		if (offset < sh.sh_offset || !range_in_file(ef->size, offset, size))
			return false;
		*code = ef->data + offset;
		return true;
	}
	return false;
}

bool elf_symbol_is_function(const struct elf_symbol *sym)
{
	return sym->type == STT_FUNC || sym->type == STT_GNU_IFUNC;
}
