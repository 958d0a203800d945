// Session: LIBSSH2_SESSION, its socket and its op queue. The TypeScript Session class
// (lib/session.ts) wraps this object; argument checks and modes live there.
#pragma once

#include <atomic>
#include <mutex>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common.h"
#include "scheduler.h"

namespace node_libssh2 {

// A userauth call on a session that is already authenticated: sshd ignores the request (RFC 4252
// §5.1; OpenSSH answers nothing), so libssh2 would wait for a reply until the op's timeout, which
// then closes the session. Such a call fails at once with LIBSSH2_ERROR_BAD_USE (recorded as the
// session's last error; nothing is sent). Returns 0 when `s` is not authenticated yet.
int RefuseIfAuthenticated(LIBSSH2_SESSION* s);

class Channel;
class Sftp;
class Listener;
class KnownHosts;
class Agent;
class PublicKey;

// libssh2_channel_free waits for the peer's CLOSE, which sshd sends only once the command
// ended: past this limit the free is dropped and the channel stays in libssh2's list until the
// session is freed.
constexpr uint32_t kChannelFreeLimitMs = 2000;

class Session : public Napi::ObjectWrap<Session>, public SchedulerOwner {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Session(const Napi::CallbackInfo& info);
  ~Session() override;

  LIBSSH2_SESSION* raw() const { return session_; }
  Scheduler* scheduler() const { return scheduler_; }
  // The gate of session-wide libssh2 state machines (open, userauth, disconnect, ...).
  const void* session_gate() const { return &session_gate_; }
  // One channel at a time may wait for CHANNEL_SUCCESS/FAILURE (PITFALLS 5).
  const void* setup_gate() const { return &setup_gate_; }
  Napi::Object js_object() { return Value(); }

  // Children: freeing the session tears down live SFTP objects and invalidates live channels
  // first. Children whose JS object was collected are freed by a detached op on the queue
  // (never from a finalizer), unless the session or their parent went first.
  void AddChannel(Channel* c) { channels_.insert(c); }
  void RemoveChannel(Channel* c) { channels_.erase(c); }
  void AddSftp(Sftp* s) { sftps_.insert(s); }
  void RemoveSftp(Sftp* s) { sftps_.erase(s); }
  void AddListener(Listener* l) { listeners_.insert(l); }
  void RemoveListener(Listener* l) { listeners_.erase(l); }
  void AddKnownHosts(KnownHosts* k) { knownhosts_.insert(k); }
  void RemoveKnownHosts(KnownHosts* k) { knownhosts_.erase(k); }
  void AddAgent(Agent* a) { agents_.insert(a); }
  void RemoveAgent(Agent* a) { agents_.erase(a); }
  void AddPublicKey(PublicKey* p) { publickeys_.insert(p); }
  void RemovePublicKey(PublicKey* p) { publickeys_.erase(p); }
  // `rank` orders the frees at session teardown (handles 0, SFTP 1, channels 2); `parent` lets
  // an SFTP shutdown free its orphaned handles first.
  void FreeOrphan(void* raw, void* parent, int rank, const void* gate, const char* fn, std::function<int()> free);
  // Runs (and forgets) the orphan frees whose parent is `parent` (an SFTP being shut down).
  void FreeOrphansOf(void* parent);
  uint32_t timeout_ms() const { return timeout_ms_; }
  bool dead() const { return dead_.load(); }
  void set_dead() { dead_.store(true); }

  // SchedulerOwner
  void OnBusy(bool busy) override;
  void AfterSteps() override;
  void OnClosed() override;
  uint64_t Received() const override { return received_.load(std::memory_order_relaxed); }
  bool PeerGone() const override { return peer_gone_.load(); }
  void TrustDrained(bool trust) override { trust_drained_.store(trust, std::memory_order_relaxed); }
  void SocketReadable() override {
    drained_.store(false, std::memory_order_relaxed);
    skipped_ = 0;
  }
  bool TakeAckDue() override {
    uint64_t r = received_.load(std::memory_order_relaxed);
    return acked_.exchange(r, std::memory_order_relaxed) != r;
  }

  // The password-change callback of the userauth_password step running now (main thread).
  Napi::FunctionReference* password_change_cb = nullptr;
  // > 0 while JS runs synchronously inside a libssh2 call of this session (sign callback, a
  // synchronous keyboard-interactive responder, password change): free() then refuses, since
  // it would reject (delete) the op whose libssh2 call is on the stack.
  int callback_depth = 0;
  struct CallbackScope {
    explicit CallbackScope(Session* s) : s_(s) {
      if (s_) s_->callback_depth++;
    }
    ~CallbackScope() {
      if (s_) s_->callback_depth--;
    }
    Session* s_;
  };

 private:
  class HandshakeOp;
  static ssize_t SendCallback(libssh2_socket_t fd, const void* buf, size_t len, int flags, void** abstract);
  static ssize_t RecvCallback(libssh2_socket_t fd, void* buf, size_t len, int flags, void** abstract);
  static void TraceHandler(LIBSSH2_SESSION* session, void* context, const char* data, size_t length);
  // Channels the server opens (auth-agent@openssh.com, x11): libssh2 hands them over inside
  // whichever step reads the transport (maybe on a pool thread); AfterSteps passes them to JS.
  static void AuthAgentCallback(LIBSSH2_SESSION* session, LIBSSH2_CHANNEL* channel, void** abstract);
  static void X11Callback(LIBSSH2_SESSION* session, LIBSSH2_CHANNEL* channel, char* shost, int sport, void** abstract);
  void DeliverIncomingChannels();
  static void CleanupHook(void* arg);

  bool CheckUsable(Napi::Env env, const char* fn);
  void CloseFd();
  void FreeNow();     // synchronous free on dead I/O (finalizer, environment teardown)
  void FinishFree();  // after the free op: close the socket, release the queue

  // Synchronous methods.
  Napi::Value Hostkey(const Napi::CallbackInfo& info);
  Napi::Value HostkeyHash(const Napi::CallbackInfo& info);
  Napi::Value Methods(const Napi::CallbackInfo& info);
  Napi::Value MethodPref(const Napi::CallbackInfo& info);
  Napi::Value SupportedAlgs(const Napi::CallbackInfo& info);
  Napi::Value BannerGet(const Napi::CallbackInfo& info);
  Napi::Value BannerSet(const Napi::CallbackInfo& info);
  Napi::Value SetTimeout(const Napi::CallbackInfo& info);
  Napi::Value GetTimeout(const Napi::CallbackInfo& info);
  Napi::Value KeepaliveConfig(const Napi::CallbackInfo& info);
  Napi::Value LastError(const Napi::CallbackInfo& info);
  Napi::Value LastErrno(const Napi::CallbackInfo& info);
  Napi::Value SetLastError(const Napi::CallbackInfo& info);
  Napi::Value BlockDirections(const Napi::CallbackInfo& info);
  Napi::Value Flag(const Napi::CallbackInfo& info);
  Napi::Value Trace(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value UserauthAuthenticated(const Napi::CallbackInfo& info);
  Napi::Value UserauthBanner(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value SetBlocking(const Napi::CallbackInfo& info);
  Napi::Value NbCall(const Napi::CallbackInfo& info);
  Napi::Value WaitSocket(const Napi::CallbackInfo& info);
  Napi::Value SetChannelHandler(const Napi::CallbackInfo& info);
  Napi::Value OnClose(const Napi::CallbackInfo& info);
  Napi::Value Fail(const Napi::CallbackInfo& info);

  // Async methods (return a Promise; ops on the queue).
  Napi::Value Handshake(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value KeepaliveSend(const Napi::CallbackInfo& info);
  Napi::Value UserauthList(const Napi::CallbackInfo& info);
  Napi::Value UserauthPassword(const Napi::CallbackInfo& info);
  Napi::Value UserauthPublickeyFromfile(const Napi::CallbackInfo& info);
  Napi::Value UserauthPublickeyFrommemory(const Napi::CallbackInfo& info);
  Napi::Value UserauthPublickey(const Napi::CallbackInfo& info);
  Napi::Value UserauthKeyboardInteractive(const Napi::CallbackInfo& info);
  Napi::Value UserauthHostbasedFromfile(const Napi::CallbackInfo& info);
  Napi::Value OpenSession(const Napi::CallbackInfo& info);
  Napi::Value SftpInit(const Napi::CallbackInfo& info);
  Napi::Value ScpRecv2(const Napi::CallbackInfo& info);
  Napi::Value ScpSend64(const Napi::CallbackInfo& info);
  Napi::Value DirectTcpip(const Napi::CallbackInfo& info);
  Napi::Value DirectStreamlocal(const Napi::CallbackInfo& info);
  Napi::Value ForwardListen(const Napi::CallbackInfo& info);
  Napi::Value KnownhostInit(const Napi::CallbackInfo& info);
  Napi::Value AgentInit(const Napi::CallbackInfo& info);
  Napi::Value PublickeyInit(const Napi::CallbackInfo& info);
  void InvalidateChildren();

  LIBSSH2_SESSION* session_ = nullptr;
  Scheduler* scheduler_ = nullptr;
  int fd_ = -1;
  bool handshaken_ = false;
  bool freeing_ = false;
  bool cleanup_hook_ = false;  // registered with napi_add_env_cleanup_hook
  uint32_t timeout_ms_ = 0;
  std::atomic<bool> dead_{false};
  std::atomic<uint64_t> received_{0};       // bytes from the socket (wakes waitSocket() waiters)
  std::atomic<bool> drained_{false};        // the last recv found the socket empty
  std::atomic<bool> trust_drained_{false};  // skip recv while drained_ (TrustDrained)
  std::atomic<uint64_t> recv_calls_{0};     // recv(2) calls (state().recvCalls)
  int skipped_ = 0;                         // recv calls skipped since the last real one (main thread)
  std::atomic<uint64_t> acked_{0};          // received_ at the last send or flushed ACK (TakeAckDue)
  std::atomic<bool> peer_gone_{false};      // the socket saw EOF, ECONNRESET or EPIPE
  std::atomic<uint64_t> last_recv_ns_{0};   // uv_hrtime() when bytes last arrived (0: never)
  char session_gate_ = 0;
  char setup_gate_ = 0;
  struct Orphan {
    void* parent;
    int rank;
    std::function<int()> free;
  };
  std::set<Channel*> channels_;
  std::set<Sftp*> sftps_;
  std::set<Listener*> listeners_;
  std::set<KnownHosts*> knownhosts_;
  std::set<Agent*> agents_;
  std::set<PublicKey*> publickeys_;
  std::map<void*, Orphan> orphans_;
  Napi::Env env_;

  std::mutex trace_mutex_;
  std::vector<std::string> trace_lines_;
  Napi::FunctionReference trace_handler_;

  struct IncomingChannel {
    LIBSSH2_CHANNEL* channel;
    bool x11;
    std::string shost;
    int sport;
  };
  std::mutex incoming_mutex_;
  std::vector<IncomingChannel> incoming_;
  Napi::FunctionReference agent_channel_handler_;
  Napi::FunctionReference x11_channel_handler_;
  Napi::FunctionReference on_close_;  // weak: the JS Session holds it (no cycle through a persistent)
};

}  // namespace node_libssh2
