"""Qdrant filters and payload selectors (enough of them)."""

import operator

from .util import ApiError, parse_point_id


def _values(payload, key):
    """Values at a (dotted, []-aware) payload key, flattened."""
    cur = [payload]
    for part in key.split("."):
        arr = part.endswith("[]")
        if arr:
            part = part[:-2]
        nxt = []
        for c in cur:
            if isinstance(c, dict) and part in c:
                v = c[part]
                if isinstance(v, list):
                    nxt.extend(v)
                else:
                    nxt.append(v)
            elif isinstance(c, list):
                for e in c:
                    if isinstance(e, dict) and part in e:
                        v = e[part]
                        nxt.extend(v if isinstance(v, list) else [v])
        cur = nxt
    out = []
    for v in cur:
        if isinstance(v, list):
            out.extend(v)
        else:
            out.append(v)
    return out


def _eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Filter:
    """A compiled filter; call .needs_payload / .match(key, get_payload,
    has_vector)."""

    def __init__(self, spec):
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise ApiError(400, "Format error in JSON body: invalid filter")
        self.spec = spec
        self.needs_payload = _needs_payload(spec)

    def empty(self):
        return not any(self.spec.get(k) for k in ("must", "should",
                                                  "must_not"))

    def match(self, key, get_payload, has_vector=None):
        cache = {}

        def payload():
            if "p" not in cache:
                cache["p"] = get_payload()
            return cache["p"]
        return _match_filter(self.spec, key, payload, has_vector)


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, list):
        return x
    return [x]


def _needs_payload(spec):
    for k in ("must", "should", "must_not"):
        for c in _as_list(spec.get(k)):
            if not isinstance(c, dict):
                continue
            if "key" in c or "is_empty" in c or "is_null" in c or \
                    "nested" in c:
                return True
            if any(x in c for x in ("must", "should", "must_not")):
                if _needs_payload(c):
                    return True
    return False


def _match_filter(spec, key, payload, has_vector):
    must = _as_list(spec.get("must"))
    should = _as_list(spec.get("should"))
    must_not = _as_list(spec.get("must_not"))
    for c in must:
        if not _cond(c, key, payload, has_vector):
            return False
    if should:
        hits = sum(1 for c in should if _cond(c, key, payload, has_vector))
        ms = spec.get("min_should")
        need = 1
        if isinstance(ms, dict):
            for c in _as_list(ms.get("conditions")):
                if _cond(c, key, payload, has_vector):
                    hits += 0
            need = int(ms.get("min_count") or 1)
        if hits < need:
            return False
    for c in must_not:
        if _cond(c, key, payload, has_vector):
            return False
    return True


def _cond(c, key, payload, has_vector):
    if not isinstance(c, dict):
        raise ApiError(400, "Format error in JSON body: invalid condition")
    if "has_id" in c:
        try:
            ids = {parse_point_id(i) for i in c["has_id"]}
        except (ValueError, TypeError):
            raise ApiError(400, "Format error in JSON body: invalid point "
                           "id in has_id")
        return key in ids
    if "has_vector" in c:
        return has_vector(c["has_vector"]) if has_vector else True
    if any(x in c for x in ("must", "should", "must_not")):
        return _match_filter(c, key, payload, has_vector)
    if "is_empty" in c:
        vals = _values(payload(), c["is_empty"]["key"])
        return not [v for v in vals if v is not None]
    if "is_null" in c:
        vals = _values(payload(), c["is_null"]["key"])
        return any(v is None for v in vals)
    if "nested" in c:
        n = c["nested"]
        objs = _values(payload(), n["key"])
        for o in objs:
            if isinstance(o, dict) and _match_filter(
                    n.get("filter") or {}, key, lambda o=o: o, has_vector):
                return True
        return False
    if "key" in c:
        vals = _values(payload(), c["key"])
        m = c.get("match")
        if m is not None:
            if "value" in m:
                return any(_eq(v, m["value"]) for v in vals)
            if "any" in m:
                return any(_eq(v, a) for v in vals for a in m["any"])
            if "except" in m:
                return not any(_eq(v, a) for v in vals for a in m["except"]) \
                    and bool(vals)
            if "text" in m:
                return any(isinstance(v, str) and m["text"] in v
                           for v in vals)
            if "phrase" in m:
                return any(isinstance(v, str) and m["phrase"] in v
                           for v in vals)
            raise ApiError(400, "Format error in JSON body: unsupported "
                           "match condition")
        r = c.get("range")
        if r is not None:
            nums = [v for v in vals if _num(v)]
            for v in nums:
                ok = True
                if r.get("gt") is not None and not v > r["gt"]:
                    ok = False
                if r.get("gte") is not None and not v >= r["gte"]:
                    ok = False
                if r.get("lt") is not None and not v < r["lt"]:
                    ok = False
                if r.get("lte") is not None and not v <= r["lte"]:
                    ok = False
                if ok:
                    return True
            return False
        vc = c.get("values_count")
        if vc is not None:
            n = len(vals)
            for op, f in (("gt", operator.gt), ("gte", operator.ge),
                          ("lt", operator.lt), ("lte", operator.le)):
                if vc.get(op) is not None and not f(n, vc[op]):
                    return False
            return True
        if c.get("is_empty") is True:
            return not vals
        if c.get("is_null") is True:
            return any(v is None for v in vals)
        raise ApiError(400, "Format error in JSON body: unsupported field "
                       "condition")
    raise ApiError(400, "Format error in JSON body: unsupported condition")


def select_payload(payload, spec):
    """Apply with_payload (true/false/list/{include}/{exclude})."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return payload
    if isinstance(spec, list):
        return {k: v for k, v in payload.items()
                if k in spec or k.split(".")[0] in spec}
    if isinstance(spec, dict):
        if "include" in spec:
            inc = _as_list(spec["include"])
            return {k: v for k, v in payload.items() if k in inc}
        if "exclude" in spec:
            exc = _as_list(spec["exclude"])
            return {k: v for k, v in payload.items() if k not in exc}
    return payload


def want_payload(spec):
    return not (spec is None or spec is False)


def vector_names_wanted(spec, all_names):
    if spec is None or spec is False:
        return []
    if spec is True:
        return list(all_names)
    if isinstance(spec, list):
        return [n for n in spec if n in all_names]
    return []
