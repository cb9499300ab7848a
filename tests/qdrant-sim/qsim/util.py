"""Small helpers shared by the simulator's modules."""

import json
import os
import struct
import sys
import tempfile
import time
import uuid as uuidlib
from array import array

U64 = 1 << 64


class ApiError(Exception):
    """An error answer: HTTP status and Qdrant's message text.

    plain=True renders it as text/plain (download endpoints, auth).
    """

    def __init__(self, status, text, plain=False, headers=None):
        super().__init__(text)
        self.status = status
        self.text = text
        self.plain = plain
        self.headers = headers or {}


def not_found_collection(name):
    return ApiError(404, "Not found: Collection `%s` doesn't exist!" % name)


def bad_input(text):
    return ApiError(400, "Wrong input: " + text)


def bad_request(text):
    return ApiError(400, "Bad request: " + text)


def service_error(text):
    return ApiError(500, "Service internal error: " + text)


def forbidden(text):
    return ApiError(403, "Forbidden: " + text)


# ---------------------------------------------------------------- point ids

def parse_point_id(v):
    """JSON point id -> internal key (int ids as is, UUIDs above 2**64 so
    that sorting keys gives Qdrant's order: ints, then UUIDs)."""
    if isinstance(v, bool):
        raise ValueError("bad id")
    if isinstance(v, int):
        if v < 0 or v >= U64:
            raise ValueError("bad id")
        return v
    if isinstance(v, str):
        try:
            return U64 + uuidlib.UUID(v).int
        except ValueError:
            raise ValueError("bad id")
    raise ValueError("bad id")


def key_to_id(k):
    if k < U64:
        return k
    return str(uuidlib.UUID(int=k - U64))


def parse_path_id(s):
    try:
        n = int(s)
        if 0 <= n < U64 and str(n) == s:
            return n
    except ValueError:
        pass
    return parse_point_id(s)


# ---------------------------------------------------------------- floats

_FMT = {p: "%." + str(p) + "g," for p in (6, 7, 8, 9)}


def f32_list(raw):
    """float32 little-endian bytes -> list of Python floats that print as
    the shortest decimal that round-trips through float32 (what Qdrant's
    serde_json prints).  Vectors whose first values are not short (random
    data) are only tried at 8 and 9 digits, which round-trip as well."""
    xs = array("f")
    xs.frombytes(raw)
    if sys.byteorder != "little":
        xs.byteswap()
    vals = xs.tolist()
    n = len(vals)
    if not n:
        return []
    short = any(array("f", [float("%.6g" % v)])[0] == v for v in vals[:8])
    res = None
    bad = None
    for p in ((6, 7, 8, 9) if short else (8, 9)):
        if p == 9 and res is not None:
            for i in bad:
                res[i] = float("%.9g" % vals[i])
            break
        sub = vals if bad is None else [vals[i] for i in bad]
        cand = list(map(float, (_FMT[p] * len(sub) % tuple(sub))
                        .split(",")[:-1]))
        rt = array("f", cand)
        if res is None:
            res = cand
            bad = [i for i, (a, b) in enumerate(zip(rt, vals)) if a != b]
        else:
            nb = []
            for j, i in enumerate(bad):
                if rt[j] == vals[i]:
                    res[i] = cand[j]
                else:
                    nb.append(i)
            bad = nb
        if not bad:
            break
    return res


def f32_round(x):
    """One float rounded to float32, printed shortest."""
    return f32_list(struct.pack("<f", x))[0]


# ---------------------------------------------------------------- files

def write_atomic(path, data, mode=0o644):
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def utc_stamp(t=None):
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(t))


def iso_utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def rfc3339_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        (".%06dZ" % int((t % 1) * 1e6))


def http_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(t))


def parse_http_date(s):
    import email.utils
    try:
        dt = email.utils.parsedate_to_datetime(s)
        return dt.timestamp()
    except (TypeError, ValueError, IndexError):
        return None


# ------------------------------------------------------------ point ids

def bad_point_id(v):
    """Qdrant's refusal of a JSON point id that is neither an unsigned
    64-bit integer nor a UUID (a decimal string, a negative number, a
    number above 2**64-1): ExtendedPointId's own Deserialize
    (lib/segment/src/types.rs, 1.5 to 1.19), which prints a string without
    quotes (lib/segment/src/utils/fmt.rs).  serde_json adds the position of
    the error in the body; the simulator leaves it out."""
    if isinstance(v, bool):
        shown = "true" if v else "false"
    else:
        shown = str(v)
    return ApiError(400, "Format error in JSON body: value %s is not a "
                    "valid point ID, valid values are either an unsigned "
                    "integer or a UUID" % shown)
