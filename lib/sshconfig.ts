/**
 * OpenSSH client configuration (`~/.ssh/config`) for `connect({ config })`, parsed by the
 * `ssh-config` package: `Host` patterns (wildcards, negation), first value wins. Used keys:
 * HostName, Port, User, IdentityFile, ProxyJump, UserKnownHostsFile, ServerAliveInterval,
 * ServerAliveCountMax. `Match exec` is never run; `Include` is not followed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'ssh-config';

/** What the configuration says about one host (fields it does not set are undefined). */
export interface SshHostConfig {
  /** The real host name (HostName, `%h` expanded), or the alias itself. */
  host: string;
  port?: number;
  user?: string;
  /** IdentityFile paths (`~` and `%d %h %p %r %u %%` expanded), in order. */
  identityFiles: string[];
  /** ProxyJump hops (`[user@]host[:port]`), or `[]` for `none`; undefined when not set. */
  proxyJump?: string[];
  /** UserKnownHostsFile paths; `[]` for `none`. */
  userKnownHostsFiles?: string[];
  /** ServerAliveInterval in seconds (0: off). */
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
}

/** The home directory: `$HOME`, else the account's. */
export function homeDir(): string {
  return process.env.HOME || os.homedir();
}

/** The default file: `~/.ssh/config`. */
export function defaultSshConfigFile(): string {
  return path.join(homeDir(), '.ssh', 'config');
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function all(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function toInt(v: string | undefined, key: string, file: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new RangeError(`${file}: ${key} ${v} is not a number`);
  return Number(v);
}

/**
 * Reads `file` (a missing file is an empty configuration) and computes the options for `alias`
 * (the host name given to connect, before HostName substitution).
 */
export function readSshConfig(file: string, alias: string, user?: string): SshHostConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { host: alias, identityFiles: [] };
    throw e;
  }
  const computed = parse(text).compute(user === undefined ? { Host: alias } : { Host: alias, User: user },
    { ignoreCase: true, matchExec: false });
  const host = (first(computed.hostname) ?? alias).replace(/%h/g, alias).replace(/%%/g, '%');
  const port = toInt(first(computed.port), 'Port', file);
  const cfgUser = first(computed.user);
  const home = homeDir();
  const expand = (p: string) => {
    const tokens: Record<string, string> = {
      '%': '%', d: home, h: host, p: String(port ?? 22), r: user ?? cfgUser ?? os.userInfo().username,
      u: os.userInfo().username,
    };
    const out = p.replace(/%([%dhpru])/g, (_, t: string) => tokens[t]);
    return out.startsWith('~/') || out === '~' ? path.join(home, out.slice(1)) : out;
  };
  const jump = first(computed.proxyjump);
  const khRaw = all(computed.userknownhostsfile).flatMap((v) => v.split(/\s+/)).filter(Boolean);
  return {
    host,
    port,
    user: cfgUser,
    identityFiles: all(computed.identityfile).map(expand),
    proxyJump: jump === undefined ? undefined : jump.toLowerCase() === 'none' ? [] : jump.split(',').map((h) => h.trim()),
    userKnownHostsFiles: khRaw.length === 0 ? undefined : khRaw[0].toLowerCase() === 'none' ? [] : khRaw.map(expand),
    serverAliveInterval: toInt(first(computed.serveraliveinterval), 'ServerAliveInterval', file),
    serverAliveCountMax: toInt(first(computed.serveralivecountmax), 'ServerAliveCountMax', file),
  };
}

/** Splits a jump host spec: `[user@]host[:port]`, `[user@][v6addr]:port` or `ssh://[user@]host[:port]`. */
export function parseHostSpec(spec: string): { host: string; port?: number; username?: string } {
  let s = spec.trim();
  if (s.startsWith('ssh://')) s = s.slice(6).replace(/\/$/, '');
  let username: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    username = s.slice(0, at);
    s = s.slice(at + 1);
  }
  let host = s;
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1];
    port = v6[2] === undefined ? undefined : Number(v6[2]);
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const [h, p] = s.split(':');
    if (!/^\d+$/.test(p)) throw new RangeError(`bad port in host spec ${JSON.stringify(spec)}`);
    host = h;
    port = Number(p);
  }
  if (!host || (username !== undefined && !username)) throw new RangeError(`bad host spec ${JSON.stringify(spec)}`);
  if (port !== undefined && (port < 1 || port > 65535)) throw new RangeError(`bad port in host spec ${JSON.stringify(spec)}`);
  return { host, port, username };
}
