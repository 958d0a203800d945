/*
 * The TCP sink of W7 (bench/w7.ts): listens on 127.0.0.1 (port 0: the kernel picks one),
 * prints the port on stdout, then serves one connection after another: reads until EOF,
 * discarding the bytes, then writes their count as 8 bytes big-endian and closes. Runs until
 * killed. No libssh2 (bench/build-c.js links every client the same way; unused here).
 *
 *   sink
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0 ||
      getsockname(l, (struct sockaddr *)&a, &len) != 0) {
    perror("sink");
    return 1;
  }
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  static char buf[1 << 18];
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) continue;
    unsigned long long total = 0;
    for (;;) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      total += (unsigned long long)n;
    }
    unsigned char count[8];
    for (int i = 7; i >= 0; i--) {
      count[i] = (unsigned char)(total & 0xff);
      total >>= 8;
    }
    send(c, count, sizeof count, MSG_NOSIGNAL);
    close(c);
  }
}
