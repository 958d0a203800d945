#include "listener.h"

#include "channel.h"
#include "errors.h"
#include "session.h"
#include "util.h"

namespace node_libssh2 {

Napi::Function Listener::Init(Napi::Env env) {
  return DefineClass(env, "Listener",
                     {
                         InstanceMethod<&Listener::ForwardAccept>("forwardAccept"),
                         InstanceMethod<&Listener::ForwardCancel>("forwardCancel"),
                         InstanceMethod<&Listener::IsFreed>("isFreed"),
                     });
}

Napi::Value Listener::NewInstance(Napi::Env env, Session* session, LIBSSH2_LISTENER* listener, int bound_port) {
  Napi::Object l = GetAddonData(env)->listenerCtor.New(
      {Napi::External<Session>::New(env, session), Napi::External<LIBSSH2_LISTENER>::New(env, listener)});
  l.Set("boundPort", bound_port);
  return l;
}

Listener::Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[1].IsExternal()) {
    Napi::TypeError::New(env, "Listener objects come from session.forwardListen()").ThrowAsJavaScriptException();
    return;
  }
  session_ = info[0].As<Napi::External<Session>>().Data();
  listener_ = info[1].As<Napi::External<LIBSSH2_LISTENER>>().Data();
  session_ref_ = Napi::Persistent(session_->js_object());
  session_->AddListener(this);
}

Listener::~Listener() {
  if (session_ == nullptr) return;
  session_->RemoveListener(this);
  if (listener_ != nullptr) {
    LIBSSH2_LISTENER* raw = listener_;
    session_->FreeOrphan(raw, nullptr, 2, session_->session_gate(), "libssh2_channel_forward_cancel",
                         [raw] { return libssh2_channel_forward_cancel(raw); });
  }
}

Napi::Value Listener::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), listener_ == nullptr || cancelling_);
}

// A pending accept is a read: it may be dropped (timeout, cancel) at any time.
Napi::Value Listener::ForwardAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (listener_ == nullptr || cancelling_) {
    ThrowBadUse(env, "the listener has been cancelled", "libssh2_channel_forward_accept");
    return env.Undefined();
  }
  auto accepted = std::make_shared<LIBSSH2_CHANNEL*>(nullptr);
  Session* session = session_;
  return session_->scheduler()->Enqueue(
      MakeTargetOp(
          this, "libssh2_channel_forward_accept", &accept_gate_, Op::kAbandonable,
          [accepted, session](LIBSSH2_LISTENER* l) {
            *accepted = libssh2_channel_forward_accept(l);
            if (*accepted != nullptr) return 0;
            int rc = libssh2_session_last_errno(session->raw());
            // "Channel not found": packets arrived, none was a new connection: keep waiting.
            return rc == LIBSSH2_ERROR_CHANNEL_UNKNOWN || rc == 0 ? LIBSSH2_ERROR_EAGAIN : rc;
          },
          [session, accepted](Napi::Env env, int) { return Channel::NewInstance(env, session, *accepted); }),
      session_->timeout_ms());
}

Napi::Value Listener::ForwardCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Idempotent; an Nb repeat goes on to the pending cancel.
  Scheduler* sched = session_ != nullptr ? session_->scheduler() : nullptr;
  if (listener_ == nullptr || (cancelling_ && !InNbCall(sched))) return DoneIn(env, sched, env.Undefined());
  cancelling_ = true;
  session_->scheduler()->RejectFor(this,
                                   MakeBadUse(env, "the listener was cancelled", "libssh2_channel_forward_accept"));
  return session_->scheduler()->Enqueue(
      MakeTargetOp(this, "libssh2_channel_forward_cancel", session_->session_gate(), Op::kBothModes,
                   [this](LIBSSH2_LISTENER* l) {
                     int rc = libssh2_channel_forward_cancel(l);
                     if (rc != LIBSSH2_ERROR_EAGAIN) listener_ = nullptr;  // freed whatever it returns
                     return rc;
                   }),
      session_->timeout_ms());
}

}  // namespace node_libssh2
