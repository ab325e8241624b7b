/** The logged-in page: header, alerts, the call (when in one), the tabs, and the ringing dialog. */
import { ConnectionState } from '@calldocker/client';
import { activeCall, banner, connection, ring } from '../store.js';
import { strings } from '../strings.js';
import { AlertSettings } from './alert-settings.js';
import { CallPanel } from './call-panel.js';
import { Header } from './header.js';
import { RingingDialog } from './ringing-dialog.js';
import { Tabs } from './tabs.js';

export function Dashboard({ agentName }: { agentName: string }) {
  const state = connection.value;
  // While the dialog is up, the rest of the page is out of reach (aria-modal is not enough alone).
  const modal = ring.value !== undefined && activeCall.value === undefined;
  return (
    <div class="dashboard">
      <Header agentName={agentName} inert={modal} />
      <main class="dash-main" inert={modal}>
        {state === ConnectionState.Reconnecting && (
          <p class="notice notice-warn" role="status">
            {strings.connectionLost}
          </p>
        )}
        {state === ConnectionState.Connecting && (
          <p class="notice" role="status">
            {strings.connecting}
          </p>
        )}
        {banner.value !== undefined && (
          <p class={`notice notice-${banner.value.kind}`}>{banner.value.text}</p>
        )}
        {activeCall.value !== undefined && <CallPanel call={activeCall.value} />}
        <AlertSettings />
        <Tabs />
      </main>
      {modal && ring.value !== undefined && <RingingDialog ring={ring.value} />}
    </div>
  );
}
