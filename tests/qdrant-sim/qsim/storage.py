"""Segments and shard replicas: how the simulator stores points.

A shard replica is a folder
    segments/<uuid>/            one folder per segment (below)
    wal/open-1, wal/first-index a small write-ahead log of operations
    shard.json                  operation counter
and an in-memory index id -> (segment, offset).

A segment folder holds (formats are the simulator's own; Qdrant's binary
formats are not reproduced, only the idea):
    segment.json                {"version": N, "config": {...}} (rewritten in place)
    version.info                "0.6.0"
    id_tracker.mappings         17 bytes per offset: type u8, lo u64, hi u64
    id_tracker.versions         u64 per offset: point version (operation number)
    id_tracker.deleted          bitmap, bit set = offset deleted (small, changes)
    vector_storage[-name]/vectors/chunk_0.mmap   float32 LE, dim per offset
    vector_storage[-name]/deleted.dat            bitmap, bit set = no vector
  a sparse or multi vector (spec dimension 0, see "Sparse and multi
  vectors" below) has instead
    vector_storage[-name]/vectors/blob.dat       concatenated JSON vectors
    vector_storage[-name]/vectors/ends.dat       u64 per offset: end in blob
    payload_storage/page_0.dat  concatenated JSON payloads
    payload_storage/tracker.dat u64 per offset: end of its payload in page_0
    payload_index/config.json
Points are appended to the appendable segment; an update of an existing id
sets its bit in the deletion bitmap of the segment that holds it (possibly a
sealed one) and appends the new version.  When an appendable segment holds
more than the size threshold it is sealed and a new one starts with the
next write.  Files of sealed segments never change afterwards except the
small bitmaps and segment.json, so snapshots taken before and after a small
update share most bytes.
"""

import json
import math
import os
import shutil
import struct
import sys
import threading
import uuid as uuidlib
from array import array

from . import tario
from . import versions
from .util import U64, dumps, key_to_id, write_atomic

assert sys.byteorder == "little", "the simulator assumes a little-endian host"

MAP = struct.Struct("<BQQ")
SEGMENT_VERSION_INFO = b"0.6.0"
WAL_MAGIC = b"QSIMWAL1" + bytes(8)
MUTABLE_SMALL = ("segment.json", "id_tracker.deleted", "deleted.dat")


def vec_dir(name):
    return "vector_storage" if name == "" else "vector_storage-" + name


def key_record(k):
    if k < U64:
        return MAP.pack(0, k, 0)
    u = k - U64
    return MAP.pack(1, u & (U64 - 1), u >> 64)


def segment_config(vec_specs, appendable):
    vd = {}
    sd = {}
    for name, dim, dist in vec_specs:
        if dim == 0 and dist == "sparse":
            sd[name] = {"index": {"full_scan_threshold": None,
                                  "index_type": ("MutableRam" if appendable
                                                 else "Mmap")},
                        "storage_type": "mmap"}
            continue
        vd[name] = {
            "size": dim,
            "distance": dist,
            "storage_type": "ChunkedMmap",
            "index": ({"type": "plain", "options": {}} if appendable else
                      {"type": "hnsw", "options": {"m": 16,
                                                   "ef_construct": 100,
                                                   "full_scan_threshold": 10000}}),
            "quantization_config": None,
        }
    return {"vector_data": vd, "sparse_vector_data": sd,
            "payload_storage_type": {"type": "mmap"}}


class Segment:
    def __init__(self, path, vec_specs):
        self.path = path
        self.uuid = os.path.basename(path)
        self.vec_specs = vec_specs            # [(name, dim, distance)]
        self.n = 0
        self.keys = []
        self.versions = array("Q")
        self.deleted = bytearray()
        self.absent = {name: bytearray() for name, _, _ in vec_specs}
        self.ends = array("Q")
        self.vends = {name: array("Q") for name, dim, _ in vec_specs
                      if dim == 0}
        self.pay_end = 0
        self.appendable = True
        self.version = 0
        self.live = 0
        self.fds = {}
        self.dirty = set()                    # bitmap files to rewrite

    # -- files
    def fd(self, rel):
        fd = self.fds.get(rel)
        if fd is None:
            fd = os.open(os.path.join(self.path, rel), os.O_RDWR)
            self.fds[rel] = fd
        return fd

    def close(self):
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = {}

    def vec_rel(self, name):
        if name in self.vends:
            return vec_dir(name) + "/vectors/blob.dat"
        return vec_dir(name) + "/vectors/chunk_0.mmap"

    def vends_rel(self, name):
        return vec_dir(name) + "/vectors/ends.dat"

    def absent_rel(self, name):
        return vec_dir(name) + "/deleted.dat"

    @classmethod
    def create(cls, path, vec_specs):
        seg = cls(path, vec_specs)
        os.makedirs(path)
        for name, _, _ in vec_specs:
            os.makedirs(os.path.join(path, vec_dir(name), "vectors"))
        os.makedirs(os.path.join(path, "payload_storage"))
        os.makedirs(os.path.join(path, "payload_index"))
        files = ["id_tracker.mappings", "id_tracker.versions",
                 "id_tracker.deleted", "payload_storage/page_0.dat",
                 "payload_storage/tracker.dat"]
        for name, _, _ in vec_specs:
            files += [seg.vec_rel(name), seg.absent_rel(name)]
            if name in seg.vends:
                files.append(seg.vends_rel(name))
        for rel in files:
            with open(os.path.join(path, rel), "wb"):
                pass
        with open(os.path.join(path, "version.info"), "wb") as f:
            f.write(SEGMENT_VERSION_INFO)
        with open(os.path.join(path, "payload_index", "config.json"),
                  "wb") as f:
            f.write(b'{"indexed_fields":{}}')
        with open(os.path.join(path, "segment.json"), "wb") as f:
            f.write(seg._segment_json())
        return seg

    def _segment_json(self):
        return dumps({"version": self.version,
                      "config": segment_config(self.vec_specs,
                                               self.appendable)}).encode()

    def write_segment_json(self):
        fd = self.fd("segment.json")
        data = self._segment_json()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))

    @property
    def nbytes(self):
        return self.pay_end + sum(self.n * dim * 4
                                  for _, dim, _ in self.vec_specs) + \
            sum(e[-1] for e in self.vends.values() if e)

    # -- writes
    def append(self, batch):
        """batch: [(key, version, {name: bytes or None}, payload bytes)].
        Returns the first offset used."""
        base = self.n
        k = len(batch)
        maps = b"".join(key_record(p[0]) for p in batch)
        vers = array("Q", [p[1] for p in batch])
        os.pwrite(self.fd("id_tracker.mappings"), maps, base * MAP.size)
        os.pwrite(self.fd("id_tracker.versions"), vers.tobytes(), base * 8)
        newn = base + k
        nbytes_bitmap = (newn + 7) >> 3
        for name, dim, _ in self.vec_specs:
            if dim == 0:
                self.append_blobs(name, base, batch, nbytes_bitmap)
                continue
            zero = bytes(dim * 4)
            parts = []
            ab = self.absent[name]
            if len(ab) < nbytes_bitmap:
                ab.extend(bytes(nbytes_bitmap - len(ab)))
            for j, p in enumerate(batch):
                v = p[2].get(name)
                if v is None:
                    parts.append(zero)
                    off = base + j
                    ab[off >> 3] |= 1 << (off & 7)
                else:
                    parts.append(v)
            os.pwrite(self.fd(self.vec_rel(name)), b"".join(parts),
                      base * dim * 4)
            self.dirty.add(("absent", name, base >> 3))
        pays = [p[3] for p in batch]
        ends = array("Q")
        e = self.pay_end
        for p in pays:
            e += len(p)
            ends.append(e)
        os.pwrite(self.fd("payload_storage/page_0.dat"), b"".join(pays),
                  self.pay_end)
        os.pwrite(self.fd("payload_storage/tracker.dat"), ends.tobytes(),
                  base * 8)
        self.pay_end = e
        self.ends.extend(ends)
        self.keys.extend(p[0] for p in batch)
        self.versions.extend(vers)
        if len(self.deleted) < nbytes_bitmap:
            self.deleted.extend(bytes(nbytes_bitmap - len(self.deleted)))
            self.dirty.add(("deleted", None, base >> 3))
        self.n = newn
        self.live += k
        return base

    def mark_deleted(self, off):
        b = off >> 3
        self.deleted[b] |= 1 << (off & 7)
        self.dirty.add(("deleted", None, b))
        self.live -= 1

    def flush_bitmaps(self):
        if not self.dirty:
            return
        lows = {}
        for kind, name, b in self.dirty:
            kk = (kind, name)
            lows[kk] = min(lows.get(kk, b), b)
        for (kind, name), low in lows.items():
            if kind == "deleted":
                bm, rel = self.deleted, "id_tracker.deleted"
            else:
                bm, rel = self.absent[name], self.absent_rel(name)
            # rewrite from the lowest dirty byte: small, and bitmaps only grow
            dirty_bytes = sorted(b for k, n, b in self.dirty
                                 if (k, n) == (kind, name))
            fd = self.fd(rel)
            if len(dirty_bytes) > 64 or dirty_bytes[-1] - low < 4096:
                os.pwrite(fd, bytes(bm[low:]), low)
            else:
                for b in dirty_bytes:
                    os.pwrite(fd, bytes(bm[b:b + 1]), b)
        self.dirty.clear()

    def is_deleted(self, off):
        return (self.deleted[off >> 3] >> (off & 7)) & 1

    # -- reads
    def read_vector(self, name, off):
        if name not in self.absent:
            return None
        ab = self.absent[name]
        if (ab[off >> 3] >> (off & 7)) & 1:
            return None
        if name in self.vends:
            return self.read_blob(name, off)
        dim = self.dim(name)
        return os.pread(self.fd(self.vec_rel(name)), dim * 4, off * dim * 4)

    def vector_chunks(self, name, n, per=2048):
        """(first offset, list of floats) for the first n vectors."""
        dim = self.dim(name)
        fd = self.fd(self.vec_rel(name))
        for start in range(0, n, per):
            cnt = min(per, n - start)
            a = array("f")
            a.frombytes(os.pread(fd, cnt * dim * 4, start * dim * 4))
            yield start, a.tolist()

    def norms2(self, name, n):
        """Squared norms of the first n vectors (cached; sealed segments
        never change, the appendable one only grows)."""
        cache = self.__dict__.setdefault("_norms", {})
        arr = cache.get(name)
        if arr is None:
            arr = cache[name] = array("d")
        if len(arr) < n:
            dim = self.dim(name)
            zero = (0.0,) * dim
            have = len(arr)
            for start, vals in self.vector_chunks(name, n):
                if start + len(vals) // dim <= have:
                    continue
                for j in range(len(vals) // dim):
                    if start + j < len(arr):
                        continue
                    x = math.dist(vals[j * dim:(j + 1) * dim], zero)
                    arr.append(x * x)
        return arr

    def forget_norms(self):
        self.__dict__.pop("_norms", None)

    def dim(self, name):
        for n, d, _ in self.vec_specs:
            if n == name:
                return d
        return 0

    def read_payload(self, off):
        start = self.ends[off - 1] if off else 0
        end = self.ends[off]
        if end == start:
            return b""
        return os.pread(self.fd("payload_storage/page_0.dat"), end - start,
                        start)

    def payload_range(self, off):
        start = self.ends[off - 1] if off else 0
        return start, self.ends[off]

    # -- load
    @classmethod
    def load(cls, path, vec_specs):
        seg = cls(path, vec_specs)
        try:
            with open(os.path.join(path, "segment.json"), "rb") as f:
                sj = json.loads(f.read() or b"{}")
        except (OSError, ValueError):
            sj = {}
        seg.version = int(sj.get("version") or 0)
        appendable = False
        vd = (sj.get("config") or {}).get("vector_data") or {}
        sd = (sj.get("config") or {}).get("sparse_vector_data") or {}
        if not vd and not sd:
            appendable = True
        for v in sd.values():
            if ((v.get("index") or {}).get("index_type")) == "MutableRam":
                appendable = True
        for v in vd.values():
            if ((v.get("index") or {}).get("type")) == "plain":
                appendable = True
        seg.appendable = appendable

        def rd(rel):
            try:
                with open(os.path.join(path, rel), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None

        maps = rd("id_tracker.mappings")
        vers = rd("id_tracker.versions")
        track = rd("payload_storage/tracker.dat")
        if maps is None or vers is None or track is None:
            raise ValueError("not a simulator segment: %s" % path)
        n = min(len(maps) // MAP.size, len(vers) // 8, len(track) // 8)
        vlens = {}
        for name, dim, _ in vec_specs:
            try:
                sz = os.path.getsize(os.path.join(path, seg.vec_rel(name)))
            except OSError:
                os.makedirs(os.path.join(path, vec_dir(name), "vectors"),
                            exist_ok=True)
                with open(os.path.join(path, seg.vec_rel(name)), "wb"):
                    pass
                sz = 0
            if dim == 0:
                vlens[name] = seg.load_blob_ends(name)
                n = min(n, vlens[name])
                continue
            vlens[name] = sz // (dim * 4)
            n = min(n, vlens[name])
        seg.versions.frombytes(vers[:n * 8])
        seg.ends.frombytes(track[:n * 8])
        keys = []
        for t, lo, hi in MAP.iter_unpack(maps[:n * MAP.size]):
            keys.append(lo if t == 0 else U64 + ((hi << 64) | lo))
        seg.keys = keys
        seg.n = n
        seg.pay_end = seg.ends[-1] if n else 0
        nb = (n + 7) >> 3
        dl = rd("id_tracker.deleted") or b""
        seg.deleted = bytearray(dl[:nb].ljust(nb, b"\0"))
        for name, dim, _ in vec_specs:
            ab = rd(seg.absent_rel(name))
            if ab is None:
                with open(os.path.join(path, seg.absent_rel(name)), "wb"):
                    pass
                ab = b""
            ab = bytearray(ab[:nb].ljust(nb, b"\0"))
            # points beyond a short vector file have no vector
            for off in range(vlens[name], n):
                ab[off >> 3] |= 1 << (off & 7)
            seg.absent[name] = ab
        for extra in ("id_tracker.deleted",):
            if rd(extra) is None:
                with open(os.path.join(path, extra), "wb"):
                    pass
        # clip bits past n (a crash between writes)
        if n & 7 and nb:
            mask = (1 << (n & 7)) - 1
            seg.deleted[-1] &= mask
        seg.live = n - _popcount(seg.deleted)
        return seg

    # -- bulk writing (generator)
    @classmethod
    def write_bulk(cls, path, vec_specs, keys, versions, vecs, payloads,
                   appendable, version):
        """Write a whole segment at once.  vecs: {name: bytes}."""
        seg = cls.create(path, vec_specs)
        seg.appendable = appendable
        seg.version = version
        n = len(keys)
        with open(os.path.join(path, "id_tracker.mappings"), "wb") as f:
            f.write(b"".join(map(key_record, keys)))
        va = array("Q", versions)
        with open(os.path.join(path, "id_tracker.versions"), "wb") as f:
            f.write(va.tobytes())
        for name, dim, _ in vec_specs:
            if dim == 0:
                raise ValueError("bulk segments hold dense vectors only")
            with open(os.path.join(path, seg.vec_rel(name)), "wb") as f:
                f.write(vecs[name])
            seg.absent[name] = bytearray((n + 7) >> 3)
            with open(os.path.join(path, seg.absent_rel(name)), "wb") as f:
                f.write(seg.absent[name])
        ends = array("Q")
        e = 0
        for p in payloads:
            e += len(p)
            ends.append(e)
        with open(os.path.join(path, "payload_storage/page_0.dat"), "wb") as f:
            f.write(b"".join(payloads))
        with open(os.path.join(path, "payload_storage/tracker.dat"),
                  "wb") as f:
            f.write(ends.tobytes())
        seg.deleted = bytearray((n + 7) >> 3)
        with open(os.path.join(path, "id_tracker.deleted"), "wb") as f:
            f.write(seg.deleted)
        with open(os.path.join(path, "segment.json"), "wb") as f:
            f.write(seg._segment_json())
        seg.keys = list(keys)
        seg.versions = va
        seg.ends = ends
        seg.pay_end = e
        seg.n = n
        seg.live = n
        return seg

    # -- sparse and multi vectors
    # A vector of dimension 0 in vec_specs is a sparse vector or a
    # multivector: its value varies in size, so it is kept as its JSON text
    # ({"indices": [...], "values": [...]} or [[...], ...]) appended to
    # blob.dat, with the end of each offset's text in ends.dat (an empty
    # text: no vector).
    def append_blobs(self, name, base, batch, nbytes_bitmap):
        ab = self.absent[name]
        if len(ab) < nbytes_bitmap:
            ab.extend(bytes(nbytes_bitmap - len(ab)))
        ends = self.vends[name]
        e = ends[-1] if ends else 0
        start = e
        parts = []
        new_ends = array("Q")
        for j, p in enumerate(batch):
            v = p[2].get(name)
            if v is None:
                off = base + j
                ab[off >> 3] |= 1 << (off & 7)
                v = b""
            parts.append(v)
            e += len(v)
            new_ends.append(e)
        os.pwrite(self.fd(self.vec_rel(name)), b"".join(parts), start)
        os.pwrite(self.fd(self.vends_rel(name)), new_ends.tobytes(),
                  base * 8)
        ends.extend(new_ends)
        self.dirty.add(("absent", name, base >> 3))

    def read_blob(self, name, off):
        ends = self.vends[name]
        start = ends[off - 1] if off else 0
        if ends[off] == start:
            return None
        return os.pread(self.fd(self.vec_rel(name)), ends[off] - start,
                        start)

    def load_blob_ends(self, name):
        """Read ends.dat of ${name}; returns how many offsets it covers."""
        path = os.path.join(self.path, self.vends_rel(name))
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            with open(path, "wb"):
                pass
            raw = b""
        ends = array("Q")
        ends.frombytes(raw[:len(raw) // 8 * 8])
        self.vends[name] = ends
        return len(ends)

    # -- snapshots
    def capture(self, plan, prefix, nested):
        """Add this segment to a plan (call with the shard lock held).
        nested=True: one member <prefix>segments/<uuid>.tar holding
        snapshot/files/...; False: Streamable layout
        <prefix>segments/<uuid>/files/...  Returns the fds it opened."""
        self.flush_bitmaps()
        inner = tario.Plan() if nested else plan
        base = "snapshot/files" if nested else \
            prefix + "segments/" + self.uuid + "/files"
        maxm = 0
        if nested:
            inner.dir("snapshot/")
        entries = []
        for root, dirs, files in os.walk(self.path):
            dirs.sort()
            rel_root = os.path.relpath(root, self.path)
            rel_root = "" if rel_root == "." else rel_root + "/"
            st = os.stat(root)
            entries.append(("d", rel_root, st))
            for fn in sorted(files):
                entries.append(("f", rel_root + fn, None))
        fds = []
        for kind, rel, st in entries:
            if kind == "d":
                name = base + "/" + rel
                inner.dir(name, mode=st.st_mode, mtime=int(st.st_mtime),
                          uid=st.st_uid, gid=st.st_gid)
                continue
            full = os.path.join(self.path, rel)
            fd = os.open(full, os.O_RDONLY)
            st = os.fstat(fd)
            maxm = max(maxm, int(st.st_mtime))
            name = base + "/" + rel
            if os.path.basename(rel) in MUTABLE_SMALL:
                data = os.pread(fd, st.st_size, 0)
                os.close(fd)
                inner.data_file(name, data, st)
            else:
                fds.append(fd)
                inner.disk_file(name, fd, st.st_size, st)
        versions.add_segment_rocksdb_backups(
            inner, "snapshot" if nested else
            prefix + "segments/" + self.uuid, self.uuid)
        if nested:
            inner.finish()
            plan.nested(prefix + "segments/" + self.uuid + ".tar", inner,
                        mtime=maxm, uid=os.getuid(), gid=os.getgid())
        plan.fds.extend(fds)


def _popcount(b):
    return int.from_bytes(b, "little").bit_count()


class Wal:
    """A tiny write-ahead log: wal/open-1 holds records (op, summary)."""

    def __init__(self, path, capacity):
        self.path = path
        self.capacity = capacity
        os.makedirs(path, exist_ok=True)
        self.file = os.path.join(path, "open-1")
        self.first_file = os.path.join(path, "first-index")
        if not os.path.exists(self.file):
            with open(self.file, "wb") as f:
                f.write(WAL_MAGIC)
        if not os.path.exists(self.first_file):
            with open(self.first_file, "wb") as f:
                f.write(b'{"ack_index":0}')
        self.size = os.path.getsize(self.file)
        self.fd = os.open(self.file, os.O_RDWR)

    def append(self, op, summary):
        data = dumps(summary).encode()
        rec = struct.pack("<QI", op, len(data)) + data
        if self.size + len(rec) > min(self.capacity, 4 << 20):
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, WAL_MAGIC, 0)
            self.size = len(WAL_MAGIC)
            with open(self.first_file, "wb") as f:
                f.write(dumps({"ack_index": op}).encode())
        os.pwrite(self.fd, rec, self.size)
        self.size += len(rec)

    def data(self):
        return os.pread(self.fd, self.size, 0)

    def first_index(self):
        try:
            with open(self.first_file, "rb") as f:
                return f.read()
        except OSError:
            return b'{"ack_index":0}'

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


class ShardReplica:
    """One replica of one shard on one node."""

    def __init__(self, path, vec_specs, seg_bytes, wal_capacity):
        self.path = path
        self.vec_specs = vec_specs
        self.seg_bytes = seg_bytes
        self.wal_capacity = wal_capacity
        self.lock = threading.RLock()
        self.segments = []
        self.index = {}
        self.op = 0
        self._sorted = None
        self.wal = None

    # -- life cycle
    @classmethod
    def open(cls, path, vec_specs, seg_bytes, wal_capacity, create=True):
        r = cls(path, vec_specs, seg_bytes, wal_capacity)
        segdir = os.path.join(path, "segments")
        if create:
            os.makedirs(segdir, exist_ok=True)
        r.wal = Wal(os.path.join(path, "wal"), wal_capacity)
        try:
            with open(os.path.join(path, "shard.json"), "rb") as f:
                meta = json.loads(f.read())
        except (OSError, ValueError):
            meta = {}
        order = meta.get("segments") or []
        names = sorted(os.listdir(segdir)) if os.path.isdir(segdir) else []
        names.sort(key=lambda s: (order.index(s) if s in order
                                  else len(order), s))
        for nm in names:
            p = os.path.join(segdir, nm)
            if not os.path.isdir(p) or nm.startswith("."):
                continue
            try:
                seg = Segment.load(p, vec_specs)
            except ValueError:
                continue                  # a foreign segment: ignored
            r.segments.append(seg)
        r.op = max([int(meta.get("op") or 0)] +
                   [s.version for s in r.segments])
        r._rebuild_index()
        # only the last appendable segment stays appendable
        app = [s for s in r.segments if s.appendable]
        for s in app[:-1]:
            s.appendable = False
            s.write_segment_json()
        if create and not r.segments:
            # a new shard starts with an empty appendable segment (Qdrant
            # creates its segments with the shard)
            r._appendable()
        return r

    def _rebuild_index(self):
        idx = {}
        best = {}
        for sno, seg in enumerate(self.segments):
            d = seg.deleted
            keys = seg.keys
            vers = seg.versions
            base = sno << 32
            for off in range(seg.n):
                if (d[off >> 3] >> (off & 7)) & 1:
                    continue
                k = keys[off]
                old = idx.get(k)
                if old is not None:
                    if vers[off] < best[k]:
                        seg.mark_deleted(off)
                        continue
                    o = self.segments[old >> 32]
                    o.mark_deleted(old & 0xFFFFFFFF)
                idx[k] = base | off
                best[k] = vers[off]
        for seg in self.segments:
            seg.flush_bitmaps()
        self.index = idx
        self._sorted = None

    def save_meta(self):
        write_atomic(os.path.join(self.path, "shard.json"),
                     dumps({"op": self.op,
                            "segments": [s.uuid for s in self.segments]}))

    def close(self):
        with self.lock:
            for s in self.segments:
                s.close()
            if self.wal:
                self.wal.close()

    # -- writes
    def _appendable(self):
        if self.segments and self.segments[-1].appendable:
            return self.segments[-1]
        seg = Segment.create(os.path.join(self.path, "segments",
                                          str(uuidlib.uuid4())),
                             self.vec_specs)
        self.segments.append(seg)
        self.save_meta()
        return seg

    def _seal(self, seg):
        seg.appendable = False
        seg.write_segment_json()

    def upsert(self, points, op=None):
        """points: [(key, {name: bytes or None}, payload bytes)]"""
        with self.lock:
            if op is None:
                op = self.op + 1
            self.op = max(self.op, op)
            last = {}
            for p in points:
                last[p[0]] = p
            batch = list(last.values())
            touched = set()
            new_keys = False
            for key, _, _ in batch:
                old = self.index.get(key)
                if old is not None:
                    seg = self.segments[old >> 32]
                    seg.mark_deleted(old & 0xFFFFFFFF)
                    touched.add(seg)
                else:
                    new_keys = True
            pos = 0
            while pos < len(batch):
                seg = self._appendable()
                sno = self.segments.index(seg)
                per_point = sum(d * 4 for _, d, _ in self.vec_specs) + 64
                room = max(1, (self.seg_bytes - seg.nbytes) // per_point)
                chunk = batch[pos:pos + room]
                base = seg.append([(k, op, v, pl) for k, v, pl in chunk])
                for j, (k, _, _) in enumerate(chunk):
                    self.index[k] = (sno << 32) | (base + j)
                touched.add(seg)
                pos += len(chunk)
                if seg.nbytes >= self.seg_bytes:
                    seg.version = op
                    self._seal(seg)
            for seg in touched:
                seg.version = op
                seg.flush_bitmaps()
                seg.write_segment_json()
            if new_keys:
                self._sorted = None
            self.wal.append(op, {"op": "upsert", "count": len(batch),
                                 "ids": [key_to_id(k)
                                         for k, _, _ in batch[:8]]})
            return op

    def delete(self, keys, op=None):
        with self.lock:
            if op is None:
                op = self.op + 1
            self.op = max(self.op, op)
            touched = set()
            for k in keys:
                old = self.index.pop(k, None)
                if old is None:
                    continue
                seg = self.segments[old >> 32]
                seg.mark_deleted(old & 0xFFFFFFFF)
                touched.add(seg)
            for seg in touched:
                seg.version = op
                seg.flush_bitmaps()
                seg.write_segment_json()
            if touched:
                self._sorted = None
            self.wal.append(op, {"op": "delete", "count": len(keys)})
            return op

    # -- reads
    def count(self):
        return len(self.index)

    def sorted_keys(self):
        with self.lock:
            if self._sorted is None:
                self._sorted = sorted(self.index)
            return self._sorted

    def locate(self, key):
        v = self.index.get(key)
        if v is None:
            return None
        return self.segments[v >> 32], v & 0xFFFFFFFF

    def version_of(self, key):
        loc = self.locate(key)
        if loc is None:
            return None
        return loc[0].versions[loc[1]]

    def segments_count(self):
        return len(self.segments)

    def indexed_count(self):
        return sum(s.live for s in self.segments if not s.appendable)

    # -- snapshot support
    def capture(self, plan, prefix, nested, wal_mode="current"):
        """Add segments, clocks and WAL to a plan; shard lock held inside.
        wal_mode "current" ships the shard's WAL, "empty" a fresh one that
        starts at the current operation (shard snapshots)."""
        with self.lock:
            for seg in self.segments:
                seg.capture(plan, prefix, nested)
            plan.mem_file(prefix + "newest_clocks.json", dumps({
                "clocks": [{"peer_id": self.peer_id, "clock_id": 0,
                            "current_tick": self.op,
                            "token": (self.peer_id * 31 + 7) % (1 << 63)}]}))
            cap = self.wal_capacity
            wst = os.stat(self.wal.path)
            plan.dir(prefix + "wal/", mode=wst.st_mode,
                     mtime=int(wst.st_mtime), uid=wst.st_uid, gid=wst.st_gid)
            if wal_mode == "current":
                data = self.wal.data()
                first = self.wal.first_index()
                fst = os.stat(self.wal.file)
            else:
                data = WAL_MAGIC
                first = dumps({"ack_index": self.op}).encode()
                fst = None
            plan.sparse_file(prefix + "wal/open-1", None, len(data), cap,
                             st=fst, data=data)
            plan.mem_file(prefix + "wal/first-index", first)

    peer_id = 0
    sid = None          # the shard id (set by the node that opens it)




def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
