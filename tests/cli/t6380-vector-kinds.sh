#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'sparse-only and multivector collections: backup, restore, verify --live, drill, tampered points'

sim_start
R=$(repo_location repo)
# Every point is sampled, so that a tampered point is always compared.
C=$TEST_TMP/all.conf
printf "[backup]\nsample_points = 1000\n[drill]\nsample_points = 1000\n" >"$C"
Q="--url $SIM_URL --repo $R -c $C"

# points KIND: the upsert body of 40 points of a sparse-only collection
# (indices given out of order: Qdrant stores them sorted) or of a
# collection with a named multivector.
points() {
	python3 - "$1" <<'PY'
import json, sys
pts = []
for i in range(1, 41):
    if sys.argv[1] == "sparse":
        idx = [(i * 7 + k * 13) % 100 for k in range(1 + i % 4)][::-1]
        idx = list(dict.fromkeys(idx))
        v = {"text": {"indices": idx,
                      "values": [0.25 * (k + 1) + i / 64 for k in range(len(idx))]}}
    else:
        v = {"colbert": [[i, 1, 0.5 * k] for k in range(1 + i % 3)]}
    pts.append({"id": i, "vector": v, "payload": {"n": i}})
print(json.dumps({"points": pts}))
PY
}

test_expect_success 'set up a sparse-only and a multivector collection, and a backup with content hashes' '
	sim_api PUT /collections/sp "{\"vectors\":{},\"sparse_vectors\":{\"text\":{}}}" >/dev/null &&
	sim_api PUT "/collections/sp/points?wait=true" "$(points sparse)" >/dev/null &&
	sim_api PUT /collections/mv "{\"vectors\":{\"colbert\":{\"size\":3,\"distance\":\"Cosine\",\"multivector_config\":{\"comparator\":\"max_sim\"}}}}" >/dev/null &&
	sim_api PUT "/collections/mv/points?wait=true" "$(points multi)" >/dev/null &&
	repo_init "$R" &&
	qbk-backup $Q --content-hash --json >"$TEST_TMP/b1.json" &&
	test "$(json_get "$TEST_TMP/b1.json" "d[\"ok\"]")" = true
'

for c in sp mv; do
	test_expect_success "$c: a restore gives back every point, vector and payload" '
		qbk-restore $Q --collection '$c' --as '$c'-copy &&
		sim_points '$c' >"$TEST_TMP/want" &&
		sim_points '$c'-copy >"$TEST_TMP/have" &&
		test_lines 40 "$TEST_TMP/have" &&
		test_cmp "$TEST_TMP/want" "$TEST_TMP/have"
	'
done

test_expect_success 'the restored copies keep their vector kinds' '
	sim_points sp-copy | head -n 1 >"$TEST_TMP/one" &&
	test_grep "\"indices\": \[" "$TEST_TMP/one" &&
	sim_points mv-copy | head -n 1 >"$TEST_TMP/one" &&
	test_grep "\"colbert\": \[\[" "$TEST_TMP/one" &&
	sim_api DELETE /collections/sp-copy >/dev/null &&
	sim_api DELETE /collections/mv-copy >/dev/null
'

test_expect_success 'verify --live: both collections match the backup' '
	qbk-verify $Q --live --json >"$TEST_TMP/live.json" &&
	test "$(json_get "$TEST_TMP/live.json" "d[\"ok\"]")" = true
'

for level in comprehensive exhaustive; do
	test_expect_success "a drill at level $level passes on both" '
		qbk-drill $Q --collection sp --collection mv --validation '$level' --json >"$TEST_TMP/d.json" &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"ok\"]")" = true &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"problems\"]")" = "[]"
	'
done

for c in sp mv; do
	test_expect_exit 3 "$c: a point whose vector comes back changed fails the drill" '
		sim_api POST /__sim/tamper "{\"collection\":\"qbk-drill-*-'$c'\",\"id\":5,\"on_recover\":true}" >/dev/null &&
		qbk-drill $Q --collection '$c' --validation comprehensive --json >"$TEST_TMP/t.json"
	'
	test_expect_success "... naming the point" '
		json_get "$TEST_TMP/t.json" "d[\"problems\"]" >"$TEST_TMP/p" &&
		test_grep "point 5 of .qbk-drill-[^ ]*-'$c'. differs from the backup" "$TEST_TMP/p"
	'
	test_expect_exit 3 "$c: a changed vector outside the sampled points fails an exhaustive drill" '
		printf "[drill]\nsample_points = 0\n" >"$TEST_TMP/none.conf" &&
		sim_api POST /__sim/tamper "{\"collection\":\"qbk-drill-*-'$c'\",\"id\":9,\"on_recover\":true}" >/dev/null &&
		qbk-drill --url "$SIM_URL" --repo "$R" -c "$TEST_TMP/none.conf" --collection '$c' --validation exhaustive --json >"$TEST_TMP/t.json"
	'
	test_expect_success "... naming the bucket" '
		json_get "$TEST_TMP/t.json" "d[\"problems\"]" >"$TEST_TMP/p" &&
		test_grep "content of .qbk-drill-[^ ]*-'$c'. differs from the backup in 1 of 64 point buckets" "$TEST_TMP/p" &&
		test_lines 1 "$TEST_TMP/p"
	'
done

for c in sp mv; do
	test_expect_exit 3 "$c: --validate-only fails after a live vector was changed" '
		sim_api POST /__sim/tamper "{\"collection\":\"'$c'\",\"id\":7}" >/dev/null &&
		qbk-drill $Q --validate-only --collection '$c' --validation comprehensive --json >"$TEST_TMP/v.json"
	'
	test_expect_success "... naming the point" '
		json_get "$TEST_TMP/v.json" "d[\"problems\"]" >"$TEST_TMP/p" &&
		test_grep "point 7 of .'$c'. differs from the backup" "$TEST_TMP/p"
	'
done

test_done
