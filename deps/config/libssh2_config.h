/* libssh2 build configuration for the Node.js addon (Linux, glibc). Written for this project:
 * libssh2's CMake and autotools builds generate the equivalent header from
 * src/libssh2_config_cmake.h.in; we compile with node-gyp and CMake from one source list
 * instead, so the answers are fixed here. */
#ifndef NODE_LIBSSH2_CONFIG_H
#define NODE_LIBSSH2_CONFIG_H

#define HAVE_UNISTD_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_SYS_SELECT_H 1
#define HAVE_SYS_UIO_H 1
#define HAVE_SYS_SOCKET_H 1
#define HAVE_SYS_IOCTL_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_UN_H 1
#define HAVE_ARPA_INET_H 1
#define HAVE_NETINET_IN_H 1

#define HAVE_GETTIMEOFDAY 1
#define HAVE_STRTOLL 1
#define HAVE_SNPRINTF 1
#define HAVE_EXPLICIT_BZERO 1
#define HAVE_POLL 1
#define HAVE_SELECT 1
#define HAVE_O_NONBLOCK 1

/* Crypto: OpenSSL, resolved from the running node binary (no libcrypto is linked). */
#ifndef LIBSSH2_OPENSSL
#define LIBSSH2_OPENSSL 1
#endif
/* Compression: zlib, resolved from the running node binary. */
#ifndef LIBSSH2_HAVE_ZLIB
#define LIBSSH2_HAVE_ZLIB 1
#endif
/* libssh2_trace() works only when debug logging is compiled in; it costs nothing until a
 * trace bitmask is set. */
#ifndef LIBSSH2DEBUG
#define LIBSSH2DEBUG 1
#endif

#endif
