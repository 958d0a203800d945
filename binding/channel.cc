#include "channel.h"

#include <vector>

#include "errors.h"
#include "session.h"
#include "util.h"

namespace node_libssh2 {

namespace {

// Channel writes at least this large step on the threadpool (encryption of many packets).
constexpr size_t kHeavyWrite = 128 * 1024;

// libssh2_channel_free waits until no other op of the channel is pending.
template <typename StepFn>
class ChannelFreeOp : public TargetOp<Channel, StepFn, Napi::Value (*)(Napi::Env, int)> {
  using Base = TargetOp<Channel, StepFn, Napi::Value (*)(Napi::Env, int)>;

 public:
  ChannelFreeOp(Channel* ch, StepFn step)
      : Base(ch, "libssh2_channel_free", nullptr, Op::kTeardown | Op::kAbandonable, std::move(step), UndefinedResult) {}
  bool Ready() const override { return this->target_->pending_ops() <= 1; }
  bool Expire(bool holds_partial_send) override {
    if (holds_partial_send) return false;  // cannot be dropped: TimeoutError closes the session
    this->target_->Invalidate();           // dropped: libssh2_session_free frees it
    return true;                           // the next step sees no channel and resolves
  }
  int Step(LIBSSH2_SESSION* s) override { return this->target_->raw() == nullptr ? 0 : Base::Step(s); }
};

Napi::Value NumberResult(Napi::Env env, int rc) { return Napi::Number::New(env, rc); }

}  // namespace

Napi::Function Channel::Init(Napi::Env env) {
  return DefineClass(env, "Channel",
                     {
                         InstanceMethod<&Channel::Eof>("eof"),
                         InstanceMethod<&Channel::GetExitStatus>("getExitStatus"),
                         InstanceMethod<&Channel::GetExitSignal>("getExitSignal"),
                         InstanceMethod<&Channel::WindowRead>("windowRead"),
                         InstanceMethod<&Channel::WindowWrite>("windowWrite"),
                         InstanceMethod<&Channel::IsFreed>("isFreed"),
                         InstanceMethod<&Channel::Setenv>("setenv"),
                         InstanceMethod<&Channel::RequestPty>("requestPty"),
                         InstanceMethod<&Channel::RequestPtySize>("requestPtySize"),
                         InstanceMethod<&Channel::ProcessStartup>("processStartup"),
                         InstanceMethod<&Channel::Read>("read"),
                         InstanceMethod<&Channel::ReadInto>("readInto"),
                         InstanceMethod<&Channel::Write>("write"),
                         InstanceMethod<&Channel::Flush>("flush"),
                         InstanceMethod<&Channel::SendEof>("sendEof"),
                         InstanceMethod<&Channel::WaitEof>("waitEof"),
                         InstanceMethod<&Channel::Close>("close"),
                         InstanceMethod<&Channel::WaitClosed>("waitClosed"),
                         InstanceMethod<&Channel::Free>("free"),
                         InstanceMethod<&Channel::ReceiveWindowAdjust>("receiveWindowAdjust"),
                         InstanceMethod<&Channel::HandleExtendedData>("handleExtendedData"),
                         InstanceMethod<&Channel::Signal>("signal"),
                         InstanceMethod<&Channel::X11Req>("x11Req"),
                         InstanceMethod<&Channel::RequestAuthAgent>("requestAuthAgent"),
                     });
}

Napi::Value Channel::NewInstance(Napi::Env env, Session* session, LIBSSH2_CHANNEL* channel) {
  AddonData* data = GetAddonData(env);
  return data->channelCtor.New(
      {Napi::External<Session>::New(env, session), Napi::External<LIBSSH2_CHANNEL>::New(env, channel)});
}

Channel::Channel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Channel>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[1].IsExternal()) {
    Napi::TypeError::New(env, "Channel objects come from Session methods (openSession, ...)")
        .ThrowAsJavaScriptException();
    return;
  }
  session_ = info[0].As<Napi::External<Session>>().Data();
  channel_ = info[1].As<Napi::External<LIBSSH2_CHANNEL>>().Data();
  session_ref_ = Napi::Persistent(session_->js_object());
  session_->AddChannel(this);
}

Channel::~Channel() {
  if (session_ == nullptr) return;
  session_->RemoveChannel(this);
  // Collected without free(): the free goes on the session's queue (never from a finalizer).
  if (channel_ != nullptr) {
    LIBSSH2_CHANNEL* raw = channel_;
    session_->FreeOrphan(raw, nullptr, 2, nullptr, "libssh2_channel_free", [raw] { return libssh2_channel_free(raw); });
  }
  channel_ = nullptr;
}

bool Channel::Usable(Napi::Env env, const char* fn) {
  if (channel_ == nullptr || freeing_) {
    ThrowBadUse(env, "the channel has been freed", fn);
    return false;
  }
  return true;
}

Napi::Value Channel::Enqueue(std::unique_ptr<Op> op, bool) {
  return session_->scheduler()->Enqueue(std::move(op), session_->timeout_ms());
}

#define CHANNEL_GUARD(fn)     \
  Napi::Env env = info.Env(); \
  if (!Usable(env, fn)) return env.Undefined();

// ---- synchronous

Napi::Value Channel::Eof(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_eof");
  int rc = libssh2_channel_eof(channel_);
  if (rc < 0) {
    ThrowError(env, rc, "libssh2_channel_eof", session_->raw());
    return env.Undefined();
  }
  return Napi::Boolean::New(env, rc == 1);
}

Napi::Value Channel::GetExitStatus(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_get_exit_status");
  if (!libssh2_channel_has_exit_status(channel_)) return env.Null();
  return Napi::Number::New(env, libssh2_channel_get_exit_status(channel_));
}

Napi::Value Channel::GetExitSignal(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_get_exit_signal");
  char *sig = nullptr, *msg = nullptr, *lang = nullptr;
  size_t sig_len = 0, msg_len = 0, lang_len = 0;
  int rc = libssh2_channel_get_exit_signal(channel_, &sig, &sig_len, &msg, &msg_len, &lang, &lang_len);
  if (rc < 0) {
    ThrowError(env, rc, "libssh2_channel_get_exit_signal", session_->raw());
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("signal", sig != nullptr ? Napi::String::New(env, sig, sig_len).operator napi_value() : env.Null());
  out.Set("message", msg != nullptr ? Napi::String::New(env, msg, msg_len).operator napi_value() : env.Null());
  out.Set("lang", lang != nullptr ? Napi::String::New(env, lang, lang_len).operator napi_value() : env.Null());
  for (char* p : {sig, msg, lang}) {
    if (p != nullptr) libssh2_free(session_->raw(), p);
  }
  return out;
}

Napi::Value Channel::WindowRead(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_window_read_ex");
  unsigned long avail = 0, initial = 0;  // NOLINT(runtime/int): libssh2's types
  unsigned long window = libssh2_channel_window_read_ex(channel_, &avail, &initial);  // NOLINT
  Napi::Object out = Napi::Object::New(env);
  out.Set("window", Napi::Number::New(env, static_cast<double>(window)));
  out.Set("readAvail", Napi::Number::New(env, static_cast<double>(avail)));
  out.Set("windowSizeInitial", Napi::Number::New(env, static_cast<double>(initial)));
  return out;
}

Napi::Value Channel::WindowWrite(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_window_write_ex");
  unsigned long initial = 0;                                                   // NOLINT
  unsigned long window = libssh2_channel_window_write_ex(channel_, &initial);  // NOLINT
  Napi::Object out = Napi::Object::New(env);
  out.Set("window", Napi::Number::New(env, static_cast<double>(window)));
  out.Set("windowSizeInitial", Napi::Number::New(env, static_cast<double>(initial)));
  return out;
}

Napi::Value Channel::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), channel_ == nullptr || freeing_);
}

// ---- async: setup requests (one per session awaits its reply at a time)

Napi::Value Channel::Setenv(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_setenv_ex");
  std::string name, value;
  if (!ArgString(info, 0, &name, "name") || !ArgString(info, 1, &value, "value")) return env.Undefined();
  return Enqueue(
      MakeTargetOp(this, "libssh2_channel_setenv_ex", session_->setup_gate(), 0, [name, value](LIBSSH2_CHANNEL* c) {
        return libssh2_channel_setenv_ex(c, name.c_str(), static_cast<unsigned>(name.size()), value.c_str(),
                                         static_cast<unsigned>(value.size()));
      }));
}

Napi::Value Channel::RequestPty(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_request_pty_ex");
  std::string term, modes;
  bool has_modes;
  int64_t w = LIBSSH2_TERM_WIDTH, h = LIBSSH2_TERM_HEIGHT, wpx = LIBSSH2_TERM_WIDTH_PX, hpx = LIBSSH2_TERM_HEIGHT_PX;
  if (!ArgString(info, 0, &term, "term") || !ArgBytes(info, 1, &modes, &has_modes, "modes")) return env.Undefined();
  if ((!info[2].IsUndefined() && !ArgInt(info, 2, &w, "width")) ||
      (!info[3].IsUndefined() && !ArgInt(info, 3, &h, "height")) ||
      (!info[4].IsUndefined() && !ArgInt(info, 4, &wpx, "widthPx")) ||
      (!info[5].IsUndefined() && !ArgInt(info, 5, &hpx, "heightPx"))) {
    return env.Undefined();
  }
  return Enqueue(MakeTargetOp(this, "libssh2_channel_request_pty_ex", session_->setup_gate(), 0,
                              [term, modes, has_modes, w, h, wpx, hpx](LIBSSH2_CHANNEL* c) {
                                return libssh2_channel_request_pty_ex(
                                    c, term.c_str(), static_cast<unsigned>(term.size()),
                                    has_modes ? modes.data() : nullptr, static_cast<unsigned>(modes.size()),
                                    static_cast<int>(w), static_cast<int>(h), static_cast<int>(wpx),
                                    static_cast<int>(hpx));
                              }));
}

Napi::Value Channel::ProcessStartup(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_process_startup");
  std::string request, message;
  bool has_message;
  if (!ArgString(info, 0, &request, "request") || !ArgBytes(info, 1, &message, &has_message, "message")) {
    return env.Undefined();
  }
  return Enqueue(MakeTargetOp(this, "libssh2_channel_process_startup", session_->setup_gate(), 0,
                              [request, message, has_message](LIBSSH2_CHANNEL* c) {
                                return libssh2_channel_process_startup(
                                    c, request.c_str(), static_cast<unsigned>(request.size()),
                                    has_message ? message.data() : nullptr, static_cast<unsigned>(message.size()));
                              }));
}

Napi::Value Channel::X11Req(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_x11_req_ex");
  int64_t screen = 0;
  std::string proto, cookie;
  bool has_proto, has_cookie;
  if (!ArgInt(info, 0, &screen, "screenNumber") || !ArgOptString(info, 2, &proto, &has_proto, "authProto") ||
      !ArgOptString(info, 3, &cookie, &has_cookie, "authCookie")) {
    return env.Undefined();
  }
  int single = info[1].ToBoolean() ? 1 : 0;
  return Enqueue(MakeTargetOp(this, "libssh2_channel_x11_req_ex", session_->setup_gate(), 0,
                              [screen, single, proto, cookie, has_proto, has_cookie](LIBSSH2_CHANNEL* c) {
                                return libssh2_channel_x11_req_ex(c, single, has_proto ? proto.c_str() : nullptr,
                                                                  has_cookie ? cookie.c_str() : nullptr,
                                                                  static_cast<int>(screen));
                              }));
}

Napi::Value Channel::RequestAuthAgent(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_request_auth_agent");
  return Enqueue(MakeTargetOp(this, "libssh2_channel_request_auth_agent", session_->setup_gate(), 0,
                              [](LIBSSH2_CHANNEL* c) { return libssh2_channel_request_auth_agent(c); }));
}

// ---- async: requests without a reply, window, extended data

Napi::Value Channel::RequestPtySize(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_request_pty_size_ex");
  int64_t w, h, wpx = 0, hpx = 0;
  if (!ArgInt(info, 0, &w, "width") || !ArgInt(info, 1, &h, "height") ||
      (!info[2].IsUndefined() && !ArgInt(info, 2, &wpx, "widthPx")) ||
      (!info[3].IsUndefined() && !ArgInt(info, 3, &hpx, "heightPx"))) {
    return env.Undefined();
  }
  return Enqueue(
      MakeTargetOp(this, "libssh2_channel_request_pty_size_ex", state_gate(), 0, [w, h, wpx, hpx](LIBSSH2_CHANNEL* c) {
        return libssh2_channel_request_pty_size_ex(c, static_cast<int>(w), static_cast<int>(h), static_cast<int>(wpx),
                                                   static_cast<int>(hpx));
      }));
}

Napi::Value Channel::Signal(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_signal_ex");
  std::string name;
  if (!ArgString(info, 0, &name, "signame")) return env.Undefined();
  return Enqueue(MakeTargetOp(this, "libssh2_channel_signal_ex", state_gate(), 0, [name](LIBSSH2_CHANNEL* c) {
    return libssh2_channel_signal_ex(c, name.c_str(), name.size());
  }));
}

Napi::Value Channel::ReceiveWindowAdjust(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_receive_window_adjust2");
  int64_t adjustment;
  if (!ArgInt(info, 0, &adjustment, "adjustment")) return env.Undefined();
  unsigned char force = info[1].ToBoolean() ? 1 : 0;
  auto window = std::make_shared<unsigned int>(0);
  return Enqueue(MakeTargetOp(
      this, "libssh2_channel_receive_window_adjust2", state_gate(), 0,
      [adjustment, force, window](LIBSSH2_CHANNEL* c) {
        return libssh2_channel_receive_window_adjust2(c, static_cast<uint32_t>(adjustment), force, window.get());
      },
      [window](Napi::Env env, int) { return Napi::Number::New(env, *window); }));
}

Napi::Value Channel::HandleExtendedData(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_handle_extended_data2");
  int64_t mode;
  if (!ArgInt(info, 0, &mode, "ignoreMode")) return env.Undefined();
  return Enqueue(MakeTargetOp(
      this, "libssh2_channel_handle_extended_data2", state_gate(), 0,
      [mode](LIBSSH2_CHANNEL* c) { return libssh2_channel_handle_extended_data2(c, static_cast<int>(mode)); }));
}

// ---- async: data

Napi::Value Channel::Read(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_read_ex");
  int64_t size, stream;
  if (!ArgInt(info, 0, &size, "size") || !ArgInt(info, 1, &stream, "streamId")) return env.Undefined();
  auto buf = std::make_shared<std::vector<char>>(static_cast<size_t>(size));
  return Enqueue(MakeTargetOp(
      this, "libssh2_channel_read_ex", read_gate(static_cast<int>(stream)), Op::kAbandonable,
      [buf, stream](LIBSSH2_CHANNEL* c) {
        ssize_t n = libssh2_channel_read_ex(c, static_cast<int>(stream), buf->data(), buf->size());
        return static_cast<int>(n);
      },
      [buf](Napi::Env env, int n) { return Napi::Buffer<char>::Copy(env, buf->data(), static_cast<size_t>(n)); }));
}

Napi::Value Channel::ReadInto(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_read_ex");
  int64_t stream;
  if (!info[0].IsBuffer() || !ArgInt(info, 1, &stream, "streamId")) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "buf must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto target = info[0].As<Napi::Buffer<char>>();
  // The op keeps the Buffer alive; its memory does not move.
  auto keep = std::make_shared<Napi::ObjectReference>(Napi::Persistent(target.As<Napi::Object>()));
  char* data = target.Data();
  size_t len = target.Length();
  return Enqueue(MakeTargetOp(
      this, "libssh2_channel_read_ex", read_gate(static_cast<int>(stream)), Op::kAbandonable,
      [data, len, stream, keep](LIBSSH2_CHANNEL* c) {
        return static_cast<int>(libssh2_channel_read_ex(c, static_cast<int>(stream), data, len));
      },
      NumberResult));
}

Napi::Value Channel::Write(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_write_ex");
  std::string data;
  bool has;
  int64_t stream;
  if (!ArgBytes(info, 0, &data, &has, "data") || !ArgInt(info, 1, &stream, "streamId")) return env.Undefined();
  if (InNbCall(session_->scheduler())) {  // writeNb: one call, its partial count, as C
    auto bytes = std::make_shared<std::string>(std::move(data));
    return Enqueue(MakeTargetOp(
        this, "libssh2_channel_write_ex", write_gate(), 0,
        [bytes, stream](LIBSSH2_CHANNEL* c) {
          return static_cast<int>(libssh2_channel_write_ex(c, static_cast<int>(stream), bytes->data(), bytes->size()));
        },
        NumberResult));
  }
  // The async form writes everything: libssh2 sends at most one packet per call, and a call
  // that returned EAGAIN is repeated with the same pointer and length (PITFALLS 7).
  auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(data), 0);
  unsigned flags = state->first.size() >= kHeavyWrite ? static_cast<unsigned>(Op::kHeavy) : 0u;
  return Enqueue(MakeTargetOp(
      this, "libssh2_channel_write_ex", write_gate(), flags,
      [state, stream](LIBSSH2_CHANNEL* c) {
        const std::string& bytes = state->first;
        size_t& off = state->second;
        while (off < bytes.size()) {
          ssize_t n = libssh2_channel_write_ex(c, static_cast<int>(stream), bytes.data() + off, bytes.size() - off);
          if (n < 0) return static_cast<int>(n);
          off += static_cast<size_t>(n);
        }
        return 0;
      },
      [state](Napi::Env env, int) { return Napi::Number::New(env, static_cast<double>(state->second)); }));
}

Napi::Value Channel::Flush(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_flush_ex");
  int64_t stream;
  if (!ArgInt(info, 0, &stream, "streamId")) return env.Undefined();
  return Enqueue(MakeTargetOp(
      this, "libssh2_channel_flush_ex", write_gate(), 0,
      [stream](LIBSSH2_CHANNEL* c) { return libssh2_channel_flush_ex(c, static_cast<int>(stream)); }, NumberResult));
}

// ---- async: EOF and close

Napi::Value Channel::SendEof(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_send_eof");
  return Enqueue(MakeTargetOp(this, "libssh2_channel_send_eof", write_gate(), 0,
                              [](LIBSSH2_CHANNEL* c) { return libssh2_channel_send_eof(c); }));
}

Napi::Value Channel::WaitEof(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_wait_eof");
  return Enqueue(MakeTargetOp(this, "libssh2_channel_wait_eof", nullptr, Op::kAbandonable,
                              [](LIBSSH2_CHANNEL* c) { return libssh2_channel_wait_eof(c); }));
}

Napi::Value Channel::Close(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_close");
  // After the writes (same gate). With our patch, libssh2_channel_close returns once the peer's
  // CLOSE arrived, so the exit status is final when this resolves.
  return Enqueue(MakeTargetOp(this, "libssh2_channel_close", write_gate(), Op::kBothModes,
                              [](LIBSSH2_CHANNEL* c) { return libssh2_channel_close(c); }));
}

Napi::Value Channel::WaitClosed(const Napi::CallbackInfo& info) {
  CHANNEL_GUARD("libssh2_channel_wait_closed");
  return Enqueue(MakeTargetOp(this, "libssh2_channel_wait_closed", nullptr, Op::kAbandonable,
                              [](LIBSSH2_CHANNEL* c) { return libssh2_channel_wait_closed(c); }));
}

Napi::Value Channel::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Idempotent; an Nb repeat goes on to the pending free.
  Scheduler* sched = session_ != nullptr ? session_->scheduler() : nullptr;
  if (channel_ == nullptr || (freeing_ && !InNbCall(sched))) return DoneIn(env, sched, env.Undefined());
  freeing_ = true;
  // Reads and other ops that can be dropped reject now; a half-sent write finishes first.
  if (ops_.pending() > 0) {
    session_->scheduler()->RejectFor(this, MakeBadUse(env, "the channel was freed", "libssh2_channel_free"));
  }
  auto step = [this](LIBSSH2_CHANNEL* c) {
    int rc = libssh2_channel_free(c);
    if (rc != LIBSSH2_ERROR_EAGAIN) channel_ = nullptr;  // freed, whatever it says
    return rc;
  };
  return session_->scheduler()->Enqueue(std::make_unique<ChannelFreeOp<decltype(step)>>(this, step),
                                        kChannelFreeLimitMs);
}

}  // namespace node_libssh2
