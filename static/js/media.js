// Audio and video in the hearing room, on Janus's VideoRoom (janus.js, global Janus, with
// webrtc-adapter loaded first). The room page (room.js) tells this file who we are and
// whether the room admits us (the "heyat:room" event on document); we ask the server for
// credentials (`media.join`: the Janus URL, the room, signed tokens, our publisher id,
// TURN credentials) only then. The server cuts our media itself (kick) when the board
// deliberates and mutes us itself (moderate); this file only follows.

const boot = JSON.parse(document.getElementById("room-config").textContent);
const cfg = boot.config;
const T = boot.strings;
const $ = (id) => document.getElementById(id);

const params = new URLSearchParams(location.search);
const prefs = {
  audioOnly: localStorage.getItem("heyat.audioOnly") === "1",
  // Tests (and TURN checks) may force every path through the relay.
  relayOnly: params.get("relay") === "1",
};

let call = null; // room.js's socket call, handed over with the first state
let me = null;
let wanted = false; // the room admits us and the phase lets us talk
let janus = null;
let publisher = null;
let grant = null;
let restartTimer = null;
const feeds = new Map(); // feed id -> { handle, tile, display }
let privateId = null;
let lastMove = null; // the server named by the last media/moved event
// Each start counts; a Janus.init callback or a media.join answer of an older start (one
// torn down by a move or an error since) is dropped, so two sessions never publish as one.
let attempt = 0;

function status(text, kind) {
  const node = $("media-status");
  node.textContent = text;
  node.className = "badge " + (kind || "");
  $("media").dataset.state = kind || "";
}

// room.js: the state after every change of phase or people, and the room's media events.
document.addEventListener("heyat:room-state", (ev) => {
  call = ev.detail.call;
  const state = ev.detail.state;
  me = state.me;
  const phase = state.phase;
  const allowed =
    phase !== "closed" && (me.is_board || (me.admitted && (phase === "lobby" || phase === "hearing")));
  if (allowed && !wanted) {
    wanted = true;
    start();
  } else if (!allowed && wanted) {
    wanted = false;
    stop(phase === "closed" ? T.media_closed : T.media_left, "warn");
  }
});
document.addEventListener("heyat:room-left", () => {
  wanted = false;
  stop(T.media_left, "warn");
});
document.addEventListener("heyat:room", (ev) => {
  if (ev.detail && ev.detail.type === "media") onRoomMediaEvent(ev.detail);
});

function onRoomMediaEvent(event) {
  const p = event.payload || {};
  if (event.op === "mute" && me && p.user_id === me.user_id) {
    $("media-muted").hidden = !p.muted;
  }
  if (event.op === "remove" && me && p.user_id === me.user_id) {
    wanted = false;
    stop(T.media_removed, "danger");
  }
  if (event.op === "restore" && me && p.user_id === me.user_id && !wanted) {
    wanted = true;
    start();
  }
  if (event.op === "moved") lastMove = p.server;
  if (event.op === "moved" && wanted && (!grant || grant.server !== p.server)) {
    // The media server holding this hearing died and the room was made again on
    // another: join it there (fresh credentials), staying in the hearing. A start
    // already asking is dropped when its answer comes (attempt) and this one goes ahead.
    status(T.media_reconnecting, "warn");
    teardown();
    start();
  }
}

let starting = false;

async function start() {
  clearTimeout(restartTimer);
  if (!call || janus || starting) return;
  starting = true;
  const mine = ++attempt;
  status(T.media_connecting, "warn");
  let answer;
  try {
    answer = await call("media.join", {});
  } finally {
    if (mine === attempt) starting = false;
  }
  if (mine !== attempt || !wanted || janus) return;
  if (answer.error) {
    status(answer.error.message, "danger");
    if (answer.error.code === "media_unavailable") scheduleRestart(10000);
    return;
  }
  if (!answer.available) {
    status(answer.message, "muted");
    $("media").dataset.state = "unavailable";
    return;
  }
  grant = answer;
  if (typeof Janus === "undefined") {
    status(T.media_unavailable, "danger");
    return;
  }
  Janus.init({
    debug: false,
    dependencies: Janus.useDefaultDependencies({ adapter: window.adapter }),
    callback: () => {
      if (mine === attempt && wanted && !janus) connect();
    },
  });
}

function connect() {
  janus = new Janus({
    server: grant.janus_url,
    token: grant.core_token,
    iceServers: grant.ice_servers,
    iceTransportPolicy: prefs.relayOnly ? "relay" : undefined,
    success: attachPublisher,
    error: (cause) => {
      // The media server went away or the network changed under us: start again with
      // fresh credentials, without leaving the hearing.
      status(T.media_reconnecting, "warn");
      teardown();
      scheduleRestart(2000);
    },
    destroyed: () => {},
  });
}

function scheduleRestart(ms) {
  clearTimeout(restartTimer);
  restartTimer = setTimeout(() => {
    if (wanted) start();
  }, ms);
}

function attachPublisher() {
  janus.attach({
    plugin: "janus.plugin.videoroom",
    success: (handle) => {
      publisher = handle;
      handle.send({
        message: {
          request: "join",
          ptype: "publisher",
          room: grant.room,
          id: grant.feed_id,
          display: me.name || String(me.user_id),
          token: grant.room_token,
        },
      });
    },
    error: () => status(T.media_unavailable, "danger"),
    iceState: (state) => {
      if (state === "failed" && publisher) publish(true); // a network change: ICE restart
    },
    onmessage: (msg, jsep) => {
      const kind = msg.videoroom;
      if (msg.error_code) {
        status(msg.error || T.media_unavailable, "danger");
        return;
      }
      if (kind === "joined") {
        privateId = msg.private_id;
        status(T.media_on, "ok");
        selfMute(false);
        publish(false);
        for (const p of msg.publishers || []) subscribe(p);
      } else if (kind === "event") {
        for (const p of msg.publishers || []) subscribe(p);
        const gone = msg.leaving || msg.unpublished || msg.kicked;
        if (gone === "ok" || msg.reason === "kicked") {
          stop(T.media_left, "warn"); // we were kicked (deliberation, or the chair)
          return;
        }
        if (gone) dropFeed(gone);
      } else if (kind === "talking" || kind === "stopped-talking") {
        speaking(msg.id, kind === "talking");
      } else if (kind === "destroyed") {
        stop(T.media_closed, "warn");
      }
      if (jsep) publisher.handleRemoteJsep({ jsep });
    },
    onlocaltrack: (track, on) => {
      if (track.kind !== "video") return;
      const video = $("media-self");
      if (on) {
        video.srcObject = new MediaStream([track]);
        video.hidden = false;
      } else {
        video.hidden = true;
      }
    },
    oncleanup: () => {},
  });
}

function publish(iceRestart) {
  const tracks = [{ type: "audio", capture: true, recv: false }];
  if (!prefs.audioOnly) {
    // Phones and home internet: small video, with simulcast layers the SFU can pick from.
    tracks.push({ type: "video", capture: { width: 320, height: 240, frameRate: 15 }, recv: false, simulcast: true });
  }
  publisher.createOffer({
    tracks,
    iceRestart,
    success: (jsep) => {
      publisher.send({ message: { request: "configure", audio: true, video: !prefs.audioOnly }, jsep });
    },
    error: () => status(T.media_no_devices, "danger"),
  });
}

function subscribe(pub) {
  if (!pub || feeds.has(pub.id) || pub.id === grant.feed_id || String(pub.id).startsWith("heyat-")) return;
  const streams = (pub.streams || [])
    .filter((s) => !s.disabled && (s.type === "audio" || (s.type === "video" && !prefs.audioOnly)))
    .map((s) => ({ feed: pub.id, mid: s.mid }));
  if (!streams.length) return;
  const entry = { handle: null, tile: tile(pub), display: pub.display };
  feeds.set(pub.id, entry);
  janus.attach({
    plugin: "janus.plugin.videoroom",
    success: (handle) => {
      entry.handle = handle;
      handle.send({
        message: { request: "join", ptype: "subscriber", room: grant.room, streams, private_id: privateId, token: grant.room_token },
      });
    },
    error: () => dropFeed(pub.id),
    onmessage: (msg, jsep) => {
      if (msg.error_code) {
        dropFeed(pub.id);
        return;
      }
      if (jsep) {
        entry.handle.createAnswer({
          jsep,
          tracks: [{ type: "data" }],
          success: (answer) => entry.handle.send({ message: { request: "start" }, jsep: answer }),
          error: () => dropFeed(pub.id),
        });
      }
    },
    onremotetrack: (track, mid, on) => {
      const media = entry.tile.querySelector(track.kind === "video" ? "video" : "audio");
      if (on) {
        media.srcObject = new MediaStream([track]);
        media.play().catch(() => {});
      }
    },
    oncleanup: () => {},
  });
}

function tile(pub) {
  const box = document.createElement("figure");
  box.className = "media-tile";
  box.dataset.feed = pub.id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // the sound comes through the <audio> element
  const audio = document.createElement("audio");
  audio.autoplay = true;
  const caption = document.createElement("figcaption");
  caption.textContent = pub.display || "";
  box.append(video, audio, caption);
  $("media-grid").append(box);
  return box;
}

// Who is speaking: Janus tells every participant when a publisher's audio level (from
// the RTP audio-level extension) crosses the room's threshold ("talking") and falls back
// ("stopped-talking"). The tile, the person's entry in the people list (a visible mark
// whose text screen readers read with the name, put back when room.js redraws the list)
// and a polite live region (#media-speaking) say who it is.
const talking = new Set(); // user ids

function feedUser(feed) {
  const m = /^u(\d+)-/.exec(String(feed));
  return m ? Number(m[1]) : null;
}

function speaking(feed, on) {
  const entry = feeds.get(feed);
  if (entry) entry.tile.classList.toggle("speaking", on);
  if (grant && feed === grant.feed_id) $("media-self-box").classList.toggle("speaking", on);
  const user = feedUser(feed);
  if (user !== null) {
    if (on) talking.add(user);
    else talking.delete(user);
  }
  markPeople();
  const names = [...feeds.values()].filter((f) => f.tile.classList.contains("speaking")).map((f) => f.display);
  $("media-speaking").textContent = names.length ? T.media_speaking.replace("{names}", names.join("، ")) : "";
}

function markPeople() {
  for (const item of $("people").children) {
    const on = talking.has(Number(item.dataset.user));
    if (item.classList.contains("speaking") === on && (item.querySelector(".speaking-mark") !== null) === on) continue;
    item.classList.toggle("speaking", on);
    const mark = item.querySelector(".speaking-mark");
    if (on && !mark) {
      const badge = document.createElement("span");
      badge.className = "speaking-mark badge ok";
      badge.textContent = "🔊 " + T.media_speaking_now;
      item.querySelector(".who").after(badge);
    } else if (!on && mark) {
      mark.remove();
    }
  }
}

// room.js redraws the people list from its state: put the marks back.
new MutationObserver(markPeople).observe($("people"), { childList: true });

function clearSpeaking() {
  talking.clear();
  markPeople();
  $("media-speaking").textContent = "";
}

function dropFeed(feed) {
  const entry = feeds.get(feed);
  if (!entry) return;
  feeds.delete(feed);
  if (entry.handle) entry.handle.detach();
  entry.tile.remove();
}

function teardown() {
  attempt++; // a start under way is dropped when it answers, and no longer blocks a new one
  starting = false;
  clearSpeaking();
  for (const feed of [...feeds.keys()]) dropFeed(feed);
  publisher = null;
  const j = janus;
  janus = null;
  if (j) j.destroy({ cleanupHandles: true, notifyDestroyed: false });
  $("media-self").hidden = true;
  $("media-self-mute").hidden = true;
}

function stop(text, kind) {
  clearTimeout(restartTimer);
  teardown();
  status(text, kind);
}

// Our own microphone, muted in the browser (the chair's mute is the server's, above).
function selfMute(on) {
  if (on) publisher.muteAudio();
  else if (publisher.isAudioMuted()) publisher.unmuteAudio();
  const button = $("media-self-mute");
  button.hidden = false;
  button.setAttribute("aria-pressed", String(on)); // pressed: muted
}
$("media-self-mute").addEventListener("click", () => {
  if (publisher) selfMute(!publisher.isAudioMuted());
});

$("media-audio-only").checked = prefs.audioOnly;
$("media-audio-only").addEventListener("change", (ev) => {
  prefs.audioOnly = ev.target.checked;
  localStorage.setItem("heyat.audioOnly", prefs.audioOnly ? "1" : "0");
  if (janus) {
    teardown();
    start();
  }
});

// For the self-check and the tests: the bytes received and sent so far, by kind, over
// every peer connection of this page (RTCPeerConnection.getStats()).
window.heyatMedia = {
  async stats() {
    const out = { audioIn: 0, videoIn: 0, audioOut: 0, videoOut: 0, relay: false, feeds: feeds.size };
    const handles = [publisher, ...[...feeds.values()].map((f) => f.handle)].filter(Boolean);
    for (const handle of handles) {
      const pc = handle.webrtcStuff && handle.webrtcStuff.pc;
      if (!pc) continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === "inbound-rtp") out[s.kind + "In"] += s.bytesReceived || 0;
        if (s.type === "outbound-rtp") out[s.kind + "Out"] += s.bytesSent || 0;
        if (s.type === "local-candidate" && s.candidateType === "relay") {
          report.forEach((pair) => {
            if (pair.type === "candidate-pair" && pair.state === "succeeded" && pair.localCandidateId === s.id) out.relay = true;
          });
        }
      });
    }
    return out;
  },
  state: () => $("media").dataset.state,
  // The media server this page's media goes through (its name in `heyat media list`).
  server: () => (grant && janus ? grant.server : null),
  speaking: () => [...talking],
  moved: () => lastMove,
};
