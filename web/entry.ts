// Process entry of browser mode (out/node/web/entry.js), run by scripts/web.mjs.
import { main } from './main.js';

main().catch((e: unknown) => {
  console.error(`irqbench web: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
