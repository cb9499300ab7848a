"""Qdrant REST endpoints (registered on import through server.route)."""

import os
import threading
import time

from . import gen
from . import optimizer
from . import snapshots as snaps
from . import versions
from . import strict
from .server import ApiError, route
from .sim import COMMIT, VERSION, check_collection_name
from .util import key_to_id, parse_path_id, parse_point_id


def background(h, fn, what):
    """wait=false: run fn in a thread, log its errors, answer 202."""
    sim = h.sim

    def run():
        try:
            fn()
        except ApiError as e:
            sim.log("background %s failed: %s" % (what, e.text))
        except Exception as e:           # noqa: BLE001 - only logged
            sim.log("background %s failed: %r" % (what, e))
    threading.Thread(target=run, daemon=True).start()
    h.accepted()


# ------------------------------------------------------------------ service

@route("GET", "/", access="open")
def root(h):
    h.send_json(200, {"title": "qdrant - vector search engine",
                      "version": versions.version_text(h.sim, VERSION),
                      "commit": COMMIT})


@route("GET", "/healthz", access="open")
def healthz(h):
    h.send_raw(200, b"healthz check passed", "text/plain; charset=utf-8")


@route("GET", "/livez", access="open")
def livez(h):
    h.send_raw(200, b"healthz check passed", "text/plain; charset=utf-8")


@route("GET", "/readyz", access="open")
def readyz(h):
    sim, node = h.sim, h.node
    ready = True
    # A single node has no health checker and is always ready
    # (src/actix/api/service_api.rs, readyz: `None => true`).
    with sim.lock:
        for c in sim.collections.values() if sim.cluster else ():
            for sid, peers in c.shards.items():
                if peers.get(node.peer_id) not in (None, "Active"):
                    ready = False
    if ready:
        h.send_raw(200, b"all shards are ready", "text/plain; charset=utf-8")
    else:
        h.send_raw(503, b"some shards are not ready",
                   "text/plain; charset=utf-8")


@route("GET", "/telemetry")
def telemetry(h):
    sim, node = h.sim, h.node
    with sim.lock:
        colls = sorted(sim.collections)
    snaps_t = []
    for c in colls:
        s = node.stat(c)
        snaps_t.append({"id": c, "running_snapshots": s["running_snapshots"],
                        "running_snapshot_recovery":
                        s["running_snapshot_recovery"],
                        "total_snapshot_creations":
                        s["total_snapshot_creations"]})
    res = {"id": "%016x" % node.peer_id,
           "app": {"name": "qdrant", "version": VERSION,
                   "startup": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z",
                                            time.gmtime(node.started))},
           "collections": {"number_of_collections": len(colls),
                           "collections": [{"id": c} for c in colls],
                           "snapshots": snaps_t}}
    if sim.cluster:
        res["cluster"] = {"enabled": True,
                          "status": {"number_of_peers": len(sim.nodes),
                                     "term": sim.term,
                                     "commit": sim.commit,
                                     "pending_operations": 0,
                                     "role": "Follower",
                                     "is_voter": True,
                                     "peer_id": node.peer_id,
                                     "consensus_thread_status": {
                                         "consensus_thread_status":
                                         "working",
                                         "last_update": "1970-01-01T00:00:00Z"}}}
    h.ok(res)


@route("GET", "/metrics")
def metrics(h):
    sim, node = h.sim, h.node
    with sim.lock:
        colls = list(sim.collections.values())
    lines = [
        "# HELP app_info information about qdrant server",
        "# TYPE app_info gauge",
        'app_info{name="qdrant",version="%s"} 1' % VERSION,
        "# HELP collections_total number of collections",
        "# TYPE collections_total gauge",
        "collections_total %d" % len(colls),
        "# HELP collection_points approximate amount of points per "
        "collection",
        "# TYPE collection_points gauge",
    ]
    for c in colls:
        n = 0
        for sid in c.shard_ids():
            r = node.replica(c.name, sid)
            if r is not None:
                n += r.count()
        lines.append('collection_points{collection="%s"} %d' % (c.name, n))
    for key, help_ in (("running_snapshots", "snapshot_creation_running"),
                       ("running_snapshot_recovery",
                        "snapshot_recovery_running"),
                       ("total_snapshot_creations", "snapshot_created_total")):
        lines.append("# TYPE %s %s" % (help_, "counter" if "total" in help_
                                        else "gauge"))
        for c in colls:
            lines.append('%s{id="%s"} %d' % (help_, c.name,
                                            node.stat(c.name)[key]))
    lines += ["# TYPE cluster_enabled gauge",
              "cluster_enabled %d" % (1 if sim.cluster else 0)]
    if sim.cluster:
        lines += ["# TYPE cluster_peers_total gauge",
                  "cluster_peers_total %d" % len(sim.nodes)]
    h.send_raw(200, ("\n".join(lines) + "\n").encode(),
               "text/plain; version=0.0.4")


@route("GET", "/cluster")
def cluster(h):
    h.ok(h.sim.cluster_status(h.node))


# ------------------------------------------------------------------ collections

@route("GET", "/collections")
def list_collections(h):
    with h.sim.lock:
        names = sorted(h.sim.collections)
    h.ok({"collections": [{"name": n} for n in names]})


@route("POST", "/collections/aliases", access="manage")
def alias_ops(h):
    body = h.json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "Format error in JSON body: expected an object")
    h.ok(h.sim.alias_actions(body.get("actions")))


@route("GET", "/aliases")
def all_aliases(h):
    h.ok({"aliases": h.sim.alias_list()})


@route("GET", "/collections/{c}")
def get_collection(h, c):
    coll = h.coll(c)
    h.ok(versions.shape_collection_info(
        h.sim, h.sim.collection_info(coll, h.node), coll))


@route("GET", "/collections/{c}/exists")
def exists(h, c):
    h.ok({"exists": h.sim.find(c) is not None})


@route("PUT", "/collections/{c}", access="manage")
def create_collection(h, c):
    check_collection_name(c)
    body = h.json_body(required=False)
    h.sim.create_collection(c, body)
    h.ok(True)


@route("PATCH", "/collections/{c}", access="manage")
def update_collection(h, c):
    coll = h.coll(c)
    body = h.json_body(required=False)
    with h.sim.lock:
        for src, dst in (("optimizers_config", "optimizer_config"),
                         ("hnsw_config", "hnsw_config"),
                         ("quantization_config", "quantization_config"),
                         ("strict_mode_config", "strict_mode_config")):
            if isinstance(body.get(src), dict):
                cur = coll.config.get(dst) or {}
                cur.update({k: v for k, v in body[src].items()
                            if v is not None})
                coll.config[dst] = cur
        params = body.get("params") or {}
        for k in ("replication_factor", "write_consistency_factor",
                  "on_disk_payload"):
            if k in params:
                coll.config["params"][k] = params[k]
        if body.get("metadata") is not None:
            md = coll.config.get("metadata") or {}
            md.update(body["metadata"])
            coll.config["metadata"] = md
        h.sim.save()
    _optimizers_after_update(h, coll, body)
    h.ok(True)


def _optimizers_after_update(h, coll, body):
    # collection_meta_ops.rs: any of these diffs, even an empty one,
    # recreates the optimizers, which then run (updaters.rs).
    if any(body.get(k) is not None
           for k in ("optimizers_config", "hnsw_config", "params",
                     "vectors", "quantization_config", "sparse_vectors")):
        optimizer.trigger(h.sim, coll)


@route("DELETE", "/collections/{c}", access="manage")
def delete_collection(h, c):
    h.ok(h.sim.delete_collection(c))


@route("GET", "/collections/{c}/aliases")
def coll_aliases(h, c):
    coll = h.coll(c)
    h.ok({"aliases": h.sim.alias_list(coll.name)})


@route("GET", "/collections/{c}/cluster")
def coll_cluster(h, c):
    coll = h.coll(c)
    h.ok(h.sim.collection_cluster(coll, h.node))


# ---- custom sharding needs cluster mode
# Creating or dropping a shard key goes through do_update_collection_cluster
# (src/common/collections.rs), which refuses on a node without consensus
# after reading the body and before looking up the collection: 1.19 answers
# 405 "Qdrant is running in standalone mode" (StorageError::StandaloneMode,
# src/actix/helpers.rs); 1.7 to 1.18 answered 400 "Bad request: Distributed
# mode disabled".
def refuse_standalone(h):
    # 1.19: StorageError::StandaloneMode, 405 (src/actix/helpers.rs);
    # before: 400 "Distributed mode disabled" from the same check in
    # src/common/collections.rs (do_update_collection_cluster)
    if not h.sim.cluster:
        if versions.before(h.sim, 1, 19):
            raise ApiError(400, "Bad request: Distributed mode disabled")
        raise ApiError(405, "Qdrant is running in standalone mode")


@route("PUT", "/collections/{c}/shards", access="manage")
def create_shard_key(h, c):
    body = h.json_body()
    refuse_standalone(h)
    coll = h.coll(c)
    h.ok(h.sim.create_shard_key(coll, body))


@route("GET", "/collections/{c}/shards")
def list_shard_keys(h, c):
    h.ok(h.sim.shard_keys(h.coll(c)))


@route("POST", "/collections/{c}/shards/delete", access="manage")
def drop_shard_key(h, c):
    body = h.json_body()
    refuse_standalone(h)
    coll = h.coll(c)
    h.ok(h.sim.drop_shard_key(coll, body))


@route("PUT", "/collections/{c}/index", access="manage")
def create_index(h, c):
    coll = h.coll(c)
    body = h.json_body()
    field = body.get("field_name")
    if not isinstance(field, str) or not field:
        raise ApiError(400, "Format error in JSON body: missing field "
                       "`field_name`")
    schema = body.get("field_schema") or body.get("field_type") or "keyword"
    with h.sim.lock:
        coll.payload_schema[field] = schema
        h.sim.save()
    h.ok({"operation_id": 0, "status": "completed"})


@route("DELETE", "/collections/{c}/index/{field}", access="manage")
def delete_index(h, c, field):
    coll = h.coll(c)
    with h.sim.lock:
        coll.payload_schema.pop(field, None)
        h.sim.save()
    h.ok({"operation_id": 0, "status": "completed"})


# ------------------------------------------------------------------ points

def update_result(h, op):
    wait = h.q_bool("wait", False)
    h.ok({"operation_id": op,
          "status": "completed" if wait else "acknowledged"})


@route("PUT", "/collections/{c}/points", access="manage")
def upsert(h, c):
    coll = h.coll(c)
    body = h.json_body()
    h.q_bool("wait", False)
    pts = h.sim.parse_upsert(coll, body)
    op = h.sim.upsert(coll, pts, body.get("shard_key"))
    update_result(h, op)


@route("POST", "/collections/{c}/points")
def retrieve(h, c):
    coll = h.coll(c)
    body = h.json_body()
    ids = body.get("ids")
    if not isinstance(ids, list):
        raise ApiError(400, "Format error in JSON body: missing field `ids`")
    h.ok(h.sim.retrieve(coll, h.node, ids, body.get("with_payload", True),
                        body.get("with_vector", False),
                        body.get("shard_key")))


@route("GET", "/collections/{c}/points/{pid}")
def get_point(h, c, pid):
    coll = h.coll(c)
    try:
        key = parse_path_id(pid)
    except ValueError:
        raise ApiError(400, "Wrong input: Unable to parse point id: %s" % pid)
    reps = h.sim.replicas_for_key(coll, h.node, key)
    rec = h.sim.record(coll, reps[0], key, True, True) if reps else None
    if rec is None:
        raise ApiError(404, "Not found: No point with id %s found"
                       % key_to_id(key))
    h.ok(rec)


@route("POST", "/collections/{c}/points/delete", access="manage")
def delete_points(h, c):
    coll = h.coll(c)
    body = h.json_body()
    h.q_bool("wait", False)
    if "points" in body:
        if not isinstance(body["points"], list):
            raise ApiError(400, "Format error in JSON body: points: invalid "
                           "type, expected a sequence")
        try:
            keys = [parse_point_id(p) for p in body["points"]]
        except ValueError:
            raise ApiError(400, "Format error in JSON body: invalid point id")
    elif "filter" in body:
        keys = h.sim.keys_matching(coll, h.node, body["filter"])
    else:
        raise ApiError(400, "Format error in JSON body: data did not match "
                       "any variant of untagged enum PointsSelector")
    op = h.sim.delete_points(coll, keys, body.get("shard_key"))
    update_result(h, op)


@route("POST", "/collections/{c}/points/scroll")
def scroll(h, c):
    coll = h.coll(c)
    body = h.json_body(required=False)
    strict.check_scroll(coll, body)
    h.ok(h.sim.scroll(coll, h.node, body))


@route("POST", "/collections/{c}/points/count")
def count(h, c):
    coll = h.coll(c)
    body = h.json_body(required=False)
    strict.check_count(coll, body)
    h.ok({"count": h.sim.count(coll, h.node, body)})


def _limit(body, default=10):
    lim = body.get("limit", default)
    if lim is None:
        lim = default
    off = body.get("offset") or 0
    if not isinstance(lim, int) or isinstance(lim, bool) or lim < 1:
        raise ApiError(422, "Validation error in JSON body: [limit: value "
                       "%s invalid, must be 1 or larger]" % lim)
    if not isinstance(off, int) or off < 0:
        raise ApiError(400, "Format error in JSON body: offset: invalid "
                       "value")
    return lim, off


@route("POST", "/collections/{c}/points/search")
def search(h, c):
    coll = h.coll(c)
    body = h.json_body()
    vec = body.get("vector")
    using = ""
    if isinstance(vec, dict):
        using = vec.get("name", "")
        vec = vec.get("vector")
    if not coll.single and using == "" and coll.vec_specs:
        using = coll.vec_specs[0][0] if len(coll.vec_specs) == 1 else ""
    lim, off = _limit(body)
    h.ok(h.sim.search(coll, h.node, vec, using, body.get("filter"), lim,
                      off, body.get("with_payload", False),
                      body.get("with_vector", False),
                      body.get("score_threshold")))


@route("POST", "/collections/{c}/points/query")
def query(h, c):
    coll = h.coll(c)
    body = h.json_body(required=False)
    q = body.get("query")
    using = body.get("using") or ""
    lim, off = _limit(body)
    strict.check_query(coll, lim)
    wp = body.get("with_payload", False)
    wv = body.get("with_vector", False)
    if isinstance(q, dict) and "nearest" in q:
        q = q["nearest"]
    elif isinstance(q, dict) and "sample" in q:
        if q["sample"] != "random" or len(q) != 1:
            raise ApiError(400, "Format error in JSON body: unknown "
                           "variant for sample, expected `random`")
        h.ok({"points": h.sim.sample(coll, h.node, body.get("filter"),
                                     lim, wp, wv)})
        return
    if q is None:
        res = h.sim.scroll(coll, h.node, {"limit": lim + off,
                                          "filter": body.get("filter"),
                                          "with_payload": wp,
                                          "with_vector": wv})
        pts = []
        for r in res["points"][off:]:
            r = dict(r)
            r["version"] = 0
            r["score"] = 0.0
            pts.append(r)
        h.ok({"points": pts})
        return
    if isinstance(q, (int, str)) and not isinstance(q, bool):
        try:
            key = parse_point_id(q)
        except ValueError:
            raise ApiError(400, "Format error in JSON body: invalid query")
        vec = h.sim.vector_of(coll, h.node, key, using)
        if vec is None:
            raise ApiError(404, "Not found: No point with id %s found" % q)
        pts = h.sim.search(coll, h.node, vec, using, {
            "must": [body["filter"]] if body.get("filter") else [],
            "must_not": [{"has_id": [q]}]}, lim, off, wp, wv,
            body.get("score_threshold"))
        h.ok({"points": pts})
        return
    if not isinstance(q, list) and not (isinstance(q, dict) and
                                        "indices" in q):
        raise ApiError(400, "Format error in JSON body: unsupported query")
    if not coll.single and using == "" and len(coll.vec_specs) == 1:
        using = coll.vec_specs[0][0]
    h.ok({"points": h.sim.search(coll, h.node, q, using, body.get("filter"),
                                 lim, off, wp, wv,
                                 body.get("score_threshold"))})


# ------------------------------------------------------------------ snapshots

def _run_create(h, c):
    h.need_manage()
    coll = h.coll(c)
    return snaps.create_collection_snapshot(h.sim, h.node, coll)


@route("POST", "/collections/{c}/snapshots")
def create_snapshot(h, c):
    if not h.q_bool("wait", True):
        background(h, lambda: _run_create(h, c), "snapshot creation")
        return
    h.ok(_run_create(h, c))


@route("GET", "/collections/{c}/snapshots")
def list_snapshots(h, c):
    coll = h.coll(c)
    h.ok(snaps.list_dir(snaps.coll_snap_dir(h.node, coll.name)))


@route("GET", "/collections/{c}/snapshots/{name}", kind="download")
def download_snapshot(h, c, name):
    try:
        coll = h.coll(c)
    except ApiError as e:
        e.plain = True
        raise
    if not snaps.safe_name(name):
        raise ApiError(404, "Not found: Snapshot %s not found" % name,
                       plain=True)
    p = os.path.join(snaps.coll_snap_dir(h.node, coll.name), name)
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        raise ApiError(404, "Not found: Snapshot %s not found" % name,
                       plain=True)
    try:
        if not os.path.isfile(p) and not _isreg(fd):
            raise ApiError(404, "Not found: Snapshot %s not found" % name,
                           plain=True)
        snaps.serve_stored(h, fd, name)
    finally:
        os.close(fd)


def _isreg(fd):
    import stat
    return stat.S_ISREG(os.fstat(fd).st_mode)


@route("DELETE", "/collections/{c}/snapshots/{name}")
def delete_snapshot(h, c, name):
    def run():
        h.need_manage()
        coll = h.coll(c)
        return snaps.delete_file(snaps.coll_snap_dir(h.node, coll.name),
                                 name)
    if not h.q_bool("wait", True):
        background(h, run, "snapshot deletion")
        return
    h.ok(run())


def _optimizers_after_recovery(h, target):
    # Qdrant triggers the optimizers of a recovered collection
    # (snapshots/recover.rs), never those of a recovered shard.
    coll = h.sim.find(target)
    if coll is not None:
        optimizer.collection_loaded(h.sim, coll)


def _recover_into(h, target, up, priority):
    st = h.node.stat(target)
    st["running_snapshot_recovery"] += 1
    try:
        res = snaps.recover_collection(h.sim, h.node, target, up,
                                       priority or "snapshot")
        gen.apply_pending_tampers(h.sim, target)
        _optimizers_after_recovery(h, target)
        return res
    finally:
        st["running_snapshot_recovery"] -= 1


@route("PUT", "/collections/{c}/snapshots/recover")
def recover_snapshot(h, c):
    wait = h.q_bool("wait", True)
    body = h.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("location"),
                                                    str):
        raise ApiError(400, "Format error in JSON body: missing field "
                       "`location`")
    checksum = body.get("checksum")
    if checksum is not None and (not isinstance(checksum, str) or
                                 not snaps.valid_checksum(checksum)):
        raise ApiError(422, "Validation error in JSON body: [checksum: "
                       "invalid_sha256_hash]")
    priority = h.body_priority(body)

    def run():
        h.need_manage()
        check_collection_name(c)
        up = snaps.fetch_and_unpack(h.sim, h.node, body["location"],
                                    checksum, body.get("api_key"))
        coll = h.sim.find(c)
        return _recover_into(h, coll.name if coll else c, up, priority)
    if not wait:
        background(h, run, "snapshot recovery")
        return
    h.ok(run())


@route("POST", "/collections/{c}/snapshots/upload", access="manage",
       kind="upload")
def upload_snapshot(h, c):
    wait = h.q_bool("wait", True)
    priority = h.q_priority()
    checksum = h.q_checksum()
    check_collection_name(c)
    coll = h.sim.find(c)
    target = coll.name if coll else c
    path, digest = h.receive_upload(snaps.upload_dir(h.node, target),
                                    keep_name=True)

    def run():
        up = snaps.unpack_file(h.node, path, checksum, "upload",
                               computed=digest)
        return _recover_into(h, target, up, priority)
    if not wait:
        background(h, run, "snapshot upload")
        return
    h.ok(run())


# ------------------------------------------------------------------ full

@route("POST", "/snapshots")
def create_full(h):
    def run():
        h.need_manage()
        return snaps.create_full_snapshot(h.sim, h.node)
    if not h.q_bool("wait", True):
        background(h, run, "full snapshot creation")
        return
    h.ok(run())


@route("GET", "/snapshots")
def list_full(h):
    h.ok(snaps.list_dir(snaps.store_dir(h.node)))


@route("GET", "/snapshots/{name}", kind="download")
def download_full(h, name):
    if not snaps.safe_name(name):
        raise ApiError(404, "Not found: Snapshot %s not found" % name,
                       plain=True)
    p = os.path.join(snaps.store_dir(h.node), name)
    if not os.path.isfile(p):
        raise ApiError(404, "Not found: Snapshot %s not found" % name,
                       plain=True)
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        raise ApiError(404, "Not found: Snapshot %s not found" % name,
                       plain=True)
    try:
        snaps.serve_stored(h, fd, name)
    finally:
        os.close(fd)


@route("DELETE", "/snapshots/{name}")
def delete_full(h, name):
    def run():
        h.need_manage()
        p = os.path.join(snaps.store_dir(h.node), name)
        if not snaps.safe_name(name) or not os.path.isfile(p):
            raise ApiError(404, "Not found: Snapshot %s not found" % name)
        return snaps.delete_file(snaps.store_dir(h.node), name)
    if not h.q_bool("wait", True):
        background(h, run, "full snapshot deletion")
        return
    h.ok(run())


# ------------------------------------------------------------------ shards

def _shard(h, c, sid, plain=False):
    try:
        coll = h.coll(c)
        try:
            n = int(sid)
            if n < 0 or str(n) != sid:
                raise ValueError
        except ValueError:
            raise ApiError(400, "Deserialize error in path parameters: "
                           "can not parse \"%s\" to a u32" % sid)
        if n not in coll.shards:
            raise ApiError(404, "Not found: shard %d not found" % n)
        return coll, n
    except ApiError as e:
        if plain:
            e.plain = True
        raise


def _local(h, coll, sid, plain=False):
    try:
        snaps.check_local_shard(h.sim, h.node, coll, sid)
    except ApiError as e:
        if plain:
            e.plain = True
        raise


@route("POST", "/collections/{c}/shards/{sid}/snapshots")
def create_shard_snapshot(h, c, sid):
    def run():
        h.need_manage()
        coll, n = _shard(h, c, sid)
        return snaps.create_shard_snapshot(h.sim, h.node, coll, n)
    if not h.q_bool("wait", True):
        background(h, run, "shard snapshot creation")
        return
    h.ok(run())


@route("GET", "/collections/{c}/shards/{sid}/snapshots")
def list_shard_snapshots(h, c, sid):
    coll, n = _shard(h, c, sid)
    _local(h, coll, n)
    h.ok(snaps.list_dir(snaps.shard_snap_dir(h.node, coll.name, n)))


@route("GET", "/collections/{c}/shards/{sid}/snapshots/{name}",
       kind="download")
def download_shard_snapshot(h, c, sid, name):
    coll, n = _shard(h, c, sid, plain=True)
    _local(h, coll, n, plain=True)
    if not snaps.safe_name(name):
        raise ApiError(404, "Not found: Snapshot %s not found" % name,
                       plain=True)
    p = os.path.join(snaps.shard_snap_dir(h.node, coll.name, n), name)
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        # the shard path is not pre-checked: the file open error shows
        h.send_raw(404, b"File not found: No such file or directory "
                   b"(os error 2)", None)
        return
    try:
        snaps.serve_stored(h, fd, name)
    finally:
        os.close(fd)


@route("DELETE", "/collections/{c}/shards/{sid}/snapshots/{name}")
def delete_shard_snapshot(h, c, sid, name):
    def run():
        h.need_manage()
        coll, n = _shard(h, c, sid)
        _local(h, coll, n)
        return snaps.delete_file(snaps.shard_snap_dir(h.node, coll.name, n),
                                 name)
    if not h.q_bool("wait", True):
        background(h, run, "shard snapshot deletion")
        return
    h.ok(run())


def _recover_shard(h, coll, n, up, priority):
    res = snaps.recover_shard(h.sim, h.node, coll, n, up,
                              priority or "snapshot")
    gen.apply_pending_tampers(h.sim, coll.name)
    optimizer.shard_loaded(h.sim, coll)
    return res


@route("PUT", "/collections/{c}/shards/{sid}/snapshots/recover")
def recover_shard_snapshot(h, c, sid):
    wait = h.q_bool("wait", True)
    body = h.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("location"),
                                                    str):
        raise ApiError(400, "Format error in JSON body: missing field "
                       "`location`")
    checksum = body.get("checksum")
    if checksum is not None and (not isinstance(checksum, str) or
                                 not snaps.valid_checksum(checksum)):
        raise ApiError(422, "Validation error in JSON body: [checksum: "
                       "invalid_sha256_hash]")
    priority = h.body_priority(body)

    def run():
        h.need_manage()
        coll, n = _shard(h, c, sid)
        _local(h, coll, n)
        up = snaps.fetch_and_unpack(h.sim, h.node, body["location"],
                                    checksum, body.get("api_key"),
                                    shard=(coll.name, n))
        return _recover_shard(h, coll, n, up, priority)
    if not wait:
        background(h, run, "shard snapshot recovery")
        return
    h.ok(run())


@route("POST", "/collections/{c}/shards/{sid}/snapshots/upload",
       access="manage", kind="upload")
def upload_shard_snapshot(h, c, sid):
    wait = h.q_bool("wait", True)
    priority = h.q_priority()
    checksum = h.q_checksum()
    coll, n = _shard(h, c, sid)
    _local(h, coll, n)
    path, digest = h.receive_upload(h.node.temp_dir, keep_name=False)

    def run():
        try:
            up = snaps.unpack_file(h.node, path, checksum, "upload",
                                   computed=digest)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        _recover_shard(h, coll, n, up, priority)
        # "result": null, as Qdrant 1.11 to 1.19 answer here
        # (src/actix/api/snapshot_api.rs, upload_shard_snapshot: Ok(()))
        return None
    if not wait:
        background(h, run, "shard snapshot upload")
        return
    h.ok(run())


@route("GET", "/collections/{c}/shards/{sid}/snapshot", access="manage",
       kind="download")
def stream_shard_snapshot(h, c, sid):
    coll, n = _shard(h, c, sid, plain=True)
    _local(h, coll, n, plain=True)
    name = snaps.snapshot_name("%s-shard-%d" % (coll.name, n))
    plan = snaps.shard_plan(h.node, coll, n, nested=False)
    h.stream_plan(plan, name)
