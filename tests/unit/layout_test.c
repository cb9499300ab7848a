#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/qbk_idset.h"
#include "repo/qbk_layout.h"

#define HEX	"ab" "0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcd"

/* Every class: the key it makes, and parsed back to the same class and
 * id. */
static void
keys_round_trip(void **state)
{
	static const struct {
		enum qbk_layout_class cls;
		const char *id, *key;
	} t[] = {
		{ QBK_LAYOUT_CONFIG, NULL, "config" },
		{ QBK_LAYOUT_KEY_SLOT, "0011223344556677",
		    "keys/0011223344556677" },
		{ QBK_LAYOUT_CHUNK, HEX, "data/ab/" HEX },
		{ QBK_LAYOUT_MANIFEST, "20240101T000000Z-abcd",
		    "backups/20240101T000000Z-abcd" },
		{ QBK_LAYOUT_MANIFEST_COPY, "20240101T000000Z-abcd",
		    "backups/20240101T000000Z-abcd.copy" },
		{ QBK_LAYOUT_DRILL, "x", "drills/x" },
		{ QBK_LAYOUT_DRILL_COPY, "x", "drills/x.copy" },
		{ QBK_LAYOUT_LOCK, "l", "locks/l" },
		{ QBK_LAYOUT_HOLD, "h", "holds/h" },
		{ QBK_LAYOUT_FAILURE, "f", "failures/f" },
	};
	char key[QBK_LAYOUT_KEY_MAX], id[QBK_LAYOUT_KEY_MAX];
	enum qbk_layout_class cls;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(qbk_layout_key(t[i].cls, t[i].id, key), 0);
		assert_string_equal(key, t[i].key);
		assert_int_equal(qbk_layout_parse(key, &cls, id), 0);
		assert_int_equal(cls, t[i].cls);
		assert_string_equal(id, t[i].id != NULL ? t[i].id : "");
	}
}

/* What is no object of the repository, and chunk keys. */
static void
foreign_keys(void **state)
{
	char id[QBK_LAYOUT_KEY_MAX];
	enum qbk_layout_class cls;
	uint8_t bin[QBK_ID_LEN];

	(void)state;
	assert_int_equal(qbk_layout_parse("config.tmp", &cls, id), -1);
	assert_int_equal(qbk_layout_parse("backups/", &cls, id), -1);
	assert_int_equal(qbk_layout_parse("keys/a/b", &cls, id), -1);
	assert_int_equal(qbk_layout_parse("other/x", &cls, id), -1);
	assert_int_equal(qbk_layout_parse("data/cd/" HEX, &cls, id), -1);
	assert_int_equal(qbk_layout_parse("data/ab/" HEX "x", &cls, id), -1);
	assert_int_equal(qbk_layout_chunk_id("data/ab/" HEX, bin), 0);
	assert_int_equal(bin[0], 0xab);
	assert_int_equal(qbk_layout_chunk_id("data/ab/x", bin), -1);
	assert_int_equal(qbk_layout_key(QBK_LAYOUT_CHUNK, "ab", id), -1);
	assert_string_equal(id, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_round_trip),
		cmocka_unit_test(foreign_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
