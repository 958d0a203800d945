#include "knownhost.h"

#include <vector>

#include "errors.h"
#include "session.h"
#include "util.h"

namespace node_libssh2 {

namespace {
constexpr const char* kEntryKey = "__libssh2_entry";
}

Napi::Function KnownHosts::Init(Napi::Env env) {
  return DefineClass(env, "KnownHosts",
                     {
                         InstanceMethod<&KnownHosts::Readfile>("readfile"),
                         InstanceMethod<&KnownHosts::Writefile>("writefile"),
                         InstanceMethod<&KnownHosts::Readline>("readline"),
                         InstanceMethod<&KnownHosts::Writeline>("writeline"),
                         InstanceMethod<&KnownHosts::Checkp>("checkp"),
                         InstanceMethod<&KnownHosts::Addc>("addc"),
                         InstanceMethod<&KnownHosts::Get>("get"),
                         InstanceMethod<&KnownHosts::Del>("del"),
                         InstanceMethod<&KnownHosts::Free>("free"),
                     });
}

Napi::Value KnownHosts::NewInstance(Napi::Env env, Session* session, LIBSSH2_KNOWNHOSTS* hosts) {
  return GetAddonData(env)->knownHostsCtor.New(
      {Napi::External<Session>::New(env, session), Napi::External<LIBSSH2_KNOWNHOSTS>::New(env, hosts)});
}

KnownHosts::KnownHosts(const Napi::CallbackInfo& info) : Napi::ObjectWrap<KnownHosts>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[1].IsExternal()) {
    Napi::TypeError::New(env, "KnownHosts objects come from session.knownhostInit()").ThrowAsJavaScriptException();
    return;
  }
  session_ = info[0].As<Napi::External<Session>>().Data();
  hosts_ = info[1].As<Napi::External<LIBSSH2_KNOWNHOSTS>>().Data();
  session_ref_ = Napi::Persistent(session_->js_object());
  session_->AddKnownHosts(this);
}

KnownHosts::~KnownHosts() {
  if (session_ != nullptr) session_->RemoveKnownHosts(this);
  FreeNow();
}

void KnownHosts::FreeNow() {
  // Local memory only: safe from a finalizer (the session is alive: we hold it; a session
  // torn down first freed this collection already).
  if (hosts_ != nullptr) libssh2_knownhost_free(hosts_);
  hosts_ = nullptr;
}

bool KnownHosts::Usable(Napi::Env env, const char* fn) {
  if (hosts_ == nullptr) {
    ThrowBadUse(env, "the known hosts collection has been freed", fn);
    return false;
  }
  return true;
}

#define KH_GUARD(fn)          \
  Napi::Env env = info.Env(); \
  if (!Usable(env, fn)) return env.Undefined();

Napi::Value KnownHosts::EntryToJs(Napi::Env env, struct libssh2_knownhost* e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", e->name != nullptr ? Napi::String::New(env, e->name).operator napi_value() : env.Null());
  o.Set("key", e->key != nullptr ? Napi::String::New(env, e->key).operator napi_value() : env.Null());
  o.Set("typemask", Napi::Number::New(env, e->typemask));
  o.DefineProperty(
      Napi::PropertyDescriptor::Value(kEntryKey, Napi::External<struct libssh2_knownhost>::New(env, e), napi_default));
  return o;
}

struct libssh2_knownhost* KnownHosts::Entry(Napi::Env env, Napi::Value v, const char* fn) {
  Napi::Value ext = v.IsObject() ? v.As<Napi::Object>().Get(kEntryKey) : env.Undefined();
  if (!ext.IsExternal()) {
    Napi::TypeError::New(env, "entry must be a KnownHost of this collection").ThrowAsJavaScriptException();
    return nullptr;
  }
  auto* wanted = ext.As<Napi::External<struct libssh2_knownhost>>().Data();
  // Entries are pointers into the collection: accept only one that is still in it.
  struct libssh2_knownhost* e = nullptr;
  while (libssh2_knownhost_get(hosts_, &e, e) == 0) {
    if (e == wanted) return e;
  }
  ThrowBadUse(env, "the entry is not (or no longer) in this collection", fn);
  return nullptr;
}

Napi::Value KnownHosts::Readfile(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_readfile");
  std::string file;
  if (!ArgString(info, 0, &file, "filename")) return env.Undefined();
  int rc = libssh2_knownhost_readfile(hosts_, file.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  if (rc < 0) {
    ThrowError(env, rc, "libssh2_knownhost_readfile", session_->raw());
    return env.Undefined();
  }
  return Napi::Number::New(env, rc);
}

Napi::Value KnownHosts::Writefile(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_writefile");
  std::string file;
  if (!ArgString(info, 0, &file, "filename")) return env.Undefined();
  int rc = libssh2_knownhost_writefile(hosts_, file.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  if (rc < 0) ThrowError(env, rc, "libssh2_knownhost_writefile", session_->raw());
  return env.Undefined();
}

Napi::Value KnownHosts::Readline(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_readline");
  std::string line;
  if (!ArgString(info, 0, &line, "line")) return env.Undefined();
  int rc = libssh2_knownhost_readline(hosts_, line.c_str(), line.size(), LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  if (rc < 0) ThrowError(env, rc, "libssh2_knownhost_readline", session_->raw());
  return env.Undefined();
}

Napi::Value KnownHosts::Writeline(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_writeline");
  struct libssh2_knownhost* e = Entry(env, info[0], "libssh2_knownhost_writeline");
  if (e == nullptr) return env.Undefined();
  std::vector<char> buf(4096);
  for (;;) {
    size_t out = 0;
    int rc = libssh2_knownhost_writeline(hosts_, e, buf.data(), buf.size(), &out, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
    if (rc == LIBSSH2_ERROR_BUFFER_TOO_SMALL && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 4);
      continue;
    }
    if (rc < 0) {
      ThrowError(env, rc, "libssh2_knownhost_writeline", session_->raw());
      return env.Undefined();
    }
    return Napi::String::New(env, buf.data(), out);
  }
}

Napi::Value KnownHosts::Checkp(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_checkp");
  std::string host, key;
  bool has_key;
  int64_t port, mask;
  if (!ArgString(info, 0, &host, "host") || !ArgInt(info, 1, &port, "port") ||
      !ArgBytes(info, 2, &key, &has_key, "key") || !ArgInt(info, 3, &mask, "typemask")) {
    return env.Undefined();
  }
  struct libssh2_knownhost* found = nullptr;
  int rc = libssh2_knownhost_checkp(hosts_, host.c_str(), static_cast<int>(port), key.data(), key.size(),
                                    static_cast<int>(mask), &found);
  Napi::Object out = Napi::Object::New(env);
  out.Set("result", rc);
  out.Set("host", found != nullptr ? EntryToJs(env, found) : env.Null());
  return out;
}

Napi::Value KnownHosts::Addc(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_addc");
  std::string host, key, salt, comment;
  bool has_key, has_salt, has_comment;
  int64_t mask;
  if (!ArgString(info, 0, &host, "host") || !ArgBytes(info, 1, &key, &has_key, "key") ||
      !ArgInt(info, 2, &mask, "typemask") || !ArgOptString(info, 3, &salt, &has_salt, "salt") ||
      !ArgOptString(info, 4, &comment, &has_comment, "comment")) {
    return env.Undefined();
  }
  struct libssh2_knownhost* stored = nullptr;
  int rc =
      libssh2_knownhost_addc(hosts_, host.c_str(), has_salt ? salt.c_str() : nullptr, key.data(), key.size(),
                             has_comment ? comment.data() : nullptr, comment.size(), static_cast<int>(mask), &stored);
  if (rc < 0) {
    ThrowError(env, rc, "libssh2_knownhost_addc", session_->raw());
    return env.Undefined();
  }
  return EntryToJs(env, stored);
}

Napi::Value KnownHosts::Get(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_get");
  Napi::Array out = Napi::Array::New(env);
  struct libssh2_knownhost* e = nullptr;
  uint32_t i = 0;
  while (libssh2_knownhost_get(hosts_, &e, e) == 0) out.Set(i++, EntryToJs(env, e));
  return out;
}

Napi::Value KnownHosts::Del(const Napi::CallbackInfo& info) {
  KH_GUARD("libssh2_knownhost_del");
  struct libssh2_knownhost* e = Entry(env, info[0], "libssh2_knownhost_del");
  if (e == nullptr) return env.Undefined();
  int rc = libssh2_knownhost_del(hosts_, e);
  if (rc < 0) ThrowError(env, rc, "libssh2_knownhost_del", session_->raw());
  return env.Undefined();
}

Napi::Value KnownHosts::Free(const Napi::CallbackInfo& info) {
  FreeNow();
  return info.Env().Undefined();
}

}  // namespace node_libssh2
