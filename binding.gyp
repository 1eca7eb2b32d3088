{
  "targets": [
    {
      "target_name": "kvm",
      "sources": ["core/kvm/native/kvm_addon.c", "core/kvm/native/unix_socket.c", "core/kvm/native/unix_watch.c", "core/kvm/native/fdwatch.c"],
      "defines": ["NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-O2"],
      "libraries": ["-lpthread"]
    }
  ]
}
