#ifndef QBK_CHUNK_H
#define QBK_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "repo/qbk_crypto.h"

/*
 * Chunks: content-defined chunking of a stream (FastCDC), and the chunk
 * object stored at data/<2 hex>/<64 hex id> of a repository.
 *
 * Chunking is FastCDC (Xia et al., 2016/2020) with normalized chunking level
 * 2 and a 64-bit gear hash fp = (fp << 1) + gear[byte], gear keyed by the
 * repository (qbk_crypto_gear_table()).  For a chunk starting at offset 0:
 * bytes [0, min) are not hashed (fp = 0 at offset min); at each following
 * offset i, fp is updated with byte i, and the chunk ends after byte i when
 * (fp & mask) == 0, with mask = MASK(b + 2) while i < avg and MASK(b - 2)
 * from avg on, where avg = 2^b and MASK(n) has its n one-bits at bit
 * positions 62-n+1 .. 62; a chunk that reaches max bytes ends there; the
 * last chunk of a stream ends with the stream.  fp starts again at 0 for
 * every chunk.
 *
 * A chunk object (all integers little-endian):
 *   0  4   magic "QBKC"
 *   4  1   format version, 1
 *   5  1   flags: bit 0 = the payload is one zstd frame; others 0
 *   6  1   aead: 0 none, 1 xchacha20-poly1305, 2 aes256-gcm
 *   7  1   reserved, 0
 *   8  4   plaintext length
 *  12  4   stored length (payload bytes before the tag)
 *  16  24  nonce (random; all zero for none)
 *  40  -   payload: the plaintext, or one zstd frame of it (flags bit 0),
 *          encrypted with the aead (as is for none)
 *   -  16  tag
 * The AEAD of aead 1 and 2 authenticates, as associated data, the 32-byte
 * chunk id followed by the 40 header bytes, so that a changed header or an
 * object stored under another chunk's id fails authentication.  For aead 0
 * (none) the tag is BLAKE2b-128 keyed with the data key over the chunk id,
 * the header and, when compressed, the payload; a raw payload is covered by
 * the chunk id itself, a keyed hash of the plaintext that the decoder always
 * checks.  So any change to any byte of an object is detected.
 */

struct qbk_err;

#define QBK_CHUNK_MAGIC		"QBKC"
#define QBK_CHUNK_VERSION	1
#define QBK_CHUNK_HEADER_LEN	40
#define QBK_CHUNK_FLAG_ZSTD	0x01
/* The largest chunk any repository may use (and any decoder accepts). */
#define QBK_CHUNK_SIZE_LIMIT	((uint32_t)8 << 20)

/* Chunker sizes in bytes: 64 <= min < avg < max <= QBK_CHUNK_SIZE_LIMIT,
 * avg a power of two.  Recorded in the repository config. */
struct qbk_chunk_params {
	uint32_t min;
	uint32_t avg;
	uint32_t max;
};

#define QBK_CHUNK_MIN_DEFAULT	((uint32_t)16 << 10)
#define QBK_CHUNK_AVG_DEFAULT	((uint32_t)64 << 10)
#define QBK_CHUNK_MAX_DEFAULT	((uint32_t)256 << 10)
#define QBK_CHUNK_PARAMS_DEFAULT \
	{ QBK_CHUNK_MIN_DEFAULT, QBK_CHUNK_AVG_DEFAULT, QBK_CHUNK_MAX_DEFAULT }

/** qbk_chunk_params_check(p, err): 0 if ${p} is usable, else -1
 * (QBK_E_CONFIG) saying what is wrong. */
int qbk_chunk_params_check(const struct qbk_chunk_params *, struct qbk_err *);

/*
 * The streaming chunker.  Use:
 *	while (read into buf gives n > 0) {
 *		qbk_chunk_cdc_feed(cdc, buf, n);
 *		while (qbk_chunk_cdc_next(cdc, &p, &len))
 *			use p[0..len);
 *	}
 *	qbk_chunk_cdc_finish(cdc);
 *	while (qbk_chunk_cdc_next(cdc, &p, &len))
 *		use p[0..len);
 * Boundaries depend only on the bytes, not on how they were cut into
 * feeds.  A chunk that lies within one fed buffer is handed back as a
 * pointer into it; only a chunk spanning feeds is assembled in an internal
 * buffer of max bytes.  Not thread-safe; one per stream.
 */
struct qbk_chunk_cdc;

/** qbk_chunk_cdc_new(p, gear, out, err): a chunker for ${p} (copied) and the
 * 256-entry gear table ${gear} (copied) in ${*out}; the caller frees it with
 * qbk_chunk_cdc_free().  Returns 0, or -1 (QBK_E_CONFIG for bad ${p}) with
 * ${*out} NULL. */
int qbk_chunk_cdc_new(const struct qbk_chunk_params *, const uint64_t *,
    struct qbk_chunk_cdc **, struct qbk_err *);

/** qbk_chunk_cdc_free(cdc): free ${cdc}; NULL is fine. */
void qbk_chunk_cdc_free(struct qbk_chunk_cdc *);

/** qbk_chunk_cdc_reset(cdc): forget any input and start a new stream. */
void qbk_chunk_cdc_reset(struct qbk_chunk_cdc *);

/** qbk_chunk_cdc_feed(cdc, data, len): the next ${len} bytes of the stream.
 * The previous input must have been drained (qbk_chunk_cdc_next() returned
 * 0).  ${data} is borrowed until then. */
void qbk_chunk_cdc_feed(struct qbk_chunk_cdc *, const void *, size_t);

/** qbk_chunk_cdc_finish(cdc): the stream has ended; the following
 * qbk_chunk_cdc_next() calls return its last chunk. */
void qbk_chunk_cdc_finish(struct qbk_chunk_cdc *);

/** qbk_chunk_cdc_next(cdc, chunk, len): 1 with the next complete chunk in
 * ${*chunk}, ${*len} (valid until the next call on ${cdc}, and no longer
 * than the fed buffer), or 0 when more input is needed (or, after
 * qbk_chunk_cdc_finish(), when the stream is done). */
int qbk_chunk_cdc_next(struct qbk_chunk_cdc *, const uint8_t **, size_t *);

/*
 * Chunk objects.  A struct qbk_chunk_codec describes a repository's
 * choices and is shared read-only by all threads; a struct qbk_chunk_work
 * is the reusable scratch of one thread (zstd contexts, buffers, cipher).
 */
struct qbk_chunk_codec {
	const struct qbk_crypto_keys *keys;	/* borrowed */
	enum qbk_crypto_aead aead;
	int zstd_level;		/* 0: never compress; 1..19 */
	uint32_t max_plain;	/* largest plaintext (the chunker's max) */
};

/* What a chunk object says about itself. */
struct qbk_chunk_info {
	uint32_t plain_len;
	uint32_t stored_len;
	uint8_t flags;
	uint8_t aead;
};

/*
 * Compression policy of qbk_chunk_encode(), measured with
 * tests/bench/bench_chunk.c: zstd level 1 compresses a probe of
 * QBK_CHUNK_PROBE_LEN bytes taken in QBK_CHUNK_PROBE_PARTS pieces spread
 * from the start to the end of the chunk (the whole chunk if it is no
 * longer); only if the probe shrinks to QBK_CHUNK_PROBE_KEEP/64 or less is
 * the whole chunk compressed at the configured level, and it is stored
 * compressed only if that saves at least QBK_CHUNK_MIN_SAVING/64 (3.1%).
 * Float vectors (probe ratio above 0.9) are stored raw at the cost of the
 * probe alone; JSON payloads, WAL and configs (0.3 to 0.6) are compressed.
 */
#define QBK_CHUNK_PROBE_LEN	((size_t)4 << 10)
#define QBK_CHUNK_PROBE_PARTS	4
#define QBK_CHUNK_PROBE_KEEP	56
#define QBK_CHUNK_MIN_SAVING	2

struct qbk_chunk_work;

/** qbk_chunk_work_new(max_plain, out, err): scratch for chunks of up to
 * ${max_plain} bytes in ${*out}; the caller frees it with
 * qbk_chunk_work_free().  Returns 0, or -1 with ${*out} NULL. */
int qbk_chunk_work_new(uint32_t, struct qbk_chunk_work **, struct qbk_err *);

/** qbk_chunk_work_free(w): free ${w}; NULL is fine. */
void qbk_chunk_work_free(struct qbk_chunk_work *);

/** qbk_chunk_id(codec, data, len, id): the chunk id of ${data} into
 * ${id}[QBK_CRYPTO_ID_LEN]. */
void qbk_chunk_id(const struct qbk_chunk_codec *, const void *, size_t,
    uint8_t *);

/** qbk_chunk_encode(codec, w, data, len, id, obj, objlen, info, err): make
 * the object for the ${len}-byte chunk ${data} whose id is ${id}.  The
 * chunk is compressed when ${codec}'s level is not 0, a cheap probe says it
 * compresses, and compression saves enough; otherwise it is stored raw.
 * ${*obj} points into ${w} and stays valid until ${w} is used again.
 * ${info} may be NULL.  Returns 0, or -1 (QBK_E_INTERNAL if ${len} is
 * larger than ${w} or ${codec} allows). */
int qbk_chunk_encode(const struct qbk_chunk_codec *, struct qbk_chunk_work *,
    const void *, size_t, const uint8_t *, const uint8_t **, size_t *,
    struct qbk_chunk_info *, struct qbk_err *);

/** qbk_chunk_peek(obj, len, info, err): check the header of the ${len}-byte
 * chunk object ${obj} (magic, version, flags, reserved byte, lengths
 * against QBK_CHUNK_SIZE_LIMIT and ${len}) without a key.  Returns 0, or -1
 * (QBK_E_INTEGRITY). */
int qbk_chunk_peek(const void *, size_t, struct qbk_chunk_info *,
    struct qbk_err *);

/** qbk_chunk_decode(codec, w, id, obj, len, plain, plainlen, err): check
 * and open the ${len}-byte object ${obj} stored under ${id}: header, every
 * length (before anything is allocated or decrypted), the algorithm
 * against ${codec}'s, the tag, the zstd frame, and finally that the
 * plaintext's id is ${id}.  ${*plain} points into ${w} or ${obj} and stays
 * valid until ${w} is used again (and while ${obj} is).  Returns 0, or -1
 * with QBK_E_INTEGRITY and a message naming the chunk id. */
int qbk_chunk_decode(const struct qbk_chunk_codec *, struct qbk_chunk_work *,
    const uint8_t *, const void *, size_t, const uint8_t **, size_t *,
    struct qbk_err *);

#endif /* !QBK_CHUNK_H */
