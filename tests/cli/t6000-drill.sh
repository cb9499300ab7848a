#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'qbk-drill: levels, tampered and damaged backups, cleanup, RTO, pitr, records, validate-only'

sim_start
R=$(repo_location repo)
# Every point of these small collections is sampled and compared, so that
# a tampered point is always among them.
C=$TEST_TMP/all.conf
printf "[backup]\nsample_points = 1000\n[drill]\nsample_points = 1000\n" >"$C"
Q="--url $SIM_URL --repo $R -c $C"

# scratch: the scratch collections on the simulator, one per line.
scratch() {
	sim_api GET /collections >"$TEST_TMP/colls" &&
	json_get "$TEST_TMP/colls" "\"\\n\".join(c[\"name\"] for c in d[\"result\"][\"collections\"] if c[\"name\"].startswith(\"qbk-drill-\"))"
}

no_scratch() {
	test -z "$(scratch)"
}

# wait_scratch: until a scratch collection exists (at most 10 s).
wait_scratch() {
	_w=0
	while [ -z "$(scratch)" ]; do
		_w=$((_w + 1))
		[ "$_w" -le 100 ] || return 1
		sleep 0.1
	done
}

test_expect_success 'set up collections, a repository, a backup with content hashes' '
	sim_generate c1 600 8 1 &&
	sim_generate c2 150 4 2 &&
	repo_init "$R" &&
	qbk-backup $Q --content-hash --json >"$TEST_TMP/b1.json" &&
	B1=$(json_get "$TEST_TMP/b1.json" "d[\"backup_id\"]")
'

for level in basic comprehensive exhaustive; do
	test_expect_success "a good backup passes at level $level" '
		qbk-drill $Q --validation '$level' --json >"$TEST_TMP/d.json" &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"ok\"]")" = true &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"problems\"]")" = "[]" &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"level\"]")" = '$level' &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"backup_id\"]")" = "$B1" &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"collections\"]")" = "[\"c1\", \"c2\"]" &&
		test "$(json_get "$TEST_TMP/d.json" "sorted(d[\"phases\"])")" = "[\"cleanup\", \"leftovers\", \"restore\", \"select\", \"validate\"]" &&
		test "$(json_get "$TEST_TMP/d.json" "d[\"rto_ms\"] >= d[\"phases\"][\"restore\"]")" = true &&
		no_scratch
	'
done

test_expect_success '... exhaustive compared every point: 750 sampled, then 750 scrolled' '
	test "$(json_get "$TEST_TMP/d.json" "d[\"points_checked\"]")" = 1500
'

test_expect_success 'by default a comprehensive drill compares 100 sampled points per collection' '
	qbk-drill --url $SIM_URL --repo "$R" -c /dev/null --validation comprehensive --json >"$TEST_TMP/d.json" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"points_checked\"]")" = 200 &&
	no_scratch
'

test_expect_success 'the drill is recorded in drills/ and readable' '
	D=$(json_get "$TEST_TMP/d.json" "d[\"drill_id\"]") &&
	repo_keys repo drills | grep -qx "drills/$D" &&
	qbk-drill $Q --list --json >"$TEST_TMP/list.json" &&
	test "$(json_get "$TEST_TMP/list.json" "[x[\"result\"] for x in d[\"drills\"] if x[\"drill_id\"] == \"$D\"]")" = "[\"pass\"]" &&
	test "$(json_get "$TEST_TMP/list.json" "len(d[\"drills\"])")" = 4 &&
	qbk-drill $Q --list >"$TEST_TMP/list.txt" &&
	test_grep "^$D backup $B1 comprehensive latest pass" "$TEST_TMP/list.txt"
'

test_expect_success '--collection restores only the collections named' '
	qbk-drill $Q --collection c2 --validation comprehensive --json >"$TEST_TMP/d.json" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"collections\"]")" = "[\"c2\"]" &&
	no_scratch
'

test_expect_exit 3 'a point that comes back changed fails comprehensive validation' '
	sim_api POST /__sim/tamper "{\"collection\":\"qbk-drill-*-c1\",\"id\":5,\"on_recover\":true}" >/dev/null &&
	qbk-drill $Q --validation comprehensive --json >"$TEST_TMP/t.json"
'

test_expect_success '... names the point and collection, and records the failure' '
	test "$(json_get "$TEST_TMP/t.json" "d[\"ok\"]")" = false &&
	json_get "$TEST_TMP/t.json" "d[\"problems\"]" >"$TEST_TMP/p" &&
	test_grep "point 5 of .qbk-drill-[^ ]*-c1. differs from the backup" "$TEST_TMP/p" &&
	D=$(json_get "$TEST_TMP/t.json" "d[\"drill_id\"]") &&
	qbk-drill $Q --list >"$TEST_TMP/list.txt" &&
	test_grep "^$D backup $B1 comprehensive latest FAIL" "$TEST_TMP/list.txt" &&
	no_scratch
'

test_expect_exit 3 'a changed point outside the points compared fails exhaustive validation' '
	printf "[drill]\nsample_points = 0\n" >"$TEST_TMP/none.conf" &&
	sim_api POST /__sim/tamper "{\"collection\":\"qbk-drill-*-c1\",\"id\":500,\"on_recover\":true,\"what\":\"payload\"}" >/dev/null &&
	qbk-drill --url $SIM_URL --repo "$R" -c "$TEST_TMP/none.conf" --validation exhaustive
'

test_expect_success '... naming the bucket that differs, and leaving nothing behind' '
	bucket=$(python3 -c "
h = 14695981039346656037
for c in b\"500\":
    h = ((h ^ c) * 1099511628211) % 2**64
print(h % 64)") &&
	test_grep "content of .qbk-drill-[^ ]*-c1. differs from the backup in 1 of 64 point buckets \($bucket\)" "$TEST_TMP/stdout" &&
	test_grep -v "point 500" "$TEST_TMP/stdout" &&
	no_scratch
'

test_expect_success 'a collection written to while it is backed up ...' '
	sim_generate busy 300 4 5 &&
	R5=$(repo_location repo5) &&
	repo_init "$R5" &&
	sim_fault "{\"path_regex\":\"/collections/busy/shards/0/snapshot\",\"count\":1,\"upsert\":{\"collection\":\"busy\",\"points\":[{\"id\":3,\"vector\":[9,8,7,6],\"payload\":{\"w\":1}},{\"id\":100000,\"vector\":[1,2,3,4]}]}}"
'

test_expect_success '... does not fail a later drill at any level' '
	qbk-backup --url $SIM_URL --repo "$R5" -c "$C" --collection busy --content-hash -v 2>"$TEST_TMP/busy.err" &&
	test_grep "changed while it was backed up: content hash of 62 of 64 buckets" "$TEST_TMP/busy.err" &&
	for level in basic comprehensive exhaustive; do
		qbk-drill --url $SIM_URL --repo "$R5" -c "$C" --validation $level --json >"$TEST_TMP/busy.json" &&
		test "$(json_get "$TEST_TMP/busy.json" "d[\"problems\"]")" = "[]" &&
		test "$(json_get "$TEST_TMP/busy.json" "d[\"ok\"]")" = true || return 1
	done &&
	test "$(json_get "$TEST_TMP/busy.json" "d[\"points_checked\"] < 598")" = true &&
	sim_api DELETE /collections/busy >/dev/null &&
	no_scratch
'

test_expect_exit 2 'exhaustive on a backup without content hashes is a usage error' '
	qbk-backup $Q --collection c2 -q &&
	qbk-drill $Q --validation exhaustive
'

test_expect_success '... saying to back up with --content-hash, and restoring nothing' '
	test_grep "^qbk-drill: backup .* has no content hash of collection .c2.: .*--content-hash" "$TEST_TMP/stderr" &&
	no_scratch
'

test_expect_exit 3 'a backup with a corrupt chunk fails the drill' '
	R2=$(repo_location repo2) &&
	repo_init "$R2" &&
	qbk-backup --url $SIM_URL --repo "$R2" -c /dev/null --collection c2 -q &&
	f=$(repo_obj repo2 "$(repo_keys repo2 data | head -n 1)") &&
	python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,\"rb\").read()); b[len(b)//2]^=0xff; open(p,\"wb\").write(b)" "$f" &&
	qbk-drill --url $SIM_URL --repo "$R2" -c /dev/null --json >"$TEST_TMP/c.json"
'

test_expect_success '... saying the restore failed, and removing its scratch collections' '
	test "$(json_get "$TEST_TMP/c.json" "d[\"ok\"]")" = false &&
	json_get "$TEST_TMP/c.json" "d[\"problems\"]" >"$TEST_TMP/p" &&
	test_grep "restore of backup [^ ]* failed: .*chunk .* is damaged" "$TEST_TMP/p" &&
	no_scratch
'

# The signal tests hold the drill at a request (the simulator's fault
# action hold) until the signal is sent: no race with a drill that
# finishes first on a fast machine or stalls on a busy one.
test_expect_success 'a drill killed with SIGKILL leaves scratch collections ...' '
	sim_hold "\"path_regex\":\"/snapshots/upload\",\"count\":1" &&
	{ qbk-drill $Q --backup "$B1" --collection c1 -q >/dev/null 2>&1 & pid=$!; } &&
	sim_held && wait_scratch &&
	kill -KILL $pid && { wait $pid; true; } &&
	sim_release &&
	test -n "$(scratch)"
'

test_expect_success '... which the next drill removes' '
	L=$(scratch) &&
	qbk-drill $Q --collection c2 --json >"$TEST_TMP/d.json" &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/d.json" "d[\"leftovers_removed\"] >= 1")" = true &&
	no_scratch
'

test_expect_success 'a drill never removes collections that only look like scratch ones' '
	sim_generate qbk-drill-notes 5 4 3 &&
	sim_generate qbk-drill-20261122T000000Z-zzzz-c1 5 4 3 &&
	sim_generate qbk-drill-29991231T000000Z-abcd-c1 5 4 3 &&
	qbk-drill $Q --collection c2 -q &&
	for c in qbk-drill-notes qbk-drill-20261122T000000Z-zzzz-c1 \
	    qbk-drill-29991231T000000Z-abcd-c1; do
		sim_api GET /collections/$c/exists | grep -q true &&
		sim_api DELETE /collections/$c >/dev/null || return 1
	done &&
	NDRILLS=$(repo_keys repo drills | wc -l)
'

test_expect_success 'a drill keeps the scratch collections of a drill that holds a lock ...' '
	now=$(date -u +%s) &&
	LID=$(date -u -d "@$((now - 300))" +%Y%m%dT%H%M%SZ)-abcd &&
	printf "{\"format\":1,\"id\":\"0123456789abcdef\",\"kind\":\"shared\",\"program\":\"qbk-drill\",\"host\":\"elsewhere.invalid\",\"pid\":1,\"time\":\"%s\",\"refreshed\":\"%s\"}" \
	    "$(date -u -d "@$((now - 600))" +%Y-%m-%dT%H:%M:%SZ)" \
	    "$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)" >"$TEST_TMP/lockrec" &&
	repo_put repo locks/0123456789abcdef "$TEST_TMP/lockrec" &&
	sim_generate "qbk-drill-$LID-c9" 5 4 3 &&
	qbk-drill $Q --backup "$B1" --collection c2 --json >"$TEST_TMP/k.json" &&
	test "$(json_get "$TEST_TMP/k.json" "d[\"leftovers_removed\"]")" = 0 &&
	test "$(scratch)" = "qbk-drill-$LID-c9"
'

test_expect_success '... and removes them once that lock is gone' '
	repo_rm repo locks/0123456789abcdef &&
	qbk-drill $Q --backup "$B1" --collection c2 --json >"$TEST_TMP/k.json" &&
	test "$(json_get "$TEST_TMP/k.json" "d[\"leftovers_removed\"]")" = 1 &&
	no_scratch &&
	NDRILLS=$(repo_keys repo drills | wc -l)
'

test_expect_exit 143 'a drill stopped with SIGTERM ...' '
	sim_hold "\"path_regex\":\"/snapshots/upload\",\"count\":1" &&
	qbk-drill $Q --backup "$B1" --collection c1 -q & pid=$!
	sim_held && wait_scratch && kill -TERM $pid
	wait $pid
'

test_expect_success '... removes its scratch collections and records nothing' '
	sim_release &&
	no_scratch &&
	test "$(repo_keys repo drills | wc -l)" = "$NDRILLS"
'

test_expect_exit 130 'a drill stopped with SIGINT (^C) once its scratch collection exists ...' '
	sim_hold "\"path_regex\":\"^/collections/qbk-drill-[^/]*/points/scroll\",\"count\":1" &&
	qbk-drill $Q --backup "$B1" --collection c1 --validation exhaustive -q & pid=$!
	sim_held && wait_scratch && kill -INT $pid
	wait $pid
'

test_expect_success '... removes its scratch collections and records nothing' '
	sim_api DELETE /__sim/faults >/dev/null &&
	no_scratch &&
	test "$(repo_keys repo drills | wc -l)" = "$NDRILLS"
'

test_expect_exit 5 'a drill slower than the RTO objective exits 5' '
	printf "[objectives]\nrto = 1s\n" >"$TEST_TMP/rto.conf" &&
	sim_fault "{\"path_regex\":\"/snapshots/upload\",\"delay_ms\":1500,\"count\":-1}" &&
	qbk-drill --url $SIM_URL --repo "$R" -c "$TEST_TMP/rto.conf" --collection c2 --json --metrics-file "$TEST_TMP/m.prom" >"$TEST_TMP/rto.json"
'

test_expect_success '... says so in JSON and in the metrics' '
	sim_api DELETE /__sim/faults >/dev/null &&
	test "$(json_get "$TEST_TMP/rto.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/rto.json" "d[\"rto_met\"]")" = false &&
	test "$(json_get "$TEST_TMP/rto.json" "d[\"rto_target_ms\"]")" = 1000 &&
	test "$(json_get "$TEST_TMP/rto.json" "d[\"rto_ms\"] > 1000")" = true &&
	test_grep "^qbk_drill_rto_met 0$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_drill_rto_target_seconds 1.000$" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_drill_last_run_success 1$" "$TEST_TMP/m.prom" &&
	no_scratch
'

test_expect_success '--metrics-file passes promtool check metrics' '
	promtool check metrics <"$TEST_TMP/m.prom" &&
	test_grep "^qbk_drill_phase_seconds\{phase=\"restore\"\}" "$TEST_TMP/m.prom" &&
	test_grep "^qbk_drill_rto_seconds " "$TEST_TMP/m.prom" &&
	test_grep "^qbk_drill_last_run_timestamp_seconds [0-9]+$" "$TEST_TMP/m.prom"
'

test_expect_success '... also when the drill fails' '
	R3=$(repo_location repo3) &&
	{ qbk-drill --url $SIM_URL --repo "$R3" -c /dev/null --metrics-file "$TEST_TMP/f.prom" 2>/dev/null; test $? = 2; } &&
	promtool check metrics <"$TEST_TMP/f.prom" &&
	test_grep "^qbk_drill_last_run_success 0$" "$TEST_TMP/f.prom"
'

test_expect_success '--scenario pitr restores the backup in force at a time within the span' '
	R4=$(repo_location repo4) &&
	repo_init "$R4" &&
	QBK_TEST_NOW=1790000000 qbk-backup --url $SIM_URL --repo "$R4" -c /dev/null --collection c2 -q &&
	QBK_TEST_NOW=1790086400 qbk-backup --url $SIM_URL --repo "$R4" -c /dev/null --collection c2 -q &&
	QBK_TEST_NOW=1790172800 qbk-backup --url $SIM_URL --repo "$R4" -c /dev/null --collection c2 -q &&
	repo_keys repo4 backups | sed "s|^backups/||" | grep -v copy >"$TEST_TMP/ids" &&
	qbk-drill --url $SIM_URL --repo "$R4" -c /dev/null --scenario pitr --json >"$TEST_TMP/p.json" &&
	test "$(json_get "$TEST_TMP/p.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/p.json" "d[\"scenario\"]")" = pitr &&
	P=$(json_get "$TEST_TMP/p.json" "d[\"pitr_time\"]") &&
	B=$(json_get "$TEST_TMP/p.json" "d[\"backup_id\"]") &&
	grep -qx "$B" "$TEST_TMP/ids" &&
	python3 -c "import sys, datetime as dt
p = dt.datetime.strptime(sys.argv[1], \"%Y-%m-%dT%H:%M:%SZ\").replace(tzinfo=dt.timezone.utc).timestamp()
b = dt.datetime.strptime(sys.argv[2][:16], \"%Y%m%dT%H%M%SZ\").replace(tzinfo=dt.timezone.utc).timestamp()
ids = [dt.datetime.strptime(l[:16], \"%Y%m%dT%H%M%SZ\").replace(tzinfo=dt.timezone.utc).timestamp() for l in open(sys.argv[3])]
assert min(ids) <= p <= max(ids), (p, ids)
assert b == max(t for t in ids if t <= p), (b, p, ids)" "$P" "$B" "$TEST_TMP/ids" &&
	no_scratch
'

test_expect_success '--scenario all-collections drills every collection from the newest backup holding it' '
	R7=$(repo_location repo7) &&
	repo_init "$R7" &&
	sim_generate solo 40 4 9 &&
	Q7="--url $SIM_URL --repo $R7 -c /dev/null" &&
	qbk-backup $Q7 --collection c1 --collection c2 --json >"$TEST_TMP/a1.json" &&
	qbk-backup $Q7 --collection c2 --json >"$TEST_TMP/a2.json" &&
	qbk-backup $Q7 --collection solo --json >"$TEST_TMP/a3.json" &&
	A1=$(json_get "$TEST_TMP/a1.json" "d[\"backup_id\"]") &&
	A2=$(json_get "$TEST_TMP/a2.json" "d[\"backup_id\"]") &&
	A3=$(json_get "$TEST_TMP/a3.json" "d[\"backup_id\"]") &&
	qbk-drill $Q7 --scenario all-collections --json >"$TEST_TMP/all.json" &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"backup_id\"]")" = "$A3" &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"collections\"]")" = "[\"solo\", \"c2\", \"c1\"]" &&
	test "$(json_get "$TEST_TMP/all.json" "d[\"backups\"] == {\"solo\": \"$A3\", \"c2\": \"$A2\", \"c1\": \"$A1\"}")" = true &&
	qbk-drill $Q7 --list --json >"$TEST_TMP/all-list.json" &&
	test "$(json_get "$TEST_TMP/all-list.json" "d[\"drills\"][-1][\"backups\"][\"c1\"]")" = "$A1" &&
	no_scratch
'

test_expect_success '... where the latest scenario drills only the newest backup' '
	qbk-drill $Q7 --json >"$TEST_TMP/lat.json" &&
	test "$(json_get "$TEST_TMP/lat.json" "d[\"collections\"]")" = "[\"solo\"]"
'

test_expect_success '... and --collection drills the newest backup that holds it' '
	qbk-drill $Q7 --collection c1 --validation basic --json >"$TEST_TMP/c1.json" &&
	test "$(json_get "$TEST_TMP/c1.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/c1.json" "d[\"backup_id\"]")" = "$A1" &&
	test "$(json_get "$TEST_TMP/c1.json" "d[\"collections\"]")" = "[\"c1\"]" &&
	qbk-drill $Q7 --collection c2 --validation basic --json >"$TEST_TMP/c2.json" &&
	test "$(json_get "$TEST_TMP/c2.json" "d[\"backup_id\"]")" = "$A2" &&
	no_scratch
'

test_expect_success '... several: the newest backup that holds them all, with a warning' '
	qbk-drill $Q7 --collection c1 --collection c2 --validation basic --json >"$TEST_TMP/c12.json" 2>"$TEST_TMP/err" &&
	test "$(json_get "$TEST_TMP/c12.json" "d[\"backup_id\"]")" = "$A1" &&
	test "$(json_get "$TEST_TMP/c12.json" "d[\"collections\"]")" = "[\"c1\", \"c2\"]" &&
	test_grep "backup $A2 of .c2. is newer" "$TEST_TMP/err"
'

test_expect_success '... and a collection deleted before a later backup of every collection is left out' '
	sim_api DELETE /collections/solo >/dev/null &&
	qbk-backup $Q7 -q &&
	qbk-drill $Q7 --scenario all-collections --validation basic --json >"$TEST_TMP/all3.json" &&
	test "$(json_get "$TEST_TMP/all3.json" "sorted(d[\"collections\"])")" = "[\"c1\", \"c2\"]" &&
	test "$(json_get "$TEST_TMP/all3.json" "d[\"ok\"]")" = true
'

test_expect_success '--validate-only passes on the intact deployment, touching nothing' '
	sim_api GET /collections >"$TEST_TMP/before" &&
	ndrills=$(repo_keys repo drills | wc -l) &&
	qbk-drill $Q --validate-only --backup "$B1" --validation exhaustive --json >"$TEST_TMP/v.json" &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"validate_only\"]")" = true &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"drill_id\"]")" = null &&
	test "$(json_get "$TEST_TMP/v.json" "d[\"problems\"]")" = "[]" &&
	test "$(repo_keys repo drills | wc -l)" = "$ndrills" &&
	sim_api GET /collections >"$TEST_TMP/after" &&
	test "$(json_get "$TEST_TMP/before" "d[\"result\"]")" = "$(json_get "$TEST_TMP/after" "d[\"result\"]")"
'

test_expect_exit 3 '--validate-only fails after a live point was changed' '
	sim_api POST /__sim/tamper "{\"collection\":\"c1\",\"id\":7}" >/dev/null &&
	qbk-drill $Q --validate-only --backup "$B1" --validation comprehensive --json >"$TEST_TMP/v.json"
'

test_expect_success '... naming the point' '
	test "$(json_get "$TEST_TMP/v.json" "d[\"ok\"]")" = false &&
	json_get "$TEST_TMP/v.json" "d[\"problems\"]" >"$TEST_TMP/p" &&
	test_grep "point 7 of .c1. differs from the backup" "$TEST_TMP/p"
'

test_expect_exit 3 '--validate-only --at fails basic validation when points were added' '
	sim_api PUT "/collections/c2/points?wait=true" "{\"points\":[{\"id\":100000,\"vector\":[1,2,3,4]}]}" >/dev/null &&
	qbk-drill $Q --validate-only --at now --collection c2
'

test_expect_success '... naming the counts' '
	test_grep "has 151 points, the backup recorded 150" "$TEST_TMP/stdout"
'

test_expect_success 'with [drill] url the drill restores into that deployment, with its key' '
	S1=$SIM_URL &&
	sim_start --api-key drillkey &&
	S2=$SIM_URL &&
	SIM_URL=$S1 &&
	printf "wrongkey\n" >"$TEST_TMP/wrong.key" &&
	printf "drillkey\n" >"$TEST_TMP/drill.key" &&
	chmod 600 "$TEST_TMP/wrong.key" "$TEST_TMP/drill.key" &&
	printf "[drill]\nurl = %s\napi_key_file = %s\n" "$S2" "$TEST_TMP/wrong.key" >"$TEST_TMP/wrong.conf" &&
	printf "[drill]\nurl = %s\napi_key_file = %s\n" "$S2" "$TEST_TMP/drill.key" >"$TEST_TMP/staging.conf" &&
	{ qbk-drill --url $S1 --repo "$R" -c "$TEST_TMP/wrong.conf" --backup "$B1" --json >"$TEST_TMP/w.json" 2>"$TEST_TMP/err"; test $? = 1; } &&
	test_grep "401|403|api key|API key|unauthori|forbidden" "$TEST_TMP/err" &&
	W=$(json_get "$TEST_TMP/w.json" "d[\"drill_id\"]") &&
	test "$(json_get "$TEST_TMP/w.json" "d[\"recorded\"]")" = true &&
	qbk-drill $Q --list >"$TEST_TMP/list.txt" &&
	test_grep "^$W backup $B1 comprehensive latest FAIL" "$TEST_TMP/list.txt" &&
	QBK_DRILL_API_KEY=drillkey qbk-drill --url $S1 --repo "$R" -c "$TEST_TMP/wrong.conf" --backup "$B1" -q &&
	qbk-drill --url $S1 --repo "$R" -c "$TEST_TMP/staging.conf" --backup "$B1" --validation exhaustive --json >"$TEST_TMP/s.json" &&
	test "$(json_get "$TEST_TMP/s.json" "d[\"ok\"]")" = true &&
	curl -sSf -H "api-key: drillkey" "$S2/collections" >"$TEST_TMP/s2" &&
	test "$(json_get "$TEST_TMP/s2" "d[\"result\"][\"collections\"]")" = "[]" &&
	no_scratch
'

test_expect_success 'on a 3-node cluster: a drill restores every shard and checks them' '
	sim_start --nodes 3 &&
	CU1=$(echo "$SIM_URLS" | cut -d" " -f1) &&
	R6=$(repo_location repo6) &&
	printf "[qdrant]\nurl = %s\nnodes = %s\n[repository]\nlocation = %s\n[backup]\nsample_points = 1000\n[drill]\nsample_points = 1000\n" \
	    "$CU1" "$SIM_URLS" "$R6" >"$TEST_TMP/cluster.conf" &&
	sim_api POST /__sim/generate "{\"collection\":\"cc\",\"points\":900,\"dim\":8,\"shard_number\":6,\"replication_factor\":2}" >/dev/null &&
	repo_init "$R6" &&
	qbk-backup -c "$TEST_TMP/cluster.conf" --content-hash -q &&
	qbk-drill -c "$TEST_TMP/cluster.conf" --validation exhaustive --json >"$TEST_TMP/cl.json" &&
	test "$(json_get "$TEST_TMP/cl.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/cl.json" "d[\"shards_checked\"]")" = 6 &&
	test "$(json_get "$TEST_TMP/cl.json" "d[\"points_checked\"]")" = 1800 &&
	no_scratch
'

test_expect_success '... which needs [qdrant] nodes here: the p2p ports are not REST - 2' '
	printf "[qdrant]\nurl = %s\n[repository]\nlocation = %s\n" "$CU1" "$R6" >"$TEST_TMP/nonodes.conf" &&
	{ qbk-drill -c "$TEST_TMP/nonodes.conf" 2>"$TEST_TMP/nn.err"; test $? = 1; } &&
	test_grep "shard" "$TEST_TMP/nn.err" &&
	no_scratch
'

test_expect_exit 3 'a drill of a backup that lacks shards fails, naming them' '
	P2=$(sim_api GET /__sim/state | python3 -c "import json,sys; print([n[\"peer_id\"] for n in json.load(sys.stdin)[\"result\"][\"nodes\"] if n[\"node\"] == 2][0])") &&
	sim_api POST /__sim/node "{\"node\":2,\"down\":true}" >/dev/null &&
	sim_api POST /__sim/node "{\"node\":3,\"down\":true}" >/dev/null &&
	sleep 0.3 &&
	qbk-backup -c "$TEST_TMP/cluster.conf" --allow-partial -q 2>/dev/null &&
	sim_api POST /__sim/node "{\"node\":2,\"down\":false}" >/dev/null &&
	sim_api POST /__sim/node "{\"node\":3,\"down\":false}" >/dev/null &&
	sleep 0.5 &&
	qbk-drill -c "$TEST_TMP/cluster.conf" --validation basic --json >"$TEST_TMP/cp.json"
'

test_expect_success '... in its problems, with nothing left behind' '
	json_get "$TEST_TMP/cp.json" "d[\"problems\"]" >"$TEST_TMP/p" &&
	test_grep "shard [0-9] of .cc. is missing from backup" "$TEST_TMP/p" &&
	no_scratch
'

test_expect_success 'with [drill] url and [drill] nodes the drill restores into another cluster' '
	CL1=$SIM_URLS &&
	sim_start --nodes 2 &&
	SU1=$(echo "$SIM_URLS" | cut -d" " -f1) &&
	printf "[qdrant]\nurl = %s\nnodes = %s\n[repository]\nlocation = %s\n[drill]\nurl = %s\nnodes = %s\n" \
	    "$CU1" "$CL1" "$R6" "$SU1" "$SIM_URLS" >"$TEST_TMP/stage.conf" &&
	qbk-backup -c "$TEST_TMP/stage.conf" -q &&
	qbk-drill -c "$TEST_TMP/stage.conf" --validation comprehensive --json >"$TEST_TMP/st.json" &&
	test "$(json_get "$TEST_TMP/st.json" "d[\"ok\"]")" = true &&
	test "$(json_get "$TEST_TMP/st.json" "d[\"shards_checked\"]")" = 6 &&
	test "$(json_get "$TEST_TMP/st.json" "d[\"problems\"]")" = "[]" &&
	sim_api GET /collections >"$TEST_TMP/sc" &&
	test "$(json_get "$TEST_TMP/sc" "d[\"result\"][\"collections\"]")" = "[]"
'

test_expect_exit 2 'usage errors: bad level, pitr with --backup, --backup with --at' '
	! qbk-drill $Q --validation deep 2>/dev/null &&
	! qbk-drill $Q --scenario pitr --backup "$B1" 2>/dev/null &&
	qbk-drill $Q --backup "$B1" --at now
'

test_expect_exit 2 'an unknown collection is a usage error' '
	qbk-drill $Q --collection nosuch
'

test_done
