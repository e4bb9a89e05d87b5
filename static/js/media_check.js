// The self-check page: camera and microphone through getUserMedia (with a level meter),
// and a connection through TURN: a peer connection limited to relay candidates must get
// one from the server with the credential the page was given.
const boot = JSON.parse(document.getElementById("check-config").textContent);
const cfg = boot.config;
const T = boot.strings;
const $ = (id) => document.getElementById(id);

function mark(id, ok, text) {
  const node = $(id);
  node.textContent = text || (ok ? T.ok : T.failed);
  node.className = "badge " + (ok ? "ok" : "danger");
  node.dataset.ok = ok ? "1" : "0";
}

let stream = null;
let audioCtx = null;

async function devices() {
  $("check-camera").textContent = T.checking;
  $("check-mic").textContent = T.checking;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  } catch (err) {
    mark("check-camera", false, T.no_permission);
    mark("check-mic", false, T.no_permission);
    return;
  }
  mark("check-camera", stream.getVideoTracks().length > 0);
  $("check-video").srcObject = stream;
  const audio = stream.getAudioTracks();
  if (!audio.length) {
    mark("check-mic", false);
    return;
  }
  audioCtx = new AudioContext();
  const analyser = audioCtx.createAnalyser();
  audioCtx.createMediaStreamSource(stream).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  let heard = false;
  const tick = () => {
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    $("check-level").value = Math.min(100, peak * 2);
    if (peak > 2 && !heard) {
      heard = true;
      mark("check-mic", true);
    }
    if (stream) requestAnimationFrame(tick);
  };
  mark("check-mic", true);
  tick();
}

async function turn() {
  if (!cfg.available || !cfg.ice_servers.length) {
    mark("check-turn", false, T.unavailable);
    return;
  }
  $("check-turn").textContent = T.checking;
  const pc = new RTCPeerConnection({ iceServers: cfg.ice_servers, iceTransportPolicy: "relay" });
  pc.createDataChannel("check");
  const found = new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 15000);
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate.includes(" relay ")) {
        clearTimeout(timer);
        resolve(true);
      }
      if (!ev.candidate) {
        clearTimeout(timer);
        resolve(false);
      }
    };
  });
  await pc.setLocalDescription(await pc.createOffer());
  mark("check-turn", await found);
  pc.close();
}

async function run() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  await Promise.all([devices(), turn()]);
}

$("check-again").addEventListener("click", run);
run();
