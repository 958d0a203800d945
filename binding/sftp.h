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

// Ops on an SFTP object or one of its handles share the SFTP object's gate (PITFALLS 9).
template <typename Target, typename StepFn, typename ResultFn>
std::unique_ptr<Op> MakeSftpOp(Target* t, const char* fn, unsigned flags, StepFn step, ResultFn result) {
  return MakeTargetOp(t, fn, t->gate(), flags, std::move(step), std::move(result));
}

template <typename Target, typename StepFn>
std::unique_ptr<Op> MakeSftpOp(Target* t, const char* fn, unsigned flags, StepFn step) {
  return MakeTargetOp(t, fn, t->gate(), flags, std::move(step), UndefinedResult);
}

// Records libssh2_sftp_last_error after LIBSSH2_ERROR_SFTP_PROTOCOL, in the step that failed.
inline void RecordSftpStatus(LIBSSH2_SFTP* sftp, int rc, Op* op) {
  if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && sftp != nullptr) {
    op->set_sftp_status(static_cast<long>(libssh2_sftp_last_error(sftp)));
  }
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
  void OnStepResult(int rc, Op* op) { RecordSftpStatus(sftp_, rc, op); }
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
