// xterm.js sizes and colours its rows through <style> elements it writes at run time. Our
// CSP (style-src 'self', no 'unsafe-inline') blocks those, which would leave the terminal
// unstyled. Constructed stylesheets are CSSOM, which CSP does not govern, so we mirror the
// text of every <style> under the terminal into one adopted sheet and keep it in sync.
export function mirrorInlineStyles(root: HTMLElement): () => void {
  const doc = root.ownerDocument;
  if (typeof CSSStyleSheet === 'undefined' || !('adoptedStyleSheets' in doc)) return () => {};
  const sheet = new CSSStyleSheet();
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  let last = '';
  const sync = () => {
    const css = Array.from(root.querySelectorAll('style'), (s) => s.textContent ?? '').join('\n');
    if (css === last) return;
    last = css;
    sheet.replaceSync(css);
  };
  const observer = new MutationObserver(sync);
  observer.observe(root, { subtree: true, childList: true, characterData: true });
  sync();
  return () => {
    observer.disconnect();
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
  };
}
