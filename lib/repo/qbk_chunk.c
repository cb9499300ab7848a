#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "common/qbk_buf.h"
#include "common/qbk_err.h"
#include "common/qbk_hex.h"
#include "repo/qbk_crypto.h"
#include "repo/qbk_chunk.h"

/* Smallest chunk size the chunker accepts as min. */
#define MIN_MIN		64
/* Chunks shorter than this are stored raw without a try. */
#define TINY		64

int
qbk_chunk_params_check(const struct qbk_chunk_params *p, struct qbk_err *err)
{
	if (p->avg == 0 || (p->avg & (p->avg - 1)) != 0)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "chunk average size %u is not a power of two", p->avg);
	if (p->min < MIN_MIN || p->min >= p->avg || p->avg >= p->max ||
	    p->max > QBK_CHUNK_SIZE_LIMIT)
		return qbk_err_set(err, QBK_E_CONFIG,
		    "chunk sizes min %u, avg %u, max %u: need %u <= min < "
		    "avg < max <= %u", p->min, p->avg, p->max, MIN_MIN,
		    QBK_CHUNK_SIZE_LIMIT);
	return 0;
}

/* The chunker. */

struct qbk_chunk_cdc {
	uint64_t gear[256];
	uint64_t gear_ls[256];	/* gear[b] << 1, for two bytes a step */
	uint64_t mask_s, mask_l;	/* before and after avg */
	size_t min, avg, max;
	uint64_t fp;		/* gear hash of the current chunk so far */
	uint8_t *carry;		/* the current chunk's bytes from past feeds */
	size_t carry_len;
	const uint8_t *in;	/* the fed buffer */
	size_t in_len;
	size_t in_pos;		/* bytes of ${in} scanned */
	size_t start;		/* where the current chunk begins in ${in} */
	int finished;
};

/* n one-bits at positions 63-n .. 62: the top bit stays clear, so the
 * two-byte step below tests exactly what the one-byte step would. */
static uint64_t
mask_bits(unsigned int n)
{
	return (((uint64_t)1 << n) - 1) << (63 - n);
}

static unsigned int
log2_of(size_t v)
{
	unsigned int b = 0;

	while (((size_t)1 << b) < v)
		b++;
	return b;
}

int
qbk_chunk_cdc_new(const struct qbk_chunk_params *p, const uint64_t *gear,
    struct qbk_chunk_cdc **out, struct qbk_err *err)
{
	struct qbk_chunk_cdc *c;
	unsigned int bits, i;

	*out = NULL;
	if (qbk_chunk_params_check(p, err) != 0)
		return -1;
	c = qbk_xcalloc(1, sizeof(*c));
	for (i = 0; i < 256; i++) {
		c->gear[i] = gear[i];
		c->gear_ls[i] = gear[i] << 1;
	}
	bits = log2_of(p->avg);
	c->mask_s = mask_bits(bits + 2);
	c->mask_l = mask_bits(bits > 2 ? bits - 2 : 1);
	c->min = p->min;
	c->avg = p->avg;
	c->max = p->max;
	c->carry = qbk_xmalloc(p->max);
	*out = c;
	return 0;
}

void
qbk_chunk_cdc_free(struct qbk_chunk_cdc *c)
{
	if (c == NULL)
		return;
	free(c->carry);
	free(c);
}

void
qbk_chunk_cdc_reset(struct qbk_chunk_cdc *c)
{
	c->fp = 0;
	c->carry_len = 0;
	c->in = NULL;
	c->in_len = c->in_pos = c->start = 0;
	c->finished = 0;
}

void
qbk_chunk_cdc_feed(struct qbk_chunk_cdc *c, const void *data, size_t len)
{
	/* The previous buffer has been drained into the carry by now. */
	c->in = data;
	c->in_len = len;
	c->in_pos = 0;
	c->start = 0;
}

void
qbk_chunk_cdc_finish(struct qbk_chunk_cdc *c)
{
	c->finished = 1;
}

/*
 * Roll the gear hash over p[i..end) with ${mask}; returns the offset just
 * after the byte that ends a chunk (and sets *found), or ${end}.  Two bytes
 * a step: with x = (fp << 2) + (gear[a] << 1), x is the one-byte hash after
 * a shifted left by one, and x & (mask << 1) == 0 exactly when that hash
 * & mask == 0 (mask's bit 63 is clear), so cuts are those of the one-byte
 * loop.
 */
static inline size_t
roll(struct qbk_chunk_cdc *c, const uint8_t *p, size_t i, size_t end,
    uint64_t mask, int *found)
{
	const uint64_t mask_ls = mask << 1;
	uint64_t fp = c->fp, x;

	while (i + 2 <= end) {
		x = (fp << 2) + c->gear_ls[p[i]];
		fp = x + c->gear[p[i + 1]];
		if ((x & mask_ls) == 0) {
			*found = 1;
			return i + 1;
		}
		if ((fp & mask) == 0) {
			*found = 1;
			return i + 2;
		}
		i += 2;
	}
	if (i < end) {
		fp = (fp << 1) + c->gear[p[i]];
		i++;
		if ((fp & mask) == 0) {
			*found = 1;
			return i;
		}
	}
	c->fp = fp;
	return i;
}

/*
 * Scan ${n} bytes at ${p}, the first at offset ${pos} of the current chunk.
 * Returns how many were consumed; *found says whether the chunk ends after
 * the last of them.
 */
static size_t
scan(struct qbk_chunk_cdc *c, size_t pos, const uint8_t *p, size_t n,
    int *found)
{
	size_t i = 0, j, end;

	*found = 0;
	if (pos < c->min) {
		/* FastCDC's skip: no cut before min, so no hashing. */
		if (c->min - pos >= n)
			return n;
		i = c->min - pos;
		pos = c->min;
	}
	if (pos < c->avg) {
		end = i + (c->avg - pos < n - i ? c->avg - pos : n - i);
		j = roll(c, p, i, end, c->mask_s, found);
		if (*found)
			return j;
		pos += j - i;
		i = j;
		if (i == n)
			return n;
	}
	end = i + (c->max - pos < n - i ? c->max - pos : n - i);
	j = roll(c, p, i, end, c->mask_l, found);
	if (*found)
		return j;
	if (pos + (j - i) == c->max)
		*found = 1;
	return j;
}

int
qbk_chunk_cdc_next(struct qbk_chunk_cdc *c, const uint8_t **chunk,
    size_t *len)
{
	size_t pos, used, n;
	int found;

	if (c->in_pos < c->in_len) {
		pos = c->carry_len + (c->in_pos - c->start);
		used = scan(c, pos, c->in + c->in_pos, c->in_len - c->in_pos,
		    &found);
		c->in_pos += used;
		if (found) {
			n = c->in_pos - c->start;
			if (c->carry_len == 0) {
				*chunk = c->in + c->start;
				*len = n;
			} else {
				memcpy(c->carry + c->carry_len,
				    c->in + c->start, n);
				*chunk = c->carry;
				*len = c->carry_len + n;
				/* The bytes stay put until the next call. */
				c->carry_len = 0;
			}
			c->start = c->in_pos;
			c->fp = 0;
			return 1;
		}
	}
	/* The buffer is used up: keep the unfinished chunk's tail. */
	if (c->start < c->in_len) {
		n = c->in_len - c->start;
		memcpy(c->carry + c->carry_len, c->in + c->start, n);
		c->carry_len += n;
		c->start = c->in_len;
	}
	if (c->finished && c->carry_len > 0) {
		*chunk = c->carry;
		*len = c->carry_len;
		c->carry_len = 0;
		c->fp = 0;
		return 1;
	}
	return 0;
}

/* Chunk objects. */

struct qbk_chunk_work {
	ZSTD_CCtx *cctx;	/* whole chunks */
	ZSTD_CCtx *probe;	/* probes: its own, so that neither context
				 * keeps resizing its tables */
	ZSTD_DCtx *dctx;
	struct qbk_crypto_cipher *cipher;
	uint32_t max_plain;
	uint8_t *obj;		/* header, compressBound(max_plain), tag */
	size_t obj_cap;
	uint8_t *plain;		/* decoded plaintext; probe scratch */
	size_t plain_cap;
};

int
qbk_chunk_work_new(uint32_t max_plain, struct qbk_chunk_work **out,
    struct qbk_err *err)
{
	struct qbk_chunk_work *w;
	size_t probe = QBK_CHUNK_PROBE_LEN +
	    ZSTD_compressBound(QBK_CHUNK_PROBE_LEN);

	*out = NULL;
	if (max_plain > QBK_CHUNK_SIZE_LIMIT)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "chunk size %u is above the limit %u", max_plain,
		    QBK_CHUNK_SIZE_LIMIT);
	w = qbk_xcalloc(1, sizeof(*w));
	w->max_plain = max_plain;
	w->obj_cap = QBK_CHUNK_HEADER_LEN + ZSTD_compressBound(max_plain) +
	    QBK_CRYPTO_TAG_LEN;
	w->obj = qbk_xmalloc(w->obj_cap);
	w->plain_cap = max_plain > probe ? max_plain : probe;
	w->plain = qbk_xmalloc(w->plain_cap);
	if ((w->cctx = ZSTD_createCCtx()) == NULL ||
	    (w->probe = ZSTD_createCCtx()) == NULL ||
	    (w->dctx = ZSTD_createDCtx()) == NULL) {
		qbk_chunk_work_free(w);
		return qbk_err_set(err, QBK_E_NOMEM,
		    "cannot allocate zstd contexts");
	}
	if (qbk_crypto_cipher_new(0, &w->cipher, err) != 0) {
		qbk_chunk_work_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

void
qbk_chunk_work_free(struct qbk_chunk_work *w)
{
	if (w == NULL)
		return;
	ZSTD_freeCCtx(w->cctx);
	ZSTD_freeCCtx(w->probe);
	ZSTD_freeDCtx(w->dctx);
	qbk_crypto_cipher_free(w->cipher);
	free(w->obj);
	free(w->plain);
	free(w);
}

void
qbk_chunk_id(const struct qbk_chunk_codec *codec, const void *data,
    size_t len, uint8_t *id)
{
	qbk_crypto_chunk_id(codec->keys, data, len, id);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * Is ${data} worth compressing?  Compress a sample at level 1: the whole
 * chunk when it is small, else QBK_CHUNK_PROBE_PARTS pieces from the start
 * to the end, so that a chunk that is mostly floats with some JSON (or the
 * reverse) is judged on both.  Float vectors come out near 0.93 and are
 * not worth it; JSON, WAL and configs come out far below.
 */
static int
worth_compressing(struct qbk_chunk_work *w, const uint8_t *data, size_t len)
{
	const size_t piece = QBK_CHUNK_PROBE_LEN / QBK_CHUNK_PROBE_PARTS;
	const uint8_t *sample = data;
	uint8_t *dst = w->plain + QBK_CHUNK_PROBE_LEN;
	size_t n = len, k, out;

	if (len > QBK_CHUNK_PROBE_LEN) {
		for (k = 0; k < QBK_CHUNK_PROBE_PARTS; k++)
			memcpy(w->plain + k * piece, data + (len - piece) * k /
			    (QBK_CHUNK_PROBE_PARTS - 1), piece);
		sample = w->plain;
		n = QBK_CHUNK_PROBE_LEN;
	}
	out = ZSTD_compressCCtx(w->probe, dst, ZSTD_compressBound(n), sample,
	    n, 1);
	if (ZSTD_isError(out))
		return 0;
	return out * 64 <= n * QBK_CHUNK_PROBE_KEEP;
}

int
qbk_chunk_encode(const struct qbk_chunk_codec *codec,
    struct qbk_chunk_work *w, const void *data, size_t len,
    const uint8_t *id, const uint8_t **obj, size_t *objlen,
    struct qbk_chunk_info *info, struct qbk_err *err)
{
	uint8_t ad[QBK_CRYPTO_ID_LEN + QBK_CHUNK_HEADER_LEN];
	uint8_t *h = w->obj, *payload = w->obj + QBK_CHUNK_HEADER_LEN;
	const uint8_t *src = data;
	size_t stored = len, n;
	uint8_t flags = 0;

	*obj = NULL;
	*objlen = 0;
	if (len > w->max_plain || len > codec->max_plain)
		return qbk_err_set(err, QBK_E_INTERNAL,
		    "chunk of %zu bytes is larger than the %u allowed", len,
		    codec->max_plain < w->max_plain ? codec->max_plain :
		    w->max_plain);
	if (codec->zstd_level > 0 && len >= TINY &&
	    worth_compressing(w, data, len)) {
		n = ZSTD_compressCCtx(w->cctx, payload,
		    ZSTD_compressBound(len), data, len, codec->zstd_level);
		if (!ZSTD_isError(n) &&
		    n * 64 <= len * (64 - QBK_CHUNK_MIN_SAVING)) {
			flags = QBK_CHUNK_FLAG_ZSTD;
			stored = n;
			src = payload;
		}
	}
	memcpy(h, QBK_CHUNK_MAGIC, 4);
	h[4] = QBK_CHUNK_VERSION;
	h[5] = flags;
	h[6] = (uint8_t)codec->aead;
	h[7] = 0;
	put32(h + 8, (uint32_t)len);
	put32(h + 12, (uint32_t)stored);
	if (codec->aead == QBK_CRYPTO_AEAD_NONE)
		memset(h + 16, 0, QBK_CRYPTO_NONCE_LEN);
	else
		qbk_crypto_random(h + 16, QBK_CRYPTO_NONCE_LEN);
	memcpy(ad, id, QBK_CRYPTO_ID_LEN);
	memcpy(ad + QBK_CRYPTO_ID_LEN, h, QBK_CHUNK_HEADER_LEN);
	if (codec->aead == QBK_CRYPTO_AEAD_NONE) {
		if (src != payload && len > 0)
			memcpy(payload, src, len);
		qbk_crypto_mac(codec->keys, QBK_CRYPTO_USE_DATA, ad, sizeof(ad),
		    payload, flags ? stored : 0, payload + stored);
	} else if (qbk_crypto_seal(w->cipher, codec->keys, QBK_CRYPTO_USE_DATA,
	    codec->aead, h + 16, ad, sizeof(ad), src, stored, payload,
	    payload + stored, err) != 0)
		return -1;
	*objlen = QBK_CHUNK_HEADER_LEN + stored + QBK_CRYPTO_TAG_LEN;
	*obj = w->obj;
	if (info != NULL) {
		info->plain_len = (uint32_t)len;
		info->stored_len = (uint32_t)stored;
		info->flags = flags;
		info->aead = (uint8_t)codec->aead;
	}
	return 0;
}

static int
damaged(struct qbk_err *err, const uint8_t *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record "chunk '<id>' is damaged: <what>" (QBK_E_INTEGRITY); -1. */
static int
damaged(struct qbk_err *err, const uint8_t *id, const char *fmt, ...)
{
	struct qbk_buf what = QBK_BUF_INIT;
	char hex[2 * QBK_CRYPTO_ID_LEN + 1];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	qbk_buf_vaddf(&what, fmt, ap);
	va_end(ap);
	if (id != NULL) {
		qbk_hex(id, QBK_CRYPTO_ID_LEN, hex);
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "chunk '%s' is damaged: %s", hex, what.buf);
	} else
		qbk_err_set(err, QBK_E_INTEGRITY,
		    "chunk object is damaged: %s", what.buf);
	qbk_buf_release(&what);
	return -1;
}

static int
peek(const uint8_t *o, size_t len, struct qbk_chunk_info *info,
    const uint8_t *id, struct qbk_err *err)
{
	static const uint8_t zero[QBK_CRYPTO_NONCE_LEN];
	uint32_t plain, stored;
	size_t want;

	if (len < QBK_CHUNK_HEADER_LEN)
		return damaged(err, id, "%zu bytes, shorter than a header",
		    len);
	if (memcmp(o, QBK_CHUNK_MAGIC, 4) != 0)
		return damaged(err, id, "not a chunk object (bad magic)");
	if (o[4] != QBK_CHUNK_VERSION)
		return damaged(err, id, "unknown format version %u", o[4]);
	if ((o[5] & ~QBK_CHUNK_FLAG_ZSTD) != 0)
		return damaged(err, id, "unknown flags 0x%02x", o[5]);
	if (o[6] > QBK_CRYPTO_AEAD_AESGCM)
		return damaged(err, id, "unknown encryption algorithm %u",
		    o[6]);
	if (o[7] != 0)
		return damaged(err, id, "reserved byte is %u", o[7]);
	plain = get32(o + 8);
	stored = get32(o + 12);
	if (plain > QBK_CHUNK_SIZE_LIMIT)
		return damaged(err, id, "plaintext length %u above the limit",
		    plain);
	if ((o[5] & QBK_CHUNK_FLAG_ZSTD) != 0 ?
	    (stored == 0 || stored >= plain) : stored != plain)
		return damaged(err, id,
		    "stored length %u does not fit plaintext length %u",
		    stored, plain);
	want = QBK_CHUNK_HEADER_LEN + (size_t)stored + QBK_CRYPTO_TAG_LEN;
	if (len != want)
		return damaged(err, id, "%zu bytes where the header says %zu",
		    len, want);
	if (o[6] == QBK_CRYPTO_AEAD_NONE &&
	    memcmp(o + 16, zero, sizeof(zero)) != 0)
		return damaged(err, id, "nonce set on an unencrypted chunk");
	info->plain_len = plain;
	info->stored_len = stored;
	info->flags = o[5];
	info->aead = o[6];
	return 0;
}

int
qbk_chunk_peek(const void *obj, size_t len, struct qbk_chunk_info *info,
    struct qbk_err *err)
{
	return peek(obj, len, info, NULL, err);
}

int
qbk_chunk_decode(const struct qbk_chunk_codec *codec,
    struct qbk_chunk_work *w, const uint8_t *id, const void *obj,
    size_t len, const uint8_t **plain, size_t *plainlen, struct qbk_err *err)
{
	uint8_t ad[QBK_CRYPTO_ID_LEN + QBK_CHUNK_HEADER_LEN];
	uint8_t check[QBK_CRYPTO_ID_LEN];
	const uint8_t *o = obj, *payload = o + QBK_CHUNK_HEADER_LEN;
	const uint8_t *out;
	struct qbk_chunk_info info = { 0, 0, 0, 0 };
	uint8_t *dst;
	size_t n;

	*plain = NULL;
	*plainlen = 0;
	if (peek(o, len, &info, id, err) != 0)
		return -1;
	if (info.aead != (uint8_t)codec->aead)
		return damaged(err, id,
		    "encrypted with '%s' but the repository uses '%s'",
		    qbk_crypto_aead_name(info.aead),
		    qbk_crypto_aead_name(codec->aead));
	if (info.plain_len > codec->max_plain ||
	    info.plain_len > w->max_plain)
		return damaged(err, id,
		    "plaintext length %u above the repository's %u",
		    info.plain_len, codec->max_plain);

	/* Decrypt: a raw chunk straight to its place, a compressed one to
	 * the object scratch first. */
	dst = info.flags & QBK_CHUNK_FLAG_ZSTD ? w->obj : w->plain;
	memcpy(ad, id, QBK_CRYPTO_ID_LEN);
	memcpy(ad + QBK_CRYPTO_ID_LEN, o, QBK_CHUNK_HEADER_LEN);
	if (codec->aead == QBK_CRYPTO_AEAD_NONE) {
		qbk_crypto_mac(codec->keys, QBK_CRYPTO_USE_DATA, ad,
		    sizeof(ad), payload, info.flags ? info.stored_len : 0,
		    check);
		if (!qbk_crypto_equal(check, payload + info.stored_len,
		    QBK_CRYPTO_TAG_LEN))
			return damaged(err, id, "authentication failed "
			    "(changed, truncated, or not this repository's)");
		out = payload;
	} else {
		if (qbk_crypto_open(w->cipher, codec->keys,
		    QBK_CRYPTO_USE_DATA, codec->aead, o + 16, ad, sizeof(ad),
		    payload, info.stored_len, payload + info.stored_len, dst,
		    err) != 0) {
			if (err != NULL && err->code == QBK_E_INTEGRITY)
				return damaged(err, id,
				    "authentication failed (changed, "
				    "truncated, or not this repository's)");
			return -1;
		}
		out = dst;
	}

	if (info.flags & QBK_CHUNK_FLAG_ZSTD) {
		/* Exactly one frame that says it holds plain_len bytes. */
		if (ZSTD_findFrameCompressedSize(out, info.stored_len) !=
		    info.stored_len ||
		    ZSTD_getFrameContentSize(out, info.stored_len) !=
		    info.plain_len)
			return damaged(err, id, "bad zstd frame");
		n = ZSTD_decompressDCtx(w->dctx, w->plain, info.plain_len,
		    out, info.stored_len);
		if (ZSTD_isError(n))
			return damaged(err, id, "zstd: %s",
			    ZSTD_getErrorName(n));
		if (n != info.plain_len)
			return damaged(err, id,
			    "zstd gave %zu bytes instead of %u", n,
			    info.plain_len);
		out = w->plain;
	}

	qbk_crypto_chunk_id(codec->keys, out, info.plain_len, check);
	if (!qbk_crypto_equal(check, id, QBK_CRYPTO_ID_LEN))
		return damaged(err, id, "content does not match its id");
	*plain = out;
	*plainlen = info.plain_len;
	return 0;
}
