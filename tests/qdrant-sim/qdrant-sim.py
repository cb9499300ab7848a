#!/usr/bin/env python3
"""qdrant-sim: a Qdrant 1.19 simulator for qbk's tests (standard library only).

    python3 tests/qdrant-sim/qdrant-sim.py --port PORT --storage DIR
        [--api-key KEY] [--read-only-api-key KEY] [--nodes N] [--cluster]
        [--port-file FILE] [--host 127.0.0.1] [--generate NAME:POINTS:DIM[:SEED]]
        [--segment-size-mb MB] [--resync-delay S] [--big-peer-ids]
        [--cluster-seed SEED] [--p2p-port-offset N]
        [--tls-cert FILE --tls-key FILE] [--verbose]

Serves Qdrant's REST API (see shared/qdrant/NOTES.md) on one port per node
(PORT, PORT+1, ...; free ports with --port 0) until SIGTERM or SIGINT.
--port-file FILE is written atomically once every node listens: one REST
port per line, node 1 first.  Each node i keeps its data in DIR/node-<i>/
(collections/, snapshots/, snapshots_temp/); cluster metadata (collections,
placement, replica states, aliases) lives in DIR/cluster.json.  A node's
"p2p" URI in GET /cluster is http://HOST:<REST port + offset>/ (offset
10000 unless --p2p-port-offset; nothing listens there).  With --tls-cert
and --tls-key the REST ports speak HTTPS (the p2p URIs stay http://).
Admin paths outside Qdrant's API are under /__sim/ (see
tests/qdrant-sim/README).
"""

import argparse
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qsim import gen  # noqa: E402
from qsim import snapshots as snaps  # noqa: E402
from qsim.server import init_faults, start_node  # noqa: E402
from qsim.sim import Sim  # noqa: E402
from qsim import versions  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(prog="qdrant-sim",
                                description="Qdrant REST API simulator")
    p.add_argument("--port", type=int, required=True,
                   help="REST port of node 1 (node i: PORT+i-1); 0 = free "
                   "ports")
    p.add_argument("--storage", required=True, help="storage folder")
    p.add_argument("--api-key")
    p.add_argument("--read-only-api-key")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--cluster", action="store_true",
                   help="cluster mode (cluster.enabled) also for a single "
                   "node; several nodes are always a cluster")
    p.add_argument("--port-file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--generate", action="append", default=[],
                   metavar="NAME:POINTS:DIM[:SEED]",
                   help="create a generated collection at start-up (kept "
                   "if it already exists)")
    p.add_argument("--segment-size-mb", type=float, default=64,
                   help="seal appendable segments at this size (default 64; "
                   "a collection's optimizers_config.max_segment_size, in "
                   "KB, wins)")
    p.add_argument("--resync-delay", type=float, default=0.3,
                   help="seconds before a Dead replica is re-synced")
    p.add_argument("--big-peer-ids", action="store_true",
                   help="peer ids above 2**63 (as random u64 ids can be)")
    p.add_argument("--cluster-seed",
                   help="derive the peer ids from this (default: the "
                   "storage folder, so that every simulated cluster has "
                   "its own ids); ids saved in the storage win")
    p.add_argument("--p2p-port-offset", type=int, default=10000,
                   help="p2p port = REST port + N (default 10000; 2 is "
                   "Qdrant's own 6333 -> 6335)")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate "
                   "(PEM)")
    p.add_argument("--tls-key", help="... and this key (PEM)")
    p.add_argument("--qdrant-version", metavar="X.Y",
                   help="the Qdrant release to behave as (1.7 to 1.19; "
                   "default 1.19)")
    p.add_argument("--snapshots-storage", choices=("local", "s3"),
                   default="local",
                   help="s3: store snapshots as Qdrant does with "
                   "snapshots_storage: s3 (README)")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--stream-idle-timeout", type=float, default=300,
                   help="end a shard snapshot stream whose client has read "
                   "nothing for this many seconds, as Qdrant >= 1.18.2 does "
                   "(default 300; 0: never, as older versions)")
    a = p.parse_args(argv)
    if a.nodes < 1:
        p.error("--nodes must be at least 1")
    if (a.tls_cert is None) != (a.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    return a


def write_port_file(path, ports):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".portfile.", dir=d)
    with os.fdopen(fd, "w") as f:
        f.write("".join("%d\n" % p for p in ports))
    os.replace(tmp, path)


def main(argv):
    a = parse_args(argv)
    # SIGTERM/SIGINT are blocked in every thread (threads inherit the mask)
    # and taken by sigwait in the main thread: prompt whichever thread the
    # kernel would have picked
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 65536), hard))
    except (ImportError, ValueError, OSError):
        pass
    sim = Sim(a.storage, nnodes=a.nodes, host=a.host, api_key=a.api_key,
              ro_key=a.read_only_api_key, verbose=a.verbose,
              seg_default=int(a.segment_size_mb * (1 << 20)),
              resync_delay=a.resync_delay, big_peer_ids=a.big_peer_ids,
              cluster_seed=a.cluster_seed)
    try:
        versions.setup(sim, a.qdrant_version)
    except ValueError as e:
        sys.exit("qdrant-sim: %s" % e)
    if a.stream_idle_timeout < 0:
        print("qdrant-sim: --stream-idle-timeout must be >= 0",
              file=sys.stderr)
        return 2
    sim.stream_idle_timeout = a.stream_idle_timeout
    if a.snapshots_storage == "s3":
        snaps.use_s3_storage(sim)
    sim.cluster_mode = a.cluster
    if a.tls_cert:
        import ssl
        sim.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sim.tls.load_cert_chain(a.tls_cert, a.tls_key)
    for spec in a.generate:
        parts = spec.split(":")
        if len(parts) not in (3, 4):
            sys.exit("qdrant-sim: bad --generate '%s' (NAME:POINTS:DIM[:SEED])"
                     % spec)
        name = parts[0]
        if name in sim.collections:
            continue
        res = gen.generate(sim, name, int(parts[1]), int(parts[2]),
                           seed=int(parts[3]) if len(parts) == 4 else 1)
        sim.log("generated", res)
    for i, node in enumerate(sim.nodes):
        init_faults(node)
        start_node(node, a.host, a.port + i if a.port else 0)
        off = a.p2p_port_offset
        node.p2p_port = node.port + off if 0 < node.port + off < 65536 \
            else node.port - off
    if a.port_file:
        write_port_file(a.port_file, [n.port for n in sim.nodes])
    if a.verbose:
        print("qdrant-sim: listening on %s" % ", ".join(
            "%s:%d (peer %d)" % (a.host, n.port, n.peer_id)
            for n in sim.nodes), flush=True)
    signal.sigwait(stop_signals)
    # let writes in progress finish (briefly), then leave at once, even with
    # downloads in flight
    deadline = time.monotonic() + 2.0
    for node in sim.nodes:
        for rep in list(node.replicas.values()):
            left = deadline - time.monotonic()
            if left > 0 and rep.lock.acquire(timeout=left):
                pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
