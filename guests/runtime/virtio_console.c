/* virtio-console (virtio 1.1 §5.3), port 0 without MULTIPORT: receiveq 0, transmitq 1. */
#include "virtio.h"

#define CONSOLE_LINE "LAB-VIRTIO-CONSOLE hello from lab guest virtio\n"

void virtio_console_test(struct virtio_dev *v, const char *name, u32 rx_timeout_ms) {
    char c[48];
    /* a receive buffer first, so the host can send at any time */
    u8 *rx = virtio_alloc(256);
    struct virtq_buf rb = {rx, 255, true};
    u32 rx_irqs = virtq_irqs(v, 0);
    virtq_submit(v, 0, &rb, 1);

    u32 n = (u32)strlen(CONSOLE_LINE);
    char *tx = virtio_alloc(n);
    memcpy(tx, CONSOLE_LINE, n);
    struct virtq_buf tb = {tx, n, false};
    u32 len = 0;
    lab_snprintf(c, sizeof(c), "%s.write", name);
    if (virtq_call(v, 1, &tb, 1, &len, c)) lab_pass(c);

    if (!rx_timeout_ms) return;
    lab_printf("LAB-READY virtio-console-rx\n");
    lab_snprintf(c, sizeof(c), "%s.read", name);
    if (!LAB_WAIT(v->q[0].used->idx != v->q[0].last_used, rx_timeout_ms)) {
        lab_info("%s: nothing received from the host within %u ms", name, rx_timeout_ms);
        return;
    }
    virtq_wait(v, 0, &len, 10);
    if (len > 255) len = 255;
    rx[len] = 0;
    while (len && (rx[len - 1] == '\n' || rx[len - 1] == '\r')) rx[--len] = 0;
    bool irq = LAB_WAIT(virtq_irqs(v, 0) != rx_irqs, 1000);
    lab_check(len > 0 && irq, c, "received %u bytes, interrupt %s", len, irq ? "yes" : "no");
    lab_printf("got: %s\n", (char *)rx);
}
