#!/usr/bin/env node
'use strict';
/**
 * Benchmarks: node bench/run.js [--quick] [--iterations N] [--rounds R] [W1 ...]
 *
 * Builds what is missing (the addon only when absent, so a concurrent build is not disturbed;
 * the C clients with bench/build-c.js), then runs the workloads (default: all) through
 * bench/harness.ts, loaded with the TypeScript require hook of scripts/register-ts.js.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const BUILD_TIMEOUT_MS = 30 * 60_000;

function usage(message) {
  console.error(`${message}\nusage: node bench/run.js [--quick] [--iterations N] [--rounds R] [W1 ...]`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { iterations: 200, rounds: 5, warmup: 1 };
  const ids = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.iterations = 20;
    else if (a === '--iterations' || a === '--rounds') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) usage(`${a} needs a positive integer`);
      opts[a.slice(2)] = n;
    } else if (/^W\d+$/i.test(a)) ids.push(a.toUpperCase());
    else usage(`unknown argument ${a}`);
  }
  opts.rounds = Math.min(opts.rounds, opts.iterations);
  return { opts, ids };
}

function build(script) {
  const r = spawnSync(process.execPath, [path.join(root, script)], { cwd: root, stdio: 'inherit', timeout: BUILD_TIMEOUT_MS });
  if (r.status !== 0) usage(`${script} failed`);
}

const { opts, ids } = parseArgs(process.argv.slice(2));
if (!fs.existsSync(path.join(root, 'build', 'Release', 'node_libssh2.node'))) build('scripts/install.js');
build('bench/build-c.js');

require('../scripts/register-ts');
const { main } = require('./harness.ts');
const WORKLOADS = { W1: require('./w1.ts').w1 };

const selected = ids.length > 0 ? ids : Object.keys(WORKLOADS);
for (const id of selected) if (!WORKLOADS[id]) usage(`unknown workload ${id} (known: ${Object.keys(WORKLOADS).join(', ')})`);
main(selected.map((id) => WORKLOADS[id]), opts).catch((err) => {
  console.error(err);
  process.exit(1);
});
