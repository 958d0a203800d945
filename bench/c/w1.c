/*
 * W1 "per-op" reference client in C, on the vendored libssh2 (bench/build-c.js builds it).
 *
 *   w1 HOST PORT USER PRIVKEY ITERATIONS [WARMUP]
 *
 * In one process, after WARMUP untimed ops (default 0), ITERATIONS times in a row:
 * socket + connect (TCP_NODELAY), libssh2_session_init, method preferences, handshake,
 * publickey auth from the key file, disconnect, free, close. Blocking mode, as C users write it. Exec `true` (full W1) is to be
 * added as one more step in w1_op() once the binding has channels.
 *
 * Prints one JSON object on stdout:
 *   {"ms":[per-iteration wall ms...],"cpu_user_ms":N,"cpu_sys_ms":N,"methods":{...}}
 * where the CPU times are this process's getrusage() over the timed loop only.
 */
#include <libssh2.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The same algorithms as bench/w1.ts asks of the binding. */
static const struct {
  int type;
  const char *prefs;
} METHODS[] = {
  { LIBSSH2_METHOD_KEX, "curve25519-sha256" },
  { LIBSSH2_METHOD_HOSTKEY, "ssh-ed25519" },
  { LIBSSH2_METHOD_CRYPT_CS, "aes128-gcm@openssh.com" },
  { LIBSSH2_METHOD_CRYPT_SC, "aes128-gcm@openssh.com" },
};

struct opts {
  struct sockaddr_in addr;
  const char *user;
  const char *privkey;
};

/* Negotiated methods of the first session, for the report. */
static char negotiated[512];

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double tv_ms(struct timeval tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

static int fail(LIBSSH2_SESSION *s, const char *what) {
  char *msg = NULL;
  int rc = s ? libssh2_session_last_error(s, &msg, NULL, 0) : 0;
  fprintf(stderr, "w1: %s failed (%d %s)\n", what, rc, msg ? msg : "");
  return -1;
}

/* One W1-auth operation. Returns 0 on success. */
static int w1_op(const struct opts *o) {
  int rc = -1, one = 1;
  LIBSSH2_SESSION *s = NULL;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail(NULL, "socket");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (const struct sockaddr *)&o->addr, sizeof o->addr) != 0) {
    fail(NULL, "connect");
    goto out;
  }
  s = libssh2_session_init();
  if (!s) {
    fail(NULL, "libssh2_session_init");
    goto out;
  }
  for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++) {
    if (libssh2_session_method_pref(s, METHODS[i].type, METHODS[i].prefs) != 0) {
      fail(s, "libssh2_session_method_pref");
      goto out;
    }
  }
  if (libssh2_session_handshake(s, fd) != 0) {
    fail(s, "libssh2_session_handshake");
    goto out;
  }
  if (!negotiated[0]) {
    snprintf(negotiated, sizeof negotiated, "{\"kex\":\"%s\",\"hostkey\":\"%s\",\"crypt_cs\":\"%s\",\"crypt_sc\":\"%s\"}",
             libssh2_session_methods(s, LIBSSH2_METHOD_KEX), libssh2_session_methods(s, LIBSSH2_METHOD_HOSTKEY),
             libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_CS), libssh2_session_methods(s, LIBSSH2_METHOD_CRYPT_SC));
  }
  if (libssh2_userauth_publickey_fromfile_ex(s, o->user, (unsigned int)strlen(o->user), NULL, o->privkey, NULL) != 0) {
    fail(s, "libssh2_userauth_publickey_fromfile_ex");
    goto out;
  }
  /* Full W1: open a session channel, exec `true`, read to EOF, exit status, close here. */
  if (libssh2_session_disconnect(s, "") != 0) {
    fail(s, "libssh2_session_disconnect");
    goto out;
  }
  rc = 0;
out:
  if (s) libssh2_session_free(s);
  close(fd);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: %s HOST PORT USER PRIVKEY ITERATIONS [WARMUP]\n", argv[0]);
    return 2;
  }
  struct opts o = { .user = argv[3], .privkey = argv[4] };
  o.addr.sin_family = AF_INET;
  o.addr.sin_port = htons((unsigned short)atoi(argv[2]));
  long n = atol(argv[5]), warmup = argc == 7 ? atol(argv[6]) : 0;
  if (inet_pton(AF_INET, argv[1], &o.addr.sin_addr) != 1 || n < 1 || n > 1000000 || warmup < 0 || warmup > 1000) {
    fprintf(stderr, "w1: bad HOST (IPv4 only), ITERATIONS or WARMUP\n");
    return 2;
  }
  double *ms = calloc((size_t)n, sizeof *ms);
  if (!ms || libssh2_init(0) != 0) return 1;

  for (long i = 0; i < warmup; i++) {
    if (w1_op(&o) != 0) return 1;
  }
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  for (long i = 0; i < n; i++) {
    double t0 = now_ms();
    if (w1_op(&o) != 0) return 1;
    ms[i] = now_ms() - t0;
  }
  getrusage(RUSAGE_SELF, &r1);

  printf("{\"ms\":[");
  for (long i = 0; i < n; i++) printf("%s%.3f", i ? "," : "", ms[i]);
  printf("],\"cpu_user_ms\":%.1f,\"cpu_sys_ms\":%.1f,\"methods\":%s}\n", tv_ms(r1.ru_utime) - tv_ms(r0.ru_utime),
         tv_ms(r1.ru_stime) - tv_ms(r0.ru_stime), negotiated[0] ? negotiated : "null");
  libssh2_exit();
  free(ms);
  return 0;
}
