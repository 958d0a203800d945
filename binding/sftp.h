// Sftp: one LIBSSH2_SFTP. Every op on it and on its handles runs one at a time (its gate):
// libssh2 keeps request state per LIBSSH2_SFTP, not per handle (PITFALLS 9).
#pragma once

#include <set>

#include "common.h"
#include "scheduler.h"
#include "util.h"

namespace node_libssh2 {

class Session;
class SftpHandle;

// An op on an SFTP object or handle: `Target` has raw(), OpStarted(), OpEnded(), sftp_raw().
// On LIBSSH2_ERROR_SFTP_PROTOCOL it records libssh2_sftp_last_error in the same step.
template <typename Target, typename StepFn, typename ResultFn>
class SftpOp : public Op {
 public:
  SftpOp(Target* target, const char* fn, const void* gate, unsigned flags, StepFn step, ResultFn result)
      : Op(fn, gate, flags), target_(target), step_(std::move(step)), result_(std::move(result)) {
    target_->OpStarted();
  }
  ~SftpOp() override { target_->OpEnded(); }
  int Step(LIBSSH2_SESSION*) override {
    auto* raw = target_->raw();
    if (raw == nullptr) return LIBSSH2_ERROR_BAD_USE;
    int rc = step_(raw);
    if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && target_->sftp_raw() != nullptr) {
      sftp_status_ = static_cast<long>(libssh2_sftp_last_error(target_->sftp_raw()));
    }
    return rc;
  }
  Napi::Value Result(Napi::Env env, int rc) override { return result_(env, rc); }
  const void* target() const override { return target_; }

 private:
  Target* target_;
  StepFn step_;
  ResultFn result_;
};

template <typename Target, typename StepFn, typename ResultFn>
std::unique_ptr<Op> MakeSftpOp(Target* t, const char* fn, unsigned flags, StepFn step, ResultFn result) {
  return std::make_unique<SftpOp<Target, StepFn, ResultFn>>(t, fn, t->gate(), flags, std::move(step),
                                                            std::move(result));
}

template <typename Target, typename StepFn>
std::unique_ptr<Op> MakeSftpOp(Target* t, const char* fn, unsigned flags, StepFn step) {
  return MakeSftpOp(t, fn, flags, std::move(step), [](Napi::Env env, int) { return env.Undefined(); });
}

// LIBSSH2_SFTP_ATTRIBUTES <-> { flags, filesize, uid, gid, permissions, atime, mtime }.
Napi::Object AttrsToJs(Napi::Env env, const LIBSSH2_SFTP_ATTRIBUTES& a);
// Fields present in `o` are set and flagged; an explicit `flags` wins.
bool AttrsFromJs(Napi::Value v, LIBSSH2_SFTP_ATTRIBUTES* a);
Napi::Object StatvfsToJs(Napi::Env env, const LIBSSH2_SFTP_STATVFS& st);

class Sftp : public Napi::ObjectWrap<Sftp> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value NewInstance(Napi::Env env, Session* session, LIBSSH2_SFTP* sftp);
  explicit Sftp(const Napi::CallbackInfo& info);
  ~Sftp() override;

  LIBSSH2_SFTP* raw() const { return sftp_; }
  LIBSSH2_SFTP* sftp_raw() const { return sftp_; }
  const void* gate() const { return &gate_; }
  Session* session() const { return session_; }
  void OpStarted() { ops_.OpStarted(this); }
  void OpEnded() { ops_.OpEnded(this); }
  void AddHandle(SftpHandle* h) { handles_.insert(h); }
  void RemoveHandle(SftpHandle* h) { handles_.erase(h); }
  // Session teardown on dead I/O: close every handle, then shut down.
  void TeardownNow();
  void DetachSession() {
    session_ = nullptr;
    sftp_ = nullptr;
  }

 private:
  bool Usable(Napi::Env env, const char* fn);
  Napi::Value Enqueue(std::unique_ptr<Op> op);

  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Stat(const Napi::CallbackInfo& info);
  Napi::Value Setstat(const Napi::CallbackInfo& info);
  Napi::Value Statvfs(const Napi::CallbackInfo& info);
  Napi::Value Mkdir(const Napi::CallbackInfo& info);
  Napi::Value Rmdir(const Napi::CallbackInfo& info);
  Napi::Value Unlink(const Napi::CallbackInfo& info);
  Napi::Value Rename(const Napi::CallbackInfo& info);
  Napi::Value PosixRename(const Napi::CallbackInfo& info);
  Napi::Value Symlink(const Napi::CallbackInfo& info);
  Napi::Value LastError(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);

  Session* session_ = nullptr;
  Napi::ObjectReference session_ref_;
  LIBSSH2_SFTP* sftp_ = nullptr;
  bool shutting_down_ = false;
  std::set<SftpHandle*> handles_;
  OpCounter<Sftp> ops_;
  char gate_ = 0;
};

}  // namespace node_libssh2
