/**
 * A live microphone level from a Web Audio `AnalyserNode`, shown as a meter (role `meter` with
 * its value, so it is not only a moving bar). Updated about ten times a second; the audio graph
 * is closed when the stream changes or the meter goes away.
 */
import { useEffect, useState } from 'preact/hooks';

const UPDATE_MS = 100;

/** The meter of `stream`'s first audio track. */
export function LevelMeter({ stream, label }: { stream: MediaStream; label: string }) {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    if (stream.getAudioTracks().length === 0 || typeof AudioContext === 'undefined') return;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getByteTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s - 128));
      // Speech peaks around a third of full scale: stretch it so talking fills most of the bar.
      setLevel(Math.min(100, Math.round((peak / 128) * 250)));
    }, UPDATE_MS);
    return () => {
      clearInterval(timer);
      void context.close();
    };
  }, [stream]);
  return (
    <div
      class="meter"
      role="meter"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={level}
    >
      <div class="meter-bar" style={{ width: `${level}%` }} />
    </div>
  );
}
