#!/usr/bin/env bash
# CLI start-up: how long `natter --version` and a one-shot `natter send` take,
# whole process, measured with hyperfine (docs/benchmarks.md, "CLI start-up").
#
#   bench/cli.sh [--no-build]
#
# Builds (unless --no-build), starts `bin/natter serve` on a temporary data
# directory and a free port, registers a user with its own NATTER_HOME, creates
# a server (with #general), then runs hyperfine on both commands (and, for
# reference, `natter --help` and a bare `node -e 0`) and prints mean and max.
# The server is stopped by its PID at the end. RUNS and WARMUP change the
# hyperfine settings (default 30 and 3); BIN measures another copy of the CLI
# (say, a checkout of an older commit, built) against this server.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
BIN=${BIN:-bin/natter}

command -v hyperfine >/dev/null || { echo "bench/cli.sh: needs hyperfine" >&2; exit 1; }
if [[ "${1:-}" != "--no-build" ]]; then npm run --silent build; fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/natter-cli-bench.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Only this script's settings: none of the caller's NATTER_* variables.
for v in $(env | sed -n 's/^\(NATTER_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

# The server: any free HTTP/WebSocket port, no TCP listener, cheap bcrypt (only
# `register` below hashes a password; the measured commands use the token).
node bin/natter serve --port 0 --tcp-port 0 --data "$tmp/data" --bcrypt-cost 4 >"$tmp/server.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/.*(WebSocket \(ws:\/\/[^ )]*\)).*/\1/p' "$tmp/server.log")
  [[ -n "$url" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "bench/cli.sh: the server did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }

export NATTER_SERVER="$url" NATTER_HOME="$tmp/home"
echo 'start-up timing secret' | node bin/natter register bench --password-stdin >/dev/null
node bin/natter server create bench >/dev/null
node bin/natter send bench/general "first" >/dev/null

echo "server $url (pid $server_pid), node $(node --version), $(nproc) cores, $(uname -m)"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$tmp/hyperfine.json" \
  "$BIN --version" \
  "$BIN send bench/general hello" \
  "$BIN --help" \
  "node -e 0"

node -e '
const { results } = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
const ms = (s) => `${(s * 1000).toFixed(1)} ms`;
console.log("\n| command | mean | max | min | runs |\n| --- | --- | --- | --- | --- |");
for (const r of results) console.log(`| \`${r.command.startsWith("node ") ? r.command : `natter ${r.command.replace(/^\S+ /, "")}`}\` | ${ms(r.mean)} | ${ms(r.max)} | ${ms(r.min)} | ${r.times.length} |`);
' "$tmp/hyperfine.json"
