#!/usr/bin/env python3
"""schedules.py: what the schedules of etc/ really run, and when.

Used by tests/cli/t9010-schedules.sh.  Every command prints one line per
run in a window of DAYS days from START (ISO 8601, UTC):

    TIME KIND [ARGS]

sorted, where KIND is what ran (backup, backup-full, drill, prune, verify,
report) and TIME is "YYYY-MM-DDTHH:MM", or only the day for the jobs the
presets want "daily" at no fixed time (prune, verify).  A verify line ends
with the slice it reads (--read-data-subset K/N).

    schedules.py spec PRESET START DAYS
        the schedule each preset asks for (qbk(7), "Presets and schedules")
    schedules.py cron FILE START DAYS
        the entries of a cron.d file
    schedules.py systemd DIR PRESET START DAYS
        the timers of DIR (systemd-analyze calendar), with the drop-ins of
        DIR/PRESET/*.timer.d/*.conf and, for PRESET other than production,
        without qbk-backup-full@.timer (see etc/systemd/README)
    schedules.py k8s DIR START DAYS
        the CronJobs of DIR/*.yaml
    schedules.py limits cron FILE | systemd DIR PRESET | k8s DIR
        for each job: its time limit (timeout(1), TimeoutStartSec=,
        activeDeadlineSeconds) and the shortest time between two of its
        runs over four weeks, "JOB limit=S gap=S"; exit 1 when a job has
        no limit, or one that lets it overlap its next run
    schedules.py k8s-run FILE TIME [NAME=VALUE...]
        run the CronJob of FILE once at TIME with its environment (secrets
        and ConfigMap values as "set"), changed by the NAME=VALUE given:
        print the calls of qbk programs and curl, one a line, then
        "exit N" and its standard error

A cron entry, a CronJob or a systemd service is not merely parsed: its
command runs under /bin/sh at each time it is due, with stand-ins for
date(1) (which answers for that time) and for the qbk programs (which
record their arguments), so that what is classified is what the command
would really start.
"""

import atexit
import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

DAILY = ("prune", "verify")


def die(msg):
    sys.stderr.write("schedules.py: %s\n" % msg)
    sys.exit(2)


def window(start, days):
    t0 = dt.datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ")
    return t0, t0 + dt.timedelta(days=int(days))


def minutes(t0, t1):
    t = t0
    while t < t1:
        yield t
        t += dt.timedelta(minutes=1)


def stamp(kind, t, extra=""):
    s = t.strftime("%Y-%m-%d") if kind in DAILY else t.strftime(
        "%Y-%m-%dT%H:%M")
    return ("%s %s %s" % (s, kind, extra)).rstrip()


# ---- the presets' schedules, as the issue and qbk(7) state them ----------

def spec(preset, t0, t1):
    out = []
    for t in minutes(t0, t1):
        wd = t.isoweekday()  # 1 Monday .. 7 Sunday
        h, m = t.hour, t.minute
        if m % 5 == 0:
            out.append(stamp("report", t))
        if m != 0:
            continue
        if preset == "development":
            if h % 4 == 0:
                out.append(stamp("backup", t))
            if h == 6:
                out.append(stamp("drill", t))
        elif preset == "staging":
            if h % 2 == 0:
                out.append(stamp("backup", t))
            if wd == 1 and h == 5:
                out.append(stamp("drill", t))
        elif preset == "production":
            if wd == 7 and h == 0:
                out.append(stamp("backup-full", t))
            else:
                out.append(stamp("backup", t))
            if h == 3:
                out.append(stamp("drill", t))
        else:
            die("unknown preset '%s'" % preset)
        if h == 0:
            # Daily, at a time of the schedule's choosing; verify reads
            # slice K of 7 on day K of the week: all of it every week.
            out.append(stamp("prune", t))
            out.append(stamp("verify", t, "%d/7" % wd))
    return sorted(out)


# ---- running a command at a given time -------------------------------------

STUB_DATE = r'''#!/bin/sh
# date(1) for schedules.py: +FORMAT answered for $FAKE_* (one time).
fmt='%a %b %e %H:%M:%S UTC %Y'
for a in "$@"; do
	case $a in
	+*) fmt=${a#+} ;;
	esac
done
printf '%s\n' "$fmt" | sed -e "s/%u/$FAKE_u/g" -e "s/%H/$FAKE_H/g" \
    -e "s/%M/$FAKE_M/g" -e "s/%d/$FAKE_d/g" -e "s/%m/$FAKE_m/g" \
    -e "s/%Y/$FAKE_Y/g" -e "s/%s/$FAKE_s/g" -e "s/%a/$FAKE_a/g"
'''

STUB_PROG = r'''#!/bin/sh
# A qbk program for schedules.py: record the call, write the files that
# --metrics-file and --output name (in the scratch folder only), succeed.
printf '%s' "$(basename "$0")" >>"$CALLS"
out=""
for a in "$@"; do
	printf ' %s' "$a" >>"$CALLS"
	case $out$a in
	next"$SCRATCH"/*) echo "# stub metrics" >"$a" ;;
	esac
	out=""
	case $a in
	--metrics-file|--output) out=next ;;
	esac
done
printf '\n' >>"$CALLS"
exit 0
'''

PROGS = ("qbk-backup", "qbk-drill", "qbk-prune", "qbk-verify", "qbk-report",
         "qbk-restore", "qbk-init", "qbk-key", "curl")


class Runner:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="schedules.")
        atexit.register(shutil.rmtree, self.dir, True)
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)
        for name, text in [("date", STUB_DATE)] + [(p, STUB_PROG)
                                                  for p in PROGS]:
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self.calls = os.path.join(self.dir, "calls")
        self.cache = {}

    def run(self, script, t, env=None):
        """The qbk program calls of sh -c SCRIPT run at time t."""
        uses_time = "date" in script
        if not uses_time and script in self.cache:
            return self.cache[script]
        rc, err, calls = self.run_once(script, t, env)
        if rc != 0:
            die("command failed (exit %d) at %s: %s\n%s" % (
                rc, t, script, err))
        if not uses_time:
            self.cache[script] = calls
        return calls

    def run_once(self, script, t, env=None):
        """(exit status, stderr, calls) of sh -c SCRIPT run at time t."""
        open(self.calls, "w").close()
        e = {"PATH": self.bin + ":/usr/bin:/bin", "CALLS": self.calls,
             "SCRATCH": self.dir,
             "HOME": self.dir, "TMPDIR": self.dir,
             "FAKE_u": str(t.isoweekday()), "FAKE_H": "%02d" % t.hour,
             "FAKE_M": "%02d" % t.minute, "FAKE_d": "%02d" % t.day,
             "FAKE_m": "%02d" % t.month, "FAKE_Y": str(t.year),
             "FAKE_a": t.strftime("%a"),
             "FAKE_s": str(int(t.replace(tzinfo=dt.timezone.utc)
                              .timestamp()))}
        e.update(env or {})
        # Paths of the deployment (/tmp/metrics, /var/lib/...) must not
        # be touched here: they are rewritten into the scratch folder.
        script = script.replace("/tmp/", self.dir + "/tmp/")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        r = subprocess.run(["/bin/sh", "-c", script], env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        with open(self.calls) as f:
            calls = [shlex.split(l) for l in f if l.strip()]
        return r.returncode, r.stderr.replace(self.dir, "SCRATCH"), calls


def classify(call):
    """(kind, extra) of one qbk program call."""
    prog, args = call[0], call[1:]
    if prog == "qbk-backup":
        full = any(a == "--type=full" for a in args) or any(
            a == "--type" and b == "full" for a, b in zip(args, args[1:]))
        return ("backup-full" if full else "backup"), ""
    if prog == "qbk-verify":
        for a, b in zip(args, args[1:]):
            if a == "--read-data-subset":
                return "verify", b
        if "--read-data" in args:
            return "verify", "all"
        return "verify", "quick"
    if prog in ("qbk-drill", "qbk-prune", "qbk-report"):
        return prog[4:], ""
    return None, None


def record(out, runner, script, t, env=None):
    for call in runner.run(script, t, env):
        kind, extra = classify(call)
        if kind is not None:
            out.append(stamp(kind, t, extra))


# ---- cron ------------------------------------------------------------------

FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def cron_field(text, lo, hi):
    vals = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/")
            step = int(s)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-"))
        else:
            a = b = int(part)
            if step != 1:
                b = hi
        if a < lo or b > hi or a > b:
            die("cron field '%s' out of range" % text)
        vals.update(range(a, b + 1, step))
    return vals


def cron_due(fields, t):
    mi, ho, dom, mon, dow = (cron_field(f, *r) for f, r in zip(fields,
                                                               FIELDS))
    dows = {d % 7 for d in dow}
    day_ok_m = t.day in dom
    day_ok_w = (t.isoweekday() % 7) in dows
    # cron(8): when both day fields are restricted, either may match.
    if fields[2] != "*" and fields[4] != "*":
        day_ok = day_ok_m or day_ok_w
    else:
        day_ok = day_ok_m and day_ok_w
    return t.minute in mi and t.hour in ho and t.month in mon and day_ok


def cron(path, t0, t1):
    env, jobs, out = {}, [], []
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"^([A-Z_]+)=(.*)$", line)
        if m:
            env[m.group(1)] = m.group(2)
            continue
        f = line.split(None, 6)
        if len(f) < 7:
            die("bad cron line: %s" % line)
        # cron(8): an unescaped % ends the command; \% is a %.
        cmd = f[6]
        if re.search(r"(?<!\\)%", cmd):
            die("unescaped %% in: %s" % line)
        jobs.append((f[:5], cmd.replace("\\%", "%")))
    env.pop("PATH", None)
    runner = Runner()
    for t in minutes(t0, t1):
        for fields, cmd in jobs:
            if cron_due(fields, t):
                record(out, runner, cmd, t, env)
    return sorted(out)


# ---- Kubernetes CronJobs -----------------------------------------------------

def cronjobs(path):
    """(schedule fields, script, env) of each CronJob of the file PATH."""
    import yaml
    jobs = []
    name = os.path.basename(path)
    for d in yaml.safe_load_all(open(path)):
        if not d or d.get("kind") != "CronJob":
            continue
        s = d["spec"]
        if s.get("timeZone") not in ("Etc/UTC", "UTC"):
            die("%s: CronJob without timeZone Etc/UTC" % name)
        c = s["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        if c.get("command") != ["/bin/sh", "-c"]:
            die("%s: the container's command is not /bin/sh -c" % name)
        env = {e["name"]: e.get("value", "set") for e in c.get("env", [])}
        jobs.append((s["schedule"].split(), c["args"][0], env))
    return jobs


def k8s_run(path, when, assigns):
    t = dt.datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ")
    runner = Runner()
    for fields, script, env in cronjobs(path):
        for a in assigns:
            k, v = a.split("=", 1)
            env[k] = v
        rc, err, calls = runner.run_once(script, t, env)
        for c in calls:
            print(" ".join(c).replace(runner.dir, "SCRATCH"))
        print("exit %d" % rc)
        sys.stdout.write(err)


def k8s(folder, t0, t1):
    jobs, out = [], []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".yaml"):
            jobs += cronjobs(os.path.join(folder, name))
    runner = Runner()
    for t in minutes(t0, t1):
        for fields, script, env in jobs:
            if cron_due(fields, t):
                record(out, runner, script, t, env)
    return sorted(out)


# ---- systemd timers ------------------------------------------------------------

def unit_values(path, section, key, vals=None):
    """Values of KEY in [SECTION] of the unit file PATH, appended to VALS
    (a drop-in's), with systemd's rule that an empty assignment resets the
    list."""
    vals, cur = list(vals or []), None
    for line in open(path):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            cur = line.strip("[]")
            continue
        if cur != section or "=" not in line:
            continue
        k, v = (x.strip() for x in line.split("=", 1))
        if k != key:
            continue
        if v == "":
            vals = []
        else:
            vals.append(v)
    return vals


def calendar(expr, t0, t1):
    """Times at which the OnCalendar= expression elapses, in [t0, t1)."""
    n = int((t1 - t0).total_seconds() // 60) + 2
    n = min(n, 20000)
    base = (t0 - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S UTC")
    r = subprocess.run(["systemd-analyze", "calendar", "--iterations=%d" % n,
                        "--base-time=" + base, expr],
                       env=dict(os.environ, TZ="UTC", LC_ALL="C"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        die("systemd-analyze calendar '%s': %s" % (expr, r.stderr.strip()))
    times = []
    for line in r.stdout.splitlines():
        m = re.search(r"(?:Next elapse|Iter\. #\d+): \w+ "
                      r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", line)
        if m:
            t = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
            if t0 <= t < t1:
                times.append(t)
    return times


def exec_start(path):
    """The command line of a service's ExecStart=, as sh would run it."""
    vals = unit_values(path, "Service", "ExecStart")
    if len(vals) != 1:
        die("%s: expected one ExecStart=" % path)
    cmd = vals[0].lstrip("-@:+!")
    # systemd specifiers and escapes: %i the instance, %% a %, $$ a $.
    cmd = cmd.replace("%i", "prod").replace("%I", "prod")
    cmd = re.sub(r"%[SCLt]", "/var/x", cmd)
    cmd = cmd.replace("%%", "%").replace("$$", "$")
    words = shlex.split(cmd)
    words[0] = os.path.basename(words[0])
    if words[0] in ("sh", "bash") and words[1] == "-c":
        inner = words[2].replace("/usr/local/bin/", "")
        return inner
    return " ".join(shlex.quote(w) for w in words)


def systemd(folder, preset, t0, t1):
    out = []
    runner = Runner()
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".timer"):
            continue
        if name == "qbk-backup-full@.timer" and preset != "production":
            continue
        path = os.path.join(folder, name)
        exprs = unit_values(path, "Timer", "OnCalendar")
        dropdir = os.path.join(folder, preset, name + ".d")
        if os.path.isdir(dropdir):
            for conf in sorted(os.listdir(dropdir)):
                if conf.endswith(".conf"):
                    exprs = unit_values(os.path.join(dropdir, conf),
                                        "Timer", "OnCalendar", exprs)
        if not exprs:
            die("%s: no OnCalendar=" % name)
        service = os.path.join(folder, name[:-len(".timer")] + ".service")
        cmd = exec_start(service)
        times = sorted({t for e in exprs for t in calendar(e, t0, t1)})
        for t in times:
            record(out, runner, cmd, t)
    return sorted(out)


# ---- time limits against periods ---------------------------------------------

def seconds(text, units):
    """Seconds of a duration such as 55m, 4h (timeout(1)) or 55min, 1h 30min
    (systemd); None if it is not one."""
    total, rest = 0, text.replace(" ", "")
    if rest == "":
        return None
    while rest:
        m = re.match(r"^(\d+)([a-z]*)", rest)
        if not m or m.group(2) not in units:
            return None
        total += int(m.group(1)) * units[m.group(2)]
        rest = rest[m.end():]
    return total


TIMEOUT_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
SYSTEMD_UNITS = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600,
                 "hr": 3600, "d": 86400}


def shortest_gap(times):
    times = sorted(times)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    return min(gaps) if gaps else float("inf")


def limits(argv):
    t0, t1 = window("2026-11-23T00:00:00Z", 28)
    rows = []
    if argv[0] == "cron" and len(argv) == 2:
        for line in open(argv[1]):
            f = line.split(None, 6)
            if (not line.strip() or line.lstrip().startswith("#") or
                    re.match(r"^[A-Z_]+=", line) or len(f) < 7):
                continue
            m = re.match(r"^timeout (\S+) (qbk-\S+)", f[6])
            limit = seconds(m.group(1), TIMEOUT_UNITS) if m else None
            times = [t for t in minutes(t0, t1) if cron_due(f[:5], t)]
            rows.append((" ".join(f[:5]) + " " + f[6].split("qbk-", 1)[-1]
                         .split()[0], limit, shortest_gap(times)))
    elif argv[0] == "systemd" and len(argv) == 3:
        folder, preset = argv[1], argv[2]
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".timer"):
                continue
            exprs = unit_values(os.path.join(folder, name), "Timer",
                                "OnCalendar")
            dropdir = os.path.join(folder, preset, name + ".d")
            if os.path.isdir(dropdir):
                for conf in sorted(os.listdir(dropdir)):
                    exprs = unit_values(os.path.join(dropdir, conf),
                                        "Timer", "OnCalendar", exprs)
            service = os.path.join(folder, name[:-6] + ".service")
            v = unit_values(service, "Service", "TimeoutStartSec")
            limit = seconds(v[-1], SYSTEMD_UNITS) if v else None
            times = {t for e in exprs for t in calendar(e, t0, t1)}
            rows.append((name, limit, shortest_gap(times)))
    elif argv[0] == "k8s" and len(argv) == 2:
        import yaml
        for name in sorted(os.listdir(argv[1])):
            if not name.endswith(".yaml"):
                continue
            for d in yaml.safe_load_all(open(os.path.join(argv[1], name))):
                if not d or d.get("kind") != "CronJob":
                    continue
                s = d["spec"]
                limit = s["jobTemplate"]["spec"].get("activeDeadlineSeconds")
                if s.get("concurrencyPolicy") != "Forbid":
                    limit = None
                times = [t for t in minutes(t0, t1)
                         if cron_due(s["schedule"].split(), t)]
                rows.append((d["metadata"]["name"], limit,
                             shortest_gap(times)))
    else:
        die("bad arguments: limits %s" % " ".join(argv))
    bad = 0
    for job, limit, gap in rows:
        ok = limit is not None and limit < gap
        bad += not ok
        print("%s limit=%s gap=%s%s" % (job, limit, gap if gap != float(
            "inf") else "none", "" if ok else " OVERLAP"))
    if not rows:
        die("no job found")
    sys.exit(1 if bad else 0)


def main(argv):
    if len(argv) < 2:
        die("usage: schedules.py spec|cron|systemd|k8s ...")
    what = argv[1]
    if what == "spec" and len(argv) == 5:
        lines = spec(argv[2], *window(argv[3], argv[4]))
    elif what == "cron" and len(argv) == 5:
        lines = cron(argv[2], *window(argv[3], argv[4]))
    elif what == "systemd" and len(argv) == 6:
        lines = systemd(argv[2], argv[3], *window(argv[4], argv[5]))
    elif what == "k8s" and len(argv) == 5:
        lines = k8s(argv[2], *window(argv[3], argv[4]))
    elif what == "limits" and len(argv) >= 3:
        limits(argv[2:])
    elif what == "k8s-run" and len(argv) >= 4:
        k8s_run(argv[2], argv[3], argv[4:])
        return
    else:
        die("bad arguments: %s" % " ".join(argv[1:]))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main(sys.argv)
