/* SPDX-License-Identifier: MIT */
/* interpose_list.c: the interposed functions' names (contract in interpose_list.h). */
#include "interpose_list.h"

#include <stddef.h>
#include <string.h>

#define AS_STRING(name) #name,
static const char *const names[] = { INTERPOSED_FUNCTIONS(AS_STRING) };

#define AS_LISTED(name) #name ", "
static const char listed[] = INTERPOSED_FUNCTIONS(AS_LISTED);

bool interpose_has(const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

const char *interpose_names(void)
{
	static char text[sizeof listed];
	if (text[0] == '\0') {
		memcpy(text, listed, sizeof listed);
		text[sizeof listed - 3] = '\0'; /* drop the last ", " */
	}
	return text;
}
