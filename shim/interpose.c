/* SPDX-License-Identifier: MIT */
/*
 * interpose.c: the shim's wrappers of libc functions (contract in
 * interpose.h). Every wrapper is exported by name through
 * shim/libstdbtel.map, unversioned, so it also satisfies references
 * bound to a versioned libc symbol (dlopen@GLIBC_2.2.5 and @GLIBC_2.34).
 */
#define _GNU_SOURCE
#include "interpose.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dlopen_search.h"
#include "hook_engine.h"
#include "http_server.h"
#include "interpose_list.h"

#define STDBTEL_EXPORT __attribute__((visibility("default")))
#define NOT_ARMED UINT64_MAX

#define AS_INDEX(name) W_##name,
enum wrapper_index { INTERPOSED_FUNCTIONS(AS_INDEX) W_COUNT };

/* One per wrapper: next is written once (racing writers store the same value). */
#define AS_WRAPPER(name) [W_##name] = { #name, NULL, NOT_ARMED },
static struct wrapper {
	const char *name;
	void *next;        /* dlsym(RTLD_NEXT, name), on first use */
	uint64_t target;   /* armed: the hot path's target id; NOT_ARMED otherwise */
} wrappers[W_COUNT] = { INTERPOSED_FUNCTIONS(AS_WRAPPER) };

/* libstdbtel.so's own mapped range: calls from there are the shim's own. Set at the first arm. */
static uintptr_t shim_lo, shim_len;

/* Called after a successful dlopen (interpose_set_dlopen_observer). */
static void (*dlopen_observer)(void);

static void *next_definition(enum wrapper_index i)
{
	void *p = __atomic_load_n(&wrappers[i].next, __ATOMIC_ACQUIRE);
	if (__builtin_expect(p == NULL, 0)) {
		p = dlsym(RTLD_NEXT, wrappers[i].name);
		__atomic_store_n(&wrappers[i].next, p, __ATOMIC_RELEASE);
	}
	return p;
}

static inline bool from_the_shim(const void *return_address)
{
	return (uintptr_t)return_address - shim_lo < shim_len;
}

static int find_shim_range(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	uintptr_t here = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		if (start < lo)
			lo = start;
		if (start + ph->p_memsz > hi)
			hi = start + ph->p_memsz;
	}
	if (here < lo || here >= hi)
		return 0;
	shim_lo = lo;
	shim_len = hi - lo;
	return 1;
}

int interpose_arm(const char *name, uint64_t target_id, char *why, size_t whysz)
{
	if (shim_len == 0)
		dl_iterate_phdr(find_shim_range, (void *)(uintptr_t)&interpose_arm);
	for (int i = 0; i < W_COUNT; i++) {
		if (strcmp(wrappers[i].name, name) != 0)
			continue;
		if (wrappers[i].target != NOT_ARMED) {
			snprintf(why, whysz, "the wrapper of %s is already armed by another hook", name);
			return -1;
		}
		if (next_definition((enum wrapper_index)i) == NULL) {
			snprintf(why, whysz, "dlsym(RTLD_NEXT, \"%s\") found no definition to forward to", name);
			return -1;
		}
		__atomic_store_n(&wrappers[i].target, target_id, __ATOMIC_RELEASE);
		snprintf(why, whysz, "interposed (the shim's %s, forwarding with dlsym(RTLD_NEXT))", name);
		return 0;
	}
	snprintf(why, whysz, "the shim has no wrapper for %s (it has: %s)", name, interpose_names());
	return -1;
}

void interpose_resolve_all(void)
{
	for (int i = 0; i < W_COUNT; i++)
		next_definition((enum wrapper_index)i);
}

void interpose_set_dlopen_observer(void (*fn)(void))
{
	__atomic_store_n(&dlopen_observer, fn, __ATOMIC_RELEASE);
}

/* ---- the wrappers ---- */

/* The wrapper's caller's rsp at its call: above our saved rbp and return address. */
#define CALLER_SP() ((uint64_t)(uintptr_t)__builtin_frame_address(0) + 16)
#define U64(x) ((uint64_t)(uintptr_t)(x))

/*
 * One wrapper: forward at once unless armed; armed, time the call. The
 * timed path keeps errno as the next definition left it (the engine
 * saves it around its own work).
 */
#define WRAP(idx, ret, name, params, args, r1, r2, r3, r4, r5, r6, before, after)                  \
	STDBTEL_EXPORT ret name params                                                              \
	{                                                                                           \
		ret (*next) params = (ret (*) params)next_definition(idx);                           \
		if (__builtin_expect(next == NULL, 0)) {                                             \
			errno = ENOSYS;                                                              \
			return (ret)-1;                                                              \
		}                                                                                    \
		bool observe = __atomic_load_n(&http_server_armed, __ATOMIC_RELAXED);                 \
		if (observe) {                                                                       \
			before;                                                                      \
		}                                                                                    \
		uint64_t target = __atomic_load_n(&wrappers[idx].target, __ATOMIC_RELAXED);           \
		ret r;                                                                               \
		if (__builtin_expect(target == NOT_ARMED, 1) || from_the_shim(__builtin_return_address(0))) { \
			r = next args;                                                               \
		} else {                                                                             \
			struct hook_regs regs = { .rdi = U64(r1), .rsi = U64(r2), .rdx = U64(r3),     \
				                  .rcx = U64(r4), .r8 = U64(r5), .r9 = U64(r6) };     \
			struct hook_call *call = hook_engine_call_begin(target, CALLER_SP(), &regs); \
			r = next args;                                                               \
			if (call != NULL)                                                            \
				hook_engine_call_end(call, (uint64_t)(int64_t)r);                    \
		}                                                                                    \
		if (observe && r >= 0) {                                                             \
			after;                                                                       \
		}                                                                                    \
		return r;                                                                            \
	}

/* What the socket layer (http_server.h) sees of each call; nothing when [http] is off. */
#define NOTHING ((void)0)
#define READ_OBSERVED(fd, buf) http_server_read(fd, buf, (size_t)r)
#define WROTE_OBSERVED(fd, buf) http_server_wrote(fd, buf, (size_t)r)

WRAP(W_accept, int, accept, (int fd, struct sockaddr *addr, socklen_t *len), (fd, addr, len),
     fd, addr, len, 0, 0, 0, NOTHING, http_server_accepted(fd, r))
WRAP(W_accept4, int, accept4, (int fd, struct sockaddr *addr, socklen_t *len, int flags),
     (fd, addr, len, flags), fd, addr, len, flags, 0, 0, NOTHING, http_server_accepted(fd, r))
WRAP(W_read, ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n), fd, buf, n, 0, 0, 0,
     NOTHING, READ_OBSERVED(fd, buf))
WRAP(W_recv, ssize_t, recv, (int fd, void *buf, size_t n, int flags), (fd, buf, n, flags),
     fd, buf, n, flags, 0, 0, NOTHING, if (!(flags & MSG_PEEK)) READ_OBSERVED(fd, buf))
WRAP(W_recvfrom, ssize_t, recvfrom,
     (int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len),
     (fd, buf, n, flags, addr, len), fd, buf, n, flags, addr, len,
     NOTHING, if (!(flags & MSG_PEEK)) READ_OBSERVED(fd, buf))
WRAP(W_recvmsg, ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags), (fd, msg, flags),
     fd, msg, flags, 0, 0, 0,
     NOTHING, if (!(flags & MSG_PEEK) && msg != NULL) http_server_read_iov(fd, msg->msg_iov, msg->msg_iovlen, (size_t)r))
WRAP(W_write, ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n), fd, buf, n, 0, 0, 0,
     NOTHING, WROTE_OBSERVED(fd, buf))
WRAP(W_send, ssize_t, send, (int fd, const void *buf, size_t n, int flags), (fd, buf, n, flags),
     fd, buf, n, flags, 0, 0, NOTHING, WROTE_OBSERVED(fd, buf))
WRAP(W_sendto, ssize_t, sendto,
     (int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr, socklen_t len),
     (fd, buf, n, flags, addr, len), fd, buf, n, flags, addr, len, NOTHING, WROTE_OBSERVED(fd, buf))
WRAP(W_sendmsg, ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags), (fd, msg, flags),
     fd, msg, flags, 0, 0, 0,
     NOTHING, if (msg != NULL) http_server_wrote_iov(fd, msg->msg_iov, msg->msg_iovlen, (size_t)r))
WRAP(W_writev, ssize_t, writev, (int fd, const struct iovec *iov, int n), (fd, iov, n), fd, iov, n, 0, 0, 0,
     NOTHING, if (n > 0) http_server_wrote_iov(fd, iov, (size_t)n, (size_t)r))
/* Before the close: afterwards the number may already be another thread's new connection. */
WRAP(W_close, int, close, (int fd), (fd), fd, 0, 0, 0, 0, 0, http_server_closing(fd), NOTHING)

/* ---- dlopen: open as the caller would have, then hook what it mapped ---- */

struct dynamic_strings {
	const char *soname, *rpath, *runpath;
};

/* Reads DT_SONAME / DT_RPATH / DT_RUNPATH of a loaded object's dynamic section. */
static void read_dynamic_strings(const ElfW(Dyn) *dyn, uintptr_t base, struct dynamic_strings *out)
{
	*out = (struct dynamic_strings){ 0 };
	if (dyn == NULL)
		return;
	uintptr_t strtab = 0;
	ElfW(Xword) soname = 0, rpath = 0, runpath = 0;
	bool has_soname = false, has_rpath = false, has_runpath = false;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_STRTAB: strtab = dyn->d_un.d_ptr; break;
		case DT_SONAME: soname = dyn->d_un.d_val, has_soname = true; break;
		case DT_RPATH: rpath = dyn->d_un.d_val, has_rpath = true; break;
		case DT_RUNPATH: runpath = dyn->d_un.d_val, has_runpath = true; break;
		default: break;
		}
	}
	if (strtab == 0)
		return;
	/* ld.so relocates DT_STRTAB in place on x86-64; an unrelocated one is below the base. */
	if (strtab < base)
		strtab += base;
	const char *s = (const char *)strtab;
	out->soname = has_soname ? s + soname : NULL;
	out->rpath = has_rpath ? s + rpath : NULL;
	out->runpath = has_runpath ? s + runpath : NULL;
}

struct name_lookup {
	const char *name;
	bool found;
};

static int find_loaded_name(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct name_lookup *l = data;
	const char *path = info->dlpi_name != NULL ? info->dlpi_name : "";
	const char *slash = strrchr(path, '/');
	if (strcmp(slash != NULL ? slash + 1 : path, l->name) == 0) {
		l->found = true;
		return 1;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
			continue;
		struct dynamic_strings ds;
		read_dynamic_strings((const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr),
		                     info->dlpi_addr, &ds);
		if (ds.soname != NULL && strcmp(ds.soname, l->name) == 0) {
			l->found = true;
			return 1;
		}
	}
	return 0;
}

/* An ELF file of the caller's class and machine: what the loader would accept. */
static bool elf_usable(const char *path, void *ctx)
{
	const ElfW(Ehdr) *want = ctx;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ElfW(Ehdr) eh;
	ssize_t n = pread(fd, &eh, sizeof eh, 0);
	/* the shim's own close: not through the wrapper's timing (it would be from_the_shim anyway) */
	close(fd);
	return n == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
	       eh.e_ident[EI_CLASS] == want->e_ident[EI_CLASS] && eh.e_machine == want->e_machine;
}

/*
 * The full path dlopen(file) from caller would open, when the caller's own
 * DT_RPATH/DT_RUNPATH decides it (dlopen_search.h says why); false to pass
 * file through unchanged.
 */
static bool path_as_caller(const char *file, const void *caller, char *out, size_t outsz)
{
	if (file == NULL || strchr(file, '/') != NULL)
		return false;
	Dl_info info;
	struct link_map *lm = NULL;
	if (dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 || lm == NULL || info.dli_fbase == NULL)
		return false;
	struct dynamic_strings ds;
	read_dynamic_strings(lm->l_ld, lm->l_addr, &ds);
	if (ds.rpath == NULL && ds.runpath == NULL)
		return false; /* the common case: the loader's search is the same from us */
	struct name_lookup l = { .name = file };
	dl_iterate_phdr(find_loaded_name, &l);
	if (l.found)
		return false; /* the loader returns the loaded one, whoever asks */
	char origin[PATH_MAX];
	const char *obj = lm->l_name != NULL && lm->l_name[0] != '\0' ? lm->l_name : NULL;
	ssize_t len;
	if (obj != NULL) {
		len = (ssize_t)strlen(obj);
		if ((size_t)len >= sizeof origin)
			return false;
		memcpy(origin, obj, (size_t)len + 1);
	} else if ((len = readlink("/proc/self/exe", origin, sizeof origin - 1)) > 0) {
		origin[len] = '\0';
	} else {
		return false;
	}
	char *slash = strrchr(origin, '/');
	if (slash == NULL)
		return false;
	*slash = '\0';
	struct dlopen_caller c = {
		.origin = origin[0] != '\0' ? origin : "/",
		.rpath = ds.rpath,
		.runpath = ds.runpath,
		.ld_library_path = getauxval(AT_SECURE) ? NULL : getenv("LD_LIBRARY_PATH"),
	};
	return dlopen_search(file, &c, elf_usable, info.dli_fbase, out, outsz);
}

STDBTEL_EXPORT void *dlopen(const char *file, int mode)
{
	void *(*next)(const char *, int) = (void *(*)(const char *, int))next_definition(W_dlopen);
	if (__builtin_expect(next == NULL, 0))
		return NULL;
	const void *caller = __builtin_return_address(0);
	char path[PATH_MAX];
	const char *name = from_the_shim(caller) || !path_as_caller(file, caller, path, sizeof path) ? file : path;
	uint64_t target = __atomic_load_n(&wrappers[W_dlopen].target, __ATOMIC_RELAXED);
	struct hook_call *call = NULL;
	if (target != NOT_ARMED && !from_the_shim(caller)) {
		struct hook_regs regs = { .rdi = U64(file), .rsi = U64(mode) };
		call = hook_engine_call_begin(target, CALLER_SP(), &regs);
	}
	void *handle = next(name, mode);
	if (call != NULL)
		hook_engine_call_end(call, U64(handle));
	void (*observer)(void) = __atomic_load_n(&dlopen_observer, __ATOMIC_ACQUIRE);
	if (handle != NULL && observer != NULL) {
		int saved_errno = errno;
		observer();
		errno = saved_errno;
	}
	return handle;
}
