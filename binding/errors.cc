#include "errors.h"

#include <cstring>
#include <string>

namespace node_libssh2 {

namespace {

struct CodeName {
  int code;
  const char* name;
};

// Error codes, from the generated table of every libssh2 constant (aliases keep the first name).
#define LIBSSH2_NUMBER_CONSTANT(name) {static_cast<int>(name), #name},
#define LIBSSH2_STRING_CONSTANT(name)
const CodeName kConstants[] = {
#include "constants_table.inc"
};
#undef LIBSSH2_NUMBER_CONSTANT
#undef LIBSSH2_STRING_CONSTANT

}  // namespace

const char* ErrorCodeName(int rc) {
  static const char kPrefix[] = "LIBSSH2_ERROR_";
  for (const CodeName& c : kConstants) {
    if (c.code == rc && std::strncmp(c.name, kPrefix, sizeof kPrefix - 1) == 0) return c.name;
  }
  return nullptr;
}

Napi::Value MakeError(Napi::Env env, int rc, const char* fn, LIBSSH2_SESSION* session, long sftp_status,
                      const char* message) {
  std::string text;
  if (message != nullptr) {
    text = message;
  } else if (session != nullptr && libssh2_session_last_errno(session) == rc) {
    char* msg = nullptr;
    int len = 0;
    libssh2_session_last_error(session, &msg, &len, 0);
    if (msg != nullptr) text.assign(msg, static_cast<size_t>(len));
  }
  if (text.empty()) {
    const char* name = ErrorCodeName(rc);
    text = std::string(fn != nullptr ? fn : "libssh2") +
           " failed: " + (name != nullptr ? name : ("error " + std::to_string(rc)));
  }
  AddonData* data = GetAddonData(env);
  if (data == nullptr || data->createError.IsEmpty()) {
    return Napi::Error::New(env, text).Value();
  }
  napi_value args[4] = {
      Napi::Number::New(env, rc),
      fn != nullptr ? Napi::String::New(env, fn).operator napi_value() : env.Undefined(),
      Napi::String::New(env, text),
      sftp_status >= 0 ? Napi::Number::New(env, static_cast<double>(sftp_status)).operator napi_value()
                       : env.Undefined(),
  };
  return data->createError.Call(env.Undefined(), 4, args);
}

void ThrowError(Napi::Env env, int rc, const char* fn, LIBSSH2_SESSION* session, long sftp_status,
                const char* message) {
  Napi::Value err = MakeError(env, rc, fn, session, sftp_status, message);
  if (!env.IsExceptionPending()) Napi::Error(env, err).ThrowAsJavaScriptException();
}

Napi::Value MakeBadUse(Napi::Env env, const std::string& message, const char* fn) {
  return MakeError(env, LIBSSH2_ERROR_BAD_USE, fn, nullptr, -1, message.c_str());
}

void ThrowBadUse(Napi::Env env, const std::string& message, const char* fn) {
  ThrowError(env, LIBSSH2_ERROR_BAD_USE, fn, nullptr, -1, message.c_str());
}

}  // namespace node_libssh2
