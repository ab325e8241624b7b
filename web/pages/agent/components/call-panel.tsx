/** The call this agent is in, drawn by the shared in-call view. */
import { ConnectionState } from '@calldocker/client';
import { useEffect, useRef } from 'preact/hooks';
import { CallView } from '../../shared/call-view.js';
import { hangUp } from '../signaling.js';
import { client, connection, peerDown, type ActiveCall } from '../store.js';
import { strings } from '../strings.js';

export function CallPanel({ call }: { call: ActiveCall }) {
  const c = client.value;
  const box = useRef<HTMLDivElement>(null);
  // The call is what the agent works on now: focus starts there (after Accept, or a reload).
  useEffect(() => box.current?.focus(), [call.callId]);
  if (c === undefined) return null;
  return (
    <div class="agent-call" ref={box} tabIndex={-1}>
      <CallView
        client={c}
        session={call.session}
        callType={call.callType}
        peerName={call.peerName}
        subtitle={call.purpose}
        answeredAt={call.answeredAt}
        reconnecting={peerDown.value || connection.value === ConnectionState.Reconnecting}
        onHangup={hangUp}
        strings={strings}
      />
    </div>
  );
}
