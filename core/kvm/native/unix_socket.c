// AF_UNIX stream sockets with fd passing (SCM_RIGHTS) for vhost-user, and mmap of a file
// range over V8-allocated memory. The readiness watcher is in unix_watch.c.
//
// Data flow: JS owns every buffer (no external ArrayBuffers). sendmsg/recvmsg copy between
// those buffers and the socket; received fds come back as numbers (MSG_CMSG_CLOEXEC).
#include "unix_common.h"

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

/* Pointer and byte length of a Uint8Array (or any TypedArray) / DataView. */
static int us_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return 0;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *len = length * elem;
    return 1;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t offset;
    return napi_get_dataview_info(env, v, len, data, &ab, &offset) == napi_ok;
  }
  return 0;
}

static int us_path(napi_env env, napi_value v, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len == 0 || len >= sizeof sa->sun_path) return 0;
  return napi_get_value_string_utf8(env, v, sa->sun_path, sizeof sa->sun_path, &len) == napi_ok;
}

/* unixSocket() -> fd (SOCK_STREAM, close-on-exec, blocking) */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return us_throw(env, "socket", errno);
  return us_int(env, fd);
}

/* unixSocketPair() -> [fd, fd] */
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return us_throw(env, "socketpair", errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, us_int(env, sv[0]));
  napi_set_element(env, arr, 1, us_int(env, sv[1]));
  return arr;
}

/* unixBind(fd, path) */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!us_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  struct sockaddr_un sa;
  if (!us_i64(env, argv[0], &fd) || !us_path(env, argv[1], &sa)) return us_throw(env, "bind: socket path", EINVAL);
  if (bind((int)fd, (struct sockaddr *)&sa, sizeof sa) < 0) return us_throw(env, "bind", errno);
  return NULL;
}

/* unixListen(fd, backlog) */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!us_args(env, info, 2, argv)) return NULL;
  int64_t fd, backlog;
  if (!us_i64(env, argv[0], &fd) || !us_i64(env, argv[1], &backlog)) return us_throw(env, "listen", EINVAL);
  if (listen((int)fd, (int)backlog) < 0) return us_throw(env, "listen", errno);
  return NULL;
}

/* unixAccept(fd) -> new fd (close-on-exec, non-blocking), or -EAGAIN */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!us_args(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (!us_i64(env, argv[0], &fd)) return us_throw(env, "accept", EINVAL);
  int c = accept4((int)fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c < 0) {
    if (errno == EAGAIN || errno == EINTR) return us_int(env, -EAGAIN);
    return us_throw(env, "accept", errno);
  }
  return us_int(env, c);
}

/* unixConnect(fd, path): blocking connect (unix sockets connect or fail at once). */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!us_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  struct sockaddr_un sa;
  if (!us_i64(env, argv[0], &fd) || !us_path(env, argv[1], &sa)) return us_throw(env, "connect: socket path", EINVAL);
  int r;
  do r = connect((int)fd, (struct sockaddr *)&sa, sizeof sa);
  while (r < 0 && errno == EINTR);
  if (r < 0) return us_throw(env, "connect", errno);
  return NULL;
}

/* unixSetNonBlocking(fd, on) */
static napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!us_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  bool on;
  if (!us_i64(env, argv[0], &fd) || napi_get_value_bool(env, argv[1], &on) != napi_ok) return us_throw(env, "fcntl", EINVAL);
  int fl = fcntl((int)fd, F_GETFL);
  if (fl < 0) return us_throw(env, "fcntl", errno);
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (fcntl((int)fd, F_SETFL, fl) < 0) return us_throw(env, "fcntl", errno);
  return NULL;
}

/* unixShutdown(fd): SHUT_RDWR; wakes a peer and our own watcher with EOF. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!us_args(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (!us_i64(env, argv[0], &fd)) return us_throw(env, "shutdown", EINVAL);
  if (shutdown((int)fd, SHUT_RDWR) < 0 && errno != ENOTCONN) return us_throw(env, "shutdown", errno);
  return NULL;
}

/* unixSendMsg(fd, bytes, fds[]) -> bytes sent, or -EAGAIN. MSG_NOSIGNAL: a dead peer is EPIPE. */
static napi_value js_sendmsg(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!us_args(env, info, 3, argv)) return NULL;
  int64_t fd;
  void *data;
  size_t len;
  uint32_t nfds = 0;
  if (!us_i64(env, argv[0], &fd) || !us_bytes(env, argv[1], &data, &len) || napi_get_array_length(env, argv[2], &nfds) != napi_ok ||
      nfds > US_MAX_FDS) {
    return us_throw(env, "sendmsg", EINVAL);
  }
  int fds[US_MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value e;
    int64_t v;
    if (napi_get_element(env, argv[2], i, &e) != napi_ok || !us_i64(env, e, &v) || v < 0) return us_throw(env, "sendmsg: fd", EBADF);
    fds[i] = (int)v;
  }
  struct iovec iov = {.iov_base = data, .iov_len = len};
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
  ssize_t r;
  do r = sendmsg((int)fd, &msg, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN) return us_int(env, -EAGAIN);
    return us_throw(env, "sendmsg", errno);
  }
  return us_int(env, r);
}

/* unixRecvMsg(fd, bytes) -> { bytes, fds, truncated } ; bytes = -EAGAIN when nothing is
 * ready, 0 at EOF. Received fds are close-on-exec; when the control buffer overflowed
 * (MSG_CTRUNC) the fds that did arrive are closed and `truncated` is true. */
static napi_value js_recvmsg(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!us_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  void *data;
  size_t len;
  if (!us_i64(env, argv[0], &fd) || !us_bytes(env, argv[1], &data, &len)) return us_throw(env, "recvmsg", EINVAL);
  struct iovec iov = {.iov_base = data, .iov_len = len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * US_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  ssize_t r;
  do r = recvmsg((int)fd, &msg, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EAGAIN) return us_throw(env, "recvmsg", errno);
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
  napi_set_named_property(env, out, "bytes", us_int(env, r < 0 ? -EAGAIN : r));
  napi_create_array_with_length(env, nfds, &arr);
  for (size_t i = 0; i < nfds; i++) napi_set_element(env, arr, (uint32_t)i, us_int(env, fds[i]));
  napi_set_named_property(env, out, "fds", arr);
  napi_get_boolean(env, truncated, &t);
  napi_set_named_property(env, out, "truncated", t);
  return out;
}

/* mapSharedOverAt(view, fd, offset): replace the pages of `view` (page-aligned start and
 * length) with a MAP_SHARED mapping of fd at `offset`. The view's old contents are lost. */
static napi_value js_map_shared_over_at(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!us_args(env, info, 3, argv)) return NULL;
  void *data;
  size_t len;
  int64_t fd, off;
  if (!us_bytes(env, argv[0], &data, &len) || !us_i64(env, argv[1], &fd) || !us_i64(env, argv[2], &off) || off < 0) {
    return us_throw(env, "mapSharedOverAt", EINVAL);
  }
  long page = sysconf(_SC_PAGESIZE);
  if (((uintptr_t)data % (uintptr_t)page) != 0 || len % (size_t)page != 0 || len == 0 || off % page != 0) {
    return us_throw(env, "mapSharedOverAt: range not page-aligned", EINVAL);
  }
  void *p = mmap(data, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, (int)fd, (off_t)off);
  if (p == MAP_FAILED) return us_throw(env, "mapSharedOverAt: mmap", errno);
  return NULL;
}

/* mapAnonymousOver(view): put private zeroed memory back under `view` (undoes mapSharedOverAt). */
static napi_value js_map_anonymous_over(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!us_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  if (!us_bytes(env, argv[0], &data, &len)) return us_throw(env, "mapAnonymousOver", EINVAL);
  long page = sysconf(_SC_PAGESIZE);
  if (((uintptr_t)data % (uintptr_t)page) != 0 || len % (size_t)page != 0 || len == 0) {
    return us_throw(env, "mapAnonymousOver: range not page-aligned", EINVAL);
  }
  void *p = mmap(data, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) return us_throw(env, "mapAnonymousOver: mmap", errno);
  return NULL;
}

void unix_watch_register(napi_env env, napi_value exports); /* unix_watch.c */

void unix_socket_register(napi_env env, napi_value exports) {
  unix_watch_register(env, exports);
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
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
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok) return;
    napi_set_named_property(env, exports, fns[i].name, f);
  }
}
