// Turns a chat message (untrusted text) into DOM nodes: line breaks, **bold**,
// http(s) links and Dutch phone numbers as tel: links. Never uses innerHTML:
// every piece of text becomes a text node, so "<img onerror=...>" stays text.
(function () {
  "use strict";

  // A URL, or a phone number: 112, 0800/0900 numbers (8 or 11 digits), regular
  // Dutch numbers (10 digits with 0, or +31 and 9 digits), with spaces or dashes.
  // Not inside words, references (EGG-20261129-7F3K), times (08:30) or decimals.
  var TOKEN = new RegExp(
    "(https?:\\/\\/[^\\s<>\"']+)" +
    "|(?:^|(?<=[\\s(\\[:;,]))(" +
      "112" +
      "|0[89]0[0-9][ -]?[0-9]{4}(?:[0-9]{3})?" +
      "|(?:\\+31[ -]?(?:\\(0\\)[ -]?)?|0)[1-9][0-9]{0,2}[ -]?[0-9]{3,4}[ -]?[0-9]{2,4}(?:[ -]?[0-9]{2})?" +
    ")(?![0-9A-Za-z\\-\\/]|[.,:][0-9])",
    "g"
  );
  var TRAILING = /[.,;:!?)\]]+$/;

  function phoneHref(text) {
    var digits = text.replace(/\(0\)/g, "").replace(/[^0-9+]/g, "");
    if (digits === "112") {
      return "tel:112";
    }
    if (/^0[89]0[0-9]([0-9]{4}|[0-9]{7})$/.test(digits)) {
      return "tel:" + digits;
    }
    if (/^0[1-9][0-9]{8}$/.test(digits) || /^\+31[1-9][0-9]{8}$/.test(digits)) {
      return "tel:" + digits;
    }
    return null;
  }

  function appendText(parent, text) {
    if (text) {
      parent.appendChild(document.createTextNode(text));
    }
  }

  function appendLinked(parent, text) {
    var last = 0;
    var match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      var whole = match[0];
      var start = match.index;
      var link = null;
      if (match[1]) {
        var url = match[1];
        var trail = url.match(TRAILING);
        if (trail) {
          url = url.slice(0, url.length - trail[0].length);
          whole = url;
        }
        link = document.createElement("a");
        link.href = url; // only http(s) can match
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.textContent = url;
      } else if (match[2]) {
        var href = phoneHref(match[2]);
        if (href) {
          link = document.createElement("a");
          link.href = href;
          link.className = "chat-phone";
          link.textContent = match[2];
          link.setAttribute("aria-label", "Bel " + match[2]);
        }
      }
      if (link) {
        appendText(parent, text.slice(last, start));
        parent.appendChild(link);
        last = start + whole.length;
      }
      if (whole.length === 0) {
        TOKEN.lastIndex += 1;
      }
    }
    appendText(parent, text.slice(last));
  }

  function appendInline(parent, line) {
    // **bold** (as the assistant writes it); an odd marker stays as text.
    var parts = line.split("**");
    if (parts.length % 2 === 0) {
      appendLinked(parent, line);
      return;
    }
    parts.forEach(function (part, index) {
      if (index % 2 === 1 && part) {
        var strong = document.createElement("strong");
        appendLinked(strong, part);
        parent.appendChild(strong);
      } else {
        appendLinked(parent, part);
      }
    });
  }

  function render(text) {
    var fragment = document.createDocumentFragment();
    String(text == null ? "" : text).split("\n").forEach(function (line, index) {
      if (index > 0) {
        fragment.appendChild(document.createElement("br"));
      }
      appendInline(fragment, line);
    });
    return fragment;
  }

  window.CoaChatFormat = { render: render, phoneHref: phoneHref };
})();
