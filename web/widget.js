/*
 * Vein clinic chat widget: a small, dependency-free chat window that talks to
 * the Rasa server's socket.io channel (socket.io-client is its one library).
 *
 * Embed with one tag; everything else loads from the same place as this file:
 *   <script src="https://CHAT-HOST/widget.js" defer></script>
 * Settings come from CHAT-HOST/config.js (served by ops/web.py) and can be
 * overridden on the tag: data-server-url, data-clinic-name, data-clinic-phone.
 *
 * Bot and user text is only ever rendered with textContent; links are built
 * as elements with an allow-listed scheme, never from HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var BASE = new URL(".", script ? script.src : window.location.href).href;
  var STORAGE_KEY = "veinClinicChat.v1";
  // Rasa ends a conversation session after 60 idle minutes (domain.yml); so does the widget.
  var SESSION_IDLE_MS = 60 * 60 * 1000;
  var REPLY_TIMEOUT_MS = 30000;
  var MAX_MESSAGE_CHARS = 1000;
  var MAX_STORED_ENTRIES = 200;
  var SAFE_SCHEMES = ["http:", "https:", "mailto:", "tel:"];
  // Markdown links [title](url), bare web addresses, and international phone numbers.
  var LINK_PATTERN = /\[([^\]\n]{1,200})\]\(([^)\s]{1,2000})\)|(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])|(\+\d[\d ().-]{5,18}\d)/g;

  // ---------------------------------------------------------------- loading

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = src;
      tag.onload = resolve;
      tag.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(tag);
    });
  }

  function loadStyles() {
    var href = BASE + "widget.css";
    var links = document.querySelectorAll('link[rel="stylesheet"]');
    for (var i = 0; i < links.length; i++) {
      if (links[i].href === href) return;
    }
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.appendChild(link);
  }

  function readConfig() {
    var fromServer = window.CLINIC_CHAT_CONFIG || {};
    var data = (script && script.dataset) || {};
    return {
      serverUrl: (data.serverUrl || fromServer.serverUrl || window.location.origin).replace(/\/+$/, ""),
      clinicName: data.clinicName || fromServer.clinicName || "our clinic",
      clinicPhone: data.clinicPhone || fromServer.clinicPhone || "",
    };
  }

  function start() {
    loadStyles();
    var needConfig = window.CLINIC_CHAT_CONFIG ? Promise.resolve() : loadScript(BASE + "config.js").catch(function () {});
    var needIo = needConfig.then(function () {
      return window.io ? undefined : loadScript(BASE + "vendor/socket.io.min.js");
    });
    needIo
      .catch(function () { /* the widget still opens and shows the phone number */ })
      .then(function () { new ChatWidget(readConfig()).mount(document.body); });
  }

  // ---------------------------------------------------------------- storage

  /** The conversation kept across reloads: session id, transcript, last activity. */
  function loadState() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
      if (saved && saved.sessionId && Date.now() - saved.updatedAt < SESSION_IDLE_MS) return saved;
    } catch (error) { /* storage blocked or corrupt: start afresh */ }
    return { sessionId: newSessionId(), entries: [], updatedAt: Date.now(), open: false };
  }

  function saveState(state) {
    state.updatedAt = Date.now();
    state.entries = state.entries.slice(-MAX_STORED_ENTRIES);
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch (error) { /* private mode: the chat still works, only without reload memory */ }
  }

  function newSessionId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ---------------------------------------------------------------- rendering helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  /** A URL as a safe href, or null: only http(s), mailto and tel survive. */
  function safeHref(raw) {
    try {
      var url = new URL(raw, window.location.href);
      return SAFE_SCHEMES.indexOf(url.protocol) >= 0 ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  function makeLink(label, href) {
    var link = el("a", { href: href, text: label });
    if (/^https?:/.test(href)) {
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
    }
    return link;
  }

  /** Text as text nodes and link elements: nothing is ever parsed as HTML. */
  function renderRichText(container, text) {
    var last = 0;
    text.replace(LINK_PATTERN, function (match, mdTitle, mdUrl, bareUrl, phone, offset) {
      container.appendChild(document.createTextNode(text.slice(last, offset)));
      var href = mdUrl ? safeHref(mdUrl) : bareUrl ? safeHref(bareUrl) : "tel:" + phone.replace(/[^\d+]/g, "");
      container.appendChild(href ? makeLink(mdTitle || bareUrl || phone, href) : document.createTextNode(match));
      last = offset + match.length;
      return match;
    });
    container.appendChild(document.createTextNode(text.slice(last)));
  }

  /** What Rasa's socket.io output sends, as {text, buttons}; null when nothing to show. */
  function fromBotMessage(message) {
    if (!message || typeof message !== "object") return null;
    var buttons = (message.quick_replies || message.buttons || [])
      .filter(function (b) { return b && b.title && typeof b.payload === "string"; })
      .map(function (b) { return { title: String(b.title), payload: b.payload }; });
    var text = typeof message.text === "string" ? message.text : "";
    var attachment = message.attachment;
    if (!text && attachment && attachment.payload && typeof attachment.payload.src === "string") {
      text = attachment.payload.src; // images become links: the page loads nothing from elsewhere
    }
    return text || buttons.length ? { role: "bot", text: text, buttons: buttons } : null;
  }

  /** A speech-bubble icon drawn inline: no icon font or image to fetch. */
  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "vc-launcher-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  // ---------------------------------------------------------------- the widget

  function ChatWidget(config) {
    this.config = config;
    this.state = loadState();
    this.socket = null;
    this.ready = false; // connected and session confirmed
    this.lost = false; // the server could not be reached (shown to the patient)
    this.queue = [];
    this.replyTimer = null;
  }

  ChatWidget.prototype.mount = function (parent) {
    var name = this.config.clinicName;
    this.launcher = el("button", {
      type: "button", className: "vc-launcher", "aria-expanded": "false", "aria-controls": "vc-panel",
    }, [chatIcon(), el("span", { text: "Chat with us" })]);

    this.log = el("div", {
      id: "vc-log", className: "vc-log", role: "log", "aria-live": "polite",
      "aria-label": "Conversation", tabindex: "0",
    });
    this.typing = el("div", { className: "vc-typing", role: "status", hidden: "" }, [
      el("span", { className: "vc-dot", "aria-hidden": "true" }),
      el("span", { className: "vc-dot", "aria-hidden": "true" }),
      el("span", { className: "vc-dot", "aria-hidden": "true" }),
      el("span", { className: "vc-sr-only", text: "The assistant is typing" }),
    ]);
    this.alert = el("div", { className: "vc-alert", role: "alert", hidden: "" });
    this.input = el("input", {
      id: "vc-input", className: "vc-input", type: "text", autocomplete: "off",
      maxlength: String(MAX_MESSAGE_CHARS), placeholder: "Type your question",
    });
    this.form = el("form", { className: "vc-form" }, [
      el("label", { for: "vc-input", className: "vc-sr-only", text: "Your message to " + name }),
      this.input,
      el("button", { type: "submit", className: "vc-send", text: "Send" }),
    ]);
    this.closeButton = el("button", { type: "button", className: "vc-icon-button", "aria-label": "Close chat" }, [
      el("span", { "aria-hidden": "true", text: "\u00D7" }),
    ]);
    this.restartButton = el("button", { type: "button", className: "vc-text-button", text: "New chat" });
    this.panel = el("section", {
      id: "vc-panel", className: "vc-panel", "aria-labelledby": "vc-title", hidden: "",
    }, [
      el("header", { className: "vc-header" }, [
        el("div", { className: "vc-heading" }, [
          el("h2", { id: "vc-title", className: "vc-title", text: name }),
          el("p", { className: "vc-subtitle", text: "Virtual assistant \u00B7 not medical advice" }),
        ]),
        this.restartButton,
        this.closeButton,
      ]),
      this.log, this.typing, this.alert, this.form,
    ]);
    this.root = el("aside", { className: "vc-root", "aria-label": "Chat with " + name }, [this.panel, this.launcher]);
    parent.appendChild(this.root);
    this.bindEvents();
    this.renderTranscript();
    if (this.state.open) this.open(false);
  };

  ChatWidget.prototype.bindEvents = function () {
    var self = this;
    this.launcher.addEventListener("click", function () {
      if (self.panel.hidden) self.open(true); else self.close();
    });
    this.closeButton.addEventListener("click", function () { self.close(); });
    this.restartButton.addEventListener("click", function () { self.restart(); });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value.trim();
      if (!text) return;
      self.input.value = "";
      self.send(text, text);
    });
    this.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") self.close();
    });
  };

  ChatWidget.prototype.open = function (focusInput) {
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    this.state.open = true;
    saveState(this.state);
    this.connect();
    this.scrollToEnd();
    if (focusInput) this.input.focus();
  };

  ChatWidget.prototype.close = function () {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.state.open = false;
    saveState(this.state);
    this.launcher.focus();
  };

  /** Forget this conversation on this device and begin a new one (shared computers). */
  ChatWidget.prototype.restart = function () {
    this.state = { sessionId: newSessionId(), entries: [], updatedAt: Date.now(), open: true };
    saveState(this.state);
    this.renderTranscript();
    this.setTyping(false);
    this.queue = [];
    if (this.socket) {
      // A fresh connection, so the old conversation's room is left behind.
      var old = this.socket;
      this.socket = null;
      this.ready = false;
      old.off();
      old.disconnect();
      this.connect();
    }
    this.input.focus();
  };

  // ------------------------------------------------------------ connection

  ChatWidget.prototype.connect = function () {
    if (this.socket) return;
    if (typeof window.io !== "function") {
      this.showUnreachable();
      return;
    }
    var self = this;
    this.socket = window.io(this.config.serverUrl, {
      path: "/socket.io",
      forceNew: true, // "New chat" opens a separate connection
      reconnectionDelayMax: 10000,
      timeout: 8000,
    });
    this.socket.on("connect", function () {
      self.socket.emit("session_request", { session_id: self.state.sessionId });
    });
    this.socket.on("session_confirm", function (sessionId) {
      if (sessionId !== self.state.sessionId) return; // answer to an older request
      self.ready = true;
      self.lost = false;
      self.hideAlert();
      if (!self.state.entries.length && !self.queue.length) self.queue.push("/greet");
      self.flush();
    });
    this.socket.on("bot_uttered", function (message) { self.receive(message); });
    this.socket.on("connect_error", function () { self.onLost(); });
    this.socket.on("disconnect", function () { self.onLost(); });
  };

  ChatWidget.prototype.onLost = function () {
    this.ready = false;
    this.lost = true;
    window.clearTimeout(this.replyTimer);
    this.setTyping(false);
    this.showUnreachable();
  };

  ChatWidget.prototype.flush = function () {
    while (this.ready && this.queue.length) {
      this.socket.emit("user_uttered", { message: this.queue.shift(), session_id: this.state.sessionId });
      this.waitForReply();
    }
  };

  /** Show the user's words (label), send the payload; queued until the server is there. */
  ChatWidget.prototype.send = function (payload, label) {
    this.clearQuickReplies();
    this.addEntry({ role: "user", text: label });
    this.queue.push(payload);
    if (this.ready) this.flush();
    else if (this.lost) this.showUnreachable();
  };

  ChatWidget.prototype.waitForReply = function () {
    var self = this;
    this.setTyping(true);
    window.clearTimeout(this.replyTimer);
    this.replyTimer = window.setTimeout(function () {
      self.setTyping(false);
      self.showUnreachable("The assistant is not answering right now.");
    }, REPLY_TIMEOUT_MS);
  };

  ChatWidget.prototype.receive = function (message) {
    var entry = fromBotMessage(message);
    if (!entry) return;
    window.clearTimeout(this.replyTimer);
    this.setTyping(false);
    this.clearQuickReplies();
    this.addEntry(entry);
  };

  // ------------------------------------------------------------ transcript

  ChatWidget.prototype.addEntry = function (entry) {
    this.state.entries.push(entry);
    saveState(this.state);
    this.log.appendChild(this.renderEntry(entry, true));
    this.scrollToEnd();
  };

  ChatWidget.prototype.renderTranscript = function () {
    var entries = this.state.entries;
    this.log.textContent = "";
    for (var i = 0; i < entries.length; i++) {
      // Only the newest message's quick replies still make sense.
      this.log.appendChild(this.renderEntry(entries[i], i === entries.length - 1));
    }
  };

  ChatWidget.prototype.renderEntry = function (entry, withButtons) {
    var isBot = entry.role === "bot";
    var bubble = el("div", { className: "vc-bubble" });
    renderRichText(bubble, entry.text || "");
    var row = el("div", { className: "vc-msg " + (isBot ? "vc-msg-bot" : "vc-msg-user") }, [
      el("span", { className: "vc-sr-only", text: isBot ? "Assistant: " : "You: " }),
      bubble,
    ]);
    if (!entry.text) bubble.hidden = true;
    if (isBot && withButtons && entry.buttons && entry.buttons.length) {
      row.appendChild(this.renderQuickReplies(entry.buttons));
    }
    return row;
  };

  ChatWidget.prototype.renderQuickReplies = function (buttons) {
    var self = this;
    var group = el("div", { className: "vc-quick-replies", role: "group", "aria-label": "Suggested replies" });
    buttons.forEach(function (button) {
      var node = el("button", { type: "button", className: "vc-quick-reply", text: button.title });
      node.addEventListener("click", function () {
        self.send(button.payload, button.title);
        self.input.focus();
      });
      group.appendChild(node);
    });
    return group;
  };

  ChatWidget.prototype.clearQuickReplies = function () {
    var groups = this.log.querySelectorAll(".vc-quick-replies");
    for (var i = 0; i < groups.length; i++) groups[i].remove();
  };

  ChatWidget.prototype.scrollToEnd = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  ChatWidget.prototype.setTyping = function (on) {
    this.typing.hidden = !on;
    if (on) this.scrollToEnd();
  };

  // ------------------------------------------------------------ errors

  /** A plain message with the clinic's phone as a tap-to-call link. */
  ChatWidget.prototype.showUnreachable = function (lead) {
    var phone = this.config.clinicPhone;
    lead = lead || "Sorry, the chat can't reach our assistant right now.";
    // Each retry must not make screen readers announce the same alert again.
    if (!this.alert.hidden && this.alert.dataset.lead === lead) return;
    this.alert.dataset.lead = lead;
    this.alert.textContent = "";
    this.alert.appendChild(document.createTextNode(
      lead + " "
    ));
    if (phone) {
      this.alert.appendChild(document.createTextNode("Please call " + this.config.clinicName + " at "));
      this.alert.appendChild(makeLink(phone, "tel:" + phone.replace(/[^\d+]/g, "")));
      this.alert.appendChild(document.createTextNode("."));
    } else {
      this.alert.appendChild(document.createTextNode("Please call " + this.config.clinicName + "."));
    }
    this.alert.hidden = false;
  };

  ChatWidget.prototype.hideAlert = function () {
    this.alert.hidden = true;
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
