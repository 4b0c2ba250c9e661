#!/usr/bin/env python3
"""Records perf harness runs and renders the report (python3 standard library only).

  report.py record RUNS_JSONL key=value...   parse one run's outputs and append one JSON record
  report.py render OUT_DIR                   OUT_DIR/raw/runs.jsonl + meta.env -> results.json, report.md, charts/

`record` keys (all strings on the command line):
  id tool dataset network streams compress rep warmup   what ran (warmup=1: not counted)
  bytes files                                           the data set's size and file count
  rc wall_ns timefile stdout stderr cmd                 how it ran (timefile: GNU time '%e %U %S %M')
  server server_ticks_before server_ticks_after         the serving process (agent, sshd, iperf3) CPU ticks
  server_hwm_kb hwm_per_run clk_tck                     its VmHWM after the run; 1 if it was reset before the run
  dropped_flags histogram_dir                           flags the CLI did not know (XFER_PERF_NO_NEW_FLAGS=1)
  client_daemon_ticks_before client_daemon_ticks_after  the client daemon's CPU ticks, where it ran the command
  client_daemon_hwm_kb                                  and its VmHWM after the run
  server_jfr jfr_tool                                   a flight recording of the agent's per-thread allocation
                                                        counters at the start and the end of the run, and the jfr
                                                        tool that reads it: the agent's heap allocation
"""
import html
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

GIB = float(1 << 30)
MB = 1e6
MIB = float(1 << 20)


# ---------------------------------------------------------------------------------------------------------- record

# Threads of the measurement itself in the agent: the flight recorder's, and the one that runs jcmd's commands.
MEASUREMENT_THREADS = ("JFR ", "Attach Listener")


def server_heap(recording, jfr_tool):
    """What the agent's threads allocated between the start and the end of a recording that holds their
    jdk.ThreadAllocationStatistics events (perf/harness/thread-allocation.jfc): per thread, the last reading
    minus the first; a thread first seen at the end started during the run, from zero. A thread that started and
    ended during the run is missed (the agent's transfer, I/O and commit threads outlive a transfer).

    Returns (total bytes, {thread name: bytes}) or (None, error text)."""
    try:
        printed = subprocess.run([jfr_tool, "print", "--json", "--events", "jdk.ThreadAllocationStatistics",
                                  recording], capture_output=True, text=True, timeout=120)
        doc = json.loads(printed.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as ex:
        return None, "cannot read %s: %s" % (recording, ex)
    first, last, names = {}, {}, {}
    for event in doc.get("recording", {}).get("events", []):
        values = event.get("values", {})
        thread = values.get("thread") or {}
        tid = thread.get("javaThreadId")
        if tid is None:
            continue
        names[tid] = thread.get("javaName") or ""
        reading = (values.get("startTime", ""), int(values.get("allocated", 0)))
        first.setdefault(tid, reading)
        last[tid] = reading
    if not last:
        return None, "no thread allocation events in %s" % recording
    per_thread = {}
    for tid, (when, allocated) in last.items():
        name = names[tid]
        if name.startswith(MEASUREMENT_THREADS):
            continue
        start_when, start_allocated = first[tid]
        delta = allocated - (start_allocated if start_when < when else 0)
        if delta:
            per_thread[name] = per_thread.get(name, 0) + delta
    return sum(per_thread.values()), per_thread


def read_json_lines(path):
    objects = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        objects.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return objects


def read_whole_json(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def tail(path, lines=6):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


def number(text, default=None):
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


def record(runs_path, pairs):
    a = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        a[key] = value
    rec = {k: a.get(k, "") for k in ("id", "tool", "dataset", "network", "compress", "cmd", "server",
                                      "dropped_flags")}
    rec["streams"] = int(a["streams"]) if a.get("streams", "").isdigit() else None
    rec["rep"] = int(a.get("rep", "0"))
    rec["warmup"] = a.get("warmup") == "1"
    rec["rc"] = int(a.get("rc", "1"))
    data_bytes = int(a.get("bytes", "0") or 0)
    files = int(a.get("files", "0") or 0)
    rec["dataset_bytes"] = data_bytes
    rec["dataset_files"] = files
    wall = int(a.get("wall_ns", "0")) / 1e9
    rec["wall_s"] = wall
    clk = number(a.get("clk_tck"), 100.0)

    time_fields = []
    try:
        with open(a.get("timefile", ""), encoding="utf-8", errors="replace") as f:
            # GNU time writes "Command exited with non-zero status N" before the format line when rc != 0.
            lines = [x for x in f.read().splitlines() if x.strip() and not x.startswith("Command")]
            time_fields = lines[-1].split() if lines else []
    except OSError:
        pass
    if len(time_fields) >= 4:
        rec["client_cpu_user_s"] = number(time_fields[1])
        rec["client_cpu_sys_s"] = number(time_fields[2])
        rec["client_cpu_s"] = rec["client_cpu_user_s"] + rec["client_cpu_sys_s"]
        rec["client_peak_rss_kb"] = int(number(time_fields[3], 0))
    # a client daemon ran the command: its CPU is the client's, beside that of the xfer process that handed it over
    d_before, d_after = number(a.get("client_daemon_ticks_before")), number(a.get("client_daemon_ticks_after"))
    if d_before is not None and d_after is not None and "client_cpu_s" in rec:
        rec["client_daemon_cpu_s"] = (d_after - d_before) / clk
        rec["client_cpu_s"] += rec["client_daemon_cpu_s"]
    # and its memory: the larger of the two peaks (the daemon's is its life's so far, warm-ups included)
    if a.get("client_daemon_hwm_kb", "").isdigit():
        rec["client_daemon_peak_rss_kb"] = int(a["client_daemon_hwm_kb"])
        rec["client_peak_rss_kb"] = max(rec.get("client_peak_rss_kb", 0), rec["client_daemon_peak_rss_kb"])
    before, after = number(a.get("server_ticks_before")), number(a.get("server_ticks_after"))
    if before is not None and after is not None:
        rec["server_cpu_s"] = (after - before) / clk
    if a.get("server_hwm_kb", "").isdigit():
        rec["server_peak_rss_kb"] = int(a["server_hwm_kb"])
        rec["server_peak_rss_per_run"] = a.get("hwm_per_run") == "1"

    if a.get("server_jfr"):
        total, detail = server_heap(a["server_jfr"], a.get("jfr_tool") or "jfr")
        if total is None:
            rec["server_heap_error"] = detail
        else:
            rec["server_heap_bytes"] = total
            rec["server_heap_threads"] = detail

    ok = rec["rc"] == 0
    moved = data_bytes
    seconds = wall
    if rec["tool"] == "xfer":
        events = read_json_lines(a.get("stdout", ""))
        summary = next((e for e in reversed(events) if e.get("event") == "summary"), None)
        error = next((e for e in reversed(events) if e.get("event") == "error"), None)
        if summary:
            rec["summary"] = summary
            if summary.get("seconds"):
                seconds = float(summary["seconds"])
            if summary.get("bytes"):
                moved = int(summary["bytes"])
            ok = ok and summary.get("exit_code", 0) == 0
            if "latency" in summary and isinstance(summary["latency"], dict):
                rec["latency"] = summary["latency"]
            if summary.get("wire_bytes"):
                rec["wire_bytes"] = int(summary["wire_bytes"])
            if summary.get("resent_bytes") is not None:
                rec["resent_bytes"] = int(summary["resent_bytes"])
            if summary.get("heap_allocated_bytes") is not None:
                rec["heap_allocated_bytes"] = summary["heap_allocated_bytes"]
        else:
            ok = False
        if error:
            rec["error"] = "%s: %s" % (error.get("error"), error.get("message"))
        if a.get("histogram_dir") and os.path.isdir(a["histogram_dir"]):
            found = sorted(os.listdir(a["histogram_dir"]))
            rec["histogram_files"] = [os.path.join(os.path.basename(os.path.dirname(a["histogram_dir"])),
                                                   os.path.basename(a["histogram_dir"]), n) for n in found]
    elif rec["tool"] == "iperf3":
        doc = read_whole_json(a.get("stdout", ""))
        end = (doc or {}).get("end", {})
        received = end.get("sum_received") or end.get("sum") or {}
        if received.get("seconds") and received.get("bytes"):
            seconds = float(received["seconds"])
            moved = int(received["bytes"])
            rec["iperf3"] = {"bits_per_second": received.get("bits_per_second"),
                             "retransmits": (end.get("sum_sent") or {}).get("retransmits"),
                             "cpu_utilization_percent": end.get("cpu_utilization_percent")}
        else:
            ok = False
            if doc and doc.get("error"):
                rec["error"] = doc["error"]
    rec["ok"] = ok
    rec["bytes"] = moved
    rec["seconds"] = seconds
    if ok and seconds > 0:
        rec["mb_s"] = moved / seconds / MB
        rec["mib_s"] = moved / seconds / MIB
        rec["wall_mb_s"] = moved / wall / MB if wall > 0 else None
        if files > 1:
            rec["files_s"] = files / seconds
        gib = moved / GIB
        if gib > 0:
            if "client_cpu_s" in rec:
                rec["client_cpu_s_per_gib"] = rec["client_cpu_s"] / gib
            if "server_cpu_s" in rec:
                rec["server_cpu_s_per_gib"] = rec["server_cpu_s"] / gib
            if "heap_allocated_bytes" in rec:
                rec["heap_bytes_per_gib"] = rec["heap_allocated_bytes"] / gib
            if "server_heap_bytes" in rec:
                rec["server_heap_bytes_per_gib"] = rec["server_heap_bytes"] / gib
    if ok and rec.get("wire_bytes"):
        rec["wire_ratio"] = moved / rec["wire_bytes"]
    if not ok and "error" not in rec:
        rec["error"] = (tail(a.get("stderr", "")) or tail(a.get("stdout", "")) or "exit %d" % rec["rc"])[-600:]
    with open(runs_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
    status = "ok" if ok else "FAILED rc=%d" % rec["rc"]
    speed = ("%.1f MB/s" % rec["mb_s"]) if rec.get("mb_s") else "-"
    print("%s%s rep %d: %s, %s, %.2f s wall" % (rec["id"], " (warm-up)" if rec["warmup"] else "", rec["rep"], status,
                                                 speed, wall))


# ---------------------------------------------------------------------------------------------------------- render

METRICS = ("mb_s", "mib_s", "wall_mb_s", "files_s", "seconds", "wall_s", "client_cpu_s", "server_cpu_s",
           "client_cpu_s_per_gib", "server_cpu_s_per_gib", "client_peak_rss_kb", "server_peak_rss_kb",
           "heap_allocated_bytes", "heap_bytes_per_gib", "wire_bytes", "wire_ratio", "resent_bytes",
           "server_heap_bytes", "server_heap_bytes_per_gib")
LATENCY_ORDER = ("chunk_rtt_us", "disk_read_us", "ring_wait_us", "disk_write_us")


def read_meta(path):
    meta = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.rstrip("\n").partition("=")
                if sep:
                    meta[key] = value
    except OSError:
        pass
    return meta


def summarize(runs):
    """Groups measured runs by scenario id (in first-seen order) and takes medians."""
    order = []
    groups = {}
    for r in runs:
        if r.get("warmup"):
            continue
        if r["id"] not in groups:
            order.append(r["id"])
            groups[r["id"]] = []
        groups[r["id"]].append(r)
    scenarios = []
    for sid in order:
        reps = groups[sid]
        good = [r for r in reps if r.get("ok")]
        first = reps[0]
        s = {k: first.get(k) for k in ("id", "tool", "dataset", "network", "streams", "compress", "cmd", "server",
                                       "dataset_bytes", "dataset_files", "dropped_flags")}
        s["repeats"] = len(reps)
        s["ok_repeats"] = len(good)
        s["errors"] = sorted({r.get("error", "") for r in reps if not r.get("ok")})
        for m in METRICS:
            values = [r[m] for r in good if r.get(m) is not None]
            if values:
                s[m] = statistics.median(values)
                if m == "mb_s":
                    s["mb_s_min"], s["mb_s_max"] = min(values), max(values)
                if m == "heap_allocated_bytes":
                    s["heap_values"] = values
                if m == "server_heap_bytes":
                    s["server_heap_values"] = values
        if good:
            # Percentiles are not averaged: take them from the run with the median throughput.
            ranked = sorted(good, key=lambda r: r.get("mb_s", 0))
            median_run = ranked[(len(ranked) - 1) // 2]
            s["median_rep"] = median_run["rep"]
            if median_run.get("latency"):
                s["latency"] = median_run["latency"]
            if median_run.get("server_heap_threads"):
                s["server_heap_threads"] = median_run["server_heap_threads"]
            s["server_peak_rss_per_run"] = median_run.get("server_peak_rss_per_run")
            s["histogram_files"] = sorted({f for r in good for f in r.get("histogram_files", [])})
        scenarios.append(s)
    # Baselines: rsync, scp per data set and network; iperf3 ceiling per network (best of its stream counts).
    for s in scenarios:
        for base in ("rsync", "scp"):
            ref = next((b for b in scenarios if b["tool"] == base and b["dataset"] == s["dataset"] and
                        b["network"] == s["network"] and b.get("mb_s")), None)
            if ref and s.get("mb_s"):
                s["vs_" + base] = s["mb_s"] / ref["mb_s"]
            if ref and s.get("wall_mb_s") and ref.get("wall_mb_s"):
                s["wall_vs_" + base] = s["wall_mb_s"] / ref["wall_mb_s"]
        ceiling = max([b["mb_s"] for b in scenarios if b["tool"] == "iperf3" and b["network"] == s["network"] and
                       b.get("mb_s")] or [0])
        if ceiling and s.get("mb_s") and s["tool"] != "iperf3":
            s["vs_iperf3"] = s["mb_s"] / ceiling
    # Heap per GiB at the margin: a large-random transfer against the same transfer of an eighth of the file.
    for small in scenarios:
        if not small["dataset"].endswith("heap-random") or small.get("heap_allocated_bytes") is None:
            continue
        big_dataset = small["dataset"].replace("heap-random", "large-random")
        big = next((b for b in scenarios if b["dataset"] == big_dataset and b["tool"] == small["tool"] and
                    b["streams"] == small["streams"] and b["compress"] == small["compress"] and
                    b.get("heap_allocated_bytes") is not None), None)
        if big and big["dataset_bytes"] > small["dataset_bytes"]:
            gib = (big["dataset_bytes"] - small["dataset_bytes"]) / float(1 << 30)
            marginal = (big["heap_allocated_bytes"] - small["heap_allocated_bytes"]) / gib
            big["heap_marginal_bytes_per_gib"] = small["heap_marginal_bytes_per_gib"] = marginal
            # every pairing of a whole-file run with an eighth's: a difference of two numbers near 25 MB moves by
            # some hundred KB from run to run, and a single pair of medians hides that
            pairs = [(b - a) / gib for b in big.get("heap_values", []) for a in small.get("heap_values", [])]
            if pairs:
                big["heap_marginal_min"], big["heap_marginal_max"] = min(pairs), max(pairs)
    # The agent's heap per GiB at the margin: its allocation in a transfer of the whole file against one of an eighth.
    for small in scenarios:
        if not small["dataset"].endswith("-eighth") or small.get("server_heap_bytes") is None:
            continue
        big = next((b for b in scenarios if b["dataset"] == small["dataset"][:-len("-eighth")] and
                    b["tool"] == small["tool"] and b.get("server_heap_bytes") is not None), None)
        if big and big["dataset_bytes"] > small["dataset_bytes"]:
            gib = (big["dataset_bytes"] - small["dataset_bytes"]) / GIB
            big["server_heap_marginal_bytes_per_gib"] = (big["server_heap_bytes"] - small["server_heap_bytes"]) / gib
            pairs = [(b - a) / gib for b in big.get("server_heap_values", [])
                     for a in small.get("server_heap_values", [])]
            if pairs:
                big["server_heap_marginal_min"], big["server_heap_marginal_max"] = min(pairs), max(pairs)
            big["server_heap_small"] = small["server_heap_bytes"]
    return scenarios


def fmt(value, digits=1, suffix=""):
    if value is None:
        return "n/a"
    if isinstance(value, float) and digits == 0:
        return "{:,.0f}".format(value) + suffix
    return ("{:,.%df}" % digits).format(value) + suffix


def fmt_mb(kb):
    return "n/a" if kb is None else "%.0f" % (kb / 1024.0)


def latency_cell(s, metric="chunk_rtt_us"):
    lat = (s.get("latency") or {}).get(metric)
    if not isinstance(lat, dict):
        return "n/a"
    return "/".join(fmt(number(lat.get(p)), 0) for p in ("p50", "p99", "p999", "max"))


def scenario_label(s):
    return _label(s) + ("*" if s.get("dropped_flags") else "")


def _label(s):
    parts = [s["dataset"]]
    if s["tool"] == "xfer":
        parts.append("%s stream%s" % (s["streams"], "" if s["streams"] == 1 else "s"))
        if s.get("compress"):
            parts.append(s["compress"])
    elif s["tool"] == "iperf3":
        parts = ["%s stream%s" % (s["streams"], "" if s["streams"] == 1 else "s")]
    return "%s %s" % (s["tool"], ", ".join(parts))


def machine_facts(meta):
    facts = {}

    def run(cmd):
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, check=False)
            return p.stdout.decode("utf-8", "replace").strip()
        except (OSError, subprocess.SubprocessError):
            return "n/a"

    facts["nproc"] = os.cpu_count()
    model = "n/a"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    facts["cpu_model"] = model
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            facts["memory"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        facts["memory"] = "n/a"
    facts["kernel"] = " ".join(platform.uname()[0:3:2]) + " " + platform.release()
    facts["java"] = run([meta.get("JAVA", "java"), "-version"]).replace("\n", "; ")
    facts["rsync"] = run(["rsync", "--version"]).splitlines()[0] if shutil.which("rsync") else "n/a"
    facts["ssh"] = run(["ssh", "-V"]) if shutil.which("ssh") else "n/a"
    facts["iperf3"] = run(["iperf3", "--version"]).splitlines()[0] if shutil.which("iperf3") else "n/a"
    try:
        with open("/proc/sys/net/ipv4/tcp_congestion_control", encoding="utf-8") as f:
            facts["tcp_congestion_control"] = f.read().strip()
    except OSError:
        facts["tcp_congestion_control"] = "n/a"
    facts["date"] = meta.get("DATE") or time.strftime("%Y-%m-%dT%H:%M:%S%z")
    facts["git_commit"] = meta.get("GIT_COMMIT", "n/a")
    return facts


# ------------------------------------------------------------------------------------------------------------- SVG

PALETTE = {"xfer": "#2b6cb0", "rsync": "#c05621", "scp": "#b7791f", "iperf3": "#718096"}


def svg_bar_chart(title, rows, unit, refs=(), width=900):
    """Horizontal bar chart. rows: [(label, value, tool, note)]; refs: [(label, value)] drawn as dashed lines."""
    rows = [r for r in rows if r[1] is not None]
    bar_h, gap, left, right, top = 18, 6, 300, 90, 48
    height = top + len(rows) * (bar_h + gap) + 40
    vmax = max([r[1] for r in rows] + [v for _, v in refs] + [1e-9]) * 1.05
    plot_w = width - left - right

    def x(v):
        return left + plot_w * v / vmax

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="Helvetica,Arial,sans-serif" font-size="12">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (10, html.escape(title))]
    # Axis ticks.
    step = nice_step(vmax / 5)
    t = 0.0
    while t <= vmax:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e2e8f0"/>' % (x(t), top - 6, x(t), height - 30))
        out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#4a5568">%s</text>' % (
            x(t), height - 14, html.escape(fmt(t, 0))))
        t += step
    out.append('<text x="%d" y="%d" text-anchor="end" fill="#4a5568">%s</text>' % (width - 10, height - 14,
                                                                                    html.escape(unit)))
    y = top
    for label, value, tool, note in rows:
        color = PALETTE.get(tool, "#4a5568")
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 8, y + bar_h - 5, html.escape(label)))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %s %s</title></rect>' % (
            left, y, max(1.0, x(value) - left), bar_h, color, html.escape(label), fmt(value), html.escape(unit)))
        out.append('<text x="%.1f" y="%d" fill="#1a202c">%s%s</text>' % (
            x(value) + 4, y + bar_h - 5, html.escape(fmt(value, 0 if value >= 100 else 1)),
            html.escape(note or "")))
        y += bar_h + gap
    for i, (label, value) in enumerate(refs):
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e53e3e" stroke-dasharray="5,4" '
                   'stroke-width="1.5"/>' % (x(value), top - 10, x(value), height - 30))
        out.append('<text x="%.1f" y="%d" fill="#e53e3e" text-anchor="end" font-size="11">%s %s</text>' % (
            x(value) - 3, top - 12 - 12 * (i % 2), html.escape(label), html.escape(fmt(value, 0))))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def svg_stacked_chart(title, rows, unit, width=900):
    """Horizontal stacked bars: rows [(label, [(part_label, value, color)])]."""
    rows = [r for r in rows if any(v is not None for _, v, _ in r[1])]
    bar_h, gap, left, right, top = 18, 6, 300, 90, 60
    height = top + len(rows) * (bar_h + gap) + 40
    vmax = max([sum(v or 0 for _, v, _ in parts) for _, parts in rows] + [1e-9]) * 1.05
    plot_w = width - left - right

    def x(v):
        return left + plot_w * v / vmax

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="Helvetica,Arial,sans-serif" font-size="12">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="15" font-weight="bold">%s</text>' % html.escape(title)]
    legend_x = 10
    seen = []
    for _, parts in rows:
        for name, _, color in parts:
            if name not in [s[0] for s in seen]:
                seen.append((name, color))
    for name, color in seen:
        out.append('<rect x="%d" y="34" width="12" height="12" fill="%s"/>' % (legend_x, color))
        out.append('<text x="%d" y="45">%s</text>' % (legend_x + 16, html.escape(name)))
        legend_x += 30 + 7 * len(name)
    step = nice_step(vmax / 5)
    t = 0.0
    while t <= vmax:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e2e8f0"/>' % (x(t), top - 6, x(t), height - 30))
        out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#4a5568">%s</text>' % (
            x(t), height - 14, html.escape(fmt(t, 1))))
        t += step
    out.append('<text x="%d" y="%d" text-anchor="end" fill="#4a5568">%s</text>' % (width - 10, height - 14,
                                                                                    html.escape(unit)))
    y = top
    for label, parts in rows:
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 8, y + bar_h - 5, html.escape(label)))
        start = 0.0
        for name, value, color in parts:
            if value is None:
                continue
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s: %s</title></rect>' % (
                x(start), y, max(0.5, x(start + value) - x(start)), bar_h, color, html.escape(label),
                html.escape(name), fmt(value, 2)))
            start += value
        out.append('<text x="%.1f" y="%d">%s</text>' % (x(start) + 4, y + bar_h - 5, html.escape(fmt(start, 2))))
        y += bar_h + gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def nice_step(raw):
    if raw <= 0:
        return 1.0
    magnitude = 10 ** int(("%e" % raw).split("e")[1])
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def write_charts(out_dir, scenarios):
    charts_dir = os.path.join(out_dir, "charts")
    os.makedirs(charts_dir, exist_ok=True)
    charts = []

    def refs_for(network):
        return [("iperf3 %s stream%s" % (s["streams"], "" if s["streams"] == 1 else "s"), s["mb_s"])
                for s in scenarios if s["tool"] == "iperf3" and s["network"] == network and s.get("mb_s")]

    for dataset, title in (("large-random", "Large incompressible file"), ("large-text", "Large compressible file")):
        rows = [(scenario_label(s), s.get("mb_s"), s["tool"], "")
                for s in scenarios if s["dataset"] == dataset and s["network"] == "loopback"]
        if any(r[1] for r in rows):
            name = "throughput-%s.svg" % dataset
            with open(os.path.join(charts_dir, name), "w", encoding="utf-8") as f:
                f.write(svg_bar_chart("%s, loopback: MB/s (10^6 B/s), median" % title, rows, "MB/s",
                                      refs_for("loopback")))
            charts.append((name, "%s: MB/s per scenario; dashed lines: iperf3 raw TCP" % title))
    for dataset, title in (("tree", "Tree of small files, tmpfs to tmpfs"),
                           ("tree-disk", "Tree of small files onto a real file system")):
        rows = [(scenario_label(s), s.get("files_s"), s["tool"], "") for s in scenarios if s["dataset"] == dataset]
        if any(r[1] for r in rows):
            name = "files-per-second-%s.svg" % dataset
            with open(os.path.join(charts_dir, name), "w", encoding="utf-8") as f:
                f.write(svg_bar_chart("%s, loopback: files/s, median" % title, rows, "files/s"))
            charts.append((name, "%s: files/s" % title))
    rows = [(scenario_label(s), s.get("mb_s"), s["tool"], "") for s in scenarios
            if s["network"] == "wan" and s["tool"] != "iperf3"]
    if any(r[1] for r in rows):
        with open(os.path.join(charts_dir, "throughput-wan.svg"), "w", encoding="utf-8") as f:
            f.write(svg_bar_chart("Rate-limited link (namespaces, tbf): MB/s, median", rows, "MB/s",
                                  refs_for("wan")))
        charts.append(("throughput-wan.svg", "Rate-limited link: compression on and off; dashed: iperf3 there"))
    rows = [(scenario_label(s), s.get("mb_s"), s["tool"], "") for s in scenarios
            if s["network"] == "lfn" and s["tool"] != "iperf3"]
    if any(r[1] for r in rows):
        with open(os.path.join(charts_dir, "throughput-lfn.svg"), "w", encoding="utf-8") as f:
            f.write(svg_bar_chart("Long fat link (delay line, tbf): MB/s, median", rows, "MB/s", refs_for("lfn")))
        charts.append(("throughput-lfn.svg", "Long fat link: rsync over ssh against xfer at 1, 4 and 8 streams; "
                                             "dashed: iperf3 there"))
    rows = [(scenario_label(s) + ("" if s["network"] == "loopback" else " (%s)" % s["network"]),
             [("client", s.get("client_cpu_s_per_gib"), "#2c5282"),
              ("agent / sshd / iperf3 server", s.get("server_cpu_s_per_gib"), "#dd6b20")])
            for s in scenarios if s.get("mb_s") and not s["dataset"].startswith("tree")]
    if rows:
        with open(os.path.join(charts_dir, "cpu-per-gib.svg"), "w", encoding="utf-8") as f:
            f.write(svg_stacked_chart("Large files: CPU seconds per GiB moved, client + serving side, median", rows,
                                      "CPU s/GiB"))
        charts.append(("cpu-per-gib.svg", "Large files: CPU seconds per GiB, both sides"))
    rows = [(scenario_label(s),
             [("client", s.get("client_cpu_s"), "#2c5282"),
              ("agent / sshd", s.get("server_cpu_s"), "#dd6b20")])
            for s in scenarios if s.get("mb_s") and s["dataset"].startswith("tree")]
    if rows:
        with open(os.path.join(charts_dir, "cpu-tree.svg"), "w", encoding="utf-8") as f:
            f.write(svg_stacked_chart("Tree of small files: CPU seconds per run, client + serving side, median", rows,
                                      "CPU s"))
        charts.append(("cpu-tree.svg", "Tree of small files: CPU seconds, both sides"))
    return charts


# ---------------------------------------------------------------------------------------------------------- report

def render(out_dir):
    raw = os.path.join(out_dir, "raw")
    runs = read_json_lines(os.path.join(raw, "runs.jsonl"))
    meta = read_meta(os.path.join(raw, "meta.env"))
    scenarios = summarize(runs)
    facts = machine_facts(meta)
    charts = write_charts(out_dir, scenarios)
    results = {"meta": meta, "machine": facts, "scenarios": scenarios, "runs": runs}
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")

    md = []
    w = md.append
    w("# xfer end-to-end perf report")
    w("")
    w("Generated by `perf/harness/run.sh%s` on %s, commit `%s`." % (
        (" " + meta["ARGS"]) if meta.get("ARGS") else "", facts["date"], facts["git_commit"]))
    w("")
    w("Mode **%s**: large files %s each, tree of %s files of %s, WAN file %s at %s, long fat link %s; %s measured "
      "repeat(s) and %s warm-up(s) per scenario; the tables show the median of the repeats." % (
          meta.get("MODE", "?"), meta.get("SIZE", "?"), meta.get("TREE_FILES", "?"), meta.get("TREE_FILE_SIZE", "?"),
          meta.get("WAN_SIZE", "?"), meta.get("WAN_RATE", "?"), meta.get("LFN", "off"), meta.get("REPEATS", "?"),
          meta.get("WARMUPS", "?")))
    w("")
    notes = [n.strip() for n in meta.get("NOTES", "").split(" || ") if n.strip()]
    failed = [s for s in scenarios if s["ok_repeats"] < s["repeats"]]
    for s in failed:
        notes.append("**%s**: %d of %d runs failed: %s" % (s["id"], s["repeats"] - s["ok_repeats"], s["repeats"],
                                                          "; ".join(e.replace("\n", " ")[:300] for e in s["errors"])))
    dropped = sorted({s["dropped_flags"] for s in scenarios if s.get("dropped_flags")})
    if dropped:
        notes.append("XFER_PERF_NO_NEW_FLAGS=1: this build of `xfer` does not know %s; those flags were dropped, so "
                     "rows marked * ran with the CLI defaults, not the streams/compression in their name." %
                     ", ".join("`%s`" % d for d in dropped))
    if notes:
        w("## Notes")
        w("")
        for n in notes:
            w("- " + n)
        w("")

    w("## Results")
    w("")
    w("MB/s = 10^6 bytes per second of transfer time (xfer: the `seconds` of its `--json` summary, which excludes "
      "JVM start; rsync, scp: wall time of the command; iperf3: its own measurement). *wall MB/s* divides by the "
      "command's wall time, JVM start included, and *wall vs rsync* compares it with rsync's. Ratios compare MB/s with rsync and scp on the same data set and "
      "network, and with the best iperf3 raw-TCP result on that network (as a percentage of it). With several "
      "repeats, the MB/s cell shows the median and (min-max). data/wire: file bytes divided by the bytes xfer put on "
      "the wire (`wire_bytes` of the summary), the compression achieved. CPU s/GiB: user+system CPU per GiB moved; "
      "client from GNU time (rsync and scp include their ssh child; through a client daemon, the daemon's CPU from /proc "
      "is added, and its peak RSS counts where larger), serving side from /proc (the agent; for ssh the "
      "sshd listener's reaped children: sshd session and the remote rsync/scp/sftp; the iperf3 server). Peak RSS in "
      "MiB; serving side %s. Chunk RTT in µs as p50/p99/p99.9/max, when the summary reports it." % (
          "reset before every run (VmHWM after /proc/PID/clear_refs)" if meta.get("HWM_RESET") == "1"
          else "is the process lifetime peak (VmHWM; clear_refs not available)"))
    w("")
    w("| tool | network | scenario | streams | compress | MB/s | MiB/s | wall MB/s | files/s | data/wire | vs rsync | "
      "wall vs rsync | vs scp | "
      "vs iperf3 | client CPU s/GiB | server CPU s/GiB | client RSS MiB | server RSS MiB | heap B/GiB | "
      "chunk RTT µs p50/p99/p99.9/max |")
    w("|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in scenarios:
        star = "*" if s.get("dropped_flags") else ""
        mb = fmt(s.get("mb_s")) if s.get("mb_s") else "**failed**"
        if s.get("mb_s") and s["ok_repeats"] > 1:
            digits = 0 if s["mb_s_min"] >= 100 else 1
            mb += " (%s-%s)" % (fmt(s["mb_s_min"], digits), fmt(s["mb_s_max"], digits))
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s["tool"], s["network"], s["dataset"] if s["tool"] != "iperf3" else "raw TCP",
            (str(s["streams"]) + star) if s["streams"] else "-", (s.get("compress") or "-") + (star if s.get(
                "compress") else ""), mb, fmt(s.get("mib_s")),
            fmt(s.get("wall_mb_s")) if s["tool"] != "iperf3" else "-",
            fmt(s.get("files_s"), 0) if s.get("files_s") else "-",
            fmt(s.get("wire_ratio"), 2, "x") if s.get("wire_ratio") else "-",
            fmt(s.get("vs_rsync"), 2, "x") if s.get("vs_rsync") else "-",
            fmt(s.get("wall_vs_rsync"), 2, "x") if s.get("wall_vs_rsync") else "-",
            fmt(s.get("vs_scp"), 2, "x") if s.get("vs_scp") else "-",
            fmt(100 * s["vs_iperf3"], 1, "%") if s.get("vs_iperf3") else "-",
            fmt(s.get("client_cpu_s_per_gib"), 2), fmt(s.get("server_cpu_s_per_gib"), 2),
            fmt_mb(s.get("client_peak_rss_kb")), fmt_mb(s.get("server_peak_rss_kb")),
            fmt(s.get("heap_bytes_per_gib"), 0) if s.get("heap_bytes_per_gib") is not None else "n/a",
            latency_cell(s)))
    w("")
    marginal = [s for s in scenarios if s["dataset"].endswith("large-random") and
                s.get("heap_marginal_bytes_per_gib")]
    if marginal:
        w("## Heap allocation at the margin")
        w("")
        w("The client's heap allocation (`heap_allocated_bytes`) of a large-random transfer minus that of the same "
          "transfer of an eighth of the file (scenarios `xfer-heap-random-*`, and `xfer-pull-heap-random-*` for "
          "`xfer get`), per GiB of the difference: what moving "
          "one more GiB costs, without what every transfer allocates once (TLS handshakes, histograms, queues). "
          "The results table's heap column divides the whole run's allocation instead. The range in brackets pairs "
          "every measured run of the whole file with every run of the eighth: the difference of two figures near "
          "25 MB moves by some hundred KB from run to run, so compare builds with interleaved runs, not one report.")
        w("")
        w("| scenario | streams | compress | heap B (whole file) | heap B (an eighth) | heap B/GiB at the margin |")
        w("|---|---:|---|---:|---:|---:|")
        for s in marginal:
            small = next(b for b in scenarios if b["dataset"] == s["dataset"].replace("large-random", "heap-random")
                         and b["streams"] == s["streams"] and b["compress"] == s["compress"])
            w("| %s | %s | %s | %s | %s | %s |" % (s["id"], s["streams"], s["compress"],
                                                   fmt(s["heap_allocated_bytes"], 0),
                                                   fmt(small["heap_allocated_bytes"], 0),
                                                   fmt(s["heap_marginal_bytes_per_gib"], 0) + (
                                                       " (%s to %s)" % (fmt(s["heap_marginal_min"], 0),
                                                                        fmt(s["heap_marginal_max"], 0))
                                                       if s.get("heap_marginal_min") is not None else "")))
        w("")
    agent_marginal = [s for s in scenarios if s.get("server_heap_marginal_bytes_per_gib") is not None]
    if agent_marginal:
        w("## The agent's heap allocation at the margin")
        w("")
        w("The same measure for the agent, against an agent of its own (scenarios `xfer-agent-heap-*`): what its "
          "threads allocated during a push (the agent receives) or a pull (it sends) of the whole file, minus the "
          "same for an eighth of it, per GiB of the difference. Read from the threads' own allocation counters "
          "(exact to the byte) at the start and the end of each run, through a flight recording that holds only "
          "those readings (`perf/harness/thread-allocation.jfc`); the recorder's and jcmd's threads are left out. "
          "The range in brackets pairs every run of the whole file with every run of the eighth.")
        w("")
        w("| scenario | streams | heap B (whole file) | heap B (an eighth) | heap B/GiB at the margin | "
          "most of it (whole file, one run) |")
        w("|---|---:|---:|---:|---:|---|")
        for s in agent_marginal:
            w("| %s | %s | %s | %s | %s | %s |" % (
                s["id"], s["streams"], fmt(s["server_heap_bytes"], 0), fmt(s["server_heap_small"], 0),
                fmt(s["server_heap_marginal_bytes_per_gib"], 0) + (
                    " (%s to %s)" % (fmt(s["server_heap_marginal_min"], 0), fmt(s["server_heap_marginal_max"], 0))
                    if s.get("server_heap_marginal_min") is not None else ""),
                ", ".join("%s %s" % (name, fmt(b, 0)) for name, b in sorted(
                    (s.get("server_heap_threads") or {}).items(), key=lambda kv: -kv[1])[:4]) or "-"))
        w("")
    with_latency = [s for s in scenarios if s.get("latency")]
    if with_latency:
        w("## Latency percentiles (xfer `--json` summary, run with the median throughput)")
        w("")
        w("| scenario | metric | count | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs |")
        w("|---|---|---:|---:|---:|---:|---:|---:|")
        for s in with_latency:
            lat = s["latency"]
            for metric in list(LATENCY_ORDER) + sorted(k for k in lat if k not in LATENCY_ORDER):
                h = lat.get(metric)
                if isinstance(h, dict):
                    w("| %s | %s | %s | %s |" % (s["id"], metric, fmt(number(h.get("count")), 0), " | ".join(
                        fmt(number(h.get(p)), 0) for p in ("p50", "p90", "p99", "p999", "max"))))
        w("")
    if charts:
        w("## Charts")
        w("")
        for name, caption in charts:
            w("![%s](charts/%s)" % (caption, name))
            w("")
    w("## Machine")
    w("")
    w("| fact | value |")
    w("|---|---|")
    for key in ("nproc", "cpu_model", "memory", "kernel", "java", "rsync", "ssh", "iperf3", "tcp_congestion_control",
                "date", "git_commit"):
        w("| %s | %s |" % (key, str(facts.get(key, "n/a")).replace("|", "\\|")))
    for key in ("DATA_FS", "AGENT_JAVA_OPTS", "CLIENT_JAVA_OPTS", "CLIENT_CDS"):
        if meta.get(key):
            w("| %s | `%s` |" % (key.lower(), meta[key]))
    # what moved the bytes in the xfer client: a run that fell back to NIO or the JDK's TLS shows up here
    engines = sorted({"%s, %s" % (r["summary"].get("transport", "not reported"), r["summary"].get("tls_provider", "not reported"))
                      for r in runs if r.get("tool") == "xfer" and isinstance(r.get("summary"), dict)})
    if engines:
        w("| client_transport_tls | %s |" % "; ".join(engines))
    w("")
    hist = [f for s in scenarios for f in s.get("histogram_files", [])]
    if hist:
        w("## HdrHistogram files")
        w("")
        w("Written by `xfer send --histogram-dir` for every measured run, under `histograms/SCENARIO/repN/`: "
          "`.hgrm` percentile distributions and `.hlog` interval logs (plot with HdrHistogram's "
          "HistogramLogAnalyzer or hdrhistogram-visualizer).")
        w("")
        for s in scenarios:
            if s.get("histogram_files"):
                dirs = sorted({os.path.dirname(f) for f in s["histogram_files"]})
                names = sorted({os.path.splitext(os.path.basename(f))[0] for f in s["histogram_files"]})
                w("- %s: %s (%s)" % (s["id"], ", ".join("[%s/](histograms/%s/)" % (d, d) for d in dirs),
                                     ", ".join(names)))
        w("")
    w("## Commands")
    w("")
    w("Setup files (agent configuration, sshd_config, WAN namespace script) are in `setup/`. Exact command of each "
      "scenario's first measured run (`RUN` stands for the fresh destination of each run):")
    w("")
    for s in scenarios:
        w("- **%s**: `%s`" % (s["id"], (s.get("cmd") or "").replace("`", "'")))
    w("")
    w("Raw data: `results.json` (every run, medians, machine facts), `raw/` (stdout, stderr and GNU time output of "
      "every run, agent and sshd logs).")
    w("")
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    print_table(scenarios)


def print_table(scenarios):
    print("%-44s %9s %9s %8s %8s %8s %8s %9s %9s" % ("scenario", "MB/s", "files/s", "vsRsync", "wallVsR", "vsScp",
                                                       "vsIperf", "cliCPU/G", "srvCPU/G"))
    for s in scenarios:
        print("%-44s %9s %9s %8s %8s %8s %8s %9s %9s" % (
            s["id"] + ("*" if s.get("dropped_flags") else ""), fmt(s.get("mb_s")) if s.get("mb_s") else "FAILED",
            fmt(s.get("files_s"), 0) if s.get("files_s") else "-", fmt(s.get("vs_rsync"), 2),
            fmt(s.get("wall_vs_rsync"), 2),
            fmt(s.get("vs_scp"), 2), fmt(s.get("vs_iperf3"), 2), fmt(s.get("client_cpu_s_per_gib"), 2),
            fmt(s.get("server_cpu_s_per_gib"), 2)))


def main(argv):
    if len(argv) >= 3 and argv[1] == "record":
        record(argv[2], argv[3:])
    elif len(argv) == 3 and argv[1] == "render":
        render(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
