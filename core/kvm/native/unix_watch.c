// Readiness watcher for the vhost-user code (any fd: sockets, eventfds). One process-wide
// epoll thread waits on registered fds (level-triggered, EPOLLONESHOT) and queues a call
// into the registering JS thread through a napi_threadsafe_function; after the JS
// callback returns (having drained the fd), the fd is re-armed. Watches live in a fixed
// table addressed by slot+generation, so an event racing with unwatch is dropped instead
// of touching freed state or calling the wrong callback. Registered by
// unix_socket_register; argument and errno helpers come from napi_util.h.
#include "napi_util.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#define US_MAX_WATCHES 1024

struct us_watch {
  int active;
  uint32_t gen;
  int fd;
  napi_threadsafe_function tsfn;
};

static struct us_watch watches[US_MAX_WATCHES];
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t epoll_once = PTHREAD_ONCE_INIT;
static int epfd = -1;

static uint64_t watch_key(uint32_t slot, uint32_t gen) { return ((uint64_t)gen << 32) | slot; }

static void *epoll_main(void *arg) {
  struct epoll_event ev[32];
  for (;;) {
    int n = epoll_wait(epfd, ev, 32, -1);
    if (n < 0) continue; /* EINTR */
    pthread_mutex_lock(&watch_lock);
    for (int i = 0; i < n; i++) {
      uint32_t slot = (uint32_t)ev[i].data.u64, gen = (uint32_t)(ev[i].data.u64 >> 32);
      if (slot >= US_MAX_WATCHES || !watches[slot].active || watches[slot].gen != gen) continue;
      uint64_t d = ((uint64_t)gen << 32) | ((uint64_t)(ev[i].events & 0xffff) << 16) | slot;
      napi_call_threadsafe_function(watches[slot].tsfn, (void *)(uintptr_t)d, napi_tsfn_nonblocking);
    }
    pthread_mutex_unlock(&watch_lock);
  }
  return NULL;
}

static void epoll_start(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return;
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread takes no signals */
  if (pthread_create(&t, &a, epoll_main, NULL) != 0) {
    close(epfd);
    epfd = -1;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&a);
}

/* Runs on the JS thread: call the watcher's callback with the epoll events, then re-arm. */
static void watch_call_js(napi_env env, napi_value cb, void *context, void *data) {
  uint64_t d = (uint64_t)(uintptr_t)data;
  uint32_t slot = (uint32_t)(d & 0xffff), events = (uint32_t)((d >> 16) & 0xffff), gen = (uint32_t)(d >> 32);
  if (env == NULL || cb == NULL || slot >= US_MAX_WATCHES) return;
  pthread_mutex_lock(&watch_lock);
  int live = watches[slot].active && watches[slot].gen == gen; /* stale events of an old watch are dropped */
  pthread_mutex_unlock(&watch_lock);
  if (!live) return;
  napi_value undef, arg, r;
  napi_get_undefined(env, &undef);
  napi_create_uint32(env, events, &arg);
  napi_call_function(env, undef, cb, 1, &arg, &r); /* an exception propagates to Node */
  pthread_mutex_lock(&watch_lock);
  if (watches[slot].active && watches[slot].gen == gen) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.u64 = watch_key(slot, gen)};
    epoll_ctl(epfd, EPOLL_CTL_MOD, watches[slot].fd, &ev); /* EBADF if the callback closed it: fine */
  }
  pthread_mutex_unlock(&watch_lock);
}

/* unixWatchReadable(fd, callback(events), keepAlive) -> handle. callback must drain fd. */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!nu_args(env, info, 3, argv)) return NULL;
  int64_t fd;
  bool keep;
  if (!nu_i64(env, argv[0], &fd) || napi_get_value_bool(env, argv[2], &keep) != napi_ok) return nu_throw_errno(env, "watch", EINVAL);
  pthread_once(&epoll_once, epoll_start);
  if (epfd < 0) return nu_throw_errno(env, "watch: epoll thread", EAGAIN);
  napi_value name;
  napi_create_string_utf8(env, "unixWatch", NAPI_AUTO_LENGTH, &name);
  pthread_mutex_lock(&watch_lock);
  uint32_t slot = 0;
  while (slot < US_MAX_WATCHES && (watches[slot].active || watches[slot].tsfn != NULL)) slot++;
  if (slot == US_MAX_WATCHES) {
    pthread_mutex_unlock(&watch_lock);
    return nu_throw_errno(env, "watch: too many watches", ENOSPC);
  }
  napi_threadsafe_function tsfn;
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, watch_call_js, &tsfn) != napi_ok) {
    pthread_mutex_unlock(&watch_lock);
    napi_throw_error(env, "EADDON", "napi_create_threadsafe_function failed");
    return NULL;
  }
  if (!keep) napi_unref_threadsafe_function(env, tsfn);
  watches[slot].gen++;
  watches[slot].fd = (int)fd;
  watches[slot].tsfn = tsfn;
  watches[slot].active = 1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.u64 = watch_key(slot, watches[slot].gen)};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, (int)fd, &ev) < 0) {
    int e = errno;
    watches[slot].active = 0;
    watches[slot].tsfn = NULL;
    pthread_mutex_unlock(&watch_lock);
    napi_release_threadsafe_function(tsfn, napi_tsfn_release);
    return nu_throw_errno(env, "watch: epoll_ctl", e);
  }
  pthread_mutex_unlock(&watch_lock);
  return nu_int(env, slot);
}

/* unixUnwatch(handle): stop watching (idempotent). Call before closing the fd. */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!nu_args(env, info, 1, argv)) return NULL;
  int64_t slot;
  if (!nu_i64(env, argv[0], &slot) || slot < 0 || slot >= US_MAX_WATCHES) return nu_throw_errno(env, "unwatch", EINVAL);
  pthread_mutex_lock(&watch_lock);
  napi_threadsafe_function tsfn = watches[slot].tsfn;
  if (watches[slot].active) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, watches[slot].fd, NULL);
    watches[slot].active = 0;
    watches[slot].gen++;
  }
  watches[slot].tsfn = NULL;
  pthread_mutex_unlock(&watch_lock);
  if (tsfn) napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

void unix_watch_register(napi_env env, napi_value exports) {
  static const struct nu_fn fns[] = {{"unixWatchReadable", js_watch}, {"unixUnwatch", js_unwatch}};
  nu_export_fns(env, exports, fns, NU_COUNT(fns), NULL);
}
