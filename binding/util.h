// Small helpers shared by the native classes: argument reading (lib/*.ts validates types
// first; these only keep the addon safe) and ops built from a step lambda.
#pragma once

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "common.h"
#include "scheduler.h"

namespace node_libssh2 {

// ---- argument helpers (lib/session.ts validates types; these only keep the addon safe)

inline bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out, const char* what) {
  if (!info[i].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

// An optional string: undefined/null -> has = false.
inline bool ArgOptString(const Napi::CallbackInfo& info, size_t i, std::string* out, bool* has, const char* what) {
  *has = false;
  if (info[i].IsUndefined() || info[i].IsNull()) return true;
  if (!ArgString(info, i, out, what)) return false;
  *has = true;
  return true;
}

inline bool ArgBytes(const Napi::CallbackInfo& info, size_t i, std::string* out, bool* has, const char* what) {
  *has = false;
  if (info[i].IsUndefined() || info[i].IsNull()) return true;
  if (info[i].IsBuffer()) {
    auto b = info[i].As<Napi::Buffer<char>>();
    out->assign(b.Data(), b.Length());
  } else if (info[i].IsString()) {
    *out = info[i].As<Napi::String>().Utf8Value();
  } else {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer or a string").ThrowAsJavaScriptException();
    return false;
  }
  *has = true;
  return true;
}

inline bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t* out, const char* what) {
  if (!info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

inline char* DupForLibssh2(const std::string& s) {
  // The session allocator is libc's (libssh2_session_init_ex with NULL allocators).
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.data(), s.size() + 1);
  return p;
}

// ---- generic op: a step lambda and a result lambda (ops that differ only in the call)

template <typename StepFn, typename ResultFn>
class FnOp : public Op {
 public:
  FnOp(const char* fn, const void* gate, unsigned flags, StepFn step, ResultFn result)
      : Op(fn, gate, flags), step_(std::move(step)), result_(std::move(result)) {}
  int Step(LIBSSH2_SESSION* s) override { return step_(s); }
  Napi::Value Result(Napi::Env env, int rc) override { return result_(env, rc); }

 private:
  StepFn step_;
  ResultFn result_;
};

template <typename StepFn, typename ResultFn>
std::unique_ptr<Op> MakeOp(const char* fn, const void* gate, unsigned flags, StepFn step, ResultFn result) {
  return std::make_unique<FnOp<StepFn, ResultFn>>(fn, gate, flags, std::move(step), std::move(result));
}

template <typename StepFn>
std::unique_ptr<Op> MakeOp(const char* fn, const void* gate, unsigned flags, StepFn step) {
  return MakeOp(fn, gate, flags, std::move(step), [](Napi::Env env, int) { return env.Undefined(); });
}

// Counts an object's pending ops and keeps its JS object alive meanwhile.
template <typename T>
class OpCounter {
 public:
  void OpStarted(Napi::ObjectWrap<T>* self) {
    if (pending_++ == 0) self->Ref();
  }
  void OpEnded(Napi::ObjectWrap<T>* self) {
    if (--pending_ == 0) self->Unref();
  }
  int pending() const { return pending_; }

 private:
  int pending_ = 0;
};

// An op on a child object (Channel, Sftp, SftpHandle, Listener, Agent): `Target` has raw()
// (null once freed), OpStarted()/OpEnded() (count pending ops, keep the JS object alive) and
// OnStepResult(rc, op) (the SFTP objects record the SFTP status there).
template <typename Target, typename StepFn, typename ResultFn>
class TargetOp : public Op {
 public:
  TargetOp(Target* target, const char* fn, const void* gate, unsigned flags, StepFn step, ResultFn result)
      : Op(fn, gate, flags), target_(target), step_(std::move(step)), result_(std::move(result)) {
    target_->OpStarted();
  }
  ~TargetOp() override { target_->OpEnded(); }
  int Step(LIBSSH2_SESSION*) override {
    auto* raw = target_->raw();
    if (raw == nullptr) return LIBSSH2_ERROR_BAD_USE;
    int rc = step_(raw);
    target_->OnStepResult(rc, this);
    return rc;
  }
  Napi::Value Result(Napi::Env env, int rc) override { return result_(env, rc); }
  const void* target() const override { return target_; }

 protected:
  Target* target_;

 private:
  StepFn step_;
  ResultFn result_;
};

inline Napi::Value UndefinedResult(Napi::Env env, int) { return env.Undefined(); }

template <typename Target, typename StepFn, typename ResultFn>
std::unique_ptr<Op> MakeTargetOp(Target* t, const char* fn, const void* gate, unsigned flags, StepFn step,
                                 ResultFn result) {
  return std::make_unique<TargetOp<Target, StepFn, ResultFn>>(t, fn, gate, flags, std::move(step), std::move(result));
}

template <typename Target, typename StepFn>
std::unique_ptr<Op> MakeTargetOp(Target* t, const char* fn, const void* gate, unsigned flags, StepFn step) {
  return MakeTargetOp(t, fn, gate, flags, std::move(step), UndefinedResult);
}

}  // namespace node_libssh2
