/* SPDX-License-Identifier: MIT */
/*
 * interpose.h: the functions libstdbtel.so defines in place of the host's
 * libraries: the PLT way in, beside the inline patches of hook_engine.h.
 *
 * A preloaded object comes first in the process's symbol search order, so
 * a call that goes through a PLT or GOT to one of these names (from the
 * program or any library) lands in the shim's wrapper, which forwards to
 * the next definition, dlsym(RTLD_NEXT, name): normally libc's. Calls a
 * library makes to its own functions internally are not seen; that is the
 * nature of interposition, and why local functions are patched instead.
 *
 * The wrappers: dlopen (libraries it maps are hooked before it returns;
 * see interpose_set_dlopen_observer) and the socket layer: accept,
 * accept4, read, recv, recvfrom, recvmsg, write, send, sendto, sendmsg,
 * writev, close. A wrapper costs one load and a branch until a hook arms
 * it; armed, each call is timed as that hook's target through
 * hook_engine_call_begin/end (so it nests with patched calls). Calls the
 * shim itself makes (its log, its exporter) are never timed.
 *
 * Owns: one entry per wrapper (the next definition, looked up on first
 * use; the target id it is armed with) and the dlopen observer.
 *
 * Threading: interpose_arm and interpose_set_dlopen_observer run in the
 * constructor or under the caller's dlopen lock; wrappers run on any
 * thread, in signal handlers too (read, write, close, ... are
 * async-signal-safe and so are their wrappers once the next definition is
 * known: the first call of each does one dlsym).
 */
#ifndef STDBTEL_INTERPOSE_H
#define STDBTEL_INTERPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "interpose_list.h" /* interpose_has, interpose_names */

/*
 * Makes the wrapper for name time its calls as target_id (the id the hot
 * path knows the target by). Returns 0, or -1 when the shim has no such
 * wrapper or it is armed already (then the message says which).
 */
int interpose_arm(const char *name, uint64_t target_id, char *why, size_t whysz);

/*
 * Looks up every wrapper's next definition now. For the constructor: a
 * wrapper's first call otherwise does it (dlsym), which is not
 * async-signal-safe, and the first call of write() or close() could come
 * from a signal handler.
 */
void interpose_resolve_all(void);

/*
 * fn runs after every dlopen that returned a handle, on the thread that
 * called dlopen, before dlopen returns to it. It must serialise itself.
 */
void interpose_set_dlopen_observer(void (*fn)(void));

#endif
