#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/qbk.h"
#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_fs.h"
#include "common/qbk_idset.h"
#include "common/qbk_time.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_manifest.h"
#include "repo/qbk_repo.h"
#include "repo/qbk_repo_internal.h"
#include "storage/qbk_store.h"
#include "testutil.h"

#define T0	INT64_C(1795299300)	/* 2026-11-21T22:15:00Z */
#define PASS1	"correct horse battery staple"
#define PASS2	"tr0ub4dor&3 rotated"

struct fixture {
	char *dir;		/* scratch folder */
	char *repo;		/* <dir>/repo */
	char *kf;		/* <dir>/key (not created by setup) */
	char *kf2;		/* <dir>/key2 (not created by setup) */
};

static char *
path2(const char *a, const char *b)
{
	struct qbk_buf p = QBK_BUF_INIT;

	qbk_buf_addf(&p, "%s/%s", a, b);
	return qbk_buf_detach(&p, NULL);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = tu_tmpdir("repo")) == NULL)
		return -1;
	f->repo = path2(f->dir, "repo");
	f->kf = path2(f->dir, "key");
	f->kf2 = path2(f->dir, "key2");
	tu_log_capture();
	tu_log_reset();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	free(f->repo);
	free(f->kf);
	free(f->kf2);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

/* Create a repository at ${loc} with cheap Argon2id. */
static int
create(const char *loc, enum qbk_crypto_aead aead, const char *pass,
    const char *kf, char *id, struct qbk_err *err)
{
	struct qbk_repo_create_opts o;

	memset(&o, 0, sizeof(o));
	o.location = loc;
	o.aead = aead;
	o.zstd_level = 3;
	o.passphrase = pass;
	o.key_file = kf;
	o.opslimit = QBK_CRYPTO_PWHASH_OPSLIMIT_MIN;
	o.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;
	o.comment = "first key";
	return qbk_repo_create(&o, id, err);
}

static struct qbk_repo *
open_pass(const char *loc, const char *pass)
{
	struct qbk_repo_secret s = { pass, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo *r = NULL;

	if (qbk_repo_open(loc, &s, &r, &err) != 0) {
		print_error("open: %s\n", err.msg);
		fail();
	}
	return r;
}

static struct qbk_repo *
open_kf(const char *loc, const char *kf)
{
	struct qbk_repo_secret s = { NULL, kf };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo *r = NULL;

	if (qbk_repo_open(loc, &s, &r, &err) != 0) {
		print_error("open: %s\n", err.msg);
		fail();
	}
	return r;
}

static void
make_keyfile(const char *path)
{
	struct qbk_crypto_keyfile *kf = NULL;
	struct qbk_err err = QBK_ERR_INIT;

	assert_int_equal(qbk_crypto_keyfile_generate(&kf, &err), 0);
	assert_int_equal(qbk_crypto_keyfile_write(kf, path, &err), 0);
	qbk_crypto_keyfile_free(kf);
}

static int
exists(const char *dir, const char *rel)
{
	char *p = path2(dir, rel);
	struct stat st;
	int rc = stat(p, &st) == 0;

	free(p);
	return rc;
}

static void
read_all(const char *path, struct qbk_buf *out)
{
	struct qbk_err err = QBK_ERR_INIT;

	assert_int_equal(qbk_fs_read_file(path, (size_t)1 << 30, out, &err), 0);
}

static void
write_all(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* XOR the byte at ${off} of the file ${path} with ${x}. */
static void
flip_byte(const char *path, off_t off, uint8_t x)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= x;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	assert_int_equal(close(fd), 0);
}

static void
copy_file(const char *from, const char *to)
{
	struct qbk_buf b = QBK_BUF_INIT;

	read_all(from, &b);
	write_all(to, b.buf, b.len);
	qbk_buf_release(&b);
}

static void
move(const char *dir, const char *from, const char *to)
{
	char *a = path2(dir, from), *b = path2(dir, to);

	assert_int_equal(rename(a, b), 0);
	free(a);
	free(b);
}

static int
contains(const void *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp((const char *)hay + i, needle, n) == 0)
			return 1;
	return 0;
}

static struct qbk_manifest *
make_manifest(int64_t t)
{
	struct qbk_manifest *m = qbk_manifest_new();
	struct qbk_manifest_snapshot *s;
	uint8_t id[QBK_ID_LEN];
	unsigned i;

	assert_int_equal(qbk_manifest_make_id(t, m->backup_id), 0);
	m->start = t;
	m->end = t + 5;
	qbk_manifest_strset(&m->host, "db1");
	qbk_manifest_strset(&m->tool_version, "qbk " QBK_VERSION);
	qbk_manifest_add_source(m, "http://qdrant:6333");
	qbk_manifest_add_tag(m, "env", "test");
	m->kind = QBK_MANIFEST_KIND_FULL_STORAGE;
	s = qbk_manifest_add_snapshot(m, NULL, QBK_MANIFEST_SNAP_FULL);
	qbk_manifest_strset(&s->node_url, "http://qdrant:6333");
	qbk_manifest_strset(&s->name, "full.snapshot");
	memset(s->sha256, 'a', QBK_MANIFEST_HEX_LEN);
	s->sha256[QBK_MANIFEST_HEX_LEN] = '\0';
	s->start = t;
	s->end = t + 1;
	for (i = 0; i < 5; i++) {
		memset(id, (int)(i + 1), sizeof(id));
		id[0] = (uint8_t)t;
		qbk_manifest_snapshot_add_chunk(s, id, 1000 + i);
	}
	s->bytes = s->size;
	qbk_manifest_compute_totals(m);
	return m;
}

static char *
manifest_text(const struct qbk_manifest *m)
{
	struct qbk_buf b = QBK_BUF_INIT;
	struct qbk_err err = QBK_ERR_INIT;

	assert_int_equal(qbk_manifest_to_json(m, &b, &err), 0);
	return qbk_buf_detach(&b, NULL);
}

static size_t
count_slots(struct qbk_repo *r)
{
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	size_t n = 0;

	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	free(v);
	return n;
}

/*
 * Creating and opening.
 */

static void
create_passphrase(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_buf cfg = QBK_BUF_INIT;
	char id[QBK_REPO_ID_HEX + 1], host[256], *p;
	const struct qbk_chunk_params *cp;
	uint64_t gear[256];
	struct qbk_repo *r;
	size_t n, i;
	int64_t t;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    id, &err), 0);
	assert_int_equal(strlen(id), QBK_REPO_ID_HEX);
	assert_int_equal(strspn(id, "0123456789abcdef"), QBK_REPO_ID_HEX);

	/* The config is plaintext JSON naming the choices. */
	p = path2(f->repo, "config");
	read_all(p, &cfg);
	free(p);
	assert_non_null(strstr(cfg.buf, id));
	assert_non_null(strstr(cfg.buf, "\"xchacha20-poly1305\""));
	assert_non_null(strstr(cfg.buf, "\"zstd:3\""));
	assert_non_null(strstr(cfg.buf, "\"fastcdc\""));
	assert_null(strstr(cfg.buf, PASS1));
	qbk_buf_release(&cfg);

	r = open_pass(f->repo, PASS1);
	assert_string_equal(qbk_repo_id(r), id);
	assert_int_equal(qbk_repo_aead(r), QBK_CRYPTO_AEAD_XCHACHA);
	assert_int_equal(qbk_repo_default_compression(r), 3);
	assert_int_equal(qbk_repo_codec(r)->zstd_level, 3);
	qbk_repo_set_compression(r, 0);
	assert_int_equal(qbk_repo_codec(r)->zstd_level, 0);
	assert_int_equal(qbk_repo_default_compression(r), 3);
	cp = qbk_repo_chunk_params(r);
	assert_int_equal(cp->min, QBK_CHUNK_MIN_DEFAULT);
	assert_int_equal(cp->avg, QBK_CHUNK_AVG_DEFAULT);
	assert_int_equal(cp->max, QBK_CHUNK_MAX_DEFAULT);
	assert_int_equal(qbk_repo_codec(r)->max_plain, QBK_CHUNK_MAX_DEFAULT);
	assert_non_null(qbk_repo_store(r));
	assert_string_equal(qbk_store_location(qbk_repo_store(r)), f->repo);
	memcpy(gear, qbk_repo_gear(r), sizeof(gear));
	for (i = 0; i < 256 && gear[i] == 0; i++)
		;
	assert_true(i < 256);

	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].kind, "passphrase");
	assert_int_equal(v[0].opened, 1);
	assert_int_equal(strlen(v[0].id), QBK_REPO_SLOT_ID_LEN);
	assert_true(exists(f->repo, "keys") && v[0].id[0] != '\0');
	assert_string_equal(v[0].comment, "first key");
	assert_int_equal(qbk_time_parse(v[0].created, &t), 0);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(v[0].host) - 1] = '\0';
	assert_string_equal(v[0].host, host);
	p = path2("keys", v[0].id);
	assert_true(exists(f->repo, p));
	free(p);
	free(v);
	qbk_repo_close(r);

	/* The same keys after reopening: same gear table. */
	r = open_pass(f->repo, PASS1);
	assert_memory_equal(qbk_repo_gear(r), gear, sizeof(gear));
	qbk_repo_close(r);
	qbk_repo_close(NULL);
}

static void
create_custom_params(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_create_opts o;
	struct qbk_err err = QBK_ERR_INIT;
	const struct qbk_chunk_params *cp;
	struct qbk_repo *r;

	memset(&o, 0, sizeof(o));
	o.location = f->repo;
	o.aead = QBK_CRYPTO_AEAD_XCHACHA;
	o.zstd_level = 0;
	o.passphrase = PASS1;
	o.opslimit = QBK_CRYPTO_PWHASH_OPSLIMIT_MIN;
	o.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;
	o.chunk_min = 4096;
	o.chunk_avg = 16384;
	o.chunk_max = 65536;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	cp = qbk_repo_chunk_params(r);
	assert_int_equal(cp->min, 4096);
	assert_int_equal(cp->avg, 16384);
	assert_int_equal(cp->max, 65536);
	assert_int_equal(qbk_repo_default_compression(r), 0);
	qbk_repo_close(r);
}

static void
create_refuses_existing(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	char id[QBK_REPO_ID_HEX + 1], id2[QBK_REPO_ID_HEX + 1] = "";
	struct qbk_repo *r;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    id, &err), 0);
	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS2, NULL,
	    id2, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "exists already"));
	assert_non_null(strstr(err.msg, f->repo));
	assert_string_equal(id2, "");
	/* Untouched: the old passphrase opens it, the new one does not, and
	 * no key slot was added. */
	r = open_pass(f->repo, PASS1);
	assert_string_equal(qbk_repo_id(r), id);
	assert_int_equal(count_slots(r), 1);
	qbk_repo_close(r);
	/* Nor with another algorithm or none. */
	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_NONE, NULL, NULL,
	    NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
}

static void
create_bad_options(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_create_opts o;
	struct qbk_err err = QBK_ERR_INIT;

	memset(&o, 0, sizeof(o));
	o.location = f->repo;
	o.aead = QBK_CRYPTO_AEAD_XCHACHA;
	o.opslimit = QBK_CRYPTO_PWHASH_OPSLIMIT_MIN;
	o.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;

	/* Encrypted without a secret. */
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "no passphrase or key file"));
	assert_false(exists(f->repo, "config"));

	/* An empty passphrase. */
	o.passphrase = "";
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_false(exists(f->repo, "config"));

	/* Argon2id costs out of range. */
	o.passphrase = PASS1;
	o.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MAX * 2;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_false(exists(f->repo, "config"));
	o.memlimit = QBK_CRYPTO_PWHASH_MEMLIMIT_MIN;

	/* Chunker sizes that make no sense. */
	o.chunk_min = 65536;
	o.chunk_avg = 16384;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_false(exists(f->repo, "config"));
	o.chunk_min = o.chunk_avg = 0;

	/* A zstd level the config could not be read back with. */
	o.zstd_level = 20;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_false(exists(f->repo, "config"));
	o.zstd_level = -1;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_false(exists(f->repo, "config"));
	o.zstd_level = 19;

	/* An algorithm that does not exist. */
	o.aead = (enum qbk_crypto_aead)7;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_false(exists(f->repo, "config"));

	/* A missing key file. */
	o.aead = QBK_CRYPTO_AEAD_XCHACHA;
	o.passphrase = NULL;
	o.key_file = f->kf;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_false(exists(f->repo, "config"));

	/* After all that, a good one works. */
	o.key_file = NULL;
	o.passphrase = PASS1;
	assert_int_equal(qbk_repo_create(&o, NULL, &err), 0);
	assert_true(exists(f->repo, "config"));
}

static void
create_keyfile(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_secret s = { NULL, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_repo *r = NULL;
	size_t n;

	make_keyfile(f->kf);
	make_keyfile(f->kf2);
	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, NULL, f->kf,
	    NULL, &err), 0);
	r = open_kf(f->repo, f->kf);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].kind, "keyfile");
	assert_int_equal(v[0].opened, 1);
	free(v);
	qbk_repo_close(r);

	/* Another key file does not open it. */
	s.key_file = f->kf2;
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_null(r);
	assert_int_equal(err.code, QBK_E_CRYPTO);

	/* A passphrase cannot open a repository that has only key-file
	 * slots: that is a wrong secret, not a missing one. */
	s.key_file = NULL;
	s.passphrase = PASS1;
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);

	/* A key file that is not there, or is not a key file. */
	s.passphrase = NULL;
	s.key_file = "/nonexistent/qbk/key";
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_int_equal(tu_write_file(f->kf2, "not a key\n"), 0);
	s.key_file = f->kf2;
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_null(r);
}

static void
create_aesgcm(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf cfg = QBK_BUF_INIT;
	struct qbk_repo *r;
	char *p;

	if (qbk_crypto_aead_check(QBK_CRYPTO_AEAD_AESGCM, &err) != 0) {
		/* Not in this build: create must refuse it the same way. */
		assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_AESGCM, PASS1,
		    NULL, NULL, &err), -1);
		assert_int_equal(err.code, QBK_E_CONFIG);
		return;
	}
	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_AESGCM, PASS1, NULL,
	    NULL, &err), 0);
	p = path2(f->repo, "config");
	read_all(p, &cfg);
	free(p);
	assert_non_null(strstr(cfg.buf, "\"aes256-gcm\""));
	qbk_buf_release(&cfg);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_aead(r), QBK_CRYPTO_AEAD_AESGCM);
	qbk_repo_close(r);
}

static void
create_none_plain(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_secret s = { PASS1, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_buf cfg = QBK_BUF_INIT;
	struct qbk_repo *r = NULL;
	size_t n;
	char *p;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_NONE, NULL, NULL,
	    NULL, &err), 0);
	p = path2(f->repo, "config");
	read_all(p, &cfg);
	free(p);
	assert_non_null(strstr(cfg.buf, "\"encryption\": \"none\""));
	qbk_buf_release(&cfg);

	/* Opens without any secret ... */
	assert_int_equal(qbk_repo_open(f->repo, NULL, &r, &err), 0);
	assert_int_equal(qbk_repo_aead(r), QBK_CRYPTO_AEAD_NONE);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].kind, "plain");
	assert_int_equal(v[0].opened, 1);
	free(v);
	qbk_repo_close(r);
	r = NULL;
	/* But not with a secret: whoever holds one expects an encrypted
	 * repository, and a plain slot may be anybody's. */
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_null(r);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	assert_non_null(strstr(err.msg, "only plain key slots"));
	assert_non_null(strstr(err.hint, "--encryption none"));
}

static void
open_errors(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_secret s = { NULL, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo *r = (struct qbk_repo *)f;
	char *p;

	/* No folder there: "no repository", a configuration error (exit 2;
	 * tests/cli/t2000-backup.sh relies on it). */
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_null(r);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "no repository at"));
	assert_non_null(strstr(err.msg, f->repo));
	assert_non_null(strstr(err.hint, "qbk-init"));

	/* A folder without a config is not a repository either. */
	assert_int_equal(mkdir(f->repo, 0700), 0);
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_CONFIG);
	assert_non_null(strstr(err.msg, "no repository at"));
	assert_int_equal(rmdir(f->repo), 0);

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);

	/* The wrong passphrase. */
	s.passphrase = PASS2;
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_null(r);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	assert_non_null(strstr(err.msg, "wrong passphrase"));

	/* No secret at all: a usage error that says what to set. */
	assert_int_equal(qbk_repo_open(f->repo, NULL, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.hint, "QBK_PASSPHRASE"));
	s.passphrase = NULL;
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);

	/* A damaged config. */
	p = path2(f->repo, "config");
	assert_int_equal(tu_write_file(p, "{\"format\": 1,"), 0);
	s.passphrase = PASS1;
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	/* A config from the future. */
	assert_int_equal(tu_write_file(p, "{\"format\": 2, \"id\": "
	    "\"0123456789abcdef0123456789abcdef\", \"chunker\": {\"algorithm\": "
	    "\"fastcdc\", \"min\": 16384, \"avg\": 65536, \"max\": 262144}, "
	    "\"compression\": \"none\", \"encryption\": \"none\"}"), 0);
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "format 2"));
	/* A compression no qbk writes. */
	assert_int_equal(tu_write_file(p, "{\"format\": 1, \"id\": "
	    "\"0123456789abcdef0123456789abcdef\", \"chunker\": {\"algorithm\": "
	    "\"fastcdc\", \"min\": 16384, \"avg\": 65536, \"max\": 262144}, "
	    "\"compression\": \"zstd:99\", \"encryption\": \"none\"}"), 0);
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_non_null(strstr(err.msg, "compression"));
	assert_null(r);
	free(p);
}

/* Every file 0600 and every folder 0700 under ${path}. */
static void
check_modes(const char *path, size_t *files, size_t *dirs)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	assert_int_equal(lstat(path, &st), 0);
	if (S_ISDIR(st.st_mode)) {
		if ((st.st_mode & 07777) != 0700)
			print_error("folder '%s' has mode %o\n", path,
			    (unsigned)(st.st_mode & 07777));
		assert_int_equal(st.st_mode & 07777, 0700);
		(*dirs)++;
		assert_non_null(d = opendir(path));
		while ((de = readdir(d)) != NULL) {
			char *p;

			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			p = path2(path, de->d_name);
			check_modes(p, files, dirs);
			free(p);
		}
		closedir(d);
		return;
	}
	assert_true(S_ISREG(st.st_mode));
	if ((st.st_mode & 07777) != 0600)
		print_error("file '%s' has mode %o\n", path,
		    (unsigned)(st.st_mode & 07777));
	assert_int_equal(st.st_mode & 07777, 0600);
	(*files)++;
}

static void
modes(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = make_manifest(T0);
	struct qbk_manifest_drill *d = qbk_manifest_drill_new();
	struct qbk_chunk_work *w = NULL;
	const uint8_t *obj;
	uint8_t id[QBK_ID_LEN], data[3000];
	struct qbk_repo *r;
	size_t len, files = 0, dirs = 0;
	mode_t old = umask(0);	/* so that no mask hides a loose mode */

	make_keyfile(f->kf);
	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_slot_add(r, NULL, f->kf, 0, 0, NULL, NULL,
	    &err), 0);
	assert_int_equal(qbk_chunk_work_new(qbk_repo_chunk_params(r)->max, &w,
	    &err), 0);
	memset(data, 'x', sizeof(data));
	qbk_chunk_id(qbk_repo_codec(r), data, sizeof(data), id);
	assert_int_equal(qbk_chunk_encode(qbk_repo_codec(r), w, data,
	    sizeof(data), id, &obj, &len, NULL, &err), 0);
	assert_int_equal(qbk_repo_chunk_put(r, id, obj, len, 0, &err), 0);
	assert_int_equal(qbk_repo_manifest_write(r, m, &err), 0);
	assert_int_equal(qbk_manifest_make_id(T0 + 60, d->drill_id), 0);
	memcpy(d->backup_id, m->backup_id, sizeof(d->backup_id));
	qbk_manifest_strset(&d->level, "quick");
	qbk_manifest_strset(&d->scenario, "collection");
	qbk_manifest_strset(&d->host, "h");
	qbk_manifest_strset(&d->tool_version, "qbk " QBK_VERSION);
	d->start = d->end = T0 + 60;
	d->pass = 1;
	assert_int_equal(qbk_repo_drill_write(r, d, &err), 0);
	qbk_repo_close(r);
	umask(old);

	check_modes(f->repo, &files, &dirs);
	/* config, 2 slots, 1 chunk, manifest and copy, drill and copy. */
	assert_int_equal(files, 8);
	/* repo, keys, data, data/xx, backups, drills. */
	assert_int_equal(dirs, 6);
	qbk_chunk_work_free(w);
	qbk_manifest_free(m);
	qbk_manifest_drill_free(d);
}

/*
 * Chunks.
 */

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void
put_chunk(struct qbk_repo *r, struct qbk_chunk_work *w, const uint8_t *data,
    size_t len, uint8_t *id)
{
	struct qbk_err err = QBK_ERR_INIT;
	const uint8_t *obj;
	size_t olen;

	qbk_chunk_id(qbk_repo_codec(r), data, len, id);
	assert_int_equal(qbk_repo_chunk_claim(r, id), 1);
	assert_int_equal(qbk_chunk_encode(qbk_repo_codec(r), w, data, len, id,
	    &obj, &olen, NULL, &err), 0);
	assert_int_equal(qbk_repo_chunk_put(r, id, obj, olen, 0, &err), 0);
}

static void
chunk_round_trip(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf obj = QBK_BUF_INIT, saved = QBK_BUF_INIT;
	struct qbk_chunk_work *w = NULL;
	static uint8_t data[100000];
	uint8_t id[QBK_ID_LEN], missing[QBK_ID_LEN];
	char key[QBK_REPO_CHUNK_KEY_LEN], hex[2 * QBK_ID_LEN + 1], *p;
	const uint8_t *plain;
	struct qbk_repo *r;
	size_t len;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_chunk_work_new(qbk_repo_chunk_params(r)->max, &w,
	    &err), 0);
	fill(data, sizeof(data), 7);
	assert_int_equal(qbk_repo_chunk_count(r), 0);
	put_chunk(r, w, data, sizeof(data), id);
	assert_int_equal(qbk_repo_chunk_claim(r, id), 0);
	assert_int_equal(qbk_repo_chunk_count(r), 1);
	assert_int_equal(qbk_repo_flush(r, &err), 0);

	/* Stored where qbk-repository(5) says. */
	qbk_repo_chunk_key(id, key);
	qbk_id_to_hex(id, hex);
	assert_int_equal(strncmp(key, "data/", 5), 0);
	assert_int_equal(strncmp(key + 5, hex, 2), 0);
	assert_int_equal(key[7], '/');
	assert_string_equal(key + 8, hex);
	assert_true(exists(f->repo, key));

	assert_int_equal(qbk_repo_chunk_get(r, w, id, &obj, &plain, &len,
	    &err), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(plain, data, len);
	assert_int_equal(qbk_repo_chunk_check(r, w, id, &err), 1);

	/* A chunk that is not there. */
	memset(missing, 0x5a, sizeof(missing));
	assert_int_equal(qbk_repo_chunk_get(r, w, missing, &obj, &plain, &len,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "missing"));
	qbk_err_clear(&err);
	assert_int_equal(qbk_repo_chunk_check(r, w, missing, &err), 0);
	assert_int_equal(err.code, QBK_E_NOTFOUND);

	/* A damaged chunk is found, and is not replaced by a plain put
	 * (content addressed: present means stored) but by a replacing
	 * one (qbk-backup --type full). */
	p = path2(f->repo, key);
	read_all(p, &saved);
	flip_byte(p, (off_t)saved.len / 2, 0x40);
	qbk_err_clear(&err);
	assert_int_equal(qbk_repo_chunk_check(r, w, id, &err), 0);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_int_equal(qbk_repo_chunk_get(r, w, id, &obj, &plain, &len,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	assert_int_equal(qbk_repo_chunk_put(r, id, saved.buf, saved.len, 0,
	    &err), 0);
	assert_int_equal(qbk_repo_chunk_check(r, w, id, &err), 0);
	assert_int_equal(qbk_repo_chunk_put(r, id, saved.buf, saved.len, 1,
	    &err), 0);
	/* (Lazy puts become visible at the latest with the flush.) */
	assert_int_equal(qbk_repo_flush(r, &err), 0);
	assert_int_equal(qbk_repo_chunk_check(r, w, id, &err), 1);

	/* A chunk object stored under another id is rejected. */
	qbk_repo_chunk_key(missing, key);
	assert_int_equal(qbk_repo_chunk_put(r, missing, saved.buf, saved.len, 0,
	    &err), 0);
	assert_int_equal(qbk_repo_flush(r, &err), 0);
	assert_int_equal(qbk_repo_chunk_check(r, w, missing, &err), 0);
	assert_int_equal(err.code, QBK_E_INTEGRITY);

	/* A chunk of another repository (other keys) does not decode. */
	qbk_repo_close(r);
	free(p);
	p = path2(f->dir, "other");
	assert_int_equal(create(p, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL, NULL,
	    &err), 0);
	r = open_pass(p, PASS1);
	assert_int_equal(qbk_repo_chunk_put(r, id, saved.buf, saved.len, 0,
	    &err), 0);
	assert_int_equal(qbk_repo_flush(r, &err), 0);
	assert_int_equal(qbk_repo_chunk_check(r, w, id, &err), 0);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	qbk_repo_close(r);

	free(p);
	qbk_buf_release(&obj);
	qbk_buf_release(&saved);
	qbk_chunk_work_free(w);
}

static void
index_after_reopen(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_chunk_work *w = NULL;
	uint8_t data[5000], ids[4][QBK_ID_LEN], other[QBK_ID_LEN];
	struct qbk_repo *r;
	unsigned i;
	char *p;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_load_index(r, &err), 0);
	assert_int_equal(qbk_repo_chunk_count(r), 0);
	assert_int_equal(qbk_chunk_work_new(qbk_repo_chunk_params(r)->max, &w,
	    &err), 0);
	for (i = 0; i < 4; i++) {
		fill(data, sizeof(data), i + 100);
		put_chunk(r, w, data, sizeof(data), ids[i]);
	}
	assert_int_equal(qbk_repo_flush(r, &err), 0);
	qbk_repo_close(r);

	/* Things in data/ that are not chunks are not counted. */
	p = path2(f->repo, "data/zz");
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = path2(f->repo, "data/zz/not-a-chunk");
	assert_int_equal(tu_write_file(p, "x"), 0);
	free(p);

	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_chunk_count(r), 0);
	assert_int_equal(qbk_repo_load_index(r, &err), 0);
	assert_int_equal(qbk_repo_chunk_count(r), 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(qbk_repo_chunk_claim(r, ids[i]), 0);
	memset(other, 0x33, sizeof(other));
	assert_int_equal(qbk_repo_chunk_claim(r, other), 1);
	assert_int_equal(qbk_repo_chunk_claim(r, other), 0);
	assert_int_equal(qbk_repo_chunk_count(r), 5);
	/* Loading again forgets claims that were never stored. */
	assert_int_equal(qbk_repo_load_index(r, &err), 0);
	assert_int_equal(qbk_repo_chunk_count(r), 4);
	assert_int_equal(qbk_repo_chunk_claim(r, other), 1);
	qbk_repo_close(r);
	qbk_chunk_work_free(w);
}

struct claim_arg {
	struct qbk_repo *r;
	unsigned won;
};

#define CLAIM_IDS	2000

static void *
claimer(void *cookie)
{
	struct claim_arg *a = cookie;
	uint8_t id[QBK_ID_LEN];
	unsigned i;

	for (i = 0; i < CLAIM_IDS; i++) {
		memset(id, 0, sizeof(id));
		memcpy(id, &i, sizeof(i));
		a->won += (unsigned)qbk_repo_chunk_claim(a->r, id);
	}
	return NULL;
}

static void
claim_threads(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct claim_arg a[4];
	pthread_t t[4];
	struct qbk_repo *r;
	unsigned i, won = 0;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	for (i = 0; i < 4; i++) {
		a[i].r = r;
		a[i].won = 0;
		assert_int_equal(pthread_create(&t[i], NULL, claimer, &a[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		won += a[i].won;
	}
	/* Each id is claimed by exactly one thread. */
	assert_int_equal(won, CLAIM_IDS);
	assert_int_equal(qbk_repo_chunk_count(r), CLAIM_IDS);
	qbk_repo_close(r);
}

/*
 * Sealed objects.
 */

static void
seal_one(struct qbk_repo *r, struct qbk_repo *stranger)
{
	static const char text[] = "{\"format\":1,\"secret\":\"the plaintext "
	    "of a manifest, long enough to be worth compressing, compressing, "
	    "compressing\"}";
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf s1 = QBK_BUF_INIT, s2 = QBK_BUF_INIT, out = QBK_BUF_INIT,
	    bad = QBK_BUF_INIT;
	size_t i, bit;

	assert_int_equal(qbk_repo_seal(r, "backups/x", text, strlen(text), &s1,
	    &err), 0);
	assert_memory_equal(s1.buf, "QBKM", 4);
	assert_int_equal(qbk_repo_unseal(r, "backups/x", s1.buf, s1.len, &out,
	    &err), 0);
	assert_int_equal(out.len, strlen(text));
	assert_string_equal(out.buf, text);

	assert_int_equal(qbk_repo_seal(r, "backups/x", text, strlen(text), &s2,
	    &err), 0);
	if (qbk_repo_aead(r) != QBK_CRYPTO_AEAD_NONE) {
		/* A fresh nonce each time, and no plaintext in sight. */
		assert_true(s1.len == s2.len &&
		    memcmp(s1.buf, s2.buf, s1.len) != 0);
		assert_false(contains(s1.buf, s1.len, "plaintext"));
	}

	/* Under another name (a renamed object): rejected. */
	assert_int_equal(qbk_repo_unseal(r, "backups/y", s1.buf, s1.len, &out,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);

	/* Any change to any byte, or to any bit of the header: rejected. */
	for (i = 0; i < s1.len; i++) {
		for (bit = 0; bit < 8; bit += i < 40 ? 1 : 7) {
			qbk_buf_reset(&bad);
			qbk_buf_add(&bad, s1.buf, s1.len);
			bad.buf[i] = (char)(bad.buf[i] ^ (1 << bit));
			err.code = QBK_E_OK;
			if (qbk_repo_unseal(r, "backups/x", bad.buf, bad.len,
			    &out, &err) == 0)
				fail_msg("byte %zu bit %zu changed unnoticed",
				    i, bit);
			assert_int_equal(err.code, QBK_E_INTEGRITY);
			assert_int_equal(out.len, 0);
		}
	}
	/* Truncated anywhere, or with a byte added: rejected. */
	for (i = 0; i < s1.len; i++) {
		err.code = QBK_E_OK;
		assert_int_equal(qbk_repo_unseal(r, "backups/x", s1.buf, i, &out,
		    &err), -1);
		assert_int_equal(err.code, QBK_E_INTEGRITY);
	}
	qbk_buf_reset(&bad);
	qbk_buf_add(&bad, s1.buf, s1.len);
	qbk_buf_addch(&bad, 0);
	assert_int_equal(qbk_repo_unseal(r, "backups/x", bad.buf, bad.len,
	    &out, &err), -1);

	/* Another repository's keys do not open it. */
	if (stranger != NULL) {
		assert_int_equal(qbk_repo_unseal(stranger, "backups/x", s1.buf,
		    s1.len, &out, &err), -1);
		assert_int_equal(err.code, QBK_E_INTEGRITY);
	}

	/* An empty plaintext round-trips too. */
	assert_int_equal(qbk_repo_seal(r, "drills/e", "", 0, &s2, &err), 0);
	assert_int_equal(qbk_repo_unseal(r, "drills/e", s2.buf, s2.len, &out,
	    &err), 0);
	assert_int_equal(out.len, 0);

	qbk_buf_release(&s1);
	qbk_buf_release(&s2);
	qbk_buf_release(&out);
	qbk_buf_release(&bad);
}

static void
seal_round_trip(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	enum qbk_crypto_aead algs[] = { QBK_CRYPTO_AEAD_XCHACHA,
	    QBK_CRYPTO_AEAD_AESGCM, QBK_CRYPTO_AEAD_NONE };
	struct qbk_repo *r, *s;
	char *p, *q, name[32];
	unsigned i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (qbk_crypto_aead_check(algs[i], &err) != 0)
			continue;
		snprintf(name, sizeof(name), "r%u", i);
		p = path2(f->dir, name);
		snprintf(name, sizeof(name), "s%u", i);
		q = path2(f->dir, name);
		assert_int_equal(create(p, algs[i], algs[i] ==
		    QBK_CRYPTO_AEAD_NONE ? NULL : PASS1, NULL, NULL, &err), 0);
		assert_int_equal(create(q, algs[i], algs[i] ==
		    QBK_CRYPTO_AEAD_NONE ? NULL : PASS1, NULL, NULL, &err), 0);
		r = open_pass(p, algs[i] == QBK_CRYPTO_AEAD_NONE ? NULL :
		    PASS1);
		s = open_pass(q, algs[i] == QBK_CRYPTO_AEAD_NONE ? NULL :
		    PASS1);
		seal_one(r, algs[i] == QBK_CRYPTO_AEAD_NONE ? NULL : s);
		qbk_repo_close(r);
		qbk_repo_close(s);
		free(p);
		free(q);
	}
}

/*
 * Manifests and drill records.
 */

static void
manifests(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m[3], *got = (struct qbk_manifest *)f;
	char **ids = NULL, *t1, *t2, *p;
	struct qbk_repo *r;
	size_t n, i;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);

	/* Nothing yet. */
	assert_int_equal(qbk_repo_backup_ids(r, &ids, &n, &err), 0);
	assert_int_equal(n, 0);
	qbk_repo_free_ids(ids, n);

	/* Written out of time order, listed oldest first. */
	m[0] = make_manifest(T0 + 7200);
	m[1] = make_manifest(T0);
	m[2] = make_manifest(T0 + 3600);
	for (i = 0; i < 3; i++)
		assert_int_equal(qbk_repo_manifest_write(r, m[i], &err), 0);
	assert_int_equal(qbk_repo_backup_ids(r, &ids, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], m[1]->backup_id);
	assert_string_equal(ids[1], m[2]->backup_id);
	assert_string_equal(ids[2], m[0]->backup_id);
	qbk_repo_free_ids(ids, n);

	/* Each reads back exactly; both files are there. */
	for (i = 0; i < 3; i++) {
		char key[64];

		snprintf(key, sizeof(key), "backups/%s", m[i]->backup_id);
		assert_true(exists(f->repo, key));
		snprintf(key, sizeof(key), "backups/%s.copy", m[i]->backup_id);
		assert_true(exists(f->repo, key));
		assert_int_equal(qbk_repo_manifest_read(r, m[i]->backup_id,
		    &got, &err), 0);
		t1 = manifest_text(m[i]);
		t2 = manifest_text(got);
		assert_string_equal(t1, t2);
		free(t1);
		free(t2);
		qbk_manifest_free(got);
	}

	/* Deleted: gone from the list, with its copy. */
	assert_int_equal(qbk_repo_manifest_delete(r, m[2]->backup_id, &err),
	    0);
	assert_int_equal(qbk_repo_backup_ids(r, &ids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], m[1]->backup_id);
	assert_string_equal(ids[1], m[0]->backup_id);
	qbk_repo_free_ids(ids, n);
	p = path2("backups", m[2]->backup_id);
	assert_false(exists(f->repo, p));
	free(p);
	assert_int_equal(qbk_repo_manifest_read(r, m[2]->backup_id, &got,
	    &err), -1);
	assert_null(got);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_non_null(strstr(err.msg, m[2]->backup_id));
	/* Deleting again is fine (idempotent, as on S3). */
	assert_int_equal(qbk_repo_manifest_delete(r, m[2]->backup_id, &err),
	    0);

	/* Ids that are not ids. */
	assert_int_equal(qbk_repo_manifest_read(r, "../config", &got, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_repo_manifest_read(r, "latest", &got, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_repo_manifest_delete(r, "../config", &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_true(exists(f->repo, "config"));

	/* Manifests survive closing and opening again. */
	qbk_repo_close(r);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_backup_ids(r, &ids, &n, &err), 0);
	assert_int_equal(n, 2);
	qbk_repo_free_ids(ids, n);
	qbk_repo_close(r);
	for (i = 0; i < 3; i++)
		qbk_manifest_free(m[i]);
}

static void
manifest_renamed(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = make_manifest(T0), *got = NULL;
	char other[QBK_MANIFEST_ID_LEN + 1], name[64], name2[64], *dir;
	char **ids;
	struct qbk_repo *r;
	size_t n;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_manifest_write(r, m, &err), 0);
	assert_int_equal(qbk_manifest_make_id(T0 + 86400, other), 0);

	/* Move the manifest and its copy to another (newer) id: someone
	 * trying to make an old backup look like the latest. */
	dir = path2(f->repo, "backups");
	snprintf(name, sizeof(name), "%s", m->backup_id);
	move(dir, name, other);
	snprintf(name, sizeof(name), "%s.copy", m->backup_id);
	snprintf(name2, sizeof(name2), "%s.copy", other);
	move(dir, name, name2);
	assert_int_equal(qbk_repo_backup_ids(r, &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], other);
	qbk_repo_free_ids(ids, n);
	assert_int_equal(qbk_repo_manifest_read(r, other, &got, &err), -1);
	assert_null(got);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	qbk_repo_close(r);
	free(dir);
	qbk_manifest_free(m);
}

static void
manifest_copy(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest *m = make_manifest(T0), *got = NULL;
	struct qbk_buf saved = QBK_BUF_INIT;
	char *main_p, *copy_p, key[64];
	struct qbk_repo *r;
	char *t1, *t2;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_manifest_write(r, m, &err), 0);
	snprintf(key, sizeof(key), "backups/%s", m->backup_id);
	main_p = path2(f->repo, key);
	snprintf(key, sizeof(key), "backups/%s.copy", m->backup_id);
	copy_p = path2(f->repo, key);
	read_all(main_p, &saved);
	t1 = manifest_text(m);

	/* A damaged manifest: the copy is read, with a warning. */
	flip_byte(main_p, 100, 0x01);
	tu_log_reset();
	assert_int_equal(qbk_repo_manifest_read(r, m->backup_id, &got, &err),
	    0);
	t2 = manifest_text(got);
	assert_string_equal(t1, t2);
	free(t2);
	qbk_manifest_free(got);
	assert_non_null(strstr(tu_log_text(), "copy"));

	/* A truncated one too. */
	write_all(main_p, saved.buf, 10);
	assert_int_equal(qbk_repo_manifest_read(r, m->backup_id, &got, &err),
	    0);
	qbk_manifest_free(got);

	/* Both damaged: an integrity error. */
	flip_byte(copy_p, 50, 0x80);
	assert_int_equal(qbk_repo_manifest_read(r, m->backup_id, &got, &err),
	    -1);
	assert_null(got);
	assert_int_equal(err.code, QBK_E_INTEGRITY);

	/* The copy damaged only: the manifest is read, no warning. */
	write_all(main_p, saved.buf, saved.len);
	tu_log_reset();
	assert_int_equal(qbk_repo_manifest_read(r, m->backup_id, &got, &err),
	    0);
	qbk_manifest_free(got);
	assert_null(strstr(tu_log_text(), "copy"));

	/* No manifest but a copy: a crash before the commit point, so there
	 * is no such backup. */
	assert_int_equal(unlink(main_p), 0);
	write_all(copy_p, saved.buf, saved.len);
	assert_int_equal(qbk_repo_manifest_read(r, m->backup_id, &got, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);

	qbk_repo_close(r);
	free(t1);
	free(main_p);
	free(copy_p);
	qbk_buf_release(&saved);
	qbk_manifest_free(m);
}

static void
drills(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_manifest_drill *d[2], *got = NULL;
	struct qbk_buf a = QBK_BUF_INIT, b = QBK_BUF_INIT;
	struct qbk_repo *r;
	char **ids;
	size_t n;
	unsigned i;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	for (i = 0; i < 2; i++) {
		d[i] = qbk_manifest_drill_new();
		assert_int_equal(qbk_manifest_make_id(T0 + 100 - 50 * i,
		    d[i]->drill_id), 0);
		assert_int_equal(qbk_manifest_make_id(T0, d[i]->backup_id), 0);
		qbk_manifest_strset(&d[i]->level, "quick");
		qbk_manifest_strset(&d[i]->scenario, "collection");
		qbk_manifest_strset(&d[i]->host, "runner");
		qbk_manifest_strset(&d[i]->tool_version, "qbk " QBK_VERSION);
		d[i]->start = T0 + 100;
		d[i]->end = T0 + 160;
		qbk_manifest_drill_add_phase(d[i], "restore", 1234);
		d[i]->pass = (int)i;
		d[i]->rto_ms = 60000;
		assert_int_equal(qbk_repo_drill_write(r, d[i], &err), 0);
	}
	assert_int_equal(qbk_repo_drill_ids(r, &ids, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], d[1]->drill_id);
	assert_string_equal(ids[1], d[0]->drill_id);
	qbk_repo_free_ids(ids, n);
	/* Drills are not backups. */
	assert_int_equal(qbk_repo_backup_ids(r, &ids, &n, &err), 0);
	assert_int_equal(n, 0);
	qbk_repo_free_ids(ids, n);

	assert_int_equal(qbk_repo_drill_read(r, d[0]->drill_id, &got, &err), 0);
	assert_int_equal(qbk_manifest_drill_to_json(d[0], &a, &err), 0);
	assert_int_equal(qbk_manifest_drill_to_json(got, &b, &err), 0);
	assert_string_equal(a.buf, b.buf);
	qbk_manifest_drill_free(got);
	assert_int_equal(qbk_repo_drill_read(r, "nope", &got, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_repo_drill_read(r, d[0]->backup_id, &got, &err),
	    -1);
	assert_int_equal(err.code, QBK_E_NOTFOUND);
	assert_null(got);
	qbk_repo_close(r);
	for (i = 0; i < 2; i++)
		qbk_manifest_drill_free(d[i]);
	qbk_buf_release(&a);
	qbk_buf_release(&b);
}

/*
 * Key slots.
 */

static const struct qbk_repo_slot_info *
find_slot(const struct qbk_repo_slot_info *v, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

static void
slots(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_secret s = { PASS1, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	const struct qbk_repo_slot_info *si;
	char a[QBK_REPO_SLOT_ID_LEN + 1], b[QBK_REPO_SLOT_ID_LEN + 1],
	    c[QBK_REPO_SLOT_ID_LEN + 1];
	struct qbk_repo *r;
	size_t n, i;

	make_keyfile(f->kf);
	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	memcpy(a, v[0].id, sizeof(a));
	free(v);

	/* Exactly one of a passphrase and a key file. */
	assert_int_equal(qbk_repo_slot_add(r, NULL, NULL, 0, 0, NULL, NULL,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(qbk_repo_slot_add(r, PASS2, f->kf, 0, 0, NULL, NULL,
	    &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(count_slots(r), 1);

	assert_int_equal(qbk_repo_slot_add(r, PASS2, NULL,
	    QBK_CRYPTO_PWHASH_OPSLIMIT_MIN, QBK_CRYPTO_PWHASH_MEMLIMIT_MIN,
	    "rotation 2026", b, &err), 0);
	assert_int_equal(qbk_repo_slot_add(r, NULL, f->kf, 0, 0, "k8s", c,
	    &err), 0);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	for (i = 1; i < n; i++)
		assert_true(strcmp(v[i - 1].id, v[i].id) < 0);
	assert_non_null(si = find_slot(v, n, a));
	assert_int_equal(si->opened, 1);
	assert_string_equal(si->kind, "passphrase");
	assert_non_null(si = find_slot(v, n, b));
	assert_int_equal(si->opened, 0);
	assert_string_equal(si->kind, "passphrase");
	assert_string_equal(si->comment, "rotation 2026");
	assert_non_null(si = find_slot(v, n, c));
	assert_int_equal(si->opened, 0);
	assert_string_equal(si->kind, "keyfile");
	assert_string_equal(si->comment, "k8s");
	free(v);
	qbk_repo_close(r);

	/* Every slot opens the repository, and says so. */
	r = open_kf(f->repo, f->kf);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(find_slot(v, n, c)->opened, 1);
	assert_int_equal(find_slot(v, n, a)->opened, 0);
	free(v);
	qbk_repo_close(r);

	/* Rotation: open with the new passphrase, remove the old one. */
	r = open_pass(f->repo, PASS2);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(find_slot(v, n, b)->opened, 1);
	free(v);
	assert_int_equal(qbk_repo_slot_remove(r, "0123456789abcdef", &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "no key slot"));
	assert_int_equal(qbk_repo_slot_remove(r, a, &err), 0);
	assert_int_equal(count_slots(r), 2);
	qbk_repo_close(r);
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);

	/* The slot that opened the repository is the only one known to
	 * work: it is not removed (restic does the same). */
	r = open_pass(f->repo, PASS2);
	assert_int_equal(qbk_repo_slot_remove(r, b, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(count_slots(r), 2);
	assert_int_equal(qbk_repo_slot_remove(r, c, &err), 0);
	assert_int_equal(count_slots(r), 1);
	/* Now the last one. */
	assert_int_equal(qbk_repo_slot_remove(r, b, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_non_null(strstr(err.msg, "last"));
	assert_int_equal(count_slots(r), 1);
	qbk_repo_close(r);
	r = open_pass(f->repo, PASS2);
	qbk_repo_close(r);
}

static void
slots_plain(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_repo *r = NULL;
	size_t n;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_NONE, NULL, NULL,
	    NULL, &err), 0);
	assert_int_equal(qbk_repo_open(f->repo, NULL, &r, &err), 0);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(qbk_repo_slot_remove(r, v[0].id, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	assert_int_equal(count_slots(r), 1);
	free(v);
	qbk_repo_close(r);
}

static void
slots_damaged(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	const struct qbk_repo_slot_info *si;
	struct qbk_repo *r;
	size_t n;
	char *p;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	/* A slot file that is not JSON, sorting before the good one, and
	 * one whose fields are broken. */
	p = path2(f->repo, "keys/0000000000000000");
	assert_int_equal(tu_write_file(p, "garbage"), 0);
	free(p);
	p = path2(f->repo, "keys/0000000000000001");
	assert_int_equal(tu_write_file(p, "{\"format\": 1, \"id\": "
	    "\"0000000000000001\", \"kind\": \"passphrase\", \"opslimit\": 1, "
	    "\"memlimit\": 8192, \"salt\": \"zz\", \"nonce\": \"zz\", "
	    "\"wrapped\": \"zz\"}"), 0);
	free(p);

	/* It still opens, with warnings. */
	tu_log_reset();
	r = open_pass(f->repo, PASS1);
	assert_non_null(strstr(tu_log_text(), "0000000000000000"));

	/* Listed (so that it can be removed), as damaged. */
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_non_null(si = find_slot(v, n, "0000000000000000"));
	assert_string_equal(si->kind, "damaged");
	assert_int_equal(si->opened, 0);
	free(v);

	assert_int_equal(qbk_repo_slot_remove(r, "0000000000000000", &err), 0);
	assert_int_equal(qbk_repo_slot_remove(r, "0000000000000001", &err), 0);
	assert_int_equal(count_slots(r), 1);
	qbk_repo_close(r);
	r = open_pass(f->repo, PASS1);
	qbk_repo_close(r);
}

/* A slot file renamed (or copied) to another name is not a slot. */
static void
slots_renamed(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_repo *r;
	size_t n;
	char *from, *to, key[64];

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	snprintf(key, sizeof(key), "keys/%s", v[0].id);
	from = path2(f->repo, key);
	to = path2(f->repo, "keys/ffffffffffffffff");
	copy_file(from, to);
	free(v);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(find_slot(v, n, "ffffffffffffffff")->kind,
	    "damaged");
	free(v);
	/* Removing the copy removes the copy, not the real slot. */
	assert_int_equal(qbk_repo_slot_remove(r, "ffffffffffffffff", &err), 0);
	assert_int_equal(access(from, F_OK), 0);
	assert_int_equal(access(to, F_OK), -1);
	qbk_repo_close(r);
	free(from);
	free(to);
}

/* A qbk-init killed between its key slot and its config leaves a slot of a
 * repository that never was.  The next qbk-init there works; the leftover
 * is listed, opens nothing, and can be removed, and it does not make the
 * real key removable. */
static void
create_after_crashed_create(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_repo_secret s = { PASS1, NULL };
	char stale[QBK_REPO_SLOT_ID_LEN + 1], *p;
	const struct qbk_repo_slot_info *si;
	struct qbk_repo *r = NULL;
	size_t n;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	memcpy(stale, v[0].id, sizeof(stale));
	free(v);
	qbk_repo_close(r);
	p = path2(f->repo, "config");
	assert_int_equal(unlink(p), 0);
	free(p);

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS2, NULL,
	    NULL, &err), 0);
	/* The old passphrase unwraps the stale slot's key, which is bound
	 * to another repository id: no. */
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	r = open_pass(f->repo, PASS2);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_non_null(si = find_slot(v, n, stale));
	assert_int_equal(si->opened, 0);
	for (si = v; si->opened == 0; si++)
		;
	assert_int_equal(qbk_repo_slot_remove(r, si->id, &err), -1);
	assert_int_equal(err.code, QBK_E_USAGE);
	free(v);
	assert_int_equal(qbk_repo_slot_remove(r, stale, &err), 0);
	assert_int_equal(count_slots(r), 1);
	qbk_repo_close(r);
	r = open_pass(f->repo, PASS2);
	qbk_repo_close(r);
}

struct racer {
	pthread_barrier_t *go;
	const char *loc;
	char pass[32];
	int rc;
	struct qbk_err err;
};

static void *
race_create(void *cookie)
{
	struct racer *a = cookie;

	pthread_barrier_wait(a->go);
	a->rc = create(a->loc, QBK_CRYPTO_AEAD_XCHACHA, a->pass, NULL, NULL,
	    &a->err);
	return NULL;
}

/* Several qbk-init at one location at once: exactly one wins, the others
 * fail as usage errors (not silently), and they leave no key behind. */
static void
create_race(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_secret s = { NULL, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	pthread_barrier_t go;
	struct racer a[6];
	pthread_t t[6];
	struct qbk_repo *r = NULL;
	unsigned i, won = 0, winner = 0;

	assert_int_equal(pthread_barrier_init(&go, NULL, 6), 0);
	for (i = 0; i < 6; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].go = &go;
		a[i].loc = f->repo;
		snprintf(a[i].pass, sizeof(a[i].pass), "racer %u", i);
		assert_int_equal(pthread_create(&t[i], NULL, race_create, &a[i]),
		    0);
	}
	for (i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (a[i].rc == 0) {
			won++;
			winner = i;
		} else {
			if (a[i].err.code != QBK_E_USAGE)
				print_error("racer %u: %s\n", i, a[i].err.msg);
			assert_int_equal(a[i].err.code, QBK_E_USAGE);
			assert_non_null(strstr(a[i].err.msg, "repository"));
		}
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(won, 1);
	for (i = 0; i < 6; i++) {
		s.passphrase = a[i].pass;
		if (i == winner) {
			assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err),
			    0);
			assert_int_equal(count_slots(r), 1);
			qbk_repo_close(r);
		} else {
			assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err),
			    -1);
		}
	}
}

/*
 * The authenticated config (qbk-repository(5) "Authenticated config").
 */

/* Replace the first ${from} in the file ${path} by ${to}. */
static void
edit_file(const char *path, const char *from, const char *to)
{
	struct qbk_buf b = QBK_BUF_INIT, o = QBK_BUF_INIT;
	char *at;

	read_all(path, &b);
	assert_non_null(at = strstr(b.buf, from));
	qbk_buf_add(&o, b.buf, (size_t)(at - b.buf));
	qbk_buf_addstr(&o, to);
	qbk_buf_addstr(&o, at + strlen(from));
	write_all(path, o.buf, o.len);
	qbk_buf_release(&b);
	qbk_buf_release(&o);
}

/* Remove the "mac" member of the config at ${path}, as an attacker would
 * (the text an older qbk wrote). */
static void
strip_mac(const char *path)
{
	struct qbk_buf b = QBK_BUF_INIT, o = QBK_BUF_INIT;
	char *at;

	read_all(path, &b);
	assert_non_null(at = strstr(b.buf, ",\n \"mac\": \""));
	qbk_buf_add(&o, b.buf, (size_t)(at - b.buf));
	qbk_buf_addstr(&o, "\n}");
	write_all(path, o.buf, o.len);
	qbk_buf_release(&b);
	qbk_buf_release(&o);
}

/* Open ${loc} with ${pass}: must fail with QBK_E_INTEGRITY and a message
 * that names '<loc>/config' and holds ${what}. */
static void
open_refused(const char *loc, const char *pass, const char *what)
{
	struct qbk_repo_secret s = { pass, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo *r = NULL;
	char *name = path2(loc, "config");
	char quoted[1100];

	assert_int_equal(qbk_repo_open(loc, &s, &r, &err), -1);
	assert_null(r);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	snprintf(quoted, sizeof(quoted), "repository config '%s'", name);
	if (strstr(err.msg, quoted) == NULL || strstr(err.msg, what) == NULL)
		print_error("message: %s\n", err.msg);
	assert_non_null(strstr(err.msg, quoted));
	assert_non_null(strstr(err.msg, what));
	free(name);
}

static void
config_mac_written(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf cfg = QBK_BUF_INIT, slot = QBK_BUF_INIT;
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_repo *r;
	char *p, key[64];
	size_t n;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	p = path2(f->repo, "config");
	read_all(p, &cfg);
	free(p);
	/* The MAC is the last member: 64 hex digits, not the placeholder. */
	p = strstr(cfg.buf, "\n \"mac\": \"");
	assert_non_null(p);
	assert_int_equal(strspn(p + 10, "0123456789abcdef"), 64);
	assert_string_equal(p + 74, "\"\n}");
	assert_int_not_equal(strspn(p + 10, "0"), 64);
	qbk_buf_release(&cfg);

	/* The new key slot has format 2. */
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	snprintf(key, sizeof(key), "keys/%s", v[0].id);
	free(v);
	p = path2(f->repo, key);
	read_all(p, &slot);
	free(p);
	assert_non_null(strstr(slot.buf, "\"format\": 2,"));
	qbk_buf_release(&slot);
	qbk_repo_close(r);
}

static void
config_tampered(void **state)
{
	struct fixture *f = *state;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_buf saved = QBK_BUF_INIT;
	struct qbk_repo *r;
	char *p = path2(f->repo, "config"), *mac, c;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	read_all(p, &saved);

	/* The attack of issue 13: encryption lowered to none. */
	edit_file(p, "\"xchacha20-poly1305\"", "\"none\"");
	open_refused(f->repo, PASS1, "does not verify against the "
	    "repository key: it was changed outside qbk");
	/* Any other value, even one that weakens nothing. */
	write_all(p, saved.buf, saved.len);
	edit_file(p, "\"zstd:3\"", "\"zstd:4\"");
	open_refused(f->repo, PASS1, "does not verify");
	write_all(p, saved.buf, saved.len);
	edit_file(p, "\"max\": 262144", "\"max\": 131072");
	open_refused(f->repo, PASS1, "does not verify");
	/* Every byte counts: white space too. */
	write_all(p, saved.buf, saved.len);
	edit_file(p, "\"format\": 1,", "\"format\":  1,");
	open_refused(f->repo, PASS1, "does not verify");
	/* The MAC itself: one digit changed. */
	write_all(p, saved.buf, saved.len);
	mac = strstr(saved.buf, "\"mac\": \"") + 8;
	c = *mac;
	*mac = c == 'a' ? 'b' : 'a';
	write_all(p, saved.buf, saved.len);
	*mac = c;
	open_refused(f->repo, PASS1, "does not verify");
	write_all(p, saved.buf, saved.len);
	edit_file(p, "\"id\"", "\"x\": \"1\", \"id\"");
	open_refused(f->repo, PASS1, "does not verify");

	/* Stripped: refused, the key slot says a MAC is due. */
	write_all(p, saved.buf, saved.len);
	strip_mac(p);
	open_refused(f->repo, PASS1, "is not authenticated");
	/* Stripped and lowered. */
	edit_file(p, "\"xchacha20-poly1305\"", "\"none\"");
	open_refused(f->repo, PASS1, "is not authenticated");

	/* Put back as qbk wrote it: opens. */
	write_all(p, saved.buf, saved.len);
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_aead(r), QBK_CRYPTO_AEAD_XCHACHA);
	qbk_repo_close(r);
	qbk_buf_release(&saved);
	free(p);
}

/* Copy the repository made by qbk before config authentication
 * (tests/fixtures/repo-v1, passphrase "test-passphrase") to ${dst}. */
static void
copy_v1(const char *dst)
{
	const char *top = getenv("QBK_TOP");
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cp -R '%s/tests/fixtures/repo-v1' '%s' "
	    "&& chmod -R u+w '%s'", top != NULL ? top : ".", dst, dst);
	assert_int_equal(system(cmd), 0);
}

#define V1_PASS		"test-passphrase"
#define V1_BACKUP	"20261207T191408Z-d704"
#define V1_SLOT		"keys/5a79c6fd3d40ae20"

static void
config_legacy_upgrade(void **state)
{
	struct fixture *f = *state;
	struct qbk_buf cfg = QBK_BUF_INIT, old = QBK_BUF_INIT,
	    slot = QBK_BUF_INIT;
	struct qbk_manifest *m = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo *r;
	char *p = path2(f->repo, "config"), *sp = path2(f->repo, V1_SLOT);

	copy_v1(f->repo);
	read_all(p, &old);
	assert_null(strstr(old.buf, "\"mac\""));

	/* It opens, and reads its backup; the config gets its MAC. */
	tu_log_reset();
	r = open_pass(f->repo, V1_PASS);
	assert_non_null(strstr(tu_log_text(), "upgraded repository"));
	assert_int_equal(qbk_repo_manifest_read(r, V1_BACKUP, &m, &err), 0);
	qbk_manifest_free(m);
	qbk_repo_close(r);
	read_all(p, &cfg);
	/* The same text, with the MAC added as the last member. */
	assert_memory_equal(cfg.buf, old.buf, old.len - 2);
	assert_non_null(strstr(cfg.buf, "\"encryption\": "
	    "\"xchacha20-poly1305\",\n \"mac\": \""));
	/* The slot that opened it is of format 2 now. */
	read_all(sp, &slot);
	assert_non_null(strstr(slot.buf, "\"format\": 2,"));
	assert_non_null(strstr(slot.buf, "pre-authentication fixture"));

	/* Once only. */
	tu_log_reset();
	r = open_pass(f->repo, V1_PASS);
	assert_null(strstr(tu_log_text(), "upgraded"));
	qbk_repo_close(r);

	/* From now on, a config without a MAC is refused: stripped, or the
	 * old one put back. */
	strip_mac(p);
	open_refused(f->repo, V1_PASS, "is not authenticated");
	write_all(p, old.buf, old.len);
	open_refused(f->repo, V1_PASS, "is not authenticated");
	write_all(p, cfg.buf, cfg.len);
	r = open_pass(f->repo, V1_PASS);
	qbk_repo_close(r);

	qbk_buf_release(&cfg);
	qbk_buf_release(&old);
	qbk_buf_release(&slot);
	free(p);
	free(sp);
}

/* A config of an older qbk changed before it got its MAC: the upgrade
 * checks it against the newest backup, and refuses to bless it. */
static void
config_legacy_tampered(void **state)
{
	struct fixture *f = *state;
	struct qbk_buf cfg = QBK_BUF_INIT;
	char *p = path2(f->repo, "config");

	copy_v1(f->repo);
	edit_file(p, "\"xchacha20-poly1305\"", "\"none\"");
	open_refused(f->repo, V1_PASS, "says encryption 'none', but backup '"
	    V1_BACKUP "' is sealed with 'xchacha20-poly1305'");
	read_all(p, &cfg);
	assert_null(strstr(cfg.buf, "\"mac\""));
	qbk_buf_release(&cfg);

	/* A chunker maximum below the chunks it already holds (26624
	 * bytes): restores would refuse them. */
	edit_file(p, "\"none\"", "\"xchacha20-poly1305\"");
	edit_file(p, "\"min\": 16384", "\"min\": 1024");
	edit_file(p, "\"avg\": 65536", "\"avg\": 4096");
	edit_file(p, "\"max\": 262144", "\"max\": 16384");
	open_refused(f->repo, V1_PASS, "says chunks have at most 16384 bytes");
	free(p);
}

/* Slot id of the only slot of ${r}, into ${id}. */
static void
only_slot(struct qbk_repo *r, char *id)
{
	struct qbk_repo_slot_info *v = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	size_t n;

	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	memcpy(id, v[0].id, QBK_REPO_SLOT_ID_LEN + 1);
	free(v);
}

static void
config_plain_slot(void **state)
{
	struct fixture *f = *state;
	struct qbk_repo_secret s = { PASS1, NULL };
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_repo_slot_info *v = NULL;
	char *other = path2(f->dir, "attacker"), sealed[QBK_REPO_SLOT_ID_LEN + 1],
	    plain[QBK_REPO_SLOT_ID_LEN + 1], key[64], *from, *to;
	struct qbk_repo *r = NULL;
	size_t n;

	assert_int_equal(create(f->repo, QBK_CRYPTO_AEAD_XCHACHA, PASS1, NULL,
	    NULL, &err), 0);
	r = open_pass(f->repo, PASS1);
	only_slot(r, sealed);
	qbk_repo_close(r);
	/* The attacker's own repository: encryption none, a plain slot
	 * holding a master key of theirs. */
	assert_int_equal(create(other, QBK_CRYPTO_AEAD_NONE, NULL, NULL, NULL,
	    &err), 0);
	assert_int_equal(qbk_repo_open(other, NULL, &r, &err), 0);
	only_slot(r, plain);
	qbk_repo_close(r);

	/* Its plain slot next to the sealed one: not used (not even
	 * tried), and named in a warning. */
	snprintf(key, sizeof(key), "keys/%s", plain);
	from = path2(other, key);
	to = path2(f->repo, key);
	copy_file(from, to);
	tu_log_reset();
	r = open_pass(f->repo, PASS1);
	assert_int_equal(qbk_repo_aead(r), QBK_CRYPTO_AEAD_XCHACHA);
	assert_int_equal(qbk_repo_slots(r, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(find_slot(v, n, sealed)->opened, 1);
	assert_int_equal(find_slot(v, n, plain)->opened, 0);
	free(v);
	qbk_repo_close(r);
	if (strcmp(plain, sealed) < 0)
		assert_non_null(strstr(tu_log_text(), plain));

	/* And with the attacker's config (encryption none, its MAC made
	 * with their key) in place of the real one: the plain slot would
	 * open it, but is never used with a passphrase. */
	free(from);
	free(to);
	from = path2(other, "config");
	to = path2(f->repo, "config");
	copy_file(from, to);
	assert_int_equal(qbk_repo_open(f->repo, &s, &r, &err), -1);
	assert_null(r);
	assert_int_equal(err.code, QBK_E_CRYPTO);
	free(from);
	free(to);
	free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(create_passphrase, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(create_custom_params, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(create_refuses_existing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(create_bad_options, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(create_keyfile, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(create_aesgcm, setup, teardown),
		cmocka_unit_test_setup_teardown(create_none_plain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(create_after_crashed_create,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(create_race, setup, teardown),
		cmocka_unit_test_setup_teardown(open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(modes, setup, teardown),
		cmocka_unit_test_setup_teardown(chunk_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(index_after_reopen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(claim_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(seal_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(manifests, setup, teardown),
		cmocka_unit_test_setup_teardown(manifest_renamed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(manifest_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(drills, setup, teardown),
		cmocka_unit_test_setup_teardown(slots, setup, teardown),
		cmocka_unit_test_setup_teardown(slots_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(slots_damaged, setup, teardown),
		cmocka_unit_test_setup_teardown(slots_renamed, setup, teardown),
		cmocka_unit_test_setup_teardown(config_mac_written, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(config_tampered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(config_legacy_upgrade, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(config_legacy_tampered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(config_plain_slot, setup,
		    teardown),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0) {
		fprintf(stderr, "qbk_init: %s\n", err.msg);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
