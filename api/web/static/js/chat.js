// The web chat: socket.io (socket.io-client 4, served from /static/vendor/) to the
// Rasa server's web chat channel. The socket is authenticated with a 15-minute
// token from POST /api/v1/auth/chat-token (session cookie + X-CSRF-Token); the
// channel takes the staff id and location from that token, so this page never
// sends an identity. Every message is built from DOM nodes (chat-format.js).
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root) {
    return;
  }
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var send = document.getElementById("chat-send");
  var statusLine = document.getElementById("chat-status");
  var typing = document.getElementById("chat-typing");
  var reconnectButton = document.getElementById("chat-reconnect");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var format = window.CoaChatFormat;
  var STORAGE_KEY = "coa-chat-session";

  var socket = null;
  var sessionId = null;
  var pending = []; // messages to send once the session is confirmed
  var focusNextButton = false; // the last answer was given with a button
  var typingTimer = null;
  var lastSent = null; // resent when the server refuses it for an expired token

  function setStatus(text, state) {
    statusLine.textContent = text;
    statusLine.setAttribute("data-state", state);
  }

  function setReady(ready) {
    input.disabled = !ready;
    send.disabled = !ready;
    root.setAttribute("data-ready", ready ? "true" : "false");
  }

  function storedSession() {
    try {
      return window.sessionStorage.getItem(STORAGE_KEY);
    } catch (e) {
      return null;
    }
  }

  function storeSession(value) {
    try {
      if (value) {
        window.sessionStorage.setItem(STORAGE_KEY, value);
      } else {
        window.sessionStorage.removeItem(STORAGE_KEY);
      }
    } catch (e) {
      /* private mode: the conversation then lasts as long as the page */
    }
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
    var last = log.lastElementChild;
    if (last && last.scrollIntoView) {
      last.scrollIntoView({ block: "nearest" });
    }
  }

  function showTyping(on) {
    window.clearTimeout(typingTimer);
    if (on) {
      typing.hidden = false;
      // The assistant may send nothing (e.g. an empty answer): do not spin forever.
      typingTimer = window.setTimeout(function () { typing.hidden = true; }, 20000);
    } else {
      typing.hidden = true;
    }
  }

  function addItem(who, label) {
    var item = document.createElement("li");
    item.className = "chat-message chat-" + who;
    var speaker = document.createElement("span");
    speaker.className = "visually-hidden";
    speaker.textContent = label + ": ";
    item.appendChild(speaker);
    log.appendChild(item);
    return item;
  }

  function closeEarlierChoices() {
    // Once the counsellor answers (typed or clicked), earlier buttons are stale.
    var open = log.querySelectorAll(".chat-choice:enabled");
    for (var i = 0; i < open.length; i += 1) {
      open[i].disabled = true;
    }
  }

  function addUserMessage(text) {
    closeEarlierChoices();
    var item = addItem("user", "U");
    var body = document.createElement("p");
    body.className = "chat-text";
    body.appendChild(format.render(text));
    item.appendChild(body);
    scrollToEnd();
  }

  function addNotice(text) {
    var item = addItem("notice", "Melding");
    var body = document.createElement("p");
    body.className = "chat-text";
    body.textContent = text;
    item.appendChild(body);
    scrollToEnd();
  }

  // The assistant ends a step with its source ("Bron: ..." after a blank line):
  // shown as a small citation inside the same message, not as a message of its own.
  var SOURCE_LINE = /\n\n(Bron(?:nen)?: [^\n]*)\s*$/;

  function splitSource(text) {
    var match = SOURCE_LINE.exec(text);
    if (!match) {
      return { text: text, source: null };
    }
    return { text: text.slice(0, match.index), source: match[1] };
  }

  function opening() {
    var choices = [];
    try {
      choices = JSON.parse(root.getAttribute("data-opening") || "[]");
    } catch (e) {
      choices = [];
    }
    addBotMessage({
      text: "Goedendag. Beschrijf in een paar woorden wat er speelt, zonder namen. " +
        "Ik stel dan één vraag tegelijk en zeg wat u moet doen en wie u belt. " +
        "U kunt ook een onderwerp kiezen of iets opzoeken:",
      buttons: choices
    });
  }

  function buttonsOf(message) {
    var list = message.quick_replies || message.buttons || [];
    return Array.isArray(list) ? list.filter(function (b) {
      return b && typeof b.title === "string" && typeof b.payload === "string";
    }) : [];
  }

  function answerWith(button, group, title, payload) {
    var all = group.querySelectorAll("button");
    for (var i = 0; i < all.length; i += 1) {
      all[i].disabled = true;
    }
    button.setAttribute("aria-pressed", "true");
    button.classList.add("chat-choice-chosen");
    focusNextButton = true;
    addUserMessage(title);
    submit(payload);
    // The buttons are disabled now: keep the keyboard focus on the page.
    input.focus();
  }

  function addBotMessage(message) {
    if (!message || typeof message !== "object") {
      return;
    }
    showTyping(false);
    var item = addItem("bot", "Assistent");
    if (typeof message.text === "string" && message.text) {
      var parts = splitSource(message.text);
      var body = document.createElement("p");
      body.className = "chat-text";
      body.appendChild(format.render(parts.text));
      item.appendChild(body);
      if (parts.source) {
        var source = document.createElement("p");
        source.className = "chat-source";
        source.appendChild(format.render(parts.source));
        item.appendChild(source);
      }
    }
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload &&
        /^https?:\/\//.test(String(attachment.payload.src || ""))) {
      var link = document.createElement("a");
      link.href = String(attachment.payload.src);
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = "Afbeelding openen";
      item.appendChild(link);
    }
    var buttons = buttonsOf(message);
    if (buttons.length) {
      var group = document.createElement("div");
      group.className = "chat-choices";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Antwoordknoppen");
      buttons.forEach(function (b) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button chat-choice";
        button.textContent = b.title;
        button.setAttribute("data-payload", b.payload);
        button.addEventListener("click", function () {
          if (!button.disabled) {
            answerWith(button, group, b.title, b.payload);
          }
        });
        group.appendChild(button);
      });
      item.appendChild(group);
      if (focusNextButton) {
        // Keyboard users answered with a button: the next question's first button.
        focusNextButton = false;
        group.firstChild.focus();
      }
    }
    scrollToEnd();
  }

  // A recorded decision adds follow-ups and an answer in the chat closes one: the
  // header's "open · te laat" badge (base.html) follows without a reload.
  var CHANGES_FOLLOW_UPS = /Referentie van het vastgelegde besluit|^Vastgelegd: /;
  var badgeTimer = null;

  function refreshBadge() {
    var badge = document.querySelector(".follow-up-badge");
    if (!badge) {
      return;
    }
    fetch("/api/v1/follow-ups?status=open&limit=1", {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      if (!body || typeof body.open !== "number" || typeof body.overdue !== "number") {
        return;
      }
      badge.textContent = body.open + " open" + (body.overdue ? " · " + body.overdue + " te laat" : "");
      badge.setAttribute("aria-label", "Mijn acties: " + body.open + " open, " + body.overdue + " te laat");
      badge.classList.toggle("follow-up-badge-overdue", body.overdue > 0);
    }, function () { /* the badge stays as it was; the page shows it on the next load */ });
  }

  function noteFollowUpChange(message) {
    if (message && typeof message.text === "string" && CHANGES_FOLLOW_UPS.test(message.text)) {
      window.clearTimeout(badgeTimer);
      badgeTimer = window.setTimeout(refreshBadge, 300);
    }
  }

  function submit(text) {
    if (socket && socket.connected && sessionId) {
      lastSent = text;
      socket.emit("user_uttered", { message: text, session_id: sessionId });
      showTyping(true);
    } else {
      pending.push(text);
      connect();
    }
  }

  function fetchToken() {
    return fetch(root.getAttribute("data-token-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfMeta ? csrfMeta.content : "", "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent("/chat"));
        throw new Error("niet ingelogd");
      }
      if (!response.ok) {
        throw new Error("token: HTTP " + response.status);
      }
      return response.json();
    }).then(function (body) {
      return body.token;
    });
  }

  function connect() {
    if (socket) {
      if (!socket.connected && !socket.active) {
        socket.connect();
      }
      return;
    }
    if (typeof window.io !== "function") {
      setStatus("De chat kan niet starten: de socket.io-bibliotheek ontbreekt.", "error");
      return;
    }
    setStatus("Verbinden met de assistent…", "connecting");
    socket = window.io(root.getAttribute("data-socket-url"), {
      path: root.getAttribute("data-socket-path") || "/socket.io",
      transports: ["websocket", "polling"],
      withCredentials: false,
      reconnectionAttempts: 10,
      // A function: every (re)connect gets a fresh token.
      auth: function (callback) {
        fetchToken().then(function (token) {
          callback({ token: token });
        }, function () {
          callback({ token: "" });
        });
      }
    });

    socket.on("connect", function () {
      reconnectButton.hidden = true;
      socket.emit("session_request", { session_id: sessionId || storedSession() });
    });

    socket.on("session_confirm", function (id) {
      if (typeof id !== "string") {
        return;
      }
      var first = sessionId === null;
      sessionId = id;
      storeSession(id);
      setReady(true);
      setStatus("Verbonden. U kunt uw vraag typen.", "ready");
      var queue = pending;
      pending = [];
      queue.forEach(function (text) { submit(text); });
      if (first && document.activeElement === document.body) {
        input.focus();
      }
    });

    socket.on("session_refused", function (data) {
      // Not our session (another account in this tab) or none yet: start a new one.
      var reason = data && data.error;
      storeSession(null);
      sessionId = null;
      if (reason === "not_your_session" || reason === "no_session") {
        socket.emit("session_request", {});
      }
    });

    socket.on("session_expired", function () {
      // The server disconnects; the last message was not processed: send it again.
      setStatus("Sessie wordt vernieuwd…", "connecting");
      if (lastSent !== null) {
        pending.push(lastSent);
        lastSent = null;
      }
    });

    socket.on("bot_uttered", function (message) {
      addBotMessage(message);
      noteFollowUpChange(message);
    });

    socket.on("connect_error", function () {
      setReady(false);
      showTyping(false);
      if (!socket.active) {
        setStatus("Geen verbinding met de assistent. Probeer het opnieuw.", "error");
        reconnectButton.hidden = false;
      } else {
        setStatus("Geen verbinding met de assistent; opnieuw proberen…", "connecting");
      }
    });

    socket.on("disconnect", function (reason) {
      setReady(false);
      if (reason === "io server disconnect") {
        // Refused by the server (an expired token): reconnect with a new token.
        socket.connect();
      } else {
        setStatus("Verbinding verbroken; opnieuw verbinden…", "connecting");
      }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) {
      input.focus();
      return;
    }
    input.value = "";
    focusNextButton = false;
    addUserMessage(text);
    submit(text);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") {
        form.requestSubmit();
      } else {
        form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    }
  });

  reconnectButton.addEventListener("click", function () {
    reconnectButton.hidden = true;
    connect();
  });

  setReady(false);
  opening();
  connect();
})();
