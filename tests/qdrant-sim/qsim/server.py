"""HTTP front end: routing, auth, envelopes, downloads, uploads, faults."""

import hashlib
import http.client
import json
import os
import re
import select
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
import zlib
import uuid as uuidlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import gen, snapshots as snaps
from . import versions
from . import optimizer
from .faults import DEFAULT_TEXT, FaultSet
from .util import ApiError, dumps, http_date, parse_http_date, parse_point_id

JSON_LIMIT = 32 << 20
IO_CHUNK = 1 << 20
WHITELIST = ("/", "/healthz", "/livez", "/readyz")
RO_DENIED = "Forbidden: Global manage access is required"
PRIORITIES = ("no_sync", "snapshot", "replica")



# Qdrant's ReplicaState (lib/collection/src/shards/replica_set/
# replica_set_state.rs in 1.19, mod.rs before 1.17): Resharding in 1.11
# already, ReshardingScaleDown since 1.13, ActiveRead since 1.16,
# ManualRecovery since 1.17.
REPLICA_STATES = ("Active", "Dead", "Partial", "Initializing", "Listener",
                  "PartialSnapshot", "Recovery", "Resharding",
                  "ReshardingScaleDown", "ActiveRead", "ManualRecovery")

class Abort(Exception):
    """The connection was closed on purpose (fault injection)."""


STREAM_COUNTS_LOCK = threading.Lock()


class StreamEnded(Exception):
    """A shard snapshot stream ends here, cleanly, as Qdrant's does when
    its snapshot task fails."""


class BodyReader:
    """Request body: Content-Length or chunked.  With "Expect:
    100-continue" the interim answer goes out on the first read only (as
    actix does), so a request refused up front never sends its body."""

    def __init__(self, rfile, headers, on_first_read=None):
        self.rfile = rfile
        self.on_first_read = on_first_read
        te = (headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in te
        self.remaining = 0
        self.chunk_left = 0
        self.done = False
        if not self.chunked:
            try:
                self.remaining = int(headers.get("Content-Length") or 0)
            except ValueError:
                self.remaining = 0
            self.done = self.remaining == 0
        self.total = 0

    def read(self, n):
        if self.done or n <= 0:
            return b""
        if self.on_first_read is not None:
            cb, self.on_first_read = self.on_first_read, None
            cb()
        if not self.chunked:
            data = self.rfile.read(min(n, self.remaining))
            if not data:
                self.done = True
                raise ConnectionResetError("client closed the connection")
            self.remaining -= len(data)
            self.total += len(data)
            if self.remaining == 0:
                self.done = True
            return data
        if self.chunk_left == 0:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionResetError("client closed the connection")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ApiError(400, "Bad request: invalid chunked encoding")
            if size == 0:
                while True:
                    t = self.rfile.readline(8192)
                    if not t or t in (b"\r\n", b"\n"):
                        break
                self.done = True
                return b""
            self.chunk_left = size
        data = self.rfile.read(min(n, self.chunk_left))
        if not data:
            raise ConnectionResetError("client closed the connection")
        self.chunk_left -= len(data)
        self.total += len(data)
        if self.chunk_left == 0:
            self.rfile.readline(8)
        return data

    def read_all(self, limit):
        parts = []
        size = 0
        while not self.done:
            d = self.read(IO_CHUNK)
            if not d:
                break
            size += len(d)
            if size > limit:
                raise ApiError(413, "JSON payload (%d bytes) is larger than "
                               "allowed (limit: %d bytes)." % (size, limit))
            parts.append(d)
        return b"".join(parts)

    def drain(self, limit):
        """Read and drop what is left; False if more than limit."""
        if self.on_first_read is not None and not self.done:
            return False        # the client waits for 100-continue
        got = 0
        while not self.done:
            if not self.chunked and self.remaining > limit - got:
                return False
            d = self.read(IO_CHUNK)
            if not d:
                break
            got += len(d)
            if got > limit:
                return False
        return True


# ------------------------------------------------------------------ routes

ROUTES = []


def route(method, pattern, access="read", kind="json"):
    rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
                    + "$")

    def deco(fn):
        ROUTES.append((method, rx, fn, access, kind))
        return fn
    return deco


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "qdrant-sim"
    sys_version = ""
    rbufsize = 1 << 16

    def handle_expect_100(self):
        # answered on the first read of the body (BodyReader)
        self.expect_continue = True
        return True

    def send_continue(self):
        self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def send_response(self, code, message=None):
        if self.after_rule is not None and self.in_handler:
            self.strike_after_handler()
        # actix sends no Server header; Date only
        self.answered = True
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, fmt, *args):
        if self.server.node.sim.verbose:
            sys.stderr.write("qdrant-sim[node %d] %s - %s\n"
                             % (self.server.node.index,
                                self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_OPTIONS(self):
        self.dispatch("OPTIONS")

    # ------------------------------------------------------------ core
    def dispatch(self, method):
        self.t0 = time.monotonic()
        self.node = self.server.node
        self.sim = self.node.sim
        self.fault = None
        self.after_rule = None
        self.in_handler = False
        self.sent_body = 0
        self.rate_t0 = None
        self.enc = None
        self.kind = "json"
        self.answered = False
        cont = None
        if getattr(self, "expect_continue", False):
            self.expect_continue = False
            cont = self.send_continue
        self.body = BodyReader(self.rfile, self.headers, cont)
        u = urlsplit(self.path)
        path = u.path or "/"
        while len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        self.rpath = path
        self.query = {k: v[-1] for k, v in
                      parse_qs(u.query, keep_blank_values=True).items()}
        try:
            if path == "/__sim" or path.startswith("/__sim/"):
                self.admin(method, path)
                return
            rule = self.node.faults.take(method, path)
            rule = self.defer_fault(rule)
            if rule is not None:
                self.upsert_hold_delay(rule)
                if rule.get("node_down"):
                    # the node is lost right when this request comes in
                    set_node_down(self.sim, self.node, True,
                                  mark_dead=rule.get("mark_dead", True),
                                  keep=self.connection)
                    self.kill(rst=True)
                    return
                if rule.get("reset"):
                    self.kill(rst=True)
                    return
                if rule.get("status") is not None:
                    self.fault_status(rule)
                    return
                self.fault = rule
                if rule.get("endless_body"):
                    self.send_endless(rule)
                    return
            found = None
            for m, rx, fn, access, kind in ROUTES:
                mo = rx.match(path)
                if mo is None:
                    continue
                if m == method:
                    found = (fn, {k: unquote(v) for k, v in
                                  mo.groupdict().items()}, access, kind)
                    break
            if found and not versions.route_exists(self.sim, found[0]):
                found = None
            if found:
                self.kind = found[3]
            self.role = self.authenticate(path)
            if found is None:
                self.send_raw(404, b"", None)
                return
            fn, params, access, kind = found
            if access == "manage" and self.role != "manage":
                raise ApiError(403, RO_DENIED,
                               plain=kind in ("download", "upload"))
            self.run_handler(fn, params)
        except ApiError as e:
            if self.answered:        # too late for an error answer
                self.close_connection = True
            else:
                self.send_api_error(e)
        except Abort:
            pass
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception as e:       # a bug: answer like Qdrant would
            if self.sim.verbose or not isinstance(e, OSError):
                traceback.print_exc()
            if self.answered:
                self.close_connection = True
                return
            try:
                self.send_api_error(ApiError(500, "Service internal error: "
                                             "%s" % e))
            except OSError:
                self.close_connection = True
        finally:
            try:
                if not self.close_connection and \
                        not self.body.drain(8 << 20):
                    self.close_connection = True
            except (OSError, ApiError):
                self.close_connection = True

    # ------------------------------------------- faults after the handler
    # A rule with "after_handler" strikes once the handler has done its
    # work: what a client sees when a proxy times out (504) or fails (502)
    # or the connection breaks while Qdrant goes on with the request
    # (actix helpers.rs time_or_accept spawns the work, so it runs to its
    # end whether or not anyone waits for the answer).

    def defer_fault(self, rule):
        """Arm the parts of rule that act later; return the rule if the
        rest of it acts now, else None."""
        if rule is None:
            return None
        if rule.get("fail_load"):
            snaps.arm_load_fault(self.node)
        if rule.get("after_handler"):
            self.after_rule = rule
            return None
        return rule

    def run_handler(self, fn, params):
        if self.after_rule is None:
            fn(self, **params)
            return
        self.in_handler = True
        failed = None
        try:
            fn(self, **params)
        except ApiError as e:
            failed = e  # its answer is lost as well, unless only delayed
        finally:
            self.in_handler = False
        if self.after_rule is not None:
            self.strike_after_handler()
        if failed is not None:
            raise failed

    def upsert_hold_delay(self, rule):
        """The first actions of a fault rule, before or after the handler:
        its upsert, then its hold, then its delay."""
        up = rule.get("upsert")
        if up is not None:
            coll = self.coll(up["collection"])
            self.sim.upsert(coll, self.sim.parse_upsert(coll, up),
                            up.get("shard_key"))
        if rule.get("hold"):
            self.node.faults.hold(rule)
        if rule.get("delay_ms"):
            time.sleep(rule.get("delay_ms") / 1000.0)

    def strike_after_handler(self):
        """The answer is about to leave: apply the deferred rule instead,
        and end the handler (Abort)."""
        rule, self.after_rule = self.after_rule, None
        self.in_handler = False
        self.upsert_hold_delay(rule)
        if rule.get("node_down"):
            set_node_down(self.sim, self.node, True,
                          mark_dead=rule.get("mark_dead", True),
                          keep=self.connection)
            self.kill(rst=True)
        elif rule.get("reset"):
            self.kill(rst=True)
        elif rule.get("status") is not None:
            self.fault_status(rule)
        else:
            return      # only waited: the handler's answer goes out
        raise Abort()

    def authenticate(self, path):
        sim = self.sim
        if not sim.api_key and not sim.ro_key:
            return "manage"
        if path in WHITELIST or path.startswith("/readyz") or \
                path.startswith("/livez"):
            return "manage"
        key = self.headers.get("api-key")
        if key is None:
            auth = self.headers.get("Authorization")
            if auth is not None:
                parts = auth.split(None, 1)
                if len(parts) == 2 and parts[0].lower() == "bearer":
                    key = parts[1].strip()
                else:
                    key = auth
        if key is None:
            raise ApiError(401, "Must provide an API key or an Authorization "
                           "bearer token", plain=True)
        if sim.api_key and key == sim.api_key:
            return "manage"
        if sim.ro_key and key == sim.ro_key:
            return "read"
        raise ApiError(401, "Invalid API key or JWT", plain=True)

    def need_manage(self):
        if self.role != "manage":
            raise ApiError(403, RO_DENIED,
                           plain=self.kind in ("download", "upload"))

    # ------------------------------------------------------------ output
    def elapsed(self):
        return round(time.monotonic() - self.t0, 6)

    def ok(self, result):
        self.send_json(200, {"result": result, "status": "ok",
                             "time": self.elapsed()})

    def accepted(self):
        self.send_json(202, {"status": "accepted", "time": self.elapsed()})

    def send_json(self, status, obj, headers=()):
        self.send_raw(status, dumps(obj).encode(), "application/json",
                      headers)

    def send_api_error(self, e):
        if e.plain:
            self.send_raw(e.status, e.text.encode(),
                          "text/plain; charset=utf-8", e.headers.items())
        else:
            t = 0.0 if e.status == 422 else self.elapsed()
            self.send_json(e.status, {"status": {"error": e.text},
                                      "time": t}, e.headers.items())

    def send_raw(self, status, body, ctype, headers=()):
        enc = self.encoding() if body and status not in (204, 304) else None
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        if enc:
            self.send_header("Content-Encoding", enc)
            self.send_header("Vary", "accept-encoding")
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        if not self.body.done:
            # an unread request body (e.g. an upload refused up front)
            self.send_header("Connection", "close")
            self.close_connection = True
        if enc:
            self.end_headers()
            self.begin_body(enc)
            self.body_write(body)
            self.end_body()
            return
        if self.fault is None and len(body) < (1 << 16):
            # headers and a small body leave in one write
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(body)
            self.flush_headers()
            self.sent_body += len(body)
            return
        self.end_headers()
        self.write_body(body)

    def encoding(self):
        """Content coding negotiated like actix's Compress middleware (gzip
        and deflate only: the standard library has no br/zstd)."""
        ae = self.headers.get("Accept-Encoding")
        if not ae:
            return None
        best = None
        for part in ae.split(","):
            bits = part.strip().split(";")
            name = bits[0].strip().lower()
            q = 1.0
            for b in bits[1:]:
                b = b.strip()
                if b.startswith("q="):
                    try:
                        q = float(b[2:])
                    except ValueError:
                        q = 0.0
            if q <= 0:
                continue
            if name in ("gzip", "x-gzip", "*"):
                return "gzip"
            if name == "deflate" and best is None:
                best = "deflate"
        return best

    # chunked bodies (optionally compressed)
    def begin_body(self, enc):
        self.enc = None
        if enc == "gzip":
            self.enc = zlib.compressobj(1, zlib.DEFLATED, 31)
        elif enc == "deflate":
            self.enc = zlib.compressobj(1, zlib.DEFLATED, 15)

    def body_write(self, data):
        if self.enc is not None:
            data = self.enc.compress(data)
        self.chunk(data)

    def end_body(self):
        if self.enc is not None:
            self.chunk(self.enc.flush())
            self.enc = None
        self.wfile.write(b"0\r\n\r\n")

    def chunk(self, data):
        if not data:
            return
        if self.fault is not None:
            self.fault_write(data, frame=b"%x\r\n" % len(data))
            self.wfile.write(b"\r\n")
        else:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
            self.sent_body += len(data)

    def write_body(self, data):
        if self.fault is None:
            self.wfile.write(data)
            self.sent_body += len(data)
            return
        self.fault_write(data)

    def fault_write(self, data, frame=None):
        """Write body bytes through the active fault rule.  frame: bytes to
        send before them (a chunk header)."""
        r = self.fault
        c = r.get("corrupt_byte_at")
        if c is not None and self.sent_body <= c < self.sent_body + len(data):
            b = bytearray(data)
            b[int(c) - self.sent_body] ^= 0xFF
            data = bytes(b)
        stop = None
        for k in ("reset_after_bytes", "truncate_after_bytes"):
            lim = r.get(k)
            if lim is not None and self.sent_body + len(data) > lim:
                data = data[:max(0, int(lim) - self.sent_body)]
                stop = "rst" if k == "reset_after_bytes" else "fin"
                break
        if frame is not None:
            self.wfile.write(frame)
        rate = r.get("rate_bytes_per_sec")
        if rate:
            if self.rate_t0 is None:
                self.rate_t0 = time.monotonic()
                self.rate_base = self.sent_body
            step = max(1, int(rate) // 20)
            mv = memoryview(data)
            while mv:
                piece = mv[:step]
                self.wfile.write(piece)
                self.sent_body += len(piece)
                mv = mv[len(piece):]
                due = self.rate_t0 + (self.sent_body - self.rate_base) / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        else:
            self.wfile.write(data)
            self.sent_body += len(data)
        if stop is not None:
            self.kill(rst=(stop == "rst"))
            raise Abort()

    def kill(self, rst):
        s = self.connection
        if rst and self.sent_body:
            time.sleep(0.05)    # let the bytes sent arrive before the RST
        try:
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            else:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.close_connection = True
        for f in (self.rfile, self.wfile):
            try:
                f.close()
            except OSError:
                pass
        try:
            s.close()
        except OSError:
            pass

    def send_endless(self, rule):
        """200 with a JSON body that never ends (or ends only after the
        content_length it announces): what a hostile or broken server
        sends.  Written through the rule, so rate_bytes_per_sec applies."""
        n = rule.get("content_length")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if n is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(int(n)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        data = b'{"result":{"items":[' + b"".join(
            b'{"id":%d,"name":"endless"},' % i for i in range(2000))
        i = 2000
        while n is None or self.sent_body < n:
            if n is not None:
                data = data[:n - self.sent_body]
            if n is None:
                self.chunk(data)
            else:
                self.write_body(data)
            self.wfile.flush()
            data = b'{"id":%d,"name":"endless"},' % i * 2000
            i += 1

    def fault_status(self, rule):
        st = int(rule.get("status"))
        headers = dict(rule.get("headers") or {})
        if st == 429 and "Retry-After" not in headers:
            headers["Retry-After"] = str(rule.get("retry_after", 1))
        elif rule.get("retry_after") is not None:
            headers["Retry-After"] = str(rule.get("retry_after"))
        body = rule.get("body")
        if body is None and 300 <= st < 400:
            # A redirect as a reverse proxy (nginx) answers it: a small
            # HTML page; the target is in a "Location" header if given.
            reason = http.client.responses.get(st, "Redirect")
            page = ("<html>\r\n<head><title>%d %s</title></head>\r\n"
                    "<body>\r\n<center><h1>%d %s</h1></center>\r\n"
                    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
                    % (st, reason, st, reason))
            self.send_raw(st, page.encode(), headers.pop(
                "Content-Type", "text/html"), headers.items())
        elif body is None:
            text = DEFAULT_TEXT.get(st, "Service internal error: simulated "
                                        "fault")
            self.send_json(st, {"status": {"error": text},
                                "time": self.elapsed()}, headers.items())
        elif isinstance(body, str):
            self.send_raw(st, body.encode(), headers.pop(
                "Content-Type", "text/plain; charset=utf-8"), headers.items())
        else:
            self.send_json(st, body, headers.items())

    # ------------------------------------------------------------ input
    def json_body(self, required=True):
        raw = self.body.read_all(JSON_LIMIT)
        if not raw.strip():
            if required:
                raise ApiError(400, "Format error in JSON body: EOF while "
                               "parsing a value at line 1 column 0")
            return {}
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "Format error in JSON body: %s" % e)

    def q_bool(self, name, default):
        v = self.query.get(name)
        if v is None:
            return default
        if v == "true":
            return True
        if v == "false":
            return False
        raise ApiError(400, "Deserialize error in query parameters: provided "
                       "string was not `true` or `false`")

    def q_priority(self):
        v = self.query.get("priority")
        if v is None:
            return None
        if v not in PRIORITIES:
            raise ApiError(400, "Deserialize error in query parameters: "
                           "unknown variant `%s`, expected one of `no_sync`, "
                           "`snapshot`, `replica`" % v)
        return v

    def q_checksum(self):
        v = self.query.get("checksum")
        if v is not None and not snaps.valid_checksum(v):
            raise ApiError(422, "Validation error in query parameters: "
                           "[checksum: invalid_sha256_hash]")
        return v

    def body_priority(self, body):
        v = body.get("priority")
        if v is not None and v not in PRIORITIES:
            raise ApiError(400, "Format error in JSON body: unknown variant "
                           "`%s`, expected one of `no_sync`, `snapshot`, "
                           "`replica`" % v)
        return v

    def coll(self, name):
        return self.sim.resolve(name)

    # ------------------------------------------------------------ files
    def serve_file(self, fd, name):
        st = os.fstat(fd)
        size = st.st_size
        etag = '"%x:%x:%x:%x"' % (st.st_ino, size, int(st.st_mtime),
                                  st.st_mtime_ns % 1000000000)
        lm = http_date(st.st_mtime)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        common = [("ETag", etag), ("Last-Modified", lm)]
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            if "*" in tags or etag in tags or ("W/" + etag) in tags:
                self.send_304(common)
                return
        elif ims is not None:
            t = parse_http_date(ims)
            if t is not None and int(st.st_mtime) <= t:
                self.send_304(common)
                return
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        extra = []
        if rng is not None:
            r = parse_range(rng, size)
            if r == "invalid":
                r = None
            if r == "unsatisfiable":
                self.send_raw(416, b"", None,
                              [("Content-Range", "bytes */%d" % size)] +
                              common)
                return
            if r is not None:
                start, end = r
                status = 206
                extra.append(("Content-Range", "bytes %d-%d/%d"
                              % (start, end, size)))
        length = max(0, end - start + 1)
        enc = self.encoding() if length else None
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Disposition",
                         'attachment; filename="%s"' % name)
        if enc:
            self.send_header("Content-Encoding", enc)
            self.send_header("Vary", "accept-encoding")
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in common + extra:
            self.send_header(k, v)
        self.end_headers()
        if enc:
            self.begin_body(enc)
            done = 0
            while done < length:
                data = os.pread(fd, min(IO_CHUNK, length - done),
                                start + done)
                if not data:
                    raise OSError("file shrank while sending")
                self.body_write(data)
                done += len(data)
            self.end_body()
            return
        self.send_fd(fd, start, length)

    # ------------------------------------------------ snapshots_storage s3
    def serve_object_stream(self, fd):
        """A stored snapshot as Qdrant sends one from S3: 200, chunked,
        no Content-Length, no Content-Disposition, no Range, no validators
        (lib/collection/src/common/snapshot_stream.rs, ByteStream)."""
        size = os.fstat(fd).st_size
        enc = self.encoding()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if enc:
            self.send_header("Content-Encoding", enc)
            self.send_header("Vary", "accept-encoding")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.begin_body(enc)
        done = 0
        while done < size:
            data = os.pread(fd, min(IO_CHUNK, size - done), done)
            if not data:
                raise OSError("file shrank while sending")
            self.body_write(data)
            done += len(data)
        self.end_body()

    def send_304(self, common):
        self.send_response(304)
        for k, v in common:
            self.send_header(k, v)
        self.end_headers()

    def send_fd(self, fd, offset, length):
        # sendfile would bypass TLS: a TLS connection gets the bytes
        if self.fault is not None or self.sim.tls is not None:
            done = 0
            while done < length:
                data = os.pread(fd, min(IO_CHUNK, length - done),
                                offset + done)
                if not data:
                    raise OSError("file shrank while sending")
                if self.fault is not None:
                    self.fault_write(data)
                else:
                    self.wfile.write(data)
                    self.sent_body += len(data)
                done += len(data)
            return
        sock = self.connection.fileno()
        done = 0
        while done < length:
            try:
                n = os.sendfile(sock, fd, offset + done,
                                min(length - done, 1 << 30))
            except BlockingIOError:
                select.select([], [sock], [], 5)
                continue
            if n == 0:
                raise OSError("file shrank while sending")
            done += n
        self.sent_body += done

    def stream_plan(self, plan, name):
        """Send a plan chunked (Transfer-Encoding: chunked), file ranges by
        sendfile inside chunks unless a fault or a content coding needs to
        see the bytes."""
        enc = self.encoding()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Disposition",
                         'attachment; filename="%s"' % name)
        if enc:
            self.send_header("Content-Encoding", enc)
            self.send_header("Vary", "accept-encoding")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.begin_body(enc)
        direct = self.fault is None and self.enc is None and \
            self.sim.tls is None and not self.stream_idle_limit()
        self.stream_begin()
        buf = []
        buflen = 0

        def flush():
            nonlocal buf, buflen
            if buflen:
                self.stream_body_write(b"".join(buf))
            buf, buflen = [], 0
        try:
            for item in plan.items:
                if item[0] == "b":
                    buf.append(item[1])
                    buflen += len(item[1])
                    if buflen >= IO_CHUNK:
                        flush()
                    continue
                flush()
                _, fd, off, length = item
                done = 0
                if not direct:
                    while done < length:
                        data = os.pread(fd, min(IO_CHUNK, length - done),
                                        off + done)
                        if not data:
                            raise OSError("file shrank while sending")
                        self.stream_body_write(data)
                        done += len(data)
                    continue
                while done < length:
                    n = min(length - done, 64 << 20)
                    self.wfile.write(b"%x\r\n" % n)
                    self.send_fd(fd, off + done, n)
                    self.wfile.write(b"\r\n")
                    done += n
            flush()
            self.end_body()
            self.stream_count("complete")
        except StreamEnded:
            # Qdrant drops the tar writer: the body ends cleanly, without
            # the archive's end
            self.end_body()
            self.stream_count("ended_early")
        finally:
            plan.close()

    # ------------------------------------------------ shard stream endings
    # Qdrant streams GET /collections/{c}/shards/{s}/snapshot from a task
    # that writes the tar into a 4 KiB pipe (shard_holder/mod.rs,
    # stream_shard_snapshot).  When that task fails (an error while it
    # builds the snapshot; from 1.18.2 also a client that has read nothing
    # for SNAPSHOT_STREAM_WRITE_IDLE_TIMEOUT, 5 minutes) it drops the
    # writer, and the body ends as a clean chunked body: a tar without its
    # end-of-archive blocks, cut anywhere.
    def stream_idle_limit(self):
        t = getattr(self.sim, "stream_idle_timeout", 300)
        # the idle clock needs plain socket writes (not TLS)
        return t if t and self.sim.tls is None else 0

    def stream_begin(self):
        self.stream_sent = 0
        self.stream_idle_expired = False

    def stream_body_write(self, data):
        """body_write for a shard stream: fault "end_after_bytes" and the
        idle limit end the body cleanly (StreamEnded)."""
        r = self.fault
        lim = r.get("end_after_bytes") if r is not None else None
        end = False
        if lim is not None and self.stream_sent + len(data) >= lim:
            data = data[:max(0, int(lim) - self.stream_sent)]
            end = True
        self.stream_sent += len(data)
        if self.enc is not None:
            data = self.enc.compress(data)
        if data:
            if r is None and self.stream_idle_limit():
                self.stream_idle_chunk(data)
            else:
                self.chunk(data)
        if end or self.stream_idle_expired:
            raise StreamEnded()

    def stream_count(self, what):
        """Count a stream's ending per node, for GET /__sim/streams."""
        with STREAM_COUNTS_LOCK:
            c = self.node.__dict__.setdefault("stream_counts", {
                "complete": 0, "ended_early": 0, "idle_timeouts": 0})
            c[what] += 1

    def stream_counts_answer(self):
        target = self.node
        n = self.query.get("node")
        if n:
            target = self.node_by(int(n))
        with STREAM_COUNTS_LOCK:
            c = dict(target.__dict__.get("stream_counts", {
                "complete": 0, "ended_early": 0, "idle_timeouts": 0}))
        c["node"] = target.index
        self.ok(c)

    def stream_idle_chunk(self, data):
        """Send one chunk; if the client reads nothing for the idle limit,
        finish this chunk (what Qdrant had queued) and mark the stream
        ended."""
        sock = self.connection
        limit = self.stream_idle_limit()
        mv = memoryview(b"%x\r\n" % len(data) + data + b"\r\n")
        while mv:
            if not select.select([], [sock], [], limit)[1]:
                self.stream_idle_expired = True
                self.stream_count("idle_timeouts")
                sock.sendall(mv)
                break
            try:
                n = sock.send(mv[:1 << 16], socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            mv = mv[n:]
        self.sent_body += len(data)

    def receive_upload(self, dest_dir, keep_name):
        """Stream the multipart field `snapshot` into dest_dir; returns
        (path, sha256 hex).  keep_name: save under the uploaded name."""
        ctype = self.headers.get("Content-Type") or ""
        m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', ctype)
        if not ctype.lower().startswith("multipart/form-data") or not m:
            raise ApiError(400, "Content type error", plain=True)
        boundary = (m.group(1) or m.group(2)).encode()
        delim = b"--" + boundary
        os.makedirs(dest_dir, exist_ok=True)
        buf = bytearray()
        rd = self.body
        result = None

        def fill():
            d = rd.read(IO_CHUNK)
            if not d:
                return False
            buf.extend(d)
            return True

        # preamble
        while True:
            i = buf.find(delim)
            if i >= 0:
                del buf[:i + len(delim)]
                break
            if len(buf) > len(delim):
                del buf[:len(buf) - len(delim)]
            if not fill():
                raise ApiError(400, "Bad request: multipart body has no "
                               "parts")
        while True:
            while len(buf) < 2:
                if not fill():
                    raise ApiError(400, "Bad request: truncated multipart")
            if buf[:2] == b"--":
                break
            # part headers
            while True:
                i = buf.find(b"\r\n\r\n")
                if i >= 0:
                    break
                if len(buf) > 65536 or not fill():
                    raise ApiError(400, "Bad request: bad multipart headers")
            head = bytes(buf[:i]).decode("utf-8", "replace")
            del buf[:i + 4]
            disp = ""
            for line in head.split("\r\n"):
                if line.lower().startswith("content-disposition:"):
                    disp = line.split(":", 1)[1]
            fm = re.search(r'(?:^|;)\s*name="([^"]*)"', disp) or \
                re.search(r'(?:^|;)\s*name=([^;\s]+)', disp)
            fname = re.search(r'filename="([^"]*)"', disp) or \
                re.search(r'filename=([^;\s]+)', disp)
            field = fm.group(1) if fm else ""
            want = field == "snapshot" and result is None
            out_fd = None
            tmp = None
            h = hashlib.sha256()
            if want:
                out_fd, tmp = tempfile.mkstemp(prefix=".upload-",
                                               suffix=".tmp", dir=dest_dir)
            needle = b"\r\n" + delim
            pos = 0
            try:
                while True:
                    i = buf.find(needle)
                    if i >= 0:
                        chunk = bytes(buf[:i])
                        del buf[:i + len(needle)]
                        end = True
                    else:
                        keep = len(needle) - 1
                        if len(buf) > keep:
                            chunk = bytes(buf[:len(buf) - keep])
                            del buf[:len(buf) - keep]
                        else:
                            chunk = b""
                        end = False
                    if chunk and out_fd is not None:
                        h.update(chunk)
                        mv = memoryview(chunk)
                        while mv:
                            n = os.pwrite(out_fd, mv, pos)
                            pos += n
                            mv = mv[n:]
                    if end:
                        break
                    if not fill():
                        raise ApiError(400, "Bad request: truncated multipart "
                                       "body")
            except BaseException:
                if out_fd is not None:
                    os.close(out_fd)
                    os.unlink(tmp)
                raise
            if out_fd is not None:
                os.close(out_fd)
                name = fname.group(1) if fname else ""
                name = name.replace("\\", "/").split("/")[-1]
                if not name or name in (".", ".."):
                    name = str(uuidlib.uuid4())
                if keep_name:
                    final = os.path.join(dest_dir, name)
                    os.replace(tmp, final)
                else:
                    final = tmp
                os.chmod(final, 0o644)
                result = (final, h.hexdigest())
        # epilogue
        while fill():
            pass
        if result is None:
            raise ApiError(400, "Bad request: multipart field `snapshot` is "
                           "missing")
        return result

    # ------------------------------------------------------------ admin
    def admin(self, method, path):
        sim = self.sim
        try:
            if path == "/__sim/streams" and method == "GET":
                self.stream_counts_answer()
                return
            if path == "/__sim/faults":
                target = self.node
                if method == "GET":
                    n = self.query.get("node")
                    if n:
                        target = self.node_by(int(n))
                    self.ok({"node": target.index,
                             "rules": target.faults.list()})
                    return
                if method == "DELETE":
                    if self.query.get("all") == "true":
                        for n in sim.nodes:
                            n.faults.clear()
                    else:
                        n = self.query.get("node")
                        if n:
                            target = self.node_by(int(n))
                        target.faults.clear()
                    self.ok(True)
                    return
                if method == "POST":
                    body = self.json_body()
                    if isinstance(body, dict) and "rules" in body:
                        rules = body["rules"]
                        if body.get("node"):
                            target = self.node_by(int(body["node"]))
                    elif isinstance(body, list):
                        rules = body
                    else:
                        rules = [body]
                        if isinstance(body, dict) and body.get("node"):
                            target = self.node_by(int(body["node"]))
                    if body.get("replace") if isinstance(body, dict) else \
                            False:
                        target.faults.clear()
                    added = target.faults.add(rules)
                    self.ok({"node": target.index,
                             "rules": [r.to_json() for r in added]})
                    return
            elif path == "/__sim/faults/release" and method == "POST":
                body = self.json_body(required=False)
                target = self.node
                if isinstance(body, dict) and body.get("node"):
                    target = self.node_by(int(body["node"]))
                rid = body.get("id") if isinstance(body, dict) else None
                self.ok({"released": target.faults.release(
                    None if rid is None else int(rid))})
                return
            elif path == "/__sim/node" and method == "POST":
                body = self.json_body()
                if "node" in body:
                    target = self.node_by(int(body["node"]))
                elif "peer_id" in body:
                    target = sim.by_peer.get(int(body["peer_id"]))
                    if target is None:
                        raise ApiError(404, "Not found: no such peer")
                else:
                    target = self.node
                down = bool(body.get("down", True))
                for_ms = body.get("for_ms")
                mark_dead = body.get("mark_dead", True)
                if not isinstance(mark_dead, bool):
                    raise ApiError(400, "Bad request: mark_dead must be "
                                   "true or false")
                # Done before the answer: when it arrives, the node is
                # down (or up) and the replica states say so.  The
                # receiving node itself keeps this one connection open
                # for the answer, then closes it.
                set_node_down(sim, target, down, for_ms, mark_dead,
                              keep=self.connection if target is self.node
                              else None)
                if target is self.node and down:
                    self.close_connection = True
                self.ok({"node": target.index, "peer_id": target.peer_id,
                         "down": down, "mark_dead": mark_dead})
                return
            elif path == "/__sim/p2p" and method == "POST":
                # The p2p port a node advertises in GET /cluster (a
                # deployment whose ports do not follow the usual rule).
                body = self.json_body()
                target = self.node_by(int(body.get("node", 0)))
                port = body.get("port")
                if not isinstance(port, int) or isinstance(port, bool) or \
                        not 0 < port < 65536:
                    raise ApiError(400, "Bad request: port must be "
                                   "1..65535")
                with sim.lock:
                    target.p2p_port = port
                self.ok({"node": target.index, "uri": target.uri()})
                return
            elif path == "/__sim/replica_state" and method == "POST":
                # Put one replica in any state Qdrant has
                # (lib/collection/src/shards/replica_set/
                # replica_set_state.rs), e.g. those of resharding.
                body = self.json_body()
                coll = sim.find(str(body.get("collection")))
                if coll is None:
                    raise ApiError(404, "Not found: no such collection")
                sid = int(body.get("shard", -1))
                pid = sim.nodes[int(body.get("node", 1)) - 1].peer_id
                state = body.get("state")
                if state not in REPLICA_STATES:
                    raise ApiError(400, "Bad request: state must be one "
                                   "of " + ", ".join(REPLICA_STATES))
                if pid not in coll.shards.get(sid, {}):
                    raise ApiError(404, "Not found: no such replica")
                sim.set_state(coll, sid, pid, state)
                self.ok({"peer_id": pid, "state": state})
                return
            elif path == "/__sim/wipe_shard" and method == "POST":
                # Lose the data of one shard on every replica (or on the
                # node given): the replicas stay Active, but empty.
                body = self.json_body()
                coll = sim.find(str(body.get("collection")))
                if coll is None:
                    raise ApiError(404, "Not found: no such collection")
                sid = int(body.get("shard", -1))
                if sid not in coll.shards:
                    raise ApiError(404, "Not found: no such shard")
                wiped = []
                for n in sim.nodes:
                    if n.peer_id not in coll.shards[sid]:
                        continue
                    if body.get("node") and n.index != int(body["node"]):
                        continue
                    with coll.lock, n.rlock:
                        old = n.replicas.pop((coll.name, sid), None)
                        if old is not None:
                            old.close()
                        from .storage import remove_tree
                        remove_tree(n.replica_path(coll.name, sid))
                        n.open_replica(coll, sid)
                    wiped.append(n.index)
                self.ok({"collection": coll.name, "shard": sid,
                         "nodes": wiped})
                return
            elif path == "/__sim/state" and method == "GET":
                self.ok({"nodes": [{"node": n.index, "peer_id": n.peer_id,
                                    "port": n.port, "p2p_port": n.p2p_port,
                                    "down": n.down, "storage": n.path,
                                    "snapshots": n.snap_dir}
                                   for n in sim.nodes],
                         "collections": sorted(sim.collections)})
                return
            elif path == "/__sim/generate" and method == "POST":
                b = self.json_body()
                if not isinstance(b, dict) or not b.get("collection"):
                    raise ApiError(400, "Bad request: collection is required")
                res = gen.generate(
                    sim, b["collection"], b.get("points", 1000),
                    b.get("dim", 384), seed=b.get("seed", 1),
                    distance=b.get("distance", "Cosine"),
                    payload=b.get("payload", True),
                    shard_number=b.get("shard_number"),
                    replication_factor=b.get("replication_factor"),
                    replace=b.get("replace", False),
                    uuid_points=b.get("uuid_points", 0),
                    max_segment_size=b.get("max_segment_size"),
                    vector_name=b.get("vector_name"))
                self.ok(res)
                return
            elif path == "/__sim/mutate" and method == "POST":
                b = self.json_body()
                self.ok(gen.mutate(sim, b.get("collection"),
                                   b.get("fraction", 0.02),
                                   b.get("seed", 1), self.node))
                return
            elif path == "/__sim/extra_member" and method == "POST":
                # Members added to every later snapshot of a collection
                # (collection and shard snapshots): odd archives, such as
                # a member name longer than a file system allows.
                b = self.json_body()
                coll = sim.find(str(b.get("collection")))
                if coll is None:
                    raise ApiError(404, "Not found: no such collection")
                with coll.lock:
                    if b.get("clear"):
                        coll.extra_members = []
                    elif not isinstance(b.get("name"), str) or \
                            not b["name"]:
                        raise ApiError(400, "Bad request: name is required")
                    else:
                        coll.extra_members.append(
                            (b["name"], str(b.get("data", "")).encode()))
                    names = [n for n, _ in coll.extra_members]
                self.ok({"collection": coll.name, "members": names})
                return
            elif path == "/__sim/optimizer" and method == "POST":
                res = optimizer.hold(sim, self.json_body())
                if res is None:
                    raise ApiError(400, "Bad request: collection is "
                                   "required")
                self.ok(res)
                return
            elif path == "/__sim/tamper" and method == "POST":
                b = self.json_body()
                try:
                    key = parse_point_id(b.get("id"))
                except ValueError:
                    raise ApiError(400, "Bad request: bad point id")
                if b.get("on_recover"):
                    self.ok(gen.tamper_on_recover(
                        sim, b.get("collection"), key,
                        b.get("what", "vector"), b.get("count", 1)))
                    return
                self.ok(gen.tamper(sim, b.get("collection"), key,
                                   b.get("what", "vector"), b.get("node")))
                return
            self.send_raw(404, b"", None)
        except ApiError as e:
            self.send_api_error(e)

    def node_by(self, idx):
        for n in self.sim.nodes:
            if n.index == idx:
                return n
        raise ApiError(404, "Not found: no node %d" % idx)


def parse_range(h, size):
    m = re.match(r"^\s*bytes\s*=\s*(.+)$", h)
    if not m:
        return "invalid"
    first = m.group(1).split(",")[0].strip()
    mm = re.match(r"^(\d*)\s*-\s*(\d*)$", first)
    if not mm or (mm.group(1) == "" and mm.group(2) == ""):
        return "invalid"
    a, b = mm.group(1), mm.group(2)
    if a == "":
        n = int(b)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(a)
    end = int(b) if b else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


# ------------------------------------------------------------------ server

class NodeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, node):
        self.node = node
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.node.sim.tls is not None:
            # the handshake happens on the first read, in the handler's
            # thread (a client that speaks plain HTTP fails there alone)
            sock = self.node.sim.tls.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False)
        with self.conns_lock:
            self.conns.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if self.node.sim.verbose:
            super().handle_error(request, client_address)

    def reset_all(self, keep=None):
        with self.conns_lock:
            conns = [c for c in self.conns if c is not keep]
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def start_node(node, host, port):
    srv = NodeServer((host, port), node)
    node.server = srv
    node.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, kwargs={
        "poll_interval": 0.2}, daemon=True)
    t.start()
    return srv


_down_lock = threading.Lock()


def set_node_down(sim, node, down, for_ms=None, mark_dead=True, keep=None):
    """Take ${node} down (listening socket closed, open connections reset
    except ${keep}, replicas Dead unless not ${mark_dead}) or bring it back
    on its port; synchronous.  ${for_ms}: back up that much later."""
    with _down_lock:
        if down and not node.down:
            srv = node.server
            sim.node_down(node, True, mark_dead)
            if srv is not None:
                srv.shutdown()
                srv.server_close()
                srv.reset_all(keep)
                node.server = None
        elif not down and node.down:
            for i in range(50):
                try:
                    start_node(node, sim.host, node.port)
                    break
                except OSError:
                    time.sleep(0.1)
            sim.node_down(node, False)
    if down and for_ms:
        t = threading.Timer(for_ms / 1000.0, set_node_down,
                            (sim, node, False))
        t.daemon = True
        t.start()


def init_faults(node):
    node.faults = FaultSet()


# handlers live in api.py (imported for their @route side effects)
from . import api  # noqa: E402,F401
