// Every call into the Rust side goes through this module, typed.
import { invoke } from '@tauri-apps/api/core';

/** Mirrors `CommandError` in src-tauri/src/error.rs. */
export interface CommandError {
  kind: string;
  message: string;
}

export interface AppInfo {
  name: string;
  version: string;
}

/** Turns whatever a rejected `invoke` produced into a `CommandError`. */
export function toCommandError(e: unknown): CommandError {
  if (typeof e === 'object' && e !== null && 'kind' in e) {
    const { kind, message } = e as { kind: unknown; message?: unknown };
    if (typeof kind === 'string') {
      return { kind, message: typeof message === 'string' ? message : kind };
    }
  }
  if (e instanceof Error) return { kind: 'ipc', message: e.message };
  return { kind: 'ipc', message: String(e) };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toCommandError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>('app_info'),
};
