#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/qbk_hex.h"

static const char digits[] = "0123456789abcdef";

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
qbk_hex(const uint8_t *bin, size_t len, char *hex)
{
	size_t i;

	for (i = 0; i < len; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 0x0f];
	}
	hex[2 * len] = '\0';
}

int
qbk_unhex(const char *hex, uint8_t *bin, size_t len)
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		if ((hi = nibble(hex[2 * i])) < 0 ||
		    (lo = nibble(hex[2 * i + 1])) < 0)
			return -1;
		bin[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
qbk_hex_is_lower(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(digits, s[i]) == NULL)
			return 0;
	return 1;
}
