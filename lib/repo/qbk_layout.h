#ifndef QBK_LAYOUT_H
#define QBK_LAYOUT_H

/*
 * qbk_layout: the key layout of a repository (qbk-repository(5)), in one
 * place.  Every object the repository stores is of one class; its key is
 * made from the class and an id here, and read back here.
 *
 *   config                  QBK_LAYOUT_CONFIG (no id)
 *   keys/<slot-id>          QBK_LAYOUT_KEY_SLOT
 *   data/<2 hex>/<64 hex>   QBK_LAYOUT_CHUNK (id: the 64 hex digits)
 *   backups/<id>            QBK_LAYOUT_MANIFEST
 *   backups/<id>.copy       QBK_LAYOUT_MANIFEST_COPY
 *   drills/<id>             QBK_LAYOUT_DRILL
 *   drills/<id>.copy        QBK_LAYOUT_DRILL_COPY
 *   locks/<lock-id>         QBK_LAYOUT_LOCK
 *   holds/<backup-id>       QBK_LAYOUT_HOLD
 *   failures/<id>           QBK_LAYOUT_FAILURE
 */
#include <stdint.h>

#define QBK_LAYOUT_KEY_MAX	128	/* bytes of a key, with its NUL */

enum qbk_layout_class {
	QBK_LAYOUT_CONFIG = 0,
	QBK_LAYOUT_KEY_SLOT,
	QBK_LAYOUT_CHUNK,
	QBK_LAYOUT_MANIFEST,
	QBK_LAYOUT_MANIFEST_COPY,
	QBK_LAYOUT_DRILL,
	QBK_LAYOUT_DRILL_COPY,
	QBK_LAYOUT_LOCK,
	QBK_LAYOUT_HOLD,
	QBK_LAYOUT_FAILURE
};

/** qbk_layout_prefix(class): the prefix under which the objects of
 * ${class} are listed ("data/", "backups/", ...; "config" for the
 * config, the same for an object and its copy). */
const char *qbk_layout_prefix(enum qbk_layout_class);

/** qbk_layout_key(class, id, key): write the key of the object ${id} of
 * ${class} into ${key}[QBK_LAYOUT_KEY_MAX] (${id}: 64 hex digits for a
 * chunk; ignored, may be NULL, for the config).  Returns 0, or -1 (${key}
 * "") when ${id} is too long or not a chunk id for a chunk. */
int qbk_layout_key(enum qbk_layout_class, const char *, char *);

/** qbk_layout_parse(key, class, id): the class of the object ${key} in
 * ${*class} and its id in ${id}[QBK_LAYOUT_KEY_MAX].  Returns 0, or -1
 * when ${key} names no object of the repository: a foreign or temporary
 * file, an empty id, a chunk key that is not "data/<2 hex>/<64 hex>"
 * with the folder matching the id. */
int qbk_layout_parse(const char *, enum qbk_layout_class *, char *);

/** qbk_layout_chunk_id(key, id): parse the chunk key ${key} into the
 * chunk id ${id}[QBK_ID_LEN].  0, or -1 if ${key} is not a chunk key. */
int qbk_layout_chunk_id(const char *, uint8_t *);

#endif /* !QBK_LAYOUT_H */
