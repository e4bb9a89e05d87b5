// Recording of the hearing of the parties, with everyone's consent (docs/realtime.md,
// "Recording"). room.js tells this file the room's state ("heyat:room-state") and hands on
// the room's events of other parts ("heyat:room"); the server decides everything: this
// file shows the notice (on every page while it records), asks for consent, and lets the
// secretary or the chair ask to record or stop.

const T = JSON.parse(document.getElementById("recording-strings").textContent);
const $ = (id) => document.getElementById(id);

let call = null;
let room = null; // the room's state, as room.js last gave it
let rec = { state: "idle", waiting: [], agreed: [], me_agreed: false };
let last = ""; // the last outcome worth saying while idle (declined, stored)
let asking = null; // the state request on its way

function fmt(text, params) {
  return text.replace(/\{(\w+)\}/g, (_, key) => params[key] ?? "");
}

function names(ids) {
  return ids
    .map((id) => (room.people.find((p) => p.user_id === id) || { name: String(id) }).name)
    .join("، ");
}

function render() {
  if (!room) return;
  const box = $("recording");
  const me = room.me;
  const state = rec.state;
  box.dataset.state = state;
  const publicPart = room.phase === "hearing";
  let text = "";
  if (state === "recording") text = T.recording;
  else if (state === "paused") text = T.paused + " " + fmt(T.waiting, { names: names(rec.waiting) });
  else if (state === "asking") {
    text = T.asking + " " + fmt(T.waiting, { names: names(rec.waiting) });
    if (rec.me_agreed) text += " " + T.you_agreed;
  }
  else text = last;
  $("recording-notice").textContent = text;
  $("recording-notice").hidden = !text;
  $("recording-ask").hidden = state === "idle" || rec.me_agreed;
  $("recording-moderate").hidden = !me.is_moderator || !publicPart;
  $("recording-request").hidden = state === "recording";
  $("recording-stop").hidden = state === "idle";
  box.hidden = !text && $("recording-moderate").hidden;
}

async function refresh() {
  if (!call) return;
  if (asking) return asking;
  asking = call("recording.state", {}).then((answer) => {
    asking = null;
    if (answer && answer.ok) rec = answer;
    render();
  });
  return asking;
}

function problem(answer) {
  if (answer && answer.error) {
    const node = $("problem");
    node.textContent = answer.error.message;
    node.hidden = false;
    return true;
  }
  return false;
}

async function act(event, data) {
  const answer = await call(event, data || {});
  if (!problem(answer)) await refresh();
}

let seen = null; // the phase and our admission the last state was asked for
document.addEventListener("heyat:room-state", (ev) => {
  call = ev.detail.call;
  room = ev.detail.state;
  const now = room.phase + "/" + room.me.admitted;
  // Someone coming or going changes who is awaited: ask again while a request is open.
  if (now !== seen || rec.state !== "idle") {
    seen = now;
    refresh();
  } else render();
});

document.addEventListener("heyat:room", (ev) => {
  const event = ev.detail;
  if (!event || event.type !== "recording") return;
  if (event.op === "declined") last = T.declined;
  if (event.op === "stored") last = T.stored;
  if (event.op === "request") last = "";
  refresh();
});

$("recording-agree").addEventListener("click", () => act("recording.consent", { agree: true }));
$("recording-refuse").addEventListener("click", () => act("recording.consent", { agree: false }));
$("recording-request").addEventListener("click", () => act("recording.request"));
$("recording-stop").addEventListener("click", () => act("recording.stop"));

// For the tests: the state the page shows.
window.heyatRecording = { state: () => $("recording").dataset.state, notice: () => $("recording-notice").textContent };
