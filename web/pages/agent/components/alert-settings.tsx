/** How rings get attention: the ringtone (test, volume) and system notifications. */
import { enableNotifications, notificationPermission } from '../alerts.js';
import { setVolume, soundReady, testRingtone, unlockAudio, volume } from '../ringtone.js';
import { strings } from '../strings.js';

export function AlertSettings() {
  const permission = notificationPermission.value;
  return (
    <section class="alert-settings" aria-labelledby="alerts-title">
      <h2 id="alerts-title" class="visually-hidden">
        {strings.alerts}
      </h2>
      {!soundReady.value && (
        <p class="notice notice-warn sound-blocked">
          <span>{strings.soundBlocked}</span>
          <button type="button" class="btn btn-small" onClick={unlockAudio}>
            {strings.enableSound}
          </button>
        </p>
      )}
      <div class="alert-row">
        <button type="button" class="btn btn-small" onClick={testRingtone}>
          {strings.testRingtone}
        </button>
        <label class="volume">
          <span>{strings.ringtoneVolume}</span>
          <input
            type="range"
            min={0}
            max={100}
            step={5}
            value={Math.round(volume.value * 100)}
            onInput={(e) => setVolume(Number(e.currentTarget.value) / 100)}
          />
        </label>
        {permission === 'default' && (
          <button type="button" class="btn btn-small" onClick={() => void enableNotifications()}>
            {strings.enableNotifications}
          </button>
        )}
        {permission === 'granted' && <span class="muted">{strings.notificationsOn}</span>}
        {permission === 'denied' && <span class="muted">{strings.notificationsBlocked}</span>}
      </div>
    </section>
  );
}
