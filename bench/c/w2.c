/*
 * W2 exec-throughput reference client in C, on the vendored libssh2 (bench/build-c.js builds it).
 *
 *   w2 HOST PORT USER PRIVKEY ITERATIONS [WARMUP]
 *
 * One connection (socket + connect with TCP_NODELAY, handshake, publickey auth: untimed), then
 * WARMUP untimed execs (default 0; the first channel after auth waits ~40 ms on sshd's Nagle),
 * then ITERATIONS timed execs in a row, each: open a session channel, exec `true`, read stdout
 * and stderr to EOF, close, exit status, free. Then disconnect and free. Blocking mode, as C
 * users write it.
 *
 * Prints one JSON object on stdout:
 *   {"ms":[per-exec wall ms...],"wall_ms":N,"cpu_user_ms":N,"cpu_sys_ms":N,"methods":{...}}
 * where wall_ms and the CPU times (getrusage) cover the timed loop only.
 */
#include "common.h"

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: %s HOST PORT USER PRIVKEY ITERATIONS [WARMUP]\n", argv[0]);
    return 2;
  }
  struct opts o;
  long n = atol(argv[5]), warmup = argc == 7 ? atol(argv[6]) : 0;
  if (parse_target(&o, argv) != 0 || n < 1 || n > 1000000 || warmup < 0 || warmup > 1000) {
    fprintf(stderr, "w2: bad HOST (IPv4 only), ITERATIONS or WARMUP\n");
    return 2;
  }
  double *ms = calloc((size_t)n, sizeof *ms);
  if (!ms || libssh2_init(0) != 0) return 1;

  struct conn c;
  if (conn_open(&o, &c) != 0) return 1;
  for (long i = 0; i < warmup; i++) {
    if (exec_true(c.s) != 0) return 1;
  }
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double start = now_ms();
  for (long i = 0; i < n; i++) {
    double t0 = now_ms();
    if (exec_true(c.s) != 0) return 1;
    ms[i] = now_ms() - t0;
  }
  double wall = now_ms() - start;
  getrusage(RUSAGE_SELF, &r1);
  if (libssh2_session_disconnect(c.s, "") != 0) return fail(c.s, "libssh2_session_disconnect"), 1;
  conn_close(&c, 0);

  print_result(ms, n, wall, &r0, &r1);
  libssh2_exit();
  free(ms);
  return 0;
}
