#include "scheduler.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "errors.h"

namespace node_libssh2 {

bool Op::Fatal(int rc) const {
  // LIBSSH2_ERROR_SOCKET_NONE (-1) is not here: libssh2 also returns a bare -1 for local
  // failures (a hostbased signature, a channel request reply mix-up); ops that know better
  // override Fatal().
  switch (rc) {
    case LIBSSH2_ERROR_BANNER_RECV:
    case LIBSSH2_ERROR_BANNER_SEND:
    case LIBSSH2_ERROR_INVALID_MAC:
    case LIBSSH2_ERROR_KEX_FAILURE:
    case LIBSSH2_ERROR_SOCKET_SEND:
    case LIBSSH2_ERROR_SOCKET_RECV:
    case LIBSSH2_ERROR_SOCKET_DISCONNECT:
    case LIBSSH2_ERROR_SOCKET_TIMEOUT:
    case LIBSSH2_ERROR_PROTO:
    case LIBSSH2_ERROR_ENCRYPT:
    case LIBSSH2_ERROR_DECRYPT:
    case LIBSSH2_ERROR_MAC_FAILURE:
    case LIBSSH2_ERROR_HOSTKEY_INIT:
    case LIBSSH2_ERROR_HOSTKEY_SIGN:
    case LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE:
    case LIBSSH2_ERROR_RANDGEN:
    case LIBSSH2_ERROR_ALGO_UNSUPPORTED:
    case LIBSSH2_ERROR_BAD_SOCKET:
    case LIBSSH2_ERROR_TIMEOUT:
      return true;
    default:
      return false;
  }
}

struct Scheduler::Work {
  Scheduler* self;
  Op* op;
  napi_async_work work = nullptr;
};

namespace {

// Runs one Step() and records what the main thread needs afterwards. Any thread.
void RunStep(Op* op, LIBSSH2_SESSION* session, int* rc, std::string* message, bool* want_write,
             bool* blocked_out) {
  *rc = op->Step(session);
  if (*rc == LIBSSH2_ERROR_EAGAIN) {
    int bd = libssh2_session_block_directions(session);
    // bd == 0 after EAGAIN happens on the "address is different" path (another op holds the
    // half-sent packet): poll both directions (PITFALLS 12), but this op does not own it.
    *blocked_out = (bd & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
    *want_write = bd == 0 || *blocked_out;
  } else if (*rc < 0) {
    char* msg = nullptr;
    int len = 0;
    if (libssh2_session_last_errno(session) == *rc) {
      libssh2_session_last_error(session, &msg, &len, 0);
      if (msg != nullptr) message->assign(msg, static_cast<size_t>(len));
    }
  }
}

}  // namespace

Scheduler::Scheduler(Napi::Env env, LIBSSH2_SESSION* session, SchedulerOwner* owner)
    : env_(env), session_(session), owner_(owner), async_context_(env, "libssh2:Session") {
  napi_get_uv_event_loop(env, &loop_);
}

Scheduler::~Scheduler() = default;

bool Scheduler::AttachSocket(int fd) {
  if (poll_ != nullptr) return false;
  poll_ = new uv_poll_t;
  if (uv_poll_init_socket(loop_, poll_, fd) != 0) {
    delete poll_;
    poll_ = nullptr;
    return false;
  }
  poll_->data = this;
  fd_ = fd;
  if (!ref_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return true;
}

void Scheduler::DetachSocket() {
  if (poll_ == nullptr) return;
  uv_poll_stop(poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  poll_ = nullptr;
  poll_events_ = 0;
  fd_ = -1;
}

void Scheduler::Destroy() {
  destroyed_ = true;
  DetachSocket();
  if (keep_alive_ != nullptr) SetRef(false);
  if (later_ != nullptr) {
    later_->data = nullptr;
    uv_timer_stop(later_);
    uv_close(reinterpret_cast<uv_handle_t*>(later_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    later_ = nullptr;
  }
  // Ops still queued belong to a session torn down with its environment: drop them. The one a
  // worker still runs is freed by CompleteWork, which then deletes this object.
  std::vector<Op*> ops(queue_.begin(), queue_.end());
  for (Op* op : ops) {
    if (op != worker_op_) Remove(op);
  }
  if (!worker_busy_) delete this;
}

Napi::Value Scheduler::close_error(Napi::Env env) const {
  if (close_error_.IsEmpty()) return env.Undefined();
  return close_error_.Value();
}

void Scheduler::SetRef(bool ref) {
  ref_ = ref;
  if (ref && keep_alive_ == nullptr) {
    keep_alive_ = new uv_async_t;
    uv_async_init(loop_, keep_alive_, nullptr);
  } else if (!ref && keep_alive_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(keep_alive_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    keep_alive_ = nullptr;
  }
  if (poll_ != nullptr) {
    if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  for (Op* op : queue_) {
    if (op->timer_ == nullptr) continue;
    if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(op->timer_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(op->timer_));
  }
}

Napi::Value Scheduler::Enqueue(std::unique_ptr<Op> owned, uint32_t timeout_ms) {
  Napi::Env env = env_;
  if (closed_ && (owned->flags() & Op::kTeardown) == 0) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(close_error(env));
    return d.Promise();
  }
  Op* op = owned.release();
  op->deferred_ = new Napi::Promise::Deferred(env);
  op->timeout_ms_ = timeout_ms;
  op->scheduler_ = this;
  Napi::Value promise = op->deferred_->Promise();
  queue_.push_back(op);
  live_.insert(op);
  if (queue_.size() == 1) owner_->OnBusy(true);
  StartTimer(op);
  Pump();
  return promise;
}

void Scheduler::EnqueueDetached(std::unique_ptr<Op> owned, uint32_t timeout_ms) {
  Op* op = owned.release();
  op->scheduler_ = this;
  op->timeout_ms_ = timeout_ms;
  queue_.push_back(op);
  live_.insert(op);
  if (queue_.size() == 1) owner_->OnBusy(true);
  StartTimer(op);
  if (later_ == nullptr) {
    later_ = new uv_timer_t;
    uv_timer_init(loop_, later_);
    later_->data = this;
  }
  uv_timer_start(later_, [](uv_timer_t* h) {
    auto* self = static_cast<Scheduler*>(h->data);
    if (self != nullptr) self->PumpFromLoop();
  }, 0, 0);
}

void Scheduler::Wake(Op* op) {
  if (live_.count(op) == 0) return;
  op->waiting_js_ = false;
  op->parked_ = false;
  Pump();
}

void Scheduler::Pump() {
  if (destroyed_) return;
  if (pumping_) {
    again_ = true;
    return;
  }
  if (worker_busy_) return;
  pumping_ = true;
  do {
    again_ = false;
    bool progressed = false;
    bool dispatched = false;
    RunOnce(&progressed, &dispatched);
    if (dispatched) break;
    if (progressed) again_ = true;  // after any completion, retry every parked op (PITFALLS 14)
  } while (again_ && !worker_busy_ && !destroyed_);
  pumping_ = false;
  if (destroyed_) return;
  owner_->AfterSteps();
  UpdatePoll();
}

void Scheduler::PumpFromLoop() {
  Napi::HandleScope scope(env_);
  Napi::CallbackScope callback_scope(env_, async_context_);
  Pump();
}

void Scheduler::RunOnce(bool* progressed, bool* dispatched) {
  // Only the oldest op of a gate may step (FIFO per libssh2 state machine): one pass in queue
  // order finds the gate heads. Ops unblocked by a completion step in the next pass.
  std::vector<Op*> order;
  order.reserve(queue_.size());
  std::unordered_set<const void*> gates;
  for (Op* op : queue_) {
    bool behind = (op->gate() != nullptr && gates.count(op->gate()) != 0) ||
                  (op->gate2() != nullptr && gates.count(op->gate2()) != 0);
    if (op->gate() != nullptr) gates.insert(op->gate());
    if (op->gate2() != nullptr) gates.insert(op->gate2());
    if (!behind) order.push_back(op);
  }
  // The op that left a partial packet behind is retried first (PITFALLS 1 and 4).
  if (send_owner_ != nullptr) {
    auto it = std::find(order.begin(), order.end(), send_owner_);
    if (it != order.end()) std::rotate(order.begin(), it, it + 1);
  }
  for (Op* op : order) {
    if (live_.count(op) == 0) continue;  // completed meanwhile
    // A parked op waits for the socket (or JS); it steps again after readiness or after any
    // other op completed (UnparkAll), never in a busy loop.
    if (op->waiting_js_ || op->parked_ || !op->Ready()) continue;
    if (closed_ && (op->flags() & Op::kTeardown) == 0) continue;
    op->started_ = true;
    if (op->flags() & Op::kHeavy) {
      worker_busy_ = true;
      worker_op_ = op;
      if (poll_ != nullptr && poll_events_ != 0) {
        uv_poll_stop(poll_);
        poll_events_ = 0;
      }
      auto* work = new Work{this, op};
      napi_value name;
      napi_create_string_utf8(env_, op->fn(), NAPI_AUTO_LENGTH, &name);
      napi_create_async_work(env_, nullptr, name, ExecuteWork, CompleteWork, work, &work->work);
      napi_queue_async_work(env_, work->work);
      *dispatched = true;
      return;
    }
    size_t before = queue_.size();
    RunStep(op, session_, &op->rc_, &op->error_message_, &op->want_write_, &op->blocked_out_);
    AfterStep(op);
    if (queue_.size() < before) *progressed = true;
  }
}

void Scheduler::ExecuteWork(napi_env, void* data) {
  auto* work = static_cast<Work*>(data);
  Op* op = work->op;
  RunStep(op, work->self->session_, &op->rc_, &op->error_message_, &op->want_write_, &op->blocked_out_);
}

void Scheduler::CompleteWork(napi_env env, napi_status, void* data) {
  auto* work = static_cast<Work*>(data);
  Scheduler* self = work->self;
  Op* op = work->op;
  napi_delete_async_work(env, work->work);
  delete work;
  self->worker_busy_ = false;
  self->worker_op_ = nullptr;
  if (self->destroyed_) {
    self->Remove(op);
    if (self->queue_.empty()) delete self;
    return;
  }
  // napi runs this callback inside a handle scope and callback scope.
  self->AfterStep(op);
  self->Pump();
}

void Scheduler::AfterStep(Op* op) {
  int rc = op->rc_;
  if (!op->cancel_error_.IsEmpty()) {
    Reject(op, op->cancel_error_.Value());
    return;
  }
  if (rc == LIBSSH2_ERROR_EAGAIN && !op->waiting_js_ && closed_ && (op->flags() & Op::kTeardown) == 0) {
    Reject(op, close_error(env_));
    return;
  }
  if (rc == LIBSSH2_ERROR_EAGAIN) {
    op->parked_ = true;
    if (!op->waiting_js_ && op->blocked_out_) send_owner_ = op;
    else if (send_owner_ == op) send_owner_ = nullptr;
    if (op->timed_out_) TimedOut(op);
    return;
  }
  if (send_owner_ == op) send_owner_ = nullptr;
  if (rc >= 0) {
    Complete(op);
    return;
  }
  Napi::Value error = op->JsError(env_);
  if (error.IsEmpty() || error.IsUndefined()) {
    error = MakeError(env_, rc, op->fn(), nullptr, op->sftp_status_,
                      op->error_message_.empty() ? nullptr : op->error_message_.c_str());
  }
  bool fatal = op->Fatal(rc) && (op->flags() & Op::kTeardown) == 0;
  if (env_.IsExceptionPending()) env_.GetAndClearPendingException();
  Reject(op, error);
  if (fatal) Fail(error);
}

void Scheduler::Complete(Op* op) {
  Napi::Value value = op->Result(env_, op->rc_);
  if (env_.IsExceptionPending()) {
    Napi::Value error = env_.GetAndClearPendingException().Value();
    if (op->deferred_ != nullptr) op->deferred_->Reject(error);
  } else if (op->deferred_ != nullptr) {
    op->deferred_->Resolve(value);
  }
  Remove(op);
}

void Scheduler::Reject(Op* op, Napi::Value error) {
  if (op->deferred_ != nullptr) op->deferred_->Reject(error);
  Remove(op);
}

void Scheduler::Remove(Op* op) {
  auto it = std::find(queue_.begin(), queue_.end(), op);
  if (it != queue_.end()) queue_.erase(it);
  live_.erase(op);
  if (send_owner_ == op) send_owner_ = nullptr;
  if (op->timer_ != nullptr) {
    op->timer_->data = nullptr;
    uv_timer_stop(op->timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(op->timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    op->timer_ = nullptr;
  }
  delete op->deferred_;
  delete op;
  // After any op leaves the queue every parked op steps once more: libssh2 may already hold what
  // it waits for in its own buffers (PITFALLS 14).
  UnparkAll();
  if (queue_.empty() && !destroyed_) owner_->OnBusy(false);
}

void Scheduler::UpdatePoll() {
  if (poll_ == nullptr) return;
  int events = 0;
  if (!closed_ && !worker_busy_) {
    // Every op that has stepped and is still queued waits on the socket (unless on JS).
    for (Op* op : queue_) {
      if (!op->started_ || op->waiting_js_ || !op->Ready()) continue;
      events |= UV_READABLE;
      if (op->want_write_) events |= UV_WRITABLE;
    }
  }
  if (events & UV_READABLE) {
    // Acknowledge what arrives at once instead of after the 40 ms delayed-ACK timer: sshd's
    // Nagle holds small replies (the first CHANNEL_OPEN_CONFIRMATION after auth) until its
    // previous segment is acknowledged. Linux clears the flag by itself, so set it before every
    // wait (bench/README.md: W1 per-op 89 -> 45 ms). Fails harmlessly on a socketpair.
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }
  if (events == poll_events_) return;
  poll_events_ = events;
  if (events == 0) uv_poll_stop(poll_);
  else uv_poll_start(poll_, events, OnPoll);
}

void Scheduler::OnPoll(uv_poll_t* handle, int, int) {
  auto* self = static_cast<Scheduler*>(handle->data);
  if (self == nullptr) return;
  self->UnparkAll();
  self->PumpFromLoop();
}

void Scheduler::UnparkAll() {
  for (Op* op : queue_) op->parked_ = false;
}

void Scheduler::StartTimer(Op* op) {
  if (op->timeout_ms_ == 0) return;
  op->timer_ = new uv_timer_t;
  uv_timer_init(loop_, op->timer_);
  op->timer_->data = op;
  if (!ref_) uv_unref(reinterpret_cast<uv_handle_t*>(op->timer_));
  uv_timer_start(op->timer_, OnTimer, op->timeout_ms_, 0);
}

void Scheduler::OnTimer(uv_timer_t* handle) {
  auto* op = static_cast<Op*>(handle->data);
  if (op == nullptr) return;
  Scheduler* self = op->scheduler_;
  Napi::HandleScope scope(self->env_);
  Napi::CallbackScope callback_scope(self->env_, self->async_context_);
  if (op == self->worker_op_) {
    op->timed_out_ = true;  // decided when the worker returns
    return;
  }
  self->TimedOut(op);
  self->Pump();
}

void Scheduler::TimedOut(Op* op) {
  op->timed_out_ = false;
  if (op->Expire(op == send_owner_)) {  // the op finishes on its own (teardown switches to dead I/O)
    op->parked_ = false;
    return;
  }
  std::string text = std::string(op->fn()) + " timed out after " + std::to_string(op->timeout_ms_) + " ms";
  Napi::Value error = MakeError(env_, LIBSSH2_ERROR_TIMEOUT, op->fn(), nullptr, -1, text.c_str());
  // An op that never stepped, or a parked op that holds no half-sent packet and no session
  // state (a read), is dropped alone; anything else would leave libssh2 mid-state: close.
  bool clean = !op->started_ || ((op->flags() & Op::kAbandonable) != 0 && send_owner_ != op);
  Reject(op, error);
  if (!clean) Fail(error);
}

void Scheduler::Fail(Napi::Value error) {
  if (closed_) return;
  closed_ = true;
  close_error_ = Napi::Reference<Napi::Value>::New(error, 1);
  owner_->OnClosed();
  RejectAll(error);
}

void Scheduler::RejectFor(const void* target, Napi::Value error) {
  std::vector<Op*> ops(queue_.begin(), queue_.end());
  for (Op* op : ops) {
    if (live_.count(op) == 0 || op->target() != target || op == worker_op_ || op == send_owner_) continue;
    if (op->started_ && (op->flags() & Op::kAbandonable) == 0) continue;
    if ((op->flags() & Op::kTeardown) != 0) continue;
    Reject(op, error);
  }
  UpdatePoll();
}

void Scheduler::RejectAll(Napi::Value error) {
  std::vector<Op*> ops(queue_.begin(), queue_.end());
  for (Op* op : ops) {
    if ((op->flags() & Op::kTeardown) != 0) continue;
    if (op == worker_op_) {  // rejected when the pool thread hands it back
      op->cancel_error_ = Napi::Reference<Napi::Value>::New(error, 1);
      op->Cancel();
      continue;
    }
    if (live_.count(op) == 0) continue;
    Reject(op, error);
  }
  UpdatePoll();
}

}  // namespace node_libssh2
