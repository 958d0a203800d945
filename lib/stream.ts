/**
 * `channel.stream()`: a channel as a Node Duplex (stdout) with a `.stderr` Readable. Reads are
 * pulled as the consumer asks (backpressure: an unread channel stops crediting the window);
 * both streams keep a read pending while flowing, so stderr never stalls stdout (PITFALLS 16).
 */
import { Duplex, Readable } from 'stream';
import type { Channel } from './channel';
import { LIBSSH2_ERROR_EAGAIN } from './constants';

const READ_SIZE = 65536;

/**
 * A Duplex over a channel: stdout/stdin, plus `stderr`. Besides the Duplex events it emits
 * `'exit'` (code, signal) before `'close'` when the command's exit status or signal arrived
 * (code null when killed by a signal; signal names without "SIG", e.g. 'TERM').
 */
export interface ChannelStream extends Duplex {
  /** The channel's stderr (stream 1). */
  readonly stderr: Readable;
  /** The channel. */
  readonly channel: Channel;
}

/**
 * One call in the session's mode: the async method, or in non-blocking mode its `…Nb()` twin,
 * repeated (same arguments) after `waitSocket()` while it returns EAGAIN. Streams made by the
 * library in the background (agent and X11 channels, forwards) thus work in both modes.
 */
async function call<T>(channel: Channel, async: () => Promise<T>, nb: () => T | typeof LIBSSH2_ERROR_EAGAIN): Promise<T> {
  if (channel.session.getBlocking()) return async();
  for (;;) {
    const r = nb();
    if (r !== LIBSSH2_ERROR_EAGAIN) return r;
    await channel.session.waitSocket();
  }
}

async function writeAll(channel: Channel, chunk: Buffer): Promise<void> {
  if (channel.session.getBlocking()) {
    await channel.write(chunk);
    return;
  }
  for (let off = 0; off < chunk.length;) {
    const part = chunk.subarray(off);
    off += await call(channel, () => channel.write(part), () => channel.writeNb(part)); // writeNb: partial counts
  }
}

function pull(channel: Channel, streamId: number, target: Readable): void {
  call(channel, () => channel.read(READ_SIZE, streamId), () => channel.readNb(READ_SIZE, streamId)).then(
    (b) => target.push(b.length ? b : null),
    // stderr: the stdout Duplex reports the same failure; an unobserved stderr must not turn it
    // into an uncaught 'error' event (a dead session would crash the process).
    (e) => target.destroy(streamId !== 0 && target.listenerCount('error') === 0 ? undefined : e as Error),
  );
}

/**
 * Wraps `channel`; `end()` sends EOF, `destroy()` closes and frees the channel. Once both
 * directions are done (stdout read to its end and `end()` called) the channel is closed,
 * `'exit'` and `'close'` follow.
 */
export function channelStream(channel: Channel): ChannelStream {
  const stderr = new Readable({
    highWaterMark: READ_SIZE,
    read() {
      pull(channel, 1, this);
    },
  });
  const duplex = new Duplex({
    highWaterMark: READ_SIZE,
    read() {
      pull(channel, 0, this);
    },
    write(chunk: Buffer, _encoding, callback) {
      writeAll(channel, chunk).then(() => callback(), callback);
    },
    final(callback) {
      call<unknown>(channel, () => channel.sendEof(), () => channel.sendEofNb()).then(() => callback(), callback);
    },
    destroy(err, callback) {
      // After the channel's EOF (stdout ended), a stderr that is being read (flowing, or
      // paused by a pipe's backpressure) is read to its end first: its data may still sit in
      // libssh2, and the Duplex auto-destroys as soon as stdout ended and stdin finished.
      if (!err && duplex.readableEnded && !stderr.destroyed && !stderr.readableEnded && stderr.readableFlowing !== null) {
        stderr.once('close', () => finish(err, callback));
        return;
      }
      finish(err, callback);
    },
  }) as ChannelStream;
  const finish = (err: Error | null, callback: (error?: Error | null) => void) => {
    stderr.destroy();
    (async () => {
      if (!channel.native.isFreed()) {
        try {
          await channel.close(); // the exit status is final once the peer's CLOSE arrived
          const code = channel.getExitStatus();
          const { signal } = channel.getExitSignal();
          if (code !== null || signal !== null) duplex.emit('exit', code, signal);
        } catch {
          // freeing is what is left to do
        }
      }
      await channel.free();
    })().then(() => callback(err), (e: Error) => callback(err ?? e));
  };
  Object.defineProperty(duplex, 'stderr', { value: stderr, enumerable: true });
  Object.defineProperty(duplex, 'channel', { value: channel, enumerable: true });
  // Once both directions are done, close the channel (its exit status becomes final).
  duplex.on('end', () => {
    if (duplex.writableFinished) duplex.destroy();
  });
  duplex.on('finish', () => {
    if (duplex.readableEnded) duplex.destroy();
  });
  return duplex;
}
