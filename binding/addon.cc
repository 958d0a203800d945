// Addon entry point: libssh2_init once per process, per-environment state, module functions.
#include <mutex>

#include <openssl/crypto.h>

#include "common.h"
#include "errors.h"
#include "agent.h"
#include "channel.h"
#include "knownhost.h"
#include "listener.h"
#include "publickey.h"
#include "session.h"
#include "sftp.h"
#include "sftp_handle.h"
#include "transport.h"

namespace node_libssh2 {

AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

namespace {

// libssh2_init is not thread-safe (a plain counter) and is never undone: Workers may load the
// addon at any time, so it runs exactly once per process and libssh2_exit is never called.
int InitLibssh2Once() {
  static std::once_flag once;
  static int rc = 0;
  std::call_once(once, [] { rc = libssh2_init(0); });
  return rc;
}

// libssh2.version(): libssh2_version(0), the version string of the linked libssh2.
Napi::Value Version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), libssh2_version(0)); }

// libssh2.cryptoBackend(): { engine, library } — libssh2_crypto_engine() and the OpenSSL that
// the symbols resolved to (the running node's own).
Napi::Value CryptoBackend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const char* engine = "unknown";
  switch (libssh2_crypto_engine()) {
    case libssh2_openssl: engine = "openssl"; break;
    case libssh2_gcrypt: engine = "gcrypt"; break;
    case libssh2_mbedtls: engine = "mbedtls"; break;
    case libssh2_wincng: engine = "wincng"; break;
    case libssh2_os400qc3: engine = "os400qc3"; break;
    default: break;
  }
  out.Set("engine", engine);
  out.Set("library", OpenSSL_version(OPENSSL_VERSION));
  return out;
}

// setErrorFactory(fn, deepEqual): lib/errors.ts createError and node:util isDeepStrictEqual,
// called once by lib/native.ts.
Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "setErrorFactory expects a function").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  GetAddonData(info.Env())->createError = Napi::Persistent(info[0].As<Napi::Function>());
  if (info[1].IsFunction()) GetAddonData(info.Env())->deepEqual = Napi::Persistent(info[1].As<Napi::Function>());
  return info.Env().Undefined();
}

// makeError(errno, fn?, sftpStatus?): the error the binding would throw for a return code.
Napi::Value MakeErrorJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(env, "errno must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string fn = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  long status = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : -1;
  return MakeError(env, info[0].As<Napi::Number>().Int32Value(), fn.empty() ? nullptr : fn.c_str(), nullptr, status);
}

// constantsTable(): every constant of lib/constants.ts as the C compiler evaluated it.
Napi::Value ConstantsTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
#define LIBSSH2_NUMBER_CONSTANT(name) out.Set(#name, Napi::Number::New(env, static_cast<double>(name)));
#define LIBSSH2_STRING_CONSTANT(name) out.Set(#name, Napi::String::New(env, name));
#include "constants_table.inc"
#undef LIBSSH2_NUMBER_CONSTANT
#undef LIBSSH2_STRING_CONSTANT
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (InitLibssh2Once() != 0) {
    Napi::Error::New(env, "libssh2_init failed").ThrowAsJavaScriptException();
    return exports;
  }
  env.SetInstanceData(new AddonData());
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("cryptoBackend", Napi::Function::New(env, CryptoBackend, "cryptoBackend"));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("makeError", Napi::Function::New(env, MakeErrorJs, "makeError"));
  exports.Set("constantsTable", Napi::Function::New(env, ConstantsTable, "constantsTable"));
  exports.Set("Session", Session::Init(env));
  // Child classes: their constructors are kept to make instances from Session methods.
  AddonData* data = GetAddonData(env);
  auto child = [&](const char* name, Napi::Function cls, Napi::FunctionReference* ctor) {
    *ctor = Napi::Persistent(cls);
    exports.Set(name, cls);
  };
  child("Channel", Channel::Init(env), &data->channelCtor);
  child("Sftp", Sftp::Init(env), &data->sftpCtor);
  child("SftpHandle", SftpHandle::Init(env), &data->sftpHandleCtor);
  child("Listener", Listener::Init(env), &data->listenerCtor);
  child("KnownHosts", KnownHosts::Init(env), &data->knownHostsCtor);
  child("Agent", Agent::Init(env), &data->agentCtor);
  child("PublicKeySubsystem", PublicKey::Init(env), &data->publickeyCtor);
  InitTransport(env, exports);
  return exports;
}

}  // namespace

}  // namespace node_libssh2

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return node_libssh2::Init(env, exports); }

NODE_API_MODULE(node_libssh2, InitAddon)
