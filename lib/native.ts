/**
 * Loads the compiled addon and wires it to the TypeScript side. Internal: the public API is
 * re-exported by index.ts.
 */
import * as path from 'path';
import { createError } from './errors';

/** The functions and classes the addon exports (grows with each native class). */
export interface NativeAddon {
  version(): string;
  cryptoBackend(): { engine: string; library: string };
  setErrorFactory(factory: typeof createError): void;
  makeError(errno: number, fn?: string, sftpStatus?: number): Error;
  constantsTable(): Record<string, number | string>;
}

function load(): NativeAddon {
  const root = path.join(__dirname, '..');
  const candidates = [
    process.env.LIBSSH2_NODE_ADDON,
    path.join(root, 'build', 'Release', 'node_libssh2.node'),
    path.join(root, 'build', 'Debug', 'node_libssh2.node'),
  ].filter((p): p is string => !!p);
  let lastError: unknown;
  for (const file of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(file) as NativeAddon;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
      lastError = e;
    }
  }
  throw new Error(`libssh2: the native addon is not built (run \`npm install\`): ${String(lastError)}`);
}

/** The addon, loaded once per module instance (per thread: the addon is context-aware). */
export const native: NativeAddon = load();
native.setErrorFactory(createError);
