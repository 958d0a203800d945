// PublicKeySubsystem: one LIBSSH2_PUBLICKEY (RFC 4819 "publickey" subsystem on its own channel).
// Its list/add/remove calls share one receive state and one channel: they run one at a time
// (its gate). The session frees its channel; session teardown shuts it down first.
#pragma once

#include "common.h"
#include "scheduler.h"
#include "util.h"

namespace node_libssh2 {

class Session;

class PublicKey : public Napi::ObjectWrap<PublicKey> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value NewInstance(Napi::Env env, Session* session, LIBSSH2_PUBLICKEY* pkey);
  explicit PublicKey(const Napi::CallbackInfo& info);
  ~PublicKey() override;

  LIBSSH2_PUBLICKEY* raw() const { return pkey_; }
  void OpStarted() { ops_.OpStarted(this); }
  void OpEnded() { ops_.OpEnded(this); }
  void OnStepResult(int, Op*) {}
  // Session teardown on dead I/O (before libssh2_session_free): shut down now.
  void TeardownNow();
  void DetachSession() {
    session_ = nullptr;
    pkey_ = nullptr;
  }

 private:
  bool Usable(Napi::Env env, const char* fn);
  Napi::Value ListFetch(const Napi::CallbackInfo& info);
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);

  Session* session_ = nullptr;
  Napi::ObjectReference session_ref_;
  LIBSSH2_PUBLICKEY* pkey_ = nullptr;
  bool shutting_down_ = false;
  OpCounter<PublicKey> ops_;
  char gate_ = 0;
};

}  // namespace node_libssh2
