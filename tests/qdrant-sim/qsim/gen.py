"""Fast deterministic data: generated collections, mutations, tampering.

Vectors are float32 with a normal-like distribution: random bytes from
random.Random(seed, block of ids), then the byte holding the sign and the
high exponent bits of every float is mapped through a 256-entry table whose
shape follows the exponents of N(0, sigma) values.  Mantissas stay random,
so the data compresses like real embeddings (zstd ratio about 0.9), and
nothing is a repeated pool.  The vector of a point depends only on
(seed, point id).
"""

import fnmatch
import json
import math
import os
import random
import shutil
import time
import uuid as uuidlib
from array import array

from .storage import Segment
from .util import U64, ApiError

BLOCK = 1024
SIGMA = 0.08


def _exponent_table(sigma=SIGMA):
    """256 entries: top bit = sign, 7 bits -> high 7 bits of the biased
    exponent.  The lowest exponent bit comes from the (random) next byte,
    so an entry picks a pair of octaves [2^(2k-127), 2^(2k-125))."""
    def cdf(x):                      # P(|X| < x), X ~ N(0, sigma)
        return math.erf(x / (sigma * math.sqrt(2)))
    probs = []
    for k in range(128):
        lo = 2.0 ** (2 * k - 127)
        hi = 2.0 ** (2 * k + 1 - 127 + 1)
        probs.append(cdf(hi) - cdf(lo))
    # quantise to 128 slots, at least one slot for the pair holding sigma
    slots = [int(round(p * 128)) for p in probs]
    diff = 128 - sum(slots)
    order = sorted(range(128), key=lambda k: -probs[k])
    i = 0
    while diff:
        k = order[i % len(order)]
        if diff > 0:
            slots[k] += 1
            diff -= 1
        elif slots[k] > 0:
            slots[k] -= 1
            diff += 1
        i += 1
    seq = []
    for k in range(128):
        seq.extend([k] * slots[k])
    table = bytearray(256)
    for b in range(256):
        table[b] = (b & 0x80) | seq[b & 0x7F]
    return bytes(table)


TABLE = _exponent_table()


def vectors_block(seed, block_no, count, dim):
    """count*dim float32 values (bytes) for one block of point indexes."""
    rnd = random.Random((seed << 40) ^ (block_no * 0x9E3779B1) ^ 0x5EED)
    b = bytearray(rnd.randbytes(4 * dim * count))
    b[3::4] = b[3::4].translate(TABLE)
    return b


WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet "
         "kilo lima mike november oscar papa quebec romeo sierra tango "
         "uniform victor whiskey xray yankee zulu vector search engine "
         "backup restore snapshot shard replica cluster payload index "
         "segment quantum river mountain ocean forest desert city village "
         "music theatre science history garden kitchen window bridge "
         "planet comet galaxy signal harbor lantern meadow orbit pixel "
         "quartz").split()
assert len(WORDS) == 64

CATEGORIES = ("news", "sports", "science", "tech", "music", "travel", "food",
              "health", "finance", "art")
MASK = U64 - 1


def _texts():
    r = random.Random(4242)
    out = []
    for _ in range(4096):
        out.append(" ".join(r.choice(WORDS) for _ in range(r.randint(3, 12))))
    return out


TEXTS = _texts()
TAGS = ['["%s","%s"]' % (WORDS[i % 64], WORDS[(i * 7 + 3) % 64])
        for i in range(256)]


def payload_for(pid, seed, rev=0):
    """A small JSON payload, deterministic by (point id, seed, revision)."""
    h = ((pid + 1) * 0x9E3779B97F4A7C15 + seed * 0xBF58476D1CE4E5B9 +
         rev * 0x94D049BB133111EB) & MASK
    h ^= h >> 29
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 32
    text = TEXTS[h & 4095]
    cat = CATEGORIES[(h >> 12) % 10]
    num = (h >> 20) % 100000
    kind = (h >> 40) & 3
    if kind == 0:
        return ('{"text":"%s","category":"%s","number":%d,"price":%d.%02d,'
                '"in_stock":%s}' % (text, cat, num, (h >> 44) % 1000,
                                   (h >> 54) % 100,
                                   "true" if h & 1 else "false")).encode()
    if kind == 1:
        return ('{"text":"%s","category":"%s","number":%d,"tags":%s}'
                % (text, cat, num, TAGS[(h >> 44) & 255])).encode()
    return ('{"text":"%s","category":"%s","number":%d}'
            % (text, cat, num)).encode()


def point_key(i, seed, uuid_from):
    """Key of the i-th generated point (ids 1..N; the last ones UUIDs when
    uuid_from is set)."""
    if uuid_from is not None and i >= uuid_from:
        r = random.Random((seed << 32) ^ i)
        return U64 + uuidlib.UUID(int=r.getrandbits(128), version=4).int
    return i + 1


def generate(sim, name, points, dim, seed=1, distance="Cosine", payload=True,
             shard_number=None, replication_factor=None, replace=False,
             uuid_points=0, max_segment_size=None, vector_name=None):
    t0 = time.time()
    if not isinstance(points, int) or points < 0 or \
            not isinstance(dim, int) or dim < 1:
        raise ApiError(400, "Bad request: points and dim must be positive "
                       "integers")
    if replace:
        sim.delete_collection(name)
    vp = {"size": dim, "distance": distance}
    body = {"vectors": vp if not vector_name else {vector_name: vp}}
    if shard_number:
        body["shard_number"] = shard_number
    if replication_factor:
        body["replication_factor"] = replication_factor
    if max_segment_size:
        body["optimizers_config"] = {"max_segment_size": max_segment_size}
    coll = sim.create_collection(name, body)
    try:
        return _generate(sim, coll, points, dim, seed, payload, uuid_points,
                         vector_name, t0)
    except BaseException:
        sim.delete_collection(name)
        raise


def _generate(sim, coll, points, dim, seed, payload, uuid_points,
              vector_name, t0):
    name = coll.name
    vname = vector_name or ""
    seg_bytes = coll.seg_bytes(sim.seg_default)
    uuid_from = points - uuid_points if uuid_points else None
    vs = dim * 4
    nshards = coll.shard_number
    # per shard builder: keys, versions, vector bytes, payloads
    builders = [{"keys": [], "vers": [], "vec": bytearray(), "pay": [],
                 "paybytes": 0, "segs": []} for _ in range(nshards)]

    def flush(sid, final):
        b = builders[sid]
        if not b["keys"]:
            return
        for pid in coll.shards[sid]:
            node = sim.by_peer[pid]
            rep = node.open_replica(coll, sid)
            with rep.lock:
                for old in [x for x in rep.segments if x.n == 0]:
                    # the empty segment the new shard started with
                    rep.segments.remove(old)
                    old.close()
                    shutil.rmtree(old.path, ignore_errors=True)
                path = os.path.join(rep.path, "segments",
                                    str(uuidlib.UUID(int=random.Random(
                                        (seed << 20) ^ (sid << 10) ^
                                        len(b["segs"])).getrandbits(128),
                                        version=4)))
                seg = Segment.write_bulk(path, coll.vec_specs, b["keys"],
                                         b["vers"], {vname: bytes(b["vec"])},
                                         b["pay"], appendable=final,
                                         version=max(b["vers"]))
                rep.segments.append(seg)
        b["segs"].append(1)
        b["keys"], b["vers"], b["vec"], b["pay"] = [], [], bytearray(), []
        b["paybytes"] = 0

    empty = b""
    for block_no, start in enumerate(range(0, points, BLOCK)):
        cnt = min(BLOCK, points - start)
        vecs = vectors_block(seed, block_no, cnt, dim)
        keys = [point_key(i, seed, uuid_from) for i in range(start, start + cnt)]
        if payload:
            pays = [payload_for(k if k < U64 else start + j + 1, seed)
                    for j, k in enumerate(keys)]
        else:
            pays = [empty] * cnt
        ver = 1 + start // 1000
        if nshards == 1:
            b = builders[0]
            b["keys"].extend(keys)
            b["vers"].extend([ver] * cnt)
            b["vec"] += vecs
            b["pay"].extend(pays)
            b["paybytes"] += sum(map(len, pays))
            if len(b["vec"]) + b["paybytes"] >= seg_bytes:
                flush(0, False)
            continue
        touched = set()
        for j, key in enumerate(keys):
            sid = coll.ring.route(key)
            b = builders[sid]
            b["keys"].append(key)
            b["vers"].append(ver)
            b["vec"] += vecs[j * vs:(j + 1) * vs]
            b["pay"].append(pays[j])
            b["paybytes"] += len(pays[j])
            touched.add(sid)
        for sid in touched:
            b = builders[sid]
            if len(b["vec"]) + b["paybytes"] >= seg_bytes:
                flush(sid, False)
    for sid in range(nshards):
        flush(sid, True)
    for sid in range(nshards):
        for pid in coll.shards[sid]:
            rep = sim.by_peer[pid].open_replica(coll, sid)
            with rep.lock:
                rep.op = max([rep.op] + [s.version for s in rep.segments])
                rep._rebuild_index()
                rep.save_meta()
    return {"collection": name, "points": points, "dim": dim,
            "seconds": round(time.time() - t0, 3),
            "segments": sum(len(b["segs"]) for b in builders)}


def mutate(sim, name, fraction=0.02, seed=1, node=None):
    """Re-upsert a fraction of the points with new vectors and payloads
    through the normal upsert path."""
    coll = sim.resolve(name)
    keys = []
    key_of = {}         # custom sharding: point -> its shard key
    for sid in coll.shard_ids():
        rep = sim.read_replica(coll, sid, node)
        ks = rep.sorted_keys()
        keys.extend(ks)
        if coll.custom:
            for k in ks:
                key_of[k] = coll.key_of(sid)
    keys.sort()
    k = int(round(len(keys) * fraction))
    rnd = random.Random(seed * 7919 + 17)
    chosen = sorted(rnd.sample(keys, k)) if k else []
    specs = coll.vec_specs
    changed = 0
    rev = seed + 1
    for start in range(0, len(chosen), 512):
        part = chosen[start:start + 512]
        pts = []
        for key in part:
            vecs = {}
            for name_, dim, _ in specs:
                r = random.Random((seed << 48) ^ key ^ 0xA5A5)
                b = bytearray(r.randbytes(4 * dim))
                b[3::4] = b[3::4].translate(TABLE)
                vecs[name_] = bytes(b)
            pid = key if key < U64 else (key & 0xFFFFFFFF)
            pts.append((key, vecs, payload_for(pid, seed, rev)))
        if coll.custom:
            by_key = {}
            for p in pts:
                by_key.setdefault(json.dumps(key_of[p[0]]), []).append(p)
            for k, kp in by_key.items():
                sim.upsert(coll, kp, json.loads(k))
        else:
            sim.upsert(coll, pts)
        changed += len(part)
    return {"collection": coll.name, "changed": changed,
            "points": len(keys)}


def tamper(sim, name, key, what="vector", node_filter=None):
    """Change a point's stored vector or payload in place, without an
    update (its version and the deletion bitmaps stay as they are)."""
    coll = sim.resolve(name)
    sids = coll.shard_ids() if coll.custom else [coll.ring.route(key)]
    done = []
    for sid, pid in [(sid, pid) for sid in sids
                     for pid in sorted(coll.shards.get(sid, {}))]:
        node = sim.by_peer[pid]
        if node_filter is not None and node.index != node_filter:
            continue
        rep = node.replica(coll.name, sid)
        if rep is None:
            continue
        with rep.lock:
            loc = rep.locate(key)
            if loc is None:
                continue
            seg, off = loc
            if what in ("vector", "both"):
                for vname, dim, _ in coll.vec_specs:
                    raw = seg.read_vector(vname, off)
                    if raw is None:
                        continue
                    if dim == 0:
                        _tamper_varlen(seg, vname, off, raw)
                        continue
                    a = array("f", raw)
                    a[0] = a[0] + 0.5 if abs(a[0]) < 1e30 else 1.0
                    os.pwrite(seg.fd(seg.vec_rel(vname)), a.tobytes(),
                              off * dim * 4)
                    seg.forget_norms()
            if what in ("payload", "both"):
                start, end = seg.payload_range(off)
                raw = os.pread(seg.fd("payload_storage/page_0.dat"),
                               end - start, start)
                new = _tamper_json(raw)
                os.pwrite(seg.fd("payload_storage/page_0.dat"), new, start)
            done.append(node.index)
    if not done:
        raise ApiError(404, "Not found: No point with id %s found" % key)
    return {"collection": coll.name, "nodes": done, "what": what}


def _tamper_varlen(seg, name, off, raw):
    """Change the first number of a sparse vector's values or of a
    multivector in place: one digit, so the JSON text keeps its length."""
    i = raw.find(b'"values"') if raw.startswith(b"{") else 0
    while not raw[i:i + 1].isdigit():
        i += 1
    d = b"%d" % ((raw[i] - 0x30 + 1) % 10)
    start = seg.vends[name][off - 1] if off else 0
    os.pwrite(seg.fd(seg.vec_rel(name)), d, start + i)


def tamper_on_recover(sim, pattern, key, what="vector", count=1):
    """Remember a tamper to apply right after the next `count` recoveries
    (collection or shard snapshot) into a collection whose name matches
    the fnmatch `pattern` (e.g. "qbk-drill-*-c1"): the stand-in for a
    backup whose data went bad, seen only once it is restored."""
    with sim.lock:
        pend = getattr(sim, "pending_tampers", None)
        if pend is None:
            pend = sim.pending_tampers = []
        pend.append({"pattern": pattern, "id": key, "what": what,
                     "count": count})
    return {"pattern": pattern, "pending": True, "what": what}


def apply_pending_tampers(sim, name):
    """Called after a recovery into collection `name`."""
    todo = []
    with sim.lock:
        for t in getattr(sim, "pending_tampers", None) or []:
            if t["count"] != 0 and fnmatch.fnmatchcase(name, t["pattern"]):
                if t["count"] > 0:
                    t["count"] -= 1
                todo.append(t)
        if todo:
            sim.pending_tampers = [t for t in sim.pending_tampers
                                   if t["count"] != 0]
    for t in todo:
        try:
            tamper(sim, name, t["id"], t["what"])
        except ApiError:
            pass


def _tamper_json(raw):
    """Same length, still valid JSON, different content."""
    if not raw:
        return raw
    b = bytearray(raw)
    for i, c in enumerate(b):
        if 0x30 <= c <= 0x39:
            b[i] = 0x30 + ((c - 0x30 + 1) % 10)
            return bytes(b)
    for i, c in enumerate(b):
        if 0x61 <= c <= 0x7A and i > 0 and b[i - 1] != 0x5C:
            # a letter inside a string value or key
            b[i] = 0x61 + ((c - 0x61 + 1) % 26)
            return bytes(b)
    return raw
