// How a virtio-pci device reaches its vhost-user back-end: a device process the VMM starts
// and supervises (DeviceProcess: spawn, connect, report exits, restart), or an external
// back-end already listening on a socket (qemu-storage-daemon, another VMM's device), which
// we only connect to and reconnect to on restart. Either way the result is a connected
// VhostUserFrontend with nothing negotiated yet.
import { DeviceProcess, type DeviceExit } from '../vhost/device-process.js';
import { deviceCommand } from '../vhost/device-script.js';
import { VhostUserFrontend } from '../vhost/frontend.js';

export interface BackendLauncher {
  /** For logs: "devices/vhost-user-blk (pid 123)" or "socket /run/x.sock". */
  describe(): string;
  start(): Promise<VhostUserFrontend>;
  restart(): Promise<VhostUserFrontend>;
  stop(): Promise<void>;
  /** The back-end process exited (only for processes we started). */
  onExit(cb: (e: DeviceExit) => void): void;
}

const REPLY_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 20_000;

/** Our device process devices/<script>.ts|js serving `socketPath`. */
export function processBackend(name: string, script: string, socketPath: string, args: string[]): BackendLauncher {
  const cmd = deviceCommand(script, ['--socket', socketPath, ...args]);
  const proc = new DeviceProcess({ ...cmd, socketPath, name, replyTimeoutMs: REPLY_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  return {
    describe: () => `devices/${script}${proc.pid ? ` (pid ${proc.pid})` : ''}`,
    start: () => proc.start(),
    restart: () => proc.restart(),
    stop: () => proc.stop(),
    onExit: (cb) => proc.onExit(cb),
  };
}

/** An external back-end listening at `path`. */
export function socketBackend(name: string, path: string): BackendLauncher {
  const connect = (): Promise<VhostUserFrontend> => VhostUserFrontend.connect(path, { name, replyTimeoutMs: REPLY_TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  return {
    describe: () => `socket ${path}`,
    start: connect,
    restart: connect,
    stop: async () => undefined,
    onExit: () => undefined,
  };
}
