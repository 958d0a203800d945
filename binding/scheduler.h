// The per-session op queue (DESIGN.md "Execution model", LIBSSH2-PITFALLS.md "Condensed rules").
//
// libssh2 always runs non-blocking. Every async method pushes an Op; an Op's Step() makes one
// non-blocking libssh2 attempt. Small steps run inline on the main thread; CPU-heavy ones (key
// exchange, public-key signatures, bulk transfer) run on the libuv threadpool, one thread owning
// the session at a time. LIBSSH2_ERROR_EAGAIN parks the op; uv_poll on the session's socket
// (readable, plus writable when libssh2 blocks outbound or reports no direction) wakes the queue,
// and after any completion every parked op is retried before polling again. Ops sharing a gate
// (one libssh2 state machine: session-global, channel setup, one SFTP object) run one at a time
// in FIFO order. No thread ever waits on the network.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "common.h"

namespace node_libssh2 {

class Scheduler;

class Op {
 public:
  enum Flags : unsigned {
    kHeavy = 1u << 0,        // Step() runs on the threadpool (CPU work, never network waits)
    kAbandonable = 1u << 1,  // a parked op that may be dropped on timeout (a read)
    kTeardown = 1u << 2,     // runs on a closed session too (disconnect, free)
    kSocketWait = 1u << 3,   // waitSocket(): no libssh2 call, allowed in non-blocking mode
    kBothModes = 1u << 4,    // a closing call (channel close, handle close, forward cancel): async works in
                             // non-blocking mode too (DESIGN.md "Modes")
  };

  Op(const char* fn, const void* gate, unsigned flags) : fn_(fn), gate_(gate), flags_(flags) {}
  virtual ~Op() = default;
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  // One non-blocking libssh2 attempt. Returns >= 0 when done, LIBSSH2_ERROR_EAGAIN to park, any
  // other negative code to fail. Runs on the main thread or a pool thread: no N-API here.
  virtual int Step(LIBSSH2_SESSION* session) = 0;
  // Main thread, after Step() returned >= 0: the value the promise resolves to.
  virtual Napi::Value Result(Napi::Env env, int rc) { return env.Undefined(); }
  // Main thread: true when an EAGAIN from Step() waits for something other than the socket
  // (a JS promise): the op is then skipped until Wake() is called.
  bool waiting_js() const { return waiting_js_; }
  // The object the op works on (a channel), for Scheduler::RejectFor.
  virtual const void* target() const { return nullptr; }
  // Main thread: false while the op must not step yet (waits for other ops to finish).
  virtual bool Ready() const { return true; }
  // Main thread, when the op's timer fires: return true if the op handles the timeout itself
  // (teardown switches the session to dead I/O and finishes); false rejects with TimeoutError.
  // `holds_partial_send`: the op left a half-sent packet that only it can finish.
  virtual bool Expire(bool holds_partial_send) { return false; }
  // Main thread, after a failed Step(): the JS error to report instead of libssh2's, if any
  // (a JS callback threw or rejected). Empty value: use libssh2's.
  virtual Napi::Value JsError(Napi::Env env) { return js_error_.IsEmpty() ? Napi::Value() : js_error_.Value(); }
  // Main thread: the op was rejected while a pool thread runs its step; unblock any wait.
  virtual void Cancel() {}
  // Whether `rc` closes the session (connection-level failure). Default: the ConnectionError
  // family and TIMEOUT.
  virtual bool Fatal(int rc) const;
  // The socket events an EAGAIN from Step() waits for (UV_READABLE | UV_WRITABLE), or -1 for
  // libssh2's block directions (every libssh2 op; waitSocket() decides itself).
  virtual int PollEvents() const { return -1; }

  const char* fn() const { return fn_; }
  const void* gate() const { return gate_; }
  // LIBSSH2_ERROR_SFTP_PROTOCOL: the SFTP status, read by the step that failed (PITFALLS 27).
  void set_sftp_status(long status) { sftp_status_ = status; }
  // A second state machine the op also occupies (sftp_init: channel open and setup request).
  const void* gate2() const { return gate2_; }
  void set_gate2(const void* g) { gate2_ = g; }
  unsigned flags() const { return flags_; }

 protected:
  // For ops whose Step() waits on JS (set before returning EAGAIN, cleared by Scheduler::Wake).
  void set_waiting_js(bool w) { waiting_js_ = w; }
  // An error to report instead of libssh2's (e.g. a JS callback threw).
  Napi::Reference<Napi::Value> js_error_;
  long sftp_status_ = -1;

 private:
  friend class Scheduler;
  const char* fn_;
  const void* gate_;
  const void* gate2_ = nullptr;
  unsigned flags_;
  bool waiting_js_ = false;

  // Scheduler state.
  Scheduler* scheduler_ = nullptr;
  Napi::Promise::Deferred* deferred_ = nullptr;
  uint64_t deadline_ = 0;  // uv_now() at which the op times out (0: none)
  uint32_t timeout_ms_ = 0;
  int rc_ = LIBSSH2_ERROR_EAGAIN;
  bool parked_ = false;
  bool started_ = false;
  bool want_write_ = false;   // poll for writability too (bd OUTBOUND, or bd 0: unknown)
  bool blocked_out_ = false;  // libssh2 reported OUTBOUND: this op holds a half-sent packet
  bool timed_out_ = false;
  std::string error_message_;                  // libssh2_session_last_error, captured by the stepping thread
  Napi::Reference<Napi::Value> cancel_error_;  // rejected while a pool thread ran it
};

// What the scheduler needs from its owner (the Session wrapper).
class SchedulerOwner {
 public:
  virtual ~SchedulerOwner() = default;
  // First op queued / queue drained: keep the JS object alive while work is pending.
  virtual void OnBusy(bool busy) = 0;
  // Called on the main thread after steps ran (deliver buffered trace lines, ...).
  virtual void AfterSteps() = 0;
  // The session was closed by a failure (Scheduler::Fail): stop real I/O.
  virtual void OnClosed() = 0;
  // Bytes received from the socket so far (any thread wrote it; read on the main thread).
  virtual uint64_t Received() const = 0;
  // The socket saw EOF, ECONNRESET or EPIPE: any later failure is a lost connection.
  virtual bool PeerGone() const = 0;
  // Main thread: true when bytes arrived after the last send (whose segment carried the ACK), so
  // the kernel may hold a delayed ACK; marks them as acknowledged (the caller flushes the ACK).
  virtual bool TakeAckDue() = 0;
  // Main thread: the recv callback's shortcut. While `trust` is on, a recv after one that found
  // the socket empty answers EAGAIN without a syscall until SocketReadable(). Only the queued
  // ops' steps on the main thread turn it on: each EAGAIN of theirs is followed by a wait on
  // the level-triggered poll, which sees whatever arrived meanwhile, and an op's first step
  // reads for real. libssh2 calls recv again and again after the socket is empty (37 of 49 recv
  // calls per small SFTP file were EAGAIN; W6 +7 % files/s without them).
  virtual void TrustDrained(bool trust) = 0;
  // Main thread: the socket was seen readable (poll), or an op steps for the first time: the
  // next recv is real.
  virtual void SocketReadable() = 0;
};

class Scheduler {
 public:
  Scheduler(Napi::Env env, LIBSSH2_SESSION* session, SchedulerOwner* owner);
  // Closes the uv handles; the object deletes itself once libuv is done with them.
  void Destroy();
  // libssh2_session_free ran: no op steps on the session again. Ops still queued (a channel
  // close parked on the peer, ...) complete without calling libssh2: their objects went with it.
  void SessionFreed() { session_ = nullptr; }

  // Starts watching `fd` (the session's socket). Must be called before socket ops are queued.
  bool AttachSocket(int fd);
  // Stops and closes the poll handle (before the fd is closed).
  void DetachSocket();

  // Queues an op and returns its promise. On a closed session (except teardown ops) the
  // promise rejects with the error that closed it. `timeout_ms` 0 = none.
  Napi::Value Enqueue(std::unique_ptr<Op> op, uint32_t timeout_ms);
  // Queues an op nobody waits for (a finalizer's free): no promise, and it first steps on the
  // next loop iteration, so this may be called where JS must not run.
  void EnqueueDetached(std::unique_ptr<Op> op, uint32_t timeout_ms);
  // Main thread: resume an op that was waiting on JS (see Op::waiting_js).
  void Wake(Op* op);
  // Runs every runnable op until none progresses, then arms the poll. Re-entrancy safe.
  void Pump();

  // Closes the session: every pending op (and every later one) rejects with `error`.
  void Fail(Napi::Value error);
  // Rejects every pending op with `error` without closing (session being freed).
  void RejectAll(Napi::Value error);
  // Rejects the ops on `target` that can be dropped cleanly (not started, or parked and
  // abandonable); the others finish first (a channel being freed).
  void RejectFor(const void* target, Napi::Value error);

  bool closed() const { return closed_; }
  Napi::Value close_error(Napi::Env env) const;
  bool busy() const { return !queue_.empty() || !nb_.empty(); }

  // ---- non-blocking mode (DESIGN.md "Modes"): `…Nb()` calls make one synchronous attempt.
  // lib/nb.ts sets the call's signature ([method, ...args]) around the native call; Enqueue()
  // then runs the op at once (RunNb) and returns its result, or LIBSSH2_ERROR_EAGAIN, or
  // throws. An op that returned EAGAIN stays pending, keeping its state and buffers, until the
  // same call (deep-equal signature) is repeated; a different call on the same libssh2 state
  // machine throws BadUseError.
  void SetNbMode(bool nb) { nb_mode_ = nb; }
  bool nb_mode() const { return nb_mode_; }
  void SetNbCall(Napi::Value signature);
  void ClearNbCall() { nb_sig_.Reset(); }
  bool nb_call() const { return !nb_sig_.IsEmpty(); }
  // What a method returns when it has nothing to do (an idempotent free): a resolved promise,
  // or the value itself in an Nb call.
  Napi::Value Done(Napi::Value value);
  // `await session.waitSocket(ms)`: resolves to true once the socket is ready in the
  // directions libssh2 waits for (false when `timeout_ms` passed first).
  Napi::Value WaitSocket(uint32_t timeout_ms);
  // ref(): the session keeps the event loop alive even while idle; unref(): not even while ops
  // are pending. Default: alive while ops are pending, not while idle.
  void SetRef(bool ref);

 private:
  ~Scheduler();
  struct Work;
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnDeadline(uv_timer_t* handle);
  // The one timer of the scheduler fires at the earliest deadline of the queued ops.
  void ArmDeadline(uint64_t deadline);
  static void ExecuteWork(napi_env env, void* data);
  static void CompleteWork(napi_env env, napi_status status, void* data);

  // Runs from a libuv callback: opens the handle and callback scopes around Pump().
  void PumpFromLoop();
  void RunOnce(bool* progressed, bool* dispatched);
  void AfterStep(Op* op);  // main thread: park, complete or fail
  void Complete(Op* op);
  void Reject(Op* op, Napi::Value error);
  void Remove(Op* op);
  // Rejects `op` now, or (while a thread steps it) once its step returns.
  void RejectOrCancel(Op* op, Napi::Value error);
  // The error a failed step reports, and whether it closes the session.
  Napi::Value StepError(Op* op, bool* fatal);
  void UpdatePoll();
  // The poll stays armed (readable, unref'd) while no op waits: see UpdatePoll.
  void SetLingering(bool linger);
  void UnparkAll();
  void StartTimer(Op* op);
  void TimedOut(Op* op);

  struct NbRecord {
    std::unique_ptr<Op> op;
    Napi::Reference<Napi::Value> signature;
    bool blocked_out = false;  // holds a half-sent packet (PITFALLS 1)
    bool done = false;         // finished while another call drove it (its partial send)
  };
  Napi::Value RunNb(std::unique_ptr<Op> op);
  // What a finished Nb op returns (its result), or throws (its error; a fatal one closes).
  Napi::Value NbOutcome(Op* op);
  NbRecord* FindNb(const Op* op);
  void DropNb(NbRecord* rec);
  // Drops the pending Nb calls a teardown makes moot (on its object; all for the session),
  // except `keep` and a call holding a half-sent packet.
  void DropNbFor(const Op* teardown, const NbRecord* keep);
  // Resolves the pending waitSocket() calls (libssh2 read from the socket meanwhile).
  void WakeWaiters();
  // An async teardown op is queued in non-blocking mode: a half-sent packet of a pending Nb
  // call moves to the queue (it must go out first), and pending Nb calls on the torn-down
  // object are dropped.
  void AdoptNb(const Op* teardown);

  Napi::Env env_;
  LIBSSH2_SESSION* session_;
  SchedulerOwner* owner_;
  uv_loop_t* loop_ = nullptr;
  Napi::AsyncContext async_context_;
  uv_poll_t* poll_ = nullptr;
  int fd_ = -1;
  bool tcp_nodelay_ = false;  // fd_ is TCP with Nagle off: a send carries our ACK at once
  int poll_events_ = 0;
  std::deque<Op*> queue_;
  std::unordered_set<Op*> live_;           // the ops in queue_, for O(1) membership
  std::vector<Op*> order_;                 // RunOnce's pass, reused
  std::unordered_set<const void*> gates_;  // RunOnce's gate heads, reused
  Op* send_owner_ = nullptr;               // the op whose partial packet must be flushed first (PITFALLS 1)
  Op* worker_op_ = nullptr;                // the op a pool thread is stepping
  Op* stepping_ = nullptr;                 // the op the main thread is stepping (its JS callbacks may reject ops)
  bool pumping_ = false;
  bool again_ = false;
  bool worker_busy_ = false;
  bool closed_ = false;
  bool destroyed_ = false;
  bool ref_ = true;
  uv_async_t* keep_alive_ = nullptr;  // an active handle while ref() is in effect
  uv_timer_t* later_ = nullptr;       // EnqueueDetached's deferred pump
  uv_timer_t* deadlines_ = nullptr;   // op timeouts: one timer, not one per op
  uint64_t armed_at_ = 0;             // the deadline it is armed for (0: not armed)
  Napi::Reference<Napi::Value> close_error_;
  bool nb_mode_ = false;
  Napi::Reference<Napi::Value> nb_sig_;
  std::vector<std::unique_ptr<NbRecord>> nb_;
  uint64_t waiters_seen_ = 0;    // Received() when waitSocket() waiters last looked
  bool lingering_ = false;       // the poll stays armed (readable, unref'd) while no op waits
  bool linger_blocked_ = false;  // readable while lingering: no lingering until an op steps
  uint64_t received_seen_ = 0;   // Received() when AfterStep last unparked the queue
};

// Null-safe forms for objects whose session may be gone.
inline bool InNbCall(const Scheduler* s) { return s != nullptr && s->nb_call(); }
inline Napi::Value DoneIn(Napi::Env env, Scheduler* s, Napi::Value value) {
  if (s != nullptr) return s->Done(value);
  auto d = Napi::Promise::Deferred::New(env);
  d.Resolve(value);
  return d.Promise();
}

}  // namespace node_libssh2
