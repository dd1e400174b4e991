import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import {
  Camera,
  CameraError,
  CameraPermissionDenied,
  CameraUnavailable,
  FaceGateError,
  cameraErrorFrom,
} from '../facegate.js';

describe('cameraErrorFrom', () => {
  const cases = [
    ['NotAllowedError', 'camera_permission_denied', CameraPermissionDenied],
    ['PermissionDeniedError', 'camera_permission_denied', CameraPermissionDenied],
    ['NotFoundError', 'camera_unavailable', CameraUnavailable],
    ['DevicesNotFoundError', 'camera_unavailable', CameraUnavailable],
    ['NotReadableError', 'camera_in_use', CameraError],
    ['TrackStartError', 'camera_in_use', CameraError],
    ['AbortError', 'camera_in_use', CameraError],
    ['OverconstrainedError', 'camera_constraints', CameraError],
    ['SecurityError', 'camera_insecure_context', CameraError],
    ['TypeError', 'camera_unknown', CameraError],
    ['SomethingNew', 'camera_unknown', CameraError],
  ];
  for (const [name, code, type] of cases) {
    test(`${name} → ${code}`, () => {
      const cause = new DOMException('getUserMedia failed', name);
      const error = cameraErrorFrom(cause);
      assert.equal(error.constructor, type);
      assert.ok(error instanceof CameraError);
      assert.ok(error instanceof FaceGateError);
      assert.equal(error.code, code);
      assert.equal(error.retryable, false);
      assert.equal(error.cause, cause);
    });
  }

  test('a non-DOMException (or nothing) is camera_unknown', () => {
    assert.equal(cameraErrorFrom(new Error('boom')).code, 'camera_unknown');
    assert.equal(cameraErrorFrom(undefined).code, 'camera_unknown');
  });

  test('a CameraError passes through unchanged', () => {
    const error = new CameraUnavailable();
    assert.equal(cameraErrorFrom(error), error);
  });
});

/** A MediaStream double whose tracks record stop(). */
function fakeStream() {
  const track = { stopped: false, stop() { this.stopped = true; } };
  return { active: true, track, getTracks: () => [track], getVideoTracks: () => [track] };
}

function fakeMediaDevices(answer) {
  const requests = [];
  return {
    requests,
    getUserMedia: async (constraints) => {
      requests.push(constraints);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

/** A <video> that is playing a 1280×720 picture. */
function fakeVideo() {
  return { readyState: 4, videoWidth: 1280, videoHeight: 720, srcObject: null, play: async () => {} };
}

/** A document whose canvas records drawing calls and encodes to a fake JPEG. */
function fakeDocument() {
  const drawn = [];
  let encoded = 0;
  const context = new Proxy({}, {
    get: (_, method) => (...args) => drawn.push([method, ...args]),
  });
  const canvas = {
    width: 0,
    height: 0,
    getContext: () => context,
    toDataURL: (type, quality) => `data:${type};base64,SlBFRw${encoded++}`,
  };
  return { drawn, canvas, createElement: (tag) => (tag === 'canvas' ? canvas : null) };
}

describe('Camera.open', () => {
  test('maps a refused getUserMedia to the typed error', async () => {
    const camera = new Camera({ mediaDevices: fakeMediaDevices(new DOMException('denied', 'NotAllowedError')) });
    await assert.rejects(camera.open(), CameraPermissionDenied);
  });

  test('no camera API on an insecure page → camera_insecure_context', async () => {
    const camera = new Camera({ mediaDevices: undefined, isSecureContext: false });
    await assert.rejects(camera.open(), (err) => err instanceof CameraError && err.code === 'camera_insecure_context');
  });

  test('no camera API on a secure page → CameraUnavailable', async () => {
    const camera = new Camera({ mediaDevices: null, isSecureContext: true });
    await assert.rejects(camera.open(), CameraUnavailable);
  });

  test('asks for the front camera by default, or the given device', async () => {
    const devices = fakeMediaDevices(fakeStream());
    const camera = new Camera({ mediaDevices: devices });
    await camera.open();
    await camera.open('cam-2');
    await camera.open({ facingMode: 'environment' });
    assert.equal(devices.requests[0].audio, false);
    assert.equal(devices.requests[0].video.facingMode, 'user');
    assert.deepEqual(devices.requests[1].video.deviceId, { exact: 'cam-2' });
    assert.equal(devices.requests[2].video.facingMode, 'environment');
  });
});

describe('Camera capture', () => {
  async function readyCamera(options = {}) {
    let clock = 1000;
    const document = fakeDocument();
    const stream = fakeStream();
    const camera = new Camera({
      mediaDevices: fakeMediaDevices(stream),
      document,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      ...options,
    });
    const video = fakeVideo();
    await camera.open();
    camera.attachToVideo(video);
    return { camera, document, stream, video };
  }

  test('is not ready before a playing video is attached', async () => {
    const camera = new Camera({ mediaDevices: fakeMediaDevices(fakeStream()) });
    assert.equal(camera.isReady, false);
    assert.throws(() => camera.captureFrame(), (err) => err instanceof CameraError && err.code === 'camera_not_ready');
    await camera.open();
    assert.equal(camera.isReady, false);
    camera.attachToVideo({ ...fakeVideo(), readyState: 1 });
    assert.equal(camera.isReady, false);
  });

  test('captureFrame gives bare base64, scaled to 640 px, not mirrored', async () => {
    const { camera, document, video, stream } = await readyCamera();
    assert.equal(video.srcObject, stream);
    assert.equal(video.muted, true);
    assert.equal(video.playsInline, true);
    assert.ok(camera.isReady);
    const frame = camera.captureFrame();
    assert.equal(frame.image, 'SlBFRw0');
    assert.equal(frame.imageData, 'data:image/jpeg;base64,SlBFRw0');
    assert.equal(frame.timestamp_ms, 1000);
    assert.equal(frame.timestamp, 1000);
    assert.equal(frame.width, 640);
    assert.equal(frame.height, 360);
    assert.deepEqual(document.drawn, [['drawImage', video, 0, 0, 640, 360]], 'no flip before drawing');
    assert.deepEqual(JSON.parse(JSON.stringify(frame)), { image: 'SlBFRw0', timestamp_ms: 1000, width: 640, height: 360 });
  });

  test('captureFrames spaces frames and timestamps increase', async () => {
    const { camera } = await readyCamera();
    const frames = await camera.captureFrames(4, 100);
    assert.deepEqual(frames.map((f) => f.timestamp_ms), [1000, 1100, 1200, 1300]);
    const tight = await camera.captureFrames(3, 5);
    assert.deepEqual(tight.map((f) => f.timestamp_ms), [1300, 1325, 1350], 'never closer than 25 ms');
  });

  test('close stops the tracks and detaches the video', async () => {
    const { camera, stream, video } = await readyCamera();
    camera.close();
    assert.equal(stream.track.stopped, true);
    assert.equal(camera.stream, null);
    assert.equal(video.srcObject, null);
    assert.equal(camera.isReady, false);
  });
});
