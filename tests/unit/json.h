/* SPDX-License-Identifier: MIT */
/*
 * A small JSON reader for the known-answer vector files in tests/vectors/.
 * It builds a tree of nodes; siblings are linked, so arrays and objects are
 * walked with json_first/json_next or indexed with json_at. Strings are
 * decoded (escapes, \uXXXX to UTF-8) and NUL-terminated.
 */
#ifndef CWG_TEST_JSON_H
#define CWG_TEST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type type;
	char *key;		/* member name inside an object, else NULL */
	char *str;		/* JSON_STRING: decoded, NUL-terminated */
	size_t str_len;		/* JSON_STRING: bytes before the NUL */
	double num;		/* JSON_NUMBER */
	bool boolean;		/* JSON_BOOL */
	size_t count;		/* JSON_ARRAY / JSON_OBJECT: children */
	struct json *child;	/* first child */
	struct json *next;	/* next sibling */
};

/* Parse len bytes of text. NULL on error, with a message in err. */
struct json *json_parse(const char *text, size_t len, char *err,
			size_t errlen);
/* Read and parse a file; on error print why to stderr and return NULL. */
struct json *json_load_file(const char *path);
/*
 * Load a vector file by name from $CWG_VECTORS_DIR if set, else from
 * tests/vectors (tests run from the repository root).
 */
struct json *json_load_vector(const char *name);
void json_free(struct json *v);

/* Object member by name, or NULL (also when obj is not an object). */
const struct json *json_get(const struct json *obj, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *json_get_str(const struct json *obj, const char *key);
/* Array element i, or NULL. */
const struct json *json_at(const struct json *arr, size_t i);
/* Is the string s in the array arr (e.g. a Wycheproof "flags" list)? */
bool json_array_has_str(const struct json *arr, const char *s);

#endif
