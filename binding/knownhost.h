// KnownHosts: one LIBSSH2_KNOWNHOSTS collection. All calls are local and synchronous. It uses
// the session's allocator, so it must be freed before the session (PITFALLS 30): the session
// frees live collections first.
#pragma once

#include "common.h"

namespace node_libssh2 {

class Session;

class KnownHosts : public Napi::ObjectWrap<KnownHosts> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value NewInstance(Napi::Env env, Session* session, LIBSSH2_KNOWNHOSTS* hosts);
  explicit KnownHosts(const Napi::CallbackInfo& info);
  ~KnownHosts() override;
  // Session teardown: free now (before libssh2_session_free).
  void FreeNow();
  void DetachSession() { session_ = nullptr; }

 private:
  bool Usable(Napi::Env env, const char* fn);
  // The entry behind a KnownHost object, if it is still in this collection.
  struct libssh2_knownhost* Entry(Napi::Env env, Napi::Value v, const char* fn);
  Napi::Value EntryToJs(Napi::Env env, struct libssh2_knownhost* e);

  Napi::Value Readfile(const Napi::CallbackInfo& info);
  Napi::Value Writefile(const Napi::CallbackInfo& info);
  Napi::Value Readline(const Napi::CallbackInfo& info);
  Napi::Value Writeline(const Napi::CallbackInfo& info);
  Napi::Value Checkp(const Napi::CallbackInfo& info);
  Napi::Value Addc(const Napi::CallbackInfo& info);
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value Del(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);

  Session* session_ = nullptr;
  Napi::ObjectReference session_ref_;
  LIBSSH2_KNOWNHOSTS* hosts_ = nullptr;
};

}  // namespace node_libssh2
