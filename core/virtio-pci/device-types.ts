// The virtio-pci device types a profile can list, registered with the machine's PCI device
// factory: virtio-blk (our devices/vhost-user-blk process on `image`, or an external
// vhost-user-blk back-end at `socket` such as qemu-storage-daemon), virtio-console (one
// port; its output goes to the VM log, input through VirtioConsoleDevice.sendInput) and
// virtio-rng. Each is a VhostVirtioPciDevice with its own queue count, config size and
// the device feature bits we pass through.
import { accessSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { MachineConfigError } from '../machine/errors.js';
import type { PciDeviceContext } from '../machine/pci-device.js';
import { registerPciDevice } from '../machine/pci-devices.js';
import * as B from '../virtio/blk.js';
import { CONSOLE_CONFIG_SIZE } from '../vhost/console-device.js';
import { bit } from '../vhost/protocol.js';
import { processBackend, socketBackend, type BackendLauncher } from './backend-launcher.js';
import { ConsoleHostLink } from './console-link.js';
import { VIRTIO_ID } from './constants.js';
import { VhostVirtioPciDevice, type VirtioDeviceKind } from './vhost-device.js';

/** PCI class codes (PCI Code and ID Assignment): mass storage other, simple comm other, other. */
const CLASS = { storage: 0x018000, comm: 0x078000, other: 0xff0000 } as const;

/** virtio-blk feature bits (§5.2.3) we pass through; not MQ (one queue), not the legacy ones. */
const BLK_FEATURES = [
  B.VIRTIO_BLK_F_SIZE_MAX, B.VIRTIO_BLK_F_SEG_MAX, 4 /* GEOMETRY */, B.VIRTIO_BLK_F_RO, B.VIRTIO_BLK_F_BLK_SIZE,
  B.VIRTIO_BLK_F_FLUSH, 10 /* TOPOLOGY */, 11 /* CONFIG_WCE */, 13 /* DISCARD */, 14 /* WRITE_ZEROES */,
].reduce((m, b) => m | bit(b), 0n);

export const VIRTIO_BLK_KIND: VirtioDeviceKind = { deviceType: VIRTIO_ID.blk, classCode: CLASS.storage, numQueues: 1, configSize: B.BLK_CONFIG_SIZE, deviceFeatures: BLK_FEATURES };
export const VIRTIO_CONSOLE_KIND: VirtioDeviceKind = { deviceType: VIRTIO_ID.console, classCode: CLASS.comm, numQueues: 2, configSize: CONSOLE_CONFIG_SIZE, deviceFeatures: 0n };
export const VIRTIO_RNG_KIND: VirtioDeviceKind = { deviceType: VIRTIO_ID.rng, classCode: CLASS.other, numQueues: 1, configSize: 0, deviceFeatures: 0n };

const sock = (ctx: PciDeviceContext, what: string): string => join(ctx.runDir, `${ctx.name}.${what}.sock`);

/** virtio-console with its host link: guest output -> VM log and listeners; sendInput -> guest. */
export class VirtioConsoleDevice extends VhostVirtioPciDevice {
  readonly link: ConsoleHostLink;

  constructor(launcher: BackendLauncher, ctx: PciDeviceContext, portPath: string) {
    super(VIRTIO_CONSOLE_KIND, launcher, ctx);
    this.link = new ConsoleHostLink(portPath, ctx.log);
  }

  override async start(): Promise<void> {
    await super.start();
    await this.link.connect();
  }

  override async restart(): Promise<void> {
    await super.restart();
    await this.link.connect();
  }

  override async stop(): Promise<void> {
    this.link.close();
    await super.stop();
  }

  sendInput(bytes: Uint8Array): boolean {
    return this.link.send(bytes);
  }

  override deviceStats(): Record<string, number | number[]> {
    return { ...super.deviceStats(), 'console.outputBytes': this.link.stats.outputBytes, 'console.inputBytes': this.link.stats.inputBytes };
  }
}

registerPciDevice<{ type: 'virtio-blk'; slot?: number; image?: string; readonly?: boolean; socket?: string }>('virtio-blk', (config, ctx) => {
  let launcher: BackendLauncher;
  if (config.socket !== undefined) {
    if (config.image !== undefined) throw new MachineConfigError(`${ctx.name}: give either image or socket, not both`);
    launcher = socketBackend(ctx.name, config.socket);
  } else {
    if (config.image === undefined) throw new MachineConfigError(`${ctx.name}: virtio-blk needs an image (or the socket of an external back-end)`);
    try {
      accessSync(config.image, config.readonly ? fsc.R_OK : fsc.R_OK | fsc.W_OK);
    } catch (cause) {
      throw new MachineConfigError(`${ctx.name}: cannot open the disk image ${config.image}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, { cause });
    }
    launcher = processBackend(ctx.name, 'vhost-user-blk', sock(ctx, 'vhost'), ['--image', config.image, '--serial', ctx.name, ...(config.readonly ? ['--readonly'] : [])]);
  }
  return new VhostVirtioPciDevice(VIRTIO_BLK_KIND, launcher, ctx);
});

registerPciDevice<{ type: 'virtio-console'; slot?: number }>('virtio-console', (_config, ctx) => {
  const port = sock(ctx, 'port');
  return new VirtioConsoleDevice(processBackend(ctx.name, 'vhost-user-console', sock(ctx, 'vhost'), ['--port', port]), ctx, port);
});

registerPciDevice<{ type: 'virtio-rng'; slot?: number }>('virtio-rng', (_config, ctx) => new VhostVirtioPciDevice(VIRTIO_RNG_KIND, processBackend(ctx.name, 'vhost-user-rng', sock(ctx, 'vhost'), []), ctx));
