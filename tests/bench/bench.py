#!/usr/bin/env python3
"""make bench: qbk against the transfer ceiling, restic and a seed-style
pipeline, on one machine in one run.

Starts the Qdrant simulator with a generated collection of about
BENCH_GIB GiB of snapshot (default 1), then measures, each the median of
BENCH_RUNS runs (default 3) of wall time, with peak RSS from
/usr/bin/time -v:

  curl       the snapshot to /dev/null (transfer ceiling)
  backup-1   qbk-backup into an empty repository (zstd, encrypted)
  backup-0   qbk-backup of the unchanged collection
  backup-2   qbk-backup after ~2% of the points changed (+ bytes stored)
  restore-f  qbk-restore --to-file /dev/null
  restore-q  qbk-restore into a new collection
  cluster-1  qbk-backup of the same points on a simulated 3-node cluster
             (6 shards, replication factor 1), one node at a time
  cluster-3  the same with --parallel 3: the three nodes at once
  s3-backup-tN   qbk-backup into an empty S3 repository on a local
             s3rver (tests/s3/s3rver-start) with s3_transfers = N, for each
             N of BENCH_S3_TRANSFERS (default "1,8"): the effect of
             parallel uploads
  s3-restore qbk-restore --to-file /dev/null from such a repository
  restic-1/2 restic backup --stdin of the same snapshot bytes
  restic-d   restic dump to /dev/null
  pipeline   curl | zstd -3 | openssl enc -chacha20 -pbkdf2

and prints a table and the ratios of qbk to the others.  Not a test:
nothing here passes or fails; the numbers go into the issue notes.

usage: bench.py [GROUP...]   (default: every group)
Groups: base (curl, pipeline), local (backup-*, restore-*), s3, cluster,
restic.  A group that cannot run (s3rver or restic missing) stops the
bench with an error rather than leaving its rows out.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, os.environ.get("QBK_BUILD", "build"), "bin")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
GIB = float(os.environ.get("BENCH_GIB", "1"))
DIM = 384
# About 1.6 KiB of snapshot per point at 384 dimensions with payloads.
POINTS = int(GIB * 655000)
PASS = "bench-passphrase"

env = dict(os.environ, QBK_PASSPHRASE=PASS, RESTIC_PASSWORD=PASS,
           LC_ALL="C")
env.pop("QBK_CONFIG", None)
noenv = dict(env)
noenv.pop("QBK_PASSPHRASE")


def api(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)


def timed(cmd, shell=False, run_env=None):
    """Run cmd under /usr/bin/time -v: (seconds, peak RSS KiB, stdout);
    run_env replaces the environment chosen below."""
    if shell:
        argv = ["/usr/bin/time", "-v", "sh", "-c", cmd]
    else:
        argv = ["/usr/bin/time", "-v"] + cmd
    t0 = time.monotonic()
    if run_env is None:
        run_env = noenv if "-c" in argv else env
    p = subprocess.run(argv, env=run_env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-2000:])
        raise SystemExit("bench: command failed: %s" % (cmd,))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return dt, int(m.group(1)) if m else 0, p.stdout


def members(path):
    """{member name: (offset of its data, size)} of a tar file."""
    import tarfile
    out = {}
    with tarfile.open(path) as t:
        for m in t:
            if m.isfile():
                # A GNU sparse member stores only its data blocks: compare
                # those bytes as they lie in the archive.
                stored = m.size if m.sparse is None else \
                    sum(n for _, n in m.sparse)
                out[m.name] = (m.offset_data, stored)
    return out


def changed_bytes(before, after, block=4096):
    old, new = members(before), members(after)
    total = 0
    with open(before, "rb") as fb, open(after, "rb") as fa:
        for name, (off, size) in new.items():
            if name not in old:
                total += size
                continue
            ooff, osize = old[name]
            pos = 0
            while pos < size:
                n = min(block, size - pos)
                fa.seek(off + pos)
                a = fa.read(n)
                if pos < osize:
                    fb.seek(ooff + pos)
                    b = fb.read(min(n, osize - pos))
                else:
                    b = b""
                if a != b:
                    total += n
                pos += n
    return total


GROUPS = ("base", "local", "s3", "cluster", "restic")


def main():
    groups = sys.argv[1:] or list(GROUPS)
    for g in groups:
        if g not in GROUPS:
            sys.exit("bench: unknown group '%s' (groups: %s)" % (
                g, " ".join(GROUPS)))
    if "restic" in groups and not shutil.which("restic"):
        sys.exit("bench: restic is not installed (scripts/install-deps); "
                 "or leave out the group 'restic'")
    work = tempfile.mkdtemp(prefix="qbk-bench.")
    sim = None
    s3pids = []
    cluster_sims = []
    results = {}
    try:
        portfile = os.path.join(work, "ports")
        sim = subprocess.Popen(
            [sys.executable, os.path.join(TOP, "tests/qdrant-sim/qdrant-sim.py"),
             "--port", "0", "--storage", os.path.join(work, "sim"),
             "--port-file", portfile],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(portfile):
            time.sleep(0.1)
        url = "http://127.0.0.1:%s" % open(portfile).read().split()[0]
        t0 = time.monotonic()
        api(url + "/__sim/generate", "POST",
            {"collection": "bench", "points": POINTS, "dim": DIM, "seed": 1})
        print("generated %d points in %.1f s" % (POINTS, time.monotonic() - t0))
        snap = api(url + "/collections/bench/snapshots", "POST")["result"]
        size = snap["size"]
        snapurl = url + "/collections/bench/snapshots/" + snap["name"]
        mib = size / 1048576.0
        print("snapshot: %.1f MiB" % mib)

        def median(name, fn):
            runs = [fn(i) for i in range(RUNS)]
            results[name] = (statistics.median(r[0] for r in runs),
                             max(r[1] for r in runs),
                             runs[-1][2] if len(runs[-1]) > 2 else None)

        if "base" in groups:
            median("curl", lambda i: timed(["curl", "-s", "-o", "/dev/null", snapurl]))
            median("pipeline", lambda i: timed(
                "curl -s %s | zstd -3 -q | openssl enc -chacha20 -pbkdf2 -pass pass:x "
                "-out /dev/null" % snapurl, shell=True))

        # Repositories opened with a key file, as a Kubernetes CronJob would:
        # a passphrase adds Argon2id's memory (128 MiB, once at start-up)
        # to every program's peak RSS, which would hide the pipeline's.
        configs = {}

        def repo(i, tag):
            path = os.path.join(work, "repo-%s-%d" % (tag, i))
            key = path + ".key"
            conf = path + ".conf"
            with open(conf, "w") as f:
                f.write("[repository]\nlocation = %s\nkey_file = %s\n" %
                        (path, key))
            configs[path] = conf
            subprocess.run([os.path.join(BIN, "qbk-init"), "-c", conf,
                            "--generate-key-file", key], env=noenv,
                           check=True, stdout=subprocess.DEVNULL)
            return path

        def q_for(r):
            return ["-c", configs[r], "--url", url, "--collection", "bench", "-q"]

        repos = []

        have_restore = os.path.exists(os.path.join(BIN, "qbk-restore"))
        changed_runs = []
        new2 = None
        if "local" in groups:
            def first(i):
                r = repo(i, "q")
                repos.append(r)
                return timed([os.path.join(BIN, "qbk-backup")] + q_for(r))
            median("backup-1", first)
            median("backup-0", lambda i: timed(
                [os.path.join(BIN, "qbk-backup")] + q_for(repos[i])))

            streamurl = url + "/collections/bench/shards/0/snapshot"

            def fetch(path):
                subprocess.run(["curl", "-sSf", "-o", path, streamurl], check=True)

            def second(i):
                # What changed, measured on the snapshot stream itself (the
                # appended points, the WAL, deletion marks...): the bytes of
                # 4 KiB blocks of each tar member that differ from the same
                # member before the change, or that are new.
                before = os.path.join(work, "before.tar")
                after = os.path.join(work, "after.tar")
                # Bring this repository up to the current data first: the
                # changes of earlier runs are not this run's 2%.
                subprocess.run([os.path.join(BIN, "qbk-backup")] +
                               q_for(repos[i]), env=noenv, check=True,
                               stdout=subprocess.DEVNULL)
                fetch(before)
                api(url + "/__sim/mutate", "POST",
                    {"collection": "bench", "fraction": 0.02, "seed": 10 + i})
                fetch(after)
                changed_runs.append(changed_bytes(before, after))
                os.unlink(before)
                os.unlink(after)
                dt, rss, out = timed([os.path.join(BIN, "qbk-backup"), "--json"] +
                                     q_for(repos[i])[:-1])
                return dt, rss, json.loads(out)["totals"]["new_bytes"]
            median("backup-2", second)
            new2 = results["backup-2"][2]

            if have_restore:
                median("restore-f", lambda i: timed(
                    [os.path.join(BIN, "qbk-restore"), "-c", configs[repos[0]],
                     "--collection", "bench", "--to-file", "/dev/null"]))
                median("restore-q", lambda i: timed(
                    [os.path.join(BIN, "qbk-restore"), "-c", configs[repos[0]],
                     "--url", url, "--collection", "bench", "--as",
                     "restored%d" % i, "-q"]))

        # S3: the same backup and restore into an S3 repository on a local
        # s3rver (tests/s3/s3rver-start), once for each number of uploads in
        # flight of BENCH_S3_TRANSFERS.  No s3rver: an error, not a skip.
        if "s3" in groups:
            transfers = [int(t) for t in os.environ.get(
                "BENCH_S3_TRANSFERS", "1,8").split(",")]
            s3start = os.path.join(TOP, "tests/s3/s3rver-start")
            p = subprocess.run([s3start, "--version"], capture_output=True,
                               text=True)
            if p.returncode != 0:
                raise SystemExit("bench: no s3rver for the S3 rows: %s "
                                 "(run scripts/install-deps, or leave out "
                                 "the group 's3')" % p.stderr.strip())
            s3version = p.stdout.strip()
            p = subprocess.run(
                [s3start, "--directory", os.path.join(work, "s3rver"),
                 "--bucket", "qbk", "--log", os.path.join(work, "s3rver.log")],
                capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit("bench: s3rver did not start: %s" %
                                 p.stderr.strip())
            s3port, s3pid = p.stdout.split()
            s3pids.append(int(s3pid))
            s3env = dict(noenv, AWS_ACCESS_KEY_ID="S3RVER",
                         AWS_SECRET_ACCESS_KEY="S3RVER",
                         XDG_CACHE_HOME=os.path.join(work, "cache"))

            def s3repo(i, t):
                key = os.path.join(work, "s3-%d-%d.key" % (t, i))
                conf = os.path.join(work, "s3-%d-%d.conf" % (t, i))
                with open(conf, "w") as f:
                    f.write("[repository]\nlocation = s3://qbk/bench-%d-%d\n"
                            "key_file = %s\ns3_endpoint = http://127.0.0.1:%s"
                            "\ns3_transfers = %d\n" % (t, i, key, s3port, t))
                subprocess.run([os.path.join(BIN, "qbk-init"), "-c", conf,
                                "-q", "--generate-key-file", key], env=s3env,
                               check=True, stdout=subprocess.DEVNULL)
                return conf

            s3repos = []
            for t in transfers:
                def s3first(i):
                    s3repos.append(s3repo(i, t))
                    return timed([os.path.join(BIN, "qbk-backup"), "-c",
                                  s3repos[-1], "--url", url, "--collection",
                                  "bench", "-q"], run_env=s3env)
                median("s3-backup-t%d" % t, s3first)
            # Downloads do not depend on s3_transfers: one row.
            if have_restore:
                median("s3-restore", lambda i: timed(
                    [os.path.join(BIN, "qbk-restore"), "-c", s3repos[i],
                     "--collection", "bench", "--to-file", "/dev/null"],
                    run_env=s3env))
            print("S3 rows: s3rver %s (node %s) on loopback, tN: N uploads "
                  "in flight" % (s3version, subprocess.run(
                      ["node", "--version"], capture_output=True,
                      text=True).stdout.strip()))

        if "cluster" in groups:
            # Cluster: the same points on a simulated 3-node cluster, backed
            # up from one node at a time and from all three at once.
            cportfile = os.path.join(work, "cports")
            csim = subprocess.Popen(
                [sys.executable, os.path.join(TOP, "tests/qdrant-sim/qdrant-sim.py"),
                 "--port", "0", "--storage", os.path.join(work, "csim"),
                 "--port-file", cportfile, "--nodes", "3"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cluster_sims.append(csim)
            while not os.path.exists(cportfile):
                time.sleep(0.1)
            curls = ["http://127.0.0.1:%s" % p for p in open(cportfile).read().split()]
            api(curls[0] + "/__sim/generate", "POST",
                {"collection": "bench", "points": POINTS, "dim": DIM, "seed": 1,
                 "shard_number": 6, "replication_factor": 1})

            def crun(i, par):
                r = repo(i, "c%d" % par)
                with open(configs[r], "a") as f:
                    f.write("[qdrant]\nurl = %s\nnodes = %s\n" % (
                        curls[0], " ".join(curls)))
                dt, rss, out = timed([os.path.join(BIN, "qbk-backup"), "-c",
                                      configs[r], "--parallel", str(par), "--json"])
                return dt, rss, json.loads(out)["totals"]["bytes"]
            median("cluster-1", lambda i: crun(i, 1))
            median("cluster-3", lambda i: crun(i, 3))
            print("cluster rows: %.1f MiB of shard snapshots over 3 nodes" % (
                results["cluster-3"][2] / 1048576.0))

        if "restic" in groups:
            rrepos = []

            def rfirst(i):
                r = os.path.join(work, "restic-%d" % i)
                subprocess.run(["restic", "init", "-q", "--repo", r], env=env,
                               check=True, stdout=subprocess.DEVNULL)
                rrepos.append(r)
                return timed("curl -s %s | restic -q --repo %s backup --stdin "
                             "--stdin-filename snap" % (snapurl, r), shell=True)
            median("restic-1", rfirst)
            median("restic-d", lambda i: timed(
                "restic -q --repo %s dump latest snap >/dev/null" % rrepos[i],
                shell=True))

        print()
        print("%-10s %9s %9s %10s" % ("run", "seconds", "MiB/s", "peak RSS"))
        for k, (dt, rss, _) in results.items():
            print("%-10s %9.2f %9.1f %7.1f MiB" % (k, dt, mib / dt, rss / 1024.0))
        print()

        def ratio(a, b):
            if a in results and b in results:
                print("%-26s %6.2fx" % ("%s vs %s" % (a, b),
                                       results[b][0] / results[a][0]))
        ratio("backup-1", "restic-1")
        ratio("backup-1", "pipeline")
        ratio("backup-1", "curl")
        ratio("backup-0", "backup-1")
        ratio("cluster-3", "cluster-1")
        ratio("restore-f", "restic-d")
        for t in transfers[1:] if "s3" in groups else ():
            ratio("s3-backup-t%d" % t, "s3-backup-t%d" % transfers[0])
        if new2 is not None:
            changed = statistics.median(changed_runs)
            print("%-26s %6.2fx  (%.1f MiB stored for about %.1f MiB "
                  "changed)" % ("backup-2 stored/changed", new2 / changed,
                                new2 / 1048576.0, changed / 1048576.0))
    finally:
        if sim is not None:
            sim.terminate()
            sim.wait()
        for csim in cluster_sims:
            csim.terminate()
            csim.wait()
        for pid in s3pids:
            try:
                os.kill(pid, 15)
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
