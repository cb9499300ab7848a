/*
 * fuzz_chunk: untrusted chunk objects through qbk_chunk_peek() and
 * qbk_chunk_decode() under a fixed key (master 00 01 .. 1f, the key of
 * tests/fixtures/chunk), and arbitrary streams through the chunker.
 * Input: byte 0 picks the mode.
 *   0, 1, 2   decode with aead none, xchacha20-poly1305, aes256-gcm:
 *             bytes 1..32 are the chunk id, the rest is the object.  A
 *             decoded chunk must hash to its id and survive a re-encode.
 *   4         like 0, but the target appends the right tag itself, so
 *             that the zstd frame checks and decompression behind the
 *             tag get fuzzed too (bytes 1..32 the id, then the object
 *             without its tag).
 *   3         chunk the rest (min 64, avg 256, max 1024), fed in pieces
 *             whose sizes come from the data: the cuts must be those of
 *             one feed, every chunk within min..max but the last.
 * Errors are expected and stay silent; a broken invariant aborts.
 * The corpus (tests/fuzz/corpus/chunk) holds valid objects of each
 * algorithm, damaged ones, and chunker streams.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qbk.h"
#include "common/qbk_err.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_PLAIN	((uint32_t)1 << 20)

static struct qbk_crypto_keys *keys;
static struct qbk_chunk_work *work;
static uint64_t gear[256];

static void
setup(void)
{
	struct qbk_err err = QBK_ERR_INIT;
	uint8_t master[QBK_CRYPTO_KEY_LEN];
	size_t i;

	if (keys != NULL)
		return;
	for (i = 0; i < sizeof(master); i++)
		master[i] = (uint8_t)i;
	if (qbk_init(&err) != 0 ||
	    qbk_crypto_keys_from_master(master, &keys, &err) != 0 ||
	    qbk_chunk_work_new(MAX_PLAIN, &work, &err) != 0)
		abort();
	qbk_crypto_gear_table(keys, gear);
}

static void
decode(enum qbk_crypto_aead aead, const uint8_t *id, const uint8_t *obj,
    size_t len)
{
	struct qbk_chunk_codec codec = { keys, aead, 3, MAX_PLAIN };
	struct qbk_chunk_info info;
	const uint8_t *plain, *re;
	uint8_t check[QBK_CRYPTO_ID_LEN], *copy;
	size_t plen, relen, plen2;

	if (qbk_chunk_peek(obj, len, &info, NULL) == 0 &&
	    len != QBK_CHUNK_HEADER_LEN + (size_t)info.stored_len +
	    QBK_CRYPTO_TAG_LEN)
		abort();
	if (qbk_chunk_decode(&codec, work, id, obj, len, &plain, &plen,
	    NULL) != 0)
		return;
	qbk_chunk_id(&codec, plain, plen, check);
	if (memcmp(check, id, sizeof(check)) != 0)
		abort();
	/* encode reuses the work area: keep the plaintext aside */
	copy = malloc(plen + 1);
	if (copy == NULL)
		abort();
	memcpy(copy, plain, plen);
	if (qbk_chunk_encode(&codec, work, copy, plen, id, &re, &relen, &info,
	    NULL) != 0)
		abort();
	if (qbk_chunk_decode(&codec, work, id, re, relen, &plain, &plen2,
	    NULL) != 0 || plen2 != plen || memcmp(plain, copy, plen) != 0)
		abort();
	free(copy);
}

/* Append the tag of an unencrypted object to ${len} bytes at ${obj} and
 * decode that. */
static void
retag(const uint8_t *id, const uint8_t *obj, size_t len)
{
	uint8_t ad[QBK_CRYPTO_ID_LEN + QBK_CHUNK_HEADER_LEN], *o;

	if ((o = malloc(len + QBK_CRYPTO_TAG_LEN)) == NULL)
		abort();
	memcpy(o, obj, len);
	memcpy(ad, id, QBK_CRYPTO_ID_LEN);
	memcpy(ad + QBK_CRYPTO_ID_LEN, o, QBK_CHUNK_HEADER_LEN);
	qbk_crypto_mac(keys, QBK_CRYPTO_USE_DATA, ad, sizeof(ad),
	    o + QBK_CHUNK_HEADER_LEN, (o[5] & QBK_CHUNK_FLAG_ZSTD) ?
	    len - QBK_CHUNK_HEADER_LEN : 0, o + len);
	decode(QBK_CRYPTO_AEAD_NONE, id, o, len + QBK_CRYPTO_TAG_LEN);
	free(o);
}

static size_t
cut(const uint8_t *data, size_t size, const uint8_t *sizes, size_t nsizes,
    size_t *lens, size_t cap)
{
	static const struct qbk_chunk_params p = { 64, 256, 1024 };
	struct qbk_chunk_cdc *c = NULL;
	const uint8_t *ch;
	size_t off = 0, n = 0, len, step, k = 0, total = 0;

	if (qbk_chunk_cdc_new(&p, gear, &c, NULL) != 0)
		abort();
	for (;;) {
		int last = off == size;

		if (!last) {
			step = nsizes ? 1 + sizes[k++ % nsizes] * 7u : size;
			if (step > size - off)
				step = size - off;
			qbk_chunk_cdc_feed(c, data + off, step);
			off += step;
		} else
			qbk_chunk_cdc_finish(c);
		while (qbk_chunk_cdc_next(c, &ch, &len)) {
			if (n == cap || len == 0 || len > p.max ||
			    memcmp(ch, data + total, len) != 0)
				abort();
			if (n > 0 && lens[n - 1] < p.min)
				abort();	/* only the last may be short */
			lens[n++] = len;
			total += len;
		}
		if (last)
			break;
	}
	qbk_chunk_cdc_free(c);
	if (total != size)
		abort();
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t a[70000], b[70000];
	size_t na, nb;

	if (size < 1 || size > 4 * MAX_PLAIN)
		return 0;
	setup();
	switch (data[0]) {
	case 0:
	case 1:
	case 2:
		if (size < 1 + QBK_CRYPTO_ID_LEN)
			return 0;
		decode((enum qbk_crypto_aead)data[0], data + 1,
		    data + 1 + QBK_CRYPTO_ID_LEN, size - 1 - QBK_CRYPTO_ID_LEN);
		break;
	case 4:
		if (size < 1 + QBK_CRYPTO_ID_LEN + QBK_CHUNK_HEADER_LEN)
			return 0;
		retag(data + 1, data + 1 + QBK_CRYPTO_ID_LEN,
		    size - 1 - QBK_CRYPTO_ID_LEN);
		break;
	case 3:
		na = cut(data + 1, size - 1, NULL, 0, a, 70000);
		nb = cut(data + 1, size - 1, data + 1, size - 1 < 64 ?
		    size - 1 : 64, b, 70000);
		if (na != nb || memcmp(a, b, na * sizeof(a[0])) != 0)
			abort();
		break;
	}
	return 0;
}
