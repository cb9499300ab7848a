#!/bin/sh
# Checks are strings that lib.sh evaluates later, and use the variables
# this file sets: hence SC2016 and SC2034.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(dirname "$0")/lib.sh"
test_description 'etc/: preset configurations, cron.d, systemd, Kubernetes, Dockerfile'

E=$QBK_TOP/etc
R=$TEST_TMP/repo
PY=/usr/bin/python3

# has_opt PROG OPT: PROG --help lists the option OPT.
has_opt() {
	case $2 in
	--*) "$1" --help | grep -Eq -- "^  (-[A-Za-z], )?$2( |$)|^      $2( |$)" ;;
	*) "$1" --help | grep -Eq -- "^  $2, " ;;
	esac
}

# check_command WORDS...: the first qbk-* word is an installed program and
# every option after it is one that its --help lists (the words of a
# command substitution, $(date -u +%u), are not its).
check_command() {
	_prog="" _sub=0
	for _w in "$@"; do
		if [ -z "$_prog" ]; then
			case $_w in qbk-*) _prog=$_w ;; esac
			continue
		fi
		case $_w in
		*'$('*) _sub=1 ;;
		esac
		if [ "$_sub" -eq 1 ]; then
			case $_w in *')'*) _sub=0 ;; esac
			continue
		fi
		case $_w in
		'>'*|'&&'|'|'|';') break ;;
		--*=*) _w=${_w%%=*} ;;
		esac
		case $_w in
		-?|--*)
			has_opt "$_prog" "$_w" ||
			    { echo "$_prog has no option $_w"; return 1; } ;;
		esac
	done
	test -n "$_prog" || { echo "no qbk program in: $*"; return 1; }
	command -v "$_prog" >/dev/null || { echo "no program $_prog"; return 1; }
}

test_expect_success 'set up: an empty repository' '
	repo_init "$R"
'

for preset in development staging production; do
	conf=$E/qbk-$preset.conf
	test_expect_success "qbk-$preset.conf parses, and its preset sets the retention" '
		qbk-prune -c "$conf" --repo "$R" --dry-run --json >"$TEST_TMP/p.json" &&
		json_get "$TEST_TMP/p.json" "d[\"policy\"]" >"$TEST_TMP/policy" &&
		case $preset in
		development) test_grep "^--keep-last 6 --keep-daily 7$" "$TEST_TMP/policy" ;;
		staging) test_grep "^--keep-last 12 --keep-daily 14 --keep-weekly 4$" "$TEST_TMP/policy" ;;
		production) test_grep "^--keep-hourly 48 --keep-daily 30 --keep-weekly 12 --keep-monthly 12 --keep-yearly 3$" "$TEST_TMP/policy" ;;
		esac &&
		grep -q "^preset = $preset$" "$conf"
	'
	test_expect_success "qbk-$preset.conf: objectives as the preset (qbk-report)" '
		qbk-report -c "$conf" --repo "$R" --format prometheus >"$TEST_TMP/r.prom" ;
		case $preset in
		development) rpo=14400 rto=1800 ;;
		staging) rpo=7200 rto=900 ;;
		production) rpo=3600 rto=600 ;;
		esac &&
		test_grep "^qbk_objective_rpo_seconds $rpo$" "$TEST_TMP/r.prom" &&
		test_grep "^qbk_objective_rto_seconds $rto$" "$TEST_TMP/r.prom"
	'
done
test_expect_success 'etc/qbk.conf parses too' '
	qbk-verify -c "$E/qbk.conf" --repo "$R" -q
'

for f in "$E"/cron.d/*; do
	name=$(basename "$f")
	test_expect_success "cron.d/$name: 5 time fields, a user and a command on each line" '
		grep -v "^#" "$f" | grep -v "^$" | grep -v "^[A-Z_]*=" >"$TEST_TMP/lines" &&
		test -s "$TEST_TMP/lines" &&
		(while IFS= read -r line; do
			echo "$line" | grep -Eq "^[0-9*/,-]+[[:space:]]+[0-9*/,-]+[[:space:]]+[0-9*/,-]+[[:space:]]+[0-9*/,-]+[[:space:]]+[0-9*/,-]+[[:space:]]+qbk[[:space:]]+[^[:space:]]" ||
			    { echo "bad line: $line"; exit 1; }
			# An unescaped % would end the command in cron.
			echo "$line" | sed "s/\\\\%//g" | grep -q "%" &&
			    { echo "unescaped %: $line"; exit 1; }
			:
		done <"$TEST_TMP/lines")
	'
	test_expect_success "cron.d/$name: every command is a qbk program with options it has" '
		(while IFS= read -r line; do
			# shellcheck disable=SC2086
			set -- $line &&
			shift 6 &&
			check_command "$@" || exit 1
		done <"$TEST_TMP/lines")
	'
done
# What runs when: t9010-schedules.sh.
test_expect_success 'cron.d: the read-data-subset slice, as cron and sh see it, is K/7 with K in 1..7' '
	cmd=$(grep -o "\$(date +\\\\%u)/7" "$E/cron.d/qbk-production" | sed "s/\\\\%/%/") &&
	test -n "$cmd" &&
	slice=$(eval "echo $cmd") &&
	echo "$slice" | grep -Eq "^[1-7]/7$" &&
	qbk-verify --repo "$R" -c /dev/null -q --read-data-subset "$slice"
'

# systemd: copies of the templates instantiated, programs from this build.
mkdir -p "$TEST_TMP/units"
for f in "$E"/systemd/*.service "$E"/systemd/*.timer; do
	b=$(basename "$f")
	sed "s|/usr/local/bin/|$QBK_BIN/|g" "$f" >"$TEST_TMP/units/$(echo "$b" | sed "s/@\./@prod./")"
done
test_expect_success 'systemd: every service has a timer, and the reverse' '
	(for s in "$E"/systemd/*.service; do
		test -f "${s%.service}.timer" || exit 1
	done) &&
	(for t in "$E"/systemd/*.timer; do
		test -f "${t%.timer}.service" || exit 1
	done)
'
test_expect_success 'systemd: systemd-analyze verify passes' '
	(cd "$TEST_TMP/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no ./*.service ./*.timer) >"$TEST_TMP/sd" 2>&1 ;
	cat "$TEST_TMP/sd" &&
	test_cmp /dev/null "$TEST_TMP/sd"
'
test_expect_success 'systemd: ExecStart programs and options exist; hardened, not root' '
	(for s in "$E"/systemd/*.service; do
		line=$(sed -n "s/^ExecStart=//p" "$s" | sed "s/^\/bin\/sh -c .exec \(.*\).\$/\1/; s|/usr/local/bin/||") &&
		# shellcheck disable=SC2086
		check_command $line || exit 1
		grep -q "^User=qbk$" "$s" && grep -q "^NoNewPrivileges=yes$" "$s" &&
		grep -q "^ProtectSystem=strict$" "$s" && grep -q "^CapabilityBoundingSet=$" "$s" ||
		    { echo "$s is not hardened"; exit 1; }
	done)
'

test_expect_success 'kubernetes: every manifest is valid YAML with a kind' '
	(for f in "$E"/kubernetes/*.yaml; do
		$PY -c "import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    assert d[\"apiVersion\"] and d[\"kind\"], sys.argv[1]" "$f" || exit 1
	done)
'
test_expect_success 'kubernetes: CronJobs for backup, full backup, prune, verify, drill and report; Forbid; secrets from Secrets; limits; non-root' '
	$PY - "$E"/kubernetes/*.yaml <<-PYEOF
	import sys, yaml
	seen = set()
	for f in sys.argv[1:]:
	    for d in yaml.safe_load_all(open(f)):
	        if d["kind"] != "CronJob":
	            continue
	        seen.add(d["metadata"]["name"])
	        s = d["spec"]
	        assert s["concurrencyPolicy"] == "Forbid", f
	        pod = s["jobTemplate"]["spec"]["template"]["spec"]
	        assert pod["securityContext"]["runAsNonRoot"] is True, f
	        assert pod["securityContext"]["runAsUser"] != 0, f
	        for c in pod["containers"]:
	            env = {e["name"]: e for e in c["env"]}
	            for k in ("QBK_API_KEY", "QBK_PASSPHRASE"):
	                assert "secretKeyRef" in env[k]["valueFrom"], (f, k)
	                assert "value" not in env[k], (f, k)
	            r = c["resources"]
	            assert r["requests"]["cpu"] and r["requests"]["memory"], f
	            assert r["limits"]["cpu"] and r["limits"]["memory"], f
	            assert c["securityContext"]["allowPrivilegeEscalation"] is False, f
	            assert any(m["mountPath"] == "/etc/qbk" for m in c["volumeMounts"]), f
	for n in ("qbk-backup", "qbk-backup-full", "qbk-prune", "qbk-verify",
	          "qbk-drill", "qbk-report"):
	    assert n in seen, n
	PYEOF
'
test_expect_success 'kubernetes: the ConfigMap holds a qbk.conf that the programs accept' '
	$PY -c "import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d[\"kind\"] == \"ConfigMap\"
sys.stdout.write(d[\"data\"][\"qbk.conf\"])" "$E/kubernetes/qbk-configmap.yaml" >"$TEST_TMP/k8s.conf" &&
	qbk-prune -c "$TEST_TMP/k8s.conf" --repo "$R" --dry-run -q
'
test_expect_success 'kubernetes: the commands of the CronJobs are qbk programs with options they have' '
	$PY -c "import sys, yaml
for f in sys.argv[1:]:
    for d in yaml.safe_load_all(open(f)):
        if d[\"kind\"] == \"CronJob\":
            c = d[\"spec\"][\"jobTemplate\"][\"spec\"][\"template\"][\"spec\"][\"containers\"][0]
            for l in c[\"args\"][0].splitlines():
                if l.startswith(\"qbk-\"):
                    print(l)" "$E"/kubernetes/*.yaml >"$TEST_TMP/k8s.cmds" &&
	test "$(wc -l <"$TEST_TMP/k8s.cmds")" -ge 6 &&
	(while IFS= read -r line; do
		# shellcheck disable=SC2086
		check_command $line || exit 1
	done <"$TEST_TMP/k8s.cmds")
'

# Writable state: the units run under ProtectSystem=strict, the pods on a
# read-only root, and qbk's defaults for the S3 chunk-index cache and the
# notification state are $XDG_CACHE_HOME/qbk and $XDG_STATE_HOME/qbk
# (else under $HOME): each must be a folder that is writable there.
test_expect_success 'systemd: every service gets /var/cache/qbk and /var/lib/qbk, and the XDG variables that point there' '
	(for s in "$E"/systemd/*.service; do
		grep -q "^CacheDirectory=qbk$" "$s" && grep -q "^StateDirectory=qbk$" "$s" &&
		grep -q "^Environment=.*XDG_CACHE_HOME=%C\( \|$\)" "$s" &&
		grep -q "^Environment=.*XDG_STATE_HOME=%S\( \|$\)" "$s" &&
		grep -q "^ProtectSystem=strict$" "$s" ||
		    { echo "$s: no writable cache and state"; exit 1; }
	done)
'
test_expect_success 'kubernetes: every CronJob has emptyDir volumes where its XDG variables point' '
	$PY - "$E"/kubernetes/cronjob-*.yaml <<-PYEOF
	import sys, yaml
	for f in sys.argv[1:]:
	    d = yaml.safe_load(open(f))
	    pod = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
	    c = pod["containers"][0]
	    assert c["securityContext"]["readOnlyRootFilesystem"] is True, f
	    env = {e["name"]: e.get("value") for e in c["env"]}
	    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
	    vols = {v["name"]: v for v in pod["volumes"]}
	    for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME"):
	        path = env[var] + "/qbk"
	        assert path in mounts, (f, var, path)
	        assert "emptyDir" in vols[mounts[path]], (f, path)
	        assert not mounts[path] == "config", f
	PYEOF
'
test_expect_success 'cron.d and the Dockerfile: the same folders' '
	(for f in "$E"/cron.d/*; do
		grep -q "^XDG_CACHE_HOME=/var/cache$" "$f" && grep -q "^XDG_STATE_HOME=/var/lib$" "$f" &&
		grep -q "install -d -o qbk -g qbk -m 0750 /var/cache/qbk /var/lib/qbk" "$f" || { echo "$f"; exit 1; }
	done) &&
	grep -q "^ENV .*XDG_CACHE_HOME=/var/cache XDG_STATE_HOME=/var/lib" "$E/docker/Dockerfile" &&
	grep -q "install -d -o qbk -g qbk .*/var/cache/qbk" "$E/docker/Dockerfile" &&
	grep -q "useradd .*--home-dir /var/lib/qbk" "$E/docker/Dockerfile" &&
	grep -q "^ *--create-home " "$E/docker/Dockerfile"
'
# unit_env NAME: the value of NAME in the Environment= of qbk-backup@.service,
# with the specifiers %C and %S of a system unit made folders under $V.
V=$TEST_TMP/var
unit_env() {
	sed -n "s/^Environment=//p" "$E/systemd/qbk-backup@.service" | tr " " "\n" |
	    sed -n "s/^$1=//p" | sed "s|%C|$V/cache|; s|%S|$V/lib|"
}
mkdir -p "$V/cache" "$V/lib"
s3_start
sim_start
python3 "$QBK_TOP/tests/cli/webhook-receiver.py" --dir "$TEST_TMP/hooks" \
    --port-file "$TEST_TMP/hook.port" >/dev/null 2>&1 &
server_add $!
test_expect_success 'with the environment of the units and no HOME, the S3 cache and the notification state land there' '
	sim_generate docs 200 8 1 &&
	i=0 && while [ ! -s "$TEST_TMP/hook.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done &&
	printf "[qdrant]\nurl = %s\nretries = 0\n[repository]\nlocation = s3://qbk/state\n[notify]\nwebhook_url = http://127.0.0.1:%s/hook\n" \
	    "$SIM_URL" "$(cat "$TEST_TMP/hook.port")" >"$TEST_TMP/s3.conf" &&
	XC=$(unit_env XDG_CACHE_HOME) && XS=$(unit_env XDG_STATE_HOME) &&
	test "$XC" = "$V/cache" && test "$XS" = "$V/lib" &&
	env -u HOME XDG_CACHE_HOME="$XC" XDG_STATE_HOME="$XS" qbk-init -c "$TEST_TMP/s3.conf" \
	    --kdf-opslimit 1 --kdf-memlimit 8192 >/dev/null &&
	env -u HOME XDG_CACHE_HOME="$XC" XDG_STATE_HOME="$XS" qbk-backup -c "$TEST_TMP/s3.conf" -q &&
	ls "$V"/cache/qbk/[0-9a-f]*/chunks &&
	{ env -u HOME XDG_CACHE_HOME="$XC" XDG_STATE_HOME="$XS" qbk-backup -c "$TEST_TMP/s3.conf" \
	    -q --url http://127.0.0.1:1; test $? -eq 1; } &&
	test -s "$V/lib/qbk/notify.json" &&
	test -s "$TEST_TMP/hooks/requests.jsonl"
'

D=$E/docker/Dockerfile
test_expect_success 'Dockerfile: a bookworm-slim build stage that installs the build dependencies only, builds and installs' '
	grep -Eq "^FROM debian:bookworm-slim AS build$" "$D" &&
	sed -n "/^FROM .* AS build\$/,/^FROM /p" "$D" >"$TEST_TMP/build" &&
	grep -q "^COPY \. \.\$" "$TEST_TMP/build" &&
	grep -q "^RUN scripts/install-deps --build\$" "$TEST_TMP/build" &&
	grep -q "^RUN make clean && make -j" "$TEST_TMP/build" &&
	grep -q "make install PREFIX=/usr/local DESTDIR=/opt/qbk" "$TEST_TMP/build" &&
	grep -q "^COPY --from=build /opt/qbk/usr/local/ /usr/local/\$" "$D"
'
test_expect_success '... and no test run in it (no tool of the tests in the image), the README naming the one in CI' '
	test_grep -v "^RUN .*make( .*)? check" "$D" &&
	test_grep -v "^RUN scripts/install-deps\$" "$D" &&
	grep -q "scripts/install-deps && make check" "$QBK_TOP/README"
'
test_expect_success '... and what it runs works here: install-deps --build, then make install into a DESTDIR' '
	sh "$QBK_TOP/scripts/install-deps" --build 2>"$TEST_TMP/id.err" &&
	test_grep "all Debian packages present" "$TEST_TMP/id.err" &&
	test_grep -v "s3rver" "$TEST_TMP/id.err" &&
	make -s -C "$QBK_TOP" BUILD="$QBK_BUILD" install PREFIX=/usr/local DESTDIR="$TEST_TMP/img" >/dev/null &&
	(for p in "$QBK_BIN"/qbk-*; do
		test -x "$TEST_TMP/img/usr/local/bin/$(basename "$p")" || exit 1
	done) &&
	test -x "$TEST_TMP/img/usr/local/bin/qbk-emergency-recover" &&
	test -f "$TEST_TMP/img/usr/local/share/man/man7/qbk.7"
'
test_expect_success 'Dockerfile: a runtime stage with runtime libraries only, as a non-root user' '
	test "$(grep -c "^FROM " "$D")" -eq 2 &&
	sed -n "/^FROM debian:bookworm-slim\$/,\$p" "$D" >"$TEST_TMP/runtime" &&
	test -s "$TEST_TMP/runtime" &&
	test_grep -v "(-dev|build-essential|gcc|clang|cmocka)( |\$)" "$TEST_TMP/runtime" &&
	test_grep "COPY --from=build" "$TEST_TMP/runtime" &&
	user=$(sed -n "s/^USER //p" "$TEST_TMP/runtime" | tail -n 1) &&
	test -n "$user" && test "${user%%:*}" != root && test "${user%%:*}" != 0
'
test_expect_success 'Dockerfile: the runtime packages are those the programs link' '
	(for lib in libcurl jansson archive sodium inih zstd; do
		ldd "$QBK_BIN/qbk-backup" | grep -q "$lib" || { echo "qbk-backup does not link $lib?"; exit 1; }
		grep -q "$lib" "$TEST_TMP/runtime" || { echo "runtime stage lacks $lib"; exit 1; }
	done)
'

test_done
