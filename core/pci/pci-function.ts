// One PCI function as the host bridge sees it: config space (with the type 0 header), its
// BARs, optional MSI / MSI-X capabilities and its INTx output. Device models build on it; the
// bridge connects the INTx output to a routed interrupt line. INTx follows PCI 3.0: the
// Status register's Interrupt Status bit mirrors the device's internal level (§6.2.3), but
// the pin is driven only while Interrupt Disable is clear (§6.2.2) and neither MSI nor MSI-X
// is enabled (§6.8.1.3 and §6.8.2.3: an MSI/MSI-X-enabled function must not use INTx; QEMU
// deasserts INTx when MSI-X gets enabled).
import type { IrqLine } from '../irq/types.js';
import { NullIrqLine } from '../irq/types.js';
import { BarSet, type BarDefinition } from './bar.js';
import { ConfigSpace, type HeaderInit } from './config-space.js';
import { MsiCapability, type MsiOptions } from './msi.js';
import { MsixCapability, type MsixLayout, type MsixOptions } from './msix.js';
import { CMD_INTX_DISABLE, INTX_PIN, PCIE_CONFIG_SIZE, REG, STATUS_INTERRUPT, STATUS_W1C } from './regs.js';

export interface PciFunctionOptions {
  /** Short name for logs and bus listings ("virtio-blk", "irq-lab"). */
  name: string;
  header: HeaderInit;
  bars?: readonly BarDefinition[];
  /** 4096 (PCI Express extended space, the default) or 256 (conventional). */
  configSize?: number;
  /** Highest address + 1 a memory BAR may decode (the MMIO bus limit). */
  barAddressLimit?: number;
}

export class PciFunction {
  readonly name: string;
  readonly config: ConfigSpace;
  readonly bars: BarSet;
  msi: MsiCapability | undefined;
  msix: MsixCapability | undefined;
  private intxLine: IrqLine = NullIrqLine;
  private intxLevel = false;
  private intxDriven = false;
  readonly stats = { intxAsserts: 0, intxSuppressed: 0 };

  constructor(opts: PciFunctionOptions) {
    this.name = opts.name;
    this.config = new ConfigSpace(opts.configSize ?? PCIE_CONFIG_SIZE);
    this.config.initHeader(opts.header);
    this.bars = new BarSet(this.config, opts.bars ?? [], opts.barAddressLimit);
    this.config.watch(REG.command, 2, { afterWrite: () => this.updateIntx() });
  }

  /** Interrupt Pin register: 0 none, 1..4 = INTA#..INTD#. */
  get interruptPin(): number {
    return this.config.get8(REG.interruptPin);
  }

  addMsi(opts: Omit<MsiOptions, 'onEnableChange'>): MsiCapability {
    this.msi = new MsiCapability(this.config, { ...opts, onEnableChange: () => this.updateIntx() });
    return this.msi;
  }

  addMsix(layout: MsixLayout, opts: Omit<MsixOptions, 'onEnableChange'>): MsixCapability {
    this.msix = new MsixCapability(this.config, layout, { ...opts, onEnableChange: () => this.updateIntx() });
    return this.msix;
  }

  /** The host bridge's routed line for this function's pin. */
  connectIntx(line: IrqLine): void {
    if (this.intxDriven) this.intxLine.set(false);
    this.intxLine = line;
    this.intxDriven = false;
    this.updateIntx();
  }

  /** The device's internal INTx level (level-triggered: hold it until serviced). */
  setIntx(level: boolean): void {
    if (this.interruptPin === INTX_PIN.none) return;
    if (level && !this.intxLevel) {
      this.stats.intxAsserts++;
      if (this.intxBlocked()) this.stats.intxSuppressed++;
    }
    this.intxLevel = level;
    const status = this.config.get16(REG.status);
    this.config.set16(REG.status, level ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
    this.updateIntx();
  }

  /** True while the pin is actually driven towards the interrupt controller. */
  get intxAsserted(): boolean {
    return this.intxDriven;
  }

  /** Function-level reset: header registers, BARs and interrupt capabilities to power-on. */
  reset(): void {
    this.config.set16(REG.command, 0);
    this.config.set16(REG.status, this.config.get16(REG.status) & ~STATUS_W1C);
    this.config.set8(REG.cacheLineSize, 0);
    this.config.set8(REG.interruptLine, 0);
    this.msi?.reset();
    this.msix?.reset();
    this.bars.reset();
    this.updateIntx();
  }

  private intxBlocked(): boolean {
    return (this.config.get16(REG.command) & CMD_INTX_DISABLE) !== 0 || !!this.msi?.enabled || !!this.msix?.enabled;
  }

  private updateIntx(): void {
    const drive = this.intxLevel && !this.intxBlocked();
    if (drive === this.intxDriven) return;
    this.intxDriven = drive;
    this.intxLine.set(drive);
  }
}
