/**
 * Non-blocking mode (DESIGN.md "Modes", "Non-blocking idiom"): every async one-to-one method
 * whose C function can return `LIBSSH2_ERROR_EAGAIN` has an `…Nb()` twin that makes one
 * synchronous attempt. The twins are generated here from the async methods: an async method's
 * body runs in either mode through `runOp()`, and `installNb()` defines `nameNb()` on the class,
 * which brackets the same body with the call's signature so the native scheduler runs its op at
 * once (binding/scheduler.cc `RunNb`) instead of queueing it.
 *
 * A call that returned EAGAIN keeps its op (libssh2's state and the buffers) pending until the
 * same call is repeated with deep-equal arguments; another call on the same libssh2 state
 * machine meanwhile throws `BadUseError` instead of corrupting it.
 */
import type { NativeSession } from './native';
import { LIBSSH2_ERROR_EAGAIN } from './constants';
import { badUse, nonBlockingMisuse } from './check';

/** What an `…Nb()` method returns: the async form's value (0 for void methods), or EAGAIN. */
export type NbResult<T> = ([T] extends [void] ? 0 : T) | typeof LIBSSH2_ERROR_EAGAIN;

/** The `…Nb()` twin of an async method `F`: same arguments, one attempt, no Promise. */
export type Nb<F> = F extends (...args: infer A) => Promise<infer R> ? (...args: A) => NbResult<R> : never;

/** The session side of an object with Nb twins (`Session` itself, or a child's session). */
interface ModeOwner {
  readonly native: NativeSession;
  getBlocking(): boolean;
}

let depth = 0; // > 0 while an …Nb() method runs

/**
 * Runs an async method's body in the session's mode. Async mode: a Promise of `map(result)`
 * (synchronous throws become rejections). Inside an `…Nb()` twin: `map(result)` at once, or
 * `LIBSSH2_ERROR_EAGAIN`; failures throw. `guard` checks the object's own state (freed, closed).
 * `teardown` methods (close, free, disconnect, shutdown) also work async in non-blocking mode.
 */
export function runOp<N, R = N>(session: ModeOwner, fn: string, guard: () => void, body: () => Promise<N>,
  map?: (value: N) => R, teardown = false): Promise<R> {
  if (depth > 0) {
    if (session.getBlocking()) throw badUse(`${fn}: …Nb() methods need setBlocking(false)`, fn);
    guard();
    const value = body() as unknown;
    if (value instanceof Promise) {
      // Only a native guard of a freed object answers with a Promise here.
      value.catch(() => undefined);
      throw badUse(`${fn}: the object has been freed`, fn);
    }
    if (value === LIBSSH2_ERROR_EAGAIN || map === undefined) return value as Promise<R>;
    return map(value as N) as unknown as Promise<R>;
  }
  try {
    guard();
    if (!teardown && !session.getBlocking()) throw nonBlockingMisuse(fn);
    const promise = body();
    return map === undefined ? (promise as unknown as Promise<R>) : promise.then(map);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A failure in the current mode: thrown inside an `…Nb()` twin, else a rejected Promise. */
export function fail(error: unknown): Promise<never> {
  if (depth > 0) throw error;
  return Promise.reject(error);
}

/** True inside an `…Nb()` twin (for methods that differ in the two modes). */
export function inNbCall(): boolean {
  return depth > 0;
}

/**
 * Defines `${name}Nb()` on `cls.prototype` for each async method `name`. `sessionOf` finds the
 * session of an instance.
 */
export function installNb<T extends object>(cls: { prototype: T }, names: readonly (keyof T & string)[],
  sessionOf: (self: T) => ModeOwner): void {
  const proto = cls.prototype as Record<string, unknown>;
  for (const name of names) {
    const method = proto[name];
    if (typeof method !== 'function') throw new Error(`installNb: ${name} is not a method`);
    const twin = function (this: T, ...args: unknown[]): unknown {
      const session = sessionOf(this);
      const outer = depth === 0;
      if (outer) session.native.nbCall([name, ...args]);
      depth++;
      try {
        const result = (method as (...a: unknown[]) => unknown).apply(this, args);
        return result === undefined ? 0 : result;
      } finally {
        depth--;
        if (outer) session.native.nbCall(undefined);
      }
    };
    Object.defineProperty(twin, 'name', { value: `${name}Nb` });
    Object.defineProperty(proto, `${name}Nb`, { value: twin, writable: true, configurable: true });
  }
}
