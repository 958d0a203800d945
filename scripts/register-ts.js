'use strict';
/**
 * A minimal require hook: `.ts` files are transpiled (no type check) with the project's
 * `typescript` to CommonJS, so the bench and child processes of tests run lib/ and test/fixtures/ from source.
 * Type checking is `npm run typecheck` (bench/**\/*.ts is in tsconfig.json).
 */
const fs = require('fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      esModuleInterop: true,
      inlineSourceMap: true,
    },
  });
  module._compile(outputText, filename);
};
