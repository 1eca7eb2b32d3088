// Electron main entry (out/main/index.js): start the app. See app.ts for the wiring.
import { startApp } from './app.js';

startApp();
