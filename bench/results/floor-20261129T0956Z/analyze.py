#!/usr/bin/env python3
"""Summarise results.jsonl (from cpumeasure.py) into markdown tables: medians [min-max] over repeats."""
import json, statistics, sys
from collections import defaultdict, OrderedDict

path = sys.argv[1] if len(sys.argv) > 1 else "results.jsonl"
recs = [json.loads(l) for l in open(path) if l.strip()]
recs = [r for r in recs if r.get("v") == 2]
JIT = ("C1 CompilerThread", "C2 CompilerThread")
SEPN = ("Native-Transport-Requests", "MutationStage", "ReadStage")


def med(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    m = statistics.median(xs)
    if len(xs) == 1:
        return f"{m:.0f}"
    return f"{m:.0f} [{min(xs):.0f}-{max(xs):.0f}]"


def per_req(r, sec):
    return sec / r["window_s"] * r["elapsed"] / r["requests"] * 1e6


by = OrderedDict()
for r in recs:
    cfg, rest = r["label"].split(" ", 1)
    by.setdefault(cfg, OrderedDict()).setdefault(rest, []).append(r)

out = []
order = ["idle", "create R500", "create R1000", "create R3000", "create c64", "get c64"]
for cfg, runs in by.items():
    out.append(f"\n### {cfg}\n")
    idle = runs.get("idle", [])
    if idle:
        tot = [(r["user_s"] + r["sys_s"]) / r["window_s"] * 1000 for r in idle]
        g = defaultdict(list)
        for r in idle:
            for k, v in r["groups"].items():
                if k == "SEP workers (all)":
                    continue
                g[k].append((v["user_s"] + v["sys_s"]) / r["window_s"] * 1000)
        top = sorted(g.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
        sl = defaultdict(list)
        for r in idle:
            for k, v in r["groups"].items():
                sl[k].append(v["slices"] / r["window_s"])
        out.append(f"Idle (10 s, n={len(idle)}): process CPU {med(tot)} ms/s; "
                   + ", ".join(f"{k} {med(v)} ms/s" for k, v in top)
                   + f"; commit-log thread wake-ups/s: "
                   + ", ".join(f"{k} {med(sl[k])}" for k in sl if "COMMIT" in k or "SYNC" in k) + "\n")
    out.append("| load | n | req/s | CPU ms/s | µs/req user | sys | total | total excl. JIT | request path (SEP+epoll+commit-log) | commit-log thread | disk flush/s | top thread groups µs/req (median; user+sys) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in order[1:] + [k for k in runs if k not in order]:
        rs = runs.get(key)
        if not rs:
            continue
        rps = [r["requests"] / r["elapsed"] for r in rs]
        cpus = [(r["user_s"] + r["sys_s"]) / r["window_s"] * 1000 for r in rs]
        u = [per_req(r, r["user_s"]) for r in rs]
        s = [per_req(r, r["sys_s"]) for r in rs]
        t = [per_req(r, r["user_s"] + r["sys_s"]) for r in rs]
        nj = [per_req(r, r["user_s"] + r["sys_s"] - sum(r["groups"].get(j, {}).get("user_s", 0) + r["groups"].get(j, {}).get("sys_s", 0) for j in JIT)) for r in rs]
        fl = [r["disk_flushes"] / r["window_s"] for r in rs]
        def path(r):
            return sum(v["user_s"] + v["sys_s"] for k, v in r["groups"].items()
                       if k in SEPN or k == "epollEventLoopGroup" or "COMMIT" in k)
        rp = [per_req(r, path(r)) for r in rs]
        cl = [per_req(r, sum(v["user_s"] + v["sys_s"] for k, v in r["groups"].items() if "COMMIT" in k)) for r in rs]
        g = defaultdict(list); gu = defaultdict(list); gs = defaultdict(list)
        for r in rs:
            for k, v in r["groups"].items():
                if k in SEPN:
                    continue  # shown summed as "SEP workers (all)": the pool renames its threads
                g[k].append(per_req(r, v["user_s"] + v["sys_s"]))
                gu[k].append(per_req(r, v["user_s"])); gs[k].append(per_req(r, v["sys_s"]))
        top = sorted(g.items(), key=lambda kv: -statistics.median(kv[1]))[:6]
        tops = "; ".join(f"{k.replace('SEP workers (all)', 'SEP(NTR+Mutation+Read)')} {statistics.median(v):.0f} ({statistics.median(gu[k]):.0f}+{statistics.median(gs[k]):.0f})" for k, v in top)
        out.append(f"| {key} | {len(rs)} | {med(rps)} | {med(cpus)} | {med(u)} | {med(s)} | {med(t)} | {med(nj)} | {med(rp)} | {med(cl)} | {med(fl)} | {tops} |")
print("\n".join(out))
