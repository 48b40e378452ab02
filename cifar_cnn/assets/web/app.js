// The cifar_cnn service's web page. Each chosen, dropped or pasted image is sent to POST explain on its own and gets
// its own card: the top classes, the Grad-CAM overlay and the model and version that answered, or the service's error
// for that file alone. Answers are kept in a bounded history in localStorage (downscaled JPEG data URLs, so the
// browser's quota is never reached), and two history entries can be compared side by side. When the service has
// GET /models, a selector picks the model and version (query parameters `model` and `version`); without it the page
// shows the name from GET /model. Every text from the service or the user (class names, file names, model names) goes
// into the page as text nodes (textContent), never as HTML, so a name like <img onerror=...> is shown, not run.
'use strict';
const KEY = 'cifar_cnn.history', MAX_HISTORY = 20, MAX_FILES = 50, MAX_CARDS = 24, PARALLEL = 3, OVERLAY_SIDE = 128, THUMB_SIDE = 96;
const $ = id => document.getElementById(id), drop = $('drop'), input = $('file');
const el = (tag, props, ...kids) => { const e = Object.assign(document.createElement(tag), props || {}); e.append(...kids); return e; };
const prob = q => Math.max(0, Math.min(1, Number(q.probability) || 0));
const pct = q => `${(100 * prob(q)).toFixed(1)}%`;
const state = {served: null, models: null, history: [], picked: [], timer: null};   // served: GET /model's name, for a service without /models

// ---- which model answers: GET /models fills the selector; GET /model names the model in the header
function chosen() {
  // the query string naming the chosen model and version ('' for the service's default)
  const q = new URLSearchParams();
  if (!$('chooser').hidden && $('model').value) q.set('model', $('model').value);
  if (!$('chooser').hidden && $('version').value) q.set('version', $('version').value);
  const s = q.toString(); return s ? '?' + s : '';
}

async function getJSON(url) {
  const r = await fetch(url, {cache: 'no-store'}); let j = null;
  try { j = await r.json(); } catch (e) { /* not JSON: the caller reports the status */ }
  return {r, j};
}

function titleOf(name) {
  const m = state.models && state.models.models.find(x => x.name === name);
  return m && typeof m.title === 'string' ? m.title : null;
}

function whoText(h) {
  // 'default v2 · airbench-…' from an answer's model, version and title; the served name when the service gave none
  if (h.model == null) return h.title || 'the model';
  const v = h.version == null ? '' : ` v${h.version}`;
  return `${h.model}${v}` + (h.title && h.title !== h.model ? ` · ${h.title}` : '');
}

async function meta() {
  try {
    const {r, j: m} = await getJSON('model' + chosen());
    if (r.status === 404 && m && m.detail) { $('meta').textContent = `model not found: ${m.detail}`; return loadModels(); }
    if (!r.ok || !m) throw new Error(r.status);
    state.served = m.name;
    const who = m.model == null ? '' : ` · served as ${whoText({model: m.model, version: m.version})}`;
    $('meta').textContent = `model ${m.name}${who} · ${m.num_classes} classes · input ${m.input_shape.join('×')} · ` +
      `${m.params.toLocaleString()} parameters` + (m.test_accuracy ? ` · test accuracy ${(100 * m.test_accuracy).toFixed(2)}%` : '') +
      ` · cifar_cnn ${m.library_version}`;
  } catch (e) { $('meta').textContent = 'the model is loading…'; setTimeout(meta, 3000); }
}

function fillVersions() {
  const sel = $('version'), keep = sel.value, m = state.models.models.find(x => x.name === $('model').value);
  const vs = m && Array.isArray(m.versions) ? m.versions : [];
  sel.replaceChildren(el('option', {value: '', textContent: m && m.default_version != null ? `newest (v${m.default_version})` : 'newest'}),
    ...vs.map(v => el('option', {value: String(v.version), disabled: v.state !== 'AVAILABLE',
      textContent: `v${v.version}` + (v.state === 'AVAILABLE' ? '' : ` (${String(v.state).toLowerCase()})`)})));
  sel.value = [...sel.options].some(o => o.value === keep && !o.disabled) ? keep : '';
}

function fillModels(j) {
  // fill the selector, keeping the choice where it still exists; true when the choice changed
  const sel = $('model'), was = [sel.value, $('version').value], keep = sel.value || j.default_model;
  sel.replaceChildren(...j.models.map(m => el('option', {value: m.name,
    textContent: m.title && m.title !== m.name ? `${m.name} (${m.title})` : m.name})));
  sel.value = j.models.some(m => m.name === keep) ? keep : j.default_model;
  fillVersions(); $('chooser').hidden = false;
  return sel.value !== was[0] || $('version').value !== was[1];
}

async function loadModels() {
  // fill the selector from GET /models (again every 30 s: versions come and go); hide it where the service has no /models
  clearTimeout(state.timer);
  try {
    const {r, j} = await getJSON('models');
    if (r.status === 404 || r.status === 405) { state.models = null; $('chooser').hidden = true; return; }
    if (!r.ok || !j || !Array.isArray(j.models) || !j.models.length) throw new Error(r.status);
    const changed = !state.models || JSON.stringify(state.models) !== JSON.stringify(j);
    state.models = j;
    if (changed && fillModels(j)) meta();                // the chosen model or version is gone: say which one answers now
    state.timer = setTimeout(loadModels, 30000);
  } catch (e) { state.timer = setTimeout(loadModels, 5000); }
}

// ---- one card per file
function bars(preds) {
  return preds.map(q => {
    const fill = el('div', {className: 'fill'}), bar = el('div', {className: 'bar'}, el('span', {className: 'label', textContent: q.label}),
      el('div', {className: 'track'}, fill), el('span', {className: 'pct', textContent: pct(q)}));
    fill.style.width = pct(q); bar.dataset.label = q.label; return bar;
  });
}

function figure(src, cls, caption) {
  const img = el('img', {className: cls, alt: caption}), f = el('figure', {}, img, el('figcaption', {textContent: caption}));
  img.onerror = () => f.classList.add('broken');     // e.g. a TIFF, which the service reads and the browser cannot show
  if (src) img.src = src;
  return f;
}

function newCard(file) {
  const c = el('article', {className: 'result'}), url = URL.createObjectURL(file);
  c.dataset.state = 'pending'; c.dataset.name = file.name; c.blobUrl = url;
  const err = el('div', {className: 'error'}); err.setAttribute('role', 'alert');
  c.append(el('div', {className: 'pics'}, figure(url, 'preview', 'your image'), figure(null, 'overlay', 'Grad-CAM')),
    el('div', {className: 'info'}, el('div', {className: 'name', textContent: file.name, title: file.name}),
      el('div', {className: 'top1', textContent: 'waiting…'}), el('div', {className: 'bars'}), el('div', {className: 'who'}), err));
  return c;
}

function fail(card, msg) {
  card.dataset.state = 'error'; card.querySelector('.top1').textContent = 'not classified';
  card.querySelector('.error').textContent = msg; card.querySelector('.overlay').parentNode.hidden = true;
}

function fill(card, j, who) {
  const p = j.predictions[0];
  card.querySelector('.overlay').src = 'data:image/png;base64,' + j.overlay_png;
  card.querySelector('.top1').textContent = `${p.label} — ${pct(p)}`;
  card.querySelector('.bars').replaceChildren(...bars(j.predictions));
  card.querySelector('.who').textContent = 'answered by ' + whoText(who);
  if (who.model != null) card.dataset.model = who.model;
  if (who.version != null) card.dataset.version = String(who.version);
  card.dataset.state = 'done';
}

async function send(file, card, query) {
  // POST one file to explain; fill its card with the answer, or with this file's error
  card.querySelector('.top1').textContent = 'thinking…';
  const fd = new FormData(); fd.append('file', file);
  let r, j = null;
  try { r = await fetch('explain' + query, {method: 'POST', body: fd}); j = await r.json().catch(() => null); }
  catch (e) { return fail(card, `the service did not answer: ${e.message || e}`); }
  if (r.status === 404 && !$('chooser').hidden) loadModels();          // the chosen version may have gone
  if (!r.ok || !j || !Array.isArray(j.predictions) || !j.predictions.length || typeof j.overlay_png !== 'string')
    return fail(card, j && j.error ? `${j.error}: ${j.detail}` : `the service answered HTTP ${r.status} without a result`);
  const who = {model: j.model ?? null, version: j.version ?? null, title: j.model == null ? state.served : titleOf(j.model)};
  fill(card, j, who);
  await remember(file.name, j, who, card);
}

function queue(files) {
  // one card per file (newest first), sent PARALLEL at a time with the model and version chosen now
  const all = [...files], list = all.slice(0, MAX_FILES), query = chosen();
  $('error').textContent = all.length > MAX_FILES ? `${all.length} files: only the first ${MAX_FILES} were sent.` : '';
  if (!list.length) return;
  const at = Date.now(), jobs = list.map((f, i) => ({file: f, card: Object.assign(newCard(f), {at, pos: i})}));
  $('results').prepend(...jobs.map(j => j.card)); $('empty').hidden = true;
  [...$('results').children].slice(MAX_CARDS).forEach(c => { URL.revokeObjectURL(c.blobUrl); c.remove(); });
  const worker = async () => { for (let j; (j = jobs.shift());) await send(j.file, j.card, query); };
  for (let i = 0; i < Math.min(PARALLEL, jobs.length); i++) worker();
}

// ---- history in localStorage, bounded, with small images
function shrink(src, side) {
  // a JPEG data URL of the image at `src`, at most `side` pixels a side (null when the browser cannot read it)
  return new Promise(done => {
    const im = new Image();
    im.onload = () => {
      try {
        const s = Math.min(1, side / Math.max(im.naturalWidth, im.naturalHeight)), c = document.createElement('canvas');
        c.width = Math.max(1, Math.round(im.naturalWidth * s)); c.height = Math.max(1, Math.round(im.naturalHeight * s));
        const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
        g.imageSmoothingQuality = 'high'; g.drawImage(im, 0, 0, c.width, c.height); done(c.toDataURL('image/jpeg', 0.88));
      } catch (e) { done(null); }
    };
    im.onerror = () => done(null); im.src = src;
  });
}

const isImage = s => typeof s === 'string' && s.length < 200000 && /^data:image\/(jpeg|png|webp);base64,[A-Za-z0-9+/=]+$/.test(s);
const isEntry = h => h && typeof h.id === 'string' && typeof h.name === 'string' && typeof h.at === 'number' && isImage(h.overlay) && (h.thumb == null || isImage(h.thumb))
  && Array.isArray(h.predictions) && h.predictions.length > 0 && h.predictions.every(p => p && typeof p.label === 'string');

function load() {
  try { const d = JSON.parse(localStorage.getItem(KEY) || 'null'); return (d && Array.isArray(d.entries) ? d.entries : []).filter(isEntry).slice(0, MAX_HISTORY); }
  catch (e) { return []; }
}

const isQuota = e => e && (e.name === 'QuotaExceededError' || e.name === 'NS_ERROR_DOM_QUOTA_REACHED' || e.code === 22 || e.code === 1014);

function save() {
  // store the history, dropping the oldest entries while the browser's quota refuses it
  state.history = state.history.slice(0, MAX_HISTORY);
  for (;;) {
    try {
      if (state.history.length) localStorage.setItem(KEY, JSON.stringify({version: 1, entries: state.history}));
      else localStorage.removeItem(KEY);
      return true;
    } catch (e) {
      if (!isQuota(e)) { $('error').textContent = `the history cannot be kept in this browser (${e.name}).`; return false; }
      if (!state.history.length) return false;
      state.history.pop();
      $('error').textContent = `the browser's storage is full: the history keeps the newest ${state.history.length}.`;
    }
  }
}

async function remember(name, j, who, card) {
  const [overlay, thumb] = await Promise.all([shrink('data:image/png;base64,' + j.overlay_png, OVERLAY_SIDE), shrink(card.blobUrl, THUMB_SIDE)]);
  if (!overlay) return;
  const id = Date.now().toString(36) + Math.random().toString(36).slice(2, 8), {at, pos} = card;
  const i = state.history.findIndex(h => h.at < at || (h.at === at && (h.pos || 0) > pos));   // newest batch first, each in file order
  state.history.splice(i < 0 ? state.history.length : i, 0, {id, at, pos, name, model: who.model, version: who.version, title: who.title,
    thumb, overlay, predictions: j.predictions.map(q => ({label: String(q.label), index: q.index, probability: prob(q)}))});
  card.dataset.entry = id; save(); renderHistory();
}

function renderHistory() {
  state.picked = state.picked.filter(id => state.history.some(h => h.id === id));
  $('history').replaceChildren(...state.history.map(h => {
    const p = h.predictions[0], box = el('input', {type: 'checkbox', checked: state.picked.includes(h.id)});
    box.setAttribute('aria-label', `compare ${h.name}`);
    const li = el('li', {title: h.name}, box, el('img', {src: h.thumb || h.overlay, alt: ''}), el('img', {src: h.overlay, alt: '', className: 'ov'}),
      el('span', {className: 'text'}, el('span', {className: 'top'}, el('b', {textContent: p.label}), ` ${pct(p)}`),
        el('span', {className: 'name', textContent: h.name}), el('span', {className: 'who', textContent: whoText(h)})));
    li.dataset.id = h.id; li.classList.toggle('picked', box.checked);
    box.onchange = () => pick(h.id, box.checked);
    li.onclick = e => { if (e.target !== box) pick(h.id, !box.checked); };
    return li;
  }));
  $('clear').disabled = !state.history.length;
  renderCompare();
}

// ---- two history entries side by side
function pick(id, on) {
  state.picked = state.picked.filter(x => x !== id);
  if (on) state.picked.push(id);
  state.picked = state.picked.slice(-2);          // a third tick replaces the first
  renderHistory();
}

function side(h) {
  const p = h.predictions[0];
  return el('div', {className: 'side'}, el('div', {className: 'pics'}, ...(h.thumb ? [figure(h.thumb, 'thumb', 'the image')] : []),
    figure(h.overlay, 'overlay', 'Grad-CAM')), el('div', {className: 'info'}, el('div', {className: 'name', textContent: h.name, title: h.name}),
    el('div', {className: 'top1', textContent: `${p.label} — ${pct(p)}`}), el('div', {className: 'bars'}, ...bars(h.predictions)),
    el('div', {className: 'who', textContent: 'answered by ' + whoText(h)}),
    el('div', {className: 'when', textContent: new Date(h.at).toLocaleString()})));
}

function renderCompare() {
  const two = state.picked.map(id => state.history.find(h => h.id === id)).filter(Boolean);
  $('compare').hidden = two.length !== 2;
  $('pickhint').textContent = two.length === 1 ? 'Tick one more entry to compare it with.' : 'Kept in this browser (the last 20). Tick two entries to compare them.';
  if (two.length !== 2) return $('pair').replaceChildren();
  const [a, b] = two.map(h => h.predictions[0].label);
  $('verdict').textContent = a === b ? `both: ${a}` : `${a} vs ${b}`;
  $('pair').replaceChildren(...two.map(side));
}

// ---- wiring
state.history = load(); renderHistory(); meta(); loadModels();
$('model').onchange = () => { fillVersions(); meta(); };
$('version').onchange = () => meta();
$('clear').onclick = () => { state.history = []; state.picked = []; save(); renderHistory(); };
$('uncompare').onclick = () => { state.picked = []; renderHistory(); };
window.addEventListener('storage', e => { if (e.key === KEY || e.key === null) { state.history = load(); renderHistory(); } });
drop.onclick = () => input.click();
drop.onkeydown = e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } };
input.onchange = () => { queue(input.files); input.value = ''; };
['dragenter', 'dragover'].forEach(t => drop.addEventListener(t, e => { e.preventDefault(); drop.classList.add('over'); }));
drop.addEventListener('dragleave', e => { if (!drop.contains(e.relatedTarget)) drop.classList.remove('over'); });
drop.addEventListener('drop', e => { e.preventDefault(); drop.classList.remove('over'); if (e.dataTransfer) queue(e.dataTransfer.files); });
['dragover', 'drop'].forEach(t => window.addEventListener(t, e => e.preventDefault()));   // a file dropped beside the zone is not opened
document.addEventListener('paste', e => { if (e.clipboardData && e.clipboardData.files.length) queue(e.clipboardData.files); });
