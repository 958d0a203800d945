#include "session.h"

#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <cstring>

#include "agent.h"
#include "channel.h"
#include "knownhost.h"
#include "listener.h"
#include "publickey.h"
#include "sftp.h"
#include "errors.h"
#include "jscall.h"
#include "util.h"
#include "transport.h"

namespace node_libssh2 {

int RefuseIfAuthenticated(LIBSSH2_SESSION* s) {
  if (libssh2_userauth_authenticated(s) == 0) return 0;
  return libssh2_session_set_last_error(s, LIBSSH2_ERROR_BAD_USE,
                                        "the session is already authenticated (the server ignores another "
                                        "userauth request)");
}

namespace {

// ---- ops with callbacks

// libssh2_userauth_publickey with a JS sign callback. libssh2 re-calls the sign callback when
// it returns EAGAIN (state sent1), so a Promise from JS parks the op and no thread waits.
class SignOp : public Op {
 public:
  SignOp(Session* owner, std::string user, std::string blob, Napi::Function sign)
      : Op("libssh2_userauth_publickey", owner->session_gate(), 0), owner_(owner), user_(std::move(user)),
        blob_(std::move(blob)), sign_(Napi::Persistent(sign)), shared_(std::make_shared<Shared>()) {
    shared_->op = this;
  }
  ~SignOp() override { shared_->op = nullptr; }

  int Step(LIBSSH2_SESSION* s) override {
    if (int refused = RefuseIfAuthenticated(s)) return refused;
    void* abstract = this;
    return libssh2_userauth_publickey(s, user_.c_str(), reinterpret_cast<const unsigned char*>(blob_.data()),
                                      blob_.size(), &SignCallback, &abstract);
  }

 private:
  struct Shared {
    SignOp* op = nullptr;
  };

  static int SignCallback(LIBSSH2_SESSION*, unsigned char** sig, size_t* sig_len, const unsigned char* data,
                          size_t data_len, void** abstract) {
    auto* self = static_cast<SignOp*>(*abstract);
    return self->Sign(sig, sig_len, data, data_len);
  }

  int Deliver(unsigned char** sig, size_t* sig_len) {
    have_sig_ = false;
    *sig = static_cast<unsigned char*>(std::malloc(sig_bytes_.size() ? sig_bytes_.size() : 1));
    if (*sig == nullptr) return -1;
    std::memcpy(*sig, sig_bytes_.data(), sig_bytes_.size());
    *sig_len = sig_bytes_.size();
    return 0;
  }

  bool Accept(Napi::Env env, Napi::Value v) {
    if (v.IsBuffer()) {
      auto b = v.As<Napi::Buffer<char>>();
      sig_bytes_.assign(b.Data(), b.Length());
      have_sig_ = true;
      return true;
    }
    js_error_ = Napi::Reference<Napi::Value>::New(
        Napi::TypeError::New(env, "the sign callback must return a Buffer (or a Promise of one)").Value(), 1);
    return false;
  }

  int Sign(unsigned char** sig, size_t* sig_len, const unsigned char* data, size_t data_len) {
    if (have_sig_) return Deliver(sig, sig_len);
    if (!js_error_.IsEmpty()) return -1;
    // Runs on the main thread (this op is never heavy), inside a JS call or a callback scope.
    Napi::Env env = sign_.Env();
    Napi::Value result;
    {
      Session::CallbackScope in_callback(owner_);
      result = sign_.Call({Napi::Buffer<unsigned char>::Copy(env, data, data_len)});
    }
    if (env.IsExceptionPending()) {
      js_error_ = Napi::Reference<Napi::Value>::New(env.GetAndClearPendingException().Value(), 1);
      return -1;
    }
    if (result.IsPromise()) {
      std::shared_ptr<Shared> shared = shared_;
      auto on_ok = Napi::Function::New(env, [shared](const Napi::CallbackInfo& info) {
        if (shared->op == nullptr) return;
        shared->op->Accept(info.Env(), info[0]);
        shared->op->owner_->scheduler()->Wake(shared->op);
      });
      auto on_err = Napi::Function::New(env, [shared](const Napi::CallbackInfo& info) {
        if (shared->op == nullptr) return;
        shared->op->js_error_ = Napi::Reference<Napi::Value>::New(info[0], 1);
        shared->op->owner_->scheduler()->Wake(shared->op);
      });
      result.As<Napi::Object>().Get("then").As<Napi::Function>().Call(result, {on_ok, on_err});
      set_waiting_js(true);
      return LIBSSH2_ERROR_EAGAIN;
    }
    if (!Accept(env, result)) return -1;
    return Deliver(sig, sig_len);
  }

  Session* owner_;
  std::string user_;
  std::string blob_;
  Napi::FunctionReference sign_;
  std::shared_ptr<Shared> shared_;
  std::string sig_bytes_;
  bool have_sig_ = false;
};

// libssh2_userauth_keyboard_interactive_ex: heavy (its steps run on a pool thread), because the
// responder is reached inside libssh2's callback, which must answer synchronously: the pool
// thread asks JS through JsCall and waits (the one documented exception to "no thread waits").
class KbdOp : public Op {
 public:
  // `sync` (an Nb call): the step runs on the main thread and calls the responder directly; it
  // must answer synchronously.
  KbdOp(Session* owner, std::string user, Napi::Function responder, bool sync)
      : Op("libssh2_userauth_keyboard_interactive_ex", owner->session_gate(), sync ? 0u : unsigned{Op::kHeavy}),
        owner_(owner), user_(std::move(user)), call_(responder.Env(), responder, "libssh2:keyboard-interactive") {
    if (sync) direct_ = Napi::Persistent(responder);
  }

  int Step(LIBSSH2_SESSION* s) override {
    if (int refused = RefuseIfAuthenticated(s)) return refused;
    current_ = this;
    int rc = libssh2_userauth_keyboard_interactive_ex(s, user_.c_str(), static_cast<unsigned>(user_.size()), &Respond);
    current_ = nullptr;
    if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN && failed_) return LIBSSH2_ERROR_AUTHENTICATION_FAILED;
    return rc;
  }
  bool Expire(bool holds_partial_send) override {
    call_.Cancel();
    return false;
  }
  void Cancel() override { call_.Cancel(); }

 private:
  // One op steps per thread at a time; libssh2 passes the session's abstract (the Session), so
  // the running op is found through this thread-local.
  static thread_local KbdOp* current_;

  static void Respond(const char* name, int name_len, const char* instruction, int instruction_len, int num_prompts,
                      const LIBSSH2_USERAUTH_KBDINT_PROMPT* prompts, LIBSSH2_USERAUTH_KBDINT_RESPONSE* responses,
                      void** abstract) {
    KbdOp* self = current_;
    if (self == nullptr) return;
    std::string n(name, name_len > 0 ? name_len : 0), ins(instruction, instruction_len > 0 ? instruction_len : 0);
    std::vector<std::pair<std::string, bool>> ps;
    for (int i = 0; i < num_prompts; i++) {
      ps.emplace_back(std::string(reinterpret_cast<const char*>(prompts[i].text), prompts[i].length),
                      prompts[i].echo != 0);
    }
    auto answers = std::make_shared<std::vector<std::string>>();
    JsCall::MakeArgs make_args = [n, ins, ps](Napi::Env env) {
      Napi::Array arr = Napi::Array::New(env, ps.size());
      for (size_t i = 0; i < ps.size(); i++) {
        Napi::Object p = Napi::Object::New(env);
        p.Set("text", ps[i].first);
        p.Set("echo", ps[i].second);
        arr.Set(static_cast<uint32_t>(i), p);
      }
      return std::vector<napi_value>{Napi::String::New(env, n), Napi::String::New(env, ins), arr};
    };
    JsCall::TakeResult take_result = [answers, count = ps.size()](Napi::Env env, Napi::Value v, std::string* why) {
      if (!v.IsArray()) {
        *why = "the keyboard-interactive responder must return an array of strings (or a Promise of one)";
        return false;
      }
      Napi::Array arr = v.As<Napi::Array>();
      for (uint32_t i = 0; i < count; i++) {
        Napi::Value a = arr.Get(i);
        answers->push_back(a.IsString() ? a.As<Napi::String>().Utf8Value() : std::string());
      }
      return true;
    };
    bool ok = self->direct_.IsEmpty() ? self->call_.Invoke(make_args, take_result, self->owner_->timeout_ms())
                                      : self->CallDirect(make_args, take_result);
    if (!ok) {
      self->failed_ = true;
      return;  // no answers: the server rejects the attempt
    }
    for (int i = 0; i < num_prompts && static_cast<size_t>(i) < answers->size(); i++) {
      responses[i].text = DupForLibssh2((*answers)[i]);
      responses[i].length = responses[i].text ? static_cast<unsigned int>((*answers)[i].size()) : 0;
    }
  }

 public:
  Napi::Value JsError(Napi::Env env) override {
    if (!failed_) return Napi::Value();
    return js_error_.IsEmpty() ? call_.js_error(env) : js_error_.Value();
  }

 private:
  bool CallDirect(const JsCall::MakeArgs& make_args, const JsCall::TakeResult& take_result) {
    Napi::Env env = direct_.Env();
    std::vector<napi_value> args = make_args(env);
    Napi::Value v;
    {
      Session::CallbackScope in_callback(owner_);
      v = direct_.Call(args);
    }
    std::string why;
    if (env.IsExceptionPending()) {
      js_error_ = Napi::Reference<Napi::Value>::New(env.GetAndClearPendingException().Value(), 1);
      return false;
    }
    if (v.IsPromise()) why = "in non-blocking mode the keyboard-interactive responder must answer synchronously";
    else if (take_result(env, v, &why)) return true;
    js_error_ = Napi::Reference<Napi::Value>::New(Napi::TypeError::New(env, why).Value(), 1);
    return false;
  }

 private:
  Session* owner_;
  std::string user_;
  JsCall call_;
  Napi::FunctionReference direct_;
  bool failed_ = false;
};

thread_local KbdOp* KbdOp::current_ = nullptr;

void PasswordChange(LIBSSH2_SESSION* session, char** newpw, int* newpw_len, void** abstract) {
  auto* self = static_cast<Session*>(*abstract);
  *newpw = nullptr;
  *newpw_len = 0;
  if (self == nullptr || self->password_change_cb == nullptr) return;
  Napi::Env env = self->password_change_cb->Env();
  Napi::Value v;
  {
    Session::CallbackScope in_callback(self);
    v = self->password_change_cb->Call({});
  }
  if (env.IsExceptionPending()) {
    env.GetAndClearPendingException();
    return;
  }
  if (!v.IsString()) return;
  std::string pw = v.As<Napi::String>().Utf8Value();
  *newpw = DupForLibssh2(pw);
  *newpw_len = *newpw ? static_cast<int>(pw.size()) : 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Napi::Function Session::Init(Napi::Env env) {
  return DefineClass(env, "Session",
                     {
                         InstanceMethod<&Session::Hostkey>("hostkey"),
                         InstanceMethod<&Session::HostkeyHash>("hostkeyHash"),
                         InstanceMethod<&Session::Methods>("methods"),
                         InstanceMethod<&Session::MethodPref>("methodPref"),
                         InstanceMethod<&Session::SupportedAlgs>("supportedAlgs"),
                         InstanceMethod<&Session::BannerGet>("bannerGet"),
                         InstanceMethod<&Session::BannerSet>("bannerSet"),
                         InstanceMethod<&Session::SetTimeout>("setTimeout"),
                         InstanceMethod<&Session::GetTimeout>("getTimeout"),
                         InstanceMethod<&Session::KeepaliveConfig>("keepaliveConfig"),
                         InstanceMethod<&Session::LastError>("lastError"),
                         InstanceMethod<&Session::LastErrno>("lastErrno"),
                         InstanceMethod<&Session::SetLastError>("setLastError"),
                         InstanceMethod<&Session::BlockDirections>("blockDirections"),
                         InstanceMethod<&Session::Flag>("flag"),
                         InstanceMethod<&Session::Trace>("trace"),
                         InstanceMethod<&Session::Ref>("ref"),
                         InstanceMethod<&Session::Unref>("unref"),
                         InstanceMethod<&Session::UserauthAuthenticated>("userauthAuthenticated"),
                         InstanceMethod<&Session::UserauthBanner>("userauthBanner"),
                         InstanceMethod<&Session::State>("state"),
                         InstanceMethod<&Session::SetBlocking>("setBlocking"),
                         InstanceMethod<&Session::NbCall>("nbCall"),
                         InstanceMethod<&Session::WaitSocket>("waitSocket"),
                         InstanceMethod<&Session::SetChannelHandler>("setChannelHandler"),
                         InstanceMethod<&Session::OnClose>("onClose"),
                         InstanceMethod<&Session::Fail>("fail"),
                         InstanceMethod<&Session::Handshake>("handshake"),
                         InstanceMethod<&Session::Disconnect>("disconnect"),
                         InstanceMethod<&Session::Free>("free"),
                         InstanceMethod<&Session::KeepaliveSend>("keepaliveSend"),
                         InstanceMethod<&Session::UserauthList>("userauthList"),
                         InstanceMethod<&Session::UserauthPassword>("userauthPassword"),
                         InstanceMethod<&Session::UserauthPublickeyFromfile>("userauthPublickeyFromfile"),
                         InstanceMethod<&Session::UserauthPublickeyFrommemory>("userauthPublickeyFrommemory"),
                         InstanceMethod<&Session::UserauthPublickey>("userauthPublickey"),
                         InstanceMethod<&Session::UserauthKeyboardInteractive>("userauthKeyboardInteractive"),
                         InstanceMethod<&Session::UserauthHostbasedFromfile>("userauthHostbasedFromfile"),
                         InstanceMethod<&Session::OpenSession>("openSession"),
                         InstanceMethod<&Session::SftpInit>("sftpInit"),
                         InstanceMethod<&Session::ScpRecv2>("scpRecv2"),
                         InstanceMethod<&Session::ScpSend64>("scpSend64"),
                         InstanceMethod<&Session::DirectTcpip>("directTcpip"),
                         InstanceMethod<&Session::DirectStreamlocal>("directStreamlocal"),
                         InstanceMethod<&Session::ForwardListen>("forwardListen"),
                         InstanceMethod<&Session::KnownhostInit>("knownhostInit"),
                         InstanceMethod<&Session::AgentInit>("agentInit"),
                         InstanceMethod<&Session::PublickeyInit>("publickeyInit"),
                     });
}

Session::Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info), env_(info.Env()) {
  session_ = libssh2_session_init_ex(nullptr, nullptr, nullptr, this);
  if (session_ == nullptr) {
    ThrowError(env_, LIBSSH2_ERROR_ALLOC, "libssh2_session_init_ex");
    return;
  }
  libssh2_session_set_blocking(session_, 0);
  // Timeouts are the binding's own (per-op timers); libssh2's packet read timeout stays out of
  // the way (PITFALLS 36).
  libssh2_session_set_read_timeout(session_, 24 * 3600);
  libssh2_session_callback_set2(session_, LIBSSH2_CALLBACK_SEND, reinterpret_cast<libssh2_cb_generic*>(&SendCallback));
  libssh2_session_callback_set2(session_, LIBSSH2_CALLBACK_RECV, reinterpret_cast<libssh2_cb_generic*>(&RecvCallback));
  scheduler_ = new Scheduler(env_, session_, this);
  napi_add_env_cleanup_hook(env_, CleanupHook, this);
  cleanup_hook_ = true;
}

Session::~Session() {
  if (cleanup_hook_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  FreeNow();
  // At environment teardown finalizers run in any order: children that outlive this object
  // must not reach it.
  for (Channel* c : channels_) c->DetachSession();
  for (Sftp* s : sftps_) s->DetachSession();
  for (Listener* l : listeners_) l->DetachSession();
  for (KnownHosts* k : knownhosts_) k->DetachSession();
  for (Agent* a : agents_) a->DetachSession();
  for (PublicKey* p : publickeys_) p->DetachSession();
}

void Session::CleanupHook(void* arg) {
  auto* self = static_cast<Session*>(arg);
  self->cleanup_hook_ = false;  // node removes a hook once it ran
  self->FreeNow();
}

void Session::InvalidateChildren() {
  // Runs with dead I/O, right before libssh2_session_free: every free completes at once.
  std::vector<std::pair<int, std::function<int()>>> frees;
  for (auto& [raw, orphan] : orphans_) frees.emplace_back(orphan.rank, orphan.free);
  orphans_.clear();
  std::stable_sort(frees.begin(), frees.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& f : frees) f.second();
  // Children stay registered until their destructor; ~Session detaches those still alive.
  for (KnownHosts* k : knownhosts_) k->FreeNow();  // session allocator: before session_free
  for (Agent* a : agents_) a->FreeNow();
  for (Sftp* s : sftps_) s->TeardownNow();
  for (PublicKey* p : publickeys_) p->TeardownNow();  // frees its channel
  for (Channel* c : channels_) c->Invalidate();
  for (Listener* l : listeners_) l->Invalidate();  // libssh2_session_free cancels listeners
}

void Session::FreeOrphan(void* raw, void* parent, int rank, const void* gate, const char* fn,
                         std::function<int()> free) {
  if (session_ == nullptr || scheduler_ == nullptr) return;
  orphans_[raw] = Orphan{parent, rank, std::move(free)};
  auto op = MakeOp(fn, gate, Op::kTeardown | Op::kAbandonable, [this, raw](LIBSSH2_SESSION*) {
    auto it = orphans_.find(raw);
    if (it == orphans_.end()) return 0;  // freed meanwhile (session or parent teardown)
    int rc = it->second.free();
    if (rc != LIBSSH2_ERROR_EAGAIN) orphans_.erase(raw);
    return rc;
  });
  scheduler_->EnqueueDetached(std::move(op), kChannelFreeLimitMs);
}

void Session::FreeOrphansOf(void* parent) {
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    if (it->second.parent == parent) {
      it->second.free();
      it = orphans_.erase(it);
    } else {
      ++it;
    }
  }
}

void Session::FreeNow() {
  set_dead();
  InvalidateChildren();
  if (scheduler_ != nullptr) {
    scheduler_->Destroy();
    scheduler_ = nullptr;
  }
  if (session_ != nullptr) {
    set_dead();
    libssh2_session_free(session_);
    session_ = nullptr;
  }
  CloseFd();
}

void Session::CloseFd() {
  if (scheduler_ != nullptr) scheduler_->DetachSocket();
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

namespace {
// Consecutive recv calls answered from the drained state before a real one (RecvCallback).
constexpr int kDrainedSkips = 64;
// The socket errors that mean the peer is gone (Scheduler::AfterStep then closes the session
// on any failure, whatever code libssh2 turned it into).
bool PeerGoneErrno(int err) { return err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == ETIMEDOUT; }
}  // namespace

ssize_t Session::SendCallback(libssh2_socket_t fd, const void* buf, size_t len, int flags, void** abstract) {
  auto* self = static_cast<Session*>(*abstract);
  if (self->dead()) return static_cast<ssize_t>(len);  // teardown on a dead peer: pretend (PITFALLS 29)
  ssize_t n = send(fd, buf, len, flags | MSG_NOSIGNAL);
  if (n > 0) self->acked_.store(self->received_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  if (n >= 0) return n;
  int err = errno;
  if (PeerGoneErrno(err)) self->peer_gone_.store(true);
  return -err;
}

ssize_t Session::RecvCallback(libssh2_socket_t fd, void* buf, size_t len, int flags, void** abstract) {
  auto* self = static_cast<Session*>(*abstract);
  if (self->dead()) return -ECONNRESET;
  // A recv after one that found the socket empty, with no readiness seen since, answers EAGAIN
  // without a syscall (Scheduler::TrustDrained). Every kDrainedSkips-th is real: libssh2 has
  // loops that spin on a call until the peer answers (scp's error path frees its channel in
  // `while (libssh2_channel_free(c) == EAGAIN);`), and they must still see the answer.
  if (self->drained_.load(std::memory_order_relaxed) && self->trust_drained_.load(std::memory_order_relaxed) &&
      ++self->skipped_ < kDrainedSkips)
    return -EAGAIN;
  self->skipped_ = 0;
  ssize_t n = recv(fd, buf, len, flags);
  self->recv_calls_.fetch_add(1, std::memory_order_relaxed);
  self->drained_.store(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), std::memory_order_relaxed);
  if (n > 0) self->received_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  if (n > 0) self->last_recv_ns_.store(uv_hrtime());  // for the Node-native layer's keepalive
  if (n >= 0) {
    if (n == 0 && len > 0) self->peer_gone_.store(true);  // EOF
    return n;
  }
  int err = errno;
  if (PeerGoneErrno(err)) self->peer_gone_.store(true);
  return -err;
}

void Session::OnBusy(bool busy) {
  // While ops are pending the JS object stays alive (their promises need it).
  if (busy) Napi::ObjectWrap<Session>::Ref();
  else Napi::ObjectWrap<Session>::Unref();
}

void Session::OnClosed() {
  set_dead();
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  // Main thread, inside Scheduler::Fail (a handle scope is open). The handler only schedules
  // the 'close' event; it never re-enters the scheduler synchronously.
  if (!on_close_.IsEmpty()) {
    Napi::Value fn = on_close_.Value();
    if (fn.IsFunction()) {
      fn.As<Napi::Function>().Call({});
      if (env_.IsExceptionPending()) env_.GetAndClearPendingException();
    }
  }
}

void Session::TraceHandler(LIBSSH2_SESSION*, void* context, const char* data, size_t length) {
  auto* self = static_cast<Session*>(context);
  std::lock_guard<std::mutex> lock(self->trace_mutex_);
  if (self->trace_lines_.size() < 10000) self->trace_lines_.emplace_back(data, length);
}

void Session::AuthAgentCallback(LIBSSH2_SESSION*, LIBSSH2_CHANNEL* channel, void** abstract) {
  auto* self = static_cast<Session*>(*abstract);
  std::lock_guard<std::mutex> lock(self->incoming_mutex_);
  self->incoming_.push_back({channel, false, std::string(), 0});
}

void Session::X11Callback(LIBSSH2_SESSION*, LIBSSH2_CHANNEL* channel, char* shost, int sport, void** abstract) {
  auto* self = static_cast<Session*>(*abstract);
  std::lock_guard<std::mutex> lock(self->incoming_mutex_);
  self->incoming_.push_back({channel, true, shost != nullptr ? std::string(shost) : std::string(), sport});
}

void Session::DeliverIncomingChannels() {
  std::vector<IncomingChannel> incoming;
  {
    std::lock_guard<std::mutex> lock(incoming_mutex_);
    incoming.swap(incoming_);
  }
  Napi::Env env = env_;
  for (const IncomingChannel& in : incoming) {
    Napi::FunctionReference& handler = in.x11 ? x11_channel_handler_ : agent_channel_handler_;
    if (handler.IsEmpty() || session_ == nullptr) {
      // The handler was removed meanwhile: nobody serves it.
      LIBSSH2_CHANNEL* raw = in.channel;
      FreeOrphan(raw, nullptr, 2, nullptr, "libssh2_channel_free", [raw] { return libssh2_channel_free(raw); });
      continue;
    }
    Napi::Value channel = Channel::NewInstance(env, this, in.channel);
    if (in.x11) {
      handler.Call({channel, Napi::String::New(env, in.shost), Napi::Number::New(env, in.sport)});
    } else {
      handler.Call({channel});
    }
    // A throwing handler loses the channel (garbage collection frees it).
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }
}

void Session::AfterSteps() {
  DeliverIncomingChannels();
  std::vector<std::string> lines;
  {
    std::lock_guard<std::mutex> lock(trace_mutex_);
    lines.swap(trace_lines_);
  }
  if (lines.empty() || trace_handler_.IsEmpty()) return;
  Napi::Env env = env_;
  for (const std::string& line : lines) {
    trace_handler_.Call({Napi::String::New(env, line)});
    if (env.IsExceptionPending()) env.GetAndClearPendingException();  // a throwing handler loses its line
  }
}

bool Session::CheckUsable(Napi::Env env, const char* fn) {
  if (session_ == nullptr || freeing_) {
    ThrowBadUse(env, "the session has been freed", fn);
    return false;
  }
  return true;
}

#define SESSION_GUARD(fn)     \
  Napi::Env env = info.Env(); \
  if (!CheckUsable(env, fn)) return env.Undefined();

// ---- synchronous methods

Napi::Value Session::Hostkey(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_hostkey");
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(session_, &len, &type);
  if (key == nullptr || !handshaken_) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("key", Napi::Buffer<char>::Copy(env, key, len));
  out.Set("type", type);
  return out;
}

Napi::Value Session::HostkeyHash(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_hostkey_hash");
  int64_t type;
  if (!ArgInt(info, 0, &type, "hashType")) return env.Undefined();
  size_t len = type == LIBSSH2_HOSTKEY_HASH_MD5      ? 16
               : type == LIBSSH2_HOSTKEY_HASH_SHA1   ? 20
               : type == LIBSSH2_HOSTKEY_HASH_SHA256 ? 32
                                                     : 0;
  if (len == 0) {
    Napi::RangeError::New(env, "hashType must be LIBSSH2_HOSTKEY_HASH_MD5, _SHA1 or _SHA256")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char* hash = handshaken_ ? libssh2_hostkey_hash(session_, static_cast<int>(type)) : nullptr;
  if (hash == nullptr) return env.Null();
  return Napi::Buffer<char>::Copy(env, hash, len);
}

Napi::Value Session::Methods(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_methods");
  int64_t type;
  if (!ArgInt(info, 0, &type, "methodType")) return env.Undefined();
  if (!handshaken_) return env.Null();
  const char* m = libssh2_session_methods(session_, static_cast<int>(type));
  if (m == nullptr) return env.Null();
  return Napi::String::New(env, m);
}

Napi::Value Session::MethodPref(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_method_pref");
  int64_t type;
  std::string prefs;
  if (!ArgInt(info, 0, &type, "methodType") || !ArgString(info, 1, &prefs, "prefs")) return env.Undefined();
  int rc = libssh2_session_method_pref(session_, static_cast<int>(type), prefs.c_str());
  if (rc < 0) ThrowError(env, rc, "libssh2_session_method_pref", session_);
  return env.Undefined();
}

Napi::Value Session::SupportedAlgs(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_supported_algs");
  int64_t type;
  if (!ArgInt(info, 0, &type, "methodType")) return env.Undefined();
  const char** algs = nullptr;
  int n = libssh2_session_supported_algs(session_, static_cast<int>(type), &algs);
  if (n < 0) {
    ThrowError(env, n, "libssh2_session_supported_algs", session_);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) out.Set(static_cast<uint32_t>(i), algs[i]);
  if (algs != nullptr) libssh2_free(session_, algs);
  return out;
}

Napi::Value Session::BannerGet(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_banner_get");
  const char* b = libssh2_session_banner_get(session_);
  if (b == nullptr) return env.Null();
  return Napi::String::New(env, b);
}

Napi::Value Session::BannerSet(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_banner_set");
  std::string banner;
  if (!ArgString(info, 0, &banner, "banner")) return env.Undefined();
  int rc = libssh2_session_banner_set(session_, banner.c_str());
  if (rc < 0) ThrowError(env, rc, "libssh2_session_banner_set", session_);
  return env.Undefined();
}

Napi::Value Session::SetTimeout(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_set_timeout");
  int64_t ms;
  if (!ArgInt(info, 0, &ms, "timeout")) return env.Undefined();
  if (ms < 0 || ms > 0x7fffffff) {
    Napi::RangeError::New(env, "timeout must be between 0 and 2^31-1 ms").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  timeout_ms_ = static_cast<uint32_t>(ms);
  libssh2_session_set_timeout(session_, static_cast<long>(ms));
  return env.Undefined();
}

Napi::Value Session::GetTimeout(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), timeout_ms_); }

Napi::Value Session::KeepaliveConfig(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_keepalive_config");
  int64_t interval;
  if (!ArgInt(info, 1, &interval, "interval")) return env.Undefined();
  if (interval < 0 || interval > 0x7fffffff) {
    Napi::RangeError::New(env, "interval must be >= 0 seconds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  libssh2_keepalive_config(session_, info[0].ToBoolean() ? 1 : 0, static_cast<unsigned>(interval));
  return env.Undefined();
}

Napi::Value Session::LastError(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_last_error");
  char* msg = nullptr;
  int len = 0;
  int rc = libssh2_session_last_error(session_, &msg, &len, 0);
  Napi::Object out = Napi::Object::New(env);
  out.Set("errno", rc);
  const char* code = rc == 0 ? "LIBSSH2_ERROR_NONE" : ErrorCodeName(rc);
  out.Set("code", code != nullptr ? Napi::String::New(env, code) : env.Null());
  out.Set("message", Napi::String::New(env, msg != nullptr ? std::string(msg, len) : std::string()));
  return out;
}

Napi::Value Session::LastErrno(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_last_errno");
  return Napi::Number::New(env, libssh2_session_last_errno(session_));
}

Napi::Value Session::SetLastError(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_set_last_error");
  int64_t code;
  std::string msg;
  bool has_msg;
  if (!ArgInt(info, 0, &code, "errno") || !ArgOptString(info, 1, &msg, &has_msg, "message")) return env.Undefined();
  int rc = libssh2_session_set_last_error(session_, static_cast<int>(code), has_msg ? msg.c_str() : nullptr);
  return Napi::Number::New(env, rc);
}

// setBlocking(bool): lib/session.ts checks that nothing is pending.
Napi::Value Session::SetBlocking(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_set_blocking");
  scheduler_->SetNbMode(!info[0].ToBoolean().Value());
  return env.Undefined();
}

// nbCall(signature | undefined): lib/nb.ts brackets every …Nb() call with it.
Napi::Value Session::NbCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (scheduler_ == nullptr) return env.Undefined();
  if (info[0].IsUndefined()) scheduler_->ClearNbCall();
  else scheduler_->SetNbCall(info[0]);
  return env.Undefined();
}

// waitSocket(timeoutMs): works in both modes, and on a closed session rejects with its error.
Napi::Value Session::WaitSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (session_ == nullptr || scheduler_ == nullptr) {  // a freeNb() that returned EAGAIN may wait
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(MakeBadUse(env, "the session has been freed", "waitSocket"));
    return d.Promise();
  }
  int64_t ms = 0;
  if (!ArgInt(info, 0, &ms, "timeoutMs")) return env.Undefined();
  return scheduler_->WaitSocket(static_cast<uint32_t>(ms < 0 ? 0 : ms));
}

Napi::Value Session::BlockDirections(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_block_directions");
  return Napi::Number::New(env, libssh2_session_block_directions(session_));
}

Napi::Value Session::Flag(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_flag");
  int64_t flag, value;
  if (!ArgInt(info, 0, &flag, "flag") || !ArgInt(info, 1, &value, "value")) return env.Undefined();
  int rc = libssh2_session_flag(session_, static_cast<int>(flag), static_cast<int>(value));
  if (rc < 0) ThrowError(env, rc, "libssh2_session_flag", session_);
  return env.Undefined();
}

Napi::Value Session::Trace(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_trace");
  int64_t bitmask;
  if (!ArgInt(info, 0, &bitmask, "bitmask")) return env.Undefined();
  if (info[1].IsFunction()) {
    trace_handler_ = Napi::Persistent(info[1].As<Napi::Function>());
    libssh2_trace_sethandler(session_, this, &TraceHandler);
  } else if (info[1].IsUndefined() || info[1].IsNull()) {
    // No JS handler: libssh2's default (stderr).
    if (!trace_handler_.IsEmpty()) {
      trace_handler_.Reset();
      libssh2_trace_sethandler(session_, nullptr, nullptr);
    }
  } else {
    Napi::TypeError::New(env, "handler must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  libssh2_trace(session_, static_cast<int>(bitmask));
  return env.Undefined();
}

// setChannelHandler(kind, fn | undefined): kind 0 = auth-agent@openssh.com, 1 = x11. Sets
// libssh2's LIBSSH2_CALLBACK_AUTHAGENT / LIBSSH2_CALLBACK_X11 (without one libssh2 refuses the
// channel with OPEN_FAILURE).
Napi::Value Session::SetChannelHandler(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_session_callback_set2");
  int64_t kind;
  if (!ArgInt(info, 0, &kind, "kind")) return env.Undefined();
  bool x11 = kind == 1;
  Napi::FunctionReference& handler = x11 ? x11_channel_handler_ : agent_channel_handler_;
  int type = x11 ? LIBSSH2_CALLBACK_X11 : LIBSSH2_CALLBACK_AUTHAGENT;
  libssh2_cb_generic* cb = nullptr;
  if (info[1].IsFunction()) {
    handler = Napi::Persistent(info[1].As<Napi::Function>());
    cb = x11 ? reinterpret_cast<libssh2_cb_generic*>(&X11Callback)
             : reinterpret_cast<libssh2_cb_generic*>(&AuthAgentCallback);
  } else if (info[1].IsUndefined() || info[1].IsNull()) {
    handler.Reset();
  } else {
    Napi::TypeError::New(env, "handler must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  libssh2_session_callback_set2(session_, type, cb);
  return env.Undefined();
}

Napi::Value Session::Ref(const Napi::CallbackInfo& info) {
  if (scheduler_ != nullptr) scheduler_->SetRef(true);
  return info.Env().Undefined();
}

Napi::Value Session::Unref(const Napi::CallbackInfo& info) {
  if (scheduler_ != nullptr) scheduler_->SetRef(false);
  return info.Env().Undefined();
}

Napi::Value Session::UserauthAuthenticated(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_userauth_authenticated");
  return Napi::Boolean::New(env, libssh2_userauth_authenticated(session_) != 0);
}

Napi::Value Session::UserauthBanner(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_userauth_banner");
  char* banner = nullptr;
  int rc = libssh2_userauth_banner(session_, &banner);
  if (rc == LIBSSH2_ERROR_MISSING_USERAUTH_BANNER || banner == nullptr) return env.Null();
  if (rc < 0) {
    ThrowError(env, rc, "libssh2_userauth_banner", session_);
    return env.Undefined();
  }
  return Napi::String::New(env, banner);
}

// state(): { closed, freed, busy, fd, closeError, inCallback } for lib/session.ts.
Napi::Value Session::State(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("closed", scheduler_ == nullptr || scheduler_->closed());
  out.Set("freed", session_ == nullptr);
  out.Set("busy", scheduler_ != nullptr && scheduler_->busy());
  out.Set("fd", fd_);
  out.Set("closeError", scheduler_ != nullptr ? scheduler_->close_error(env) : env.Undefined());
  // ms since bytes last arrived (-1: none yet): dead-peer detection in the Node-native layer.
  uint64_t last = last_recv_ns_.load();
  out.Set("recvIdleMs", last == 0 ? -1.0 : static_cast<double>(uv_hrtime() - last) / 1e6);
  out.Set("inCallback", callback_depth > 0);
  // recv(2) calls so far (tests: libssh2's calls on an empty socket are answered without one).
  out.Set("recvCalls", static_cast<double>(recv_calls_.load()));
  return out;
}

// The Node-native layer's hook for the 'close' event: called when a failure closes the session.
Napi::Value Session::OnClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) {
    Napi::TypeError::New(env, "handler must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  on_close_ = Napi::Weak(info[0].As<Napi::Function>());
  return env.Undefined();
}

// Closes the session with `error` (a dead peer found by the Node-native layer's keepalive):
// every pending and later op rejects with it, as when the connection fails.
Napi::Value Session::Fail(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (scheduler_ != nullptr && session_ != nullptr && !freeing_) scheduler_->Fail(info[0]);
  return env.Undefined();
}

// ---- async methods

#define ASYNC_GUARD(fn)                                          \
  Napi::Env env = info.Env();                                    \
  if (session_ == nullptr || freeing_) {                         \
    if (InNbCall(scheduler_)) {                                  \
      ThrowBadUse(env, "the session has been freed", fn);        \
      return env.Undefined();                                    \
    }                                                            \
    auto d = Napi::Promise::Deferred::New(env);                  \
    d.Reject(MakeBadUse(env, "the session has been freed", fn)); \
    return d.Promise();                                          \
  }

// libssh2_session_handshake: any failure leaves the session unusable, so it closes it.
class Session::HandshakeOp : public Op {
 public:
  HandshakeOp(Session* owner, int fd)
      : Op("libssh2_session_handshake", owner->session_gate(), Op::kHeavy), owner_(owner), fd_(fd) {}
  int Step(LIBSSH2_SESSION* s) override { return libssh2_session_handshake(s, fd_); }
  Napi::Value Result(Napi::Env env, int) override {
    owner_->handshaken_ = true;
    return env.Undefined();
  }
  bool Fatal(int) const override { return true; }

 private:
  Session* owner_;
  int fd_;
};

Napi::Value Session::Handshake(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_session_handshake");
  int64_t fd_in;
  if (!ArgInt(info, 0, &fd_in, "fd")) return env.Undefined();
  if (fd_ >= 0 && InNbCall(scheduler_) && !handshaken_) {  // handshakeNb repeated: same socket
    return scheduler_->Enqueue(std::make_unique<HandshakeOp>(this, fd_), timeout_ms_);
  }
  if (fd_ >= 0) {
    ThrowBadUse(env, "handshake() was already called on this session", "libssh2_session_handshake");
    return env.Undefined();
  }
  int fd = fcntl(static_cast<int>(fd_in), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    std::string msg = std::string("cannot use socket ") + std::to_string(fd_in) + ": " + std::strerror(errno);
    ThrowError(env, LIBSSH2_ERROR_BAD_SOCKET, "libssh2_session_handshake", nullptr, -1, msg.c_str());
    return env.Undefined();
  }
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  SetSocketOptions(fd);
  fd_ = fd;
  scheduler_->AttachSocket(fd);
  return scheduler_->Enqueue(std::make_unique<HandshakeOp>(this, fd), timeout_ms_);
}

namespace {
// Teardown ops (disconnect, free) finish within their time limit: when it runs out, the session
// switches to dead I/O and the next step completes without the network.
template <typename StepFn>
class TeardownOp : public Op {
 public:
  TeardownOp(const char* fn, const void* gate, Session* owner, StepFn step)
      : Op(fn, gate, Op::kTeardown), owner_(owner), step_(std::move(step)) {}
  int Step(LIBSSH2_SESSION* s) override { return step_(s); }
  bool Expire(bool holds_partial_send) override {
    owner_->set_dead();
    return true;
  }

 private:
  Session* owner_;
  StepFn step_;
};

constexpr uint32_t kTeardownLimitMs = 5000;
}  // namespace

Napi::Value Session::Disconnect(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_session_disconnect_ex");
  std::string desc = "";
  bool has_desc;
  int64_t reason = SSH_DISCONNECT_BY_APPLICATION;
  if (!ArgOptString(info, 0, &desc, &has_desc, "description")) return env.Undefined();
  if (!has_desc) desc = "";
  if (!info[1].IsUndefined() && !ArgInt(info, 1, &reason, "reason")) return env.Undefined();
  if (fd_ < 0 || !handshaken_ || scheduler_->closed()) {
    // Nothing to say to a peer we are not (or no longer) talking to.
    return scheduler_->Done(env.Undefined());
  }
  auto step = [desc, reason](LIBSSH2_SESSION* s) {
    // lang "" always: 1.11.1 miscomputes the packet length otherwise (PITFALLS §8, 1573b75e).
    return libssh2_session_disconnect_ex(s, static_cast<int>(reason), desc.c_str(), "");
  };
  auto op = std::make_unique<TeardownOp<decltype(step)>>("libssh2_session_disconnect_ex", session_gate(), this, step);
  uint32_t limit = timeout_ms_ > 0 && timeout_ms_ < kTeardownLimitMs ? timeout_ms_ : kTeardownLimitMs;
  return scheduler_->Enqueue(std::move(op), limit);
}

Napi::Value Session::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (session_ == nullptr || (freeing_ && !InNbCall(scheduler_))) {
    return DoneIn(env, scheduler_, env.Undefined());  // idempotent
  }
  if (callback_depth > 0) {  // called from a callback libssh2 is running: its op is on the stack
    const char* why =
        "free() cannot run inside a callback of this session (sign, keyboard-interactive, password change): call it "
        "after the callback returned";
    if (InNbCall(scheduler_)) {
      ThrowBadUse(env, why, "libssh2_session_free");
      return env.Undefined();
    }
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(MakeBadUse(env, why, "libssh2_session_free"));
    return d.Promise();
  }
  freeing_ = true;
  // The end of the connection: from now on I/O is pretended (PITFALLS 29), so a half-sent
  // packet another call holds "goes out" at once instead of blocking libssh2_session_free.
  set_dead();
  // Pending ops cannot finish once the session is gone.
  scheduler_->RejectAll(MakeBadUse(env, "the session was freed", "libssh2_session_free"));
  auto step = [this](LIBSSH2_SESSION* s) {
    // Free is the end of the connection (the fd is closed next): libssh2 would otherwise send
    // CLOSE on every open channel and wait for each peer CLOSE, which sshd sends only when the
    // command ends. Graceful ends are close()/disconnect(), which run before this op.
    set_dead();
    InvalidateChildren();  // SFTP handles and objects first; libssh2_session_free frees channels
    int rc = libssh2_session_free(s);
    if (rc == 0) {
      session_ = nullptr;
      scheduler_->SessionFreed();
    }
    return rc;
  };
  auto op = std::make_unique<TeardownOp<decltype(step)>>("libssh2_session_free", session_gate(), this, step);
  Napi::Value freed = scheduler_->Enqueue(std::move(op), kTeardownLimitMs);
  if (!freed.IsPromise()) {  // an Nb call: done at once (dead I/O), or threw
    bool again = !freed.IsEmpty() && freed.IsNumber() && freed.As<Napi::Number>().Int32Value() == LIBSSH2_ERROR_EAGAIN;
    if (!again) FinishFree();
    return freed;
  }
  // After the free op: release the socket and the queue.
  Napi::Function finish = Napi::Function::New(env, [this](const Napi::CallbackInfo& cb) {
    FinishFree();
    return cb.Env().Undefined();
  });
  return freed.As<Napi::Object>().Get("then").As<Napi::Function>().Call(freed, {finish, finish});
}

void Session::FinishFree() {
  if (session_ != nullptr) {  // the free step failed: finish on dead I/O
    set_dead();
    InvalidateChildren();
    libssh2_session_free(session_);
    session_ = nullptr;
    if (scheduler_ != nullptr) scheduler_->SessionFreed();
  }
  CloseFd();
  if (scheduler_ != nullptr && !scheduler_->busy()) {
    scheduler_->Destroy();
    scheduler_ = nullptr;
  }
  if (scheduler_ == nullptr && cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    cleanup_hook_ = false;
  }
}

Napi::Value Session::KeepaliveSend(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_keepalive_send");
  auto seconds = std::make_shared<int>(0);
  auto op = MakeOp(
      "libssh2_keepalive_send", nullptr, 0,
      [seconds](LIBSSH2_SESSION* s) { return libssh2_keepalive_send(s, seconds.get()); },
      [seconds](Napi::Env env, int) { return Napi::Number::New(env, *seconds); });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::UserauthList(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_userauth_list");
  std::string user;
  if (!ArgString(info, 0, &user, "username")) return env.Undefined();
  auto list = std::make_shared<std::string>();
  auto none_ok = std::make_shared<bool>(false);
  auto op = MakeOp(
      "libssh2_userauth_list", session_gate(), 0,
      [user, list, none_ok](LIBSSH2_SESSION* s) {
        // Already authenticated: null ("authenticated"), as after "none" succeeded, without
        // sending a request the server would ignore.
        if (libssh2_userauth_authenticated(s) != 0) {
          *none_ok = true;
          return 0;
        }
        char* l = libssh2_userauth_list(s, user.c_str(), static_cast<unsigned>(user.size()));
        if (l != nullptr) {
          *list = l;
          return 0;
        }
        if (libssh2_userauth_authenticated(s)) {
          *none_ok = true;  // "none" authentication succeeded
          return 0;
        }
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_PROTO : rc;
      },
      [list, none_ok](Napi::Env env, int) -> Napi::Value {
        if (*none_ok) return env.Null();
        Napi::Array out = Napi::Array::New(env);
        size_t start = 0;
        uint32_t i = 0;
        while (start <= list->size()) {
          size_t comma = list->find(',', start);
          if (comma == std::string::npos) comma = list->size();
          if (comma > start) out.Set(i++, list->substr(start, comma - start));
          start = comma + 1;
        }
        return out;
      });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::UserauthPassword(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_userauth_password_ex");
  std::string user, password;
  if (!ArgString(info, 0, &user, "username") || !ArgString(info, 1, &password, "password")) return env.Undefined();
  bool has_cb = info[2].IsFunction();
  // The password-change callback runs inline (this op is never heavy) and may call JS directly.
  auto cb = has_cb ? std::make_shared<Napi::FunctionReference>(Napi::Persistent(info[2].As<Napi::Function>()))
                   : std::shared_ptr<Napi::FunctionReference>();
  // PasswordChange is passed even without a JS callback: it then answers "no new password",
  // which libssh2 reports as LIBSSH2_ERROR_PASSWORD_EXPIRED. Given no callback at all, 1.11.1
  // falls through to AUTHENTICATION_FAILED (its "no callback specified" branch is attached to
  // the wrong if).
  auto op = MakeOp("libssh2_userauth_password_ex", session_gate(), 0, [this, user, password, cb](LIBSSH2_SESSION* s) {
    if (int refused = RefuseIfAuthenticated(s)) return refused;
    password_change_cb = cb.get();
    int rc = libssh2_userauth_password_ex(s, user.c_str(), static_cast<unsigned>(user.size()), password.c_str(),
                                          static_cast<unsigned>(password.size()), &PasswordChange);
    password_change_cb = nullptr;
    return rc;
  });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::UserauthPublickeyFromfile(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_userauth_publickey_fromfile_ex");
  std::string user, priv, pass, pub;
  bool has_pass, has_pub;
  if (!ArgString(info, 0, &user, "username") || !ArgString(info, 1, &priv, "privkeyPath") ||
      !ArgOptString(info, 2, &pass, &has_pass, "passphrase") || !ArgOptString(info, 3, &pub, &has_pub, "pubkeyPath")) {
    return env.Undefined();
  }
  auto op = MakeOp("libssh2_userauth_publickey_fromfile_ex", session_gate(), Op::kHeavy,
                   [user, priv, pass, pub, has_pass, has_pub](LIBSSH2_SESSION* s) {
                     if (int refused = RefuseIfAuthenticated(s)) return refused;
                     return libssh2_userauth_publickey_fromfile_ex(s, user.c_str(), static_cast<unsigned>(user.size()),
                                                                   has_pub ? pub.c_str() : nullptr, priv.c_str(),
                                                                   has_pass ? pass.c_str() : nullptr);
                   });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::UserauthPublickeyFrommemory(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_userauth_publickey_frommemory");
  std::string user, priv, pass, pub;
  bool has_priv, has_pass, has_pub;
  if (!ArgString(info, 0, &user, "username") || !ArgBytes(info, 1, &priv, &has_priv, "privkey") ||
      !ArgOptString(info, 2, &pass, &has_pass, "passphrase") || !ArgBytes(info, 3, &pub, &has_pub, "pubkey")) {
    return env.Undefined();
  }
  auto op = MakeOp("libssh2_userauth_publickey_frommemory", session_gate(), Op::kHeavy,
                   [user, priv, pass, pub, has_pass, has_pub](LIBSSH2_SESSION* s) {
                     if (int refused = RefuseIfAuthenticated(s)) return refused;
                     return libssh2_userauth_publickey_frommemory(
                         s, user.c_str(), user.size(), has_pub ? pub.data() : nullptr, has_pub ? pub.size() : 0,
                         priv.data(), priv.size(), has_pass ? pass.c_str() : nullptr);
                   });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::UserauthPublickey(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_userauth_publickey");
  std::string user, blob;
  bool has_blob;
  if (!ArgString(info, 0, &user, "username") || !ArgBytes(info, 1, &blob, &has_blob, "pubkeyBlob"))
    return env.Undefined();
  if (!info[2].IsFunction()) {
    Napi::TypeError::New(env, "sign must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return scheduler_->Enqueue(std::make_unique<SignOp>(this, user, blob, info[2].As<Napi::Function>()), timeout_ms_);
}

Napi::Value Session::UserauthKeyboardInteractive(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_userauth_keyboard_interactive_ex");
  std::string user;
  if (!ArgString(info, 0, &user, "username")) return env.Undefined();
  if (!info[1].IsFunction()) {
    Napi::TypeError::New(env, "responder must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return scheduler_->Enqueue(std::make_unique<KbdOp>(this, user, info[1].As<Napi::Function>(), InNbCall(scheduler_)),
                             timeout_ms_);
}

Napi::Value Session::UserauthHostbasedFromfile(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_userauth_hostbased_fromfile_ex");
  std::string user, priv, host, pass, pub, local;
  bool has_pass, has_pub, has_local;
  if (!ArgString(info, 0, &user, "username") || !ArgString(info, 1, &priv, "privkeyPath") ||
      !ArgString(info, 2, &host, "hostname") || !ArgOptString(info, 3, &pass, &has_pass, "passphrase") ||
      !ArgOptString(info, 4, &pub, &has_pub, "pubkeyPath") || !ArgOptString(info, 5, &local, &has_local, "localUser")) {
    return env.Undefined();
  }
  if (!has_local) local = user;
  auto op = MakeOp("libssh2_userauth_hostbased_fromfile_ex", session_gate(), Op::kHeavy,
                   [user, priv, host, pass, pub, local, has_pass, has_pub](LIBSSH2_SESSION* s) {
                     if (int refused = RefuseIfAuthenticated(s)) return refused;
                     return libssh2_userauth_hostbased_fromfile_ex(
                         s, user.c_str(), static_cast<unsigned>(user.size()), has_pub ? pub.c_str() : nullptr,
                         priv.c_str(), has_pass ? pass.c_str() : nullptr, host.c_str(),
                         static_cast<unsigned>(host.size()), local.c_str(), static_cast<unsigned>(local.size()));
                   });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::SftpInit(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_sftp_init");
  auto opened = std::make_shared<LIBSSH2_SFTP*>(nullptr);
  // sftp_init opens a channel (session-wide open state: session gate) and then waits for the
  // subsystem request's CHANNEL_SUCCESS (no other channel setup meanwhile: setup gate).
  auto op = MakeOp(
      "libssh2_sftp_init", session_gate(), 0,
      [opened](LIBSSH2_SESSION* s) {
        *opened = libssh2_sftp_init(s);
        if (*opened != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_CHANNEL_FAILURE : rc;
      },
      [this, opened](Napi::Env env, int) { return Sftp::NewInstance(env, this, *opened); });
  op->set_gate2(setup_gate());
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

// SCP opens a channel, execs scp and waits for its reply: session gate (open state) and setup
// gate (CHANNEL_SUCCESS), like sftp_init.
Napi::Value Session::ScpRecv2(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_scp_recv2");
  std::string path;
  if (!ArgString(info, 0, &path, "path")) return env.Undefined();
  struct Out {
    LIBSSH2_CHANNEL* channel = nullptr;
    libssh2_struct_stat st{};
  };
  auto out = std::make_shared<Out>();
  auto op = MakeOp(
      "libssh2_scp_recv2", session_gate(), 0,
      [path, out](LIBSSH2_SESSION* s) {
        out->channel = libssh2_scp_recv2(s, path.c_str(), &out->st);
        if (out->channel != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_SCP_PROTOCOL : rc;
      },
      [this, out](Napi::Env env, int) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("channel", Channel::NewInstance(env, this, out->channel));
        Napi::Object st = Napi::Object::New(env);
        st.Set("size", Napi::Number::New(env, static_cast<double>(out->st.st_size)));
        st.Set("mode", Napi::Number::New(env, static_cast<double>(out->st.st_mode)));
        st.Set("atime", Napi::Number::New(env, static_cast<double>(out->st.st_atime)));
        st.Set("mtime", Napi::Number::New(env, static_cast<double>(out->st.st_mtime)));
        r.Set("stat", st);
        return r;
      });
  op->set_gate2(setup_gate());
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::ScpSend64(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_scp_send64");
  std::string path;
  int64_t mode, size, mtime = 0, atime = 0;
  if (!ArgString(info, 0, &path, "path") || !ArgInt(info, 1, &mode, "mode") || !ArgInt(info, 2, &size, "size") ||
      (!info[3].IsUndefined() && !ArgInt(info, 3, &mtime, "mtime")) ||
      (!info[4].IsUndefined() && !ArgInt(info, 4, &atime, "atime"))) {
    return env.Undefined();
  }
  auto opened = std::make_shared<LIBSSH2_CHANNEL*>(nullptr);
  auto op = MakeOp(
      "libssh2_scp_send64", session_gate(), 0,
      [path, mode, size, mtime, atime, opened](LIBSSH2_SESSION* s) {
        *opened = libssh2_scp_send64(s, path.c_str(), static_cast<int>(mode), static_cast<libssh2_int64_t>(size),
                                     static_cast<time_t>(mtime), static_cast<time_t>(atime));
        if (*opened != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_SCP_PROTOCOL : rc;
      },
      [this, opened](Napi::Env env, int) { return Channel::NewInstance(env, this, *opened); });
  op->set_gate2(setup_gate());
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

// direct-tcpip / direct-streamlocal: channel opens (session-wide open and direct state).
Napi::Value Session::DirectTcpip(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_channel_direct_tcpip_ex");
  std::string host, shost;
  int64_t port, sport;
  if (!ArgString(info, 0, &host, "host") || !ArgInt(info, 1, &port, "port") || !ArgString(info, 2, &shost, "shost") ||
      !ArgInt(info, 3, &sport, "sport")) {
    return env.Undefined();
  }
  auto opened = std::make_shared<LIBSSH2_CHANNEL*>(nullptr);
  auto op = MakeOp(
      "libssh2_channel_direct_tcpip_ex", session_gate(), 0,
      [host, port, shost, sport, opened](LIBSSH2_SESSION* s) {
        *opened = libssh2_channel_direct_tcpip_ex(s, host.c_str(), static_cast<int>(port), shost.c_str(),
                                                  static_cast<int>(sport));
        if (*opened != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_CHANNEL_FAILURE : rc;
      },
      [this, opened](Napi::Env env, int) { return Channel::NewInstance(env, this, *opened); });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

Napi::Value Session::DirectStreamlocal(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_channel_direct_streamlocal_ex");
  std::string path, shost;
  int64_t sport;
  if (!ArgString(info, 0, &path, "socketPath") || !ArgString(info, 1, &shost, "shost") ||
      !ArgInt(info, 2, &sport, "sport")) {
    return env.Undefined();
  }
  auto opened = std::make_shared<LIBSSH2_CHANNEL*>(nullptr);
  auto op = MakeOp(
      "libssh2_channel_direct_streamlocal_ex", session_gate(), 0,
      [path, shost, sport, opened](LIBSSH2_SESSION* s) {
        *opened = libssh2_channel_direct_streamlocal_ex(s, path.c_str(), shost.c_str(), static_cast<int>(sport));
        if (*opened != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_CHANNEL_FAILURE : rc;
      },
      [this, opened](Napi::Env env, int) { return Channel::NewInstance(env, this, *opened); });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

// tcpip-forward: a global request whose reply is not matched to the request: session gate.
Napi::Value Session::ForwardListen(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_channel_forward_listen_ex");
  int64_t port, queue = 16;
  std::string host;
  bool has_host;
  if (!ArgInt(info, 0, &port, "port") || !ArgOptString(info, 1, &host, &has_host, "host") ||
      (!info[2].IsUndefined() && !ArgInt(info, 2, &queue, "queueMaxsize"))) {
    return env.Undefined();
  }
  struct Out {
    LIBSSH2_LISTENER* listener = nullptr;
    int bound = 0;
  };
  auto out = std::make_shared<Out>();
  auto op = MakeOp(
      "libssh2_channel_forward_listen_ex", session_gate(), 0,
      [port, host, has_host, queue, out](LIBSSH2_SESSION* s) {
        out->listener = libssh2_channel_forward_listen_ex(s, has_host ? host.c_str() : nullptr, static_cast<int>(port),
                                                          &out->bound, static_cast<int>(queue));
        if (out->listener != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_REQUEST_DENIED : rc;
      },
      [this, out](Napi::Env env, int) { return Listener::NewInstance(env, this, out->listener, out->bound); });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

// publickey_init opens a channel and starts the "publickey" subsystem (session-wide open and
// init state: session gate; the subsystem request's reply: setup gate), like sftp_init.
Napi::Value Session::PublickeyInit(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_publickey_init");
  auto opened = std::make_shared<LIBSSH2_PUBLICKEY*>(nullptr);
  auto op = MakeOp(
      "libssh2_publickey_init", session_gate(), 0,
      [opened](LIBSSH2_SESSION* s) {
        *opened = libssh2_publickey_init(s);
        if (*opened != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_PUBLICKEY_PROTOCOL : rc;
      },
      [this, opened](Napi::Env env, int) { return PublicKey::NewInstance(env, this, *opened); });
  op->set_gate2(setup_gate());
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

// libssh2_knownhost_init: local, synchronous.
Napi::Value Session::KnownhostInit(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_knownhost_init");
  LIBSSH2_KNOWNHOSTS* hosts = libssh2_knownhost_init(session_);
  if (hosts == nullptr) {
    ThrowError(env, LIBSSH2_ERROR_ALLOC, "libssh2_knownhost_init", session_);
    return env.Undefined();
  }
  return KnownHosts::NewInstance(env, this, hosts);
}

// libssh2_agent_init: local, synchronous.
Napi::Value Session::AgentInit(const Napi::CallbackInfo& info) {
  SESSION_GUARD("libssh2_agent_init");
  LIBSSH2_AGENT* agent = libssh2_agent_init(session_);
  if (agent == nullptr) {
    ThrowError(env, LIBSSH2_ERROR_ALLOC, "libssh2_agent_init", session_);
    return env.Undefined();
  }
  return Agent::NewInstance(env, this, agent);
}

Napi::Value Session::OpenSession(const Napi::CallbackInfo& info) {
  ASYNC_GUARD("libssh2_channel_open_ex");
  int64_t window = LIBSSH2_CHANNEL_WINDOW_DEFAULT, packet = LIBSSH2_CHANNEL_PACKET_DEFAULT;
  if (!info[0].IsUndefined() && !ArgInt(info, 0, &window, "windowSize")) return env.Undefined();
  if (!info[1].IsUndefined() && !ArgInt(info, 1, &packet, "packetSize")) return env.Undefined();
  auto opened = std::make_shared<LIBSSH2_CHANNEL*>(nullptr);
  auto op = MakeOp(
      "libssh2_channel_open_ex", session_gate(), 0,
      [opened, window, packet](LIBSSH2_SESSION* s) {
        *opened = libssh2_channel_open_ex(s, "session", sizeof "session" - 1, static_cast<uint32_t>(window),
                                          static_cast<uint32_t>(packet), nullptr, 0);
        if (*opened != nullptr) return 0;
        int rc = libssh2_session_last_errno(s);
        return rc == 0 ? LIBSSH2_ERROR_CHANNEL_FAILURE : rc;
      },
      [this, opened](Napi::Env env, int) { return Channel::NewInstance(env, this, *opened); });
  return scheduler_->Enqueue(std::move(op), timeout_ms_);
}

}  // namespace node_libssh2
