#!/usr/bin/env bash
# Runs every workload of docs/benchmarks.md, 3 runs each, natter beside its
# peers, then prints the medians. About an hour on a 2-core machine; W6 (the
# 10-minute soak) runs once per target unless SOAK_RUNS says otherwise. `tui`
# runs the terminal app's three benchmarks (start-up, frames, the 30-minute
# soak: about 40 minutes), which record in bench/results/tui/.
#
#   bench/all.sh [workload...]     (default: w3 w1 w2 w2-logins w5 w4 w6 tui)
set -euo pipefail
cd "$(dirname "$0")/.."
run() { node --import tsx bench/run.ts "$@"; }
workloads=("$@")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(w3 w1 w2 w2-logins w5 w4 w6 tui)
for w in "${workloads[@]}"; do
  case "$w" in
    w1) for n in 1000 5000 10000; do run --workload w1 --clients "$n"; done ;;
    w3) for r in 0.2 0.5 1.0; do run --workload w3 --rate "$r"; done ;;
    w6) run --workload w6 --runs "${SOAK_RUNS:-1}" ;;
    tui)
      npm run --silent build
      for b in tui-start tui-frames tui-soak; do node --import tsx "bench/$b.ts" --no-build; done
      ;;
    *) run --workload "$w" ;;
  esac
done
node --import tsx bench/compare.ts
