#include "sftp_handle.h"

#include <vector>

#include "errors.h"
#include "session.h"
#include "util.h"

namespace node_libssh2 {

namespace {

// SFTP reads and writes at least this large step on the threadpool (bulk crypto).
constexpr size_t kHeavyTransfer = 256 * 1024;
// libssh2_sftp_write copies the whole buffer into FXP_WRITE packets at once: cap each call
// (PITFALLS 8); a multiple of libssh2's 30000-byte packets.
constexpr size_t kWriteCallMax = 32 * 30000;
constexpr size_t kNameMax = 4096;

unsigned Bulk(size_t n) { return n >= kHeavyTransfer ? static_cast<unsigned>(Op::kHeavy) : 0u; }

}  // namespace

Napi::Function SftpHandle::Init(Napi::Env env) {
  return DefineClass(env, "SftpHandle",
                     {
                         InstanceMethod<&SftpHandle::Read>("read"),
                         InstanceMethod<&SftpHandle::ReadInto>("readInto"),
                         InstanceMethod<&SftpHandle::Write>("write"),
                         InstanceMethod<&SftpHandle::Readdir>("readdir"),
                         InstanceMethod<&SftpHandle::Fstat>("fstat"),
                         InstanceMethod<&SftpHandle::Fsetstat>("fsetstat"),
                         InstanceMethod<&SftpHandle::Fstatvfs>("fstatvfs"),
                         InstanceMethod<&SftpHandle::Fsync>("fsync"),
                         InstanceMethod<&SftpHandle::Seek64>("seek64"),
                         InstanceMethod<&SftpHandle::Tell64>("tell64"),
                         InstanceMethod<&SftpHandle::Rewind>("rewind"),
                         InstanceMethod<&SftpHandle::Close>("close"),
                         InstanceMethod<&SftpHandle::IsFreed>("isFreed"),
                     });
}

Napi::Value SftpHandle::NewInstance(Napi::Env env, Sftp* sftp, LIBSSH2_SFTP_HANDLE* handle) {
  return GetAddonData(env)->sftpHandleCtor.New(
      {Napi::External<Sftp>::New(env, sftp), Napi::External<LIBSSH2_SFTP_HANDLE>::New(env, handle)});
}

SftpHandle::SftpHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SftpHandle>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[1].IsExternal()) {
    Napi::TypeError::New(env, "SftpHandle objects come from sftp.open()/opendir()").ThrowAsJavaScriptException();
    return;
  }
  sftp_ = info[0].As<Napi::External<Sftp>>().Data();
  handle_ = info[1].As<Napi::External<LIBSSH2_SFTP_HANDLE>>().Data();
  sftp_ref_ = Napi::Persistent(sftp_->Value());
  sftp_->AddHandle(this);
}

SftpHandle::~SftpHandle() {
  if (sftp_ == nullptr) return;
  sftp_->RemoveHandle(this);
  if (handle_ != nullptr && sftp_->raw() != nullptr && sftp_->session() != nullptr) {
    LIBSSH2_SFTP_HANDLE* raw = handle_;
    sftp_->session()->FreeOrphan(raw, sftp_->raw(), 0, gate(), "libssh2_sftp_close_handle",
                                 [raw] { return libssh2_sftp_close_handle(raw); });
  }
}

bool SftpHandle::Usable(Napi::Env env, const char* fn) {
  if (handle_ == nullptr || closing_) {
    ThrowBadUse(env, "the SFTP handle has been closed", fn);
    return false;
  }
  return true;
}

// seek/tell/rewind touch the handle's read-ahead: never while one of its ops is pending
// (PITFALLS 24).
bool SftpHandle::Idle(Napi::Env env, const char* fn) {
  if (!Usable(env, fn)) return false;
  if (ops_.pending() > 0) {
    ThrowBadUse(env, "an operation on this handle is still pending", fn);
    return false;
  }
  return true;
}

Napi::Value SftpHandle::Enqueue(std::unique_ptr<Op> op) {
  Session* s = sftp_->session();
  return s->scheduler()->Enqueue(std::move(op), s->timeout_ms());
}

#define HANDLE_GUARD(fn)      \
  Napi::Env env = info.Env(); \
  if (!Usable(env, fn)) return env.Undefined();

Napi::Value SftpHandle::Read(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_read");
  int64_t size;
  if (!ArgInt(info, 0, &size, "size")) return env.Undefined();
  auto buf = std::make_shared<std::vector<char>>(static_cast<size_t>(size));
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_read", Bulk(buf->size()),
      [buf](LIBSSH2_SFTP_HANDLE* h) { return static_cast<int>(libssh2_sftp_read(h, buf->data(), buf->size())); },
      [buf](Napi::Env env, int n) { return Napi::Buffer<char>::Copy(env, buf->data(), static_cast<size_t>(n)); }));
}

Napi::Value SftpHandle::ReadInto(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_read");
  if (!info[0].IsBuffer()) {
    Napi::TypeError::New(env, "buf must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto target = info[0].As<Napi::Buffer<char>>();
  auto keep = std::make_shared<Napi::ObjectReference>(Napi::Persistent(target.As<Napi::Object>()));
  char* data = target.Data();
  size_t len = target.Length();
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_read", Bulk(len),
      [data, len, keep](LIBSSH2_SFTP_HANDLE* h) { return static_cast<int>(libssh2_sftp_read(h, data, len)); },
      [](Napi::Env env, int n) { return Napi::Number::New(env, n); }));
}

Napi::Value SftpHandle::Write(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_write");
  std::string data;
  bool has;
  if (!ArgBytes(info, 0, &data, &has, "data")) return env.Undefined();
  if (InNbCall(sftp_->session()->scheduler())) {  // writeNb: one call, its count, as C
    auto bytes = std::make_shared<std::string>(std::move(data));
    return Enqueue(MakeSftpOp(
        this, "libssh2_sftp_write", 0,
        [bytes](LIBSSH2_SFTP_HANDLE* h) {
          return static_cast<int>(libssh2_sftp_write(h, bytes->data(), bytes->size()));
        },
        [](Napi::Env env, int n) { return Napi::Number::New(env, n); }));
  }
  // Writes everything. libssh2 returns the bytes acknowledged so far (maybe 0, not an error)
  // and expects the next call to start at buf + returned with the rest (PITFALLS 8).
  auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(data), 0);
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_write", Bulk(state->first.size()),
      [state](LIBSSH2_SFTP_HANDLE* h) {
        const std::string& bytes = state->first;
        size_t& off = state->second;
        int zeros = 0;
        while (off < bytes.size()) {
          size_t chunk = std::min(bytes.size() - off, kWriteCallMax);
          ssize_t n = libssh2_sftp_write(h, bytes.data() + off, chunk);
          if (n < 0) return static_cast<int>(n);
          if (n == 0 && ++zeros > 1) return LIBSSH2_ERROR_EAGAIN;  // waiting for acks
          off += static_cast<size_t>(n);
        }
        return 0;
      },
      [state](Napi::Env env, int) { return Napi::Number::New(env, static_cast<double>(state->second)); }));
}

Napi::Value SftpHandle::Readdir(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_readdir_ex");
  struct Entry {
    std::vector<char> name = std::vector<char>(kNameMax);
    std::vector<char> longentry = std::vector<char>(kNameMax);
    LIBSSH2_SFTP_ATTRIBUTES attrs{};
    int grown = 0;
  };
  auto e = std::make_shared<Entry>();
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_readdir_ex", 0,
      [e](LIBSSH2_SFTP_HANDLE* h) {
        for (;;) {
          int rc = libssh2_sftp_readdir_ex(h, e->name.data(), e->name.size(), e->longentry.data(), e->longentry.size(),
                                           &e->attrs);
          // The entry is kept on BUFFER_TOO_SMALL: grow a few times, then fail (PITFALLS 26).
          if (rc != LIBSSH2_ERROR_BUFFER_TOO_SMALL || e->grown >= 3) return rc;
          e->grown++;
          e->name.resize(e->name.size() * 4);
          e->longentry.resize(e->longentry.size() * 4);
        }
      },
      [e](Napi::Env env, int rc) -> Napi::Value {
        if (rc == 0) return env.Null();  // end of directory
        Napi::Array out = Napi::Array::New(env, 3);
        out.Set(0u, Napi::String::New(env, e->name.data(), static_cast<size_t>(rc)));
        out.Set(1u, AttrsToJs(env, e->attrs));
        out.Set(2u, Napi::String::New(env, e->longentry.data()));
        return out;
      }));
}

Napi::Value SftpHandle::Fstat(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_fstat_ex");
  auto attrs = std::make_shared<LIBSSH2_SFTP_ATTRIBUTES>();
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_fstat_ex", 0,
      [attrs](LIBSSH2_SFTP_HANDLE* h) { return libssh2_sftp_fstat_ex(h, attrs.get(), 0); },
      [attrs](Napi::Env env, int) { return AttrsToJs(env, *attrs); }));
}

Napi::Value SftpHandle::Fsetstat(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_fstat_ex");
  auto attrs = std::make_shared<LIBSSH2_SFTP_ATTRIBUTES>();
  if (!AttrsFromJs(info[0], attrs.get())) {
    Napi::TypeError::New(env, "attrs must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_fstat_ex", 0,
                            [attrs](LIBSSH2_SFTP_HANDLE* h) { return libssh2_sftp_fstat_ex(h, attrs.get(), 1); }));
}

Napi::Value SftpHandle::Fstatvfs(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_fstatvfs");
  auto st = std::make_shared<LIBSSH2_SFTP_STATVFS>();
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_fstatvfs", 0, [st](LIBSSH2_SFTP_HANDLE* h) { return libssh2_sftp_fstatvfs(h, st.get()); },
      [st](Napi::Env env, int) { return StatvfsToJs(env, *st); }));
}

Napi::Value SftpHandle::Fsync(const Napi::CallbackInfo& info) {
  HANDLE_GUARD("libssh2_sftp_fsync");
  return Enqueue(
      MakeSftpOp(this, "libssh2_sftp_fsync", 0, [](LIBSSH2_SFTP_HANDLE* h) { return libssh2_sftp_fsync(h); }));
}

Napi::Value SftpHandle::Seek64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Idle(env, "libssh2_sftp_seek64")) return env.Undefined();
  int64_t offset;
  if (!ArgInt(info, 0, &offset, "offset")) return env.Undefined();
  libssh2_sftp_seek64(handle_, static_cast<libssh2_uint64_t>(offset));
  return env.Undefined();
}

Napi::Value SftpHandle::Tell64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env, "libssh2_sftp_tell64")) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(libssh2_sftp_tell64(handle_)));
}

Napi::Value SftpHandle::Rewind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Idle(env, "libssh2_sftp_rewind")) return env.Undefined();
  libssh2_sftp_rewind(handle_);
  return env.Undefined();
}

Napi::Value SftpHandle::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), handle_ == nullptr || closing_);
}

Napi::Value SftpHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Idempotent; an Nb repeat goes on to the pending close.
  Scheduler* sched = sftp_ != nullptr && sftp_->session() != nullptr ? sftp_->session()->scheduler() : nullptr;
  if (handle_ == nullptr || (closing_ && !InNbCall(sched))) return DoneIn(env, sched, env.Undefined());
  closing_ = true;
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_close_handle", Op::kBothModes, [this](LIBSSH2_SFTP_HANDLE* h) {
    int rc = libssh2_sftp_close_handle(h);
    // Freed on any return but EAGAIN, even a failure (PITFALLS 11).
    if (rc != LIBSSH2_ERROR_EAGAIN) {
      handle_ = nullptr;
      sftp_->RemoveHandle(this);
    }
    return rc;
  }));
}

}  // namespace node_libssh2
