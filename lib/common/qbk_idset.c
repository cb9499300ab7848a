#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk_buf.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"

/*
 * Slots hold the ids themselves; a separate byte per slot says whether it
 * is empty (0), used (1) or a tombstone (2) left by a removal.
 */
struct qbk_idset {
	uint8_t *ids;		/* cap * QBK_ID_LEN bytes */
	uint8_t *state;		/* cap bytes */
	size_t cap;		/* a power of two */
	size_t count;		/* used slots */
	size_t dead;		/* tombstones */
};

static size_t
slot_of(const uint8_t *id, size_t cap)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t)(h & (cap - 1));
}

static void
alloc_table(struct qbk_idset *s, size_t cap)
{
	s->ids = qbk_xmalloc(cap * QBK_ID_LEN);
	s->state = qbk_xcalloc(cap, 1);
	s->cap = cap;
	s->count = 0;
	s->dead = 0;
}

struct qbk_idset *
qbk_idset_new(size_t hint)
{
	struct qbk_idset *s = qbk_xcalloc(1, sizeof(*s));
	size_t cap = 1024;

	while (cap < hint * 2)
		cap *= 2;
	alloc_table(s, cap);
	return s;
}

void
qbk_idset_free(struct qbk_idset *s)
{
	if (s == NULL)
		return;
	free(s->ids);
	free(s->state);
	free(s);
}

static void
rehash(struct qbk_idset *s, size_t cap)
{
	uint8_t *ids = s->ids, *state = s->state;
	size_t old = s->cap, i;

	alloc_table(s, cap);
	for (i = 0; i < old; i++)
		if (state[i] == 1)
			qbk_idset_add(s, ids + i * QBK_ID_LEN);
	free(ids);
	free(state);
}

int
qbk_idset_add(struct qbk_idset *s, const uint8_t *id)
{
	size_t i, tomb = (size_t)-1;

	if ((s->count + s->dead + 1) * 4 > s->cap * 3)
		rehash(s, s->count * 4 > s->cap ? s->cap * 2 : s->cap);
	for (i = slot_of(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (s->state[i] == 0)
			break;
		if (s->state[i] == 2) {
			if (tomb == (size_t)-1)
				tomb = i;
		} else if (memcmp(s->ids + i * QBK_ID_LEN, id,
		    QBK_ID_LEN) == 0) {
			return 0;
		}
	}
	if (tomb != (size_t)-1) {
		i = tomb;
		s->dead--;
	}
	memcpy(s->ids + i * QBK_ID_LEN, id, QBK_ID_LEN);
	s->state[i] = 1;
	s->count++;
	return 1;
}

static size_t
find(const struct qbk_idset *s, const uint8_t *id)
{
	size_t i;

	for (i = slot_of(id, s->cap); s->state[i] != 0;
	    i = (i + 1) & (s->cap - 1))
		if (s->state[i] == 1 &&
		    memcmp(s->ids + i * QBK_ID_LEN, id, QBK_ID_LEN) == 0)
			return i;
	return (size_t)-1;
}

int
qbk_idset_has(const struct qbk_idset *s, const uint8_t *id)
{
	return find(s, id) != (size_t)-1;
}

int
qbk_idset_remove(struct qbk_idset *s, const uint8_t *id)
{
	size_t i = find(s, id);

	if (i == (size_t)-1)
		return 0;
	s->state[i] = 2;
	s->count--;
	s->dead++;
	return 1;
}

size_t
qbk_idset_count(const struct qbk_idset *s)
{
	return s->count;
}

int
qbk_idset_foreach(const struct qbk_idset *s,
    int (*fn)(void *, const uint8_t *), void *cookie)
{
	size_t i;
	int rc;

	for (i = 0; i < s->cap; i++)
		if (s->state[i] == 1 &&
		    (rc = fn(cookie, s->ids + i * QBK_ID_LEN)) != 0)
			return rc;
	return 0;
}

int
qbk_id_from_hex(const char *hex, uint8_t *id)
{
	return qbk_unhex(hex, id, QBK_ID_LEN);
}

void
qbk_id_to_hex(const uint8_t *id, char *hex)
{
	qbk_hex(id, QBK_ID_LEN, hex);
}
