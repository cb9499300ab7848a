#ifndef QBK_JSON_H
#define QBK_JSON_H

/*
 * qbk_json: small helpers over jansson, so that callers outside the few lib
 * files that include <jansson.h> can parse, inspect, print and free the
 * JSON documents that other modules hand out as struct json_t.
 */
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct qbk_buf;
struct qbk_err;

/** qbk_json_parse(text, len, what, err): parse ${len} bytes of JSON (any
 * value at the top).  Integers beyond the int64 range (e.g. u64 peer ids
 * of older Qdrant deployments) are kept as decimal strings instead of
 * failing; qbk_json_u64() reads both forms.  On failure returns NULL with
 * QBK_E_INTEGRITY and "cannot parse <what>: <reason> at line L column C".
 * Caller frees with qbk_json_decref(). */
struct json_t *qbk_json_parse(const char *, size_t, const char *,
    struct qbk_err *);

/** qbk_json_decref(v): drop a reference to ${v}; NULL is a no-op. */
void qbk_json_decref(struct json_t *);

/** qbk_json_incref(v): take a reference to ${v}; returns ${v}. */
struct json_t *qbk_json_incref(struct json_t *);

/** qbk_json_dump(v, out, pretty): append ${v} as JSON text to ${out},
 * keys sorted; compact, or indented by 2 if ${pretty}.  0 or -1. */
int qbk_json_dump(const struct json_t *, struct qbk_buf *, int);

/** qbk_json_path(v, path): the value at dotted ${path} ("config.params.
 * vectors") under object ${v}, borrowed; NULL if any step is missing. */
struct json_t *qbk_json_path(const struct json_t *, const char *);

/** qbk_json_str(v, path): the string at ${path}, borrowed; NULL if missing
 * or not a string. */
const char *qbk_json_str(const struct json_t *, const char *);

/** qbk_json_i64(v, path, out): the integer at ${path} into ${out}; -1 if
 * missing or not an integer (${out} untouched). */
int qbk_json_i64(const struct json_t *, const char *, int64_t *);

/** qbk_json_u64(v, path, out): the non-negative integer at ${path}, given
 * as a JSON integer or a decimal string; -1 otherwise. */
int qbk_json_u64(const struct json_t *, const char *, uint64_t *);

/** qbk_json_u64_value(v, out): like qbk_json_u64() for ${v} itself. */
int qbk_json_u64_value(const struct json_t *, uint64_t *);

/** qbk_json_u64_new(n): a new JSON value that qbk_json_dump() writes as
 * the number ${n}, above INT64_MAX too (jansson's integers are signed: such
 * a value is a tagged string inside, and reads as no integer through
 * jansson).  Caller frees with qbk_json_decref(). */
struct json_t *qbk_json_u64_new(uint64_t);

/** qbk_json_point_id(id): the point id ${id} (borrowed) to send to Qdrant,
 * a new reference: an integer id above INT64_MAX, which qbk_json_parse()
 * gives as a decimal string, becomes qbk_json_u64_new() of it, as Qdrant
 * refuses ids in strings that are not UUIDs; any other id is ${id}. */
struct json_t *qbk_json_point_id(const struct json_t *);

/** qbk_json_bool(v, path, out): the boolean at ${path}; -1 if missing. */
int qbk_json_bool(const struct json_t *, const char *, int *);

/** qbk_json_quote(out, s): append the NUL-terminated ${s} to ${out} as a
 * JSON string literal, quotes included (for documents built as text). */
void qbk_json_quote(struct qbk_buf *, const char *);

#endif /* !QBK_JSON_H */
