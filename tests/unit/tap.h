/* SPDX-License-Identifier: MIT */
/* A minimal TAP producer for the unit tests, read by prove. */
#ifndef CWG_TAP_H
#define CWG_TAP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern int tap_count;
extern int tap_failed;

/* ok(cond, "name %d", ...): one test point. Returns cond. */
int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* Print a diagnostic line ("# ..."). */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the plan ("1..N") and return the exit status for main. */
int done_testing(void);

/* Hex helpers: decode returns the byte count, or -1 on bad input. */
long hex_decode(uint8_t *out, size_t cap, const char *hex);
void hex_encode(char *out, const uint8_t *in, size_t len);

#endif
