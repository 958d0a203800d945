// Calling a JS function from a pool thread and waiting for its answer, which may be a Promise.
// This is the one documented exception to "no thread waits": a keyboard-interactive responder
// runs inside libssh2's callback, which cannot return EAGAIN, so the step that reaches it runs
// on a pool thread that waits for JS (bounded by the op's timeout, cancelled by teardown).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.h"

namespace node_libssh2 {

class JsCall {
 public:
  // Main thread. `fn` is called with the arguments MakeArgs builds, on the main thread.
  JsCall(Napi::Env env, Napi::Function fn, const char* name);
  ~JsCall();  // main thread

  using MakeArgs = std::function<std::vector<napi_value>(Napi::Env)>;
  // Main thread: turns the JS answer into C data; returns false (and sets error) if unusable.
  using TakeResult = std::function<bool(Napi::Env, Napi::Value, std::string* error)>;

  // Pool thread: calls the function and waits for the (awaited) answer. Returns false when the
  // call threw/rejected, the answer was unusable, the wait timed out (timeout_ms > 0) or the
  // call was cancelled; then error() says why (and js_error() holds a JS error, if any).
  bool Invoke(MakeArgs make_args, TakeResult take_result, uint32_t timeout_ms);
  // Any thread: wake a waiting Invoke, which returns false.
  void Cancel();

  const std::string& error() const { return state_->error; }
  // Main thread: the JS exception or rejection reason of the last failed call, if any.
  Napi::Value js_error(Napi::Env env) const;

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    bool ok = false;
    bool cancelled = false;
    std::string error;
    MakeArgs make_args;
    TakeResult take_result;
    Napi::Reference<Napi::Value> js_error;
    void Finish(bool success, const std::string& why);
  };
  static void CallJs(Napi::Env env, Napi::Function fn, std::shared_ptr<State>* data);

  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<State> state_;
};

}  // namespace node_libssh2
