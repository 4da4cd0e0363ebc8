// The flow editor: the graph, the side panel (step, flow, try it), saving
// with the revision (autosave, If-Match, 409 → reload), publishing and the
// version list.

import { api } from './api.js';
import { announce, clearErrors, fmtTime, h, saveFile, select, showErrors, twoStep } from './dom.js';
import { createGraph, layout, nodeHeight } from './graph.js';
import { conversations } from './conversations.js';
import { preview } from './preview.js';
import { stepForm } from './stepform.js';
import { clean, newId, ports, retarget, setTarget, TYPE_ORDER, TYPES } from './steps.js';
import { targetOptions } from './fields.js';

const AUTOSAVE_MS = 800;

/** editorPage renders the editor of one bot into main; it returns a cleanup function. */
export async function editorPage(main, botId, app) {
  const path = `/v1/bots/${encodeURIComponent(botId)}`;
  let bot;
  try {
    bot = (await api('GET', path)).data;
  } catch (err) {
    main.replaceChildren(h('section', { class: 'page' }, h('h1', null, 'Bot not found'), h('p', null, err.message), h('a', { href: '#/bots' }, 'Back to the bots')));
    return () => {};
  }
  const flow = { start: bot.flow.start || '', steps: bot.flow.steps || [] };
  layout(flow);
  const st = {
    revision: bot.revision,
    published: bot.published_version,
    liveRevision: undefined, // the revision published as st.published, once known
    problems: [],
    selected: null,
    dirty: false,
    conflict: false,
    discard: false, // the designer chose to drop the unsaved changes
    saveError: '', // why the last save failed, other than a conflict
    saving: null,
    timer: 0,
    tab: 'step',
    connections: [],
    versions: [],
    stats: null,
    testValues: {},
    testResults: {},
    undo: [], // functions that undo the latest deletions and tidyings, oldest first
  };

  // ---- layout
  const addType = select(TYPE_ORDER.map((t) => [t, TYPES[t].label]), 'message', { id: 'add-type' });
  const addForm = h('form', { class: 'add-step', 'aria-label': 'Add a step' },
    h('label', { for: 'add-type' }, 'New step'), addType, h('button', { type: 'submit', id: 'add-step' }, 'Add step'));
  const saveState = h('span', { class: 'save-state', id: 'save-state', role: 'status' });
  const problemsBtn = h('button', { type: 'button', id: 'problems-btn', class: 'problems-btn' });
  const publishState = h('span', { class: 'publish-state', id: 'publish-state' });
  const saveBtn = h('button', { type: 'button', id: 'save' }, 'Save');
  const publishBtn = h('button', { type: 'button', id: 'publish', class: 'primary' }, 'Publish');
  const canvasStatus = h('p', { class: 'canvas-status', id: 'canvas-status', role: 'status' });
  const statsBtn = h('button', { type: 'button', id: 'stats-toggle', 'aria-pressed': 'false', title: 'Show on each step how the recent conversations went' }, 'Stats');
  const statsNote = h('p', { class: 'stats-note', id: 'stats-note', role: 'status', hidden: true });
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.id = 'canvas';
  svg.setAttribute('tabindex', '-1'); // focusable by script (after a deletion), not a Tab stop of its own
  svg.setAttribute('aria-label', 'Flow graph: Tab to a step, Enter selects it, arrow keys move it, Delete removes it, Ctrl+Z brings it back');
  // The conflict banner never takes the focus: it comes while the
  // designer types, and the next key would press the button it landed on.
  // Both ways out drop someone's work, so each asks for a second click.
  const conflictBox = h('div', { class: 'banner conflict', id: 'conflict', role: 'alert', tabindex: -1, hidden: true },
    h('p', null, h('strong', null, 'Someone else saved this bot. '), 'Your changes here are not saved. Reload to get their version (yours are dropped: download them first to keep a copy), or overwrite theirs with yours.'),
    h('button', { type: 'button', id: 'conflict-download', onClick: () => downloadMine() }, 'Download my version'),
    twoStep('Reload', 'Reload their version, dropping your changes', () => { st.discard = true; return app.reload(); },
      { armed: 'Click again to drop your changes', cls: 'danger', attrs: { id: 'conflict-reload' } }),
    twoStep('Overwrite with mine', 'Overwrite their version with yours', overwrite,
      { armed: 'Click again to replace theirs', cls: 'danger', attrs: { id: 'conflict-overwrite' } }));
  // leaveBox stops a designer leaving with changes the server did not take.
  let leave = null;
  const leaveText = h('p');
  const leaveBox = h('div', { class: 'banner conflict', id: 'leave-box', role: 'alert', tabindex: -1, hidden: true },
    leaveText,
    h('button', { type: 'button', id: 'leave-download', onClick: () => downloadMine() }, 'Download my version'),
    h('button', { type: 'button', id: 'leave-anyway', class: 'danger', onClick: () => { st.discard = true; leaveBox.hidden = true; leave?.(); } }, 'Leave without saving'),
    h('button', { type: 'button', id: 'leave-stay', onClick: () => { leaveBox.hidden = true; conflictBox.hidden = !st.conflict; } }, 'Stay'));

  const tabs = ['step', 'flow', 'try', 'convs'];
  const tabNames = { step: 'Step', flow: 'Flow', try: 'Try it', convs: 'Conversations' };
  const tabBtns = {};
  const tabPanels = {};
  for (const t of tabs) {
    tabBtns[t] = h('button', { type: 'button', role: 'tab', id: `tab-${t}`, 'aria-controls': `tabpanel-${t}`, onClick: () => showTab(t) }, tabNames[t]);
    tabPanels[t] = h('div', { role: 'tabpanel', id: `tabpanel-${t}`, 'aria-labelledby': `tab-${t}`, class: 'tabpanel', tabindex: -1 });
  }
  const tablist = h('div', { role: 'tablist', 'aria-label': 'Side panel' }, ...tabs.map((t) => tabBtns[t]));
  tablist.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(st.tab);
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      const n = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      showTab(n); tabBtns[n].focus();
    }
  });
  const chat = preview(botId, () => st.published);
  const convList = conversations(botId, app.me.role === 'admin');
  tabPanels.convs.append(convList.el);
  tabPanels.try.append(chat.el, h('p', { class: 'hint' }, h('a', { href: `/demo?bot=${encodeURIComponent(botId)}`, target: '_blank', rel: 'noopener', id: 'demo-link' }, 'Open the widget demo page'), ' to see the embeddable widget.'));

  const title = h('h1', { class: 'bot-title', id: 'bot-title' }, bot.name);
  main.replaceChildren(h('div', { class: 'editor' },
    h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Flow editor' },
      h('a', { href: '#/bots', class: 'back' }, '← Bots'), title, addForm,
      h('div', { class: 'zoom', role: 'group', 'aria-label': 'Zoom' },
        h('button', { type: 'button', id: 'zoom-out', 'aria-label': 'Zoom out', onClick: () => graph.zoomOut() }, '−'),
        h('button', { type: 'button', id: 'zoom-in', 'aria-label': 'Zoom in', onClick: () => graph.zoomIn() }, '+'),
        h('button', { type: 'button', id: 'zoom-fit', onClick: () => graph.fit() }, 'Fit')),
      h('button', { type: 'button', id: 'tidy', title: 'Lay all steps out again, in columns from the start', onClick: () => tidy() }, 'Tidy'),
      statsBtn,
      h('div', { class: 'spacer' }), problemsBtn, saveState, saveBtn, publishState, publishBtn),
    conflictBox, leaveBox,
    h('div', { class: 'workspace' },
      h('div', { class: 'canvas-wrap' }, svg, statsNote, canvasStatus),
      h('aside', { class: 'panel', id: 'panel', 'aria-label': 'Side panel' }, tablist, ...tabs.map((t) => tabPanels[t])))));

  // ---- graph
  const graph = createGraph(svg, {
    flow: () => flow,
    selected: () => st.selected,
    problems: problemsFor,
    stats: (id) => { const x = st.stats?.get(id); return x && (!x.step_type || x.step_type === stepById(id)?.type) ? x : undefined; },
    onSelect: (sel) => select_(sel),
    onMove: () => changed({ panel: false }),
    onConnect: (from, port, to) => {
      const step = stepById(from);
      setTarget(step, port, to);
      st.selected = { kind: 'step', id: from };
      changed();
      showTab('step');
      renderPanel();
      announce(`Linked ${from} (${ports(step).find((p) => p.port === port)?.label}) to ${to}.`);
    },
    onDelete: (what) => removeSelection(what || st.selected),
    onStatus: (t) => { canvasStatus.textContent = t; },
  });

  function stepById(id) { return flow.steps.find((x) => x.id === id); }

  function problemsFor(id) {
    const mine = st.problems.filter((p) => p.stepId === id);
    return {
      errors: mine.filter((p) => p.severity === 'error').length,
      warnings: mine.filter((p) => p.severity !== 'error').length,
      messages: mine.map((p) => `${p.severity === 'error' ? '✖' : '⚠'} ${p.message}`),
    };
  }

  function setProblems(list, ids) {
    st.problems = (list || []).map((p) => {
      const m = /^\/steps\/(\d+)(\/.*)?$/.exec(p.pointer || '');
      return m ? { ...p, stepId: ids[Number(m[1])], rest: m[2] || '' } : { ...p, stepId: null, rest: p.pointer };
    });
    const errors = st.problems.filter((p) => p.severity === 'error').length;
    const warnings = st.problems.length - errors;
    problemsBtn.textContent = errors || warnings ? `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}` : 'No problems';
    problemsBtn.className = `problems-btn ${errors ? 'has-errors' : warnings ? 'has-warnings' : 'ok'}`;
    problemsBtn.dataset.errors = String(errors);
    graph.render();
    applyStepProblems();
    if (st.tab === 'flow') renderFlowTab();
  }
  problemsBtn.addEventListener('click', () => showTab('flow', true));

  function applyStepProblems() {
    const form = tabPanels.step.querySelector('.step-form');
    if (!form || !st.selected || st.selected.kind !== 'step') return;
    clearErrors(form);
    const mine = st.problems.filter((p) => p.stepId === st.selected.id).map((p) => ({ ...p, pointer: p.rest }));
    const left = showErrors(form, mine);
    const list = form.querySelector('.step-problems');
    list.replaceChildren(...left.map((p) => h('li', { class: p.severity }, p.message)));
    list.hidden = !left.length;
  }

  // ---- save
  function setSaveState(kind, text) {
    saveState.dataset.state = kind;
    saveState.textContent = text;
  }

  function changed(o = {}) {
    st.dirty = true;
    if (!st.conflict) setSaveState('dirty', 'Unsaved changes');
    graph.render();
    if (o.panel !== false && st.selected && st.selected.kind === 'edge') renderPanel();
    // A throttle, not a debounce: steady typing still saves every
    // AUTOSAVE_MS, so problems stay current while the designer works.
    if (!st.timer) st.timer = setTimeout(() => { st.timer = 0; save(); }, AUTOSAVE_MS);
  }

  async function save() {
    clearTimeout(st.timer);
    st.timer = 0;
    if (st.conflict) return false;
    while (st.saving) await st.saving;
    if (!st.dirty) return true;
    st.saving = doSave();
    try { return await st.saving; } finally { st.saving = null; }
  }

  async function doSave() {
    st.dirty = false;
    const ids = flow.steps.map((x) => x.id);
    const doc = { start: flow.start, steps: flow.steps.map(clean) };
    setSaveState('saving', 'Saving…');
    try {
      const r = await api('PUT', `${path}/flow`, { body: doc, headers: { 'If-Match': String(st.revision) } });
      st.revision = r.data.revision;
      setProblems(r.data.problems, ids);
      if (st.dirty) setSaveState('dirty', 'Unsaved changes');
      else setSaveState('saved', `Saved · revision ${st.revision}`);
      renderPublishState();
      return true;
    } catch (err) {
      st.dirty = true;
      saveFailed(err, ids);
      return false;
    }
  }

  // saveFailed shows why a PUT of the flow failed: someone else saved
  // (409: reload or overwrite), or the server's problems.
  function saveFailed(err, ids) {
    if (err.status === 409) {
      st.conflict = true;
      conflictBox.hidden = false;
      setSaveState('conflict', 'Not saved: someone else saved');
      return;
    }
    if (err.details?.length) setProblems(err.details.map((p) => ({ severity: 'error', ...p })), ids);
    st.saveError = err.message;
    setSaveState('error', `Not saved: ${err.message}`);
    announce(`Not saved: ${err.message}`, 'error');
  }

  // downloadMine saves the draft as this page has it, as an export
  // document (Import on the Bots page makes it a bot), so changes the
  // server did not take can be kept before they are dropped.
  function downloadMine() {
    const steps = flow.steps.map(clean);
    const doc = {
      format: 'flowbot.bot', format_version: 1, name: `${bot.name.slice(0, 186)} (my version)`, description: bot.description || '',
      flow: { start: flow.start, steps }, connections: [...new Set(steps.map((x) => x.connection).filter(Boolean))].sort(),
    };
    saveFile(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }), `bot-${botId}-mine.json`);
    announce('Your version is downloaded: Import on the Bots page makes it a bot.');
  }

  async function overwrite() {
    try {
      const latest = (await api('GET', path)).data;
      st.revision = latest.revision;
      st.conflict = false;
      conflictBox.hidden = true;
      st.dirty = true;
      await save();
    } catch (err) { announce(err.message, 'error'); }
  }

  saveBtn.addEventListener('click', async () => { st.dirty = true; if (await save()) announce(`Saved: revision ${st.revision}.`); });

  // ---- stats: how the recent conversations of the published version
  // went, on each step (only on steps of the same type: an id may name
  // another step in the draft)
  let statsGen = 0;
  async function loadStats() {
    const g = ++statsGen;
    statsBtn.setAttribute('aria-busy', 'true');
    try {
      const r = (await api('GET', `${path}/stats`)).data;
      if (g !== statsGen) return;
      st.stats = new Map(r.steps.map((x) => [x.step_id, x]));
      const by = Object.entries(r.by_status).map(([k, v]) => `${v} ${k}`).join(', ');
      statsNote.textContent = !r.version ? 'No stats: the bot is not published yet.'
        : r.conversations ? `Version ${r.version}, the ${r.conversations} most recent conversations${r.since ? ` (since ${fmtTime(r.since)})` : ''}: ${by}.`
          : r.more ? `Version ${r.version}: none among the most recent conversations.` : `Version ${r.version}: no conversations yet.`;
      statsNote.hidden = false;
    } catch (err) {
      if (g !== statsGen) return;
      st.stats = null;
      statsNote.hidden = true;
      statsBtn.setAttribute('aria-pressed', 'false');
      announce(`No stats: ${err.message}`, 'error');
    } finally {
      if (g === statsGen) statsBtn.removeAttribute('aria-busy');
    }
    graph.render();
  }
  const statsOn = () => statsBtn.getAttribute('aria-pressed') === 'true';

  statsBtn.addEventListener('click', async () => {
    const on = !statsOn();
    statsBtn.setAttribute('aria-pressed', String(on));
    if (on) { await loadStats(); return; }
    statsGen++;
    statsBtn.removeAttribute('aria-busy');
    st.stats = null;
    statsNote.hidden = true;
    graph.render();
  });

  // ---- publish and versions
  // renderPublishState says which version is live and whether the saved
  // draft differs from it: a draft saved since (its revision is not the
  // one published) is not what users get until the next Publish.
  function renderPublishState() {
    const changes = st.published && st.liveRevision !== undefined && st.liveRevision !== st.revision;
    // Two short lines, not one long one, to keep the toolbar on one row.
    publishState.replaceChildren(st.published ? `Published: version ${st.published}` : 'Never published',
      changes ? h('span', { class: 'unpublished' }, h('span', { class: 'sr-only' }, ' · '), 'unpublished changes') : '');
    publishState.dataset.unpublished = String(!!changes);
    chat.refresh();
  }

  publishBtn.addEventListener('click', async () => {
    publishBtn.disabled = true;
    let ids;
    try {
      if (!(await save())) return;
      ids = flow.steps.map((x) => x.id);
      const r = await api('POST', `${path}/publish`);
      st.published = r.data.number;
      st.liveRevision = r.data.revision;
      renderPublishState();
      announce(`Published version ${r.data.number}.`);
      await loadVersions();
      if (statsOn()) await loadStats();
    } catch (err) {
      if (err.status === 422) await refusedProblems(err, ids);
      else if (err.details?.length) setProblems(err.details, ids || flow.steps.map((x) => x.id));
      announce(`Not published: ${err.message}`, 'error');
      if (err.status === 422) showTab('flow');
    } finally { publishBtn.disabled = false; }
  });

  // refusedProblems shows the problems of a draft the server would not
  // publish. The refusal lists its errors only; shown alone, they hid the
  // warnings ("1 error, 0 warnings"). Validate lists them all, for the
  // same revision; failing that, the errors join the warnings shown.
  async function refusedProblems(err, ids) {
    try {
      const r = (await api('POST', `${path}/validate`)).data;
      if (r.revision === st.revision) { setProblems(r.problems, ids); return; }
    } catch { /* the refusal's errors will do */ }
    setProblems([...err.details.map((p) => ({ severity: 'error', ...p })), ...st.problems.filter((p) => p.severity !== 'error')], ids);
  }

  // restoreVersion replaces the draft with published version n's flow,
  // saved as a new revision: the way back from a bad publish is to
  // restore the last good version and publish it again. The draft's own
  // unpublished changes are replaced (the button asks twice). The flow on
  // the canvas changes only once the server took the new one.
  async function restoreVersion(n) {
    if (st.conflict) { announce('Resolve the conflict first: reload or overwrite.', 'error'); return; }
    if (!(await save())) return;
    let v;
    try { v = (await api('GET', `${path}/versions/${n}`)).data; } catch (err) { announce(`Not restored: ${err.message}`, 'error'); return; }
    const next = { start: v.flow.start || '', steps: v.flow.steps || [] };
    layout(next);
    // The restore counts as the save in progress until the canvas has the
    // restored flow, so an autosave (of an edit made meanwhile, to the flow
    // being replaced) waits for it and finds nothing left to save.
    clearTimeout(st.timer);
    st.timer = 0;
    let done;
    st.saving = new Promise((resolve) => { done = resolve; });
    let ok = false;
    try {
      ok = await restoreSaved(next);
    } finally {
      st.saving = null;
      done(ok);
    }
    if (ok) announce(`Version ${n} is the draft now (revision ${st.revision}). Publish to make it live.`);
  }

  // restoreSaved PUTs next as the draft and, once saved, puts it on the
  // canvas and returns true; on failure the canvas keeps its flow, and the
  // conflict banner or the problems say why.
  async function restoreSaved(next) {
    let r;
    try {
      r = await api('PUT', `${path}/flow`, { body: { start: next.start, steps: next.steps.map(clean) }, headers: { 'If-Match': String(st.revision) } });
    } catch (err) {
      saveFailed(err, flow.steps.map((x) => x.id));
      return false;
    }
    graph.cancelLink();
    flow.start = next.start;
    flow.steps = next.steps;
    st.undo = []; // their steps belong to the flow replaced
    st.revision = r.data.revision;
    st.dirty = false;
    st.selected = null;
    st.testValues = {};
    st.testResults = {};
    setProblems(r.data.problems, next.steps.map((x) => x.id));
    setSaveState('saved', `Saved · revision ${st.revision}`);
    renderPublishState();
    graph.render();
    renderPanel();
    return true;
  }

  async function loadVersions() {
    try { st.versions = (await api('GET', `${path}/versions`)).data.items; } catch { st.versions = []; }
    const live = st.versions.find((v) => v.number === st.published);
    if (live) { st.liveRevision = live.revision; renderPublishState(); }
    if (st.tab === 'flow') renderFlowTab();
  }

  // ---- selection and panels
  function select_(sel, focusId) {
    graph.cancelLink();
    st.selected = sel;
    graph.render();
    if (sel) showTab('step');
    if (sel && sel.kind === 'step') graph.reveal(sel.id);
    renderPanel(focusId);
  }

  function showTab(t, focus = false) {
    st.tab = t;
    for (const x of tabs) {
      tabBtns[x].setAttribute('aria-selected', String(x === t));
      tabBtns[x].tabIndex = x === t ? 0 : -1;
      tabPanels[x].hidden = x !== t;
    }
    if (t === 'flow') renderFlowTab();
    if (t === 'try') chat.refresh();
    if (t === 'convs') convList.refresh();
    if (focus) tabPanels[t].focus();
  }

  function panelCtx(step) {
    if (!st.testValues[step.id]) st.testValues[step.id] = {};
    return {
      flow,
      api,
      connections: st.connections,
      testValues: st.testValues[step.id],
      testResult: st.testResults[step.id],
      setTestResult: (r) => { st.testResults[step.id] = r; },
      changed,
      rerender: (focusId, selectText) => renderPanel(focusId, selectText),
      rename: (from, to) => {
        if (stepById(to)) return `Another step already has the id ${to}.`;
        const s = stepById(from);
        s.id = to;
        retarget(flow, from, to);
        for (const m of [st.testValues, st.testResults]) { m[to] = m[from]; delete m[from]; }
        for (const p of st.problems) if (p.stepId === from) p.stepId = to;
        st.selected = { kind: 'step', id: to };
        changed();
        renderPanel('f-id');
        announce(`Renamed ${from} to ${to}; links follow.`);
        return '';
      },
      remove: () => removeSelection(),
      makeStart: () => { flow.start = step.id; changed(); renderPanel('f-id'); },
    };
  }

  function renderPanel(focusId, selectText) {
    const box = tabPanels.step;
    const sel = st.selected;
    const scroll = box.scrollTop;
    if (sel && sel.kind === 'step' && stepById(sel.id)) {
      const step = stepById(sel.id);
      box.replaceChildren(stepForm(step, panelCtx(step)));
      applyStepProblems();
    } else if (sel && sel.kind === 'edge' && stepById(sel.id)) {
      box.replaceChildren(edgePanel(stepById(sel.id), sel.port));
    } else {
      st.selected = null;
      box.replaceChildren(h('div', { class: 'empty-panel' },
        h('h2', null, flow.steps.length ? 'No step selected' : 'An empty bot'),
        h('p', null, flow.steps.length ? 'Click a step on the canvas, or pick one here:' : 'Add a first step with “Add step” above. The first step becomes the start.'),
        flow.steps.length ? h('ul', { class: 'step-list' }, ...flow.steps.map((x) => h('li', null,
          h('button', { type: 'button', class: 'link', onClick: () => select_({ kind: 'step', id: x.id }, 'f-id') }, `${x.id} (${TYPES[x.type]?.label || x.type})`)))) : null));
    }
    box.scrollTop = scroll;
    if (focusId) {
      const el = document.getElementById(focusId);
      if (el) {
        el.focus();
        el.scrollIntoView({ block: 'nearest' });
        if (selectText && el.select) el.select();
      }
    }
  }

  function edgePanel(step, port) {
    const p = ports(step).find((q) => q.port === port);
    if (!p) return h('p', null, 'This link no longer exists.');
    const sel = select(targetOptions({ flow }, p.target), p.target, { id: 'edge-target' });
    sel.addEventListener('change', () => { setTarget(step, port, sel.value); changed(); });
    return h('div', { class: 'edge-panel' },
      h('h2', null, 'Link'),
      h('p', null, h('code', null, step.id), ` — ${p.label} → `, h('code', null, p.target || '(end)')),
      h('div', { class: 'field' }, h('label', { for: 'edge-target' }, `“${p.label}” of ${step.id} leads to`), sel),
      h('div', { class: 'panel-actions' },
        h('button', { type: 'button', id: 'remove-link', class: 'danger', onClick: () => removeSelection() }, 'Remove link'),
        h('button', { type: 'button', onClick: () => select_({ kind: 'step', id: step.id }) }, `Edit ${step.id}`)));
  }

  // removeSelection removes what (a step or a link; the selection if
  // none is given).
  function removeSelection(what = st.selected) {
    if (!what) return;
    if (what.kind === 'edge') {
      setTarget(stepById(what.id), what.port, '');
      st.selected = { kind: 'step', id: what.id };
      announce('Link removed.');
    } else if (!removeStep(what.id)) {
      return;
    }
    changed();
    renderPanel();
    svg.focus();
  }

  // removeStep deletes a step; the links to it (and the start, if it was
  // the start) end there instead. A deletion is one key press or click
  // away, so it can be undone: the toast's Undo, or Ctrl+Z outside a field,
  // puts the step back where it was, with every link that led to it.
  function removeStep(id) {
    const i = flow.steps.findIndex((x) => x.id === id);
    if (i < 0) return false;
    const step = flow.steps[i];
    // A link from an option or a condition remembers the row itself, not
    // its index: rows removed or added before Undo move the others.
    const links = flow.steps.filter((x) => x !== step)
      .flatMap((x) => ports(x).filter((p) => p.target === id).map((p) => {
        const [list, k] = p.port.split('.');
        return { from: x.id, port: p.port, list: k === undefined ? null : list, row: k === undefined ? null : x[list][Number(k)] };
      }));
    const wasStart = flow.start === id;
    flow.steps.splice(i, 1);
    retarget(flow, id, '');
    st.problems = st.problems.filter((p) => p.stepId !== id);
    if (st.selected && st.selected.id === id) st.selected = null;
    undoable(`Step ${id} deleted.`, () => {
      if (stepById(id)) { announce(`Not undone: another step has the id ${id} now.`, 'error'); return; }
      flow.steps.splice(Math.min(i, flow.steps.length), 0, step);
      for (const l of links) {
        // A link the designer has pointed elsewhere since keeps its new target.
        const from = stepById(l.from);
        if (!from) continue;
        let port = l.port;
        if (l.row) {
          const k = (from[l.list] || []).indexOf(l.row);
          if (k < 0) continue; // the row was removed since
          port = `${l.list}.${k}`;
        }
        if (ports(from).some((p) => p.port === port && !p.target)) setTarget(from, port, id);
      }
      if (wasStart && !flow.start) flow.start = id;
      st.selected = { kind: 'step', id };
      changed();
      showTab('step');
      renderPanel();
      graph.reveal(id);
      graph.focusStep(id);
      announce(`Step ${id} is back, with its links.`);
    });
    return true;
  }

  // undoable announces what was done with an Undo button that runs undo,
  // which Ctrl+Z also reaches while it is among the latest 20.
  function undoable(text, undo) {
    const once = () => {
      const k = st.undo.indexOf(once);
      if (k < 0) return; // undone already, or the flow was replaced since
      st.undo.splice(k, 1);
      undo();
    };
    st.undo.push(once);
    if (st.undo.length > 20) st.undo.shift();
    announce(text, 'info', { label: 'Undo', run: once });
  }

  // undoLast undoes the latest deletion or tidying (Ctrl+Z outside a field).
  function undoLast() {
    if (st.undo.length) st.undo[st.undo.length - 1]();
    else announce('Nothing to undo.');
  }

  function addStep(type) {
    const sel = st.selected && st.selected.kind === 'step' ? stepById(st.selected.id) : null;
    const step = { id: newId(flow, type), type, ...TYPES[type].defaults() };
    step.position = graph.freeSpot(sel, nodeHeight(step));
    flow.steps.push(step);
    if (!flow.start) flow.start = step.id;
    st.selected = { kind: 'step', id: step.id };
    changed();
    showTab('step');
    graph.reveal(step.id);
    renderPanel('f-id', true);
    announce(`Added ${TYPES[type].label} step ${step.id}.`);
  }
  // tidy lays every step out again (layout()); Undo puts them back.
  function tidy() {
    const before = new Map(flow.steps.map((x) => [x.id, x.position]));
    layout(flow, true);
    changed({ panel: false });
    graph.fit();
    undoable('Steps laid out in columns from the start.', () => {
      for (const x of flow.steps) if (before.has(x.id)) x.position = before.get(x.id);
      changed({ panel: false });
      graph.fit();
      announce('The steps are back where they were.');
    });
  }
  addForm.addEventListener('submit', (e) => { e.preventDefault(); addStep(addType.value); });

  // ---- flow tab
  function renderFlowTab() {
    const box = tabPanels.flow;
    const startSel = select(targetOptions({ flow }, flow.start).map(([v, l]) => [v, v ? l : '— none —']), flow.start, { id: 'flow-start' });
    startSel.addEventListener('change', () => { flow.start = startSel.value; changed(); });
    const probs = st.problems.length
      ? h('ul', { class: 'problem-list', id: 'problem-list' }, ...st.problems.map((p) => h('li', { class: p.severity },
        h('button', {
          type: 'button', class: 'link',
          onClick: () => {
            if (!p.stepId) { startSel.focus(); return; }
            select_({ kind: 'step', id: p.stepId });
            const parts = p.rest.split('/').filter(Boolean);
            for (let n = parts.length; n >= 0; n--) {
              const el = document.getElementById(n ? `f-${parts.slice(0, n).join('-')}` : 'f-id');
              if (el) { el.focus(); el.scrollIntoView({ block: 'nearest' }); break; }
            }
          },
        }, h('span', { class: 'sev' }, p.severity), ' ', p.stepId ? h('code', null, p.stepId) : h('code', null, p.pointer), ' ', p.message))))
      : h('p', { class: 'ok' }, 'No problems: ready to publish.');
    // Restoring replaces the draft: two clicks, as for deletions.
    const restoreBtn = (v) => twoStep('Restore', `Restore version ${v.number} to the draft`, () => restoreVersion(v.number),
      { armed: 'Click again to replace the draft', cls: 'small', attrs: { dataset: { restore: String(v.number) } } });
    const versions = st.versions.length
      ? h('table', { class: 'versions', id: 'versions' },
        h('thead', null, h('tr', null, ...['Version', 'Revision', 'Steps', 'Published', 'By', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, ...st.versions.map((v) => h('tr', { dataset: { version: String(v.number) } }, h('td', null, String(v.number)), h('td', null, String(v.revision)), h('td', null, String(v.steps)), h('td', null, fmtTime(v.published_at)), h('td', null, v.published_by), h('td', null, restoreBtn(v))))))
      : h('p', { class: 'empty', id: 'versions' }, 'Not published yet.');
    const name = h('input', { type: 'text', id: 'bot-name-edit', value: bot.name, required: true, maxlength: 200 });
    const desc = h('input', { type: 'text', id: 'bot-desc-edit', value: bot.description || '', maxlength: 2000 });
    const renameForm = h('form', { class: 'inline-form' },
      h('div', { class: 'field' }, h('label', { for: 'bot-name-edit' }, 'Bot name'), name),
      h('div', { class: 'field' }, h('label', { for: 'bot-desc-edit' }, 'Description'), desc),
      h('button', { type: 'submit' }, 'Rename'));
    renameForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const r = await api('PATCH', path, { body: { name: name.value, description: desc.value } });
        bot.name = r.data.name; bot.description = r.data.description; title.textContent = bot.name;
        announce('Bot renamed.');
      } catch (err) { announce(err.message, 'error'); }
    });
    const snippet = `<script src="${location.origin}/widget.js" data-bot="${botId}"></script>`;
    box.replaceChildren(
      h('h2', null, 'Flow'),
      h('div', { class: 'field' }, h('label', { for: 'flow-start' }, 'Start step'), startSel),
      h('h3', null, 'Problems'), probs,
      h('h3', null, 'Published versions'), versions,
      h('h3', null, 'Bot'), renameForm,
      h('p', null, h('button', { type: 'button', id: 'export', onClick: () => app.exportBot(botId) }, 'Export as JSON')),
      h('h3', null, 'Embed on a website'),
      h('p', { class: 'hint' }, 'Paste this where the chat button should appear:'),
      h('pre', { class: 'code', id: 'embed-snippet' }, snippet));
  }

  // ---- go
  svg.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); saveBtn.click(); }
  });
  const onKey = (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); saveBtn.click(); }
    // Not in a field: there Ctrl+Z is the field's own undo.
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key === 'z' && !e.target.closest?.('input, textarea, select, [contenteditable]')) {
      e.preventDefault();
      undoLast();
    }
  };
  document.addEventListener('keydown', onKey);
  const onUnload = (e) => { if (st.dirty) { e.preventDefault(); } };
  window.addEventListener('beforeunload', onUnload);

  setSaveState('saved', `Saved · revision ${st.revision}`);
  setProblems(bot.problems, flow.steps.map((x) => x.id));
  renderPublishState();
  showTab('step');
  renderPanel();
  requestAnimationFrame(() => graph.fit());
  api('GET', '/v1/connections').then((r) => { st.connections = r.data.items; if (st.selected) renderPanel(); }).catch(() => {});
  loadVersions();

  // The cleanup saves what is pending. Changes it cannot save (a
  // conflict, a refused or failed save) keep the page: it returns false,
  // and the banner offers to download them or to leave without them
  // (again(), the way the designer was leaving).
  return async (again) => {
    if (st.dirty && !st.discard && !(await save())) {
      leave = again;
      leaveText.replaceChildren(h('strong', null, 'Your changes are not saved'),
        st.conflict ? ' (someone else saved this bot). ' : ` (${st.saveError}). `, 'Download them to keep a copy, or leave without them.');
      leaveBox.hidden = false;
      conflictBox.hidden = true; // the question says it all; Stay brings the banner back
      leaveBox.focus();
      return false;
    }
    document.removeEventListener('keydown', onKey);
    window.removeEventListener('beforeunload', onUnload);
    graph.destroy();
    return true;
  };
}
