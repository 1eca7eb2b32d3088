import type { MemoryLayout } from '../memory/layout.js';
import type { XenWorkerInit } from '../xen/xen-vcpu.js';

// The shared-memory channel between the VM host thread and one vCPU worker. The worker
// posts an exit it cannot handle on its own thread (port I/O or MMIO for a device model,
// an IOAPIC EOI) and blocks in Atomics.wait; the host thread, woken by Atomics.waitAsync,
// runs the device model and posts the answer. Control requests (pause, stop) travel the
// other way in the same buffer, paired with a kick that breaks KVM_RUN.
//
// Layout (Int32 words, then a byte area for string I/O data):
//   REQ     0 idle, 1 request posted by the worker, 2 answer posted by the host
//   KIND    ExitKind of the request
//   ADDR_LO/ADDR_HI  port or guest-physical address
//   SIZE    access size in bytes; COUNT  repetitions (rep ins/outs)
//   VALUE   single-access value (lo 32 bits), VALUE_HI for 8-byte MMIO
//   CONTROL requested run state (ControlRequest); STATE  reported VcpuState
//   TID     worker thread id (for tgkill); EXITS, LOCAL_IO  counters published by the worker

export const W = {
  REQ: 0,
  KIND: 1,
  ADDR_LO: 2,
  ADDR_HI: 3,
  SIZE: 4,
  COUNT: 5,
  VALUE: 6,
  VALUE_HI: 7,
  CONTROL: 8,
  STATE: 9,
  TID: 10,
  EXITS: 11,
  LOCAL_IO: 12,
  /** kvm_run handle + 1 (0 = not mapped), published with TID before the first KVM_RUN. */
  RUN_HANDLE: 13,
} as const;

export const CHANNEL_WORDS = 16;
export const DATA_OFFSET = CHANNEL_WORDS * 4;
export const DATA_SIZE = 4096;
export const CHANNEL_BYTES = DATA_OFFSET + DATA_SIZE;

export const REQ_IDLE = 0;
export const REQ_POSTED = 1;
export const REQ_ANSWERED = 2;

export enum ExitKind {
  PioIn = 1,
  PioOut = 2,
  MmioRead = 3,
  MmioWrite = 4,
  IoapicEoi = 5,
  /** A Xen hypercall for the host thread: the call in the data area (core/xen/abi.ts
   * encodeForward), the result back in VALUE. */
  Hypercall = 6,
}

export enum ControlRequest {
  Run = 0,
  Pause = 1,
  Stop = 2,
}

/** vCPU lifecycle (Firecracker-style state machine); stored in STATE as its index. */
export const VCPU_STATES = ['created', 'running', 'paused', 'stopped', 'crashed'] as const;
export type VcpuState = (typeof VCPU_STATES)[number];

export interface VcpuChannel {
  words: Int32Array;
  data: Uint8Array;
}

export function createChannel(): { buffer: SharedArrayBuffer; channel: VcpuChannel } {
  const buffer = new SharedArrayBuffer(CHANNEL_BYTES);
  return { buffer, channel: openChannel(buffer) };
}

export function openChannel(buffer: SharedArrayBuffer): VcpuChannel {
  return { words: new Int32Array(buffer, 0, CHANNEL_WORDS), data: new Uint8Array(buffer, DATA_OFFSET, DATA_SIZE) };
}

/** Messages a vCPU worker posts to the host (rare events; the hot path uses the channel). */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'state'; state: VcpuState }
  | { type: 'crash'; reason: string; dump: string }
  | { type: 'system-event'; event: 'shutdown' | 'reset' | 'crash'; detail: string }
  | { type: 'error'; message: string }
  | { type: 'log'; line: string };

export interface WorkerInit {
  vcpuId: number;
  vcpuFd: number;
  mmapSize: number;
  channel: SharedArrayBuffer;
  /** Ports handled on the vCPU thread itself (never cross to the host thread). */
  localPorts: { base: number; length: number; kind: 'port80' }[];
  /** Guest RAM (the same SharedArrayBuffer the host uses), for exits handled on this thread. */
  ram: { buffer: SharedArrayBuffer; byteOffset: number; layout: MemoryLayout };
  /** Set for platform xen-hvm VMs. */
  xen?: XenWorkerInit;
}
