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
    // A link past the next column turns to its step's row in the first
    // gap and runs level from there: a curve across the columns between
    // would pass under their steps, and layout() keeps that row clear.
    if (b.x - a.x > NODE_W + 110) {
      return { d: `M${a.x},${a.y} C${a.x + 50},${a.y} ${a.x + 50},${b.y} ${a.x + 100},${b.y} L${b.x},${b.y}` };
    }
    const dx = Math.max(50, Math.abs(b.x - a.x) / 2);
    return { d: `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}` };
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
          // Beside the port, not halfway: links of one step's ports
          // (success and failure, two options) to the same step put their
          // labels on one spot halfway; beside their ports they are as far
          // apart as the ports, and short enough to fit in the gap before
          // the next column (the whole label is the link's title).
          const text = clip(p.label, 13);
          const w = text.length * 6.6 + 12;
          const m = { x: a.x + 12 + w / 2, y: a.y };
          g.append(s('g', { class: 'edge-label', transform: `translate(${m.x} ${m.y})` },
            s('rect', { x: -w / 2, y: -9, width: w, height: 18, rx: 9 }),
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
    // The focus ring is a rect of its own around the step, so the body's
    // stroke can still say selected or has-error while the step is focused.
    s('rect', { class: 'node-ring', x: -5, y: -5, width: NODE_W + 10, height: hgt + 10, rx: 12 }),
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
    /**
     * freeSpot returns a world position for a new step of height hgt that
     * no node covers: near the top of the view, or, given the step `from`,
     * where the link from its first free port will lead. That is right of
     * from: level with it for its first port (a chain stays a row), below
     * the steps its other ports lead to for a second one (a failure, an
     * else, a second option), so forks grow down, not along the row.
     */
    freeSpot(from, hgt) {
      const r = svg.getBoundingClientRect();
      let p;
      if (from) {
        p = { x: pos(from).x + NODE_W + 80, y: pos(from).y };
        const ps = ports(from);
        const free = ps.findIndex((q) => !q.target);
        for (const q of free > 0 ? ps.slice(0, free) : []) {
          const t = stepById(q.target);
          if (t && Math.abs(pos(t).x - p.x) < NODE_W) p.y = Math.max(p.y, pos(t).y + nodeHeight(t) + 40);
        }
      } else {
        p = toWorld(r.left + r.width / 2 - (NODE_W * view.k) / 2, r.top + 60);
      }
      p = { x: Math.round(p.x / 10) * 10, y: Math.round(p.y / 10) * 10 };
      const steps = cb.flow().steps;
      const gap = 30;
      const over = (q) => steps.filter((st) => q.x < pos(st).x + NODE_W + gap && pos(st).x < q.x + NODE_W + gap &&
        q.y < pos(st).y + nodeHeight(st) + gap && pos(st).y < q.y + hgt + gap);
      for (let hits = over(p), i = 0; hits.length && i <= steps.length; hits = over(p), i++) {
        p = { x: p.x, y: Math.max(...hits.map((st) => pos(st).y + nodeHeight(st) + gap)) };
      }
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
 * layout places the steps that have no position, or all of them (all:
 * the Tidy button). Columns follow the longest path from the start, not
 * counting a link back to an earlier step (a loop), so every other link
 * runs left to right and none passes under a step of its own column; in
 * a column, steps go in the order their links are met (a success above
 * its failure), each level with the step that leads to it when there is
 * room. Steps the start does not reach come after. It returns whether it
 * placed any.
 */
export function layout(flow, all = false) {
  if (!all && flow.steps.every((x) => x.position)) return false;
  const byId = new Map(flow.steps.map((x) => [x.id, x]));
  const targets = (id) => ports(byId.get(id)).map((p) => p.target).filter((t) => byId.has(t));
  const seen = new Map(); // id → 1 while its links are followed, 2 after
  const order = []; // in the order met
  const parent = new Map(); // id → the step whose link met it first
  const depth = new Map();
  const walk = (root, base) => {
    const post = [];
    // Depth first with a stack of its own, not by recursion: a chain of
    // thousands of steps (a flow may have 20,000) would overflow the
    // browser's call stack.
    const enter = (id) => { seen.set(id, 1); order.push(id); return { id, next: targets(id), i: 0 }; };
    const stack = [enter(root)];
    while (stack.length) {
      const f = stack[stack.length - 1];
      if (f.i < f.next.length) {
        const t = f.next[f.i++];
        if (!seen.has(t)) { parent.set(t, f.id); stack.push(enter(t)); }
      } else {
        seen.set(f.id, 2);
        post.push(f.id);
        stack.pop();
      }
    }
    // Reversed, the finishing order sorts the links that do not close a
    // loop: each step's column is then known before those it leads to.
    const rank = new Map(post.reverse().map((id, i) => [id, i]));
    for (const id of post) {
      const d = depth.get(id) ?? base;
      depth.set(id, d);
      for (const t of targets(id)) if (rank.get(t) > rank.get(id)) depth.set(t, Math.max(depth.get(t) ?? base, d + 1));
    }
    return post.reduce((m, id) => Math.max(m, depth.get(id)), base);
  };
  let last = -1;
  if (byId.has(flow.start)) last = walk(flow.start, 0);
  for (const st of flow.steps) if (!seen.has(st.id)) last = walk(st.id, last + 1);
  const colY = new Map(); // column → the first free y
  const from = new Map(flow.steps.map((x) => [x.id, []])); // id → the steps that lead to it
  for (const x of flow.steps) for (const t of new Set(targets(x.id))) from.get(t).push(x.id);
  for (const id of order) {
    const st = byId.get(id);
    const d = depth.get(id);
    if (all || !st.position) {
      const up = parent.has(id) ? byId.get(parent.get(id)).position?.y ?? 0 : 0;
      // A link that skips columns runs below what is in them so far.
      let y = Math.max(colY.get(d) ?? 0, up);
      for (const u of from.get(id)) for (let c = depth.get(u) + 1; c < d; c++) y = Math.max(y, colY.get(c) ?? 0);
      st.position = { x: d * (NODE_W + 110), y };
    }
    colY.set(d, Math.max(colY.get(d) ?? 0, st.position.y + nodeHeight(st) + 50));
  }
  return true;
}
