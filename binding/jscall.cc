#include "jscall.h"

namespace node_libssh2 {

void JsCall::State::Finish(bool success, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex);
  if (done) return;
  done = true;
  ok = success;
  error = why;
  cv.notify_all();
}

JsCall::JsCall(Napi::Env env, Napi::Function fn, const char* name) : state_(std::make_shared<State>()) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, fn, name, 0, 1);
  tsfn_.Unref(env);  // the pending op keeps the loop alive, not this
}

JsCall::~JsCall() { tsfn_.Release(); }

Napi::Value JsCall::js_error(Napi::Env env) const {
  if (state_->js_error.IsEmpty()) return env.Undefined();
  return state_->js_error.Value();
}

void JsCall::Cancel() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->cancelled = true;
  state_->cv.notify_all();
}

void JsCall::CallJs(Napi::Env env, Napi::Function fn, std::shared_ptr<State>* data) {
  std::shared_ptr<State> state = *data;
  delete data;
  if (env == nullptr || fn.IsEmpty()) {
    state->Finish(false, "the JS environment is gone");
    return;
  }
  auto fail_with = [state](Napi::Env env, Napi::Value reason) {
    state->js_error = Napi::Reference<Napi::Value>::New(reason, 1);
    std::string text = "callback failed";
    if (reason.IsObject()) {
      Napi::Value msg = reason.As<Napi::Object>().Get("message");
      if (msg.IsString()) text = msg.As<Napi::String>().Utf8Value();
    }
    state->Finish(false, text);
  };
  auto take = [state, fail_with](Napi::Env env, Napi::Value value) {
    std::string why;
    if (state->take_result(env, value, &why)) {
      state->Finish(true, "");
    } else {
      if (env.IsExceptionPending()) {
        fail_with(env, env.GetAndClearPendingException().Value());
      } else {
        fail_with(env, Napi::TypeError::New(env, why).Value());
      }
    }
  };
  std::vector<napi_value> args = state->make_args(env);
  Napi::Value result = fn.Call(args);
  if (env.IsExceptionPending()) {
    fail_with(env, env.GetAndClearPendingException().Value());
    return;
  }
  if (result.IsPromise() || (result.IsObject() && result.As<Napi::Object>().Get("then").IsFunction())) {
    Napi::Function then = result.As<Napi::Object>().Get("then").As<Napi::Function>();
    Napi::Function on_ok =
        Napi::Function::New(env, [take](const Napi::CallbackInfo& info) { take(info.Env(), info[0]); });
    Napi::Function on_err =
        Napi::Function::New(env, [fail_with](const Napi::CallbackInfo& info) { fail_with(info.Env(), info[0]); });
    then.Call(result, {on_ok, on_err});
    if (env.IsExceptionPending()) fail_with(env, env.GetAndClearPendingException().Value());
    return;
  }
  take(env, result);
}

bool JsCall::Invoke(MakeArgs make_args, TakeResult take_result, uint32_t timeout_ms) {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->done = false;
    state_->ok = false;
    state_->error.clear();
    state_->make_args = std::move(make_args);
    state_->take_result = std::move(take_result);
    if (state_->cancelled) {
      state_->error = "cancelled";
      return false;
    }
  }
  auto* data = new std::shared_ptr<State>(state_);
  if (tsfn_.BlockingCall(data, CallJs) != napi_ok) {
    delete data;
    state_->error = "the JS environment is gone";
    return false;
  }
  std::unique_lock<std::mutex> lock(state_->mutex);
  auto ready = [this] { return state_->done || state_->cancelled; };
  if (timeout_ms > 0) {
    if (!state_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready)) {
      state_->error = "the callback did not answer within " + std::to_string(timeout_ms) + " ms";
      return false;
    }
  } else {
    state_->cv.wait(lock, ready);
  }
  if (!state_->done) {
    state_->error = "cancelled";
    return false;
  }
  return state_->ok;
}

}  // namespace node_libssh2
