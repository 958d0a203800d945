/** Argument checks and misuse errors shared by the classes (internal). */
import { createError, type Libssh2Error } from './errors';
import { LIBSSH2_ERROR_BAD_USE } from './constants';

/** Misuse from JS (wrong mode, closed object): `BadUseError` (-39). */
export function badUse(message: string, fn?: string): Libssh2Error {
  return createError(LIBSSH2_ERROR_BAD_USE, fn, message);
}

/** Async methods reject with `BadUseError` while the session is in non-blocking mode. */
export function nonBlockingMisuse(fn: string): Libssh2Error {
  return badUse(`${fn}: the session is in non-blocking mode; use the …Nb() method`, fn);
}

export function checkString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
}

export function checkOptString(value: unknown, name: string): void {
  if (value !== undefined && value !== null && typeof value !== 'string') {
    throw new TypeError(`${name} must be a string`);
  }
}

export function checkInt(value: unknown, name: string, min = -0x80000000, max = 0x7fffffff): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer`);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}`);
}

/** A Buffer view of `data` (strings as UTF-8). */
export function toBuffer(data: Buffer | Uint8Array | string, name: string): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${name} must be a Buffer, a Uint8Array or a string`);
}
