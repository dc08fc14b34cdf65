/*
 * fuzz_audit.c: libFuzzer target for audit_format(), the parent's
 * conversion of a child's audit event text (untrusted) into one JSON
 * line. Whatever the text, the result must be exactly one line that
 * starts with the envelope and ends with "}\n", with no raw control
 * character and no unescaped quote breaking out of a string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	kv[AUDIT_KV_MAX], out[AUDIT_LINE_MAX];
	size_t	n, i;
	int	in_str = 0;

	if (size >= sizeof(kv))
		size = sizeof(kv) - 1;
	memcpy(kv, data, size);
	kv[size] = '\0';
	n = audit_format(out, sizeof(out), 1795579787000123LL, "wg0", "keyd",
	    42, kv);
	if (n == 0 || n != strlen(out))
		abort();
	if (strncmp(out, "{\"ts\":\"", 7) != 0 || n < 3 ||
	    strcmp(out + n - 2, "}\n") != 0)
		abort();
	/* Strings are closed, escapes complete, no raw control byte. */
	for (i = 0; i < n - 1; i++) {
		unsigned char	c = (unsigned char)out[i];

		if (c < 0x20)
			abort();
		if (in_str && c == '\\') {
			i++;
			continue;
		}
		if (c == '"')
			in_str = !in_str;
	}
	if (in_str)
		abort();
	return 0;
}
