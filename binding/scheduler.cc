#include "scheduler.h"

#include <openssl/err.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
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
    case LIBSSH2_ERROR_OUT_OF_BOUNDARY:  // a packet length from garbage: the transport is out of sync
    case LIBSSH2_ERROR_TIMEOUT: return true;
    default: return false;
  }
}

struct Scheduler::Work {
  Scheduler* self;
  Op* op;
  int fd;  // the socket, for the readiness check between steps (-1: none)
  napi_async_work work = nullptr;
};

namespace {
// Steps one pool job may run back to back while the socket is already ready (ExecuteWork).
constexpr int kPoolSteps = 32;
}  // namespace

namespace {

// Runs one Step() and records what the main thread needs afterwards. Any thread.
void RunStep(Op* op, LIBSSH2_SESSION* session, int* rc, std::string* message, bool* want_write, bool* blocked_out) {
  if (session == nullptr) {  // freed (Scheduler::SessionFreed): teardown is done, anything else fails
    *blocked_out = false;
    *want_write = false;
    if ((op->flags() & Op::kTeardown) != 0) {
      *rc = 0;
    } else {
      *rc = LIBSSH2_ERROR_SOCKET_DISCONNECT;
      message->assign("the session was freed");
    }
    return;
  }
  bool pending_before = libssh2_session_send_pending(session) != 0;
  bool was_owner = *blocked_out;
  *rc = op->Step(session);
  // libssh2 may leave errors on this thread's OpenSSL error queue (a failed decode while
  // loading a key, ...). Node's own crypto on the main thread would then fail spuriously
  // ("DECODER routines::unsupported" from crypto.createPrivateKey): clear them.
  ERR_clear_error();
  if (*rc == LIBSSH2_ERROR_EAGAIN && op->PollEvents() >= 0) {
    *blocked_out = false;
    *want_write = (op->PollEvents() & UV_WRITABLE) != 0;
  } else if (*rc == LIBSSH2_ERROR_EAGAIN) {
    // The op owns a half-sent packet when it started it, or owned it and it is still not out;
    // an op that found another's packet pending got "Address is different" (PITFALLS 1). The
    // block directions cannot tell (they are assigned, or left unset, on some paths: 12, 13).
    bool pending = libssh2_session_send_pending(session) != 0;
    *blocked_out = pending && (!pending_before || was_owner);
    int bd = libssh2_session_block_directions(session);
    *want_write = bd == 0 || (bd & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0 || pending;
  } else if (*rc < 0) {
    *blocked_out = false;
    char* msg = nullptr;
    int len = 0;
    if (libssh2_session_last_errno(session) == *rc) {
      libssh2_session_last_error(session, &msg, &len, 0);
      if (msg != nullptr) message->assign(msg, static_cast<size_t>(len));
    }
  } else {
    *blocked_out = false;
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
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  tcp_nodelay_ = getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0 && nodelay != 0;
  if (!ref_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return true;
}

void Scheduler::DetachSocket() {
  if (poll_ == nullptr) return;
  uv_poll_stop(poll_);
  SetLingering(false);
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
  if (deadlines_ != nullptr) {
    deadlines_->data = nullptr;
    uv_timer_stop(deadlines_);
    uv_close(reinterpret_cast<uv_handle_t*>(deadlines_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    deadlines_ = nullptr;
  }
  nb_.clear();
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
    uv_close(reinterpret_cast<uv_handle_t*>(keep_alive_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    keep_alive_ = nullptr;
  }
  if (poll_ != nullptr) {
    if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  if (deadlines_ != nullptr) {
    if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(deadlines_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(deadlines_));
  }
}

Napi::Value Scheduler::Enqueue(std::unique_ptr<Op> owned, uint32_t timeout_ms) {
  Napi::Env env = env_;
  if (!nb_sig_.IsEmpty()) return RunNb(std::move(owned));
  if (closed_ && (owned->flags() & Op::kTeardown) == 0) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(close_error(env));
    return d.Promise();
  }
  if (nb_mode_ && (owned->flags() & (Op::kTeardown | Op::kSocketWait | Op::kBothModes)) == 0) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(MakeBadUse(env, std::string(owned->fn()) + ": the session is in non-blocking mode; use the …Nb() method",
                        owned->fn()));
    return d.Promise();
  }
  if (!nb_.empty() && (owned->flags() & (Op::kTeardown | Op::kBothModes)) != 0) AdoptNb(owned.get());
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
  uv_timer_start(
      later_,
      [](uv_timer_t* h) {
        auto* self = static_cast<Scheduler*>(h->data);
        if (self != nullptr) self->PumpFromLoop();
      },
      0, 0);
}

void Scheduler::Wake(Op* op) {
  // `op` is alive (callers drop their pointer in its destructor): queued, or a pending Nb call
  // whose waitSocket() waiters must look again.
  op->waiting_js_ = false;
  op->parked_ = false;
  if (live_.count(op) == 0) WakeWaiters();
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
  // Member containers, cleared not freed: no allocation per pass once warm.
  std::vector<Op*>& order = order_;
  std::unordered_set<const void*>& gates = gates_;
  order.clear();
  gates.clear();
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
    // An op's first step reads for real: it may complete without waiting, taking what arrived
    // while no poll watched (keepaliveSend takes in the replies to earlier keepalives).
    if (!op->started_) owner_->SocketReadable();
    op->started_ = true;
    if (op->flags() & Op::kHeavy) {
      worker_busy_ = true;
      worker_op_ = op;
      if (poll_ != nullptr && poll_events_ != 0) {
        uv_poll_stop(poll_);
        poll_events_ = 0;
      }
      SetLingering(false);
      linger_blocked_ = false;
      auto* work = new Work{this, op, fd_};
      napi_value name;
      napi_create_string_utf8(env_, op->fn(), NAPI_AUTO_LENGTH, &name);
      napi_create_async_work(env_, nullptr, name, ExecuteWork, CompleteWork, work, &work->work);
      napi_queue_async_work(env_, work->work);
      *dispatched = true;
      return;
    }
    size_t before = queue_.size();
    linger_blocked_ = false;  // this step reads what the socket holds
    stepping_ = op;
    owner_->TrustDrained(true);
    RunStep(op, session_, &op->rc_, &op->error_message_, &op->want_write_, &op->blocked_out_);
    owner_->TrustDrained(false);
    stepping_ = nullptr;
    AfterStep(op);
    if (queue_.size() < before) *progressed = true;
  }
}

void Scheduler::ExecuteWork(napi_env, void* data) {
  auto* work = static_cast<Work*>(data);
  Op* op = work->op;
  // A bulk step that ran out of input often finds more already arrived by the time it is done
  // (sshd streams while we decrypt): step again here, instead of a round trip through the main
  // thread's poll and a new pool job per step. poll(2) with timeout 0 only looks: this thread
  // never waits on the network. Bounded, and never for an op that waits on JS.
  // Its recv calls are all real (no TrustDrained): a bulk step decrypts for a while between two
  // reads, and the second one usually finds more.
  for (int i = 0; i < kPoolSteps; i++) {
    RunStep(op, work->self->session_, &op->rc_, &op->error_message_, &op->want_write_, &op->blocked_out_);
    if (op->rc_ != LIBSSH2_ERROR_EAGAIN || op->waiting_js() || work->fd < 0) break;
    struct pollfd p = {work->fd, static_cast<short>(POLLIN | (op->blocked_out_ ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, 0) <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) break;
  }
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
  // A queued step (an async teardown in non-blocking mode, ...) that read from the socket may
  // hold what a waitSocket() waiter waits for, and the drained socket then stays quiet: let the
  // waiters look again, as after an Nb call.
  // Only mark them here (their Pump() just asks for another pass): `op` is not settled yet.
  if ((op->flags() & Op::kSocketWait) == 0 && owner_->Received() != waiters_seen_) {
    waiters_seen_ = owner_->Received();
    bool was_pumping = pumping_;
    pumping_ = true;
    WakeWaiters();
    pumping_ = was_pumping;
  }
  // A step that read from the socket may have queued what other parked ops wait for (a write
  // that drains incoming packets while looking for a WINDOW_ADJUST buffers the channel data a
  // parked read wants): their readiness was consumed on their behalf and the socket may now stay
  // quiet, so they step again. Bounded by the bytes that actually arrive: no busy loop.
  if (owner_->Received() != received_seen_) {
    received_seen_ = owner_->Received();
    UnparkAll();
    if (pumping_) again_ = true;
  }
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
  bool fatal = false;
  Napi::Value error = StepError(op, &fatal);
  Reject(op, error);
  if (fatal) Fail(error);
}

Napi::Value Scheduler::StepError(Op* op, bool* fatal) {
  int rc = op->rc_;
  bool teardown = (op->flags() & Op::kTeardown) != 0;
  *fatal = op->Fatal(rc) && !teardown;
  // The peer is gone (EOF, ECONNRESET, EPIPE), yet libssh2 may report what the failed read
  // became in the call (userauth: PUBLICKEY_UNVERIFIED, "Waiting for USERAUTH response"): any
  // failure is then the lost connection, so the session closes now, not at the next op.
  bool gone = !*fatal && !teardown && owner_->PeerGone();
  Napi::Value error = op->JsError(env_);
  if (error.IsEmpty() || error.IsUndefined()) {
    std::string text = op->error_message_;
    if (gone) text = "the connection was lost (" + (text.empty() ? std::string("no message") : text) + ")";
    error = MakeError(env_, gone ? LIBSSH2_ERROR_SOCKET_DISCONNECT : rc, op->fn(), nullptr,
                      gone ? -1 : op->sftp_status_, text.empty() ? nullptr : text.c_str());
  }
  if (gone) *fatal = true;
  if (env_.IsExceptionPending()) env_.GetAndClearPendingException();
  return error;
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
  if (queue_.empty() && deadlines_ != nullptr && armed_at_ != 0) {  // nothing left to time out
    uv_timer_stop(deadlines_);
    armed_at_ = 0;
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
      if (op->PollEvents() >= 0) {  // waitSocket(): its own directions (none: a JS wake)
        events |= op->PollEvents();
        continue;
      }
      events |= UV_READABLE;
      if (op->want_write_) events |= UV_WRITABLE;
    }
  }
  if ((events & UV_READABLE) && (!tcp_nodelay_ || owner_->TakeAckDue())) {
    // Acknowledge what arrived at once instead of after the 40 ms delayed-ACK timer: sshd's
    // Nagle holds a small reply (the first CHANNEL_OPEN_CONFIRMATION after auth) until its
    // previous segment is acknowledged (bench/README.md: W1 per-op 89 -> 45 ms). The flag sends
    // a pending ACK now and leaves the kernel's ping-pong mode; Linux re-enters it by itself.
    // Only needed when bytes arrived since our last send: a send on a TCP_NODELAY socket
    // carried the ACK, and a flag set before every wait costs a pure ACK per segment received
    // (W6: ~3 extra segments per file). Without TCP_NODELAY a send may be held: every wait.
    // Fails harmlessly on a socketpair.
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }
  // Idle (no op waits on the socket): keep watching for readability instead of stopping, unref'd,
  // so the next op's wait costs no epoll_ctl (a stop and a start were ~5 syscalls per op: W2).
  // Should bytes arrive with no op to take them, OnPoll stops the poll (no busy loop on a
  // level-triggered readiness nobody consumes) until an op steps again.
  bool linger = events == 0 && !closed_ && !worker_busy_ && !linger_blocked_ && poll_events_ != 0;
  if (linger) events = poll_events_ & UV_READABLE;
  SetLingering(linger);
  if (events == poll_events_) return;
  poll_events_ = events;
  if (events == 0) uv_poll_stop(poll_);
  else uv_poll_start(poll_, events, OnPoll);
}

void Scheduler::SetLingering(bool linger) {
  if (linger == lingering_) return;
  lingering_ = linger;
  if (!ref_ || poll_ == nullptr) return;  // unref'd anyway
  if (linger) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  else uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
}

void Scheduler::OnPoll(uv_poll_t* handle, int, int) {
  auto* self = static_cast<Scheduler*>(handle->data);
  if (self == nullptr) return;
  if (self->lingering_) self->linger_blocked_ = true;  // bytes nobody waited for: stop watching
  self->owner_->SocketReadable();
  self->UnparkAll();
  self->PumpFromLoop();
}

void Scheduler::UnparkAll() {
  for (Op* op : queue_) op->parked_ = false;
}

void Scheduler::StartTimer(Op* op) {
  if (op->timeout_ms_ == 0) return;
  op->deadline_ = uv_now(loop_) + op->timeout_ms_;
  ArmDeadline(op->deadline_);
}

void Scheduler::ArmDeadline(uint64_t deadline) {
  if (deadlines_ == nullptr) {
    deadlines_ = new uv_timer_t;
    uv_timer_init(loop_, deadlines_);
    deadlines_->data = this;
    if (!ref_) uv_unref(reinterpret_cast<uv_handle_t*>(deadlines_));
  }
  if (armed_at_ != 0 && armed_at_ <= deadline) return;
  uint64_t now = uv_now(loop_);
  armed_at_ = deadline;
  uv_timer_start(deadlines_, OnDeadline, deadline > now ? deadline - now : 0, 0);
}

void Scheduler::OnDeadline(uv_timer_t* handle) {
  auto* self = static_cast<Scheduler*>(handle->data);
  if (self == nullptr) return;
  self->armed_at_ = 0;
  Napi::HandleScope scope(self->env_);
  Napi::CallbackScope callback_scope(self->env_, self->async_context_);
  uint64_t now = uv_now(self->loop_);
  std::vector<Op*> due;
  uint64_t next = 0;
  for (Op* op : self->queue_) {
    if (op->deadline_ == 0) continue;
    if (op->deadline_ <= now) due.push_back(op);
    else if (next == 0 || op->deadline_ < next) next = op->deadline_;
  }
  for (Op* op : due) {
    if (self->live_.count(op) == 0) continue;  // removed by an earlier one's failure
    op->deadline_ = 0;
    if (op == self->worker_op_) {
      op->timed_out_ = true;  // decided when the worker returns
      continue;
    }
    self->TimedOut(op);
  }
  if (self->destroyed_) return;
  if (next != 0) self->ArmDeadline(next);
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
  // Pending Nb calls are dropped, except one the main thread is stepping (RunNb drops it after).
  for (size_t i = 0; i < nb_.size();) {
    if (nb_[i]->op.get() == stepping_) ++i;
    else nb_.erase(nb_.begin() + static_cast<long>(i));
  }
  owner_->OnClosed();
  RejectAll(error);
}

void Scheduler::RejectFor(const void* target, Napi::Value error) {
  std::vector<Op*> ops(queue_.begin(), queue_.end());
  for (Op* op : ops) {
    if (live_.count(op) == 0 || op->target() != target || op == worker_op_ || op == stepping_ || op == send_owner_)
      continue;
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
    if (live_.count(op) == 0) continue;
    RejectOrCancel(op, error);
  }
  UpdatePoll();
}

void Scheduler::RejectOrCancel(Op* op, Napi::Value error) {
  // A pool thread or the main thread (a JS callback inside its step called here) is running
  // `op`: deleting it would pull it from under that step. It is rejected when the step returns.
  if (op == worker_op_ || op == stepping_) {
    op->cancel_error_ = Napi::Reference<Napi::Value>::New(error, 1);
    op->Cancel();
    return;
  }
  Reject(op, error);
}

// ---- non-blocking mode -------------------------------------------------------------------

namespace {

// `waitSocket()`: no libssh2 call; ready when poll(2) says so (never waits: timeout 0).
class WaitOp : public Op {
 public:
  WaitOp(int fd, int events) : Op("waitSocket", nullptr, kSocketWait | kAbandonable), fd_(fd), events_(events) {}
  int Step(LIBSSH2_SESSION*) override {
    if (expired_) return 0;
    if (woken_) return 1;
    // Never ready within the call: the answer comes from the event loop (uv_poll), so a JS loop
    // of `…Nb()` + `await waitSocket()` lets other I/O run (a Duplex transport's pump, ...).
    if (!armed_) {
      armed_ = true;
      return LIBSSH2_ERROR_EAGAIN;
    }
    struct pollfd p = {
        fd_, static_cast<short>(((events_ & UV_READABLE) ? POLLIN : 0) | ((events_ & UV_WRITABLE) ? POLLOUT : 0)), 0};
    return ::poll(&p, 1, 0) > 0 ? 1 : LIBSSH2_ERROR_EAGAIN;
  }
  Napi::Value Result(Napi::Env env, int rc) override { return Napi::Boolean::New(env, rc == 1); }
  int PollEvents() const override { return events_; }
  bool Expire(bool) override {
    expired_ = true;  // resolves false, as select(2) returns 0
    return true;
  }
  void Wake() { woken_ = true; }

 private:
  int fd_;
  int events_;
  bool expired_ = false;
  bool woken_ = false;
  bool armed_ = false;
};

// Whether two ops use one libssh2 state machine: a shared gate, or (ungated) the same call on
// the same object.
bool SameMachine(const Op* a, const Op* b) {
  const void* ga[2] = {a->gate(), a->gate2()};
  const void* gb[2] = {b->gate(), b->gate2()};
  for (const void* x : ga) {
    for (const void* y : gb) {
      if (x != nullptr && x == y) return true;
    }
  }
  return a->gate() == nullptr && b->gate() == nullptr && a->target() == b->target() &&
         std::strcmp(a->fn(), b->fn()) == 0;
}

bool DeepEqual(Napi::Env env, Napi::Value a, Napi::Value b) {
  AddonData* data = GetAddonData(env);
  if (data->deepEqual.IsEmpty()) return a.StrictEquals(b);
  Napi::Value r = data->deepEqual.Call({a, b});
  if (env.IsExceptionPending()) {
    env.GetAndClearPendingException();
    return false;
  }
  return r.ToBoolean().Value();
}

}  // namespace

void Scheduler::SetNbCall(Napi::Value signature) { nb_sig_ = Napi::Reference<Napi::Value>::New(signature, 1); }

Napi::Value Scheduler::Done(Napi::Value value) {
  if (!nb_sig_.IsEmpty()) return value;
  auto d = Napi::Promise::Deferred::New(env_);
  d.Resolve(value);
  return d.Promise();
}

Napi::Value Scheduler::WaitSocket(uint32_t timeout_ms) {
  if (fd_ < 0 && !closed_) {
    auto d = Napi::Promise::Deferred::New(env_);
    d.Reject(MakeBadUse(env_, "waitSocket: the session has no socket (handshake first)", "waitSocket"));
    return d.Promise();
  }
  // select(2) on libssh2's block directions, as the C examples' waitsocket(); bd 0 (unknown)
  // waits for either (PITFALLS 12), and a half-sent packet always waits for writability.
  // A pending Nb call that waits for JS (a sign callback's Promise) is woken by JS, not the socket.
  bool js = false;
  for (const auto& r : nb_) js = js || r->op->waiting_js();
  int bd = session_ != nullptr ? libssh2_session_block_directions(session_) : 0;
  int events = 0;
  if (bd & LIBSSH2_SESSION_BLOCK_INBOUND) events |= UV_READABLE;
  if (bd & LIBSSH2_SESSION_BLOCK_OUTBOUND) events |= UV_WRITABLE;
  if (send_owner_ != nullptr) events |= UV_WRITABLE;
  for (const auto& r : nb_) {
    if (r->blocked_out && !r->done) events |= UV_WRITABLE;
  }
  if (events == 0 && !js) events = UV_READABLE | UV_WRITABLE;
  waiters_seen_ = owner_->Received();
  return Enqueue(std::make_unique<WaitOp>(fd_, events), timeout_ms);
}

void Scheduler::WakeWaiters() {
  bool any = false;
  for (Op* op : queue_) {
    if ((op->flags() & Op::kSocketWait) == 0) continue;
    static_cast<WaitOp*>(op)->Wake();
    op->parked_ = false;
    any = true;
  }
  if (any) Pump();
}

Scheduler::NbRecord* Scheduler::FindNb(const Op* op) {
  for (const auto& r : nb_) {
    if (SameMachine(r->op.get(), op)) return r.get();
  }
  return nullptr;
}

void Scheduler::DropNb(NbRecord* rec) {
  for (auto it = nb_.begin(); it != nb_.end(); ++it) {
    if (it->get() == rec) {
      nb_.erase(it);  // deletes the op (a TargetOp releases its object)
      return;
    }
  }
}

void Scheduler::DropNbFor(const Op* teardown, const NbRecord* keep) {
  for (size_t i = 0; i < nb_.size();) {
    NbRecord* r = nb_[i].get();
    bool owns_send = r->blocked_out && !r->done;
    if (r != keep && !owns_send && (teardown->target() == nullptr || r->op->target() == teardown->target())) {
      nb_.erase(nb_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
}

void Scheduler::AdoptNb(const Op* teardown) {
  DropNbFor(teardown, nullptr);
  for (size_t i = 0; i < nb_.size();) {
    NbRecord* r = nb_[i].get();
    bool owner = r->blocked_out && !r->done;
    // Only the owner can finish a half-sent packet (PITFALLS 1): it goes first. A call left
    // mid-EAGAIN on the same state machine (another handle of the same SFTP object) must finish
    // before the new op starts (PITFALLS 9): it goes ahead of it. Both run detached.
    if (!owner && (r->done || !SameMachine(r->op.get(), teardown))) {
      ++i;
      continue;
    }
    Op* op = r->op.release();
    nb_.erase(nb_.begin() + static_cast<long>(i));
    op->scheduler_ = this;
    op->started_ = true;
    op->parked_ = false;
    if (owner) {
      op->want_write_ = true;
      op->blocked_out_ = true;
      queue_.push_front(op);
      send_owner_ = op;
    } else {
      queue_.push_back(op);
    }
    live_.insert(op);
    if (queue_.size() == 1) owner_->OnBusy(true);
  }
}

Napi::Value Scheduler::NbOutcome(Op* op) {
  Napi::Env env = env_;
  int rc = op->rc_;
  if (rc >= 0) return op->Result(env, rc);  // may leave an exception pending: thrown to JS
  bool fatal = false;
  Napi::Value error = StepError(op, &fatal);
  if (fatal) Fail(error);
  napi_throw(env, error);
  return Napi::Value();
}

Napi::Value Scheduler::RunNb(std::unique_ptr<Op> owned) {
  Napi::Env env = env_;
  Napi::Value signature = nb_sig_.Value();
  nb_sig_.Reset();
  const char* fn = owned->fn();
  Napi::Value eagain = Napi::Number::New(env, LIBSSH2_ERROR_EAGAIN);
  if (!nb_mode_) {
    ThrowBadUse(env, std::string(fn) + ": …Nb() methods need setBlocking(false)", fn);
    return Napi::Value();
  }
  if (closed_ && (owned->flags() & Op::kTeardown) == 0) {
    napi_throw(env, close_error(env));
    return Napi::Value();
  }
  if (worker_busy_) return eagain;  // a teardown step owns the session on a pool thread
  for (Op* q : queue_) {
    if ((q->flags() & Op::kSocketWait) == 0 && SameMachine(q, owned.get())) {
      ThrowBadUse(env, std::string(fn) + ": an async call on the same object is still pending", fn);
      return Napi::Value();
    }
  }
  NbRecord* rec = FindNb(owned.get());
  bool fresh = rec == nullptr;
  if (!fresh) {
    if (std::strcmp(rec->op->fn(), fn) != 0 || rec->op->target() != owned->target() ||
        !DeepEqual(env, rec->signature.Value(), signature)) {
      ThrowBadUse(env,
                  std::string(rec->op->fn()) +
                      " returned LIBSSH2_ERROR_EAGAIN: repeat that call with identical "
                      "arguments before calling " +
                      fn + " on the same object",
                  fn);
      return Napi::Value();
    }
    owned.reset();  // the pending op holds libssh2's state and the buffers
  } else {
    auto r = std::make_unique<NbRecord>();
    r->op = std::move(owned);
    r->signature = Napi::Reference<Napi::Value>::New(signature, 1);
    rec = r.get();
    nb_.push_back(std::move(r));
  }
  Op* op = rec->op.get();
  op->scheduler_ = this;
  if ((op->flags() & Op::kTeardown) != 0) DropNbFor(op, rec);
  auto finish = [&](Napi::Value out) {
    if (owner_->Received() != waiters_seen_) {
      waiters_seen_ = owner_->Received();
      WakeWaiters();  // libssh2 may have read what a waiter waits for into its buffers
    }
    owner_->AfterSteps();
    return out;
  };
  // A half-sent packet of another pending call goes out first (PITFALLS 1): drive that call.
  // This call then runs either way, as in C: it may read (libssh2 drains incoming packets
  // first), and if it must send while the packet is still out it gets EAGAIN and is repeated.
  for (const auto& r : nb_) {
    NbRecord* other = r.get();
    if (other == rec || !other->blocked_out || other->done) continue;
    stepping_ = other->op.get();
    RunStep(other->op.get(), session_, &other->op->rc_, &other->op->error_message_, &other->op->want_write_,
            &other->op->blocked_out_);
    stepping_ = nullptr;
    if (closed_) {  // a JS callback inside that step closed the session (every other record is gone)
      DropNb(other);
      napi_throw(env, close_error(env));
      return Napi::Value();
    }
    if (other->op->rc_ == LIBSSH2_ERROR_EAGAIN) {
      other->blocked_out = other->op->blocked_out_;
    } else {
      other->done = true;  // its result waits for its repeat call
      other->blocked_out = false;
      if (other->op->rc_ < 0 && other->op->Fatal(other->op->rc_)) {
        Napi::Value error = MakeError(env, other->op->rc_, other->op->fn(), nullptr, -1,
                                      other->op->error_message_.empty() ? nullptr : other->op->error_message_.c_str());
        Fail(error);  // drops every record
        napi_throw(env, error);
        return Napi::Value();
      }
    }
    break;
  }
  if (rec->done) {  // finished while another call drove its half-sent packet
    std::unique_ptr<Op> keep = std::move(rec->op);
    DropNb(rec);
    return finish(NbOutcome(keep.get()));
  }
  if (op->waiting_js() || !op->Ready()) return finish(eagain);  // a sign Promise, or other ops first
  op->started_ = true;
  stepping_ = op;
  RunStep(op, session_, &op->rc_, &op->error_message_, &op->want_write_, &op->blocked_out_);
  stepping_ = nullptr;
  if (closed_ && (op->flags() & Op::kTeardown) == 0) {  // a JS callback inside the step closed the session
    DropNb(rec);
    napi_throw(env, close_error(env));
    return Napi::Value();
  }
  if (op->rc_ == LIBSSH2_ERROR_EAGAIN) {
    rec->blocked_out = op->blocked_out_ && !op->waiting_js();
    return finish(eagain);
  }
  std::unique_ptr<Op> keep = std::move(rec->op);
  DropNb(rec);
  return finish(NbOutcome(keep.get()));
}

}  // namespace node_libssh2
