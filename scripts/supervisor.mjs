/**
 * Keeps the processes `scripts/start.mjs` starts together: when one exits on its own the others
 * are stopped, and this process exits with the first one's code once all are gone. A child
 * marked `last` (the private Redis) is stopped only after the others, which still use it while
 * they stop; it runs in its own process group so that a Ctrl-C meant for the servers does not
 * take it away first.
 */
import { spawn } from 'node:child_process';
import process from 'node:process';
import { setTimeout } from 'node:timers';

/**
 * A supervisor for children started in `cwd`. `stopGraceMs`: how long a child may take to stop
 * once asked before it is killed.
 */
export function createSupervisor({ cwd, stopGraceMs }) {
  const children = [];
  const cleanups = [];
  let stopping = false;
  let exitCode = 0;

  const running = (child) => child.exitCode === null && child.signalCode === null;
  const othersGone = () => children.every((c) => c.exited || c.last);

  function finish() {
    for (const cleanup of cleanups) cleanup();
    process.exit(exitCode);
  }

  function stopLast(signal) {
    for (const { child, last } of children) if (last && running(child)) child.kill(signal);
  }

  /** Asks every child but the last ones to stop; kills what is left after the grace. */
  function stopAll(signal) {
    if (children.length === 0) finish();
    for (const { child, last } of children) if (!last && running(child)) child.kill(signal);
    if (othersGone()) stopLast(signal);
    setTimeout(() => {
      for (const { child } of children) if (running(child)) child.kill('SIGKILL');
    }, stopGraceMs).unref();
  }

  // A child in its own process group outlives this process unless told: never leave one behind.
  process.on('exit', () => {
    for (const { child, detached } of children) if (detached && running(child)) child.kill();
  });

  return {
    /** Whether everything is being stopped. */
    get stopping() {
      return stopping;
    },

    /** Runs `fn` just before this process exits after its children. */
    onCleanup(fn) {
      cleanups.push(fn);
    },

    /**
     * Starts `command`; its exit while nothing is stopping stops everything, after
     * `onUnexpectedExit` (e.g. printing its log).
     */
    launch(name, command, args, options = {}) {
      const { env = process.env, last = false, stdio = 'inherit', onUnexpectedExit } = options;
      const detached = last;
      const child = spawn(command, args, { cwd, env, stdio, detached });
      const entry = { name, child, last, detached, exited: false };
      children.push(entry);
      const gone = (code, signal) => {
        if (entry.exited) return;
        entry.exited = true;
        if (!stopping) {
          // One went away on its own: the rest is useless without it, so stop them too.
          stopping = true;
          exitCode = code ?? 1;
          process.stderr.write(`${name} exited (${signal ?? `code ${code}`}); stopping.\n`);
          onUnexpectedExit?.();
          stopAll('SIGTERM');
        } else if (code !== 0 && code !== null && exitCode === 0 && !last) {
          exitCode = code;
        }
        if (children.every((c) => c.exited)) finish();
        else if (othersGone()) stopLast('SIGTERM');
      };
      child.on('error', (err) => {
        process.stderr.write(`${name}: cannot start: ${err.message}\n`);
        // A process that never started emits no exit.
        if (child.pid === undefined) gone(1, null);
      });
      child.on('exit', gone);
      return child;
    },

    /** Stops everything (a signal, or `code` after a failure of this script's own). */
    stop(signal = 'SIGTERM', code = 0) {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      stopAll(signal);
    },
  };
}
