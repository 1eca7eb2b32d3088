// Renderer entry: find the VMM API (Electron preload or browser-mode WebSocket), then mount
// the app with Pinia; without an API, a page that says how to open irqbench properly.
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import ConnectError from './components/ConnectError.vue';
import './style.css';
import { resolveApi, setApi } from './vmm.js';

const resolved = resolveApi();
if (resolved.ok) {
  setApi(resolved.api);
  createApp(App).use(createPinia()).mount('#app');
} else {
  createApp(ConnectError, { reason: resolved.reason }).mount('#app');
}
