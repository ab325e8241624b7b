/**
 * The ringtone, synthesised with Web Audio (two tones in the UK "double ring" cadence), so there
 * is no file to load. Browsers keep an AudioContext silent until the user has interacted with the
 * page; {@link unlockAudio} is called from the login click, the status control and any first
 * click after a reload, so a ring that arrives later is heard.
 */
import { signal } from '@preact/signals';

const VOLUME_KEY = 'calldocker.agent.volume';
/** One cadence: ring, pause, ring, then silence until the next, in seconds. */
const BURSTS_S = [
  [0, 0.4],
  [0.6, 0.4],
] as const;
const CADENCE_MS = 3000;
const TONES_HZ = [400, 450] as const;

/** Ringtone volume, 0..1, remembered in this browser. */
export const volume = signal(readVolume());
/** Whether the browser lets the page make sound now. */
export const soundReady = signal(false);

let ctx: AudioContext | undefined;
let output: GainNode | undefined;
let cadence: ReturnType<typeof setInterval> | undefined;

function readVolume(): number {
  const stored = Number(localStorage.getItem(VOLUME_KEY) ?? '0.7');
  return Number.isFinite(stored) ? Math.min(1, Math.max(0, stored)) : 0.7;
}

/** Sets and remembers the volume (0..1). */
export function setVolume(value: number): void {
  volume.value = Math.min(1, Math.max(0, value));
  localStorage.setItem(VOLUME_KEY, String(volume.value));
  if (output !== undefined && ctx !== undefined) {
    output.gain.setValueAtTime(volume.value, ctx.currentTime);
  }
}

/** Creates or resumes the audio context; call it from a user's click or key press. */
export function unlockAudio(): void {
  if (typeof AudioContext === 'undefined') return;
  if (ctx === undefined) {
    ctx = new AudioContext();
    output = ctx.createGain();
    output.gain.value = volume.value;
    output.connect(ctx.destination);
    ctx.addEventListener('statechange', () => (soundReady.value = ctx?.state === 'running'));
  }
  void ctx.resume().then(
    () => (soundReady.value = ctx?.state === 'running'),
    () => undefined,
  );
}

/** Plays one cadence now. */
function playCadence(): void {
  if (ctx === undefined || output === undefined || ctx.state !== 'running') return;
  const t0 = ctx.currentTime + 0.02;
  for (const [at, length] of BURSTS_S) {
    const envelope = ctx.createGain();
    envelope.gain.setValueAtTime(0, t0 + at);
    envelope.gain.linearRampToValueAtTime(0.5, t0 + at + 0.02);
    envelope.gain.setValueAtTime(0.5, t0 + at + length - 0.03);
    envelope.gain.linearRampToValueAtTime(0, t0 + at + length);
    envelope.connect(output);
    for (const hz of TONES_HZ) {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(envelope);
      osc.start(t0 + at);
      osc.stop(t0 + at + length);
    }
  }
}

/** Rings until {@link stopRinging}. */
export function startRinging(): void {
  if (cadence !== undefined) return;
  playCadence();
  cadence = setInterval(playCadence, CADENCE_MS);
}

/** Stops ringing (idempotent). */
export function stopRinging(): void {
  if (cadence !== undefined) clearInterval(cadence);
  cadence = undefined;
}

/** One cadence at the current volume, from a click on "Test ringtone". */
export function testRingtone(): void {
  unlockAudio();
  // resume() settles after this click; the cadence waits for it.
  void ctx?.resume().then(playCadence, () => undefined);
}
