#include "agent.h"

#include <cstring>

#include "errors.h"
#include "session.h"

namespace node_libssh2 {

namespace {
constexpr const char* kIdentityKey = "__libssh2_identity";

// The key type: the first SSH string of the public key blob ("ssh-ed25519", ...).
std::string BlobType(const unsigned char* blob, size_t len) {
  if (len < 4) return std::string();
  uint32_t n = (uint32_t{blob[0]} << 24) | (uint32_t{blob[1]} << 16) | (uint32_t{blob[2]} << 8) | blob[3];
  if (n > len - 4) return std::string();
  return std::string(reinterpret_cast<const char*>(blob + 4), n);
}
}  // namespace

Napi::Function Agent::Init(Napi::Env env) {
  return DefineClass(env, "Agent",
                     {
                         InstanceMethod<&Agent::Connect>("connect"),
                         InstanceMethod<&Agent::Disconnect>("disconnect"),
                         InstanceMethod<&Agent::ListIdentities>("listIdentities"),
                         InstanceMethod<&Agent::GetIdentities>("getIdentities"),
                         InstanceMethod<&Agent::Userauth>("userauth"),
                         InstanceMethod<&Agent::Sign>("sign"),
                         InstanceMethod<&Agent::GetIdentityPath>("getIdentityPath"),
                         InstanceMethod<&Agent::SetIdentityPath>("setIdentityPath"),
                         InstanceMethod<&Agent::Free>("free"),
                     });
}

Napi::Value Agent::NewInstance(Napi::Env env, Session* session, LIBSSH2_AGENT* agent) {
  return GetAddonData(env)->agentCtor.New(
      {Napi::External<Session>::New(env, session), Napi::External<LIBSSH2_AGENT>::New(env, agent)});
}

Agent::Agent(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Agent>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal() || !info[1].IsExternal()) {
    Napi::TypeError::New(env, "Agent objects come from session.agentInit()").ThrowAsJavaScriptException();
    return;
  }
  session_ = info[0].As<Napi::External<Session>>().Data();
  agent_ = info[1].As<Napi::External<LIBSSH2_AGENT>>().Data();
  session_ref_ = Napi::Persistent(session_->js_object());
  session_->AddAgent(this);
}

Agent::~Agent() {
  if (session_ != nullptr) session_->RemoveAgent(this);
  FreeNow();
}

void Agent::FreeNow() {
  // Local socket and memory only (no session traffic): safe from a finalizer or teardown.
  if (agent_ != nullptr) {
    libssh2_agent_disconnect(agent_);
    libssh2_agent_free(agent_);
  }
  agent_ = nullptr;
}

bool Agent::Usable(Napi::Env env, const char* fn) {
  if (agent_ == nullptr) {
    ThrowBadUse(env, "the agent has been freed", fn);
    return false;
  }
  return true;
}

#define AGENT_GUARD(fn)       \
  Napi::Env env = info.Env(); \
  if (!Usable(env, fn)) return env.Undefined();

struct libssh2_agent_publickey* Agent::Identity(Napi::Env env, Napi::Value v, const char* fn) {
  Napi::Value ext = v.IsObject() ? v.As<Napi::Object>().Get(kIdentityKey) : env.Undefined();
  if (!ext.IsExternal()) {
    Napi::TypeError::New(env, "identity must come from agent.getIdentities()").ThrowAsJavaScriptException();
    return nullptr;
  }
  auto* wanted = ext.As<Napi::External<struct libssh2_agent_publickey>>().Data();
  struct libssh2_agent_publickey* id = nullptr;
  while (libssh2_agent_get_identity(agent_, &id, id) == 0) {
    if (id == wanted) return id;
  }
  ThrowBadUse(env, "the identity is not (or no longer) listed: call listIdentities() again", fn);
  return nullptr;
}

Napi::Value Agent::Connect(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_connect");
  return session_->scheduler()->Enqueue(MakeTargetOp(this, "libssh2_agent_connect", &gate_, Op::kHeavy,
                                                     [](LIBSSH2_AGENT* a) { return libssh2_agent_connect(a); }),
                                        session_->timeout_ms());
}

Napi::Value Agent::Disconnect(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_disconnect");
  return session_->scheduler()->Enqueue(MakeTargetOp(this, "libssh2_agent_disconnect", &gate_, Op::kHeavy,
                                                     [](LIBSSH2_AGENT* a) { return libssh2_agent_disconnect(a); }),
                                        session_->timeout_ms());
}

Napi::Value Agent::ListIdentities(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_list_identities");
  return session_->scheduler()->Enqueue(MakeTargetOp(this, "libssh2_agent_list_identities", &gate_, Op::kHeavy,
                                                     [](LIBSSH2_AGENT* a) { return libssh2_agent_list_identities(a); }),
                                        session_->timeout_ms());
}

Napi::Value Agent::GetIdentities(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_get_identity");
  Napi::Array out = Napi::Array::New(env);
  struct libssh2_agent_publickey* id = nullptr;
  uint32_t i = 0;
  int rc;
  while ((rc = libssh2_agent_get_identity(agent_, &id, id)) == 0) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("blob", Napi::Buffer<unsigned char>::Copy(env, id->blob, id->blob_len));
    o.Set("comment", Napi::String::New(env, id->comment != nullptr ? id->comment : ""));
    o.Set("type", Napi::String::New(env, BlobType(id->blob, id->blob_len)));
    o.DefineProperty(Napi::PropertyDescriptor::Value(
        kIdentityKey, Napi::External<struct libssh2_agent_publickey>::New(env, id), napi_default));
    out.Set(i++, o);
  }
  if (rc < 0) {
    ThrowError(env, rc, "libssh2_agent_get_identity", session_->raw());
    return env.Undefined();
  }
  return out;
}

// Agent I/O (blocking, local) and the session's userauth exchange (non-blocking): session gate.
Napi::Value Agent::Userauth(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_userauth");
  std::string user;
  if (!ArgString(info, 0, &user, "username")) return env.Undefined();
  struct libssh2_agent_publickey* id = Identity(env, info[1], "libssh2_agent_userauth");
  if (id == nullptr) return env.Undefined();
  auto op = MakeTargetOp(this, "libssh2_agent_userauth", session_->session_gate(), Op::kHeavy,
                         [user, id, owner = session_](LIBSSH2_AGENT* a) {
                           if (int refused = RefuseIfAuthenticated(owner->raw())) return refused;  // session.h
                           return libssh2_agent_userauth(a, user.c_str(), id);
                         });
  op->set_gate2(&gate_);
  return session_->scheduler()->Enqueue(std::move(op), session_->timeout_ms());
}

Napi::Value Agent::Sign(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_sign");
  struct libssh2_agent_publickey* id = Identity(env, info[0], "libssh2_agent_sign");
  if (id == nullptr) return env.Undefined();
  std::string data, method;
  bool has_data, has_method;
  if (!ArgBytes(info, 1, &data, &has_data, "data") || !ArgOptString(info, 2, &method, &has_method, "method")) {
    return env.Undefined();
  }
  if (!has_method) method = BlobType(id->blob, id->blob_len);
  struct Out {
    unsigned char* sig = nullptr;
    size_t len = 0;
  };
  auto out = std::make_shared<Out>();
  LIBSSH2_SESSION* session = session_->raw();
  return session_->scheduler()->Enqueue(
      MakeTargetOp(
          this, "libssh2_agent_sign", &gate_, Op::kHeavy,
          [id, data, method, out](LIBSSH2_AGENT* a) {
            return libssh2_agent_sign(a, id, &out->sig, &out->len, reinterpret_cast<const unsigned char*>(data.data()),
                                      data.size(), method.c_str(), static_cast<unsigned>(method.size()));
          },
          [out, session](Napi::Env env, int) {
            Napi::Value b = Napi::Buffer<unsigned char>::Copy(env, out->sig, out->len);
            libssh2_free(session, out->sig);
            out->sig = nullptr;
            return b;
          }),
      session_->timeout_ms());
}

Napi::Value Agent::GetIdentityPath(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_get_identity_path");
  const char* p = libssh2_agent_get_identity_path(agent_);
  if (p == nullptr) return env.Null();
  return Napi::String::New(env, p);
}

Napi::Value Agent::SetIdentityPath(const Napi::CallbackInfo& info) {
  AGENT_GUARD("libssh2_agent_set_identity_path");
  std::string path;
  bool has;
  if (!ArgOptString(info, 0, &path, &has, "path")) return env.Undefined();
  libssh2_agent_set_identity_path(agent_, has ? path.c_str() : nullptr);
  return env.Undefined();
}

Napi::Value Agent::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ops_.pending() > 0) {
    ThrowBadUse(env, "an agent call is still pending", "libssh2_agent_free");
    return env.Undefined();
  }
  FreeNow();
  return env.Undefined();
}

}  // namespace node_libssh2
