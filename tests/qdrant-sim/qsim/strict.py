"""Strict mode (Qdrant 1.12 and later): the checks that the requests of a
backup tool meet.

Qdrant keeps a collection's `strict_mode_config` in its config (created
with the collection, changed by PATCH, carried in a snapshot's
config.json) and enforces it only when `enabled` is true.  Sources, v1.19.0:
lib/collection/src/operations/verification/mod.rs (check_bool_opt,
check_limit_opt, the order of the checks), verification/count.rs (count:
`exact`, no limit), verification/local_shard.rs (scroll: its `limit` when
given), verification/query.rs (query: its `limit`, default 10).  A refusal
is CollectionError::StrictMode, "<error>. Help: <solution>"
(operations/types.rs), which lib/storage/src/content_manager/errors.rs turns
into StorageError::BadRequest: HTTP 400 "Bad request: <description>".
"""

from .util import bad_request


def config(coll):
    """The collection's strict mode config when it is enabled, else None."""
    cfg = coll.config.get("strict_mode_config")
    if isinstance(cfg, dict) and cfg.get("enabled") is True:
        return cfg
    return None


def _refuse(error, solution):
    return bad_request("%s. Help: %s" % (error, solution))


def _check_limit(cfg, value, name):
    limit = cfg.get("max_query_limit")
    if limit is None or value is None or value <= limit:
        return
    raise _refuse('Limit exceeded %d > %d for "%s"' % (value, limit, name),
                  'Reduce the "%s" parameter to or below %d.' % (name, limit))


def _check_exact(cfg, exact):
    if cfg.get("search_allow_exact") is False and exact:
        raise _refuse("Exact search disabled!", "Set exact=false.")


def check_count(coll, body):
    """POST …/points/count: `exact` defaults to true (shard/src/count.rs),
    so a count without it is refused as well."""
    cfg = config(coll)
    if cfg is not None:
        _check_exact(cfg, (body or {}).get("exact", True) is not False)


def check_scroll(coll, body):
    """POST …/points/scroll: only a limit that is given is checked."""
    cfg = config(coll)
    lim = (body or {}).get("limit")
    if cfg is not None and isinstance(lim, int) and not isinstance(lim, bool):
        _check_limit(cfg, lim, "limit")


def check_query(coll, limit):
    """POST …/points/query: the limit, given or the default 10."""
    cfg = config(coll)
    if cfg is not None:
        _check_limit(cfg, limit, "limit")
