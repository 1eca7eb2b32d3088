// Thin syscall layer between the TypeScript VMM and Linux: open/close, ioctl, eventfd,
// memfd, mmap of a memfd over guest RAM, tgkill, and the KVM_RUN hot path.
//
// Guest RAM and every buffer crossing this boundary is memory V8 allocated; this addon
// never creates an external ArrayBuffer (built with NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED,
// so such a call fails at compile time). The vCPU's mmap'd `struct kvm_run` stays private
// to C: `vcpuRun` copies its header, exit union and PIO data into a JS-owned "shadow"
// buffer after KVM_RUN, and copies the union (and IN data) back before the next KVM_RUN.
// That costs two small memcpys per exit, which is noise next to the exit itself.
//
// Stopping a vCPU blocked in KVM_RUN: `vcpuKick` sets kvm_run.immediate_exit and sends
// SIG_KICK to the vCPU thread; the handler does nothing, KVM_RUN returns EINTR.
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIG_KICK (SIGRTMIN + 4)
#define MAX_RUNS 1024
#define SHADOW_HEADER 32
#define SHADOW_UNION 256
#define SHADOW_IO_DATA 512
#define SHADOW_SIZE (SHADOW_IO_DATA + 4096)

struct run_slot {
  struct kvm_run *run;
  size_t size;
  int fd;
  uint32_t last_exit;
};

static struct run_slot runs[MAX_RUNS];
static atomic_int next_run = 0;

#define CHECK(call)                                                                  \
  do {                                                                               \
    if ((call) != napi_ok) {                                                         \
      napi_throw_error(env, "EADDON", "node-api call failed: " #call);               \
      return NULL;                                                                   \
    }                                                                                \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, errnum;
  char codebuf[32];
  snprintf(codebuf, sizeof codebuf, "E%d", err);
  napi_create_string_utf8(env, codebuf, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok;
  }
  return napi_get_value_int64(env, v, out) == napi_ok;
}

/* Pointer and length of a TypedArray/DataView/ArrayBuffer/SharedArrayBuffer. */
static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
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
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
  }
  return 0;
}

static napi_value make_i64(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

static napi_value args_n(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < n) {
    napi_throw_type_error(env, "EARGS", "missing arguments");
    return NULL;
  }
  return argv[0];
}

/* open(path, flags) -> fd */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  char path[4096];
  size_t plen;
  int64_t flags;
  CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen));
  if (!get_i64(env, argv[1], &flags)) return throw_errno(env, "open: flags", EINVAL);
  int fd = open(path, (int)flags | O_CLOEXEC);
  if (fd < 0) {
    char what[4200];
    snprintf(what, sizeof what, "open %s", path);
    return throw_errno(env, what, errno);
  }
  return make_i64(env, fd);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args_n(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (!get_i64(env, argv[0], &fd)) return throw_errno(env, "close", EBADF);
  if (close((int)fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

/* ioctl(fd, request, arg) -> result; arg: number | bigint | buffer (pointer to its bytes) */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_errno(env, "ioctl", EINVAL);
  int64_t fd, req;
  if (!get_i64(env, argv[0], &fd) || !get_i64(env, argv[1], &req)) return throw_errno(env, "ioctl", EINVAL);
  unsigned long arg = 0;
  if (argc >= 3) {
    void *data;
    size_t len;
    int64_t num;
    if (get_bytes(env, argv[2], &data, &len)) {
      arg = (unsigned long)data;
    } else if (get_i64(env, argv[2], &num)) {
      arg = (unsigned long)num;
    } else {
      return throw_errno(env, "ioctl: argument", EINVAL);
    }
  }
  int r = ioctl((int)fd, (unsigned long)req, arg);
  if (r < 0) {
    char what[64];
    snprintf(what, sizeof what, "ioctl 0x%lx", (unsigned long)req);
    return throw_errno(env, what, errno);
  }
  return make_i64(env, r);
}

/* addressOf(view) -> bigint: host virtual address of the view's first byte. */
static napi_value js_address_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args_n(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  if (!get_bytes(env, argv[0], &data, &len)) return throw_errno(env, "addressOf", EINVAL);
  napi_value r;
  CHECK(napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &r));
  return r;
}

static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  int64_t init, flags;
  if (!get_i64(env, argv[0], &init) || !get_i64(env, argv[1], &flags)) return throw_errno(env, "eventfd", EINVAL);
  int fd = eventfd((unsigned)init, (int)flags | EFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, "eventfd", errno);
  return make_i64(env, fd);
}

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  char name[256];
  size_t nlen;
  int64_t size;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen));
  if (!get_i64(env, argv[1], &size) || size < 0) return throw_errno(env, "memfd_create", EINVAL);
  int fd = (int)syscall(SYS_memfd_create, name, 0x0001U /* MFD_CLOEXEC */);
  if (fd < 0) return throw_errno(env, "memfd_create", errno);
  if (ftruncate(fd, (off_t)size) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "ftruncate memfd", e);
  }
  return make_i64(env, fd);
}

/* mapSharedOver(view, fd): replace the pages of `view` (page-aligned start and length)
 * with a MAP_SHARED mapping of fd at offset 0, so other processes mapping fd see the same
 * memory. The view's contents are copied into the file first. */
static napi_value js_map_shared_over(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  void *data;
  size_t len;
  int64_t fd;
  if (!get_bytes(env, argv[0], &data, &len) || !get_i64(env, argv[1], &fd)) return throw_errno(env, "mapSharedOver", EINVAL);
  long page = sysconf(_SC_PAGESIZE);
  if (((uintptr_t)data % (uintptr_t)page) != 0 || len % (size_t)page != 0 || len == 0) {
    return throw_errno(env, "mapSharedOver: view not page-aligned", EINVAL);
  }
  if (pwrite((int)fd, data, len, 0) != (ssize_t)len) return throw_errno(env, "mapSharedOver: copy", errno ? errno : EIO);
  void *p = mmap(data, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, (int)fd, 0);
  if (p == MAP_FAILED) return throw_errno(env, "mapSharedOver: mmap", errno);
  return NULL;
}

/* read(fd, view) -> bytes read, or -EAGAIN for a non-blocking fd with nothing to read */
static napi_value js_read(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  int64_t fd;
  void *data;
  size_t len;
  if (!get_i64(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &len)) return throw_errno(env, "read", EINVAL);
  ssize_t r = read((int)fd, data, len);
  if (r < 0) {
    if (errno == EAGAIN) return make_i64(env, -EAGAIN);
    return throw_errno(env, "read", errno);
  }
  return make_i64(env, r);
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  int64_t fd;
  void *data;
  size_t len;
  if (!get_i64(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &len)) return throw_errno(env, "write", EINVAL);
  ssize_t r = write((int)fd, data, len);
  if (r < 0) {
    if (errno == EAGAIN) return make_i64(env, -EAGAIN);
    return throw_errno(env, "write", errno);
  }
  return make_i64(env, r);
}

/* pread(fd, view, offset) -> bytes read (KVM binary stats are read at offsets) */
static napi_value js_pread(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args_n(env, info, 3, argv)) return NULL;
  int64_t fd, off;
  void *data;
  size_t len;
  if (!get_i64(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &len) || !get_i64(env, argv[2], &off) || off < 0) {
    return throw_errno(env, "pread", EINVAL);
  }
  ssize_t r = pread((int)fd, data, len, (off_t)off);
  if (r < 0) return throw_errno(env, "pread", errno);
  return make_i64(env, r);
}

static napi_value js_gettid(napi_env env, napi_callback_info info) {
  (void)info;
  return make_i64(env, (int64_t)syscall(SYS_gettid));
}

/* vcpuMapRun(vcpuFd, mmapSize) -> run handle */
static napi_value js_vcpu_map_run(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  int64_t fd, size;
  if (!get_i64(env, argv[0], &fd) || !get_i64(env, argv[1], &size) || size < (int64_t)sizeof(struct kvm_run)) {
    return throw_errno(env, "vcpuMapRun", EINVAL);
  }
  int slot = atomic_fetch_add(&next_run, 1);
  if (slot >= MAX_RUNS) return throw_errno(env, "vcpuMapRun: too many vCPUs", ENOSPC);
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  if (p == MAP_FAILED) return throw_errno(env, "mmap kvm_run", errno);
  runs[slot].run = p;
  runs[slot].size = (size_t)size;
  runs[slot].fd = (int)fd;
  runs[slot].last_exit = 0;
  return make_i64(env, slot);
}

static struct run_slot *get_slot(napi_env env, napi_value v) {
  int64_t h;
  if (!get_i64(env, v, &h) || h < 0 || h >= MAX_RUNS || runs[h].run == NULL) return NULL;
  return &runs[h];
}

/* vcpuRunUnmap(handle) */
static napi_value js_vcpu_unmap_run(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args_n(env, info, 1, argv)) return NULL;
  struct run_slot *s = get_slot(env, argv[0]);
  if (!s) return throw_errno(env, "vcpuUnmapRun", EINVAL);
  munmap(s->run, s->size);
  s->run = NULL;
  return NULL;
}

/* Bytes of PIO data for the current KVM_EXIT_IO, bounded by the mapping. */
static size_t io_bytes(const struct run_slot *s) {
  const struct kvm_run *r = s->run;
  size_t n = (size_t)r->io.size * r->io.count;
  if (r->io.data_offset >= s->size) return 0;
  if (n > s->size - r->io.data_offset) n = s->size - r->io.data_offset;
  if (n > SHADOW_SIZE - SHADOW_IO_DATA) n = SHADOW_SIZE - SHADOW_IO_DATA;
  return n;
}

/* vcpuRun(handle, shadow) -> exit_reason, or -EINTR / -EAGAIN when interrupted. */
static napi_value js_vcpu_run(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  struct run_slot *s = get_slot(env, argv[0]);
  void *data;
  size_t len;
  if (!s || !get_bytes(env, argv[1], &data, &len) || len < SHADOW_SIZE) return throw_errno(env, "vcpuRun", EINVAL);
  uint8_t *shadow = data;
  struct kvm_run *r = s->run;
  uint8_t *raw = (uint8_t *)r;

  /* Hand the exit's answer back: MMIO read data, MSR results, ... live in the union;
   * PIO IN data lives in the data page. */
  memcpy(raw + SHADOW_HEADER, shadow + SHADOW_HEADER, SHADOW_UNION);
  r->request_interrupt_window = shadow[0];
  if (s->last_exit == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_IN) {
    memcpy(raw + r->io.data_offset, shadow + SHADOW_IO_DATA, io_bytes(s));
  }
  s->last_exit = 0;

  int ret = ioctl(s->fd, KVM_RUN, 0);
  if (ret < 0) {
    int e = errno;
    if (e == EINTR || e == EAGAIN) {
      __atomic_store_n(&r->immediate_exit, 0, __ATOMIC_SEQ_CST);
      return make_i64(env, -e);
    }
    return throw_errno(env, "KVM_RUN", e);
  }
  s->last_exit = r->exit_reason;
  memcpy(shadow, raw, SHADOW_HEADER + SHADOW_UNION);
  if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT) {
    memcpy(shadow + SHADOW_IO_DATA, raw + r->io.data_offset, io_bytes(s));
  }
  return make_i64(env, r->exit_reason);
}

/* vcpuKick(handle, tid): make a KVM_RUN in progress (or the next one) return EINTR. */
static napi_value js_vcpu_kick(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_n(env, info, 2, argv)) return NULL;
  int64_t h, tid;
  if (!get_i64(env, argv[0], &h) || h < 0 || h >= MAX_RUNS || !get_i64(env, argv[1], &tid)) return throw_errno(env, "vcpuKick", EINVAL);
  struct run_slot *s = &runs[h];
  if (s->run == NULL) return NULL; /* already gone: nothing to interrupt */
  __atomic_store_n(&s->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (tid > 0 && syscall(SYS_tgkill, getpid(), (pid_t)tid, SIG_KICK) < 0 && errno != ESRCH) {
    return throw_errno(env, "tgkill", errno);
  }
  return NULL;
}

static void kick_handler(int sig) { (void)sig; }

static void install_kick_signal(void) {
  static atomic_int done = 0;
  if (atomic_exchange(&done, 1)) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = kick_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
  sigaction(SIG_KICK, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIG_KICK);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* unblockKick(): called on each vCPU thread, in case the thread inherited a mask. */
static napi_value js_unblock_kick(napi_env env, napi_callback_info info) {
  (void)info;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIG_KICK);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  return make_i64(env, 0);
}

void unix_socket_register(napi_env env, napi_value exports); /* unix_socket.c */
napi_value fdwatch_register(napi_env env, napi_value exports); /* fdwatch.c */

NAPI_MODULE_INIT() {
  install_kick_signal();
  unix_socket_register(env, exports);
  fdwatch_register(env, exports);
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"open", js_open},
      {"close", js_close},
      {"ioctl", js_ioctl},
      {"addressOf", js_address_of},
      {"eventfd", js_eventfd},
      {"memfdCreate", js_memfd_create},
      {"mapSharedOver", js_map_shared_over},
      {"read", js_read},
      {"write", js_write},
      {"pread", js_pread},
      {"gettid", js_gettid},
      {"vcpuMapRun", js_vcpu_map_run},
      {"vcpuUnmapRun", js_vcpu_unmap_run},
      {"vcpuRun", js_vcpu_run},
      {"vcpuKick", js_vcpu_kick},
      {"unblockKick", js_unblock_kick},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  napi_value v;
  napi_create_int32(env, SHADOW_SIZE, &v);
  napi_set_named_property(env, exports, "SHADOW_SIZE", v);
  napi_create_int32(env, SHADOW_IO_DATA, &v);
  napi_set_named_property(env, exports, "SHADOW_IO_DATA", v);
  return exports;
}
