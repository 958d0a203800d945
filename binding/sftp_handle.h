// SftpHandle: one LIBSSH2_SFTP_HANDLE (file or directory). Holds its Sftp (JS reference); its
// ops share the Sftp's gate.
#pragma once

#include "common.h"
#include "sftp.h"

namespace node_libssh2 {

class SftpHandle : public Napi::ObjectWrap<SftpHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Value NewInstance(Napi::Env env, Sftp* sftp, LIBSSH2_SFTP_HANDLE* handle);
  explicit SftpHandle(const Napi::CallbackInfo& info);
  ~SftpHandle() override;

  LIBSSH2_SFTP_HANDLE* raw() const { return handle_; }
  LIBSSH2_SFTP* sftp_raw() const { return sftp_ != nullptr ? sftp_->raw() : nullptr; }
  const void* gate() const { return sftp_->gate(); }
  void OpStarted() { ops_.OpStarted(this); }
  void OpEnded() { ops_.OpEnded(this); }
  void OnStepResult(int rc, Op* op) { RecordSftpStatus(sftp_raw(), rc, op); }
  // The SFTP object closed it (teardown): forget the pointer.
  void Invalidate() { handle_ = nullptr; }
  // The Sftp object is being destroyed before this one (environment teardown).
  void DetachSftp() {
    sftp_ = nullptr;
    handle_ = nullptr;
  }

 private:
  bool Usable(Napi::Env env, const char* fn);
  bool Idle(Napi::Env env, const char* fn);
  Napi::Value Enqueue(std::unique_ptr<Op> op);

  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value ReadInto(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Readdir(const Napi::CallbackInfo& info);
  Napi::Value Fstat(const Napi::CallbackInfo& info);
  Napi::Value Fsetstat(const Napi::CallbackInfo& info);
  Napi::Value Fstatvfs(const Napi::CallbackInfo& info);
  Napi::Value Fsync(const Napi::CallbackInfo& info);
  Napi::Value Seek64(const Napi::CallbackInfo& info);
  Napi::Value Tell64(const Napi::CallbackInfo& info);
  Napi::Value Rewind(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);

  Sftp* sftp_ = nullptr;
  Napi::ObjectReference sftp_ref_;
  LIBSSH2_SFTP_HANDLE* handle_ = nullptr;
  bool closing_ = false;
  OpCounter<SftpHandle> ops_;
};

}  // namespace node_libssh2
