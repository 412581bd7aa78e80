#!/usr/bin/env python3
"""Per-thread-group CPU of a JVM (Cassandra) over one loadgen run or an idle window.

usage:
  cpumeasure.py run   PID LABEL OUTJSONL -- loadgen raw ... (the script adds -format json -out, -pid)
  cpumeasure.py idle  PID LABEL OUTJSONL SECONDS

A background thread snapshots every 0.25 s: process utime/stime (fields 14/15
of /proc/PID/stat, clock ticks), every thread's utime/stime and
schedstat (ns on CPU, timeslices), and /proc/diskstats of the data disk
(writes completed, sectors written, flushes completed). After the run the
measured window is taken from loadgen's JSON ("start", "elapsed_seconds"):
the last snapshot at or before start and the first at or after the end. Rates
(CPU s per wall s) come from the snapshots' own timestamps; per-request costs
are rate * elapsed / requests, so the slightly wider snapshot window does not
inflate them. Thread groups: comm with trailing digits/#/-/: stripped.
"""
import json, os, re, subprocess, sys, tempfile, threading, time

TCK = os.sysconf("SC_CLK_TCK")
DISK = os.environ.get("FLOOR_DISK", "vda")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def stat_times(txt):
    # fields after the ")" : state is field 3; utime=14, stime=15
    rest = txt[txt.rindex(")") + 2:].split()
    return int(rest[11]), int(rest[12])


def group(comm):
    g = re.sub(r"[\s#:\-_]*\d+$", "", comm.strip())
    g = re.sub(r"[\s#:\-_]+$", "", g)
    return {"Native-Transpor": "Native-Transport-Requests", "GROUP-COMMIT-LO": "GROUP-COMMIT-LOG-WRITER",
            "COMMIT-LOG-ALLO": "COMMIT-LOG-ALLOCATOR", "epollEventLoopG": "epollEventLoopGroup",
            "C2 CompilerThre": "C2 CompilerThread", "C1 CompilerThre": "C1 CompilerThread"}.get(g, g)


def disk():
    for line in read("/proc/diskstats").splitlines():
        f = line.split()
        if f[2] == DISK:
            # writes completed, sectors written, flushes completed
            return int(f[7]), int(f[9]), int(f[19]) if len(f) > 19 else 0
    return 0, 0, 0


def snapshot(pid):
    t = time.time()
    p = read(f"/proc/{pid}/stat")
    if p is None:
        return None
    pu, ps = stat_times(p)
    threads = {}
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        st = read(f"{base}/{tid}/stat")
        comm = read(f"{base}/{tid}/comm")
        ss = read(f"{base}/{tid}/schedstat")
        if st is None or comm is None:
            continue
        u, s = stat_times(st)
        ns, slices = 0, 0
        if ss:
            a = ss.split()
            ns, slices = int(a[0]), int(a[2])
        threads[tid] = (group(comm), u, s, ns, slices)
    return {"t": (t + time.time()) / 2, "u": pu, "s": ps, "thr": threads, "disk": disk()}


class Sampler(threading.Thread):
    def __init__(self, pid, every=0.25):
        super().__init__(daemon=True)
        self.pid, self.every, self.snaps, self.stop = pid, every, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            s = snapshot(self.pid)
            if s:
                self.snaps.append(s)
            self.stop.wait(self.every)


def delta(snaps):
    """CPU between snaps[0] and snaps[-1]. Cassandra's shared-pool (SEP) workers
    rename themselves (Native-Transport-Requests <-> MutationStage <-> ReadStage)
    as they pick up work, so per-thread deltas are taken per sampling interval
    (0.25 s) and charged to the name the thread has at the interval's end; new
    threads count from zero. The sum over all SEP names is exact."""
    a, b = snaps[0], snaps[-1]
    dt = b["t"] - a["t"]
    groups = {}
    for p, q in zip(snaps, snaps[1:]):
        for tid, (g, u, s, ns, sl) in q["thr"].items():
            u0, s0, ns0, sl0 = 0, 0, 0, 0
            if tid in p["thr"]:
                _, u0, s0, ns0, sl0 = p["thr"][tid]
            d = groups.setdefault(g, [0, 0, 0, 0, set()])
            d[0] += u - u0; d[1] += s - s0; d[2] += ns - ns0; d[3] += sl - sl0; d[4].add(tid)
    gd = {g: {"user_s": v[0] / TCK, "sys_s": v[1] / TCK, "sched_s": v[2] / 1e9, "slices": v[3], "threads": len(v[4])}
          for g, v in groups.items()}
    sep = [g for g in gd if g in SEP]
    if sep:
        gd["SEP workers (all)"] = {k: sum(gd[g][k] for g in sep) for k in ("user_s", "sys_s", "sched_s", "slices", "threads")}
    da = [y - x for x, y in zip(a["disk"], b["disk"])]
    return {"v": 2, "window_s": dt, "user_s": (b["u"] - a["u"]) / TCK, "sys_s": (b["s"] - a["s"]) / TCK,
            "groups": gd, "disk_writes": da[0], "disk_sectors": da[1], "disk_flushes": da[2]}


SEP = {"Native-Transport-Requests", "MutationStage", "ReadStage", "CounterMutationStage", "ViewMutationStage"}


def main():
    mode, pid, label, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rec = {"label": label, "mode": mode, "pid": pid, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if mode == "idle":
        secs = float(sys.argv[5])
        smp = Sampler(pid); smp.start(); time.sleep(secs); smp.stop.set(); smp.join()
        rec.update(delta(smp.snaps)); rec["requests"] = 0; rec["elapsed"] = smp.snaps[-1]["t"] - smp.snaps[0]["t"]
    else:
        cmd = sys.argv[sys.argv.index("--") + 1:]
        fd, jpath = tempfile.mkstemp(suffix=".json"); os.close(fd)
        cmd += ["-format", "json", "-out", jpath, "-q", "-pid", str(pid)]
        smp = Sampler(pid); smp.start()
        time.sleep(0.3)
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.25)
        smp.stop.set(); smp.join()
        if r.returncode != 0:
            sys.exit(f"loadgen failed: {r.stderr}")
        res = json.load(open(jpath)); os.unlink(jpath)
        st = res["start"]
        # Go RFC3339 with ns: trim to microseconds for strptime
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", st)
        import datetime
        frac = (m.group(2) or ".0")[:7]
        tz = "+00:00" if m.group(3) == "Z" else m.group(3)
        t0 = datetime.datetime.fromisoformat(m.group(1) + frac + tz).timestamp()
        el = res["elapsed_seconds"]; t1 = t0 + el
        before = [s for s in smp.snaps if s["t"] <= t0]
        after = [s for s in smp.snaps if s["t"] >= t1]
        i0, i1 = smp.snaps.index(before[-1]), smp.snaps.index(after[0])
        rec.update(delta(smp.snaps[i0:i1 + 1]))
        rec.update({"requests": res["requests"], "elapsed": el, "rps": res["requests_per_sec"],
                    "errors": res.get("errors", 0), "p50_ms": res["latency_ms"]["percentiles"][0]["ms"],
                    "p99_ms": next(p["ms"] for p in res["latency_ms"]["percentiles"] if p["p"] == 99),
                    "loadgen_server_cpu_us_per_req": (res.get("server") or {}).get("cpu_us_per_request"),
                    "cmd": " ".join(cmd[:-7])})
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    w = rec["window_s"]
    scale = rec["elapsed"] / w / rec["requests"] * 1e6 if rec["requests"] else 0
    tot = rec["user_s"] + rec["sys_s"]
    print(f"{label}: {rec.get('rps', 0):.0f}/s req={rec['requests']} cpu/s={tot / w:.3f} "
          f"(u {rec['user_s'] / w:.3f} s {rec['sys_s'] / w:.3f})"
          + (f" us/req={tot * scale:.1f} (u {rec['user_s'] * scale:.1f} s {rec['sys_s'] * scale:.1f}) loadgen={rec['loadgen_server_cpu_us_per_req']:.1f}" if scale else "")
          + f" flush/s={rec['disk_flushes'] / w:.0f} wr/s={rec['disk_writes'] / w:.0f}")
    top = sorted(rec["groups"].items(), key=lambda kv: -(kv[1]["user_s"] + kv[1]["sys_s"]))[:9]
    for g, v in top:
        c = v["user_s"] + v["sys_s"]
        print(f"   {g:28s} {c / w * 1000:7.1f} ms/s" + (f" {c * scale:7.1f} us/req (u {v['user_s'] * scale:.1f} s {v['sys_s'] * scale:.1f})" if scale else "")
              + f" sched {v['sched_s'] / w * 1000:.1f} ms/s slices/s {v['slices'] / w:.0f}")


if __name__ == "__main__":
    main()
