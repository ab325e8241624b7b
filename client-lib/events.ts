/**
 * A minimal typed event emitter: one context object per event, listeners removed by the
 * function `on` returns. No Node or DOM dependency, so it works in both.
 */

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;

/** Emits events whose payload types are given by the map `E`. */
export class TypedEmitter<E extends object> {
  private listeners: { [K in keyof E]?: Array<(ctx: E[K]) => void> } = {};

  /** Calls `listener` with each `event`'s context until the returned function is called. */
  on<K extends keyof E>(event: K, listener: (ctx: E[K]) => void): Unsubscribe {
    (this.listeners[event] ??= []).push(listener);
    return () => this.off(event, listener);
  }

  /** Like {@link on}, for the next occurrence only. */
  once<K extends keyof E>(event: K, listener: (ctx: E[K]) => void): Unsubscribe {
    const off = this.on(event, (ctx) => {
      off();
      listener(ctx);
    });
    return off;
  }

  /** Removes a listener added with {@link on}. */
  off<K extends keyof E>(event: K, listener: (ctx: E[K]) => void): void {
    const list = this.listeners[event];
    if (list === undefined) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
  }

  /** Calls every listener of `event`; a throwing listener does not stop the others. */
  protected emit<K extends keyof E>(event: K, ctx: E[K]): void {
    const list = this.listeners[event];
    if (list === undefined) return;
    for (const listener of [...list]) {
      try {
        listener(ctx);
      } catch (err) {
        // Surface listener bugs without breaking the client's own state machine.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
