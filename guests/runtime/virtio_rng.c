/* virtio-rng (virtio 1.1 §5.4): ask for N bytes, check they are neither all zero nor constant. */
#include "virtio.h"

void virtio_rng_test(struct virtio_dev *v, const char *name, u32 bytes) {
    char c1[48], c2[48];
    lab_snprintf(c1, sizeof(c1), "%s.read", name);
    lab_snprintf(c2, sizeof(c2), "%s.entropy", name);
    if (bytes < 8 || bytes > 4096) bytes = 64;
    u8 *buf = virtio_alloc(bytes);
    u32 got = 0, rounds = 0;
    while (got < bytes && rounds++ < 16) { /* the device may return fewer bytes than asked */
        struct virtq_buf b = {buf + got, bytes - got, true};
        u32 len = 0;
        if (!virtq_call(v, 0, &b, 1, &len, c1)) return;
        if (len > bytes - got) {
            lab_fail(c1, "device claims %u bytes written into a %u-byte buffer", len, bytes - got);
            return;
        }
        got += len;
    }
    if (!lab_check(got == bytes, c1, "got %u of %u bytes in %u requests", got, bytes, rounds)) return;
    u32 same = 0, zero = 0;
    for (u32 i = 0; i < bytes; i++) {
        zero += buf[i] == 0;
        same += buf[i] == buf[0];
    }
    lab_check(zero < bytes && same < bytes, c2, "%u zero bytes, %u equal to the first, of %u", zero, same, bytes);
    lab_info("%s: %u bytes: %02x %02x %02x %02x %02x %02x %02x %02x ...", name, bytes, buf[0], buf[1],
             buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]);
}
