#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/qbk_idset.h"

static void
make_id(uint8_t *id, uint32_t n)
{
	uint32_t x = n * 2654435761u + 1;
	size_t i;

	for (i = 0; i < QBK_ID_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		id[i] = (uint8_t)x;
	}
}

static int
count_cb(void *cookie, const uint8_t *id)
{
	(void)id;
	(*(size_t *)cookie)++;
	return 0;
}

static void
add_has_remove_many(void **state)
{
	struct qbk_idset *s = qbk_idset_new(10);
	uint8_t id[QBK_ID_LEN];
	size_t seen = 0;
	uint32_t i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		make_id(id, i);
		assert_int_equal(qbk_idset_add(s, id), 1);
	}
	make_id(id, 5);
	assert_int_equal(qbk_idset_add(s, id), 0);
	assert_int_equal(qbk_idset_count(s), 100000);
	for (i = 0; i < 100000; i += 2) {
		make_id(id, i);
		assert_int_equal(qbk_idset_remove(s, id), 1);
	}
	for (i = 0; i < 100000; i++) {
		make_id(id, i);
		assert_int_equal(qbk_idset_has(s, id), i % 2 == 1);
	}
	make_id(id, 200000);
	assert_false(qbk_idset_has(s, id));
	assert_int_equal(qbk_idset_remove(s, id), 0);
	assert_int_equal(qbk_idset_foreach(s, count_cb, &seen), 0);
	assert_int_equal(seen, 50000);
	/* Re-adding over tombstones keeps the set consistent. */
	for (i = 0; i < 100000; i += 2) {
		make_id(id, i);
		assert_int_equal(qbk_idset_add(s, id), 1);
	}
	assert_int_equal(qbk_idset_count(s), 100000);
	qbk_idset_free(s);
	qbk_idset_free(NULL);
}

static void
hex_round_trip(void **state)
{
	uint8_t id[QBK_ID_LEN], back[QBK_ID_LEN];
	char hex[2 * QBK_ID_LEN + 1];

	(void)state;
	make_id(id, 42);
	qbk_id_to_hex(id, hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(qbk_id_from_hex(hex, back), 0);
	assert_memory_equal(id, back, QBK_ID_LEN);
	hex[10] = 'g';
	assert_int_equal(qbk_id_from_hex(hex, back), -1);
	assert_int_equal(qbk_id_from_hex("abcd", back), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_has_remove_many),
		cmocka_unit_test(hex_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
