// The component's stylesheet: no CSS framework, everything themeable through
// custom properties on `.facegate` (or any ancestor). `:where()` keeps every
// rule at zero specificity, so the host's own CSS always wins.

export const STYLE_ID = 'facegate-react-styles';

export const CSS = `
:where(.facegate) {
  --facegate-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --facegate-background: #ffffff;
  --facegate-foreground: #1b1f24;
  --facegate-muted: #5b6470;
  --facegate-accent: #2456d6;
  --facegate-accent-foreground: #ffffff;
  --facegate-error: #b3261e;
  --facegate-success: #1e7a3c;
  --facegate-border: #d7dce2;
  --facegate-radius: 12px;
  --facegate-oval: rgba(255, 255, 255, 0.9);
  --facegate-width: 360px;
  box-sizing: border-box;
  display: flex;
  flex-direction: column;
  gap: 12px;
  width: min(100%, var(--facegate-width));
  padding: 16px;
  font-family: var(--facegate-font);
  color: var(--facegate-foreground);
  background: var(--facegate-background);
  border: 1px solid var(--facegate-border);
  border-radius: var(--facegate-radius);
}
:where(.facegate) :where(*) { box-sizing: border-box; }
:where(.facegate-title) { margin: 0; font-size: 1.15rem; font-weight: 600; outline: none; }
:where(.facegate-text) { margin: 0; color: var(--facegate-muted); line-height: 1.4; }
:where(.facegate-consent) {
  max-height: 10rem; overflow: auto; margin: 0; padding: 8px;
  border: 1px solid var(--facegate-border); border-radius: calc(var(--facegate-radius) / 2);
  white-space: pre-wrap; font-size: 0.9rem;
}
:where(.facegate-stage) {
  position: relative; aspect-ratio: 4 / 3; overflow: hidden;
  border-radius: calc(var(--facegate-radius) - 4px); background: #0d1117;
}
:where(.facegate-stage[hidden]) { display: none; }
/* Mirrored like a mirror; the frames sent are not. */
:where(.facegate-video) { width: 100%; height: 100%; object-fit: cover; transform: scaleX(-1); }
:where(.facegate-oval) {
  position: absolute; inset: 12% 28%; border: 3px solid var(--facegate-oval); border-radius: 50%;
  box-shadow: 0 0 0 999px rgba(0, 0, 0, 0.35); pointer-events: none;
}
:where(.facegate-prompt) { min-height: 1.4em; margin: 0; font-weight: 600; text-align: center; }
/* Kept in the page while empty: a live region must exist before it speaks. */
:where(.facegate-prompt:empty) { min-height: 0; margin-bottom: -12px; }
:where(.facegate-actions) { display: flex; gap: 8px; flex-wrap: wrap; }
:where(.facegate-button) {
  flex: 1; padding: 10px 14px; font: inherit; font-weight: 600; cursor: pointer;
  color: var(--facegate-accent-foreground); background: var(--facegate-accent);
  border: 1px solid var(--facegate-accent); border-radius: calc(var(--facegate-radius) / 2);
}
:where(.facegate-button[data-variant="secondary"]) { color: var(--facegate-accent); background: transparent; }
:where(.facegate-button:focus-visible, .facegate-input:focus-visible) { outline: 3px solid var(--facegate-accent); outline-offset: 2px; }
:where(.facegate-button:disabled) { opacity: 0.6; cursor: default; }
:where(.facegate-form) { display: flex; flex-direction: column; gap: 8px; }
:where(.facegate-input) {
  padding: 10px; font: inherit; letter-spacing: 0.2em; color: inherit; background: transparent;
  border: 1px solid var(--facegate-border); border-radius: calc(var(--facegate-radius) / 2);
}
:where(.facegate[data-status="error"]) :where(.facegate-title) { color: var(--facegate-error); }
:where(.facegate[data-status="done"]) :where(.facegate-title) { color: var(--facegate-success); }
:where(.facegate-qr) { display: block; margin: 0 auto; width: 200px; height: 200px; background: #fff; }
:where(.facegate-code) { font-size: 1.4rem; font-weight: 700; letter-spacing: 0.2em; text-align: center; margin: 0; }
:where(.facegate-brand) { margin: 0; font-size: 0.75rem; color: var(--facegate-muted); text-align: center; }
@media (prefers-reduced-motion: no-preference) {
  :where(.facegate[data-status="challenge"]) :where(.facegate-oval) { transition: border-color 0.2s; }
}
`;
