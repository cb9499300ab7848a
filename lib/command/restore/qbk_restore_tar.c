#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command/restore/qbk_restore_internal.h"
#include "common/qbk_err.h"
#include "stream/qbk_extract.h"

#define TAR_BLOCK	512

/* Read exactly ${n} bytes: 1, 0 at a clean end before any byte, -1. */
static int
read_full(struct qbk_extract *x, void *buf, size_t n, struct qbk_err *err)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = qbk_extract_read(x, (char *)buf + got, n - got, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (got == 0)
				return 0;
			return qbk_err_set(err, QBK_E_INTEGRITY, "the archive "
			    "ends inside a tar block");
		}
		got += (size_t)r;
	}
	return 1;
}

int
qbk_restore_skip_bytes(struct tar *t, uint64_t n, struct qbk_err *err)
{
	while (n > 0) {
		size_t k = n > sizeof(t->scratch) ? sizeof(t->scratch) :
		    (size_t)n;
		int r = read_full(t->x, t->scratch, k, err);

		if (r < 0)
			return -1;
		if (r == 0)
			return qbk_err_set(err, QBK_E_INTEGRITY, "the archive "
			    "ends inside a member");
		n -= k;
	}
	return 0;
}

static int
tar_number(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		/* GNU base-256: the rest of the field, big-endian. */
		if (f[0] != 0x80)
			return -1;
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return -1;
			v = v << 8 | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	if (i < len && f[i] != ' ' && f[i] != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
tar_checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned long sum = 0;
	size_t i;

	if (tar_number(h + 148, 8, &want) != 0)
		return 0;
	for (i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? (unsigned long)' ' :
		    (unsigned long)h[i];
	return sum == want;
}

/* Parse pax records "LEN key=value\n" for path and size. */
static int
tar_pax(struct tar *t, const char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *rec = p + off, *sp, *eq;
		unsigned long n = 0;
		size_t k;

		for (k = 0; off + k < len && rec[k] >= '0' && rec[k] <= '9';
		    k++)
			n = n * 10 + (unsigned long)(rec[k] - '0');
		sp = rec + k;
		if (k == 0 || n <= k + 1 || off + n > len || *sp != ' ' ||
		    rec[n - 1] != '\n')
			return -1;
		eq = memchr(sp, '=', n - k);
		if (eq == NULL)
			return -1;
		if ((size_t)(eq - sp - 1) == 4 && memcmp(sp + 1, "path",
		    4) == 0) {
			free(t->longname);
			t->longname = strndup(eq + 1,
			    (size_t)(rec + n - 1 - (eq + 1)));
		} else if ((size_t)(eq - sp - 1) == 4 &&
		    memcmp(sp + 1, "size", 4) == 0) {
			char num[32];
			size_t vl = (size_t)(rec + n - 1 - (eq + 1));
			char *end;

			if (vl == 0 || vl >= sizeof(num))
				return -1;
			memcpy(num, eq + 1, vl);
			num[vl] = '\0';
			t->paxsize = (int64_t)strtoll(num, &end, 10);
			if (*end != '\0' || t->paxsize < 0)
				return -1;
		}
		off += n;
	}
	return 0;
}

/* Read a member's data (up to TAR_NAME_MAX bytes) into a new string. */
static char *
tar_small(struct tar *t, uint64_t size, struct qbk_err *err)
{
	char *s;
	uint64_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
	int r;

	if (size > TAR_NAME_MAX * 4) {
		qbk_err_set(err, QBK_E_INTEGRITY, "the archive has a %llu-byte "
		    "extended header", (unsigned long long)size);
		return NULL;
	}
	s = qbk_xmalloc((size_t)size + 1);
	r = size > 0 ? read_full(t->x, s, (size_t)size, err) : 1;
	if (r == 0)
		qbk_err_set(err, QBK_E_INTEGRITY, "the archive ends inside a "
		    "header");
	if (r != 1 || qbk_restore_skip_bytes(t, pad, err) != 0) {
		free(s);
		return NULL;
	}
	s[size] = '\0';
	return s;
}

/* Go to the next member: 1 (described in ${mb}; its data follows), 0 at the
 * end of the archive, -1. */
int
qbk_restore_tar_next(struct tar *t, struct tar_member *mb, struct qbk_err *err)
{
	unsigned char h[TAR_BLOCK];
	uint64_t size;
	int r;

	for (;;) {
		if (qbk_restore_skip_bytes(t, t->left + t->pad, err) != 0)
			return -1;
		t->left = t->pad = 0;
		if ((r = read_full(t->x, h, sizeof(h), err)) < 0)
			return -1;
		if (r == 0) {
			/* No end-of-archive blocks: accept, as tar does. */
			return 0;
		}
		if (h[0] == '\0') {
			size_t i;

			for (i = 0; i < sizeof(h) && h[i] == '\0'; i++)
				;
			if (i == sizeof(h))
				return 0;
		}
		if (!tar_checksum_ok(h) || tar_number(h + 124, 12, &size) != 0)
			return qbk_err_set(err, QBK_E_INTEGRITY, "the snapshot "
			    "is not a tar archive (bad header at byte %llu)",
			    (unsigned long long)(qbk_extract_offset(t->x) -
			    TAR_BLOCK));
		if (t->paxsize >= 0 && h[156] != 'x' && h[156] != 'L') {
			size = (uint64_t)t->paxsize;
			t->paxsize = -1;
		}
		if (h[156] == 'L' || h[156] == 'x' || h[156] == 'g') {
			char *s = tar_small(t, size, err);

			if (s == NULL)
				return -1;
			if (h[156] == 'L') {
				free(t->longname);
				t->longname = s;
			} else {
				if (h[156] == 'x' && tar_pax(t, s,
				    (size_t)size) != 0) {
					free(s);
					return qbk_err_set(err, QBK_E_INTEGRITY,
					    "the archive has a malformed pax "
					    "header");
				}
				free(s);
			}
			continue;
		}
		if (t->longname != NULL) {
			snprintf(mb->path, sizeof(mb->path), "%s", t->longname);
			free(t->longname);
			t->longname = NULL;
		} else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0')
			snprintf(mb->path, sizeof(mb->path), "%.155s/%.100s",
			    (const char *)h + 345, (const char *)h);
		else
			snprintf(mb->path, sizeof(mb->path), "%.100s",
			    (const char *)h);
		if (strncmp(mb->path, "./", 2) == 0)
			memmove(mb->path, mb->path + 2, strlen(mb->path) - 1);
		mb->type = h[156] == '\0' ? '0' : (char)h[156];
		mb->size = size;
		mb->offset = qbk_extract_offset(t->x);
		t->left = size;
		t->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		return 1;
	}
}

void
qbk_restore_tar_release(struct tar *t)
{
	free(t->longname);
	t->longname = NULL;
}
