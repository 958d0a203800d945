// Shared declarations of the addon: per-environment state and the libssh2 includes.
#pragma once

#include <napi.h>

#include <libssh2.h>
#include <libssh2_publickey.h>
#include <libssh2_sftp.h>

// deps/patches/session-send-pending.patch: 1 while a transport packet is half sent.
extern "C" int libssh2_session_send_pending(LIBSSH2_SESSION* session);

namespace node_libssh2 {

// Per-napi_env state (the addon is context-aware: one per main thread and per Worker).
struct AddonData {
  // lib/errors.ts createError(errno, fn, message, sftpStatus): builds every error we throw.
  Napi::FunctionReference createError;
  // node:util isDeepStrictEqual: compares the signatures of repeated …Nb() calls.
  Napi::FunctionReference deepEqual;
  // Constructor of native Channel objects (made by Session methods only).
  Napi::FunctionReference channelCtor;
  Napi::FunctionReference sftpCtor;
  Napi::FunctionReference sftpHandleCtor;
  Napi::FunctionReference listenerCtor;
  Napi::FunctionReference knownHostsCtor;
  Napi::FunctionReference agentCtor;
  Napi::FunctionReference publickeyCtor;
};

AddonData* GetAddonData(Napi::Env env);

}  // namespace node_libssh2
