/**
 * Getting an agent's attention when the dashboard is not in front: a system notification (the
 * permission is asked from a click on "Enable notifications", as browsers require) and a
 * blinking tab title. Both stop when the ring ends or the tab comes back.
 */
import { signal } from '@preact/signals';
import { strings } from './strings.js';

/** `default`, `granted`, `denied`, or `unsupported` when the browser has no notifications. */
export const notificationPermission = signal<NotificationPermission | 'unsupported'>(
  typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
);

/** Asks for permission to show notifications; call from a click. */
export async function enableNotifications(): Promise<void> {
  if (typeof Notification === 'undefined') return;
  notificationPermission.value = await Notification.requestPermission();
}

let shown: Notification | undefined;
let blink: ReturnType<typeof setInterval> | undefined;
let restTitle = document.title;

/** Tells a hidden tab's agent that `visitorName` is calling. */
export function alertRing(callId: string, visitorName: string, purpose: string | undefined): void {
  if (document.visibilityState !== 'hidden') return;
  if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
    shown?.close();
    const note = new Notification(strings.notificationTitle(visitorName), {
      body: purpose ?? strings.incomingCall,
      tag: `calldocker-ring-${callId}`,
      requireInteraction: true,
    });
    note.onclick = () => {
      window.focus();
      note.close();
    };
    shown = note;
  }
  if (blink === undefined) {
    restTitle = document.title;
    const ringingTitle = strings.blinkTitle(visitorName);
    let on = false;
    const flip = () => {
      on = !on;
      document.title = on ? ringingTitle : restTitle;
    };
    flip();
    blink = setInterval(flip, 1000);
  }
}

/** Ends every alert of a ring (idempotent). */
export function clearRingAlerts(): void {
  shown?.close();
  shown = undefined;
  if (blink !== undefined) {
    clearInterval(blink);
    blink = undefined;
    document.title = restTitle;
  }
}

// Back in front: the dialog is on screen, the title can rest.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && blink !== undefined) {
    clearInterval(blink);
    blink = undefined;
    document.title = restTitle;
  }
});
