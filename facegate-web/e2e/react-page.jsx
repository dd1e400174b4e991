// The page of the React browser tests (react.test.mjs builds it with esbuild
// against the package's dist/): <FaceGate /> in <StrictMode>, configured from
// the query string, reporting its callbacks into window.__facegate.
//   ?mode=enroll|authenticate &key=<client key> &provider=supabase
//   &slow (a 60 s pause before the capture) &autostart
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { FaceGate } from '../react/dist/index.js';

const params = new URLSearchParams(location.search);
const log = { events: [], getUserMedia: 0, streams: [] };
window.__facegate = log;

// Every camera the page asks for, to check that each is released.
const mediaDevices = navigator.mediaDevices;
const getUserMedia = mediaDevices.getUserMedia.bind(mediaDevices);
mediaDevices.getUserMedia = async (constraints) => {
  log.getUserMedia++;
  const stream = await getUserMedia(constraints);
  log.streams.push(stream);
  return stream;
};
window.__tracks = () => log.streams.flatMap((stream) => stream.getTracks().map((track) => track.readyState));

const provider = params.get('provider') ?? undefined;
const record = (event) => log.events.push(event);

function App() {
  const [shown, setShown] = useState(true);
  return (
    <main style={{ display: 'grid', gap: 12, padding: 24, justifyItems: 'start', fontFamily: 'system-ui' }}>
      <button type="button" id="toggle" onClick={() => setShown((v) => !v)}>{shown ? 'Unmount' : 'Mount'}</button>
      {shown && (
        <FaceGate
          mode={params.get('mode') ?? 'authenticate'}
          apiKey={params.get('key')}
          provider={provider}
          autoStart={params.has('autostart')}
          pace={params.has('slow') ? { introMs: 60_000 } : undefined}
          style={{ '--facegate-accent': '#0b6e4f' }}
          onVerified={(r) => record({ type: 'verified', userId: r.user?.id ?? null, token: r.verification_token })}
          onEnrolled={(r) => record({ type: 'enrolled', userId: r.user_id })}
          onSession={provider ? (s) => record({ type: 'session', token: s.token, userId: s.user?.id, provider: s.provider_session }) : undefined}
          onError={(e) => record({ type: 'error', name: e.name, code: e.code, cameraCode: e.cameraCode, serverCode: e.serverCode, message: e.message })}
        />
      )}
    </main>
  );
}

createRoot(document.getElementById('root')).render(<StrictMode><App /></StrictMode>);
