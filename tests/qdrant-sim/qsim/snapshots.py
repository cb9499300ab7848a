"""Collection, shard and full snapshots: creation and recovery."""

import hashlib
import http.client
import json
import os
import re
import ssl
import tempfile
import threading
import urllib.parse
import uuid as uuidlib

from . import tario
from . import versions
from .storage import ShardReplica, remove_tree
from .util import (ApiError, bad_input, bad_request, dumps, forbidden,
                   iso_utc, service_error, utc_stamp)

COLLECTION_VERSION = "0.4.2"
HASH_BUF = 4 << 20
_stamp_lock = threading.Lock()


def sha256_file(path):
    h = hashlib.sha256()
    buf = bytearray(HASH_BUF)
    mv = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(mv[:n])
    return h.hexdigest()


def coll_snap_dir(node, cname):
    return os.path.join(store_dir(node), cname)


def shard_snap_dir(node, cname, sid):
    return os.path.join(store_dir(node), cname, "shards", str(sid))


# ------------------------------------------------- snapshots_storage: s3
#
# Qdrant with `storage.snapshots_config.snapshots_storage: s3`
# (lib/collection/src/common/snapshots_manager.rs): snapshots it makes are
# stored in the object store and listed, served and deleted there; an
# uploaded collection snapshot is still moved into the local snapshots
# folder (src/actix/api/snapshot_api.rs, do_save_uploaded_snapshot), where
# neither the listing nor DELETE reaches it.  Listings carry no checksum
# (lib/collection/src/operations/snapshot_storage_ops.rs,
# get_snapshot_description: `checksum = None`), downloads are streams.
# Here each node's "bucket" is the folder <node>/s3-bucket.

def use_s3_storage(sim):
    for node in sim.nodes:
        node.s3_dir = os.path.join(node.path, "s3-bucket")
        os.makedirs(node.s3_dir, exist_ok=True)


def is_s3(node):
    return getattr(node, "s3_dir", None) is not None


def store_dir(node):
    """Where the node's snapshots are stored, listed and deleted."""
    return node.s3_dir if is_s3(node) else node.snap_dir


def upload_dir(node, cname):
    """Where an uploaded collection snapshot lands: always local."""
    return os.path.join(node.snap_dir, cname)


def serve_stored(h, fd, name):
    if is_s3(h.node):
        h.serve_object_stream(fd)
    else:
        h.serve_file(fd, name)


def _store_s3(node, tmp, final_dir, name):
    """Object store upload: no checksum is kept."""
    os.makedirs(final_dir, exist_ok=True)
    final = os.path.join(final_dir, name)
    try:
        os.replace(tmp, final)
    except OSError:
        os.unlink(tmp)
        raise
    return describe(final, name)


def describe(path, name):
    st = os.stat(path)
    d = {"name": name, "creation_time": iso_utc(st.st_mtime),
         "size": st.st_size}
    try:
        with open(path + ".checksum", "rb") as f:
            d["checksum"] = f.read().decode().strip()
    except OSError:
        pass
    return d


def list_dir(d):
    out = []
    try:
        names = os.listdir(d)     # directory order: unsorted, as Qdrant
    except FileNotFoundError:
        return out
    for n in names:
        if not n.endswith(".snapshot"):
            continue
        p = os.path.join(d, n)
        try:
            if not os.path.isfile(p):
                continue
            out.append(describe(p, n))
        except OSError:
            continue
    return out


def safe_name(name):
    """Snapshot names are resolved inside their folder only."""
    return bool(name) and "/" not in name and "\\" not in name and \
        name not in (".", "..") and "\0" not in name


def _promote(node, tmp, final_dir, name):
    """Hash, write the .checksum side file, move the snapshot into place."""
    if is_s3(node):
        return _store_s3(node, tmp, final_dir, name)
    digest = sha256_file(tmp)
    os.makedirs(final_dir, exist_ok=True)
    final = os.path.join(final_dir, name)
    fd, ctmp = tempfile.mkstemp(prefix="." + name + ".", suffix=".tmp",
                                dir=final_dir)
    with os.fdopen(fd, "wb") as f:
        f.write(digest.encode())
    os.chmod(ctmp, 0o644)
    os.replace(ctmp, final + ".checksum")
    try:
        os.replace(tmp, final)
    except OSError:
        os.unlink(tmp)
        raise
    return describe(final, name)


def _write_plan(node, plan, name):
    fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".tmp",
                               dir=node.temp_dir)
    try:
        tario.emit_to_fd(plan, fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    finally:
        plan.close()
    os.fchmod(fd, 0o644)
    os.close(fd)
    return tmp


def replica_state_json(node, coll, sid):
    peers = coll.shards.get(sid, {})
    return dumps({"is_local": node.peer_id in peers,
                  "this_peer_id": node.peer_id,
                  "peers": {str(p): st for p, st in sorted(peers.items())}})


def collection_plan(sim, node, coll):
    plan = tario.Plan()
    try:
        for sid in coll.shard_ids():
            pre = "%d/" % sid
            plan.mem_file(pre + "replica_state.json",
                          replica_state_json(node, coll, sid))
            plan.mem_file(pre + "shard_config.json", '{"type":"ReplicaSet"}')
            rep = node.replica(coll.name, sid)
            if rep is not None and node.peer_id in coll.shards.get(sid, {}):
                rep.capture(plan, pre, nested=True)
        plan.mem_file("version.info", COLLECTION_VERSION)
        plan.mem_file("config.json", json.dumps(coll.snapshot_config(),
                                                indent=2))
        plan.mem_file("shard_key_mapping.json", dumps(
            [{"key": e["key"], "shard_ids": sorted(e["shard_ids"])}
             for e in coll.key_map]))
        plan.mem_file("payload_index.json",
                      dumps({"schema": coll.payload_schema}))
        for name, data in list(coll.extra_members):
            plan.mem_file(name, data)
        plan.finish()
    except BaseException:
        plan.close()
        raise
    return plan


def snapshot_name(prefix):
    with _stamp_lock:
        return "%s-%s.snapshot" % (prefix, utc_stamp())


def create_collection_snapshot(sim, node, coll):
    st = node.stat(coll.name)
    st["running_snapshots"] += 1
    try:
        name = snapshot_name("%s-%d" % (coll.name, node.peer_id))
        plan = collection_plan(sim, node, coll)
        tmp = _write_plan(node, plan, name)
        tmp = versions.snapshot_archive(sim, node, tmp)
        d = _promote(node, tmp, coll_snap_dir(node, coll.name), name)
        st["total_snapshot_creations"] += 1
        return d
    finally:
        st["running_snapshots"] -= 1


def shard_plan(node, coll, sid, nested=True):
    rep = node.replica(coll.name, sid)
    plan = tario.Plan()
    try:
        rep.capture(plan, "", nested=nested, wal_mode="empty")
        for name, data in list(coll.extra_members):
            plan.mem_file(name, data)
        # Qdrant's order (replica_set/snapshots.rs, create_snapshot): the
        # local shard's data first, these two last
        plan.mem_file("replica_state.json",
                      replica_state_json(node, coll, sid))
        plan.mem_file("shard_config.json", '{"type":"ReplicaSet"}')
        plan.finish()
    except BaseException:
        plan.close()
        raise
    return plan


def check_local_shard(sim, node, coll, sid):
    if sid not in coll.shards:
        raise ApiError(404, "Not found: shard %d not found" % sid)
    if node.peer_id not in coll.shards.get(sid, {}) or \
            node.replica(coll.name, sid) is None:
        raise bad_input("Shard %d is not a local or queue proxy shard" % sid)


def create_shard_snapshot(sim, node, coll, sid):
    check_local_shard(sim, node, coll, sid)
    name = snapshot_name("%s-shard-%d" % (coll.name, sid))
    plan = shard_plan(node, coll, sid)
    tmp = _write_plan(node, plan, name)
    tmp = versions.snapshot_archive(sim, node, tmp)
    return _promote(node, tmp, shard_snap_dir(node, coll.name, sid), name)


def create_full_snapshot(sim, node):
    with sim.lock:
        colls = list(sim.collections.values())
        aliases = dict(sim.aliases)
    made = []
    try:
        for c in colls:
            d = create_collection_snapshot(sim, node, c)
            made.append((c.name, d["name"]))
        name = snapshot_name("full-snapshot")
        plan = tario.Plan()
        mapping = {}
        for cname, sname in made:
            p = os.path.join(coll_snap_dir(node, cname), sname)
            fd = os.open(p, os.O_RDONLY)
            plan.fds.append(fd)
            st = os.fstat(fd)
            plan.disk_file(sname, fd, st.st_size, st)
            mapping[cname] = sname
        plan.mem_file("config.json", json.dumps(
            {"collections_mapping": mapping,
             "collections_aliases": aliases}, indent=2))
        plan.finish()
        tmp = _write_plan(node, plan, name)
        d = _promote(node, tmp, store_dir(node), name)
    finally:
        # the collection snapshots were moved into the archive; their
        # .checksum side files stay behind (as in Qdrant)
        for cname, sname in made:
            try:
                os.unlink(os.path.join(coll_snap_dir(node, cname), sname))
            except OSError:
                pass
    return d


def delete_file(d, name, missing_text=None):
    if not safe_name(name):
        raise ApiError(404, "Not found: Snapshot %s not found" % name)
    p = os.path.join(d, name)
    if not os.path.isfile(p):
        raise ApiError(404, missing_text or
                       "Not found: Snapshot %s not found" % name)
    os.unlink(p)
    try:
        os.unlink(p + ".checksum")
    except OSError:
        pass
    return True


# ---------------------------------------------------------------- recovery

CHECKSUM_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def norm_checksum(c):
    if c is None:
        return None
    return "".join(c.split()).lower()


def valid_checksum(c):
    return c is None or bool(CHECKSUM_RE.match("".join(c.split())))


def is_nested_member(name):
    parts = name.split("/")
    if len(parts) >= 2 and parts[-2] == "segments" and \
            parts[-1].endswith(".tar"):
        return name[:-4]
    return None


class Unpacked:
    """A snapshot unpacked into a temp folder."""

    def __init__(self, path):
        self.path = path

    def cleanup(self):
        remove_tree(self.path)


def unpack(node, src, kind):
    """Unpack a tar stream into a temp folder; errors as Qdrant words them
    (kind "file" or "http")."""
    tmp = tempfile.mkdtemp(prefix="recovery-", dir=node.temp_dir)
    try:
        tr = tario.TarReader(src)
        tario.extract(tr, tmp, nested=is_nested_member)
    except tario.TarForbidden as e:
        remove_tree(tmp)
        raise service_error(str(e))
    except (tario.TarError, OSError, EOFError, ValueError,
            http.client.HTTPException) as e:
        remove_tree(tmp)
        if kind == "http":
            raise service_error("Failed to unpack tar archive: %s" % e)
        raise service_error("File IO error: Malformed tar archive, %s" % e)
    return Unpacked(tmp)


def open_http(url, api_key):
    u = urllib.parse.urlsplit(url)
    conn_cls = http.client.HTTPSConnection if u.scheme == "https" else \
        http.client.HTTPConnection
    kw = {"timeout": 60}
    if u.scheme == "https":
        kw["context"] = ssl.create_default_context()
    try:
        conn = conn_cls(u.hostname, u.port, **kw)
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        headers = {}
        if api_key:
            headers["api-key"] = api_key
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
    except (OSError, http.client.HTTPException) as e:
        raise service_error("Failed to download snapshot from %s: %s"
                            % (url, e))
    if not 200 <= resp.status < 300:
        conn.close()
        raise bad_input("Failed to download tar from %s: status - %d %s"
                        % (url, resp.status, resp.reason))
    return conn, resp


def fetch_and_unpack(sim, node, location, checksum, api_key, shard=None):
    """Resolve a recover location and unpack it; verifies the checksum the
    way Qdrant does for that kind of location.  Returns Unpacked."""
    u = urllib.parse.urlsplit(location)
    scheme = u.scheme
    if shard is not None:
        if scheme == "file":
            raise bad_input("Invalid snapshot URL %s: URLs with file scheme "
                            "are not supported" % location)
        if scheme not in ("http", "https"):
            # a file name in this shard's snapshot folder
            cname, sid = shard
            if not safe_name(location):
                raise ApiError(404, "Not found: Snapshot %s not found"
                               % location)
            p = os.path.join(shard_snap_dir(node, cname, sid), location)
            if not os.path.isfile(p):
                raise ApiError(404, "Not found: Snapshot %s not found"
                               % location)
            return unpack_file(node, p, checksum, "recover")
    if scheme == "file":
        path = urllib.parse.unquote(u.path)
        if u.netloc and u.netloc != "localhost":
            path = "/" + u.netloc + path
        if not os.path.exists(path):
            raise bad_request('Snapshot file "%s" does not exist' % path)
        real = os.path.realpath(path)
        base = os.path.realpath(node.snap_dir)
        if os.path.commonpath([real, base]) != base:
            raise forbidden('Snapshot file path must be inside the snapshots '
                            'directory "%s"' % base)
        return unpack_file(node, real, checksum, "recover")
    if scheme in ("http", "https"):
        conn, resp = open_http(location, api_key)
        try:
            h = hashlib.sha256()
            src = tario.StreamSource(resp, h)
            up = unpack(node, src, "http")
            try:
                while True:
                    data = src.read(HASH_BUF)
                    if not data:
                        break
            except (OSError, http.client.HTTPException) as e:
                up.cleanup()
                raise service_error("Failed to unpack tar archive: %s" % e)
        finally:
            conn.close()
        if checksum is not None:
            got = h.hexdigest()
            if norm_checksum(checksum) != got:
                up.cleanup()
                raise bad_input("Snapshot checksum mismatch: expected %s, "
                                "got %s" % (checksum, got))
        return up
    raise bad_request("URL %s with scheme %s is not supported"
                      % (location, scheme or "(none)"))


def unpack_file(node, path, checksum, how, computed=None):
    """file:// and uploads: the hash is checked before unpacking."""
    if checksum is not None:
        got = computed or sha256_file(path)
        if norm_checksum(checksum) != got:
            if how == "upload":
                raise ApiError(400, "Checksum mismatch: expected %s, actual "
                               "%s" % (got, checksum))
            raise bad_input("Snapshot checksum mismatch: expected %s, got %s"
                            % (checksum, got))
    src = tario.FileSource(path)
    try:
        return unpack(node, src, "file")
    finally:
        src.close()


def _segments_dirs(shard_dir):
    """Segment folders (with the segment's files) of an unpacked shard."""
    segs = os.path.join(shard_dir, "segments")
    out = []
    if not os.path.isdir(segs):
        return out
    for n in sorted(os.listdir(segs)):
        p = os.path.join(segs, n)
        if not os.path.isdir(p):
            continue
        for cand in (os.path.join(p, "snapshot", "files"),
                     os.path.join(p, "files"), p):
            if os.path.isfile(os.path.join(cand, "segment.json")) or \
                    os.path.isfile(os.path.join(cand,
                                                "id_tracker.mappings")):
                out.append((n, cand))
                break
    return out


def has_data(shard_dir):
    return os.path.isdir(os.path.join(shard_dir, "segments")) or \
        os.path.isdir(os.path.join(shard_dir, "wal"))


def install_shard(sim, node, coll, sid, shard_dir):
    """Replace the local replica of shard sid with the unpacked data."""
    refused = versions.check_segment_rocksdb_backups(sim, shard_dir)
    if refused is not None:
        raise service_error(refused)
    final = node.replica_path(coll.name, sid)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    new = tempfile.mkdtemp(prefix=".%d.new-" % sid, dir=parent)
    os.makedirs(os.path.join(new, "segments"))
    order = []
    for uid, files in _segments_dirs(shard_dir):
        st = os.stat(files)
        dst = os.path.join(new, "segments", uid)
        os.rename(files, dst)
        os.utime(dst, (st.st_atime, st.st_mtime))
        order.append(uid)
    with open(os.path.join(new, "shard.json"), "w") as f:
        f.write(dumps({"op": 0, "segments": order}))
    with node.rlock:
        old = node.replicas.get((coll.name, sid))
        if old is not None:
            old.lock.acquire()
        try:
            trash = None
            if os.path.exists(final):
                trash = final + ".old-" + uuidlib.uuid4().hex[:8]
                os.rename(final, trash)
            os.rename(new, final)
            rep = ShardReplica.open(final, coll.vec_specs,
                                    coll.seg_bytes(sim.seg_default),
                                    coll.wal_capacity())
            rep.peer_id = node.peer_id
            rep.sid = sid
            rep.save_meta()
            node.replicas[(coll.name, sid)] = rep
        finally:
            if old is not None:
                old.lock.release()
                old.close()
    if trash:
        remove_tree(trash)
    return rep


def read_json(path, what):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise service_error("%s: No such file or directory (os error 2)"
                            % what)
    except ValueError as e:
        raise service_error("%s: %s" % (what, e))


def vectors_signature(params):
    v = params.get("vectors", {})
    if "size" in v or "distance" in v:
        v = {"": v}
    return {n: (p.get("size"), p.get("distance"),
                bool(p.get("multivector_config")))
            for n, p in v.items()}


def apply_priority(sim, coll, sid, me, priority, shard_level=False):
    peers = coll.shards.get(sid, {})
    others = [p for p, st in peers.items()
              if p != me and st == "Active" and not sim.by_peer[p].down]
    if not others or priority == "no_sync":
        peers[me] = "Active"
        return
    if priority == "snapshot":
        # the surplus of other active replicas beyond replication_factor-1
        # (the first ones by peer id) is removed, the rest marked Dead and
        # re-synced from the recovered one
        peers[me] = "Active"
        surplus = max(0, len(others) - max(0, coll.replication_factor - 1))
        for p in sorted(others):
            if surplus > 0:
                surplus -= 1
                peers.pop(p)
                coll.transfers = [t for t in coll.transfers
                                  if not (t["shard_id"] == sid and
                                          p in (t["to"], t["from"]))]
                sim.by_peer[p].drop_replica(coll.name, sid)
                continue
            peers[p] = "Dead"
            sim.schedule_resync(coll.name, sid, p, source_pid=me)
        return
    # replica: the cluster's data wins over the snapshot
    peers[me] = "Dead" if shard_level else "Partial"
    sim.schedule_resync(coll.name, sid, me, source_pid=others[0])


def read_key_mapping(up):
    """shard_key_mapping.json of a snapshot: [{"key", "shard_ids"}] (the
    list form since 1.14; the older map form {key: [ids]} is read too)."""
    p = os.path.join(up.path, "shard_key_mapping.json")
    if not os.path.isfile(p):
        return []
    m = read_json(p, "Failed to read shard key mapping")
    if isinstance(m, dict):
        m = [{"key": int(k) if k.isdigit() else k, "shard_ids": v}
             for k, v in m.items()]
    if not isinstance(m, list) or not all(
            isinstance(e, dict) and isinstance(e.get("shard_ids"), list)
            for e in m):
        raise service_error("Failed to read shard key mapping: invalid "
                            "mapping")
    return m


def recover_collection(sim, node, target, up, priority):
    """Restore an unpacked collection snapshot into collection `target`."""
    try:
        cfg = read_json(os.path.join(up.path, "config.json"),
                        "Failed to read snapshot config")
        if not isinstance(cfg, dict) or "params" not in cfg:
            raise service_error("Failed to read snapshot config: invalid "
                                "config")
        sn = int(cfg["params"].get("shard_number") or 1)
        custom = cfg["params"].get("sharding_method") == "custom"
        mapping = read_key_mapping(up) if custom else []
        # auto: 0..shard_number-1; custom: the shards of the mapping
        snap_ids = sorted({i for e in mapping for i in e["shard_ids"]}) \
            if custom else list(range(sn))
        for sid in snap_ids:
            p = os.path.join(up.path, str(sid), "shard_config.json")
            if not os.path.isfile(p):
                raise service_error("Can't read shard config at %s"
                                    % os.path.join(up.path, str(sid)))
        schema = {}
        pij = os.path.join(up.path, "payload_index.json")
        if os.path.isfile(pij):
            try:
                schema = read_json(pij, "payload index").get("schema") or {}
            except (ApiError, AttributeError):
                schema = {}
        coll = sim.find(target)
        if coll is not None:
            if vectors_signature(coll.config["params"]) != \
                    vectors_signature(cfg["params"]) or \
                    coll.shard_number != sn:
                raise bad_input(
                    "Snapshot is not compatible with existing collection: "
                    "Collection config is not compatible: vectors or "
                    "shard_number differ (snapshot: %s shards, collection: "
                    "%s shards)" % (sn, coll.shard_number))
        if not sim.cluster:
            for sid in snap_ids:
                if not has_data(os.path.join(up.path, str(sid))):
                    raise service_error("Can't restore snapshot in local "
                                        "mode with missing data at shard: %d"
                                        % sid)
        if coll is None:
            c = dict(cfg)
            c.pop("uuid", None)
            from .sim import default_config
            full = default_config({}, len(sim.nodes))
            for k, v in c.items():
                full[k] = v
            full["params"] = dict(c["params"])
            coll = sim.create_collection(target, None, config=full,
                                         payload_schema=schema)
            # A new custom-sharded collection gets no shards: Qdrant
            # creates it with an empty distribution (dispatcher.rs,
            # toc/collection_meta_ops.rs) and recovers only the shards the
            # collection has (snapshots/recover.rs), so the snapshot's
            # keys and points are dropped and the answer is still true.
        with coll.lock:
            locals_ = sim.local_shards(coll, node)
            for sid in locals_:
                sim.set_state(coll, sid, node.peer_id, "ManualRecovery")
            try:
                for sid in locals_:
                    sd = os.path.join(up.path, str(sid))
                    if has_data(sd):
                        load_shard(sim, node, coll, sid, sd)
                        with sim.lock:
                            apply_priority(sim, coll, sid, node.peer_id,
                                           priority)
                    else:
                        sim.set_state(coll, sid, node.peer_id, "Active")
            finally:
                with sim.lock:
                    for sid in locals_:
                        if coll.shards[sid].get(node.peer_id) == \
                                "ManualRecovery" and not \
                                load_failed(node, coll):
                            coll.shards[sid][node.peer_id] = "Active"
                    # An existing collection keeps its own payload
                    # schema: Qdrant registers the snapshot's indexes
                    # only when the recovery creates the collection
                    # (storage/src/content_manager/snapshots/recover.rs)
                    sim.save()
        return True
    finally:
        up.cleanup()


def recover_shard(sim, node, coll, sid, up, priority):
    try:
        check_local_shard(sim, node, coll, sid)
        if not has_data(up.path):
            raise service_error("Shard snapshot holds no shard data")
        with coll.lock:
            sim.set_state(coll, sid, node.peer_id, "Partial")
            try:
                load_shard(sim, node, coll, sid, up.path)
            except BaseException:
                sim.set_state(coll, sid, node.peer_id, "Dead")
                raise
            with sim.lock:
                apply_priority(sim, coll, sid, node.peer_id, priority,
                               shard_level=True)
                sim.save()
        return True
    finally:
        up.cleanup()


# ---- a recovery whose load fails ------------------------------------------
# Qdrant's ShardReplicaSet::restore_local_replica_from
# (lib/collection/src/shards/replica_set/snapshots.rs, 1.11 to 1.19) takes
# the live shard out and clears its data (LocalShard::clear) before it moves
# the snapshot's data in and loads it.  When LocalShard::load fails (a
# corrupt segment in an otherwise valid snapshot), a DummyShard takes the
# shard's place, the replica is marked Dead (add_locally_disabled) and the
# shard folder is cleared again: the old data is gone.  The collection
# recovery (lib/storage/src/content_manager/snapshots/recover.rs) then
# returns the error at once, so the local shards it had switched to
# ManualRecovery (1.17 and later; Partial before) stay in that state.
# The fault rule "fail_load" makes the next recovery on a node fail so.

_load_faults_lock = threading.Lock()


def arm_load_fault(node):
    """Make the next snapshot recovery on node fail at its first load."""
    with _load_faults_lock:
        node.sim_load_faults = getattr(node, "sim_load_faults", 0) + 1


def _take_load_fault(node):
    with _load_faults_lock:
        n = getattr(node, "sim_load_faults", 0)
        if n <= 0:
            return False
        node.sim_load_faults = n - 1
        return True


def load_failed(node, coll):
    """Did a load into coll on node fail (its states stay as they are)?"""
    with _load_faults_lock:
        return (coll.name, node.peer_id) in getattr(node, "sim_failed_loads",
                                                    set())


def load_shard(sim, node, coll, sid, shard_dir):
    """install_shard as Qdrant loads it: a failure leaves the replica Dead
    and empty."""
    with _load_faults_lock:
        failed = getattr(node, "sim_failed_loads", set())
        failed.discard((coll.name, node.peer_id))
        node.sim_failed_loads = failed
    try:
        if _take_load_fault(node):
            raise service_error(
                "Failed to load local shard %s: segment is corrupted "
                "(simulated)" % os.path.join("collections", coll.name,
                                             str(sid)))
        return install_shard(sim, node, coll, sid, shard_dir)
    except BaseException:
        with node.rlock:
            old = node.replicas.pop((coll.name, sid), None)
            if old is not None:
                old.close()
            remove_tree(node.replica_path(coll.name, sid))
            node.open_replica(coll, sid)    # empty: stands in for the dummy
        with _load_faults_lock:
            node.sim_failed_loads.add((coll.name, node.peer_id))
        sim.set_state(coll, sid, node.peer_id, "Dead")
        raise
