import { startApp } from './app';

async function main(): Promise<void> {
  // Development only: `vite --mode mock` stands in for the Rust side. The
  // condition is a build-time constant, so production builds drop the mock.
  if (import.meta.env.MODE === 'mock') {
    const { installMock } = await import('./mock/index');
    installMock();
  }
  const root = document.getElementById('root');
  if (root) startApp(root);
  if (import.meta.env.MODE === 'mock') {
    const { runScript } = await import('./mock/index');
    void runScript();
  }
}

void main();
