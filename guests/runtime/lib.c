/* Strings, formatting, the polled serial console, the results protocol, exit, and the
 * boot information (PVH hvm_start_info or multiboot info) with the command line. */
#include "lab.h"
#include "percpu.h"

/* ---- string ------------------------------------------------------------------------------ */
void *memset(void *d, int c, size_t n) {
    u8 *p = d;
    while (n--) *p++ = (u8)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n) {
    u8 *a = d;
    const u8 *b = s;
    while (n--) *a++ = *b++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    u8 *a = d;
    const u8 *b = s;
    if (a < b) {
        while (n--) *a++ = *b++;
    } else {
        while (n--) a[n] = b[n];
    }
    return d;
}
int memcmp(const void *x, const void *y, size_t n) {
    const u8 *a = x, *b = y;
    for (; n; n--, a++, b++)
        if (*a != *b) return *a - *b;
    return 0;
}
size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return (u8)*a - (u8)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b) return (u8)*a - (u8)*b;
        if (!*a) return 0;
    }
    return 0;
}

/* ---- formatting ------------------------------------------------------------------------------ */
struct out {
    char *buf;
    size_t size, len;
};
static void out_c(struct out *o, char c) {
    if (o->len + 1 < o->size) o->buf[o->len] = c;
    o->len++;
}
static void out_num(struct out *o, u64 v, unsigned base, bool neg, int width, char pad, bool left,
                    const char *prefix) {
    char tmp[24];
    int n = 0;
    do {
        unsigned d = v % base;
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    int plen = (int)strlen(prefix) + (neg ? 1 : 0);
    int total = n + plen;
    if (!left && pad == ' ')
        for (; total < width; total++) out_c(o, ' ');
    if (neg) out_c(o, '-');
    for (const char *p = prefix; *p; p++) out_c(o, *p);
    if (!left && pad == '0')
        for (; total < width; total++) out_c(o, '0');
    while (n) out_c(o, tmp[--n]);
    if (left)
        for (; total < width; total++) out_c(o, ' ');
}
int lab_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            out_c(&o, *fmt);
            continue;
        }
        fmt++;
        bool left = false;
        char pad = ' ';
        int width = 0, lng = 0;
        for (;; fmt++) {
            if (*fmt == '-') left = true;
            else if (*fmt == '0') pad = '0';
            else break;
        }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') lng++, fmt++;
        if (*fmt == 'z') lng = 1, fmt++;
        switch (*fmt) {
        case 'd':
        case 'i': {
            i64 v = lng ? va_arg(ap, i64) : va_arg(ap, int);
            out_num(&o, v < 0 ? (u64)-v : (u64)v, 10, v < 0, width, pad, left, "");
            break;
        }
        case 'u': {
            u64 v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned);
            out_num(&o, v, 10, false, width, pad, left, "");
            break;
        }
        case 'x': {
            u64 v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned);
            out_num(&o, v, 16, false, width, pad, left, "");
            break;
        }
        case 'p':
            out_num(&o, (u64)(uintptr_t)va_arg(ap, void *), 16, false, width, pad, left, "0x");
            break;
        case 'c':
            out_c(&o, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            int n = (int)strlen(s);
            if (!left)
                for (; n < width; n++) out_c(&o, ' ');
            while (*s) out_c(&o, *s++);
            if (left)
                for (; n < width; n++) out_c(&o, ' ');
            break;
        }
        case '%':
            out_c(&o, '%');
            break;
        case 0:
            fmt--;
            break;
        default:
            out_c(&o, '%');
            out_c(&o, *fmt);
        }
    }
    if (size) buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}
int lab_snprintf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = lab_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- serial console -------------------------------------------------------------------------- */
void serial_init(void) {
    outb(COM1 + 1, 0x00); /* IER: no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFO on, cleared */
    outb(COM1 + 4, 0x03); /* DTR | RTS */
}
void serial_putc_raw(char c) {
    for (u32 i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) cpu_relax();
    outb(COM1, (u8)c);
}

static volatile u32 print_owner = 0xffffffffu;
static bool console_held;
static char held_buf[4096];
static u32 held_len;

static bool print_lock(u64 *flags) {
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(*flags)::"memory");
    u32 me = this_cpu_index();
    if (print_owner == me) return false; /* nested (exception while printing) */
    for (u64 i = 0; i < 200000000ull; i++) {
        u32 expect = 0xffffffffu;
        if (__atomic_compare_exchange_n(&print_owner, &expect, me, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return true;
        cpu_relax();
    }
    return false; /* owner stuck: print anyway */
}
static void print_unlock(bool locked, u64 flags) {
    if (locked) __atomic_store_n(&print_owner, 0xffffffffu, __ATOMIC_RELEASE);
    if (flags & (1u << 9)) irq_enable();
}
static void console_write(const char *s, size_t n) {
    if (console_held) {
        for (size_t i = 0; i < n && held_len < sizeof(held_buf); i++) held_buf[held_len++] = s[i];
        return;
    }
    for (size_t i = 0; i < n; i++) serial_putc_raw(s[i]);
}
void lab_vprintf(const char *fmt, va_list ap) {
    char buf[512];
    int n = lab_vsnprintf(buf, sizeof(buf), fmt, ap);
    if (n >= (int)sizeof(buf)) n = sizeof(buf) - 1;
    u64 flags;
    bool locked = print_lock(&flags);
    console_write(buf, (size_t)n);
    print_unlock(locked, flags);
}
void lab_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lab_vprintf(fmt, ap);
    va_end(ap);
}
void lab_console_hold(bool hold) {
    u64 flags;
    bool locked = print_lock(&flags);
    console_held = hold;
    if (!hold && held_len) {
        for (u32 i = 0; i < held_len; i++) serial_putc_raw(held_buf[i]);
        held_len = 0;
    }
    print_unlock(locked, flags);
}

/* ---- results ------------------------------------------------------------------------------- */
static volatile u32 n_pass, n_fail, n_xfail;
u32 lab_pass_count(void) { return n_pass; }
u32 lab_fail_count(void) { return n_fail; }

void lab_pass(const char *name) {
    atomic_fetch_add32(&n_pass, 1);
    lab_printf("LAB-PASS %s.%s\n", lab_guest_name, name);
}
static void vfail(const char *name, const char *fmt, va_list ap) {
    char reason[384];
    lab_vsnprintf(reason, sizeof(reason), fmt, ap);
    atomic_fetch_add32(&n_fail, 1);
    lab_printf("LAB-FAIL %s.%s: %s\n", lab_guest_name, name, reason);
}
void lab_fail(const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(name, fmt, ap);
    va_end(ap);
}
bool lab_check(bool cond, const char *name, const char *fmt, ...) {
    if (cond) {
        lab_pass(name);
    } else {
        va_list ap;
        va_start(ap, fmt);
        vfail(name, fmt, ap);
        va_end(ap);
    }
    return cond;
}
bool lab_quirk(const char *quirk) {
    char list[128];
    if (!lab_cmdline_get("quirks", list, sizeof(list))) return false;
    size_t n = strlen(quirk);
    for (const char *p = list; *p;) {
        const char *e = p;
        while (*e && *e != ',') e++;
        if ((size_t)(e - p) == n && !strncmp(p, quirk, n)) return true;
        p = *e ? e + 1 : e;
    }
    return false;
}
bool lab_check_q(const char *quirk, bool cond, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (cond) {
        lab_pass(name);
    } else if (lab_quirk(quirk)) {
        char reason[384];
        lab_vsnprintf(reason, sizeof(reason), fmt, ap);
        atomic_fetch_add32(&n_xfail, 1);
        lab_printf("LAB-INFO xfail %s.%s (quirk %s): %s\n", lab_guest_name, name, quirk, reason);
    } else {
        vfail(name, fmt, ap);
    }
    va_end(ap);
    return cond;
}

void lab_info(const char *fmt, ...) {
    char msg[448];
    va_list ap;
    va_start(ap, fmt);
    lab_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lab_printf("LAB-INFO %s\n", msg);
}

void lab_halt_forever(void) {
    for (;;) __asm__ volatile("cli; hlt");
}
void lab_exit(u32 status) {
    outl(0xf4, status);
    lab_halt_forever();
}
void lab_done(void) {
    if (lab_spurious_count)
        lab_info("spurious or unhandled interrupts: %u (last vector %u)", lab_spurious_count,
                 lab_last_spurious_vector);
    if (n_xfail) lab_info("%u checks failed under declared quirks (not counted)", n_xfail);
    u32 f = n_fail;
    lab_printf("LAB-DONE %s pass=%u fail=%u\n", lab_guest_name, n_pass, f);
    lab_exit(f ? 1 : 0);
}

/* ---- boot information and command line ------------------------------------------------------ */
struct lab_boot_info lab_boot;
static char cmdline_buf[1024];

static void copy_cstr(char *dst, size_t max, u64 paddr) {
    const char *s = (const char *)(uintptr_t)paddr;
    size_t i = 0;
    if (paddr && paddr < 0x100000000ull)
        for (; i + 1 < max && s[i]; i++) dst[i] = s[i];
    dst[i] = 0;
}
static void add_range(u64 addr, u64 size, u32 type) {
    if (lab_boot.nr_ranges >= LAB_MAX_MEM_RANGES) return;
    struct lab_mem_range *r = &lab_boot.ranges[lab_boot.nr_ranges++];
    r->addr = addr;
    r->size = size;
    r->type = type;
}

/* Called first thing on the BSP: copies everything we need out of the loader's structures,
 * which may live in low memory that the AP trampoline reuses later. */
void lab_boot_parse(u32 kind, u32 magic, u32 info) {
    lab_boot.kind = (enum lab_boot_kind)kind;
    lab_boot.raw_magic = magic;
    lab_boot.info_addr = info;
    const u8 *p = (const u8 *)(uintptr_t)info;
    if (kind == LAB_BOOT_PVH) {
        if (magic != 0x336ec578u) return;
        lab_boot.pvh_version = *(const u32 *)(p + 4);
        copy_cstr(cmdline_buf, sizeof(cmdline_buf), *(const u64 *)(p + 0x18));
        lab_boot.rsdp_hint = *(const u64 *)(p + 0x20);
        if (lab_boot.pvh_version >= 1) {
            u64 mm = *(const u64 *)(p + 0x28);
            u32 n = *(const u32 *)(p + 0x30);
            for (u32 i = 0; mm && i < n; i++) {
                const u8 *e = (const u8 *)(uintptr_t)(mm + 24ull * i);
                add_range(*(const u64 *)e, *(const u64 *)(e + 8), *(const u32 *)(e + 16));
            }
        }
    } else if (kind == LAB_BOOT_MULTIBOOT) {
        if (magic != 0x2BADB002u) return;
        u32 flags = *(const u32 *)p;
        if (flags & 1) {
            lab_boot.mem_lower_kib = *(const u32 *)(p + 4);
            lab_boot.mem_upper_kib = *(const u32 *)(p + 8);
        }
        if (flags & 4) copy_cstr(cmdline_buf, sizeof(cmdline_buf), *(const u32 *)(p + 16));
        if (flags & 64) {
            u32 len = *(const u32 *)(p + 44), addr = *(const u32 *)(p + 48);
            for (u32 off = 0; off + 4 <= len;) {
                const u8 *e = (const u8 *)(uintptr_t)(addr + off);
                u32 sz = *(const u32 *)e;
                add_range(*(const u64 *)(e + 4), *(const u64 *)(e + 12), *(const u32 *)(e + 20));
                off += sz + 4;
            }
        }
    }
}

const char *lab_cmdline(void) { return cmdline_buf; }

bool lab_cmdline_get(const char *key, char *out, size_t outlen) {
    size_t klen = strlen(key);
    const char *s = cmdline_buf;
    while (*s) {
        while (*s == ' ') s++;
        const char *tok = s;
        while (*s && *s != ' ') s++;
        size_t tlen = (size_t)(s - tok);
        if (tlen >= klen && !strncmp(tok, key, klen) && (tlen == klen || tok[klen] == '=')) {
            size_t i = 0;
            if (tlen > klen)
                for (const char *v = tok + klen + 1; v < s && i + 1 < outlen; v++) out[i++] = *v;
            if (outlen) out[i] = 0;
            return true;
        }
    }
    return false;
}
u64 lab_cmdline_u64(const char *key, u64 dflt) {
    char v[32];
    if (!lab_cmdline_get(key, v, sizeof(v)) || !v[0]) return dflt;
    u64 n = 0;
    const char *p = v;
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) base = 16, p += 2;
    for (; *p; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9') d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f') d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F') d = (unsigned)(*p - 'A' + 10);
        else return dflt;
        n = n * base + d;
    }
    return n;
}
