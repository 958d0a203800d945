/*
 * W7 direct-tcpip throughput reference client in C, on the vendored libssh2 (bench/build-c.js
 * builds it).
 *
 *   w7 HOST PORT USER PRIVKEY ITERATIONS WARMUP SINK_PORT BYTES
 *
 * One connection (socket + connect with TCP_NODELAY, handshake, publickey auth: untimed), then
 * WARMUP untimed and ITERATIONS timed pushes, each: open a direct-tcpip channel to
 * 127.0.0.1:SINK_PORT (the sink of bench/w7.ts, as seen from the server), write BYTES in
 * CHUNK-byte calls of libssh2_channel_write (looping on partial writes), send EOF, read the
 * sink's 8-byte big-endian count of the bytes it received (must equal BYTES), close, wait for
 * the peer's CLOSE, free. Blocking mode, as C users write it.
 *
 * Prints {"ms":[...],"wall_ms":N,"cpu_user_ms":N,"cpu_sys_ms":N,"methods":{...}} (timed loop only).
 */
#include "common.h"

#define CHUNK (1 << 20)

static int push(LIBSSH2_SESSION *s, int sink_port, unsigned long long bytes, const char *buf) {
  LIBSSH2_CHANNEL *ch = libssh2_channel_direct_tcpip_ex(s, "127.0.0.1", sink_port, "127.0.0.1", 22);
  if (!ch) return fail(s, "libssh2_channel_direct_tcpip_ex");
  int rc = -1;
  unsigned long long left = bytes;
  while (left > 0) {
    size_t want = left < CHUNK ? (size_t)left : CHUNK;
    size_t off = 0;
    while (off < want) {
      ssize_t n = libssh2_channel_write(ch, buf + off, want - off);
      if (n < 0) {
        fail(s, "libssh2_channel_write");
        goto out;
      }
      off += (size_t)n;
    }
    left -= want;
  }
  if (libssh2_channel_send_eof(ch) != 0) {
    fail(s, "libssh2_channel_send_eof");
    goto out;
  }
  unsigned char count[8];
  size_t got = 0;
  while (got < sizeof count) {
    ssize_t n = libssh2_channel_read(ch, (char *)count + got, sizeof count - got);
    if (n <= 0) {
      fail(s, "libssh2_channel_read (sink count)");
      goto out;
    }
    got += (size_t)n;
  }
  unsigned long long received = 0;
  for (int i = 0; i < 8; i++) received = (received << 8) | count[i];
  if (received != bytes) {
    fprintf(stderr, "w7: the sink received %llu bytes, not %llu\n", received, bytes);
    goto out;
  }
  if (libssh2_channel_close(ch) != 0 || libssh2_channel_wait_closed(ch) != 0) {
    fail(s, "libssh2_channel_close");
    goto out;
  }
  rc = 0;
out:
  if (libssh2_channel_free(ch) != 0 && rc == 0) rc = fail(s, "libssh2_channel_free");
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s HOST PORT USER PRIVKEY ITERATIONS WARMUP SINK_PORT BYTES\n", argv[0]);
    return 2;
  }
  struct opts o;
  long n = atol(argv[5]), warmup = atol(argv[6]);
  int sink_port = atoi(argv[7]);
  unsigned long long bytes = strtoull(argv[8], NULL, 10);
  if (parse_target(&o, argv) != 0 || n < 1 || n > 100000 || warmup < 0 || warmup > 1000 || sink_port < 1 ||
      sink_port > 65535 || bytes < 1) {
    fprintf(stderr, "w7: bad HOST (IPv4 only), ITERATIONS, WARMUP, SINK_PORT or BYTES\n");
    return 2;
  }
  double *ms = calloc((size_t)n, sizeof *ms);
  char *buf = malloc(CHUNK);
  if (!ms || !buf || libssh2_init(0) != 0) return 1;
  for (size_t i = 0; i < CHUNK; i++) buf[i] = (char)(i * 131 + 7);

  struct conn c;
  if (conn_open(&o, &c) != 0) return 1;
  for (long i = 0; i < warmup; i++) {
    if (push(c.s, sink_port, bytes, buf) != 0) return 1;
  }
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double start = now_ms();
  for (long i = 0; i < n; i++) {
    double t0 = now_ms();
    if (push(c.s, sink_port, bytes, buf) != 0) return 1;
    ms[i] = now_ms() - t0;
  }
  double wall = now_ms() - start;
  getrusage(RUSAGE_SELF, &r1);
  if (libssh2_session_disconnect(c.s, "") != 0) return fail(c.s, "libssh2_session_disconnect"), 1;
  conn_close(&c, 0);

  print_result(ms, n, wall, &r0, &r1);
  libssh2_exit();
  free(buf);
  free(ms);
  return 0;
}
