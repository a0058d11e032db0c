/* SPDX-License-Identifier: MIT */
/*
 * capture_value.h: reading a raw 64-bit register value as the config's
 * capture type says. One definition for the hot path (error rules) and the
 * exporters (captured attributes), so both agree on widths and signs.
 * Inline and free of vector code: safe in general-regs-only handlers.
 */
#ifndef STDBTEL_CAPTURE_VALUE_H
#define STDBTEL_CAPTURE_VALUE_H

#include <stdint.h>

#include "config.h"

/* Sign- or zero-extends the low bits of raw; bool is 0/1; 64-bit and pointer types are raw. */
static inline int64_t capture_as_int64(enum capture_type type, uint64_t raw)
{
	switch (type) {
	case CAPTURE_I8: return (int8_t)raw;
	case CAPTURE_I16: return (int16_t)raw;
	case CAPTURE_I32: return (int32_t)raw;
	case CAPTURE_U8: return (uint8_t)raw;
	case CAPTURE_U16: return (uint16_t)raw;
	case CAPTURE_U32: return (uint32_t)raw;
	case CAPTURE_BOOL: return (uint8_t)raw != 0;
	default: return (int64_t)raw; /* I64, U64, pointer */
	}
}

#endif
