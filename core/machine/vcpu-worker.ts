// One vCPU = one worker thread running the plain KVM_RUN loop (kvmtool-style): run, look at
// the exit, dispatch, repeat. Port I/O for devices that live on this thread (the POST port)
// is answered here; everything else crosses to the VM host thread over the VcpuChannel.
// Pause/stop arrive as CONTROL changes plus a kick (immediate_exit + signal), checked after
// every KVM_RUN return. For xen-hvm VMs the Xen MSR exits and hypercall-port exits are
// handled here too (core/xen/xen-vcpu.ts); slow-path hypercalls are forwarded like I/O.
// Guest-caused fatal exits (triple fault, internal error, failed entry) end this vCPU in
// the 'crashed' state with a register dump; they never throw out of the loop.
import { parentPort, workerData } from 'node:worker_threads';
import { nativeKvm, EINTR, EAGAIN } from '../kvm/addon.js';
import * as K from '../kvm/constants.js';
import { Vcpu } from '../kvm/vcpu.js';
import { formatRegisterDump } from './register-dump.js';
import { GuestMemory } from '../memory/guest-memory.js';
import { XenVcpu } from '../xen/xen-vcpu.js';
import { encodeForward, type HypercallCall } from '../xen/abi.js';
import { syncRegisterAccess } from './sync-regs.js';
import {
  ControlRequest, ExitKind, openChannel, REQ_ANSWERED, REQ_IDLE, REQ_POSTED, VCPU_STATES, W,
  type VcpuState, type WorkerInit, type WorkerMessage,
} from './vcpu-channel.js';

const init = workerData as WorkerInit;
const native = nativeKvm();
const { words, data } = openChannel(init.channel);
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);

const shadow = new Uint8Array(native.SHADOW_SIZE);
const sdv = new DataView(shadow.buffer);
const IO_DATA = native.SHADOW_IO_DATA;
const U = K.RUN_UNION;

function setState(s: VcpuState): void {
  Atomics.store(words, W.STATE, VCPU_STATES.indexOf(s));
  post({ type: 'state', state: s });
}

const local = new Uint8Array(0x10000);
for (const p of init.localPorts) local.fill(1, p.base, p.base + p.length);
let localIo = 0;

const memory = new GuestMemory(init.ram.buffer, init.ram.byteOffset, init.ram.layout);
const xen = init.xen
  ? new XenVcpu(new Vcpu(init.vcpuId, init.vcpuFd), memory, init.xen, forwardHypercall, () => Atomics.load(words, W.CONTROL), (line) => post({ type: 'log', line }))
  : undefined;

/** A slow-path hypercall: the call goes in the data area, the result comes back in VALUE. */
function forwardHypercall(call: HypercallCall): number {
  encodeForward(call, data);
  forward(ExitKind.Hypercall, 0, 0, 0, 0, 0);
  return words[W.VALUE]!;
}

/** Post a request to the host thread and block until it answers. */
function forward(kind: ExitKind, addr: number, addrHi: number, size: number, count: number, value: number, valueHi = 0): void {
  words[W.KIND] = kind;
  words[W.ADDR_LO] = addr;
  words[W.ADDR_HI] = addrHi;
  words[W.SIZE] = size;
  words[W.COUNT] = count;
  words[W.VALUE] = value;
  words[W.VALUE_HI] = valueHi;
  Atomics.store(words, W.REQ, REQ_POSTED);
  Atomics.notify(words, W.REQ);
  while (Atomics.load(words, W.REQ) !== REQ_ANSWERED) Atomics.wait(words, W.REQ, REQ_POSTED);
  Atomics.store(words, W.REQ, REQ_IDLE);
}

function handleIo(): void {
  const dir = shadow[U]!;
  const size = shadow[U + 1]!;
  const port = sdv.getUint16(U + 2, true);
  const count = sdv.getUint32(U + 4, true);
  const bytes = size * count;
  if (xen && dir === K.KVM_EXIT_IO_OUT && xen.handleIoOut(port)) return;
  if (local[port] === 1) {
    // POST/diagnostic port: writes are delays (Linux io_delay), reads float high.
    localIo++;
    if (dir === K.KVM_EXIT_IO_IN) shadow.fill(0xff, IO_DATA, IO_DATA + bytes);
    return;
  }
  if (dir === K.KVM_EXIT_IO_OUT) {
    if (count === 1) {
      const v = size === 1 ? shadow[IO_DATA]! : size === 2 ? sdv.getUint16(IO_DATA, true) : sdv.getUint32(IO_DATA, true);
      forward(ExitKind.PioOut, port, 0, size, 1, v);
    } else {
      data.set(shadow.subarray(IO_DATA, IO_DATA + bytes));
      forward(ExitKind.PioOut, port, 0, size, count, 0);
    }
  } else {
    forward(ExitKind.PioIn, port, 0, size, count, 0);
    if (count === 1) {
      const v = words[W.VALUE]! >>> 0;
      if (size === 1) shadow[IO_DATA] = v;
      else if (size === 2) sdv.setUint16(IO_DATA, v, true);
      else sdv.setUint32(IO_DATA, v, true);
    } else {
      shadow.set(data.subarray(0, bytes), IO_DATA);
    }
  }
}

function handleMmio(): void {
  const gpa = sdv.getBigUint64(U, true);
  const len = sdv.getUint32(U + 16, true);
  const isWrite = shadow[U + 20] === 1;
  const lo = Number(gpa & 0xffffffffn) | 0;
  const hi = Number(gpa >> 32n) | 0;
  if (isWrite) {
    forward(ExitKind.MmioWrite, lo, hi, len, 1, sdv.getUint32(U + 8, true) | 0, len > 4 ? sdv.getUint32(U + 12, true) | 0 : 0);
  } else {
    forward(ExitKind.MmioRead, lo, hi, len, 1, 0);
    sdv.setUint32(U + 8, words[W.VALUE]! >>> 0, true);
    sdv.setUint32(U + 12, words[W.VALUE_HI]! >>> 0, true);
  }
}

function crash(reason: string): void {
  let dump: string;
  try {
    const vcpu = new Vcpu(init.vcpuId, init.vcpuFd);
    dump = formatRegisterDump(vcpu.getRegs(), vcpu.getSregs());
  } catch (e) {
    dump = `(registers unavailable: ${(e as Error).message})`;
  }
  post({ type: 'crash', reason, dump });
  setState('crashed');
}

function describeInternalError(): string {
  const sub = sdv.getUint32(U, true);
  const ndata = Math.min(sdv.getUint32(U + 4, true), 16);
  const extra = Array.from({ length: ndata }, (_, i) => '0x' + sdv.getBigUint64(U + 8 + i * 8, true).toString(16));
  const names: Record<number, string> = { 1: 'emulation failure', 2: 'simultaneous exception', 3: 'delivery event', 4: 'unexpected exit reason' };
  return `KVM internal error: ${names[sub] ?? `suberror ${sub}`}${extra.length ? ` [${extra.join(' ')}]` : ''}`;
}

/** Returns false when the loop must end. */
function handleExit(reason: number): boolean {
  switch (reason) {
    case K.KVM_EXIT_IO:
      handleIo();
      return true;
    case K.KVM_EXIT_MMIO:
      handleMmio();
      return true;
    case K.KVM_EXIT_IOAPIC_EOI:
      forward(ExitKind.IoapicEoi, 0, 0, 0, 0, shadow[U]!);
      return true;
    case K.KVM_EXIT_INTR:
    case K.KVM_EXIT_IRQ_WINDOW_OPEN:
      return true;
    case K.KVM_EXIT_X86_RDMSR:
    case K.KVM_EXIT_X86_WRMSR:
      if (!xen) {
        crash(`unexpected MSR exit (MSR 0x${sdv.getUint32(U + 12, true).toString(16)})`);
        return false;
      }
      xen.handleMsr(reason === K.KVM_EXIT_X86_WRMSR, sdv, U);
      return true;
    case K.KVM_EXIT_HLT:
      // Only without an in-kernel LAPIC, which this VMM never configures.
      crash('vCPU halted with no in-kernel LAPIC to wake it');
      return false;
    case K.KVM_EXIT_SHUTDOWN:
      crash('triple fault (KVM_EXIT_SHUTDOWN)');
      return false;
    case K.KVM_EXIT_INTERNAL_ERROR:
      crash(describeInternalError());
      return false;
    case K.KVM_EXIT_FAIL_ENTRY:
      crash(`VM entry failed: hardware reason 0x${sdv.getBigUint64(U, true).toString(16)}`);
      return false;
    case K.KVM_EXIT_SYSTEM_EVENT: {
      const type = sdv.getUint32(U, true);
      const event = type === K.KVM_SYSTEM_EVENT_RESET ? 'reset' : type === K.KVM_SYSTEM_EVENT_CRASH ? 'crash' : 'shutdown';
      post({ type: 'system-event', event, detail: `KVM_EXIT_SYSTEM_EVENT type ${type}` });
      setState('stopped');
      return false;
    }
    default:
      crash(`unhandled exit ${K.EXIT_REASON_NAMES[reason] ?? reason}`);
      return false;
  }
}

function publishCounters(exits: number): void {
  // Plain aligned 32-bit stores: readers only need a recent value, not an ordering, and a
  // fenced Atomics.store on every exit would tax the hot path for nothing.
  words[W.EXITS] = exits;
  words[W.LOCAL_IO] = localIo;
}

async function main(): Promise<void> {
  native.unblockKick();
  const handle = native.vcpuMapRun(init.vcpuFd, init.mmapSize);
  // Published before the loop first reads CONTROL: a host that stores CONTROL and then
  // finds no TID here knows this thread will see CONTROL before entering KVM_RUN.
  Atomics.store(words, W.RUN_HANDLE, handle + 1);
  Atomics.store(words, W.TID, native.gettid());
  if (xen && init.xen?.syncRegs) {
    const access = syncRegisterAccess(native, handle, shadow);
    if (access) xen.useRegisterAccess(access);
  }
  post({ type: 'ready' });
  setState('running');
  let exits = 0;
  try {
    for (;;) {
      const control = Atomics.load(words, W.CONTROL);
      if (control === ControlRequest.Stop) break;
      if (control === ControlRequest.Pause) {
        setState('paused');
        while (Atomics.load(words, W.CONTROL) === ControlRequest.Pause) Atomics.wait(words, W.CONTROL, ControlRequest.Pause);
        if (Atomics.load(words, W.CONTROL) === ControlRequest.Stop) break;
        setState('running');
      }
      const r = native.vcpuRun(handle, shadow);
      if (r === -EINTR || r === -EAGAIN) continue;
      publishCounters(++exits);
      if (!handleExit(r)) return;
      xen?.afterExit();
    }
    setState('stopped');
  } catch (e) {
    post({ type: 'error', message: (e as Error).message });
    crash(`VMM error on this vCPU: ${(e as Error).message}`);
  }
  publishCounters(exits);
  // kvm_run stays mapped: the host thread may still kick it; the host unmaps it after exit.
}

void main();
