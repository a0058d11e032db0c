/* SPDX-License-Identifier: MIT */
/*
 * test_elf_file.c: tests for symbols/elf_file.c.
 *
 * Three kinds of input: the test binary itself and libc (checked against
 * runtime addresses and against nm), small ELF images built here (one
 * feature or one defect each), and the test binary's bytes truncated and
 * mutated (the reader must fail cleanly or return only in-bounds names).
 * Corrupted images live in malloc'd buffers of their exact size, so that
 * AddressSanitizer reports any read past the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr, RTLD_NOLOAD */
#endif
#include "elf_file.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- functions the self-test looks up by name ---- */

int elf_test_global_function(int x);

__attribute__((noinline, used)) int elf_test_global_function(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline, used)) static int elf_test_static_function(int x)
{
	return x * 5 + 2;
}

/* A data symbol with a size, in .data: elf_code_at() must not take it for code. */
__attribute__((used)) int elf_test_data_object[4] = { 1, 2, 3, 4 };

/* ---- helpers: the running program ---- */

struct object_lookup {
	const char *name_suffix; /* "" selects the main program */
	uintptr_t bias;
	char path[PATH_MAX];
	bool found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct object_lookup *lookup = arg;
	const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
	size_t len = strlen(name), suffix_len = strlen(lookup->name_suffix);

	(void)size;
	if (suffix_len == 0 ? len != 0 :
	    (len < suffix_len || strcmp(name + len - suffix_len, lookup->name_suffix) != 0))
		return 0;
	lookup->bias = info->dlpi_addr;
	snprintf(lookup->path, sizeof lookup->path, "%s", name);
	lookup->found = true;
	return 1;
}

static uintptr_t main_program_bias(void)
{
	struct object_lookup lookup = { .name_suffix = "" };

	dl_iterate_phdr(find_object, &lookup);
	cr_assert(lookup.found, "dl_iterate_phdr did not report the main program");
	return lookup.bias;
}

static void self_path(char *out, size_t outlen)
{
	ssize_t n = readlink("/proc/self/exe", out, outlen - 1);

	cr_assert(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	out[n] = '\0';
}

static const struct elf_symbol *find_symbol(const struct elf_file *ef, const char *name)
{
	for (size_t i = 0; i < ef->nsymbols; i++) {
		if (strcmp(ef->symbols[i].name, name) == 0)
			return &ef->symbols[i];
	}
	return NULL;
}

static void *read_whole_file(const char *path, size_t *size)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert(fstat(fd, &st) == 0);
	buf = malloc((size_t)st.st_size);
	cr_assert_not_null(buf);
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		cr_assert(n > 0, "read %s: %s", path, strerror(errno));
		done += (size_t)n;
	}
	close(fd);
	*size = done;
	return buf;
}

/* Runs argv to completion; returns its exit status, or -1 if it could not run. */
static int run_program(char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* ---- helpers: checking what elf_open*() returned ---- */

/*
 * The invariants of any result, for any input: an error leaves ef closed
 * and explains itself; success returns only defined, named symbols whose
 * names are NUL-terminated inside [buf, buf + len). Uses cr_assert only on
 * failure: the corruption loops call this tens of thousands of times.
 */
static void check_result(enum elf_status status, struct elf_file *ef, const char *err,
                         const uint8_t *buf, size_t len)
{
	if (status != ELF_OK) {
		if (ef->symbols != NULL || ef->nsymbols != 0 || ef->data != NULL || ef->mapped)
			cr_assert_fail("failed open (status %d, %s) left state behind", status, err);
		if (err[0] == '\0')
			cr_assert_fail("status %d without a reason", status);
		if (status != ELF_ERR_FORMAT && status != ELF_ERR_NOSYMBOLS && status != ELF_ERR_IO)
			cr_assert_fail("unexpected status %d", status);
		return;
	}
	if (ef->nsymbols == 0 || ef->symbols == NULL || ef->data != buf || ef->size != len)
		cr_assert_fail("ELF_OK with %zu symbols", ef->nsymbols);
	for (size_t i = 0; i < ef->nsymbols; i++) {
		const struct elf_symbol *sym = &ef->symbols[i];
		const uint8_t *name = (const uint8_t *)sym->name;

		if (name < buf || name >= buf + len)
			cr_assert_fail("symbol %zu: name outside the buffer", i);
		if (memchr(name, '\0', (size_t)(buf + len - name)) == NULL)
			cr_assert_fail("symbol %zu: name not NUL-terminated in the buffer", i);
		if (name[0] == '\0')
			cr_assert_fail("symbol %zu: empty name", i);
		if (sym->shndx == SHN_UNDEF || sym->shndx >= SHN_LORESERVE)
			cr_assert_fail("symbol %zu (%s): shndx %u", i, sym->name, sym->shndx);
		if (sym->type == STT_SECTION || sym->type == STT_FILE)
			cr_assert_fail("symbol %zu (%s): type %u", i, sym->name, sym->type);
		if (sym->source != ELF_FROM_SYMTAB && sym->source != ELF_FROM_DYNSYM)
			cr_assert_fail("symbol %zu (%s): source %d", i, sym->name, sym->source);
	}
}

/* Opens len bytes copied into an exact-size buffer, checks the result, closes. */
static enum elf_status open_copy_and_check(const uint8_t *bytes, size_t len)
{
	uint8_t *copy = malloc(len != 0 ? len : 1);
	struct elf_file ef;
	char err[256] = "";
	enum elf_status status;

	cr_assert_not_null(copy);
	memcpy(copy, bytes, len);
	status = elf_open_mem(&ef, copy, len, err, sizeof err);
	check_result(status, &ef, err, copy, len);
	elf_close(&ef);
	free(copy);
	return status;
}

/* Opens the buffer in place (already exact-size), checks, closes. */
static enum elf_status open_and_check(const uint8_t *buf, size_t len)
{
	struct elf_file ef;
	char err[256] = "";
	enum elf_status status = elf_open_mem(&ef, buf, len, err, sizeof err);

	check_result(status, &ef, err, buf, len);
	elf_close(&ef);
	return status;
}

/* ---- helpers: building small ELF images ---- */

struct sym_spec {
	const char *name; /* NULL: st_name 0 */
	unsigned char bind, type;
	uint16_t shndx;
	uint64_t value, size;
};

enum {
	SEC_NULL,
	SEC_TEXT,
	SEC_SHSTRTAB,
	SEC_STRTAB,
	SEC_SYMTAB,
	SEC_DYNSTR,
	SEC_DYNSYM,
	SEC_COUNT
};

struct image {
	uint8_t *bytes; /* malloc'd, exactly size bytes */
	size_t size;
	size_t shoff;
	size_t shnum;
};

struct byte_buffer {
	uint8_t *bytes;
	size_t size, capacity;
};

static size_t buffer_append(struct byte_buffer *b, const void *data, size_t len, size_t align)
{
	size_t start = (b->size + align - 1) / align * align;

	if (start + len > b->capacity) {
		size_t capacity = b->capacity ? b->capacity : 256;

		while (capacity < start + len)
			capacity *= 2;
		b->bytes = realloc(b->bytes, capacity);
		cr_assert_not_null(b->bytes);
		b->capacity = capacity;
	}
	memset(b->bytes + b->size, 0, start - b->size);
	if (len != 0)
		memcpy(b->bytes + start, data, len);
	b->size = start + len;
	return start;
}

/* Appends a string table for specs to b; writes each name's offset to offsets. */
static size_t append_strings(struct byte_buffer *b, const struct sym_spec *specs, size_t n,
                             uint32_t *offsets, size_t *table_size)
{
	size_t start = buffer_append(b, "", 1, 1);

	for (size_t i = 0; i < n; i++) {
		offsets[i] = 0;
		if (specs[i].name != NULL) {
			size_t at = buffer_append(b, specs[i].name, strlen(specs[i].name) + 1, 1);

			offsets[i] = (uint32_t)(at - start);
		}
	}
	*table_size = b->size - start;
	return start;
}

/* Appends a symbol table (the null symbol, then specs) to b. */
static size_t append_symbols(struct byte_buffer *b, const struct sym_spec *specs, size_t n,
                             const uint32_t *offsets)
{
	Elf64_Sym null_symbol = { 0 };
	size_t start = buffer_append(b, &null_symbol, sizeof null_symbol, 8);

	for (size_t i = 0; i < n; i++) {
		Elf64_Sym sym = {
			.st_name = offsets[i],
			.st_info = ELF64_ST_INFO(specs[i].bind, specs[i].type),
			.st_shndx = specs[i].shndx,
			.st_value = specs[i].value,
			.st_size = specs[i].size,
		};

		buffer_append(b, &sym, sizeof sym, 1);
	}
	return start;
}

/*
 * An x86-64 ET_DYN with .text, .shstrtab, .strtab, .symtab, .dynstr,
 * .dynsym and extra_sections empty PROGBITS sections after those. When the
 * count reaches SHN_LORESERVE it is stored the extended way: e_shnum 0 and
 * section 0's sh_size, e_shstrndx SHN_XINDEX and section 0's sh_link.
 */
static struct image build_image(const struct sym_spec *symtab, size_t nsymtab,
                                const struct sym_spec *dynsym, size_t ndynsym,
                                size_t extra_sections)
{
	static const char section_names[] = "\0.text\0.shstrtab\0.strtab\0.symtab\0.dynstr\0.dynsym";
	struct byte_buffer b = { 0 };
	uint32_t *symtab_names = calloc(nsymtab + 1, sizeof *symtab_names);
	uint32_t *dynsym_names = calloc(ndynsym + 1, sizeof *dynsym_names);
	Elf64_Ehdr eh = { 0 };
	uint8_t code[64];
	size_t text_off, shstrtab_off, strtab_off, strtab_size, symtab_off, dynstr_off, dynstr_size,
	    dynsym_off, shnum = SEC_COUNT + extra_sections;
	Elf64_Shdr *sh = calloc(shnum, sizeof *sh);
	struct image im;

	cr_assert(symtab_names && dynsym_names && sh);
	memset(code, 0xcc, sizeof code);
	buffer_append(&b, &eh, sizeof eh, 1);
	text_off = buffer_append(&b, code, sizeof code, 16);
	shstrtab_off = buffer_append(&b, section_names, sizeof section_names, 1);
	strtab_off = append_strings(&b, symtab, nsymtab, symtab_names, &strtab_size);
	symtab_off = append_symbols(&b, symtab, nsymtab, symtab_names);
	dynstr_off = append_strings(&b, dynsym, ndynsym, dynsym_names, &dynstr_size);
	dynsym_off = append_symbols(&b, dynsym, ndynsym, dynsym_names);

	sh[SEC_TEXT] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_PROGBITS,
		.sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_addr = 0x1000, .sh_offset = text_off,
		.sh_size = sizeof code, .sh_addralign = 16 };
	sh[SEC_SHSTRTAB] = (Elf64_Shdr){ .sh_name = 7, .sh_type = SHT_STRTAB,
		.sh_offset = shstrtab_off, .sh_size = sizeof section_names, .sh_addralign = 1 };
	sh[SEC_STRTAB] = (Elf64_Shdr){ .sh_name = 17, .sh_type = SHT_STRTAB,
		.sh_offset = strtab_off, .sh_size = strtab_size, .sh_addralign = 1 };
	sh[SEC_SYMTAB] = (Elf64_Shdr){ .sh_name = 25, .sh_type = SHT_SYMTAB,
		.sh_offset = symtab_off, .sh_size = (nsymtab + 1) * sizeof(Elf64_Sym),
		.sh_link = SEC_STRTAB, .sh_info = 1, .sh_addralign = 8,
		.sh_entsize = sizeof(Elf64_Sym) };
	sh[SEC_DYNSTR] = (Elf64_Shdr){ .sh_name = 33, .sh_type = SHT_STRTAB,
		.sh_flags = SHF_ALLOC, .sh_offset = dynstr_off, .sh_size = dynstr_size,
		.sh_addralign = 1 };
	sh[SEC_DYNSYM] = (Elf64_Shdr){ .sh_name = 41, .sh_type = SHT_DYNSYM,
		.sh_flags = SHF_ALLOC, .sh_offset = dynsym_off,
		.sh_size = (ndynsym + 1) * sizeof(Elf64_Sym), .sh_link = SEC_DYNSTR, .sh_info = 1,
		.sh_addralign = 8, .sh_entsize = sizeof(Elf64_Sym) };
	for (size_t i = SEC_COUNT; i < shnum; i++)
		sh[i] = (Elf64_Shdr){ .sh_type = SHT_PROGBITS, .sh_offset = text_off };

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_DYN;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof eh;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	if (shnum >= SHN_LORESERVE) {
		eh.e_shnum = 0;
		sh[0].sh_size = shnum;
		eh.e_shstrndx = SHN_XINDEX;
		sh[0].sh_link = SEC_SHSTRTAB;
	} else {
		eh.e_shnum = (uint16_t)shnum;
		eh.e_shstrndx = SEC_SHSTRTAB;
	}
	eh.e_shoff = buffer_append(&b, sh, shnum * sizeof *sh, 8);
	memcpy(b.bytes, &eh, sizeof eh);

	/* Exact size, so that ASan catches a read one byte past the end. */
	im.size = b.size;
	im.bytes = malloc(im.size);
	cr_assert_not_null(im.bytes);
	memcpy(im.bytes, b.bytes, im.size);
	im.shoff = eh.e_shoff;
	im.shnum = shnum;
	free(b.bytes);
	free(sh);
	free(symtab_names);
	free(dynsym_names);
	return im;
}

/* The image buffer is malloc'd and e_shoff is 8-aligned, so these casts are aligned. */
static Elf64_Ehdr *image_header(struct image *im)
{
	return (Elf64_Ehdr *)im->bytes;
}

static Elf64_Shdr *image_section(struct image *im, size_t index)
{
	return (Elf64_Shdr *)(im->bytes + im->shoff) + index;
}

static Elf64_Sym *image_symbol(struct image *im, size_t section, size_t index)
{
	return (Elf64_Sym *)(im->bytes + image_section(im, section)->sh_offset) + index;
}

static void free_image(struct image *im)
{
	free(im->bytes);
	im->bytes = NULL;
}

/* The standard image: one of each kind of symbol the reader keeps or skips. */
static const struct sym_spec standard_symtab[] = {
	{ "file.c", STB_LOCAL, STT_FILE, SHN_ABS, 0, 0 },
	{ NULL, STB_LOCAL, STT_SECTION, SEC_TEXT, 0x1000, 0 },
	{ "alpha", STB_LOCAL, STT_FUNC, SEC_TEXT, 0x1000, 8 },
	{ "beta", STB_GLOBAL, STT_FUNC, SEC_TEXT, 0x1008, 8 },
	{ "gamma", STB_GLOBAL, STT_OBJECT, SEC_TEXT, 0x1100, 4 },
	{ "shared", STB_GLOBAL, STT_FUNC, SEC_TEXT, 0x1010, 16 },
	{ "absval", STB_GLOBAL, STT_NOTYPE, SHN_ABS, 0x42, 0 },
	{ "ext", STB_GLOBAL, STT_FUNC, SHN_UNDEF, 0, 0 },
	{ "ifn", STB_GLOBAL, STT_GNU_IFUNC, SEC_TEXT, 0x1030, 4 },
	{ "", STB_GLOBAL, STT_FUNC, SEC_TEXT, 0x1040, 4 },
	{ "xidx", STB_GLOBAL, STT_FUNC, SHN_XINDEX, 0x1050, 4 },
	{ "comm", STB_GLOBAL, STT_OBJECT, SHN_COMMON, 8, 8 },
	{ "tls", STB_GLOBAL, STT_TLS, SEC_TEXT, 0x10, 8 },
	{ "weakfn", STB_WEAK, STT_FUNC, SEC_TEXT, 0x1060, 2 },
};

static const struct sym_spec standard_dynsym[] = {
	{ "shared", STB_GLOBAL, STT_FUNC, SEC_TEXT, 0x1010, 16 },
	{ "dynonly", STB_GLOBAL, STT_FUNC, SEC_TEXT, 0x1020, 8 },
	{ "beta", STB_GLOBAL, STT_FUNC, SEC_TEXT, 0x2000, 8 },
	{ "ext", STB_GLOBAL, STT_FUNC, SHN_UNDEF, 0, 0 },
	{ "shared", STB_WEAK, STT_FUNC, SEC_TEXT, 0x1010, 16 },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static struct image standard_image(void)
{
	return build_image(standard_symtab, COUNT(standard_symtab), standard_dynsym,
	                   COUNT(standard_dynsym), 0);
}

struct expected_symbol {
	const char *name;
	uint64_t value;
	uint8_t bind, type;
	enum elf_symbol_source source;
};

static const struct expected_symbol standard_expected[] = {
	{ "alpha", 0x1000, STB_LOCAL, STT_FUNC, ELF_FROM_SYMTAB },
	{ "beta", 0x1008, STB_GLOBAL, STT_FUNC, ELF_FROM_SYMTAB },
	{ "gamma", 0x1100, STB_GLOBAL, STT_OBJECT, ELF_FROM_SYMTAB },
	{ "shared", 0x1010, STB_GLOBAL, STT_FUNC, ELF_FROM_SYMTAB },
	{ "ifn", 0x1030, STB_GLOBAL, STT_GNU_IFUNC, ELF_FROM_SYMTAB },
	{ "tls", 0x10, STB_GLOBAL, STT_TLS, ELF_FROM_SYMTAB },
	{ "weakfn", 0x1060, STB_WEAK, STT_FUNC, ELF_FROM_SYMTAB },
	{ "dynonly", 0x1020, STB_GLOBAL, STT_FUNC, ELF_FROM_DYNSYM },
	{ "beta", 0x2000, STB_GLOBAL, STT_FUNC, ELF_FROM_DYNSYM },
};

static void expect_symbols(const struct elf_file *ef, const struct expected_symbol *want,
                           size_t n)
{
	cr_assert_eq(ef->nsymbols, n, "got %zu symbols, want %zu", ef->nsymbols, n);
	for (size_t i = 0; i < n; i++) {
		const struct elf_symbol *got = &ef->symbols[i];

		cr_assert_str_eq(got->name, want[i].name, "symbol %zu", i);
		cr_assert_eq(got->value, want[i].value, "symbol %zu (%s) value", i, got->name);
		cr_assert_eq(got->bind, want[i].bind, "symbol %zu (%s) bind", i, got->name);
		cr_assert_eq(got->type, want[i].type, "symbol %zu (%s) type", i, got->name);
		cr_assert_eq(got->source, want[i].source, "symbol %zu (%s) source", i, got->name);
	}
}

/* Opens im, expects status, and checks that err contains fragment (if any). */
static void expect_status(struct image *im, enum elf_status want, const char *fragment)
{
	struct elf_file ef;
	char err[256] = "";
	enum elf_status status = elf_open_mem(&ef, im->bytes, im->size, err, sizeof err);

	check_result(status, &ef, err, im->bytes, im->size);
	cr_assert_eq(status, want, "status %d, want %d (%s)", status, want, err);
	if (fragment != NULL)
		cr_assert(strstr(err, fragment) != NULL, "error \"%s\" lacks \"%s\"", err, fragment);
	elf_close(&ef);
}

/* ======================= the running program and libc ======================= */

Test(elf_self, finds_static_and_global_functions_at_their_runtime_addresses)
{
	uintptr_t bias = main_program_bias();
	struct elf_file ef;
	char err[256] = "";
	const struct elf_symbol *local, *global;

	cr_assert_eq(elf_open(&ef, "/proc/self/exe", err, sizeof err), ELF_OK, "%s", err);
	cr_assert(ef.has_symtab);
	cr_assert(ef.mapped);
	cr_assert(ef.e_type == ET_DYN || ef.e_type == ET_EXEC);
#if defined(__x86_64__)
	cr_assert_eq(ef.e_machine, EM_X86_64);
#elif defined(__aarch64__)
	cr_assert_eq(ef.e_machine, EM_AARCH64);
#endif

	local = find_symbol(&ef, "elf_test_static_function");
	cr_assert_not_null(local);
	cr_assert_eq(local->value, (uintptr_t)&elf_test_static_function - bias);
	cr_assert_gt(local->size, 0);
	cr_assert_eq(local->bind, STB_LOCAL);
	cr_assert_eq(local->type, STT_FUNC);
	cr_assert_eq(local->source, ELF_FROM_SYMTAB);
	cr_assert_neq(local->shndx, SHN_UNDEF);
	cr_assert(elf_symbol_is_function(local));

	global = find_symbol(&ef, "elf_test_global_function");
	cr_assert_not_null(global);
	cr_assert_eq(global->value, (uintptr_t)&elf_test_global_function - bias);
	cr_assert_gt(global->size, 0);
	cr_assert_eq(global->bind, STB_GLOBAL);
	cr_assert_eq(global->type, STT_FUNC);
	cr_assert_eq(global->source, ELF_FROM_SYMTAB);
	cr_assert(elf_symbol_is_function(global));

	/* Both functions are still callable: keeps the compiler honest about "used". */
	cr_assert_eq(elf_test_static_function(1) + elf_test_global_function(1), 11);

	/* .symtab entries come first. */
	for (size_t i = 1; i < ef.nsymbols; i++)
		cr_assert(ef.symbols[i - 1].source <= ef.symbols[i].source, "order at %zu", i);
	elf_close(&ef);
	elf_close(&ef);
}

Test(elf_self, code_bytes_in_the_file_are_the_running_code)
{
	uintptr_t bias = main_program_bias();
	struct elf_file ef;
	char err[256] = "";
	cr_assert_eq(elf_open(&ef, "/proc/self/exe", err, sizeof err), ELF_OK, "%s", err);
	const struct elf_symbol *fn = find_symbol(&ef, "elf_test_static_function");
	cr_assert_not_null(fn);
	const uint8_t *code = NULL;
	cr_assert(elf_code_at(&ef, fn->value, fn->size, &code));
	cr_assert_eq(memcmp(code, (const void *)(bias + fn->value), fn->size), 0,
	             "the file's bytes differ from the loaded function's");
	cr_assert_not(elf_code_at(&ef, fn->value, UINT64_MAX, &code), "a range past the section is refused");
	cr_assert_not(elf_code_at(&ef, UINT64_MAX - 4, 8, &code), "an address that wraps is refused");
	const struct elf_symbol *data = find_symbol(&ef, "elf_test_data_object");
	cr_assert_not_null(data);
	cr_assert_not(elf_code_at(&ef, data->value, data->size, &code), "data is not code");
	uint64_t fn_value = fn->value; /* fn points into ef's symbols, freed by elf_close */
	elf_close(&ef);
	cr_assert_not(elf_code_at(&ef, fn_value, 1, &code), "a closed file has no code");
}

Test(elf_self, elf_open_and_elf_open_mem_agree)
{
	char path[PATH_MAX];
	size_t size;
	uint8_t *bytes;
	struct elf_file mapped, mem;
	char err[256] = "";

	self_path(path, sizeof path);
	bytes = read_whole_file(path, &size);
	cr_assert_eq(elf_open(&mapped, path, err, sizeof err), ELF_OK, "%s", err);
	cr_assert_eq(elf_open_mem(&mem, bytes, size, err, sizeof err), ELF_OK, "%s", err);
	cr_assert(!mem.mapped);
	cr_assert_eq(mem.data, bytes);
	cr_assert_eq(mem.size, size);
	cr_assert_eq(mapped.size, size);
	cr_assert_eq(mapped.nsymbols, mem.nsymbols);
	for (size_t i = 0; i < mem.nsymbols; i++) {
		const struct elf_symbol *a = &mapped.symbols[i], *b = &mem.symbols[i];

		if (a->name - (const char *)mapped.data != b->name - (const char *)mem.data ||
		    a->value != b->value || a->size != b->size || a->bind != b->bind ||
		    a->type != b->type || a->shndx != b->shndx || a->source != b->source)
			cr_assert_fail("symbol %zu (%s) differs", i, a->name);
	}
	elf_close(&mapped);
	elf_close(&mem);
	free(bytes);
}

Test(elf_self, stripped_copy_has_only_dynsym)
{
	char dir_template[] = "/tmp/test_elf_file.XXXXXX";
	char self[PATH_MAX], stripped[PATH_MAX + 32];
	char *dir = mkdtemp(dir_template);
	struct elf_file full, ef;
	char err[256] = "";
	enum elf_status status;
	int rc;

	cr_assert_not_null(dir, "mkdtemp: %s", strerror(errno));
	self_path(self, sizeof self);
	snprintf(stripped, sizeof stripped, "%s/stripped", dir);
	rc = run_program((char *const[]){ "objcopy", "--strip-all", self, stripped, NULL });
	if (rc != 0) {
		rmdir(dir);
		cr_skip_test("objcopy --strip-all did not run (status %d)", rc);
	}

	status = elf_open(&ef, stripped, err, sizeof err);
	unlink(stripped);
	rmdir(dir);
	/* An executable may define nothing in .dynsym: then "no symbols" is the right answer. */
	cr_assert(status == ELF_OK || status == ELF_ERR_NOSYMBOLS, "status %d: %s", status, err);
	if (status == ELF_ERR_NOSYMBOLS)
		return;

	cr_assert(!ef.has_symtab);
	cr_assert_null(find_symbol(&ef, "elf_test_static_function"));
	cr_assert_eq(elf_open(&full, "/proc/self/exe", err, sizeof err), ELF_OK, "%s", err);
	for (size_t i = 0; i < ef.nsymbols; i++) {
		const struct elf_symbol *sym = &ef.symbols[i];
		bool in_full = false;

		cr_assert_eq(sym->source, ELF_FROM_DYNSYM, "%s", sym->name);
		/* strip keeps .dynsym as is: each entry is also known to the full file. */
		for (size_t j = 0; j < full.nsymbols && !in_full; j++)
			in_full = full.symbols[j].value == sym->value &&
			          strcmp(full.symbols[j].name, sym->name) == 0;
		cr_assert(in_full, "%s not in the unstripped file", sym->name);
	}
	elf_close(&full);
	elf_close(&ef);
}

Test(elf_libc, malloc_is_in_dynsym_at_its_runtime_address)
{
	struct object_lookup libc = { .name_suffix = "/libc.so.6" };
	const char *names[] = { "malloc", "getpid", "strlen" };
	void *handle;
	struct elf_file ef;
	char err[256] = "";

	dl_iterate_phdr(find_object, &libc);
	cr_assert(libc.found, "libc.so.6 is not loaded");
	/* A libc handle: dlsym then finds libc's own definition, not an ASan interceptor. */
	handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	cr_assert_not_null(handle, "%s", dlerror());
	cr_assert_eq(elf_open(&ef, libc.path, err, sizeof err), ELF_OK, "%s: %s", libc.path, err);

	for (size_t i = 0; i < COUNT(names); i++) {
		const struct elf_symbol *sym = NULL;
		uintptr_t runtime = (uintptr_t)dlsym(handle, names[i]);

		cr_assert_neq(runtime, 0, "dlsym %s", names[i]);
		/* strlen is an IFUNC: dlsym returns the chosen implementation, not the resolver. */
		for (size_t j = 0; j < ef.nsymbols && sym == NULL; j++) {
			if (strcmp(ef.symbols[j].name, names[i]) == 0 &&
			    ef.symbols[j].source == ELF_FROM_DYNSYM &&
			    (ef.symbols[j].type == STT_GNU_IFUNC ||
			     ef.symbols[j].value == runtime - libc.bias))
				sym = &ef.symbols[j];
		}
		cr_assert_not_null(sym, "%s not in %s's .dynsym", names[i], libc.path);
		cr_assert(elf_symbol_is_function(sym), "%s type %u", names[i], sym->type);
		cr_assert_neq(sym->bind, STB_LOCAL);
		if (sym->type == STT_FUNC)
			cr_assert_gt(sym->size, 0, "%s", names[i]);
		if (!ef.has_symtab)
			cr_assert_eq(sym->source, ELF_FROM_DYNSYM);
	}
	dlclose(handle);
	elf_close(&ef);
}

/* ---- comparison with nm ---- */

struct name_set {
	char **names;
	size_t n, capacity;
};

static void name_set_add(struct name_set *set, const char *name, size_t len)
{
	if (set->n == set->capacity) {
		set->capacity = set->capacity ? set->capacity * 2 : 1024;
		set->names = realloc(set->names, set->capacity * sizeof *set->names);
		cr_assert_not_null(set->names);
	}
	set->names[set->n] = strndup(name, len);
	cr_assert_not_null(set->names[set->n]);
	set->n++;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and removes duplicates. */
static void name_set_finish(struct name_set *set)
{
	size_t kept = 0;

	if (set->n != 0)
		qsort(set->names, set->n, sizeof *set->names, compare_names);
	for (size_t i = 0; i < set->n; i++) {
		if (kept != 0 && strcmp(set->names[kept - 1], set->names[i]) == 0)
			free(set->names[i]);
		else
			set->names[kept++] = set->names[i];
	}
	set->n = kept;
}

static bool name_set_contains(const struct name_set *set, const char *name)
{
	return set->n != 0 &&
	       bsearch(&name, set->names, set->n, sizeof *set->names, compare_names) != NULL;
}

static void name_set_free(struct name_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->names[i]);
	free(set->names);
	*set = (struct name_set){ 0 };
}

/*
 * Adds the names nm lists as code (T t W w i) to set. With -D, nm appends
 * "@VERSION" or "@@VERSION", which .dynsym names do not contain.
 */
static void add_nm_code_names(struct name_set *set, const char *nm_options, const char *path)
{
	char command[PATH_MAX + 128];
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	bool dynamic = strstr(nm_options, "-D") != NULL;
	FILE *nm;

	cr_assert_null(strchr(path, '\''), "path with a quote: %s", path);
	snprintf(command, sizeof command, "nm %s '%s' 2>/dev/null", nm_options, path);
	nm = popen(command, "r");
	cr_assert_not_null(nm, "popen %s", command);
	while ((len = getline(&line, &linecap, nm)) > 0) {
		char *addr_end, *name;
		size_t name_len;
		char letter;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		/* "<hex address> <letter> <name>" */
		addr_end = strchr(line, ' ');
		if (addr_end == NULL || addr_end[1] == '\0' || addr_end[2] != ' ')
			continue;
		letter = addr_end[1];
		name = addr_end + 3;
		if (strchr("TtWwi", letter) == NULL)
			continue;
		name_len = strlen(name);
		if (dynamic && strchr(name, '@') != NULL)
			name_len = (size_t)(strchr(name, '@') - name);
		name_set_add(set, name, name_len);
	}
	free(line);
	cr_assert_eq(pclose(nm), 0, "%s failed", command);
}

/*
 * nm classifies by section and binding, the reader by symbol type, so the
 * sets differ in one known way: nm also lists STT_NOTYPE symbols, as 'T'/'t'
 * in code sections (assembler labels) and as 'W' when weak anywhere (e.g.
 * data_start in .data). So: every function the reader returns is one nm
 * lists, and every name nm lists that the reader does not call a function
 * is one the reader returns with another type.
 */
static void compare_with_nm(const char *path)
{
	struct name_set ours = { 0 }, all_ours = { 0 }, theirs = { 0 };
	struct elf_file ef;
	char err[256] = "";
	size_t only_nm = 0;

	cr_assert_eq(elf_open(&ef, path, err, sizeof err), ELF_OK, "%s: %s", path, err);
	for (size_t i = 0; i < ef.nsymbols; i++) {
		const struct elf_symbol *sym = &ef.symbols[i];

		if (elf_symbol_is_function(sym))
			name_set_add(&ours, sym->name, strlen(sym->name));
		else
			name_set_add(&all_ours, sym->name, strlen(sym->name));
	}
	name_set_finish(&ours);
	name_set_finish(&all_ours);

	add_nm_code_names(&theirs, "--defined-only", path);
	add_nm_code_names(&theirs, "-D --defined-only", path);
	name_set_finish(&theirs);
	cr_assert_gt(theirs.n, 0, "nm listed no code symbols in %s", path);

	for (size_t i = 0; i < ours.n; i++)
		cr_assert(name_set_contains(&theirs, ours.names[i]),
		          "%s: function %s is not a code symbol for nm", path, ours.names[i]);
	for (size_t i = 0; i < theirs.n; i++) {
		if (name_set_contains(&ours, theirs.names[i]))
			continue;
		cr_assert(name_set_contains(&all_ours, theirs.names[i]),
		          "%s: nm lists %s, which the reader does not return", path,
		          theirs.names[i]);
		only_nm++;
	}
	cr_log_info("%s: %zu function names, nm %zu code names (%zu of them untyped)", path,
	            ours.n, theirs.n, only_nm);
	name_set_free(&ours);
	name_set_free(&all_ours);
	name_set_free(&theirs);
	elf_close(&ef);
}

Test(elf_nm, function_names_of_self_match_nm)
{
	char path[PATH_MAX];

	self_path(path, sizeof path);
	compare_with_nm(path);
}

Test(elf_nm, function_names_of_libc_match_nm)
{
	struct object_lookup libc = { .name_suffix = "/libc.so.6" };

	dl_iterate_phdr(find_object, &libc);
	cr_assert(libc.found, "libc.so.6 is not loaded");
	compare_with_nm(libc.path);
}

/* ======================= elf_open on things that are not ELF files ======================= */

Test(elf_open, missing_file_is_io_error)
{
	struct elf_file ef;
	char err[256] = "";

	cr_assert_eq(elf_open(&ef, "/nonexistent/stdbtel/elf", err, sizeof err), ELF_ERR_IO);
	cr_assert(strstr(err, "No such file") != NULL, "%s", err);
	cr_assert_null(ef.symbols);
	cr_assert_null(ef.data);
	elf_close(&ef);
	elf_close(&ef);
}

Test(elf_open, directory_is_io_error)
{
	struct elf_file ef;
	char err[256] = "";

	cr_assert_eq(elf_open(&ef, "/tmp", err, sizeof err), ELF_ERR_IO);
	cr_assert(strstr(err, "directory") != NULL, "%s", err);
	cr_assert_null(ef.data);
	elf_close(&ef);
}

Test(elf_open, fifo_empty_and_text_files)
{
	char dir_template[] = "/tmp/test_elf_file.XXXXXX";
	char *dir = mkdtemp(dir_template);
	char fifo[PATH_MAX], empty[PATH_MAX], text[PATH_MAX];
	struct elf_file ef;
	char err[256] = "";
	int fd;

	cr_assert_not_null(dir);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(empty, sizeof empty, "%s/empty", dir);
	snprintf(text, sizeof text, "%s/text", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	fd = open(empty, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0);
	close(fd);
	fd = open(text, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "#!/bin/sh\necho hello\n", 21), 21);
	close(fd);

	/* A FIFO with no writer: must not block. */
	cr_assert_eq(elf_open(&ef, fifo, err, sizeof err), ELF_ERR_IO);
	cr_assert(strstr(err, "regular") != NULL, "%s", err);
	cr_assert_eq(elf_open(&ef, empty, err, sizeof err), ELF_ERR_FORMAT);
	cr_assert(strstr(err, "not an ELF file") != NULL, "%s", err);
	cr_assert_eq(elf_open(&ef, text, err, sizeof err), ELF_ERR_FORMAT);
	cr_assert(strstr(err, "not an ELF file") != NULL, "%s", err);
	cr_assert_null(ef.data);

	unlink(fifo);
	unlink(empty);
	unlink(text);
	rmdir(dir);
}

Test(elf_open, close_is_safe_on_zeroed_and_closed_structs)
{
	struct elf_file ef = { 0 };
	struct image im = standard_image();
	char err[256] = "";

	elf_close(&ef);
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	elf_close(&ef);
	cr_assert_null(ef.symbols);
	cr_assert_eq(ef.nsymbols, 0);
	elf_close(&ef);
	free_image(&im);
}

Test(elf_open, null_or_tiny_error_buffer)
{
	struct elf_file ef;
	char one[1] = { 'x' };

	cr_assert_eq(elf_open_mem(&ef, "abc", 3, NULL, 0), ELF_ERR_FORMAT);
	cr_assert_eq(elf_open_mem(&ef, "abc", 3, one, sizeof one), ELF_ERR_FORMAT);
	cr_assert_eq(one[0], '\0');
	cr_assert_eq(elf_open_mem(&ef, NULL, 0, NULL, 0), ELF_ERR_FORMAT);
}

/* ======================= small built images ======================= */

Test(elf_image, standard_image_keeps_the_right_symbols)
{
	struct image im = standard_image();
	struct elf_file ef;
	char err[256] = "";

	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	cr_assert(ef.has_symtab);
	cr_assert(!ef.mapped);
	cr_assert_eq(ef.e_type, ET_DYN);
	cr_assert_eq(ef.e_machine, EM_X86_64);
	expect_symbols(&ef, standard_expected, COUNT(standard_expected));
	cr_assert_eq(ef.symbols[0].size, 8);
	cr_assert_eq(ef.symbols[0].shndx, SEC_TEXT);
	cr_assert(elf_symbol_is_function(&ef.symbols[0]));
	cr_assert(!elf_symbol_is_function(&ef.symbols[2]));  /* gamma, an object */
	cr_assert(elf_symbol_is_function(&ef.symbols[4]));   /* ifn, an IFUNC */
	elf_close(&ef);
	free_image(&im);
}

Test(elf_image, without_symtab_reads_dynsym_only)
{
	static const struct expected_symbol want[] = {
		{ "shared", 0x1010, STB_GLOBAL, STT_FUNC, ELF_FROM_DYNSYM },
		{ "dynonly", 0x1020, STB_GLOBAL, STT_FUNC, ELF_FROM_DYNSYM },
		{ "beta", 0x2000, STB_GLOBAL, STT_FUNC, ELF_FROM_DYNSYM },
		/* the second "shared" at 0x1010 is another version of the first: dropped */
	};
	struct image im = standard_image();
	struct elf_file ef;
	char err[256] = "";

	image_section(&im, SEC_SYMTAB)->sh_type = SHT_PROGBITS;
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	cr_assert(!ef.has_symtab);
	expect_symbols(&ef, want, COUNT(want));
	elf_close(&ef);
	free_image(&im);
}

Test(elf_image, without_dynsym_reads_symtab_only)
{
	struct image im = standard_image();
	struct elf_file ef;
	char err[256] = "";

	image_section(&im, SEC_DYNSYM)->sh_type = SHT_PROGBITS;
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	cr_assert(ef.has_symtab);
	expect_symbols(&ef, standard_expected, COUNT(standard_expected) - 2);
	elf_close(&ef);
	free_image(&im);
}

Test(elf_image, no_symbol_tables_or_no_defined_symbols)
{
	static const struct sym_spec imports[] = {
		{ "ext", STB_GLOBAL, STT_FUNC, SHN_UNDEF, 0, 0 },
		{ "f.c", STB_LOCAL, STT_FILE, SHN_ABS, 0, 0 },
	};
	struct image im = standard_image();

	image_section(&im, SEC_SYMTAB)->sh_type = SHT_PROGBITS;
	image_section(&im, SEC_DYNSYM)->sh_type = SHT_PROGBITS;
	expect_status(&im, ELF_ERR_NOSYMBOLS, NULL);
	free_image(&im);

	im = build_image(imports, COUNT(imports), imports, 1, 0);
	expect_status(&im, ELF_ERR_NOSYMBOLS, "no defined symbols");
	free_image(&im);

	im = build_image(NULL, 0, NULL, 0, 0);
	expect_status(&im, ELF_ERR_NOSYMBOLS, NULL);
	image_header(&im)->e_shoff = 0;
	expect_status(&im, ELF_ERR_NOSYMBOLS, "no section header table");
	free_image(&im);
}

Test(elf_image, header_identity_checks)
{
	static const char not_elf[] = "#!/bin/sh\nexit 0\n and some more text to pass 64 bytes....";
	struct image im = standard_image();
	uint8_t bytes[64];

	image_header(&im)->e_ident[EI_CLASS] = ELFCLASS32;
	expect_status(&im, ELF_ERR_FORMAT, "32-bit ELF is not supported");
	image_header(&im)->e_ident[EI_CLASS] = ELFCLASS64;
	image_header(&im)->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_status(&im, ELF_ERR_FORMAT, "big-endian ELF is not supported");
	image_header(&im)->e_ident[EI_DATA] = 7;
	expect_status(&im, ELF_ERR_FORMAT, "data encoding");
	image_header(&im)->e_ident[EI_DATA] = ELFDATA2LSB;
	image_header(&im)->e_ident[EI_CLASS] = 0;
	expect_status(&im, ELF_ERR_FORMAT, "class");
	image_header(&im)->e_ident[EI_CLASS] = ELFCLASS64;
	image_header(&im)->e_ident[EI_MAG1] = 'e';
	expect_status(&im, ELF_ERR_FORMAT, "not an ELF file");
	image_header(&im)->e_ident[EI_MAG1] = 'E';

	image_header(&im)->e_type = ET_REL;
	expect_status(&im, ELF_ERR_FORMAT, "type");
	image_header(&im)->e_type = ET_CORE;
	expect_status(&im, ELF_ERR_FORMAT, "type");
	image_header(&im)->e_type = ET_EXEC;
	expect_status(&im, ELF_OK, NULL);
	image_header(&im)->e_machine = EM_386;
	expect_status(&im, ELF_ERR_FORMAT, "machine");
	image_header(&im)->e_machine = EM_AARCH64;
	expect_status(&im, ELF_OK, NULL);
	free_image(&im);

	cr_assert_eq(open_copy_and_check((const uint8_t *)not_elf, sizeof not_elf), ELF_ERR_FORMAT);
	cr_assert_eq(open_copy_and_check((const uint8_t *)not_elf, 0), ELF_ERR_FORMAT);
	/* A 32-bit or big-endian identity is named even when the header is short. */
	memcpy(bytes, ELFMAG, SELFMAG);
	bytes[EI_CLASS] = ELFCLASS32;
	bytes[EI_DATA] = ELFDATA2LSB;
	for (size_t len = 0; len <= sizeof bytes; len++)
		cr_assert_eq(open_copy_and_check(bytes, len), ELF_ERR_FORMAT);
}

Test(elf_image, section_count_extension)
{
	struct image im = standard_image();
	struct elf_file ef;
	char err[256] = "";

	/* e_shnum 0: the count is section 0's sh_size. */
	image_header(&im)->e_shnum = 0;
	image_section(&im, 0)->sh_size = im.shnum;
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	expect_symbols(&ef, standard_expected, COUNT(standard_expected));
	elf_close(&ef);

	/* e_shstrndx SHN_XINDEX: the index is section 0's sh_link. */
	image_header(&im)->e_shstrndx = SHN_XINDEX;
	image_section(&im, 0)->sh_link = SEC_SHSTRTAB;
	expect_status(&im, ELF_OK, NULL);
	image_section(&im, 0)->sh_link = (uint32_t)im.shnum;
	expect_status(&im, ELF_ERR_FORMAT, "e_shstrndx");
	image_section(&im, 0)->sh_link = SEC_SHSTRTAB;

	/* A bogus count: huge, one too many, wrapping when multiplied by 64, zero. */
	image_section(&im, 0)->sh_size = UINT64_C(1) << 40;
	expect_status(&im, ELF_ERR_FORMAT, "section header table outside the file");
	image_section(&im, 0)->sh_size = im.shnum + 1;
	expect_status(&im, ELF_ERR_FORMAT, "section header table outside the file");
	image_section(&im, 0)->sh_size = (UINT64_MAX / 64) + 2;
	expect_status(&im, ELF_ERR_FORMAT, "section header table outside the file");
	image_section(&im, 0)->sh_size = 0;
	expect_status(&im, ELF_ERR_NOSYMBOLS, "no sections");
	free_image(&im);
}

Test(elf_image, more_than_0xff00_sections)
{
	size_t extra = SHN_LORESERVE + 0x10 - SEC_COUNT;
	struct image im = build_image(standard_symtab, COUNT(standard_symtab), standard_dynsym,
	                              COUNT(standard_dynsym), extra);
	struct elf_file ef;
	char err[256] = "";

	cr_assert_eq(image_header(&im)->e_shnum, 0);
	cr_assert_eq(image_header(&im)->e_shstrndx, SHN_XINDEX);
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	expect_symbols(&ef, standard_expected, COUNT(standard_expected));
	elf_close(&ef);

	/* A symbol table found only past index 0xff00 (the loop must scan that far). */
	*image_section(&im, im.shnum - 1) = *image_section(&im, SEC_DYNSYM);
	image_section(&im, SEC_DYNSYM)->sh_type = SHT_PROGBITS;
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	expect_symbols(&ef, standard_expected, COUNT(standard_expected));
	elf_close(&ef);
	free_image(&im);
}

Test(elf_image, section_header_table_checks)
{
	struct image im = standard_image();
	Elf64_Ehdr *eh = image_header(&im);

	eh->e_shstrndx = (uint16_t)im.shnum;
	expect_status(&im, ELF_ERR_FORMAT, "e_shstrndx");
	eh->e_shstrndx = SHN_UNDEF; /* no section names: still readable */
	expect_status(&im, ELF_OK, NULL);
	eh->e_shstrndx = SEC_SHSTRTAB;

	eh->e_shentsize = 40;
	expect_status(&im, ELF_ERR_FORMAT, "e_shentsize");
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shoff = im.size;
	expect_status(&im, ELF_ERR_FORMAT, "section header table outside the file");
	eh->e_shoff = UINT64_MAX - 8;
	expect_status(&im, ELF_ERR_FORMAT, "section header table outside the file");
	eh->e_shoff = im.size - sizeof(Elf64_Shdr) * (im.shnum - 1);
	expect_status(&im, ELF_ERR_FORMAT, "section header table outside the file");
	eh->e_shoff = im.shoff;
	eh->e_shnum = (uint16_t)(im.shnum + 1);
	expect_status(&im, ELF_ERR_FORMAT, "section header table outside the file");
	eh->e_shnum = (uint16_t)im.shnum;
	expect_status(&im, ELF_OK, NULL);
	free_image(&im);
}

Test(elf_image, symbol_table_section_checks)
{
	const size_t tables[] = { SEC_SYMTAB, SEC_DYNSYM };

	for (size_t t = 0; t < COUNT(tables); t++) {
		struct image im = standard_image();
		Elf64_Shdr *sh = image_section(&im, tables[t]);
		Elf64_Shdr saved = *sh;

		sh->sh_entsize = 0;
		expect_status(&im, ELF_ERR_FORMAT, "sh_entsize");
		sh->sh_entsize = 16;
		expect_status(&im, ELF_ERR_FORMAT, "sh_entsize");
		sh->sh_entsize = sizeof(Elf64_Sym);
		sh->sh_size += 1;
		expect_status(&im, ELF_ERR_FORMAT, "not a multiple");
		sh->sh_size = saved.sh_size + sizeof(Elf64_Sym) * 1000;
		expect_status(&im, ELF_ERR_FORMAT, "outside the file");
		/* offset + size wraps around 2^64 */
		sh->sh_offset = 48;
		sh->sh_size = (UINT64_MAX / sizeof(Elf64_Sym)) * sizeof(Elf64_Sym);
		expect_status(&im, ELF_ERR_FORMAT, "outside the file");
		sh->sh_size = saved.sh_size;
		sh->sh_offset = im.size;
		expect_status(&im, ELF_ERR_FORMAT, "outside the file");
		sh->sh_offset = saved.sh_offset;
		sh->sh_flags |= SHF_COMPRESSED;
		expect_status(&im, ELF_ERR_FORMAT, "compressed");
		sh->sh_flags = saved.sh_flags;

		sh->sh_link = (uint32_t)im.shnum;
		expect_status(&im, ELF_ERR_FORMAT, "sh_link");
		sh->sh_link = UINT32_MAX;
		expect_status(&im, ELF_ERR_FORMAT, "sh_link");
		sh->sh_link = 0;
		expect_status(&im, ELF_ERR_FORMAT, "sh_link");
		sh->sh_link = SEC_TEXT;
		expect_status(&im, ELF_ERR_FORMAT, "SHT_STRTAB");
		sh->sh_link = (uint32_t)tables[t];
		expect_status(&im, ELF_ERR_FORMAT, "SHT_STRTAB");
		sh->sh_link = saved.sh_link;
		expect_status(&im, ELF_OK, NULL);
		/* The names of that section appear in messages. */
		sh->sh_entsize = 0;
		expect_status(&im, ELF_ERR_FORMAT, t == 0 ? "(.symtab)" : "(.dynsym)");
		free_image(&im);
	}
}

Test(elf_image, string_table_checks)
{
	const size_t tables[] = { SEC_SYMTAB, SEC_DYNSYM };

	for (size_t t = 0; t < COUNT(tables); t++) {
		struct image im = standard_image();
		Elf64_Shdr *str = image_section(&im, image_section(&im, tables[t])->sh_link);
		Elf64_Shdr saved = *str;

		str->sh_type = SHT_NOBITS;
		expect_status(&im, ELF_ERR_FORMAT, "SHT_STRTAB");
		str->sh_type = SHT_STRTAB;
		str->sh_flags |= SHF_COMPRESSED;
		expect_status(&im, ELF_ERR_FORMAT, "compressed");
		str->sh_flags = saved.sh_flags;
		str->sh_size = im.size;
		expect_status(&im, ELF_ERR_FORMAT, "outside the file");
		str->sh_offset = UINT64_MAX;
		str->sh_size = 2;
		expect_status(&im, ELF_ERR_FORMAT, "outside the file");
		str->sh_offset = saved.sh_offset;
		str->sh_size = saved.sh_size;

		/* Without its final NUL, the last name would run out of the table. */
		im.bytes[saved.sh_offset + saved.sh_size - 1] = 'x';
		expect_status(&im, ELF_ERR_FORMAT, "does not end with NUL");
		im.bytes[saved.sh_offset + saved.sh_size - 1] = '\0';
		/* The same at the very end of the buffer, where reading on would leave it. */
		{
			struct image at_end = { .size = im.size + saved.sh_size, .shoff = im.shoff,
			                        .shnum = im.shnum };

			at_end.bytes = malloc(at_end.size);
			cr_assert_not_null(at_end.bytes);
			memcpy(at_end.bytes, im.bytes, im.size);
			memcpy(at_end.bytes + im.size, im.bytes + saved.sh_offset, saved.sh_size);
			at_end.bytes[at_end.size - 1] = 'x';
			image_section(&at_end, image_section(&im, tables[t])->sh_link)->sh_offset = im.size;
			expect_status(&at_end, ELF_ERR_FORMAT, "does not end with NUL");
			at_end.bytes[at_end.size - 1] = '\0';
			expect_status(&at_end, ELF_OK, NULL);
			free_image(&at_end);
		}

		/* Ending the table (still with a NUL) before the last name leaves that name past it. */
		str->sh_size = 0;
		for (size_t k = 0; k * sizeof(Elf64_Sym) < image_section(&im, tables[t])->sh_size; k++) {
			if (image_symbol(&im, tables[t], k)->st_name > str->sh_size)
				str->sh_size = image_symbol(&im, tables[t], k)->st_name;
		}
		cr_assert_eq(im.bytes[saved.sh_offset + str->sh_size - 1], '\0');
		expect_status(&im, ELF_ERR_FORMAT, "past the string table");
		/* An empty string table works only when no symbol has a name. */
		str->sh_size = 0;
		expect_status(&im, ELF_ERR_FORMAT, "past the string table");
		str->sh_size = saved.sh_size;
		expect_status(&im, ELF_OK, NULL);
		free_image(&im);
	}
}

Test(elf_image, symbol_name_offsets)
{
	struct image im = standard_image();
	Elf64_Shdr *strtab = image_section(&im, SEC_STRTAB);
	Elf64_Sym *alpha = image_symbol(&im, SEC_SYMTAB, 3);
	uint32_t saved = alpha->st_name;
	struct elf_file ef;
	char err[256] = "";

	cr_assert_eq(alpha->st_value, 0x1000);
	alpha->st_name = (uint32_t)strtab->sh_size;
	expect_status(&im, ELF_ERR_FORMAT, "past the string table");
	alpha->st_name = UINT32_MAX;
	expect_status(&im, ELF_ERR_FORMAT, "past the string table");
	/* The final NUL of the table: an empty name, skipped. */
	alpha->st_name = (uint32_t)strtab->sh_size - 1;
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	expect_symbols(&ef, standard_expected + 1, COUNT(standard_expected) - 1);
	elf_close(&ef);
	/* The middle of another name is a valid (suffix) name, as linkers share tails. */
	alpha->st_name = saved + 2; /* "pha" */
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);
	cr_assert_str_eq(ef.symbols[0].name, "pha");
	elf_close(&ef);
	/* An undefined symbol's name is checked too. */
	alpha->st_name = saved;
	image_symbol(&im, SEC_DYNSYM, 4)->st_name = UINT32_MAX;
	expect_status(&im, ELF_ERR_FORMAT, "past the string table");
	free_image(&im);
}

/*
 * The dedup against a brute-force reference, with values drawn from a small
 * range so that hash chains, equal values with different names and repeated
 * (name, value) pairs inside .dynsym all occur.
 */
Test(elf_image, dynsym_dedup_matches_brute_force)
{
	enum { NSYMTAB = 3000, NDYNSYM = 1500, NNAMES = 400, NVALUES = 64 };
	static char names[NNAMES][16];
	struct sym_spec *symtab = calloc(NSYMTAB, sizeof *symtab);
	struct sym_spec *dynsym = calloc(NDYNSYM, sizeof *dynsym);
	uint64_t state = 0x2545F4914F6CDD1DULL;
	struct image im;
	struct elf_file ef;
	char err[256] = "";
	size_t at;

	cr_assert(symtab && dynsym);
	for (size_t i = 0; i < NNAMES; i++)
		snprintf(names[i], sizeof names[i], "fn_%zu", i);
	for (size_t i = 0; i < NSYMTAB + NDYNSYM; i++) {
		struct sym_spec *spec = i < NSYMTAB ? &symtab[i] : &dynsym[i - NSYMTAB];

		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		*spec = (struct sym_spec){ names[state % NNAMES], STB_GLOBAL, STT_FUNC, SEC_TEXT,
			0x1000 + 16 * ((state >> 20) % NVALUES), 16 };
	}
	im = build_image(symtab, NSYMTAB, dynsym, NDYNSYM, 0);
	cr_assert_eq(elf_open_mem(&ef, im.bytes, im.size, err, sizeof err), ELF_OK, "%s", err);

	for (size_t i = 0; i < NSYMTAB; i++) {
		cr_assert_str_eq(ef.symbols[i].name, symtab[i].name);
		cr_assert_eq(ef.symbols[i].value, symtab[i].value);
	}
	at = NSYMTAB;
	for (size_t d = 0; d < NDYNSYM; d++) {
		bool duplicate = false;

		for (size_t s = 0; s < NSYMTAB && !duplicate; s++)
			duplicate = symtab[s].value == dynsym[d].value &&
			            strcmp(symtab[s].name, dynsym[d].name) == 0;
		/* an earlier .dynsym entry with the same (name, value): another version */
		for (size_t e = 0; e < d && !duplicate; e++)
			duplicate = dynsym[e].value == dynsym[d].value &&
			            strcmp(dynsym[e].name, dynsym[d].name) == 0;
		if (duplicate)
			continue;
		cr_assert_lt(at, ef.nsymbols);
		cr_assert_str_eq(ef.symbols[at].name, dynsym[d].name);
		cr_assert_eq(ef.symbols[at].value, dynsym[d].value);
		cr_assert_eq(ef.symbols[at].source, ELF_FROM_DYNSYM);
		at++;
	}
	cr_assert_eq(at, ef.nsymbols);
	cr_assert_gt(at, NSYMTAB, "the draw should leave some .dynsym entries");
	cr_assert_lt(at, NSYMTAB + NDYNSYM, "the draw should drop some .dynsym entries");
	elf_close(&ef);
	free_image(&im);
	free(symtab);
	free(dynsym);
}

/* ======================= the test binary, truncated and corrupted ======================= */

struct self_image {
	uint8_t *bytes; /* exact size */
	size_t size;
	Elf64_Ehdr eh;
	size_t shnum;
};

static struct self_image load_self_image(void)
{
	char path[PATH_MAX];
	struct self_image self;

	self_path(path, sizeof path);
	self.bytes = read_whole_file(path, &self.size);
	cr_assert_geq(self.size, sizeof self.eh);
	memcpy(&self.eh, self.bytes, sizeof self.eh);
	cr_assert_neq(self.eh.e_shnum, 0);
	cr_assert_leq(self.eh.e_shoff + self.eh.e_shnum * sizeof(Elf64_Shdr), self.size);
	self.shnum = self.eh.e_shnum;
	cr_assert_eq(open_and_check(self.bytes, self.size), ELF_OK);
	return self;
}

static Elf64_Shdr self_section(const struct self_image *self, size_t index)
{
	Elf64_Shdr sh;

	memcpy(&sh, self->bytes + self->eh.e_shoff + index * sizeof sh, sizeof sh);
	return sh;
}

Test(elf_corrupt, truncated_copies_of_self)
{
	struct self_image self = load_self_image();
	size_t ok = 0, tried = 0;

	for (size_t len = 0; len < 65536 && len < self.size; len += 64) {
		/* Also the odd lengths around the ELF header. */
		for (size_t odd = 0; odd < (len == 0 ? 64 : 1); odd++) {
			ok += open_copy_and_check(self.bytes, len + odd) == ELF_OK;
			tried++;
		}
	}
	for (size_t i = 0; i < self.shnum; i++) {
		Elf64_Shdr sh = self_section(&self, i);
		size_t cuts[] = { self.eh.e_shoff + i * sizeof sh, self.eh.e_shoff + i * sizeof sh + 1,
		                  sh.sh_offset, sh.sh_offset + sh.sh_size,
		                  sh.sh_offset + sh.sh_size - 1 };

		for (size_t c = 0; c < COUNT(cuts); c++) {
			if (cuts[c] < self.size) {
				ok += open_copy_and_check(self.bytes, cuts[c]) == ELF_OK;
				tried++;
			}
		}
	}
	for (size_t cut = 1; cut <= 16; cut++) {
		ok += open_copy_and_check(self.bytes, self.size - cut) == ELF_OK;
		tried++;
	}
	/* The section header table sits at the end of a linked file: no prefix is whole. */
	cr_log_info("truncation: %zu lengths, %zu opened", tried, ok);
	free(self.bytes);
}

/*
 * The test binary rearranged so that the section header table follows the
 * ELF header: then a prefix can hold a whole table while cutting a symbol
 * table or string table short, which a linked file's layout never allows.
 */
Test(elf_corrupt, truncated_copies_with_section_headers_first)
{
	struct self_image self = load_self_image();
	size_t table_size = self.shnum * sizeof(Elf64_Shdr);
	size_t size = self.size + table_size;
	uint8_t *moved = malloc(size);
	Elf64_Ehdr eh = self.eh;
	size_t ok = 0, tried = 0;

	cr_assert_not_null(moved);
	memcpy(moved, self.bytes, sizeof eh);
	memcpy(moved + sizeof eh + table_size, self.bytes + sizeof eh, self.size - sizeof eh);
	for (size_t i = 0; i < self.shnum; i++) {
		Elf64_Shdr sh = self_section(&self, i);

		if (sh.sh_offset >= sizeof eh)
			sh.sh_offset += table_size;
		memcpy(moved + sizeof eh + i * sizeof sh, &sh, sizeof sh);
	}
	eh.e_shoff = sizeof eh;
	memcpy(moved, &eh, sizeof eh);
	cr_assert_eq(open_and_check(moved, size), ELF_OK);

	for (size_t i = 0; i < self.shnum; i++) {
		Elf64_Shdr sh;
		size_t step;

		memcpy(&sh, moved + sizeof eh + i * sizeof sh, sizeof sh);
		if (sh.sh_type == SHT_NOBITS)
			continue;
		/* Symbol and string tables: every entry boundary or a few hundred cuts. */
		step = (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) ? sizeof(Elf64_Sym) :
		       sh.sh_type == SHT_STRTAB ? sh.sh_size / 300 + 1 : sh.sh_size + 1;
		for (size_t at = 0; at <= sh.sh_size; at += step) {
			for (size_t delta = 0; delta < 2; delta++) {
				size_t len = sh.sh_offset + at - delta;

				if (len <= size) {
					ok += open_copy_and_check(moved, len) == ELF_OK;
					tried++;
				}
			}
		}
	}
	cr_log_info("truncation with headers first: %zu lengths, %zu opened", tried, ok);
	cr_assert_gt(ok, 0, "cuts after the last table should open");
	cr_assert_lt(ok, tried, "cuts inside the tables should fail");
	free(moved);
	free(self.bytes);
}

/* Stores value into the little-endian field [offset, offset + width) of buf. */
static void poke(uint8_t *buf, size_t offset, size_t width, uint64_t value)
{
	for (size_t i = 0; i < width; i++)
		buf[offset + i] = (uint8_t)(value >> (8 * i));
}

static uint64_t peek(const uint8_t *buf, size_t offset, size_t width)
{
	uint64_t value = 0;

	for (size_t i = 0; i < width; i++)
		value |= (uint64_t)buf[offset + i] << (8 * i);
	return value;
}

/* Tries a list of interesting values in one field, restoring it afterwards. */
static void mutate_field(struct self_image *self, size_t offset, size_t width,
                         const uint64_t *extra, size_t nextra, size_t *tried)
{
	uint64_t original = peek(self->bytes, offset, width);
	uint64_t values[] = { 0, 1, 2, 7, 8, 24, 63, 64, 0xff, 0xff00, 0xffff, 0x7fffffff,
		0xffffffff, UINT64_MAX, UINT64_MAX / 2, UINT64_MAX - 7, self->size - 1, self->size,
		self->size + 1, original + 1, original - 1, original * 2, original / 2,
		original ^ 0x80, original + 24, original - 24, original + 64 };

	for (size_t i = 0; i < COUNT(values) + nextra; i++) {
		poke(self->bytes, offset, width, i < COUNT(values) ? values[i] : extra[i - COUNT(values)]);
		open_and_check(self->bytes, self->size);
		(*tried)++;
	}
	poke(self->bytes, offset, width, original);
}

Test(elf_corrupt, header_and_section_header_fields_of_self)
{
	static const struct { size_t offset, width; } header_fields[] = {
		{ EI_CLASS, 1 }, { EI_DATA, 1 }, { EI_VERSION, 1 },
		{ offsetof(Elf64_Ehdr, e_type), 2 }, { offsetof(Elf64_Ehdr, e_machine), 2 },
		{ offsetof(Elf64_Ehdr, e_version), 4 }, { offsetof(Elf64_Ehdr, e_entry), 8 },
		{ offsetof(Elf64_Ehdr, e_phoff), 8 }, { offsetof(Elf64_Ehdr, e_shoff), 8 },
		{ offsetof(Elf64_Ehdr, e_flags), 4 }, { offsetof(Elf64_Ehdr, e_ehsize), 2 },
		{ offsetof(Elf64_Ehdr, e_phentsize), 2 }, { offsetof(Elf64_Ehdr, e_phnum), 2 },
		{ offsetof(Elf64_Ehdr, e_shentsize), 2 }, { offsetof(Elf64_Ehdr, e_shnum), 2 },
		{ offsetof(Elf64_Ehdr, e_shstrndx), 2 },
	};
	static const struct { size_t offset, width; } section_fields[] = {
		{ offsetof(Elf64_Shdr, sh_name), 4 }, { offsetof(Elf64_Shdr, sh_type), 4 },
		{ offsetof(Elf64_Shdr, sh_flags), 8 }, { offsetof(Elf64_Shdr, sh_addr), 8 },
		{ offsetof(Elf64_Shdr, sh_offset), 8 }, { offsetof(Elf64_Shdr, sh_size), 8 },
		{ offsetof(Elf64_Shdr, sh_link), 4 }, { offsetof(Elf64_Shdr, sh_info), 4 },
		{ offsetof(Elf64_Shdr, sh_addralign), 8 }, { offsetof(Elf64_Shdr, sh_entsize), 8 },
	};
	struct self_image self = load_self_image();
	uint64_t *section_values = calloc(self.shnum * 3 + 8, sizeof *section_values);
	size_t nsection_values = 0, tried = 0;

	cr_assert_not_null(section_values);
	/* Values that are plausible in this file: every section's offset, size and index. */
	for (size_t i = 0; i < self.shnum; i++) {
		Elf64_Shdr sh = self_section(&self, i);

		section_values[nsection_values++] = sh.sh_offset;
		section_values[nsection_values++] = sh.sh_size;
		section_values[nsection_values++] = i;
	}
	section_values[nsection_values++] = SHT_SYMTAB;
	section_values[nsection_values++] = SHT_DYNSYM;
	section_values[nsection_values++] = SHT_STRTAB;
	section_values[nsection_values++] = SHT_NOBITS;
	section_values[nsection_values++] = SHF_COMPRESSED;
	section_values[nsection_values++] = SHN_XINDEX;
	section_values[nsection_values++] = self.shnum;
	section_values[nsection_values++] = self.shnum - 1;

	for (size_t f = 0; f < COUNT(header_fields); f++)
		mutate_field(&self, header_fields[f].offset, header_fields[f].width, section_values,
		             nsection_values, &tried);
	for (size_t i = 0; i < self.shnum; i++) {
		size_t base = self.eh.e_shoff + i * sizeof(Elf64_Shdr);
		Elf64_Shdr sh = self_section(&self, i);
		/* The fields of the symbol tables and string tables get every value; others a few. */
		bool important = sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM ||
		                 sh.sh_type == SHT_STRTAB || i == 0;

		for (size_t f = 0; f < COUNT(section_fields); f++)
			mutate_field(&self, base + section_fields[f].offset, section_fields[f].width,
			             section_values, important ? nsection_values : 0, &tried);
	}
	cr_log_info("field mutations: %zu opens", tried);
	cr_assert_eq(open_and_check(self.bytes, self.size), ELF_OK, "restored image");
	free(section_values);
	free(self.bytes);
}

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

Test(elf_corrupt, random_byte_changes_in_self)
{
	enum { ITERATIONS = 6000, MAX_CHANGES = 8 };
	struct self_image self = load_self_image();
	struct byte_range { size_t start, length; } regions[8];
	size_t nregions = 0, ok = 0;
	uint64_t state = 0x9E3779B97F4A7C15ULL;

	/* Half the changes land where the reader looks, the rest anywhere in the file. */
	regions[nregions++] = (struct byte_range){ 0, sizeof(Elf64_Ehdr) };
	regions[nregions++] = (struct byte_range){ self.eh.e_shoff, self.shnum * sizeof(Elf64_Shdr) };
	for (size_t i = 0; i < self.shnum && nregions < COUNT(regions); i++) {
		Elf64_Shdr sh = self_section(&self, i);

		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) {
			Elf64_Shdr str = self_section(&self, sh.sh_link);

			regions[nregions++] = (struct byte_range){ sh.sh_offset, sh.sh_size };
			/* The end of the string table: its final NUL and the last names. */
			regions[nregions++] = (struct byte_range){
				str.sh_offset + str.sh_size - (str.sh_size < 64 ? str.sh_size : 64),
				str.sh_size < 64 ? str.sh_size : 64 };
		}
	}
	for (size_t it = 0; it < ITERATIONS; it++) {
		size_t changes = 1 + next_random(&state) % MAX_CHANGES;
		size_t offsets[MAX_CHANGES];
		uint8_t saved[MAX_CHANGES];
		size_t start = 0, length = self.size;

		if (next_random(&state) % 2 == 0) {
			size_t r = next_random(&state) % nregions;

			start = regions[r].start;
			length = regions[r].length;
		}
		for (size_t c = 0; c < changes; c++) {
			offsets[c] = start + next_random(&state) % length;
			saved[c] = self.bytes[offsets[c]];
			self.bytes[offsets[c]] = (uint8_t)next_random(&state);
		}
		ok += open_and_check(self.bytes, self.size) == ELF_OK;
		for (size_t c = changes; c-- > 0;)
			self.bytes[offsets[c]] = saved[c];
	}
	cr_log_info("random changes: %d iterations, %zu opened", ITERATIONS, ok);
	cr_assert_eq(open_and_check(self.bytes, self.size), ELF_OK, "restored image");
	free(self.bytes);
}

/* Every symbol entry's fields of the self image set to out-of-range values. */
Test(elf_corrupt, symbol_entries_of_self)
{
	struct self_image self = load_self_image();
	uint64_t state = 12345;
	size_t tried = 0;

	for (size_t i = 0; i < self.shnum; i++) {
		Elf64_Shdr sh = self_section(&self, i);
		Elf64_Shdr str;
		size_t count;

		if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
			continue;
		str = self_section(&self, sh.sh_link);
		count = sh.sh_size / sizeof(Elf64_Sym);
		for (size_t k = 0; k < 500 && count > 0; k++) {
			size_t entry = sh.sh_offset + (next_random(&state) % count) * sizeof(Elf64_Sym);
			const uint64_t names[] = { str.sh_size - 1, str.sh_size, str.sh_size + 1,
				UINT32_MAX, 0 };
			const uint64_t indices[] = { SHN_UNDEF, SHN_ABS, SHN_XINDEX, SHN_LORESERVE,
				self.shnum, 0xfeff };

			for (size_t v = 0; v < COUNT(names); v++) {
				uint64_t original = peek(self.bytes, entry, 4);

				poke(self.bytes, entry, 4, names[v]);
				open_and_check(self.bytes, self.size);
				poke(self.bytes, entry, 4, original);
				tried++;
			}
			for (size_t v = 0; v < COUNT(indices); v++) {
				size_t at = entry + offsetof(Elf64_Sym, st_shndx);
				uint64_t original = peek(self.bytes, at, 2);

				poke(self.bytes, at, 2, indices[v]);
				open_and_check(self.bytes, self.size);
				poke(self.bytes, at, 2, original);
				tried++;
			}
		}
	}
	cr_log_info("symbol entry mutations: %zu opens", tried);
	free(self.bytes);
}
