#include "publickey.h"

#include <string>
#include <vector>

#include "errors.h"
#include "session.h"

namespace node_libssh2 {

namespace {

// libssh2_publickey_* report most failures as a bare -1 with the reason in the session's last
// error (a status from the server: LIBSSH2_ERROR_PUBLICKEY_PROTOCOL).
int PublickeyRc(LIBSSH2_SESSION* session, int rc) {
  if (rc != -1) return rc;
  int last = libssh2_session_last_errno(session);
  return last < 0 && last != LIBSSH2_ERROR_EAGAIN ? last : LIBSSH2_ERROR_PUBLICKEY_PROTOCOL;
}

}  // namespace

Napi::Function PublicKey::Init(Napi::Env env) {
  return DefineClass(env, "PublicKeySubsystem",
                     {
                         InstanceMethod<&PublicKey::ListFetch>("listFetch"),
                         InstanceMethod<&PublicKey::Add>("add"),
                         InstanceMethod<&PublicKey::Remove>("remove"),
                         InstanceMethod<&PublicKey::Shutdown>("shutdown"),
                         InstanceMethod<&PublicKey::IsFreed>("isFreed"),
                     });
}

Napi::Value PublicKey::NewInstance(Napi::Env env, Session* session, LIBSSH2_PUBLICKEY* pkey) {
  return GetAddonData(env)->publickeyCtor.New(
      {Napi::External<Session>::New(env, session), Napi::External<LIBSSH2_PUBLICKEY>::New(env, pkey)});
}

PublicKey::PublicKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PublicKey>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[1].IsExternal()) {
    Napi::TypeError::New(env, "PublicKeySubsystem objects come from session.publickeyInit()")
        .ThrowAsJavaScriptException();
    return;
  }
  session_ = info[0].As<Napi::External<Session>>().Data();
  pkey_ = info[1].As<Napi::External<LIBSSH2_PUBLICKEY>>().Data();
  session_ref_ = Napi::Persistent(session_->js_object());
  session_->AddPublicKey(this);
}

PublicKey::~PublicKey() {
  if (session_ == nullptr) return;
  session_->RemovePublicKey(this);
  if (pkey_ != nullptr) {
    // Collected without shutdown(): freed on the session's queue (it frees its channel).
    LIBSSH2_PUBLICKEY* raw = pkey_;
    session_->FreeOrphan(raw, nullptr, 2, &gate_, "libssh2_publickey_shutdown",
                         [raw] { return libssh2_publickey_shutdown(raw); });
  }
  pkey_ = nullptr;
}

void PublicKey::TeardownNow() {
  if (pkey_ != nullptr) libssh2_publickey_shutdown(pkey_);  // dead I/O: completes at once
  pkey_ = nullptr;
}

bool PublicKey::Usable(Napi::Env env, const char* fn) {
  if (pkey_ == nullptr || shutting_down_) {
    ThrowBadUse(env, "the publickey subsystem has been shut down", fn);
    return false;
  }
  return true;
}

Napi::Value PublicKey::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), pkey_ == nullptr || shutting_down_);
}

#define PUBLICKEY_GUARD(fn)   \
  Napi::Env env = info.Env(); \
  if (!Usable(env, fn)) return env.Undefined();

Napi::Value PublicKey::ListFetch(const Napi::CallbackInfo& info) {
  PUBLICKEY_GUARD("libssh2_publickey_list_fetch");
  struct Out {
    LIBSSH2_PUBLICKEY* pkey = nullptr;
    unsigned long count = 0;  // NOLINT(runtime/int): libssh2's type
    libssh2_publickey_list* list = nullptr;
    ~Out() {
      if (list != nullptr) libssh2_publickey_list_free(pkey, list);
    }
  };
  auto out = std::make_shared<Out>();
  LIBSSH2_SESSION* session = session_->raw();
  return session_->scheduler()->Enqueue(
      MakeTargetOp(
          this, "libssh2_publickey_list_fetch", &gate_, 0,
          [out, session](LIBSSH2_PUBLICKEY* p) {
            out->pkey = p;
            return PublickeyRc(session, libssh2_publickey_list_fetch(p, &out->count, &out->list));
          },
          [out](Napi::Env env, int) -> Napi::Value {
            Napi::Array keys = Napi::Array::New(env, out->count);
            for (unsigned long i = 0; i < out->count; i++) {  // NOLINT(runtime/int)
              const libssh2_publickey_list& k = out->list[i];
              Napi::Object o = Napi::Object::New(env);
              o.Set("name", Napi::String::New(env, reinterpret_cast<const char*>(k.name), k.name_len));
              o.Set("blob", Napi::Buffer<unsigned char>::Copy(env, k.blob, k.blob_len));
              Napi::Array attrs = Napi::Array::New(env, k.num_attrs);
              for (unsigned long j = 0; j < k.num_attrs; j++) {  // NOLINT(runtime/int)
                const libssh2_publickey_attribute& a = k.attrs[j];
                Napi::Object ao = Napi::Object::New(env);
                ao.Set("name", Napi::String::New(env, a.name, a.name_len));
                ao.Set("value", Napi::String::New(env, a.value, a.value_len));
                ao.Set("mandatory", Napi::Boolean::New(env, a.mandatory != 0));
                attrs.Set(static_cast<uint32_t>(j), ao);
              }
              o.Set("attrs", attrs);
              keys.Set(static_cast<uint32_t>(i), o);
            }
            return keys;
          }),
      session_->timeout_ms());
}

// add(name, blob, overwrite, attrs: [{ name, value, mandatory }]) — lib/publickey.ts checks types.
Napi::Value PublicKey::Add(const Napi::CallbackInfo& info) {
  PUBLICKEY_GUARD("libssh2_publickey_add_ex");
  struct Args {
    std::string name, blob;
    std::vector<std::string> attr_names, attr_values;
    std::vector<libssh2_publickey_attribute> attrs;
  };
  auto args = std::make_shared<Args>();
  bool has_blob;
  if (!ArgString(info, 0, &args->name, "name") || !ArgBytes(info, 1, &args->blob, &has_blob, "blob")) {
    return env.Undefined();
  }
  char overwrite = info[2].ToBoolean() ? 1 : 0;
  if (info[3].IsArray()) {
    Napi::Array arr = info[3].As<Napi::Array>();
    uint32_t n = arr.Length();
    args->attr_names.resize(n);
    args->attr_values.resize(n);
    for (uint32_t i = 0; i < n; i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsObject()) {
        Napi::TypeError::New(env, "attrs must be objects { name, value, mandatory }").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      Napi::Object a = v.As<Napi::Object>();
      Napi::Value name = a.Get("name"), value = a.Get("value");
      if (!name.IsString() || !value.IsString()) {
        Napi::TypeError::New(env, "attribute name and value must be strings").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      args->attr_names[i] = name.As<Napi::String>().Utf8Value();
      args->attr_values[i] = value.As<Napi::String>().Utf8Value();
    }
    for (uint32_t i = 0; i < n; i++) {
      char mandatory = arr.Get(i).As<Napi::Object>().Get("mandatory").ToBoolean() ? 1 : 0;
      args->attrs.push_back({args->attr_names[i].c_str(), args->attr_names[i].size(), args->attr_values[i].c_str(),
                             args->attr_values[i].size(), mandatory});
    }
  }
  LIBSSH2_SESSION* session = session_->raw();
  return session_->scheduler()->Enqueue(
      MakeTargetOp(this, "libssh2_publickey_add_ex", &gate_, 0,
                   [args, overwrite, session](LIBSSH2_PUBLICKEY* p) {
                     return PublickeyRc(
                         session, libssh2_publickey_add_ex(p, reinterpret_cast<const unsigned char*>(args->name.data()),
                                                           args->name.size(),
                                                           reinterpret_cast<const unsigned char*>(args->blob.data()),
                                                           args->blob.size(), overwrite, args->attrs.size(),
                                                           args->attrs.empty() ? nullptr : args->attrs.data()));
                   }),
      session_->timeout_ms());
}

Napi::Value PublicKey::Remove(const Napi::CallbackInfo& info) {
  PUBLICKEY_GUARD("libssh2_publickey_remove_ex");
  std::string name, blob;
  bool has_blob;
  if (!ArgString(info, 0, &name, "name") || !ArgBytes(info, 1, &blob, &has_blob, "blob")) return env.Undefined();
  LIBSSH2_SESSION* session = session_->raw();
  return session_->scheduler()->Enqueue(
      MakeTargetOp(this, "libssh2_publickey_remove_ex", &gate_, 0,
                   [name, blob, session](LIBSSH2_PUBLICKEY* p) {
                     return PublickeyRc(session,
                                        libssh2_publickey_remove_ex(
                                            p, reinterpret_cast<const unsigned char*>(name.data()), name.size(),
                                            reinterpret_cast<const unsigned char*>(blob.data()), blob.size()));
                   }),
      session_->timeout_ms());
}

Napi::Value PublicKey::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Idempotent; an Nb repeat goes on to the pending shutdown.
  Scheduler* sched = session_ != nullptr ? session_->scheduler() : nullptr;
  if (pkey_ == nullptr || (shutting_down_ && !InNbCall(sched))) return DoneIn(env, sched, env.Undefined());
  shutting_down_ = true;
  // After the calls queued before it (same gate); frees the channel (waits for the peer's CLOSE).
  return session_->scheduler()->Enqueue(MakeTargetOp(this, "libssh2_publickey_shutdown", &gate_, Op::kTeardown,
                                                     [this](LIBSSH2_PUBLICKEY* p) {
                                                       int rc = libssh2_publickey_shutdown(p);
                                                       if (rc != LIBSSH2_ERROR_EAGAIN)
                                                         pkey_ = nullptr;  // freed whatever it returns
                                                       return rc;
                                                     }),
                                        session_->timeout_ms());
}

}  // namespace node_libssh2
