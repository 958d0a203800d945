// Agent: one LIBSSH2_AGENT. libssh2 talks to the local agent socket in blocking mode, so agent
// calls run on the threadpool (local and fast; the documented exception to "no thread waits on
// the network"). It uses the session's allocator: the session frees live agents first.
#pragma once

#include "common.h"
#include "scheduler.h"
#include "util.h"

namespace node_libssh2 {

class Session;

class Agent : public Napi::ObjectWrap<Agent> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value NewInstance(Napi::Env env, Session* session, LIBSSH2_AGENT* agent);
  explicit Agent(const Napi::CallbackInfo& info);
  ~Agent() override;

  LIBSSH2_AGENT* raw() const { return agent_; }
  void OpStarted() { ops_.OpStarted(this); }
  void OpEnded() { ops_.OpEnded(this); }
  void OnStepResult(int, Op*) {}
  // Session teardown: disconnect and free now (before libssh2_session_free).
  void FreeNow();
  void DetachSession() { session_ = nullptr; }

 private:
  bool Usable(Napi::Env env, const char* fn);
  struct libssh2_agent_publickey* Identity(Napi::Env env, Napi::Value v, const char* fn);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value ListIdentities(const Napi::CallbackInfo& info);
  Napi::Value GetIdentities(const Napi::CallbackInfo& info);
  Napi::Value Userauth(const Napi::CallbackInfo& info);
  Napi::Value Sign(const Napi::CallbackInfo& info);
  Napi::Value GetIdentityPath(const Napi::CallbackInfo& info);
  Napi::Value SetIdentityPath(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);

  Session* session_ = nullptr;
  Napi::ObjectReference session_ref_;
  LIBSSH2_AGENT* agent_ = nullptr;
  OpCounter<Agent> ops_;
  char gate_ = 0;
};

}  // namespace node_libssh2
