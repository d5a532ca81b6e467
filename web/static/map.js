// Preview map of coopol: our own layers only, no basemap. Geometry comes once, in
// vector tiles; indicator values come as {id: value} JSON and are joined to the
// features with feature-state (promoteId "id"), so switching indicators never
// refetches a tile.
import * as maplibregl from './vendor/maplibre-gl.mjs';

const SOURCE = 'coopol';
const COLORS = ['#fff5eb', '#fdd0a2', '#fd8d3c', '#d94801', '#7f2704'];
const BASE_INDICATORS = [
  ['abstention', 'Abstention', true],
  ['participation', 'Participation', true],
  ['blancs_nuls', 'Blancs et nuls (part des votants)', true],
  ['inscrits', 'Inscrits', false],
];
const LEVELS = [ // the layer coloured at each zoom: aggregated at low zoom
  {layer: 'departements', max: 8, label: 'départements'},
  {layer: 'communes', max: 10, label: 'communes'},
  {layer: 'bureaux', max: 99, label: 'bureaux de vote'},
];

const $ = (id) => document.getElementById(id);
const fmtNumber = new Intl.NumberFormat('fr-FR');
const fmtPercent = new Intl.NumberFormat('fr-FR', {style: 'percent', maximumFractionDigits: 1});

const viewInURL = location.hash !== ''; // read before the map writes its own hash
const map = new maplibregl.Map({
  container: 'map',
  style: '/tiles/style.json',
  center: [2.4, 46.6],
  zoom: 5,
  hash: true,
  attributionControl: {compact: true},
});
window.coopolMap = map; // for the headless test and the console
map.addControl(new maplibregl.NavigationControl({showCompass: false}), 'top-right');

let state = {layer: null, key: null, unit: 'rate', values: {}, tilesURL: null};

function levelFor(zoom) {
  return LEVELS.find((l) => zoom < l.max);
}

const fmtPoints = new Intl.NumberFormat('fr-FR', {maximumFractionDigits: 1, signDisplay: 'exceptZero'});

// format writes a value in its unit: rate (a share), points (a change of shares), count.
function format(v, unit) {
  if (v === undefined || v === null) return 'n.d.';
  if (unit === 'rate') return fmtPercent.format(v);
  if (unit === 'points') return `${fmtPoints.format(v)} pt`;
  return fmtNumber.format(Math.round(v));
}

// quantileBreaks returns the 4 inner limits of 5 classes with as many features each.
function quantileBreaks(values) {
  const v = values.slice().sort((a, b) => a - b);
  if (v.length === 0) return [];
  const out = [];
  for (let i = 1; i < COLORS.length; i++) out.push(v[Math.min(v.length - 1, Math.floor((i * v.length) / COLORS.length))]);
  return out.filter((b, i) => i === 0 || b > out[i - 1]);
}

function paint(layer, breaks) {
  const step = ['step', ['feature-state', 'v'], COLORS[0]];
  breaks.forEach((b, i) => step.push(b, COLORS[i + 1]));
  const expr = ['case', ['==', ['typeof', ['feature-state', 'v']], 'number'], step, '#d9d4c7'];
  map.setPaintProperty(`${layer}-fill`, 'fill-color', breaks.length ? expr : '#d9d4c7');
}

// legend is built from nodes: the title can name a nuance read from a results file.
function legend(title, breaks, unit) {
  const box = $('legende');
  const strong = document.createElement('strong');
  strong.textContent = title;
  box.replaceChildren(strong);
  const row = (color, text) => {
    const div = document.createElement('div');
    const swatch = document.createElement('span');
    swatch.className = 'c';
    swatch.style.background = color;
    div.append(swatch, text);
    box.append(div);
  };
  const limits = [null, ...breaks, null];
  for (let i = 0; i < limits.length - 1; i++) {
    const lo = limits[i], hi = limits[i + 1];
    row(COLORS[i], lo === null ? `moins de ${format(hi, unit)}` : hi === null ? `${format(lo, unit)} et plus` : `${format(lo, unit)} à ${format(hi, unit)}`);
  }
  row('#d9d4c7', 'non disponible');
}

async function loadIndicator() {
  const level = levelFor(map.getZoom());
  const [election, round] = ($('election').value || '/').split('/');
  const opt = $('indicateur').selectedOptions[0];
  if (!opt) return;
  const key = `${level.layer}|${opt.value}|${election}|${round}`;
  // Census shares carry their vintages in the option: share:KEY@2015, change:KEY@2010-2015.
  const indicator = opt.value.split('@')[0];
  $('niveau').textContent = `Couleurs par ${level.label}`;
  if (key === state.key) return;
  state.key = key;
  const params = new URLSearchParams({indicator});
  if (opt.dataset.vintage) params.set('vintage', opt.dataset.vintage);
  if (opt.dataset.from) params.set('from', opt.dataset.from);
  if (election) params.set('election', election);
  if (round) params.set('round', round);
  $('etat').textContent = 'Chargement…';
  const res = await fetch(`/api/indicators/${level.layer}?${params}`);
  if (!res.ok) {
    $('etat').textContent = 'Indicateur indisponible.';
    return;
  }
  const values = await res.json();
  if (state.key !== key) return; // a later switch won
  if (state.layer) map.removeFeatureState({source: SOURCE, sourceLayer: state.layer});
  for (const [id, v] of Object.entries(values)) {
    map.setFeatureState({source: SOURCE, sourceLayer: level.layer, id}, {v});
  }
  const unit = opt.dataset.unit;
  const breaks = quantileBreaks(Object.values(values));
  paint(level.layer, breaks);
  legend(opt.textContent, breaks, unit);
  state = {...state, layer: level.layer, unit, values};
  $('etat').textContent = `${fmtNumber.format(Object.keys(values).length)} ${level.label} renseignés`;
}

async function loadCatalogue() {
  const res = await fetch('/api/indicators');
  const cat = res.ok ? await res.json() : {elections: [], nuances: {}};
  const sel = $('election');
  sel.innerHTML = '';
  for (const e of cat.elections) {
    const o = document.createElement('option');
    o.value = `${e.election}/${e.round}`;
    o.textContent = `${e.election} — ${e.round === 1 ? '1er' : '2d'} tour`;
    sel.append(o);
  }
  if (!cat.elections.length) sel.innerHTML = '<option value="">aucune élection chargée</option>';
  const fill = () => {
    const ind = $('indicateur');
    const keep = ind.value;
    ind.innerHTML = '';
    const add = (value, label, unit, data = {}) => {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = label;
      o.dataset.unit = unit;
      Object.assign(o.dataset, data);
      ind.append(o);
    };
    BASE_INDICATORS.forEach(([v, l, r]) => add(v, l, r ? 'rate' : 'count'));
    for (const n of (cat.nuances[sel.value] || [])) add(`nuance:${n}`, `Voix ${n} (part des exprimés)`, 'rate');
    for (const s of (cat.shares || [])) {
      for (const v of s.vintages) add(`share:${s.key}@${v}`, `${s.label} (${v})`, 'rate', {vintage: v});
      if (s.vintages.length > 1) {
        const from = s.vintages[0], to = s.vintages[s.vintages.length - 1];
        add(`change:${s.key}@${from}-${to}`, `${s.label} : évolution ${from} → ${to} (points)`, 'points', {from, vintage: to});
      }
    }
    if ([...ind.options].some((o) => o.value === keep)) ind.value = keep;
  };
  fill();
  sel.addEventListener('change', () => { fill(); loadIndicator(); });
  $('indicateur').addEventListener('change', loadIndicator);
}

// Election night: when the data change, TileJSON names new tile URLs; swap them in.
async function watchVersions() {
  try {
    const res = await fetch('/tiles/carte.json', {cache: 'no-cache'});
    const tj = await res.json();
    const url = tj.tiles[0];
    if (state.tilesURL && url !== state.tilesURL) {
      map.getSource(SOURCE).setTiles([url]);
      state.key = null;
      loadIndicator();
    }
    state.tilesURL = url;
  } catch (e) { /* offline: keep what we have */ }
}

// Open on the loaded territory, unless the URL already names a view (hash: true).
async function fitData() {
  if (viewInURL) return;
  try {
    const res = await fetch('/tiles/carte.json', {cache: 'no-cache'});
    const [w, s, e, n] = (await res.json()).bounds;
    if (e - w < 360) map.fitBounds([[w, s], [e, n]], {padding: 40, animate: false});
  } catch (e) { /* keep the default view */ }
}

map.on('load', async () => {
  await fitData();
  await loadCatalogue();
  await loadIndicator();
  watchVersions();
  setInterval(watchVersions, 30000);
});
map.on('zoomend', loadIndicator);

map.on('click', (e) => {
  const layers = ['bureaux-fill', 'communes-fill', 'departements-fill'];
  const f = map.queryRenderedFeatures(e.point, {layers})[0];
  if (!f) return;
  const p = f.properties;
  const kind = {bureaux: 'Bureau de vote', communes: 'Commune', departements: 'Département'}[f.sourceLayer];
  const v = state.layer === f.sourceLayer ? state.values[p.id] : undefined;
  // Names, codes and indicator labels (a nuance comes from a results file) are data:
  // written as text, never as HTML.
  const html = document.createElement('div');
  const strong = document.createElement('strong');
  strong.textContent = p.nom || p.id;
  const code = document.createElement('code');
  code.textContent = p.id;
  html.append(strong, document.createElement('br'), `${kind} `, code);
  const line = (text) => html.append(document.createElement('br'), text);
  if (p.inscrits !== undefined) line(`${fmtNumber.format(p.inscrits)} inscrits`);
  if (v !== undefined) line(`${$('indicateur').selectedOptions[0].textContent} : ${format(v, state.unit)}`);
  new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(html).addTo(map);
  if (f.sourceLayer === 'bureaux') map.setFilter('selection', ['==', ['get', 'id'], p.id]);
});
