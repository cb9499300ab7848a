#!/usr/bin/env python3
"""t0002-conformance: the Qdrant simulator answers like Qdrant 1.19.

Starts tests/qdrant-sim/qdrant-sim.py (one single node, one 3-node cluster,
one single node with API keys), calls every endpoint qbk relies on and checks
each answer against Qdrant's OpenAPI spec (/work/shared/qdrant/openapi.json,
or $QBK_OPENAPI) and against the behaviour documented in
/work/shared/qdrant/NOTES.md: the JSON envelopes of section 1, the exact
error texts, the plain-text errors of downloads and authentication, the
download headers and the snapshot archive layout.

Output is TAP: one test point per request ("ok K - METHOD path STATUS"),
followed by "# " lines listing what did not conform.  Exit status 1 on any
failure.  QBK_TEST_KEEP=1 keeps the scratch folder; QBK_TEST_VERBOSE=1 prints
every response body.
"""

import hashlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import openapi_check  # noqa: E402

SIM = os.path.join(HERE, "qdrant-sim.py")
VERSION = "1.19.0"
API_KEY = "conformance-key"
RO_KEY = "conformance-read-only-key"
VERBOSE = os.environ.get("QBK_TEST_VERBOSE") == "1"
TEXT_PLAIN = "text/plain; charset=utf-8"

# First words of an error text by HTTP status (NOTES section 1).
ERROR_PREFIXES = {
    400: ("Wrong input: ", "Bad request: ", "Checksum mismatch: ",
          "Format error in ", "Deserialize error in "),
    403: ("Forbidden: ", "Storage locked: "),
    404: ("Not found: ",),
    405: ("",),
    408: ("Timeout: ",),
    409: ("Wrong input: ",),
    422: ("Validation error in ",),
    429: ("Rate limiting exceeded: ",),
    500: ("Service internal error: ", "Pre-condition failure: "),
    503: ("Shard temporarily unavailable: ",),
    507: ("Insufficient storage: ",),
}

NAME_COLL_RE = r"^%s-\d+-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.snapshot$"
NAME_SHARD_RE = r"^%s-shard-%d-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.snapshot$"
NAME_FULL_RE = r"^full-snapshot-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.snapshot$"
CTIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")

# Search is served by Qdrant 1.19 but no longer documented in openapi.json
# (qdrant/qdrant#9982); this is its schema from the 1.18 spec.
SHARD_UPLOAD_SCHEMA = {
    "type": "object",
    "properties": {
        "time": {"type": "number"},
        "status": {"type": "string"},
        "usage": {"anyOf": [{"$ref": "#/components/schemas/Usage"},
                            {"nullable": True}]},
        "result": {"nullable": True},
    },
}

SEARCH_SCHEMA = {
    "type": "object",
    "properties": {
        "time": {"type": "number"},
        "status": {"type": "string"},
        "usage": {"anyOf": [{"$ref": "#/components/schemas/Usage"},
                            {"nullable": True}]},
        "result": {"type": "array",
                   "items": {"$ref": "#/components/schemas/ScoredPoint"}},
    },
}


# Node 1's snapshot of a 3-node collection, for a restore on a single node.
CLUSTER_SNAPSHOT = []


class Fail(Exception):
    pass


# --- simulator processes ---------------------------------------------------

class Sim:
    def __init__(self, root, label, args=(), nodes=1):
        self.dir = os.path.join(root, label)
        self.storage = os.path.join(self.dir, "storage")
        self.port_file = os.path.join(self.dir, "ports")
        self.log_path = os.path.join(self.dir, "log")
        os.makedirs(self.storage)
        self.nodes = nodes
        cmd = [sys.executable, SIM, "--port", "0", "--storage", self.storage,
               "--port-file", self.port_file] + list(args)
        if nodes > 1:
            cmd += ["--nodes", str(nodes)]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.ports = []

    def wait_ready(self, timeout=180.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Fail("simulator exited with %s; log:\n%s"
                           % (self.proc.returncode, self.log_tail()))
            try:
                with open(self.port_file) as f:
                    text = f.read()
            except OSError:
                text = ""
            lines = [x for x in text.split("\n") if x.strip()]
            if len(lines) >= self.nodes and text.endswith("\n"):
                self.ports = [int(x) for x in lines[:self.nodes]]
                return
            time.sleep(0.05)
        raise Fail("simulator did not write %d port(s) in %ss; log:\n%s"
                   % (self.nodes, timeout, self.log_tail()))

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def find_file(self, name):
        """Absolute path of the file NAME under the storage folder."""
        for dirpath, _dirs, files in os.walk(self.storage):
            if name in files:
                return os.path.join(dirpath, name)
        return None


# --- HTTP -------------------------------------------------------------------

class Resp:
    def __init__(self, status, headers, body, chunked):
        self.status = status
        self.headers = headers
        self.body = body
        self.chunked = chunked

    def header(self, name):
        return self.headers.get(name)

    def text(self):
        return self.body.decode("utf-8", "replace")


def request(port, method, path, body=None, json_body=None, headers=None,
         timeout=120):
    hdrs = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        hdrs["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        chunked = bool(r.chunked)
        te = r.getheader("Transfer-Encoding")
        data = r.read()
        resp = Resp(r.status, r.headers, data,
                    chunked or (te or "").lower() == "chunked")
    finally:
        conn.close()
    return resp



def multipart(data, filename, field="snapshot"):
    boundary = "qbkconformance" + uuid.uuid4().hex
    head = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
            "filename=\"%s\"\r\nContent-Type: application/octet-stream"
            "\r\n\r\n" % (boundary, field, filename)).encode()
    tail = ("\r\n--%s--\r\n" % boundary).encode()
    return head + data + tail, "multipart/form-data; boundary=" + boundary


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- TAP and checks ---------------------------------------------------------

class Runner:
    def __init__(self, spec):
        self.spec = spec
        self.n = 0
        self.failed = 0

    def emit(self, title, errors):
        self.n += 1
        if errors:
            self.failed += 1
            print("not ok %d - %s" % (self.n, title))
            for e in errors:
                for line in str(e).splitlines() or [""]:
                    print("#   " + line)
        else:
            print("ok %d - %s" % (self.n, title))
        sys.stdout.flush()

    def _call(self, port, method, path, **kw):
        try:
            return request(port, method, path, **kw), None
        except Exception as e:  # noqa: BLE001 - reported as a failure
            return None, "request failed: %s: %s" % (type(e).__name__, e)

    def check(self, title, fn):
        """A non-HTTP check: FN returns a list of errors (or raises)."""
        try:
            errors = fn() or []
        except Exception as e:  # noqa: BLE001
            errors = ["%s: %s" % (type(e).__name__, e)]
        self.emit(title, errors)
        return not errors

    def json(self, method, path, status, port, json_body=None, body=None,
             headers=None, text=None, prefix=None, extra=None, schema=None,
             envelope=True, timeout=15, title=None):
        """Call METHOD PATH, expect STATUS and a JSON body that conforms to
        the spec and to the envelope rules.  TEXT/PREFIX: the error text
        (exact/start).  EXTRA(doc) returns more errors.  Returns the parsed
        body (or None)."""
        title = title or "%s %s %d" % (method, path, status)
        r, err = self._call(port, method, path, json_body=json_body,
                            body=body, headers=headers, timeout=timeout)
        if r is None:
            self.emit(title, [err])
            return None
        errors = []
        if VERBOSE:
            print("#   -> %d %s" % (r.status, r.text()[:500]))
        if r.status != status:
            errors.append("expected HTTP %d, got %d: %s"
                          % (status, r.status, r.text()[:300]))
        ct = r.header("Content-Type") or ""
        if not ct.startswith("application/json"):
            errors.append("Content-Type %r, expected application/json"
                          % (ct or None))
        try:
            doc = json.loads(r.body)
        except ValueError as e:
            errors.append("body is not JSON (%s): %r" % (e, r.body[:200]))
            self.emit(title, errors)
            return None
        if schema is None:
            try:
                schema = openapi_check.response_schema(self.spec, method,
                                                       path, r.status)
            except LookupError as e:
                errors.append(str(e))
            if schema is None and not errors:
                errors.append("openapi.json declares no JSON body for "
                              "HTTP %d of %s" % (r.status, method))
        if schema is not None:
            errors += openapi_check.validate(self.spec, schema, doc, "$")
        if envelope:
            errors += envelope_errors(r.status, doc)
        if r.status >= 400 and isinstance(doc, dict) \
                and isinstance(doc.get("status"), dict):
            msg = doc["status"].get("error")
            if text is not None and msg != text:
                errors.append("error text %r, expected %r" % (msg, text))
            if prefix is not None and not str(msg).startswith(prefix):
                errors.append("error text %r, expected it to start with %r"
                              % (msg, prefix))
        elif (text is not None or prefix is not None) and r.status == status:
            errors.append("expected an error envelope, got %s"
                          % json.dumps(doc)[:200])
        if extra is not None and r.status == status:
            try:
                errors += extra(doc) or []
            except Exception as e:  # noqa: BLE001
                errors.append("check raised %s: %s" % (type(e).__name__, e))
        self.emit(title, errors)
        return doc if r.status == status else None

    def text(self, method, path, status, port, text=None, contains=(),
             content_type=TEXT_PLAIN, headers=None, body=None,
             title=None, extra=None):
        """Call METHOD PATH, expect STATUS with a non-JSON body.
        CONTENT_TYPE: exact value, "text/plain*" (prefix), "" (header must be
        absent) or "absent-or-text" (absent or text/plain*)."""
        title = title or "%s %s %d" % (method, path, status)
        r, err = self._call(port, method, path, headers=headers, body=body)
        if r is None:
            self.emit(title, [err])
            return None
        errors = []
        if VERBOSE:
            print("#   -> %d %s" % (r.status, r.text()[:500]))
        if r.status != status:
            errors.append("expected HTTP %d, got %d: %s"
                          % (status, r.status, r.text()[:300]))
        ct = r.header("Content-Type")
        if content_type == "":
            if ct is not None:
                errors.append("Content-Type %r, expected none" % ct)
        elif content_type == "absent-or-text":
            if ct is not None and not ct.startswith("text/plain"):
                errors.append("Content-Type %r, expected none or text/plain"
                              % ct)
        elif content_type.endswith("*"):
            if not (ct or "").startswith(content_type[:-1]):
                errors.append("Content-Type %r, expected %s"
                              % (ct, content_type))
        elif ct != content_type:
            errors.append("Content-Type %r, expected %r" % (ct, content_type))
        body_text = r.text()
        if text is not None and body_text != text:
            errors.append("body %r, expected %r" % (body_text[:300], text))
        for c in contains:
            if c not in body_text:
                errors.append("body lacks %r" % c)
        if extra is not None and r.status == status:
            try:
                errors += extra(r) or []
            except Exception as e:  # noqa: BLE001
                errors.append("check raised %s: %s" % (type(e).__name__, e))
        self.emit(title, errors)
        return r

    def download(self, path, port, name, size=None, checksum=None,
                 headers=None, title=None, rng=None):
        """GET a stored snapshot; check the static-file headers of NOTES 7.10
        (and 206 for RNG=(a, b)).  Returns the body or None."""
        hdrs = dict(headers or {})
        status = 200
        if rng is not None:
            hdrs["Range"] = "bytes=%d-%d" % rng
            status = 206
        title = title or "GET %s %d%s" % (path, status,
                                          " (Range)" if rng else "")
        r, err = self._call(port, "GET", path, headers=hdrs)
        if r is None:
            self.emit(title, [err])
            return None
        errors = []
        if r.status != status:
            errors.append("expected HTTP %d, got %d: %s"
                          % (status, r.status, r.text()[:300]))
            self.emit(title, errors)
            return None
        want = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="%s"' % name,
            "Accept-Ranges": "bytes",
        }
        for h, v in want.items():
            if r.header(h) != v:
                errors.append("%s: %r, expected %r" % (h, r.header(h), v))
        cl = r.header("Content-Length")
        if cl is None:
            errors.append("no Content-Length")
        elif int(cl) != len(r.body):
            errors.append("Content-Length %s but %d bytes received"
                          % (cl, len(r.body)))
        if r.chunked:
            errors.append("download is chunked; a static file is not")
        for h in ("ETag", "Last-Modified"):
            if r.header(h) is None:
                errors.append("no %s header" % h)
        if rng is None:
            if size is not None and len(r.body) != size:
                errors.append("%d bytes, listed size is %d"
                              % (len(r.body), size))
            if checksum is not None and sha256(r.body) != checksum:
                errors.append("SHA-256 %s, listed checksum %s"
                              % (sha256(r.body), checksum))
        else:
            a, b = rng
            total = size if size is not None else "*"
            cr = "bytes %d-%d/%s" % (a, b, total)
            if r.header("Content-Range") != cr:
                errors.append("Content-Range %r, expected %r"
                              % (r.header("Content-Range"), cr))
            if len(r.body) != b - a + 1:
                errors.append("%d bytes for a %d-byte range"
                              % (len(r.body), b - a + 1))
        self.emit(title, errors)
        return r.body if not errors or rng is None else None


def envelope_errors(status, doc):
    """NOTES section 1 envelopes."""
    errs = []
    if not isinstance(doc, dict):
        return ["envelope: body is %s, not an object" % type(doc).__name__]
    t = doc.get("time")
    if "time" not in doc:
        errs.append("envelope: no 'time'")
    elif isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
        errs.append("envelope: 'time' %r is not a non-negative number" % t)
    if status == 200:
        if doc.get("status") != "ok":
            errs.append("envelope: status %r, expected \"ok\""
                        % doc.get("status"))
        if "result" not in doc:
            errs.append("envelope: no 'result'")
        extra = set(doc) - {"result", "status", "time", "usage"}
        if extra:
            errs.append("envelope: unexpected keys %s" % sorted(extra))
        if "usage" in doc and doc["usage"] is None:
            errs.append("envelope: 'usage' is null (must be omitted)")
    elif status == 202:
        if doc.get("status") != "accepted":
            errs.append("envelope: status %r, expected \"accepted\""
                        % doc.get("status"))
        if set(doc) != {"status", "time"}:
            errs.append("envelope: keys %s, expected ['status', 'time']"
                        % sorted(doc))
    elif status >= 400:
        st = doc.get("status")
        if not isinstance(st, dict) or set(st) != {"error"} \
                or not isinstance(st.get("error"), str):
            errs.append("envelope: status %r, expected {\"error\": text}"
                        % (st,))
        else:
            prefixes = ERROR_PREFIXES.get(status, ("",))
            if not any(st["error"].startswith(p) for p in prefixes):
                errs.append("envelope: error %r does not start with %s"
                            % (st["error"], " or ".join(map(repr,
                                                             prefixes))))
        if set(doc) != {"status", "time"}:
            errs.append("envelope: keys %s, expected ['status', 'time']"
                        % sorted(doc))
        if status == 422 and doc.get("time") != 0:
            errs.append("envelope: 422 'time' is %r, expected 0.0"
                        % doc.get("time"))
    return errs


def res(doc):
    return doc.get("result") if isinstance(doc, dict) else None


def expect(cond, msg):
    return [] if cond else [msg]


def snapshot_desc_errors(d, name_re=None, with_checksum=True):
    errs = []
    if not isinstance(d, dict):
        return ["snapshot description is not an object: %r" % (d,)]
    if name_re and not re.match(name_re, str(d.get("name"))):
        errs.append("name %r does not match %s" % (d.get("name"), name_re))
    ct = d.get("creation_time")
    if ct is not None and not CTIME_RE.match(str(ct)):
        errs.append("creation_time %r is not YYYY-MM-DDTHH:MM:SS" % ct)
    if "creation_time" not in d:
        errs.append("creation_time key missing (null when unknown)")
    if with_checksum:
        if not SHA_RE.match(str(d.get("checksum"))):
            errs.append("checksum %r is not 64 lowercase hex"
                        % d.get("checksum"))
    elif "checksum" in d:
        errs.append("checksum key present (%r); expected it absent"
                    % d["checksum"])
    return errs


def tar_members(data):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        return {m.name.rstrip("/"): m for m in tf.getmembers()}, tf


def collection_tar_errors(data, shard_ids, local_ids):
    """Layout of a collection snapshot (NOTES 4.2 and 5)."""
    errs = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        members = {m.name.rstrip("/"): m for m in tf.getmembers()}
        names = set(members)
        for f in ("config.json", "version.info", "shard_key_mapping.json",
                  "payload_index.json"):
            if f not in names:
                errs.append("archive lacks %s" % f)
        if "version.info" in names:
            v = tf.extractfile("version.info").read()
            if v != b"0.4.2":
                errs.append("version.info is %r, expected b'0.4.2'" % v)
        if "config.json" in names:
            cfg = json.loads(tf.extractfile("config.json").read())
            for k in ("params", "hnsw_config", "optimizer_config",
                      "wal_config"):
                if k not in cfg:
                    errs.append("config.json lacks %r" % k)
        for sid in shard_ids:
            for f in ("replica_state.json", "shard_config.json"):
                if "%d/%s" % (sid, f) not in names:
                    errs.append("archive lacks %d/%s" % (sid, f))
            rs_name = "%d/replica_state.json" % sid
            if rs_name in names:
                rs = json.loads(tf.extractfile(rs_name).read())
                if rs.get("is_local") != (sid in local_ids):
                    errs.append("%s: is_local %r, expected %r"
                                % (rs_name, rs.get("is_local"),
                                   sid in local_ids))
            segs = [n for n in names
                    if re.match(r"^%d/segments/[0-9a-f-]{36}\.tar$" % sid, n)]
            if sid in local_ids:
                if not segs:
                    errs.append("local shard %d has no segments/<uuid>.tar"
                                % sid)
                for s in segs[:1]:
                    inner = tf.extractfile(s).read()
                    try:
                        with tarfile.open(fileobj=io.BytesIO(inner),
                                          mode="r:") as itf:
                            inames = {m.name.rstrip("/")
                                      for m in itf.getmembers()}
                        for f in ("snapshot/files/segment.json",
                                  "snapshot/files/version.info"):
                            if f not in inames:
                                errs.append("%s lacks %s" % (s, f))
                    except tarfile.TarError as e:
                        errs.append("%s is not a tar: %s" % (s, e))
                if not any(n.startswith("%d/wal/" % sid) for n in names):
                    errs.append("local shard %d has no wal/" % sid)
            else:
                extra = [n for n in names if n.startswith("%d/" % sid)
                         and n not in ("%d/replica_state.json" % sid,
                                       "%d/shard_config.json" % sid)]
                if extra:
                    errs.append("non-local shard %d carries data: %s"
                                % (sid, extra[:3]))
    return errs


# --- the test plan ----------------------------------------------------------

def single_node(t, sim, scratch):
    p = sim.ports[0]
    J, T = t.json, t.text

    # Service
    T("GET", "/nonexistent-route", 404, p, text="", content_type="",
      title="GET /nonexistent-route 404 (empty body)")
    r = request(p, "GET", "/")
    t.json("GET", "/", 200, p, envelope=False, extra=lambda d: (
        expect(d.get("title") == "qdrant - vector search engine",
               "title %r" % d.get("title"))
        + expect(d.get("version") == VERSION, "version %r, expected %r"
                 % (d.get("version"), VERSION))
        + expect(set(d) <= {"title", "version", "commit"},
                 "unexpected keys %s" % sorted(set(d) - {"title", "version",
                                                          "commit"}))))
    T("GET", "/healthz", 200, p, text="healthz check passed",
      content_type="text/plain*")
    T("GET", "/livez", 200, p, text="healthz check passed",
      content_type="text/plain*")
    T("GET", "/readyz", 200, p, text="all shards are ready",
      content_type="text/plain*")

    # Collections
    J("PUT", "/collections/c1", 200, p,
      json_body={"vectors": {"size": 4, "distance": "Cosine"}},
      extra=lambda d: expect(d["result"] is True, "result is not true"))
    J("PUT", "/collections/c1", 409, p,
      json_body={"vectors": {"size": 4, "distance": "Cosine"}},
      text="Wrong input: Collection `c1` already exists!")
    J("PUT", "/collections/c2", 200, p,
      json_body={"vectors": {"img": {"size": 3, "distance": "Dot"}},
                 "shard_number": 2})
    J("PUT", "/collections/gone", 200, p,
      json_body={"vectors": {"size": 2, "distance": "Euclid"}})
    J("GET", "/collections", 200, p, extra=lambda d: expect(
        {"c1", "c2", "gone"} <= {c.get("name") for c in
                                 d["result"]["collections"]},
        "collections listed: %s" % d["result"]["collections"]))
    J("GET", "/collections/c1", 200, p, extra=lambda d: (
        expect(d["result"]["config"]["params"]["vectors"]
               == {"size": 4, "distance": "Cosine"}
               or d["result"]["config"]["params"]["vectors"].get("size") == 4,
               "vectors config %r" % d["result"]["config"]["params"]
               .get("vectors"))
        + expect(d["result"]["config"]["params"].get("shard_number") == 1,
                 "shard_number %r" % d["result"]["config"]["params"]
                 .get("shard_number"))))
    J("GET", "/collections/c2", 200, p, extra=lambda d: expect(
        "img" in d["result"]["config"]["params"]["vectors"],
        "named vector 'img' missing: %r"
        % d["result"]["config"]["params"]["vectors"]))
    J("GET", "/collections/nope", 404, p,
      text="Not found: Collection `nope` doesn't exist!")
    J("GET", "/collections/c1/exists", 200, p, extra=lambda d: expect(
        d["result"] == {"exists": True}, "result %r" % d["result"]))
    J("GET", "/collections/nope/exists", 200, p, extra=lambda d: expect(
        d["result"] == {"exists": False}, "result %r" % d["result"]))
    J("DELETE", "/collections/gone", 200, p, extra=lambda d: expect(
        d["result"] is True, "result %r, expected true" % d["result"]))
    J("DELETE", "/collections/gone", 200, p,
      title="DELETE /collections/gone 200 (again: false)",
      extra=lambda d: expect(d["result"] is False,
                             "result %r, expected false" % d["result"]))
    J("PUT", "/collections/bad", 400, p, body=b"{not json",
      headers={"Content-Type": "application/json"},
      prefix="Format error in JSON body: ",
      title="PUT /collections/bad 400 (malformed JSON)")

    # Aliases
    J("POST", "/collections/aliases", 200, p, json_body={"actions": [
        {"create_alias": {"collection_name": "c1", "alias_name": "a1"}},
        {"create_alias": {"collection_name": "c2", "alias_name": "tmp"}}]},
      extra=lambda d: expect(d["result"] is True, "result not true"))
    J("POST", "/collections/aliases", 200, p, json_body={"actions": [
        {"rename_alias": {"old_alias_name": "tmp",
                          "new_alias_name": "tmp2"}},
        {"delete_alias": {"alias_name": "tmp2"}}]},
      title="POST /collections/aliases 200 (rename, delete)")
    J("GET", "/aliases", 200, p, extra=lambda d: expect(
        d["result"]["aliases"] == [{"alias_name": "a1",
                                    "collection_name": "c1"}],
        "aliases %r, expected only a1 -> c1" % d["result"]["aliases"]))
    J("GET", "/collections/c1/aliases", 200, p, extra=lambda d: expect(
        d["result"]["aliases"] == [{"alias_name": "a1",
                                    "collection_name": "c1"}],
        "aliases %r" % d["result"]["aliases"]))
    J("GET", "/collections/c2/aliases", 200, p, extra=lambda d: expect(
        d["result"]["aliases"] == [], "aliases %r" % d["result"]["aliases"]))
    J("POST", "/collections/aliases", 409, p, json_body={"actions": [
        {"create_alias": {"collection_name": "c1", "alias_name": "c2"}}]},
      prefix="Wrong input: ",
      title="POST /collections/aliases 409 (alias named like a collection)")
    J("POST", "/collections/aliases", 404, p, json_body={"actions": [
        {"create_alias": {"collection_name": "nope", "alias_name": "a9"}}]},
      text="Not found: Collection `nope` doesn't exist!",
      title="POST /collections/aliases 404 (unknown collection)")
    J("GET", "/collections/a1", 200, p,
      title="GET /collections/a1 200 (through alias)")
    J("POST", "/collections/aliases", 200, p, json_body={"actions": [
        {"create_alias": {"collection_name": "c2", "alias_name": "a1"}}]},
      title="POST /collections/aliases 200 (create_alias re-points a1)")
    J("GET", "/collections/c2/aliases", 200, p,
      title="GET /collections/c2/aliases 200 (a1 now here)",
      extra=lambda d: expect(d["result"]["aliases"] == [
          {"alias_name": "a1", "collection_name": "c2"}],
          "aliases %r" % d["result"]["aliases"]))
    J("POST", "/collections/aliases", 200, p, json_body={"actions": [
        {"create_alias": {"collection_name": "c1", "alias_name": "a1"}}]},
      title="POST /collections/aliases 200 (a1 back to c1)")
    J("GET", "/collections/", 200, p,
      title="GET /collections/ 200 (trailing slash trimmed)")
    T("PATCH", "/snapshots", 404, p, text="", content_type="",
      title="PATCH /snapshots 404 (wrong method: empty body)")

    # Points
    u = "550e8400-e29b-41d4-a716-446655440000"
    pts = [{"id": i, "vector": [0.1 * i, 0.2, 0.3, 0.4],
            "payload": {"n": i, "tag": "t%d" % i}} for i in (3, 1, 2, 10)]
    pts.append({"id": u, "vector": [0.5, 0.5, 0.5, 0.5], "payload": {}})
    J("PUT", "/collections/c1/points?wait=true", 200, p,
      json_body={"points": pts}, extra=lambda d: expect(
          d["result"].get("status") == "completed"
          and isinstance(d["result"].get("operation_id"), int),
          "result %r" % d["result"]))
    J("PUT", "/collections/c1/points?wait=false", 200, p,
      json_body={"points": [{"id": 20, "vector": [1, 0, 0, 0],
                             "payload": {"n": 20}}]},
      extra=lambda d: expect(d["result"].get("status") == "acknowledged",
                             "result %r" % d["result"]))
    J("PUT", "/collections/c2/points?wait=true", 200, p,
      json_body={"batch": {"ids": [1, 2, 3],
                           "vectors": {"img": [[1, 2, 3], [4, 5, 6],
                                               [7, 8, 9]]},
                           "payloads": [{"a": 1}, {"a": 2}, {"a": 3}]}},
      title="PUT /collections/c2/points?wait=true 200 (batch)")
    # the wait=false upsert applies in the background: wait until it has
    deadline = time.time() + 180
    while request(p, "GET", "/collections/c1/points/20").status != 200 and \
            time.time() < deadline:
        time.sleep(0.05)
    J("POST", "/collections/c1/points/scroll", 200, p,
      json_body={"limit": 2, "with_payload": True}, extra=lambda d: (
          expect([x["id"] for x in d["result"]["points"]] == [1, 2],
                 "ids %r, expected [1, 2]"
                 % [x["id"] for x in d["result"]["points"]])
          + expect(d["result"].get("next_page_offset") == 3,
                   "next_page_offset %r, expected 3"
                   % d["result"].get("next_page_offset"))
          + expect(all("vector" not in x and "payload" in x
                       for x in d["result"]["points"]),
                   "records should have payload and no vector: %r"
                   % d["result"]["points"])))
    J("POST", "/collections/c1/points/scroll", 200, p,
      json_body={"offset": 3, "limit": 10, "with_vector": True},
      title="POST /collections/c1/points/scroll 200 (last page)",
      extra=lambda d: (
          expect([x["id"] for x in d["result"]["points"]] == [3, 10, 20, u],
                 "ids %r, expected [3, 10, 20, %s]"
                 % ([x["id"] for x in d["result"]["points"]], u))
          + expect("next_page_offset" in d["result"]
                   and d["result"]["next_page_offset"] is None,
                   "next_page_offset %r, expected null"
                   % d["result"].get("next_page_offset", "(absent)"))
          + expect(all(isinstance(x.get("vector"), list)
                       for x in d["result"]["points"]),
                   "vectors missing with with_vector=true")))
    J("POST", "/collections/c1/points/scroll", 400, p,
      json_body={"limit": 0}, text="Bad request: Limit cannot be 0",
      title="POST /collections/c1/points/scroll 400 (limit 0)")
    J("POST", "/collections/c2/points/scroll", 200, p,
      json_body={"with_vector": True}, title="POST /collections/c2/points/"
      "scroll 200 (named vectors)", extra=lambda d: expect(
          all(set(x.get("vector", {})) == {"img"}
              for x in d["result"]["points"]) and
          len(d["result"]["points"]) == 3,
          "expected 3 points with vector {'img': ...}: %r"
          % d["result"]["points"]))
    J("POST", "/collections/c1/points/count", 200, p,
      json_body={"exact": True}, extra=lambda d: expect(
          d["result"] == {"count": 6}, "result %r, expected count 6"
          % d["result"]))
    J("POST", "/collections/c1/points/count", 200, p,
      json_body={"exact": True, "filter": {"must": [
          {"key": "tag", "match": {"value": "t2"}}]}},
      title="POST /collections/c1/points/count 200 (filter)",
      extra=lambda d: expect(d["result"] == {"count": 1},
                             "result %r, expected count 1" % d["result"]))
    J("POST", "/collections/c1/points", 200, p,
      json_body={"ids": [1, 2, 999], "with_payload": True}, extra=lambda d:
      expect(sorted(x["id"] for x in d["result"]) == [1, 2],
             "ids %r, expected [1, 2]" % [x["id"] for x in d["result"]]))
    J("GET", "/collections/c1/points/1", 200, p, extra=lambda d: expect(
        d["result"].get("id") == 1 and d["result"].get("payload")
        == {"n": 1, "tag": "t1"}, "record %r" % d["result"]))
    J("GET", "/collections/c1/points/%s" % u, 200, p)
    J("GET", "/collections/c1/points/999", 404, p,
      text="Not found: No point with id 999 found")
    J("POST", "/collections/c1/points/delete?wait=true", 200, p,
      json_body={"points": [20]}, extra=lambda d: expect(
          d["result"].get("status") == "completed", "result %r"
          % d["result"]))
    J("POST", "/collections/c1/points/search", 200, p,
      json_body={"vector": [0.1, 0.2, 0.3, 0.4], "limit": 3,
                 "with_payload": True}, schema=SEARCH_SCHEMA,
      extra=lambda d: expect(len(d["result"]) == 3,
                             "%d hits, expected 3" % len(d["result"])))
    J("POST", "/collections/c1/points/query", 200, p,
      json_body={"query": [0.1, 0.2, 0.3, 0.4], "limit": 3,
                 "with_payload": True}, extra=lambda d: expect(
          len(d["result"]["points"]) == 3,
          "%d hits, expected 3" % len(d["result"]["points"])))
    J("POST", "/collections/c1/points/query", 200, p,
      title="POST /collections/c1/points/query 200 (sample random)",
      json_body={"query": {"sample": "random"}, "limit": 3,
                 "with_payload": True, "with_vector": True},
      extra=lambda d: expect(
          len({str(x["id"]) for x in d["result"]["points"]}) == 3 and
          all("vector" in x and "payload" in x and "score" in x
              for x in d["result"]["points"]),
          "sample %r" % d["result"]))
    J("GET", "/collections/c1", 200, p,
      title="GET /collections/c1 200 (points_count)", extra=lambda d: expect(
          d["result"].get("points_count") == 5, "points_count %r, expected 5"
          % d["result"].get("points_count")))

    # Collection snapshots
    snap = J("POST", "/collections/c1/snapshots", 200, p, extra=lambda d:
             snapshot_desc_errors(d["result"], NAME_COLL_RE % "c1"))
    snap = res(snap) or {}
    sname = snap.get("name", "missing.snapshot")
    J("POST", "/collections/c2/snapshots?wait=false", 202, p)
    J("GET", "/collections/c1/snapshots", 200, p, extra=lambda d: (
        expect([x for x in d["result"] if x.get("name") == sname] == [snap],
               "listing %r lacks %r" % (d["result"], snap))
        + [e for x in d["result"] for e in snapshot_desc_errors(x)]))
    data = t.download("/collections/c1/snapshots/%s" % sname, p, sname,
                      snap.get("size"), snap.get("checksum"))
    if data is not None and len(data) > 200:
        t.download("/collections/c1/snapshots/%s" % sname, p, sname,
                   snap.get("size"), rng=(100, 199))
    T("GET", "/collections/c1/snapshots/%s" % sname, 416, p,
      headers={"Range": "bytes=%d-" % (10 ** 12)},
      content_type="absent-or-text",
      title="GET /collections/c1/snapshots/%s 416 (Range beyond end)" % sname)
    t.check("collection snapshot of c1: archive layout", lambda:
            collection_tar_errors(data, [0], [0]) if data else
            ["no snapshot downloaded"])
    T("HEAD", "/collections/c1/snapshots/%s" % sname, 404, p,
      content_type="absent-or-text",
      title="HEAD /collections/c1/snapshots/%s 404" % sname)
    T("GET", "/collections/c1/snapshots/nope.snapshot", 404, p,
      text="Not found: Snapshot nope.snapshot not found")
    T("GET", "/collections/nope/snapshots/x.snapshot", 404, p,
      text="Not found: Collection `nope` doesn't exist!")
    T("GET", "/collections/c1/snapshots/..%2F..%2Fstorage", 404, p,
      title="GET /collections/c1/snapshots/..%2F..%2Fstorage 404 "
      "(path escape)", extra=lambda r: expect(
          r.text().startswith("Not found: Snapshot "),
          "body %r" % r.text()[:200]))
    J("GET", "/collections/a1/snapshots", 200, p,
      title="GET /collections/a1/snapshots 200 (through alias)")
    J("GET", "/collections/nope/snapshots", 404, p,
      text="Not found: Collection `nope` doesn't exist!")
    J("POST", "/collections/nope/snapshots", 404, p,
      text="Not found: Collection `nope` doesn't exist!")
    J("DELETE", "/collections/c1/snapshots/nope.snapshot", 404, p,
      text="Not found: Snapshot nope.snapshot not found")
    J("DELETE", "/collections/c1/snapshots/..%2Fc2", 404, p,
      prefix="Not found: Snapshot ",
      title="DELETE /collections/c1/snapshots/..%2Fc2 404 (path escape)")
    J("POST", "/collections/nope/snapshots?wait=false", 202, p,
      title="POST /collections/nope/snapshots?wait=false 202 (errors of "
      "background work are only logged)")

    def etag_304():
        r1 = request(p, "GET", "/collections/c1/snapshots/%s" % sname)
        etag = r1.header("ETag")
        if not etag:
            return ["no ETag"]
        r2 = request(p, "GET", "/collections/c1/snapshots/%s" % sname,
                     headers={"If-None-Match": etag})
        return expect(r2.status == 304, "If-None-Match %s: HTTP %d, "
                      "expected 304" % (etag, r2.status))
    t.check("GET /collections/c1/snapshots/%s 304 (If-None-Match)" % sname,
            etag_304)

    def gzip_download():
        import gzip
        r = request(p, "GET", "/collections/c1/snapshots/%s" % sname,
                    headers={"Accept-Encoding": "gzip"})
        errs = expect(r.status == 200, "HTTP %d" % r.status)
        if r.header("Content-Encoding") != "gzip":
            return errs + ["Content-Encoding %r, expected gzip (actix "
                           "Compress middleware, NOTES 1)"
                           % r.header("Content-Encoding")]
        errs += expect(r.header("Content-Length") is None and r.chunked,
                       "compressed download should be chunked without "
                       "Content-Length")
        errs += expect(gzip.decompress(r.body) == data,
                       "decompressed body differs from the snapshot")
        return errs
    t.check("GET /collections/c1/snapshots/%s 200 (Accept-Encoding: gzip)"
            % sname, gzip_download)

    def gzip_json():
        import gzip
        r = request(p, "GET", "/collections",
                    headers={"Accept-Encoding": "gzip"})
        if r.header("Content-Encoding") != "gzip":
            return ["Content-Encoding %r, expected gzip (actix Compress "
                    "middleware, NOTES 1)" % r.header("Content-Encoding")]
        doc = json.loads(gzip.decompress(r.body))
        return envelope_errors(r.status, doc)
    t.check("GET /collections 200 (Accept-Encoding: gzip)", gzip_json)

    # wait=false create shows up later
    def c2_listed():
        deadline = time.time() + 180
        while time.time() < deadline:
            d = json.loads(request(p, "GET", "/collections/c2/snapshots").body)
            if d.get("result"):
                return d["result"]
            time.sleep(0.1)
        return []
    c2_snaps = []
    t.check("wait=false snapshot of c2 appears in the listing",
            lambda: c2_snaps.extend(c2_listed()) or expect(
                len(c2_snaps) == 1, "listing %r" % c2_snaps))

    # Recover
    src = sim.find_file(sname) if data else None
    snapdir = os.path.dirname(os.path.dirname(src)) if src else "/nonexistent"
    J("PUT", "/collections/c3/snapshots/recover", 200, p,
      json_body={"location": "file://" + (src or "/missing")},
      extra=lambda d: expect(d["result"] is True, "result %r" % d["result"]))
    J("POST", "/collections/c3/points/count", 200, p,
      json_body={"exact": True}, title="POST /collections/c3/points/count "
      "200 (recovered data)", extra=lambda d: expect(
          d["result"] == {"count": 5}, "result %r, expected count 5"
          % d["result"]))
    J("PUT", "/collections/c1/snapshots/recover", 200, p,
      json_body={"location": "file://" + (src or "/missing"),
                 "priority": "snapshot",
                 "checksum": snap.get("checksum", "0" * 64).upper()},
      title="PUT /collections/c1/snapshots/recover 200 (existing, "
      "checksum in upper case)")
    outside = os.path.join(scratch, "outside.snapshot")
    if data:
        with open(outside, "wb") as f:
            f.write(data)
    J("PUT", "/collections/c3/snapshots/recover", 403, p,
      json_body={"location": "file://" + outside},
      prefix="Forbidden: Snapshot file path must be inside the snapshots "
      "directory", title="PUT /collections/c3/snapshots/recover 403 "
      "(file outside the snapshots directory)")
    missing = os.path.join(snapdir, "c1", "missing.snapshot")
    J("PUT", "/collections/c3/snapshots/recover", 400, p,
      json_body={"location": "file://" + missing},
      text='Bad request: Snapshot file "%s" does not exist' % missing,
      title="PUT /collections/c3/snapshots/recover 400 (missing file)")
    J("PUT", "/collections/c3/snapshots/recover", 400, p,
      json_body={"location": "ftp://example.com/x.snapshot"},
      text="Bad request: URL ftp://example.com/x.snapshot with scheme ftp "
      "is not supported", title="PUT /collections/c3/snapshots/recover 400 "
      "(unknown scheme)")
    good = snap.get("checksum", "")
    J("PUT", "/collections/c3/snapshots/recover", 400, p,
      json_body={"location": "file://" + (src or "/missing"),
                 "checksum": "0" * 64},
      text="Wrong input: Snapshot checksum mismatch: expected %s, got %s"
      % ("0" * 64, good), title="PUT /collections/c3/snapshots/recover 400 "
      "(checksum mismatch)")
    J("PUT", "/collections/c3/snapshots/recover", 422, p,
      json_body={"location": "file://" + (src or "/missing"),
                 "checksum": "abc"},
      prefix="Validation error in JSON body: [checksum",
      title="PUT /collections/c3/snapshots/recover 422 (malformed checksum)")
    J("PUT", "/collections/c3/snapshots/recover?wait=false", 202, p,
      json_body={"location": "file://" + (src or "/missing")})
    url = "http://127.0.0.1:%d/collections/c1/snapshots/%s" % (p, sname)
    J("PUT", "/collections/c5/snapshots/recover", 200, p, timeout=120,
      json_body={"location": url}, title="PUT /collections/c5/snapshots/"
      "recover 200 (http:// location)")
    bad_url = "http://127.0.0.1:%d/collections/c1/snapshots/nope.snapshot" % p
    J("PUT", "/collections/c5/snapshots/recover", 400, p, timeout=120,
      json_body={"location": bad_url},
      text="Wrong input: Failed to download tar from %s: status - 404 "
      "Not Found" % bad_url, title="PUT /collections/c5/snapshots/recover "
      "400 (http 404)")
    J("PUT", "/collections/c2/snapshots/recover", 400, p,
      json_body={"location": "file://" + (src or "/missing")},
      prefix="Wrong input: Snapshot is not compatible with existing "
      "collection: ", title="PUT /collections/c2/snapshots/recover 400 "
      "(incompatible vectors)")

    # Upload
    up_name = "uploaded-c1.snapshot"
    mp, ctype = multipart(data or b"", up_name)
    J("POST", "/collections/c4/snapshots/upload", 200, p, body=mp,
      headers={"Content-Type": ctype}, extra=lambda d: expect(
          d["result"] is True, "result %r" % d["result"]))
    J("GET", "/collections/c4/snapshots", 200, p,
      title="GET /collections/c4/snapshots 200 (uploaded file listed "
      "without checksum)", extra=lambda d: (
          expect([x["name"] for x in d["result"]] == [up_name],
                 "names %r, expected [%r]"
                 % ([x.get("name") for x in d["result"]], up_name))
          + [e for x in d["result"] for e in
             snapshot_desc_errors(x, with_checksum=False)]))
    J("POST", "/collections/c4/points/count", 200, p,
      json_body={"exact": True}, title="POST /collections/c4/points/count "
      "200 (uploaded data)", extra=lambda d: expect(
          d["result"] == {"count": 5}, "result %r" % d["result"]))
    J("POST", "/collections/c4/snapshots/upload?checksum=%s" % ("0" * 64),
      400, p, body=mp, headers={"Content-Type": ctype},
      text="Checksum mismatch: expected %s, actual %s" % (good, "0" * 64),
      title="POST /collections/c4/snapshots/upload 400 (checksum mismatch)")
    J("POST", "/collections/c4/snapshots/upload?checksum=xyz", 422, p,
      body=mp, headers={"Content-Type": ctype},
      prefix="Validation error in query parameters: [checksum",
      title="POST /collections/c4/snapshots/upload 422 (malformed checksum)")
    J("POST", "/collections/c4/snapshots/upload?checksum=%s" % good, 200, p,
      body=mp, headers={"Content-Type": ctype},
      title="POST /collections/c4/snapshots/upload 200 (right checksum)")
    J("POST", "/collections/c4/snapshots/upload?wait=false", 202, p,
      body=mp, headers={"Content-Type": ctype})
    J("POST", "/collections/c4/snapshots/upload?priority=foo", 400, p,
      body=mp, headers={"Content-Type": ctype},
      prefix="Deserialize error in query parameters: ",
      title="POST /collections/c4/snapshots/upload 400 (unknown priority)")
    bad_mp, bad_ct = multipart(b"this is not a tar archive" * 40,
                               "damaged.snapshot")
    J("POST", "/collections/c1/snapshots/upload", 500, p, body=bad_mp,
      headers={"Content-Type": bad_ct}, prefix="Service internal error: ",
      title="POST /collections/c1/snapshots/upload 500 (not a tar)")
    J("POST", "/collections/c1/points/count", 200, p,
      json_body={"exact": True}, title="POST /collections/c1/points/count "
      "200 (untouched by the failed upload)", extra=lambda d: expect(
          d["result"] == {"count": 5}, "result %r" % d["result"]))

    # Two snapshots in one second share one name (NOTES 7.3)
    def same_second():
        for _attempt in range(50):
            # Start 50 ms into a second: time(2), which names snapshots in
            # a Python simulator, follows a coarse clock that lags by a tick.
            while not 0.05 < time.time() % 1 < 0.3:
                time.sleep(0.01)
            t0 = time.time()
            a = json.loads(request(p, "POST",
                                   "/collections/c3/snapshots").body)
            b = json.loads(request(p, "POST",
                                   "/collections/c3/snapshots").body)
            t1 = time.time()
            if int(t0) == int(t1):
                break  # both calls fell into one second
            time.sleep(0.2)
        else:
            return ["could not make two snapshot calls within one second "
                    "(last pair took %.2f s)" % (t1 - t0)]
        na, nb = res(a)["name"], res(b)["name"]
        lst = res(json.loads(request(p, "GET",
                                     "/collections/c3/snapshots").body))
        errs = expect(na == nb, "names %r and %r differ" % (na, nb))
        errs += expect([x["name"] for x in lst].count(nb) == 1,
                       "listing %r" % lst)
        return errs
    t.check("two snapshots of c3 in one second: same name, one entry",
            same_second)

    # Deleting a collection keeps its snapshot files, drops its aliases
    J("POST", "/collections/aliases", 200, p, json_body={"actions": [
        {"create_alias": {"collection_name": "c4", "alias_name": "a4"}}]},
      title="POST /collections/aliases 200 (a4 -> c4)")
    J("DELETE", "/collections/c4", 200, p)
    J("GET", "/aliases", 200, p, title="GET /aliases 200 (a4 dropped with "
      "c4)", extra=lambda d: expect(
          "a4" not in [a["alias_name"] for a in d["result"]["aliases"]],
          "aliases %r" % d["result"]["aliases"]))
    t.check("deleting c4 kept its snapshot file", lambda: expect(
        sim.find_file(up_name) is not None, "%s is gone" % up_name))

    # Delete collection snapshots
    c2name = c2_snaps[0]["name"] if c2_snaps else "missing.snapshot"
    J("DELETE", "/collections/c2/snapshots/%s?wait=false" % c2name, 202, p)
    J("DELETE", "/collections/c1/snapshots/%s" % sname, 200, p,
      extra=lambda d: expect(d["result"] is True, "result %r" % d["result"]))
    t.check("deleted snapshot and its .checksum are gone", lambda: (
        expect(src is not None and not os.path.exists(src),
               "%s still exists" % src)
        + expect(src is not None and not os.path.exists(src + ".checksum"),
                 "%s.checksum still exists" % src)))
    T("GET", "/collections/c1/snapshots/%s" % sname, 404, p,
      text="Not found: Snapshot %s not found" % sname,
      title="GET /collections/c1/snapshots/%s 404 (deleted)" % sname)

    # Shard snapshots
    sh = J("POST", "/collections/c1/shards/0/snapshots", 200, p,
           extra=lambda d: snapshot_desc_errors(d["result"],
                                                NAME_SHARD_RE % ("c1", 0)))
    sh = res(sh) or {}
    shname = sh.get("name", "missing.snapshot")
    J("GET", "/collections/c1/shards/0/snapshots", 200, p, extra=lambda d:
      expect([x for x in d["result"] if x.get("name") == shname] == [sh],
             "listing %r lacks %r" % (d["result"], sh)))
    shdata = t.download("/collections/c1/shards/0/snapshots/%s" % shname, p,
                        shname, sh.get("size"), sh.get("checksum"))
    if shdata and len(shdata) > 10:
        t.download("/collections/c1/shards/0/snapshots/%s" % shname, p,
                   shname, sh.get("size"), rng=(0, 9))

    def shard_tar():
        members, _ = tar_members(shdata)
        errs = []
        for f in ("replica_state.json", "shard_config.json"):
            if f not in members:
                errs.append("shard archive lacks %s at its root" % f)
        if not any(re.match(r"^segments/[0-9a-f-]{36}\.tar$", n)
                   for n in members):
            errs.append("shard archive has no segments/<uuid>.tar")
        if not any(n.startswith("wal/") for n in members):
            errs.append("shard archive has no wal/")
        if "config.json" in members:
            errs.append("shard archive has a collection config.json")
        return errs
    t.check("shard snapshot of c1/0: archive layout",
            lambda: shard_tar() if shdata else ["no shard snapshot"])
    T("GET", "/collections/c1/shards/0/snapshots/nope.snapshot", 404, p,
      text="File not found: No such file or directory (os error 2)",
      content_type="")
    T("GET", "/collections/c1/shards/99/snapshots/x.snapshot", 404, p,
      text="Not found: shard 99 not found")
    T("GET", "/collections/nope/shards/0/snapshots/x.snapshot", 404, p,
      text="Not found: Collection `nope` doesn't exist!")
    J("GET", "/collections/c1/shards/99/snapshots", 404, p,
      text="Not found: shard 99 not found")
    J("POST", "/collections/c1/shards/99/snapshots", 404, p,
      text="Not found: shard 99 not found")
    J("DELETE", "/collections/c1/shards/0/snapshots/nope.snapshot", 404, p,
      prefix="Not found: ")

    def stream_extra(r):
        errs = []
        cd = r.header("Content-Disposition") or ""
        m = re.match(r'^attachment; filename="(.*)"$', cd)
        if not m or not re.match(NAME_SHARD_RE % ("c1", 0), m.group(1)):
            errs.append("Content-Disposition %r" % cd)
        if r.header("Content-Length") is not None:
            errs.append("Content-Length %r present; the stream is chunked"
                        % r.header("Content-Length"))
        if not r.chunked:
            errs.append("not Transfer-Encoding: chunked")
        try:
            members, _ = tar_members(r.body)
            if "replica_state.json" not in members:
                errs.append("stream lacks replica_state.json")
            if not any(re.match(r"^segments/[0-9a-f-]{36}/", n)
                       for n in members):
                errs.append("stream lacks segments/<uuid>/ directories "
                            "(streamable layout)")
        except tarfile.TarError as e:
            errs.append("stream is not a tar: %s" % e)
        return errs
    T("GET", "/collections/c1/shards/0/snapshot", 200, p, content_type=
      "application/octet-stream", extra=stream_extra)
    T("GET", "/collections/c1/shards/99/snapshot", 404, p,
      text="Not found: shard 99 not found")

    shsrc = sim.find_file(shname) if shdata else None
    J("PUT", "/collections/c1/shards/0/snapshots/recover", 200, p,
      json_body={"location": shname}, extra=lambda d: expect(
          d["result"] is True, "result %r" % d["result"]),
      title="PUT /collections/c1/shards/0/snapshots/recover 200 "
      "(file name)")
    J("PUT", "/collections/c1/shards/0/snapshots/recover", 400, p,
      json_body={"location": "file://" + (shsrc or "/missing")},
      prefix="Wrong input: Invalid snapshot URL",
      title="PUT /collections/c1/shards/0/snapshots/recover 400 (file://)")
    J("PUT", "/collections/c1/shards/0/snapshots/recover", 400, p,
      json_body={"location": shname, "checksum": "f" * 64},
      text="Wrong input: Snapshot checksum mismatch: expected %s, got %s"
      % ("f" * 64, sh.get("checksum")),
      title="PUT /collections/c1/shards/0/snapshots/recover 400 "
      "(checksum mismatch)")
    J("PUT", "/collections/c1/shards/0/snapshots/recover?wait=false", 202,
      p, json_body={"location": shname})
    smp, sctype = multipart(shdata or b"", "shard0.snapshot")
    # openapi.json says boolean, but the handler returns Ok(()), which is
    # sent as null (src/actix/api/snapshot_api.rs, upload_shard_snapshot,
    # 1.11 to 1.19): Qdrant's source wins.
    J("POST", "/collections/c1/shards/0/snapshots/upload", 200, p, body=smp,
      headers={"Content-Type": sctype}, schema=SHARD_UPLOAD_SCHEMA,
      extra=lambda d: expect("result" in d and d["result"] is None,
                             "result %r" % d.get("result")))
    J("POST", "/collections/c1/shards/0/snapshots/upload?checksum=%s"
      % ("0" * 64), 400, p, body=smp, headers={"Content-Type": sctype},
      text="Checksum mismatch: expected %s, actual %s"
      % (sh.get("checksum"), "0" * 64),
      title="POST /collections/c1/shards/0/snapshots/upload 400 "
      "(checksum mismatch)")
    J("POST", "/collections/c1/shards/0/snapshots/upload?checksum=12", 422,
      p, body=smp, headers={"Content-Type": sctype},
      prefix="Validation error in query parameters: [checksum",
      title="POST /collections/c1/shards/0/snapshots/upload 422 "
      "(malformed checksum)")
    J("POST", "/collections/c1/shards/0/snapshots/upload?wait=false", 202,
      p, body=smp, headers={"Content-Type": sctype})
    J("POST", "/collections/c1/points/count", 200, p,
      json_body={"exact": True}, title="POST /collections/c1/points/count "
      "200 (after shard restores)", extra=lambda d: expect(
          d["result"] == {"count": 5}, "result %r" % d["result"]))
    J("DELETE", "/collections/c1/shards/0/snapshots/%s" % shname, 200, p,
      extra=lambda d: expect(d["result"] is True, "result %r" % d["result"]))
    time.sleep(1.05)  # a new name: never two snapshots in one second
    J("POST", "/collections/c1/shards/0/snapshots?wait=false", 202, p)
    J("DELETE", "/collections/c1/shards/0/snapshots/nope.snapshot"
      "?wait=false", 202, p)

    # An empty collection still has segments (NOTES 4.2, 5 step 4: a shard
    # without segments/ counts as "no data" on restore)
    J("PUT", "/collections/empty", 200, p,
      json_body={"vectors": {"size": 2, "distance": "Dot"}})
    J("GET", "/collections/empty", 200, p, extra=lambda d: expect(
        d["result"].get("segments_count", 0) >= 1,
        "segments_count %r, expected >= 1 for a new collection"
        % d["result"].get("segments_count")))
    esnap = res(J("POST", "/collections/empty/snapshots", 200, p)) or {}
    if esnap:
        edata = request(p, "GET", "/collections/empty/snapshots/%s"
                        % esnap["name"]).body
        t.check("snapshot of an empty collection: archive layout",
                lambda: collection_tar_errors(edata, [0], [0]))

    # Cluster (single node)
    J("GET", "/cluster", 200, p, extra=lambda d: expect(
        d["result"] == {"status": "disabled"}, "result %r" % d["result"]))
    J("GET", "/collections/c2/cluster", 200, p, extra=lambda d: (
        expect(sorted(s["shard_id"] for s in d["result"]["local_shards"])
               == [0, 1], "local shards %r" % d["result"]["local_shards"])
        + expect(d["result"]["remote_shards"] == [],
                 "remote_shards %r" % d["result"]["remote_shards"])
        + expect(d["result"]["shard_count"] == 2,
                 "shard_count %r" % d["result"]["shard_count"])
        + expect(all(s["state"] == "Active"
                     for s in d["result"]["local_shards"]),
                 "states %r" % d["result"]["local_shards"])))
    J("GET", "/collections/nope/cluster", 404, p,
      text="Not found: Collection `nope` doesn't exist!")

    # Telemetry and metrics (after snapshots, so the counters moved)
    J("GET", "/telemetry", 200, p, extra=lambda d: (
        expect(isinstance(d["result"].get("app"), dict)
               and d["result"]["app"].get("version") == VERSION,
               "app %r" % d["result"].get("app"))
        + expect(isinstance(d["result"]["collections"]
                            .get("number_of_collections"), int),
                 "collections %r" % d["result"]["collections"])))
    J("GET", "/telemetry?details_level=3", 200, p)
    T("GET", "/metrics", 200, p, content_type="text/plain*", contains=(
        'app_info{name="qdrant",version="%s"} 1' % VERSION,
        "collections_total ", "cluster_enabled 0",
        "snapshot_creation_running", "snapshot_recovery_running",
        "snapshot_created_total"))

    # Full snapshots (last: they consume collection snapshots of this second)
    time.sleep(1.05)
    c3_before = res(json.loads(request(p, "GET",
                                       "/collections/c3/snapshots").body))
    full = J("POST", "/snapshots", 200, p, extra=lambda d:
             snapshot_desc_errors(d["result"], NAME_FULL_RE))
    full = res(full) or {}
    fname = full.get("name", "missing.snapshot")
    J("GET", "/snapshots", 200, p, extra=lambda d: expect(
        [x for x in d["result"] if x.get("name") == fname] == [full],
        "listing %r lacks %r" % (d["result"], full)))
    fdata = t.download("/snapshots/%s" % fname, p, fname, full.get("size"),
                       full.get("checksum"))
    if fdata and len(fdata) > 2:
        t.download("/snapshots/%s" % fname, p, fname, full.get("size"),
                   rng=(1, 1))

    def full_tar():
        errs = []
        with tarfile.open(fileobj=io.BytesIO(fdata), mode="r:") as tf:
            names = {m.name for m in tf.getmembers()}
            cfg = json.loads(tf.extractfile("config.json").read())
        mapping = cfg.get("collections_mapping", {})
        for c in ("c1", "c2", "c3", "c5"):
            if c not in mapping:
                errs.append("collections_mapping lacks %s: %r" % (c, mapping))
            elif mapping[c] not in names:
                errs.append("member %r of %s missing" % (mapping[c], c))
            elif not re.match(NAME_COLL_RE % c, mapping[c]):
                errs.append("member name %r" % mapping[c])
        if cfg.get("collections_aliases") != {"a1": "c1"}:
            errs.append("collections_aliases %r, expected {'a1': 'c1'}"
                        % cfg.get("collections_aliases"))
        return errs
    J("GET", "/collections/c3/snapshots", 200, p,
      title="GET /collections/c3/snapshots 200 (unchanged by the full "
      "snapshot)", extra=lambda d: expect(
          sorted(x["name"] for x in d["result"])
          == sorted(x["name"] for x in c3_before or []),
          "before %r, after %r" % (c3_before, d["result"])))
    t.check("full snapshot: archive layout",
            lambda: full_tar() if fdata else ["no full snapshot"])
    J("DELETE", "/snapshots/%s" % fname, 200, p, extra=lambda d: expect(
        d["result"] is True, "result %r" % d["result"]))
    T("GET", "/snapshots/%s" % fname, 404, p,
      text="Not found: Snapshot %s not found" % fname,
      title="GET /snapshots/%s 404 (deleted)" % fname)
    J("DELETE", "/snapshots/nope.snapshot", 404, p,
      text="Not found: Snapshot nope.snapshot not found")
    J("POST", "/snapshots?wait=false", 202, p)

    def full_listed():
        deadline = time.time() + 8
        while time.time() < deadline:
            d = json.loads(request(p, "GET", "/snapshots").body)
            if d.get("result"):
                return expect(re.match(NAME_FULL_RE, d["result"][0]["name"]),
                              "name %r" % d["result"][0]["name"])
            time.sleep(0.1)
        return ["no full snapshot listed 8 s after the 202"]
    t.check("wait=false full snapshot appears in the listing", full_listed)
    J("DELETE", "/snapshots/nope.snapshot?wait=false", 202, p)


def cluster(t, sim):
    ports = sim.ports
    p = ports[0]
    J = t.json
    peers = {}
    for i, port in enumerate(ports):
        d = J("GET", "/cluster", 200, port,
              title="GET /cluster 200 (node %d of 3)" % (i + 1),
              extra=lambda d: (
                  expect(d["result"].get("status") == "enabled",
                         "status %r" % d["result"].get("status"))
                  + expect(len(d["result"].get("peers", {})) == 3,
                           "peers %r" % d["result"].get("peers"))
                  + expect(str(d["result"].get("peer_id"))
                           in d["result"].get("peers", {}),
                           "own peer_id not in peers")
                  + expect(all(str(v.get("uri", "")).startswith("http://")
                               for v in d["result"].get("peers", {})
                               .values()), "peer uris %r"
                           % d["result"].get("peers"))))
        if d:
            peers[i] = d["result"].get("peer_id")
    t.check("peer ids are distinct", lambda: expect(
        len(set(peers.values())) == 3, "peer ids %r" % peers))
    J("PUT", "/collections/dc", 200, p, json_body={
        "vectors": {"size": 2, "distance": "Dot"}, "shard_number": 6,
        "replication_factor": 1})
    J("PUT", "/collections/dc/points?wait=true", 200, p, json_body={
        "points": [{"id": i, "vector": [i, 1], "payload": {"i": i}}
                   for i in range(1, 41)]})
    local = {}
    for i, port in enumerate(ports):
        def ex(d, i=i):
            r = d["result"]
            local[i] = [s["shard_id"] for s in r["local_shards"]]
            return (expect(r["shard_count"] == 6, "shard_count %r"
                           % r["shard_count"])
                    + expect(r["peer_id"] == peers.get(i), "peer_id %r"
                             % r["peer_id"])
                    + expect(sorted(local[i] + [s["shard_id"] for s in
                                                r["remote_shards"]])
                             == list(range(6)),
                             "local %r + remote %r are not shards 0..5"
                             % (r["local_shards"], r["remote_shards"]))
                    + expect(all(s["peer_id"] in peers.values()
                                 and s["peer_id"] != peers.get(i)
                                 for s in r["remote_shards"]),
                             "remote shards on unknown peers: %r"
                             % r["remote_shards"]))
        J("GET", "/collections/dc/cluster", 200, port, extra=ex,
          title="GET /collections/dc/cluster 200 (node %d of 3)" % (i + 1))
    t.check("every shard is local on exactly one node", lambda: expect(
        sorted(s for v in local.values() for s in v) == list(range(6)),
        "local shards per node %r" % local))
    J("POST", "/collections/dc/points/count", 200, ports[1],
      json_body={"exact": True}, title="POST /collections/dc/points/count "
      "200 (node 2 sees all points)", extra=lambda d: expect(
          d["result"] == {"count": 40}, "result %r" % d["result"]))
    mine = local.get(0) or []
    other = [s for s in range(6) if s not in mine]
    snap = J("POST", "/collections/dc/snapshots", 200, p,
             title="POST /collections/dc/snapshots 200 (node 1)",
             extra=lambda d: snapshot_desc_errors(d["result"],
                                                  NAME_COLL_RE % "dc"))
    snap = res(snap) or {}
    if snap:
        data = t.download("/collections/dc/snapshots/%s" % snap["name"], p,
                          snap["name"], snap.get("size"),
                          snap.get("checksum"))
        if data:
            CLUSTER_SNAPSHOT.append(data)
        t.check("node 1's collection snapshot holds only its local shards",
                lambda: collection_tar_errors(data, range(6), mine)
                if data else ["no snapshot downloaded"])
    if other:
        J("POST", "/collections/dc/shards/%d/snapshots" % other[0], 400, p,
          text="Wrong input: Shard %d is not a local or queue proxy shard"
          % other[0], title="POST /collections/dc/shards/%d/snapshots 400 "
          "(not local on node 1)" % other[0])
    else:
        t.emit("node 1 has a non-local shard of dc", ["local %r" % local])
    if mine:
        J("POST", "/collections/dc/shards/%d/snapshots" % mine[0], 200, p,
          title="POST /collections/dc/shards/%d/snapshots 200 (local)"
          % mine[0], extra=lambda d: snapshot_desc_errors(
              d["result"], NAME_SHARD_RE % ("dc", mine[0])))


def auth(t, sim):
    p = sim.ports[0]
    J, T = t.json, t.text
    rw = {"api-key": API_KEY}
    ro = {"api-key": RO_KEY}
    T("GET", "/collections", 401, p, content_type="absent-or-text",
      text="Must provide an API key or an Authorization bearer token",
      title="GET /collections 401 (no key)")
    T("GET", "/collections", 401, p, headers={"api-key": "wrong"},
      content_type="absent-or-text", text="Invalid API key or JWT",
      title="GET /collections 401 (wrong key)")
    T("GET", "/collections", 401, p,
      headers={"Authorization": "Bearer wrong"},
      content_type="absent-or-text", text="Invalid API key or JWT",
      title="GET /collections 401 (wrong bearer)")
    J("GET", "/", 200, p, envelope=False, title="GET / 200 (no key)")
    T("GET", "/healthz", 200, p, text="healthz check passed",
      content_type="text/plain*", title="GET /healthz 200 (no key)")
    J("GET", "/collections", 200, p,
      headers={"Authorization": "Bearer " + API_KEY},
      title="GET /collections 200 (bearer)")
    J("PUT", "/collections/k1", 200, p, headers=rw,
      json_body={"vectors": {"size": 2, "distance": "Cosine"}})
    J("PUT", "/collections/k1/points?wait=true", 200, p, headers=rw,
      json_body={"points": [{"id": 1, "vector": [1, 0]}]})
    snap = res(J("POST", "/collections/k1/snapshots", 200, p,
                 headers=rw)) or {}
    name = snap.get("name", "missing.snapshot")
    J("GET", "/collections", 200, p, headers=ro,
      title="GET /collections 200 (read-only key)")
    J("GET", "/collections/k1/snapshots", 200, p, headers=ro,
      title="GET /collections/k1/snapshots 200 (read-only key)")
    t.download("/collections/k1/snapshots/%s" % name, p, name,
               snap.get("size"), snap.get("checksum"), headers=ro,
               title="GET /collections/k1/snapshots/%s 200 (read-only key)"
               % name)
    T("GET", "/collections/k1/snapshots/%s" % name, 401, p,
      content_type="absent-or-text",
      text="Must provide an API key or an Authorization bearer token",
      title="GET /collections/k1/snapshots/%s 401 (no key)" % name)
    J("GET", "/telemetry", 200, p, headers=ro,
      title="GET /telemetry 200 (read-only key)")
    T("GET", "/metrics", 200, p, headers=ro, content_type="text/plain*",
      title="GET /metrics 200 (read-only key)")
    T("GET", "/metrics", 401, p, content_type="absent-or-text",
      text="Must provide an API key or an Authorization bearer token",
      title="GET /metrics 401 (no key)")
    J("GET", "/cluster", 200, p, headers={"Authorization": "Bearer " + RO_KEY},
      title="GET /cluster 200 (read-only key as bearer)")
    J("GET", "/collections/k1/cluster", 200, p, headers=ro,
      title="GET /collections/k1/cluster 200 (read-only key)")
    J("GET", "/snapshots", 200, p, headers=ro,
      title="GET /snapshots 200 (read-only key)")
    sh = res(J("POST", "/collections/k1/shards/0/snapshots", 200, p,
               headers=rw)) or {}
    shn = sh.get("name", "missing.snapshot")
    t.download("/collections/k1/shards/0/snapshots/%s" % shn, p, shn,
               sh.get("size"), sh.get("checksum"), headers=ro,
               title="GET /collections/k1/shards/0/snapshots/%s 200 "
               "(read-only key)" % shn)
    forbidden = "Forbidden: Global manage access is required"
    J("POST", "/collections/k1/snapshots", 403, p, headers=ro,
      text=forbidden, title="POST /collections/k1/snapshots 403 "
      "(read-only key)")
    J("POST", "/snapshots", 403, p, headers=ro, text=forbidden,
      title="POST /snapshots 403 (read-only key)")
    J("PUT", "/collections/k2", 403, p, headers=ro, text=forbidden,
      json_body={"vectors": {"size": 2, "distance": "Cosine"}},
      title="PUT /collections/k2 403 (read-only key)")
    J("DELETE", "/collections/k1/snapshots/%s" % name, 403, p, headers=ro,
      text=forbidden, title="DELETE /collections/k1/snapshots/%s 403 "
      "(read-only key)" % name)
    J("PUT", "/collections/k1/snapshots/recover", 403, p, headers=ro,
      json_body={"location": "http://127.0.0.1:1/x.snapshot"},
      text=forbidden, title="PUT /collections/k1/snapshots/recover 403 "
      "(read-only key)")
    mp, ctype = multipart(b"not a tar", "x.snapshot")
    T("POST", "/collections/k1/snapshots/upload", 403, p, text=forbidden,
      headers=dict(ro, **{"Content-Type": ctype}), body=mp,
      title="POST /collections/k1/snapshots/upload 403 (read-only key, "
      "plain text)")
    T("GET", "/collections/k1/shards/0/snapshot", 403, p, headers=ro,
      text=forbidden, title="GET /collections/k1/shards/0/snapshot 403 "
      "(read-only key, plain text)")
    T("POST", "/collections/k1/snapshots/upload", 401, p,
      content_type="absent-or-text",
      text="Must provide an API key or an Authorization bearer token",
      headers={"Content-Type": ctype}, body=mp,
      title="POST /collections/k1/snapshots/upload 401 (no key)")
    if CLUSTER_SNAPSHOT:
        cmp_, cct = multipart(CLUSTER_SNAPSHOT[0], "from-cluster.snapshot")
        J("POST", "/collections/dcx/snapshots/upload", 500, p, body=cmp_,
          headers=dict(rw, **{"Content-Type": cct}),
          prefix="Service internal error: Can't restore snapshot in local "
          "mode with missing data at shard",
          title="POST /collections/dcx/snapshots/upload 500 (cluster "
          "node's snapshot lacks shards)")


def main():
    spec = openapi_check.load_spec()
    t = Runner(spec)
    print("# t0002-conformance: the simulator against openapi.json and "
          "NOTES.md")
    scratch = tempfile.mkdtemp(prefix="qbk-t0002-")
    sims = []
    started = time.time()
    ok = False

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    try:
        if not os.path.exists(SIM):
            t.emit("simulator exists", ["%s is missing" % SIM])
        else:
            for label, fn, args, nodes in (
                    ("single", lambda s: single_node(t, s, scratch), (), 1),
                    ("cluster", lambda s: cluster(t, s), (), 3),
                    ("auth", lambda s: auth(t, s),
                     ("--api-key", API_KEY, "--read-only-api-key", RO_KEY),
                     1)):
                sim = Sim(scratch, label, args, nodes)
                sims.append(sim)
                try:
                    sim.wait_ready()
                except Fail as e:
                    t.emit("start the %s simulator" % label, [str(e)])
                    continue
                print("# %s simulator on port(s) %s" % (
                    label, ",".join(map(str, sim.ports))))
                try:
                    fn(sim)
                except Exception as e:  # noqa: BLE001
                    import traceback
                    t.emit("%s checks ran to the end" % label,
                           ["%s: %s" % (type(e).__name__, e)]
                           + traceback.format_exc().splitlines())
                sim.stop()
        ok = t.failed == 0
    except KeyboardInterrupt:
        print("# interrupted")
    finally:
        for sim in sims:
            try:
                sim.stop()
            except Exception:  # noqa: BLE001
                pass
        if not ok:
            for sim in sims:
                tail = sim.log_tail(25).strip()
                if not tail:
                    continue
                print("# --- log of the %s simulator (tail) ---"
                      % os.path.basename(sim.dir))
                for line in tail.splitlines():
                    print("#   " + line)
        print("1..%d" % t.n)
        print("# %d of %d failed, %.1f s" % (t.failed, t.n,
                                             time.time() - started))
        if ok and os.environ.get("QBK_TEST_KEEP") != "1":
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print("# scratch folder kept: %s" % scratch)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
