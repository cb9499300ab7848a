/* Unit tests of lib/common/qbk_hex.c and lib/common/qbk_sha256.c against
 * published test vectors (FIPS 180-2, RFC 4231, RFC 1321). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/qbk_hex.h"
#include "common/qbk_sha256.h"

static void
hex_round_trip(void **state)
{
	const uint8_t bin[4] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t back[4];
	char hex[9];

	(void)state;
	qbk_hex(bin, sizeof(bin), hex);
	assert_string_equal(hex, "009fa0ff");
	assert_int_equal(qbk_unhex("009FA0ff", back, sizeof(back)), 0);
	assert_memory_equal(back, bin, sizeof(bin));
	assert_int_equal(qbk_unhex("009fa0f", back, sizeof(back)), -1);
	assert_int_equal(qbk_unhex("009fa0fg", back, sizeof(back)), -1);
	assert_int_equal(qbk_unhex("009fa0ff0", back, sizeof(back)), -1);
	assert_true(qbk_hex_is_lower("09af", 4));
	assert_false(qbk_hex_is_lower("09AF", 4));
	assert_false(qbk_hex_is_lower("09a", 4));
}

static void
digests(void **state)
{
	uint8_t md[QBK_SHA256_LEN];
	char hex[2 * QBK_SHA256_LEN + 1];
	struct qbk_sha256 *h;

	(void)state;
	qbk_sha256("abc", 3, md);
	qbk_hex(md, sizeof(md), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");

	/* In pieces, then again after a reset: the same digest. */
	h = qbk_sha256_new();
	qbk_sha256_update(h, "junk", 4);
	qbk_sha256_reset(h);
	qbk_sha256_update(h, "a", 1);
	qbk_sha256_update(h, "", 0);
	qbk_sha256_update(h, "bc", 2);
	qbk_sha256_final(h, md);
	qbk_hex(md, sizeof(md), hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	/* final() starts over: the empty message next. */
	qbk_sha256_final(h, md);
	qbk_hex(md, sizeof(md), hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	qbk_sha256_free(h);

	/* RFC 4231 test cases 2 (short key) and 6 (key longer than a
	 * block). */
	qbk_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, md);
	qbk_hex(md, sizeof(md), hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	{
		uint8_t key[131];
		const char *msg = "Test Using Larger Than Block-Size Key - "
		    "Hash Key First";

		memset(key, 0xaa, sizeof(key));
		qbk_hmac_sha256(key, sizeof(key), msg, strlen(msg), md);
		qbk_hex(md, sizeof(md), hex);
		assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f"
		    "8e0bc6213728c5140546040f0ee37f54");
	}

	qbk_md5("abc", 3, md);
	qbk_hex(md, 16, hex);
	assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hex_round_trip),
		cmocka_unit_test(digests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
