"""Fault injection rules (per node), set through POST /__sim/faults.

A rule (JSON object):
  match:   "method" (optional, any if absent), "path" (prefix of the
           request path, query excluded) and/or "path_regex" (re.search
           on the path), "skip" (let the first K matching requests through)
  count:   how many matching requests it applies to (default 1; -1 = all)
  actions (one or more):
    "status": N          answer N at once; "body" (string or JSON value;
                         default a Qdrant error envelope), "retry_after"
                         (seconds, default 1 for 429), "headers" {..}
    "reset": true        close the connection abruptly (RST) without answer
    "reset_after_bytes": K     send headers and K body bytes, then RST
    "truncate_after_bytes": K  send headers and K body bytes, then FIN
    "corrupt_byte_at": OFF     flip one byte (xor 0xff) of the body at OFF
    "delay_ms": MS       wait before answering
    "rate_bytes_per_sec": R    throttle the body
    "endless_body": true       answer 200 at once with JSON that never ends
                         ('{"result":{"items":[{"id":0,"name":"endless"},'
                         and more items forever), sent chunked, until the
                         client hangs up; with "content_length": N the
                         header announces N bytes instead (N may be far
                         more than the client will read).  Goes with
                         "delay_ms" and "rate_bytes_per_sec" (an endless
                         trickle) on any path, downloads included
    "node_down": true    take this node down at this request (the request
                         gets an RST); "mark_dead": false keeps its replicas
                         Active, as Qdrant does until it notices
    "hold": true         keep the request waiting, unanswered, until the
                         rule is released (POST /__sim/faults/release, or
                         DELETE /__sim/faults), then go on as usual: a
                         Qdrant that is slow for exactly as long as a test
                         needs; "held" in the listing counts the requests
                         waiting now
    "end_after_bytes": K on a shard snapshot stream: K archive bytes,
                         then a clean end of the chunked body, as Qdrant
                         ends the stream when building the snapshot fails
    "upsert": {"collection": C, "points": [...]}
                         apply this upsert (as PUT /collections/C/points)
                         the moment the request arrives, before anything
                         else: a write that lands at an exact point of a
                         client's sequence of requests, whatever the timing
    "fail_load": true    a snapshot recovery this request starts (collection
                         or shard, upload or location) fails when it loads
                         the first shard of this node, after the live shard
                         was cleared: what a corrupt segment inside an
                         otherwise valid snapshot does (see snapshots.py)
  "after_handler": true  status, reset, hold, delay_ms and node_down strike
                         when the handler has done its work and begins its
                         answer (the answer it would have sent is lost): a
                         proxy that times out or fails while Qdrant goes on
"""

import re
import threading

from .util import ApiError

DEFAULT_TEXT = {
    400: "Bad request: simulated fault",
    404: "Not found: simulated fault",
    408: "Timeout: simulated fault",
    409: "Wrong input: simulated fault",
    429: "Rate limiting exceeded: simulated fault",
    500: "Service internal error: simulated fault",
    502: "Service internal error: simulated fault (bad gateway)",
    503: "Shard temporarily unavailable: simulated fault",
    504: "Timeout: simulated fault (gateway timeout)",
    507: "Insufficient storage: simulated fault",
}

ACTIONS = ("status", "reset", "reset_after_bytes", "truncate_after_bytes",
           "corrupt_byte_at", "delay_ms", "rate_bytes_per_sec", "node_down",
           "upsert", "hold", "endless_body", "fail_load")
# shard snapshot streams only (GET /collections/{c}/shards/{s}/snapshot)
ACTIONS += ("end_after_bytes",)
FLAGS = ("reset", "node_down", "hold", "endless_body", "fail_load")
OBJECTS = ("upsert",)


class Rule:
    def __init__(self, spec, rid):
        if not isinstance(spec, dict):
            raise ApiError(400, "Bad request: a fault rule must be an object")
        self.id = rid
        self.spec = dict(spec)
        self.method = spec.get("method")
        self.path = spec.get("path")
        rx = spec.get("path_regex")
        try:
            self.rx = re.compile(rx) if rx else None
        except re.error as e:
            raise ApiError(400, "Bad request: bad path_regex: %s" % e)
        self.count = int(spec.get("count", 1))
        self.released = threading.Event()
        self.held = 0
        self.skip = int(spec.get("skip", 0))
        self.hits = 0
        if not any(a in spec for a in ACTIONS):
            raise ApiError(400, "Bad request: a fault rule needs one of %s"
                           % ", ".join(ACTIONS))
        for a in FLAGS + ("mark_dead", "after_handler"):
            if a in spec and not isinstance(spec[a], bool):
                raise ApiError(400, "Bad request: %s must be true or false"
                               % a)
        cl = spec.get("content_length")
        if cl is not None and (not isinstance(cl, int) or
                               isinstance(cl, bool) or cl < 0 or
                               not spec.get("endless_body")):
            raise ApiError(400, "Bad request: content_length must be a "
                           "whole number >= 0, with endless_body")
        up = spec.get("upsert")
        if up is not None and (not isinstance(up, dict) or
                               not isinstance(up.get("collection"), str) or
                               not isinstance(up.get("points"), list)):
            raise ApiError(400, "Bad request: upsert must be an object with "
                           "collection and points")
        for a in ACTIONS:
            if a in spec and a not in FLAGS and a not in OBJECTS and \
                    (not isinstance(spec[a], (int, float)) or
                     isinstance(spec[a], bool) or spec[a] < 0):
                raise ApiError(400, "Bad request: %s must be a number >= 0"
                               % a)

    def matches(self, method, path):
        if self.method and self.method.upper() != method:
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        if self.rx is not None and not self.rx.search(path):
            return False
        return True

    def get(self, k, d=None):
        return self.spec.get(k, d)

    def to_json(self):
        d = dict(self.spec)
        d["id"] = self.id
        d["applied"] = self.hits
        d["held"] = self.held
        d["remaining"] = (-1 if self.count < 0 else
                          max(0, self.count - max(0, self.hits)))
        return d


class FaultSet:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.next_id = 1

    def add(self, specs):
        with self.lock:
            out = []
            for s in specs:
                r = Rule(s, self.next_id)
                self.next_id += 1
                self.rules.append(r)
                out.append(r)
            return out

    def clear(self):
        with self.lock:
            for r in self.rules:
                r.released.set()
            self.rules = []

    def release(self, rid=None):
        """Let the requests held by rule rid (every rule: None) go on."""
        with self.lock:
            found = [r for r in self.rules if rid is None or r.id == rid]
            for r in found:
                r.released.set()
            return len(found)

    def hold(self, rule, limit=600):
        """Wait until rule is released (at most limit seconds)."""
        with self.lock:
            rule.held += 1
        try:
            rule.released.wait(limit)
        finally:
            with self.lock:
                rule.held -= 1

    def list(self):
        with self.lock:
            return [r.to_json() for r in self.rules]

    def take(self, method, path):
        """The first active rule matching this request (consumes one use)."""
        with self.lock:
            for r in self.rules:
                if r.count >= 0 and r.hits >= r.count:
                    continue
                if not r.matches(method, path):
                    continue
                if r.skip > 0:
                    r.skip -= 1
                    continue
                r.hits += 1
                return r
        return None
