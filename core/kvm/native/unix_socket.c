// AF_UNIX stream sockets with fd passing (SCM_RIGHTS) for vhost-user, and mmap of a file
// range over V8-allocated memory. The readiness watcher is in unix_watch.c.
//
// Data flow: JS owns every buffer (no external ArrayBuffers). sendmsg/recvmsg copy between
// those buffers and the socket; received fds come back as numbers (MSG_CMSG_CLOEXEC).
// Threading: each call runs on the JS thread that makes it; this file keeps no state.
// unix_socket_register (called from kvm_addon.c's module init) also registers
// unix_watch.c; argument and errno helpers come from napi_util.h.
#include "napi_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define US_MAX_FDS 16     /* fds accepted per recvmsg; more sets `truncated` */

static int us_path(napi_env env, napi_value v, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len == 0 || len >= sizeof sa->sun_path) return 0;
  return napi_get_value_string_utf8(env, v, sa->sun_path, sizeof sa->sun_path, &len) == napi_ok;
}

/* The (fd, path) arguments of unixBind and unixConnect. Returns 0 after throwing: a
 * TypeError when arguments are missing, else "<what>: socket path" (EINVAL). */
static int fd_path_args(napi_env env, napi_callback_info info, const char *what, int64_t *fd, struct sockaddr_un *sa) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return 0;
  if (nu_i64(env, argv[0], fd) && us_path(env, argv[1], sa)) return 1;
  char msg[64];
  snprintf(msg, sizeof msg, "%s: socket path", what);
  nu_throw_errno(env, msg, EINVAL);
  return 0;
}

/* unixSocket() -> fd (SOCK_STREAM, close-on-exec, blocking) */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  return nu_int_or_throw(env, "socket", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

/* unixSocketPair() -> [fd, fd] */
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return nu_throw_errno(env, "socketpair", errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, nu_int(env, sv[0]));
  napi_set_element(env, arr, 1, nu_int(env, sv[1]));
  return arr;
}

/* unixBind(fd, path) */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  int64_t fd;
  struct sockaddr_un sa;
  if (!fd_path_args(env, info, "bind", &fd, &sa)) return NULL;
  return nu_void_or_throw(env, "bind", bind((int)fd, (struct sockaddr *)&sa, sizeof sa));
}

/* unixListen(fd, backlog) */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  int64_t fd, backlog;
  if (!nu_i64(env, argv[0], &fd) || !nu_i64(env, argv[1], &backlog)) return nu_throw_errno(env, "listen", EINVAL);
  return nu_void_or_throw(env, "listen", listen((int)fd, (int)backlog));
}

/* unixAccept(fd) -> new fd (close-on-exec, non-blocking), or -EAGAIN */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!nu_args(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (!nu_i64(env, argv[0], &fd)) return nu_throw_errno(env, "accept", EINVAL);
  int c = accept4((int)fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c < 0 && errno == EINTR) return nu_int(env, -EAGAIN); /* the caller retries as for EAGAIN */
  return nu_int_or_eagain(env, "accept", c);
}

/* unixConnect(fd, path): blocking connect (unix sockets connect or fail at once). */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  int64_t fd;
  struct sockaddr_un sa;
  if (!fd_path_args(env, info, "connect", &fd, &sa)) return NULL;
  return nu_void_or_throw(env, "connect", TEMP_FAILURE_RETRY(connect((int)fd, (struct sockaddr *)&sa, sizeof sa)));
}

/* unixSetNonBlocking(fd, on) */
static napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  bool on;
  if (!nu_i64(env, argv[0], &fd) || napi_get_value_bool(env, argv[1], &on) != napi_ok) return nu_throw_errno(env, "fcntl", EINVAL);
  int fl = fcntl((int)fd, F_GETFL);
  if (fl < 0) return nu_throw_errno(env, "fcntl", errno);
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  return nu_void_or_throw(env, "fcntl", fcntl((int)fd, F_SETFL, fl));
}

/* unixShutdown(fd): SHUT_RDWR; wakes a peer and our own watcher with EOF. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!nu_args(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (!nu_i64(env, argv[0], &fd)) return nu_throw_errno(env, "shutdown", EINVAL);
  if (shutdown((int)fd, SHUT_RDWR) < 0 && errno != ENOTCONN) return nu_throw_errno(env, "shutdown", errno);
  return NULL;
}

/* unixSendMsg(fd, bytes, fds[]) -> bytes sent, or -EAGAIN. MSG_NOSIGNAL: a dead peer is EPIPE. */
static napi_value js_sendmsg(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!nu_args(env, info, 3, argv)) return NULL;
  int64_t fd;
  struct nu_span b;
  uint32_t nfds = 0;
  if (!nu_i64(env, argv[0], &fd) || !nu_view_bytes(env, argv[1], &b) || napi_get_array_length(env, argv[2], &nfds) != napi_ok ||
      nfds > US_MAX_FDS) {
    return nu_throw_errno(env, "sendmsg", EINVAL);
  }
  int fds[US_MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value e;
    int64_t v;
    if (napi_get_element(env, argv[2], i, &e) != napi_ok || !nu_i64(env, e, &v) || v < 0) return nu_throw_errno(env, "sendmsg: fd", EBADF);
    fds[i] = (int)v;
  }
  struct iovec iov = {.iov_base = b.data, .iov_len = b.len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * US_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    memset(&ctl, 0, sizeof ctl);
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  return nu_int_or_eagain(env, "sendmsg", TEMP_FAILURE_RETRY(sendmsg((int)fd, &msg, MSG_NOSIGNAL)));
}

/* unixRecvMsg(fd, bytes) -> { bytes, fds, truncated } ; bytes = -EAGAIN when nothing is
 * ready, 0 at EOF. Received fds are close-on-exec; when the control buffer overflowed
 * (MSG_CTRUNC) the fds that did arrive are closed and `truncated` is true. */
static napi_value js_recvmsg(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  struct nu_span b;
  if (!nu_i64(env, argv[0], &fd) || !nu_view_bytes(env, argv[1], &b)) return nu_throw_errno(env, "recvmsg", EINVAL);
  struct iovec iov = {.iov_base = b.data, .iov_len = b.len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * US_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  ssize_t r = TEMP_FAILURE_RETRY(recvmsg((int)fd, &msg, MSG_CMSG_CLOEXEC));
  if (r < 0 && errno != EAGAIN) return nu_throw_errno(env, "recvmsg", errno);
  int fds[US_MAX_FDS];
  size_t nfds = 0;
  if (r > 0) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; i++) {
        int f;
        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
        if (nfds < US_MAX_FDS) fds[nfds++] = f;
        else close(f);
      }
    }
  }
  bool truncated = r > 0 && (msg.msg_flags & MSG_CTRUNC) != 0;
  if (truncated) {
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    nfds = 0;
  }
  napi_value out, arr, t;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "bytes", nu_int(env, r < 0 ? -EAGAIN : r));
  napi_create_array_with_length(env, nfds, &arr);
  for (size_t i = 0; i < nfds; i++) napi_set_element(env, arr, (uint32_t)i, nu_int(env, fds[i]));
  napi_set_named_property(env, out, "fds", arr);
  napi_get_boolean(env, truncated, &t);
  napi_set_named_property(env, out, "truncated", t);
  return out;
}

/* Put a MAP_FIXED mapping under the whole pages of `b`: fd at `off` (MAP_SHARED) when
 * `shared`, else private zeroed memory. `what` names the JS function in errors. */
static napi_value map_over(napi_env env, const char *what, struct nu_span b, int shared, int fd, int64_t off) {
  char msg[64];
  if (!nu_whole_pages(b) || off % sysconf(_SC_PAGESIZE) != 0) {
    snprintf(msg, sizeof msg, "%s: range not page-aligned", what);
    return nu_throw_errno(env, msg, EINVAL);
  }
  int flags = MAP_FIXED | (shared ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS);
  if (mmap(b.data, b.len, PROT_READ | PROT_WRITE, flags, fd, (off_t)off) != MAP_FAILED) return NULL;
  int e = errno;
  snprintf(msg, sizeof msg, "%s: mmap", what);
  return nu_throw_errno(env, msg, e);
}

/* mapSharedOverAt(view, fd, offset): replace the pages of `view` (page-aligned start and
 * length) with a MAP_SHARED mapping of fd at `offset`. The view's old contents are lost. */
static napi_value js_map_shared_over_at(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!nu_args(env, info, 3, argv)) return NULL;
  struct nu_span b;
  int64_t fd, off;
  if (!nu_view_bytes(env, argv[0], &b) || !nu_i64(env, argv[1], &fd) || !nu_i64(env, argv[2], &off) || off < 0) {
    return nu_throw_errno(env, "mapSharedOverAt", EINVAL);
  }
  return map_over(env, "mapSharedOverAt", b, 1, (int)fd, off);
}

/* mapAnonymousOver(view): put private zeroed memory back under `view` (undoes mapSharedOverAt). */
static napi_value js_map_anonymous_over(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!nu_args(env, info, 1, argv)) return NULL;
  struct nu_span b;
  if (!nu_view_bytes(env, argv[0], &b)) return nu_throw_errno(env, "mapAnonymousOver", EINVAL);
  return map_over(env, "mapAnonymousOver", b, 0, -1, 0);
}

void unix_socket_register(napi_env env, napi_value exports) {
  unix_watch_register(env, exports);
  static const struct nu_fn fns[] = {
      {"unixSocket", js_socket},
      {"unixSocketPair", js_socketpair},
      {"unixBind", js_bind},
      {"unixListen", js_listen},
      {"unixAccept", js_accept},
      {"unixConnect", js_connect},
      {"unixSetNonBlocking", js_set_nonblocking},
      {"unixShutdown", js_shutdown},
      {"unixSendMsg", js_sendmsg},
      {"unixRecvMsg", js_recvmsg},
      {"mapSharedOverAt", js_map_shared_over_at},
      {"mapAnonymousOver", js_map_anonymous_over},
  };
  nu_export_fns(env, exports, fns, NU_COUNT(fns), NULL);
}
