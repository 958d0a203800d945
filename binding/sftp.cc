#include "sftp.h"

#include <vector>

#include "errors.h"
#include "session.h"
#include "sftp_handle.h"
#include "util.h"

namespace node_libssh2 {

namespace {

constexpr size_t kPathMax = 4096;

double U64(libssh2_uint64_t v) { return static_cast<double>(v); }

bool GetU64(Napi::Object o, const char* key, libssh2_uint64_t* out) {
  Napi::Value v = o.Get(key);
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d < 0) return false;
    *out = static_cast<libssh2_uint64_t>(d);
    return true;
  }
  if (v.IsBigInt()) {
    bool lossless;
    *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    return true;
  }
  return false;
}

}  // namespace

Napi::Object AttrsToJs(Napi::Env env, const LIBSSH2_SFTP_ATTRIBUTES& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("flags", Napi::Number::New(env, static_cast<double>(a.flags)));
  o.Set("filesize", Napi::Number::New(env, U64(a.filesize)));
  o.Set("uid", Napi::Number::New(env, static_cast<double>(a.uid)));
  o.Set("gid", Napi::Number::New(env, static_cast<double>(a.gid)));
  o.Set("permissions", Napi::Number::New(env, static_cast<double>(a.permissions)));
  o.Set("atime", Napi::Number::New(env, static_cast<double>(a.atime)));
  o.Set("mtime", Napi::Number::New(env, static_cast<double>(a.mtime)));
  return o;
}

bool AttrsFromJs(Napi::Value v, LIBSSH2_SFTP_ATTRIBUTES* a) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  *a = LIBSSH2_SFTP_ATTRIBUTES{};
  libssh2_uint64_t x;
  unsigned long flags = 0;  // NOLINT(runtime/int): libssh2's type
  if (GetU64(o, "filesize", &x) || GetU64(o, "size", &x)) {
    a->filesize = x;
    flags |= LIBSSH2_SFTP_ATTR_SIZE;
  }
  libssh2_uint64_t uid, gid;
  if (GetU64(o, "uid", &uid) && GetU64(o, "gid", &gid)) {
    a->uid = static_cast<unsigned long>(uid);  // NOLINT
    a->gid = static_cast<unsigned long>(gid);  // NOLINT
    flags |= LIBSSH2_SFTP_ATTR_UIDGID;
  }
  if (GetU64(o, "permissions", &x)) {
    a->permissions = static_cast<unsigned long>(x);  // NOLINT
    flags |= LIBSSH2_SFTP_ATTR_PERMISSIONS;
  }
  libssh2_uint64_t at, mt;
  if (GetU64(o, "atime", &at) && GetU64(o, "mtime", &mt)) {
    a->atime = static_cast<unsigned long>(at);  // NOLINT
    a->mtime = static_cast<unsigned long>(mt);  // NOLINT
    flags |= LIBSSH2_SFTP_ATTR_ACMODTIME;
  }
  if (GetU64(o, "flags", &x)) flags = static_cast<unsigned long>(x);  // NOLINT
  a->flags = flags;
  return true;
}

Napi::Object StatvfsToJs(Napi::Env env, const LIBSSH2_SFTP_STATVFS& st) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("f_bsize", U64(st.f_bsize));
  o.Set("f_frsize", U64(st.f_frsize));
  o.Set("f_blocks", U64(st.f_blocks));
  o.Set("f_bfree", U64(st.f_bfree));
  o.Set("f_bavail", U64(st.f_bavail));
  o.Set("f_files", U64(st.f_files));
  o.Set("f_ffree", U64(st.f_ffree));
  o.Set("f_favail", U64(st.f_favail));
  o.Set("f_fsid", U64(st.f_fsid));
  o.Set("f_flag", U64(st.f_flag));
  o.Set("f_namemax", U64(st.f_namemax));
  return o;
}

Napi::Function Sftp::Init(Napi::Env env) {
  return DefineClass(env, "Sftp",
                     {
                         InstanceMethod<&Sftp::Open>("open"),
                         InstanceMethod<&Sftp::Stat>("stat"),
                         InstanceMethod<&Sftp::Setstat>("setstat"),
                         InstanceMethod<&Sftp::Statvfs>("statvfs"),
                         InstanceMethod<&Sftp::Mkdir>("mkdir"),
                         InstanceMethod<&Sftp::Rmdir>("rmdir"),
                         InstanceMethod<&Sftp::Unlink>("unlink"),
                         InstanceMethod<&Sftp::Rename>("rename"),
                         InstanceMethod<&Sftp::PosixRename>("posixRename"),
                         InstanceMethod<&Sftp::Symlink>("symlink"),
                         InstanceMethod<&Sftp::LastError>("lastError"),
                         InstanceMethod<&Sftp::Shutdown>("shutdown"),
                         InstanceMethod<&Sftp::IsFreed>("isFreed"),
                     });
}

Napi::Value Sftp::NewInstance(Napi::Env env, Session* session, LIBSSH2_SFTP* sftp) {
  return GetAddonData(env)->sftpCtor.New(
      {Napi::External<Session>::New(env, session), Napi::External<LIBSSH2_SFTP>::New(env, sftp)});
}

Sftp::Sftp(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sftp>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[1].IsExternal()) {
    Napi::TypeError::New(env, "Sftp objects come from session.sftpInit()").ThrowAsJavaScriptException();
    return;
  }
  session_ = info[0].As<Napi::External<Session>>().Data();
  sftp_ = info[1].As<Napi::External<LIBSSH2_SFTP>>().Data();
  session_ref_ = Napi::Persistent(session_->js_object());
  session_->AddSftp(this);
}

Sftp::~Sftp() {
  for (SftpHandle* h : handles_) h->DetachSftp();  // handles outliving this (environment teardown)
  if (session_ == nullptr) return;
  session_->RemoveSftp(this);
  if (sftp_ != nullptr) {
    // Collected without shutdown(): its handles were collected first (they hold it) and their
    // closes are queued before this, on the same gate.
    LIBSSH2_SFTP* raw = sftp_;
    session_->FreeOrphan(raw, nullptr, 1, gate(), "libssh2_sftp_shutdown",
                         [raw] { return libssh2_sftp_shutdown(raw); });
  }
}

void Sftp::TeardownNow() {
  for (SftpHandle* h : handles_) {
    if (h->raw() != nullptr) libssh2_sftp_close_handle(h->raw());  // dead I/O: frees at once
    h->Invalidate();
  }
  if (sftp_ != nullptr) libssh2_sftp_shutdown(sftp_);
  sftp_ = nullptr;
}

bool Sftp::Usable(Napi::Env env, const char* fn) {
  if (sftp_ == nullptr || shutting_down_) {
    ThrowBadUse(env, "the SFTP session has been shut down", fn);
    return false;
  }
  return true;
}

Napi::Value Sftp::Enqueue(std::unique_ptr<Op> op) {
  return session_->scheduler()->Enqueue(std::move(op), session_->timeout_ms());
}

#define SFTP_GUARD(fn)        \
  Napi::Env env = info.Env(); \
  if (!Usable(env, fn)) return env.Undefined();

Napi::Value Sftp::Open(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_open_ex");
  std::string path;
  int64_t flags, mode, type;
  if (!ArgString(info, 0, &path, "path") || !ArgInt(info, 1, &flags, "flags") || !ArgInt(info, 2, &mode, "mode") ||
      !ArgInt(info, 3, &type, "openType")) {
    return env.Undefined();
  }
  auto opened = std::make_shared<LIBSSH2_SFTP_HANDLE*>(nullptr);
  LIBSSH2_SESSION* session = session_->raw();
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_open_ex", 0,
      [path, flags, mode, type, opened, session](LIBSSH2_SFTP* s) {
        *opened = libssh2_sftp_open_ex(s, path.c_str(), static_cast<unsigned>(path.size()),
                                       static_cast<unsigned long>(flags), static_cast<long>(mode),  // NOLINT
                                       static_cast<int>(type));
        if (*opened != nullptr) return 0;
        int rc = libssh2_session_last_errno(session);  // NULL: EAGAIN or an error (PITFALLS 20)
        return rc == 0 ? LIBSSH2_ERROR_SFTP_PROTOCOL : rc;
      },
      [this, opened](Napi::Env env, int) { return SftpHandle::NewInstance(env, this, *opened); }));
}

Napi::Value Sftp::Stat(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_stat_ex");
  std::string path;
  int64_t type;
  if (!ArgString(info, 0, &path, "path") || !ArgInt(info, 1, &type, "statType")) return env.Undefined();
  auto attrs = std::make_shared<LIBSSH2_SFTP_ATTRIBUTES>();
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_stat_ex", 0,
      [path, type, attrs](LIBSSH2_SFTP* s) {
        return libssh2_sftp_stat_ex(s, path.c_str(), static_cast<unsigned>(path.size()), static_cast<int>(type),
                                    attrs.get());
      },
      [attrs](Napi::Env env, int) { return AttrsToJs(env, *attrs); }));
}

Napi::Value Sftp::Setstat(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_stat_ex");
  std::string path;
  auto attrs = std::make_shared<LIBSSH2_SFTP_ATTRIBUTES>();
  if (!ArgString(info, 0, &path, "path")) return env.Undefined();
  if (!AttrsFromJs(info[1], attrs.get())) {
    Napi::TypeError::New(env, "attrs must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_stat_ex", 0, [path, attrs](LIBSSH2_SFTP* s) {
    return libssh2_sftp_stat_ex(s, path.c_str(), static_cast<unsigned>(path.size()), LIBSSH2_SFTP_SETSTAT, attrs.get());
  }));
}

Napi::Value Sftp::Statvfs(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_statvfs");
  std::string path;
  if (!ArgString(info, 0, &path, "path")) return env.Undefined();
  auto st = std::make_shared<LIBSSH2_SFTP_STATVFS>();
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_statvfs", 0,
      [path, st](LIBSSH2_SFTP* s) { return libssh2_sftp_statvfs(s, path.c_str(), path.size(), st.get()); },
      [st](Napi::Env env, int) { return StatvfsToJs(env, *st); }));
}

Napi::Value Sftp::Mkdir(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_mkdir_ex");
  std::string path;
  int64_t mode;
  if (!ArgString(info, 0, &path, "path") || !ArgInt(info, 1, &mode, "mode")) return env.Undefined();
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_mkdir_ex", 0, [path, mode](LIBSSH2_SFTP* s) {
    return libssh2_sftp_mkdir_ex(s, path.c_str(), static_cast<unsigned>(path.size()),
                                 static_cast<long>(mode));  // NOLINT
  }));
}

Napi::Value Sftp::Rmdir(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_rmdir_ex");
  std::string path;
  if (!ArgString(info, 0, &path, "path")) return env.Undefined();
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_rmdir_ex", 0, [path](LIBSSH2_SFTP* s) {
    return libssh2_sftp_rmdir_ex(s, path.c_str(), static_cast<unsigned>(path.size()));
  }));
}

Napi::Value Sftp::Unlink(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_unlink_ex");
  std::string path;
  if (!ArgString(info, 0, &path, "path")) return env.Undefined();
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_unlink_ex", 0, [path](LIBSSH2_SFTP* s) {
    return libssh2_sftp_unlink_ex(s, path.c_str(), static_cast<unsigned>(path.size()));
  }));
}

Napi::Value Sftp::Rename(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_rename_ex");
  std::string src, dst;
  int64_t flags;
  if (!ArgString(info, 0, &src, "source") || !ArgString(info, 1, &dst, "destination") ||
      !ArgInt(info, 2, &flags, "flags")) {
    return env.Undefined();
  }
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_rename_ex", 0, [src, dst, flags](LIBSSH2_SFTP* s) {
    return libssh2_sftp_rename_ex(s, src.c_str(), static_cast<unsigned>(src.size()), dst.c_str(),
                                  static_cast<unsigned>(dst.size()), static_cast<long>(flags));  // NOLINT
  }));
}

Napi::Value Sftp::PosixRename(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_posix_rename_ex");
  std::string src, dst;
  if (!ArgString(info, 0, &src, "source") || !ArgString(info, 1, &dst, "destination")) return env.Undefined();
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_posix_rename_ex", 0, [src, dst](LIBSSH2_SFTP* s) {
    return libssh2_sftp_posix_rename_ex(s, src.c_str(), src.size(), dst.c_str(), dst.size());
  }));
}

// symlink(path, target, type): LIBSSH2_SFTP_SYMLINK creates `target` pointing at `path`;
// READLINK and REALPATH resolve `path` and resolve to a string.
Napi::Value Sftp::Symlink(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_symlink_ex");
  std::string path, target;
  bool has_target;
  int64_t type;
  if (!ArgString(info, 0, &path, "path") || !ArgOptString(info, 1, &target, &has_target, "target") ||
      !ArgInt(info, 2, &type, "linkType")) {
    return env.Undefined();
  }
  auto buf = std::make_shared<std::vector<char>>(type == LIBSSH2_SFTP_SYMLINK ? 0 : kPathMax);
  if (type == LIBSSH2_SFTP_SYMLINK) buf->assign(target.begin(), target.end());
  return Enqueue(MakeSftpOp(
      this, "libssh2_sftp_symlink_ex", 0,
      [path, buf, type](LIBSSH2_SFTP* s) {
        return libssh2_sftp_symlink_ex(s, path.c_str(), static_cast<unsigned>(path.size()), buf->data(),
                                       static_cast<unsigned>(buf->size()), static_cast<int>(type));
      },
      [buf, type](Napi::Env env, int rc) -> Napi::Value {
        if (type == LIBSSH2_SFTP_SYMLINK) return env.Undefined();
        return Napi::String::New(env, buf->data(), static_cast<size_t>(rc));
      }));
}

Napi::Value Sftp::LastError(const Napi::CallbackInfo& info) {
  SFTP_GUARD("libssh2_sftp_last_error");
  return Napi::Number::New(env, static_cast<double>(libssh2_sftp_last_error(sftp_)));
}

Napi::Value Sftp::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), sftp_ == nullptr || shutting_down_);
}

Napi::Value Sftp::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Idempotent; an Nb repeat goes on to the pending shutdown.
  Scheduler* sched = session_ != nullptr ? session_->scheduler() : nullptr;
  if (sftp_ == nullptr || (shutting_down_ && !InNbCall(sched))) return DoneIn(env, sched, env.Undefined());
  shutting_down_ = true;
  // Teardown order: handles, then the SFTP object (libssh2 leaves open handles dangling).
  // Ops queued before this one finish first (same gate).
  auto step = [this](LIBSSH2_SFTP* s) {
    while (!handles_.empty()) {
      SftpHandle* h = *handles_.begin();
      if (h->raw() != nullptr) {
        int rc = libssh2_sftp_close_handle(h->raw());
        if (rc == LIBSSH2_ERROR_EAGAIN) return rc;
      }
      h->Invalidate();  // freed on any other return (PITFALLS 11)
      handles_.erase(h);
    }
    session_->FreeOrphansOf(s);
    int rc = libssh2_sftp_shutdown(s);
    if (rc != LIBSSH2_ERROR_EAGAIN) sftp_ = nullptr;
    return rc;
  };
  return Enqueue(MakeSftpOp(this, "libssh2_sftp_shutdown", Op::kTeardown, step));
}

}  // namespace node_libssh2
