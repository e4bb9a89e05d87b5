// Sign-up: show the fields of the kind chosen (a person's national ID and name, or a
// company's ID and its representative). Without this script every field shows.
(function () {
  var form = document.getElementById("signup-form");
  if (!form) { return; }
  var groups = form.querySelectorAll("[data-for-kind]");
  function update() {
    var chosen = form.querySelector("input[name=kind]:checked");
    var kind = chosen ? chosen.value : "worker";
    groups.forEach(function (group) {
      var kinds = group.getAttribute("data-for-kind").split(" ");
      group.hidden = kinds.indexOf(kind) === -1;
    });
    var label = form.querySelector("label[for=f-full_name]");
    if (label) {
      label.textContent = kind === "company" ? form.dataset.companyName : form.dataset.personName;
    }
  }
  form.querySelectorAll("input[name=kind]").forEach(function (input) {
    input.addEventListener("change", update);
  });
  update();
})();
