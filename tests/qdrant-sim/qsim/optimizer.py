"""Optimizer states of a collection: grey, yellow, green.

Follows Qdrant 1.12+ (lib/collection/src/shards/local_shard/mod.rs,
`local_shard_status`): a shard with pending optimizations is Yellow once its
optimizers have been triggered and Grey while they have not been ("we don't
automatically trigger them to prevent a crash loop").  A shard snapshot
recovery (src/common/snapshots.rs, `recover_shard_snapshot_impl`) never
triggers them; a collection snapshot recovery does
(lib/storage/src/content_manager/snapshots/recover.rs, `trigger_optimizers`),
and so do an update operation and a collection update with any of
optimizers_config, hnsw_config, params, vectors, quantization_config,
sparse_vectors (lib/storage/src/content_manager/toc/collection_meta_ops.rs,
`recreate_optimizers_background` -> local_shard/updaters.rs
`on_optimizer_config_update`, which ends with an `UpdateSignal::Nop`).

States, kept on the Collection object (a re-created collection starts
idle): "idle" (green), "pending" (grey: loaded with work, not triggered),
"running" (yellow until `until`, or while a hold matches the name).  An
optimization takes MS_PER_1000_POINTS per thousand points of the
collection: proportional to the size, short on the small collections of
the tests.  Tests never wait for it: `POST /__sim/optimizer` holds the
optimizers of the collections matching a pattern (yellow until released;
a release ends their running optimizations at once).
"""

import fnmatch
import threading
import time

MS_PER_1000_POINTS = 2.0

_lock = threading.Lock()


def _holds(sim):
    h = getattr(sim, "optimizer_holds", None)
    if h is None:
        h = sim.optimizer_holds = []
    return h


def _held(sim, name):
    return any(fnmatch.fnmatchcase(name, p) for p in _holds(sim))


def _points(sim, coll):
    n = 0
    for node in sim.nodes:
        for sid in coll.shard_ids():
            rep = node.replica(coll.name, sid)
            if rep is not None:
                n += rep.count()
    return n


def _start(sim, coll):
    ms = _points(sim, coll) * MS_PER_1000_POINTS / 1000.0
    coll.optimizer = {"state": "running",
                      "until": time.monotonic() + ms / 1000.0}


def shard_loaded(sim, coll):
    """A shard snapshot was recovered: its optimizers wait for a trigger
    (grey) if the collection holds points to optimize."""
    with _lock:
        if _points(sim, coll) > 0:
            coll.optimizer = {"state": "pending", "until": 0.0}


def collection_loaded(sim, coll):
    """A collection snapshot was recovered: optimizers triggered."""
    with _lock:
        if _points(sim, coll) > 0:
            _start(sim, coll)


def trigger(sim, coll):
    """An update or a collection config update wakes the optimizers of a
    grey collection (an idle one has nothing to optimize)."""
    with _lock:
        st = getattr(coll, "optimizer", None)
        if st is not None and st["state"] == "pending":
            _start(sim, coll)


def status(sim, coll):
    """"grey", "yellow" or "green" as the optimizers see it."""
    with _lock:
        st = getattr(coll, "optimizer", None)
        if st is None or st["state"] == "idle":
            return "green"
        if st["state"] == "pending":
            return "grey"
        if _held(sim, coll.name) or time.monotonic() < st["until"]:
            return "yellow"
        st["state"] = "idle"
        return "green"


def hold(sim, body):
    """POST /__sim/optimizer {"collection": PATTERN, "hold": true|false}:
    optimizations of collections matching the fnmatch PATTERN do not end
    until released; {"release_all": true} drops every hold."""
    with _lock:
        holds = _holds(sim)
        if body.get("release_all"):
            del holds[:]
            _finish_released(sim, "*")
        else:
            pat = body.get("collection")
            if not isinstance(pat, str) or not pat:
                return None
            if body.get("hold", True):
                if pat not in holds:
                    holds.append(pat)
            elif pat in holds:
                holds.remove(pat)
                _finish_released(sim, pat)
        return {"holds": list(holds)}


def _finish_released(sim, pat):
    # A released optimization has run long enough: it ends now, so that a
    # test sees green right after the release, whatever the timing.
    for coll in list(sim.collections.values()):
        st = getattr(coll, "optimizer", None)
        if st is not None and st["state"] == "running" and \
                fnmatch.fnmatchcase(coll.name, pat) and \
                not _held(sim, coll.name):
            st["until"] = 0.0


def combine(base, opt):
    """The collection status from the replicas' (`base`) and the
    optimizers' (`opt`): the worse of the two (red > yellow > grey >
    green)."""
    order = ("green", "grey", "yellow", "red")
    return base if order.index(base) >= order.index(opt) else opt
