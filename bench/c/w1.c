/*
 * W1 "per-op" reference client in C, on the vendored libssh2 (bench/build-c.js builds it).
 *
 *   w1 HOST PORT USER PRIVKEY ITERATIONS [WARMUP [exec|auth]]
 *
 * In one process, after WARMUP untimed ops (default 0), ITERATIONS times in a row:
 * socket + connect (TCP_NODELAY), libssh2_session_init, method preferences, handshake,
 * publickey auth from the key file, then (mode "exec", the default: full W1) open a session
 * channel, exec `true`, read stdout and stderr to EOF, close, exit status, free; then
 * disconnect, free, close. Mode "auth" (W1-auth) leaves the exec out. Blocking mode, as C users
 * write it.
 *
 * Prints one JSON object on stdout:
 *   {"ms":[per-iteration wall ms...],"wall_ms":N,"cpu_user_ms":N,"cpu_sys_ms":N,"methods":{...}}
 * where the CPU times are this process's getrusage() over the timed loop only.
 */
#include "common.h"

/* One W1 operation. Returns 0 on success. */
static int w1_op(const struct opts *o, int with_exec) {
  struct conn c;
  if (conn_open(o, &c) != 0) return -1;
  if (with_exec && exec_true(c.s) != 0) {
    conn_close(&c, 0);
    return -1;
  }
  if (libssh2_session_disconnect(c.s, "") != 0) {
    fail(c.s, "libssh2_session_disconnect");
    conn_close(&c, 0);
    return -1;
  }
  conn_close(&c, 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 6 || argc > 8) {
    fprintf(stderr, "usage: %s HOST PORT USER PRIVKEY ITERATIONS [WARMUP [exec|auth]]\n", argv[0]);
    return 2;
  }
  struct opts o;
  long n = atol(argv[5]), warmup = argc >= 7 ? atol(argv[6]) : 0;
  const char *mode = argc == 8 ? argv[7] : "exec";
  int with_exec = strcmp(mode, "exec") == 0;
  if (parse_target(&o, argv) != 0 || n < 1 || n > 1000000 || warmup < 0 || warmup > 1000 ||
      (!with_exec && strcmp(mode, "auth") != 0)) {
    fprintf(stderr, "w1: bad HOST (IPv4 only), ITERATIONS, WARMUP or mode\n");
    return 2;
  }
  double *ms = calloc((size_t)n, sizeof *ms);
  if (!ms || libssh2_init(0) != 0) return 1;

  for (long i = 0; i < warmup; i++) {
    if (w1_op(&o, with_exec) != 0) return 1;
  }
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double start = now_ms();
  for (long i = 0; i < n; i++) {
    double t0 = now_ms();
    if (w1_op(&o, with_exec) != 0) return 1;
    ms[i] = now_ms() - t0;
  }
  double wall = now_ms() - start;
  getrusage(RUSAGE_SELF, &r1);

  print_result(ms, n, wall, &r0, &r1);
  libssh2_exit();
  free(ms);
  return 0;
}
