/* A one-slot command mailbox from the BSP to one AP: the AP runs `exec` for each posted
 * command and publishes its result; the BSP posts, then waits (with a timeout). Used by
 * guests that need work done on another vCPU in lock-step (send from vCPU1, bind there...). */
#pragma once
#include "lab.h"

typedef long (*apcmd_exec_fn)(u32 cmd, u32 a, u32 b);

/* The AP's loop: never returns. Call it from the AP's entry function. */
__attribute__((noreturn)) void apcmd_serve(apcmd_exec_fn exec);
void apcmd_post(u32 cmd, u32 a, u32 b);
/* Result of the last posted command, or APCMD_TIMEOUT if the AP did not finish in `ms`. */
long apcmd_wait(u32 ms);
long apcmd_run(u32 cmd, u32 a, u32 b); /* post + wait 2 s */

#define APCMD_TIMEOUT (-9999)
