/**
 * `channel.stream()`: a channel as a Node Duplex (stdout) with a `.stderr` Readable. Reads are
 * pulled as the consumer asks (backpressure: an unread channel stops crediting the window);
 * both streams keep a read pending while flowing, so stderr never stalls stdout (PITFALLS 16).
 */
import { Duplex, Readable } from 'stream';
import type { Channel } from './channel';

const READ_SIZE = 65536;

/** A Duplex over a channel: stdout/stdin, plus `stderr`. */
export interface ChannelStream extends Duplex {
  /** The channel's stderr (stream 1). */
  readonly stderr: Readable;
  /** The channel. */
  readonly channel: Channel;
}

function pull(channel: Channel, streamId: number, target: Readable): void {
  channel.read(READ_SIZE, streamId).then(
    (b) => target.push(b.length ? b : null),
    // stderr: the stdout Duplex reports the same failure; an unobserved stderr must not turn it
    // into an uncaught 'error' event (a dead session would crash the process).
    (e) => target.destroy(streamId !== 0 && target.listenerCount('error') === 0 ? undefined : e as Error),
  );
}

/** Wraps `channel`; `end()` sends EOF, `destroy()` closes and frees the channel. */
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
      channel.write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      channel.sendEof().then(() => callback(), callback);
    },
    destroy(err, callback) {
      stderr.destroy();
      channel[Symbol.asyncDispose]().then(() => callback(err), (e) => callback(err ?? e));
    },
  }) as ChannelStream;
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
