"""The simulated deployment: nodes, collections, aliases, shard placement,
replica states, and the point operations that span shards."""

import bisect
import copy
import hashlib
import heapq
import json
import math
import operator
import os
import random
import shutil
import struct
import threading
import time
import uuid as uuidlib
from array import array

from . import filters
from . import optimizer
from .storage import ShardReplica, remove_tree
from .util import (U64, ApiError, bad_input, bad_request, dumps,
                   f32_list, key_to_id, not_found_collection, parse_point_id,
                   write_atomic)
from .util import bad_point_id

VERSION = "1.19.0"
COMMIT = "74f3e85b9473c62560006c043e13737ce6b48412"
DISTANCES = ("Cosine", "Euclid", "Dot", "Manhattan")
STATES = ("Active", "Dead", "Partial", "Initializing", "Listener",
          "PartialSnapshot", "Recovery", "Resharding", "ReshardingScaleDown",
          "ActiveRead", "ManualRecovery")
BAD_NAME_CHARS = set('<>:"/\\|?*\0\x1f')


def peer_id_for(index, big=False, seed=""):
    """Deterministic peer ids that look like real ones (16 digits); with
    big=True above 2**63 as random u64 ids often are.  Each seed (one per
    simulated cluster) gives other ids, as two real clusters have."""
    h = hashlib.sha256(b"qdrant-sim-peer-%d-" % index +
                       str(seed).encode()).digest()
    n = int.from_bytes(h[:8], "big")
    if big:
        return (1 << 63) | n
    return 1000000000000000 + n % 8000000000000000


def _mix64(x):
    x &= U64 - 1
    x = (x + 0x9E3779B97F4A7C15) & (U64 - 1)
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & (U64 - 1)
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & (U64 - 1)
    return x ^ (x >> 31)


class Ring:
    """Consistent hash ring, 100 virtual nodes per shard (as Qdrant), over
    the shard ids given (0..shard_number-1 for auto sharding, the shards of
    one shard key for custom sharding)."""

    def __init__(self, shard_ids):
        pts = []
        self.ids = list(shard_ids)
        for sid in self.ids:
            for v in range(100):
                h = hashlib.blake2b(b"%d-%d" % (sid, v), digest_size=8)
                pts.append((int.from_bytes(h.digest(), "little"), sid))
        pts.sort()
        self.pos = [p for p, _ in pts]
        self.sid = [s for _, s in pts]
        self.n = len(self.ids)

    def route(self, key):
        if self.n == 0:
            raise bad_input("No shards found for shard key")
        if self.n == 1:
            return self.ids[0]
        h = _mix64(key ^ (key >> 64))
        i = bisect.bisect_left(self.pos, h)
        if i == len(self.pos):
            i = 0
        return self.sid[i]


def default_config(body, nnodes):
    """CollectionConfig (as stored and shown) from a CreateCollection body."""
    vectors = body.get("vectors", {})
    method = body.get("sharding_method")
    if method not in (None, "auto", "custom"):
        raise ApiError(400, "Format error in JSON body: sharding_method: "
                       "unknown variant `%s`, expected `auto` or `custom`"
                       % method)
    params = {
        "vectors": vectors,
        # custom sharding: shards per shard key (default 1)
        "shard_number": body.get("shard_number") or
        (nnodes if nnodes > 1 and method != "custom" else 1),
        "replication_factor": body.get("replication_factor") or 1,
        "write_consistency_factor": body.get("write_consistency_factor") or 1,
        "on_disk_payload": (body.get("on_disk_payload")
                            if body.get("on_disk_payload") is not None
                            else True),
    }
    if body.get("sharding_method"):
        params["sharding_method"] = body["sharding_method"]
    if body.get("sparse_vectors"):
        params["sparse_vectors"] = body["sparse_vectors"]
    hnsw = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
            "max_indexing_threads": 0, "on_disk": False}
    for k, v in (body.get("hnsw_config") or {}).items():
        if v is not None:
            hnsw[k] = v
    opt = {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
           "default_segment_number": 0, "max_segment_size": None,
           "memmap_threshold": None, "indexing_threshold": 10000,
           "flush_interval_sec": 5, "max_optimization_threads": None}
    for k, v in (body.get("optimizers_config") or
                 body.get("optimizer_config") or {}).items():
        if v is not None:
            opt[k] = v
    wal = {"wal_capacity_mb": 32, "wal_segments_ahead": 0,
           "wal_retain_closed": 1}
    for k, v in (body.get("wal_config") or {}).items():
        if v is not None:
            wal[k] = v
    cfg = {"params": params, "hnsw_config": hnsw, "optimizer_config": opt,
           "wal_config": wal,
           "quantization_config": body.get("quantization_config"),
           "strict_mode_config": body.get("strict_mode_config") or
           {"enabled": False}}
    if body.get("metadata") is not None:
        cfg["metadata"] = body["metadata"]
    return cfg


def validate_vectors(vectors):
    """Check VectorsConfig; returns [(name, dim, distance)]."""
    if not isinstance(vectors, dict):
        raise ApiError(400, "Format error in JSON body: vectors: invalid "
                       "type, expected a map")
    if "size" in vectors or "distance" in vectors:
        items = [("", vectors)]
    else:
        items = sorted(vectors.items())
    specs = []
    for name, p in items:
        if not isinstance(p, dict):
            raise ApiError(400, "Format error in JSON body: vectors: data "
                           "did not match any variant of untagged enum "
                           "VectorsConfig")
        size = p.get("size")
        dist = p.get("distance")
        if dist not in DISTANCES:
            raise ApiError(400, "Format error in JSON body: unknown variant "
                           "`%s`, expected one of `Cosine`, `Euclid`, `Dot`, "
                           "`Manhattan`" % dist)
        if not isinstance(size, int) or isinstance(size, bool):
            raise ApiError(400, "Format error in JSON body: vectors.size: "
                           "invalid type, expected u64")
        if size < 1:
            raise ApiError(422, "Validation error in JSON body: [vectors.%s"
                           "size: value 0 invalid, must be 1 or larger]"
                           % (name + "." if name else ""))
        specs.append((name, size, dist))
    return specs


# ---------------------------------------------------- sparse and multi vectors
# Qdrant's shapes (lib/api/src/rest/schema.rs, VectorStruct and
# VectorOutput; lib/segment/src/data_types/named_vectors.rs, preprocess):
# a sparse vector is {"indices": [u32...], "values": [f32...]}, stored
# sorted by index (indices must be unique and as many as the values,
# lib/sparse/src/common/sparse_vector.rs, validate_sparse_vector_impl); a
# multivector (a dense vector with "multivector_config") is a list of
# dense vectors of the configured size, each normalized for Cosine.  In
# the storage they have dimension 0 (storage.py keeps them as JSON text).

def varlen_specs(params, specs):
    """specs with the multivectors and the sparse vectors of CollectionParams
    ${params} as (name, 0, "multi" or "sparse"); and {name: (dim, distance)}
    of the multivectors ((0, "Dot") of the sparse ones)."""
    vectors = params.get("vectors") or {}
    single = "size" in vectors or "distance" in vectors
    varlen = {}
    out = []
    for name, dim, dist in specs:
        cfg = vectors if single else vectors.get(name) or {}
        if cfg.get("multivector_config") is not None:
            varlen[name] = (dim, dist)
            out.append((name, 0, "multi"))
        else:
            out.append((name, dim, dist))
    sparse = params.get("sparse_vectors") or {}
    if not isinstance(sparse, dict):
        raise ApiError(400, "Format error in JSON body: sparse_vectors: "
                       "invalid type, expected a map")
    for name in sorted(sparse):
        varlen[name] = (0, "Dot")
        out.append((name, 0, "sparse"))
    return out, varlen


def pack_varlen(coll, name, vec):
    """The stored JSON text of the sparse or multi vector ${vec}."""
    dim, dist = coll.varlen[name]
    if dim == 0:
        if not isinstance(vec, dict) or \
                not isinstance(vec.get("indices"), list) or \
                not isinstance(vec.get("values"), list):
            raise ApiError(400, "Format error in JSON body: invalid sparse "
                           "vector")
        idx, vals = vec["indices"], vec["values"]
        if not all(isinstance(i, int) and not isinstance(i, bool) and
                   0 <= i < 1 << 32 for i in idx) or \
                not all(isinstance(x, (int, float)) and
                        not isinstance(x, bool) for x in vals):
            raise ApiError(400, "Format error in JSON body: invalid sparse "
                           "vector")
        if len(idx) != len(vals):
            raise ApiError(422, "Validation error in JSON body: [values: "
                           "must be the same length as indices]")
        if len(set(idx)) != len(idx):
            raise ApiError(422, "Validation error in JSON body: [indices: "
                           "must be unique]")
        pairs = sorted(zip(idx, f32_list(array("f", vals).tobytes())))
        return dumps({"indices": [i for i, _ in pairs],
                      "values": [x for _, x in pairs]}).encode()
    if not isinstance(vec, list) or not vec or \
            not all(isinstance(r, list) for r in vec):
        raise bad_input("Wrong input: Multivector must be a list of "
                        "vectors")
    rows = []
    for r in vec:
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                   for x in r):
            raise ApiError(400, "Format error in JSON body: invalid vector")
        if len(r) != dim:
            raise bad_input("Vector dimension error: expected dim: %d, got "
                            "%d" % (dim, len(r)))
        if dist == "Cosine":
            norm = math.sqrt(sum(x * x for x in r))
            if norm > 0:
                r = [x / norm for x in r]
        rows.append(f32_list(array("f", r).tobytes()))
    return dumps(rows).encode()


def varlen_score(coll, name, q, stored):
    """Score of the stored vector (its JSON value) for the query ${q}:
    dot product over common indices for sparse (Qdrant scores sparse
    vectors by dot product), max_sim (the sum over query rows of the best
    similarity with a stored row) for multivectors."""
    dim, dist = coll.varlen[name]
    if dim == 0:
        have = dict(zip(stored["indices"], stored["values"]))
        return sum(v * have.get(i, 0.0)
                   for i, v in zip(q["indices"], q["values"]))

    def sim(a, b):
        if dist == "Euclid":
            return -math.dist(a, b)
        if dist == "Manhattan":
            return -sum(abs(x - y) for x, y in zip(a, b))
        return sum(x * y for x, y in zip(a, b))
    return sum(max(sim(qr, sr) for sr in stored) for qr in q)


def check_collection_name(name):
    if not name or any(c in BAD_NAME_CHARS for c in name) or \
            len(name) > 255 or name in (".", ".."):
        raise ApiError(422, "Validation error in path parameters: "
                       "[collection_name: Collection name must not contain "
                       "any of: < > : \" / \\ | ? * \\0 \\u{1F}]")


def check_shard_key(k, where="shard_key"):
    """A ShardKey: a string or an unsigned 64-bit integer."""
    if isinstance(k, str) or (isinstance(k, int) and
                              not isinstance(k, bool) and 0 <= k < U64):
        return k
    raise ApiError(400, "Format error in JSON body: %s: data did not match "
                   "any variant of untagged enum ShardKey" % where)


def skey(k):
    """Dictionary key of a shard key ("1" and 1 are different keys)."""
    return json.dumps(k)


def show_key(k):
    """A shard key as Qdrant's messages print it (Display of ShardKey)."""
    return '"%s"' % k if isinstance(k, str) else "%d" % k


class Collection:
    def __init__(self, name, config, uuid=None):
        self.name = name
        self.config = config
        self.uuid = uuid or str(uuidlib.uuid4())
        self.shards = {}            # sid -> {peer_id: state}
        self.payload_schema = {}
        self.transfers = []
        self.lock = threading.RLock()
        self.vec_specs = validate_vectors(config["params"].get("vectors",
                                                               {}))
        self.vec_specs, self.varlen = varlen_specs(config["params"],
                                                   self.vec_specs)
        self.single = "size" in config["params"].get("vectors", {})
        # custom sharding: [{"key": k, "shard_ids": [...]}] in creation
        # order, as shard_key_mapping.json lists them
        self.key_map = []
        self.rings = {}
        # [(name, data)] added to every snapshot (POST /__sim/extra_member)
        self.extra_members = []
        self.rebuild_rings()

    @property
    def custom(self):
        return self.config["params"].get("sharding_method") == "custom"

    def shard_ids(self):
        return sorted(self.shards) if self.custom else \
            list(range(self.shard_number))

    def key_of(self, sid):
        for e in self.key_map:
            if sid in e["shard_ids"]:
                return e["key"]
        return None

    def key_entry(self, k):
        for e in self.key_map:
            if skey(e["key"]) == skey(k):
                return e
        return None

    def rebuild_rings(self):
        if self.custom:
            self.rings = {skey(e["key"]): Ring(sorted(e["shard_ids"]))
                          for e in self.key_map}
        else:
            self.rings = {None: Ring(range(self.shard_number))}

    @property
    def ring(self):
        """The ring of auto sharding."""
        return self.rings[None]

    @property
    def shard_number(self):
        return int(self.config["params"].get("shard_number") or 1)

    @property
    def replication_factor(self):
        return int(self.config["params"].get("replication_factor") or 1)

    def seg_bytes(self, default):
        mss = self.config["optimizer_config"].get("max_segment_size")
        if mss:
            return int(mss) * 1024
        return default

    def wal_capacity(self):
        return int(self.config["wal_config"].get("wal_capacity_mb") or
                   32) << 20

    def vector_names(self):
        return [n for n, _, _ in self.vec_specs]

    def spec(self, name):
        for n, d, dist in self.vec_specs:
            if n == name:
                return n, d, dist
        return None

    def snapshot_config(self):
        c = copy.deepcopy(self.config)
        c["uuid"] = self.uuid
        return c

    def to_json(self):
        return {"config": self.config, "uuid": self.uuid,
                "shards": {str(s): {str(p): st for p, st in peers.items()}
                           for s, peers in self.shards.items()},
                "shard_keys": self.key_map,
                "payload_schema": self.payload_schema}

    @classmethod
    def from_json(cls, name, d):
        c = cls(name, d["config"], d.get("uuid"))
        c.shards = {int(s): {int(p): st for p, st in peers.items()}
                    for s, peers in d.get("shards", {}).items()}
        c.payload_schema = d.get("payload_schema") or {}
        c.key_map = d.get("shard_keys") or []
        c.rebuild_rings()
        return c


class Node:
    def __init__(self, sim, index, peer_id, path):
        self.sim = sim
        self.index = index
        self.peer_id = peer_id
        self.path = path
        self.coll_dir = os.path.join(path, "collections")
        self.snap_dir = os.path.join(path, "snapshots")
        self.temp_dir = os.path.join(path, "snapshots_temp")
        for d in (self.coll_dir, self.snap_dir, self.temp_dir):
            os.makedirs(d, exist_ok=True)
        for f in os.listdir(self.temp_dir):
            remove_tree(os.path.join(self.temp_dir, f)) \
                if os.path.isdir(os.path.join(self.temp_dir, f)) else \
                _unlink(os.path.join(self.temp_dir, f))
        self.replicas = {}
        self.rlock = threading.RLock()
        self.down = False
        self.port = None
        self.p2p_port = None
        self.server = None
        self.faults = None
        self.stats = {}             # collection -> counters
        self.started = time.time()

    def uri(self):
        return "http://%s:%d/" % (self.sim.host, self.p2p_port or 0)

    def replica_path(self, coll, sid):
        return os.path.join(self.coll_dir, coll, str(sid))

    def open_replica(self, coll, sid):
        with self.rlock:
            r = self.replicas.get((coll.name, sid))
            if r is None:
                r = ShardReplica.open(self.replica_path(coll.name, sid),
                                      coll.vec_specs,
                                      coll.seg_bytes(self.sim.seg_default),
                                      coll.wal_capacity())
                r.peer_id = self.peer_id
                r.sid = sid
                self.replicas[(coll.name, sid)] = r
            return r

    def replica(self, name, sid):
        return self.replicas.get((name, sid))

    def drop_replica(self, name, sid):
        with self.rlock:
            r = self.replicas.pop((name, sid), None)
            if r is not None:
                r.close()
            remove_tree(self.replica_path(name, sid))

    def drop_collection(self, name):
        with self.rlock:
            for key in [k for k in self.replicas if k[0] == name]:
                self.replicas.pop(key).close()
            remove_tree(os.path.join(self.coll_dir, name))

    def stat(self, coll):
        return self.stats.setdefault(coll, {"running_snapshots": 0,
                                            "running_snapshot_recovery": 0,
                                            "total_snapshot_creations": 0})


def _unlink(p):
    try:
        os.unlink(p)
    except OSError:
        pass


class Sim:
    def __init__(self, storage, nnodes=1, host="127.0.0.1", api_key=None,
                 ro_key=None, verbose=False, seg_default=64 << 20,
                 resync_delay=0.3, big_peer_ids=False, cluster_seed=None):
        self.storage = os.path.abspath(storage)
        os.makedirs(self.storage, exist_ok=True)
        self.host = host
        self.api_key = api_key
        self.ro_key = ro_key
        self.verbose = verbose
        self.seg_default = seg_default
        self.resync_delay = resync_delay
        self.lock = threading.RLock()
        self.collections = {}
        self.aliases = {}
        self.term = 1
        self.commit = 0
        # Peer ids: as saved by an earlier run on this storage (its
        # placement names them), else derived from the cluster seed (by
        # default the storage folder), so that two simulated clusters
        # never share a peer id.
        saved = self._saved_peer_ids()
        seed = cluster_seed if cluster_seed is not None else self.storage
        ids = []
        for i in range(nnodes):
            pid = saved[i] if i < len(saved) else \
                peer_id_for(i + 1, big_peer_ids, seed)
            while pid in ids:
                pid = peer_id_for(i + 1 + len(ids) * nnodes, big_peer_ids,
                                  seed)
            ids.append(pid)
        self.nodes = [Node(self, i + 1, ids[i],
                           os.path.join(self.storage, "node-%d" % (i + 1)))
                      for i in range(nnodes)]
        self.by_peer = {n.peer_id: n for n in self.nodes}
        self.opseq = 0
        self.send_failures = {}
        self.tls = None             # ssl.SSLContext of the REST ports
        self._load()

    # Cluster mode (cluster.enabled): several nodes always, a single node
    # with --cluster; standalone otherwise.
    cluster_mode = False

    @property
    def cluster(self):
        return len(self.nodes) > 1 or self.cluster_mode

    def log(self, *a):
        if self.verbose:
            print("qdrant-sim:", *a, flush=True)

    # ------------------------------------------------------------ state
    def _saved_peer_ids(self):
        try:
            with open(os.path.join(self.storage, "cluster.json"), "rb") as f:
                ids = json.loads(f.read()).get("peer_ids") or []
        except (OSError, ValueError, AttributeError):
            return []
        return [int(x) for x in ids if isinstance(x, int)]

    def _load(self):
        p = os.path.join(self.storage, "cluster.json")
        try:
            with open(p, "rb") as f:
                d = json.loads(f.read())
        except (OSError, ValueError):
            return
        for name, cd in d.get("collections", {}).items():
            try:
                c = Collection.from_json(name, cd)
            except (ApiError, KeyError, ValueError):
                continue
            for sid, peers in c.shards.items():
                for pid in list(peers):
                    if pid not in self.by_peer:
                        peers.pop(pid)
            self.collections[name] = c
            for sid, peers in c.shards.items():
                for pid in peers:
                    self.by_peer[pid].open_replica(c, sid)
        self.aliases = d.get("aliases", {})
        self.commit = int(d.get("commit") or 0)
        # replicas left Dead get re-synced from an active one
        for c in self.collections.values():
            for sid, peers in c.shards.items():
                for pid, st in peers.items():
                    if st != "Active":
                        self.schedule_resync(c.name, sid, pid)

    def save(self):
        with self.lock:
            self.commit += 1
            d = {"collections": {n: c.to_json()
                                 for n, c in self.collections.items()},
                 "aliases": self.aliases, "commit": self.commit,
                 "peer_ids": [n.peer_id for n in self.nodes]}
            write_atomic(os.path.join(self.storage, "cluster.json"),
                         json.dumps(d, indent=1))

    # ------------------------------------------------------------ lookup
    def resolve(self, name, alias=True):
        with self.lock:
            c = self.collections.get(name)
            if c is None and alias and name in self.aliases:
                c = self.collections.get(self.aliases[name])
            if c is None:
                raise not_found_collection(name)
            return c

    def find(self, name):
        try:
            return self.resolve(name)
        except ApiError:
            return None

    # ------------------------------------------------------------ create
    def placement(self, shard_number, rf):
        n = len(self.nodes)
        rf = max(1, min(rf, n))
        out = {}
        for sid in range(shard_number):
            out[sid] = {self.nodes[(sid + r) % n].peer_id: "Active"
                        for r in range(rf)}
        return out

    def create_collection(self, name, body, config=None, uuid=None,
                          payload_schema=None):
        check_collection_name(name)
        if config is None:
            if not isinstance(body, dict):
                raise ApiError(400, "Format error in JSON body: expected an "
                               "object")
            validate_vectors(body.get("vectors", {}))
            for k in ("shard_number", "replication_factor",
                      "write_consistency_factor"):
                v = body.get(k)
                if v is not None and (not isinstance(v, int) or
                                      isinstance(v, bool)):
                    raise ApiError(400, "Format error in JSON body: %s: "
                                   "invalid type" % k)
                if v is not None and v < 1:
                    raise ApiError(422, "Validation error in JSON body: "
                                   "[%s: value %d invalid, must be 1 or "
                                   "larger]" % (k, v))
            config = default_config(body, len(self.nodes))
        with self.lock:
            if name in self.collections:
                raise bad_input_conflict("Collection `%s` already exists!"
                                         % name)
            if name in self.aliases:
                raise bad_input_conflict("Alias with name `%s` already "
                                         "exists!" % name)
            c = Collection(name, config, uuid)
            # custom sharding: no shard until a shard key is created
            c.shards = {} if c.custom else \
                self.placement(c.shard_number, c.replication_factor)
            if payload_schema:
                c.payload_schema = payload_schema
            for sid, peers in c.shards.items():
                for pid in peers:
                    node = self.by_peer[pid]
                    remove_tree(node.replica_path(name, sid))
                    node.open_replica(c, sid)
                    if node.down:
                        peers[pid] = "Dead"
            self.collections[name] = c
            self.save()
            return c

    # ------------------------------------------------------------ shard keys
    def create_shard_key(self, coll, body):
        """PUT /collections/{c}/shards (CreateShardingKey)."""
        if not isinstance(body, dict) or "shard_key" not in body:
            raise ApiError(400, "Format error in JSON body: missing field "
                           "`shard_key`")
        key = check_shard_key(body["shard_key"])
        for f in ("shards_number", "replication_factor"):
            v = body.get(f)
            if v is not None and (not isinstance(v, int) or
                                  isinstance(v, bool)):
                raise ApiError(400, "Format error in JSON body: %s: invalid "
                               "type, expected u32" % f)
            if v is not None and v < 1:
                raise ApiError(422, "Validation error in JSON body: [%s: "
                               "value %d invalid, must be 1 or larger]"
                               % (f, v))
        state = body.get("initial_state")
        if state is not None and state not in STATES:
            raise ApiError(400, "Format error in JSON body: initial_state: "
                           "unknown variant `%s`" % state)
        placement = body.get("placement")
        if placement is not None and (
                not isinstance(placement, list) or
                not all(isinstance(p, int) and not isinstance(p, bool)
                        for p in placement)):
            raise ApiError(400, "Format error in JSON body: placement: "
                           "invalid type, expected a sequence of u64")
        with self.lock:
            if not coll.custom:
                raise bad_request("Shard Key cannot be created with Auto "
                                  "sharding method")
            if state is not None and state not in ("Active", "Partial"):
                raise bad_request("Initial state cannot be %s, only Active "
                                  "or Partial are allowed" % state)
            if coll.key_entry(key) is not None:
                raise bad_request("Sharding key %s already exists for "
                                  "collection %s" % (show_key(key),
                                                     coll.name))
            if placement is not None:
                if not placement:
                    raise bad_request(
                        "Sharding key %s placement cannot be empty. If you "
                        "want to use random placement, do not specify "
                        "placement" % show_key(key))
                for p in placement:
                    if p not in self.by_peer:
                        raise bad_request("Peer %d does not exist" % p)
                pool = [n.peer_id for n in self.nodes
                        if n.peer_id in placement]
            else:
                pool = [n.peer_id for n in self.nodes]
            number = body.get("shards_number") or coll.shard_number
            rf = body.get("replication_factor") or \
                (1 if state is not None else coll.replication_factor)
            start = max(coll.shards) + 1 if coll.shards else 0
            self.add_key_shards(coll, key, list(range(start, start + number)),
                                rf, pool, state or "Active")
            self.save()
        return True

    def add_key_shards(self, coll, key, ids, rf, pool, state="Active"):
        """Create the shards ${ids} of shard key ${key}, ${rf} replicas
        each, spread over the peers of ${pool} in turn (starting after the
        replicas the collection has, so that keys spread too)."""
        rf = max(1, min(rf, len(pool)))
        n = sum(len(p) for p in coll.shards.values())
        for sid in ids:
            peers = {}
            for r in range(rf):
                peers[pool[(n + r) % len(pool)]] = state
            n += rf
            coll.shards[sid] = peers
            for pid in peers:
                node = self.by_peer[pid]
                remove_tree(node.replica_path(coll.name, sid))
                node.open_replica(coll, sid)
                if node.down:
                    peers[pid] = "Dead"
        coll.key_map.append({"key": key, "shard_ids": list(ids)})
        coll.rebuild_rings()

    def drop_shard_key(self, coll, body):
        """POST /collections/{c}/shards/delete (DropShardingKey)."""
        if not isinstance(body, dict) or "shard_key" not in body:
            raise ApiError(400, "Format error in JSON body: missing field "
                           "`shard_key`")
        key = check_shard_key(body["shard_key"])
        with self.lock:
            if not coll.custom:
                raise bad_request("Shard Key cannot be created with Auto "
                                  "sharding method")
            e = coll.key_entry(key)
            if e is None:
                raise bad_request("Sharding key %s does not exist for "
                                  "collection %s" % (show_key(key),
                                                     coll.name))
            with coll.lock:
                for sid in e["shard_ids"]:
                    for pid in coll.shards.pop(sid, {}):
                        self.by_peer[pid].drop_replica(coll.name, sid)
                coll.transfers = [t for t in coll.transfers
                                  if t["shard_id"] not in e["shard_ids"]]
                coll.key_map.remove(e)
                coll.rebuild_rings()
            self.save()
        return True

    def shard_keys(self, coll):
        if not coll.custom:
            return {"shard_keys": None}
        return {"shard_keys": [{"key": e["key"]} for e in coll.key_map]}

    def selected_keys(self, coll, selector):
        """The shard keys a ShardKeySelector names (a key, a list of keys,
        or {"target", "fallback"}); None: no selector."""
        if selector is None:
            return None
        if isinstance(selector, dict) and "target" in selector:
            t = check_shard_key(selector.get("target"), "shard_key.target")
            f = check_shard_key(selector.get("fallback"),
                                "shard_key.fallback")
            return [t if coll.key_entry(t) is not None else f]
        keys = selector if isinstance(selector, list) else [selector]
        return [check_shard_key(k) for k in keys]

    def write_rings(self, coll, selector):
        """The rings a point write goes through (one per shard key)."""
        keys = self.selected_keys(coll, selector)
        if keys is None:
            if coll.custom:
                raise bad_input("Shard key not specified")
            return [coll.ring]
        out = []
        for k in keys:
            r = coll.rings.get(skey(k))
            if r is None:
                raise bad_input("Shard key %s not found" % show_key(k))
            out.append(r)
        return out

    def read_shards(self, coll, selector):
        """The shard ids a read covers: all, or those of the keys named."""
        keys = self.selected_keys(coll, selector)
        if keys is None:
            return coll.shard_ids()
        out = set()
        for k in keys:
            e = coll.key_entry(k) if coll.custom else None
            if e is None:
                raise bad_input("Shard key %s not found" % show_key(k))
            out.update(e["shard_ids"])
        return sorted(out)

    def delete_collection(self, name):
        with self.lock:
            c = self.collections.pop(name, None)
            if c is None:
                return False
            self.aliases = {a: t for a, t in self.aliases.items()
                            if t != name}
            for n in self.nodes:
                n.drop_collection(name)
            self.save()
            return True

    # ------------------------------------------------------------ aliases
    def alias_actions(self, actions):
        if not isinstance(actions, list):
            raise ApiError(400, "Format error in JSON body: actions: invalid "
                           "type, expected a sequence")
        with self.lock:
            new = dict(self.aliases)
            for a in actions:
                if not isinstance(a, dict) or len(a) != 1:
                    raise ApiError(400, "Format error in JSON body: unknown "
                                   "alias operation")
                kind, arg = next(iter(a.items()))
                if not isinstance(arg, dict):
                    raise ApiError(400, "Format error in JSON body: invalid "
                                   "alias operation")
                if kind == "create_alias":
                    cn, an = arg.get("collection_name"), arg.get("alias_name")
                    if not isinstance(cn, str) or not isinstance(an, str):
                        raise ApiError(400, "Format error in JSON body: "
                                       "missing field")
                    if cn not in self.collections:
                        raise not_found_collection(cn)
                    if an in self.collections:
                        raise bad_input_conflict("Collection `%s` already "
                                                 "exists!" % an)
                    new[an] = cn
                elif kind == "delete_alias":
                    an = arg.get("alias_name")
                    if an not in new:
                        raise ApiError(404, "Not found: Alias %s does not "
                                       "exists!" % an)
                    del new[an]
                elif kind == "rename_alias":
                    old, nn = arg.get("old_alias_name"), \
                        arg.get("new_alias_name")
                    if old not in new:
                        raise ApiError(404, "Not found: Alias %s does not "
                                       "exists!" % old)
                    if nn in self.collections:
                        raise bad_input_conflict("Collection `%s` already "
                                                 "exists!" % nn)
                    new[nn] = new.pop(old)
                else:
                    raise ApiError(400, "Format error in JSON body: unknown "
                                   "variant `%s`, expected one of "
                                   "`create_alias`, `delete_alias`, "
                                   "`rename_alias`" % kind)
            self.aliases = new
            self.save()
        return True

    def alias_list(self, coll=None):
        with self.lock:
            return [{"alias_name": a, "collection_name": c}
                    for a, c in sorted(self.aliases.items())
                    if coll is None or c == coll]

    # ------------------------------------------------------------ replicas
    def set_state(self, coll, sid, pid, state):
        with self.lock:
            peers = coll.shards.get(sid)
            if peers is not None and pid in peers:
                peers[pid] = state
                self.save()

    def read_replica(self, coll, sid, prefer=None):
        peers = coll.shards.get(sid, {})
        order = sorted(peers, key=lambda p: (p != (prefer.peer_id if prefer
                                                   else None), p))
        for want in ("Active", "ReshardingScaleDown", "ActiveRead",
                     "Partial", "ManualRecovery"):
            for pid in order:
                node = self.by_peer.get(pid)
                if node is None or node.down or peers[pid] != want:
                    continue
                r = node.replica(coll.name, sid)
                if r is not None:
                    return r
            if want == "ActiveRead":
                pass
        raise ApiError(503, "Shard temporarily unavailable: No active "
                       "replica of shard %d of collection `%s`"
                       % (sid, coll.name))

    def write_replicas(self, coll, sid):
        peers = coll.shards.get(sid, {})
        out = []
        for pid, st in sorted(peers.items()):
            node = self.by_peer.get(pid)
            if node is not None and node.down and st != "Dead":
                # an update that cannot reach a replica marks it Dead (a
                # node down whose replicas were still Active)
                self.set_state(coll, sid, pid, "Dead")
                continue
            if node is None or node.down or st == "Dead":
                continue
            r = node.replica(coll.name, sid)
            if r is not None:
                out.append(r)
        if not out:
            raise ApiError(503, "Shard temporarily unavailable: No active "
                           "replica of shard %d of collection `%s`"
                           % (sid, coll.name))
        return out

    def local_shards(self, coll, node):
        return [sid for sid in coll.shard_ids()
                if node.peer_id in coll.shards.get(sid, {})]

    # ------------------------------------------------------------ resync
    def schedule_resync(self, cname, sid, target_pid, source_pid=None,
                        delay=None):
        """Re-sync a replica from an active one after a short while (the
        simulator's stand-in for a shard transfer)."""
        with self.lock:
            c = self.collections.get(cname)
            if c is None:
                return
            tr = {"shard_id": sid, "from": source_pid or 0,
                  "to": target_pid, "sync": True,
                  "method": "stream_records"}
            if source_pid is None:
                peers = c.shards.get(sid, {})
                srcs = [p for p, st in peers.items()
                        if st == "Active" and p != target_pid and
                        not self.by_peer[p].down]
                if not srcs:
                    return
                tr["from"] = srcs[0]
            if self.by_peer[target_pid].down:
                return
            c.transfers = [t for t in c.transfers
                           if not (t["shard_id"] == sid and
                                   t["to"] == target_pid)]
            c.transfers.append(tr)
        t = threading.Timer(self.resync_delay if delay is None else delay,
                            self._do_resync, (cname, sid, tr))
        t.daemon = True
        t.start()

    def _do_resync(self, cname, sid, tr):
        with self.lock:
            c = self.collections.get(cname)
            if c is None or tr not in c.transfers:
                return
            peers = c.shards.get(sid, {})
            src_pid, dst_pid = tr["from"], tr["to"]
            src_node, dst_node = self.by_peer[src_pid], self.by_peer[dst_pid]
            if peers.get(src_pid) != "Active" or dst_pid not in peers or \
                    peers.get(dst_pid) == "Active" or src_node.down or \
                    dst_node.down:
                c.transfers.remove(tr)
                return
        # copy outside the metadata lock (the collection lock keeps writes
        # and recoveries of this collection out meanwhile)
        with c.lock:
            self.copy_replica(c, sid, src_node, dst_node)
        with self.lock:
            if tr in c.transfers:
                c.transfers.remove(tr)
            if dst_pid in peers and not dst_node.down:
                peers[dst_pid] = "Active"
            self.save()

    def copy_replica(self, c, sid, src_node, dst_node):
        src = src_node.open_replica(c, sid)
        with dst_node.rlock:
            old = dst_node.replicas.pop((c.name, sid), None)
            if old is not None:
                old.close()
            dst = dst_node.replica_path(c.name, sid)
            remove_tree(dst)
            with src.lock:
                for seg in src.segments:
                    seg.flush_bitmaps()
                shutil.copytree(src.path, dst)
            dst_node.open_replica(c, sid)

    def node_down(self, node, down, mark_dead=True):
        """Take a node down or bring it back.  Down: its replicas become
        Dead everywhere, unless ${mark_dead} is false: then they stay
        Active until something notices (a write to them), as in Qdrant,
        which does not mark a lost peer's replicas Dead at once."""
        with self.lock:
            if down == node.down:
                return
            node.down = down
            if down:
                self.send_failures[node.uri()] = {
                    "count": 1, "latest_error": "Failed to connect to %s"
                    % node.uri(), "latest_error_timestamp": _rfc3339()}
                for c in self.collections.values():
                    for sid, peers in c.shards.items():
                        if node.peer_id in peers and mark_dead:
                            peers[node.peer_id] = "Dead"
                self.save()
            else:
                self.send_failures.pop(node.uri(), None)
                for c in self.collections.values():
                    for sid, peers in c.shards.items():
                        if peers.get(node.peer_id) == "Dead":
                            others = [p for p, st in peers.items()
                                      if st == "Active" and p != node.peer_id]
                            if others:
                                self.schedule_resync(c.name, sid,
                                                     node.peer_id)
                            else:
                                peers[node.peer_id] = "Active"
                self.save()

    # ------------------------------------------------------------ points
    def parse_vector_struct(self, coll, v, where="vector"):
        """-> {name: float list}"""
        if isinstance(v, list):
            return {"": v}
        if isinstance(v, dict):
            return v
        raise ApiError(400, "Format error in JSON body: %s: data did not "
                       "match any variant of untagged enum VectorStruct"
                       % where)

    def pack_vectors(self, coll, vs, normalize=True):
        out = {}
        for name, vec in vs.items():
            spec = coll.spec(name)
            if spec is None:
                raise bad_input("Not existing vector name error: %s"
                                % (name or "(default vector)"))
            if name in coll.varlen:
                out[name] = pack_varlen(coll, name, vec)
                continue
            if isinstance(vec, dict):
                raise bad_input("Not existing vector name error: %s" % name)
            if not isinstance(vec, list) or \
                    not all(isinstance(x, (int, float)) and
                            not isinstance(x, bool) for x in vec):
                raise ApiError(400, "Format error in JSON body: invalid "
                               "vector")
            if len(vec) != spec[1]:
                raise bad_input("Vector dimension error: expected dim: %d, "
                                "got %d" % (spec[1], len(vec)))
            if spec[2] == "Cosine" and normalize:
                norm = math.sqrt(sum(x * x for x in vec))
                if norm > 0:
                    vec = [x / norm for x in vec]
            try:
                out[name] = array("f", vec).tobytes()
            except (OverflowError, TypeError):
                raise ApiError(400, "Format error in JSON body: invalid "
                               "vector value")
        return out

    def parse_upsert(self, coll, body):
        pts = []
        if not isinstance(body, dict):
            raise ApiError(400, "Format error in JSON body: expected an "
                           "object")
        if "points" in body:
            if not isinstance(body["points"], list):
                raise ApiError(400, "Format error in JSON body: points: "
                               "invalid type, expected a sequence")
            for p in body["points"]:
                if not isinstance(p, dict) or "id" not in p:
                    raise ApiError(400, "Format error in JSON body: points: "
                                   "missing field `id`")
                try:
                    key = parse_point_id(p["id"])
                except ValueError:
                    raise bad_point_id(p["id"])
                vs = self.parse_vector_struct(coll, p.get("vector", {}))
                payload = p.get("payload")
                if payload is not None and not isinstance(payload, dict):
                    raise ApiError(400, "Format error in JSON body: payload: "
                                   "invalid type, expected a map")
                pts.append((key, self.pack_vectors(coll, vs),
                            dumps(payload).encode() if payload else b""))
        elif "batch" in body:
            b = body["batch"]
            if not isinstance(b, dict) or not isinstance(b.get("ids"), list):
                raise ApiError(400, "Format error in JSON body: batch: "
                               "missing field `ids`")
            ids = b["ids"]
            vecs = b.get("vectors")
            pays = b.get("payloads") or [None] * len(ids)
            if isinstance(vecs, list):
                per = [{"": v} for v in vecs]
            elif isinstance(vecs, dict):
                per = [{} for _ in ids]
                for name, lst in vecs.items():
                    if not isinstance(lst, list) or len(lst) != len(ids):
                        raise bad_input("number of vectors does not match "
                                        "number of ids")
                    for i, v in enumerate(lst):
                        per[i][name] = v
            else:
                raise ApiError(400, "Format error in JSON body: batch: "
                               "missing field `vectors`")
            if len(per) != len(ids) or len(pays) != len(ids):
                raise bad_input("number of vectors/payloads does not match "
                                "number of ids")
            for i, pid in enumerate(ids):
                try:
                    key = parse_point_id(pid)
                except ValueError:
                    raise bad_point_id(pid)
                payload = pays[i]
                pts.append((key, self.pack_vectors(coll, per[i]),
                            dumps(payload).encode() if payload else b""))
        else:
            raise ApiError(400, "Format error in JSON body: data did not "
                           "match any variant of untagged enum "
                           "PointInsertOperations")
        return pts

    def upsert(self, coll, pts, selector=None):
        by_shard = {}
        rings = self.write_rings(coll, selector)
        for p in pts:
            for ring in rings:
                by_shard.setdefault(ring.route(p[0]), []).append(p)
        opid = 0
        with coll.lock:
            for sid, sp in sorted(by_shard.items()):
                reps = self.write_replicas(coll, sid)
                op = max(r.op for r in reps) + 1
                for r in reps:
                    r.upsert(sp, op)
                opid = max(opid, op)
        optimizer.trigger(self, coll)
        return opid

    def delete_points(self, coll, keys, selector=None):
        by_shard = {}
        if coll.custom and selector is None:
            # no shard key: the points go from every shard
            for sid in coll.shard_ids():
                by_shard[sid] = list(keys)
        else:
            for ring in self.write_rings(coll, selector):
                for k in keys:
                    by_shard.setdefault(ring.route(k), []).append(k)
        opid = 0
        with coll.lock:
            for sid in coll.shard_ids():
                ks = by_shard.get(sid)
                if not ks:
                    continue
                reps = self.write_replicas(coll, sid)
                op = max(r.op for r in reps) + 1
                for r in reps:
                    r.delete(ks, op)
                opid = max(opid, op)
        optimizer.trigger(self, coll)
        return opid

    def payload_of(self, rep, key):
        loc = rep.locate(key)
        if loc is None:
            return {}
        raw = loc[0].read_payload(loc[1])
        return json.loads(raw) if raw else {}

    def record(self, coll, rep, key, with_payload, with_vector,
               version=False):
        with rep.lock:
            loc = rep.locate(key)
            if loc is None:
                return None
            seg, off = loc
            rec = {"id": key_to_id(key)}
            if version:
                rec["version"] = seg.versions[off]
            if filters.want_payload(with_payload):
                raw = seg.read_payload(off)
                pl = json.loads(raw) if raw else {}
                rec["payload"] = filters.select_payload(pl, with_payload)
            names = filters.vector_names_wanted(with_vector,
                                                coll.vector_names())
            if names:
                vecs = {}
                for n in names:
                    raw = seg.read_vector(n, off)
                    if raw is not None and n in coll.varlen:
                        vecs[n] = json.loads(raw)
                    elif raw is not None:
                        vecs[n] = f32_list(raw)
                if coll.single:
                    if "" in vecs:
                        rec["vector"] = vecs[""]
                else:
                    rec["vector"] = vecs
            if coll.custom:
                k = coll.key_of(getattr(rep, "sid", None))
                if k is not None:
                    rec["shard_key"] = k
            return rec

    def iter_keys(self, coll, node, start=None, sids=None):
        """All keys of the collection (of the shards ${sids}) in Qdrant's
        order, with the replica that holds each: yields (key, replica)."""
        its = []
        for sid in (coll.shard_ids() if sids is None else sids):
            rep = self.read_replica(coll, sid, node)
            keys = rep.sorted_keys()
            i = 0 if start is None else bisect.bisect_left(keys, start)
            its.append(_keyed(keys, i, rep))
        if len(its) == 1:
            return its[0]
        if not its:
            return iter(())
        return heapq.merge(*its, key=lambda kr: kr[0])

    def matcher(self, coll, flt):
        f = filters.Filter(flt)
        if f.empty():
            return None

        def m(key, rep):
            def hv(name):
                loc = rep.locate(key)
                return loc is not None and \
                    loc[0].read_vector(name, loc[1]) is not None
            return f.match(key, lambda: self.payload_of(rep, key), hv)
        return m

    def scroll(self, coll, node, body):
        limit = body.get("limit", 10)
        if limit is None:
            limit = 10
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ApiError(400, "Format error in JSON body: limit: invalid "
                           "value")
        if limit == 0:
            raise bad_request("Limit cannot be 0")
        start = None
        if body.get("offset") is not None:
            try:
                start = parse_point_id(body["offset"])
            except ValueError:
                raise bad_point_id(body["offset"])
        m = self.matcher(coll, body.get("filter"))
        wp = body.get("with_payload", True)
        wv = body.get("with_vector", False)
        sids = self.read_shards(coll, body.get("shard_key"))
        got = []
        for key, rep in self.iter_keys(coll, node, start, sids):
            if m is not None and not m(key, rep):
                continue
            got.append((key, rep))
            if len(got) > limit:
                break
        nxt = None
        if len(got) > limit:
            nxt = key_to_id(got[limit][0])
            got = got[:limit]
        pts = []
        for key, rep in got:
            r = self.record(coll, rep, key, wp, wv)
            if r is not None:
                pts.append(r)
        return {"points": pts, "next_page_offset": nxt}

    def sample(self, coll, node, flt, limit, with_payload, with_vector):
        """Up to `limit` points drawn at random (the query {"sample":
        "random"}): scored points with score 0, in random order."""
        m = self.matcher(coll, flt)
        keys = [(key, rep) for key, rep in self.iter_keys(coll, node)
                if m is None or m(key, rep)]
        pts = []
        for key, rep in random.sample(keys, min(limit, len(keys))):
            r = self.record(coll, rep, key, with_payload, with_vector,
                            version=True)
            if r is not None:
                r["score"] = 0.0
                pts.append(r)
        return pts

    def count(self, coll, node, body):
        flt = (body or {}).get("filter")
        sids = self.read_shards(coll, (body or {}).get("shard_key"))
        if filters.Filter(flt).empty():
            return sum(self.read_replica(coll, sid, node).count()
                       for sid in sids)
        return sum(1 for _ in self.scan(coll, node, flt, sids))

    def scan(self, coll, node, flt, sids=None):
        """(key, replica) of the points matching a filter, in storage
        order (fast path for count and delete by filter)."""
        f = filters.Filter(flt)
        for sid in (coll.shard_ids() if sids is None else sids):
            rep = self.read_replica(coll, sid, node)
            with rep.lock:
                segs = [(sno, seg, seg.n) for sno, seg in
                        enumerate(rep.segments)]
                index = rep.index
            for sno, seg, n in segs:
                if not n:
                    continue
                ends = seg.ends
                page = os.pread(seg.fd("payload_storage/page_0.dat"),
                                ends[n - 1], 0) if f.needs_payload else b""
                d = seg.deleted
                base = sno << 32
                for off in range(n):
                    if (d[off >> 3] >> (off & 7)) & 1:
                        continue
                    key = seg.keys[off]
                    if index.get(key) != base | off:
                        continue

                    def gp(off=off):
                        a = ends[off - 1] if off else 0
                        raw = page[a:ends[off]]
                        return json.loads(raw) if raw else {}

                    def hv(name, seg=seg, off=off):
                        return seg.read_vector(name, off) is not None
                    if f.match(key, gp, hv):
                        yield key, rep

    def replica_for_key(self, coll, node, key):
        return self.read_replica(coll, coll.ring.route(key), node)

    def replicas_for_key(self, coll, node, key, sids=None):
        """The replicas a point id may be in: its shard by the ring (auto
        sharding), or every shard (custom: an id is unique only within a
        shard key)."""
        if not coll.custom:
            return [self.replica_for_key(coll, node, key)]
        out = []
        for sid in (coll.shard_ids() if sids is None else sids):
            rep = self.read_replica(coll, sid, node)
            if rep.locate(key) is not None:
                out.append(rep)
        return out

    def retrieve(self, coll, node, ids, wp, wv, selector=None):
        out = []
        seen = set()
        sids = self.read_shards(coll, selector)
        for i in ids:
            try:
                k = parse_point_id(i)
            except ValueError:
                raise bad_point_id(i)
            if k in seen:
                continue
            seen.add(k)
            for rep in self.replicas_for_key(coll, node, k, sids):
                r = self.record(coll, rep, k, wp, wv)
                if r is not None:
                    out.append(r)
        return out

    def keys_matching(self, coll, node, flt):
        return sorted(k for k, rep in self.scan(coll, node, flt))

    def search(self, coll, node, qvec, using, flt, limit, offset,
               wp, wv, threshold):
        spec = coll.spec(using)
        if spec is None:
            raise bad_input("Not existing vector name error: %s"
                            % (using or "(default vector)"))
        name, dim, dist = spec
        if name in coll.varlen:
            return self.search_varlen(coll, node, qvec, name, flt, limit,
                                      offset, wp, wv, threshold)
        if not isinstance(qvec, list) or len(qvec) != dim:
            raise bad_input("Vector dimension error: expected dim: %d, got "
                            "%d" % (dim, len(qvec) if isinstance(qvec, list)
                                    else 0))
        q = list(array("f", qvec))
        if dist == "Cosine":
            n = math.sqrt(sum(x * x for x in q))
            if n:
                q = [x / n for x in q]
        higher = dist in ("Dot", "Cosine")
        qt = tuple(q)
        qq = sum(x * x for x in q)
        m = self.matcher(coll, flt)
        want = limit + offset
        heap = []
        sub = operator.sub
        f32s = struct.Struct("<f")
        for sid in coll.shard_ids():
            rep = self.read_replica(coll, sid, node)
            with rep.lock:
                segs = [(sno, seg, seg.n) for sno, seg in
                        enumerate(rep.segments)]
                index = rep.index
            for sno, seg, n in segs:
                if n == 0:
                    continue
                norms = seg.norms2(name, n) if higher else None
                ab = seg.absent[name]
                d = seg.deleted
                keys = seg.keys
                base = sno << 32
                for start, vals in seg.vector_chunks(name, n):
                    for j in range(len(vals) // dim):
                        off = start + j
                        if (d[off >> 3] >> (off & 7)) & 1 or \
                                (ab[off >> 3] >> (off & 7)) & 1:
                            continue
                        key = keys[off]
                        if index.get(key) != base | off:
                            continue
                        if m is not None and not m(key, rep):
                            continue
                        v = vals[j * dim:(j + 1) * dim]
                        if dist == "Euclid":
                            sc = math.dist(qt, v)
                        elif dist == "Manhattan":
                            sc = sum(map(abs, map(sub, qt, v)))
                        else:
                            dd = math.dist(qt, v)
                            vv = norms[off]
                            dot = (qq + vv - dd * dd) * 0.5
                            if dist == "Dot":
                                sc = dot
                            else:
                                sc = dot / math.sqrt(vv) if vv > 0 else 0.0
                        # scores are float32 in Qdrant (and rounding hides
                        # the last-bit noise of the distance identity)
                        if -3.4e38 < sc < 3.4e38:
                            sc = f32s.unpack(f32s.pack(sc))[0]
                        if threshold is not None:
                            if (higher and sc < threshold) or \
                                    (not higher and sc > threshold):
                                continue
                        item = (sc if higher else -sc, -key, key, sid)
                        if len(heap) < want:
                            heapq.heappush(heap, item)
                        elif item > heap[0]:
                            heapq.heapreplace(heap, item)
        heap.sort(reverse=True)
        out = []
        for sc, _, key, sid in heap[offset:offset + limit]:
            rep = self.read_replica(coll, sid, node)
            rec = self.record(coll, rep, key, wp, wv, version=True)
            if rec is None:
                continue
            s = sc if higher else -sc
            res = {"id": rec["id"], "version": rec["version"],
                   "score": f32_list(struct.pack("<f", s))[0]}
            if "payload" in rec:
                res["payload"] = rec["payload"]
            if "vector" in rec:
                res["vector"] = rec["vector"]
            out.append(res)
        return out

    def search_varlen(self, coll, node, qvec, name, flt, limit, offset,
                      wp, wv, threshold):
        """Search by a sparse vector or a multivector: a plain scan (the
        simulator has no index for them).  Higher scores are better."""
        q = json.loads(pack_varlen(coll, name, qvec))
        hits = []
        for key, rep in self.scan(coll, node, flt):
            with rep.lock:
                loc = rep.locate(key)
                raw = None if loc is None else \
                    loc[0].read_vector(name, loc[1])
            if raw is None:
                continue
            sc = varlen_score(coll, name, q, json.loads(raw))
            sc = struct.unpack("<f", struct.pack("<f", sc))[0]
            if threshold is not None and sc < threshold:
                continue
            hits.append((-sc, key, rep))
        hits.sort(key=lambda h: (h[0], h[1]))
        out = []
        for sc, key, rep in hits[offset:offset + limit]:
            rec = self.record(coll, rep, key, wp, wv, version=True)
            if rec is None:
                continue
            res = {"id": rec["id"], "version": rec["version"],
                   "score": -sc}
            for k in ("payload", "vector"):
                if k in rec:
                    res[k] = rec[k]
            out.append(res)
        return out

    def vector_of(self, coll, node, key, name):
        reps = self.replicas_for_key(coll, node, key)
        if not reps:
            return None
        rep = reps[0]
        with rep.lock:
            loc = rep.locate(key)
            if loc is None:
                return None
            raw = loc[0].read_vector(name, loc[1])
        if raw is None:
            return None
        if name in coll.varlen:
            return json.loads(raw)
        return list(array("f", raw))

    # ------------------------------------------------------------ info
    def collection_info(self, coll, node):
        points = 0
        segs = 0
        indexed = 0
        status = "green"
        for sid in coll.shard_ids():
            try:
                rep = self.read_replica(coll, sid, node)
            except ApiError:
                status = "red"
                continue
            points += rep.count()
            segs += rep.segments_count()
            indexed += rep.indexed_count() * max(1, len(coll.vec_specs))
            if any(st != "Active" for st in coll.shards[sid].values()):
                status = "yellow" if status == "green" else status
        schema = {}
        for field, sch in coll.payload_schema.items():
            dt = sch if isinstance(sch, str) else (sch or {}).get("type",
                                                                  "keyword")
            e = {"data_type": dt, "points": points}
            if isinstance(sch, dict) and len(sch) > 1:
                e["params"] = sch
            schema[field] = e
        status = optimizer.combine(status, optimizer.status(self, coll))
        return {"status": status, "optimizer_status": "ok",
                "indexed_vectors_count": indexed, "points_count": points,
                "segments_count": segs, "config": coll.config,
                "payload_schema": schema}

    def collection_cluster(self, coll, node):
        local, remote = [], []
        for sid in coll.shard_ids():
            k = coll.key_of(sid)
            for pid, st in sorted(coll.shards.get(sid, {}).items()):
                e = {"shard_id": sid}
                if k is not None:
                    e["shard_key"] = k
                if pid == node.peer_id:
                    r = node.replica(coll.name, sid)
                    e["points_count"] = r.count() if r else 0
                    e["state"] = st
                    local.append(e)
                else:
                    e["peer_id"] = pid
                    e["state"] = st
                    remote.append(e)
        return {"peer_id": node.peer_id,
                "shard_count": len(coll.shard_ids()),
                "local_shards": local, "remote_shards": remote,
                "shard_transfers": [dict(t) for t in coll.transfers]}

    def cluster_status(self, node):
        if not self.cluster:
            return {"status": "disabled"}
        leader = self.nodes[0].peer_id
        for n in self.nodes:
            if not n.down:
                leader = n.peer_id
                break
        return {"status": "enabled", "peer_id": node.peer_id,
                "peers": {str(n.peer_id): {"uri": n.uri()}
                          for n in self.nodes},
                "raft_info": {"term": self.term, "commit": self.commit,
                              "pending_operations": 0, "leader": leader,
                              "role": ("Leader" if leader == node.peer_id
                                       else "Follower"),
                              "is_voter": True},
                "consensus_thread_status": {
                    "consensus_thread_status": "working",
                    "last_update": _rfc3339()},
                "message_send_failures": {
                    k: dict(v) for k, v in self.send_failures.items()
                    if k != node.uri()}}


def _keyed(keys, i, rep):
    for j in range(i, len(keys)):
        yield keys[j], rep


def _rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%06dZ" % int((t % 1) * 1e6)


def bad_input_conflict(text):
    return ApiError(409, "Wrong input: " + text)
