/*
 * W4/W5/W6 SFTP reference client in C, on the vendored libssh2 (bench/build-c.js builds it).
 *
 *   sftp HOST PORT USER PRIVKEY ITERATIONS WARMUP MODE SRC DST BUFSIZE
 *
 * One connection and one SFTP session (socket + connect with TCP_NODELAY, handshake, publickey
 * auth, libssh2_sftp_init: untimed), then WARMUP untimed and ITERATIONS timed transfers, one
 * after another on that SFTP session, blocking mode (as C users write it):
 *
 *   get   SRC remote file, DST local directory: transfer i downloads SRC to DST/t<i> (warm-ups
 *         to DST/w<i>): libssh2_sftp_open_ex(READ), libssh2_sftp_read(BUFSIZE) + write(2) until
 *         0, libssh2_sftp_close_handle.
 *   put   SRC local file, DST remote directory: transfer i uploads SRC to DST/t<i> (warm-ups to
 *         DST/w<i>): libssh2_sftp_open_ex(WRITE|CREAT|TRUNC, 0644), read(2) of BUFSIZE +
 *         libssh2_sftp_write until all of it is acknowledged, ..., libssh2_sftp_close_handle.
 *   many  SRC remote directory of f0000, f0001, ..., DST local directory: op i downloads
 *         SRC/f<i> (4 digits) to DST/f<i> (warm-ups to DST/w<i>): open, read(BUFSIZE) until 0,
 *         close, then the local open/write/close.
 *
 * Prints one JSON object on stdout:
 *   {"ms":[per-op wall ms...],"wall_ms":N,"cpu_user_ms":N,"cpu_sys_ms":N,"methods":{...}}
 * where wall_ms and the CPU times (getrusage) cover the timed ops only.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2_sftp.h>

static LIBSSH2_SESSION *g_session;

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      perror("sftp: write");
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Downloads `remote` into the local file `local`. */
static int download(LIBSSH2_SFTP *sftp, const char *remote, const char *local, char *buf, size_t bufsize) {
  LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open_ex(sftp, remote, (unsigned int)strlen(remote), LIBSSH2_FXF_READ, 0,
                                                LIBSSH2_SFTP_OPENFILE);
  if (!h) return fail(g_session, "libssh2_sftp_open_ex");
  int fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(local);
    libssh2_sftp_close_handle(h);
    return -1;
  }
  int rc = 0;
  for (;;) {
    ssize_t n = libssh2_sftp_read(h, buf, bufsize);
    if (n == 0) break;
    if (n < 0) {
      rc = fail(g_session, "libssh2_sftp_read");
      break;
    }
    if (write_all(fd, buf, (size_t)n) != 0) {
      rc = -1;
      break;
    }
  }
  if (close(fd) != 0 && rc == 0) rc = -1;
  if (libssh2_sftp_close_handle(h) != 0 && rc == 0) rc = fail(g_session, "libssh2_sftp_close_handle");
  return rc;
}

/* Uploads the local file `local` to `remote`. */
static int upload(LIBSSH2_SFTP *sftp, const char *local, const char *remote, char *buf, size_t bufsize) {
  int fd = open(local, O_RDONLY);
  if (fd < 0) {
    perror(local);
    return -1;
  }
  LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_open_ex(sftp, remote, (unsigned int)strlen(remote),
                                                LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0644,
                                                LIBSSH2_SFTP_OPENFILE);
  if (!h) {
    close(fd);
    return fail(g_session, "libssh2_sftp_open_ex");
  }
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, buf, bufsize);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      perror("sftp: read");
      rc = -1;
      break;
    }
    if (n == 0) break;
    /* libssh2_sftp_write returns the bytes acknowledged so far; pass the rest again. */
    char *p = buf;
    while (n > 0) {
      ssize_t w = libssh2_sftp_write(h, p, (size_t)n);
      if (w < 0) {
        rc = fail(g_session, "libssh2_sftp_write");
        break;
      }
      p += w;
      n -= w;
    }
    if (rc != 0) break;
  }
  close(fd);
  if (libssh2_sftp_close_handle(h) != 0 && rc == 0) rc = fail(g_session, "libssh2_sftp_close_handle");
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 11) {
    fprintf(stderr, "usage: %s HOST PORT USER PRIVKEY ITERATIONS WARMUP get|put|many SRC DST BUFSIZE\n", argv[0]);
    return 2;
  }
  struct opts o;
  long n = atol(argv[5]), warmup = atol(argv[6]);
  const char *mode = argv[7], *src = argv[8], *dst = argv[9];
  long bufsize = atol(argv[10]);
  int get = strcmp(mode, "get") == 0, put = strcmp(mode, "put") == 0, many = strcmp(mode, "many") == 0;
  if (parse_target(&o, argv) != 0 || n < 1 || n > 100000 || warmup < 0 || warmup > 1000 || !(get || put || many) ||
      bufsize < 1 || bufsize > 64L * 1024 * 1024 || (many && n + warmup > 10000)) {
    fprintf(stderr, "sftp: bad HOST (IPv4 only), ITERATIONS, WARMUP, MODE or BUFSIZE\n");
    return 2;
  }
  double *ms = calloc((size_t)n, sizeof *ms);
  char *buf = malloc((size_t)bufsize);
  if (!ms || !buf || libssh2_init(0) != 0) return 1;

  struct conn c;
  if (conn_open(&o, &c) != 0) return 1;
  g_session = c.s;
  LIBSSH2_SFTP *sftp = libssh2_sftp_init(c.s);
  if (!sftp) return fail(c.s, "libssh2_sftp_init"), 1;

  struct rusage r0, r1;
  double start = 0;
  for (long i = -warmup; i < n; i++) {
    if (i == 0) {
      getrusage(RUSAGE_SELF, &r0);
      start = now_ms();
    }
    char from[4096], to[4096];
    long k = i < 0 ? i + warmup : i;
    const char *tag = i < 0 ? "w" : "t";
    double t0 = now_ms();
    int rc;
    if (get) {
      snprintf(to, sizeof to, "%s/%s%ld", dst, tag, k);
      rc = download(sftp, src, to, buf, (size_t)bufsize);
    } else if (put) {
      snprintf(to, sizeof to, "%s/%s%ld", dst, tag, k);
      rc = upload(sftp, src, to, buf, (size_t)bufsize);
    } else {
      snprintf(from, sizeof from, "%s/f%04ld", src, k);
      snprintf(to, sizeof to, "%s/%s%04ld", dst, i < 0 ? "w" : "f", k);
      rc = download(sftp, from, to, buf, (size_t)bufsize);
    }
    if (rc != 0) return 1;
    if (i >= 0) ms[i] = now_ms() - t0;
  }
  double wall = now_ms() - start;
  getrusage(RUSAGE_SELF, &r1);
  if (libssh2_sftp_shutdown(sftp) != 0) return fail(c.s, "libssh2_sftp_shutdown"), 1;
  if (libssh2_session_disconnect(c.s, "") != 0) return fail(c.s, "libssh2_session_disconnect"), 1;
  conn_close(&c, 0);

  print_result(ms, n, wall, &r0, &r1);
  libssh2_exit();
  free(buf);
  free(ms);
  return 0;
}
