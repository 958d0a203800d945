'use strict';
/**
 * Reads the object-like `#define`s of libssh2's public headers and evaluates their values.
 * Used by scripts/gen-constants.js (writes lib/constants.ts and binding/constants_table.inc)
 * and by the constants test. Numbers follow C: octal literals, hex, U/L suffixes, shifts,
 * arithmetic and references to earlier defines; strings follow C literal concatenation.
 */
const fs = require('fs');
const path = require('path');

const HEADERS = ['libssh2.h', 'libssh2_sftp.h', 'libssh2_publickey.h'];

/** Platform-dependent defines (their value depends on _WIN32/compiler branches): not exported. */
const PLATFORM = new Set(['LIBSSH2_INVALID_SOCKET', 'LIBSSH2_STRUCT_STAT_SIZE_FORMAT']);

function tokenize(expr) {
  const re = /\s*(0[xX][0-9a-fA-F]+|\d+|[A-Za-z_][A-Za-z_0-9]*|"(?:[^"\\]|\\.)*"|<<|>>|[-+*/()|&~^%])/y;
  const out = [];
  let m;
  while (re.lastIndex < expr.length) {
    const at = re.lastIndex;
    if (!(m = re.exec(expr))) {
      if (/^\s*$/.test(expr.slice(at))) break;
      return null;
    }
    out.push(m[1]);
  }
  return out;
}

function cString(lit) {
  return lit.slice(1, -1).replace(/\\(["\\nrt])/g, (_, c) => ({ n: '\n', r: '\r', t: '\t' }[c] || c));
}

function cNumber(tok) {
  const t = tok.replace(/[uUlL]+$/, '');
  if (/^0[xX]/.test(t)) return parseInt(t, 16);
  if (/^0[0-7]+$/.test(t)) return parseInt(t, 8);
  return parseInt(t, 10);
}

/** Evaluates a define's value; returns a number, a string, or undefined when not a constant. */
function evaluate(expr, known) {
  const toks = tokenize(expr.replace(/\b(\d+|0[xX][0-9a-fA-F]+)[uUlL]+\b/g, '$1'));
  if (!toks || toks.length === 0) return undefined;
  // String: literals and string-valued names, concatenated.
  if (toks.some((t) => t.startsWith('"'))) {
    let s = '';
    for (const t of toks) {
      if (t.startsWith('"')) s += cString(t);
      else if (typeof known.get(t) === 'string') s += known.get(t);
      else return undefined;
    }
    return s;
  }
  if (toks.length === 1 && typeof known.get(toks[0]) === 'string') return known.get(toks[0]);
  // Number: a small recursive-descent evaluator for C integer expressions.
  let i = 0;
  const peek = () => toks[i];
  const binary = (next, ops) => () => {
    let v = next();
    while (ops[peek()]) {
      const op = ops[toks[i++]];
      v = op(v, next());
    }
    return v;
  };
  const primary = () => {
    const t = toks[i++];
    if (t === undefined) throw new Error('end');
    if (t === '(') {
      const v = or();
      if (toks[i++] !== ')') throw new Error(')');
      return v;
    }
    if (t === '-') return -primary();
    if (t === '+') return primary();
    if (t === '~') return ~primary();
    if (/^\d/.test(t)) return cNumber(t);
    const k = known.get(t);
    if (typeof k === 'number') return k;
    throw new Error(`unknown ${t}`);
  };
  const mul = binary(primary, { '*': (a, b) => a * b, '/': (a, b) => Math.trunc(a / b), '%': (a, b) => a % b });
  const add = binary(mul, { '+': (a, b) => a + b, '-': (a, b) => a - b });
  const shift = binary(add, { '<<': (a, b) => a * 2 ** b, '>>': (a, b) => Math.floor(a / 2 ** b) });
  const and = binary(shift, { '&': (a, b) => a & b });
  const xor = binary(and, { '^': (a, b) => a ^ b });
  const or = binary(xor, { '|': (a, b) => a | b });
  try {
    const v = or();
    return i === toks.length ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Returns [{ name, value, header }] for every constant-valued object-like define, in header
 * order. `includeDir` is libssh2's include/ directory.
 */
function readDefines(includeDir) {
  const known = new Map();
  const out = [];
  for (const header of HEADERS) {
    const text = fs.readFileSync(path.join(includeDir, header), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, ' ')
      .replace(/\\\n/g, ' ');
    for (const line of text.split('\n')) {
      const m = line.match(/^#define\s+([A-Za-z_][A-Za-z_0-9]*)(?!\()\s+(.+?)\s*$/);
      if (!m || PLATFORM.has(m[1])) continue;
      const value = evaluate(m[2], known);
      if (value === undefined) continue;
      known.set(m[1], value);
      out.push({ name: m[1], value, header });
    }
  }
  return out;
}

module.exports = { readDefines, HEADERS };
