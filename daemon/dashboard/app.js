// opm's dashboard. Every request carries the token as a bearer header;
// the event stream and the log tail are read with fetch for that reason.
// The table changes on events: nothing here polls the daemon.
'use strict';

const $ = (s) => document.querySelector(s);
const KEY = 'opm-token';
const ACTIONS = ['start', 'stop', 'restart', 'reload'];
const MAX_LOG = 500, MAX_FEED = 200;

let token = sessionStorage.getItem(KEY) || '';
let apps = [];
let selected = null; // id of the app shown in detail
let events = null, logs = null; // AbortControllers of the two streams
let lastEvent = '';
let refreshing = null, refreshAgain = false;
let retry = 0, retryTimer = 0;

// text turns a byte-safe value of the API ({"base64": ...}) into text.
function text(v) {
  if (v == null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && typeof v.base64 === 'string') {
    try { return atob(v.base64); } catch (e) { return v.base64; }
  }
  return String(v);
}

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const k of kids) e.append(k);
  return e;
}

function bytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}

function label(a) { return a.instances > 1 ? a.name + ':' + a.instance : a.name; }

class HTTPError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function request(method, path, signal) {
  const headers = { Authorization: 'Bearer ' + token };
  if (path === '/v1/events' && lastEvent) headers['Last-Event-ID'] = lastEvent;
  const r = await fetch(path, { method, headers, signal, cache: 'no-store' });
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    if (r.status === 401 && token) logout('The daemon refused the token: ' + msg);
    throw new HTTPError(r.status, msg);
  }
  return r;
}

async function api(method, path) { return (await request(method, path)).json(); }

function notice(msg) { $('#notice').textContent = msg || ''; }

// --- login ---

function showLogin(msg) {
  $('#login').hidden = false;
  $('#main').hidden = true;
  $('#logout').hidden = true;
  $('#live').hidden = true;
  $('#daemon').textContent = '';
  $('#login-error').textContent = msg || '';
  $('#token').focus();
}

function logout(msg) {
  token = '';
  sessionStorage.removeItem(KEY);
  for (const c of [events, logs]) if (c) c.abort();
  events = logs = null;
  clearTimeout(retryTimer);
  showLogin(msg);
}

async function login(tok) {
  token = tok.trim();
  $('#login-button').disabled = true;
  try {
    const st = await api('GET', '/v1/daemon');
    sessionStorage.setItem(KEY, token);
    $('#token').value = '';
    $('#login').hidden = true;
    $('#main').hidden = false;
    $('#logout').hidden = false;
    $('#live').hidden = false;
    showDaemon(st);
    await refresh();
    connect();
  } catch (e) {
    token = '';
    sessionStorage.removeItem(KEY);
    $('#token').value = '';
    showLogin(e.status === 401 ? 'Wrong token: run "opm token" on the daemon\'s machine and paste what it prints.' : e.message);
  } finally {
    $('#login-button').disabled = false;
  }
}

// --- daemon and apps ---

function showDaemon(st) {
  const since = new Date(Date.now() - st.uptime_ms).toLocaleString();
  $('#daemon').textContent = `daemon ${st.version}, pid ${st.pid}, ${st.apps} apps, up since ${since}` +
    (st.notes && st.notes.length ? ` — ${st.notes.length} note(s)` : '');
  $('#daemon').title = (st.notes || []).join('\n');
}

// refresh fetches the apps again; calls during a fetch make one more.
async function refresh() {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    try {
      do {
        refreshAgain = false;
        apps = await api('GET', '/v1/apps?summary=1');
        render();
      } while (refreshAgain && token);
    } catch (e) {
      if (token) notice('Could not list the apps: ' + e.message);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function render() {
  const tbody = $('#apps tbody');
  tbody.replaceChildren(...apps.map(row));
  $('#empty').hidden = apps.length > 0;
  if (selected != null) {
    const a = apps.find((x) => x.id === selected);
    if (a) showInfo(a); else unselect();
  }
}

function row(a) {
  const up = a.status === 'online' && a.uptime_ms > 0 ? new Date(Date.now() - a.uptime_ms).toLocaleTimeString() : '';
  const tr = el('tr', { className: a.id === selected ? 'selected' : '' },
    el('td', { className: 'num id', textContent: a.id }),
    el('td', { className: 'name', textContent: label(a) }),
    el('td', { className: 'status ' + a.status, textContent: a.status }),
    el('td', { className: 'num pid', textContent: a.pid || '' }),
    el('td', { className: 'num restarts', textContent: a.restarts }),
    el('td', { className: 'num cpu', textContent: a.status === 'online' ? a.cpu.toFixed(1) + '%' : '' }),
    el('td', { className: 'num mem', textContent: a.status === 'online' ? bytes(a.memory) : '' }),
    el('td', { className: 'up', textContent: up }),
    el('td', { className: 'actions' }, ...ACTIONS.map((act) => el('button', {
      type: 'button', textContent: act, className: 'act-' + act,
      onclick: (ev) => { ev.stopPropagation(); act_(a, act, ev.target); },
    }))));
  tr.dataset.id = a.id;
  tr.dataset.name = label(a);
  tr.dataset.pid = a.pid || 0;
  tr.dataset.status = a.status;
  tr.onclick = () => select(a.id);
  return tr;
}

async function act_(a, action, button) {
  button.disabled = true;
  notice('');
  try {
    await api('POST', `/v1/apps/${a.id}/${action}`);
  } catch (e) {
    if (token) notice(`${action} ${label(a)}: ${e.message}`);
  } finally {
    button.disabled = false;
    refresh();
  }
}

// --- detail and log tail ---

function showInfo(a) {
  $('#detail-name').textContent = label(a) + ' (id ' + a.id + ')';
  const s = a.spec || {};
  const info = [
    ['status', a.status], ['pid', a.pid || '-'], ['restarts', a.restarts],
    ['last restart', a.last_restart_reason || '-'], ['exit code', a.exit_code],
    ['command', text(a.command)], ['cwd', text(s.cwd)], ['out log', text(s.out_log)], ['err log', text(s.err_log)],
  ];
  $('#detail-info').replaceChildren(...info.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: String(v) })]));
}

function unselect() {
  selected = null;
  if (logs) logs.abort();
  logs = null;
  $('#detail').hidden = true;
}

function select(id) {
  const a = apps.find((x) => x.id === id);
  if (!a) return;
  if (selected === id) { showInfo(a); return; }
  unselect();
  selected = id;
  $('#detail').hidden = false;
  $('#log').replaceChildren();
  showInfo(a);
  for (const tr of document.querySelectorAll('#apps tbody tr')) tr.classList.toggle('selected', Number(tr.dataset.id) === id);
  followLog(id);
}

async function followLog(id) {
  const ctl = new AbortController();
  logs = ctl;
  const pre = $('#log');
  try {
    const r = await request('GET', `/v1/apps/${id}/logs?lines=100&follow=1`, ctl.signal);
    await lines(r.body, (s) => {
      const l = JSON.parse(s);
      pre.append(el('span', { className: l.stream, textContent: l.line + '\n' }));
      while (pre.childNodes.length > MAX_LOG) pre.firstChild.remove();
      pre.scrollTop = pre.scrollHeight;
    });
  } catch (e) {
    if (!ctl.signal.aborted && token) pre.append(el('span', { className: 'err', textContent: '[log: ' + e.message + ']\n' }));
  }
}

// lines calls fn with each line of a streamed body.
async function lines(body, fn, sep = '\n') {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf(sep)) >= 0) {
      const s = buf.slice(0, i);
      buf = buf.slice(i + sep.length);
      if (s) fn(s);
    }
  }
}

// --- events ---

function live(on) {
  $('#live').textContent = on ? 'live' : 'reconnecting';
  $('#live').className = 'pill' + (on ? '' : ' off');
}

async function connect() {
  const ctl = new AbortController();
  events = ctl;
  try {
    const r = await request('GET', '/v1/events', ctl.signal);
    live(true);
    if (retry) refresh(); // what happened while away
    retry = 0;
    await lines(r.body, (block) => {
      const ev = { event: 'message', data: '' };
      for (const ln of block.split('\n')) {
        const i = ln.indexOf(':');
        if (i <= 0) continue; // a comment (keep-alive)
        const k = ln.slice(0, i), v = ln.slice(i + 1).replace(/^ /, '');
        if (k === 'data') ev.data += v; else ev[k] = v;
      }
      if (ev.id) lastEvent = ev.id;
      if (ev.data) onEvent(JSON.parse(ev.data));
    }, '\n\n');
  } catch (e) {
    if (ctl.signal.aborted || !token) return;
    if (e.status === 404) { live(false); $('#live').textContent = 'no live updates (daemon without /v1/events)'; return; }
  }
  if (ctl.signal.aborted || !token) return;
  // The stream ended (the daemon restarted?): connect again, backing off.
  live(false);
  retry++;
  retryTimer = setTimeout(connect, Math.min(1000 * 2 ** (retry - 1), 30000));
}

function onEvent(ev) {
  const when = new Date(ev.time || Date.now()).toLocaleTimeString();
  let what = ev.type + (ev.app ? ' ' + ev.app : '');
  if (ev.pid) what += ' pid ' + ev.pid;
  if (ev.code != null) what += ' code ' + ev.code;
  if (ev.signal) what += ' ' + ev.signal;
  if (ev.reason) what += ' (' + ev.reason + ')';
  if (ev.detail) what += ' — ' + ev.detail;
  const feed = $('#feed');
  feed.prepend(el('li', { className: ev.type }, el('span', { className: 't', textContent: when }), what));
  while (feed.childNodes.length > MAX_FEED) feed.lastChild.remove();
  // The row changes at once; CPU and memory come with the listing.
  const a = ev.app ? apps.find((x) => x.id === ev.id) : null;
  if (a) {
    if (ev.type === 'start') { a.status = 'online'; a.pid = ev.pid; }
    if (ev.type === 'exit') { a.status = 'waiting'; a.pid = 0; }
    if (ev.type === 'errored') { a.status = 'errored'; a.pid = 0; }
    if (ev.type === 'stop') { a.status = 'stopped'; a.pid = 0; }
    if (ev.restarts) a.restarts = ev.restarts;
    render();
  }
  refresh();
  if (ev.type.startsWith('restore')) api('GET', '/v1/daemon').then(showDaemon, () => {});
}

// --- start ---

$('#login-form').addEventListener('submit', (e) => { e.preventDefault(); login($('#token').value); });
$('#logout').addEventListener('click', () => logout(''));
if (token) login(token); else showLogin('');
