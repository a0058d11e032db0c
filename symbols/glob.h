/* SPDX-License-Identifier: MIT */
/*
 * glob.h: shell-style wildcard matching for symbol names, object names and
 * process names, with one meaning everywhere in stdbtel:
 *   *      any run of characters, including none (and including "::" and "/")
 *   ?      any one character
 *   [abc]  one of the listed characters; ranges a-z; [!x] or [^x] negates
 *   \x     the character x itself
 * Bytes are compared as they are: no locale, no case folding, no allocation,
 * so it is safe and fast inside a host process (fnmatch(3) is neither).
 */
#ifndef STDBTEL_GLOB_H
#define STDBTEL_GLOB_H

#include <stdbool.h>

/* True when text matches pattern entirely. A [ without its ] matches itself;
 * a pattern ending in a lone backslash matches nothing (as in fnmatch). */
bool glob_match(const char *pattern, const char *text);

#endif
