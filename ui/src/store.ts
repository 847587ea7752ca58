// The app's shared state: the last `status()`, kept live by the Rust side's
// events. Screens subscribe and re-render what changed.
import { api, type DeviceRequest, type RequestView, type Status } from './api';

type Listener = () => void;

class Store {
  status: Status | null = null;
  /** Requests opened from a pasted sign-in link, until the inbox has them. */
  private opened = new Map<string, RequestView>();
  private listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn();
  }

  async refresh(): Promise<Status> {
    const status = await api.status();
    this.status = status;
    this.notify();
    return status;
  }

  get connected(): boolean {
    return this.status?.connected ?? false;
  }

  /** Pending requests, newest first, without the expired ones. */
  pending(nowMs = Date.now()): RequestView[] {
    const list = this.status?.pending ?? [];
    return list
      .filter((r) => r.expires_at * 1000 > nowMs)
      .sort((a, b) => b.received_at - a.received_at);
  }

  setPending(list: RequestView[]): void {
    if (!this.status) return;
    this.status = { ...this.status, pending: list };
    this.notify();
  }

  /** What the ID's other devices ask of this one, newest first. */
  deviceRequests(): DeviceRequest[] {
    return [...(this.status?.device_requests ?? [])].sort((a, b) => b.received_at - a.received_at);
  }

  setDeviceRequests(list: DeviceRequest[]): void {
    if (!this.status) return;
    this.status = { ...this.status, device_requests: list };
    this.notify();
  }

  setConnected(connected: boolean, problem: string | null = null): void {
    if (!this.status) return;
    if (this.status.connected === connected && this.status.channel_problem === problem) return;
    this.status = { ...this.status, connected, channel_problem: problem };
    this.notify();
  }

  remember(view: RequestView): void {
    this.opened.set(view.id, view);
  }

  /** A pending request by id (from the inbox or an opened link). */
  find(id: string): RequestView | undefined {
    return this.status?.pending.find((r) => r.id === id) ?? this.opened.get(id);
  }

  /** Whether the request is still in the inbox (not answered elsewhere, not gone). */
  isPending(id: string): boolean {
    return (this.status?.pending ?? []).some((r) => r.id === id);
  }
}

export const store = new Store();
