// Channel: one LIBSSH2_CHANNEL. It holds its Session (JS reference), and the Session knows its
// channels so that freeing the session invalidates them first (libssh2_session_free frees them).
// lib/channel.ts wraps it; argument checks and the after-close rules live there.
#pragma once

#include "common.h"
#include "scheduler.h"
#include "util.h"

namespace node_libssh2 {

class Session;

class Channel : public Napi::ObjectWrap<Channel> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Main thread: a JS Channel for a channel libssh2 just opened on `session`.
  static Napi::Value NewInstance(Napi::Env env, Session* session, LIBSSH2_CHANNEL* channel);

  explicit Channel(const Napi::CallbackInfo& info);
  ~Channel() override;

  LIBSSH2_CHANNEL* raw() const { return channel_; }
  // The session frees every channel itself: forget the pointer.
  void Invalidate() { channel_ = nullptr; }
  // The Session object is being destroyed before this one (environment teardown).
  void DetachSession() {
    session_ = nullptr;
    channel_ = nullptr;
  }
  // Ops on this channel keep its JS object alive and are counted (free waits for them).
  void OpStarted() { ops_.OpStarted(this); }
  void OpEnded() { ops_.OpEnded(this); }
  int pending_ops() const { return ops_.pending(); }
  void OnStepResult(int, Op*) {}

  // Gates: FIFO per libssh2 per-channel state; setup requests use the session's setup gate.
  const void* read_gate(int stream) const { return &read_gates_[stream == 0 ? 0 : stream == 1 ? 1 : 2]; }
  const void* write_gate() const { return &write_gate_; }
  const void* state_gate() const { return &state_gate_; }

 private:
  bool Usable(Napi::Env env, const char* fn);
  Napi::Value Enqueue(std::unique_ptr<Op> op, bool abandonable_timeout = true);

  // Synchronous.
  Napi::Value Eof(const Napi::CallbackInfo& info);
  Napi::Value GetExitStatus(const Napi::CallbackInfo& info);
  Napi::Value GetExitSignal(const Napi::CallbackInfo& info);
  Napi::Value WindowRead(const Napi::CallbackInfo& info);
  Napi::Value WindowWrite(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);

  // Async.
  Napi::Value Setenv(const Napi::CallbackInfo& info);
  Napi::Value RequestPty(const Napi::CallbackInfo& info);
  Napi::Value RequestPtySize(const Napi::CallbackInfo& info);
  Napi::Value ProcessStartup(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value ReadInto(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value SendEof(const Napi::CallbackInfo& info);
  Napi::Value WaitEof(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value WaitClosed(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value ReceiveWindowAdjust(const Napi::CallbackInfo& info);
  Napi::Value HandleExtendedData(const Napi::CallbackInfo& info);
  Napi::Value Signal(const Napi::CallbackInfo& info);
  Napi::Value X11Req(const Napi::CallbackInfo& info);
  Napi::Value RequestAuthAgent(const Napi::CallbackInfo& info);

  Session* session_ = nullptr;
  Napi::ObjectReference session_ref_;  // children hold their parent
  LIBSSH2_CHANNEL* channel_ = nullptr;
  bool freeing_ = false;
  OpCounter<Channel> ops_;
  char read_gates_[3] = {0, 0, 0};
  char write_gate_ = 0;
  char state_gate_ = 0;
};

}  // namespace node_libssh2
