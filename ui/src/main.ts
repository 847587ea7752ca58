import { api, type CommandError } from './api';

async function start(): Promise<void> {
  const status = document.getElementById('status');
  const version = document.getElementById('version');
  try {
    const info = await api.appInfo();
    if (version) version.textContent = `v${info.version}`;
    if (status) status.textContent = 'Ready.';
  } catch (e) {
    if (status) {
      status.textContent = `Cannot reach the app core: ${(e as CommandError).message}`;
      status.classList.add('error');
    }
  }
}

void start();
