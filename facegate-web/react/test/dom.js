// A jsdom window as the global DOM, installed before React and Testing
// Library load (this module is the tests' first import).
import { JSDOM, VirtualConsole } from 'jsdom';

const console_ = new VirtualConsole();
// jsdom has no media playback ("Not implemented: HTMLMediaElement.prototype.play").
console_.on('jsdomError', (error) => {
  if (!/Not implemented: HTMLMediaElement/.test(error.message)) console.error(error);
});
const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { url: 'http://app.test/', pretendToBeVisual: true, virtualConsole: console_ });
const { window } = dom;
for (const name of ['window', 'document', 'navigator', 'HTMLElement', 'HTMLVideoElement', 'Node', 'Element', 'Event', 'MutationObserver', 'getComputedStyle', 'requestAnimationFrame', 'cancelAnimationFrame']) {
  Object.defineProperty(globalThis, name, { value: name === 'window' ? window : window[name], configurable: true, writable: true });
}
globalThis.IS_REACT_ACT_ENVIRONMENT = true;
