#ifndef QBK_HEX_H
#define QBK_HEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Lowercase hexadecimal, the one spelling of ids, digests and keys in qbk.
 */

/** qbk_hex(bin, len, hex): write 2 * ${len} lowercase hex digits and a NUL
 * into ${hex}. */
void qbk_hex(const uint8_t *, size_t, char *);

/** qbk_unhex(hex, bin, len): parse exactly 2 * ${len} hex digits (the whole
 * string, either case) into ${bin}.  Returns 0 or -1. */
int qbk_unhex(const char *, uint8_t *, size_t);

/** qbk_hex_is_lower(s, n): nonzero if the ${n} bytes at ${s} are all
 * lowercase hex digits. */
int qbk_hex_is_lower(const char *, size_t);

#endif /* !QBK_HEX_H */
