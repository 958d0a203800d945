/*
 * W3 reference client in C, on the vendored libssh2 (bench/build-c.js builds it): many channels
 * at once on one connection.
 *
 *   w3 HOST PORT USER PRIVKEY ITERATIONS WARMUP CHANNELS
 *
 * One connection (socket + connect with TCP_NODELAY, handshake, publickey auth: untimed, in
 * blocking mode), then non-blocking mode and WARMUP untimed and ITERATIONS timed ops, each:
 * CHANNELS channels driven at once, channel i: open a session channel, exec `echo i`, read stdout
 * (must be "i\n") and stderr (must be empty) to EOF, close, wait for the peer's CLOSE, exit
 * status (must be 0), free. libssh2 has one channel open in flight per session
 * (session->open_state), so opens go one after another; and one channel at a time may wait for
 * a CHANNEL_SUCCESS/FAILURE (LIBSSH2-PITFALLS.md 5: `_libssh2_packet_requirev` takes another
 * channel's reply and fails the exec), so execs go one after another too, as in the binding;
 * reads, closes and frees overlap. The op is
 * a loop over the channels' state machines: every channel gets one non-blocking call per pass;
 * after two passes in a row without progress it waits on the socket (poll, in libssh2's block
 * directions; at most WAIT_MS: a packet parsed by a later channel's call in the second idle pass
 * would otherwise be noticed only at the next arrival).
 *
 * Prints {"ms":[...],"wall_ms":N,"cpu_user_ms":N,"cpu_sys_ms":N,"methods":{...}} (timed loop only),
 * and on stderr the number of waits that timed out (a measure of the wake-up race above).
 */
#include <errno.h>
#include <poll.h>

#include "common.h"

#define MAX_CHANNELS 1024
#define WAIT_MS 10
#define OUT_MAX 32

enum state { S_OPEN, S_EXEC, S_READ, S_CLOSE, S_WAIT_CLOSED, S_FREE, S_DONE };

struct chan {
  enum state st;
  LIBSSH2_CHANNEL *ch;
  char cmd[32];
  char out[OUT_MAX];
  size_t out_len;
  int eof0, eof1;
};

static long stalls;

/* Waits for the socket in libssh2's block directions (at most WAIT_MS). */
static int wait_socket(int fd, LIBSSH2_SESSION *s) {
  int dir = libssh2_session_block_directions(s);
  struct pollfd p = { .fd = fd, .events = 0, .revents = 0 };
  if (dir & LIBSSH2_SESSION_BLOCK_INBOUND) p.events |= POLLIN;
  if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) p.events |= POLLOUT;
  if (!p.events) p.events = POLLIN;
  int rc = poll(&p, 1, WAIT_MS);
  if (rc == 0) stalls++;
  return rc < 0 && errno != EINTR ? -1 : 0;
}

/*
 * One call of channel c's state machine. Returns 1 on progress (a state change or bytes read),
 * 0 on EAGAIN, -1 on failure. `opening` is the index of the channel whose open is in flight,
 * `setup` the one whose exec waits for its reply (-1: none).
 */
static int step(LIBSSH2_SESSION *s, struct chan *c, int i, int *opening, int *setup) {
  int rc;
  char buf[4096];
  switch (c->st) {
    case S_OPEN:
      if (*opening != -1 && *opening != i) return 0;
      c->ch = libssh2_channel_open_session(s);
      if (!c->ch) {
        if (libssh2_session_last_errno(s) == LIBSSH2_ERROR_EAGAIN) {
          *opening = i;
          return 0;
        }
        return fail(s, "libssh2_channel_open_session");
      }
      *opening = -1;
      c->st = S_EXEC;
      return 1;
    case S_EXEC:
      if (*setup != -1 && *setup != i) return 0;
      rc = libssh2_channel_exec(c->ch, c->cmd);
      if (rc == LIBSSH2_ERROR_EAGAIN) {
        *setup = i;
        return 0;
      }
      if (rc != 0) return fail(s, "libssh2_channel_exec");
      *setup = -1;
      c->st = S_READ;
      return 1;
    case S_READ: {
      int progress = 0;
      while (!c->eof0) {
        ssize_t n = libssh2_channel_read_ex(c->ch, 0, buf, sizeof buf);
        if (n == LIBSSH2_ERROR_EAGAIN) break;
        if (n < 0) return fail(s, "libssh2_channel_read_ex(0)");
        progress = 1;
        if (n == 0) {
          c->eof0 = 1;
        } else {
          if (c->out_len + (size_t)n > OUT_MAX) {
            fprintf(stderr, "w3: channel %d printed too much\n", i);
            return -1;
          }
          memcpy(c->out + c->out_len, buf, (size_t)n);
          c->out_len += (size_t)n;
        }
      }
      while (!c->eof1) {
        ssize_t n = libssh2_channel_read_ex(c->ch, SSH_EXTENDED_DATA_STDERR, buf, sizeof buf);
        if (n == LIBSSH2_ERROR_EAGAIN) break;
        if (n < 0) return fail(s, "libssh2_channel_read_ex(1)");
        if (n > 0) {
          fprintf(stderr, "w3: channel %d wrote to stderr\n", i);
          return -1;
        }
        c->eof1 = 1;
        progress = 1;
      }
      if (c->eof0 && c->eof1) {
        char want[OUT_MAX];
        int len = snprintf(want, sizeof want, "%d\n", i);
        if ((size_t)len != c->out_len || memcmp(want, c->out, c->out_len) != 0) {
          fprintf(stderr, "w3: channel %d printed %.*s\n", i, (int)c->out_len, c->out);
          return -1;
        }
        c->st = S_CLOSE;
      }
      return progress;
    }
    case S_CLOSE:
      rc = libssh2_channel_close(c->ch);
      if (rc == LIBSSH2_ERROR_EAGAIN) return 0;
      if (rc != 0) return fail(s, "libssh2_channel_close");
      c->st = S_WAIT_CLOSED;
      return 1;
    case S_WAIT_CLOSED:
      rc = libssh2_channel_wait_closed(c->ch);
      if (rc == LIBSSH2_ERROR_EAGAIN) return 0;
      if (rc != 0) return fail(s, "libssh2_channel_wait_closed");
      /* libssh2_channel_has_exit_status: from our patch (deps/patches/channel-exit-status-presence.patch). */
      if (!libssh2_channel_has_exit_status(c->ch) || libssh2_channel_get_exit_status(c->ch) != 0) {
        fprintf(stderr, "w3: channel %d: no exit status 0\n", i);
        return -1;
      }
      c->st = S_FREE;
      return 1;
    case S_FREE:
      rc = libssh2_channel_free(c->ch);
      if (rc == LIBSSH2_ERROR_EAGAIN) return 0;
      if (rc != 0) return fail(s, "libssh2_channel_free");
      c->ch = NULL;
      c->st = S_DONE;
      return 1;
    case S_DONE:
      return 0;
  }
  return -1;
}

/* One W3 op: `n` channels at once. Returns 0 on success. */
static int w3_op(struct conn *c, struct chan *chans, int n) {
  int opening = -1, setup = -1, done = 0, idle = 0;
  for (int i = 0; i < n; i++) {
    memset(&chans[i], 0, sizeof chans[i]);
    chans[i].st = S_OPEN;
    snprintf(chans[i].cmd, sizeof chans[i].cmd, "echo %d", i);
  }
  double deadline = now_ms() + OP_TIMEOUT_MS;
  while (done < n) {
    int progress = 0;
    for (int i = 0; i < n; i++) {
      if (chans[i].st == S_DONE) continue;
      int rc = step(c->s, &chans[i], i, &opening, &setup);
      if (rc < 0) return -1;
      if (rc > 0) {
        progress = 1;
        if (chans[i].st == S_DONE) done++;
      }
    }
    if (progress) {
      idle = 0;
      continue;
    }
    if (now_ms() > deadline) {
      fprintf(stderr, "w3: op timed out (%d of %d channels done)\n", done, n);
      return -1;
    }
    if (++idle >= 2 && wait_socket(c->fd, c->s) != 0) return fail(c->s, "poll");
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s HOST PORT USER PRIVKEY ITERATIONS WARMUP CHANNELS\n", argv[0]);
    return 2;
  }
  struct opts o;
  long n = atol(argv[5]), warmup = atol(argv[6]);
  int channels = atoi(argv[7]);
  if (parse_target(&o, argv) != 0 || n < 1 || n > 100000 || warmup < 0 || warmup > 1000 || channels < 1 ||
      channels > MAX_CHANNELS) {
    fprintf(stderr, "w3: bad HOST (IPv4 only), ITERATIONS, WARMUP or CHANNELS\n");
    return 2;
  }
  double *ms = calloc((size_t)n, sizeof *ms);
  struct chan *chans = calloc((size_t)channels, sizeof *chans);
  if (!ms || !chans || libssh2_init(0) != 0) return 1;

  struct conn c;
  if (conn_open(&o, &c) != 0) return 1;
  libssh2_session_set_blocking(c.s, 0);
  for (long i = 0; i < warmup; i++) {
    if (w3_op(&c, chans, channels) != 0) return 1;
  }
  stalls = 0;
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double start = now_ms();
  for (long i = 0; i < n; i++) {
    double t0 = now_ms();
    if (w3_op(&c, chans, channels) != 0) return 1;
    ms[i] = now_ms() - t0;
  }
  double wall = now_ms() - start;
  getrusage(RUSAGE_SELF, &r1);
  libssh2_session_set_blocking(c.s, 1);
  if (libssh2_session_disconnect(c.s, "") != 0) return fail(c.s, "libssh2_session_disconnect"), 1;
  conn_close(&c, 0);

  print_result(ms, n, wall, &r0, &r1);
  fprintf(stderr, "w3: %ld stalled waits\n", stalls);
  libssh2_exit();
  free(chans);
  free(ms);
  return 0;
}
