import { useEffect, useId, useInsertionEffect, useRef, useState } from 'react';
import { MESSAGES, resolveLocale } from '../../facegate-widget.js';
import { CSS, STYLE_ID } from './styles.js';
import { useFaceGate } from './useFaceGate.js';

/** Adds the stylesheet to the document once (a host that brings its own passes `unstyled`). */
function useStylesheet(enabled) {
  useInsertionEffect(() => {
    if (!enabled || typeof document === 'undefined' || document.getElementById(STYLE_ID)) return;
    const style = document.createElement('style');
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }, [enabled]);
}

function languages() {
  const nav = typeof navigator === 'undefined' ? null : navigator;
  if (!nav) return [];
  return nav.languages?.length ? [...nav.languages] : nav.language ? [nav.language] : [];
}

/** The QR code as an image: the server's SVG is never parsed into the page. */
function svgDataUrl(svg) {
  const bytes = new TextEncoder().encode(svg ?? '');
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

function PinForm({ strings, request, onSubmit, onCancel }) {
  const [value, setValue] = useState('');
  const input = useRef(null);
  const id = useId();
  useEffect(() => input.current?.focus(), [request]);
  const s = strings.pin;
  const reason = s[request.reason] ?? s.required;
  const hint = request.reason === 'wrong' ? s.wrong.hint(request.attemptsRemaining ?? 0) : reason.hint;
  return (
    <form
      className="facegate-form"
      // Our own message (localized, in a live region) rather than the browser's bubble.
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit(value);
        setValue('');
      }}
    >
      <p className="facegate-text">{reason.title}. {hint}</p>
      <label htmlFor={id}>{s.label}</label>
      <input
        id={id}
        ref={input}
        className="facegate-input"
        type="password"
        inputMode="numeric"
        autoComplete="off"
        pattern="[0-9]{4,16}"
        value={value}
        aria-invalid={request.invalid || undefined}
        aria-describedby={request.invalid ? `${id}-invalid` : undefined}
        onChange={(event) => setValue(event.target.value)}
      />
      {request.invalid && <p id={`${id}-invalid`} className="facegate-text" role="alert">{s.invalid}</p>}
      <div className="facegate-actions">
        <button type="submit" className="facegate-button">{s.submit}</button>
        <button type="button" className="facegate-button" data-variant="secondary" onClick={onCancel}>{strings.cancel}</button>
      </div>
    </form>
  );
}

/**
 * Face login in one element: the consent (enroll), the camera, the
 * challenge's prompts, a PIN when the server asks, and the outcome.
 *
 *   <FaceGate mode="authenticate" apiKey="fg_live_pub_…" onVerified={(r) => …} />
 *
 * Every prop of useFaceGate, plus `locale` ('auto', 'en', 'fr'),
 * `className`, `style` (set the --facegate-* custom properties here) and
 * `unstyled` (no stylesheet added).
 */
export function FaceGate(props) {
  const { locale = 'auto', className, style, unstyled = false } = props;
  useStylesheet(!unstyled);
  const gate = useFaceGate(props);
  const lang = resolveLocale(locale, languages());
  const strings = MESSAGES[lang];
  const titleId = useId();
  const title = useRef(null);
  const { status, mode, error } = gate;

  // Focus follows the ceremony: to the title when a new screen has no field of its own.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (status === 'done' || status === 'error' || status === 'handoff') title.current?.focus();
  }, [status]);

  const running = status !== 'idle' && status !== 'done' && status !== 'error';
  const showCamera = status === 'camera' || status === 'challenge';
  let heading = strings.title[mode] ?? strings.title.authenticate;
  let body = null;
  let prompt = '';

  if (status === 'idle') {
    if (gate.consentError) {
      body = <p className="facegate-text" role="alert">{gate.consentError.message}</p>;
    } else if (mode === 'enroll' && !props.consentId && props.handoff !== true) {
      heading = strings.consent.title;
      body = gate.consent ? (
        <>
          <p className="facegate-text">{strings.consent.lead}</p>
          <div className="facegate-consent" tabIndex={0} aria-label={strings.consent.title}>{gate.consent.text}</div>
          <div className="facegate-actions">
            <button type="button" className="facegate-button" onClick={gate.start}>{strings.consent.accept}</button>
          </div>
        </>
      ) : <p className="facegate-text">{strings.loading}</p>;
    } else {
      body = (
        <div className="facegate-actions">
          <button type="button" className="facegate-button" onClick={props.handoff === true ? gate.startHandoff : gate.start}>
            {strings.start[mode] ?? strings.start.authenticate}
          </button>
        </div>
      );
    }
  } else if (status === 'camera') {
    prompt = strings.camera.hint;
  } else if (status === 'challenge') {
    const key = gate.prompt?.key;
    const text = key ? strings.prompts[key] : strings.prompts.get_ready;
    const step = gate.prompt?.total > 1 ? ` (${strings.prompts.step(gate.prompt.index + 1, gate.prompt.total)})` : '';
    prompt = `${text ?? ''}${step}`;
  } else if (status === 'verifying') {
    prompt = strings.processing[mode] ?? strings.processing.authenticate;
  } else if (status === 'pin') {
    body = <PinForm strings={strings} request={gate.pin} onSubmit={gate.submitPin} onCancel={gate.cancel} />;
  } else if (status === 'handoff') {
    const s = strings.handoff;
    heading = s.title;
    body = (
      <>
        <p className="facegate-text">{s.scan}</p>
        <img className="facegate-qr" alt={s.qrAlt} src={svgDataUrl(gate.handoff?.qrSvg)} width="200" height="200" />
        <p className="facegate-text">{s.code}</p>
        <p className="facegate-code">{gate.handoff?.matchCode}</p>
        <p className="facegate-text">{s.codeHint}</p>
      </>
    );
    prompt = s.status[gate.handoff?.status] ?? s.status.pending;
  } else if (status === 'done') {
    const s = strings.success[mode] ?? strings.success.authenticate;
    heading = s.title;
    body = <p className="facegate-text">{s.hint}</p>;
  } else if (status === 'error') {
    const [errorTitle, hint] = strings.errors[error?.code] ?? strings.errors.PROCESSING_ERR;
    heading = errorTitle;
    const detail = strings.cameraHints[error?.cameraCode] ?? strings.serverHints[error?.serverCode] ?? hint;
    const noCamera = error?.cameraCode === 'camera_unavailable' && props.handoff !== false;
    body = (
      <>
        {detail && <p className="facegate-text" role="alert">{detail}</p>}
        <div className="facegate-actions">
          <button type="button" className="facegate-button" onClick={gate.start}>{strings.retry}</button>
          {noCamera && (
            <button type="button" className="facegate-button" data-variant="secondary" onClick={gate.startHandoff}>{strings.handoff.offer.accept}</button>
          )}
        </div>
      </>
    );
  }

  return (
    <section
      className={className ? `facegate ${className}` : 'facegate'}
      style={style}
      lang={lang}
      data-status={status}
      data-mode={mode}
      aria-labelledby={titleId}
      aria-busy={running || undefined}
    >
      <h2 id={titleId} ref={title} className="facegate-title" tabIndex={-1}>{heading}</h2>
      <div className="facegate-stage" hidden={!showCamera}>
        <video ref={gate.videoRef} className="facegate-video" muted playsInline autoPlay aria-label={strings.camera.title} />
        <div className="facegate-oval" aria-hidden="true" />
      </div>
      {/* Prompts are read out as they change. */}
      <p className="facegate-prompt" role="status" aria-live="polite">{prompt}</p>
      {body}
      {running && status !== 'pin' && !gate.committing && (
        <div className="facegate-actions">
          <button type="button" className="facegate-button" data-variant="secondary" onClick={gate.cancel}>{strings.cancel}</button>
        </div>
      )}
      <p className="facegate-brand">{strings.brand}</p>
    </section>
  );
}
