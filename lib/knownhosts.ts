/**
 * OpenSSH known_hosts files, parsed in TypeScript (libssh2's own parser knows neither
 * `@revoked` nor `@cert-authority`): plain and hashed (`|1|salt|hash`) names, patterns with `*`,
 * `?` and `!`, `[host]:port` entries, markers, comments. Unknown lines are skipped.
 *
 * `@cert-authority` lines are parsed and then skipped: they vouch for host *certificates*,
 * which libssh2 1.11.1 cannot present (it offers no `*-cert-v01@openssh.com` host-key
 * algorithm), and a CA key is never a plain host key — so such a line neither matches nor
 * contradicts the server's key. `@revoked` keys are refused whatever host they name.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';

/** One usable known_hosts line. */
export interface KnownHostsLine {
  file: string;
  line: number;
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  keyType: string;
  key: Buffer;
}

/** The result of checking a host key. */
export type HostKeyStatus =
  | { status: 'match'; line: KnownHostsLine }
  | { status: 'revoked'; line: KnownHostsLine }
  | { status: 'mismatch'; line: KnownHostsLine }
  | { status: 'unknown' };

/** The name OpenSSH looks up: `host` for port 22, else `[host]:port`. */
export function hostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(text);
}

function hashedMatch(entry: string, name: string): boolean {
  const parts = entry.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const mac = crypto.createHmac('sha1', Buffer.from(parts[2], 'base64')).update(name).digest('base64');
  return mac === parts[3];
}

/** Whether a line's host patterns cover `name` (a negated match excludes it). */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Parses known_hosts text; lines that are not host keys are skipped. */
export function parseKnownHosts(text: string, file = '<memory>'): KnownHostsLine[] {
  const out: KnownHostsLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostsLine['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostsLine['marker'];
    else if (fields[0].startsWith('@')) return;
    if (fields.length < 3) return;
    const key = Buffer.from(fields[2], 'base64');
    if (key.length < 8) return;
    out.push({ file, line: i + 1, marker, patterns: fields[0], keyType: fields[1], key });
  });
  return out;
}

/** Reads and parses files; missing files count as empty. */
export function readKnownHosts(files: string[]): KnownHostsLine[] {
  return files.flatMap((f) => {
    try {
      return parseKnownHosts(fs.readFileSync(f, 'utf8'), f);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  });
}

/** The lines that name `host:port`. */
export function linesFor(lines: KnownHostsLine[], host: string, port: number): KnownHostsLine[] {
  const name = hostName(host, port);
  return lines.filter((l) => l.marker !== '@cert-authority' && patternsMatch(l.patterns, name));
}

/**
 * Checks a host key: revoked anywhere wins; then a matching entry; then an entry of the same key
 * type with another key (mismatch); else unknown.
 */
export function checkHostKey(lines: KnownHostsLine[], host: string, port: number, keyType: string, key: Buffer): HostKeyStatus {
  const revoked = lines.find((l) => l.marker === '@revoked' && l.key.equals(key));
  if (revoked) return { status: 'revoked', line: revoked };
  const mine = linesFor(lines, host, port).filter((l) => l.marker === '');
  const match = mine.find((l) => l.keyType === keyType && l.key.equals(key));
  if (match) return { status: 'match', line: match };
  const other = mine.find((l) => l.keyType === keyType);
  if (other) return { status: 'mismatch', line: other };
  return { status: 'unknown' };
}

/** Appends `host key` to a known_hosts file (created with mode 0600 if missing). */
export function appendKnownHost(file: string, host: string, port: number, keyType: string, key: Buffer): void {
  const text = `${hostName(host, port)} ${keyType} ${key.toString('base64')}\n`;
  let prefix = '';
  try {
    const old = fs.readFileSync(file, 'utf8');
    if (old.length && !old.endsWith('\n')) prefix = '\n';
  } catch {
    // a new file
  }
  fs.appendFileSync(file, prefix + text, { mode: 0o600 });
}
