// The flow drawn as a graph in SVG: steps as nodes, links as edges. Pan by
// dragging the background, zoom with the wheel or the buttons, drag a node
// to move it, drag from an output port (or click it, then click a step) to
// link it. The graph owns no data: it reads the flow through cb.flow() and
// reports what the designer did through the callbacks.

import { s } from './dom.js';
import { ports, summary, TYPES } from './steps.js';

export const NODE_W = 230;
const HEAD = 26;
const BODY = 46;
const PORT_H = 24;
const MIN_K = 0.25;
const MAX_K = 2;

/** nodeHeight is a step's drawn height. */
export function nodeHeight(step) {
  return HEAD + BODY + Math.max(ports(step).length, 0) * PORT_H + 8;
}

function clip(text, n) {
  const t = String(text ?? '').replace(/\s+/g, ' ');
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

// statsOf turns a step's stats into the line shown under its node (runs,
// failures, refused replies, turns stopped there by the step cap or time
// limit, conversations waiting there) and the detail shown on hover.
function statsOf(x) {
  if (!x) return null;
  const failed = x.outcomes.failure || 0;
  const refused = (x.outcomes.invalid_input || 0) + (x.outcomes.invalid_choice || 0);
  const parts = [`${x.runs} run${x.runs === 1 ? '' : 's'}`];
  if (failed) parts.push(`${failed} failed`);
  if (refused) parts.push(`${refused} refused`);
  const stopped = Object.values(x.stopped || {}).reduce((a, b) => a + b, 0);
  if (stopped) parts.push(`${stopped} stopped`);
  if (x.waiting) parts.push(`${x.waiting} waiting`);
  const detail = [`${x.conversations} conversation(s) ran this step`,
    ...Object.entries(x.outcomes).map(([k, v]) => `${k}: ${v}`),
    ...Object.entries(x.errors || {}).map(([k, v]) => `failed, ${k}: ${v}`),
    ...Object.entries(x.stopped || {}).map(([k, v]) => `turn stopped before it, ${k}: ${v}`),
    x.waiting ? `${x.waiting} active conversation(s) wait here now` : ''].filter(Boolean);
  return { line: parts.join(' · '), detail: detail.join('\n'), failed: failed + stopped };
}

/**
 * createGraph draws into svg. cb: flow(), problems(id) → {errors, warnings,
 * messages}, stats(id) → a step's stats (GET /v1/bots/{id}/stats) or
 * nothing, selected() → {kind, id, port}, onSelect(sel), onMove(id),
 * onConnect(from, port, to), onDelete(what: {kind, id} or null for the
 * selection), onStatus(text).
 */
export function createGraph(svg, cb) {
  const view = { x: 40, y: 40, k: 1 };
  let fitted = false; // the view is the one fit() chose: nobody panned or zoomed since
  let drag = null;
  let connecting = null; // {from, port} after a click on a port

  svg.setAttribute('role', 'application');
  svg.setAttribute('aria-roledescription', 'flow graph');
  const defs = s('defs', null,
    s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' })),
    s('pattern', { id: 'grid', width: 24, height: 24, patternUnits: 'userSpaceOnUse' },
      s('circle', { cx: 1, cy: 1, r: 1, class: 'grid-dot' })));
  const bg = s('rect', { class: 'bg', width: '100%', height: '100%', fill: 'url(#grid)' });
  const world = s('g', { class: 'world' });
  const edgesLayer = s('g', { class: 'edges' });
  const nodesLayer = s('g', { class: 'nodes' });
  const tempLine = s('path', { class: 'temp-edge', d: '', 'marker-end': 'url(#arrow)' });
  world.append(edgesLayer, nodesLayer, tempLine);
  svg.append(defs, bg, world);

  const stepById = (id) => cb.flow().steps.find((x) => x.id === id);
  const applyView = () => {
    world.setAttribute('transform', `translate(${view.x} ${view.y}) scale(${view.k})`);
    svg.dataset.zoom = view.k.toFixed(2);
  };
  const toWorld = (cx, cy) => {
    const r = svg.getBoundingClientRect();
    return { x: (cx - r.left - view.x) / view.k, y: (cy - r.top - view.y) / view.k };
  };
  const pos = (st) => st.position || { x: 0, y: 0 };

  function portPoint(st, i) {
    const p = pos(st);
    return { x: p.x + NODE_W, y: p.y + HEAD + BODY + i * PORT_H + PORT_H / 2 };
  }
  function inPoint(st) {
    const p = pos(st);
    return { x: p.x, y: p.y + HEAD / 2 };
  }
  function curve(a, b) {
    const dx = Math.max(50, Math.abs(b.x - a.x) / 2);
    return { d: `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`, c1: { x: a.x + dx, y: a.y }, c2: { x: b.x - dx, y: b.y } };
  }
  function mid(a, c1, c2, b) { // cubic Bézier at t = 0.5
    return { x: (a.x + 3 * c1.x + 3 * c2.x + b.x) / 8, y: (a.y + 3 * c1.y + 3 * c2.y + b.y) / 8 };
  }

  function renderEdges() {
    edgesLayer.replaceChildren();
    const sel = cb.selected();
    const flow = cb.flow();
    const start = flow.steps.find((x) => x.id === flow.start);
    if (start) {
      const b = inPoint(start);
      const a = { x: b.x - 70, y: b.y };
      edgesLayer.append(s('g', { class: 'edge start-edge' },
        s('circle', { cx: a.x - 8, cy: a.y, r: 8, class: 'start-dot' }),
        s('path', { class: 'edge-line', d: `M${a.x},${a.y} L${b.x},${b.y}`, 'marker-end': 'url(#arrow)' })));
    }
    for (const st of flow.steps) {
      ports(st).forEach((p, i) => {
        if (!p.target) return;
        const to = stepById(p.target);
        if (!to) return;
        const a = portPoint(st, i);
        const b = inPoint(to);
        const c = curve(a, b);
        const selected = sel && sel.kind === 'edge' && sel.id === st.id && sel.port === p.port;
        const g = s('g', {
          class: ['edge', `edge-${p.kind}`, selected && 'selected'],
          dataset: { from: st.id, port: p.port, to: p.target },
        }, s('title', null, `${st.id} —${p.label}→ ${p.target}`),
        s('path', { class: 'edge-hit', d: c.d }),
        s('path', { class: 'edge-line', d: c.d, 'marker-end': 'url(#arrow)' }));
        if (p.kind !== 'next') {
          const m = mid(a, c.c1, c.c2, b);
          const text = clip(p.label, 24);
          const w = text.length * 6.6 + 12;
          g.append(s('g', { class: 'edge-label', transform: `translate(${m.x} ${m.y})` },
            s('rect', { x: -w / 2, y: -10, width: w, height: 20, rx: 10 }),
            s('text', { 'text-anchor': 'middle', y: 4 }, text)));
        }
        edgesLayer.append(g);
      });
    }
  }

  function renderNode(st) {
    const p = pos(st);
    const sel = cb.selected();
    const flow = cb.flow();
    const pr = cb.problems(st.id);
    const ps = ports(st);
    const hgt = nodeHeight(st);
    const meta = TYPES[st.type] || { label: st.type };
    const sx = statsOf(cb.stats?.(st.id));
    const label = `${meta.label} step ${st.id}${st.id === flow.start ? ', start' : ''}${pr.errors ? `, ${pr.errors} problem(s)` : ''}${sx ? `, ${sx.line}` : ''}`;
    const g = s('g', {
      class: ['node', `type-${st.type}`, sel && sel.kind === 'step' && sel.id === st.id && 'selected',
        pr.errors && 'has-error', !pr.errors && pr.warnings && 'has-warning', st.id === flow.start && 'start'],
      transform: `translate(${p.x} ${p.y})`, tabindex: 0, role: 'button', 'aria-label': label,
      ...(st.description ? { 'aria-description': st.description } : {}),
      dataset: { step: st.id },
    },
    st.description ? s('title', null, st.description) : null,
    s('rect', { class: 'node-body', width: NODE_W, height: hgt, rx: 8 }),
    s('path', { class: 'node-head', d: `M0,8 a8,8 0 0 1 8,-8 h${NODE_W - 16} a8,8 0 0 1 8,8 v${HEAD - 8} h-${NODE_W} z` }),
    s('text', { class: 'node-type', x: 10, y: 17 }, meta.label.toUpperCase()),
    st.id === flow.start ? s('text', { class: 'node-start', x: NODE_W - 10, y: 17, 'text-anchor': 'end' }, 'START') : null,
    s('text', { class: 'node-title', x: 10, y: HEAD + 19 }, clip(st.name || st.id, 26)),
    s('text', { class: 'node-text', x: 10, y: HEAD + 37 }, clip(summary(st), 30)),
    s('circle', { class: 'port-in', cx: 0, cy: HEAD / 2, r: 5 }));
    ps.forEach((q, i) => {
      const y = HEAD + BODY + i * PORT_H;
      g.append(s('g', { class: ['port', `port-${q.kind}`, q.target && 'linked'], dataset: { port: q.port }, transform: `translate(0 ${y})` },
        s('title', null, q.target ? `${q.label} → ${q.target} (drag to another step to relink)` : `${q.label}: drag to a step, or click it and then a step`),
        s('line', { class: 'port-sep', x1: 0, y1: 0, x2: NODE_W, y2: 0 }),
        s('rect', { class: 'port-hit', x: NODE_W - 110, y: 0, width: 120, height: PORT_H }),
        s('text', { class: 'port-label', x: NODE_W - 14, y: PORT_H / 2 + 4, 'text-anchor': 'end' }, clip(q.label, 20)),
        s('circle', { class: 'port-out', cx: NODE_W, cy: PORT_H / 2, r: 6 })));
    });
    if (sx) {
      g.append(s('g', { class: ['stats', sx.failed && 'stats-failed'], transform: `translate(0 ${hgt + 6})` },
        s('title', null, sx.detail),
        s('text', { class: 'stats-text', x: 2, y: 12 }, sx.line)));
    }
    if (pr.errors || pr.warnings) {
      g.append(s('g', { class: ['badge', pr.errors ? 'badge-error' : 'badge-warning'], transform: `translate(${NODE_W - 4} 0)` },
        s('title', null, pr.messages.join('\n')),
        s('circle', { r: 10 }),
        s('text', { 'text-anchor': 'middle', y: 4 }, String(pr.errors || pr.warnings))));
    }
    return g;
  }

  function render() {
    const active = document.activeElement;
    const focused = active && active.closest && active.closest('.node')?.dataset.step;
    // Only steps whose drawing changed are replaced: a node the designer
    // is pointing at (or a test is clicking) survives unrelated updates,
    // such as an autosave's answer.
    const steps = cb.flow().steps;
    const sel = cb.selected();
    const flowStart = cb.flow().start;
    const sig = (st) => JSON.stringify([st, sel && sel.kind === 'step' && sel.id === st.id, st.id === flowStart, cb.problems(st.id), cb.stats?.(st.id)]);
    const old = [...nodesLayer.children];
    if (old.length === steps.length && old.every((g, i) => g.dataset.step === steps[i].id)) {
      steps.forEach((st, i) => {
        const k = sig(st);
        if (old[i].fbSig === k) return;
        const g = renderNode(st);
        g.fbSig = k;
        old[i].replaceWith(g);
      });
    } else {
      nodesLayer.replaceChildren(...steps.map((st) => { const g = renderNode(st); g.fbSig = sig(st); return g; }));
    }
    renderEdges();
    applyView();
    svg.classList.toggle('connecting', !!connecting);
    if (focused) nodesLayer.querySelector(`.node[data-step="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
  }

  function zoomAt(factor, cx, cy) {
    const r = svg.getBoundingClientRect();
    const px = cx ?? r.width / 2;
    const py = cy ?? r.height / 2;
    const k = Math.min(MAX_K, Math.max(MIN_K, view.k * factor));
    view.x = px - ((px - view.x) * k) / view.k;
    view.y = py - ((py - view.y) * k) / view.k;
    view.k = k;
    fitted = false;
    applyView();
  }

  function fit() {
    const steps = cb.flow().steps;
    const r = svg.getBoundingClientRect();
    if (!steps.length || !r.width) { view.x = 40; view.y = 40; view.k = 1; applyView(); return; }
    let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
    for (const st of steps) {
      const p = pos(st);
      x0 = Math.min(x0, p.x - 110); y0 = Math.min(y0, p.y - 40);
      x1 = Math.max(x1, p.x + NODE_W + 40); y1 = Math.max(y1, p.y + nodeHeight(st) + 40);
    }
    const k = Math.min(1.1, Math.max(MIN_K, Math.min(r.width / (x1 - x0), r.height / (y1 - y0))));
    view.k = k;
    view.x = (r.width - (x1 - x0) * k) / 2 - x0 * k;
    view.y = (r.height - (y1 - y0) * k) / 2 - y0 * k;
    fitted = true;
    applyView();
  }

  // A canvas that changes size (the window, or the narrow layout's
  // canvas over the panel) is fitted again, unless the designer has
  // panned or zoomed since the last fit: that view is theirs.
  const resized = new ResizeObserver(() => { if (fitted) fit(); });
  resized.observe(svg);

  function setConnecting(c) {
    connecting = c;
    svg.classList.toggle('connecting', !!c);
    cb.onStatus(c ? `Linking “${c.label}” of ${c.from}: click the step it leads to (Esc cancels).` : '');
    render();
  }

  // Pointer handling, delegated: port → link, node → move/select, edge →
  // select, background → pan.
  svg.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    const portEl = e.target.closest('.port');
    const nodeEl = e.target.closest('.node');
    const edgeEl = e.target.closest('.edge[data-from]');
    const w = toWorld(e.clientX, e.clientY);
    if (connecting && nodeEl && !portEl) {
      const c = connecting;
      setConnecting(null);
      cb.onConnect(c.from, c.port, nodeEl.dataset.step);
      e.preventDefault();
      return;
    }
    if (connecting && !portEl) setConnecting(null);
    if (portEl && nodeEl) {
      const st = stepById(nodeEl.dataset.step);
      const i = ports(st).findIndex((q) => q.port === portEl.dataset.port);
      drag = { mode: 'link', from: st.id, port: portEl.dataset.port, label: ports(st)[i].label, a: portPoint(st, i), sx: e.clientX, sy: e.clientY, moved: false };
    } else if (nodeEl) {
      const st = stepById(nodeEl.dataset.step);
      drag = { mode: 'node', id: st.id, el: nodeEl, dx: w.x - pos(st).x, dy: w.y - pos(st).y, sx: e.clientX, sy: e.clientY, moved: false };
    } else if (edgeEl) {
      cb.onSelect({ kind: 'edge', id: edgeEl.dataset.from, port: edgeEl.dataset.port });
      return;
    } else {
      drag = { mode: 'pan', x: view.x, y: view.y, sx: e.clientX, sy: e.clientY, moved: false };
    }
    svg.setPointerCapture(e.pointerId);
    e.preventDefault();
  });

  svg.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.sx;
    const dy = e.clientY - drag.sy;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    if (drag.mode === 'pan') {
      view.x = drag.x + dx; view.y = drag.y + dy; fitted = false; applyView();
    } else if (drag.mode === 'node') {
      const st = stepById(drag.id);
      const w = toWorld(e.clientX, e.clientY);
      st.position = { x: Math.round(w.x - drag.dx), y: Math.round(w.y - drag.dy) };
      drag.el.setAttribute('transform', `translate(${st.position.x} ${st.position.y})`);
      renderEdges();
    } else if (drag.mode === 'link') {
      const b = toWorld(e.clientX, e.clientY);
      tempLine.setAttribute('d', curve(drag.a, b).d);
      svg.classList.add('linking');
    }
  });

  const endDrag = (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (svg.hasPointerCapture(e.pointerId)) svg.releasePointerCapture(e.pointerId);
    tempLine.setAttribute('d', '');
    svg.classList.remove('linking');
    if (e.type === 'pointercancel') return;
    if (d.mode === 'node') {
      if (d.moved) cb.onMove(d.id); else cb.onSelect({ kind: 'step', id: d.id });
    } else if (d.mode === 'pan' && !d.moved) {
      cb.onSelect(null);
    } else if (d.mode === 'link') {
      if (!d.moved) { setConnecting({ from: d.from, port: d.port, label: d.label }); return; }
      const target = document.elementFromPoint(e.clientX, e.clientY)?.closest('.node');
      if (target) cb.onConnect(d.from, d.port, target.dataset.step);
    }
  };
  svg.addEventListener('pointerup', endDrag);
  svg.addEventListener('pointercancel', endDrag);

  svg.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = svg.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });

  // Keyboard: Enter selects the focused step; arrows move it; Delete
  // removes it (the focused step, which need not be the selected one: the
  // key acts where the focus ring is), or the selection when no step has
  // the focus; + and - zoom; Escape cancels a link.
  svg.addEventListener('keydown', (e) => {
    const nodeEl = e.target.closest && e.target.closest('.node');
    if (e.key === 'Escape' && connecting) { setConnecting(null); return; }
    if (nodeEl && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      if (connecting) { const c = connecting; setConnecting(null); cb.onConnect(c.from, c.port, nodeEl.dataset.step); return; }
      cb.onSelect({ kind: 'step', id: nodeEl.dataset.step });
      return;
    }
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (nodeEl && moves[e.key]) {
      e.preventDefault();
      const st = stepById(nodeEl.dataset.step);
      const step = e.shiftKey ? 5 : 20;
      st.position = { x: pos(st).x + moves[e.key][0] * step, y: pos(st).y + moves[e.key][1] * step };
      render();
      cb.onMove(st.id);
      return;
    }
    if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      cb.onDelete(nodeEl ? { kind: 'step', id: nodeEl.dataset.step } : null);
      return;
    }
    if (e.key === '+' || e.key === '=') zoomAt(1.2);
    if (e.key === '-') zoomAt(1 / 1.2);
  });

  return {
    render,
    fit,
    zoomIn: () => zoomAt(1.2),
    zoomOut: () => zoomAt(1 / 1.2),
    /** freeSpot returns a world position near the view's centre, or right of `near`, that no node covers. */
    freeSpot(near) {
      const r = svg.getBoundingClientRect();
      let p = near ? { x: near.x + NODE_W + 80, y: near.y } : toWorld(r.left + r.width / 2 - (NODE_W * view.k) / 2, r.top + 60);
      p = { x: Math.round(p.x / 10) * 10, y: Math.round(p.y / 10) * 10 };
      const steps = cb.flow().steps;
      const hit = (q) => steps.some((st) => Math.abs(pos(st).x - q.x) < NODE_W + 20 && Math.abs(pos(st).y - q.y) < nodeHeight(st) + 20);
      for (let i = 0; i < 50 && hit(p); i++) p = { x: p.x, y: p.y + 60 };
      return p;
    },
    /** reveal pans so that a step is in view. */
    reveal(id) {
      const st = stepById(id);
      if (!st) return;
      const r = svg.getBoundingClientRect();
      const p = pos(st);
      const sx = p.x * view.k + view.x;
      const sy = p.y * view.k + view.y;
      if (sx < 20 || sy < 20 || sx + NODE_W * view.k > r.width - 20 || sy + nodeHeight(st) * view.k > r.height - 20) {
        view.x = r.width / 2 - (p.x + NODE_W / 2) * view.k;
        view.y = r.height / 3 - p.y * view.k;
        fitted = false;
        applyView();
      }
    },
    cancelLink: () => { if (connecting) setConnecting(null); },
    /** destroy stops watching the canvas's size. */
    destroy: () => resized.disconnect(),
    focusStep(id) { nodesLayer.querySelector(`.node[data-step="${CSS.escape(id)}"]`)?.focus({ preventScroll: true }); },
  };
}

/**
 * layout gives steps without a position one: columns by distance from the
 * start, rows in order. It returns whether it placed any.
 */
export function layout(flow) {
  const missing = flow.steps.filter((x) => !x.position);
  if (!missing.length) return false;
  const byId = new Map(flow.steps.map((x) => [x.id, x]));
  const depth = new Map();
  const queue = [];
  if (byId.has(flow.start)) { depth.set(flow.start, 0); queue.push(flow.start); }
  while (queue.length) {
    const id = queue.shift();
    for (const p of ports(byId.get(id))) {
      if (p.target && byId.has(p.target) && !depth.has(p.target)) { depth.set(p.target, depth.get(id) + 1); queue.push(p.target); }
    }
  }
  const maxDepth = Math.max(0, ...depth.values());
  const rows = new Map();
  for (const st of flow.steps) {
    if (!depth.has(st.id)) depth.set(st.id, maxDepth + 1);
    const d = depth.get(st.id);
    const y = rows.get(d) || 0;
    if (!st.position) st.position = { x: d * (NODE_W + 110), y };
    rows.set(d, Math.max(y, st.position.y) + nodeHeight(st) + 50);
  }
  return true;
}
