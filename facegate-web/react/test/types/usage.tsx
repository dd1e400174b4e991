// Compiles (tsc -p test/types) only if the declarations describe what an app does.
import { useState } from 'react';
import {
  ERROR_CODES,
  FaceGate,
  FaceGateClient,
  type FaceGateSession,
  type UseFaceGateResult,
  type VerifyResult,
  WidgetError,
  useCamera,
  useFaceGate,
} from '@facegate/react';

export function Login() {
  const [session, setSession] = useState<FaceGateSession | null>(null);
  return (
    <FaceGate
      mode="authenticate"
      apiKey="fg_test_pub_x"
      baseUrl=""
      provider="supabase"
      locale="auto"
      style={{ '--facegate-accent': '#0a7', maxWidth: 400 }}
      onVerified={(result: VerifyResult) => console.log(result.user?.id, result.verification_token)}
      onSession={(s) => setSession(s)}
      onError={(error) => {
        if (error.code === ERROR_CODES.PERMISSION_REFUSED) console.log(error.cameraCode);
      }}
    />
  );
}

export function Enroll({ client }: { client: FaceGateClient }) {
  return <FaceGate mode="enroll" client={client} payload={{ email: 'ada@example.com' }} onEnrolled={(r) => console.log(r.user_id)} />;
}

export function Custom() {
  const gate: UseFaceGateResult = useFaceGate({ mode: 'authenticate', apiKey: 'fg_test_pub_x', autoStart: true });
  const camera = useCamera({ active: gate.status === 'idle' });
  const failed: WidgetError | null = gate.error;
  return (
    <div>
      <video ref={gate.videoRef} />
      <video ref={camera.videoRef} />
      <p>{gate.status} {gate.prompt?.key} {failed?.code}</p>
      {gate.status === 'pin' && <button onClick={() => gate.submitPin('1234')}>PIN</button>}
      <button onClick={() => void gate.start()}>Start</button>
    </div>
  );
}
