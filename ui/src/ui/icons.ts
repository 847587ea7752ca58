// Line icons (24×24, stroked with currentColor), built as SVG elements.
// Decorative: always aria-hidden; the text next to them carries the meaning.

const NS = 'http://www.w3.org/2000/svg';

type Shape = ['path', string] | ['circle', number, number, number] | ['rect', number, number, number, number, number];

const ICONS = {
  home: [
    ['path', 'M3 10.5 12 3l9 7.5'],
    ['path', 'M5 9v11a1 1 0 0 0 1 1h4v-6h4v6h4a1 1 0 0 0 1-1V9'],
  ],
  history: [
    ['path', 'M3.5 12a8.5 8.5 0 1 0 2.6-6.1'],
    ['path', 'M3 3.5V8h4.5'],
    ['path', 'M12 7.5V12l3 2'],
  ],
  settings: [
    ['path', 'M4 7h9'],
    ['path', 'M19 7h1'],
    ['circle', 16, 7, 2.5],
    ['path', 'M4 17h2'],
    ['path', 'M12 17h8'],
    ['circle', 9, 17, 2.5],
  ],
  copy: [
    ['rect', 9, 9, 12, 12, 2],
    ['path', 'M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1'],
  ],
  check: [['path', 'M5 12.5 10 17.5 19 7']],
  x: [['path', 'M6 6l12 12M18 6 6 18']],
  flag: [
    ['path', 'M5 21V4'],
    ['path', 'M5 4h12l-2.5 4.5L17 13H5'],
  ],
  alert: [
    ['path', 'M10.3 3.9 2.4 17.5A2 2 0 0 0 4.1 20.5h15.8a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z'],
    ['path', 'M12 9.5v4'],
    ['path', 'M12 17h.01'],
  ],
  ban: [
    ['circle', 12, 12, 9],
    ['path', 'M5.7 5.7l12.6 12.6'],
  ],
  mail: [
    ['rect', 3, 5, 18, 14, 2],
    ['path', 'M3.5 7 12 13l8.5-6'],
  ],
  phone: [
    ['rect', 6, 2.5, 12, 19, 2.5],
    ['path', 'M11 18h2'],
  ],
  chevronRight: [['path', 'M9 6l6 6-6 6']],
  chevronLeft: [['path', 'M15 6l-6 6 6 6']],
  globe: [
    ['circle', 12, 12, 9],
    ['path', 'M3 12h18'],
    ['path', 'M12 3c2.5 2.6 3.8 5.6 3.8 9s-1.3 6.4-3.8 9c-2.5-2.6-3.8-5.6-3.8-9S9.5 5.6 12 3z'],
  ],
  monitor: [
    ['rect', 3, 4, 18, 12, 2],
    ['path', 'M8 20h8'],
    ['path', 'M12 16v4'],
  ],
  pin: [
    ['path', 'M12 21s-7-6.1-7-11a7 7 0 0 1 14 0c0 4.9-7 11-7 11z'],
    ['circle', 12, 10, 2.5],
  ],
  clock: [
    ['circle', 12, 12, 9],
    ['path', 'M12 7v5l3 2'],
  ],
  shield: [
    ['path', 'M12 3 4.5 6v5.5c0 4.6 3.2 8.4 7.5 9.5 4.3-1.1 7.5-4.9 7.5-9.5V6L12 3z'],
    ['path', 'M8.8 12.2l2.3 2.3 4.3-4.6'],
  ],
  key: [
    ['circle', 8, 15, 4],
    ['path', 'M11 12l8.5-8.5'],
    ['path', 'M16 7l2.5 2.5'],
    ['path', 'M18.5 4.5 21 7'],
  ],
  link: [
    ['path', 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1'],
    ['path', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  ],
  bell: [
    ['path', 'M6 9a6 6 0 0 1 12 0c0 6 2.5 8 2.5 8h-17S6 15 6 9z'],
    ['path', 'M10.2 20.5a2 2 0 0 0 3.6 0'],
  ],
  power: [
    ['path', 'M12 3v8'],
    ['path', 'M17.7 6.5a8 8 0 1 1-11.4 0'],
  ],
  server: [
    ['rect', 3, 4, 18, 7, 2],
    ['rect', 3, 13, 18, 7, 2],
    ['path', 'M7 7.5h.01'],
    ['path', 'M7 16.5h.01'],
  ],
  qr: [
    ['rect', 3.5, 3.5, 6.5, 6.5, 1],
    ['rect', 14, 3.5, 6.5, 6.5, 1],
    ['rect', 3.5, 14, 6.5, 6.5, 1],
    ['path', 'M14 14h2.5v2.5H14z'],
    ['path', 'M20.5 14v.01'],
    ['path', 'M14 20.5h.01'],
    ['path', 'M18 18h2.5v2.5H18z'],
  ],
  info: [
    ['circle', 12, 12, 9],
    ['path', 'M12 16v-4.5'],
    ['path', 'M12 8h.01'],
  ],
  inbox: [
    ['path', 'M3 13h5l1.5 3h5l1.5-3h5'],
    ['path', 'M5.5 5h13L21 13v5a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-5l2.5-8z'],
  ],
  logout: [
    ['path', 'M9.5 20.5H6a2 2 0 0 1-2-2v-13a2 2 0 0 1 2-2h3.5'],
    ['path', 'M16 16.5 20.5 12 16 7.5'],
    ['path', 'M20.5 12H9.5'],
  ],
  lock: [
    ['rect', 4.5, 10.5, 15, 10.5, 2],
    ['path', 'M8 10.5V7a4 4 0 0 1 8 0v3.5'],
  ],
} satisfies Record<string, Shape[]>;

export type IconName = keyof typeof ICONS;

export function icon(name: IconName, cls = ''): SVGSVGElement {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon ${cls}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const shape of ICONS[name] as Shape[]) {
    let el: SVGElement;
    if (shape[0] === 'path') {
      el = document.createElementNS(NS, 'path');
      el.setAttribute('d', shape[1]);
    } else if (shape[0] === 'circle') {
      el = document.createElementNS(NS, 'circle');
      el.setAttribute('cx', String(shape[1]));
      el.setAttribute('cy', String(shape[2]));
      el.setAttribute('r', String(shape[3]));
    } else {
      el = document.createElementNS(NS, 'rect');
      el.setAttribute('x', String(shape[1]));
      el.setAttribute('y', String(shape[2]));
      el.setAttribute('width', String(shape[3]));
      el.setAttribute('height', String(shape[4]));
      el.setAttribute('rx', String(shape[5]));
    }
    svg.appendChild(el);
  }
  return svg;
}

/** The Authentiq mark: a rounded brand square with a white "A". */
export function logo(cls = ''): SVGSVGElement {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', `logo ${cls}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const bg = document.createElementNS(NS, 'rect');
  bg.setAttribute('width', '32');
  bg.setAttribute('height', '32');
  bg.setAttribute('rx', '8');
  bg.setAttribute('class', 'logo-bg');
  const a = document.createElementNS(NS, 'path');
  a.setAttribute('d', 'M9.5 24 16 7.5 22.5 24');
  a.setAttribute('class', 'logo-fg');
  const bar = document.createElementNS(NS, 'path');
  bar.setAttribute('d', 'M12 18.2h8');
  bar.setAttribute('class', 'logo-fg');
  svg.append(bg, a, bar);
  return svg;
}
