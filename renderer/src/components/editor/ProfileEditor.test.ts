// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { VmmRequestError } from '../../../../core/api/client.js';
import { newProfileTemplate } from '../../lib/profile-template.js';
import { useNav } from '../../stores/nav.js';
import { summary } from '../../test-utils/fake-api.js';
import { flushPromises, mountWith, setup } from '../../test-utils/mount.js';
import ProfileEditor from './ProfileEditor.vue';

afterEach(() => (document.body.innerHTML = ''));

const errorsAt = (w: { findAll: (s: string) => { text(): string }[] }, path: string) =>
  w.findAll(`[data-testid="field-error"][data-path="${path}"]`).map((e) => e.text());

describe('ProfileEditor', () => {
  it('validates live with the core schema and shows the issue beside its field', async () => {
    const { pinia } = setup();
    const w = await mountWith(ProfileEditor, pinia, { props: { initial: newProfileTemplate('New VM', '/guests/hello.elf') } });
    expect(w.findAll('[data-testid="field-error"]')).toHaveLength(0);
    const cpus = w.findAll('input').find((i) => (i.element as HTMLInputElement).value === '1' && i.attributes('inputmode') === 'numeric')!;
    await cpus.setValue('0');
    expect(errorsAt(w, 'cpus')).toEqual(['must be at least 1']);
    await cpus.setValue('two');
    expect(errorsAt(w, 'cpus')).toEqual(['must be a number, not a string']);
    expect(cpus.attributes('aria-invalid')).toBe('true');
  });

  it('creates the VM, then shows server-side issues beside their fields', async () => {
    const { fake, pinia } = setup();
    fake.calls.saveProfile!.mockRejectedValueOnce(
      new VmmRequestError('ProfileError', 'profile New VM: boot.kernel: file not found', [{ path: 'boot.kernel', message: 'file not found: /nope' }]),
    );
    fake.calls.saveProfile!.mockResolvedValueOnce(summary('New VM'));
    const w = await mountWith(ProfileEditor, pinia, { props: { initial: newProfileTemplate('New VM', '/nope') } });
    await w.get('[data-testid="btn-save-profile"]').trigger('click');
    await flushPromises();
    expect(fake.calls.saveProfile!).toHaveBeenCalledWith(expect.objectContaining({ name: 'New VM', boot: expect.objectContaining({ kernel: '/nope' }) }), undefined);
    expect(errorsAt(w, 'boot.kernel')).toEqual(['file not found: /nope']);
    expect(w.get('[data-testid="error-banner"]').text()).toMatch(/Not saved: .*file not found/);

    await w.get('[data-testid="btn-save-profile"]').trigger('click');
    await flushPromises();
    expect(useNav().view).toEqual({ kind: 'vm', profile: 'New VM', tab: 'profile' });
  });

  it('does not send a profile with problems', async () => {
    const { fake, pinia } = setup();
    const w = await mountWith(ProfileEditor, pinia, { props: { initial: newProfileTemplate('', '/k') } });
    expect(errorsAt(w, 'name')).toEqual(['must not be empty']);
    await w.get('[data-testid="btn-save-profile"]').trigger('click');
    expect(fake.calls.saveProfile!).not.toHaveBeenCalled();
    expect(w.get('[data-testid="error-banner"]').text()).toMatch(/Fix the 1 problem/);
  });

  it('renames an existing profile with previousName', async () => {
    const { fake, pinia } = setup();
    fake.calls.getProfile!.mockResolvedValueOnce({ profile: newProfileTemplate('old', '/k'), source: 'user' });
    fake.calls.saveProfile!.mockResolvedValueOnce(summary('renamed'));
    useNav().openVm('old', 'profile');
    const w = await mountWith(ProfileEditor, pinia, { props: { name: 'old' } });
    const name = w.findAll('input[type="text"]').find((i) => (i.element as HTMLInputElement).value === 'old')!;
    await name.setValue('renamed');
    await w.get('[data-testid="btn-save-profile"]').trigger('click');
    await flushPromises();
    expect(fake.calls.saveProfile!).toHaveBeenCalledWith(expect.objectContaining({ name: 'renamed' }), 'old');
    expect(useNav().view).toEqual({ kind: 'vm', profile: 'renamed', tab: 'profile' });
  });

  it('opens built-ins read-only with a way to duplicate them', async () => {
    const { fake, pinia } = setup();
    fake.calls.getProfile!.mockResolvedValueOnce({ profile: newProfileTemplate('msix-demo', '/k'), source: 'builtin' });
    const w = await mountWith(ProfileEditor, pinia, { props: { name: 'msix-demo' } });
    expect(w.find('[data-testid="btn-save-profile"]').exists()).toBe(false);
    expect(w.get('fieldset.form').attributes('disabled')).toBeDefined();
    expect(w.get('[data-testid="btn-duplicate-to-edit"]').text()).toBe('Duplicate to edit');
  });

  it('edits devices: MSI-X layout issues land on their fields, devices can be added and removed', async () => {
    const { pinia } = setup();
    const initial = newProfileTemplate('x', '/k');
    initial.devices = [{ type: 'irq-lab', slot: 3, msix: { vectors: 64, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x100 } }];
    const w = await mountWith(ProfileEditor, pinia, { props: { initial } });
    expect(errorsAt(w, 'devices[0].msix.pbaOffset')).toEqual(['PBA overlaps the 64-vector table in BAR1']);
    await w.get('select[aria-label="Type of device to add"]').setValue('virtio-rng');
    await w.findAll('button').find((b) => b.text() === 'Add device')!.trigger('click');
    expect(w.findAll('li.device')).toHaveLength(2);
    await w.get('button[aria-label="Remove device 0"]').trigger('click');
    expect(w.findAll('li.device')).toHaveLength(1);
    expect(w.findAll('[data-testid="field-error"]')).toHaveLength(0);
  });

  it('edits the raw JSON, with JSON errors and unknown fields reported', async () => {
    const { pinia } = setup();
    const w = await mountWith(ProfileEditor, pinia, { props: { initial: newProfileTemplate('x', '/k') } });
    await w.get('#editor-tab-json').trigger('click');
    const area = w.get('textarea[aria-label="Profile JSON"]');
    expect(JSON.parse((area.element as HTMLTextAreaElement).value)).toMatchObject({ name: 'x' });
    await area.setValue('{ "oops": ');
    expect(w.text()).toMatch(/Not valid JSON/);
    await area.setValue(JSON.stringify({ ...newProfileTemplate('x', '/k'), cpu: 2 }));
    expect(errorsAt(w, 'cpu')).toEqual(['cpu unknown field']);
  });
});
