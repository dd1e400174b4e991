// @facegate/react: face login for React over the FaceGate browser SDK.
export { FaceGate } from './FaceGate.jsx';
export { useFaceGate } from './useFaceGate.js';
export { useCamera } from './useCamera.js';
export { CSS as stylesheet } from './styles.js';

// The SDK and the widget's error codes, bundled in: one import for an app.
export * from '../../facegate.js';
export { ERROR_CODES, MESSAGES, WidgetError, toWidgetError } from '../../facegate-widget.js';
