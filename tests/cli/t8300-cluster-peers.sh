#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'peer addresses: REST URLs derived with the scheme of --url; nodes of another cluster or peer refused'

R=$TEST_TMP/repo

# peer_of URL: the peer id of the node at URL.
peer_of() {
	curl -sSf ${CACERT:+--cacert "$CACERT"} "$1/cluster" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["peer_id"])'
}

# p2p_port URL PORT: make the node at URL advertise p2p port PORT.
p2p_port() {
	_n=$(curl -sSf "$1/__sim/state" | python3 -c 'import json, sys
d = json.load(sys.stdin)["result"]["nodes"]
print([n["node"] for n in d if "http://127.0.0.1:%d" % n["port"] == sys.argv[1]][0])' "$1") &&
	curl -sSf -X POST --data-binary "{\"node\":$_n,\"port\":$2}" "$1/__sim/p2p" >/dev/null
}

test_expect_success 'a 3-node cluster with TLS on REST, plain p2p, Qdrant'"'"'s port layout' '
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$TEST_TMP/key.pem" \
		-out "$TEST_TMP/cert.pem" 2>/dev/null &&
	sim_start --nodes 3 --p2p-port-offset 2 --tls-cert "$TEST_TMP/cert.pem" --tls-key "$TEST_TMP/key.pem" &&
	T1=https://127.0.0.1:$(sed -n 1p "$SIM_DIR/ports") &&
	TPORTS=$(cat "$SIM_DIR/ports" | tr "\n" " ") &&
	CACERT=$TEST_TMP/cert.pem &&
	curl -sSf --cacert "$CACERT" "$T1/cluster" >"$TEST_TMP/tc" &&
	test "$(json_get "$TEST_TMP/tc" "sorted(v[\"uri\"][:7] for v in d[\"result\"][\"peers\"].values())")" = "[\"http://\", \"http://\", \"http://\"]" &&
	curl -sSf --cacert "$CACERT" -X POST -H "Content-Type: application/json" --data-binary "{\"collection\":\"t\",\"points\":400,\"dim\":8,\"shard_number\":3,\"replication_factor\":1}" "$T1/__sim/generate" >/dev/null &&
	repo_init "$R" &&
	cat >"$TEST_TMP/tls.conf" <<-EOF
	[qdrant]
	url = $T1
	ca_file = $CACERT
	[repository]
	location = $R
	EOF
	:
'

test_expect_success 'without [qdrant] nodes, every peer is found at https:// by the port rule' '
	qbk-backup -c "$TEST_TMP/tls.conf" --json >"$TEST_TMP/b1.json" 2>"$TEST_TMP/b1.err" &&
	test "$(json_get "$TEST_TMP/b1.json" "d[\"unreachable_peers\"]")" = "[]" &&
	json_get "$TEST_TMP/b1.json" "sorted(s[\"node_url\"] for s in d[\"collections\"][0][\"snapshots\"])" >"$TEST_TMP/urls" &&
	for p in $TPORTS; do
		test_grep "\"https://127.0.0.1:$p\"" "$TEST_TMP/urls" || return 1
	done &&
	test_grep -v "http://" "$TEST_TMP/urls"
'

test_expect_success '... and the backup restores through them' '
	curl -sSf --cacert "$CACERT" -X DELETE "$T1/collections/t" >/dev/null &&
	qbk-restore -c "$TEST_TMP/tls.conf" --json >"$TEST_TMP/r1.json" &&
	test "$(json_get "$TEST_TMP/r1.json" "d[\"ok\"]")" = true &&
	curl -sSf --cacert "$CACERT" -X POST -H "Content-Type: application/json" --data-binary "{\"exact\":true}" "$T1/collections/t/points/count" >"$TEST_TMP/n" &&
	test "$(json_get "$TEST_TMP/n" "d[\"result\"][\"count\"]")" = 400
'

test_expect_success 'two plain clusters A (3 nodes) and B (2 nodes), each with its own peer ids' '
	CACERT= &&
	sim_start --nodes 3 --p2p-port-offset 2 &&
	A1=$(echo "$SIM_URLS" | cut -d" " -f1) && A2=$(echo "$SIM_URLS" | cut -d" " -f2) &&
	A3=$(echo "$SIM_URLS" | cut -d" " -f3) &&
	SIM_URL=$A1 sim_generate a 300 8 &&
	sim_start --nodes 2 --p2p-port-offset 2 &&
	B1=$(echo "$SIM_URLS" | cut -d" " -f1) && B2=$(echo "$SIM_URLS" | cut -d" " -f2) &&
	PB1=$(peer_of "$B1") && PB2=$(peer_of "$B2") && PA1=$(peer_of "$A1") &&
	test "$PB1" != "$(peer_of "$A1")" && test "$PB1" != "$(peer_of "$A2")" &&
	test "$PB2" != "$(peer_of "$A3")" &&
	cat >"$TEST_TMP/mixed.conf" <<-EOF
	[qdrant]
	url = $A1
	nodes = $A1 $A2 $B2
	[repository]
	location = $R
	EOF
	:
'

test_expect_exit 2 '[qdrant] nodes naming a node of cluster B: qbk-backup refuses' '
	qbk-backup -c "$TEST_TMP/mixed.conf"
'

test_expect_success '... saying which node and what it is' '
	test_grep "configured node .$B2. is not a peer of the cluster of .$A1.: it answers as peer $PB2 of another cluster" "$TEST_TMP/stderr" &&
	test_grep "hint: \[qdrant\] nodes must list the REST URLs of the nodes of one cluster" "$TEST_TMP/stderr" &&
	test "$(find "$R/backups" -type f ! -name "*.copy" | wc -l)" = 1
'

test_expect_exit 2 '... qbk-restore too' '
	qbk-restore -c "$TEST_TMP/mixed.conf" --as t2
'

test_expect_success '... before touching anything' '
	test_grep "configured node .$B2. is not a peer of the cluster of .$A1." "$TEST_TMP/stderr" &&
	SIM_URL=$A1 sim_api GET /collections >"$TEST_TMP/colls" &&
	test "$(json_get "$TEST_TMP/colls" "[c[\"name\"] for c in d[\"result\"][\"collections\"]]")" = "[\"a\"]"
'

test_expect_exit 2 '... and qbk-verify --live' '
	qbk-verify -c "$TEST_TMP/mixed.conf" --live
'

test_expect_success 'B alone, its nodes found by the port rule: a backup works' '
	SIM_URL=$B1 sim_generate b 100 8 &&
	qbk-backup --url "$B1" --repo "$R" -c /dev/null --collection b --json >"$TEST_TMP/b2.json" &&
	test "$(json_get "$TEST_TMP/b2.json" "d[\"unreachable_peers\"]")" = "[]"
'

test_expect_exit 2 'a p2p URI whose REST URL answers as another peer of the cluster: refused' '
	p2p_port "$B2" "$((${B1##*:} + 2))" &&
	qbk-backup --url "$B1" --repo "$R" -c /dev/null --collection b
'

test_expect_success '... naming the peer, its URI, the URL tried and who answered' '
	test_grep "peer $PB2 has p2p URI .http://127.0.0.1:$((${B1##*:} + 2))/., but .$B1., the REST URL that gives by the port rule, answers as peer $PB1" "$TEST_TMP/stderr" &&
	test_grep "hint: list the REST URL of every node of the cluster in \[qdrant\] nodes" "$TEST_TMP/stderr"
'

test_expect_exit 2 'one that answers as a node of another cluster: refused' '
	p2p_port "$B2" "$((${A3##*:} + 2))" &&
	qbk-backup --url "$B1" --repo "$R" -c /dev/null --collection b
'

test_expect_success '... as such' '
	test_grep "peer $PB2 has p2p URI .*, but .$A3., the REST URL that gives by the port rule, answers as peer [0-9]+ of another cluster" "$TEST_TMP/stderr"
'

test_expect_exit 2 'one that answers as a single node: refused' '
	sim_start &&
	S1=$SIM_URL &&
	p2p_port "$B2" "$((${S1##*:} + 2))" &&
	qbk-backup --url "$B1" --repo "$R" -c /dev/null --collection b
'

test_expect_success '... as such' '
	test_grep "answers as a single node, not a peer of a cluster" "$TEST_TMP/stderr"
'

test_expect_success 'with B'"'"'s nodes listed, the configured URL wins over the port rule' '
	qbk-backup --url "$B1" --repo "$R" -c /dev/null --collection b --json >"$TEST_TMP/b3.json" 2>/dev/null;
	test $? = 2 &&
	printf "[qdrant]\nnodes = %s %s\n[repository]\nlocation = %s\n" "$B1" "$B2" "$R" >"$TEST_TMP/b.conf" &&
	qbk-backup -c "$TEST_TMP/b.conf" --collection b --json >"$TEST_TMP/b4.json" &&
	test "$(json_get "$TEST_TMP/b4.json" "sorted(set(s[\"node_url\"] for s in d[\"collections\"][0][\"snapshots\"])) == sorted([\"$B1\", \"$B2\"])")" = true
'

test_done
