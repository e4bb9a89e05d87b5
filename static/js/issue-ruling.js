// The ruling page: "Sign and issue" through the API, showing each step as it happens.
// Loaded only for the secretary on a draft ruling (no inline script: the CSP forbids it).
(function () {
  var form = document.getElementById("issue-form");
  if (!form || !window.fetch) return;
  var list = document.getElementById("issue-progress");
  var errorBox = document.getElementById("issue-error");
  var token = form.querySelector("input[name=csrf_token]").value;
  function show(step) {
    var reached = true;
    list.querySelectorAll("li").forEach(function (li) {
      li.className = reached ? (li.dataset.step === step ? "current" : "done") : "";
      if (li.dataset.step === step) reached = false;
    });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    form.querySelector("button").disabled = true;
    list.hidden = false;
    errorBox.hidden = true;
    show("composing");
    var timer = setInterval(function () {
      fetch(form.dataset.progress, {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (p) { if (p.step && p.step !== "waiting" && p.step !== "failed") show(p.step); });
    }, 400);
    fetch(form.dataset.api, {method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": token}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        clearInterval(timer);
        if (res.ok) { show("issued"); window.location.reload(); return; }
        errorBox.textContent = (res.body.error && res.body.error.message) || "";
        errorBox.hidden = false;
        form.querySelector("button").disabled = false;
      });
  });
})();
