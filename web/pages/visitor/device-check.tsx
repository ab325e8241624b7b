/**
 * The device check before calling: the camera's preview (video calls), a live microphone level,
 * pickers for camera and microphone, and for each way getting them can fail, what to do next.
 */
import type { MediaErrorReason } from '@calldocker/client';
import { useEffect, useRef } from 'preact/hooks';
import { callWithAudioOnly, leaveDeviceCheck, placeCall } from './call-flow.js';
import { checkDevices } from './device.js';
import { LevelMeter } from './level-meter.js';
import { setDevice, useStore } from './store.js';
import { strings } from './strings.js';

function Picker(props: {
  id: string;
  label: string;
  devices: readonly MediaDeviceInfo[];
  value: string;
  onPick: (id: string) => void;
}) {
  if (props.devices.length === 0) return null;
  const current = props.value === '' ? (props.devices[0]?.deviceId ?? '') : props.value;
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={current} onChange={(e) => props.onPick(e.currentTarget.value)}>
        {props.devices.map((d, i) => (
          <option key={d.deviceId} value={d.deviceId}>
            {d.label === '' ? `${props.label} ${i + 1}` : d.label}
          </option>
        ))}
      </select>
    </div>
  );
}

function Preview({ stream }: { stream: MediaStream }) {
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (video.current !== null) video.current.srcObject = stream;
  }, [stream]);
  return (
    <video ref={video} class="preview" autoPlay playsInline muted aria-label={strings.preview} />
  );
}

function Problem({ reason, video }: { reason: MediaErrorReason | undefined; video: boolean }) {
  if (reason === undefined) return null;
  // Without a microphone there is no call to offer: only trying again helps.
  const words = video
    ? strings.mediaFailure[reason]
    : { title: strings.mediaFailure[reason].title, text: strings.noMicrophone };
  return (
    <div class="notice notice-bad" role="alert">
      <h3>{words.title}</h3>
      <p>{words.text}</p>
      <div class="actions">
        <button type="button" class="btn" onClick={() => void checkDevices()}>
          {strings.tryAgain}
        </button>
        {video && (
          <button type="button" class="btn btn-primary" onClick={() => void callWithAudioOnly()}>
            {strings.audioOnly}
          </button>
        )}
      </div>
    </div>
  );
}

/** The device check screen. */
export function DeviceCheck() {
  const { device, form } = useStore();
  const { stream } = device;
  const video = form.callType === 'video';
  const repick = (which: 'cameraId' | 'microphoneId') => (id: string) => {
    setDevice({ [which]: id });
    void checkDevices();
  };
  return (
    <section class="card device-check" aria-labelledby="device-title">
      <h2 id="device-title" tabIndex={-1} data-focus-on-show>
        {video ? strings.deviceTitle : strings.deviceAudioTitle}
      </h2>
      {device.asking && <p class="muted">{strings.asking}</p>}
      <Problem reason={device.error} video={video} />
      {stream !== undefined && (
        <>
          <p class="muted">{strings.deviceHint}</p>
          {video && <Preview stream={stream} />}
          <LevelMeter stream={stream} label={strings.micLevel} />
          {video && (
            <Picker
              id="camera-pick"
              label={strings.camera}
              devices={device.cameras}
              value={device.cameraId}
              onPick={repick('cameraId')}
            />
          )}
          <Picker
            id="mic-pick"
            label={strings.microphone}
            devices={device.microphones}
            value={device.microphoneId}
            onPick={repick('microphoneId')}
          />
        </>
      )}
      <div class="actions">
        <button type="button" class="btn" onClick={leaveDeviceCheck}>
          {strings.back}
        </button>
        <button
          type="button"
          class="btn btn-primary btn-grow"
          disabled={stream === undefined}
          onClick={() => void placeCall()}
        >
          {strings.startCall}
        </button>
      </div>
    </section>
  );
}
