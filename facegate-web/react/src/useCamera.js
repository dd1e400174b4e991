import { useCallback, useEffect, useRef, useState } from 'react';
import { Camera, cameraErrorFrom } from '../../facegate.js';
import { WidgetError } from '../../facegate-widget.js';

/**
 * Runs `release` when the component really unmounts. In development, strict
 * mode mounts, unmounts and mounts again at once: the unmount's release waits
 * one task, and the remount takes the resource back, so a camera opened on
 * mount is opened once, not twice.
 */
export function useReleaseOnUnmount(release) {
  const latest = useRef(release);
  latest.current = release;
  const pending = useRef(null);
  useEffect(() => {
    clearTimeout(pending.current);
    pending.current = null;
    return () => {
      pending.current = setTimeout(() => latest.current(), 0);
    };
  }, []);
}

/**
 * The camera for a capture UI you draw yourself.
 *
 *   const { videoRef, status, error, open, close, camera } = useCamera({ active: true });
 *   return <video ref={videoRef} />;
 *
 * `status`: 'off' | 'opening' | 'on' | 'error' (`error` is the SDK's
 * CameraError: `code` camera_permission_denied, camera_unavailable…).
 * `active: true` opens the camera; false, or unmounting, releases it (every
 * track stopped). `open()` is idempotent: it returns the camera being opened
 * or already open. Options: `constraints` (a device id or video track
 * constraints, read when opening), `createCamera` (tests).
 */
export function useCamera({ active = false, constraints, createCamera } = {}) {
  const [state, setState] = useState({ status: 'off', error: null });
  const lease = useRef(null);
  const video = useRef(null);
  const options = useRef({ constraints, createCamera });
  options.current = { constraints, createCamera };

  const open = useCallback(() => {
    if (lease.current) return lease.current.opening;
    const { constraints: wanted, createCamera: create } = options.current;
    const camera = create ? create() : new Camera();
    const current = { camera, released: false, opening: null };
    lease.current = current;
    if (video.current) camera.attachToVideo(video.current);
    setState({ status: 'opening', error: null });
    current.opening = Promise.resolve()
      .then(() => camera.open(wanted))
      .then(
        () => {
          // Released while the browser asked for permission: stop what it granted.
          if (current.released) {
            camera.close();
            throw new WidgetError('CANCELED', 'The camera was released before it opened');
          }
          setState({ status: 'on', error: null });
          return camera;
        },
        (cause) => {
          const error = current.released ? new WidgetError('CANCELED', 'The camera was released before it opened') : cameraErrorFrom(cause);
          if (lease.current === current) {
            lease.current = null;
            setState({ status: 'error', error });
          }
          throw error;
        },
      );
    return current.opening;
  }, []);

  const close = useCallback(() => {
    const current = lease.current;
    if (!current) return;
    lease.current = null;
    current.released = true;
    current.camera.close();
    // Let go of the <video>: a late permission for this camera must not
    // bind (or later unbind) the preview of the next one.
    current.camera.attachToVideo(null);
    setState({ status: 'off', error: null });
  }, []);

  // A callback ref: the <video> may mount before or after the stream opens.
  const videoRef = useCallback((element) => {
    video.current = element;
    if (element) lease.current?.camera.attachToVideo(element);
  }, []);

  // `active` turning false releases the camera; a camera opened with open()
  // while `active` stays false is the caller's to close.
  const wasActive = useRef(false);
  useEffect(() => {
    if (active) {
      wasActive.current = true;
      open().catch(() => {}); // the error is in `status`/`error`
    } else if (wasActive.current) {
      wasActive.current = false;
      close();
    }
  }, [active, open, close]);
  useReleaseOnUnmount(close);

  return { videoRef, status: state.status, error: state.error, open, close, camera: lease.current?.camera ?? null };
}
