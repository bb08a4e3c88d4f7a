// SPDX-License-Identifier: MIT
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any vector file; stops runaway recursion on bad input. */
#define JSON_MAX_DEPTH 64

struct json_parser {
	const char *start, *p, *end;
	char *err;
	size_t errlen;
	bool failed;
};

static void json_fail(struct json_parser *ps, const char *what)
{
	if (!ps->failed && ps->errlen)
		snprintf(ps->err, ps->errlen, "%s at byte %td", what,
			 ps->p - ps->start);
	ps->failed = true;
}

static void skip_ws(struct json_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool consume_word(struct json_parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
		return false;
	ps->p += n;
	return true;
}

static int hex4(struct json_parser *ps, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	if (ps->end - ps->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Parses a string starting at its opening quote; returns a malloc'd copy. */
static char *parse_string(struct json_parser *ps, size_t *lenp)
{
	const char *start;
	char *out, *o;

	ps->p++; /* opening quote */
	start = ps->p;
	/* Decoding never grows the text, so the raw span bounds the copy. */
	while (ps->p < ps->end && *ps->p != '"') {
		if (*ps->p == '\\')
			ps->p++;
		ps->p++;
	}
	if (ps->p >= ps->end) {
		json_fail(ps, "unterminated string");
		return NULL;
	}
	out = malloc((size_t)(ps->p - start) + 1);
	if (!out) {
		json_fail(ps, "out of memory");
		return NULL;
	}
	ps->p = start;
	o = out;
	while (*ps->p != '"') {
		unsigned int cp, lo;
		char c = *ps->p++;

		if ((unsigned char)c < 0x20)
			goto bad;
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		c = *ps->p++;
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (hex4(ps, &cp))
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (!consume_word(ps, "\\u") || hex4(ps, &lo) ||
				    lo < 0xdc00 || lo >= 0xe000)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto bad;
			}
			o += put_utf8(o, cp);
			break;
		default:
			goto bad;
		}
	}
	ps->p++; /* closing quote */
	*o = '\0';
	*lenp = (size_t)(o - out);
	return out;
bad:
	free(out);
	json_fail(ps, "bad string escape");
	return NULL;
}

static struct json *parse_value(struct json_parser *ps, int depth);

static struct json *new_node(struct json_parser *ps, enum json_type type)
{
	struct json *v = calloc(1, sizeof(*v));

	if (!v)
		json_fail(ps, "out of memory");
	else
		v->type = type;
	return v;
}

static struct json *parse_container(struct json_parser *ps, int depth,
				    bool is_object)
{
	struct json *v = new_node(ps, is_object ? JSON_OBJECT : JSON_ARRAY);
	struct json **tail;
	char close = is_object ? '}' : ']';

	if (!v)
		return NULL;
	tail = &v->child;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		size_t keylen;
		struct json *item;

		skip_ws(ps);
		if (is_object) {
			if (ps->p >= ps->end || *ps->p != '"') {
				json_fail(ps, "expected member name");
				break;
			}
			key = parse_string(ps, &keylen);
			if (!key)
				break;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				json_fail(ps, "expected ':'");
				break;
			}
			ps->p++;
		}
		item = parse_value(ps, depth + 1);
		if (!item) {
			free(key);
			break;
		}
		item->key = key;
		*tail = item;
		tail = &item->next;
		v->count++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return v;
		}
		json_fail(ps, is_object ? "expected ',' or '}'" :
					  "expected ',' or ']'");
		break;
	}
	json_free(v);
	return NULL;
}

static struct json *parse_number(struct json_parser *ps)
{
	char buf[64];
	size_t n = 0;
	struct json *v;
	char *endp;

	while (ps->p + n < ps->end && n < sizeof(buf) - 1 &&
	       strchr("+-0123456789.eE", ps->p[n]))
		n++;
	memcpy(buf, ps->p, n);
	buf[n] = '\0';
	v = new_node(ps, JSON_NUMBER);
	if (!v)
		return NULL;
	errno = 0;
	v->num = strtod(buf, &endp);
	if (n == 0 || endp != buf + n) {
		json_fail(ps, "bad number");
		free(v);
		return NULL;
	}
	ps->p += n;
	return v;
}

static struct json *parse_value(struct json_parser *ps, int depth)
{
	struct json *v;

	if (depth > JSON_MAX_DEPTH) {
		json_fail(ps, "nested too deeply");
		return NULL;
	}
	skip_ws(ps);
	if (ps->p >= ps->end) {
		json_fail(ps, "unexpected end");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
		return parse_container(ps, depth, true);
	case '[':
		return parse_container(ps, depth, false);
	case '"':
		v = new_node(ps, JSON_STRING);
		if (v && !(v->str = parse_string(ps, &v->str_len))) {
			free(v);
			v = NULL;
		}
		return v;
	case 't':
	case 'f':
	case 'n':
		if (consume_word(ps, "true") || consume_word(ps, "false")) {
			v = new_node(ps, JSON_BOOL);
			if (v)
				v->boolean = ps->p[-4] == 't';
			return v;
		}
		if (consume_word(ps, "null"))
			return new_node(ps, JSON_NULL);
		json_fail(ps, "bad literal");
		return NULL;
	default:
		return parse_number(ps);
	}
}

struct json *json_parse(const char *text, size_t len, char *err,
			size_t errlen)
{
	struct json_parser ps = {
		.start = text, .p = text, .end = text + len,
		.err = err, .errlen = errlen,
	};
	struct json *v;

	if (errlen)
		err[0] = '\0';
	v = parse_value(&ps, 0);
	if (!v)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		json_fail(&ps, "trailing data");
		json_free(v);
		return NULL;
	}
	return v;
}

struct json *json_load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, err[128];
	size_t len = 0, cap = 0;
	struct json *v = NULL;

	if (!f) {
		fprintf(stderr, "json: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t n;

		if (cap - len < 65536) {
			char *bigger = realloc(text, cap + 65536 * 4);

			if (!bigger)
				goto out;
			text = bigger;
			cap += 65536 * 4;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "json: %s: read error\n", path);
		goto out;
	}
	v = json_parse(text, len, err, sizeof(err));
	if (!v)
		fprintf(stderr, "json: %s: %s\n", path, err);
out:
	free(text);
	fclose(f);
	return v;
}

struct json *json_load_vector(const char *name)
{
	const char *dir = getenv("CWG_VECTORS_DIR");
	char path[4096];

	if (!dir || !*dir)
		dir = "tests/vectors";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return NULL;
	return json_load_file(path);
}

void json_free(struct json *v)
{
	while (v) {
		struct json *next = v->next;

		json_free(v->child);
		free(v->key);
		free(v->str);
		free(v);
		v = next;
	}
}

const struct json *json_get(const struct json *obj, const char *key)
{
	const struct json *c;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (c = obj->child; c; c = c->next)
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

const char *json_get_str(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->str : NULL;
}

const struct json *json_at(const struct json *arr, size_t i)
{
	const struct json *c;

	if (!arr || arr->type != JSON_ARRAY)
		return NULL;
	for (c = arr->child; c && i; c = c->next)
		i--;
	return c;
}

bool json_array_has_str(const struct json *arr, const char *s)
{
	const struct json *c;

	if (!arr || arr->type != JSON_ARRAY)
		return false;
	for (c = arr->child; c; c = c->next)
		if (c->type == JSON_STRING && !strcmp(c->str, s))
			return true;
	return false;
}
