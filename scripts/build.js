#!/usr/bin/env node
// Build: compile the TypeScript to CommonJS in dist/, then put each node's editor .html, its
// i18n catalog (the shared strings in locales/ merged with the node's own) and static assets
// beside its .js, where Node-RED looks for them.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const final = path.join(root, 'dist');
// Build beside dist/ and swap it in at the end, so tests running meanwhile never see half a build.
const dist = path.join(root, `.dist-build-${process.pid}`);

fs.rmSync(dist, { recursive: true, force: true });
// TypeScript 7 exports no bin/ subpath: find the compiler through its package.json, as npm does.
const tsPackage = require.resolve('typescript/package.json');
const tsc = path.join(path.dirname(tsPackage), require(tsPackage).bin.tsc);
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--outDir', dist], { stdio: 'inherit' });
if (result.status !== 0) {
  fs.rmSync(dist, { recursive: true, force: true });
  process.exit(result.status ?? 1);
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const languages = fs.readdirSync(path.join(root, 'locales'));
const shared = Object.fromEntries(
  languages.map((lang) => [lang, JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, 'chatgate.json'), 'utf8'))]),
);

for (const file of walk(path.join(root, 'nodes'))) {
  const rel = path.relative(root, file);
  const out = path.join(dist, rel);
  const parts = rel.split(path.sep);
  const li = parts.indexOf('locales');
  if (li >= 0 && file.endsWith('.json')) {
    const lang = parts[li + 1];
    const own = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify({ ...shared[lang], ...own }, null, 2));
  } else if (file.endsWith('.html') || li >= 0 || parts.includes('static')) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.copyFileSync(file, out);
  }
}
const old = path.join(root, `.dist-old-${process.pid}`);
if (fs.existsSync(final)) fs.renameSync(final, old);
fs.renameSync(dist, final);
fs.rmSync(old, { recursive: true, force: true });
console.log('built dist/');
