// Mounting helpers for component tests: a fresh Pinia and a fake API per test.
import { mount, flushPromises, type ComponentMountingOptions } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { Component } from 'vue';
import { setApi } from '../vmm.js';
import { fakeApi, type FakeApi } from './fake-api.js';

export function setup(): { fake: FakeApi; pinia: ReturnType<typeof createPinia> } {
  const pinia = createPinia();
  setActivePinia(pinia);
  const fake = fakeApi();
  setApi(fake.api);
  return { fake, pinia };
}

export async function mountWith<C extends Component>(component: C, pinia: ReturnType<typeof createPinia>, options: ComponentMountingOptions<C> = {} as ComponentMountingOptions<C>) {
  const wrapper = mount(component, { ...options, global: { plugins: [pinia], ...(options.global ?? {}) }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

export { flushPromises };
