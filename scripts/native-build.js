'use strict';
/** Helpers shared by the build scripts: where node-gyp and the running Node's headers are. */
const fs = require('fs');
const path = require('path');

/** The directory holding include/node of the running Node (no header download). */
function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, path.dirname(path.dirname(process.execPath))];
  for (const dir of candidates) {
    if (dir && fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) &&
        fs.existsSync(path.join(dir, 'include', 'node', 'openssl', 'evp.h'))) {
      return dir;
    }
  }
  throw new Error(`no Node headers with OpenSSL found next to ${process.execPath} ` +
    '(install the nodejs headers of this Node, or set npm_config_nodedir)');
}

/** node-gyp's entry script: the one npm runs scripts with, else npm's bundled copy. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    throw new Error('node-gyp not found (it ships with npm)');
  }
}

/** The newest mtime (ms) of everything the addon is built from. */
function newestSource(root) {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) visit(path.join(p, f));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['binding', 'binding.gyp', 'deps/sources.json', 'deps/config', 'deps/libssh2/.libssh2-stamp.json']) {
    if (fs.existsSync(path.join(root, p))) visit(path.join(root, p));
  }
  return newest;
}

module.exports = { nodeDir, nodeGyp, newestSource };
