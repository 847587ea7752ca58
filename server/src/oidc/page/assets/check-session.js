// The OP iframe of OpenID Connect Session Management 1.0 (§3.2). A client's
// page frames it and posts "client_id session_state"; it answers
// "unchanged", "changed" or "error", by recomputing session_state from
// the client_id, the poster's origin, the browser state cookie (aq_bs) and
// the salt, as the server did when it signed the user in.
"use strict";
(function () {
  var only = document.body.getAttribute("data-client-id") || "";

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (eq > 0 && parts[i].slice(0, eq) === name) {
        return decodeURIComponent(parts[i].slice(eq + 1));
      }
    }
    return "";
  }

  function base64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  window.addEventListener("message", function (e) {
    // Only the page that frames us, only text.
    if (e.source !== window.parent || typeof e.data !== "string") {
      return;
    }
    var reply = function (answer) {
      e.source.postMessage(answer, e.origin);
    };
    var space = e.data.lastIndexOf(" ");
    var clientId = space > 0 ? e.data.slice(0, space) : "";
    var sessionState = space > 0 ? e.data.slice(space + 1) : "";
    var dot = sessionState.lastIndexOf(".");
    if (!clientId || dot <= 0 || (only && clientId !== only)) {
      reply("error");
      return;
    }
    var hash = sessionState.slice(0, dot);
    var salt = sessionState.slice(dot + 1);
    var text = clientId + " " + e.origin + " " + cookie("aq_bs") + " " + salt;
    crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(
      function (digest) {
        reply(base64url(digest) === hash ? "unchanged" : "changed");
      },
      function () {
        reply("error");
      }
    );
  });
})();
