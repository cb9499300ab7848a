"""--qdrant-version: what changed between the Qdrant releases 1.7 to 1.19.

Each difference is kept here, in one place, and checked against Qdrant's
source at the release tags (see README.md, "Qdrant versions"):

- routes that a release does not have answer as actix does for an unknown
  route: 404 with an empty body;
- GET / reports the simulated release;
- GET /collections/{c} has the fields of that release's CollectionInfo;
- collection and shard snapshots up to 1.11 are built as Qdrant built them
  then: the snapshot folder written to disk first, then archived by tar-rs
  `append_dir_all(".", dir)` (a "./" root entry, a directory entry for every
  folder, the host's modes, uid, gid and mtimes, the WAL segment as a plain
  file of its full size);
- segment archives up to 1.16 carry the RocksDB backups `db_backup/` and
  `payload_index_db_backup/` next to `files/`.
"""

import os
import re
import shutil
import tempfile
import time

from . import tario

LATEST = (1, 19)
OLDEST = (1, 7)

# The release this process simulates (one per process; set by setup()),
# for the code that has no Sim at hand (segment archives).
CURRENT = LATEST + (0,)

# Routes by the release that added them (the simulator's handler names).
ROUTE_SINCE = {
    "exists": (1, 8),
    "query": (1, 10),
    "stream_shard_snapshot": (1, 12),
    "list_shard_keys": (1, 17),
}


def parse(text):
    """'1.11' or '1.11.3' -> (1, 11, 3); None when not a supported release."""
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if m is None:
        return None
    v = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    if not OLDEST <= v[:2] <= LATEST:
        return None
    return v


def setup(sim, text):
    """Set the simulated release on sim (text None: the latest)."""
    global CURRENT
    if text is None:
        sim.qdrant_version = LATEST + (0,)
    else:
        v = parse(text)
        if v is None:
            raise ValueError("unsupported --qdrant-version '%s' (1.7 to "
                             "1.19, as X.Y or X.Y.Z)" % text)
        sim.qdrant_version = v
    CURRENT = sim.qdrant_version


def of(sim):
    return getattr(sim, "qdrant_version", LATEST + (0,))


def before(sim, major, minor):
    return of(sim)[:2] < (major, minor)


def version_text(sim, latest_text):
    v = of(sim)
    if v[:2] == LATEST:
        return latest_text
    return "%d.%d.%d" % v


def route_exists(sim, fn):
    since = ROUTE_SINCE.get(fn.__name__)
    return since is None or of(sim)[:2] >= since


def shape_collection_info(sim, info, coll):
    """CollectionInfo as the release has it: `vectors_count` up to 1.15
    (lib/collection/src/operations/types.rs), `warnings` from 1.16."""
    if before(sim, 1, 16):
        info.pop("warnings", None)
        nvec = max(1, len(getattr(coll, "vec_specs", None) or ()))
        res = dict()
        for k, v in info.items():
            res[k] = v
            if k == "optimizer_status":
                res["vectors_count"] = info.get("points_count", 0) * nvec
        return res
    info.setdefault("warnings", [])
    return info


# ---- archives of Qdrant up to 1.11 --------------------------------------

def _tar_rs_append_dir_all(plan, src_root, fds):
    """Walk src_root as tar-rs append_dir_all(".", src_root) does: a stack
    of directory entries in read_dir order (unsorted), a folder's own entry
    written when it is popped, the root as "./", the others without a
    trailing slash; metadata of the host (HeaderMode::Complete)."""
    stack = [("", True)]
    while stack:
        rel, is_dir = stack.pop()
        src = os.path.join(src_root, rel) if rel else src_root
        st = os.lstat(src)
        if is_dir:
            for n in os.listdir(src):
                child = os.path.join(rel, n) if rel else n
                stack.append((child, os.path.isdir(os.path.join(src, n))))
            plan.add_bytes(tario.header(rel if rel else "./", 0,
                                        mode=st.st_mode, uid=st.st_uid,
                                        gid=st.st_gid,
                                        mtime=int(st.st_mtime),
                                        typeflag=b"5"))
            continue
        fd = os.open(src, os.O_RDONLY)
        fds.append(fd)
        plan.disk_file(rel, fd, st.st_size, os.fstat(fd))


def legacy_archive(node, tmp):
    """Rewrite the snapshot archive at tmp the way Qdrant up to 1.11 wrote
    it; returns the path of the new archive (tmp is removed)."""
    work = tempfile.mkdtemp(prefix="legacy-", dir=node.temp_dir)
    try:
        target = os.path.join(work, "target")
        os.mkdir(target)
        with open(tmp, "rb", buffering=0) as f:
            tario.extract(tario.TarReader(f), target)
        # Qdrant wrote every file of the folder just now
        now = time.time()
        for root, dirs, files in os.walk(target):
            for n in files:
                os.utime(os.path.join(root, n), (now, now))
        plan = tario.Plan()
        try:
            _tar_rs_append_dir_all(plan, target, plan.fds)
            plan.finish()
            fd, out = tempfile.mkstemp(prefix="legacy-", suffix=".tmp",
                                       dir=node.temp_dir)
            try:
                tario.emit_to_fd(plan, fd)
            except BaseException:
                os.close(fd)
                os.unlink(out)
                raise
            os.fchmod(fd, 0o644)
            os.close(fd)
        finally:
            plan.close()
        os.unlink(tmp)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def snapshot_archive(sim, node, tmp):
    """The archive a collection or shard snapshot ends as in the release."""
    if before(sim, 1, 12):
        return legacy_archive(node, tmp)
    return tmp


# ---- segment archives of the RocksDB era (up to 1.16) --------------------

ROCKSDB_BACKUPS = ("db_backup", "payload_index_db_backup")


def _rocksdb_backup_files(uuid):
    """The files of a RocksDB BackupEngine folder (backup 1), with contents
    of the simulator's own that depend only on the segment: an unchanged
    segment gives the same bytes in every snapshot."""
    return [
        ("meta/1", ("1\n0\n%s\n" % uuid).encode()),
        ("private/1/CURRENT", b"MANIFEST-000005\n"),
        ("private/1/MANIFEST-000005", ("qsim-rocksdb %s\n" % uuid)
         .encode()),
        ("private/1/OPTIONS-000007", b"[Version]\n  rocksdb_version=8.1.1\n"),
    ]


def add_segment_rocksdb_backups(plan, root, uuid):
    """Segments up to 1.16 carry RocksDB backups next to files/: add them
    under root ("snapshot" in a nested segment tar,
    lib/segment/src/segment.rs up to 1.11, segment/snapshot.rs to 1.16)."""
    if CURRENT[:2] >= (1, 17):
        return
    for name in ROCKSDB_BACKUPS:
        base = root + "/" + name
        plan.dir(base + "/")
        for rel, data in _rocksdb_backup_files(uuid):
            plan.mem_file(base + "/" + rel, data)


def check_segment_rocksdb_backups(sim, shard_dir):
    """Qdrant up to 1.11 restores db_backup/ of every segment archive that
    has a snapshot/ folder, unconditionally (Segment::restore_snapshot in
    lib/segment/src/segment.rs): a segment of 1.17 or later, which has
    none, fails there."""
    if not before(sim, 1, 12):
        return None
    segs = os.path.join(shard_dir, "segments")
    if not os.path.isdir(segs):
        return None
    for n in sorted(os.listdir(segs)):
        snap = os.path.join(segs, n, "snapshot")
        if os.path.isdir(snap) and \
                not os.path.isdir(os.path.join(snap, "db_backup")):
            return ("RocksDB backup restore error: "
                    "IO error: No such file or directory: While opening a "
                    "file for sequentially reading: %s/db_backup/meta/: "
                    "No such file or directory" % snap)
    return None
