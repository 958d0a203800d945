/*
 * Driver of the OpenSSH peer for W2 and W3 (bench/build-c.js builds it): runs `ssh` clients
 * against a running ControlMaster (bench/openssh.ts starts it) and times them.
 *
 *   ossh w2|w3|w7 ITERATIONS WARMUP ARG MASTER_PID SSH [SSH ARGS...]
 *
 * Each op: w2 runs `SSH ARGS... true` and waits for it (one exec per op); w3 starts ARG
 * (channels) clients `SSH ARGS... echo i` at once and reads all their outputs; w7 runs
 * `SSH ARGS...` (which hold `-W host:port`) with stdin from the file ARG, and expects the W7
 * sink's 8-byte big-endian count of the file's size on stdout. Every client's stdout must be
 * what the command prints ("", "i\n" or the count), its stderr empty and its exit status 0.
 * WARMUP untimed ops first, then ITERATIONS timed ones.
 *
 * Prints {"ms":[...],"wall_ms":N,"cpu_user_ms":N,"cpu_sys_ms":N,"methods":null}: wall time per
 * op and of the timed loop; client CPU over the timed loop = the ssh clients this driver reaped
 * (getrusage(RUSAGE_CHILDREN)) + the ControlMaster MASTER_PID (/proc/PID/stat utime + stime,
 * in clock ticks), which does the connection's crypto. The driver's own CPU is not counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHANNELS 1024
#define OUT_MAX 64
#define OP_TIMEOUT_MS 30000
#define W7_OP_TIMEOUT_MS 180000

struct client {
  pid_t pid;
  int out, err; /* pipes, -1 once at EOF */
  char buf[OUT_MAX];
  size_t len;
  int status;
  int reaped;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double tv_ms(struct timeval tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

/* utime and stime of `pid` in ms (from /proc/PID/stat). Returns 0 on success. */
static int proc_cpu(pid_t pid, double *user, double *sys) {
  char path[64], line[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  char *p = strrchr(line, ')');
  if (!p) return -1;
  /* After ") ": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15). */
  unsigned long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
  double tick = 1000.0 / (double)sysconf(_SC_CLK_TCK);
  *user = (double)ut * tick;
  *sys = (double)st * tick;
  return 0;
}

/* w7: the file the client's stdin reads, and its size. */
static const char *stdin_file;
static unsigned long long stdin_size;

static int start(struct client *c, char **argv, int argc, const char *cmd) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    char *args[argc + 2];
    for (int i = 0; i < argc; i++) args[i] = argv[i];
    args[argc] = (char *)cmd; /* NULL for w7 */
    args[argc + 1] = NULL;
    int in = open(stdin_file ? stdin_file : "/dev/null", O_RDONLY);
    if (in < 0) _exit(126);
    dup2(in, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvp(args[0], args);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  memset(c, 0, sizeof *c);
  c->pid = pid;
  c->out = out[0];
  c->err = err[0];
  return 0;
}

/*
 * Runs `n` clients at once (w2: n = 1, command `true`; w3: `echo i`) and checks them. Returns 0
 * on success.
 */
static int op(struct client *cs, int n, int echo, char **argv, int argc) {
  char cmd[32];
  for (int i = 0; i < n; i++) {
    if (echo) snprintf(cmd, sizeof cmd, "echo %d", i);
    else snprintf(cmd, sizeof cmd, "true");
    if (start(&cs[i], argv, argc, stdin_file ? NULL : cmd) != 0) {
      perror("ossh: start");
      return -1;
    }
  }
  struct pollfd pfd[2 * MAX_CHANNELS];
  int open_fds = 2 * n;
  double deadline = now_ms() + (stdin_file ? W7_OP_TIMEOUT_MS : OP_TIMEOUT_MS);
  while (open_fds > 0) {
    int k = 0;
    for (int i = 0; i < n; i++) {
      pfd[k++] = (struct pollfd){ .fd = cs[i].out, .events = POLLIN };
      pfd[k++] = (struct pollfd){ .fd = cs[i].err, .events = POLLIN };
    }
    int left = (int)(deadline - now_ms());
    if (left <= 0) {
      fprintf(stderr, "ossh: op timed out\n");
      return -1;
    }
    int rc = poll(pfd, (nfds_t)k, left);
    if (rc < 0 && errno != EINTR) return -1;
    for (int j = 0; j < k; j++) {
      if (pfd[j].fd < 0 || !(pfd[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      struct client *c = &cs[j / 2];
      char buf[4096];
      ssize_t got = read(pfd[j].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close(pfd[j].fd);
        if (j % 2 == 0) c->out = -1;
        else c->err = -1;
        open_fds--;
        continue;
      }
      if (j % 2 == 1) {
        fprintf(stderr, "ossh: client %d wrote to stderr: %.*s\n", j / 2, (int)got, buf);
        return -1;
      }
      if (c->len + (size_t)got > OUT_MAX) {
        fprintf(stderr, "ossh: client %d printed too much\n", j / 2);
        return -1;
      }
      memcpy(c->buf + c->len, buf, (size_t)got);
      c->len += (size_t)got;
    }
  }
  for (int i = 0; i < n; i++) {
    int status;
    if (waitpid(cs[i].pid, &status, 0) < 0) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "ossh: client %d exited with status 0x%x\n", i, status);
      return -1;
    }
    char want[32];
    int len = echo ? snprintf(want, sizeof want, "%d\n", i) : 0;
    if (stdin_file) {
      for (int b = 0; b < 8; b++) want[b] = (char)(stdin_size >> (56 - 8 * b));
      len = 8;
    }
    if ((size_t)len != cs[i].len || memcmp(want, cs[i].buf, cs[i].len) != 0) {
      fprintf(stderr, "ossh: client %d printed %.*s\n", i, (int)cs[i].len, cs[i].buf);
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s w2|w3|w7 ITERATIONS WARMUP ARG MASTER_PID SSH [SSH ARGS...]\n", argv[0]);
    return 2;
  }
  int echo = strcmp(argv[1], "w3") == 0;
  long n = atol(argv[2]), warmup = atol(argv[3]);
  int channels = echo ? atoi(argv[4]) : 1;
  pid_t master = (pid_t)atol(argv[5]);
  if (strcmp(argv[1], "w7") == 0) {
    struct stat st;
    stdin_file = argv[4];
    if (stat(stdin_file, &st) != 0) {
      perror("ossh: stat");
      return 2;
    }
    stdin_size = (unsigned long long)st.st_size;
  }
  if ((!echo && !stdin_file && strcmp(argv[1], "w2") != 0) || n < 1 || n > 1000000 || warmup < 0 || warmup > 1000 || channels < 1 ||
      channels > MAX_CHANNELS || master <= 0) {
    fprintf(stderr, "ossh: bad MODE, ITERATIONS, WARMUP, CHANNELS or MASTER_PID\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  double *ms = calloc((size_t)n, sizeof *ms);
  struct client *cs = calloc((size_t)channels, sizeof *cs);
  if (!ms || !cs) return 1;
  char **ssh = argv + 6;
  int ssh_argc = argc - 6;

  for (long i = 0; i < warmup; i++) {
    if (op(cs, channels, echo, ssh, ssh_argc) != 0) return 1;
  }
  struct rusage r0, r1;
  double mu0, ms0, mu1, ms1;
  getrusage(RUSAGE_CHILDREN, &r0);
  if (proc_cpu(master, &mu0, &ms0) != 0) {
    fprintf(stderr, "ossh: no master process %d\n", (int)master);
    return 1;
  }
  double start_ms = now_ms();
  for (long i = 0; i < n; i++) {
    double t0 = now_ms();
    if (op(cs, channels, echo, ssh, ssh_argc) != 0) return 1;
    ms[i] = now_ms() - t0;
  }
  double wall = now_ms() - start_ms;
  getrusage(RUSAGE_CHILDREN, &r1);
  if (proc_cpu(master, &mu1, &ms1) != 0) {
    fprintf(stderr, "ossh: the master process %d is gone\n", (int)master);
    return 1;
  }
  printf("{\"ms\":[");
  for (long i = 0; i < n; i++) printf("%s%.3f", i ? "," : "", ms[i]);
  printf("],\"wall_ms\":%.3f,\"cpu_user_ms\":%.1f,\"cpu_sys_ms\":%.1f,\"methods\":null}\n", wall,
         tv_ms(r1.ru_utime) - tv_ms(r0.ru_utime) + (mu1 - mu0), tv_ms(r1.ru_stime) - tv_ms(r0.ru_stime) + (ms1 - ms0));
  free(cs);
  free(ms);
  return 0;
}
