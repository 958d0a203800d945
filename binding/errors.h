// The one error mapping: a libssh2 return code (plus the failed function and the session whose
// last error carries libssh2's message) becomes an instance of the right lib/errors.ts class.
#pragma once

#include "common.h"

namespace node_libssh2 {

// The C name of a libssh2 error code ("LIBSSH2_ERROR_EAGAIN"), or nullptr if unknown.
const char* ErrorCodeName(int rc);

// Builds the error object for `rc`. The message is libssh2's own (libssh2_session_last_error)
// when `session` is given and its last error is `rc`; `message` overrides it when non-null.
// `sftp_status` >= 0 selects the SftpProtocolError subclass.
Napi::Value MakeError(Napi::Env env, int rc, const char* fn, LIBSSH2_SESSION* session = nullptr, long sftp_status = -1,
                      const char* message = nullptr);

// MakeError + throw as a JS exception (for synchronous methods).
void ThrowError(Napi::Env env, int rc, const char* fn, LIBSSH2_SESSION* session = nullptr, long sftp_status = -1,
                const char* message = nullptr);

// Misuse from JS (wrong mode, closed object, object of another session): BadUseError (-39).
Napi::Value MakeBadUse(Napi::Env env, const std::string& message, const char* fn = nullptr);
void ThrowBadUse(Napi::Env env, const std::string& message, const char* fn = nullptr);

}  // namespace node_libssh2
