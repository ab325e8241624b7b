/** The login form: company (remembered), email, password; every refusal says what to do next. */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { unlockAudio } from '../ringtone.js';
import { logIn, loginErrorText, rememberedCompany } from '../session.js';
import { loginNotice } from '../store.js';
import { strings } from '../strings.js';

export function Login() {
  const company = useSignal(rememberedCompany());
  const email = useSignal('');
  const password = useSignal('');
  const busy = useSignal(false);
  const error = useSignal<string | undefined>(undefined);
  const errorRef = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    if (error.value !== undefined) errorRef.current?.focus();
  }, [error.value]);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    // This click is the user's gesture that lets the ringtone play later.
    unlockAudio();
    busy.value = true;
    error.value = undefined;
    try {
      await logIn(company.value.trim(), email.value.trim(), password.value);
    } catch (err) {
      error.value = loginErrorText(err);
      password.value = '';
    } finally {
      busy.value = false;
    }
  };

  const notice = loginNotice.value;
  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <p class="brand" aria-hidden="true">
          {strings.product}
        </p>
        <h1 id="login-title">{strings.loginTitle}</h1>
        <p class="muted">{strings.loginIntro}</p>
        {notice !== undefined && error.value === undefined && (
          <p class={`notice notice-${notice.kind}`} role="status">
            {notice.text}
          </p>
        )}
        {error.value !== undefined && (
          <p class="notice notice-bad" role="alert" tabIndex={-1} ref={errorRef} id="login-error">
            {error.value}
          </p>
        )}
        <div class="field">
          <label for="login-company">{strings.company}</label>
          <input
            id="login-company"
            type="text"
            autoComplete="organization"
            autoCapitalize="none"
            spellcheck={false}
            required
            value={company.value}
            onInput={(e) => (company.value = e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="login-email">{strings.email}</label>
          <input
            id="login-email"
            type="email"
            autoComplete="username"
            required
            value={email.value}
            onInput={(e) => (email.value = e.currentTarget.value)}
            aria-describedby={error.value !== undefined ? 'login-error' : undefined}
          />
        </div>
        <div class="field">
          <label for="login-password">{strings.password}</label>
          <input
            id="login-password"
            type="password"
            autoComplete="current-password"
            required
            value={password.value}
            onInput={(e) => (password.value = e.currentTarget.value)}
          />
        </div>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy.value}>
          {busy.value ? strings.loggingIn : strings.logIn}
        </button>
      </form>
    </main>
  );
}
