// Socket helpers for lib/session.ts: a non-blocking TCP connect (IPv4/IPv6, TCP_NODELAY,
// SO_KEEPALIVE) and socketpair() for the Duplex pump.
#pragma once

#include "common.h"

namespace node_libssh2 {

void InitTransport(Napi::Env env, Napi::Object exports);

// TCP_NODELAY and SO_KEEPALIVE on every session socket (errors ignored: a unix socketpair has
// no TCP options).
void SetSocketOptions(int fd);

}  // namespace node_libssh2
