// The code page of a sign-in by SMS: where the browser supports WebOTP, it offers the
// code from the SMS (its last line is "@host #code") and the form is sent with it.
(function () {
  "use strict";
  if (!("OTPCredential" in window) || !navigator.credentials) {
    return;
  }
  var input = document.getElementById("f-code");
  if (!input || !input.form) {
    return;
  }
  var abort = new AbortController();
  input.form.addEventListener("submit", function () {
    abort.abort();
  });
  navigator.credentials
    .get({ otp: { transport: ["sms"] }, signal: abort.signal })
    .then(function (otp) {
      if (otp && otp.code && !input.value) {
        input.value = otp.code;
        input.form.submit();
      }
    })
    .catch(function () {
      /* no code offered: the person types it */
    });
})();
