/* SPDX-License-Identifier: MIT */
/*
 * interpose_list.h: the names of the libc functions libstdbtel.so defines
 * in place of the host's (shim/interpose.c), for the code that must know
 * them without defining them: the config checker (`stdbtel check`) and the
 * choice between interposing and patching. Pure; no state.
 */
#ifndef STDBTEL_INTERPOSE_LIST_H
#define STDBTEL_INTERPOSE_LIST_H

#include <stdbool.h>

/* X(name) for every interposed function, in one order everywhere. */
#define INTERPOSED_FUNCTIONS(X) \
	X(accept) X(accept4) X(read) X(recv) X(recvfrom) X(recvmsg) \
	X(write) X(send) X(sendto) X(sendmsg) X(writev) X(close) X(dlopen)

/* True when the shim defines a wrapper for the C function name. */
bool interpose_has(const char *name);

/* The wrapper names, comma-separated, for messages. */
const char *interpose_names(void);

#endif
