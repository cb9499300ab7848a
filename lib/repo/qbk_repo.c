#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zstd.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "common/qbk_idset.h"
#include "common/qbk_log.h"
#include "common/qbk_time.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_layout.h"
#include "repo/qbk_lock.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo_internal.h"
#include "storage/qbk_store.h"
#include "repo/qbk_repo.h"

#define CONFIG_MAX	((size_t)64 << 10)
#define SLOT_MAX	((size_t)16 << 10)
#define SEALED_MAGIC	"QBKM"
#define SEALED_HEADER	40
#define SEALED_MAX	((size_t)1 << 30)
/* The passphrase of "plain" slots, which hold the master key of a
 * repository with encryption = none: public by design. */
#define PLAIN_PASSPHRASE "qbk:encryption=none"
/* The MAC of the config: 64 hex digits, the value of its "mac" member. */
#define MAC_HEX		(2 * QBK_CRYPTO_CONFIG_MAC_LEN)

struct qbk_repo {
	struct qbk_store *store;
	char id[QBK_REPO_ID_HEX + 1];
	char opened_slot[QBK_REPO_SLOT_ID_LEN + 1];
	struct qbk_crypto_keys *keys;
	enum qbk_crypto_aead aead;
	int default_level;
	char mac[MAC_HEX + 1];	/* the config's "mac", or "" (older qbk) */
	struct qbk_chunk_params params;
	struct qbk_chunk_codec codec;
	uint64_t gear[256];

	pthread_mutex_t lock;	/* index */
	struct qbk_idset *index;
	int index_loaded;
};

/* Config. */

static int
parse_compression(const char *s, int *level)
{
	char *end;
	long v;

	if (strcmp(s, "none") == 0) {
		*level = 0;
		return 0;
	}
	if (strcmp(s, "zstd") == 0) {
		*level = 3;
		return 0;
	}
	if (strncmp(s, "zstd:", 5) != 0)
		return -1;
	v = strtol(s + 5, &end, 10);
	if (*end != '\0' || v < 1 || v > 19)
		return -1;
	*level = (int)v;
	return 0;
}

static void
format_compression(int level, char *out, size_t len)
{
	if (level == 0)
		snprintf(out, len, "none");
	else
		snprintf(out, len, "zstd:%d", level);
}

static int
config_parse(struct qbk_repo *r, const char *text, size_t len,
    struct qbk_err *err)
{
	json_error_t jerr;
	json_t *root, *ch;
	const char *id = NULL, *comp = NULL, *enc = NULL, *alg = NULL,
	    *mac = NULL;
	json_int_t format = 0, cmin = 0, cavg = 0, cmax = 0;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "repository config is not JSON: line %d: %s", jerr.line,
		    jerr.text);
	if (json_unpack_ex(root, &jerr, 0, "{s:I, s:s, s:o, s:s, s:s, s?s}",
	    "format", &format, "id", &id, "chunker", &ch, "compression", &comp,
	    "encryption", &enc, "mac", &mac) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "repository config is malformed: %s", jerr.text);
		goto err;
	}
	if (format != QBK_REPO_FORMAT) {
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "repository format %lld is not supported by this qbk "
		    "(it reads format %d)", (long long)format, QBK_REPO_FORMAT);
		qbk_err_hint(err, "use a newer qbk to read this repository");
		goto err;
	}
	if (strlen(id) != QBK_REPO_ID_HEX) {
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "repository config has a bad id '%s'", id);
		goto err;
	}
	if (json_unpack_ex(ch, &jerr, 0, "{s:s, s:I, s:I, s:I}",
	    "algorithm", &alg, "min", &cmin, "avg", &cavg, "max", &cmax) != 0 ||
	    strcmp(alg, "fastcdc") != 0 || cmin <= 0 || cavg <= 0 ||
	    cmax <= 0 || cmax > (json_int_t)QBK_CHUNK_SIZE_LIMIT) {
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "repository config has bad chunker parameters");
		goto err;
	}
	r->params.min = (uint32_t)cmin;
	r->params.avg = (uint32_t)cavg;
	r->params.max = (uint32_t)cmax;
	if (qbk_chunk_params_check(&r->params, err) != 0)
		goto err;
	if (parse_compression(comp, &r->default_level) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "repository config has a bad compression '%s'", comp);
		goto err;
	}
	if (qbk_crypto_aead_parse(enc, &r->aead, err) != 0) {
		err->code = QBK_E_INTEGRITY;
		goto err;
	}
	if (mac != NULL && (strlen(mac) != MAC_HEX ||
	    strspn(mac, "0123456789abcdef") != MAC_HEX)) {
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "repository config has a malformed MAC");
		goto err;
	}
	snprintf(r->mac, sizeof(r->mac), "%s", mac != NULL ? mac : "");
	memcpy(r->id, id, QBK_REPO_ID_HEX + 1);
	json_decref(root);
	return 0;
err:
	json_decref(root);
	return -1;
}

static char *
hostname_now(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	return qbk_xstrdup(host);
}

/* Key slots. */

/* The text of slot ${slot_id}; ${keep} (may be NULL) gives the created,
 * host and comment of a slot that is being rewritten. */
static int
slot_to_json(const struct qbk_crypto_slot *s, const char *slot_id,
    const char *kind, const char *comment,
    const struct qbk_repo_slot_info *keep, struct qbk_buf *out)
{
	char created[sizeof(keep->created)];
	char *host = hostname_now();
	json_t *o;
	char *text;

	qbk_time_format((int64_t)time(NULL), created);
	if (keep != NULL) {
		snprintf(created, sizeof(created), "%s", keep->created);
		free(host);
		host = qbk_xstrdup(keep->host);
		comment = keep->comment;
	}
	o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "format", (int)s->format, "id", slot_id, "kind", kind,
	    "opslimit", (json_int_t)s->opslimit,
	    "memlimit", (json_int_t)s->memlimit, "salt", s->salt,
	    "nonce", s->nonce, "wrapped", s->wrapped, "created", created,
	    "host", host, "comment", comment != NULL ? comment : "");
	free(host);
	if (o == NULL)
		return -1;
	text = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return -1;
	qbk_buf_addstr(out, text);
	qbk_buf_addch(out, '\n');
	free(text);
	return 0;
}

struct slot_file {
	struct qbk_crypto_slot slot;
	struct qbk_repo_slot_info info;
};

static const char *
key_basename(const char *key)
{
	const char *slash = strrchr(key, '/');

	return slash != NULL ? slash + 1 : key;
}

static int
slot_parse(const char *text, size_t len, const char *key,
    struct slot_file *sf, struct qbk_err *err)
{
	json_error_t jerr;
	json_t *o;
	const char *id, *kind, *salt, *nonce, *wrapped, *created = "",
	    *host = "", *comment = "";
	json_int_t ops, mem, format = 1;

	memset(sf, 0, sizeof(*sf));
	if ((o = json_loadb(text, len, 0, &jerr)) == NULL)
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "key slot '%s' is not JSON: %s", key, jerr.text);
	if (json_unpack_ex(o, &jerr, 0,
	    "{s?I, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s?s, s?s, s?s}",
	    "format", &format, "id", &id, "kind", &kind, "opslimit", &ops,
	    "memlimit", &mem, "salt", &salt, "nonce", &nonce,
	    "wrapped", &wrapped, "created", &created, "host", &host,
	    "comment", &comment) != 0 ||
	    strlen(id) != QBK_REPO_SLOT_ID_LEN || ops < 0 || mem < 0 ||
	    format < 1 || format > QBK_CRYPTO_SLOT_FORMAT ||
	    strlen(salt) >= sizeof(sf->slot.salt) ||
	    strlen(nonce) >= sizeof(sf->slot.nonce) ||
	    strlen(wrapped) >= sizeof(sf->slot.wrapped)) {
		json_decref(o);
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "key slot '%s' is malformed", key);
	}
	snprintf(sf->info.id, sizeof(sf->info.id), "%s", id);
	snprintf(sf->info.kind, sizeof(sf->info.kind), "%s", kind);
	snprintf(sf->info.created, sizeof(sf->info.created), "%s", created);
	snprintf(sf->info.host, sizeof(sf->info.host), "%s", host);
	snprintf(sf->info.comment, sizeof(sf->info.comment), "%s", comment);
	/* The slot id is bound into the wrapped key; a slot file under
	 * another name (a stray copy) would be listed and removed by the
	 * wrong name. */
	if (strcmp(id, key_basename(key)) != 0) {
		json_decref(o);
		return qbk_err_set(err, QBK_E_INTEGRITY,
		    "key slot '%s' holds slot '%s'", key, sf->info.id);
	}
	if (strcmp(kind, "plain") == 0)
		sf->slot.kind = QBK_CRYPTO_SLOT_PASSPHRASE;
	else if (qbk_crypto_slot_kind_parse(kind, &sf->slot.kind, err) != 0) {
		json_decref(o);
		return -1;
	}
	sf->slot.format = (unsigned int)format;
	sf->slot.opslimit = (unsigned long long)ops;
	sf->slot.memlimit = (unsigned long long)mem;
	memcpy(sf->slot.salt, salt, strlen(salt) + 1);
	memcpy(sf->slot.nonce, nonce, strlen(nonce) + 1);
	memcpy(sf->slot.wrapped, wrapped, strlen(wrapped) + 1);
	json_decref(o);
	return 0;
}

static void
new_slot_id(char *out)
{
	uint8_t raw[QBK_REPO_SLOT_ID_LEN / 2];

	qbk_crypto_random(raw, sizeof(raw));
	qbk_hex(raw, sizeof(raw), out);
}

/* Wrap ${keys} into a new slot file; exactly one of passphrase, key_file,
 * or plain (aead none). */
static int
write_slot(struct qbk_store *store, const char *repo_id,
    const struct qbk_crypto_keys *keys, const char *passphrase,
    const char *key_file, int plain, unsigned long long ops,
    unsigned long long mem, const char *comment, char *id_out,
    struct qbk_err *err)
{
	struct qbk_crypto_keyfile *kf = NULL;
	struct qbk_crypto_slot slot;
	struct qbk_buf text = QBK_BUF_INIT;
	char slot_id[QBK_REPO_SLOT_ID_LEN + 1], key[QBK_LAYOUT_KEY_MAX];
	const char *kind;
	int rc = -1;

	new_slot_id(slot_id);
	if (plain) {
		kind = "plain";
		if (qbk_crypto_slot_wrap_passphrase(keys, repo_id, slot_id,
		    PLAIN_PASSPHRASE, strlen(PLAIN_PASSPHRASE),
		    QBK_CRYPTO_PWHASH_OPSLIMIT_MIN,
		    QBK_CRYPTO_PWHASH_MEMLIMIT_MIN, &slot, err) != 0)
			goto out;
	} else if (passphrase != NULL) {
		kind = "passphrase";
		if (qbk_crypto_slot_wrap_passphrase(keys, repo_id, slot_id,
		    passphrase, strlen(passphrase),
		    ops ? ops : QBK_CRYPTO_PWHASH_OPSLIMIT,
		    mem ? mem : QBK_CRYPTO_PWHASH_MEMLIMIT, &slot, err) != 0)
			goto out;
	} else if (key_file != NULL) {
		kind = "keyfile";
		if (qbk_crypto_keyfile_load(key_file, &kf, err) != 0 ||
		    qbk_crypto_slot_wrap_keyfile(keys, repo_id, slot_id, kf,
		    &slot, err) != 0)
			goto out;
	} else {
		qbk_err_set(err, QBK_E_USAGE,
		    "no passphrase or key file for the new key slot");
		qbk_err_hint(err, "set QBK_PASSPHRASE, or passphrase_file or "
		    "key_file in the config");
		goto out;
	}
	if (slot_to_json(&slot, slot_id, kind, comment, NULL, &text) != 0) {
		qbk_err_set(err, QBK_E_INTERNAL, "cannot build key slot");
		goto out;
	}
	qbk_layout_key(QBK_LAYOUT_KEY_SLOT, slot_id, key);
	if (qbk_store_put(store, key, text.buf, text.len, 0, err) != 0)
		goto out;
	if (id_out != NULL)
		memcpy(id_out, slot_id, sizeof(slot_id));
	rc = 0;
out:
	qbk_crypto_keyfile_free(kf);
	qbk_buf_release(&text);
	return rc;
}

static void
setup_codec(struct qbk_repo *r)
{
	qbk_crypto_gear_table(r->keys, r->gear);
	r->codec.keys = r->keys;
	r->codec.aead = r->aead;
	r->codec.zstd_level = r->default_level;
	r->codec.max_plain = r->params.max;
}

/*
 * The authenticated config (qbk-repository(5) "Authenticated config").  The
 * config carries "mac": 64 hex digits of BLAKE2b-256, keyed with the config
 * key, of the exact bytes of the config text in which those digits read as
 * 64 '0's.  Key slots of format 2 open only where the config has a MAC, so
 * that stripping it is found; a config without one (written by an older
 * qbk) is given one by the first run that opens it with a key.
 */

/* Where the MAC_HEX characters ${hex} are in ${text}: the one place, or
 * NULL when they are not there exactly once. */
static const char *
find_once(const char *text, size_t len, const char *hex)
{
	const char *p, *at = NULL;

	for (p = text; len >= MAC_HEX && p <= text + len - MAC_HEX; p++)
		if (*p == hex[0] && memcmp(p, hex, MAC_HEX) == 0) {
			if (at != NULL)
				return NULL;
			at = p;
		}
	return at;
}

/* The MAC of ${text}, whose MAC digits are at offset ${at}, in hex. */
static void
config_mac(const struct qbk_crypto_keys *keys, const char *text, size_t len,
    size_t at, char *hex)
{
	uint8_t mac[QBK_CRYPTO_CONFIG_MAC_LEN];
	char *copy = qbk_xmalloc(len);

	memcpy(copy, text, len);
	memset(copy + at, '0', MAC_HEX);
	qbk_crypto_config_mac(keys, copy, len, mac);
	qbk_hex(mac, sizeof(mac), hex);
	free(copy);
}

/* Put the MAC into ${text}, whose "mac" holds MAC_HEX '0's; the MAC in hex
 * also into ${hex}.  0, or -1 when the zeros are not there exactly once. */
static int
config_seal(const struct qbk_crypto_keys *keys, char *text, size_t len,
    char *hex)
{
	char zeros[MAC_HEX + 1];
	const char *at;

	memset(zeros, '0', MAC_HEX);
	zeros[MAC_HEX] = '\0';
	if ((at = find_once(text, len, zeros)) == NULL)
		return -1;
	config_mac(keys, text, len, (size_t)(at - text), hex);
	memcpy(text + (at - text), hex, MAC_HEX);
	return 0;
}

int
qbk_repo_create(const struct qbk_repo_create_opts *o, char *id_out,
    struct qbk_err *err)
{
	struct qbk_store_opts so = QBK_STORE_OPTS_INIT;
	struct qbk_store *store = NULL;
	struct qbk_crypto_keys *keys = NULL;
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	uint8_t raw[QBK_REPO_ID_HEX / 2];
	char id[QBK_REPO_ID_HEX + 1], comp[16], created[32], mac[MAC_HEX + 1];
	char slot_id[QBK_REPO_SLOT_ID_LEN + 1] = "";
	char key[QBK_LAYOUT_KEY_MAX];
	json_t *cfg = NULL;
	char *text = NULL;
	int ex, rc = -1;

	if (o->chunk_min != 0)
		p.min = o->chunk_min;
	if (o->chunk_avg != 0)
		p.avg = o->chunk_avg;
	if (o->chunk_max != 0)
		p.max = o->chunk_max;
	if (qbk_chunk_params_check(&p, err) != 0)
		return -1;
	/* A level that config_parse() would refuse makes a repository that
	 * nothing can open. */
	if (o->zstd_level < 0 || o->zstd_level > 19)
		return qbk_err_set(err, QBK_E_CONFIG, "bad zstd level %d: "
		    "expected 1 to 19, or 0 for no compression", o->zstd_level);
	if (qbk_crypto_aead_check(o->aead, err) != 0)
		return -1;
	if (o->aead != QBK_CRYPTO_AEAD_NONE && o->passphrase == NULL &&
	    o->key_file == NULL) {
		qbk_err_set(err, QBK_E_USAGE, "no passphrase or key file for "
		    "the repository key");
		qbk_err_hint(err, "set QBK_PASSPHRASE, passphrase_file or "
		    "key_file, or use --generate-key-file FILE");
		return -1;
	}
	if (o->store != NULL)
		so = *o->store;
	so.create = 1;
	so.reserve_dir = "locks";
	so.cache_prefix = qbk_layout_prefix(QBK_LAYOUT_CHUNK);
	so.cache_guard = qbk_layout_prefix(QBK_LAYOUT_CONFIG);
	if (qbk_store_open(o->location, &so, &store, err) != 0)
		return -1;
	if ((ex = qbk_store_exists(store, qbk_layout_prefix(QBK_LAYOUT_CONFIG),
	    err)) != 0) {
		if (ex > 0) {
			qbk_err_set(err, QBK_E_USAGE, "a repository exists "
			    "already at '%s'", o->location);
			qbk_err_hint(err, "qbk-init never overwrites a "
			    "repository; choose another location");
		}
		goto out;
	}
	if (qbk_crypto_keys_new(&keys, err) != 0)
		goto out;
	qbk_crypto_random(raw, sizeof(raw));
	qbk_hex(raw, sizeof(raw), id);
	if (write_slot(store, id, keys, o->passphrase, o->key_file,
	    o->aead == QBK_CRYPTO_AEAD_NONE && o->passphrase == NULL &&
	    o->key_file == NULL, o->opslimit, o->memlimit, o->comment, slot_id,
	    err) != 0)
		goto out;
	format_compression(o->zstd_level, comp, sizeof(comp));
	qbk_time_format((int64_t)time(NULL), created);
	/* The MAC goes last, computed over the text with '0's in its place
	 * (config_seal()). */
	memset(mac, '0', MAC_HEX);
	mac[MAC_HEX] = '\0';
	cfg = json_pack("{s:i, s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i}, s:s, "
	    "s:s, s:s}", "format", QBK_REPO_FORMAT, "id", id, "created",
	    created, "tool", "qbk " QBK_VERSION, "chunker", "algorithm",
	    "fastcdc", "min", (int)p.min, "avg", (int)p.avg, "max", (int)p.max,
	    "compression", comp, "encryption", qbk_crypto_aead_name(o->aead),
	    "mac", mac);
	if (cfg == NULL || (text = json_dumps(cfg, JSON_INDENT(1) |
	    JSON_PRESERVE_ORDER)) == NULL ||
	    config_seal(keys, text, strlen(text), mac) != 0) {
		qbk_err_set(err, QBK_E_INTERNAL, "cannot build the config");
		goto out;
	}
	/* The config is written last: until it exists, the folder is not a
	 * repository, and a failed qbk-init can simply be run again. */
	if ((ex = qbk_store_put(store, qbk_layout_prefix(QBK_LAYOUT_CONFIG),
	    text, strlen(text), QBK_STORE_F_IFABSENT, err)) != 0) {
		if (ex > 0) {
			qbk_err_set(err, QBK_E_USAGE, "a repository was created "
			    "at '%s' meanwhile, by another qbk-init",
			    o->location);
			qbk_err_hint(err, "qbk-init never overwrites a "
			    "repository; choose another location");
		}
		goto out;
	}
	if (id_out != NULL)
		memcpy(id_out, id, sizeof(id));
	rc = 0;
out:
	/* A slot of a repository that did not come to be would be listed
	 * (and tried) with the next one created here. */
	if (rc != 0 && slot_id[0] != '\0') {
		struct qbk_err e2 = QBK_ERR_INIT;

		qbk_layout_key(QBK_LAYOUT_KEY_SLOT, slot_id, key);
		if (qbk_store_delete(store, key, 0, &e2) != 0)
			qbk_warn("%s", e2.msg);
	}
	free(text);
	json_decref(cfg);
	qbk_crypto_keys_free(keys);
	if (qbk_store_close(store, rc == 0 ? err : NULL) != 0)
		rc = -1;
	return rc;
}

struct slot_list {
	char **keys;
	size_t n, alloc;
};

static int
collect_key(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct slot_list *l = cookie;

	(void)st;
	(void)err;
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->keys = qbk_xrealloc(l->keys, l->alloc * sizeof(char *));
	}
	l->keys[l->n++] = qbk_xstrdup(key);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
list_sorted(struct qbk_store *store, const char *prefix, struct slot_list *l,
    struct qbk_err *err)
{
	memset(l, 0, sizeof(*l));
	if (qbk_store_list(store, prefix, 0, collect_key, l, err) < 0) {
		qbk_repo_free_ids(l->keys, l->n);
		memset(l, 0, sizeof(*l));
		return -1;
	}
	if (l->n > 0)
		qsort(l->keys, l->n, sizeof(char *), cmp_str);
	return 0;
}

/* What unlock_keys() learnt on the way. */
struct unlock_info {
	struct slot_file opened;	/* the slot that opened the repository */
	size_t nplain;			/* plain slots passed over */
	char plain[QBK_REPO_SLOT_ID_LEN + 1];	/* the first of them */
};

/*
 * Unwrap the master key from the first slot that opens with ${sec}.  A
 * "plain" slot (whose passphrase is public) is tried only when no secret
 * is given at all: whoever can write the storage can add one holding a
 * master key of their own, so an operator who holds a passphrase or a key
 * file, and so expects an encrypted repository, never opens one through
 * it.
 */
static int
unlock_keys(struct qbk_repo *r, const struct qbk_repo_secret *sec,
    struct unlock_info *ui, struct qbk_err *err)
{
	struct qbk_crypto_keyfile *kf = NULL;
	struct slot_list l;
	struct qbk_buf text = QBK_BUF_INIT;
	struct qbk_err e2 = QBK_ERR_INIT;
	size_t i, damaged = 0;
	int tried = 0, rc = -1, secret;

	memset(ui, 0, sizeof(*ui));
	secret = sec != NULL && (sec->passphrase != NULL ||
	    sec->key_file != NULL);
	if (sec != NULL && sec->key_file != NULL &&
	    qbk_crypto_keyfile_load(sec->key_file, &kf, err) != 0)
		return -1;
	if (list_sorted(r->store, qbk_layout_prefix(QBK_LAYOUT_KEY_SLOT), &l,
	    err) != 0)
		goto out;
	for (i = 0; i < l.n && r->keys == NULL; i++) {
		struct slot_file sf;
		const char *pass = NULL;

		if (qbk_store_get(r->store, l.keys[i], SLOT_MAX, &text,
		    &e2) != 0 ||
		    slot_parse(text.buf, text.len, l.keys[i], &sf, &e2) != 0) {
			if (e2.code != QBK_E_INTEGRITY &&
			    e2.code != QBK_E_NOTFOUND) {
				*err = e2;
				goto out;
			}
			qbk_warn("%s", e2.msg);
			damaged++;
			continue;
		}
		if (strcmp(sf.info.kind, "plain") == 0) {
			if (secret) {
				if (ui->nplain++ == 0)
					memcpy(ui->plain, sf.info.id,
					    sizeof(ui->plain));
				continue;
			}
			pass = PLAIN_PASSPHRASE;
		} else if (sf.slot.kind == QBK_CRYPTO_SLOT_PASSPHRASE)
			pass = sec != NULL ? sec->passphrase : NULL;
		if (sf.slot.kind == QBK_CRYPTO_SLOT_PASSPHRASE && pass == NULL)
			continue;
		if (sf.slot.kind == QBK_CRYPTO_SLOT_KEYFILE && kf == NULL)
			continue;
		tried++;
		if (qbk_crypto_slot_unwrap(&sf.slot, r->id, sf.info.id, pass,
		    pass != NULL ? strlen(pass) : 0, kf, &r->keys, &e2) == 0) {
			memcpy(r->opened_slot, sf.info.id,
			    sizeof(r->opened_slot));
			ui->opened = sf;
			break;
		}
		/* A damaged slot must not hide the others. */
		if (e2.code == QBK_E_INTEGRITY) {
			qbk_warn("%s", e2.msg);
			damaged++;
			continue;
		}
		if (e2.code != QBK_E_CRYPTO) {
			*err = e2;
			goto out;
		}
	}
	if (r->keys == NULL) {
		if (l.n == 0)
			qbk_err_set(err, QBK_E_INTEGRITY,
			    "repository has no key slots");
		else if (damaged == l.n)
			qbk_err_set(err, QBK_E_INTEGRITY,
			    "every key slot of the repository is damaged");
		else if (tried == 0 && ui->nplain > 0) {
			qbk_err_set(err, QBK_E_CRYPTO, "the repository has "
			    "only plain key slots (encryption none), such as "
			    "'%s', and those are never used when a passphrase "
			    "or key file is given", ui->plain);
			qbk_err_hint(err, "for a repository made with "
			    "'--encryption none', give no passphrase or key "
			    "file; if it was encrypted, its key slots were "
			    "replaced by someone who can write the storage");
		} else if (tried == 0 && secret) {
			qbk_err_set(err, QBK_E_CRYPTO, "wrong kind of secret: "
			    "the repository has no %s key slot",
			    sec->passphrase != NULL ? "passphrase" : "key-file");
			qbk_err_hint(err, "%s", sec->passphrase != NULL ?
			    "it opens with a key file: set key_file in the "
			    "config (and unset QBK_PASSPHRASE)" :
			    "it opens with a passphrase: set QBK_PASSPHRASE "
			    "or passphrase_file in the config");
		} else if (tried == 0) {
			qbk_err_set(err, QBK_E_USAGE,
			    "no passphrase or key file given to open the "
			    "repository");
			qbk_err_hint(err, "set QBK_PASSPHRASE, or "
			    "passphrase_file or key_file in the config");
		} else
			qbk_err_set(err, QBK_E_CRYPTO, "wrong passphrase or "
			    "key file: no key slot of the repository opens");
		if (ui->nplain > 0 && err->hint[0] == '\0')
			qbk_err_hint(err, "plain key slot '%s' (encryption "
			    "none) was not tried: plain slots open a "
			    "repository only when no passphrase or key file "
			    "is given", ui->plain);
		goto out;
	}
	rc = 0;
out:
	qbk_repo_free_ids(l.keys, l.n);
	qbk_buf_release(&text);
	qbk_crypto_keyfile_free(kf);
	return rc;
}

static void
config_hint(struct qbk_err *err)
{
	qbk_err_hint(err, "qbk never changes a repository's config after "
	    "qbk-init (nor lowers its encryption); put back the config as "
	    "qbk wrote it (from a copy of the repository or an earlier "
	    "version of the object), and find out who could write there");
}

/* Does any slot in keys/ have format 2?  1, 0, or -1 (cannot list). */
static int
any_slot_v2(struct qbk_repo *r, struct qbk_err *err)
{
	struct slot_list l;
	struct qbk_buf text = QBK_BUF_INIT;
	size_t i;
	int found = 0;

	if (list_sorted(r->store, qbk_layout_prefix(QBK_LAYOUT_KEY_SLOT), &l,
	    err) != 0)
		return -1;
	for (i = 0; i < l.n && !found; i++) {
		struct slot_file sf;
		struct qbk_err e2 = QBK_ERR_INIT;

		if (qbk_store_get(r->store, l.keys[i], SLOT_MAX, &text,
		    &e2) == 0 &&
		    slot_parse(text.buf, text.len, l.keys[i], &sf, &e2) == 0 &&
		    sf.slot.format >= 2)
			found = 1;
	}
	qbk_repo_free_ids(l.keys, l.n);
	qbk_buf_release(&text);
	return found;
}

/*
 * Before an unauthenticated config is given a MAC: does it agree with what
 * the repository holds?  Its newest backup must be sealed with the
 * config's encryption, and have no chunk larger than its chunker's
 * maximum (which readers enforce), else the config was changed.
 */
static int
legacy_check(struct qbk_repo *r, struct qbk_err *err)
{
	const char *loc = qbk_store_location(r->store);
	struct qbk_manifest *m = NULL;
	struct qbk_buf obj = QBK_BUF_INIT;
	struct qbk_err e2 = QBK_ERR_INIT;
	char **ids = NULL, key[QBK_LAYOUT_KEY_MAX];
	size_t n = 0, i, j, k;
	const uint8_t *hdr;
	uint32_t big = 0;
	int rc = -1;

	if (qbk_repo_backup_ids(r, &ids, &n, err) != 0)
		return -1;
	if (n == 0) {
		rc = 0;
		goto out;
	}
	qbk_layout_key(QBK_LAYOUT_MANIFEST, ids[n - 1], key);
	if (qbk_store_get(r->store, key, SEALED_MAX, &obj, &e2) == 0 &&
	    obj.len >= SEALED_HEADER &&
	    memcmp(obj.buf, SEALED_MAGIC, 4) == 0) {
		hdr = (const uint8_t *)obj.buf;
		if (hdr[6] != (uint8_t)r->aead) {
			qbk_err_set(err, QBK_E_INTEGRITY, "repository config "
			    "'%s/config' says encryption '%s', but backup '%s' "
			    "is sealed with '%s': the config was changed "
			    "outside qbk", loc, qbk_crypto_aead_name(r->aead),
			    ids[n - 1], qbk_crypto_aead_name(
			    (enum qbk_crypto_aead)hdr[6]));
			config_hint(err);
			goto out;
		}
	}
	/* A manifest that does not open is qbk-verify's business. */
	if (qbk_repo_manifest_read(r, ids[n - 1], &m, &e2) == 0) {
		for (i = 0; i < m->n_snapshots; i++)
			for (k = 0; k < m->snapshots[i]->n_chunks; k++)
				if (m->snapshots[i]->chunks[k].len > big)
					big = m->snapshots[i]->chunks[k].len;
		for (j = 0; j < m->n_collections; j++)
			for (i = 0; i < m->collections[j]->n_snapshots; i++) {
				const struct qbk_manifest_snapshot *sn =
				    m->collections[j]->snapshots[i];

				for (k = 0; k < sn->n_chunks; k++)
					if (sn->chunks[k].len > big)
						big = sn->chunks[k].len;
			}
		if (big > r->params.max) {
			qbk_err_set(err, QBK_E_INTEGRITY, "repository config "
			    "'%s/config' says chunks have at most %u bytes, but "
			    "backup '%s' has one of %u: the config was changed "
			    "outside qbk", loc, r->params.max, ids[n - 1],
			    big);
			config_hint(err);
			goto out;
		}
	}
	rc = 0;
out:
	qbk_manifest_free(m);
	qbk_buf_release(&obj);
	qbk_repo_free_ids(ids, n);
	return rc;
}

/* Give the config ${text} of an older qbk its MAC.  -1 if it does not
 * agree with the repository; a store that cannot be written (read-only)
 * only leaves it as it was, with a warning. */
static int
config_upgrade(struct qbk_repo *r, const struct qbk_buf *text,
    struct qbk_err *err)
{
	const char *loc = qbk_store_location(r->store);
	struct qbk_buf up = QBK_BUF_INIT;
	struct qbk_err e2 = QBK_ERR_INIT;
	char hex[MAC_HEX + 1];
	size_t n = text->len;
	int rc = -1;

	if (legacy_check(r, err) != 0)
		return -1;
	/* The same text with one member more, the last: '"mac": "<hex>"'. */
	while (n > 0 && strchr(" \t\r\n", text->buf[n - 1]) != NULL)
		n--;
	if (n == 0 || text->buf[n - 1] != '}')
		return qbk_err_set(err, QBK_E_INTEGRITY, "repository config "
		    "'%s/config' is malformed", loc);
	n--;
	while (n > 0 && strchr(" \t\r\n", text->buf[n - 1]) != NULL)
		n--;
	qbk_buf_add(&up, text->buf, n);
	qbk_buf_addstr(&up, ",\n \"mac\": \"");
	qbk_buf_addf(&up, "%0*d", MAC_HEX, 0);
	qbk_buf_addstr(&up, "\"\n}");
	if (config_seal(r->keys, up.buf, up.len, hex) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY, "repository config "
		    "'%s/config' is malformed", loc);
		goto out;
	}
	/* Every process that upgrades writes these same bytes. */
	if (qbk_store_put(r->store, qbk_layout_prefix(QBK_LAYOUT_CONFIG),
	    up.buf, up.len, 0, &e2) != 0) {
		qbk_warn("repository config '%s/config' is not authenticated "
		    "(an older qbk wrote it) and cannot be upgraded now: %s; "
		    "the next run that can write the repository will do it",
		    loc, e2.msg);
		rc = 0;
		goto out;
	}
	memcpy(r->mac, hex, sizeof(r->mac));
	qbk_warn("upgraded repository '%s': its config is now authenticated "
	    "by the repository key, and an unauthenticated one is refused "
	    "from now on", loc);
	rc = 0;
out:
	qbk_buf_release(&up);
	return rc;
}

/* Rewrite the slot ${sf} (format 1), which opened the repository with
 * ${sec}, as format 2, under the same id, secret and costs.  A failure is
 * only a warning: the slot keeps working as it was. */
static void
slot_upgrade(struct qbk_repo *r, const struct slot_file *sf,
    const struct qbk_repo_secret *sec)
{
	struct qbk_crypto_keyfile *kf = NULL;
	struct qbk_crypto_slot slot;
	struct qbk_buf text = QBK_BUF_INIT;
	struct qbk_err e2 = QBK_ERR_INIT;
	char key[QBK_LAYOUT_KEY_MAX];
	int rc = -1;

	if (strcmp(sf->info.kind, "plain") == 0)
		rc = qbk_crypto_slot_wrap_passphrase(r->keys, r->id,
		    sf->info.id, PLAIN_PASSPHRASE, strlen(PLAIN_PASSPHRASE),
		    QBK_CRYPTO_PWHASH_OPSLIMIT_MIN,
		    QBK_CRYPTO_PWHASH_MEMLIMIT_MIN, &slot, &e2);
	else if (sf->slot.kind == QBK_CRYPTO_SLOT_PASSPHRASE &&
	    sec != NULL && sec->passphrase != NULL)
		rc = qbk_crypto_slot_wrap_passphrase(r->keys, r->id,
		    sf->info.id, sec->passphrase, strlen(sec->passphrase),
		    sf->slot.opslimit, sf->slot.memlimit, &slot, &e2);
	else if (sf->slot.kind == QBK_CRYPTO_SLOT_KEYFILE && sec != NULL &&
	    sec->key_file != NULL &&
	    qbk_crypto_keyfile_load(sec->key_file, &kf, &e2) == 0)
		rc = qbk_crypto_slot_wrap_keyfile(r->keys, r->id, sf->info.id,
		    kf, &slot, &e2);
	qbk_crypto_keyfile_free(kf);
	if (rc != 0)
		goto out;
	qbk_layout_key(QBK_LAYOUT_KEY_SLOT, sf->info.id, key);
	if (slot_to_json(&slot, sf->info.id, sf->info.kind, NULL, &sf->info,
	    &text) != 0)
		rc = qbk_err_set(&e2, QBK_E_INTERNAL, "cannot build key slot");
	else
		rc = qbk_store_put(r->store, key, text.buf, text.len, 0, &e2);
out:
	if (rc != 0)
		qbk_warn("cannot upgrade key slot '%s' to format %d: %s",
		    sf->info.id, QBK_CRYPTO_SLOT_FORMAT, e2.msg);
	else
		qbk_info("upgraded key slot '%s' to format %d",
		    sf->info.id, QBK_CRYPTO_SLOT_FORMAT);
	qbk_buf_release(&text);
}

/*
 * Authenticate the config ${text} (parsed into ${r}) with the master key
 * just unwrapped, before any of its values is used: exit 3 for a config
 * that does not verify, or that lost its MAC.
 */
static int
config_auth(struct qbk_repo *r, const struct qbk_buf *text,
    const struct qbk_repo_secret *sec, const struct unlock_info *ui,
    struct qbk_err *err)
{
	const char *loc = qbk_store_location(r->store);
	char hex[MAC_HEX + 1];
	const char *at;
	int v2;

	if (r->mac[0] != '\0') {
		at = find_once(text->buf, text->len, r->mac);
		if (at != NULL)
			config_mac(r->keys, text->buf, text->len,
			    (size_t)(at - text->buf), hex);
		if (at == NULL || !qbk_crypto_equal(hex, r->mac, MAC_HEX)) {
			qbk_err_set(err, QBK_E_INTEGRITY, "repository config "
			    "'%s/config' does not verify against the "
			    "repository key: it was changed outside qbk", loc);
			config_hint(err);
			return -1;
		}
	} else {
		/* No MAC: written by an older qbk, or stripped.  Slots of
		 * format 2 exist only where the config had one. */
		v2 = ui->opened.slot.format >= 2 ? 1 : any_slot_v2(r, err);
		if (v2 < 0)
			return -1;
		if (v2) {
			qbk_err_set(err, QBK_E_INTEGRITY, "repository config "
			    "'%s/config' is not authenticated (it has no MAC), "
			    "but the repository's keys require it: it was "
			    "changed outside qbk", loc);
			config_hint(err);
			return -1;
		}
		if (config_upgrade(r, text, err) != 0)
			return -1;
	}
	if (strcmp(ui->opened.info.kind, "plain") == 0 &&
	    r->aead != QBK_CRYPTO_AEAD_NONE) {
		qbk_err_set(err, QBK_E_INTEGRITY, "repository config "
		    "'%s/config' says encryption '%s', but it was opened "
		    "through plain key slot '%s': the key slots were changed "
		    "outside qbk", loc, qbk_crypto_aead_name(r->aead),
		    ui->opened.info.id);
		return -1;
	}
	if (ui->nplain > 0 && r->aead != QBK_CRYPTO_AEAD_NONE)
		qbk_warn("key slot '%s' is a plain slot (encryption none) in "
		    "an encrypted repository, where qbk never writes one: "
		    "not used; remove it with 'qbk-key remove %s'",
		    ui->plain, ui->plain);
	/* A slot of an older qbk that opened an authenticated config is
	 * rewritten as format 2 (its secret is at hand now). */
	if (r->mac[0] != '\0' && ui->opened.slot.format < 2)
		slot_upgrade(r, &ui->opened, sec);
	return 0;
}

/* A key of a qbk repository: a key slot, or a manifest. */
static int
own_object(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	const char *name = key_basename(key);
	enum qbk_layout_class cls;
	char id[QBK_LAYOUT_KEY_MAX];

	(void)cookie;
	(void)st;
	(void)err;
	if (qbk_layout_parse(key, &cls, id) == 0 &&
	    cls == QBK_LAYOUT_KEY_SLOT)
		return strlen(name) == QBK_REPO_SLOT_ID_LEN &&
		    strspn(name, "0123456789abcdef") == QBK_REPO_SLOT_ID_LEN;
	return qbk_manifest_id_valid(name) != 0;
}

/* Does the location of ${store}, whose ${config} qbk could not use, look
 * like a qbk repository at all (a damaged one: exit 3), or like the folder
 * or bucket of something else (exit 2)?  Its config is qbk's if it is a
 * JSON object with a format and one of qbk's own members; otherwise the key
 * slots or backups qbk names tell.  1, 0, or -1 when the listing fails
 * (taken as qbk's: the config error stands). */
static int
looks_like_qbk(struct qbk_store *store, const struct qbk_buf *config)
{
	struct qbk_err lerr = QBK_ERR_INIT;
	json_t *root;
	int rc;

	root = json_loadb(config->buf, config->len, 0, NULL);
	rc = json_is_object(root) && json_object_get(root, "format") != NULL &&
	    (json_object_get(root, "chunker") != NULL ||
	    json_object_get(root, "encryption") != NULL ||
	    json_object_get(root, "compression") != NULL);
	json_decref(root);
	if (rc)
		return 1;
	if ((rc = qbk_store_list(store, qbk_layout_prefix(QBK_LAYOUT_KEY_SLOT), 0,
	    own_object, NULL,
	    &lerr)) != 0)
		return rc > 0 ? 1 : -1;
	rc = qbk_store_list(store, qbk_layout_prefix(QBK_LAYOUT_MANIFEST), 0,
	    own_object, NULL, &lerr);
	return rc > 0 ? 1 : rc;
}

int
qbk_repo_open(const char *location, const struct qbk_repo_secret *sec,
    struct qbk_repo **out, struct qbk_err *err)
{
	return qbk_repo_open_with(location, NULL, sec, out, err);
}

int
qbk_repo_open_with(const char *location, const struct qbk_store_opts *sopts,
    const struct qbk_repo_secret *sec, struct qbk_repo **out,
    struct qbk_err *err)
{
	struct qbk_store_opts so = QBK_STORE_OPTS_INIT;
	struct unlock_info ui;
	struct qbk_repo *r;
	struct qbk_buf text = QBK_BUF_INIT;

	*out = NULL;
	r = qbk_xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	/* Chunks are written lazily and made durable in one syncfs(2) before
	 * the manifest that names them: thousands of fsyncs cost more than
	 * the rest of a backup. */
	if (sopts != NULL)
		so = *sopts;
	so.sync = QBK_STORE_SYNC_BATCH;
	so.reserve_dir = "locks";
	so.cache_prefix = qbk_layout_prefix(QBK_LAYOUT_CHUNK);
	so.cache_guard = qbk_layout_prefix(QBK_LAYOUT_CONFIG);
	if (qbk_store_open(location, &so, &r->store, err) != 0) {
		if (err->code == QBK_E_NOTFOUND) {
			qbk_err_set(err, QBK_E_CONFIG,
			    "no repository at '%s'", location);
			qbk_err_hint(err, "create one with qbk-init, or check "
			    "[repository] location");
		}
		goto err;
	}
	if (qbk_store_get(r->store, qbk_layout_prefix(QBK_LAYOUT_CONFIG),
	    CONFIG_MAX, &text, err) != 0) {
		if (err->code == QBK_E_NOTFOUND) {
			qbk_err_set(err, QBK_E_CONFIG,
			    "no repository at '%s'", location);
			qbk_err_hint(err, "create one with qbk-init, or check "
			    "[repository] location");
		}
		goto err;
	}
	if (config_parse(r, text.buf, text.len, err) != 0) {
		if (err->code == QBK_E_INTEGRITY &&
		    looks_like_qbk(r->store, &text) == 0) {
			qbk_err_set(err, QBK_E_CONFIG, "'%s' is not a qbk "
			    "repository (its config is not qbk's)", location);
			qbk_err_hint(err, "check [repository] location");
		}
		goto err;
	}
	if (unlock_keys(r, sec, &ui, err) != 0 ||
	    config_auth(r, &text, sec, &ui, err) != 0)
		goto err;
	setup_codec(r);
	qbk_buf_release(&text);
	*out = r;
	return 0;
err:
	qbk_buf_release(&text);
	qbk_repo_close(r);
	return -1;
}

void
qbk_repo_close(struct qbk_repo *r)
{
	if (r == NULL)
		return;
	qbk_store_close(r->store, NULL);
	qbk_crypto_keys_free(r->keys);
	qbk_idset_free(r->index);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

const char *
qbk_repo_id(const struct qbk_repo *r)
{
	return r->id;
}

struct qbk_store *
qbk_repo_store(struct qbk_repo *r)
{
	return r->store;
}

const struct qbk_chunk_codec *
qbk_repo_codec(const struct qbk_repo *r)
{
	return &r->codec;
}

const struct qbk_chunk_params *
qbk_repo_chunk_params(const struct qbk_repo *r)
{
	return &r->params;
}

const uint64_t *
qbk_repo_gear(const struct qbk_repo *r)
{
	return r->gear;
}

enum qbk_crypto_aead
qbk_repo_aead(const struct qbk_repo *r)
{
	return r->aead;
}

int
qbk_repo_default_compression(const struct qbk_repo *r)
{
	return r->default_level;
}

void
qbk_repo_set_compression(struct qbk_repo *r, int level)
{
	r->codec.zstd_level = level;
}

/* Key slot management. */

int
qbk_repo_slots(struct qbk_repo *r, struct qbk_repo_slot_info **out,
    size_t *n, struct qbk_err *err)
{
	struct slot_list l;
	struct qbk_buf text = QBK_BUF_INIT;
	size_t i;

	*out = NULL;
	*n = 0;
	if (list_sorted(r->store, qbk_layout_prefix(QBK_LAYOUT_KEY_SLOT), &l,
	    err) != 0)
		return -1;
	*out = qbk_xcalloc(l.n ? l.n : 1, sizeof(**out));
	for (i = 0; i < l.n; i++) {
		struct slot_file sf;
		struct qbk_err e2 = QBK_ERR_INIT;

		if (qbk_store_get(r->store, l.keys[i], SLOT_MAX, &text,
		    &e2) != 0 ||
		    slot_parse(text.buf, text.len, l.keys[i], &sf, &e2) != 0) {
			if (e2.code == QBK_E_NOTFOUND)
				continue;	/* removed meanwhile */
			if (e2.code != QBK_E_INTEGRITY) {
				*err = e2;
				free(*out);
				*out = NULL;
				*n = 0;
				qbk_repo_free_ids(l.keys, l.n);
				qbk_buf_release(&text);
				return -1;
			}
			/* Listed, so that it can be removed. */
			memset(&sf, 0, sizeof(sf));
			snprintf(sf.info.id, sizeof(sf.info.id), "%s",
			    key_basename(l.keys[i]));
			snprintf(sf.info.kind, sizeof(sf.info.kind),
			    "damaged");
			snprintf(sf.info.comment, sizeof(sf.info.comment),
			    "%.120s", e2.msg);
		}
		sf.info.opened = strcmp(sf.info.id, r->opened_slot) == 0;
		(*out)[(*n)++] = sf.info;
	}
	qbk_repo_free_ids(l.keys, l.n);
	qbk_buf_release(&text);
	return 0;
}

int
qbk_repo_slot_add(struct qbk_repo *r, const char *passphrase,
    const char *key_file, unsigned long long ops, unsigned long long mem,
    const char *comment, char *id_out, struct qbk_err *err)
{
	if ((passphrase == NULL) == (key_file == NULL))
		return qbk_err_set(err, QBK_E_USAGE, "give exactly one of a "
		    "new passphrase or a key file");
	return write_slot(r->store, r->id, r->keys, passphrase, key_file, 0,
	    ops, mem, comment, id_out, err);
}

int
qbk_repo_slot_remove(struct qbk_repo *r, const char *id, struct qbk_err *err)
{
	struct qbk_repo_slot_info *v;
	size_t n, i, found = (size_t)-1, usable = 0;
	char key[QBK_LAYOUT_KEY_MAX];
	int rc, opened;

	if (qbk_repo_slots(r, &v, &n, err) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].id, id) == 0)
			found = i;
		else if (strcmp(v[i].kind, "plain") != 0 &&
		    strcmp(v[i].kind, "damaged") != 0)
			usable++;
	}
	if (found == (size_t)-1) {
		free(v);
		return qbk_err_set(err, QBK_E_USAGE, "no key slot '%s' in the "
		    "repository", id);
	}
	opened = v[found].opened;
	free(v);
	/* The slot that opened this session is the only one known to work:
	 * removing it could leave only slots nobody can open (restic refuses
	 * the same).  Others may go, since that one stays. */
	if (opened && usable == 0) {
		qbk_err_set(err, QBK_E_USAGE, "refusing to remove key slot "
		    "'%s': it is the last key of the repository", id);
		qbk_err_hint(err, "add another key first with 'qbk-key add'");
		return -1;
	}
	if (opened) {
		qbk_err_set(err, QBK_E_USAGE, "refusing to remove key slot "
		    "'%s': it is the key that opened the repository", id);
		qbk_err_hint(err, "open the repository with another key (the "
		    "new passphrase or key file) to remove this one; that "
		    "also shows that the other key works");
		return -1;
	}
	qbk_layout_key(QBK_LAYOUT_KEY_SLOT, id, key);
	rc = qbk_store_delete(r->store, key, 0, err);
	return rc;
}

/* Chunks. */

void
qbk_repo_chunk_key(const uint8_t *id, char *key)
{
	char hex[2 * QBK_ID_LEN + 1];

	qbk_id_to_hex(id, hex);
	qbk_layout_key(QBK_LAYOUT_CHUNK, hex, key);
}

static int
index_add(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct qbk_repo *r = cookie;
	const char *slash = strrchr(key, '/');
	uint8_t id[QBK_ID_LEN];

	(void)st;
	(void)err;
	if (slash != NULL && qbk_id_from_hex(slash + 1, id) == 0)
		qbk_idset_add(r->index, id);
	return 0;
}

int
qbk_repo_load_index(struct qbk_repo *r, struct qbk_err *err)
{
	qbk_idset_free(r->index);
	r->index = qbk_idset_new(65536);
	if (qbk_store_list(r->store, qbk_layout_prefix(QBK_LAYOUT_CHUNK),
	    QBK_STORE_LIST_CACHED,
	    index_add, r, err) < 0) {
		qbk_err_prefix(err, "cannot list the chunks of the repository");
		return -1;
	}
	r->index_loaded = 1;
	qbk_detail("repository holds %zu chunks", qbk_idset_count(r->index));
	return 0;
}

size_t
qbk_repo_chunk_count(const struct qbk_repo *r)
{
	return r->index != NULL ? qbk_idset_count(r->index) : 0;
}

int
qbk_repo_chunk_claim(struct qbk_repo *r, const uint8_t *id)
{
	int isnew;

	pthread_mutex_lock(&r->lock);
	if (r->index == NULL)
		r->index = qbk_idset_new(65536);
	isnew = qbk_idset_add(r->index, id);
	pthread_mutex_unlock(&r->lock);
	if (!isnew) {
		char key[QBK_REPO_CHUNK_KEY_LEN];

		/* Reused: it must last as long as this backup (object
		 * lock, qbk-repository(5)). */
		qbk_repo_chunk_key(id, key);
		qbk_store_touch(r->store, key);
	}
	return isnew;
}

int
qbk_repo_chunk_put(struct qbk_repo *r, const uint8_t *id, const void *obj,
    size_t len, int replace, struct qbk_err *err)
{
	char key[QBK_REPO_CHUNK_KEY_LEN];

	qbk_repo_chunk_key(id, key);
	if (qbk_store_put(r->store, key, obj, len, QBK_STORE_F_LAZY |
	    QBK_STORE_F_RETAIN | (replace ? 0 : QBK_STORE_F_IFABSENT),
	    err) < 0) {
		qbk_err_prefix(err, "cannot store chunk");
		return -1;
	}
	return 0;
}

int
qbk_repo_chunk_get(struct qbk_repo *r, struct qbk_chunk_work *w,
    const uint8_t *id, struct qbk_buf *obj, const uint8_t **plain,
    size_t *len, struct qbk_err *err)
{
	char key[QBK_REPO_CHUNK_KEY_LEN];

	qbk_repo_chunk_key(id, key);
	if (qbk_store_get(r->store, key, (size_t)r->params.max + 1024, obj,
	    err) != 0) {
		if (err->code == QBK_E_NOTFOUND)
			qbk_err_set(err, QBK_E_NOTFOUND, "chunk '%s' is "
			    "missing from the repository", key + 8);
		return -1;
	}
	return qbk_chunk_decode(&r->codec, w, id, obj->buf, obj->len, plain,
	    len, err);
}

int
qbk_repo_chunk_check(struct qbk_repo *r, struct qbk_chunk_work *w,
    const uint8_t *id, struct qbk_err *err)
{
	struct qbk_buf obj = QBK_BUF_INIT;
	const uint8_t *plain;
	size_t len;
	int rc;

	rc = qbk_repo_chunk_get(r, w, id, &obj, &plain, &len, err);
	qbk_buf_release(&obj);
	if (rc == 0)
		return 1;
	return err->code == QBK_E_NOTFOUND || err->code == QBK_E_INTEGRITY ?
	    0 : -1;
}

int
qbk_repo_flush(struct qbk_repo *r, struct qbk_err *err)
{
	return qbk_store_flush(r->store, err);
}

/* Sealed objects: manifests and drill records. */

static void
put_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
seal_ad(const uint8_t *hdr, const char *name, struct qbk_buf *ad)
{
	qbk_buf_reset(ad);
	qbk_buf_add(ad, hdr, SEALED_HEADER);
	qbk_buf_addstr(ad, name);
}

int
qbk_repo_seal(struct qbk_repo *r, const char *name, const void *plain,
    size_t len, struct qbk_buf *out, struct qbk_err *err)
{
	struct qbk_buf ad = QBK_BUF_INIT;
	uint8_t hdr[SEALED_HEADER];
	size_t bound, clen;
	uint8_t *payload;

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, SEALED_MAGIC, 4);
	hdr[4] = 1;
	hdr[5] = 0x01;		/* zstd */
	hdr[6] = (uint8_t)r->aead;
	put_le64(hdr + 8, (uint64_t)len);
	if (r->aead != QBK_CRYPTO_AEAD_NONE)
		qbk_crypto_random(hdr + 16, QBK_CRYPTO_NONCE_LEN);
	bound = ZSTD_compressBound(len);
	qbk_buf_reset(out);
	qbk_buf_grow(out, SEALED_HEADER + bound + 32);
	memcpy(out->buf, hdr, SEALED_HEADER);
	payload = (uint8_t *)out->buf + SEALED_HEADER;
	clen = ZSTD_compress(payload, bound, plain, len, 3);
	if (ZSTD_isError(clen)) {
		qbk_buf_reset(out);
		return qbk_err_set(err, QBK_E_INTERNAL, "cannot compress: %s",
		    ZSTD_getErrorName(clen));
	}
	seal_ad(hdr, name, &ad);
	if (r->aead == QBK_CRYPTO_AEAD_NONE) {
		/* Not encrypted, but still authenticated: a keyed MAC, as
		 * for chunk objects. */
		qbk_crypto_mac(r->keys, QBK_CRYPTO_USE_META,
		    (const uint8_t *)ad.buf, ad.len, payload, clen,
		    payload + clen);
	} else if (qbk_crypto_seal(NULL, r->keys, QBK_CRYPTO_USE_META,
	    r->aead, hdr + 16, (const uint8_t *)ad.buf, ad.len, payload, clen,
	    payload, payload + clen, err) != 0) {
		qbk_buf_release(&ad);
		qbk_buf_reset(out);
		return -1;
	}
	qbk_buf_setlen(out, SEALED_HEADER + clen + QBK_CRYPTO_TAG_LEN);
	qbk_buf_release(&ad);
	return 0;
}

int
qbk_repo_unseal(struct qbk_repo *r, const char *name, const void *obj,
    size_t len, struct qbk_buf *out, struct qbk_err *err)
{
	const uint8_t *hdr = obj;
	struct qbk_buf ad = QBK_BUF_INIT, ct = QBK_BUF_INIT;
	uint8_t digest[QBK_CRYPTO_TAG_LEN];
	uint64_t plen;
	size_t taglen, clen, n;
	int rc = -1;

	qbk_buf_reset(out);
	taglen = QBK_CRYPTO_TAG_LEN;
	if (len < SEALED_HEADER + taglen || memcmp(hdr, SEALED_MAGIC, 4) != 0 ||
	    hdr[4] != 1 || hdr[5] != 0x01 || hdr[7] != 0)
		return qbk_err_set(err, QBK_E_INTEGRITY, "'%s' is not a "
		    "sealed qbk object", name);
	if (hdr[6] != (uint8_t)r->aead)
		return qbk_err_set(err, QBK_E_INTEGRITY, "'%s' is sealed with "
		    "another algorithm than the repository's", name);
	plen = get_le64(hdr + 8);
	if (plen > SEALED_MAX)
		return qbk_err_set(err, QBK_E_INTEGRITY, "'%s' claims %llu "
		    "bytes", name, (unsigned long long)plen);
	clen = len - SEALED_HEADER - taglen;
	seal_ad(hdr, name, &ad);
	qbk_buf_add(&ct, hdr + SEALED_HEADER, clen);
	if (r->aead == QBK_CRYPTO_AEAD_NONE) {
		qbk_crypto_mac(r->keys, QBK_CRYPTO_USE_META,
		    (const uint8_t *)ad.buf, ad.len, (const uint8_t *)ct.buf,
		    clen, digest);
		if (!qbk_crypto_equal(digest, hdr + SEALED_HEADER + clen,
		    QBK_CRYPTO_TAG_LEN)) {
			qbk_err_set(err, QBK_E_INTEGRITY, "'%s' is damaged: "
			    "authentication failed", name);
			goto out;
		}
	} else if (qbk_crypto_open(NULL, r->keys, QBK_CRYPTO_USE_META, r->aead,
	    hdr + 16, (const uint8_t *)ad.buf, ad.len,
	    (const uint8_t *)ct.buf, clen, hdr + SEALED_HEADER + clen,
	    (uint8_t *)ct.buf, err) != 0) {
		qbk_err_set(err, QBK_E_INTEGRITY, "'%s' is damaged or was "
		    "not written by this repository: authentication failed",
		    name);
		goto out;
	}
	qbk_buf_grow(out, (size_t)plen);
	n = ZSTD_decompress(out->buf, (size_t)plen + 1, ct.buf, clen);
	if (ZSTD_isError(n) || n != plen) {
		qbk_err_set(err, QBK_E_INTEGRITY, "'%s' is damaged: bad "
		    "compressed data", name);
		qbk_buf_reset(out);
		goto out;
	}
	qbk_buf_setlen(out, n);
	rc = 0;
out:
	qbk_buf_release(&ad);
	qbk_buf_release(&ct);
	return rc;
}

static int
write_sealed(struct qbk_repo *r, enum qbk_layout_class cls, const char *id,
    const struct qbk_buf *json, struct qbk_err *err)
{
	struct qbk_buf obj = QBK_BUF_INIT;
	/* Manifests are retained (object lock), drill records not. */
	unsigned keep = cls == QBK_LAYOUT_MANIFEST ? QBK_STORE_F_RETAIN : 0;
	char key[QBK_LAYOUT_KEY_MAX], copy[QBK_LAYOUT_KEY_MAX];
	int rc = -1;

	qbk_layout_key(cls, id, key);
	qbk_layout_key(cls == QBK_LAYOUT_DRILL ? QBK_LAYOUT_DRILL_COPY :
	    QBK_LAYOUT_MANIFEST_COPY, id, copy);
	if (qbk_repo_seal(r, key, json->buf, json->len, &obj, err) != 0)
		goto out;
	/* Chunks first (flush), then the twin, then the manifest itself: the
	 * commit point.  A crash before the last put leaves no visible
	 * backup; prune removes the orphan twin.  Both hold the same bytes
	 * (sealed once, so no nonce is used twice). */
	if (qbk_store_flush(r->store, err) != 0 ||
	    qbk_store_put(r->store, copy, obj.buf, obj.len, keep, err) != 0 ||
	    qbk_store_put(r->store, key, obj.buf, obj.len, keep, err) != 0)
		goto out;
	rc = 0;
out:
	qbk_buf_release(&obj);
	return rc;
}

static int
read_sealed(struct qbk_repo *r, enum qbk_layout_class cls, const char *id,
    struct qbk_buf *json, struct qbk_err *err)
{
	struct qbk_buf obj = QBK_BUF_INIT;
	struct qbk_err e2 = QBK_ERR_INIT;
	char key[QBK_LAYOUT_KEY_MAX], copy[QBK_LAYOUT_KEY_MAX];
	int rc = -1;

	qbk_layout_key(cls, id, key);
	qbk_layout_key(cls == QBK_LAYOUT_DRILL ? QBK_LAYOUT_DRILL_COPY :
	    QBK_LAYOUT_MANIFEST_COPY, id, copy);
	if (qbk_store_get(r->store, key, SEALED_MAX, &obj, err) != 0)
		goto out;
	if (qbk_repo_unseal(r, key, obj.buf, obj.len, json, err) == 0) {
		rc = 0;
		goto out;
	}
	if (qbk_store_get(r->store, copy, SEALED_MAX, &obj, &e2) == 0 &&
	    qbk_repo_unseal(r, key, obj.buf, obj.len, json, &e2) == 0) {
		qbk_warn("%s; read its copy '%s' instead", err->msg, copy);
		rc = 0;
	}
out:
	qbk_buf_release(&obj);
	return rc;
}

int
qbk_repo_manifest_write(struct qbk_repo *r, const struct qbk_manifest *m,
    struct qbk_err *err)
{
	struct qbk_buf json = QBK_BUF_INIT;
	int rc;

	if (qbk_manifest_to_json(m, &json, err) != 0) {
		qbk_buf_release(&json);
		return -1;
	}
	rc = write_sealed(r, QBK_LAYOUT_MANIFEST, m->backup_id, &json, err);
	qbk_buf_release(&json);
	return rc;
}

int
qbk_repo_manifest_read(struct qbk_repo *r, const char *id,
    struct qbk_manifest **out, struct qbk_err *err)
{
	struct qbk_buf json = QBK_BUF_INIT;
	int rc = -1;

	*out = NULL;
	if (!qbk_manifest_id_valid(id))
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a backup id",
		    id);
	if (read_sealed(r, QBK_LAYOUT_MANIFEST, id, &json, err) != 0) {
		if (err->code == QBK_E_NOTFOUND)
			qbk_err_set(err, QBK_E_NOTFOUND, "no backup '%s' in "
			    "the repository", id);
		goto out;
	}
	if (qbk_manifest_from_json(json.buf, json.len, out, err) != 0) {
		qbk_err_prefix(err, "manifest of backup '%s'", id);
		goto out;
	}
	if (strcmp((*out)->backup_id, id) != 0) {
		qbk_manifest_free(*out);
		*out = NULL;
		qbk_err_set(err, QBK_E_INTEGRITY, "manifest 'backups/%s' "
		    "describes another backup", id);
		goto out;
	}
	rc = 0;
out:
	qbk_buf_release(&json);
	return rc;
}

int
qbk_repo_manifest_delete(struct qbk_repo *r, const char *id,
    struct qbk_err *err)
{
	char key[QBK_LAYOUT_KEY_MAX];

	if (!qbk_manifest_id_valid(id))
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a backup id",
		    id);
	qbk_layout_key(QBK_LAYOUT_MANIFEST, id, key);
	if (qbk_store_delete(r->store, key, 0, err) != 0)
		return -1;
	qbk_layout_key(QBK_LAYOUT_MANIFEST_COPY, id, key);
	return qbk_store_delete(r->store, key, 0, err);
}

int
qbk_repo_ids_under(struct qbk_repo *r, enum qbk_layout_class cls,
    char ***out, size_t *n, struct qbk_err *err)
{
	const char *prefix = qbk_layout_prefix(cls);
	struct slot_list l;
	size_t i, plen = strlen(prefix);

	*out = NULL;
	*n = 0;
	if (list_sorted(r->store, prefix, &l, err) != 0)
		return -1;
	*out = qbk_xcalloc(l.n ? l.n : 1, sizeof(char *));
	for (i = 0; i < l.n; i++)
		if (qbk_manifest_id_valid(l.keys[i] + plen))
			(*out)[(*n)++] = qbk_xstrdup(l.keys[i] + plen);
	qbk_repo_free_ids(l.keys, l.n);
	return 0;
}

int
qbk_repo_backup_ids(struct qbk_repo *r, char ***out, size_t *n,
    struct qbk_err *err)
{
	return qbk_repo_ids_under(r, QBK_LAYOUT_MANIFEST, out, n, err);
}

int
qbk_repo_drill_write(struct qbk_repo *r, const struct qbk_manifest_drill *d,
    struct qbk_err *err)
{
	struct qbk_buf json = QBK_BUF_INIT;
	int rc;

	if (qbk_manifest_drill_to_json(d, &json, err) != 0) {
		qbk_buf_release(&json);
		return -1;
	}
	rc = write_sealed(r, QBK_LAYOUT_DRILL, d->drill_id, &json, err);
	qbk_buf_release(&json);
	return rc;
}

int
qbk_repo_drill_read(struct qbk_repo *r, const char *id,
    struct qbk_manifest_drill **out, struct qbk_err *err)
{
	struct qbk_buf json = QBK_BUF_INIT;
	int rc = -1;

	*out = NULL;
	if (!qbk_manifest_id_valid(id))
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not a drill id",
		    id);
	if (read_sealed(r, QBK_LAYOUT_DRILL, id, &json, err) == 0 &&
	    qbk_manifest_drill_from_json(json.buf, json.len, out, err) == 0)
		rc = 0;
	qbk_buf_release(&json);
	return rc;
}

int
qbk_repo_drill_ids(struct qbk_repo *r, char ***out, size_t *n,
    struct qbk_err *err)
{
	return qbk_repo_ids_under(r, QBK_LAYOUT_DRILL, out, n, err);
}

void
qbk_repo_free_ids(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* Chunk listing, existence and removal, orphan twins, stale leftovers. */

struct chunk_lister {
	int (*fn)(void *, const uint8_t *, const struct qbk_repo_chunk_stat *,
	    struct qbk_err *);
	void *cookie;
};

static int
list_chunk(void *cookie, const char *key, const struct qbk_store_stat *st,
    struct qbk_err *err)
{
	struct chunk_lister *cl = cookie;
	struct qbk_repo_chunk_stat cs;
	uint8_t id[QBK_ID_LEN];

	if (qbk_layout_chunk_id(key, id) != 0)
		return 0;	/* not a chunk object: not ours to judge */
	if (st != NULL) {
		cs.size = st->size;
		cs.mtime = st->mtime;
	}
	return cl->fn(cl->cookie, id, st != NULL ? &cs : NULL, err);
}

int
qbk_repo_chunk_list(struct qbk_repo *r,
    int (*fn)(void *, const uint8_t *, const struct qbk_repo_chunk_stat *,
    struct qbk_err *), void *cookie, struct qbk_err *err)
{
	struct chunk_lister cl = { fn, cookie };

	return qbk_store_list(r->store, qbk_layout_prefix(QBK_LAYOUT_CHUNK),
	    QBK_STORE_LIST_STAT, list_chunk, &cl, err);
}

int
qbk_repo_chunk_exists(struct qbk_repo *r, const uint8_t *id,
    struct qbk_err *err)
{
	char key[QBK_REPO_CHUNK_KEY_LEN];

	qbk_repo_chunk_key(id, key);
	return qbk_store_exists(r->store, key, err);
}

int
qbk_repo_chunk_delete(struct qbk_repo *r, const uint8_t *id,
    struct qbk_err *err)
{
	char key[QBK_REPO_CHUNK_KEY_LEN];

	qbk_repo_chunk_key(id, key);
	return qbk_store_delete(r->store, key, QBK_STORE_F_LAZY, err);
}

int
qbk_repo_manifest_orphans(struct qbk_repo *r, int remove, size_t *n,
    struct qbk_err *err)
{
	struct slot_list l;
	enum qbk_layout_class cls;
	char id[QBK_LAYOUT_KEY_MAX], key[QBK_LAYOUT_KEY_MAX];
	size_t i;
	int e, rc = -1;

	*n = 0;
	if (list_sorted(r->store, qbk_layout_prefix(QBK_LAYOUT_MANIFEST), &l,
	    err) != 0)
		return -1;
	for (i = 0; i < l.n; i++) {
		if (qbk_layout_parse(l.keys[i], &cls, id) != 0 ||
		    cls != QBK_LAYOUT_MANIFEST_COPY ||
		    qbk_layout_key(QBK_LAYOUT_MANIFEST, id, key) != 0)
			continue;
		if ((e = qbk_store_exists(r->store, key, err)) < 0)
			goto out;
		if (e == 0) {
			(*n)++;
			if (remove && qbk_store_delete(r->store, l.keys[i], 0,
			    err) != 0)
				goto out;
		}
	}
	rc = 0;
out:
	qbk_repo_free_ids(l.keys, l.n);
	return rc;
}

int
qbk_repo_remove_stale(struct qbk_repo *r, int64_t max_age, size_t *removed,
    struct qbk_err *err)
{
	return qbk_store_remove_stale(r->store, (time_t)max_age, removed, err);
}

int
qbk_repo_sealed_get(struct qbk_repo *r, enum qbk_layout_class cls,
    const char *id, size_t max, struct qbk_buf *obj, struct qbk_err *err)
{
	char key[QBK_LAYOUT_KEY_MAX];

	if (qbk_layout_key(cls, id, key) != 0)
		return qbk_err_set(err, QBK_E_USAGE, "'%s' is not an object "
		    "id", id);
	return qbk_store_get(r->store, key, max, obj, err);
}

/* Locks. */

int
qbk_repo_lock(struct qbk_repo *r, enum qbk_lock_kind kind,
    const struct qbk_lock_opts *o, struct qbk_lock **out, struct qbk_err *err)
{
	return qbk_lock_acquire(r->store, kind, o, out, err);
}

int
qbk_repo_locks(struct qbk_repo *r,
    int (*fn)(void *, const struct qbk_lock_info *), void *cookie,
    struct qbk_err *err)
{
	return qbk_lock_list(r->store, fn, cookie, err);
}
