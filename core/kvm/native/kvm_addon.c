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
//
// Threading: every function runs on the JS thread that calls it (main thread or a vCPU
// worker); the kvm_run slot table is process-wide and slots are claimed atomically.
// This file is also the module entry point: NAPI_MODULE_INIT registers the functions of
// unix_socket.c (which adds unix_watch.c's) and fdwatch.c, then its own. The Node-API
// helpers all four files share (errno errors, argument fetching, byte views) are in
// napi_util.h.
#include "napi_util.h"

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
/* KVM_CAP_SYNC_REGS: struct kvm_regs then struct kvm_sregs as KVM stored them at the last
 * exit (when vcpuSyncRegs is on); JS writes kvm_regs back here and sets SHADOW_F_REGS_DIRTY
 * in header byte SHADOW_FLAGS (kvm_run.padding1[0], never used by KVM) so the next vcpuRun
 * hands them to KVM through kvm_dirty_regs instead of a KVM_SET_REGS ioctl. */
#define SHADOW_SYNC (SHADOW_IO_DATA + 4096)
#define SHADOW_SYNC_SREGS (SHADOW_SYNC + sizeof(struct kvm_regs))
#define SHADOW_SIZE (SHADOW_SYNC + 512)
#define SHADOW_FLAGS 2
#define SHADOW_F_REGS_DIRTY 1
_Static_assert(sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) <= 512, "sync area too small");

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

/* open(path, flags) -> fd */
static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  char path[4096];
  size_t plen;
  int64_t flags;
  CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen));
  if (!nu_i64_wrap(env, argv[1], &flags)) return nu_throw_errno(env, "open: flags", EINVAL);
  int fd = open(path, (int)flags | O_CLOEXEC);
  if (fd < 0) {
    char what[4200];
    snprintf(what, sizeof what, "open %s", path);
    return nu_throw_errno(env, what, errno);
  }
  return nu_int(env, fd);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!nu_args(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (!nu_i64_wrap(env, argv[0], &fd)) return nu_throw_errno(env, "close", EBADF);
  return nu_void_or_throw(env, "close", close((int)fd));
}

/* ioctl(fd, request, arg) -> result; arg: number | bigint | buffer (pointer to its bytes) */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return nu_throw_errno(env, "ioctl", EINVAL);
  int64_t fd, req;
  if (!nu_i64_wrap(env, argv[0], &fd) || !nu_i64_wrap(env, argv[1], &req)) return nu_throw_errno(env, "ioctl", EINVAL);
  unsigned long arg = 0;
  if (argc >= 3) {
    struct nu_span b;
    int64_t num;
    if (nu_bytes(env, argv[2], &b)) {
      arg = (unsigned long)b.data;
    } else if (nu_i64_wrap(env, argv[2], &num)) {
      arg = (unsigned long)num;
    } else {
      return nu_throw_errno(env, "ioctl: argument", EINVAL);
    }
  }
  int r = ioctl((int)fd, (unsigned long)req, arg);
  if (r < 0) {
    char what[64];
    snprintf(what, sizeof what, "ioctl 0x%lx", (unsigned long)req);
    return nu_throw_errno(env, what, errno);
  }
  return nu_int(env, r);
}

/* addressOf(view) -> bigint: host virtual address of the view's first byte. */
static napi_value js_address_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!nu_args(env, info, 1, argv)) return NULL;
  struct nu_span b;
  if (!nu_bytes(env, argv[0], &b)) return nu_throw_errno(env, "addressOf", EINVAL);
  napi_value r;
  CHECK(napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)b.data, &r));
  return r;
}

static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  int64_t init, flags;
  if (!nu_i64_wrap(env, argv[0], &init) || !nu_i64_wrap(env, argv[1], &flags)) return nu_throw_errno(env, "eventfd", EINVAL);
  return nu_int_or_throw(env, "eventfd", eventfd((unsigned)init, (int)flags | EFD_CLOEXEC));
}

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  char name[256];
  size_t nlen;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen));
  int64_t size;
  if (!nu_i64_wrap(env, argv[1], &size) || size < 0) return nu_throw_errno(env, "memfd_create", EINVAL);
  int fd = (int)syscall(SYS_memfd_create, name, 0x0001U /* MFD_CLOEXEC */);
  if (fd < 0) return nu_throw_errno(env, "memfd_create", errno);
  if (ftruncate(fd, (off_t)size) < 0) {
    int e = errno;
    close(fd);
    return nu_throw_errno(env, "ftruncate memfd", e);
  }
  return nu_int(env, fd);
}

/* mapSharedOver(view, fd): replace the pages of `view` (page-aligned start and length)
 * with a MAP_SHARED mapping of fd at offset 0, so other processes mapping fd see the same
 * memory. The view's contents are copied into the file first. */
static napi_value js_map_shared_over(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  struct nu_span b;
  int64_t fd;
  if (!nu_bytes(env, argv[0], &b) || !nu_i64_wrap(env, argv[1], &fd)) return nu_throw_errno(env, "mapSharedOver", EINVAL);
  if (!nu_whole_pages(b)) return nu_throw_errno(env, "mapSharedOver: view not page-aligned", EINVAL);
  if (pwrite((int)fd, b.data, b.len, 0) != (ssize_t)b.len) return nu_throw_errno(env, "mapSharedOver: copy", errno ? errno : EIO);
  void *p = mmap(b.data, b.len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, (int)fd, 0);
  if (p == MAP_FAILED) return nu_throw_errno(env, "mapSharedOver: mmap", errno);
  return NULL;
}

/* read(fd, view) / write(fd, view) -> bytes moved, or -EAGAIN for a non-blocking fd that
 * would block */
static napi_value fd_transfer(napi_env env, napi_callback_info info, int is_write) {
  const char *what = is_write ? "write" : "read";
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  int64_t fd;
  struct nu_span b;
  if (!nu_i64_wrap(env, argv[0], &fd) || !nu_bytes(env, argv[1], &b)) return nu_throw_errno(env, what, EINVAL);
  ssize_t r = is_write ? write((int)fd, b.data, b.len) : read((int)fd, b.data, b.len);
  return nu_int_or_eagain(env, what, r);
}

static napi_value js_read(napi_env env, napi_callback_info info) { return fd_transfer(env, info, 0); }
static napi_value js_write(napi_env env, napi_callback_info info) { return fd_transfer(env, info, 1); }

/* pread(fd, view, offset) -> bytes read (KVM binary stats are read at offsets) */
static napi_value js_pread(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!nu_args(env, info, 3, argv)) return NULL;
  int64_t fd, off;
  struct nu_span b;
  if (!nu_i64_wrap(env, argv[0], &fd) || !nu_bytes(env, argv[1], &b) || !nu_i64_wrap(env, argv[2], &off) || off < 0) {
    return nu_throw_errno(env, "pread", EINVAL);
  }
  return nu_int_or_throw(env, "pread", pread((int)fd, b.data, b.len, (off_t)off));
}

static napi_value js_gettid(napi_env env, napi_callback_info info) {
  (void)info;
  return nu_int(env, (int64_t)syscall(SYS_gettid));
}

/* vcpuMapRun(vcpuFd, mmapSize) -> run handle */
static napi_value js_vcpu_map_run(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  int64_t fd, size;
  if (!nu_i64_wrap(env, argv[0], &fd) || !nu_i64_wrap(env, argv[1], &size) || size < (int64_t)sizeof(struct kvm_run)) {
    return nu_throw_errno(env, "vcpuMapRun", EINVAL);
  }
  int slot = atomic_fetch_add(&next_run, 1);
  if (slot >= MAX_RUNS) return nu_throw_errno(env, "vcpuMapRun: too many vCPUs", ENOSPC);
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  if (p == MAP_FAILED) return nu_throw_errno(env, "mmap kvm_run", errno);
  runs[slot].run = p;
  runs[slot].size = (size_t)size;
  runs[slot].fd = (int)fd;
  runs[slot].last_exit = 0;
  return nu_int(env, slot);
}

static struct run_slot *get_slot(napi_env env, napi_value v) {
  int64_t h;
  if (!nu_i64_wrap(env, v, &h) || h < 0 || h >= MAX_RUNS || runs[h].run == NULL) return NULL;
  return &runs[h];
}

/* vcpuRunUnmap(handle) */
static napi_value js_vcpu_unmap_run(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!nu_args(env, info, 1, argv)) return NULL;
  struct run_slot *s = get_slot(env, argv[0]);
  if (!s) return nu_throw_errno(env, "vcpuUnmapRun", EINVAL);
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
  if (!nu_args(env, info, 2, argv)) return NULL;
  struct run_slot *s = get_slot(env, argv[0]);
  struct nu_span b;
  if (!s || !nu_bytes(env, argv[1], &b) || b.len < SHADOW_SIZE) return nu_throw_errno(env, "vcpuRun", EINVAL);
  uint8_t *shadow = b.data;
  struct kvm_run *r = s->run;
  uint8_t *raw = (uint8_t *)r;

  /* Hand the exit's answer back: MMIO read data, MSR results, ... live in the union;
   * PIO IN data lives in the data page. */
  memcpy(raw + SHADOW_HEADER, shadow + SHADOW_HEADER, SHADOW_UNION);
  r->request_interrupt_window = shadow[0];
  if (s->last_exit == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_IN) {
    memcpy(raw + r->io.data_offset, shadow + SHADOW_IO_DATA, io_bytes(s));
  }
  if (shadow[SHADOW_FLAGS] & SHADOW_F_REGS_DIRTY) {
    /* Consumed by KVM at the start of KVM_RUN (even one that returns EINTR): hand them over
     * once, or a later run would rewind RIP to the instruction that exited. */
    memcpy(&r->s.regs.regs, shadow + SHADOW_SYNC, sizeof(struct kvm_regs));
    r->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
    shadow[SHADOW_FLAGS] = 0;
  }
  s->last_exit = 0;

  int ret = ioctl(s->fd, KVM_RUN, 0);
  if (ret < 0) {
    int e = errno;
    if (e == EINTR || e == EAGAIN) {
      __atomic_store_n(&r->immediate_exit, 0, __ATOMIC_SEQ_CST);
      return nu_int(env, -e);
    }
    return nu_throw_errno(env, "KVM_RUN", e);
  }
  s->last_exit = r->exit_reason;
  memcpy(shadow, raw, SHADOW_HEADER + SHADOW_UNION);
  shadow[SHADOW_FLAGS] = 0;
  if (r->kvm_valid_regs) memcpy(shadow + SHADOW_SYNC, &r->s.regs.regs, sizeof(struct kvm_regs) + sizeof(struct kvm_sregs));
  if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT) {
    memcpy(shadow + SHADOW_IO_DATA, raw + r->io.data_offset, io_bytes(s));
  }
  return nu_int(env, r->exit_reason);
}

/* vcpuSyncRegs(handle, on): have KVM store regs and sregs in kvm_run at every exit
 * (KVM_CAP_SYNC_REGS; the caller checked the capability). */
static napi_value js_vcpu_sync_regs(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  struct run_slot *s = get_slot(env, argv[0]);
  bool on = false;
  if (!s || napi_get_value_bool(env, argv[1], &on) != napi_ok) return nu_throw_errno(env, "vcpuSyncRegs", EINVAL);
  s->run->kvm_valid_regs = on ? (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS) : 0;
  return NULL;
}

/* vcpuKick(handle, tid): make a KVM_RUN in progress (or the next one) return EINTR. */
static napi_value js_vcpu_kick(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!nu_args(env, info, 2, argv)) return NULL;
  int64_t h, tid;
  if (!nu_i64_wrap(env, argv[0], &h) || h < 0 || h >= MAX_RUNS || !nu_i64_wrap(env, argv[1], &tid)) return nu_throw_errno(env, "vcpuKick", EINVAL);
  struct run_slot *s = &runs[h];
  if (s->run == NULL) return NULL; /* already gone: nothing to interrupt */
  __atomic_store_n(&s->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (tid > 0 && syscall(SYS_tgkill, getpid(), (pid_t)tid, SIG_KICK) < 0 && errno != ESRCH) {
    return nu_throw_errno(env, "tgkill", errno);
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
  return nu_int(env, 0);
}

NAPI_MODULE_INIT() {
  install_kick_signal();
  unix_socket_register(env, exports);
  fdwatch_register(env, exports);
  static const struct nu_fn fns[] = {
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
      {"vcpuSyncRegs", js_vcpu_sync_regs},
      {"unblockKick", js_unblock_kick},
  };
  if (!nu_export_fns(env, exports, fns, NU_COUNT(fns), NULL)) return NULL;
  napi_value v;
  napi_create_int32(env, SHADOW_SIZE, &v);
  napi_set_named_property(env, exports, "SHADOW_SIZE", v);
  napi_create_int32(env, SHADOW_IO_DATA, &v);
  napi_set_named_property(env, exports, "SHADOW_IO_DATA", v);
  napi_create_int32(env, SHADOW_SYNC, &v);
  napi_set_named_property(env, exports, "SHADOW_SYNC", v);
  napi_create_int32(env, (int32_t)SHADOW_SYNC_SREGS, &v);
  napi_set_named_property(env, exports, "SHADOW_SYNC_SREGS", v);
  napi_create_int32(env, SHADOW_FLAGS, &v);
  napi_set_named_property(env, exports, "SHADOW_FLAGS", v);
  return exports;
}
