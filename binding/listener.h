// Listener: one LIBSSH2_LISTENER (a remote port forward). Holds its Session; the session frees
// listeners itself (libssh2_session_free cancels them), so session teardown invalidates it.
#pragma once

#include "common.h"
#include "scheduler.h"
#include "util.h"

namespace node_libssh2 {

class Session;

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value NewInstance(Napi::Env env, Session* session, LIBSSH2_LISTENER* listener, int bound_port);
  explicit Listener(const Napi::CallbackInfo& info);
  ~Listener() override;

  LIBSSH2_LISTENER* raw() const { return listener_; }
  void Invalidate() { listener_ = nullptr; }
  void DetachSession() {
    session_ = nullptr;
    listener_ = nullptr;
  }
  void OpStarted() { ops_.OpStarted(this); }
  void OpEnded() { ops_.OpEnded(this); }
  void OnStepResult(int, Op*) {}

 private:
  Napi::Value ForwardAccept(const Napi::CallbackInfo& info);
  Napi::Value ForwardCancel(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);

  Session* session_ = nullptr;
  Napi::ObjectReference session_ref_;
  LIBSSH2_LISTENER* listener_ = nullptr;
  bool cancelling_ = false;
  OpCounter<Listener> ops_;
  char accept_gate_ = 0;
};

}  // namespace node_libssh2
