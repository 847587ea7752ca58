// Authentiq sign-in page: live status of the sign-in request.
//
// Listens to the Server-Sent Events at `data-events-url` (events named
// `status`, data `{"status":"pending"|"approved"|"denied"|"expired",
// "continue"?:url,"message"?:text}`), keeps the status area up to date,
// counts down to `data-expires-at` and goes on to the client on approval.
(function () {
  "use strict";

  var root = document.getElementById("aq-sign-in");
  if (!root) {
    return;
  }

  var statusTitle = document.getElementById("aq-status-title");
  var statusText = document.getElementById("aq-status-text");
  var countdown = document.getElementById("aq-countdown");
  var eventsUrl = root.getAttribute("data-events-url");
  var expiresAt = Number(root.getAttribute("data-expires-at")) * 1000;
  var serverNow = Number(root.getAttribute("data-server-now")) * 1000;
  // The server's clock is the one that counts: correct for the difference.
  var skew = serverNow > 0 ? serverNow - Date.now() : 0;

  var source = null;
  var retryTimer = null;
  var retryDelay = 2000;
  var tickTimer = null;
  var finished = false;
  var offlineTimer = null;
  var offlineNote = document.getElementById("aq-offline");

  var MESSAGES = {
    approved: ["Approved", "Taking you back…"],
    denied: ["Sign-in was denied", "The request was denied in the Authentiq app. You can close this page, or go back and try again."],
    expired: ["This sign-in request expired", "Go back and try again."],
  };

  function now() {
    return Date.now() + skew;
  }

  function setStatus(state, title, text) {
    root.setAttribute("data-state", state);
    statusTitle.textContent = title;
    statusText.textContent = text;
  }

  function hideChallenge() {
    var parts = root.querySelectorAll("[data-challenge]");
    for (var i = 0; i < parts.length; i++) {
      parts[i].hidden = true;
    }
  }

  function stop() {
    finished = true;
    setOffline(false);
    if (source) {
      source.close();
      source = null;
    }
    if (retryTimer !== null) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    if (tickTimer !== null) {
      clearInterval(tickTimer);
      tickTimer = null;
    }
  }

  function end(state, message) {
    if (finished) {
      return;
    }
    stop();
    hideChallenge();
    var m = MESSAGES[state];
    setStatus(state, m[0], message || m[1]);
    document.title = m[0] + " · Authentiq";
  }

  // Only follow http(s) URLs, resolved against this page.
  function safeUrl(value) {
    if (typeof value !== "string" || value === "") {
      return null;
    }
    try {
      var url = new URL(value, window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function approved(data) {
    if (finished) {
      return;
    }
    stop();
    hideChallenge();
    var target = safeUrl(data["continue"]);
    if (target) {
      setStatus("approved", MESSAGES.approved[0], data.message || MESSAGES.approved[1]);
      window.location.assign(target);
    } else {
      setStatus("approved", MESSAGES.approved[0], data.message || "You can close this page.");
    }
  }

  function onStatus(event) {
    var data;
    try {
      data = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (!data || typeof data.status !== "string") {
      return;
    }
    switch (data.status) {
      case "approved":
        approved(data);
        break;
      case "denied":
        end(data.status, typeof data.message === "string" ? data.message : null);
        // The application hears of the denial too (access_denied), after
        // the user has had a moment to read why.
        var back = safeUrl(data["continue"]);
        if (back) {
          window.setTimeout(function () {
            window.location.assign(back);
          }, 2500);
        }
        break;
      case "expired":
        end(data.status, typeof data.message === "string" ? data.message : null);
        break;
      case "pending":
        if (typeof data.message === "string" && data.message !== "") {
          setStatus("pending", "Waiting for your approval", data.message);
        }
        break;
      default:
        break;
    }
  }

  // Say "reconnecting" only when the connection stays down for a while: the
  // stream also ends and reopens in normal operation.
  function setOffline(offline) {
    if (!offline) {
      if (offlineTimer !== null) {
        clearTimeout(offlineTimer);
        offlineTimer = null;
      }
      if (offlineNote) {
        offlineNote.hidden = true;
      }
    } else if (offlineTimer === null && offlineNote && offlineNote.hidden) {
      offlineTimer = setTimeout(function () {
        offlineTimer = null;
        if (!finished) {
          offlineNote.hidden = false;
        }
      }, 5000);
    }
  }

  function connect() {
    retryTimer = null;
    if (finished || !eventsUrl || typeof window.EventSource !== "function") {
      return;
    }
    source = new window.EventSource(eventsUrl);
    source.addEventListener("status", onStatus);
    source.addEventListener("open", function () {
      retryDelay = 2000;
      setOffline(false);
    });
    source.addEventListener("error", function () {
      if (finished) {
        return;
      }
      setOffline(true);
      // The browser retries by itself unless it gave up (an HTTP error or a
      // wrong content type): then try again later, more and more slowly.
      if (source && source.readyState === window.EventSource.CLOSED) {
        source.close();
        source = null;
        retryTimer = setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    });
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function tick() {
    var left = Math.ceil((expiresAt - now()) / 1000);
    if (!(left > 0)) {
      end("expired", null);
      return;
    }
    if (countdown) {
      countdown.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
    }
  }

  if (expiresAt > 0) {
    tick();
    if (!finished) {
      tickTimer = setInterval(tick, 1000);
    }
  }
  connect();

  // Back from the browser's page cache: the stream was closed, reopen it.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted || finished) {
      return;
    }
    tick();
    if (!finished && (!source || source.readyState === window.EventSource.CLOSED)) {
      if (source) {
        source.close();
        source = null;
      }
      if (retryTimer === null) {
        connect();
      }
    }
  });
})();
