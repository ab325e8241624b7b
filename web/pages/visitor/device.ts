/**
 * The device check's media: one `getUserMedia` for the chosen call type and devices, whose
 * stream the call then sends (so the browser asks once), the device lists for the pickers, and
 * the reason when it fails, mapped by the client library's `MediaError`.
 */
import { MediaError } from '@calldocker/client';
import { get, setDevice } from './store.js';

const pick = (id: string): boolean | MediaTrackConstraints =>
  id === '' ? true : { deviceId: { exact: id } };

/** Stops the checked stream's tracks (camera light off) unless a call has taken it over. */
export function releaseDevices(): void {
  for (const track of get().device.stream?.getTracks() ?? []) track.stop();
  setDevice({ stream: undefined });
}

/** Hands the checked stream to the call: the session owns (and stops) it from now on. */
export function takeStream(): MediaStream | undefined {
  const { stream } = get().device;
  setDevice({ stream: undefined });
  return stream;
}

async function listDevices(): Promise<void> {
  const all = await navigator.mediaDevices.enumerateDevices().catch(() => []);
  setDevice({
    cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId !== ''),
    microphones: all.filter((d) => d.kind === 'audioinput' && d.deviceId !== ''),
  });
}

let attempt = 0;

/**
 * Asks for the camera (video calls) and microphone, with the picked devices. Resolves true
 * when the stream is ready, false with `device.error` set otherwise.
 */
export async function checkDevices(): Promise<boolean> {
  const mine = ++attempt;
  releaseDevices();
  setDevice({ error: undefined, asking: true });
  try {
    if (navigator.mediaDevices?.getUserMedia === undefined) {
      throw new MediaError('no_device', 'this browser cannot capture media');
    }
    const { device, form } = get();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: pick(device.microphoneId),
      video: form.callType === 'video' ? pick(device.cameraId) : false,
    });
    if (mine !== attempt) {
      for (const track of stream.getTracks()) track.stop();
      return false;
    }
    setDevice({ stream });
    await listDevices();
    return true;
  } catch (err) {
    if (mine === attempt) {
      setDevice({ error: err instanceof MediaError ? err.reason : MediaError.from(err).reason });
    }
    return false;
  } finally {
    if (mine === attempt) setDevice({ asking: false });
  }
}

/** Gives up any check in flight and releases the devices (leaving the check). */
export function cancelCheck(): void {
  attempt++;
  setDevice({ asking: false });
  releaseDevices();
}
