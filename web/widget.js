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
 *
 * Languages: the widget's own words are in STRINGS (English and Spanish). It starts in
 * the page's <html lang>, then follows the conversation: each bot message carries the
 * language of its reply (`lang`, from addons/channels/webchat.py) and the widget shows
 * its words in it. The language toggle ("Español" / "English") sends /set_language{"language":"es"}, which the
 * assistant confirms in the new language; a new conversation opens with
 * /greet{"language":"es"}, so the greeting is already in the page's language (a Rasa
 * payload carries its entities: no metadata, no extra turn, nothing to hide).
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
  var LANGUAGES = ["en", "es"];
  // Every word the widget itself shows or announces, per language.
  var STRINGS = {
    en: {
      launcher: "Chat with us",
      region: "Chat with {name}",
      subtitle: "Virtual assistant \u00B7 not medical advice",
      newChat: "New chat",
      close: "Close chat",
      log: "Conversation",
      typing: "The assistant is typing",
      inputLabel: "Your message to {name}",
      placeholder: "Type your question",
      send: "Send",
      suggestions: "Suggested replies",
      assistant: "Assistant: ",
      you: "You: ",
      toggle: "Espa\u00F1ol",
      unreachable: "Sorry, the chat can't reach our assistant right now.",
      notAnswering: "The assistant is not answering right now.",
      callAt: "Please call {name} at ",
      call: "Please call {name}.",
      ourClinic: "our clinic",
    },
    es: {
      launcher: "Chatear con nosotros",
      region: "Chat con {name}",
      subtitle: "Asistente virtual \u00B7 no es consejo m\u00E9dico",
      newChat: "Nuevo chat",
      close: "Cerrar el chat",
      log: "Conversaci\u00F3n",
      typing: "El asistente est\u00E1 escribiendo",
      inputLabel: "Su mensaje para {name}",
      placeholder: "Escriba su pregunta",
      send: "Enviar",
      suggestions: "Respuestas sugeridas",
      assistant: "Asistente: ",
      you: "Usted: ",
      toggle: "English",
      unreachable: "Lo sentimos, el chat no puede comunicarse con nuestro asistente en este momento.",
      notAnswering: "El asistente no est\u00E1 respondiendo en este momento.",
      callAt: "Llame a {name} al ",
      call: "Llame a {name}.",
      ourClinic: "nuestra cl\u00EDnica",
    },
  };
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
      clinicName: data.clinicName || fromServer.clinicName || "",
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

  // ---------------------------------------------------------------- languages

  /** "es" for a Spanish page (<html lang="es-MX">), else "en". */
  function pageLanguage() {
    var lang = (document.documentElement.getAttribute("lang") || "").toLowerCase().split("-")[0];
    return LANGUAGES.indexOf(lang) >= 0 ? lang : "en";
  }

  function otherLanguage(lang) {
    return lang === "es" ? "en" : "es";
  }

  /** The payload that sets the conversation's language with an intent (Rasa's "/intent{entities}"). */
  function withLanguage(intent, lang) {
    return "/" + intent + JSON.stringify({ language: lang });
  }

  // ---------------------------------------------------------------- storage

  /** The conversation kept across reloads: session id, transcript, last activity. */
  function loadState() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
      if (saved && saved.sessionId && Date.now() - saved.updatedAt < SESSION_IDLE_MS) {
        if (LANGUAGES.indexOf(saved.language) < 0) saved.language = pageLanguage();
        return saved;
      }
    } catch (error) { /* storage blocked or corrupt: start afresh */ }
    return newState(pageLanguage(), false);
  }

  function newState(language, open) {
    return { sessionId: newSessionId(), entries: [], updatedAt: Date.now(), open: open, language: language };
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
    var lang = LANGUAGES.indexOf(message.lang) >= 0 ? message.lang : null;
    var attachment = message.attachment;
    if (!text && attachment && attachment.payload && typeof attachment.payload.src === "string") {
      text = attachment.payload.src; // images become links: the page loads nothing from elsewhere
    }
    // A staff member's message (the clinic took over the chat) says who wrote it.
    var author = typeof message.author === "string" && message.author ? message.author.slice(0, 100) : null;
    return text || buttons.length ? { role: "bot", text: text, buttons: buttons, lang: lang, author: author } : null;
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

  /** One of the widget's own words in its current language, {name} filled in. */
  ChatWidget.prototype.t = function (key) {
    var strings = STRINGS[this.state.language] || STRINGS.en;
    return strings[key].replace("{name}", this.config.clinicName || strings.ourClinic);
  };

  ChatWidget.prototype.mount = function (parent) {
    this.launcherLabel = el("span");
    this.launcher = el("button", {
      type: "button", className: "vc-launcher", "aria-expanded": "false", "aria-controls": "vc-panel",
    }, [chatIcon(), this.launcherLabel]);

    this.log = el("div", {
      id: "vc-log", className: "vc-log", role: "log", "aria-live": "polite", tabindex: "0",
    });
    this.typingLabel = el("span", { className: "vc-sr-only" });
    this.typing = el("div", { className: "vc-typing", role: "status", hidden: "" }, [
      el("span", { className: "vc-dot", "aria-hidden": "true" }),
      el("span", { className: "vc-dot", "aria-hidden": "true" }),
      el("span", { className: "vc-dot", "aria-hidden": "true" }),
      this.typingLabel,
    ]);
    this.alert = el("div", { className: "vc-alert", role: "alert", hidden: "" });
    this.input = el("input", {
      id: "vc-input", className: "vc-input", type: "text", autocomplete: "off",
      maxlength: String(MAX_MESSAGE_CHARS),
    });
    this.inputLabel = el("label", { for: "vc-input", className: "vc-sr-only" });
    this.sendButton = el("button", { type: "submit", className: "vc-send" });
    this.form = el("form", { className: "vc-form" }, [this.inputLabel, this.input, this.sendButton]);
    this.closeButton = el("button", { type: "button", className: "vc-icon-button" }, [
      el("span", { "aria-hidden": "true", text: "\u00D7" }),
    ]);
    this.restartButton = el("button", { type: "button", className: "vc-text-button" });
    // The language it switches to, named in that language (and marked so: read right).
    this.languageButton = el("button", { type: "button", className: "vc-text-button vc-language" });
    this.title = el("h2", { id: "vc-title", className: "vc-title" });
    this.subtitle = el("p", { className: "vc-subtitle" });
    this.panel = el("section", {
      id: "vc-panel", className: "vc-panel", "aria-labelledby": "vc-title", hidden: "",
    }, [
      el("header", { className: "vc-header" }, [
        el("div", { className: "vc-heading" }, [
          this.title,
          this.subtitle,
        ]),
        this.languageButton,
        this.restartButton,
        this.closeButton,
      ]),
      this.log, this.typing, this.alert, this.form,
    ]);
    this.root = el("aside", { className: "vc-root" }, [this.panel, this.launcher]);
    this.showLanguage();
    parent.appendChild(this.root);
    this.bindEvents();
    this.renderTranscript();
    if (this.state.open) this.open(false);
  };

  /** Every word of the widget's own in its current language, and its lang attribute. */
  ChatWidget.prototype.showLanguage = function () {
    var lang = this.state.language;
    var other = otherLanguage(lang);
    this.root.setAttribute("lang", lang);
    this.root.setAttribute("aria-label", this.t("region"));
    this.launcherLabel.textContent = this.t("launcher");
    this.log.setAttribute("aria-label", this.t("log"));
    this.typingLabel.textContent = this.t("typing");
    this.input.setAttribute("placeholder", this.t("placeholder"));
    this.inputLabel.textContent = this.t("inputLabel");
    this.sendButton.textContent = this.t("send");
    this.closeButton.setAttribute("aria-label", this.t("close"));
    this.restartButton.textContent = this.t("newChat");
    this.title.textContent = this.config.clinicName || this.t("ourClinic");
    this.subtitle.textContent = this.t("subtitle");
    this.languageButton.textContent = this.t("toggle");
    this.languageButton.setAttribute("lang", other);
    var groups = this.log.querySelectorAll(".vc-quick-replies");
    for (var i = 0; i < groups.length; i++) groups[i].setAttribute("aria-label", this.t("suggestions"));
    var labels = this.log.querySelectorAll(".vc-speaker");
    for (var j = 0; j < labels.length; j++) {
      labels[j].textContent = this.t(labels[j].dataset.role === "bot" ? "assistant" : "you");
    }
    if (!this.alert.hidden) this.showUnreachable(this.alert.dataset.lead, true);
  };

  /** The widget's words follow the conversation's language; `tellAssistant` (the toggle)
   * also asks the assistant to switch, which it confirms in the new language. */
  ChatWidget.prototype.setLanguage = function (lang, tellAssistant) {
    if (LANGUAGES.indexOf(lang) < 0) return;
    if (lang !== this.state.language) {
      this.state.language = lang;
      saveState(this.state);
      this.showLanguage();
    }
    // Before the conversation's first message the greeting will carry the language itself.
    if (tellAssistant && (this.ready || this.state.entries.length)) this.sendQuietly(withLanguage("set_language", lang));
  };

  ChatWidget.prototype.bindEvents = function () {
    var self = this;
    this.launcher.addEventListener("click", function () {
      if (self.panel.hidden) self.open(true); else self.close();
    });
    this.closeButton.addEventListener("click", function () { self.close(); });
    this.restartButton.addEventListener("click", function () { self.restart(); });
    this.languageButton.addEventListener("click", function () {
      self.setLanguage(otherLanguage(self.state.language), true);
    });
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
    this.state = newState(this.state.language, true);
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
      // A new conversation opens in the widget's language (the page's, or the one chosen).
      if (!self.state.entries.length && !self.queue.length) self.queue.push(withLanguage("greet", self.state.language));
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

  /** Send a payload without showing it as the patient's words (the language toggle). */
  ChatWidget.prototype.sendQuietly = function (payload) {
    this.clearQuickReplies();
    this.queue.push(payload);
    if (this.ready) this.flush();
    else if (this.lost) this.showUnreachable();
    else this.connect();
  };

  ChatWidget.prototype.waitForReply = function () {
    var self = this;
    this.setTyping(true);
    window.clearTimeout(this.replyTimer);
    this.replyTimer = window.setTimeout(function () {
      self.setTyping(false);
      self.showUnreachable("notAnswering");
    }, REPLY_TIMEOUT_MS);
  };

  ChatWidget.prototype.receive = function (message) {
    var entry = fromBotMessage(message);
    if (!entry) return;
    window.clearTimeout(this.replyTimer);
    this.setTyping(false);
    this.clearQuickReplies();
    if (entry.lang) this.setLanguage(entry.lang, false);
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
    // A bot message is read in its own language (older stored ones: the widget's).
    if (isBot) bubble.setAttribute("lang", entry.lang || this.state.language);
    var speaker = entry.author ? entry.author + ": " : this.t(isBot ? "assistant" : "you");
    var row = el("div", { className: "vc-msg " + (isBot ? "vc-msg-bot" : "vc-msg-user") }, [
      el("span", { className: entry.author ? "vc-author" : "vc-sr-only vc-speaker", "data-role": entry.role, text: speaker }),
      bubble,
    ]);
    if (!entry.text) bubble.hidden = true;
    if (isBot && withButtons && entry.buttons && entry.buttons.length) {
      var replies = this.renderQuickReplies(entry.buttons);
      replies.setAttribute("lang", entry.lang || this.state.language);
      row.appendChild(replies);
    }
    return row;
  };

  ChatWidget.prototype.renderQuickReplies = function (buttons) {
    var self = this;
    var group = el("div", { className: "vc-quick-replies", role: "group", "aria-label": this.t("suggestions") });
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

  /** A plain message with the clinic's phone as a tap-to-call link; `lead`: a STRINGS key. */
  ChatWidget.prototype.showUnreachable = function (lead, again) {
    var phone = this.config.clinicPhone;
    lead = lead || "unreachable";
    // Each retry must not make screen readers announce the same alert again.
    if (!again && !this.alert.hidden && this.alert.dataset.lead === lead) return;
    this.alert.dataset.lead = lead;
    this.alert.textContent = "";
    this.alert.appendChild(document.createTextNode(this.t(lead) + " "));
    if (phone) {
      this.alert.appendChild(document.createTextNode(this.t("callAt")));
      this.alert.appendChild(makeLink(phone, "tel:" + phone.replace(/[^\d+]/g, "")));
      this.alert.appendChild(document.createTextNode("."));
    } else {
      this.alert.appendChild(document.createTextNode(this.t("call")));
    }
    this.alert.hidden = false;
  };

  ChatWidget.prototype.hideAlert = function () {
    this.alert.hidden = true;
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
