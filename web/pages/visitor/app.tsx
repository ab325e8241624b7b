/**
 * The visitor page's frame: the company's name, the current screen, and focus moved to each new
 * screen's heading so keyboard and screen-reader users land where the page changed. In embed
 * mode the name is for screen readers only: the call button's panel shows it.
 */
import { CallView } from '../shared/call-view.js';
import { useEffect } from 'preact/hooks';
import { AfterCall } from './after-call.js';
import { hangUp } from './call-flow.js';
import { DeviceCheck } from './device-check.js';
import { FailureView } from './failure-view.js';
import { StartView } from './start-view.js';
import { boot, reconnecting, useStore } from './store.js';
import { strings } from './strings.js';
import { WaitingView } from './waiting-view.js';

function Screen() {
  const state = useStore();
  const call = state.live;
  switch (state.view) {
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
          reconnecting={reconnecting(state)}
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
  const current = useStore().view;
  useEffect(() => {
    // Not on the first screen: a page that has just loaded keeps the browser's own focus.
    if (current === 'loading') return;
    document.querySelector<HTMLElement>('[data-focus-on-show]')?.focus({ preventScroll: false });
  }, [current]);
  return (
    <div class={`visitor${boot.embed ? ' embed' : ''}${current === 'call' ? ' in-call' : ''}`}>
      {boot.embed ? (
        // The call button's panel shows the company's name and a Close of its own, so the framed
        // page draws neither: one heading and one close control on screen. The h1 stays for
        // screen readers, as the framed document's own heading; Escape still asks to close.
        <h1 class="visually-hidden">{boot.companyName}</h1>
      ) : (
        <header class="visitor-head">
          <h1>{boot.companyName}</h1>
        </header>
      )}
      <main class="visitor-main">
        <Screen />
      </main>
    </div>
  );
}
