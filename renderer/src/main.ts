// Renderer entry: a Vue 3 app with Pinia. All VMM access goes through `window.vmm`.
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import './style.css';

createApp(App).use(createPinia()).mount('#app');
