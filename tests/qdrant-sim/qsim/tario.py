"""Tar writing and reading for the Qdrant simulator.

Writing: archives are described as a *plan*, a list of items
  ("b", bytes)                       bytes from memory
  ("f", fd, offset, length)          a range of an open file
so that the size of an archive (needed for the header of a nested tar) is
known before a byte is written, and the same plan can be emitted into a file
(copy_file_range / sendfile) or into an HTTP stream.  Headers are GNU headers
as the Rust `tar` crate writes them (magic "ustar  \\0"), long names through
"././@LongLink" entries, sparse files as old-GNU sparse members (typeflag S).

Reading: a strict streaming reader (works on pipes and HTTP bodies) that
understands GNU, ustar and pax headers, long names, GNU sparse members,
"./" prefixes and archives without directory entries, and refuses anything
that is not a regular file, a sparse file or a directory.
"""

import os

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
END_OF_ARCHIVE = bytes(2 * BLOCK)
COPY_CHUNK = 8 << 20


class TarError(Exception):
    """The archive is malformed (the message is the reader's detail)."""


class TarForbidden(TarError):
    """The archive holds an entry type Qdrant refuses to unpack."""


def pad(n):
    return (-n) % BLOCK


# ---------------------------------------------------------------- writing

def _octal(value, width):
    """Rust tar's octal_into: zero padded octal, NUL terminated; GNU
    base-256 when the number does not fit."""
    digits = "%o" % value
    if len(digits) <= width - 1:
        return digits.rjust(width - 1, "0").encode() + b"\0"
    out = bytearray(width)
    v = value
    for i in range(width - 1, 0, -1):
        out[i] = v & 0xFF
        v >>= 8
    out[0] = 0x80
    return bytes(out)


def _raw_header(name, size, mode, uid, gid, mtime, typeflag, uname, gname,
                sparse=None, realsize=None, isextended=False):
    h = bytearray(BLOCK)
    nb = name if isinstance(name, bytes) else name.encode()
    h[0:len(nb[:100])] = nb[:100]
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(uid, 8)
    h[116:124] = _octal(gid, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(int(mtime), 12)
    h[156:157] = typeflag
    h[257:265] = b"ustar  \0"
    ub = uname.encode() if isinstance(uname, str) else uname
    gb = gname.encode() if isinstance(gname, str) else gname
    h[265:265 + len(ub[:32])] = ub[:32]
    h[297:297 + len(gb[:32])] = gb[:32]
    if sparse is not None:
        pos = 386
        for off, num in sparse[:4]:
            h[pos:pos + 12] = _octal(off, 12)
            h[pos + 12:pos + 24] = _octal(num, 12)
            pos += 24
        h[482] = 1 if isextended else 0
        h[483:495] = _octal(realsize, 12)
    h[148:156] = b"        "
    csum = sum(h)
    h[148:156] = _octal(csum, 8)
    return bytes(h)


def header(name, size, mode=0o644, uid=0, gid=0, mtime=0, typeflag=b"0",
           uname="", gname="", sparse=None, realsize=None):
    """Bytes of the header block(s) for one member (long name entry and
    sparse extension blocks included)."""
    nb = name.encode() if isinstance(name, str) else name
    out = []
    if len(nb) > 100:
        data = nb + b"\0"
        out.append(_raw_header(b"././@LongLink", len(data), 0o644, 0, 0, 0,
                               b"L", "", ""))
        out.append(data + bytes(pad(len(data))))
    if sparse is None:
        out.append(_raw_header(nb, size, mode, uid, gid, mtime, typeflag,
                               uname, gname))
    else:
        first, rest = sparse[:4], sparse[4:]
        out.append(_raw_header(nb, size, mode, uid, gid, mtime, b"S", uname,
                               gname, sparse=first, realsize=realsize,
                               isextended=bool(rest)))
        while rest:
            chunk, rest = rest[:21], rest[21:]
            ext = bytearray(BLOCK)
            pos = 0
            for off, num in chunk:
                ext[pos:pos + 12] = _octal(off, 12)
                ext[pos + 12:pos + 24] = _octal(num, 12)
                pos += 24
            ext[504] = 1 if rest else 0
            out.append(bytes(ext))
    return b"".join(out)


class Plan:
    """An archive under construction: items and running size."""

    def __init__(self):
        self.items = []
        self.size = 0
        self.fds = []          # fds this plan owns (closed by close())

    def add_bytes(self, b):
        if b:
            self.items.append(("b", b))
            self.size += len(b)

    def add_file_range(self, fd, offset, length):
        if length:
            self.items.append(("f", fd, offset, length))
            self.size += length

    def add_plan(self, other):
        self.items.extend(other.items)
        self.size += other.size
        self.fds.extend(other.fds)
        other.fds = []

    # members
    def dir(self, name, mode=0o40755, mtime=0, uid=0, gid=0):
        if not name.endswith("/"):
            name += "/"
        self.add_bytes(header(name, 0, mode=mode, mtime=mtime, uid=uid,
                              gid=gid, typeflag=b"5"))

    def mem_file(self, name, data):
        """A member written from memory: mode 0644 without type bits,
        mtime 0, uid/gid 0, typeflag NUL (as Qdrant's tar_ext does)."""
        if isinstance(data, str):
            data = data.encode()
        self.add_bytes(header(name, len(data), typeflag=b"\0"))
        self.add_bytes(data)
        self.add_bytes(bytes(pad(len(data))))

    def disk_file(self, name, fd, length, st, offset=0):
        """A member copied from disk: real mode (with type bits), mtime, uid,
        gid.  `length` bytes from `offset` of the open fd."""
        self.add_bytes(header(name, length, mode=st.st_mode, uid=st.st_uid,
                              gid=st.st_gid, mtime=int(st.st_mtime)))
        self.add_file_range(fd, offset, length)
        self.add_bytes(bytes(pad(length)))

    def data_file(self, name, data, st):
        """A member with content from memory but metadata from disk (small
        mutable files captured under a lock)."""
        self.add_bytes(header(name, len(data), mode=st.st_mode, uid=st.st_uid,
                              gid=st.st_gid, mtime=int(st.st_mtime)))
        self.add_bytes(data)
        self.add_bytes(bytes(pad(len(data))))

    def sparse_file(self, name, fd, datalen, realsize, st=None, data=None):
        """A GNU sparse member: `datalen` bytes of data at offset 0 followed
        by a hole up to `realsize` (how a pre-allocated WAL segment looks)."""
        smap = []
        if datalen:
            smap.append((0, datalen))
        smap.append((realsize, 0))
        mode = st.st_mode if st else 0o100644
        mtime = int(st.st_mtime) if st else 0
        uid = st.st_uid if st else 0
        gid = st.st_gid if st else 0
        self.add_bytes(header(name, datalen, mode=mode, uid=uid, gid=gid,
                              mtime=mtime, sparse=smap, realsize=realsize))
        if data is not None:
            self.add_bytes(data[:datalen])
        else:
            self.add_file_range(fd, 0, datalen)
        self.add_bytes(bytes(pad(datalen)))

    def nested(self, name, inner, mode=0o100644, mtime=0, uid=0, gid=0):
        """Another plan as one member (a nested tar)."""
        self.add_bytes(header(name, inner.size, mode=mode, uid=uid, gid=gid,
                              mtime=mtime))
        self.add_plan(inner)
        self.add_bytes(bytes(pad(inner.size)))

    def finish(self):
        self.add_bytes(END_OF_ARCHIVE)

    def close(self):
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def emit_to_fd(plan, out_fd):
    """Write a plan into an open file (positioned at its start)."""
    buf = []
    buflen = 0
    pos = 0

    def flush():
        nonlocal buf, buflen, pos
        if buf:
            data = b"".join(buf)
            mv = memoryview(data)
            while mv:
                n = os.pwrite(out_fd, mv, pos)
                pos += n
                mv = mv[n:]
            buf = []
            buflen = 0

    for item in plan.items:
        if item[0] == "b":
            buf.append(item[1])
            buflen += len(item[1])
            if buflen >= (1 << 20):
                flush()
        else:
            flush()
            _, fd, off, length = item
            copy_range(fd, off, out_fd, pos, length)
            pos += length
    flush()
    return pos


_have_cfr = hasattr(os, "copy_file_range")


def copy_range(src_fd, src_off, dst_fd, dst_off, length):
    """Copy bytes between files in the kernel when possible."""
    global _have_cfr
    done = 0
    if _have_cfr:
        try:
            while done < length:
                n = os.copy_file_range(src_fd, dst_fd,
                                       min(length - done, 1 << 30),
                                       src_off + done, dst_off + done)
                if n == 0:
                    break
                done += n
        except OSError:
            _have_cfr = False
    while done < length:
        data = os.pread(src_fd, min(length - done, COPY_CHUNK), src_off + done)
        if not data:
            raise OSError("unexpected end of file while copying")
        mv = memoryview(data)
        while mv:
            n = os.pwrite(dst_fd, mv, dst_off + done)
            done += n
            mv = mv[n:]
    return done


# ---------------------------------------------------------------- reading

class Member:
    __slots__ = ("name", "type", "size", "mode", "mtime", "sparse",
                 "realsize", "uid", "gid")

    def isdir(self):
        return self.type == b"5"

    def isfile(self):
        return self.type in (b"0", b"\0", b"7", b"S")


def _parse_num(field, what):
    if field and field[0] & 0x80:
        # base-256 (GNU); 0xff would be negative: refuse
        if field[0] == 0xFF:
            raise TarError("numeric field %s is negative" % what)
        v = field[0] & 0x7F
        for b in field[1:]:
            v = (v << 8) | b
        return v
    s = field.split(b"\0", 1)[0].strip(b" ")
    if not s:
        return 0
    try:
        return int(s, 8)
    except ValueError:
        raise TarError("numeric field %s was not a valid number" % what)


def _cstr(field):
    return field.split(b"\0", 1)[0]


def clean_name(raw):
    """Normalise a member name: strip './' and '/' prefixes, refuse '..'."""
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TarError("invalid path name (not UTF-8)")
    parts = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            raise TarError("path traversal in entry name '%s'" % name)
        parts.append(p)
    return "/".join(parts)


class TarReader:
    """Strict streaming tar reader over an object with readinto()/read()."""

    def __init__(self, src, limit=None):
        self.src = src
        self.limit = limit          # bytes available (nested tars)
        self.consumed = 0
        self._remaining = 0         # data bytes of current member left
        self._padding = 0
        self.ended = False

    def _read_exact(self, n, eof_ok=False):
        if self.limit is not None and self.consumed + n > self.limit:
            avail = self.limit - self.consumed
            if eof_ok and avail == 0:
                return b""
            raise TarError("unexpected end of archive")
        chunks = []
        got = 0
        while got < n:
            data = self.src.read(n - got)
            if not data:
                break
            chunks.append(data)
            got += len(data)
        self.consumed += got
        if got < n:
            if eof_ok and got == 0:
                return b""
            raise TarError("unexpected end of file while reading archive "
                           "(truncated?)")
        return b"".join(chunks) if len(chunks) != 1 else chunks[0]

    def _header(self):
        blk = self._read_exact(BLOCK, eof_ok=True)
        if not blk:
            return None
        if blk == ZERO_BLOCK:
            return None
        stored = _parse_num(blk[148:156], "cksum")
        tmp = blk[:148] + b"        " + blk[156:]
        unsigned = sum(tmp)
        signed = sum((b - 256) if b > 127 else b for b in tmp)
        if stored != unsigned and stored != signed:
            raise TarError("archive header checksum mismatch")
        return blk

    def next(self):
        """The next member (its data must be consumed with read()/
        copy_to()/skip()), or None at the end."""
        if self.ended:
            return None
        self.skip()
        longname = None
        pax = {}
        while True:
            blk = self._header()
            if blk is None:
                self.ended = True
                return None
            t = blk[156:157]
            size = _parse_num(blk[124:136], "size")
            if t in (b"L", b"K", b"x", b"g"):
                if size > (16 << 20):
                    raise TarError("extended header too large")
                data = self._read_exact(size)
                self._read_exact(pad(size))
                if t == b"L":
                    longname = _cstr(data)
                elif t == b"x":
                    pax = _parse_pax(data)
                continue
            break
        m = Member()
        magic = blk[257:263]
        if longname is not None:
            raw = longname
        elif "path" in pax:
            raw = pax["path"].encode()
        elif magic == b"ustar\0" and blk[345] != 0:
            raw = _cstr(blk[345:500]) + b"/" + _cstr(blk[0:100])
        else:
            raw = _cstr(blk[0:100])
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise TarError("invalid pax size")
        m.type = t
        m.name = clean_name(raw)
        m.size = size
        m.mode = _parse_num(blk[100:108], "mode")
        m.uid = _parse_num(blk[108:116], "uid")
        m.gid = _parse_num(blk[116:124], "gid")
        m.mtime = _parse_num(blk[136:148], "mtime")
        m.sparse = None
        m.realsize = size
        if t == b"S":
            entries = []
            pos = 386
            for _ in range(4):
                if blk[pos] == 0:
                    break
                entries.append((_parse_num(blk[pos:pos + 12], "sparse"),
                                _parse_num(blk[pos + 12:pos + 24], "sparse")))
                pos += 24
            ext = blk[482]
            m.realsize = _parse_num(blk[483:495], "realsize")
            while ext:
                eb = self._read_exact(BLOCK)
                pos = 0
                for _ in range(21):
                    if eb[pos] == 0:
                        break
                    entries.append((_parse_num(eb[pos:pos + 12], "sparse"),
                                    _parse_num(eb[pos + 12:pos + 24],
                                               "sparse")))
                    pos += 24
                ext = eb[504]
            total = sum(n for _, n in entries)
            if total != size:
                raise TarError("sparse map does not match the member size")
            last = 0
            for off, num in entries:
                if off < last or off + num > m.realsize:
                    raise TarError("invalid sparse map")
                last = off + num
            m.sparse = entries
        elif t not in (b"0", b"\0", b"7", b"5"):
            kind = {b"1": "Link", b"2": "Symlink", b"3": "Char",
                    b"4": "Block", b"6": "Fifo"}.get(t, repr(t))
            raise TarForbidden("Forbidden entry type in tar archive: %s"
                               % kind)
        if t == b"5":
            # directories carry no data whatever their size field says
            self._remaining = 0
            self._padding = 0
        else:
            self._remaining = size
            self._padding = pad(size)
        return m

    def read(self, n=-1):
        """Read member data (at most n bytes, all if n < 0)."""
        if n < 0 or n > self._remaining:
            n = self._remaining
        if n == 0:
            return b""
        data = self._read_exact(n)
        self._remaining -= n
        return data

    def skip(self):
        while self._remaining:
            self.read(min(self._remaining, COPY_CHUNK))
        if self._padding:
            self._read_exact(self._padding)
            self._padding = 0

    def drain(self):
        """Consume everything after the end marker (nested tars: the rest
        of the member)."""
        if self.limit is not None:
            left = self.limit - self.consumed
            while left > 0:
                data = self.src.read(min(left, COPY_CHUNK))
                if not data:
                    raise TarError("unexpected end of file while reading "
                                   "archive (truncated?)")
                left -= len(data)
                self.consumed += len(data)


def _parse_pax(data):
    out = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos)
        if sp < 0:
            break
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise TarError("invalid pax header")
        rec = data[sp + 1:pos + length - 1]
        pos += length
        if b"=" in rec:
            k, v = rec.split(b"=", 1)
            out[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
        if length <= 0:
            raise TarError("invalid pax header")
    return out


class SubReader:
    """The data of the current member of a TarReader as a stream."""

    def __init__(self, tr):
        self.tr = tr

    def read(self, n=-1):
        return self.tr.read(n)


def write_member_data(tr, m, path):
    """Write the data of member m (regular or sparse) into a new file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if m.sparse is None:
            pos = 0
            while True:
                data = tr.read(COPY_CHUNK)
                if not data:
                    break
                mv = memoryview(data)
                while mv:
                    k = os.pwrite(fd, mv, pos)
                    pos += k
                    mv = mv[k:]
        else:
            for off, num in m.sparse:
                pos = off
                left = num
                while left:
                    data = tr.read(min(left, COPY_CHUNK))
                    if not data:
                        raise TarError("unexpected end of sparse data")
                    mv = memoryview(data)
                    while mv:
                        k = os.pwrite(fd, mv, pos)
                        pos += k
                        mv = mv[k:]
                    left -= len(data)
            os.ftruncate(fd, m.realsize)
    finally:
        os.close(fd)
    try:
        os.chmod(path, (m.mode & 0o7777) | 0o600)
        os.utime(path, (m.mtime, m.mtime))
    except OSError:
        pass


def extract(tr, dest, nested=None):
    """Unpack every member of the reader into dest.  `nested(name)` returns
    a folder (relative to dest) into which a member is unpacked as a nested
    tar instead of being written as a file, or None."""
    names = []
    dirs = []
    while True:
        m = tr.next()
        if m is None:
            break
        if not m.name:
            continue
        target = os.path.join(dest, m.name)
        if m.isdir():
            os.makedirs(target, exist_ok=True)
            dirs.append((target, m.mtime))
            continue
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        sub = nested(m.name) if nested else None
        if sub is not None and m.sparse is None:
            inner = TarReader(SubReader(tr), limit=m.size)
            subdest = os.path.join(dest, sub)
            os.makedirs(subdest, exist_ok=True)
            extract(inner, subdest)
            inner.drain()
            names.append(m.name)
            continue
        if os.path.isdir(target):
            raise TarError("entry '%s' is both a file and a folder" % m.name)
        write_member_data(tr, m, target)
        names.append(m.name)
    return names


class FileSource:
    """Buffered reads from a path, optionally hashing what is read."""

    def __init__(self, path, hasher=None):
        self.f = open(path, "rb", buffering=1 << 20)
        self.hasher = hasher

    def read(self, n):
        data = self.f.read(n)
        if self.hasher is not None and data:
            self.hasher.update(data)
        return data

    def close(self):
        self.f.close()


class StreamSource:
    """Reads from a response-like object, hashing and counting."""

    def __init__(self, resp, hasher=None):
        self.resp = resp
        self.hasher = hasher
        self.count = 0

    def read(self, n):
        data = self.resp.read(n)
        if data:
            self.count += len(data)
            if self.hasher is not None:
                self.hasher.update(data)
        return data
