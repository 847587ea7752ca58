/** What every screen module returns. */
export interface Screen {
  el: HTMLElement;
  /** The window title ("History — Authentiq"). */
  title: string;
  /** Where focus goes when the screen opens (default: its h1). */
  focusTarget?: HTMLElement;
  /** Stops timers and subscriptions. */
  destroy?: () => void;
}
