'use strict';
/**
 * The MEM workload's process (bench/resources.ts runs it as `node --expose-gc bench/mem-child.js
 * JSON`): a fresh heap, so only the measured work moves its RSS. Prints the result as JSON.
 */
require('../scripts/register-ts');
const { memChild } = require('./resources.ts');

const a = JSON.parse(process.argv[2]);
memChild(a.t, a.file, a.size, a.sha, a.execs, a.every, a.outDir).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
