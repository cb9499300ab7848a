#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "common/qbk.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"

/*
 * Golden fixtures live in tests/fixtures/chunk/ (see its README).  Running
 * this test with QBK_GOLDEN_WRITE=1 rewrites them; never do that unless the
 * format changes on purpose, because old repositories must stay readable.
 */

#define MIB	((size_t)1 << 20)

static uint64_t
xs64(uint64_t *s)
{
	/* xorshift64*: the fixtures' stream generator, keep as is */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static uint8_t *
random_bytes(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	uint64_t s = 2 * seed + 1, v;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i += 8) {
		v = xs64(&s);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
	return p;
}

/* JSON lines: compressible text like a payload store or a WAL. */
static void
fill_text(uint8_t *p, size_t n, uint64_t seed)
{
	static const char *w[] = { "alpha", "bravo", "city", "Berlin", "price",
		"review", "garden", "quality", "battery", "screen" };
	uint64_t s = 2 * seed + 1;
	char rec[256];
	size_t off = 0, len;
	int m;

	while (off < n) {
		m = snprintf(rec, sizeof(rec),
		    "{\"id\":%u,\"tag\":\"%s\",\"text\":\"%s %s %s\","
		    "\"n\":%u}\n", (unsigned int)(xs64(&s) % 100000),
		    w[xs64(&s) % 10], w[xs64(&s) % 10], w[xs64(&s) % 10],
		    w[xs64(&s) % 10], (unsigned int)(xs64(&s) % 1000));
		len = (size_t)m < n - off ? (size_t)m : n - off;
		memcpy(p + off, rec, len);
		off += len;
	}
}

/* float32 vectors, normal(0, 0.05): barely compressible. */
static void
fill_floats(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = 2 * seed + 1;
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		double u = ((double)(xs64(&s) >> 11) + 0.5) / 0x1p53;
		double v = ((double)(xs64(&s) >> 11) + 0.5) / 0x1p53;
		float f = (float)(0.05 * sqrt(-2 * log(u)) *
		    cos(6.283185307179586 * v));

		memcpy(p + i, &f, 4);
	}
}

static struct qbk_crypto_keys *
fixed_keys(uint8_t first)
{
	struct qbk_crypto_keys *k = NULL;
	uint8_t m[QBK_CRYPTO_KEY_LEN];
	size_t i;

	for (i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(first + i);
	assert_int_equal(qbk_crypto_keys_from_master(m, &k, NULL), 0);
	return k;
}

/* Chunk lengths of ${data} fed in pieces of ${feed} bytes (0: random
 * sizes); each chunk's bytes are checked against ${data}. */
struct cuts {
	size_t *len;
	size_t n;
	size_t in_buffer;	/* chunks handed back inside the fed buffer */
};

static void
chunk_all(const struct qbk_chunk_params *p, const uint64_t *gear,
    const uint8_t *data, size_t size, size_t feed, struct cuts *out)
{
	struct qbk_chunk_cdc *c = NULL;
	const uint8_t *ch, *buf = NULL;
	size_t off = 0, done = 0, len, step, cap = size / p->min + 2;
	uint64_t s = 12345;

	out->len = malloc(cap * sizeof(size_t));
	out->n = 0;
	out->in_buffer = 0;
	assert_non_null(out->len);
	assert_int_equal(qbk_chunk_cdc_new(p, gear, &c, NULL), 0);
	for (;;) {
		if (off < size) {
			step = feed ? feed : 1 + (size_t)(xs64(&s) % 300000);
			if (step > size - off)
				step = size - off;
			buf = data + off;
			qbk_chunk_cdc_feed(c, buf, step);
			off += step;
		} else {
			qbk_chunk_cdc_finish(c);
			step = 0;
		}
		while (qbk_chunk_cdc_next(c, &ch, &len)) {
			assert_true(out->n < cap);
			assert_true(len > 0);
			assert_true(done + len <= size);
			assert_memory_equal(ch, data + done, len);
			if (ch >= buf && ch + len <= buf + step)
				out->in_buffer++;
			out->len[out->n++] = len;
			done += len;
		}
		if (step == 0)
			break;
	}
	assert_int_equal(done, size);
	qbk_chunk_cdc_free(c);
}

static void
gear_of(uint8_t first, uint64_t *gear)
{
	struct qbk_crypto_keys *k = fixed_keys(first);

	qbk_crypto_gear_table(k, gear);
	qbk_crypto_keys_free(k);
}

static void
params_check(void **state)
{
	struct qbk_chunk_params ok = QBK_CHUNK_PARAMS_DEFAULT;
	struct qbk_chunk_params bad[] = {
		{ 16384, 65535, 262144 },	/* avg not a power of two */
		{ 65536, 65536, 262144 },	/* min == avg */
		{ 16384, 65536, 65536 },	/* max == avg */
		{ 32, 128, 1024 },		/* min too small */
		{ 16384, 65536, QBK_CHUNK_SIZE_LIMIT + 1 },
		{ 0, 0, 0 },
	};
	struct qbk_chunk_cdc *c = NULL;
	struct qbk_err err = QBK_ERR_INIT;
	uint64_t gear[256];
	size_t i;

	(void)state;
	assert_int_equal(ok.min, 16384);
	assert_int_equal(ok.avg, 65536);
	assert_int_equal(ok.max, 262144);
	assert_int_equal(qbk_chunk_params_check(&ok, &err), 0);
	gear_of(0, gear);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(qbk_chunk_params_check(&bad[i], &err), -1);
		assert_int_equal(err.code, QBK_E_CONFIG);
		assert_int_equal(qbk_chunk_cdc_new(&bad[i], gear, &c, &err),
		    -1);
		assert_null(c);
	}
	qbk_chunk_cdc_free(NULL);
}

static void
sizes_and_average(void **state)
{
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	struct qbk_chunk_params small = { 2048, 8192, 32768 };
	size_t size = 32 * MIB, i, sum;
	uint8_t *data = random_bytes(size, 1);
	uint64_t gear[256];
	struct cuts a, b;
	double avg;

	(void)state;
	gear_of(0, gear);
	chunk_all(&p, gear, data, size, MIB, &a);
	for (i = 0, sum = 0; i < a.n; i++) {
		assert_true(a.len[i] <= p.max);
		if (i + 1 < a.n)
			assert_true(a.len[i] >= p.min);
		sum += a.len[i];
	}
	assert_int_equal(sum, size);
	/* normalized chunking: the mean sits a little above avg (about
	 * 73 KiB for 16/64/256 KiB), far from min and max */
	avg = (double)size / (double)a.n;
	assert_true(avg > 0.95 * p.avg && avg < 1.3 * p.avg);
	/* and a max-size cut is rare on random data */
	for (i = 0, sum = 0; i < a.n; i++)
		sum += a.len[i] == p.max;
	assert_true(sum * 50 < a.n);
	/* determinism: the same bytes, the same cuts */
	chunk_all(&p, gear, data, size, MIB, &b);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.len, b.len, a.n * sizeof(size_t));
	free(a.len);
	free(b.len);

	chunk_all(&small, gear, data, 8 * MIB, MIB, &a);
	avg = (double)(8 * MIB) / (double)a.n;
	assert_true(avg > 0.95 * small.avg && avg < 1.3 * small.avg);
	for (i = 0; i < a.n; i++) {
		assert_true(a.len[i] <= small.max);
		if (i + 1 < a.n)
			assert_true(a.len[i] >= small.min);
	}
	free(a.len);
	free(data);
}

static void
feed_sizes_do_not_matter(void **state)
{
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	size_t size = 6 * MIB + 12345;
	size_t feeds[] = { 1, 2, 4097, 65536, MIB, 0, 6 * MIB + 12345 };
	uint8_t *data = random_bytes(size, 2);
	uint64_t gear[256];
	struct cuts ref, got;
	size_t i;

	(void)state;
	gear_of(0, gear);
	chunk_all(&p, gear, data, size, size, &ref);
	assert_true(ref.n > 50);
	/* in one buffer, every chunk is handed back in place, but for the
	 * last one, which is kept across the end of the feed */
	assert_int_equal(ref.in_buffer, ref.n - 1);
	for (i = 0; i < sizeof(feeds) / sizeof(feeds[0]); i++) {
		chunk_all(&p, gear, data, size, feeds[i], &got);
		assert_int_equal(got.n, ref.n);
		assert_memory_equal(got.len, ref.len, ref.n * sizeof(size_t));
		if (feeds[i] == MIB)
			/* most 64 KiB chunks fit in a 1 MiB read */
			assert_true(got.in_buffer * 10 > got.n * 7);
		free(got.len);
	}
	free(ref.len);
	free(data);
}

/* How many chunks of ${b} also occur in ${a} (by content). */
static size_t
shared_chunks(const uint8_t *a, const struct cuts *ca, const uint8_t *b,
    const struct cuts *cb, size_t *first_shared)
{
	size_t i, j, oa, ob, n = 0;

	*first_shared = cb->n;
	for (i = 0, ob = 0; i < cb->n; ob += cb->len[i++])
		for (j = 0, oa = 0; j < ca->n; oa += ca->len[j++])
			if (ca->len[j] == cb->len[i] &&
			    memcmp(a + oa, b + ob, cb->len[i]) == 0) {
				if (*first_shared == cb->n)
					*first_shared = i;
				n++;
				break;
			}
	return n;
}

static void
stable_under_insertion(void **state)
{
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	size_t size = 16 * MIB, ins[] = { 1, 37, 4096, 70000 }, at[] = { 5000,
		8 * MIB };
	size_t k, shared, first;
	uint8_t *a = random_bytes(size, 3), *b, *extra;
	uint64_t gear[256];
	struct cuts ca, cb;
	size_t w;

	(void)state;
	gear_of(0, gear);
	chunk_all(&p, gear, a, size, MIB, &ca);
	extra = random_bytes(70000, 4);
	for (w = 0; w < 2; w++)
		for (k = 0; k < sizeof(ins) / sizeof(ins[0]); k++) {
			b = malloc(size + ins[k]);
			assert_non_null(b);
			memcpy(b, a, at[w]);
			memcpy(b + at[w], extra, ins[k]);
			memcpy(b + at[w] + ins[k], a + at[w], size - at[w]);
			chunk_all(&p, gear, b, size + ins[k], MIB, &cb);
			shared = shared_chunks(a, &ca, b, &cb, &first);
			/*
			 * An edit disturbs the chunk it lands in and a few
			 * after it, until a cut of ${b} meets one of ${a}:
			 * with normalized chunking that takes 2.7 chunks on
			 * average, 8 at worst in 100 random insertions of up
			 * to 70000 bytes.  From there on every chunk is
			 * shared.
			 */
			assert_true(cb.n - shared <= 10);
			assert_true((double)shared / (double)cb.n >= 0.95);
			if (w == 0) {
				assert_true(first <= 10);
				assert_int_equal(shared, cb.n - first);
			}
			free(cb.len);
			free(b);
		}
	/* deletion near the start */
	chunk_all(&p, gear, a + 1000, size - 1000, MIB, &cb);
	shared = shared_chunks(a, &ca, a + 1000, &cb, &first);
	assert_true(cb.n - shared <= 2);
	assert_true(first <= 1);
	free(cb.len);
	free(ca.len);
	free(extra);
	free(a);
}

static void
gear_key_changes_cuts(void **state)
{
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	size_t size = 8 * MIB, shared, first;
	uint8_t *data = random_bytes(size, 5);
	uint64_t g1[256], g2[256];
	struct cuts a, b;

	(void)state;
	gear_of(0, g1);
	gear_of(1, g2);
	chunk_all(&p, g1, data, size, MIB, &a);
	chunk_all(&p, g2, data, size, MIB, &b);
	shared = shared_chunks(data, &a, data, &b, &first);
	/* only a max-size cut at the very start could coincide */
	assert_true(shared * 20 < b.n);
	assert_true(a.n != b.n ||
	    memcmp(a.len, b.len, a.n * sizeof(size_t)) != 0);
	free(a.len);
	free(b.len);
	free(data);
}

static void
edge_streams(void **state)
{
	struct qbk_chunk_params p = { 64, 256, 1024 };
	struct qbk_chunk_cdc *c = NULL;
	const uint8_t *ch;
	uint8_t zeros[10000] = { 0 };
	uint64_t gear[256];
	size_t len, n, total;

	(void)state;
	gear_of(0, gear);
	assert_int_equal(qbk_chunk_cdc_new(&p, gear, &c, NULL), 0);
	/* the empty stream has no chunks */
	qbk_chunk_cdc_finish(c);
	assert_int_equal(qbk_chunk_cdc_next(c, &ch, &len), 0);
	assert_int_equal(qbk_chunk_cdc_next(c, &ch, &len), 0);
	/* a stream shorter than min is one chunk */
	qbk_chunk_cdc_reset(c);
	qbk_chunk_cdc_feed(c, "short", 5);
	assert_int_equal(qbk_chunk_cdc_next(c, &ch, &len), 0);
	qbk_chunk_cdc_feed(c, "er", 2);
	assert_int_equal(qbk_chunk_cdc_next(c, &ch, &len), 0);
	qbk_chunk_cdc_finish(c);
	assert_int_equal(qbk_chunk_cdc_next(c, &ch, &len), 1);
	assert_int_equal(len, 7);
	assert_memory_equal(ch, "shorter", 7);
	assert_int_equal(qbk_chunk_cdc_next(c, &ch, &len), 0);
	/* zeros: the gear hash settles on one value, so cuts come at the
	 * same offsets: every chunk has the same length */
	qbk_chunk_cdc_reset(c);
	qbk_chunk_cdc_feed(c, zeros, sizeof(zeros));
	n = 0;
	total = 0;
	while (qbk_chunk_cdc_next(c, &ch, &len)) {
		assert_true(len <= p.max && len >= p.min);
		if (n > 0)
			assert_int_equal(len, total / n);
		total += len;
		n++;
	}
	qbk_chunk_cdc_finish(c);
	while (qbk_chunk_cdc_next(c, &ch, &len))
		total += len;
	assert_int_equal(total, sizeof(zeros));
	assert_true(n >= sizeof(zeros) / p.max);
	qbk_chunk_cdc_free(c);
}

/* Object encoding. */

static const enum qbk_crypto_aead aeads[] = {
	QBK_CRYPTO_AEAD_NONE, QBK_CRYPTO_AEAD_XCHACHA, QBK_CRYPTO_AEAD_AESGCM
};

static void
codec_init(struct qbk_chunk_codec *codec, const struct qbk_crypto_keys *k,
    enum qbk_crypto_aead aead, int level, uint32_t max)
{
	codec->keys = k;
	codec->aead = aead;
	codec->zstd_level = level;
	codec->max_plain = max;
}

/* Encode into a malloc'd copy. */
static uint8_t *
encode(const struct qbk_chunk_codec *codec, struct qbk_chunk_work *w,
    const uint8_t *data, size_t len, uint8_t *id, size_t *objlen,
    struct qbk_chunk_info *info)
{
	struct qbk_err err = QBK_ERR_INIT;
	const uint8_t *obj;
	uint8_t *copy;

	qbk_chunk_id(codec, data, len, id);
	assert_int_equal(qbk_chunk_encode(codec, w, data, len, id, &obj,
	    objlen, info, &err), 0);
	copy = malloc(*objlen + 1);
	assert_non_null(copy);
	memcpy(copy, obj, *objlen);
	return copy;
}

static void
expect_damaged(const struct qbk_chunk_codec *codec, struct qbk_chunk_work *w,
    const uint8_t *id, const uint8_t *obj, size_t len)
{
	struct qbk_err err = QBK_ERR_INIT;
	const uint8_t *plain = (const uint8_t *)"x";
	size_t plen = 1;
	char hex[65];

	assert_int_equal(qbk_chunk_decode(codec, w, id, obj, len, &plain,
	    &plen, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	qbk_hex(id, 32, hex);
	assert_non_null(strstr(err.msg, hex));
	assert_null(plain);
	assert_int_equal(plen, 0);
}

/* Encode and decode ${n} bytes at ${d}; ${compressible}: 1 yes, 0 no, -1
 * either. */
static void
round_trip(const struct qbk_chunk_codec *codec, struct qbk_chunk_work *w,
    const uint8_t *d, size_t n, int compressible)
{
	struct qbk_chunk_info info, peeked;
	struct qbk_err err = QBK_ERR_INIT;
	const uint8_t *plain;
	uint8_t *obj, id[32];
	size_t objlen, plen;

	obj = encode(codec, w, d, n, id, &objlen, &info);
	assert_int_equal(info.plain_len, n);
	assert_int_equal(info.aead, codec->aead);
	assert_int_equal(objlen, QBK_CHUNK_HEADER_LEN + info.stored_len +
	    QBK_CRYPTO_TAG_LEN);
	if (compressible >= 0)
		assert_int_equal(info.flags,
		    compressible ? QBK_CHUNK_FLAG_ZSTD : 0);
	assert_int_equal(qbk_chunk_peek(obj, objlen, &peeked, &err), 0);
	assert_int_equal(peeked.plain_len, info.plain_len);
	assert_int_equal(peeked.stored_len, info.stored_len);
	assert_int_equal(peeked.flags, info.flags);
	assert_int_equal(peeked.aead, info.aead);
	assert_int_equal(qbk_chunk_decode(codec, w, id, obj, objlen, &plain,
	    &plen, &err), 0);
	assert_int_equal(plen, n);
	if (n > 0)
		assert_memory_equal(plain, d, n);
	free(obj);
}

static void
round_trips(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec;
	struct qbk_err err = QBK_ERR_INIT;
	const uint32_t max = 256 << 10;
	size_t sizes[] = { 0, 1, 63, 64, 100, 4096, 4097, 65536, max };
	uint8_t *text = malloc(max), *rnd = random_bytes(max, 6);
	uint8_t *floats = malloc(max), id[32];
	const uint8_t *obj;
	size_t a, l, s, n, objlen;

	(void)state;
	assert_non_null(text);
	assert_non_null(floats);
	fill_text(text, max, 7);
	fill_floats(floats, max, 8);
	assert_int_equal(qbk_chunk_work_new(max, &w, &err), 0);
	for (a = 0; a < 3; a++)
		for (l = 0; l < 2; l++) {
			codec_init(&codec, k, aeads[a], l ? 3 : 0, max);
			for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
				n = sizes[s];
				/* text compresses; random data and float
				 * vectors are stored raw */
				round_trip(&codec, w, text, n,
				    l == 0 || n < 64 ? 0 : n >= 4096 ? 1 : -1);
				round_trip(&codec, w, rnd, n, 0);
				round_trip(&codec, w, floats, n, 0);
			}
		}
	/* too large for the codec or the work area */
	codec_init(&codec, k, QBK_CRYPTO_AEAD_XCHACHA, 3, max - 1);
	qbk_chunk_id(&codec, rnd, max, id);
	assert_int_equal(qbk_chunk_encode(&codec, w, rnd, max, id, &obj,
	    &objlen, NULL, &err), -1);
	assert_int_equal(err.code, QBK_E_INTERNAL);
	qbk_chunk_work_free(w);
	qbk_chunk_work_free(NULL);
	assert_int_equal(qbk_chunk_work_new(QBK_CHUNK_SIZE_LIMIT + 1, &w,
	    &err), -1);
	assert_null(w);
	free(text);
	free(rnd);
	free(floats);
	qbk_crypto_keys_free(k);
}

/* A chunk half float vectors, half JSON: the spread probe sees both. */
static void
mixed_chunk_compressed(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec;
	struct qbk_chunk_info info;
	uint8_t d[65536], id[32], *obj;
	size_t objlen;

	(void)state;
	fill_floats(d, 32768, 9);
	fill_text(d + 32768, 32768, 10);
	assert_int_equal(qbk_chunk_work_new(65536, &w, NULL), 0);
	codec_init(&codec, k, QBK_CRYPTO_AEAD_XCHACHA, 3, 65536);
	obj = encode(&codec, w, d, sizeof(d), id, &objlen, &info);
	assert_int_equal(info.flags, QBK_CHUNK_FLAG_ZSTD);
	assert_true(info.stored_len < sizeof(d) * 3 / 4);
	free(obj);
	/* float vectors alone are not worth it */
	fill_floats(d, sizeof(d), 11);
	obj = encode(&codec, w, d, sizeof(d), id, &objlen, &info);
	assert_int_equal(info.flags, 0);
	free(obj);
	qbk_chunk_work_free(w);
	qbk_crypto_keys_free(k);
}

static void
tamper_every_byte(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec;
	struct qbk_chunk_info info;
	uint8_t text[600], *rnd = random_bytes(200, 12), *obj, id[32];
	const uint8_t flips[] = { 0x01, 0x80, 0xff };
	size_t a, kind, i, f, objlen;

	(void)state;
	fill_text(text, sizeof(text), 13);
	assert_int_equal(qbk_chunk_work_new(4096, &w, NULL), 0);
	for (a = 0; a < 3; a++)
		for (kind = 0; kind < 2; kind++) {
			codec_init(&codec, k, aeads[a], 3, 4096);
			obj = encode(&codec, w, kind ? rnd : text,
			    kind ? 200 : sizeof(text), id, &objlen, &info);
			assert_int_equal(info.flags,
			    kind ? 0 : QBK_CHUNK_FLAG_ZSTD);
			for (i = 0; i < objlen; i++)
				for (f = 0; f < sizeof(flips); f++) {
					obj[i] ^= flips[f];
					expect_damaged(&codec, w, id, obj,
					    objlen);
					obj[i] ^= flips[f];
				}
			/* truncated anywhere, or one byte longer */
			for (i = 0; i < objlen; i++)
				expect_damaged(&codec, w, id, obj, i);
			obj[objlen] = 0;
			expect_damaged(&codec, w, id, obj, objlen + 1);
			free(obj);
		}
	free(rnd);
	qbk_chunk_work_free(w);
	qbk_crypto_keys_free(k);
}

static void
swapped_and_foreign(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0), *other = fixed_keys(1);
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec, codec2;
	struct qbk_chunk_info info;
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t a_data[3000], b_data[3000], ida[32], idb[32], *oa, *ob;
	size_t a, la, lb, plen;
	const uint8_t *plain;

	(void)state;
	fill_text(a_data, sizeof(a_data), 14);
	fill_text(b_data, sizeof(b_data), 15);
	assert_int_equal(qbk_chunk_work_new(4096, &w, NULL), 0);
	for (a = 0; a < 3; a++) {
		codec_init(&codec, k, aeads[a], 3, 4096);
		oa = encode(&codec, w, a_data, sizeof(a_data), ida, &la, &info);
		ob = encode(&codec, w, b_data, sizeof(b_data), idb, &lb, &info);
		/* an object stored under another chunk's name */
		expect_damaged(&codec, w, idb, oa, la);
		expect_damaged(&codec, w, ida, ob, lb);
		/* another repository's key */
		codec_init(&codec2, other, aeads[a], 3, 4096);
		expect_damaged(&codec2, w, ida, oa, la);
		/* another algorithm than the repository's: no downgrade */
		codec_init(&codec2, k, aeads[(a + 1) % 3], 3, 4096);
		expect_damaged(&codec2, w, ida, oa, la);
		assert_int_equal(qbk_chunk_decode(&codec2, w, ida, oa, la,
		    &plain, &plen, &err), -1);
		assert_non_null(strstr(err.msg,
		    qbk_crypto_aead_name(aeads[a])));
		/* a smaller chunk limit than the object's length */
		codec_init(&codec2, k, aeads[a], 3, 2999);
		expect_damaged(&codec2, w, ida, oa, la);
		/* still fine with the right everything */
		assert_int_equal(qbk_chunk_decode(&codec, w, ida, oa, la,
		    &plain, &plen, &err), 0);
		free(oa);
		free(ob);
	}
	qbk_chunk_work_free(w);
	qbk_crypto_keys_free(k);
	qbk_crypto_keys_free(other);
}

static void
nonces_differ(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec;
	struct qbk_chunk_info info;
	uint8_t d[5000], id[32], *o1, *o2;
	size_t a, l1, l2;
	static const uint8_t zero[24];

	(void)state;
	fill_text(d, sizeof(d), 16);
	assert_int_equal(qbk_chunk_work_new(8192, &w, NULL), 0);
	for (a = 0; a < 3; a++) {
		codec_init(&codec, k, aeads[a], 3, 8192);
		o1 = encode(&codec, w, d, sizeof(d), id, &l1, &info);
		o2 = encode(&codec, w, d, sizeof(d), id, &l2, &info);
		assert_int_equal(l1, l2);
		if (aeads[a] == QBK_CRYPTO_AEAD_NONE) {
			assert_memory_equal(o1 + 16, zero, 24);
			assert_memory_equal(o1, o2, l1);
		} else {
			assert_memory_not_equal(o1 + 16, o2 + 16, 24);
			assert_memory_not_equal(o1 + 16, zero, 24);
			assert_memory_not_equal(o1 + 40, o2 + 40, l1 - 40);
			/* the header's other bytes are the same */
			assert_memory_equal(o1, o2, 16);
		}
		free(o1);
		free(o2);
	}
	qbk_chunk_work_free(w);
	qbk_crypto_keys_free(k);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Finish a hand-made unencrypted object of ${stored} payload bytes with
 * its tag; returns its length. */
static size_t
seal_none(const struct qbk_crypto_keys *k, const uint8_t *id, uint8_t *o,
    size_t stored)
{
	uint8_t ad[72];

	memcpy(ad, id, 32);
	memcpy(ad + 32, o, 40);
	qbk_crypto_mac(k, QBK_CRYPTO_USE_DATA, ad, sizeof(ad), o + 40,
	    o[5] ? stored : 0, o + 40 + stored);
	return 40 + stored + 16;
}

/* Hand-made objects: lengths checked before use, one zstd frame only. */
static void
crafted_headers(void **state)
{
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec;
	struct qbk_chunk_info info;
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t d[4000], id[32], *o;
	const uint8_t *plain;
	size_t n1, n2, plen, len, olen = 40 + 8192 + 16;

	(void)state;
	o = calloc(1, olen);
	assert_non_null(o);
	fill_text(d, sizeof(d), 17);
	assert_int_equal(qbk_chunk_work_new(4096, &w, NULL), 0);
	codec_init(&codec, k, QBK_CRYPTO_AEAD_NONE, 3, 4096);
	qbk_chunk_id(&codec, d, sizeof(d), id);
	memcpy(o, "QBKC\x01\x01\x00\x00", 8);

	/* one frame, made by hand: fine */
	n1 = ZSTD_compress(o + 40, 8000, d, sizeof(d), 1);
	assert_false(ZSTD_isError(n1));
	put32(o + 8, 4000);
	put32(o + 12, (uint32_t)n1);
	len = seal_none(k, id, o, n1);
	assert_int_equal(qbk_chunk_peek(o, len, &info, &err), 0);
	assert_int_equal(qbk_chunk_decode(&codec, w, id, o, len, &plain, &plen,
	    &err), 0);
	assert_memory_equal(plain, d, sizeof(d));
	/* and a wrong tag */
	o[len - 1] ^= 1;
	expect_damaged(&codec, w, id, o, len);
	/* two frames that together hold the chunk: not one frame */
	n1 = ZSTD_compress(o + 40, 4000, d, 2000, 1);
	n2 = ZSTD_compress(o + 40 + n1, 4000, d + 2000, 2000, 1);
	assert_false(ZSTD_isError(n1) || ZSTD_isError(n2));
	put32(o + 12, (uint32_t)(n1 + n2));
	len = seal_none(k, id, o, n1 + n2);
	expect_damaged(&codec, w, id, o, len);
	assert_int_equal(qbk_chunk_decode(&codec, w, id, o, len, &plain, &plen,
	    &err), -1);
	assert_non_null(strstr(err.msg, "zstd frame"));
	/* a frame that says it holds a different length */
	n1 = ZSTD_compress(o + 40, 8000, d, 3999, 1);
	put32(o + 12, (uint32_t)n1);
	len = seal_none(k, id, o, n1);
	expect_damaged(&codec, w, id, o, len);
	/* a frame of the right length but other bytes */
	d[0] ^= 1;
	n1 = ZSTD_compress(o + 40, 8000, d, 4000, 1);
	d[0] ^= 1;
	put32(o + 12, (uint32_t)n1);
	len = seal_none(k, id, o, n1);
	assert_int_equal(qbk_chunk_decode(&codec, w, id, o, len, &plain, &plen,
	    &err), -1);
	assert_non_null(strstr(err.msg, "does not match its id"));
	/* garbage instead of a frame */
	memset(o + 40, 0x55, 100);
	put32(o + 12, 100);
	len = seal_none(k, id, o, 100);
	expect_damaged(&codec, w, id, o, len);

	/* lengths beyond the repository's or the format's limits */
	put32(o + 8, 4097);
	put32(o + 12, 4097);
	o[5] = 0;
	len = seal_none(k, id, o, 4097);
	expect_damaged(&codec, w, id, o, len);
	put32(o + 8, QBK_CHUNK_SIZE_LIMIT + 1);
	assert_int_equal(qbk_chunk_peek(o, len, &info, &err), -1);
	assert_int_equal(err.code, QBK_E_INTEGRITY);
	put32(o + 8, 0xffffffffu);
	put32(o + 12, 0xfffffff0u);
	expect_damaged(&codec, w, id, o, olen);
	/* raw: stored must equal plain */
	put32(o + 8, 4000);
	put32(o + 12, 3999);
	len = seal_none(k, id, o, 3999);
	expect_damaged(&codec, w, id, o, len);
	/* compressed, stored not smaller */
	o[5] = 1;
	put32(o + 12, 4000);
	len = seal_none(k, id, o, 4000);
	expect_damaged(&codec, w, id, o, len);
	/* garbage in peek */
	assert_int_equal(qbk_chunk_peek("QBK", 3, &info, &err), -1);
	assert_non_null(strstr(err.msg, "chunk object is damaged"));
	assert_int_equal(qbk_chunk_peek(d, sizeof(d), &info, &err), -1);
	assert_non_null(strstr(err.msg, "magic"));
	free(o);
	qbk_chunk_work_free(w);
	qbk_crypto_keys_free(k);
}

/* Golden fixtures. */

static char *
fixture(const char *name)
{
	const char *top = getenv("QBK_TOP");
	static char path[1024];

	snprintf(path, sizeof(path), "%s/tests/fixtures/chunk/%s",
	    top != NULL ? top : ".", name);
	return path;
}

static uint8_t *
read_fixture(const char *name, size_t *len)
{
	FILE *f = fopen(fixture(name), "rb");
	uint8_t *p;
	long n;

	if (f == NULL)
		fail_msg("cannot open fixture %s", fixture(name));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void
write_fixture(const char *name, const void *p, size_t len)
{
	FILE *f = fopen(fixture(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The chunk ids of text.json and random.bin under master.hex. */
#define TEXT_ID \
	"3fce0b9136926af18c1dc00d0fa0c599f99b376dfac3c55ca206ff6c59ab9ae2"
#define RANDOM_ID \
	"a266916ee96e46c4e4b2fd1cb10b35b1f2126f6b526cb7edb1982351a20d0a3b"

static struct {
	const char *file;
	enum qbk_crypto_aead aead;
	const char *plain;
	uint8_t flags;
	const char *id;
} goldens[] = {
	{ "xchacha20-poly1305.obj", QBK_CRYPTO_AEAD_XCHACHA, "text.json",
	    QBK_CHUNK_FLAG_ZSTD, TEXT_ID },
	{ "aes256-gcm.obj", QBK_CRYPTO_AEAD_AESGCM, "random.bin", 0,
	    RANDOM_ID },
	{ "none-zstd.obj", QBK_CRYPTO_AEAD_NONE, "text.json",
	    QBK_CHUNK_FLAG_ZSTD, TEXT_ID },
	{ "none-raw.obj", QBK_CRYPTO_AEAD_NONE, "random.bin", 0, RANDOM_ID },
};

#define GOLDEN_STREAM	((size_t)4 << 20)
#define GOLDEN_SEED	20261121

static void
golden_write(void)
{
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	struct qbk_crypto_keys *k = fixed_keys(0);
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec;
	struct qbk_chunk_info info;
	uint8_t text[6000], *rnd = random_bytes(3000, 99), *obj, id[32];
	uint64_t gear[256];
	struct cuts c;
	char line[64], hex[65];
	FILE *f;
	size_t i, objlen;

	fill_text(text, sizeof(text), 98);
	write_fixture("text.json", text, sizeof(text));
	write_fixture("random.bin", rnd, 3000);
	assert_int_equal(qbk_chunk_work_new(p.max, &w, NULL), 0);
	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		int t = strcmp(goldens[i].plain, "text.json") == 0;

		codec_init(&codec, k, goldens[i].aead, 3, p.max);
		obj = encode(&codec, w, t ? text : rnd, t ? sizeof(text) : 3000,
		    id, &objlen, &info);
		write_fixture(goldens[i].file, obj, objlen);
		qbk_hex(id, 32, hex);
		printf("# %s %s\n", goldens[i].file, hex);
		free(obj);
	}
	qbk_crypto_gear_table(k, gear);
	obj = random_bytes(GOLDEN_STREAM, GOLDEN_SEED);
	chunk_all(&p, gear, obj, GOLDEN_STREAM, MIB, &c);
	f = fopen(fixture("cuts.txt"), "w");
	assert_non_null(f);
	for (i = 0; i < c.n; i++) {
		snprintf(line, sizeof(line), "%zu\n", c.len[i]);
		fputs(line, f);
	}
	fclose(f);
	free(c.len);
	free(obj);
	free(rnd);
	qbk_chunk_work_free(w);
	qbk_crypto_keys_free(k);
}

static void
golden_fixtures(void **state)
{
	struct qbk_chunk_params p = QBK_CHUNK_PARAMS_DEFAULT;
	struct qbk_crypto_keys *k = NULL;
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_codec codec;
	struct qbk_chunk_info info;
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t master[32], id[32], *obj, *plain, *re, *keytext, *stream;
	const uint8_t *out;
	size_t i, objlen, plen, len, rlen, off;
	uint64_t gear[256];
	struct cuts c;
	char *cuts, *line, *save = NULL;

	(void)state;
	if (getenv("QBK_GOLDEN_WRITE") != NULL)
		golden_write();
	/* the key is written down, as an operator's would be */
	keytext = read_fixture("master.hex", &len);
	assert_int_equal(len, 65);
	keytext[64] = '\0';
	assert_int_equal(qbk_unhex((char *)keytext, master, 32), 0);
	free(keytext);
	assert_int_equal(qbk_crypto_keys_from_master(master, &k, &err), 0);
	assert_int_equal(qbk_chunk_work_new(p.max, &w, &err), 0);
	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		obj = read_fixture(goldens[i].file, &objlen);
		plain = read_fixture(goldens[i].plain, &plen);
		assert_int_equal(qbk_unhex(goldens[i].id, id, 32), 0);
		codec_init(&codec, k, goldens[i].aead, 3, p.max);
		assert_int_equal(qbk_chunk_peek(obj, objlen, &info, &err), 0);
		assert_int_equal(info.flags, goldens[i].flags);
		assert_int_equal(info.aead, goldens[i].aead);
		assert_int_equal(info.plain_len, plen);
		assert_int_equal(qbk_chunk_decode(&codec, w, id, obj, objlen,
		    &out, &len, &err), 0);
		assert_int_equal(len, plen);
		assert_memory_equal(out, plain, plen);
		/* unencrypted and raw: today's encoder writes the very same
		 * bytes */
		if (goldens[i].aead == QBK_CRYPTO_AEAD_NONE &&
		    goldens[i].flags == 0) {
			re = encode(&codec, w, plain, plen, id, &rlen, &info);
			assert_int_equal(rlen, objlen);
			assert_memory_equal(re, obj, objlen);
			free(re);
		}
		free(obj);
		free(plain);
	}
	/* chunk boundaries never move: dedup across versions depends on it */
	qbk_crypto_gear_table(k, gear);
	stream = random_bytes(GOLDEN_STREAM, GOLDEN_SEED);
	chunk_all(&p, gear, stream, GOLDEN_STREAM, MIB, &c);
	cuts = (char *)read_fixture("cuts.txt", &len);
	cuts[len] = '\0';
	for (i = 0, off = 0, line = strtok_r(cuts, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), i++) {
		assert_true(i < c.n);
		assert_int_equal(strtoul(line, NULL, 10), c.len[i]);
		off += c.len[i];
	}
	assert_int_equal(i, c.n);
	assert_int_equal(off, GOLDEN_STREAM);
	free(cuts);
	free(c.len);
	free(stream);
	qbk_chunk_work_free(w);
	qbk_crypto_keys_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(params_check),
		cmocka_unit_test(sizes_and_average),
		cmocka_unit_test(feed_sizes_do_not_matter),
		cmocka_unit_test(stable_under_insertion),
		cmocka_unit_test(gear_key_changes_cuts),
		cmocka_unit_test(edge_streams),
		cmocka_unit_test(round_trips),
		cmocka_unit_test(mixed_chunk_compressed),
		cmocka_unit_test(tamper_every_byte),
		cmocka_unit_test(swapped_and_foreign),
		cmocka_unit_test(nonces_differ),
		cmocka_unit_test(crafted_headers),
		cmocka_unit_test(golden_fixtures),
	};
	struct qbk_err err = QBK_ERR_INIT;

	if (qbk_init(&err) != 0) {
		fprintf(stderr, "qbk_init: %s\n", err.msg);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
