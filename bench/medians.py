#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench -p bench` run as a Markdown table.

Usage: python3 bench/medians.py [CRITERION_DIR]   (default: $CARGO_TARGET_DIR/criterion or target/criterion)
"""
import json, os, pathlib, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                    os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion"))

def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"

rows = []
for est in sorted(root.glob("*/*/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    e = json.loads(est.read_text())["median"]
    lo, hi = e["confidence_interval"]["lower_bound"], e["confidence_interval"]["upper_bound"]
    rows.append((bench["full_id"], e["point_estimate"], lo, hi))
print("| benchmark | median | 95% CI of the median |")
print("|---|---:|---|")
for name, m, lo, hi in rows:
    print(f"| `{name}` | {fmt(m)} | {fmt(lo)} – {fmt(hi)} |")
