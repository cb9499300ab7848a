/*
 * bench_chunk: single-core throughput of the chunk pipeline stages on
 * 256 MiB of snapshot-like data (float32 vectors, random-normal-like, mixed
 * with runs of JSON payload text), fed in 1 MiB buffers like a download.
 * Prints MiB/s per stage, compression ratios, and the compression policies
 * compared when choosing qbk_chunk_encode()'s.  Times are the CPU time of
 * this thread, best of 5 runs, so that other processes on a shared machine
 * disturb them less.  Not run by the tests.  Build and run (plain build):
 *   cc -O2 -Ilib tests/bench/bench_chunk.c build/libqbk.a \
 *       $(pkg-config --libs libcurl libarchive jansson libsodium libzstd \
 *       libcrypto) -lm -o build/bench_chunk
 *   build/bench_chunk [MiB] [cdc]      (cdc: chunking only)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#include "common/qbk.h"
#include "common/qbk_err.h"
#include "repo/qbk_chunk.h"
#include "repo/qbk_crypto.h"

#define MIB	(1024.0 * 1024.0)
#define FEED	((size_t)1 << 20)
#define REPS	5

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next64(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static double
uniform(void)
{
	return ((double)(next64() >> 11) + 0.5) / 9007199254740992.0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *words[] = {
	"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
	"hotel", "india", "juliet", "kilo", "lima", "mike", "november",
	"oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform",
	"victor", "whiskey", "xray", "yankee", "zulu", "berlin", "paris",
	"london", "tokyo", "shoes", "laptop", "garden", "kitchen", "review",
	"excellent", "broken", "delivery", "quality", "price", "battery",
	"screen", "camera", "fabric", "leather", "wooden", "organic",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* Append JSON payload records until ${n} bytes are filled. */
static void
fill_json(uint8_t *p, size_t n)
{
	char rec[1024];
	size_t off = 0, len, k;
	int w, m;

	while (off < n) {
		m = snprintf(rec, sizeof(rec),
		    "{\"id\":%llu,\"category\":\"%s\",\"price\":%.2f,"
		    "\"in_stock\":%s,\"created\":\"2024-%02d-%02dT%02d:%02d:"
		    "%02dZ\",\"text\":\"",
		    (unsigned long long)(next64() % 100000000),
		    words[next64() % NWORDS], uniform() * 1000,
		    next64() & 1 ? "true" : "false",
		    (int)(next64() % 12 + 1), (int)(next64() % 28 + 1),
		    (int)(next64() % 24), (int)(next64() % 60),
		    (int)(next64() % 60));
		w = (int)(next64() % 30 + 5);
		for (k = 0; k < (size_t)w && m < 900; k++)
			m += snprintf(rec + m, sizeof(rec) - (size_t)m, "%s%s",
			    k ? " " : "", words[next64() % NWORDS]);
		m += snprintf(rec + m, sizeof(rec) - (size_t)m, "\"}\n");
		len = (size_t)m < n - off ? (size_t)m : n - off;
		memcpy(p + off, rec, len);
		off += len;
	}
}

/* Float32 embeddings: normal(0, 0.05) by Box-Muller. */
static void
fill_floats(uint8_t *p, size_t n)
{
	size_t i;
	float f;

	for (i = 0; i + 4 <= n; i += 4) {
		double u = uniform(), v = uniform();

		f = (float)(0.05 * sqrt(-2 * log(u)) * cos(6.283185307 * v));
		memcpy(p + i, &f, 4);
	}
	for (; i < n; i++)
		p[i] = 0;
}

/* Segments: float runs of 1..8 MiB, JSON runs of 64 KiB..2 MiB. */
static void
fill_snapshot(uint8_t *p, size_t n, size_t *json_bytes)
{
	size_t off = 0, len;
	int json = 0;

	*json_bytes = 0;
	while (off < n) {
		if (json)
			len = (64 << 10) + next64() % (2 << 20);
		else
			len = (1 << 20) + next64() % (7 << 20);
		if (len > n - off)
			len = n - off;
		if (json) {
			fill_json(p + off, len);
			*json_bytes += len;
		} else
			fill_floats(p + off, len);
		off += len;
		json = !json;
	}
}

struct chunk {
	size_t off;
	size_t len;
	uint8_t id[QBK_CRYPTO_ID_LEN];
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The best of REPS runs: other processes share this machine's cores, and
 * the fastest run is the one they disturbed least. */
static double
best(double *v)
{
	qsort(v, REPS, sizeof(double), cmp_double);
	return v[0];
}

/* Print and return MiB/s. */
static double
report(const char *stage, size_t bytes, double *secs)
{
	double rate = (double)bytes / MIB / best(secs);

	printf("%-40s %8.0f MiB/s\n", stage, rate);
	return rate;
}

static void
die(const char *what, const struct qbk_err *err)
{
	fprintf(stderr, "bench_chunk: %s: %s\n", what,
	    err != NULL ? err->msg : "failed");
	exit(1);
}

/* Compression policies compared (zstd straight). */
enum probe { P_NEVER, P_ALWAYS, P_FIRST4K, P_FIRST8K, P_SPREAD4K,
	P_SPREAD8K, P_ENTROPY4K, P_ENTROPY8K };
static const char *probe_names[] = { "never", "always", "zstd1 first 4K",
	"zstd1 first 8K", "zstd1 4x1K spread", "zstd1 4x2K spread",
	"entropy 4x1K spread", "entropy 4x2K spread" };

static int
decide(enum probe pr, ZSTD_CCtx *cctx, const uint8_t *d, size_t len,
    uint8_t *scratch, uint8_t *out, int keep)
{
	size_t n = len, k, o, piece, hist[256];
	const uint8_t *s = d;
	double h = 0;

	switch (pr) {
	case P_NEVER:
		return 0;
	case P_ALWAYS:
		return 1;
	case P_FIRST4K:
	case P_FIRST8K:
		n = pr == P_FIRST4K ? 4096 : 8192;
		if (n > len)
			n = len;
		break;
	default:
		piece = pr == P_SPREAD4K || pr == P_ENTROPY4K ? 1024 : 2048;
		if (len > 4 * piece) {
			for (k = 0; k < 4; k++)
				memcpy(scratch + k * piece,
				    d + (len - piece) * k / 3, piece);
			s = scratch;
			n = 4 * piece;
		}
		if (pr == P_ENTROPY4K || pr == P_ENTROPY8K) {
			memset(hist, 0, sizeof(hist));
			for (k = 0; k < n; k++)
				hist[s[k]]++;
			for (k = 0; k < 256; k++)
				if (hist[k]) {
					double q = (double)hist[k] / (double)n;

					h -= q * log2(q);
				}
			return h * 64 <= 8.0 * keep;
		}
		break;
	}
	o = ZSTD_compressCCtx(cctx, out, ZSTD_compressBound(n), s, n, 1);
	return !ZSTD_isError(o) && o * 64 <= n * (size_t)keep;
}

int
main(int argc, char *argv[])
{
	struct qbk_chunk_params params = QBK_CHUNK_PARAMS_DEFAULT;
	struct qbk_chunk_codec codec;
	struct qbk_err err = QBK_ERR_INIT;
	struct qbk_crypto_keys *keys = NULL;
	struct qbk_crypto_cipher *ossl = NULL, *sod = NULL;
	struct qbk_chunk_work *w = NULL;
	struct qbk_chunk_cdc *cdc = NULL;
	struct chunk *ch = NULL;
	size_t size, json_bytes, nch = 0, cap, i, off, len;
	uint64_t gear[256];
	uint8_t *data, *buf, *scratch, *zout, tag[QBK_CRYPTO_TAG_LEN];
	uint8_t nonce[QBK_CRYPTO_NONCE_LEN], ad[72];
	double t[REPS], r_cdc, r_id, r_enc[2][3], r_dec[2][3];
	int r, level;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;

	size = (size_t)(argc > 1 ? atoi(argv[1]) : 256) << 20;
	if (qbk_init(&err) != 0)
		die("init", &err);
	if (qbk_crypto_keys_new(&keys, &err) != 0 ||
	    qbk_crypto_cipher_new(0, &ossl, &err) != 0 ||
	    qbk_crypto_cipher_new(QBK_CRYPTO_CIPHER_SODIUM, &sod, &err) != 0 ||
	    qbk_chunk_work_new(params.max, &w, &err) != 0)
		die("setup", &err);
	qbk_crypto_gear_table(keys, gear);
	if (qbk_chunk_cdc_new(&params, gear, &cdc, &err) != 0)
		die("chunker", &err);
	data = malloc(size);
	buf = malloc(params.max + 64);
	scratch = malloc(1 << 16);
	zout = malloc(ZSTD_compressBound(params.max));
	cctx = ZSTD_createCCtx();
	dctx = ZSTD_createDCtx();
	if (data == NULL || buf == NULL || scratch == NULL || zout == NULL ||
	    cctx == NULL || dctx == NULL)
		die("malloc", NULL);
	fill_snapshot(data, size, &json_bytes);
	printf("data: %zu MiB, %.1f%% JSON text, the rest float32 vectors\n",
	    size >> 20, 100.0 * (double)json_bytes / (double)size);

	/* Chunking, 1 MiB feeds. */
	cap = size / params.min + 2;
	ch = calloc(cap, sizeof(*ch));
	for (r = 0; r < REPS; r++) {
		const uint8_t *p;

		nch = 0;
		qbk_chunk_cdc_reset(cdc);
		t[r] = now();
		for (off = 0; off < size; off += FEED) {
			qbk_chunk_cdc_feed(cdc, data + off,
			    size - off < FEED ? size - off : FEED);
			while (qbk_chunk_cdc_next(cdc, &p, &len))
				ch[nch++].len = len;
		}
		qbk_chunk_cdc_finish(cdc);
		while (qbk_chunk_cdc_next(cdc, &p, &len))
			ch[nch++].len = len;
		t[r] = now() - t[r];
	}
	for (i = 0, off = 0; i < nch; i++) {
		ch[i].off = off;
		off += ch[i].len;
	}
	printf("chunks: %zu, average %.1f KiB (min %u, avg %u, max %u)\n",
	    nch, (double)size / (double)nch / 1024, params.min, params.avg,
	    params.max);
	r_cdc = report("FastCDC (1 MiB feeds)", size, t);
	if (argc > 2 && strcmp(argv[2], "cdc") == 0)
		return 0;

	for (r = 0; r < REPS; r++) {
		t[r] = now();
		for (i = 0; i < nch; i++)
			qbk_crypto_chunk_id(keys, data + ch[i].off, ch[i].len,
			    ch[i].id);
		t[r] = now() - t[r];
	}
	r_id = report("chunk id (keyed BLAKE2b-256)", size, t);

	for (r = 0; r < REPS; r++) {
		t[r] = now();
		for (i = 0; i < nch; i++)
			memcpy(buf, data + ch[i].off, ch[i].len);
		t[r] = now() - t[r];
	}
	report("memcpy", size, t);

	/* Whole-chunk zstd at several levels. */
	for (level = -1; level <= 3; level++) {
		char name[64];
		size_t stored = 0;

		if (level == 0 || level == 2)
			continue;
		for (r = 0; r < REPS; r++) {
			stored = 0;
			t[r] = now();
			for (i = 0; i < nch; i++)
				stored += ZSTD_compressCCtx(cctx, zout,
				    ZSTD_compressBound(ch[i].len),
				    data + ch[i].off, ch[i].len, level);
			t[r] = now() - t[r];
		}
		snprintf(name, sizeof(name),
		    "zstd %d, every chunk (ratio %.3f)", level,
		    (double)stored / (double)size);
		report(name, size, t);
	}
	{
		size_t fl = 0, fs = 0, jl = 0, js = 0, n;

		for (i = 0; i < nch; i++) {
			const uint8_t *d = data + ch[i].off;
			int isjson = d[0] == '{' || d[0] == '"' ||
			    (d[0] >= 'a' && d[0] <= 'z');

			n = ZSTD_compressCCtx(cctx, zout,
			    ZSTD_compressBound(ch[i].len), d, ch[i].len, 3);
			if (isjson) {
				jl += ch[i].len;
				js += n;
			} else {
				fl += ch[i].len;
				fs += n;
			}
		}
		printf("zstd 3 ratio: float-led chunks %.3f, JSON-led chunks "
		    "%.3f\n", (double)fs / (double)fl, (double)js / (double)jl);
	}

	/* Policies: decide, then zstd 3 if chosen, keep if it saves 1/32. */
	printf("policies (zstd 3 when chosen; stored raw unless it saves "
	    ">= 1/32): ratio, chunks compressed, decision alone, all:\n");
	for (i = 0; i < sizeof(probe_names) / sizeof(probe_names[0]); i++) {
		int keeps[] = { 52, 56, 60 }, kk;

		for (kk = 0; kk < 3; kk++) {
			size_t stored = 0, ncomp = 0, j, n;
			double td[REPS];

			if (kk > 0 && (i == P_NEVER || i == P_ALWAYS))
				continue;
			for (r = 0; r < REPS; r++) {
				td[r] = now();
				for (j = 0; j < nch; j++)
					ncomp += decide((enum probe)i, cctx,
					    data + ch[j].off, ch[j].len,
					    scratch, zout, keeps[kk]);
				td[r] = now() - td[r];
			}
			for (r = 0; r < REPS; r++) {
				stored = ncomp = 0;
				t[r] = now();
				for (j = 0; j < nch; j++) {
					const uint8_t *d = data + ch[j].off;

					n = ch[j].len;
					if (decide((enum probe)i, cctx, d, n,
					    scratch, zout, keeps[kk])) {
						size_t o = ZSTD_compressCCtx(
						    cctx, zout,
						    ZSTD_compressBound(n), d, n,
						    3);

						if (o * 64 <= n * 62) {
							n = o;
							ncomp++;
						}
					}
					stored += n;
				}
				t[r] = now() - t[r];
			}
			printf("  %-20s <=%d/64: ratio %.3f, %3.0f%% zstd, "
			    "decide %6.0f MiB/s, all %5.0f MiB/s\n",
			    probe_names[i], i > P_ALWAYS ? keeps[kk] : 64,
			    (double)stored / (double)size,
			    100.0 * (double)ncomp / (double)nch,
			    (double)size / MIB / best(td),
			    (double)size / MIB / best(t));
		}
	}

	/* zstd decompression of what zstd 3 makes of JSON chunks. */
	{
		size_t in = 0, n;
		double ds[REPS];

		for (r = 0; r < REPS; r++) {
			ds[r] = 0;
			in = 0;
			for (i = 0; i < nch; i++) {
				const uint8_t *d = data + ch[i].off;
				double t0;

				n = ZSTD_compressCCtx(cctx, zout,
				    ZSTD_compressBound(ch[i].len), d,
				    ch[i].len, 3);
				if (n * 64 > ch[i].len * 62)
					continue;
				t0 = now();
				ZSTD_decompressDCtx(dctx, buf, ch[i].len, zout,
				    n);
				ds[r] += now() - t0;
				in += ch[i].len;
			}
		}
		report("zstd decompress (compressible chunks)", in, ds);
	}

	/* AEADs over every chunk, raw. */
	{
		struct {
			const char *name;
			struct qbk_crypto_cipher *c;
			enum qbk_crypto_aead a;
		} ae[] = {
			{ "xchacha20-poly1305 (libcrypto)", NULL,
			    QBK_CRYPTO_AEAD_XCHACHA },
			{ "xchacha20-poly1305 (libsodium)", NULL,
			    QBK_CRYPTO_AEAD_XCHACHA },
			{ "aes256-gcm (libcrypto, key per object)", NULL,
			    QBK_CRYPTO_AEAD_AESGCM },
		};
		size_t k;
		char name[96];

		ae[0].c = ossl;
		ae[1].c = sod;
		ae[2].c = ossl;
		memset(ad, 7, sizeof(ad));
		for (k = 0; k < 3; k++) {
			for (r = 0; r < REPS; r++) {
				t[r] = now();
				for (i = 0; i < nch; i++) {
					qbk_crypto_random(nonce, sizeof(nonce));
					if (qbk_crypto_seal(ae[k].c, keys,
					    QBK_CRYPTO_USE_DATA, ae[k].a, nonce,
					    ad, sizeof(ad), data + ch[i].off,
					    ch[i].len, buf, tag, &err) != 0)
						die("seal", &err);
				}
				t[r] = now() - t[r];
			}
			snprintf(name, sizeof(name), "encrypt %s", ae[k].name);
			report(name, size, t);
			for (r = 0; r < REPS; r++) {
				double ds = 0, t0;

				for (i = 0; i < nch; i++) {
					qbk_crypto_seal(ae[k].c, keys,
					    QBK_CRYPTO_USE_DATA, ae[k].a, nonce,
					    ad, sizeof(ad), data + ch[i].off,
					    ch[i].len, buf, tag, &err);
					t0 = now();
					if (qbk_crypto_open(ae[k].c, keys,
					    QBK_CRYPTO_USE_DATA, ae[k].a, nonce,
					    ad, sizeof(ad), buf, ch[i].len, tag,
					    buf, &err) != 0)
						die("open", &err);
					ds += now() - t0;
				}
				t[r] = ds;
			}
			snprintf(name, sizeof(name), "decrypt %s", ae[k].name);
			report(name, size, t);
		}
	}

	/* The whole object path of qbk_chunk_encode()/decode(). */
	for (level = 0; level <= 3; level += 3) {
		enum qbk_crypto_aead al[] = { QBK_CRYPTO_AEAD_XCHACHA,
			QBK_CRYPTO_AEAD_AESGCM, QBK_CRYPTO_AEAD_NONE };
		size_t k;

		for (k = 0; k < 3; k++) {
			char name[96];
			size_t stored = 0, objlen, plen;
			const uint8_t *obj, *plain;
			struct qbk_chunk_info info;
			double dt[REPS];

			codec.keys = keys;
			codec.aead = al[k];
			codec.zstd_level = level;
			codec.max_plain = params.max;
			for (r = 0; r < REPS; r++) {
				stored = 0;
				dt[r] = 0;
				t[r] = now();
				for (i = 0; i < nch; i++) {
					double t0;

					if (qbk_chunk_encode(&codec, w,
					    data + ch[i].off, ch[i].len,
					    ch[i].id, &obj, &objlen, &info,
					    &err) != 0)
						die("encode", &err);
					stored += objlen;
					/* decode in a copy: w is reused */
					memcpy(zout, obj, objlen);
					t0 = now();
					if (qbk_chunk_decode(&codec, w,
					    ch[i].id, zout, objlen, &plain,
					    &plen, &err) != 0)
						die("decode", &err);
					dt[r] += now() - t0;
				}
				t[r] = now() - t[r] - dt[r];
			}
			snprintf(name, sizeof(name),
			    "qbk_chunk_encode %s, zstd %d (ratio %.3f)",
			    qbk_crypto_aead_name(al[k]), level,
			    (double)stored / (double)size);
			/* encode time includes the memcpy of the object */
			r_enc[level / 3][k] = report(name, size, t);
			snprintf(name, sizeof(name),
			    "qbk_chunk_decode %s, zstd %d (with id)",
			    qbk_crypto_aead_name(al[k]), level);
			r_dec[level / 3][k] = report(name, size, dt);
		}
	}

	/* One core, every chunk new: chunk, id, encode; restore: decode. */
	printf("one core, all chunks new, zstd 3: backup %.0f MiB/s "
	    "(xchacha20-poly1305), %.0f (aes256-gcm), %.0f (none); restore "
	    "%.0f, %.0f, %.0f\n",
	    1 / (1 / r_cdc + 1 / r_id + 1 / r_enc[1][0]),
	    1 / (1 / r_cdc + 1 / r_id + 1 / r_enc[1][1]),
	    1 / (1 / r_cdc + 1 / r_id + 1 / r_enc[1][2]),
	    r_dec[1][0], r_dec[1][1], r_dec[1][2]);

	qbk_chunk_cdc_free(cdc);
	qbk_chunk_work_free(w);
	qbk_crypto_cipher_free(ossl);
	qbk_crypto_cipher_free(sod);
	qbk_crypto_keys_free(keys);
	ZSTD_freeCCtx(cctx);
	ZSTD_freeDCtx(dctx);
	free(ch);
	free(data);
	free(buf);
	free(scratch);
	free(zout);
	return 0;
}
