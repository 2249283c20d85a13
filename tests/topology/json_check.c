// SPDX-License-Identifier: MIT
/*
 * A recursive-descent JSON recogniser (RFC 8259 grammar, no semantics):
 * enough to tell that pinion-topo's output would load in any JSON parser.
 * It builds nothing; each function advances *p past one production or
 * returns false.
 */
#include "json_check.h"

#include <string.h>

static bool value(const char **p, int depth);

static void ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static bool lit(const char **p, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(*p, word, n) != 0)
		return false;
	*p += n;
	return true;
}

static bool digits(const char **p)
{
	const char *s = *p;

	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > s;
}

static bool number(const char **p)
{
	if (**p == '-')
		(*p)++;
	if (**p == '0')
		(*p)++;
	else if (!digits(p))
		return false;
	if (**p == '.') {
		(*p)++;
		if (!digits(p))
			return false;
	}
	if (**p == 'e' || **p == 'E') {
		(*p)++;
		if (**p == '+' || **p == '-')
			(*p)++;
		if (!digits(p))
			return false;
	}
	return true;
}

static bool string(const char **p)
{
	if (*(*p)++ != '"')
		return false;
	for (;;) {
		unsigned char c = (unsigned char)*(*p)++;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false; /* also the terminating NUL */
		if (c != '\\')
			continue;
		c = (unsigned char)*(*p)++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, (*p)++)
				if (!**p ||
				    !strchr("0123456789abcdefABCDEF", **p))
					return false;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return false;
		}
	}
}

/* Elements of an array (@close ']') or members of an object ('}'). */
static bool items(const char **p, char close, int depth)
{
	ws(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		ws(p);
		if (close == '}') {
			if (!string(p))
				return false;
			ws(p);
			if (*(*p)++ != ':')
				return false;
		}
		if (!value(p, depth + 1))
			return false;
		ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (*(*p)++ != ',')
			return false;
	}
}

static bool value(const char **p, int depth)
{
	if (depth > 64)
		return false;
	ws(p);
	switch (**p) {
	case '{':
		(*p)++;
		return items(p, '}', depth);
	case '[':
		(*p)++;
		return items(p, ']', depth);
	case '"':
		return string(p);
	case 't':
		return lit(p, "true");
	case 'f':
		return lit(p, "false");
	case 'n':
		return lit(p, "null");
	default:
		return number(p);
	}
}

bool json_valid(const char *s)
{
	if (!value(&s, 0))
		return false;
	ws(&s);
	return *s == '\0';
}
