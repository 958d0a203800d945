#!/usr/bin/env node
'use strict';
/**
 * Benchmarks: node bench/run.js [--quick] [--defaults] [--iterations N] [--rounds R] [--warmup W] [W1 W2 ... STARVE MEM W1-auth]
 *
 * Builds what is missing (the addon only when absent, so a concurrent build is not disturbed;
 * the C clients with bench/build-c.js), then runs the workloads (default: W1–W7, STARVE, MEM;
 * W1-auth only when named) through bench/harness.ts, loaded with the TypeScript require hook of
 * scripts/register-ts.js, and writes the summary and chart (bench/report.ts). Counts: each
 * workload's defaults, or its --quick counts (1 round); --iterations (per peer, over all rounds)
 * and --rounds override both. --defaults: every peer with its own algorithm preferences.
 * Exits 1 when a workload failed (a peer crashed, a checksum or an output was wrong); timings
 * are never asserted.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const BUILD_TIMEOUT_MS = 30 * 60_000;
const USAGE = 'usage: node bench/run.js [--quick] [--defaults] [--iterations N] [--rounds R] [--warmup W] ' +
  '[W1 W2 W3 W4 W5 W6 W7 STARVE MEM W1-auth ...]';

function usage(message) {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const overrides = {};
  let quick = false;
  let defaults = false;
  const ids = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--defaults') defaults = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a === '--iterations' || a === '--rounds' || a === '--warmup') {
      const n = Number(argv[++i]);
      const min = a === '--warmup' ? 0 : 1;
      if (!Number.isInteger(n) || n < min || n > 100_000) usage(`${a} needs an integer from ${min} to 100000`);
      overrides[a.slice(2)] = n;
    } else if (/^(W\d+(-auth)?|starve|mem)$/i.test(a)) ids.push(a.toUpperCase());
    else usage(`unknown argument ${a}`);
  }
  return { quick, defaults, overrides, ids };
}

function build(script) {
  const r = spawnSync(process.execPath, [path.join(root, script)], { cwd: root, stdio: 'inherit', timeout: BUILD_TIMEOUT_MS });
  if (r.status !== 0) usage(`${script} failed`);
}

const { quick, defaults, overrides, ids } = parseArgs(process.argv.slice(2));
if (!fs.existsSync(path.join(root, 'build', 'Release', 'node_libssh2.node'))) build('scripts/install.js');
build('bench/build-c.js');

require('../scripts/register-ts');
const { main, settings } = require('./harness.ts');
const { writeReport } = require('./report.ts');
const { w1, w1auth } = require('./w1.ts');
const { w2 } = require('./w2.ts');
const { w3 } = require('./w3.ts');
const { w4, w5, w6 } = require('./sftp.ts');
const { w7 } = require('./w7.ts');
const { starve, mem } = require('./resources.ts');
const WORKLOADS = { W1: w1, W2: w2, W3: w3, W4: w4, W5: w5, W6: w6, W7: w7, STARVE: starve, MEM: mem, 'W1-AUTH': w1auth };
const DEFAULT = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'STARVE', 'MEM'];

settings.defaults = defaults;
if (defaults) process.env.BENCH_DEFAULTS = '1'; // the C clients read it (bench/c/common.h)
const selected = ids.length > 0 ? ids : DEFAULT;
for (const id of selected) if (!WORKLOADS[id]) usage(`unknown workload ${id} (known: ${Object.keys(WORKLOADS).join(', ')})`);
const runs = selected.map((id) => {
  const w = WORKLOADS[id];
  const opts = { warmup: 1, ...(quick ? w.quick : w.defaults), ...overrides, quick };
  opts.rounds = Math.min(opts.rounds, opts.iterations);
  return [w, opts];
});
const args = process.argv.slice(2).join(' ');
main(runs, (outcomes, env, dir, date) => writeReport(outcomes, env, dir, date, args)).then((ok) => {
  if (!ok) {
    console.error('bench: a workload failed (see above)');
    process.exitCode = 1;
  }
}, (err) => {
  console.error(err);
  process.exit(1);
});
