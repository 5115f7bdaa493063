// Security keys and passkeys on the hosted login pages. A form with
// data-webauthn="<ceremony>" gets its options from data-options (POST, with
// the form's csrf_token and req), passes them to navigator.credentials, and
// submits itself with the credential's JSON in its "credential" field.
// On the login page, a username field with autocomplete "webauthn" also
// offers passkeys in the browser's autofill (conditional mediation).
(function () {
  "use strict";

  function enc(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function dec(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function decodeIDs(list) {
    (list || []).forEach(function (c) { c.id = dec(c.id); });
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id, rawId: enc(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: enc(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = enc(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = enc(r.authenticatorData);
      out.response.signature = enc(r.signature);
      if (r.userHandle) out.response.userHandle = enc(r.userHandle);
    }
    return JSON.stringify(out);
  }

  function showError(form, text) {
    var box = form.querySelector(".webauthn-error");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
  }

  function fetchOptions(form) {
    var body = new URLSearchParams();
    if (form.elements.csrf_token) body.set("csrf_token", form.elements.csrf_token.value);
    if (form.elements.req) body.set("req", form.elements.req.value);
    body.set("ceremony", form.dataset.webauthn);
    return fetch(form.dataset.options, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (res) {
        return res.json().then(function (data) {
          if (!res.ok) throw new Error(data.error || "The security key could not be used.");
          return data;
        });
      });
  }

  // The options request of the last ceremony started. Each answer sets the
  // ceremony's state cookie, so a ceremony started while another's options
  // are on their way waits for them: otherwise the late answer would
  // replace the new ceremony's state and its credential would be refused.
  var optionsInFlight = Promise.resolve();

  function run(form, mediation, signal) {
    var ceremony = form.dataset.webauthn;
    var fetched = fetchOptions(form);
    optionsInFlight = fetched.catch(function () {});
    return fetched.then(function (o) {
      var pk = o.publicKey;
      pk.challenge = dec(pk.challenge);
      if (ceremony.indexOf("register") === 0) {
        pk.user.id = dec(pk.user.id);
        decodeIDs(pk.excludeCredentials);
        return navigator.credentials.create({ publicKey: pk });
      }
      decodeIDs(pk.allowCredentials);
      var req = { publicKey: pk };
      if (mediation) {
        req.mediation = mediation;
        req.signal = signal;
      }
      return navigator.credentials.get(req);
    }).then(function (cred) {
      if (!cred) return;
      form.elements.credential.value = credentialJSON(cred);
      form.submit();
    });
  }

  var conditional = null;

  function start(form, event) {
    event.preventDefault();
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    optionsInFlight.then(function () { return run(form); }).catch(function (err) {
      if (button) button.disabled = false;
      showError(form, err && err.name === "NotAllowedError"
        ? "The security key did not answer, or the request was cancelled. Try again."
        : (err && err.message) || "The security key could not be used.");
    });
  }

  if (!window.PublicKeyCredential || !navigator.credentials) return;
  var forms = document.querySelectorAll("form[data-webauthn]");
  forms.forEach(function (form) {
    form.hidden = false;
    form.addEventListener("submit", function (e) { start(form, e); });
  });

  var login = document.querySelector('form[data-webauthn="login"]');
  var field = document.querySelector('input[autocomplete~="webauthn"]');
  if (login && field && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) return;
      conditional = new AbortController();
      run(login, "conditional", conditional.signal).catch(function () {
        // Aborted for the button, or no passkey picked: the form stays.
      });
    }).catch(function () {});
  }
})();
