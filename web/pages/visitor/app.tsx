/**
 * The visitor page's frame: the company's name, the current screen, and focus moved to each new
 * screen's heading so keyboard and screen-reader users land where the page changed.
 */
import { CallView } from '../shared/call-view.js';
import { useEffect } from 'preact/hooks';
import { AfterCall } from './after-call.js';
import { hangUp } from './call-flow.js';
import { DeviceCheck } from './device-check.js';
import { postToParent } from './embed.js';
import { FailureView } from './failure-view.js';
import { StartView } from './start-view.js';
import { boot, live, reconnecting, view } from './store.js';
import { strings } from './strings.js';
import { WaitingView } from './waiting-view.js';

function Screen() {
  const call = live.value;
  switch (view.value) {
    case 'loading':
      return <p class="muted">{strings.connecting}</p>;
    case 'start':
      return <StartView />;
    case 'device':
      return <DeviceCheck />;
    case 'waiting':
      return <WaitingView />;
    case 'call':
      return call === undefined ? null : (
        <CallView
          client={call.client}
          session={call.session}
          callType={call.callType}
          peerName={call.peerName}
          answeredAt={call.answeredAt}
          reconnecting={reconnecting.value}
          onHangup={hangUp}
          strings={strings}
        />
      );
    case 'after':
      return <AfterCall />;
    case 'failure':
      return <FailureView />;
  }
}

/** The whole page. */
export function App() {
  const current = view.value;
  useEffect(() => {
    // Not on the first screen: a page that has just loaded keeps the browser's own focus.
    if (current === 'loading') return;
    document.querySelector<HTMLElement>('[data-focus-on-show]')?.focus({ preventScroll: false });
  }, [current]);
  return (
    <div class={`visitor${boot.embed ? ' embed' : ''}${current === 'call' ? ' in-call' : ''}`}>
      <header class="visitor-head">
        <h1>{boot.companyName}</h1>
        {boot.embed && (
          <button
            type="button"
            class="btn btn-small close-btn"
            aria-label={strings.close}
            onClick={() => postToParent({ type: 'close_requested' })}
          >
            <span aria-hidden="true">×</span>
          </button>
        )}
      </header>
      <main class="visitor-main">
        <Screen />
      </main>
    </div>
  );
}
