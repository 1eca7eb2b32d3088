// fd watcher: tells JavaScript when eventfds become readable. Node cannot poll an eventfd
// itself, so each Node environment (main thread or worker) that loads the addon gets one
// watcher: an epoll instance and, once the first fd is watched, a thread blocked in
// epoll_wait. When an fd is readable the thread reads its 8-byte eventfd counter (the fd is
// made non-blocking, so a reader that got there first just yields EAGAIN), adds the count to
// the fd's slot, and queues the slot. The first record queued wakes the environment's
// thread through a napi_threadsafe_function; the JS callback then receives every queued
// record at once as a flat array [fd0, count0, fd1, count1, ...]. Further signals on a queued
// fd fold into its count, so the queue never outgrows the number of watched fds.
//
// JS API (per environment): fdwatchStart(cb), fdwatchAdd(fd), fdwatchRemove(fd) -> count
// read from the fd but not yet handed to JS (those records are dropped, the caller owns
// them). After fdwatchRemove returns, the thread never reads that fd again.
//
// Locking: `mu` guards the slot table and the queue; the epoll thread holds it while it
// reads an fd, so fdwatchRemove (which takes it) waits for a read in progress. The
// threadsafe function is never referenced (it does not keep the event loop alive).
// Teardown: the env cleanup hook stops and joins the thread before releasing the
// threadsafe function; the watcher is freed in the function's finalizer.
#include "napi_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 64
#define MAX_WATCH_FD (1 << 20)

struct slot {
  uint32_t gen;    /* bumped on every add, carried in epoll data to drop stale events */
  uint8_t active;
  uint8_t queued;
  uint64_t count;  /* read from the fd, not yet handed to JS */
};

struct watcher {
  pthread_mutex_t mu;
  int epfd;
  int wakefd;           /* written to stop the thread */
  int thread_running;
  int stopping;
  pthread_t thread;
  napi_threadsafe_function tsfn;
  napi_ref callback;
  struct slot *slots;   /* indexed by fd */
  size_t nslots;
  int *queue;           /* fds with a record for JS */
  size_t nqueue, capqueue;
};

/* Errors of this file: code EFDWATCH, the message as given, .errno = err. */
static napi_value throw_err(napi_env env, const char *what, int err) { return nu_throw_coded(env, "EFDWATCH", what, err); }

/* The environment's watcher (the functions' callback data), or NULL when fewer than n
 * arguments were passed. */
static struct watcher *get_watcher(napi_env env, napi_callback_info info, napi_value *argv, size_t n) {
  void *data = NULL;
  return nu_cb_args(env, info, n, argv, &data) ? data : NULL;
}

static int get_fd(napi_env env, napi_value v, int *fd) {
  int32_t x;
  if (napi_get_value_int32(env, v, &x) != napi_ok || x < 0 || x >= MAX_WATCH_FD) return 0;
  *fd = x;
  return 1;
}

/* Queue fd's record (caller holds mu). Returns 1 if the queue was empty before. */
static int enqueue(struct watcher *w, int fd) {
  struct slot *s = &w->slots[fd];
  if (s->queued) return 0;
  if (w->nqueue == w->capqueue) {
    size_t cap = w->capqueue ? w->capqueue * 2 : 64;
    int *q = realloc(w->queue, cap * sizeof *q);
    if (!q) return 0; /* count stays in the slot; a later signal retries */
    w->queue = q;
    w->capqueue = cap;
  }
  s->queued = 1;
  w->queue[w->nqueue++] = fd;
  return w->nqueue == 1;
}

static void *watch_thread(void *arg) {
  struct watcher *w = arg;
  struct epoll_event evs[EVENTS_PER_WAIT];
  for (;;) {
    int n = epoll_wait(w->epfd, evs, EVENTS_PER_WAIT, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int notify = 0;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
      pthread_mutex_unlock(&w->mu);
      break;
    }
    for (int i = 0; i < n; i++) {
      int fd = (int)(uint32_t)evs[i].data.u64;
      uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
      if (fd == w->wakefd || (size_t)fd >= w->nslots) continue;
      struct slot *s = &w->slots[fd];
      if (!s->active || s->gen != gen) continue; /* removed after epoll_wait returned */
      uint64_t c;
      if (read(fd, &c, sizeof c) != (ssize_t)sizeof c) continue; /* EAGAIN: someone read it first */
      s->count += c;
      notify |= enqueue(w, fd);
    }
    pthread_mutex_unlock(&w->mu);
    if (notify) napi_call_threadsafe_function(w->tsfn, NULL, napi_tsfn_nonblocking);
  }
  return NULL;
}

/* Runs on the environment's thread: hand every queued record to the JS callback. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  struct watcher *w = context;
  if (env == NULL || w->callback == NULL) return;
  napi_value arr, cb, global, v;
  pthread_mutex_lock(&w->mu);
  size_t n = w->nqueue;
  if (n == 0 || napi_create_array_with_length(env, n * 2, &arr) != napi_ok) {
    pthread_mutex_unlock(&w->mu);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    int fd = w->queue[i];
    struct slot *s = &w->slots[fd];
    napi_create_int32(env, fd, &v);
    napi_set_element(env, arr, (uint32_t)(i * 2), v);
    napi_create_double(env, (double)s->count, &v);
    napi_set_element(env, arr, (uint32_t)(i * 2 + 1), v);
    s->count = 0;
    s->queued = 0;
  }
  w->nqueue = 0;
  pthread_mutex_unlock(&w->mu);
  if (napi_get_reference_value(env, w->callback, &cb) != napi_ok || cb == NULL) return;
  napi_get_global(env, &global);
  if (napi_call_function(env, global, cb, 1, &arr, NULL) != napi_ok) {
    bool pending = false;
    napi_value err;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending && napi_get_and_clear_last_exception(env, &err) == napi_ok) {
      napi_fatal_exception(env, err);
    }
  }
}

static void stop_thread(struct watcher *w) {
  if (!w->thread_running) return;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_mutex_unlock(&w->mu);
  uint64_t one = 1;
  if (write(w->wakefd, &one, sizeof one) < 0) { /* cannot fail on a fresh eventfd */ }
  pthread_join(w->thread, NULL);
  w->thread_running = 0;
}

static void free_watcher(napi_env env, void *data, void *hint) {
  struct watcher *w = data;
  pthread_mutex_destroy(&w->mu);
  free(w->slots);
  free(w->queue);
  free(w);
}

static void env_cleanup(void *arg) {
  struct watcher *w = arg;
  stop_thread(w);
  close(w->epfd);
  close(w->wakefd);
  w->epfd = w->wakefd = -1;
  napi_threadsafe_function t = w->tsfn;
  w->tsfn = NULL;
  if (t) napi_release_threadsafe_function(t, napi_tsfn_abort); /* finalizer frees w */
  else free_watcher(NULL, w, NULL);
}

/* fdwatchStart(callback): set the JS function that receives [fd, count, ...] batches. */
static napi_value js_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct watcher *w = get_watcher(env, info, argv, 1);
  napi_valuetype t;
  if (!w || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return throw_err(env, "fdwatchStart: callback required", EINVAL);
  if (w->callback) napi_delete_reference(env, w->callback);
  if (napi_create_reference(env, argv[0], 1, &w->callback) != napi_ok) return throw_err(env, "fdwatchStart: reference", ENOMEM);
  return NULL;
}

/* fdwatchAdd(fd): watch fd (made non-blocking) for readability. */
static napi_value js_add(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct watcher *w = get_watcher(env, info, argv, 1);
  int fd;
  if (!w || !get_fd(env, argv[0], &fd)) return throw_err(env, "fdwatchAdd: bad fd", EINVAL);
  if (!w->callback || !w->tsfn) return throw_err(env, "fdwatchAdd: not started", EINVAL);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return throw_err(env, "fdwatchAdd: fcntl", errno);
  pthread_mutex_lock(&w->mu);
  if ((size_t)fd >= w->nslots) {
    size_t n = w->nslots ? w->nslots : 256;
    while (n <= (size_t)fd) n *= 2;
    struct slot *s = realloc(w->slots, n * sizeof *s);
    if (!s) {
      pthread_mutex_unlock(&w->mu);
      return throw_err(env, "fdwatchAdd: out of memory", ENOMEM);
    }
    memset(s + w->nslots, 0, (n - w->nslots) * sizeof *s);
    w->slots = s;
    w->nslots = n;
  }
  struct slot *s = &w->slots[fd];
  if (s->active) {
    pthread_mutex_unlock(&w->mu);
    return throw_err(env, "fdwatchAdd: fd already watched", EEXIST);
  }
  s->gen++;
  s->count = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)s->gen << 32) | (uint32_t)fd};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    int e = errno;
    pthread_mutex_unlock(&w->mu);
    return throw_err(env, "fdwatchAdd: epoll_ctl", e);
  }
  s->active = 1;
  pthread_mutex_unlock(&w->mu);
  if (!w->thread_running) {
    int e = pthread_create(&w->thread, NULL, watch_thread, w);
    if (e) return throw_err(env, "fdwatchAdd: pthread_create", e);
    w->thread_running = 1;
  }
  return NULL;
}

/* fdwatchRemove(fd) -> count read from fd but not yet delivered (now the caller's). */
static napi_value js_remove(napi_env env, napi_callback_info info) {
  napi_value argv[1], r;
  struct watcher *w = get_watcher(env, info, argv, 1);
  int fd;
  if (!w || !get_fd(env, argv[0], &fd)) return throw_err(env, "fdwatchRemove: bad fd", EINVAL);
  double left = 0;
  pthread_mutex_lock(&w->mu);
  if ((size_t)fd < w->nslots && w->slots[fd].active) {
    struct slot *s = &w->slots[fd];
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL); /* fails only if fd was closed: fine */
    s->active = 0;
    left = (double)s->count;
    s->count = 0;
    if (s->queued) {
      for (size_t i = 0; i < w->nqueue; i++) {
        if (w->queue[i] != fd) continue;
        memmove(&w->queue[i], &w->queue[i + 1], (w->nqueue - i - 1) * sizeof *w->queue);
        w->nqueue--;
        break;
      }
      s->queued = 0;
    }
  }
  pthread_mutex_unlock(&w->mu);
  napi_create_double(env, left, &r);
  return r;
}

/* Called once per environment from NAPI_MODULE_INIT. */
napi_value fdwatch_register(napi_env env, napi_value exports) {
  struct watcher *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  pthread_mutex_init(&w->mu, NULL);
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->epfd < 0 || w->wakefd < 0) goto fail;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint32_t)w->wakefd};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0) goto fail;
  napi_value name;
  napi_create_string_utf8(env, "fdwatch", NAPI_AUTO_LENGTH, &name);
  /* Created before the cleanup hook is added, so the hook runs first (hooks run LIFO). */
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, w, free_watcher, w, call_js, &w->tsfn) != napi_ok) goto fail;
  napi_unref_threadsafe_function(env, w->tsfn);
  if (napi_add_env_cleanup_hook(env, env_cleanup, w) != napi_ok) return NULL;
  static const struct nu_fn fns[] = {{"fdwatchStart", js_start}, {"fdwatchAdd", js_add}, {"fdwatchRemove", js_remove}};
  if (!nu_export_fns(env, exports, fns, NU_COUNT(fns), w)) return NULL;
  return exports;
fail:
  if (w->epfd >= 0) close(w->epfd);
  if (w->wakefd >= 0) close(w->wakefd);
  pthread_mutex_destroy(&w->mu);
  free(w);
  return NULL;
}
