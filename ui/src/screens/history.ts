// History: every decision on this device, newest first, grouped by day.
import { api, type CommandError, type Decision, type DecisionResult } from '../api';
import { clockTime, describeUserAgent, fullDateTime, groupByDay, isoTime } from '../format';
import { bindingMessage, decisionDetail, generalErrorMessage, isBackchannel, knownPurpose, requestKind } from '../request-logic';
import { store } from '../store';
import { h, metaLine, replace, spinner } from '../ui/dom';
import { icon, type IconName } from '../ui/icons';
import type { Screen } from './types';

const LIMIT = 200;

export const RESULT_TEXT: Record<DecisionResult, { icon: IconName; label: string }> = {
  approved: { icon: 'check', label: 'Approved' },
  denied: { icon: 'x', label: 'Denied' },
  reported: { icon: 'flag', label: 'Reported' },
  refused: { icon: 'ban', label: 'Refused by server' },
};

export function historyScreen(): Screen {
  const title = h('h1', { class: 'screen-title', tabindex: '-1' }, 'History');
  const body = h('div', { class: 'history-body', 'aria-live': 'polite', 'aria-busy': 'true' }, h('div', { class: 'loading' }, spinner(), 'Loading…'));
  const el = h(
    'section',
    { id: 'history', class: 'screen history' },
    h('div', { class: 'screen-head screen-head-row' }, title),
    h('p', { class: 'lead lead-sm' }, 'Sign-ins you approved or denied on this computer.'),
    body,
  );
  let destroyed = false;
  let seq = 0;

  function row(d: Decision): HTMLElement {
    const r = RESULT_TEXT[d.result] ?? { icon: 'info' as IconName, label: d.result };
    const backchannel = isBackchannel(d);
    const ua = backchannel ? null : describeUserAgent(d.user_agent);
    const message = bindingMessage(d);
    return h(
      'li',
      {
        class: `history-row hist-${d.result}`,
        'data-result': d.result,
        'data-request-id': d.request_id,
        'data-purpose': knownPurpose(d.purpose),
        'data-backchannel': String(backchannel),
      },
      h('span', { class: 'history-icon' }, icon(r.icon)),
      h(
        'span',
        { class: 'history-main' },
        h('span', { class: 'history-client' }, d.client_name),
        h('span', { class: 'history-meta' }, metaLine([requestKind(d.purpose, d, d.client_name), d.ip, ua])),
        message !== null ? h('span', { class: 'history-message' }, `“${message}”`) : null,
        d.detail ? h('span', { class: 'history-detail' }, decisionDetail(d.detail)) : null,
      ),
      h(
        'span',
        { class: 'history-side' },
        h('span', { class: 'history-result' }, r.label),
        h('time', { datetime: isoTime(d.decided_at), title: fullDateTime(d.decided_at) }, clockTime(d.decided_at)),
      ),
    );
  }

  async function load(): Promise<void> {
    const mine = ++seq;
    try {
      const items = await api.history(LIMIT);
      if (destroyed || mine !== seq) return;
      body.removeAttribute('aria-busy');
      if (items.length === 0) {
        replace(
          body,
          h(
            'div',
            { class: 'empty' },
            h('span', { class: 'empty-icon' }, icon('history')),
            h('p', { class: 'empty-title' }, 'Nothing here yet'),
            h('p', { class: 'muted' }, 'Your sign-in decisions will be listed here.'),
          ),
        );
        return;
      }
      const groups = groupByDay(items, Date.now());
      replace(
        body,
        groups.map((g) =>
          h(
            'section',
            { class: 'history-group', 'aria-label': g.label },
            h('h2', { class: 'section-title' }, g.label),
            h('ul', { class: 'list history-list' }, g.items.map(row)),
          ),
        ),
      );
    } catch (err) {
      if (destroyed || mine !== seq) return;
      body.removeAttribute('aria-busy');
      const retry = h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => void load() }, 'Try again');
      replace(
        body,
        h(
          'div',
          { class: 'empty' },
          h('span', { class: 'empty-icon empty-icon-error' }, icon('alert')),
          h('p', { class: 'empty-title' }, 'Couldn’t load your history'),
          h('p', { class: 'muted', role: 'alert' }, generalErrorMessage(err as CommandError)),
          retry,
        ),
      );
    }
  }

  void load();
  // A decision made elsewhere (notification, another window) changes the inbox.
  let last = JSON.stringify(store.status?.pending.map((r) => r.id) ?? []);
  const unsub = store.subscribe(() => {
    const now = JSON.stringify(store.status?.pending.map((r) => r.id) ?? []);
    if (now !== last) {
      last = now;
      void load();
    }
  });

  return {
    el,
    title: 'History',
    focusTarget: title,
    destroy: () => {
      destroyed = true;
      unsub();
    },
  };
}
