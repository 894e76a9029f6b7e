#!/usr/bin/env python3
"""Ingest benchmark rounds for docs/performance.md (issue #6): per round, alternating so that the shared machine's
noise hits every variant alike,

  capacity  — everything published as fast as the broker takes it (--rate 0): the bare counting subscriber, our
              ingest into SQLite, our ingest into PostgreSQL; the ratio ours / bare is reported;
  sustained — the fleet at --rate messages/s for --seconds (10 000 sites' live batches plus replay bursts): achieved
              messages/s and points/s, publish-to-commit p99 after the first 10 s (the warm-up's own p99 is printed
              too), into SQLite and into PostgreSQL.

    cmake --preset release && cmake --build build/release -j2 --target bench_ingest
    python3 bench/ingest/run.py --bin build/release/bench/ingest/bench_ingest --rounds 3
"""
import argparse, json, statistics, subprocess, sys


def run(binary, args):
    out = subprocess.run([binary] + args, capture_output=True, text=True)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if not line:
        sys.exit(f"bench_ingest {' '.join(args)} failed: {out.stderr[-2000:]}")
    return json.loads(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=5000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--sites", type=int, default=10000)
    ap.add_argument("--capacity-replay-sites", type=int, default=100)
    ap.add_argument("--replay-sites", type=int, default=400)
    ap.add_argument("--skip-capacity", action="store_true")
    a = ap.parse_args()
    rows = {}
    for r in range(a.rounds):
        variants = []
        if not a.skip_capacity:
            cap = ["--rate", "0", "--sites", str(a.sites), "--replay-sites", str(a.capacity_replay_sites)]
            variants += [("capacity bare", ["--consumer", "bare"] + cap),
                         ("capacity sqlite", ["--db", "sqlite"] + cap),
                         ("capacity postgres", ["--db", "postgres"] + cap)]
        sus = ["--rate", str(a.rate), "--seconds", str(a.seconds), "--sites", str(a.sites), "--replay-sites",
               str(a.replay_sites)]
        variants += [("sustained sqlite", ["--db", "sqlite"] + sus), ("sustained postgres", ["--db", "postgres"] + sus)]
        for name, args in variants:
            d = run(a.bin, args)
            rows.setdefault(name, []).append(d)
            lat = d.get("latency_ms", {})
            print(f"round {r + 1} {name:20s} {d['messages']:7d} msgs  {d['msgs_per_s']:8.0f} msg/s  "
                  f"{d['points_per_s']:9.0f} points/s  p50 {lat.get('p50', '-')} ms  p99 {lat.get('p99', '-')} ms  "
                  f"(warm-up p99 {d.get('warmup_latency_ms', {}).get('p99', '-')} ms)  "
                  f"ingest thread {d.get('ingest_thread_cpu_s', '-')} s CPU", flush=True)
    print("\nmedians")
    med = {}
    for name, ds in rows.items():
        m = {k: statistics.median(d[k] for d in ds) for k in ("msgs_per_s", "points_per_s")}
        if "latency_ms" in ds[0]:
            m["p99_ms"] = statistics.median(d["latency_ms"]["p99"] for d in ds)
            m["p50_ms"] = statistics.median(d["latency_ms"]["p50"] for d in ds)
        med[name] = m
        print(f"  {name:20s} {json.dumps(m)}")
    if "capacity bare" in med:
        for db in ("sqlite", "postgres"):
            ratios = [ours["msgs_per_s"] / bare["msgs_per_s"]
                      for ours, bare in zip(rows[f"capacity {db}"], rows["capacity bare"])]
            print(f"  ratio ours/bare ({db}): per round {[round(x * 100, 1) for x in ratios]} %, "
                  f"median {statistics.median(ratios) * 100:.1f} %")


if __name__ == "__main__":
    main()
