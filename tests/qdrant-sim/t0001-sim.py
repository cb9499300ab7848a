#!/usr/bin/env python3
"""t0001-sim: tests of the Qdrant simulator itself (TAP output).

Starts tests/qdrant-sim/qdrant-sim.py (a single node with API keys, and a
3-node cluster) on free loopback ports in a temp folder, exercises the REST
API, snapshot formats, recovery, faults and cluster behaviour, and stops
every simulator it started, also on failure.
"""

import hashlib
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "qdrant-sim.py")
KEY = "test-key-rw"
# How long a test waits for the simulator to reach a state that background
# work (a re-sync, an asynchronous snapshot or upload) brings about: only a
# bound for a simulator that never gets there, so generous enough that a
# machine under any load reaches the state long before.
SETTLE = 180
RO_KEY = "test-key-ro"

TESTS = []


def test(title):
    def deco(fn):
        TESTS.append((title, fn))
        return fn
    return deco


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(a, b, what):
    if a != b:
        raise Fail("%s: expected %r, got %r" % (what, b, a))


# ---------------------------------------------------------------- sims

class Sim:
    def __init__(self, tmp, name, nodes=1, keys=True, extra=()):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.storage = os.path.join(self.dir, "storage")
        self.nodes = nodes
        self.keys = keys
        self.extra = list(extra)
        self.proc = None
        self.ports = []

    def start(self, timeout=30):
        pf = os.path.join(self.dir, "ports")
        if os.path.exists(pf):
            os.unlink(pf)
        args = [sys.executable, SIM, "--port", "0", "--storage", self.storage,
                "--port-file", pf, "--nodes", str(self.nodes),
                "--resync-delay", "0.1"] + self.extra
        if self.keys:
            args += ["--api-key", KEY, "--read-only-api-key", RO_KEY]
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        t0 = time.time()
        while not os.path.exists(pf):
            if self.proc.poll() is not None:
                raise Fail("simulator exited with %d" % self.proc.returncode)
            if time.time() - t0 > timeout:
                raise Fail("simulator did not write its port file")
            time.sleep(0.05)
        with open(pf) as f:
            self.ports = [int(x) for x in f.read().split()]
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def snapdir(self, node=1):
        return os.path.join(self.storage, "node-%d" % node, "snapshots")

    # requests
    def req(self, method, path, body=None, node=1, key=True, headers=None,
            raw=False, timeout=30):
        h = {}
        if key is True and self.keys:
            h["api-key"] = KEY
        elif isinstance(key, str):
            h["api-key"] = key
        if headers:
            h.update(headers)
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            else:
                data = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.ports[node - 1],
                                       timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            return r.status, hdrs, payload
        finally:
            c.close()

    def j(self, method, path, body=None, expect=200, **kw):
        st, h, b = self.req(method, path, body, **kw)
        if expect is not None and st != expect:
            raise Fail("%s %s: HTTP %d (expected %d): %r"
                       % (method, path, st, expect, b[:300]))
        try:
            return json.loads(b) if b else None
        except ValueError:
            raise Fail("%s %s: not JSON: %r" % (method, path, b[:200]))

    def r(self, method, path, body=None, **kw):
        return self.j(method, path, body, **kw)["result"]


def multipart(field, filename, data, boundary=None):
    boundary = boundary or "----qsimtest" + uuid.uuid4().hex
    head = ('--%s\r\nContent-Disposition: form-data; name="%s"; '
            'filename="%s"\r\nContent-Type: application/octet-stream\r\n\r\n'
            % (boundary, field, filename)).encode()
    body = head + data + ("\r\n--%s--\r\n" % boundary).encode()
    return body, "multipart/form-data; boundary=%s" % boundary


def upload(sim, path, data, filename="up.snapshot", query="", node=1,
           key=True):
    body, ctype = multipart("snapshot", filename, data)
    return sim.req("POST", path + query, body, node=node, key=key,
                   headers={"Content-Type": ctype})


def sha(b):
    return hashlib.sha256(b).hexdigest()


def all_points(sim, coll, node=1):
    out = {}
    off = None
    while True:
        body = {"limit": 97, "with_payload": True, "with_vector": True}
        if off is not None:
            body["offset"] = off
        r = sim.r("POST", "/collections/%s/points/scroll" % coll, body,
                  node=node)
        for p in r["points"]:
            out[json.dumps(p["id"])] = (p.get("payload"), p.get("vector"))
        off = r["next_page_offset"]
        if off is None:
            return out


def make_points(n, dim, seed=1, start=1, uuids=0):
    rnd = random.Random(seed)
    pts = []
    for i in range(n):
        pid = start + i
        if i >= n - uuids:
            pid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        pts.append({"id": pid,
                    "vector": [round(rnd.uniform(-1, 1), 4)
                               for _ in range(dim)],
                    "payload": {"n": i, "cat": "c%d" % (i % 3),
                                "txt": "point %d" % i}})
    return pts


def tar_members(data):
    t = tarfile.open(fileobj=io.BytesIO(data))
    return t, {m.name: m for m in t.getmembers()}


def snapshot(sim, coll, node=1):
    d = sim.r("POST", "/collections/%s/snapshots" % coll, node=node)
    st, h, b = sim.req("GET", "/collections/%s/snapshots/%s"
                       % (coll, d["name"]), node=node)
    eq(st, 200, "download status")
    return d, b


# ---------------------------------------------------------------- state

TMP = tempfile.mkdtemp(prefix="qsim-t0001-")
S = Sim(TMP, "single")
C = Sim(TMP, "cluster", nodes=3, keys=False,
        extra=["--generate", "gen:500:8:3"])
STATE = {}


# ---------------------------------------------------------------- tests

@test("single-node simulator starts and writes its port file")
def t_start():
    S.start()
    eq(len(S.ports), 1, "port lines")
    st, h, b = S.req("GET", "/", key=False)
    eq(st, 200, "GET /")
    d = json.loads(b)
    eq(d["version"], "1.19.0", "version")
    eq(d["title"], "qdrant - vector search engine", "title")


@test("service endpoints, 404 with empty body, trailing slash trimmed")
def t_service():
    for p, txt in (("/healthz", b"healthz check passed"),
                   ("/livez", b"healthz check passed"),
                   ("/readyz", b"all shards are ready")):
        st, h, b = S.req("GET", p, key=False)
        eq((st, b), (200, txt), p)
        check(h["content-type"].startswith("text/plain"), p + " type")
    st, h, b = S.req("GET", "/no/such/route")
    eq((st, b), (404, b""), "unknown route")
    st, h, b = S.req("HEAD", "/collections")
    eq(st, 404, "HEAD is not routed")
    eq(S.r("GET", "/collections/"), {"collections": []}, "trailing slash")
    eq(S.r("GET", "/cluster"), {"status": "disabled"}, "/cluster single")
    t = S.r("GET", "/telemetry")
    eq(t["app"]["version"], "1.19.0", "telemetry version")
    st, h, b = S.req("GET", "/metrics")
    check(b'app_info{name="qdrant",version="1.19.0"} 1' in b, "metrics")


@test("api-key: missing/wrong key 401 plain text, bearer accepted")
def t_auth():
    st, h, b = S.req("GET", "/collections", key=False)
    eq((st, b), (401, b"Must provide an API key or an Authorization bearer "
                      b"token"), "no key")
    check(h["content-type"].startswith("text/plain"), "401 is plain text")
    st, h, b = S.req("GET", "/collections", key="nope")
    eq((st, b), (401, b"Invalid API key or JWT"), "wrong key")
    st, h, b = S.req("GET", "/collections", key=False,
                     headers={"Authorization": "Bearer " + KEY})
    eq(st, 200, "bearer")
    st, h, b = S.req("GET", "/collections", key=False,
                     headers={"Authorization": "Bearer " + RO_KEY})
    eq(st, 200, "bearer read-only")


@test("collections: create, info, exists, list, 409, 404, delete")
def t_collections():
    body = {"vectors": {"size": 4, "distance": "Cosine"}}
    eq(S.r("PUT", "/collections/c1", body), True, "create")
    j = S.j("PUT", "/collections/c1", body, expect=409)
    eq(j["status"]["error"], "Wrong input: Collection `c1` already exists!",
       "409 text")
    info = S.r("GET", "/collections/c1")
    for k in ("status", "optimizer_status", "points_count",
              "indexed_vectors_count", "segments_count", "config",
              "payload_schema"):
        check(k in info, "info has " + k)
    eq(info["status"], "green", "status")
    p = info["config"]["params"]
    eq(p["vectors"], {"size": 4, "distance": "Cosine"}, "vectors")
    eq((p["shard_number"], p["replication_factor"]), (1, 1), "shards")
    for k in ("hnsw_config", "optimizer_config", "wal_config",
              "quantization_config"):
        check(k in info["config"], "config has " + k)
    eq(S.r("GET", "/collections/c1/exists"), {"exists": True}, "exists")
    eq(S.r("GET", "/collections/zz/exists"), {"exists": False}, "not exists")
    j = S.j("GET", "/collections/zz", expect=404)
    eq(j["status"]["error"], "Not found: Collection `zz` doesn't exist!",
       "404 text")
    check("result" not in j and "time" in j, "error envelope")
    S.r("PUT", "/collections/named", {"vectors": {
        "a": {"size": 3, "distance": "Dot"},
        "b": {"size": 2, "distance": "Euclid"}}})
    names = [c["name"] for c in S.r("GET", "/collections")["collections"]]
    eq(sorted(names), ["c1", "named"], "list")
    eq(S.r("DELETE", "/collections/named"), True, "delete")
    eq(S.r("DELETE", "/collections/named"), False, "delete missing")


@test("points: upsert (list, batch, uuid ids), scroll order and pages")
def t_points():
    pts = make_points(25, 4, seed=2, uuids=5)
    r = S.r("PUT", "/collections/c1/points?wait=true", {"points": pts[:20]})
    eq(r["status"], "completed", "upsert status")
    r = S.r("PUT", "/collections/c1/points", {"batch": {
        "ids": [p["id"] for p in pts[20:]],
        "vectors": [p["vector"] for p in pts[20:]],
        "payloads": [p["payload"] for p in pts[20:]]}})
    eq(r["status"], "acknowledged", "wait=false status")
    r = S.r("POST", "/collections/c1/points/scroll", {"limit": 7})
    eq([p["id"] for p in r["points"]], list(range(1, 8)), "first page")
    eq(r["next_page_offset"], 8, "next offset")
    check("vector" not in r["points"][0], "no vector by default")
    check("payload" in r["points"][0], "payload by default")
    got = all_points(S, "c1")
    eq(len(got), 25, "all points")
    ids = [json.loads(k) for k in got]
    ints = [i for i in ids if isinstance(i, int)]
    uus = [i for i in ids if isinstance(i, str)]
    eq(ids, ints + sorted(uus, key=lambda s: uuid.UUID(s).int),
       "ints then uuids")
    v = got["1"][1]
    n = sum(x * x for x in v) ** 0.5
    check(abs(n - 1) < 1e-5, "cosine vectors are stored normalized")
    eq(got["1"][0], pts[0]["payload"], "payload round trip")
    j = S.j("POST", "/collections/c1/points/scroll", {"limit": 0},
            expect=400)
    eq(j["status"]["error"], "Bad request: Limit cannot be 0", "limit 0")
    r = S.r("POST", "/collections/c1/points/scroll", {
        "filter": {"must": [{"key": "cat", "match": {"value": "c1"}}]},
        "limit": 100})
    eq(sorted(p["payload"]["n"] for p in r["points"]),
       [i for i in range(25) if i % 3 == 1], "filter match")
    r = S.r("POST", "/collections/c1/points/scroll", {
        "filter": {"must": [{"has_id": [3, 5]}]}, "with_payload": False})
    eq([p["id"] for p in r["points"]], [3, 5], "has_id")
    check("payload" not in r["points"][0], "with_payload false")
    j = S.j("PUT", "/collections/c1/points", {"points": [
        {"id": 99, "vector": [1, 2, 3]}]}, expect=400)
    eq(j["status"]["error"], "Wrong input: Vector dimension error: expected "
       "dim: 4, got 3", "dim error")


@test("points: count, retrieve, get by id, delete by ids and filter")
def t_points2():
    eq(S.r("POST", "/collections/c1/points/count", {"exact": True}),
       {"count": 25}, "count")
    eq(S.r("POST", "/collections/c1/points/count", {"filter": {"must": [
        {"key": "cat", "match": {"any": ["c0", "c2"]}}]}})["count"],
       len([i for i in range(25) if i % 3 != 1]), "count filter")
    r = S.r("POST", "/collections/c1/points", {"ids": [2, 1, 777],
                                               "with_vector": True})
    eq([p["id"] for p in r], [2, 1], "retrieve")
    check(len(r[0]["vector"]) == 4, "retrieve vector")
    r = S.r("GET", "/collections/c1/points/3")
    eq(r["id"], 3, "get point")
    j = S.j("GET", "/collections/c1/points/777", expect=404)
    eq(j["status"]["error"], "Not found: No point with id 777 found",
       "missing point")
    S.r("POST", "/collections/c1/points/delete?wait=true",
        {"points": [1, 2]})
    S.r("POST", "/collections/c1/points/delete?wait=true",
        {"filter": {"must": [{"key": "n", "match": {"value": 10}}]}})
    eq(S.r("POST", "/collections/c1/points/count", {})["count"], 22,
       "count after delete")
    S.r("PUT", "/collections/c1/points?wait=true",
        {"points": make_points(25, 4, seed=2, uuids=5)[:2]})
    eq(S.r("POST", "/collections/c1/points/count", {})["count"], 24,
       "re-upsert")


@test("search and query: brute force, all four distances")
def t_search():
    vecs = {1: [1, 0], 2: [0, 1], 3: [1, 1], 4: [-1, 0], 5: [3, 3]}
    for dist, q, want in (("Cosine", [1, 0.1], [1, 3, 5]),
                          ("Dot", [1, 0], [5, 1, 3]),
                          ("Euclid", [0.9, 0.1], [1, 3, 2]),
                          ("Manhattan", [0, 1.2], [2, 3, 1])):
        name = "s" + dist.lower()
        S.r("PUT", "/collections/" + name,
            {"vectors": {"size": 2, "distance": dist}})
        S.r("PUT", "/collections/%s/points?wait=true" % name, {"points": [
            {"id": i, "vector": v, "payload": {"i": i}}
            for i, v in vecs.items()]})
        r = S.r("POST", "/collections/%s/points/search" % name,
                {"vector": q, "limit": 3, "with_payload": True})
        eq([p["id"] for p in r], want, dist + " search")
        check(all("score" in p and "version" in p for p in r), "scored")
        r = S.r("POST", "/collections/%s/points/query" % name,
                {"query": q, "limit": 3})
        eq([p["id"] for p in r["points"]], want, dist + " query")
        S.r("DELETE", "/collections/" + name)


@test("query sample random: distinct points from the whole collection")
def t_sample():
    S.r("PUT", "/collections/smp", {"vectors": {"size": 2,
                                                "distance": "Dot"}})
    S.r("PUT", "/collections/smp/points?wait=true", {"points": [
        {"id": i, "vector": [i, 1], "payload": {"i": i}}
        for i in range(200)]})
    seen = set()
    for _ in range(10):
        r = S.r("POST", "/collections/smp/points/query",
                {"query": {"sample": "random"}, "limit": 20,
                 "with_payload": True, "with_vector": True})
        ids = [p["id"] for p in r["points"]]
        eq(len(ids), 20, "limit respected")
        eq(len(set(ids)), 20, "no point twice")
        check(all(p["payload"] == {"i": p["id"]} and
                  p["vector"] == [p["id"], 1] for p in r["points"]),
              "records whole")
        seen.update(ids)
    check(max(seen) >= 100, "points beyond the first ones drawn")
    r = S.r("POST", "/collections/smp/points/query",
            {"query": {"sample": "random"}, "limit": 500})
    eq(len(r["points"]), 200, "a limit above the count gives every point")
    j = S.j("POST", "/collections/smp/points/query",
            {"query": {"sample": "first"}}, expect=400)
    check(j["status"]["error"].startswith("Format error in JSON body"),
          "unknown sample variant")
    S.r("DELETE", "/collections/smp")


@test("aliases: create, list, rename, delete, atomic batch, via alias")
def t_aliases():
    eq(S.r("POST", "/collections/aliases", {"actions": [
        {"create_alias": {"collection_name": "c1", "alias_name": "a1"}}]}),
       True, "create alias")
    eq(S.r("GET", "/aliases"), {"aliases": [
        {"alias_name": "a1", "collection_name": "c1"}]}, "list")
    eq(S.r("GET", "/collections/c1/aliases")["aliases"][0]["alias_name"],
       "a1", "collection aliases")
    eq(S.r("GET", "/collections/a1")["points_count"], 24, "info via alias")
    eq(S.r("POST", "/collections/a1/points/count", {})["count"], 24,
       "points via alias")
    j = S.j("POST", "/collections/aliases", {"actions": [
        {"rename_alias": {"old_alias_name": "a1", "new_alias_name": "a2"}},
        {"create_alias": {"collection_name": "nope", "alias_name": "a3"}}]},
        expect=404)
    check("nope" in j["status"]["error"], "404 text names the collection")
    eq([a["alias_name"] for a in S.r("GET", "/aliases")["aliases"]], ["a1"],
       "batch is atomic")
    S.j("POST", "/collections/aliases", {"actions": [
        {"create_alias": {"collection_name": "c1", "alias_name": "c1"}}]},
        expect=409)
    S.r("POST", "/collections/aliases", {"actions": [
        {"rename_alias": {"old_alias_name": "a1", "new_alias_name": "a2"}}]})
    eq([a["alias_name"] for a in S.r("GET", "/aliases")["aliases"]], ["a2"],
       "renamed")
    S.r("POST", "/collections/aliases", {"actions": [
        {"delete_alias": {"alias_name": "a2"}}]})
    eq(S.r("GET", "/aliases"), {"aliases": []}, "deleted")


@test("read-only key: reads, lists and downloads; writes are 403")
def t_readonly():
    d = S.r("POST", "/collections/c1/snapshots")
    STATE["c1_snap"] = d
    ro = {"key": RO_KEY}
    S.r("GET", "/collections", **ro)
    S.r("POST", "/collections/c1/points/scroll", {}, **ro)
    S.r("GET", "/collections/c1/snapshots", **ro)
    st, h, b = S.req("GET", "/collections/c1/snapshots/" + d["name"], **ro)
    eq(st, 200, "read-only download")
    for m, p, body in (("POST", "/collections/c1/snapshots", None),
                       ("DELETE", "/collections/c1/snapshots/" + d["name"],
                        None),
                       ("PUT", "/collections/c1/snapshots/recover",
                        {"location": "file:///x"}),
                       ("PUT", "/collections/ro", {"vectors": {
                           "size": 2, "distance": "Dot"}}),
                       ("DELETE", "/collections/c1", None),
                       ("PUT", "/collections/c1/points", {"points": []}),
                       ("POST", "/snapshots", None)):
        j = S.j(m, p, body, expect=403, **ro)
        eq(j["status"]["error"], "Forbidden: Global manage access is "
           "required", "%s %s" % (m, p))
    st, h, b = upload(S, "/collections/c1/snapshots/upload", b"x" * 10,
                      key=RO_KEY)
    eq((st, b), (403, b"Forbidden: Global manage access is required"),
       "upload read-only is plain text")
    check(h["content-type"].startswith("text/plain"), "upload 403 plain")
    # refused before the body is read: no "100 Continue", body never sent
    c = socket.create_connection(("127.0.0.1", S.ports[0]), timeout=10)
    c.sendall(("POST /collections/c1/snapshots/upload HTTP/1.1\r\nHost: x\r\n"
               "api-key: %s\r\nContent-Type: multipart/form-data; "
               "boundary=b\r\nContent-Length: 100000000\r\n"
               "Expect: 100-continue\r\n\r\n" % RO_KEY).encode())
    first = c.recv(4096)
    c.close()
    check(first.startswith(b"HTTP/1.1 403"), "403 before 100-continue: %r"
          % first[:40])


@test("collection snapshot: list, download headers, checksum, Range, 304")
def t_snapshot_download():
    d = STATE["c1_snap"]
    name = d["name"]
    check(name.startswith("c1-") and name.endswith(".snapshot"), "name")
    parts = name[:-len(".snapshot")].split("-")
    check(parts[1].isdigit() and len(parts) == 8, "name has peer id/date")
    lst = S.r("GET", "/collections/c1/snapshots")
    eq([x["name"] for x in lst], [name], "listed")
    eq(set(lst[0]), {"name", "creation_time", "size", "checksum"}, "keys")
    st, h, b = S.req("GET", "/collections/c1/snapshots/" + name)
    eq(h["content-type"], "application/octet-stream", "content type")
    eq(h["content-disposition"], 'attachment; filename="%s"' % name,
       "disposition")
    eq(int(h["content-length"]), len(b), "content length")
    eq(h["accept-ranges"], "bytes", "accept ranges")
    check("etag" in h and "last-modified" in h, "etag/last-modified")
    eq(d["size"], len(b), "size")
    eq(d["checksum"], sha(b), "checksum = sha256 of download")
    with open(os.path.join(S.snapdir(), "c1", name + ".checksum")) as f:
        eq(f.read(), sha(b), "side file")
    st, h2, part = S.req("GET", "/collections/c1/snapshots/" + name,
                         headers={"Range": "bytes=100-1123"})
    eq((st, part), (206, b[100:1124]), "range")
    eq(h2["content-range"], "bytes 100-1123/%d" % len(b), "content-range")
    st, h2, part = S.req("GET", "/collections/c1/snapshots/" + name,
                         headers={"Range": "bytes=-10"})
    eq((st, part), (206, b[-10:]), "suffix range")
    st, h2, part = S.req("GET", "/collections/c1/snapshots/" + name,
                         headers={"Range": "bytes=%d-" % (len(b) + 5)})
    eq(st, 416, "unsatisfiable")
    st, h2, part = S.req("GET", "/collections/c1/snapshots/" + name,
                         headers={"If-None-Match": h["etag"]})
    eq((st, part), (304, b""), "If-None-Match")
    st, h2, part = S.req("GET", "/collections/c1/snapshots/" + name,
                         headers={"Accept-Encoding": "gzip"})
    eq((st, h2.get("content-encoding"), h2.get("transfer-encoding")),
       (200, "gzip", "chunked"), "gzip download")
    import gzip
    eq(gzip.decompress(part), b, "gzip body")
    st, h2, part = S.req("GET", "/collections/c1/snapshots/nope.snapshot")
    eq((st, part), (404, b"Not found: Snapshot nope.snapshot not found"),
       "missing snapshot is plain text")
    st, h2, part = S.req("GET", "/collections/zz/snapshots/x.snapshot")
    eq((st, part), (404, b"Not found: Collection `zz` doesn't exist!"),
       "missing collection")
    st, h2, part = S.req("GET", "/collections/c1/snapshots/..%2Fc1")
    eq(st, 404, "path traversal")
    STATE["c1_bytes"] = b


@test("snapshot: wait=false 202, same-second collision, delete + in-flight")
def t_snapshot_async():
    # leave the second in which STATE["c1_snap"] was made (same names)
    time.sleep(1.02 - time.time() % 1)

    def created():
        for s in S.r("GET", "/telemetry")["collections"]["snapshots"]:
            if s["id"] == "c1":
                return s["total_snapshot_creations"]
    n0 = created()
    j = S.j("POST", "/collections/c1/snapshots?wait=false", expect=202)
    eq(set(j), {"status", "time"}, "202 body")
    eq(j["status"], "accepted", "accepted")
    j = S.j("POST", "/collections/zz/snapshots?wait=false", expect=202)
    t0 = time.time()
    while created() == n0 and time.time() - t0 < SETTLE:
        time.sleep(0.05)
    names = [x["name"] for x in S.r("GET", "/collections/c1/snapshots")]
    check(len(names) >= 2, "background snapshot appears")
    # two creations in one second get one name and one listing entry
    for _ in range(100):
        before = set(x["name"] for x in S.r("GET",
                                             "/collections/c1/snapshots"))
        a = S.r("POST", "/collections/c1/snapshots")
        b = S.r("POST", "/collections/c1/snapshots")
        if a["name"] == b["name"]:
            after = [x["name"] for x in S.r("GET",
                                             "/collections/c1/snapshots")]
            eq(after.count(a["name"]), 1, "one entry")
            check(set(after) - before <= {a["name"]}, "one name")
            break
    else:
        raise Fail("could not create two snapshots within one second")
    # delete while a download is in flight: the download completes
    name = a["name"]
    c = http.client.HTTPConnection("127.0.0.1", S.ports[0], timeout=10)
    S.r("POST", "/__sim/faults", {"path": "/collections/c1/snapshots/" + name,
                                  "method": "GET",
                                  "rate_bytes_per_sec": 40000})
    c.request("GET", "/collections/c1/snapshots/" + name,
              headers={"api-key": KEY})
    resp = c.getresponse()
    first = resp.read(1000)
    eq(S.r("DELETE", "/collections/c1/snapshots/" + name), True, "delete")
    rest = resp.read()
    c.close()
    eq(len(first + rest), int(resp.getheader("Content-Length")),
       "in-flight download completes")
    check(not os.path.exists(os.path.join(S.snapdir(), "c1",
                                          name + ".checksum")),
          ".checksum removed")
    st, h, b = S.req("GET", "/collections/c1/snapshots/" + name)
    eq(st, 404, "new GETs 404")
    j = S.j("DELETE", "/collections/c1/snapshots/" + name, expect=404)
    eq(j["status"]["error"], "Not found: Snapshot %s not found" % name,
       "delete missing")
    S.r("DELETE", "/__sim/faults")
    for n in [x["name"] for x in S.r("GET", "/collections/c1/snapshots")]:
        if n != STATE["c1_snap"]["name"]:
            S.r("DELETE", "/collections/c1/snapshots/" + n)


@test("recover from file:// into a new name: every point round-trips")
def t_recover_file():
    name = STATE["c1_snap"]["name"]
    path = os.path.join(S.snapdir(), "c1", name)
    # c1 has changed since the snapshot; compare with the snapshot's content
    S.r("PUT", "/collections/copy1/snapshots/recover",
        {"location": "file://" + path,
         "checksum": STATE["c1_snap"]["checksum"].upper()})
    got = all_points(S, "copy1")
    S.r("PUT", "/collections/ref/snapshots/recover",
        {"location": "file://" + path})
    eq(all_points(S, "ref"), got, "two recoveries agree")
    eq(len(got), 24, "point count")
    cur = all_points(S, "c1")
    eq(got, cur, "recovered = collection at snapshot time")
    info = S.r("GET", "/collections/copy1")
    eq(info["config"]["params"]["vectors"], {"size": 4, "distance": "Cosine"},
       "config from snapshot")
    bad = "0" * 64
    j = S.j("PUT", "/collections/copy2/snapshots/recover",
            {"location": "file://" + path, "checksum": bad}, expect=400)
    eq(j["status"]["error"], "Wrong input: Snapshot checksum mismatch: "
       "expected %s, got %s" % (bad, STATE["c1_snap"]["checksum"]),
       "recover checksum text")
    j = S.j("PUT", "/collections/copy2/snapshots/recover",
            {"location": "file://" + path, "checksum": "abc"}, expect=422)
    check(j["status"]["error"].startswith("Validation error in JSON body"),
          "422 text")
    eq(j["time"], 0.0, "422 time")
    outside = os.path.join(TMP, "outside.snapshot")
    shutil.copy(path, outside)
    j = S.j("PUT", "/collections/copy2/snapshots/recover",
            {"location": "file://" + outside}, expect=403)
    eq(j["status"]["error"], 'Forbidden: Snapshot file path must be inside '
       'the snapshots directory "%s"' % os.path.realpath(S.snapdir()),
       "outside text")
    j = S.j("PUT", "/collections/copy2/snapshots/recover",
            {"location": "file:///no/such.snapshot"}, expect=400)
    eq(j["status"]["error"], 'Bad request: Snapshot file '
       '"/no/such.snapshot" does not exist', "missing file text")
    j = S.j("PUT", "/collections/copy2/snapshots/recover",
            {"location": "ftp://x/y"}, expect=400)
    eq(j["status"]["error"], "Bad request: URL ftp://x/y with scheme ftp is "
       "not supported", "scheme text")
    j = S.j("PUT", "/collections/copy2/snapshots/recover?wait=false",
            {"location": "file:///no/such.snapshot"}, expect=202)
    eq(S.r("GET", "/collections/copy2/exists"), {"exists": False},
       "failed async recovery")


@test("upload: checksum good and bad texts, file left in snapshots dir")
def t_upload():
    b = STATE["c1_bytes"]
    st, h, body = upload(S, "/collections/up1/snapshots/upload", b,
                         filename="../x/My.snapshot",
                         query="?priority=snapshot&checksum=" + sha(b))
    eq(st, 200, "upload: " + body.decode(errors="replace")[:200])
    eq(json.loads(body)["result"], True, "result")
    eq(all_points(S, "up1"), all_points(S, "copy1"), "upload round trip")
    lst = S.r("GET", "/collections/up1/snapshots")
    eq(lst[0]["name"], "My.snapshot", "upload stays, path stripped")
    check("checksum" not in lst[0], "no checksum key without side file")
    st, h, body = upload(S, "/collections/up2/snapshots/upload", b,
                         query="?checksum=" + "1" * 64)
    eq(st, 400, "bad checksum status")
    eq(json.loads(body)["status"]["error"], "Checksum mismatch: expected %s,"
       " actual %s" % (sha(b), "1" * 64), "upload checksum text")
    st, h, body = upload(S, "/collections/up2/snapshots/upload", b,
                         query="?priority=foo")
    eq(st, 400, "bad priority")
    st, h, body = upload(S, "/collections/up2/snapshots/upload", b,
                         query="?checksum=xyz")
    eq(st, 422, "malformed checksum")
    st, h, body = upload(S, "/collections/up3/snapshots/upload", b,
                         query="?wait=false")
    eq((st, json.loads(body)["status"]), (202, "accepted"), "upload 202")
    t0 = time.time()
    while time.time() - t0 < SETTLE:
        if S.r("GET", "/collections/up3/exists")["exists"]:
            break
        time.sleep(0.05)
    check(S.r("GET", "/collections/up3/exists")["exists"], "async upload")


@test("recover from http:// (the simulator itself, api_key forwarded)")
def t_recover_http():
    name = STATE["c1_snap"]["name"]
    url = "http://127.0.0.1:%d/collections/c1/snapshots/%s" % (S.ports[0],
                                                               name)
    S.r("PUT", "/collections/http1/snapshots/recover",
        {"location": url, "api_key": KEY,
         "checksum": STATE["c1_snap"]["checksum"]})
    eq(all_points(S, "http1"), all_points(S, "copy1"), "http round trip")
    j = S.j("PUT", "/collections/http2/snapshots/recover",
            {"location": url}, expect=400)
    eq(j["status"]["error"], "Wrong input: Failed to download tar from %s: "
       "status - 401 Unauthorized" % url, "no api_key")
    j = S.j("PUT", "/collections/http2/snapshots/recover",
            {"location": url, "api_key": KEY, "checksum": "2" * 64},
            expect=400)
    check(j["status"]["error"].startswith("Wrong input: Snapshot checksum "
                                          "mismatch: expected 2222"),
          "http checksum text")


@test("damaged snapshots are rejected (500) and the collection is untouched")
def t_damaged():
    b = STATE["c1_bytes"]
    before = all_points(S, "copy1")
    d = os.path.join(S.snapdir(), "copy1")
    os.makedirs(d, exist_ok=True)
    cases = {"trunc.snapshot": b[:len(b) // 2 + 77],
             "garbage.snapshot": os.urandom(4096),
             "noconfig.snapshot": _tar_without(b, "config.json")}
    for fn, data in cases.items():
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
        j = S.j("PUT", "/collections/copy1/snapshots/recover",
                {"location": "file://" + os.path.join(d, fn)}, expect=500)
        check(j["status"]["error"].startswith("Service internal error: "),
              fn + ": " + j["status"]["error"])
    j = S.j("PUT", "/collections/copy1/snapshots/recover",
            {"location": "file://" + os.path.join(d, "garbage.snapshot")},
            expect=500)
    check(j["status"]["error"].startswith("Service internal error: File IO "
                                          "error: Malformed tar archive"),
          "malformed text")
    st, h, body = upload(S, "/collections/copy1/snapshots/upload",
                         b[:len(b) - 3000])
    eq(st, 500, "damaged upload")
    eq(all_points(S, "copy1"), before, "collection untouched")
    eq(S.r("GET", "/collections/copy1/cluster")["local_shards"][0]["state"],
       "Active", "replica state untouched")


def _tar_without(data, drop):
    src = tarfile.open(fileobj=io.BytesIO(data))
    out = io.BytesIO()
    dst = tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT)
    for m in src.getmembers():
        if m.name == drop:
            continue
        if m.type == tarfile.GNUTYPE_SPARSE:
            m.type = tarfile.REGTYPE
        dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    dst.close()
    return out.getvalue()


@test("tar layout: nested segment tars, GNU sparse WAL, Qdrant members")
def t_layout():
    b = STATE["c1_bytes"]
    check(b[257:265] == b"ustar  \0", "GNU magic")
    t, ms = tar_members(b)
    for n in ("0/replica_state.json", "0/shard_config.json",
              "0/newest_clocks.json", "0/wal/open-1", "0/wal/first-index",
              "version.info", "config.json", "shard_key_mapping.json",
              "payload_index.json"):
        check(n in ms, "member " + n)
    check("0" not in ms and "0/" not in ms, "no shard root dir entry")
    eq(t.extractfile("version.info").read(), b"0.4.2", "version.info")
    eq(t.extractfile("shard_key_mapping.json").read(), b"[]", "mapping")
    cfg = json.loads(t.extractfile("config.json").read())
    eq(cfg["params"]["vectors"]["size"], 4, "config.json params")
    rs = json.loads(t.extractfile("0/replica_state.json").read())
    eq(rs["is_local"], True, "replica_state is_local")
    m = ms["config.json"]
    eq((m.mtime, m.uid, m.mode, m.type), (0, 0, 0o644, b"\0"),
       "in-memory member header")
    wal = ms["0/wal/open-1"]
    eq(wal.type, tarfile.GNUTYPE_SPARSE, "WAL is a GNU sparse member")
    eq(wal.size, 32 << 20, "WAL real size")
    segs = [n for n in ms if n.startswith("0/segments/") and
            n.endswith(".tar")]
    check(segs, "nested segment tars")
    inner = tarfile.open(fileobj=t.extractfile(segs[0]))
    names = inner.getnames()
    for n in ("snapshot/files/segment.json", "snapshot/files/version.info",
              "snapshot/files/id_tracker.mappings",
              "snapshot/files/vector_storage/vectors/chunk_0.mmap",
              "snapshot/files/payload_storage/page_0.dat"):
        check(n in names, "segment member " + n)
    eq(inner.extractfile("snapshot/files/version.info").read(), b"0.6.0",
       "segment version.info")


@test("recover accepts Qdrant-style tars ('./' prefixes, dir entries)")
def t_qdrant_style():
    b = STATE["c1_bytes"]
    src = tarfile.open(fileobj=io.BytesIO(b))
    out = io.BytesIO()
    dst = tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT)
    root = tarfile.TarInfo("./")
    root.type = tarfile.DIRTYPE
    dst.addfile(root)
    d = tarfile.TarInfo("./0/segments")
    d.type = tarfile.DIRTYPE
    dst.addfile(d)
    for m in src.getmembers():
        if m.isdir():
            continue
        data = src.extractfile(m).read()
        if m.name.endswith("open-1"):
            data = data[:1024]
        if m.name.endswith(".tar"):
            inner = tarfile.open(fileobj=io.BytesIO(data))
            o2 = io.BytesIO()
            t2 = tarfile.open(fileobj=o2, mode="w", format=tarfile.PAX_FORMAT)
            for im in inner.getmembers():
                if im.isfile():
                    im2 = tarfile.TarInfo("./" + im.name)
                    im2.size = im.size
                    t2.addfile(im2, inner.extractfile(im))
            t2.close()
            data = o2.getvalue()
        ti = tarfile.TarInfo("./" + m.name)
        ti.size = len(data)
        dst.addfile(ti, io.BytesIO(data))
    dst.close()
    os.makedirs(os.path.join(S.snapdir(), "q"), exist_ok=True)
    p = os.path.join(S.snapdir(), "q", "qstyle.snapshot")
    with open(p, "wb") as f:
        f.write(out.getvalue())
    S.r("PUT", "/collections/qstyle/snapshots/recover",
        {"location": "file://" + p})
    eq(all_points(S, "qstyle"), all_points(S, "copy1"), "round trip")
    # a symlink member is refused
    out = io.BytesIO()
    dst = tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT)
    ln = tarfile.TarInfo("config.json")
    ln.type = tarfile.SYMTYPE
    ln.linkname = "/etc/passwd"
    dst.addfile(ln)
    dst.close()
    with open(p, "wb") as f:
        f.write(out.getvalue())
    j = S.j("PUT", "/collections/qstyle2/snapshots/recover",
            {"location": "file://" + p}, expect=500)
    check("Forbidden entry type" in j["status"]["error"], "symlink refused")


@test("recover into an existing collection replaces data; incompatible 400")
def t_recover_existing():
    S.r("PUT", "/collections/copy1/points?wait=true", {"points": [
        {"id": 5000, "vector": [1, 1, 1, 1]}]})
    S.r("POST", "/collections/copy1/points/delete?wait=true",
        {"points": [3]})
    path = os.path.join(S.snapdir(), "c1", STATE["c1_snap"]["name"])
    S.r("PUT", "/collections/copy1/snapshots/recover",
        {"location": "file://" + path, "priority": "no_sync"})
    eq(all_points(S, "copy1"), all_points(S, "ref"), "data replaced")
    S.r("PUT", "/collections/other", {"vectors": {"size": 3,
                                                  "distance": "Dot"}})
    j = S.j("PUT", "/collections/other/snapshots/recover",
            {"location": "file://" + path}, expect=400)
    check(j["status"]["error"].startswith("Wrong input: Snapshot is not "
                                          "compatible with existing "
                                          "collection"), "incompatible text")
    j = S.j("PUT", "/collections/other/snapshots/recover",
            {"location": "file://" + path, "priority": "bogus"}, expect=400)
    check(j["status"]["error"].startswith("Format error in JSON body"),
          "priority enum")


@test("dedup: sealed segments' nested tars are byte-identical after upsert")
def t_dedup():
    S.r("PUT", "/collections/dd", {
        "vectors": {"size": 16, "distance": "Dot"},
        "optimizers_config": {"max_segment_size": 8}})
    pts = make_points(400, 16, seed=9)
    for i in range(0, 400, 50):
        S.r("PUT", "/collections/dd/points?wait=true",
            {"points": pts[i:i + 50]})
    info = S.r("GET", "/collections/dd")
    check(info["segments_count"] >= 4, "several segments (%d)"
          % info["segments_count"])
    d1, b1 = snapshot(S, "dd")
    S.r("PUT", "/collections/dd/points?wait=true",
        {"points": make_points(3, 16, seed=10, start=10000)})
    d2, b2 = snapshot(S, "dd")

    def nested(b):
        t, ms = tar_members(b)
        return {n: t.extractfile(n).read() for n in ms
                if "/segments/" in n and n.endswith(".tar")}, b
    n1, _ = nested(b1)
    n2, _ = nested(b2)
    same = [n for n in n1 if n in n2 and n1[n] == n2[n]]
    check(len(same) >= len(n1) - 1 and len(n1) >= 4,
          "all but the appendable segment identical (%d of %d)"
          % (len(same), len(n1)))
    check(len(n2) >= len(n1), "segments kept")
    for n in same:
        check(n1[n] in b2, "identical bytes also inside the outer tar")
    # an update of a point in a sealed segment changes only small members
    S.r("PUT", "/collections/dd/points?wait=true",
        {"points": make_points(1, 16, seed=11, start=1)})
    d3, b3 = snapshot(S, "dd")
    n3, _ = nested(b3)
    changed = [n for n in n2 if n in n3 and n2[n] != n3[n]]
    check(len(changed) >= 2, "sealed + appendable segment changed")
    for n in changed:
        a = tarfile.open(fileobj=io.BytesIO(n2[n]))
        c = tarfile.open(fileobj=io.BytesIO(n3[n]))
        for m in a.getmembers():
            if m.name.endswith("chunk_0.mmap") or \
                    m.name.endswith("page_0.dat"):
                x = a.extractfile(m).read()
                y = c.extractfile(m.name).read()
                check(y[:len(x)] == x, "big file unchanged prefix " + m.name)
    eq(all_points(S, "dd")["1"][1], make_points(1, 16, seed=11)[0]["vector"],
       "update visible")


@test("shard snapshots: create, list, download, 404 text, recover, upload")
def t_shard_snapshots():
    d = S.r("POST", "/collections/c1/shards/0/snapshots")
    check(d["name"].startswith("c1-shard-0-"), "shard snapshot name")
    lst = S.r("GET", "/collections/c1/shards/0/snapshots")
    eq([x["name"] for x in lst], [d["name"]], "list")
    st, h, b = S.req("GET", "/collections/c1/shards/0/snapshots/" + d["name"])
    eq((st, sha(b)), (200, d["checksum"]), "download")
    t, ms = tar_members(b)
    check("replica_state.json" in ms and "wal/open-1" in ms and
          any(n.startswith("segments/") and n.endswith(".tar") for n in ms),
          "shard layout at the root")
    check("config.json" not in ms, "no collection config")
    st, h, body = S.req("GET", "/collections/c1/shards/0/snapshots/"
                        "none.snapshot")
    eq((st, body), (404, b"File not found: No such file or directory "
                         b"(os error 2)"), "odd 404 text")
    check("content-type" not in h, "no content type")
    st, h, body = S.req("GET", "/collections/c1/shards/7/snapshots")
    eq(st, 404, "unknown shard")
    eq(json.loads(body)["status"]["error"], "Not found: shard 7 not found",
       "unknown shard text")
    S.r("PUT", "/collections/sh", {"vectors": {"size": 4,
                                               "distance": "Cosine"}})
    S.j("PUT", "/collections/sh/shards/0/snapshots/recover",
        {"location": d["name"]}, expect=404)
    j = S.j("PUT", "/collections/sh/shards/0/snapshots/recover",
            {"location": "file:///x.snapshot"}, expect=400)
    eq(j["status"]["error"], "Wrong input: Invalid snapshot URL "
       "file:///x.snapshot: URLs with file scheme are not supported",
       "file scheme text")
    st, h, body = upload(S, "/collections/sh/shards/0/snapshots/upload", b,
                         query="?checksum=" + d["checksum"])
    eq(st, 200, "shard upload: %r" % body[:200])
    eq(all_points(S, "sh"), all_points(S, "c1"), "shard upload round trip")
    S.r("PUT", "/collections/c1/shards/0/snapshots/recover",
        {"location": d["name"], "checksum": d["checksum"]})
    eq(S.r("DELETE", "/collections/c1/shards/0/snapshots/" + d["name"]),
       True, "delete")
    eq(S.r("GET", "/collections/c1/shards/0/snapshots"), [], "deleted")


@test("optimizers: grey after a shard recovery until woken, yellow while "
      "held, green after")
def t_optimizer_states():
    S.r("PUT", "/collections/og", {"vectors": {"size": 4,
                                               "distance": "Dot"}})
    S.r("PUT", "/collections/og/points?wait=true",
        {"points": make_points(50, 4)})
    eq(S.r("GET", "/collections/og")["status"], "green", "written: green")
    d = S.r("POST", "/collections/og/shards/0/snapshots")
    st, h, b = S.req("GET", "/collections/og/shards/0/snapshots/" +
                     d["name"])
    S.r("POST", "/__sim/optimizer", {"collection": "og?", "hold": True})
    for c in ("og1", "og2"):
        S.r("PUT", "/collections/" + c, {"vectors": {"size": 4,
                                                     "distance": "Dot"}})
        eq(S.r("PATCH", "/collections/" + c, {"optimizers_config": {}}),
           True, "empty collection: nothing to optimize")
        eq(S.r("GET", "/collections/" + c)["status"], "green", "empty")
        st, h, body = upload(S, "/collections/%s/shards/0/snapshots/upload"
                             % c, b)
        eq(st, 200, "shard upload")
        eq(S.r("GET", "/collections/" + c)["status"], "grey",
           "loaded shard, optimizers not triggered")
        eq(S.r("POST", "/collections/%s/points/count" % c,
               {"exact": True})["count"], 50, "grey is readable")
    S.r("PATCH", "/collections/og1", {"metadata": {"a": 1}})
    eq(S.r("GET", "/collections/og1")["status"], "grey",
       "metadata only: no trigger")
    S.r("PATCH", "/collections/og1", {"optimizers_config": {}})
    eq(S.r("GET", "/collections/og1")["status"], "yellow",
       "empty optimizers_config triggers them; held: yellow")
    S.r("PUT", "/collections/og2/points?wait=true",
        {"points": make_points(1, 4, start=900)})
    eq(S.r("GET", "/collections/og2")["status"], "yellow",
       "an update triggers them too")
    S.r("POST", "/__sim/optimizer", {"collection": "og?", "hold": False})
    for c in ("og1", "og2"):
        eq(S.r("GET", "/collections/" + c)["status"], "green",
           "released: optimized at once")
    S.j("POST", "/__sim/optimizer", {"hold": True}, expect=400)
    for c in ("og", "og1", "og2"):
        S.r("DELETE", "/collections/" + c)


@test("streaming shard snapshot: chunked, Streamable layout, recoverable")
def t_stream():
    c = http.client.HTTPConnection("127.0.0.1", S.ports[0], timeout=30)
    c.request("GET", "/collections/dd/shards/0/snapshot",
              headers={"api-key": KEY})
    r = c.getresponse()
    eq(r.status, 200, "status")
    eq(r.getheader("Transfer-Encoding"), "chunked", "chunked")
    check(r.getheader("Content-Length") is None, "no content length")
    check(r.getheader("Content-Disposition").startswith(
        'attachment; filename="dd-shard-0-'), "disposition")
    b = r.read()
    c.close()
    t, ms = tar_members(b)
    check(any("/files/" in n and n.startswith("segments/") and
              n.endswith("chunk_0.mmap") for n in ms),
          "segments/<uuid>/files/ layout")
    check(not any(n.endswith(".tar") for n in ms), "no nested tars")
    eq(ms["wal/open-1"].type, tarfile.GNUTYPE_SPARSE, "sparse WAL")
    S.r("PUT", "/collections/dd2", {
        "vectors": {"size": 16, "distance": "Dot"}})
    st, h, body = upload(S, "/collections/dd2/shards/0/snapshots/upload", b)
    eq(st, 200, "upload stream snapshot: %r" % body[:200])
    eq(all_points(S, "dd2"), all_points(S, "dd"), "round trip")
    st, h, body = S.req("GET", "/collections/dd/shards/0/snapshot",
                        key=RO_KEY)
    eq(st, 403, "stream needs write access")
    st, h, body = S.req("GET", "/collections/dd/shards/3/snapshot")
    eq((st, body), (404, b"Not found: shard 3 not found"), "unknown shard")


@test("extra_member: a 5004-byte member name in shard and collection "
      "snapshots, until cleared")
def t_extra_member():
    long = "0/" + "dd/" * 1667 + "x"
    eq(S.r("POST", "/__sim/extra_member", {"collection": "dd", "name": long,
                                           "data": "hi"})["members"],
       [long], "added")
    st, h, b = S.req("GET", "/collections/dd/shards/0/snapshot")
    t, ms = tar_members(b)
    eq(len(long.encode()), 5004, "name length")
    eq(t.extractfile(ms[long]).read(), b"hi", "in the shard snapshot")
    d, b = snapshot(S, "dd")
    t, ms = tar_members(b)
    check(long in ms, "in the collection snapshot")
    S.r("DELETE", "/collections/dd/snapshots/%s" % d["name"])
    S.r("POST", "/__sim/extra_member", {"collection": "dd", "clear": True})
    st, h, b = S.req("GET", "/collections/dd/shards/0/snapshot")
    check(long not in tar_members(b)[1], "cleared")


@test("full snapshot: layout, list, download, delete; no REST recover")
def t_full():
    S.r("POST", "/collections/aliases", {"actions": [
        {"create_alias": {"collection_name": "c1", "alias_name": "fa"}}]})
    d = S.r("POST", "/snapshots")
    check(d["name"].startswith("full-snapshot-"), "name")
    eq([x["name"] for x in S.r("GET", "/snapshots")], [d["name"]], "list")
    st, h, b = S.req("GET", "/snapshots/" + d["name"])
    eq(sha(b), d["checksum"], "checksum")
    t, ms = tar_members(b)
    cfg = json.loads(t.extractfile("config.json").read())
    eq(cfg["collections_aliases"], {"fa": "c1"}, "aliases")
    colls = sorted(c["name"] for c in S.r("GET", "/collections")["collections"])
    eq(sorted(cfg["collections_mapping"]), colls, "mapping")
    for cname, member in cfg["collections_mapping"].items():
        check(member in ms, "member " + member)
        check(not os.path.exists(os.path.join(S.snapdir(), cname, member)),
              "collection snapshot moved into the archive")
    inner = tarfile.open(fileobj=t.extractfile(cfg["collections_mapping"]
                                               ["c1"]))
    check("config.json" in inner.getnames(), "inner collection snapshot")
    eq(S.r("DELETE", "/snapshots/" + d["name"]), True, "delete")
    eq(S.r("GET", "/snapshots"), [], "deleted")
    st, h, b = S.req("GET", "/snapshots/" + d["name"])
    eq((st, b), (404, b"Not found: Snapshot %s not found"
                 % d["name"].encode()), "404 plain")


def _raw_get(port, path, timeout=10):
    """(status, headers, body bytes, error) reading to EOF."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\napi-key: %s\r\n"
               "Connection: close\r\n\r\n" % (path, KEY)).encode())
    data = b""
    err = None
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except ConnectionResetError as e:
        err = e
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    st = int(lines[0].split()[1]) if lines and lines[0] else None
    hd = {}
    for ln in lines[1:]:
        k, _, v = ln.decode().partition(":")
        hd[k.strip().lower()] = v.strip()
    return st, hd, body, err


@test("faults: status (503, 429 Retry-After, 301 Location), delay, count, "
      "GET/DELETE")
def t_faults_status():
    S.r("POST", "/__sim/faults", {"rules": [
        {"method": "GET", "path": "/collections", "status": 503,
         "count": 2},
        {"path_regex": "^/aliases$", "status": 429, "retry_after": 3}]})
    j = S.j("GET", "/collections", expect=503)
    check(j["status"]["error"].startswith("Shard temporarily unavailable"),
          "503 text")
    S.j("GET", "/collections", expect=503)
    S.j("GET", "/collections", expect=200)
    st, h, b = S.req("GET", "/aliases")
    eq((st, h.get("retry-after")), (429, "3"), "429 + Retry-After")
    rules = S.r("GET", "/__sim/faults")["rules"]
    eq(len(rules), 2, "listed")
    S.r("DELETE", "/__sim/faults")
    eq(S.r("GET", "/__sim/faults")["rules"], [], "cleared")
    S.r("POST", "/__sim/faults", {"path": "/collections", "status": 503,
                                  "skip": 1})
    eq(S.req("GET", "/collections")[0], 200,
       "skip lets the first one through")
    eq(S.req("GET", "/collections")[0], 503, "... and not the second")
    S.r("POST", "/__sim/faults", {"path": "/collections", "delay_ms": 400})
    t0 = time.time()
    S.r("GET", "/collections")
    check(time.time() - t0 >= 0.4, "delay_ms")
    S.r("POST", "/__sim/faults", {"path": "/collections", "status": 500,
                                  "body": "boom"})
    st, h, b = S.req("GET", "/collections")
    eq((st, b), (500, b"boom"), "custom body")
    S.r("DELETE", "/__sim/faults")
    S.r("POST", "/__sim/faults", {"path": "/", "status": 301, "headers": {
        "Location": "https://elsewhere.example/collections"}})
    st, h, b = S.req("GET", "/collections")
    eq((st, h.get("location")), (301, "https://elsewhere.example/collections"),
       "a redirect with its Location")
    check(h.get("content-type") == "text/html" and
          b"<title>301 Moved Permanently</title>" in b, "as nginx's page")
    eq(S.req("GET", "/collections")[0], 200, "once")


@test("faults: upsert lands exactly when the matching request arrives")
def t_faults_upsert():
    S.r("PUT", "/collections/fu", {"vectors": {"size": 2,
                                                "distance": "Dot"}})
    S.r("POST", "/__sim/faults", {"path": "/collections/fu/exists",
                                  "upsert": {"collection": "fu", "points": [
                                      {"id": 7, "vector": [1, 2]}]}})
    count = "/collections/fu/points/count"
    eq(S.r("POST", count, {"exact": True})["count"], 0, "not before")
    eq(S.r("GET", "/collections/fu/exists"), {"exists": True},
       "the request is answered as usual")
    eq(S.r("POST", count, {"exact": True})["count"], 1, "applied at it")
    S.r("GET", "/collections/fu/exists")
    eq(S.r("POST", count, {"exact": True})["count"], 1, "once (count 1)")
    for bad in ({"upsert": 1}, {"upsert": {"collection": "fu"}},
                {"upsert": {"points": []}}):
        bad["path"] = "/x"
        S.j("POST", "/__sim/faults", bad, expect=400)
    S.r("POST", "/__sim/faults", {"path": "/collections/fu/exists",
                                  "upsert": {"collection": "nope",
                                             "points": []}})
    S.j("GET", "/collections/fu/exists", expect=404)
    S.r("DELETE", "/__sim/faults")
    S.r("DELETE", "/collections/fu")


@test("faults: hold keeps a request waiting until it is released")
def t_faults_hold():
    import threading
    rule = S.r("POST", "/__sim/faults", {"path": "/collections",
                                         "method": "GET",
                                         "hold": True})["rules"][0]
    got = []
    th = threading.Thread(target=lambda: got.append(
        S.r("GET", "/collections")))
    th.start()
    for _ in range(300):
        if S.r("GET", "/__sim/faults")["rules"][0]["held"] == 1:
            break
        time.sleep(0.05)
    eq(S.r("GET", "/__sim/faults")["rules"][0]["held"], 1, "held")
    eq(got, [], "no answer while held")
    check(S.r("GET", "/collections/c1/exists")["exists"],
          "other requests go on meanwhile")
    eq(S.r("POST", "/__sim/faults/release", {"id": rule["id"] + 1000}),
       {"released": 0}, "another rule id releases nothing")
    eq(S.r("POST", "/__sim/faults/release", {"id": rule["id"]}),
       {"released": 1}, "released")
    th.join(30)
    check(not th.is_alive() and "collections" in got[0],
          "answered as usual once released")
    eq(S.r("GET", "/__sim/faults")["rules"][0]["held"], 0, "none held")
    S.r("POST", "/__sim/faults", {"path": "/collections", "method": "GET",
                                  "hold": True, "count": 1})
    th = threading.Thread(target=lambda: got.append(
        S.r("GET", "/collections")))
    th.start()
    for _ in range(300):
        if any(r["held"] for r in S.r("GET", "/__sim/faults")["rules"]):
            break
        time.sleep(0.05)
    S.r("DELETE", "/__sim/faults")
    th.join(30)
    check(not th.is_alive() and len(got) == 2, "clearing releases too")
    S.j("POST", "/__sim/faults", {"path": "/x", "hold": 1}, expect=400)


@test("faults: after_handler strikes once the work is done")
def t_faults_after_handler():
    S.r("PUT", "/collections/fah", {"vectors": {"size": 2,
                                                 "distance": "Dot"}})
    snaps = "/collections/fah/snapshots"
    S.r("POST", "/__sim/faults", {"path": snaps, "method": "POST",
                                  "status": 504, "after_handler": True})
    j = S.j("POST", snaps, expect=504)
    check(j["status"]["error"].startswith("Timeout"), "504 text")
    eq(len(S.r("GET", snaps)), 1, "the snapshot was made all the same")
    S.r("DELETE", snaps + "/" + S.r("GET", snaps)[0]["name"])
    S.r("POST", "/__sim/faults", {"path": snaps, "method": "POST",
                                  "reset": True, "after_handler": True})
    try:
        st = S.req("POST", snaps)[0]
    except OSError:
        st = None
    eq(st, None, "the connection was reset")
    eq(len(S.r("GET", snaps)), 1, "... after the snapshot was made")
    S.r("POST", "/__sim/faults", {"path": "/collections/fah/exists",
                                  "status": 502, "after_handler": True})
    eq(S.req("GET", "/collections/nope/exists")[0], 200, "others pass")
    eq(S.req("GET", "/collections/fah/exists")[0], 502, "502")
    S.j("POST", "/__sim/faults", {"path": "/x", "status": 502,
                                  "after_handler": 1}, expect=400)
    for d in S.r("GET", snaps):
        S.r("DELETE", snaps + "/" + d["name"])
    S.r("DELETE", "/collections/fah")


@test("faults: fail_load leaves the shard Dead and empty, like Qdrant")
def t_faults_fail_load():
    S.r("PUT", "/collections/ffl", {"vectors": {"size": 4,
                                                 "distance": "Dot"},
                                     "shard_number": 2})
    S.r("PUT", "/collections/ffl/points?wait=true",
        {"points": make_points(40, 4, seed=5)})
    d, data = snapshot(S, "ffl")
    S.r("DELETE", "/collections/ffl/snapshots/" + d["name"])
    S.r("POST", "/__sim/faults", {"path": "/collections/ffl/snapshots/"
                                  "upload", "fail_load": True})
    st, h, b = upload(S, "/collections/ffl/snapshots/upload", data)
    eq(st, 500, "the recovery fails")
    check(b"Failed to load local shard" in b, "with Qdrant's kind of text")
    cl = S.r("GET", "/collections/ffl/cluster")
    states = {s["shard_id"]: s["state"] for s in cl["local_shards"]}
    eq(states, {0: "Dead", 1: "ManualRecovery"},
       "the shard is Dead, the next one stays in ManualRecovery")
    st, h, b = S.req("POST", "/collections/ffl/points/count",
                     {"exact": True})
    eq(st, 503, "no replica to read")
    st, h, b = upload(S, "/collections/ffl/snapshots/upload", data)
    eq(st, 200, "a second recovery works")
    eq(len(all_points(S, "ffl")), 40, "and brings the data back")
    S.r("DELETE", "/collections/ffl")


@test("faults: reset, reset_after_bytes, truncate_after_bytes")
def t_faults_conn():
    name = STATE["c1_snap"]["name"]
    path = "/collections/c1/snapshots/" + name
    full = STATE["c1_bytes"]
    S.r("POST", "/__sim/faults", {"path": path, "reset": True})
    try:
        st, h, b, err = _raw_get(S.ports[0], path)
        check(st is None and (err is not None or b == b""),
              "connection reset without answer")
    except ConnectionResetError:
        pass
    S.r("POST", "/__sim/faults", {"path": path, "reset_after_bytes": 5000})
    st, h, b, err = _raw_get(S.ports[0], path)
    check(st in (200, None), "headers sent")
    check(err is not None, "connection reset (RST)")
    check(len(b) <= 5000 and full.startswith(b), "at most K bytes")
    S.r("POST", "/__sim/faults", {"path": path,
                                  "truncate_after_bytes": 7000})
    st, h, b, err = _raw_get(S.ports[0], path)
    eq((st, int(h["content-length"])), (200, len(full)), "full length "
       "announced")
    check(err is None, "clean close (FIN)")
    eq(b, full[:7000], "exactly K bytes")
    S.r("GET", "/collections")
    S.r("DELETE", "/__sim/faults")


@test("faults: corrupt_byte_at, rate_bytes_per_sec (also on JSON)")
def t_faults_body():
    name = STATE["c1_snap"]["name"]
    path = "/collections/c1/snapshots/" + name
    full = STATE["c1_bytes"]
    S.r("POST", "/__sim/faults", {"path": path, "corrupt_byte_at": 1234})
    st, h, b = S.req("GET", path)
    eq(len(b), len(full), "same length")
    diff = [i for i in range(len(b)) if b[i] != full[i]]
    eq(diff, [1234], "one byte flipped")
    S.r("POST", "/__sim/faults", {"path": path,
                                  "rate_bytes_per_sec": 100000})
    t0 = time.time()
    st, h, b = S.req("GET", path)
    dt = time.time() - t0
    eq(b, full, "throttled body intact")
    check(dt >= len(full) / 100000 * 0.8, "throttled (%.2fs)" % dt)
    S.r("POST", "/__sim/faults", {"path": "/collections/c1",
                                  "corrupt_byte_at": 0})
    st, h, b = S.req("GET", "/collections/c1")
    check(b[:1] != b"{", "JSON body corrupted too")
    S.r("DELETE", "/__sim/faults")


def _read_some(port, path, limit, timeout=10):
    """(status line, headers, body bytes) of GET ${path}: reads at most
    ${limit} body bytes (raw, chunk frames included), then hangs up."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\napi-key: %s\r\n\r\n"
               % (path, KEY)).encode())
    data = b""
    while b"\r\n\r\n" not in data or \
            len(data.partition(b"\r\n\r\n")[2]) < limit:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    hd = {}
    for ln in lines[1:]:
        k, _, v = ln.decode().partition(":")
        hd[k.strip().lower()] = v.strip()
    return lines[0], hd, body


@test("faults: endless_body (chunked, content_length, with a rate)")
def t_faults_endless():
    S.r("POST", "/__sim/faults", {"path": "/collections",
                                  "endless_body": True, "count": 2})
    st, h, b = _read_some(S.ports[0], "/collections", 8 << 20)
    check(st.startswith(b"HTTP/1.1 200"), "200 at once: %r" % st)
    eq(h.get("transfer-encoding"), "chunked", "chunked")
    check(len(b) >= 8 << 20, "8 MiB and more (%d)" % len(b))
    check(b'{"result":{"items":[{"id":0,"name":"endless"},' in b[:100],
          "JSON that looks like an answer")
    check(b"0\r\n\r\n" not in b, "no last chunk")
    # the server lives on: the next rule use, then a normal answer
    st, h, b = _read_some(S.ports[0], "/collections", 1 << 20)
    check(len(b) >= 1 << 20, "second use")
    S.r("GET", "/collections")
    S.r("POST", "/__sim/faults", {"path": "/collections/c1/points/scroll",
                                  "endless_body": True,
                                  "content_length": 1 << 40})
    st, h, b = _read_some(S.ports[0], "/collections/c1/points/scroll",
                          2 << 20)
    eq(h.get("content-length"), str(1 << 40), "a huge Content-Length")
    check(len(b) >= 2 << 20, "and bytes towards it")
    S.r("DELETE", "/__sim/faults")
    S.r("POST", "/__sim/faults", {"path": "/collections",
                                  "endless_body": True,
                                  "rate_bytes_per_sec": 40})
    t0 = time.time()
    st, h, b = _read_some(S.ports[0], "/collections", 40)
    dt = time.time() - t0
    check(len(b) >= 40 and dt >= 0.5, "trickled (%d bytes in %.2f s)"
          % (len(b), dt))
    S.r("DELETE", "/__sim/faults")
    S.r("POST", "/__sim/faults", {"path": "/collections",
                                  "endless_body": True,
                                  "content_length": 10})
    st, h, b = _read_some(S.ports[0], "/collections", 10)
    eq((h.get("content-length"), b), ("10", b'{"result":'), "exactly N")
    for bad in ({"endless_body": 1}, {"status": 500, "content_length": 5},
                {"endless_body": True, "content_length": -1}):
        bad["path"] = "/x"
        S.j("POST", "/__sim/faults", bad, expect=400)
    S.r("GET", "/collections")


@test("generator: N points quickly, deterministic, mutate, tamper")
def t_generator():
    r = S.r("POST", "/__sim/generate", {"collection": "g1", "points": 20000,
                                        "dim": 64, "seed": 5,
                                        "uuid_points": 100})
    eq(S.r("POST", "/collections/g1/points/count", {})["count"], 20000,
       "count")
    S.r("POST", "/__sim/generate", {"collection": "g2", "points": 2000,
                                    "dim": 64, "seed": 5})
    a = S.r("POST", "/collections/g1/points", {"ids": [7, 1999],
                                               "with_vector": True})
    b = S.r("POST", "/collections/g2/points", {"ids": [7, 1999],
                                               "with_vector": True})
    eq(a, b, "deterministic by seed and id")
    p = S.r("GET", "/collections/g1/points/3")
    check(set(p["payload"]) >= {"text", "category", "number"}, "payload")
    d1, b1 = snapshot(S, "g2")
    before = all_points(S, "g2")
    m = S.r("POST", "/__sim/mutate", {"collection": "g2", "fraction": 0.05,
                                      "seed": 3})
    eq(m["changed"], 100, "mutated fraction")
    after = all_points(S, "g2")
    eq(sum(1 for k in before if before[k] != after[k]), 100, "changed")
    S.r("POST", "/__sim/tamper", {"collection": "g2", "id": 11,
                                  "what": "both"})
    t = S.r("GET", "/collections/g2/points/11")
    check(t["vector"] != after["11"][1] and t["payload"] != after["11"][0],
          "tampered")
    eq(S.r("POST", "/collections/g2/points/count", {})["count"], 2000,
       "count unchanged")


@test("storage persists across a restart; SIGTERM exits 0 with a download "
      "in flight")
def t_restart():
    before = all_points(S, "c1")
    S.r("POST", "/collections/dd/snapshots")
    snaps = S.r("GET", "/collections/dd/snapshots")
    name = snaps[0]["name"]
    names = sorted(x["name"] for x in snaps)
    size = next(x["size"] for x in snaps if x["name"] == name)
    S.r("POST", "/__sim/faults", {"path": "/collections/dd/snapshots/",
                                  "rate_bytes_per_sec": 2000})
    box = {}

    def dl():
        try:
            box["r"] = S.req("GET", "/collections/dd/snapshots/" + name)
        except Exception as e:      # noqa: BLE001
            box["e"] = e
    th = threading.Thread(target=dl, daemon=True)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    rc = S.stop()
    dt = time.time() - t0
    eq(rc, 0, "exit status")
    # the download needs size / 2000 s: SIGTERM did not wait for it
    check(dt < size / 2000 / 2, "prompt exit (%.1fs, download %.0fs)" %
          (dt, size / 2000))
    th.join(5)
    S.start()
    eq(all_points(S, "c1"), before, "points after restart")
    eq(sorted(x["name"] for x in S.r("GET", "/collections/dd/snapshots")),
       names, "snapshots after restart")
    eq(S.r("GET", "/__sim/faults")["rules"], [], "faults not persisted")


# ---------------------------------------------------------------- cluster

@test("cluster: 3 nodes, /cluster peers and raft info")
def t_cluster_start():
    C.start()
    eq(len(C.ports), 3, "three ports")
    st = C.r("GET", "/cluster")
    eq(st["status"], "enabled", "enabled")
    eq(len(st["peers"]), 3, "peers")
    check(all(isinstance(k, str) and k.isdigit() for k in st["peers"]),
          "peer ids are string keys")
    check(all(v["uri"].startswith("http://127.0.0.1:")
              for v in st["peers"].values()), "uris")
    for k in ("raft_info", "consensus_thread_status",
              "message_send_failures"):
        check(k in st, k)
    peers = set()
    for i in range(1, 4):
        peers.add(C.r("GET", "/cluster", node=i)["peer_id"])
    eq(peers, set(int(k) for k in st["peers"]), "each node its own peer")
    STATE["peers"] = [C.r("GET", "/cluster", node=i)["peer_id"]
                      for i in range(1, 4)]
    eq(C.r("POST", "/collections/gen/points/count", {})["count"], 500,
       "--generate at start-up")


@test("cluster: shard placement, routing and per-shard counts")
def t_cluster_points():
    C.r("PUT", "/collections/cc", {"vectors": {"size": 8, "distance": "Dot"},
                                   "shard_number": 6,
                                   "replication_factor": 2})
    pts = make_points(600, 8, seed=21, uuids=50)
    for i in range(0, 600, 200):
        C.r("PUT", "/collections/cc/points?wait=true",
            {"points": pts[i:i + 200]}, node=1 + i // 200)
    per_shard = {}
    holders = {}
    for i in range(1, 4):
        cl = C.r("GET", "/collections/cc/cluster", node=i)
        eq(cl["peer_id"], STATE["peers"][i - 1], "peer id")
        eq(cl["shard_count"], 6, "shard count")
        eq(len(cl["local_shards"]), 4, "4 local shards on node %d" % i)
        eq(len(cl["remote_shards"]), 8, "8 remote replicas")
        eq(cl["shard_transfers"], [], "no transfers")
        for ls in cl["local_shards"]:
            eq(ls["state"], "Active", "state")
            per_shard.setdefault(ls["shard_id"], set()).add(
                ls["points_count"])
            holders.setdefault(ls["shard_id"], set()).add(i)
    eq(sorted(per_shard), list(range(6)), "all shards placed")
    check(all(len(v) == 1 for v in per_shard.values()),
          "replicas agree on counts")
    check(all(len(v) == 2 for v in holders.values()), "two replicas")
    eq(sum(next(iter(v)) for v in per_shard.values()), 600, "routed")
    check(all(next(iter(v)) > 30 for v in per_shard.values()),
          "points spread over shards")
    STATE["holders"] = holders
    for i in range(1, 4):
        eq(C.r("POST", "/collections/cc/points/count", {}, node=i)["count"],
           600, "count via node %d" % i)
    eq(len(all_points(C, "cc", node=2)), 600, "scroll across shards")


@test("cluster: each node's snapshot holds only its local shards")
def t_cluster_snapshots():
    STATE["cc_snaps"] = {}
    for i in range(1, 4):
        d, b = snapshot(C, "cc", node=i)
        check(str(STATE["peers"][i - 1]) in d["name"], "peer id in name")
        t, ms = tar_members(b)
        local = set()
        for sid in range(6):
            rs = json.loads(t.extractfile("%d/replica_state.json"
                                          % sid).read())
            has = any(n.startswith("%d/segments/" % sid) for n in ms)
            eq(rs["is_local"], has, "is_local matches data, shard %d" % sid)
            check("%d/shard_config.json" % sid in ms, "shard_config")
            if has:
                local.add(sid)
        eq(local, {s for s, h in STATE["holders"].items() if i in h},
           "node %d local shards" % i)
        STATE["cc_snaps"][i] = (d, b)


@test("cluster: node down -> replicas Dead, refused; up -> re-synced")
def t_cluster_down():
    C.r("POST", "/__sim/node", {"node": 2, "down": True})
    t0 = time.time()
    refused = False
    while time.time() - t0 < SETTLE:
        try:
            socket.create_connection(("127.0.0.1", C.ports[1]), 1).close()
            time.sleep(0.05)
        except OSError:
            refused = True
            break
    check(refused, "node 2 refuses connections")
    cl = C.r("GET", "/collections/cc/cluster", node=1)
    dead = {r["shard_id"] for r in cl["remote_shards"]
            if r["peer_id"] == STATE["peers"][1]}
    check(dead and all(r["state"] == "Dead" for r in cl["remote_shards"]
                       if r["peer_id"] == STATE["peers"][1]),
          "node 2 replicas Dead")
    st = C.r("GET", "/cluster", node=1)
    check(st["message_send_failures"], "send failures reported")
    eq(C.r("POST", "/collections/cc/points/count", {}, node=3)["count"], 600,
       "reads still served")
    C.r("PUT", "/collections/cc/points?wait=true", {"points": make_points(
        20, 8, seed=22, start=90000)}, node=1)
    C.r("POST", "/__sim/node", {"node": 2, "down": False}, node=3)
    t0 = time.time()
    ok = False
    while time.time() - t0 < SETTLE:
        try:
            cl = C.r("GET", "/collections/cc/cluster", node=2)
            if all(s["state"] == "Active" for s in cl["local_shards"]) and \
                    not cl["shard_transfers"]:
                ok = True
                break
        except (OSError, Fail):
            pass
        time.sleep(0.1)
    check(ok, "node 2 replicas Active again")
    counts = {}
    for i in range(1, 4):
        for ls in C.r("GET", "/collections/cc/cluster",
                      node=i)["local_shards"]:
            counts.setdefault(ls["shard_id"], set()).add(ls["points_count"])
    check(all(len(v) == 1 for v in counts.values()),
          "re-synced replicas agree: %r" % counts)
    eq(sum(next(iter(v)) for v in counts.values()), 620, "620 points")


@test("cluster: recover per node, priority snapshot marks others Dead")
def t_cluster_recover():
    for i in range(1, 4):
        d, b = STATE["cc_snaps"][i]
        st, h, body = upload(C, "/collections/rc/snapshots/upload", b,
                             node=i, query="?priority=snapshot")
        eq(st, 200, "upload node %d: %r" % (i, body[:200]))
        if i == 1:
            cl = C.r("GET", "/collections/rc/cluster", node=1)
            check(any(r["state"] == "Dead" for r in cl["remote_shards"]) or
                  cl["shard_transfers"], "other replicas marked Dead")
    wait_active(C, "rc")
    eq(C.r("POST", "/collections/rc/points/count", {})["count"], 600,
       "restored count")
    eq(all_points(C, "rc", node=3), {k: v for k, v in
                                     all_points(C, "cc").items()
                                     if json.loads(k) not in
                                     range(90000, 90020)},
       "restored points")
    # a node's snapshot misses shards: single-node recovery refuses it
    d, b = STATE["cc_snaps"][1]
    st, h, body = upload(S, "/collections/partial/snapshots/upload", b)
    eq(st, 500, "missing shards on a single node")
    check(json.loads(body)["status"]["error"].startswith(
        "Service internal error: Can't restore snapshot in local mode with "
        "missing data at shard:"), "missing shard text")


@test("cluster: shard snapshot on a node without that shard is 400")
def t_cluster_shard():
    sid = next(s for s, h in STATE["holders"].items() if 1 not in h)
    j = C.j("POST", "/collections/cc/shards/%d/snapshots" % sid, node=1,
            expect=400)
    eq(j["status"]["error"], "Wrong input: Shard %d is not a local or queue "
       "proxy shard" % sid, "text")
    holder = min(STATE["holders"][sid])
    d = C.r("POST", "/collections/cc/shards/%d/snapshots" % sid, node=holder)
    check(d["name"].startswith("cc-shard-%d-" % sid), "created on holder")


@test("cluster: /__sim/wipe_shard empties a shard, replicas stay Active")
def t_cluster_wipe():
    C.r("POST", "/__sim/generate", {"collection": "wc", "points": 400,
                                    "dim": 4, "shard_number": 3,
                                    "replication_factor": 2})
    before = C.r("POST", "/collections/wc/points/count", {})["count"]
    eq(before, 400, "generated")
    r = C.r("POST", "/__sim/wipe_shard", {"collection": "wc", "shard": 1})
    eq(len(r["nodes"]), 2, "both replicas wiped")
    counts = []
    for i in range(1, 4):
        cl = C.r("GET", "/collections/wc/cluster", node=i)
        for s in cl["local_shards"]:
            eq(s["state"], "Active", "state")
            if s["shard_id"] == 1:
                counts.append(s["points_count"])
    eq(counts, [0, 0], "shard 1 empty on both replicas")
    after = C.r("POST", "/collections/wc/points/count", {})["count"]
    check(0 < after < 400, "points lost: %d" % after)
    C.j("POST", "/__sim/wipe_shard", {"collection": "wc", "shard": 9},
        expect=404)
    C.r("DELETE", "/collections/wc")


def wait_active(sim, coll, timeout=SETTLE):
    """Wait until every replica of coll is Active and no transfer runs."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        cls = [sim.r("GET", "/collections/%s/cluster" % coll, node=i)
               for i in range(1, sim.nodes + 1)]
        if all(not c["shard_transfers"] and
               all(s["state"] == "Active" for s in c["local_shards"] +
                   c["remote_shards"]) for c in cls):
            return cls
        time.sleep(0.05)
    raise Fail("replicas of %s not all Active: %r" % (coll, cls))


def replicas(sim, coll, node=1):
    """{shard_id: {peer_id: state}} as a node sees it."""
    cl = sim.r("GET", "/collections/%s/cluster" % coll, node=node)
    out = {}
    for s in cl["local_shards"]:
        out.setdefault(s["shard_id"], {})[cl["peer_id"]] = s["state"]
    for s in cl["remote_shards"]:
        out.setdefault(s["shard_id"], {})[s["peer_id"]] = s["state"]
    return out


def local_counts(sim, coll):
    """{(shard_id, peer_id): points_count} over every node."""
    out = {}
    for i in range(1, sim.nodes + 1):
        cl = sim.r("GET", "/collections/%s/cluster" % coll, node=i)
        for s in cl["local_shards"]:
            out[(s["shard_id"], cl["peer_id"])] = s["points_count"]
    return out


def node_of(peer):
    return STATE["peers"].index(peer) + 1


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError:
        return True
    return False


@test("cluster: custom sharding: shard keys, routing, errors, cluster info")
def t_custom_keys():
    C.r("PUT", "/collections/ck", {"vectors": {"size": 4, "distance": "Dot"},
                                   "sharding_method": "custom",
                                   "shard_number": 2,
                                   "replication_factor": 2})
    cl = C.r("GET", "/collections/ck/cluster")
    eq((cl["shard_count"], cl["local_shards"], cl["remote_shards"]),
       (0, [], []), "a custom collection starts without shards")
    eq(C.r("GET", "/collections/ck/shards"), {"shard_keys": []}, "no keys")
    eq(C.r("PUT", "/collections/ck/shards", {"shard_key": "eu"}), True,
       "create key")
    p3 = STATE["peers"][2]
    C.r("PUT", "/collections/ck/shards", {"shard_key": 7, "shards_number": 1,
                                          "replication_factor": 1,
                                          "placement": [p3]})
    eq(C.r("GET", "/collections/ck/shards"),
       {"shard_keys": [{"key": "eu"}, {"key": 7}]}, "keys listed")
    j = C.j("PUT", "/collections/ck/shards", {"shard_key": "eu"}, expect=400)
    eq(j["status"]["error"], 'Bad request: Sharding key "eu" already exists '
       'for collection ck', "duplicate key")
    j = C.j("PUT", "/collections/cc/shards", {"shard_key": "x"}, expect=400)
    eq(j["status"]["error"], "Bad request: Shard Key cannot be created with "
       "Auto sharding method", "auto collection")
    j = C.j("PUT", "/collections/ck/shards", {"shard_key": "x",
                                              "placement": []}, expect=400)
    check("placement cannot be empty" in j["status"]["error"], "empty")
    C.j("PUT", "/collections/ck/shards", {"shard_key": "x",
                                          "placement": [12345]}, expect=400)
    C.j("PUT", "/collections/ck/shards", {"shard_key": True}, expect=400)
    rep = replicas(C, "ck")
    eq(sorted(rep), [0, 1, 2], "shard ids 0, 1 (eu) and 2 (7)")
    eq([len(rep[s]) for s in (0, 1, 2)], [2, 2, 1], "replicas per shard")
    eq(list(rep[2]), [p3], "placement honoured")
    cl = C.r("GET", "/collections/ck/cluster", node=3)
    keys = {s["shard_id"]: s.get("shard_key")
            for s in cl["local_shards"] + cl["remote_shards"]}
    eq(keys, {0: "eu", 1: "eu", 2: 7}, "shard_key per shard")
    eq(cl["shard_count"], 3, "shard count")

    pts = make_points(60, 4, seed=31)
    j = C.j("PUT", "/collections/ck/points?wait=true", {"points": pts},
            expect=400)
    eq(j["status"]["error"], "Wrong input: Shard key not specified",
       "upsert without a key")
    j = C.j("PUT", "/collections/ck/points?wait=true",
            {"points": pts, "shard_key": "us"}, expect=400)
    eq(j["status"]["error"], 'Wrong input: Shard key "us" not found',
       "unknown key")
    C.r("PUT", "/collections/ck/points?wait=true",
        {"points": pts[:40], "shard_key": "eu"})
    C.r("PUT", "/collections/ck/points?wait=true",
        {"points": pts[40:], "shard_key": 7}, node=2)
    # the same id under two keys: two points
    C.r("PUT", "/collections/ck/points?wait=true",
        {"points": [dict(pts[0], payload={"k": "seven"})],
         "shard_key": {"target": 7, "fallback": "eu"}})
    eq(C.r("POST", "/collections/ck/points/count", {})["count"], 61, "all")
    eq(C.r("POST", "/collections/ck/points/count",
           {"shard_key": 7})["count"], 21, "key 7")
    eq(C.r("POST", "/collections/ck/points/count",
           {"shard_key": ["eu"]})["count"], 40, "key eu")
    got = C.r("POST", "/collections/ck/points/scroll",
              {"limit": 100, "shard_key": 7})["points"]
    eq(sorted(set(p["shard_key"] for p in got)), [7], "records carry key")
    eq(len(got), 21, "scroll by key")
    two = C.r("POST", "/collections/ck/points", {"ids": [pts[0]["id"]]})
    eq(sorted(json.dumps(p["shard_key"]) for p in two), ['"eu"', "7"],
       "retrieve finds the id under both keys")
    counts = local_counts(C, "ck")
    eq(sum(v for (sid, _), v in counts.items() if sid == 2), 21,
       "key 7 on its one replica")
    eq(sum(v for (sid, _), v in counts.items() if sid in (0, 1)), 80,
       "key eu on two replicas")
    STATE["ck_points"] = C.r("POST", "/collections/ck/points/scroll",
                             {"limit": 1000, "with_vector": True})["points"]


@test("cluster: custom sharding in snapshots, recovery, dropping a key")
def t_custom_snapshots():
    mapping = None
    snaps = {}
    for i in range(1, 4):
        d, b = snapshot(C, "ck", node=i)
        t, ms = tar_members(b)
        mapping = json.loads(t.extractfile("shard_key_mapping.json").read())
        eq(sorted(n for n in ms if n.endswith("/shard_config.json")),
           ["0/shard_config.json", "1/shard_config.json",
            "2/shard_config.json"], "every shard of every key")
        snaps[i] = b
    eq(mapping, [{"key": "eu", "shard_ids": [0, 1]},
                 {"key": 7, "shard_ids": [2]}], "shard_key_mapping.json")
    # into a new collection: no shards, the data dropped, and true
    st, h, body = upload(C, "/collections/ck2/snapshots/upload", snaps[1])
    eq((st, json.loads(body)["result"]), (200, True), "recover into new")
    eq(C.r("GET", "/collections/ck2/shards"), {"shard_keys": []},
       "no keys after recovery into a new collection")
    eq(C.r("POST", "/collections/ck2/points/count", {})["count"], 0,
       "no points either")
    C.r("DELETE", "/collections/ck2")
    # into a collection with the same keys (so the same shard ids)
    C.r("PUT", "/collections/ck2", {"vectors": {"size": 4, "distance": "Dot"},
                                    "sharding_method": "custom",
                                    "shard_number": 2,
                                    "replication_factor": 2})
    C.r("PUT", "/collections/ck2/shards", {"shard_key": "eu"})
    C.r("PUT", "/collections/ck2/shards", {"shard_key": 7, "shards_number": 1,
                                           "replication_factor": 1,
                                           "placement": [STATE["peers"][2]]})
    for i in range(1, 4):
        st, h, body = upload(C, "/collections/ck2/snapshots/upload",
                             snaps[i], node=i)
        eq(st, 200, "recover on node %d: %r" % (i, body[:200]))
    wait_active(C, "ck2")
    eq(C.r("GET", "/collections/ck2/shards"),
       {"shard_keys": [{"key": "eu"}, {"key": 7}]}, "keys recovered")
    eq(C.r("POST", "/collections/ck2/points/scroll",
           {"limit": 1000, "with_vector": True})["points"],
       STATE["ck_points"], "points with their keys recovered")
    # a shard snapshot of a custom shard goes back into that shard
    holder = next(iter(replicas(C, "ck")[2]))
    st, h, b = C.req("GET", "/collections/ck/shards/2/snapshot",
                     node=node_of(holder))
    eq(st, 200, "stream shard 2")
    C.r("POST", "/collections/ck2/shards/delete", {"shard_key": 7})
    j = C.j("POST", "/collections/ck2/shards/delete", {"shard_key": 7},
            expect=400)
    eq(j["status"]["error"], "Bad request: Sharding key 7 does not exist "
       "for collection ck2", "drop an unknown key")
    eq(sorted(replicas(C, "ck2")), [0, 1], "its shard is gone")
    eq(C.r("POST", "/collections/ck2/points/count", {})["count"], 40,
       "its points too")
    C.r("PUT", "/collections/ck2/shards", {"shard_key": 7,
                                           "shards_number": 1})
    eq(sorted(replicas(C, "ck2")), [0, 1, 2], "a new key takes the next id")
    holder2 = next(iter(replicas(C, "ck2")[2]))
    st, h, body = upload(C, "/collections/ck2/shards/2/snapshots/upload", b,
                         node=node_of(holder2))
    eq(st, 200, "shard upload: %r" % body[:200])
    wait_active(C, "ck2")
    eq(C.r("POST", "/collections/ck2/points/count", {"shard_key": 7})
       ["count"], 21, "shard restored under its key")
    C.r("DELETE", "/collections/ck2")


@test("standalone: shard keys refused (405), as Qdrant 1.19 does")
def t_custom_standalone():
    S.r("PUT", "/collections/sk", {"vectors": {"size": 4, "distance": "Dot"},
                                   "sharding_method": "custom"})
    for method, path in (("PUT", "/collections/sk/shards"),
                         ("POST", "/collections/sk/shards/delete"),
                         ("PUT", "/collections/nosuch/shards")):
        j = S.j(method, path, {"shard_key": "a"}, expect=405)
        eq(j["status"]["error"], "Qdrant is running in standalone mode",
           "%s %s" % (method, path))
    eq(S.r("GET", "/collections/sk/shards"), {"shard_keys": []}, "no keys")
    eq(S.r("GET", "/cluster"), {"status": "disabled"}, "standalone")
    S.r("DELETE", "/collections/sk")


@test("single node in cluster mode (--cluster): custom sharding and its "
      "collection snapshot")
def t_custom_single():
    S1 = Sim(TMP, "single-cluster", extra=["--cluster"])
    S1.start()
    try:
        custom_single(S1)
    finally:
        S1.stop()


def custom_single(S):
    eq(S.r("GET", "/cluster")["status"], "enabled", "cluster mode")
    S.r("PUT", "/collections/sk", {"vectors": {"size": 4, "distance": "Dot"},
                                   "sharding_method": "custom"})
    S.r("PUT", "/collections/sk/shards", {"shard_key": "a"})
    S.r("PUT", "/collections/sk/shards", {"shard_key": "b",
                                          "shards_number": 2})
    pts = make_points(30, 4, seed=33)
    S.r("PUT", "/collections/sk/points?wait=true", {"points": pts[:10],
                                                    "shard_key": "a"})
    S.r("PUT", "/collections/sk/points?wait=true", {"points": pts[10:],
                                                    "shard_key": "b"})
    cl = S.r("GET", "/collections/sk/cluster")
    eq(sorted((s["shard_id"], s["shard_key"]) for s in cl["local_shards"]),
       [(0, "a"), (1, "b"), (2, "b")], "all local")
    d, b = snapshot(S, "sk")
    S.r("PUT", "/collections/sk2", {"vectors": {"size": 4, "distance": "Dot"},
                                    "sharding_method": "custom"})
    S.r("PUT", "/collections/sk2/shards", {"shard_key": "a"})
    S.r("PUT", "/collections/sk2/shards", {"shard_key": "b",
                                           "shards_number": 2})
    st, h, body = upload(S, "/collections/sk2/snapshots/upload", b)
    eq(st, 200, "recover: %r" % body[:200])
    eq(S.r("POST", "/collections/sk2/points/scroll", {"limit": 100}),
       S.r("POST", "/collections/sk/points/scroll", {"limit": 100}),
       "same points and keys")
    S.r("DELETE", "/collections/sk2")


@test("cluster: priority snapshot removes the surplus replicas, marks the "
      "rest Dead")
def t_priority_surplus():
    C.r("PUT", "/collections/ps", {"vectors": {"size": 4, "distance": "Dot"},
                                   "shard_number": 1,
                                   "replication_factor": 3})
    C.r("PUT", "/collections/ps/points?wait=true",
        {"points": make_points(30, 4, seed=41)})
    eq(len(replicas(C, "ps")[0]), 3, "three replicas")
    C.r("PATCH", "/collections/ps", {"params": {"replication_factor": 2}})
    st, h, b = C.req("GET", "/collections/ps/shards/0/snapshot", node=1)
    eq(st, 200, "stream")
    st, h, body = upload(C, "/collections/ps/shards/0/snapshots/upload", b,
                         node=1, query="?priority=snapshot")
    eq(st, 200, "upload: %r" % body[:200])
    rep = replicas(C, "ps")[0]
    eq(len(rep), 2, "one surplus replica removed")
    eq(rep[STATE["peers"][0]], "Active", "the recovered one Active")
    others = [st for p, st in rep.items() if p != STATE["peers"][0]]
    check(others in (["Dead"], ["Active"]), "the other Dead: %r" % others)
    cls = wait_active(C, "ps")
    eq(sum(len(c["local_shards"]) for c in cls), 2, "two replicas left")
    C.r("DELETE", "/collections/ps")


def _diverge_setup(name):
    C.r("PUT", "/collections/%s" % name,
        {"vectors": {"size": 4, "distance": "Dot"}, "shard_number": 1,
         "replication_factor": 2})
    C.r("PUT", "/collections/%s/points?wait=true" % name,
        {"points": make_points(30, 4, seed=43)})
    holders = sorted(replicas(C, name)[0])
    a = node_of(holders[0])
    st, h, b = C.req("GET", "/collections/%s/shards/0/snapshot" % name,
                     node=a)
    eq(st, 200, "stream")
    # the cluster moves on: 10 more points on both replicas
    C.r("PUT", "/collections/%s/points?wait=true" % name,
        {"points": make_points(10, 4, seed=44, start=1000)})
    return holders, a, b


@test("cluster: priority replica: the cluster's data wins over the snapshot")
def t_priority_replica():
    holders, a, b = _diverge_setup("pr")
    st, h, body = upload(C, "/collections/pr/shards/0/snapshots/upload", b,
                         node=a, query="?priority=replica")
    eq(st, 200, "upload: %r" % body[:200])
    rep = replicas(C, "pr")[0]
    check(rep[holders[0]] != "Active" or
          C.r("GET", "/collections/pr/cluster")["shard_transfers"] or
          local_counts(C, "pr")[(0, holders[0])] == 40,
          "the recovered replica is re-synced: %r" % rep)
    eq(rep[holders[1]], "Active", "the other replica stays Active")
    wait_active(C, "pr")
    eq(local_counts(C, "pr"), {(0, holders[0]): 40, (0, holders[1]): 40},
       "both replicas hold the cluster's 40 points")
    C.r("DELETE", "/collections/pr")


@test("cluster: priority no_sync: the replicas diverge")
def t_priority_no_sync():
    holders, a, b = _diverge_setup("pn")
    st, h, body = upload(C, "/collections/pn/shards/0/snapshots/upload", b,
                         node=a, query="?priority=no_sync")
    eq(st, 200, "upload: %r" % body[:200])
    eq(replicas(C, "pn")[0], {holders[0]: "Active", holders[1]: "Active"},
       "both Active, no transfer")
    eq(C.r("GET", "/collections/pn/cluster")["shard_transfers"], [],
       "no transfer")
    eq(local_counts(C, "pn"), {(0, holders[0]): 30, (0, holders[1]): 40},
       "the recovered replica has the snapshot's 30, the other its 40")
    C.r("DELETE", "/collections/pn")


@test("cluster: node down at once; mark_dead false keeps replicas Active")
def t_node_down_sync():
    C.r("PUT", "/collections/nd", {"vectors": {"size": 4, "distance": "Dot"},
                                   "shard_number": 3,
                                   "replication_factor": 2})
    C.r("PUT", "/collections/nd/points?wait=true",
        {"points": make_points(60, 4, seed=45)})
    p3 = STATE["peers"][2]
    r = C.r("POST", "/__sim/node", {"node": 3, "down": True,
                                    "mark_dead": False})
    eq((r["down"], r["mark_dead"]), (True, False), "answer")
    check(refused(C.ports[2]), "refused as soon as the answer is in")
    on3 = [s for s, peers in replicas(C, "nd").items() if p3 in peers]
    check(on3 and all(replicas(C, "nd")[s][p3] == "Active" for s in on3),
          "replicas on the down node still Active")
    eq(C.r("POST", "/collections/nd/points/count", {})["count"], 60,
       "reads skip the down node")
    # a write to a shard held there marks that replica Dead
    C.r("PUT", "/collections/nd/points?wait=true",
        {"points": make_points(60, 4, seed=46, start=500)})
    check(all(replicas(C, "nd")[s][p3] == "Dead" for s in on3),
          "a write marks them Dead")
    C.r("POST", "/__sim/node", {"node": 3, "down": False})
    check(not refused(C.ports[2]), "back at once")
    wait_active(C, "nd")
    # a node taking itself down answers first
    r = C.r("POST", "/__sim/node", {"down": True}, node=3)
    eq(r["node"], 3, "answered")
    check(refused(C.ports[2]), "then refuses")
    check(all(replicas(C, "nd")[s][p3] == "Dead" for s in on3),
          "Dead by default")
    C.r("POST", "/__sim/node", {"node": 3, "down": False})
    wait_active(C, "nd")


@test("cluster: fault node_down: the node is lost in the middle of a request")
def t_fault_node_down():
    p2 = STATE["peers"][1]
    sid = next(s for s, peers in replicas(C, "nd").items() if p2 in peers)
    C.r("POST", "/__sim/faults", {"node": 2, "rules": [{
        "path_regex": "/shards/[0-9]+/snapshot$", "node_down": True,
        "mark_dead": False}]})
    try:
        st, h, b = C.req("GET", "/collections/nd/shards/%d/snapshot" % sid,
                         node=2)
        raise Fail("answered %d" % st)
    except (OSError, http.client.HTTPException):
        pass
    check(refused(C.ports[1]), "node 2 down")
    check(all(st == "Active" for s, peers in replicas(C, "nd").items()
              for p, st in peers.items()), "replicas still Active")
    C.j("POST", "/__sim/faults", {"node_down": 1}, expect=400)
    C.r("POST", "/__sim/node", {"node": 2, "down": False})
    eq(C.r("GET", "/__sim/faults?node=2")["rules"][0]["applied"], 1,
       "applied once")
    C.r("DELETE", "/__sim/faults?all=true")
    C.r("DELETE", "/collections/nd")


@test("every simulated cluster has its own peer ids; saved ids are kept")
def t_peer_ids():
    a = Sim(TMP, "ids-a", nodes=2, keys=False,
            extra=["--cluster-seed", "one"]).start()
    try:
        ids_a = sorted(int(k) for k in a.r("GET", "/cluster")["peers"])
        a.r("PUT", "/collections/x", {"vectors": {"size": 2,
                                                  "distance": "Dot"}})
        a.stop()
        a.extra = ["--cluster-seed", "two"]
        a.start()
        eq(sorted(int(k) for k in a.r("GET", "/cluster")["peers"]), ids_a,
           "ids saved in the storage win over the seed")
    finally:
        a.stop()
    b = Sim(TMP, "ids-b", nodes=2, keys=False,
            extra=["--cluster-seed", "one"]).start()
    try:
        eq(sorted(int(k) for k in b.r("GET", "/cluster")["peers"]), ids_a,
           "same seed, same ids")
    finally:
        b.stop()
    c = Sim(TMP, "ids-c", nodes=2, keys=False).start()
    try:
        ids_c = set(int(k) for k in c.r("GET", "/cluster")["peers"])
        eq(ids_c & set(ids_a), set(), "another storage, other ids")
        eq(ids_c & set(STATE["peers"]), set(), "not those of the 3 nodes")
    finally:
        c.stop()


@test("--p2p-port-offset, POST /__sim/p2p, --tls-cert/--tls-key")
def t_p2p_tls():
    a = Sim(TMP, "p2p", nodes=2, keys=False,
            extra=["--p2p-port-offset", "2"]).start()
    try:
        uris = {int(k): v["uri"] for k, v in
                a.r("GET", "/cluster")["peers"].items()}
        eq(sorted(uris.values()), sorted("http://127.0.0.1:%d/" % (p + 2)
                                         for p in a.ports), "REST + 2")
        r = a.r("POST", "/__sim/p2p", {"node": 2, "port": 4242})
        eq(r["uri"], "http://127.0.0.1:4242/", "answer")
        p2 = a.r("GET", "/cluster", node=2)["peer_id"]
        eq(a.r("GET", "/cluster")["peers"][str(p2)]["uri"],
           "http://127.0.0.1:4242/", "advertised")
        a.j("POST", "/__sim/p2p", {"node": 2, "port": 70000}, expect=400)
    finally:
        a.stop()
    d = os.path.join(TMP, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                    key, "-out", cert], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = Sim(TMP, "tls", nodes=1, keys=False,
            extra=["--tls-cert", cert, "--tls-key", key,
                   "--generate", "g:50:4"]).start()
    try:
        import ssl
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", t.ports[0],
                                        context=ctx, timeout=10)
        c.request("POST", "/collections/g/snapshots")
        name = json.loads(c.getresponse().read())["result"]["name"]
        c.request("GET", "/collections/g/snapshots/" + name)
        r = c.getresponse()
        body = r.read()
        eq(r.status, 200, "download over TLS")
        tar_members(body)
        c.request("GET", "/collections/g/shards/0/snapshot")
        r = c.getresponse()
        eq(r.getheader("Transfer-Encoding"), "chunked", "stream over TLS")
        tar_members(r.read())
        c.close()
        try:
            st, h, b = t.req("GET", "/")
            raise Fail("plain HTTP answered %d" % st)
        except (OSError, http.client.HTTPException):
            pass
    finally:
        t.stop()


@test("strict mode: exact count and limits refused with Qdrant's texts")
def t_strict_mode():
    S.r("PUT", "/collections/strict1", {
        "vectors": {"size": 4, "distance": "Dot"},
        "strict_mode_config": {"enabled": True, "max_query_limit": 5,
                               "search_allow_exact": False}})
    S.r("PUT", "/collections/strict1/points?wait=true",
        {"points": make_points(12, 4, seed=3)})
    info = S.r("GET", "/collections/strict1")
    eq(info["config"]["strict_mode_config"], {
        "enabled": True, "max_query_limit": 5,
        "search_allow_exact": False}, "strict mode in collection info")
    for body in ({"exact": True}, {}):
        j = S.j("POST", "/collections/strict1/points/count", body,
                expect=400)
        eq(j["status"]["error"], "Bad request: Exact search disabled!. "
           "Help: Set exact=false.", "exact count %r" % body)
    r = S.r("POST", "/collections/strict1/points/count", {"exact": False})
    eq(r["count"], 12, "approximate count allowed")
    j = S.j("POST", "/collections/strict1/points/scroll", {"limit": 6},
            expect=400)
    eq(j["status"]["error"], 'Bad request: Limit exceeded 6 > 5 for '
       '"limit". Help: Reduce the "limit" parameter to or below 5.',
       "scroll limit")
    r = S.r("POST", "/collections/strict1/points/scroll", {"limit": 5})
    eq(len(r["points"]), 5, "scroll within the limit")
    r = S.r("POST", "/collections/strict1/points/scroll", {})
    eq(len(r["points"]), 10, "scroll without a limit is not checked")
    S.j("POST", "/collections/strict1/points/query",
        {"query": {"sample": "random"}}, expect=400)
    S.r("PATCH", "/collections/strict1",
        {"strict_mode_config": {"enabled": False}})
    r = S.r("POST", "/collections/strict1/points/count", {"exact": True})
    eq(r["count"], 12, "exact count once strict mode is off")
    S.r("DELETE", "/collections/strict1")


@test("point ids: u64 above 2^63-1 stored, decimal strings refused")
def t_big_ids():
    S.r("PUT", "/collections/big1", {"vectors": {"size": 4,
                                                 "distance": "Dot"}})
    top = 2 ** 64 - 1
    pts = make_points(3, 4, seed=4)
    for p, i in zip(pts, (1, 2 ** 63, top)):
        p["id"] = i
    S.r("PUT", "/collections/big1/points?wait=true", {"points": pts})
    r = S.r("POST", "/collections/big1/points/scroll", {"limit": 2})
    eq([p["id"] for p in r["points"]], [1, 2 ** 63], "big ids as numbers")
    eq(r["next_page_offset"], top, "next offset 2^64-1")
    r = S.r("POST", "/collections/big1/points/scroll", {"offset": top})
    eq([p["id"] for p in r["points"]], [top], "offset 2^64-1")
    r = S.r("POST", "/collections/big1/points", {"ids": [top]})
    eq([p["id"] for p in r], [top], "retrieve 2^64-1")
    for bad in (str(top), 2 ** 64, -1):
        p = dict(pts[0], id=bad)
        j = S.j("PUT", "/collections/big1/points", {"points": [p]},
                expect=400)
        eq(j["status"]["error"], "Format error in JSON body: value %s is "
           "not a valid point ID, valid values are either an unsigned "
           "integer or a UUID" % bad, "id %r" % bad)
    j = S.j("POST", "/collections/big1/points/scroll",
            {"offset": str(top)}, expect=400)
    check("is not a valid point ID" in j["status"]["error"],
          "string offset refused")
    S.r("DELETE", "/collections/big1")


# ------------------------------------------------ sparse and multi vectors

@test("sparse and multi vectors: validated, sorted, searched, snapshotted "
      "and recovered")
def t_vector_kinds():
    S.r("PUT", "/collections/vk1", {
        "vectors": {"mv": {"size": 2, "distance": "Cosine",
                           "multivector_config": {"comparator": "max_sim"}}},
        "sparse_vectors": {"text": {}},
        "optimizers_config": {"max_segment_size": 1}})
    pts = [{"id": i, "payload": {"n": i},
            "vector": {"text": {"indices": [i + 10, i],
                                "values": [0.5, float(i)]},
                       "mv": [[3, 4], [i, 0]]}} for i in range(1, 31)]
    S.r("PUT", "/collections/vk1/points?wait=true", {"points": pts})
    r = S.r("POST", "/collections/vk1/points", {"ids": [2],
                                                "with_vector": True})
    eq(r[0]["vector"], {"text": {"indices": [2, 12], "values": [2.0, 0.5]},
                        "mv": [[0.6, 0.8], [1.0, 0.0]]},
       "sparse sorted by index, Cosine rows normalized")
    for v, err in (({"indices": [1, 1], "values": [1, 2]},
                    "[indices: must be unique]"),
                   ({"indices": [1], "values": [1, 2]},
                    "[values: must be the same length as indices]")):
        j = S.j("PUT", "/collections/vk1/points?wait=true",
                {"points": [{"id": 99, "vector": {"text": v}}]}, expect=422)
        check(err in j["status"]["error"], "422 %s" % err)
    S.j("PUT", "/collections/vk1/points?wait=true",
        {"points": [{"id": 99, "vector": {"mv": [[1, 2, 3]]}}]},
        expect=400)
    r = S.r("POST", "/collections/vk1/points/query",
            {"query": {"indices": [7], "values": [1.0]}, "using": "text",
             "limit": 2})
    eq([p["id"] for p in r["points"]], [7, 1], "sparse search by dot product")
    r = S.r("POST", "/collections/vk1/points/query",
            {"query": [[1, 0]], "using": "mv", "limit": 1})
    eq(r["points"][0]["score"], 1.0, "max_sim score")
    info = S.r("GET", "/collections/vk1")
    check(info["segments_count"] > 1, "several segments")
    want = all_points(S, "vk1")
    d, _ = snapshot(S, "vk1")
    path = os.path.join(S.snapdir(), "vk1", d["name"])
    S.r("PUT", "/collections/vk2/snapshots/recover",
        {"location": "file://" + path})
    eq(all_points(S, "vk2"), want, "recovered = snapshot")
    eq(S.r("GET", "/collections/vk2")["config"]["params"]["sparse_vectors"],
       {"text": {}}, "sparse config from the snapshot")
    S.r("PUT", "/collections/vk2/points?wait=true", {"points": pts[:2]})
    eq(all_points(S, "vk2"), want, "writes after recovery")
    S.r("DELETE", "/collections/vk1")
    S.r("DELETE", "/collections/vk2")


# ---------------------------------------------------------------- main

# ---------------------------------------------------------------- releases

@test("--qdrant-version 1.11: version, routes, collection info, tar-rs "
      "archives with RocksDB backups; a 1.19 segment is refused")
def t_qdrant_version_111():
    old = Sim(TMP, "v111", extra=["--qdrant-version", "1.11",
                                  "--generate", "old:60:4:2"])
    try:
        old.start()
        eq(old.j("GET", "/", key=False)["version"], "1.11.0", "version")
        info = old.r("GET", "/collections/old")
        eq(info.get("vectors_count"), 60, "vectors_count")
        check("warnings" not in info, "no warnings before 1.16")
        for path in ("/collections/old/shards/0/snapshot",
                     "/collections/old/shards"):
            st, h, b = old.req("GET", path)
            eq((st, b), (404, b""), "no route %s before its release" % path)
        d, b = snapshot(old, "old")
        t, ms = tar_members(b)
        names = [m.name for m in t.getmembers()]
        eq(b[:100].rstrip(b"\0"), b"./", "root entry './' first")
        for n in ("0", "0/segments", "0/wal"):
            check(n in ms and ms[n].isdir(), "directory entry %s" % n)
        eq(ms["0/wal/open-1"].type, tarfile.REGTYPE, "WAL a plain file")
        eq(ms["0/wal/open-1"].size, 32 << 20, "WAL of its full size")
        seg = [n for n in names if n.startswith("0/segments/") and
               n.endswith(".tar")]
        eq(len(seg), 1, "one segment archive")
        inner = tarfile.open(fileobj=t.extractfile(seg[0]))
        inames = inner.getnames()
        for n in ("snapshot/db_backup/meta/1",
                  "snapshot/payload_index_db_backup/private/1/CURRENT"):
            check(n in inames, "segment archive has %s" % n)
        st, h, body = upload(old, "/collections/old2/snapshots/upload", b)
        eq(st, 200, "1.11 snapshot recovers on 1.11: %r" % body[:200])
        eq(all_points(old, "old2"), all_points(old, "old"), "round trip")
        S.r("PUT", "/collections/new19", {
            "vectors": {"size": 4, "distance": "Dot"}})
        S.r("PUT", "/collections/new19/points?wait=true",
            {"points": make_points(5, 4)})
        d, b19 = snapshot(S, "new19")
        st, h, body = upload(old, "/collections/new19/snapshots/upload",
                             b19)
        eq(st, 500, "a 1.19 snapshot on 1.11")
        check(b"RocksDB backup restore error" in body, "why: %r" % body)
        j = old.j("PUT", "/collections/old/shards", {"shard_key": "k"},
                  expect=400)
        eq(j["status"]["error"], "Bad request: Distributed mode disabled",
           "shard keys on a standalone 1.11")
    finally:
        old.stop()


@test("--qdrant-version outside 1.7 to 1.19 is refused")
def t_qdrant_version_bad():
    r = subprocess.run([sys.executable, SIM, "--port", "0", "--storage",
                        os.path.join(TMP, "vbad"), "--qdrant-version",
                        "1.6"], capture_output=True, timeout=30)
    check(r.returncode != 0, "exit status %d" % r.returncode)
    check(b"unsupported --qdrant-version '1.6'" in r.stderr,
          "message: %r" % r.stderr)
@test("/__sim/replica_state; a single node's /readyz is always 200")
def t_replica_states_readyz():
    S.r("POST", "/__sim/generate", {"collection": "rs1", "points": 50,
                                    "dim": 4})
    S.r("POST", "/__sim/replica_state", {"collection": "rs1", "shard": 0,
                                         "state": "Partial"})
    cl = S.r("GET", "/collections/rs1/cluster")
    eq(cl["local_shards"][0]["state"], "Partial", "state set")
    st, h, b = S.req("GET", "/readyz", key=False)
    eq((st, b), (200, b"all shards are ready"), "single node ready")
    S.j("POST", "/__sim/replica_state", {"collection": "rs1", "shard": 0,
                                         "state": "Sleepy"}, expect=400)
    S.r("POST", "/__sim/replica_state", {"collection": "rs1", "shard": 0,
                                         "state": "Active"})
    C.r("POST", "/__sim/generate", {"collection": "rs3", "points": 60,
                                    "dim": 4, "shard_number": 1,
                                    "replication_factor": 1})
    C.r("POST", "/__sim/replica_state", {"collection": "rs3", "shard": 0,
                                         "node": 1,
                                         "state": "ReshardingScaleDown"})
    eq(C.r("POST", "/collections/rs3/points/count", {})["count"], 60,
       "ReshardingScaleDown is read")
    C.r("POST", "/__sim/replica_state", {"collection": "rs3", "shard": 0,
                                         "node": 1, "state": "Resharding"})
    st, h, b = C.req("GET", "/readyz", key=False)
    eq(st, 503, "cluster node with a Resharding replica not ready")
    C.r("POST", "/__sim/replica_state", {"collection": "rs3", "shard": 0,
                                         "node": 1, "state": "Active"})


def main():
    print("1..%d" % len(TESTS))
    failed = 0
    try:
        for i, (title, fn) in enumerate(TESTS, 1):
            t0 = time.time()
            try:
                fn()
                print("ok %d - %s" % (i, title))
            except Exception as e:       # noqa: BLE001
                failed += 1
                print("not ok %d - %s" % (i, title))
                msg = "%s: %s" % (type(e).__name__, e) if not \
                    isinstance(e, Fail) else str(e)
                for line in msg.splitlines() or [""]:
                    print("# " + line)
                if not isinstance(e, Fail):
                    for line in traceback.format_exc().splitlines()[-6:]:
                        print("# " + line)
            if os.environ.get("QSIM_TEST_TIMES"):
                print("#   %.2fs" % (time.time() - t0))
            sys.stdout.flush()
    finally:
        S.stop()
        C.stop()
        if failed and os.environ.get("QSIM_KEEP"):
            print("# kept " + TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
