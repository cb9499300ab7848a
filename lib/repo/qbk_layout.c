#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/qbk_idset.h"
#include "repo/qbk_layout.h"

static const struct {
	enum qbk_layout_class cls;
	const char *prefix;
	const char *suffix;
} layout[] = {
	{ QBK_LAYOUT_CONFIG, "config", "" },
	{ QBK_LAYOUT_KEY_SLOT, "keys/", "" },
	{ QBK_LAYOUT_CHUNK, "data/", "" },
	{ QBK_LAYOUT_MANIFEST_COPY, "backups/", ".copy" },
	{ QBK_LAYOUT_MANIFEST, "backups/", "" },
	{ QBK_LAYOUT_DRILL_COPY, "drills/", ".copy" },
	{ QBK_LAYOUT_DRILL, "drills/", "" },
	{ QBK_LAYOUT_LOCK, "locks/", "" },
	{ QBK_LAYOUT_HOLD, "holds/", "" },
	{ QBK_LAYOUT_FAILURE, "failures/", "" },
};
#define NLAYOUT	(sizeof(layout) / sizeof(layout[0]))

static size_t
find(enum qbk_layout_class cls)
{
	size_t i;

	for (i = 0; i < NLAYOUT - 1; i++)
		if (layout[i].cls == cls)
			break;
	return i;
}

const char *
qbk_layout_prefix(enum qbk_layout_class cls)
{
	return layout[find(cls)].prefix;
}

int
qbk_layout_key(enum qbk_layout_class cls, const char *id, char *key)
{
	size_t i = find(cls);
	int n;

	if (cls == QBK_LAYOUT_CONFIG)
		n = snprintf(key, QBK_LAYOUT_KEY_MAX, "%s", layout[i].prefix);
	else if (cls == QBK_LAYOUT_CHUNK)
		n = strlen(id) != 2 * QBK_ID_LEN ? -1 : snprintf(key,
		    QBK_LAYOUT_KEY_MAX, "%s%.2s/%s", layout[i].prefix, id, id);
	else
		n = snprintf(key, QBK_LAYOUT_KEY_MAX, "%s%s%s",
		    layout[i].prefix, id, layout[i].suffix);
	if (n < 0 || n >= QBK_LAYOUT_KEY_MAX) {
		key[0] = '\0';
		return -1;
	}
	return 0;
}

int
qbk_layout_chunk_id(const char *key, uint8_t *id)
{
	/* "data/ab/<64 hex>"; anything else is not a chunk. */
	if (strlen(key) != 8 + 2 * QBK_ID_LEN || strncmp(key, "data/", 5) != 0
	    || key[7] != '/' || qbk_id_from_hex(key + 8, id) != 0 ||
	    memcmp(key + 5, key + 8, 2) != 0)
		return -1;
	return 0;
}

int
qbk_layout_parse(const char *key, enum qbk_layout_class *cls, char *id)
{
	uint8_t bin[QBK_ID_LEN];
	size_t i, plen, slen, len = strlen(key);

	id[0] = '\0';
	for (i = 0; i < NLAYOUT; i++) {
		plen = strlen(layout[i].prefix);
		slen = strlen(layout[i].suffix);
		if (strncmp(key, layout[i].prefix, plen) != 0 ||
		    len < plen + slen ||
		    strcmp(key + len - slen, layout[i].suffix) != 0)
			continue;
		*cls = layout[i].cls;
		if (layout[i].cls == QBK_LAYOUT_CONFIG)
			return len == plen ? 0 : -1;
		if (layout[i].cls == QBK_LAYOUT_CHUNK) {
			if (qbk_layout_chunk_id(key, bin) != 0)
				return -1;
			snprintf(id, QBK_LAYOUT_KEY_MAX, "%s", key + 8);
			return 0;
		}
		if (len - plen - slen == 0 || len - plen - slen >=
		    QBK_LAYOUT_KEY_MAX ||
		    memchr(key + plen, '/', len - plen - slen) != NULL)
			return -1;
		memcpy(id, key + plen, len - plen - slen);
		id[len - plen - slen] = '\0';
		return 0;
	}
	return -1;
}
