//! Liveness rules, engine-neutral: which challenge to set, how to judge the
//! frames a client sent back (from the engine's per-frame measurements), and
//! when repeated failures lock a device or user out.
//!
//! Confidence (0–100) is the evidence of a live person:
//!
//! | mode    | every check passes               | challenge not performed | a hard check fails |
//! |---------|----------------------------------|-------------------------|--------------------|
//! | active  | 50 + 50 × mean live score        | 50 × mean live score    | 0                  |
//! | passive | 100 × mean live score            | –                       | 0                  |
//!
//! Hard checks: exactly one face in every frame, the same person in every
//! frame, no frame the passive model calls a spoof, plausible timing, and no
//! two identical frames (a still image replayed). The session is live when
//! every check passes and the confidence reaches the tenant's minimum.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::domain::{
    LivenessAction, LivenessChallenge, LivenessMode, LivenessOutcome, LivenessSettings,
};
use crate::providers::face::{FrameObservation, ObservedFace, SameFace};

/// A head turn or nod counts when the pose moves this far from the first frame.
pub const TURN_DEGREES: f32 = 10.0;
/// A frame is a blink when the eyes-open probability drops below this.
pub const EYES_CLOSED_BELOW: f32 = 0.5;
/// A frame whose passive live score is below this fails the session outright.
pub const SPOOF_FRAME_BELOW: f32 = 0.5;

/// Frames accepted per upload, by mode.
pub fn frame_limits(mode: LivenessMode) -> std::ops::RangeInclusive<usize> {
    match mode {
        LivenessMode::Active => 3..=30,
        LivenessMode::Passive => 3..=10,
    }
}

/// How often one live session's reference face may be probed (verify,
/// enroll, match): a PIN prompt, every PIN try, and one retry.
pub const MAX_PROBES: u32 = crate::domain::PinSettings::MAX_TRIES + 2;

/// How long the reference frames of live sessions are remembered, so that a
/// captured upload replayed into a new session is refused.
pub const REMEMBER_REFERENCE_FRAMES: Duration = Duration::days(90);

/// Consecutive frames closer than this cannot come from a camera (> 50 fps).
const MIN_FRAME_GAP_MS: i64 = 20;
/// A passive burst is short; an active challenge needs time to perform.
fn max_span_ms(mode: LivenessMode) -> i64 {
    match mode {
        LivenessMode::Active => 60_000,
        LivenessMode::Passive => 10_000,
    }
}

/// A fresh challenge: 2–3 actions drawn from `settings.actions`, never the
/// same action twice in a row, and a nonce. Passive sessions get no actions.
pub fn new_challenge(settings: &LivenessSettings) -> LivenessChallenge {
    let mut rng = rand::rng();
    let mut actions = Vec::new();
    if settings.mode == LivenessMode::Active && !settings.actions.is_empty() {
        let count = rng.random_range(2..=3);
        while actions.len() < count {
            let candidates: Vec<LivenessAction> = settings
                .actions
                .iter()
                .copied()
                .filter(|a| actions.last() != Some(a))
                .collect();
            match candidates.choose(&mut rng) {
                Some(action) => actions.push(*action),
                // Only one action allowed and it was just used.
                None => break,
            }
        }
    }
    let mut nonce = [0u8; 16];
    rng.fill(&mut nonce);
    LivenessChallenge {
        actions,
        nonce: hex::encode(nonce),
    }
}

/// Why a session was not live; logged, never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    NotOneFace,
    DifferentPeople,
    SpoofFrame,
    ImplausibleTiming,
    RepeatedFrame,
    ChallengeNotPerformed,
    LowConfidence,
}

impl Failure {
    /// The reason as events name it (to the tenant's backend, not the browser).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotOneFace => "not_one_face",
            Self::DifferentPeople => "different_people",
            Self::SpoofFrame => "spoof_frame",
            Self::ImplausibleTiming => "implausible_timing",
            Self::RepeatedFrame => "repeated_frame",
            Self::ChallengeNotPerformed => "challenge_not_performed",
            Self::LowConfidence => "low_confidence",
        }
    }
}

/// The judgement of one upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: LivenessOutcome,
    pub failure: Option<Failure>,
    /// The frame to keep as the session's reference image (verify and enroll
    /// use it): the first frame, where the user looks straight at the camera.
    pub reference_frame: usize,
}

impl Verdict {
    /// Not live, confidence 0: a hard check failed.
    pub fn failed(failure: Failure) -> Self {
        Self {
            outcome: LivenessOutcome {
                is_live: false,
                confidence: 0.0,
            },
            failure: Some(failure),
            reference_frame: 0,
        }
    }
}

/// One uploaded frame as the judge sees it.
pub struct JudgedFrame<'a> {
    /// Client clock, milliseconds; only differences matter.
    pub timestamp_ms: i64,
    pub observation: &'a FrameObservation,
}

/// Frames may claim to span at most the session's age (server time, from
/// start to upload) plus this much (clock granularity, the upload itself).
pub const RECEIPT_SLACK_MS: i64 = 5_000;
/// Two dHashes this close (in bits) show the same picture.
pub const SAME_PICTURE_BITS: u32 = 4;

/// `score ≥ bar`, and never for a score that is not finite (NaN or an
/// infinity, from a broken model or provider): every liveness comparison is
/// made through this, so such a score fails it.
pub fn reaches(score: f32, bar: f32) -> bool {
    score.is_finite() && score >= bar
}

/// Judges an upload. `same_person` is the similarity (0–100) two frames need
/// to count as the same person: the tenant's match threshold.
/// `session_age_ms` is how long the session had existed when the frames
/// arrived (server clock): they cannot span more.
pub fn judge(
    mode: LivenessMode,
    challenge: &LivenessChallenge,
    frames: &[JudgedFrame<'_>],
    same_person: f32,
    min_confidence: f32,
    session_age_ms: i64,
) -> Verdict {
    let fail = Verdict::failed;
    if !timing_is_plausible(mode, frames, session_age_ms) {
        return fail(Failure::ImplausibleTiming);
    }
    let faces: Option<Vec<&ObservedFace>> = frames
        .iter()
        .map(|f| match f.observation {
            FrameObservation::Face(face) => Some(face),
            FrameObservation::NotOneFace => None,
        })
        .collect();
    let (Some(faces), Some(reference_frame)) = (
        faces,
        reference_frame(mode, frames.iter().map(|f| f.observation.live_score())),
    ) else {
        return fail(Failure::NotOneFace);
    };
    if is_replay(mode, &faces) {
        return fail(Failure::RepeatedFrame);
    }
    let different = |f: &&ObservedFace| match f.same_face {
        SameFace::Reference | SameFace::Tracked => false,
        SameFace::Compared(similarity) => !reaches(similarity, same_person),
    };
    if faces.iter().any(different) {
        return fail(Failure::DifferentPeople);
    }
    if faces
        .iter()
        .any(|f| !reaches(f.live_score, SPOOF_FRAME_BELOW))
    {
        return fail(Failure::SpoofFrame);
    }
    let live_score = faces.iter().map(|f| f.live_score).sum::<f32>() / faces.len() as f32;
    let (confidence, failure) = match mode {
        LivenessMode::Passive => (100.0 * live_score, None),
        LivenessMode::Active if performed_in_order(&challenge.actions, &faces) => {
            (50.0 + 50.0 * live_score, None)
        }
        LivenessMode::Active => (50.0 * live_score, Some(Failure::ChallengeNotPerformed)),
    };
    let confidence = (confidence * 10.0).round() / 10.0;
    let failure =
        failure.or((!reaches(confidence, min_confidence)).then_some(Failure::LowConfidence));
    Verdict {
        outcome: LivenessOutcome {
            is_live: failure.is_none(),
            confidence,
        },
        failure,
        reference_frame,
    }
}

/// The frame to keep as the session's reference (what verify and enroll
/// use), among those that show one face (`None`: not one face): in active mode the first, where
/// the user faces the camera before the challenge moves them; in passive
/// mode, with no pose to start from, the frame the passive model trusts
/// most. Engines analyse this frame's face for search (see
/// [`LivenessObservation`]).
///
/// [`LivenessObservation`]: crate::providers::face::LivenessObservation
pub fn reference_frame(
    mode: LivenessMode,
    live_scores: impl IntoIterator<Item = Option<f32>>,
) -> Option<usize> {
    let faces = live_scores
        .into_iter()
        .enumerate()
        .filter_map(|(i, score)| Some((i, score?)));
    match mode {
        LivenessMode::Active => faces.map(|(i, _)| i).next(),
        // Of equal scores, the first.
        LivenessMode::Passive => faces
            .reduce(|best, next| if next.1 > best.1 { next } else { best })
            .map(|(i, _)| i),
    }
}

/// The same decoded picture twice (however it was encoded), or, in active
/// mode, a burst in which nothing moved (every frame perceptually the same
/// as the first: a still re-encoded, since a performed challenge moves the
/// head). Passive mode skips the perceptual test: a user holding still, as
/// asked, makes frames that differ by sensor noise only, like a re-encoded
/// still; the passive model and the pixel digests are its defence.
fn is_replay(mode: LivenessMode, faces: &[&ObservedFace]) -> bool {
    let mut digests: Vec<[u8; 32]> = faces.iter().map(|f| f.pixels.digest).collect();
    digests.sort_unstable();
    if digests.windows(2).any(|pair| pair[0] == pair[1]) {
        return true;
    }
    match (mode, faces.split_first()) {
        (LivenessMode::Active, Some((first, rest))) if !rest.is_empty() => rest.iter().all(|f| {
            (f.pixels.perceptual ^ first.pixels.perceptual).count_ones() <= SAME_PICTURE_BITS
        }),
        _ => false,
    }
}

/// Strictly increasing, camera-like gaps, within the mode's span and within
/// the time the session has existed. Checked arithmetic: timestamps are the
/// client's, any `i64`.
fn timing_is_plausible(
    mode: LivenessMode,
    frames: &[JudgedFrame<'_>],
    session_age_ms: i64,
) -> bool {
    let gap = |a: &JudgedFrame<'_>, b: &JudgedFrame<'_>| b.timestamp_ms.checked_sub(a.timestamp_ms);
    let gaps_ok = frames
        .windows(2)
        .all(|pair| gap(&pair[0], &pair[1]).is_some_and(|g| g >= MIN_FRAME_GAP_MS));
    let span = match (frames.first(), frames.last()) {
        (Some(first), Some(last)) => gap(first, last),
        _ => Some(0),
    };
    let received_by = session_age_ms.saturating_add(RECEIPT_SLACK_MS);
    gaps_ok && span.is_some_and(|span| span <= max_span_ms(mode) && span <= received_by)
}

/// Each action seen after the previous one, measured from the first frame
/// (where the user faces the camera with open eyes).
fn performed_in_order(actions: &[LivenessAction], faces: &[&ObservedFace]) -> bool {
    let Some((baseline, rest)) = faces.split_first() else {
        return false;
    };
    let mut frames = rest.iter();
    actions.iter().all(|action| {
        frames.any(|face| {
            // Unmeasured pose or eyes: nothing seen.
            let yaw = face.yaw - baseline.yaw;
            let pitch = face.pitch.zip(baseline.pitch).map(|(p, b)| p - b);
            let eyes = face.eyes_open.zip(baseline.eyes_open);
            match action {
                LivenessAction::TurnLeft => yaw <= -TURN_DEGREES,
                LivenessAction::TurnRight => yaw >= TURN_DEGREES,
                LivenessAction::LookUp => pitch.is_some_and(|p| p >= TURN_DEGREES),
                LivenessAction::LookDown => pitch.is_some_and(|p| p <= -TURN_DEGREES),
                LivenessAction::Blink => eyes.is_some_and(|(now, before)| {
                    before >= EYES_CLOSED_BELOW && now < EYES_CLOSED_BELOW
                }),
            }
        })
    })
}

/// When a lockout from these failure times ends, if one is in force at
/// `now`: [`LivenessSettings::MAX_FAILURES`] failures within
/// [`LivenessSettings::FAILURE_WINDOW_SECS`] lock for `lockout_minutes`
/// from the last of them.
pub fn lockout_until(
    failures: &[DateTime<Utc>],
    lockout_minutes: u32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut times = failures.to_vec();
    times.sort_unstable();
    let window = Duration::seconds(LivenessSettings::FAILURE_WINDOW_SECS);
    times
        .windows(LivenessSettings::MAX_FAILURES)
        .filter(|run| run[run.len() - 1] - run[0] <= window)
        .map(|run| run[run.len() - 1] + Duration::minutes(i64::from(lockout_minutes)))
        .max()
        .filter(|until| *until > now)
}

/// How many of these failures fall in the current failure window.
pub fn recent_failures(failures: &[DateTime<Utc>], now: DateTime<Utc>) -> u32 {
    let since = now - Duration::seconds(LivenessSettings::FAILURE_WINDOW_SECS);
    let recent = failures.iter().filter(|at| **at >= since).count();
    u32::try_from(recent).unwrap_or(u32::MAX)
}

/// How far back [`lockout_until`] needs failures.
pub fn lockout_lookback(lockout_minutes: u32) -> Duration {
    Duration::seconds(LivenessSettings::FAILURE_WINDOW_SECS)
        + Duration::minutes(i64::from(lockout_minutes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::face::FramePixels;

    fn face(yaw: f32, pitch: f32, eyes_open: f32, live: f32) -> FrameObservation {
        // Distinct pixels, and dHashes far apart, unless a test says otherwise.
        let seed = (yaw * 7.0 + pitch * 13.0 + eyes_open * 17.0 + live * 1000.0) as u64;
        FrameObservation::Face(ObservedFace {
            yaw,
            pitch: Some(pitch),
            eyes_open: Some(eyes_open),
            live_score: live,
            same_face: SameFace::Compared(99.0),
            pixels: FramePixels {
                digest: sha2::Digest::finalize(sha2::Digest::chain_update(
                    <sha2::Sha256 as sha2::Digest>::new(),
                    seed.to_le_bytes(),
                ))
                .into(),
                perceptual: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            },
        })
    }

    fn with(
        mut frame: FrameObservation,
        change: impl FnOnce(&mut ObservedFace),
    ) -> FrameObservation {
        if let FrameObservation::Face(face) = &mut frame {
            change(face);
        }
        frame
    }

    fn frames(observations: &[FrameObservation]) -> Vec<JudgedFrame<'_>> {
        observations
            .iter()
            .enumerate()
            .map(|(i, observation)| JudgedFrame {
                timestamp_ms: 1_000 + 400 * i as i64,
                observation,
            })
            .collect()
    }

    fn challenge(actions: &[LivenessAction]) -> LivenessChallenge {
        LivenessChallenge {
            actions: actions.to_vec(),
            nonce: "n".into(),
        }
    }

    use LivenessAction::*;

    #[test]
    fn actions_must_be_seen_in_order() {
        let observed = [
            face(-4.0, -6.0, 1.0, 0.99),
            face(-16.0, -4.0, 1.0, 0.95), // turned left
            face(2.0, -5.0, 0.1, 0.97),   // blinked
            face(-3.0, 12.0, 1.0, 0.96),  // looked up
        ];
        let frames = frames(&observed);
        let judged = |actions: &[LivenessAction]| {
            judge(
                LivenessMode::Active,
                &challenge(actions),
                &frames,
                90.0,
                90.0,
                60_000,
            )
        };
        let live = judged(&[TurnLeft, Blink, LookUp]);
        assert!(live.outcome.is_live, "{live:?}");
        assert_eq!(live.outcome.confidence, 98.4);
        assert_eq!(live.reference_frame, 0);
        for wrong in [
            &[LookUp, TurnLeft][..],
            &[TurnRight, Blink],
            &[Blink, LookDown],
        ] {
            let verdict = judged(wrong);
            assert_eq!(verdict.failure, Some(Failure::ChallengeNotPerformed));
            assert!(!verdict.outcome.is_live);
            assert!(verdict.outcome.confidence < 50.0);
        }
    }

    #[test]
    fn a_nan_from_a_broken_model_never_counts_as_live_or_the_same_person() {
        let judged = |observed: &[FrameObservation]| {
            let frames = frames(observed);
            judge(
                LivenessMode::Passive,
                &challenge(&[]),
                &frames,
                90.0,
                90.0,
                60_000,
            )
        };
        let nan_live = [
            face(0.0, 0.0, 1.0, 0.97),
            with(face(1.0, 0.0, 1.0, 0.96), |f| f.live_score = f32::NAN),
        ];
        assert_eq!(judged(&nan_live).failure, Some(Failure::SpoofFrame));
        let nan_same = [
            face(0.0, 0.0, 1.0, 0.97),
            with(face(1.0, 0.0, 1.0, 0.96), |f| {
                f.same_face = SameFace::Compared(f32::NAN);
            }),
        ];
        assert_eq!(judged(&nan_same).failure, Some(Failure::DifferentPeople));
    }

    #[test]
    fn hard_checks_fail_with_zero_confidence() {
        let different = with(face(0.0, 0.0, 1.0, 0.97), |f| {
            f.same_face = SameFace::Compared(40.0);
        });
        let cases = [
            (
                vec![face(0.0, 0.0, 1.0, 0.99), FrameObservation::NotOneFace],
                Failure::NotOneFace,
            ),
            (
                vec![face(0.0, 0.0, 1.0, 0.99), different],
                Failure::DifferentPeople,
            ),
            (
                vec![face(0.0, 0.0, 1.0, 0.99), face(0.0, 0.0, 1.0, 0.2)],
                Failure::SpoofFrame,
            ),
        ];
        for (observed, expected) in cases {
            let verdict = judge(
                LivenessMode::Passive,
                &challenge(&[]),
                &frames(&observed),
                90.0,
                90.0,
                60_000,
            );
            assert_eq!(verdict.failure, Some(expected));
            assert_eq!(verdict.outcome.confidence, 0.0);
        }
    }

    fn with_pixels(
        observation: &FrameObservation,
        pixels: impl FnOnce(&mut FramePixels),
    ) -> FrameObservation {
        let mut copy = observation.clone();
        if let FrameObservation::Face(face) = &mut copy {
            pixels(&mut face.pixels);
        }
        copy
    }

    fn pixels_of(observation: &FrameObservation) -> FramePixels {
        match observation {
            FrameObservation::Face(face) => face.pixels,
            FrameObservation::NotOneFace => unreachable!(),
        }
    }

    #[test]
    fn replayed_stills_and_impossible_timing_fail() {
        let first = face(0.0, 0.0, 1.0, 0.99);
        let observed = [first.clone(), face(0.0, 0.0, 1.0, 0.98)];
        let passive = |frames: &[JudgedFrame<'_>]| {
            judge(
                LivenessMode::Passive,
                &challenge(&[]),
                frames,
                90.0,
                90.0,
                60_000,
            )
            .failure
        };
        let same_pixels = [
            first.clone(),
            with_pixels(&observed[1], |p| p.digest = pixels_of(&first).digest),
        ];
        assert_eq!(passive(&frames(&same_pixels)), Some(Failure::RepeatedFrame));
        // Active: a turn performed over re-encodes of one still (same
        // picture, other pixels) is a replay, whatever the pose says.
        let still = pixels_of(&first).perceptual;
        let reencoded = [
            first.clone(),
            with_pixels(&face(20.0, 0.0, 1.0, 0.98), |p| {
                p.perceptual = still ^ 0b101
            }),
        ];
        let active = judge(
            LivenessMode::Active,
            &challenge(&[TurnRight]),
            &frames(&reencoded),
            90.0,
            90.0,
            60_000,
        );
        assert_eq!(active.failure, Some(Failure::RepeatedFrame));
        // Timestamps are the client's: extremes must not overflow.
        let mut extreme = frames(&observed);
        extreme[0].timestamp_ms = i64::MIN;
        extreme[1].timestamp_ms = i64::MAX;
        assert_eq!(passive(&extreme), Some(Failure::ImplausibleTiming));
        // Frames cannot span more than the session has existed (plus slack).
        let spread = frames(&observed);
        assert_eq!(
            judge(
                LivenessMode::Passive,
                &challenge(&[]),
                &spread,
                90.0,
                90.0,
                -RECEIPT_SLACK_MS
            )
            .failure,
            Some(Failure::ImplausibleTiming)
        );
        let mut fast = frames(&observed);
        fast[1].timestamp_ms = fast[0].timestamp_ms + 5;
        assert_eq!(passive(&fast), Some(Failure::ImplausibleTiming));
        let mut backwards = frames(&observed);
        backwards[1].timestamp_ms = backwards[0].timestamp_ms - 400;
        assert_eq!(passive(&backwards), Some(Failure::ImplausibleTiming));
        let mut slow = frames(&observed);
        slow[1].timestamp_ms = slow[0].timestamp_ms + 11_000;
        assert_eq!(passive(&slow), Some(Failure::ImplausibleTiming));
        assert_eq!(passive(&frames(&observed)), None);
    }

    #[test]
    fn passive_confidence_is_the_mean_live_score() {
        let observed = [
            face(0.0, 0.0, 1.0, 0.80),
            face(0.0, 0.0, 1.0, 0.96),
            face(0.0, 0.0, 1.0, 0.90),
        ];
        let verdict = judge(
            LivenessMode::Passive,
            &challenge(&[]),
            &frames(&observed),
            90.0,
            90.0,
            60_000,
        );
        assert_eq!(verdict.outcome.confidence, 88.7);
        assert_eq!(verdict.failure, Some(Failure::LowConfidence));
        assert_eq!(verdict.reference_frame, 1);
    }

    #[test]
    fn challenges_draw_two_or_three_allowed_actions_without_repeats() {
        let settings = LivenessSettings {
            actions: vec![TurnLeft, TurnRight],
            ..LivenessSettings::default()
        };
        for _ in 0..50 {
            let challenge = new_challenge(&settings);
            assert!((2..=3).contains(&challenge.actions.len()));
            assert!(challenge.actions.windows(2).all(|p| p[0] != p[1]));
            assert!(
                challenge
                    .actions
                    .iter()
                    .all(|a| settings.actions.contains(a))
            );
            assert_eq!(challenge.nonce.len(), 32);
        }
        let passive = LivenessSettings {
            mode: LivenessMode::Passive,
            ..LivenessSettings::default()
        };
        assert!(new_challenge(&passive).actions.is_empty());
    }

    #[test]
    fn five_failures_within_three_minutes_lock_for_the_configured_time() {
        let now = Utc::now();
        let at = |secs_ago: i64| now - Duration::seconds(secs_ago);
        let spread = [at(600), at(450), at(300), at(150), at(1)];
        assert_eq!(lockout_until(&spread, 30, now), None);
        let burst = [at(170), at(120), at(60), at(30), at(10)];
        assert_eq!(
            lockout_until(&burst, 30, now),
            Some(at(10) + Duration::minutes(30))
        );
        let old_burst = [at(2000), at(1990), at(1980), at(1970), at(1960)];
        assert_eq!(lockout_until(&old_burst, 30, now), None);
        assert_eq!(lockout_until(&burst[1..], 30, now), None);
        assert_eq!(
            recent_failures(&spread, now),
            2,
            "only the last three minutes"
        );
    }

    #[test]
    fn tracked_frames_count_as_the_same_person_and_the_reference_is_the_most_live() {
        let observed = [
            with(face(0.0, 0.0, 1.0, 0.95), |f| {
                f.same_face = SameFace::Tracked
            }),
            with(face(1.0, 0.0, 1.0, 0.99), |f| {
                f.same_face = SameFace::Reference
            }),
            face(2.0, 0.0, 1.0, 0.97),
        ];
        let verdict = judge(
            LivenessMode::Passive,
            &challenge(&[]),
            &frames(&observed),
            90.0,
            90.0,
            60_000,
        );
        assert!(verdict.outcome.is_live, "{verdict:?}");
        assert_eq!(verdict.reference_frame, 1);
        assert_eq!(
            reference_frame(
                LivenessMode::Active,
                observed.iter().map(FrameObservation::live_score)
            ),
            Some(0)
        );
        let partly = [FrameObservation::NotOneFace, face(0.0, 0.0, 1.0, 0.6)];
        assert_eq!(
            reference_frame(
                LivenessMode::Active,
                partly.iter().map(FrameObservation::live_score)
            ),
            Some(1)
        );
        assert_eq!(
            reference_frame(
                LivenessMode::Passive,
                partly.iter().map(FrameObservation::live_score)
            ),
            Some(1)
        );
        assert_eq!(reference_frame(LivenessMode::Passive, []), None);
        let no_frames = judge(
            LivenessMode::Passive,
            &challenge(&[]),
            &[],
            90.0,
            0.0,
            60_000,
        );
        assert_eq!(no_frames.failure, Some(Failure::NotOneFace));
    }

    #[test]
    fn an_unmeasured_pose_or_blink_is_not_performed() {
        let unmeasured = |f: FrameObservation| {
            with(f, |f| {
                f.pitch = None;
                f.eyes_open = None;
            })
        };
        let observed = [
            unmeasured(face(0.0, -6.0, 1.0, 0.99)),
            unmeasured(face(-16.0, 12.0, 0.1, 0.95)),
        ];
        let frames = frames(&observed);
        let judged = |actions: &[LivenessAction]| {
            judge(
                LivenessMode::Active,
                &challenge(actions),
                &frames,
                90.0,
                0.0,
                60_000,
            )
            .failure
        };
        assert_eq!(judged(&[TurnLeft]), None, "yaw comes from the landmarks");
        for action in [LookUp, Blink] {
            assert_eq!(judged(&[action]), Some(Failure::ChallengeNotPerformed));
        }
    }

    /// The judge's inputs are the client's (timestamps, frame counts) and
    /// the models' (scores that may be NaN or infinite): whatever they are,
    /// it answers without panicking, and never "live" for frames out of
    /// order, closer than the minimum gap, or with a NaN live score.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn score() -> impl Strategy<Value = f32> {
            prop_oneof![
                8 => -1.0f32..2.0,
                1 => -200.0f32..200.0,
                1 => Just(f32::NAN),
                1 => Just(f32::INFINITY),
                1 => Just(f32::NEG_INFINITY),
            ]
        }

        fn observation() -> impl Strategy<Value = FrameObservation> {
            let same_face = prop_oneof![
                Just(SameFace::Reference),
                Just(SameFace::Tracked),
                score().prop_map(|s| SameFace::Compared(s * 100.0)),
            ];
            let face = (
                score(),
                proptest::option::of(score()),
                proptest::option::of(score()),
                score(),
                same_face,
                any::<[u8; 32]>(),
                any::<u64>(),
            )
                .prop_map(
                    |(yaw, pitch, eyes_open, live_score, same_face, digest, perceptual)| {
                        FrameObservation::Face(ObservedFace {
                            yaw: yaw * 90.0,
                            pitch: pitch.map(|p| p * 90.0),
                            eyes_open,
                            live_score,
                            same_face,
                            pixels: FramePixels { digest, perceptual },
                        })
                    },
                );
            prop_oneof![1 => Just(FrameObservation::NotOneFace), 6 => face]
        }

        fn action() -> impl Strategy<Value = LivenessAction> {
            prop_oneof![
                Just(LivenessAction::TurnLeft),
                Just(LivenessAction::TurnRight),
                Just(LivenessAction::LookUp),
                Just(LivenessAction::LookDown),
                Just(LivenessAction::Blink),
            ]
        }

        fn timestamp() -> impl Strategy<Value = i64> {
            prop_oneof![3 => 0i64..20_000, 1 => any::<i64>()]
        }

        proptest! {
            #![proptest_config(crate::test_support::proptest_config())]

            #[test]
            fn any_input_gets_a_verdict(
                active in any::<bool>(),
                actions in proptest::collection::vec(action(), 0..6),
                frames in proptest::collection::vec((timestamp(), observation()), 0..40),
                same_person in score(),
                min_confidence in score(),
                session_age_ms in prop_oneof![3 => 0i64..120_000, 1 => any::<i64>()],
            ) {
                let mode = if active { LivenessMode::Active } else { LivenessMode::Passive };
                let judged: Vec<JudgedFrame<'_>> = frames
                    .iter()
                    .map(|(timestamp_ms, observation)| JudgedFrame { timestamp_ms: *timestamp_ms, observation })
                    .collect();
                let verdict = judge(mode, &challenge(&actions), &judged, same_person * 100.0, min_confidence * 100.0, session_age_ms);
                prop_assert!(verdict.outcome.confidence.is_finite() || !verdict.outcome.is_live);
                if verdict.outcome.is_live {
                    prop_assert!(!judged.is_empty());
                    prop_assert!(verdict.reference_frame < judged.len());
                    for pair in judged.windows(2) {
                        let gap = pair[1].timestamp_ms.checked_sub(pair[0].timestamp_ms);
                        prop_assert!(gap.is_some_and(|g| g >= MIN_FRAME_GAP_MS), "{gap:?}");
                    }
                    prop_assert!(judged.iter().all(|f| f.observation.live_score().is_some_and(|s| !s.is_nan())));
                }
            }
        }
    }
}
