#!/bin/sh
# t0100-sim-curl: what an operator sees with plain curl against the Qdrant
# simulator: create a collection, add points, snapshot it, download the
# snapshot, check it against the listed checksum and look inside it.

. "$(dirname "$0")/lib.sh"
test_description 'curl against the simulator: snapshot download and layout'

# json FILE EXPR: print the Python expression EXPR over the JSON document d
# read from FILE (one value per line for lists).
json() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"d": d})
if isinstance(v, list):
    for x in v:
        print(x)
elif isinstance(v, bool):
    print("true" if v else "false")
elif v is not None:
    print(v)
EOF
}

test_expect_success 'start the simulator' '
	sim_start &&
	test -n "$SIM_URL"
'

test_expect_success 'create a collection with curl' '
	curl -sSf -X PUT -H "Content-Type: application/json" \
		--data "{\"vectors\":{\"size\":4,\"distance\":\"Cosine\"}}" \
		"$SIM_URL/collections/demo" >"$TEST_TMP/create.json" &&
	test "$(json "$TEST_TMP/create.json" "d[\"status\"]")" = ok &&
	test "$(json "$TEST_TMP/create.json" "d[\"result\"]")" = true
'

test_expect_success 'upsert points with curl' '
	curl -sSf -X PUT -H "Content-Type: application/json" --data "{\"points\":[
		{\"id\":1,\"vector\":[0.1,0.2,0.3,0.4],\"payload\":{\"city\":\"Oslo\"}},
		{\"id\":2,\"vector\":[0.4,0.3,0.2,0.1],\"payload\":{\"city\":\"Rome\"}},
		{\"id\":3,\"vector\":[0.5,0.5,0.5,0.5],\"payload\":{\"city\":\"Lima\"}}]}" \
		"$SIM_URL/collections/demo/points?wait=true" >"$TEST_TMP/upsert.json" &&
	test "$(json "$TEST_TMP/upsert.json" "d[\"result\"][\"status\"]")" = completed &&
	curl -sSf -X POST -H "Content-Type: application/json" \
		--data "{\"exact\":true}" \
		"$SIM_URL/collections/demo/points/count" >"$TEST_TMP/count.json" &&
	test "$(json "$TEST_TMP/count.json" "d[\"result\"][\"count\"]")" = 3
'

test_expect_success 'create a snapshot with curl' '
	curl -sSf -X POST "$SIM_URL/collections/demo/snapshots" \
		>"$TEST_TMP/snap.json" &&
	name=$(json "$TEST_TMP/snap.json" "d[\"result\"][\"name\"]") &&
	echo "snapshot: $name" &&
	echo "$name" | grep -E "^demo-[0-9]+-[0-9]{4}(-[0-9]{2}){5}\.snapshot$"
'

test_expect_success 'the list endpoint reports it with size and checksum' '
	curl -sSf "$SIM_URL/collections/demo/snapshots" >"$TEST_TMP/list.json" &&
	sum=$(json "$TEST_TMP/list.json" \
		"[s.get(\"checksum\") for s in d[\"result\"] if s[\"name\"] == \"$name\"][0]") &&
	size=$(json "$TEST_TMP/list.json" \
		"[s[\"size\"] for s in d[\"result\"] if s[\"name\"] == \"$name\"][0]") &&
	echo "checksum $sum size $size" &&
	echo "$sum" | grep -E "^[0-9a-f]{64}$" &&
	test "$size" -gt 0
'

test_expect_success 'download it with curl -o; headers as Qdrant sends them' '
	curl -sSf -D "$TEST_TMP/headers" -o "$TEST_TMP/$name" \
		"$SIM_URL/collections/demo/snapshots/$name" &&
	tr -d "\r" <"$TEST_TMP/headers" >"$TEST_TMP/h" &&
	test_grep "^HTTP/1\.[01] 200" "$TEST_TMP/h" &&
	test_grep "^[Cc]ontent-[Tt]ype: application/octet-stream$" "$TEST_TMP/h" &&
	test_grep "^[Cc]ontent-[Ll]ength: $size$" "$TEST_TMP/h" &&
	test_grep "^[Cc]ontent-[Dd]isposition: attachment; filename=\"$name\"$" "$TEST_TMP/h" &&
	test_grep "^[Aa]ccept-[Rr]anges: bytes$" "$TEST_TMP/h"
'

test_expect_success 'its SHA-256 is the checksum the list reported' '
	test "$(wc -c <"$TEST_TMP/$name" | tr -d " ")" = "$size" &&
	test "$(sha256sum "$TEST_TMP/$name" | cut -d" " -f1)" = "$sum"
'

test_expect_success 'tar lists it in Qdrant collection snapshot layout' '
	tar tf "$TEST_TMP/$name" | sed "s|/$||" | sort >"$TEST_TMP/members" &&
	cat "$TEST_TMP/members" &&
	missing= &&
	for f in 0/replica_state.json 0/shard_config.json config.json \
		version.info shard_key_mapping.json payload_index.json
	do
		grep -x "$f" "$TEST_TMP/members" >/dev/null || missing="$missing $f"
	done &&
	echo "missing:$missing" &&
	test -z "$missing" &&
	test_grep "^0/segments/[0-9a-f-]{36}\.tar$" "$TEST_TMP/members" &&
	test_grep "^0/wal/" "$TEST_TMP/members" &&
	test "$(tar xOf "$TEST_TMP/$name" version.info)" = 0.4.2 &&
	tar xOf "$TEST_TMP/$name" 0/shard_config.json >"$TEST_TMP/sc.json" &&
	test "$(json "$TEST_TMP/sc.json" "d[\"type\"]")" = ReplicaSet &&
	tar xOf "$TEST_TMP/$name" 0/replica_state.json >"$TEST_TMP/rs.json" &&
	test "$(json "$TEST_TMP/rs.json" "d[\"is_local\"]")" = true
'

test_expect_success 'each segment is a nested tar with snapshot/files/' '
	seg=$(grep -E "^0/segments/[0-9a-f-]{36}\.tar$" "$TEST_TMP/members" | head -n 1) &&
	tar xOf "$TEST_TMP/$name" "$seg" >"$TEST_TMP/seg.tar" &&
	tar tf "$TEST_TMP/seg.tar" | sed "s|/$||" >"$TEST_TMP/seg-members" &&
	cat "$TEST_TMP/seg-members" &&
	grep -x snapshot/files/segment.json "$TEST_TMP/seg-members" &&
	grep -x snapshot/files/version.info "$TEST_TMP/seg-members"
'

test_expect_success 'an interrupted download resumes with curl -C -' '
	half=$((size / 2)) &&
	head -c "$half" "$TEST_TMP/$name" >"$TEST_TMP/partial" &&
	curl -sSf -C - -o "$TEST_TMP/partial" \
		"$SIM_URL/collections/demo/snapshots/$name" &&
	test "$(sha256sum "$TEST_TMP/partial" | cut -d" " -f1)" = "$sum"
'

test_expect_exit 22 'curl -f fails on an unknown snapshot (HTTP 404)' '
	curl -sSf -o /dev/null "$SIM_URL/collections/demo/snapshots/nope.snapshot"
'

test_expect_success 'the 404 body is plain text, not JSON' '
	code=$(curl -sS -o "$TEST_TMP/404" -w "%{http_code} %{content_type}" \
		"$SIM_URL/collections/demo/snapshots/nope.snapshot") &&
	test "$code" = "404 text/plain; charset=utf-8" &&
	test "$(cat "$TEST_TMP/404")" = "Not found: Snapshot nope.snapshot not found"
'

test_expect_success 'delete it with curl; the list is empty again' '
	curl -sSf -X DELETE "$SIM_URL/collections/demo/snapshots/$name" \
		>"$TEST_TMP/delete.json" &&
	test "$(json "$TEST_TMP/delete.json" "d[\"result\"]")" = true &&
	curl -sSf "$SIM_URL/collections/demo/snapshots" >"$TEST_TMP/list2.json" &&
	test "$(json "$TEST_TMP/list2.json" "len(d[\"result\"])")" = 0
'

test_done
