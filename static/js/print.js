// Buttons marked data-print print the page (instead of an inline onclick, which the CSP forbids).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
