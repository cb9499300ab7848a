#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'custom sharding: shard keys backed up and restored onto clusters of 3, 2 and 1 nodes'

R=$TEST_TMP/repo

# conf FILE: a configuration for the simulator started last.
conf() {
	cat >"$1" <<EOF
[qdrant]
url = $SIM_URL
nodes = $SIM_URLS
replica_timeout = 20s
[repository]
location = $R
EOF
}

# keyed_points COLLECTION: every point with its shard key (id, vector,
# payload, shard_key), one JSON object per line, sorted: an id may be in
# several shard keys.
keyed_points() {
	python3 - "$SIM_URL" "$1" <<'PY'
import json, sys, urllib.request
url, coll = sys.argv[1], sys.argv[2]
offset, out = None, []
while True:
    body = {"limit": 500, "with_payload": True, "with_vector": True}
    if offset is not None:
        body["offset"] = offset
    req = urllib.request.Request(url + "/collections/" + coll + "/points/scroll",
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    res = json.load(urllib.request.urlopen(req))["result"]
    out += res["points"]
    offset = res.get("next_page_offset")
    if offset is None:
        break
lines = sorted(json.dumps({"id": p["id"], "vector": p.get("vector"),
    "payload": p.get("payload"), "shard_key": p.get("shard_key")},
    sort_keys=True) for p in out)
print("\n".join(lines))
PY
}

# key_layout COLLECTION: "key shards replicas-per-shard" per shard key,
# sorted, from /collections/{c}/cluster.
key_layout() {
	sim_api GET "/collections/$1/cluster" >"$TEST_TMP/kl" &&
	json_get "$TEST_TMP/kl" "sorted(set((json.dumps(s[\"shard_key\"]), len({x[\"shard_id\"] for x in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"] if x[\"shard_key\"] == s[\"shard_key\"]}), sum(1 for x in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"] if x[\"shard_id\"] == s[\"shard_id\"])) for s in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"]))"
}

# upsert KEY SEED N START: N points with ids START.. into shard key KEY
# (JSON text) of collection k.
upsert() {
	python3 - "$1" "$2" "$3" "$4" >"$TEST_TMP/up.json" <<'PY'
import json, random, sys
key, seed, n, start = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
pts = [{"id": start + i, "vector": [round(rnd.uniform(-1, 1), 4) for _ in range(8)],
        "payload": {"key": key, "n": i, "tag": "t%d" % (i % 5)}} for i in range(n)]
print(json.dumps({"points": pts, "shard_key": key}))
PY
	sim_api PUT "/collections/k/points?wait=true" "$(cat "$TEST_TMP/up.json")" >/dev/null
}

test_expect_success 'a custom-sharded collection on 3 nodes: keys "eu", "us" and 42' '
	sim_start --nodes 3 &&
	conf "$TEST_TMP/three.conf" &&
	repo_init "$R" &&
	sim_api PUT /collections/k "{\"vectors\":{\"size\":8,\"distance\":\"Dot\"},\"sharding_method\":\"custom\",\"shard_number\":2,\"replication_factor\":2}" >/dev/null &&
	sim_api PUT /collections/k/shards "{\"shard_key\":\"tmp\"}" >/dev/null &&
	sim_api PUT /collections/k/shards "{\"shard_key\":\"eu\"}" >/dev/null &&
	P3=$(SIM_URL=$(echo "$SIM_URLS" | cut -d" " -f3) sim_api GET /cluster | python3 -c "import json,sys; print(json.load(sys.stdin)[\"result\"][\"peer_id\"])") &&
	sim_api PUT /collections/k/shards "{\"shard_key\":\"us\",\"shards_number\":1,\"replication_factor\":1,\"placement\":[$P3]}" >/dev/null &&
	sim_api PUT /collections/k/shards "{\"shard_key\":42,\"shards_number\":3}" >/dev/null &&
	sim_api POST /collections/k/shards/delete "{\"shard_key\":\"tmp\"}" >/dev/null &&
	upsert "\"eu\"" 1 300 1 &&
	upsert "\"us\"" 2 120 1 &&
	upsert 42 3 250 1000 &&
	sim_api PUT /collections/k/index "{\"field_name\":\"tag\",\"field_schema\":\"keyword\"}" >/dev/null &&
	keyed_points k >"$TEST_TMP/k.before" &&
	test_lines 670 "$TEST_TMP/k.before" &&
	key_layout k >"$TEST_TMP/k.layout" &&
	test "$(cat "$TEST_TMP/k.layout")" = "[[\"\\\"eu\\\"\", 2, 2], [\"\\\"us\\\"\", 1, 1], [\"42\", 3, 2]]"
'

test_expect_success 'the backup records every shard with its key' '
	qbk-backup -c "$TEST_TMP/three.conf" --json >"$TEST_TMP/b.json" &&
	B=$(json_get "$TEST_TMP/b.json" "d[\"backup_id\"]") &&
	qbk-restore -c "$TEST_TMP/three.conf" --list --json >"$TEST_TMP/l.json" &&
	test "$(json_get "$TEST_TMP/l.json" "d[\"collections\"][0][\"cluster\"][\"sharding_method\"]")" = custom &&
	test "$(json_get "$TEST_TMP/l.json" "[(s[\"shard_id\"], s[\"shard_key\"]) for s in d[\"collections\"][0][\"cluster\"][\"shards\"]]")" = "[[2, \"\\\"eu\\\"\"], [3, \"\\\"eu\\\"\"], [4, \"\\\"us\\\"\"], [5, \"42\"], [6, \"42\"], [7, \"42\"]]" &&
	test "$(json_get "$TEST_TMP/l.json" "sorted(s[\"shard_id\"] for s in d[\"collections\"][0][\"snapshots\"])")" = "[2, 3, 4, 5, 6, 7]"
'

test_expect_success 'wipe, restore: every point back under its key, the keys as they were' '
	sim_api DELETE /collections/k >/dev/null &&
	qbk-restore -c "$TEST_TMP/three.conf" --backup "$B" --json >"$TEST_TMP/r1.json" 2>"$TEST_TMP/r1.err" &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"ok\"]")" = true &&
	keyed_points k >"$TEST_TMP/k.after" &&
	test_cmp "$TEST_TMP/k.before" "$TEST_TMP/k.after" &&
	key_layout k >"$TEST_TMP/k.layout2" &&
	test_cmp "$TEST_TMP/k.layout" "$TEST_TMP/k.layout2" &&
	sim_api GET /collections/k >"$TEST_TMP/info" &&
	test "$(json_get "$TEST_TMP/info" "d[\"result\"][\"config\"][\"params\"][\"sharding_method\"]")" = custom &&
	test "$(json_get "$TEST_TMP/info" "list(d[\"result\"][\"payload_schema\"])")" = "[\"tag\"]"
'

test_expect_success '... with new shard ids: the keys took 0..5' '
	sim_api GET /collections/k/cluster >"$TEST_TMP/cc" &&
	test "$(json_get "$TEST_TMP/cc" "sorted({s[\"shard_id\"] for s in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"]})")" = "[0, 1, 2, 3, 4, 5]" &&
	sim_api POST /collections/k/points/count "{\"shard_key\":42}" >"$TEST_TMP/n42" &&
	test "$(json_get "$TEST_TMP/n42" "d[\"result\"][\"count\"]")" = 250
'

test_expect_success 'qbk-drill matches the shards by key too: key 42 has three, each checked against its own' '
	qbk-drill -c "$TEST_TMP/three.conf" --backup "$B" --validation basic --json >"$TEST_TMP/d1.json" &&
	test "$(json_get "$TEST_TMP/d1.json" "d[\"problems\"]")" = "[]" &&
	test "$(json_get "$TEST_TMP/d1.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/d1.json" "d[\"shards_checked\"]")" = 6
'

test_expect_success 'qbk-verify --live matches the shards by key' '
	qbk-verify -c "$TEST_TMP/three.conf" --live --json >"$TEST_TMP/v1.json" &&
	test "$(json_get "$TEST_TMP/v1.json" "d[\"problems\"]")" = "[]"
'

test_expect_exit 3 'a shard of key 42 loses its data: qbk-verify --live finds it' '
	json_get "$TEST_TMP/cc" "sorted({s[\"shard_id\"] for s in d[\"result\"][\"local_shards\"] + d[\"result\"][\"remote_shards\"] if s[\"shard_key\"] == 42})[1]" >"$TEST_TMP/sid" &&
	sim_api POST /__sim/wipe_shard "{\"collection\":\"k\",\"shard\":$(cat "$TEST_TMP/sid")}" >/dev/null &&
	qbk-verify -c "$TEST_TMP/three.conf" --live --json >"$TEST_TMP/v2.json"
'

test_expect_success '... naming it as it was in the backup' '
	json_get "$TEST_TMP/v2.json" "[p[\"problem\"] for p in d[\"problems\"]]" >"$TEST_TMP/p2" &&
	test_grep "shard $(cat "$TEST_TMP/sid") has 0 points, the backup recorded [0-9]+ \(as shard 6\)" "$TEST_TMP/p2"
'

test_expect_success 'qbk-restore --shard maps the shard of the backup to its key'"'"'s shard now' '
	keyed_points k >"$TEST_TMP/k.lost" &&
	! test_cmp "$TEST_TMP/k.before" "$TEST_TMP/k.lost" >/dev/null &&
	qbk-restore -c "$TEST_TMP/three.conf" --backup "$B" --collection k --shard 6 --json >"$TEST_TMP/r2.json" &&
	keyed_points k >"$TEST_TMP/k.back" &&
	test_cmp "$TEST_TMP/k.before" "$TEST_TMP/k.back"
'

test_expect_success '--force over changed data: the backup wins, after a safety backup' '
	upsert 42 9 40 1000 &&
	upsert "\"eu\"" 9 10 5000 &&
	qbk-restore -c "$TEST_TMP/three.conf" --backup "$B" --force --json >"$TEST_TMP/r3.json" &&
	test -n "$(json_get "$TEST_TMP/r3.json" "d[\"safety_backup_id\"]")" &&
	keyed_points k >"$TEST_TMP/k.forced" &&
	test_cmp "$TEST_TMP/k.before" "$TEST_TMP/k.forced"
'

test_expect_success 'restore onto a 2-node cluster' '
	sim_start --nodes 2 &&
	conf "$TEST_TMP/two.conf" &&
	qbk-restore -c "$TEST_TMP/two.conf" --backup "$B" --json >"$TEST_TMP/r4.json" &&
	keyed_points k >"$TEST_TMP/k.two" &&
	test_cmp "$TEST_TMP/k.before" "$TEST_TMP/k.two" &&
	key_layout k >"$TEST_TMP/k.layout4" &&
	test_cmp "$TEST_TMP/k.layout" "$TEST_TMP/k.layout4"
'

test_expect_success 'restore onto a single node in cluster mode' '
	sim_start --cluster &&
	conf "$TEST_TMP/one.conf" &&
	qbk-restore -c "$TEST_TMP/one.conf" --backup "$B" --json >"$TEST_TMP/r5.json" &&
	keyed_points k >"$TEST_TMP/k.one" &&
	test_cmp "$TEST_TMP/k.before" "$TEST_TMP/k.one" &&
	sim_api GET /collections/k/shards >"$TEST_TMP/keys" &&
	test "$(json_get "$TEST_TMP/keys" "[k[\"key\"] for k in d[\"result\"][\"shard_keys\"]]")" = "[\"eu\", \"us\", 42]"
'

test_expect_success 'a single node in cluster mode backs up shard by shard, with the keys' '
	qbk-backup -c "$TEST_TMP/one.conf" --collection k --method stream --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]") &&
	qbk-restore -c "$TEST_TMP/one.conf" --backup "$B1" --list --json >"$TEST_TMP/l1.json" &&
	test "$(json_get "$TEST_TMP/l1.json" "sorted(set(s[\"kind\"] for s in d[\"collections\"][0][\"snapshots\"]))")" = "[\"shard\"]" &&
	qbk-restore -c "$TEST_TMP/one.conf" --backup "$B1" --as k1 >/dev/null &&
	keyed_points k1 >"$TEST_TMP/k1" &&
	test_cmp "$TEST_TMP/k.before" "$TEST_TMP/k1"
'

test_expect_success 'a standalone node (not in cluster mode)' '
	sim_start &&
	conf "$TEST_TMP/sa.conf"
'

test_expect_exit 2 '... the restore is refused (Qdrant makes no shard keys there)' '
	qbk-restore -c "$TEST_TMP/sa.conf" --backup "$B"
'

test_expect_success '... in one line naming cluster.enabled, before anything is created' '
	test_grep "^qbk-restore: .*collection .k. of backup .$B. is sharded by shard keys, and .$SIM_URL. runs standalone: Qdrant creates shard keys only in cluster mode \(cluster.enabled\)$" "$TEST_TMP/stderr" &&
	sim_api GET /collections >"$TEST_TMP/sa.colls" &&
	test "$(json_get "$TEST_TMP/sa.colls" "d[\"result\"][\"collections\"]")" = "[]"
'

test_expect_exit 2 'qbk-drill refuses a standalone node as well' '
	qbk-drill -c "$TEST_TMP/sa.conf" --backup "$B" --json >"$TEST_TMP/d2.json"
'

test_expect_success '... naming cluster.enabled' '
	test_grep "cluster.enabled" "$TEST_TMP/stderr"
'

test_done
