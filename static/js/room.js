// Heyat hearing room client. The server is the source of truth: this file renders what
// it sends. Every room event carries a sequence number; on every (re)connect the client
// asks for what it missed (`sync` with the last number it saw) and applies it in order.
// Text from people (names, chat, notes) is always put in with textContent, never as HTML.

const boot = JSON.parse(document.getElementById("room-config").textContent);
const cfg = boot.config;
const T = boot.strings;
const fa = boot.locale === "fa";
const $ = (id) => document.getElementById(id);

const num = (n) => (fa ? Number(n).toLocaleString("fa-IR", { useGrouping: false }) : String(n));
const fmt = (text, params) =>
  text.replace(/\{(\w+)\}/g, (_, k) => (typeof params[k] === "number" ? num(params[k]) : String(params[k] ?? "")));
const el = (tag, text, cls) => {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
};

let state = null; // the snapshot, kept current by events
let lastSeq = null;
let following = true;
let localView = { document_id: null, page: 1, zoom: 100 };
let pdfjs = null;
const pdfCache = new Map();
let renderTask = null;
let textLayer = null; // pdf.js's TextLayer of the page shown: its spans hold the page's text
const textCache = new Map(); // "document:page" -> promise of the page's text content
let find = null; // the viewer's search: { documentId, query, matches, index }
let marking = false;
let reading = { key: null, since: Date.now() };
const opened = new Set(); // documents whose opening this page has reported

// ------------------------------------------------------------------ socket

const socket = io(cfg.namespace, {
  transports: ["websocket"],
  auth: { hearing_id: cfg.hearing_id },
  reconnection: true,
  reconnectionDelay: 500,
  reconnectionDelayMax: 5000,
});

function call(event, data) {
  return new Promise((resolve) => {
    socket.timeout(10000).emit(event, data || {}, (err, answer) => {
      if (err) resolve({ error: { code: "timeout", message: T.offline } });
      else resolve(answer);
    });
  });
}

function problem(answer) {
  if (answer && answer.error) {
    const box = $("problem");
    box.textContent = answer.error.message;
    box.hidden = false;
    setTimeout(() => (box.hidden = true), 6000);
    return true;
  }
  return false;
}

socket.on("connect", () => {
  let whole = false;
  if (removed) {
    if (waiting === null) return;
    rejoin(); // called back into the hearing: what was said meanwhile is not for us
    whole = true;
  }
  setConnection("connected");
  resync(whole);
});
socket.on("disconnect", () => {
  if (!removed) setConnection("reconnecting");
});
// A party sent out for the board's deliberation waits: the page asks to enter again every
// few seconds (refused with "deliberation") until the board calls the parties back; then
// it takes the whole picture again. A closed room or a person not summoned: it stops.
let waiting = null;
function waitForCallBack() {
  clearTimeout(waiting);
  waiting = setTimeout(() => socket.connect(), 5000);
}
socket.on("connect_error", (err) => {
  const code = err && err.data && err.data.code;
  if (code === "deliberation") {
    if (!removed) leave(err.message);
    waitForCallBack();
    return;
  }
  if (code === "room_closed" || code === "not_summoned") {
    leave(err.message); // the server will not let this person in again: stop knocking
    return;
  }
  setConnection("offline");
  if (code === "internal" || code === "busy") {
    // The server could not take this connection just now (say, every room reconnecting
    // after a restart): socket.io does not retry a refused connect by itself, so knock
    // again after a pause of its own.
    clearTimeout(waiting);
    waiting = setTimeout(() => socket.connect(), 1000 + Math.random() * 2000);
  }
  if (err && err.message) {
    $("problem").textContent = err.message;
    $("problem").hidden = false;
  }
});
socket.on("removed", () => {
  leave(T.removed);
  waitForCallBack();
});
socket.on("room", (event) => {
  if (syncing || state === null) {
    pending.push(event); // applied by seq once the sync's answer is in
    return;
  }
  receive(event);
});

// Live events and the answer to `sync` race each other: while a sync is on its way every
// live event waits in `pending`, and is applied after the answer, in seq order, if the
// answer did not already hold it. An event that skips numbers asks for what lies between
// (`sync` from the last number applied): most gaps are events meant for others and the
// answer is empty, but a lost emit (a Redis hiccup, a socket that joined the room late) is
// recovered at once instead of at the next reload.
let syncing = false;
let again = false; // another sync was asked for while one was on its way
let fresh = false; // the next sync asks for a snapshot
let pending = [];

function receive(event) {
  if (event.seq <= lastSeq) return; // already applied (replay and live overlap)
  if (event.seq > lastSeq + 1) {
    pending.push(event);
    resync();
    return;
  }
  apply(event);
}

async function resync(whole) {
  if (whole) fresh = true;
  if (syncing) {
    again = true;
    return;
  }
  syncing = true;
  try {
    do {
      again = false;
      const from = fresh ? null : lastSeq;
      fresh = false;
      const answer = await call("sync", { last_seq: from });
      if (removed) return;
      if (problem(answer)) {
        // A reconnect asked again while this one was on its way (its answer went with the
        // old connection): ask on the new one, or the page would stay as it was. Otherwise
        // the events wait for the next connect's sync.
        if ((again || fresh) && socket.connected) continue;
        return;
      }
      if (answer.snapshot) {
        state = answer.snapshot;
        lastSeq = answer.seq;
        renderAll();
      } else if (state !== null) {
        for (const event of answer.events) {
          if (fresh) break; // an event asked for the whole picture (this person was admitted)
          if (event.seq > lastSeq) apply(event);
        }
        if (!fresh) lastSeq = Math.max(lastSeq, answer.seq);
      }
    } while (again || fresh);
  } finally {
    syncing = false;
  }
  const waiting = pending.sort((a, b) => a.seq - b.seq);
  pending = [];
  for (const [i, event] of waiting.entries()) {
    if (removed) return;
    if (syncing) {
      // Applying an event asked for a new picture (this person was just admitted): the
      // rest waits for it.
      pending.push(...waiting.slice(i));
      return;
    }
    receive(event); // a gap asks again and keeps this event for after
  }
}

// A removed party (the board went to deliberation) or a refused one: say why, stop
// reconnecting, and switch every control off (those this switched off come back on a
// call-back).
let removed = false;
let switchedOff = [];
function leave(text) {
  removed = true;
  document.dispatchEvent(new CustomEvent("heyat:room-left"));
  pending = [];
  socket.io.reconnection(false);
  socket.disconnect();
  setConnection("removed");
  notice(text);
  for (const node of document.querySelectorAll("#room button, #room input, #room select, #room textarea")) {
    if (!node.disabled) switchedOff.push(node);
    node.disabled = true;
  }
}

function rejoin() {
  clearTimeout(waiting);
  waiting = null;
  removed = false;
  socket.io.reconnection(true);
  $("notice").hidden = true;
  for (const node of switchedOff) node.disabled = false;
  switchedOff = [];
}

function setConnection(kind) {
  const node = $("connection");
  node.textContent = T[kind === "removed" ? "left_room" : kind];
  node.className = "badge " + (kind === "connected" ? "ok" : kind === "removed" ? "danger" : "warn");
  $("room").dataset.state = kind;
}

function notice(text) {
  const box = $("notice");
  box.textContent = text;
  box.hidden = false;
}

// ------------------------------------------------------------------ applying events

function person(id) {
  return state.people.find((p) => p.user_id === id);
}

function apply(event) {
  lastSeq = event.seq;
  const p = event.payload;
  switch (event.type) {
    case "phase":
      state.phase = p.phase;
      renderHead();
      break;
    case "presence": {
      let who = person(p.user_id);
      if (!who && event.op === "join") {
        who = { user_id: p.user_id, name: p.name, role: p.role, group: p.group, present: true, admitted: p.admitted };
        state.people.push(who);
      }
      if (who) who.present = event.op === "join";
      if (p.quorum) state.quorum = p.quorum;
      renderPeople();
      renderHead();
      break;
    }
    case "admit": {
      const who = person(p.user_id);
      if (who) who.admitted = true;
      renderPeople();
      break;
    }
    case "admitted":
      if (p.user_id === state.me.user_id) resync(true); // now in the room: the whole picture
      break;
    case "presenter":
      state.presenter_id = p.user_id;
      renderHead();
      renderPeople();
      break;
    case "case":
      state.current_case_id = p.case_id;
      break;
    case "view":
      state.view = { document_id: p.document_id, page: p.page, zoom: p.zoom };
      if (following) showView(state.view);
      renderPresenterInfo();
      break;
    case "highlight":
      state.highlights.push(p);
      renderMarks();
      break;
    case "note":
      state.notes.push(p);
      renderNotes();
      break;
    case "reading":
      if (state.reading) {
        state.reading.not_opened = state.reading.not_opened.filter((id) => id !== p.user_id);
        renderUnread();
      }
      break;
    case "hand":
      if (event.op === "raise") { if (!state.hands.includes(p.user_id)) state.hands.push(p.user_id); }
      else state.hands = state.hands.filter((id) => id !== p.user_id);
      renderPeople();
      break;
    case "floor":
      state.floor_user_id = p.user_id;
      if (p.user_id) state.hands = state.hands.filter((id) => id !== p.user_id);
      renderPeople();
      renderHead();
      break;
    case "chat":
      state.chat.push(p);
      addChat(p);
      break;
    default:
      // Events of other parts (votes) are kept for their own scripts.
      document.dispatchEvent(new CustomEvent("heyat:room", { detail: event }));
  }
}

// ------------------------------------------------------------------ rendering

function renderAll() {
  renderHead();
  renderPeople();
  renderDocs();
  renderChat();
  renderNotes();
  renderUnread();
  const me = state.me;
  $("lobby-wait").hidden = me.is_board || me.admitted;
  $("notes-box").hidden = !me.is_board;
  $("mark").hidden = !me.is_board;
  if (following || !localView.document_id) showView(state.view);
  else showView(localView);
  renderPresenterInfo();
}

function mayPresent() {
  return state.me.is_moderator || (state.me.is_board && state.presenter_id === state.me.user_id);
}

function renderHead() {
  $("phase").textContent = T[state.phase] || state.phase;
  $("moderation").hidden = !state.me.is_moderator || state.phase === "closed";
  const q = $("quorum");
  q.replaceChildren();
  for (const [group, g] of Object.entries(state.quorum.groups)) {
    if (!g.seats) continue;
    const box = el("span", null, "q-group");
    box.title = T[group];
    box.append(el("span", T[group], "q-name"));
    for (let i = 0; i < g.seats; i++) box.append(el("span", "", i < g.present ? "q-dot on" : "q-dot"));
    q.append(box);
  }
  const verdict = state.quorum.met ? T.quorum_met : fmt(T.quorum_missing, { missing: state.quorum.missing });
  q.append(el("span", verdict, state.quorum.met ? "badge ok" : "badge warn"));
  q.setAttribute("aria-label", verdict);
  const speaker = state.floor_user_id && person(state.floor_user_id);
  $("floor").textContent = speaker ? fmt(T.has_floor, { name: speaker.name }) : "";
  $("hand").textContent = state.hands.includes(state.me.user_id) ? T.lower_hand : T.raise_hand;
  $("hand").disabled = state.phase === "closed";
  // Audio/video (media.js) follows who we are and the phase.
  document.dispatchEvent(new CustomEvent("heyat:room-state", { detail: { state, call } }));
}

function renderPeople() {
  const list = $("people");
  // The list is drawn again on every change: a keyboard user's focus stays on the same
  // button (or on the next one of that person) instead of falling back to the page's start.
  const had = list.contains(document.activeElement) ? document.activeElement.dataset : null;
  list.replaceChildren();
  for (const p of state.people) {
    const item = el("li", null, p.present ? "present" : "absent");
    item.dataset.user = p.user_id; // media.js marks who is speaking
    item.append(el("span", p.name, "who"));
    const bits = [T[p.role] || p.role, p.present ? T.present : T.absent];
    if (!p.admitted) bits.push(T.waiting);
    if (state.presenter_id === p.user_id) bits.push(T.presenter);
    if (state.hands.includes(p.user_id)) bits.push("✋ " + T.hand_up);
    item.append(el("span", " · " + bits.join(" · "), "muted"));
    if (state.me.is_moderator && state.phase !== "closed") {
      if (!p.admitted && p.present) item.append(button(T.admit, () => call("admit", { user_id: p.user_id }).then(problem)));
      if (p.present && state.floor_user_id !== p.user_id && p.user_id !== state.me.user_id)
        item.append(button(T.give_floor, () => call("floor.give", { user_id: p.user_id }).then(problem)));
      if (state.floor_user_id === p.user_id) item.append(button(T.take_floor, () => call("floor.take").then(problem)));
      if (p.present && ["chair", "member", "secretary"].includes(p.role) && state.presenter_id !== p.user_id)
        item.append(button(T.make_presenter, () => call("presenter.set", { user_id: p.user_id }).then(problem)));
      if (p.present && p.user_id !== state.me.user_id && cfg.media) {
        // Server-side: Janus stops forwarding their audio (moderate); or cuts them off.
        item.append(button(T.media_mute, () => call("media.mute", { user_id: p.user_id, mute: true }).then(problem)));
        item.append(button(T.media_unmute, () => call("media.mute", { user_id: p.user_id, mute: false }).then(problem)));
        item.append(button(T.media_remove, () => call("media.remove", { user_id: p.user_id }).then(problem)));
      }
    }
    for (const b of item.querySelectorAll("button")) b.dataset.who = String(p.user_id);
    list.append(item);
  }
  if (had) {
    const row = [...list.querySelectorAll("button")].filter((b) => b.dataset.who === had.who);
    const again = row.find((b) => b.dataset.label === had.label) || row[0];
    if (again) again.focus();
  }
  renderHead();
}

function button(label, onClick) {
  const b = el("button", label, "small");
  b.dataset.label = label;
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function renderUnread() {
  const box = $("unread-box");
  if (!state.reading) { box.hidden = true; return; }
  const list = $("unread");
  list.replaceChildren();
  for (const id of state.reading.not_opened) {
    const who = person(id);
    list.append(el("li", who ? who.name : String(id)));
  }
  box.hidden = state.reading.not_opened.length === 0;
}

function renderDocs() {
  const select = $("doc-select");
  const keep = select.options[0];
  select.replaceChildren(keep);
  for (const d of state.documents) {
    const bits = [d.title];
    if (d.visibility === "board") bits.push("(" + T.board_only + ")");
    if (d.withdrawn) bits.push("(" + T.withdrawn + ")");
    const option = el("option", bits.join(" "));
    option.value = String(d.id);
    select.append(option);
  }
}

function renderChat() {
  $("chat").replaceChildren();
  for (const item of state.chat) addChat(item);
}

function addChat(item) {
  const li = el("li", null, item.kind === "statement" ? "statement" : "");
  const head = el("div", null, "chat-head");
  head.append(el("strong", item.author_name));
  const when = new Date(item.at);
  head.append(el("time", when.toLocaleTimeString(fa ? "fa-IR" : "en-GB", { hour: "2-digit", minute: "2-digit" })));
  if (item.kind === "statement") head.append(el("span", T.statement, "badge"));
  if (item.audience === "board") head.append(el("span", T.board_only, "badge warn"));
  li.append(head, el("p", item.body, "chat-body"));
  $("chat").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function renderNotes() {
  const list = $("notes");
  list.replaceChildren();
  for (const n of state.notes) {
    const doc = state.documents.find((d) => d.id === n.document_id);
    const where = doc ? `${doc.title} · ${fmt(T.page_of, { page: n.page || 1, pages: doc.pages || 1 })}` : "";
    const li = el("li");
    li.append(el("p", n.body), el("small", where, "muted"));
    list.append(li);
  }
}

function renderPresenterInfo() {
  const info = $("presenter-info");
  const v = state.view;
  const doc = v.document_id && state.documents.find((d) => d.id === v.document_id);
  if (!doc || following) { info.textContent = ""; return; }
  info.textContent = fmt(T.presenter_on, { page: v.page, title: doc.title });
}

// ------------------------------------------------------------------ the viewer (pdf.js)

async function loadPdf(documentId) {
  if (!pdfjs) {
    pdfjs = await import(cfg.pdfjs_url);
    pdfjs.GlobalWorkerOptions.workerSrc = cfg.worker_url;
  }
  if (!pdfCache.has(documentId)) {
    // No code from a PDF runs: fonts are not compiled with eval (isEvalSupported, the fix
    // for CVE-2024-4367), no XFA forms; PDF scripts run only in pdf.js's viewer with a
    // scripting manager (its enableScripting), which the room does not load.
    const task = pdfjs.getDocument({
      url: `${cfg.document_base}${documentId}.pdf`,
      disableFontFace: true,
      withCredentials: true,
      isEvalSupported: false,
      enableXfa: false,
    });
    pdfCache.set(documentId, task.promise);
  }
  return pdfCache.get(documentId);
}

async function showView(view) {
  if (!view || !view.document_id) return;
  localView = { ...view };
  const doc = state.documents.find((d) => d.id === view.document_id);
  if (!doc) return;
  logReading();
  reading = { key: [view.document_id, view.page], since: Date.now() };
  if (!opened.has(view.document_id) && socket.connected) {
    // The board learns at once that this member opened the file; the seconds follow.
    opened.add(view.document_id);
    call("reading.log", { document_id: view.document_id, page: view.page, seconds: 0 });
  }
  $("doc-select").value = String(view.document_id);
  const frame = $("page-frame");
  frame.dataset.page = String(view.page);
  frame.dataset.document = String(view.document_id);
  $("page-label").textContent = fmt(T.page_of, { page: view.page, pages: doc.pages || 1 });
  $("zoom-label").textContent = num(view.zoom) + (fa ? "٪" : "%");
  $("doc-note").textContent = doc.withdrawn ? `${T.withdrawn}: ${doc.withdrawn_reason || ""}` : "";
  try {
    const pdf = await loadPdf(view.document_id);
    const page = await pdf.getPage(Math.min(view.page, pdf.numPages));
    if (localView.page !== view.page || localView.document_id !== view.document_id) return;
    // The page fills the viewer's content box (its padding and the frame's border off).
    const box = frame.parentElement;
    const pad = getComputedStyle(box);
    const inner = box.clientWidth - parseFloat(pad.paddingLeft) - parseFloat(pad.paddingRight) - 2;
    const width = Math.max(100, Math.min(inner, 900));
    const base = page.getViewport({ scale: 1 });
    const scale = (width / base.width) * (view.zoom / 100);
    const viewport = page.getViewport({ scale });
    const canvas = $("page-canvas");
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    canvas.style.width = `${Math.floor(viewport.width)}px`;
    canvas.style.height = `${Math.floor(viewport.height)}px`;
    // The highlights' layer is the page's size (not the frame's, which is narrower when
    // zoomed in), like the text layer: a mark lies on the words it was drawn over.
    $("marks").style.width = canvas.style.width;
    $("marks").style.height = canvas.style.height;
    // One render at a time on the canvas (pdf.js refuses a second): the one before is
    // cancelled, and a render that ends forgets itself only if no later one took its place
    // (clearing a newer task's handle left it running when the next page came, and that
    // one was refused: the page never showed).
    if (renderTask) renderTask.cancel();
    const task = page.render({
      canvasContext: canvas.getContext("2d"),
      viewport,
      transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null,
    });
    renderTask = task;
    const text = renderText(view, page, viewport);
    await task.promise;
    if (renderTask === task) renderTask = null;
    if (!(await text)) return; // another page took its place meanwhile
    frame.dataset.rendered = `${view.document_id}:${view.page}`;
    renderMarks();
    showMatches();
  } catch (err) {
    if (err && err.name === "RenderingCancelledException") return;
    problem({ error: { code: "viewer", message: String(err && err.message ? err.message : err) } });
  }
}

// The text layer: pdf.js lays the page's text over the canvas as transparent spans placed
// where the glyphs are drawn, so it can be selected, copied, searched and read by a screen
// reader. pdf.js sizes it with CSS variables and inline styles set through the CSSOM, which
// the CSP's style-src 'self' allows (it forbids only style attributes in markup).
function pageText(documentId, pageNumber, page) {
  const key = `${documentId}:${pageNumber}`;
  if (!textCache.has(key)) textCache.set(key, page.getTextContent());
  return textCache.get(key);
}

async function renderText(view, page, viewport) {
  if (textLayer) textLayer.cancel();
  const layer = $("text-layer");
  layer.replaceChildren();
  const frame = $("page-frame");
  frame.style.setProperty("--total-scale-factor", String(viewport.scale));
  frame.style.setProperty("--scale-round-x", "1px");
  frame.style.setProperty("--scale-round-y", "1px");
  const content = await pageText(view.document_id, view.page, page);
  if (localView.page !== view.page || localView.document_id !== view.document_id) return false;
  const task = new pdfjs.TextLayer({ textContentSource: content, container: layer, viewport });
  textLayer = task;
  try {
    await task.render();
  } catch (err) {
    if (err && err.name === "AbortException") return false;
    throw err;
  }
  if (textLayer !== task) return false;
  if (content.lang) layer.lang = content.lang;
  const end = el("div", null, "endOfContent");
  layer.append(end);
  return true;
}

// ------------------------------------------------------------------ search in the document

// The same letters however they were typed or stored: Arabic yeh and kaf as Persian ones,
// Persian and Arabic digits as ASCII (hearing_server/text.py), and the zero-width non-joiner,
// tatweel, vowel marks and bidi marks ignored (so «می‌خواهد» finds «میخواهد»); every run
// of spaces is one space. `map` gives, for each character of `text`, its index in `s`.
const IGNORED = /[\u200c\u200d\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\u0640\u064b-\u065f\u0670]/;
const LETTERS = { "\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9" };
function normalise(s) {
  let text = "";
  const map = [];
  let space = true; // no leading space
  for (let i = 0; i < s.length; i++) {
    let c = s[i];
    if (IGNORED.test(c)) continue;
    if (/\s/.test(c)) {
      if (!space) { text += " "; map.push(i); space = true; }
      continue;
    }
    space = false;
    const d = "۰۱۲۳۴۵۶۷۸۹".indexOf(c) >= 0 ? "۰۱۲۳۴۵۶۷۸۹".indexOf(c) : "٠١٢٣٤٥٦٧٨٩".indexOf(c);
    if (d >= 0) c = String(d);
    for (const part of (LETTERS[c] || c).normalize("NFKC").toLowerCase()) {
      const p = LETTERS[part] || part;
      if (IGNORED.test(p)) continue;
      text += p;
      map.push(i);
    }
  }
  return { text: text.trimEnd(), map };
}

// A page's text as one string, with where each item (each span of the text layer) starts.
function pageString(content) {
  let s = "";
  const starts = [];
  for (const item of content.items) {
    if (item.str === undefined) continue; // marked-content boundaries make no span
    starts.push(s.length);
    s += item.str + (item.hasEOL ? " " : "");
  }
  return { s, starts };
}

async function search(query) {
  const documentId = localView.document_id;
  const status = $("find-status");
  if (!documentId) { status.textContent = T.find_no_doc; return; }
  const q = normalise(query).text;
  if (!q) return;
  if (find && find.documentId === documentId && find.query === q && find.matches.length) {
    step(1); // Enter again: the next match
    return;
  }
  status.textContent = T.find_busy;
  const pdf = await loadPdf(documentId);
  const matches = [];
  for (let n = 1; n <= pdf.numPages; n++) {
    const content = await pageText(documentId, n, await pdf.getPage(n));
    const { s, starts } = pageString(content);
    const { text, map } = normalise(s);
    for (let at = text.indexOf(q); at >= 0; at = text.indexOf(q, at + q.length)) {
      matches.push({ page: n, from: map[at], to: map[at + q.length - 1] + 1, starts, s });
    }
  }
  if (localView.document_id !== documentId) return;
  find = { documentId, query: q, matches, index: 0 };
  $("find-prev").disabled = $("find-next").disabled = matches.length < 2;
  if (!matches.length) {
    status.textContent = T.find_none;
    showMatches();
    return;
  }
  const ahead = matches.findIndex((m) => m.page >= localView.page);
  goToMatch(ahead >= 0 ? ahead : 0);
}

function step(by) {
  if (!find || !find.matches.length) return;
  if (find.documentId !== localView.document_id) { // another document is shown now
    clearFind();
    return;
  }
  goToMatch((find.index + by + find.matches.length) % find.matches.length);
}

function goToMatch(i) {
  find.index = i;
  const m = find.matches[i];
  $("find-status").textContent = fmt(T.find_match, { n: i + 1, total: find.matches.length, page: m.page });
  if (m.page !== localView.page || $("page-frame").dataset.rendered !== `${find.documentId}:${m.page}`) {
    turn((v) => ({ ...v, page: m.page })); // its text layer shows the matches once drawn
  } else {
    showMatches();
  }
}

// Marks the matches on the page shown the way pdf.js's own viewer does: the matched part of
// each span wrapped in <span class="highlight">, the current match also "selected".
function showMatches() {
  if (!textLayer) return;
  const divs = textLayer.textDivs;
  const strings = textLayer.textContentItemsStr;
  for (const [k, div] of divs.entries()) {
    if (div.childElementCount) div.textContent = strings[k];
  }
  if (!find || find.documentId !== localView.document_id) return;
  let current = null;
  for (const [i, m] of find.matches.entries()) {
    if (m.page !== localView.page) continue;
    for (const [k, start] of m.starts.entries()) {
      const end = start + strings[k].length;
      if (end <= m.from || start >= m.to || !divs[k]) continue;
      const a = Math.max(m.from, start) - start;
      const b = Math.min(m.to, end) - start;
      const div = divs[k];
      const text = div.textContent;
      const mark = el("span", text.slice(a, b), "highlight appended" + (i === find.index ? " selected" : ""));
      div.replaceChildren(text.slice(0, a), mark, text.slice(b));
      if (i === find.index && !current) current = mark;
    }
  }
  if (current) current.scrollIntoView({ block: "nearest", inline: "nearest" });
}

function renderMarks() {
  const layer = $("marks");
  layer.replaceChildren();
  if (!state) return;
  for (const h of state.highlights) {
    if (h.document_id !== localView.document_id || h.page !== localView.page) continue;
    const box = el("div", null, "mark");
    box.style.left = `${h.rect.x * 100}%`;
    box.style.top = `${h.rect.y * 100}%`;
    box.style.width = `${h.rect.w * 100}%`;
    box.style.height = `${h.rect.h * 100}%`;
    box.title = `${h.author_name}${h.note ? ": " + h.note : ""}`;
    layer.append(box);
  }
}

async function navigate(view) {
  const doc = state.documents.find((d) => d.id === view.document_id);
  if (!doc) return;
  view.page = Math.max(1, Math.min(view.page, doc.pages || view.page));
  view.zoom = Math.max(25, Math.min(400, view.zoom));
  if (mayPresent()) {
    const answer = await call("view.set", view);
    if (problem(answer)) return;
    following = true;
    $("follow").checked = true;
    state.view = { ...view };
    showView(view);
  } else {
    following = false; // reading alone until they follow again
    $("follow").checked = false;
    showView(view);
    renderPresenterInfo();
  }
}

function logReading() {
  if (!reading.key || !state) return;
  const seconds = Math.round((Date.now() - reading.since) / 1000);
  const [documentId, page] = reading.key;
  reading = { key: null, since: Date.now() };
  if (seconds >= 1 && socket.connected) call("reading.log", { document_id: documentId, page, seconds: Math.min(seconds, 3600) });
}
setInterval(() => {
  if (reading.key && document.visibilityState === "visible") {
    const key = reading.key;
    logReading();
    reading = { key, since: Date.now() };
  }
}, 30000);

// ------------------------------------------------------------------ controls

$("doc-select").addEventListener("change", (e) => {
  const id = Number(e.target.value);
  if (id) navigate({ document_id: id, page: 1, zoom: localView.zoom || 100 });
});
// One turn at a time: a second click waits for the first turn's answer and starts from
// the page it reached (two quick clicks on "next" go two pages, not one twice).
let turning = Promise.resolve();
function turn(change) {
  turning = turning.then(() => navigate(change(localView))).catch(() => {});
}
$("page-prev").addEventListener("click", () => turn((v) => ({ ...v, page: v.page - 1 })));
$("page-next").addEventListener("click", () => turn((v) => ({ ...v, page: v.page + 1 })));
$("zoom-in").addEventListener("click", () => turn((v) => ({ ...v, zoom: v.zoom + 25 })));
$("zoom-out").addEventListener("click", () => turn((v) => ({ ...v, zoom: v.zoom - 25 })));
$("find-form").addEventListener("submit", (e) => {
  e.preventDefault();
  search($("find-text").value).catch((err) => problem({ error: { code: "viewer", message: String(err) } }));
});
function clearFind() {
  find = null; // the next Enter searches again
  $("find-prev").disabled = $("find-next").disabled = true;
  $("find-status").textContent = "";
  showMatches();
}
$("find-text").addEventListener("input", clearFind);
$("find-next").addEventListener("click", () => step(1));
$("find-prev").addEventListener("click", () => step(-1));
$("follow").addEventListener("change", (e) => {
  following = e.target.checked;
  if (following) showView(state.view);
  renderPresenterInfo();
});
$("hand").addEventListener("click", () => {
  const up = state.hands.includes(state.me.user_id);
  call(up ? "hand.lower" : "hand.raise").then(problem);
});
$("phase-go").addEventListener("click", () => call("phase.set", { phase: $("phase-next").value }).then(problem));
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = $("chat-body").value.trim();
  if (!body) return;
  const answer = await call("chat.send", { body, kind: $("chat-statement").checked ? "statement" : "chat" });
  if (!problem(answer)) { $("chat-body").value = ""; $("chat-statement").checked = false; }
});
$("note-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = $("note-body").value.trim();
  const doc = state.documents.find((d) => d.id === localView.document_id);
  const caseId = doc ? doc.case_id : (state.current_case_id || (state.cases[0] && state.cases[0].id));
  if (!body || !caseId) return;
  const answer = await call("note.add", {
    case_id: caseId,
    document_id: doc ? doc.id : null,
    page: doc ? localView.page : null,
    body,
  });
  if (!problem(answer)) $("note-body").value = "";
});
$("mark").addEventListener("click", () => {
  marking = !marking;
  $("mark").setAttribute("aria-pressed", String(marking));
  $("page-frame").classList.toggle("marking", marking);
});
(() => {
  const frame = $("page-frame");
  let start = null;
  let ghost = null;
  const point = (e) => {
    const r = $("page-canvas").getBoundingClientRect();
    return { x: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), y: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)) };
  };
  frame.addEventListener("pointerdown", (e) => {
    if (!marking || !localView.document_id) return;
    start = point(e);
    ghost = el("div", null, "mark ghost");
    $("marks").append(ghost);
  });
  frame.addEventListener("pointermove", (e) => {
    if (!start || !ghost) return;
    const p = point(e);
    Object.assign(ghost.style, {
      left: `${Math.min(start.x, p.x) * 100}%`, top: `${Math.min(start.y, p.y) * 100}%`,
      width: `${Math.abs(p.x - start.x) * 100}%`, height: `${Math.abs(p.y - start.y) * 100}%`,
    });
  });
  frame.addEventListener("pointerup", async (e) => {
    if (!start) return;
    const p = point(e);
    const rect = { x: Math.min(start.x, p.x), y: Math.min(start.y, p.y), w: Math.abs(p.x - start.x), h: Math.abs(p.y - start.y) };
    start = null;
    if (ghost) ghost.remove();
    ghost = null;
    if (rect.w < 0.01 || rect.h < 0.005) return;
    const note = window.prompt(T.highlight_note) || null;
    const answer = await call("highlight.add", { document_id: localView.document_id, page: localView.page, rect, note });
    problem(answer);
  });
})();
window.addEventListener("beforeunload", logReading);

// Keyboard shortcuts (listed on the page, and in each control's aria-keyshortcuts): Alt+Shift
// and a letter, matched by the key's place (event.code) so they work on a Persian layout.
const SHORTCUTS = {
  KeyH: () => $("hand").click(),
  KeyM: () => $("media-self-mute").click(),
  KeyF: () => $("follow").click(),
  KeyS: () => $("find-text").focus(),
  KeyN: () => $("page-next").click(),
  KeyP: () => $("page-prev").click(),
};
document.addEventListener("keydown", (e) => {
  if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey || !SHORTCUTS[e.code]) return;
  e.preventDefault();
  SHORTCUTS[e.code](); // a disabled or hidden control ignores the click
});
