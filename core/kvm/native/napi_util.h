// Node-API helpers shared by every C file of the addon (kvm_addon.c, unix_socket.c,
// unix_watch.c, fdwatch.c): errno-carrying JS errors, argument fetching (int64 from a
// number or BigInt), byte views of JS-owned TypedArray/DataView/ArrayBuffer memory,
// integer returns, and registration of a file's function table on `exports`.
//
// Data flow: these only read JS values and make new ones; a byte view is a pointer into
// memory V8 allocated (the addon never creates an external ArrayBuffer), valid while the
// JS value is alive. Threading: everything here takes a napi_env, so it runs on the JS
// thread of that environment only. All static (inline): each file gets its own copy,
// nothing is exported from the addon.
#ifndef NAPI_UTIL_H
#define NAPI_UTIL_H
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Throw an Error with .code = `code`, .message = `message` and .errno = err. Returns NULL,
 * so a callback can `return nu_throw_coded(...)`. */
static inline napi_value nu_throw_coded(napi_env env, const char *code, const char *message, int err) {
  napi_value jcode, jmessage, error, errnum;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &jmessage);
  napi_create_error(env, jcode, jmessage, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

/* Throw Error("<what>: <strerror(err)>") with .code = "E<err>" and .errno = err. Returns NULL.
 * The message is cut at 255 bytes (only a long path in `what` gets there). Not inlined:
 * it is an error path, and inlined into a caller with a large `what` buffer GCC would
 * flag the (intended) truncation. */
__attribute__((noinline, cold, unused)) static napi_value nu_throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  return nu_throw_coded(env, code, msg, err);
}

/* Fetch the first n arguments into argv (and the function's data pointer, if `data` is not
 * NULL). Returns 0, without throwing, when fewer than n were passed. */
static inline int nu_cb_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, void **data) {
  size_t argc = n;
  return napi_get_cb_info(env, info, &argc, argv, NULL, data) == napi_ok && argc >= n;
}

/* Fetch the first n arguments into argv; throws TypeError (code EARGS) and returns 0 when
 * fewer were passed. */
static inline int nu_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  if (nu_cb_args(env, info, n, argv, NULL)) return 1;
  napi_throw_type_error(env, "EARGS", "missing arguments");
  return 0;
}

/* int64 from a number or a BigInt; with `lossless`, a BigInt outside int64 is rejected,
 * otherwise it is taken modulo 2^64. Returns 0 (nothing thrown) for any other value. */
static inline int nu_i64_mode(napi_env env, napi_value v, int64_t *out, int lossless) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_bigint) {
    bool exact;
    return napi_get_value_bigint_int64(env, v, out, &exact) == napi_ok && (exact || !lossless);
  }
  return t == napi_number && napi_get_value_int64(env, v, out) == napi_ok;
}

/* int64 from a number or a BigInt that fits. */
static inline int nu_i64(napi_env env, napi_value v, int64_t *out) { return nu_i64_mode(env, v, out, 1); }

/* int64 from a number or any BigInt (wrapped modulo 2^64: a u64 such as an address or an
 * ioctl request passes through with its bits intact). */
static inline int nu_i64_wrap(napi_env env, napi_value v, int64_t *out) { return nu_i64_mode(env, v, out, 0); }

/* Bytes of a JS-owned view: pointer to its first byte and its length in bytes. */
struct nu_span {
  void *data;
  size_t len;
};

/* The bytes of a TypedArray (any element type) or DataView. Returns 0 (nothing thrown)
 * for any other value. */
static inline int nu_view_bytes(napi_env env, napi_value v, struct nu_span *out) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, &out->data, &ab, &offset) != napi_ok) return 0;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    out->len = length * elem;
    return 1;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t offset;
    return napi_get_dataview_info(env, v, &out->len, &out->data, &ab, &offset) == napi_ok;
  }
  return 0;
}

/* Like nu_view_bytes, and also accepts an ArrayBuffer (all of it). */
static inline int nu_bytes(napi_env env, napi_value v, struct nu_span *out) {
  if (nu_view_bytes(env, v, out)) return 1;
  bool is;
  return napi_is_arraybuffer(env, v, &is) == napi_ok && is && napi_get_arraybuffer_info(env, v, &out->data, &out->len) == napi_ok;
}

/* Whether a span is a non-empty run of whole pages (for an mmap MAP_FIXED over it). */
static inline int nu_whole_pages(struct nu_span b) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return (uintptr_t)b.data % page == 0 && b.len % page == 0 && b.len != 0;
}

/* A JS number from an integer (fds, byte counts, handles, -errno results). */
static inline napi_value nu_int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

/* Result of a syscall returning a count or an fd: r when r >= 0, otherwise throws
 * "<what>: <strerror(errno)>". Call right after the syscall. */
static inline napi_value nu_int_or_throw(napi_env env, const char *what, int64_t r) {
  return r >= 0 ? nu_int(env, r) : nu_throw_errno(env, what, errno);
}

/* Result of a syscall returning 0 or -1: undefined, or throws "<what>: <strerror(errno)>". */
static inline napi_value nu_void_or_throw(napi_env env, const char *what, int64_t r) {
  return r >= 0 ? NULL : nu_throw_errno(env, what, errno);
}

/* Result of a syscall on a possibly non-blocking fd: r when r >= 0, -EAGAIN when it would
 * block, otherwise throws "<what>: <strerror(errno)>". Call right after the syscall. */
static inline napi_value nu_int_or_eagain(napi_env env, const char *what, ssize_t r) {
  if (r >= 0) return nu_int(env, r);
  if (errno == EAGAIN) return nu_int(env, -EAGAIN);
  return nu_throw_errno(env, what, errno);
}

/* A file's table of JS functions, registered by name on `exports`. */
struct nu_fn {
  const char *name;
  napi_callback fn;
};

#define NU_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Set exports[name] = function for each entry, every function getting `data` as its
 * callback data. Stops at the first failing call and returns 0; 1 when all are set. */
static inline int nu_export_fns(napi_env env, napi_value exports, const struct nu_fn *fns, size_t n, void *data) {
  for (size_t i = 0; i < n; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, data, &f) != napi_ok) return 0;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return 0;
  }
  return 1;
}

/* Registration entry points of the other files, called from NAPI_MODULE_INIT (kvm_addon.c)
 * and unix_socket_register. */
void unix_socket_register(napi_env env, napi_value exports);   /* unix_socket.c */
void unix_watch_register(napi_env env, napi_value exports);    /* unix_watch.c */
napi_value fdwatch_register(napi_env env, napi_value exports); /* fdwatch.c */

#endif
