import { RelayClient } from '/sse-client.js';

const MAX_CARDS = 20;
const MAX_ALERTS = 5;
const TOPIC = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const params = new URLSearchParams(window.location.search);
// `?topic=` with nothing after it names no topic: the demo's own, as with no parameter.
const topic = params.get('topic') || 'demo';
const $ = (id) => document.getElementById(id);
let received = 0;

// Every value from the stream goes in with textContent: user data is text, never HTML.
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function field(label, value) {
  const row = element('div', 'field');
  row.append(element('span', 'label', label), element('span', 'value', value ?? '–'));
  return row;
}

function prepend(container, node, max) {
  container.insertBefore(node, container.firstChild);
  while (container.children.length > max) container.lastChild.remove();
}

function counted(event) {
  received += 1;
  $('count').textContent = String(received);
  $('last-id').textContent = event.lastEventId || '–';
}

function showRecord(data, event) {
  counted(event);
  const card = element('article', 'card');
  card.dataset.id = event.lastEventId;
  if (data !== null && typeof data === 'object') {
    card.append(field('Name', data.name), field('Count', data.count), field('Time', data.timestamp));
  } else {
    card.append(field('Data', data));
  }
  prepend($('cards'), card, MAX_CARDS);
}

function showAlert(data, event) {
  counted(event);
  const level = data && typeof data === 'object' ? String(data.level ?? 'info') : 'info';
  const item = element('li', `alert alert-${level === 'warning' ? 'warning' : 'info'}`);
  item.append(element('strong', '', level), element('span', '', data && typeof data === 'object' ? data.message : data));
  prepend($('alerts'), item, MAX_ALERTS);
}

$('topic').textContent = topic;
// The footer's commands name this page's own address, so they work when copied. A topic from the address bar goes
// into the shell command only when it is a valid topic (no quote can then break out of it).
const shown = TOPIC.test(topic) ? topic : 'demo';
$('subscribe-example').textContent = `GET /events?topic=${shown}`;
$('publish-example').textContent = `curl -XPOST ${window.location.origin}/publish -H 'content-type: application/json' ` +
  `-d '{"topic":"${shown}","event":"record","data":{"name":"you","count":1}}'`;
const client = new RelayClient('/events', { topics: [topic] });
client.on('record', showRecord).on('message', showRecord).on('system-alert', showAlert);
client.onstate = (state, detail) => {
  const node = $('state');
  node.dataset.state = state;
  // A refusal says why the page waits: a 401 here means the relay runs with auth on, and this page has no token.
  const why = detail.status === undefined ? '' : `: ${detail.status} ${detail.code ?? ''}`.trimEnd();
  if (state === 'backoff') node.textContent = `retrying in ${Math.round(detail.delayMs / 100) / 10} s${why}`;
  else if (state === 'forbidden') node.textContent = 'not allowed to read this topic';
  // A refusal the client does not retry (an invalid topic): the relay's reason says what to change.
  else if (state === 'failed') node.textContent = `failed: ${detail.message ?? detail.code ?? `HTTP ${detail.status}`}`;
  else node.textContent = state;
};
client.onreset = () => showAlert({ level: 'warning', message: 'Some events were missed while disconnected.' }, { lastEventId: client.lastEventId });
window.relayClient = client;
