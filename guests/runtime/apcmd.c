/* BSP -> AP command mailbox (see apcmd.h): seq is bumped by the BSP after writing the
 * command; the AP runs it and stores seq into done; the BSP waits for done == seq. */
#include "apcmd.h"

static volatile u32 cmd_, a_, b_, seq_, done_;
static volatile long ret_;

void apcmd_serve(apcmd_exec_fn exec) {
    irq_enable();
    u32 seen = 0;
    for (;;) {
        while (seq_ == seen) cpu_relax();
        seen = seq_;
        ret_ = exec(cmd_, a_, b_);
        __atomic_store_n(&done_, seen, __ATOMIC_SEQ_CST);
    }
}

void apcmd_post(u32 cmd, u32 a, u32 b) {
    cmd_ = cmd;
    a_ = a;
    b_ = b;
    __atomic_fetch_add(&seq_, 1, __ATOMIC_SEQ_CST);
}

long apcmd_wait(u32 ms) {
    if (!LAB_WAIT(done_ == seq_, ms)) return APCMD_TIMEOUT;
    return ret_;
}

long apcmd_run(u32 cmd, u32 a, u32 b) {
    apcmd_post(cmd, a, b);
    return apcmd_wait(2000);
}
