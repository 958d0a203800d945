#include "transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace node_libssh2 {

namespace {

// A connect in progress: a uv_poll for writability and a uv_timer for the deadline.
struct Connect {
  Napi::Env env;
  Napi::Promise::Deferred deferred;
  Napi::AsyncContext context;
  int fd;
  uv_poll_t poll;
  uv_timer_t timer;
  int open_handles = 0;
  bool settled = false;

  Connect(Napi::Env e, int f)
      : env(e), deferred(Napi::Promise::Deferred::New(e)), context(e, "libssh2:connect"), fd(f) {}

  void Settle(int err, const char* what) {
    if (settled) return;
    settled = true;
    uv_poll_stop(&poll);
    uv_timer_stop(&timer);
    Napi::HandleScope scope(env);
    Napi::CallbackScope cb(env, context);
    if (err == 0) {
      deferred.Resolve(Napi::Number::New(env, fd));
    } else {
      close(fd);
      std::string msg = std::string(what) + ": " + std::strerror(err);
      int code = err == ETIMEDOUT ? LIBSSH2_ERROR_SOCKET_TIMEOUT : LIBSSH2_ERROR_SOCKET_NONE;
      Napi::Value e = MakeError(env, code, "connect", nullptr, -1, msg.c_str());
      if (e.IsObject()) e.As<Napi::Object>().Set("syscallErrno", err);
      deferred.Reject(e);
    }
    auto closed = [](uv_handle_t* h) {
      auto* self = static_cast<Connect*>(h->data);
      if (--self->open_handles == 0) delete self;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), closed);
  }
};

// connect(ip, port, timeoutMs): Promise<fd>. `ip` is a numeric IPv4 or IPv6 address (names are
// resolved in TypeScript with dns.lookup). The socket is non-blocking with TCP_NODELAY and
// SO_KEEPALIVE set; the caller owns the returned fd.
Napi::Value ConnectJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "connect(ip: string, port: number, timeoutMs?: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string ip = info[0].As<Napi::String>().Utf8Value();
  int64_t port = info[1].As<Napi::Number>().Int64Value();
  int64_t timeout = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 0;
  if (port < 0 || port > 65535) {
    Napi::RangeError::New(env, "port must be 0..65535").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  sockaddr_storage addr{};
  socklen_t len;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a6;
  } else {
    Napi::TypeError::New(env, "ip must be a numeric IPv4 or IPv6 address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto fail_now = [&](int err, const char* what) {
    auto d = Napi::Promise::Deferred::New(env);
    std::string msg = std::string(what) + ": " + std::strerror(err);
    d.Reject(MakeError(env, LIBSSH2_ERROR_SOCKET_NONE, "connect", nullptr, -1, msg.c_str()));
    return d.Promise();
  };
  if (fd < 0) return fail_now(errno, "socket");
  SetSocketOptions(fd);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return fail_now(err, ("connect " + ip + ":" + std::to_string(port)).c_str());
  }
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  auto* c = new Connect(env, fd);
  Napi::Value promise = c->deferred.Promise();
  uv_poll_init_socket(loop, &c->poll, fd);
  uv_timer_init(loop, &c->timer);
  c->poll.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  uv_poll_start(&c->poll, UV_WRITABLE, [](uv_poll_t* h, int status, int) {
    auto* self = static_cast<Connect*>(h->data);
    int err = 0;
    socklen_t l = sizeof err;
    if (status < 0) err = -status;
    else if (getsockopt(self->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) err = errno;
    self->Settle(err, "connect");
  });
  if (timeout > 0) {
    uv_timer_start(
        &c->timer, [](uv_timer_t* h) { static_cast<Connect*>(h->data)->Settle(ETIMEDOUT, "connect"); },
        static_cast<uint64_t>(timeout), 0);
  }
  return promise;
}

// socketpair(): [fdForLibssh2, fdForJs], AF_UNIX stream sockets, close-on-exec.
Napi::Value SocketpairJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    std::string msg = std::string("socketpair: ") + std::strerror(errno);
    ThrowError(env, LIBSSH2_ERROR_SOCKET_NONE, "socketpair", nullptr, -1, msg.c_str());
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

// closeFd(fd): for fds handed out by connect() or socketpair() and never used.
Napi::Value CloseFdJs(const Napi::CallbackInfo& info) {
  if (info[0].IsNumber()) close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

void SetSocketOptions(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

void InitTransport(Napi::Env env, Napi::Object exports) {
  exports.Set("connect", Napi::Function::New(env, ConnectJs, "connect"));
  exports.Set("socketpair", Napi::Function::New(env, SocketpairJs, "socketpair"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFdJs, "closeFd"));
}

}  // namespace node_libssh2
