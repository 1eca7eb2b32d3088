// @vitest-environment happy-dom
// The shell around the VM views: library cards, the VM page's toolbar and tabs, drop results,
// and App-level drop and keyboard handling.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ImportedImage, VmInfo } from '../../../core/api/contract.js';
import App from '../App.vue';
import { useDrop } from '../stores/drop.js';
import { useLibrary } from '../stores/library.js';
import { useNav } from '../stores/nav.js';
import { useVms } from '../stores/vms.js';
import { summary } from '../test-utils/fake-api.js';
import { flushPromises, mountWith, setup } from '../test-utils/mount.js';
import DropResults from './DropResults.vue';
import LibraryPanel from './LibraryPanel.vue';
import VmPage from './VmPage.vue';

// xterm needs a real layout engine; the console's data flow is covered by the vms store tests.
const written: unknown[] = [];
vi.mock('@xterm/xterm', () => ({
  Terminal: class {
    loadAddon() {}
    open() {}
    reset() {}
    write(d: unknown) {
      written.push(d);
    }
    onData() {
      return { dispose() {} };
    }
    focus() {}
    dispose() {}
  },
}));
vi.mock('@xterm/addon-fit', () => ({ FitAddon: class { fit() {} } }));

afterEach(() => {
  document.body.innerHTML = '';
  written.length = 0;
});

const vm = (state: string, over: Partial<VmInfo> = {}): VmInfo => ({ id: 'vm1', profile: 'a', platform: 'kvm', state, startedAt: 1, ...over });

describe('LibraryPanel', () => {
  it('lists user VMs, read-only demos and broken files; Enter opens a VM', async () => {
    const { fake, pinia } = setup();
    fake.calls.listProfiles!.mockResolvedValue({
      profiles: [summary('msix-lab', { source: 'builtin' }), summary('mine')],
      broken: [{ file: 'typo.json', error: 'cpus: must be at least 1' }],
    });
    fake.calls.listVms!.mockResolvedValue([vm('running', { profile: 'mine' })]);
    const w = await mountWith(LibraryPanel, pinia);
    await useLibrary().init();
    await useVms().init();
    await flushPromises();
    const cards = w.findAll('[data-testid="profile-card"]');
    expect(cards.map((c) => c.attributes('data-name'))).toEqual(['mine', 'msix-lab']);
    expect(cards[0]!.find('.state').text()).toBe('running');
    expect(cards[1]!.text()).toMatch(/read-only/);
    expect(w.get('[data-testid="broken-profile"]').text()).toMatch(/typo\.json.*cpus: must be at least 1/);
    await cards[1]!.trigger('keydown', { key: 'Enter' });
    expect(useNav().view).toEqual({ kind: 'vm', profile: 'msix-lab', tab: 'console' });
    expect(cards[1]!.attributes('tabindex')).toBe('0');
  });

  it('says how to start when the library is empty', async () => {
    const { pinia } = setup();
    const w = await mountWith(LibraryPanel, pinia);
    await useLibrary().init();
    await flushPromises();
    expect(w.text()).toMatch(/No VMs yet/);
  });
});

describe('VmPage', () => {
  async function page(state: string | null, platform: 'kvm' | 'xen-hvm' = 'kvm', tab = 'devices' as const) {
    const { fake, pinia } = setup();
    fake.calls.listProfiles!.mockResolvedValue({ profiles: [summary('a', { platform })], broken: [] });
    fake.calls.listVms!.mockResolvedValue(state ? [vm(state, { platform })] : []);
    fake.calls.consoleBacklog!.mockResolvedValue(new Uint8Array([104, 105]));
    await useLibrary().init();
    await useVms().init();
    useNav().openVm('a', tab);
    const w = await mountWith(VmPage, pinia, { props: { profile: 'a', tab }, global: { stubs: { DevicesView: true, RoutingView: true, XenView: true, DashboardView: true } } });
    return { w, fake };
  }

  it('enables the actions that apply to a running VM and shows the live views', async () => {
    const { w, fake } = await page('running');
    expect(w.get('[data-testid="vm-state"]').text()).toBe('running');
    expect(w.get('[data-testid="btn-start"]').attributes('disabled')).toBeDefined();
    expect(w.get('[data-testid="btn-pause"]').attributes('disabled')).toBeUndefined();
    expect(w.get('[data-testid="btn-resume"]').attributes('disabled')).toBeDefined();
    fake.calls.pauseVm!.mockResolvedValueOnce(undefined);
    await w.get('[data-testid="btn-pause"]').trigger('click');
    expect(fake.calls.pauseVm!).toHaveBeenCalledWith('vm1');
    expect(w.get('devices-view-stub').attributes('vmid')).toBe('vm1');
    expect(w.text()).not.toMatch(/Start the VM/);
  });

  it('asks to start the VM on live tabs when it is not running, and shows a failure', async () => {
    const { w } = await page('failed');
    expect(w.text()).toMatch(/Start the VM to see its PCI devices/);
    const banner = w.findAll('[data-testid="error-banner"]').map((b) => b.text());
    expect(banner.some((t) => /The VM failed: its host process ended unexpectedly/.test(t))).toBe(true);
    expect(w.get('[data-testid="btn-start"]').attributes('disabled')).toBeUndefined();
  });

  it('shows the Xen tab for xen-hvm VMs only, and moves between tabs with arrow keys', async () => {
    const kvm = await page(null);
    expect(kvm.w.find('[data-testid="tab-xen"]').exists()).toBe(false);
    kvm.w.unmount();
    const { w } = await page('running', 'xen-hvm');
    expect(w.findAll('[role="tab"]').map((t) => t.attributes('data-testid'))).toEqual([
      'tab-console',
      'tab-devices',
      'tab-routing',
      'tab-xen',
      'tab-dashboard',
      'tab-profile',
    ]);
    await w.get('[data-testid="tab-devices"]').trigger('keydown', { key: 'ArrowRight' });
    expect(useNav().view).toMatchObject({ tab: 'routing' });
  });

  it('writes the console backlog into the terminal', async () => {
    const { w, fake } = await page('running', 'kvm', 'console' as never);
    expect(w.find('[data-testid="console"]').exists()).toBe(true);
    expect(fake.calls.consoleBacklog!).toHaveBeenCalledWith('vm1');
    expect(written).toContainEqual(new Uint8Array([104, 105]));
  });

  it('reports a failed start where the user clicked', async () => {
    const { w, fake } = await page(null);
    fake.calls.startVm!.mockRejectedValueOnce(new Error('kernel /guests/x.elf not found; fix boot.kernel'));
    await w.get('[data-testid="btn-start"]').trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="error-banner"]').text()).toMatch(/Could not start the VM: kernel \/guests\/x\.elf not found/);
  });
});

describe('DropResults', () => {
  const kernel: ImportedImage = { path: '/p/k.elf', name: 'k.elf', size: 2048, format: 'elf', description: 'ELF64 kernel with a PVH note', use: 'kernel', protocols: ['pvh'] };

  it('offers Create and start for a kernel, which ends on the VM console', async () => {
    const { fake, pinia } = setup();
    fake.calls.importImage!.mockResolvedValue(kernel);
    fake.calls.createVmFromImage!.mockResolvedValue(summary('k'));
    fake.calls.startVm!.mockResolvedValue({ id: 'vm9' });
    const w = await mountWith(DropResults, pinia);
    await useDrop().handleFiles([new File([new Uint8Array([1])], 'k.elf')]);
    await flushPromises();
    expect(w.get('[data-testid="drop-result"]').text()).toMatch(/ELF64 kernel with a PVH note.*A kernel to boot \(pvh\)/);
    expect(w.find('[data-testid="btn-create-only"]').exists()).toBe(true);
    await w.get('[data-testid="btn-create-start"]').trigger('click');
    await flushPromises();
    expect(fake.calls.startVm!).toHaveBeenCalledWith('k');
    expect(useNav().view).toEqual({ kind: 'vm', profile: 'k', tab: 'console' });
  });

  it('attaches disks only to an editable selected VM, and explains unusable files', async () => {
    const { fake, pinia } = setup();
    fake.calls.listProfiles!.mockResolvedValue({ profiles: [summary('demo', { source: 'builtin' }), summary('mine')], broken: [] });
    await useLibrary().init();
    fake.calls.importImage!.mockResolvedValueOnce({ ...kernel, use: 'disk', format: 'qcow2', protocols: [] });
    fake.calls.importImage!.mockResolvedValueOnce({ ...kernel, use: 'none', format: 'unknown', description: 'PNG image', hint: 'Drop a kernel or a disk image.' });
    useNav().openVm('demo');
    const w = await mountWith(DropResults, pinia);
    await useDrop().handleFiles([new File([new Uint8Array([1])], 'd.qcow2'), new File([new Uint8Array([2])], 'cat.png')]);
    await flushPromises();
    expect(w.get('[data-testid="btn-attach"]').attributes('disabled')).toBeDefined();
    expect(w.text()).toMatch(/built-in demo; duplicate it/);
    useNav().openVm('mine');
    await flushPromises();
    expect(w.get('[data-testid="btn-attach"]').text()).toBe('Attach to "mine"');
    const results = w.findAll('[data-testid="drop-result"]');
    expect(results[1]!.text()).toMatch(/Not usable as a guest image.*Drop a kernel or a disk image\./);
    expect(results[1]!.find('button[data-testid^="btn-"]').exists()).toBe(false);
  });
});

describe('App', () => {
  it('imports files dropped on the window and opens the editor with Ctrl+N', async () => {
    const { fake, pinia } = setup();
    fake.calls.importImage!.mockResolvedValue({ path: '/p/k.elf', name: 'k.elf', size: 1, format: 'elf', description: 'kernel', use: 'kernel', protocols: ['pvh'] });
    const w = await mountWith(App, pinia);
    const file = new File([new Uint8Array([1])], 'k.elf');
    const event = new Event('drop', { bubbles: true, cancelable: true }) as DragEvent;
    Object.defineProperty(event, 'dataTransfer', { value: { files: [file], types: ['Files'] } });
    w.get('[data-testid="drop-zone"]').element.dispatchEvent(event);
    await flushPromises();
    expect(fake.calls.importImage!).toHaveBeenCalledTimes(1);
    expect(w.find('[data-testid="drop-result"]').exists()).toBe(true);

    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'n', ctrlKey: true }));
    await flushPromises();
    expect(w.find('[data-testid="editor"]').exists()).toBe(true);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: ',', ctrlKey: true }));
    await flushPromises();
    expect(w.find('[data-testid="settings"]').exists()).toBe(true);
    fake.emit.menu({ action: 'new-vm' });
    await flushPromises();
    expect(w.find('[data-testid="editor"]').exists()).toBe(true);
    fake.emit.menu({ action: 'import-image', path: '/home/u/k2.elf' });
    await flushPromises();
    expect(fake.calls.importImage!).toHaveBeenLastCalledWith({ kind: 'path', path: '/home/u/k2.elf' });
    w.unmount();
    expect(fake.listenerCount()).toBe(3); // only the stores' own (library 1, vms 2) outlive the App
  });
});
