// One shared one-second clock for every countdown on screen.

type Tick = (nowMs: number) => void;
const ticks = new Set<Tick>();
let timer: ReturnType<typeof setTimeout> | undefined;

function schedule(): void {
  // Fire just after each whole second so countdowns change together.
  const delay = 1000 - (Date.now() % 1000) + 5;
  timer = setTimeout(() => {
    const now = Date.now();
    for (const fn of [...ticks]) fn(now);
    if (ticks.size > 0) schedule();
    else timer = undefined;
  }, delay);
}

/** Calls `fn` every second until the returned function is called. */
export function onTick(fn: Tick): () => void {
  ticks.add(fn);
  if (timer === undefined) schedule();
  return () => {
    ticks.delete(fn);
  };
}
