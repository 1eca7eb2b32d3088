// The renderer's Content-Security-Policy, in one place: the build injects it as a <meta>
// into renderer/index.html (electron.vite.config.ts) and main also sends it as a response
// header. Dev mode needs inline styles and a websocket for Vite's hot reload.
export function contentSecurityPolicy(opts: { dev?: boolean; meta?: boolean } = {}): string {
  const dev = opts.dev ?? false;
  const rules = [
    "default-src 'none'",
    "script-src 'self'",
    dev ? "style-src 'self' 'unsafe-inline'" : "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    dev ? "connect-src 'self' ws://localhost:* http://localhost:*" : "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ];
  // frame-ancestors is ignored (with a console warning) when delivered by <meta>.
  if (!opts.meta) rules.push("frame-ancestors 'none'");
  return rules.join('; ');
}
