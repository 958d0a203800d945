import type { Channel } from '../../lib';

/** Writes `data` and reads until as many bytes came back (both directions at once): an echo through `ch`. */
export async function echoThrough(ch: Channel, data: Buffer): Promise<Buffer> {
  const reading = (async () => {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < data.length) {
      const b = await ch.read(65536);
      if (b.length === 0) break;
      parts.push(b);
      got += b.length;
    }
    return Buffer.concat(parts);
  })();
  await ch.write(data);
  return reading;
}
