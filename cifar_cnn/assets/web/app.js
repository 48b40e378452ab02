// The cifar_cnn service's web page: send an image to POST explain, show the top classes, the Grad-CAM overlay and
// this page's history. Every text from the service or the user (class names, file names) goes into the page as text
// nodes (textContent), never as HTML, so a name like <img onerror=...> is shown, not run.
'use strict';
const $ = id => document.getElementById(id), drop = $('drop'), input = $('file'), history = [];
const el = (tag, props, ...kids) => { const e = Object.assign(document.createElement(tag), props || {}); e.append(...kids); return e; };
const pct = q => `${(100 * q.probability).toFixed(1)}%`;

function meta() {
  fetch('model').then(r => r.ok ? r.json() : Promise.reject(r.status)).then(m => { $('meta').textContent =
    `model ${m.name} · ${m.num_classes} classes · input ${m.input_shape.join('×')} · ${m.params.toLocaleString()} parameters` +
    (m.test_accuracy ? ` · test accuracy ${(100 * m.test_accuracy).toFixed(2)}%` : '') + ` · cifar_cnn ${m.library_version}`; })
  .catch(() => { $('meta').textContent = 'the model is loading…'; setTimeout(meta, 3000); });
}

function show(h) {
  $('preview').src = h.url; $('overlay').src = 'data:image/png;base64,' + h.overlay;
  const p = h.predictions[0];
  $('top1').textContent = `${p.label} — ${pct(p)}`;
  $('bars').replaceChildren(...h.predictions.map(q => {
    const fill = el('div', {className: 'fill'}), bar = el('div', {className: 'bar'}, el('span', {textContent: q.label}),
      el('div', {className: 'track'}, fill), el('span', {textContent: pct(q)}));
    fill.style.width = pct(q); bar.dataset.label = q.label; return bar; }));
}

async function send(file) {
  $('error').textContent = ''; $('top1').textContent = 'thinking…';
  const fd = new FormData(); fd.append('file', file);
  try {
    const r = await fetch('explain', {method: 'POST', body: fd}), j = await r.json();
    if (!r.ok) { $('error').textContent = `${j.error}: ${j.detail}`; $('top1').textContent = '—'; return; }
    const h = {url: URL.createObjectURL(file), name: file.name, predictions: j.predictions, overlay: j.overlay_png};
    history.unshift(h); show(h);
    const p = j.predictions[0], li = el('li', {title: file.name}, el('img', {src: h.url, alt: ''}),
      el('span', {}, el('b', {textContent: p.label}), ` ${pct(p)}`, el('br'), el('span', {className: 'name', textContent: file.name})));
    li.onclick = () => show(h); $('history').prepend(li);
  } catch (e) { $('error').textContent = 'the service did not answer: ' + e; $('top1').textContent = '—'; }
}

meta();
drop.onclick = () => input.click();
drop.onkeydown = e => { if (e.key === 'Enter' || e.key === ' ') input.click(); };
input.onchange = () => { if (input.files.length) send(input.files[0]); input.value = ''; };
['dragenter', 'dragover'].forEach(t => drop.addEventListener(t, e => { e.preventDefault(); drop.classList.add('over'); }));
['dragleave', 'drop'].forEach(t => drop.addEventListener(t, e => { e.preventDefault(); drop.classList.remove('over'); }));
drop.addEventListener('drop', e => { if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]); });
