/*
 * json_check.h: a strict recursive JSON checker for the unit tests of the
 * JSON writers (audit file, wgcardctl show --json). It shares no code
 * with what it checks. json_ok(doc): doc is one JSON value, whitespace
 * around it allowed.
 */
#ifndef WGCARD_JSON_CHECK_H
#define WGCARD_JSON_CHECK_H

#include <string.h>

/* Each returns the end of what it read, or NULL. */
static const char	*jv(const char *);

static const char *
jws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *
jstr(const char *p)
{
	int	i;

	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if (*p == '\0' || (unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\')
			continue;
		p++;
		if (*p == 'u') {
			for (i = 1; i <= 4; i++)
				if (p[i] == '\0' ||
				    !strchr("0123456789abcdefABCDEF", p[i]))
					return NULL;
			p += 4;
		} else if (*p == '\0' || !strchr("\"\\/bfnrt", *p))
			return NULL;
	}
	return p + 1;
}

static const char *
jnum(const char *p)
{
	const char	*s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		for (s = ++p; *p >= '0' && *p <= '9'; p++)
			;
		if (p == s)
			return NULL;
	}
	return p;
}

static const char *
jv(const char *p)
{
	p = jws(p);
	if (*p == '{' || *p == '[') {
		char	close = *p == '{' ? '}' : ']';
		int	obj = *p == '{';

		p = jws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				if ((p = jstr(jws(p))) == NULL)
					return NULL;
				p = jws(p);
				if (*p++ != ':')
					return NULL;
			}
			if ((p = jv(p)) == NULL)
				return NULL;
			p = jws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return jstr(p);
	if (strncmp(p, "true", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	return jnum(p);
}

static int
json_ok(const char *doc)
{
	const char	*e = jv(doc);

	return e != NULL && *jws(e) == '\0';
}

#endif /* WGCARD_JSON_CHECK_H */
