// Passkeys (WebAuthn) for Gatehouse. The pages work without this file:
// it only unhides the passkey buttons ([data-passkey], rendered hidden)
// when the browser has WebAuthn with JSON options, and runs their
// ceremonies against /webauthn/*/begin and /webauthn/*/finish.
//
//   data-passkey="login"          sign in with a passkey, no username
//   data-passkey="register"       add a passkey (its form's name field)
//   data-passkey="second-factor"  the passkey as the second factor
//   data-passkey="reauth"         confirm it's you, then submit the form
//
// On the login page, a username field with autocomplete "username
// webauthn" also gets conditional mediation: the browser offers passkeys
// in its autofill.
"use strict";

(function () {
  var PKC = window.PublicKeyCredential;
  if (!PKC || typeof PKC.parseRequestOptionsFromJSON !== "function" ||
      typeof PKC.parseCreationOptionsFromJSON !== "function") {
    return;
  }

  // post sends body as JSON to url and returns the parsed answer; an
  // error answer throws an Error with the server's message.
  async function post(url, body) {
    var resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    });
    var data = {};
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    if (!resp.ok) {
      var err = new Error(data.error || "Something went wrong. Please try again");
      err.code = data.code || "";
      throw err;
    }
    return data;
  }

  // status is the message line under a button, made on first use.
  function status(button, text) {
    var id = button.id ? button.id + "-status" : "";
    var el = button.nextElementSibling;
    if (!el || !el.hasAttribute("data-passkey-status")) {
      el = document.createElement("span");
      el.setAttribute("data-passkey-status", "");
      el.setAttribute("role", "status");
      el.className = "hint passkey-status";
      if (id) { el.id = id; }
      button.insertAdjacentElement("afterend", el);
    }
    el.textContent = text;
  }

  // explain turns a failed ceremony into words for the person.
  function explain(e) {
    if (e && e.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Try again, or use your password";
    }
    if (e && e.name === "InvalidStateError") {
      return "This passkey is already registered to your account";
    }
    return (e && e.message) || "Something went wrong. Please try again";
  }

  // getAssertion runs a ceremony that proves a passkey: begin at
  // prefix/begin, ask the browser, finish at prefix/finish with extra
  // (an object, or a function that makes it when the passkey answered).
  async function getAssertion(prefix, begin, extra, request) {
    var started = await post(prefix + "/begin", begin);
    var options = { publicKey: PKC.parseRequestOptionsFromJSON(started.options.publicKey) };
    if (request) {
      for (var k in request) { options[k] = request[k]; }
    }
    var cred = await navigator.credentials.get(options);
    var body = { challenge: started.challenge, credential: cred.toJSON() };
    var more = typeof extra === "function" ? extra() : (extra || {});
    for (var j in more) { body[j] = more[j]; }
    return post(prefix + "/finish", body);
  }

  var conditional = null; // the login page's pending autofill request

  function remembered(button) {
    var form = button.closest("section") && button.closest("section").querySelector("form");
    var box = form && form.querySelector("input[name=remember]");
    return !!(box && box.checked);
  }

  function nextOf(button) {
    var input = document.querySelector("input[name=next]");
    return input ? input.value : "";
  }

  var actions = {
    login: async function (button) {
      if (conditional) { conditional.abort(); conditional = null; }
      var done = await getAssertion("/webauthn/login", {}, { remember: remembered(button), next: nextOf(button) });
      window.location.assign(done.redirect || "/dashboard");
    },
    register: async function (button) {
      var form = button.closest("form");
      var input = form && form.querySelector("input[name=name]");
      var name = input ? input.value.trim() : "";
      if (!name) {
        status(button, "Enter a name for the passkey, such as the device it is on");
        if (input) { input.focus(); }
        return;
      }
      var started = await post("/webauthn/register/begin", {});
      var cred = await navigator.credentials.create({
        publicKey: PKC.parseCreationOptionsFromJSON(started.options.publicKey)
      });
      var done = await post("/webauthn/register/finish", {
        challenge: started.challenge, name: name, credential: cred.toJSON()
      });
      window.location.assign(done.redirect || "/account/passkeys");
    },
    "second-factor": async function (button) {
      var done = await getAssertion("/webauthn/2fa", {}, { next: nextOf(button) });
      window.location.assign(done.redirect || "/dashboard");
    },
    reauth: async function (button) {
      await getAssertion("/webauthn/reauth", {}, {});
      var form = button.closest("form") || document.querySelector("main form[method=post]");
      if (form) { form.submit(); } else { window.location.reload(); }
    }
  };

  document.querySelectorAll("[data-passkey-fallback]").forEach(function (el) {
    el.hidden = true;
  });

  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    var act = actions[button.getAttribute("data-passkey")];
    if (!act) { return; }
    button.hidden = false;
    // Enter in the add form's name field runs the ceremony too.
    var form = button.closest("form");
    if (form && button.getAttribute("data-passkey") === "register") {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        button.click();
      });
    }
    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (button.disabled) { return; }
      button.disabled = true;
      status(button, "Waiting for your passkey…");
      act(button).then(function () {
        status(button, "");
      }, function (e) {
        status(button, explain(e));
      }).finally(function () {
        button.disabled = false;
      });
    });
  });

  // Conditional mediation: passkeys in the username field's autofill.
  var field = document.querySelector("input[autocomplete~=webauthn]");
  if (field && typeof PKC.isConditionalMediationAvailable === "function") {
    PKC.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) { return; }
      conditional = new AbortController();
      var signal = conditional.signal;
      return getAssertion("/webauthn/login", { conditional: true },
        function () { return { remember: remembered(field), next: nextOf(field) }; },
        { mediation: "conditional", signal: signal }).then(function (done) {
        window.location.assign(done.redirect || "/dashboard");
      });
    }).catch(function () { /* cancelled, or the button took over */ });
  }
}());
