/*
 * Shared parts of the C reference clients (w1.c, w2.c, w3.c, w7.c, sftp.c), on the vendored
 * libssh2, in blocking mode with TCP_NODELAY, as C users write it. Every blocking libssh2 call is bounded by
 * libssh2_session_set_timeout(OP_TIMEOUT_MS); the harness also kills the process on a timeout.
 */
#ifndef BENCH_C_COMMON_H
#define BENCH_C_COMMON_H

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

#define OP_TIMEOUT_MS 10000

/* The same algorithms as the binding and ssh2 peers ask for (bench/clients.ts METHODS). */
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

/* A connected, authenticated session. */
struct conn {
  int fd;
  LIBSSH2_SESSION *s;
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
  fprintf(stderr, "bench: %s failed (%d %s)\n", what, rc, msg ? msg : "");
  return -1;
}

/* Parses HOST PORT USER PRIVKEY into `o`. Returns 0 on success. */
static int parse_target(struct opts *o, char **argv) {
  memset(o, 0, sizeof *o);
  o->user = argv[3];
  o->privkey = argv[4];
  o->addr.sin_family = AF_INET;
  o->addr.sin_port = htons((unsigned short)atoi(argv[2]));
  return inet_pton(AF_INET, argv[1], &o->addr.sin_addr) == 1 ? 0 : -1;
}

/* Frees what conn_open set up (any part of it). */
static void conn_close(struct conn *c, int disconnect) {
  if (c->s) {
    if (disconnect) libssh2_session_disconnect(c->s, "");
    libssh2_session_free(c->s);
  }
  if (c->fd >= 0) close(c->fd);
  c->s = NULL;
  c->fd = -1;
}

/* socket + TCP_NODELAY + connect + session_init + method prefs + handshake + publickey auth. */
static int conn_open(const struct opts *o, struct conn *c) {
  int one = 1;
  c->s = NULL;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) return fail(NULL, "socket");
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (const struct sockaddr *)&o->addr, sizeof o->addr) != 0) {
    conn_close(c, 0);
    return fail(NULL, "connect");
  }
  c->s = libssh2_session_init();
  if (!c->s) {
    conn_close(c, 0);
    return fail(NULL, "libssh2_session_init");
  }
  libssh2_session_set_timeout(c->s, OP_TIMEOUT_MS);
  /* BENCH_DEFAULTS=1 (node bench/run.js --defaults): libssh2's own method preferences. */
  const char *defaults = getenv("BENCH_DEFAULTS");
  for (size_t i = 0; !(defaults && strcmp(defaults, "1") == 0) && i < sizeof METHODS / sizeof METHODS[0]; i++) {
    if (libssh2_session_method_pref(c->s, METHODS[i].type, METHODS[i].prefs) != 0) {
      fail(c->s, "libssh2_session_method_pref");
      conn_close(c, 0);
      return -1;
    }
  }
  if (libssh2_session_handshake(c->s, c->fd) != 0) {
    fail(c->s, "libssh2_session_handshake");
    conn_close(c, 0);
    return -1;
  }
  if (!negotiated[0]) {
    snprintf(negotiated, sizeof negotiated, "{\"kex\":\"%s\",\"hostkey\":\"%s\",\"crypt_cs\":\"%s\",\"crypt_sc\":\"%s\"}",
             libssh2_session_methods(c->s, LIBSSH2_METHOD_KEX), libssh2_session_methods(c->s, LIBSSH2_METHOD_HOSTKEY),
             libssh2_session_methods(c->s, LIBSSH2_METHOD_CRYPT_CS), libssh2_session_methods(c->s, LIBSSH2_METHOD_CRYPT_SC));
  }
  if (libssh2_userauth_publickey_fromfile_ex(c->s, o->user, (unsigned int)strlen(o->user), NULL, o->privkey, NULL) != 0) {
    fail(c->s, "libssh2_userauth_publickey_fromfile_ex");
    conn_close(c, 0);
    return -1;
  }
  return 0;
}

/* Reads `stream` of `ch` to EOF (bounded: the session timeout bounds each blocking read). */
__attribute__((unused)) static int drain(LIBSSH2_SESSION *s, LIBSSH2_CHANNEL *ch, int stream) {
  char buf[65536];
  for (;;) {
    ssize_t n = libssh2_channel_read_ex(ch, stream, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) return fail(s, "libssh2_channel_read_ex");
  }
}

/*
 * One exec: open a session channel, exec `true`, read stdout and stderr to EOF, close (returns
 * after the peer's CLOSE with our libssh2 patch; wait_closed then returns at once), exit status
 * (must be 0), free. Returns 0 on success.
 */
__attribute__((unused)) static int exec_true(LIBSSH2_SESSION *s) {
  LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s);
  if (!ch) return fail(s, "libssh2_channel_open_session");
  int rc = -1;
  if (libssh2_channel_exec(ch, "true") != 0) {
    fail(s, "libssh2_channel_exec");
    goto out;
  }
  if (drain(s, ch, 0) != 0 || drain(s, ch, SSH_EXTENDED_DATA_STDERR) != 0) goto out;
  if (libssh2_channel_close(ch) != 0) {
    fail(s, "libssh2_channel_close");
    goto out;
  }
  if (libssh2_channel_wait_closed(ch) != 0) {
    fail(s, "libssh2_channel_wait_closed");
    goto out;
  }
  /* libssh2_channel_has_exit_status: from our patch (deps/patches/channel-exit-status-presence.patch). */
  int status = libssh2_channel_has_exit_status(ch) ? libssh2_channel_get_exit_status(ch) : -1;
  if (status != 0) {
    fprintf(stderr, "bench: exit status %d\n", status);
    goto out;
  }
  rc = 0;
out:
  if (libssh2_channel_free(ch) != 0 && rc == 0) rc = fail(s, "libssh2_channel_free");
  return rc;
}

/* Prints the result object: per-op ms, the timed loop's wall time and CPU, the methods. */
static void print_result(const double *ms, long n, double wall_ms, const struct rusage *r0, const struct rusage *r1) {
  printf("{\"ms\":[");
  for (long i = 0; i < n; i++) printf("%s%.3f", i ? "," : "", ms[i]);
  printf("],\"wall_ms\":%.3f,\"cpu_user_ms\":%.1f,\"cpu_sys_ms\":%.1f,\"methods\":%s}\n", wall_ms,
         tv_ms(r1->ru_utime) - tv_ms(r0->ru_utime), tv_ms(r1->ru_stime) - tv_ms(r0->ru_stime),
         negotiated[0] ? negotiated : "null");
}

#endif
