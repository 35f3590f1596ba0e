/*
 * chatgate web chat page. Plain browser JavaScript, no dependencies.
 *
 * Safety: text from the server (replies) and from the user is only ever placed with textContent
 * or createTextNode; the Markdown renderer builds DOM nodes itself and never touches innerHTML.
 * Links are made only for http: and https: URLs.
 */
(function () {
  'use strict';

  var ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
  var MAX_HISTORY = 200;
  var TYPING_MS = 8000;
  /** An upgrade nobody answers (a proxy, a flow being redeployed) can hang; give up and retry. */
  var CONNECT_TIMEOUT_MS = 4000;

  var root = document.documentElement;
  var base = root.getAttribute('data-base') || location.pathname.replace(/\/+$/, '');
  var strings = {};
  try {
    strings = JSON.parse(document.getElementById('chatgate-strings').textContent || '{}');
  } catch (e) {
    strings = {};
  }
  function t(key) {
    return strings[key] || key;
  }

  // --- storage (the page still works where localStorage is blocked) -------------------------
  var prefix = 'chatgate:' + base + ':';
  var memory = {};
  var store = {
    get: function (k) {
      try {
        var v = window.localStorage.getItem(prefix + k);
        return v === null ? memory[k] : v;
      } catch (e) {
        return memory[k];
      }
    },
    set: function (k, v) {
      memory[k] = v;
      try {
        window.localStorage.setItem(prefix + k, v);
      } catch (e) {
        /* memory only */
      }
    },
  };

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try {
        return c.randomUUID();
      } catch (e) {
        /* not a secure context: fall through */
      }
    }
    var b = new Uint8Array(16);
    c.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    });
    return h.slice(0, 4).join('') + '-' + h.slice(4, 6).join('') + '-' + h.slice(6, 8).join('') + '-' + h.slice(8, 10).join('') + '-' + h.slice(10).join('');
  }

  var userId = store.get('userId');
  if (!userId || !ID_PATTERN.test(userId)) {
    userId = uuid();
    store.set('userId', userId);
  }

  // --- Markdown, rendered as DOM nodes --------------------------------------------------------
  function el(tag, cls) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }
  function txt(s) {
    return document.createTextNode(s);
  }
  function safeUrl(raw) {
    var u;
    try {
      u = new URL(raw);
    } catch (e) {
      return null;
    }
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  }
  function link(href) {
    var a = el('a');
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  // code span | [text](url) | **bold** | __bold__ | *italic* | _italic_ (not inside words) | bare URL
  var INLINE = new RegExp(
    [
      '(`+)([\\s\\S]*?[^`])\\1(?!`)',
      '\\[([^\\]\\n]+)\\]\\(([^()\\s]+)\\)',
      '\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*',
      '__(?=\\S)([\\s\\S]*?\\S)__',
      '\\*(?=[^\\s*])([^*\\n]*?[^\\s*])\\*',
      '(^|[^A-Za-z0-9_])_(?=[^\\s_])([^_\\n]*?[^\\s_])_(?![A-Za-z0-9_])',
      '(https?:\\/\\/[^\\s<>"\']*[^\\s<>"\'.,;:!?)\\]])',
    ].join('|'),
    'g',
  );

  function inline(text, parent, inLink) {
    var re = new RegExp(INLINE.source, 'g');
    var last = 0;
    var m;
    while ((m = re.exec(text))) {
      var start = m.index + (m[8] !== undefined ? m[8].length : 0);
      if (start > last) parent.appendChild(txt(text.slice(last, start)));
      var node;
      if (m[2] !== undefined) {
        node = el('code');
        node.textContent = m[2];
      } else if (m[3] !== undefined) {
        var href = inLink ? null : safeUrl(m[4]);
        if (href) {
          node = link(href);
          inline(m[3], node, true);
        } else {
          node = txt(m[0]);
        }
      } else if (m[5] !== undefined || m[6] !== undefined) {
        node = el('strong');
        inline(m[5] !== undefined ? m[5] : m[6], node, inLink);
      } else if (m[7] !== undefined || m[9] !== undefined) {
        node = el('em');
        inline(m[7] !== undefined ? m[7] : m[9], node, inLink);
      } else {
        var url = inLink ? null : safeUrl(m[10]);
        if (url) {
          node = link(url);
          node.textContent = m[10];
        } else {
          node = txt(m[10]);
        }
      }
      parent.appendChild(node);
      last = re.lastIndex;
    }
    if (last < text.length) parent.appendChild(txt(text.slice(last)));
  }

  function listItem(line) {
    var m = /^\s{0,3}([-*+])\s+(.*)$/.exec(line);
    if (m) return { ordered: false, text: m[2] };
    m = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/.exec(line);
    if (m) return { ordered: true, start: parseInt(m[1], 10), text: m[2] };
    return null;
  }

  function renderMarkdown(src, into) {
    var lines = String(src).replace(/\r\n?/g, '\n').split('\n');
    var para = [];
    var i = 0;
    function flush() {
      if (!para.length) return;
      var p = el('p');
      for (var k = 0; k < para.length; k++) {
        if (k) p.appendChild(el('br'));
        inline(para[k], p, false);
      }
      into.appendChild(p);
      para = [];
    }
    while (i < lines.length) {
      var line = lines[i];
      var fence = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/.exec(line);
      if (fence) {
        flush();
        var marker = fence[1];
        var body = [];
        i++;
        while (i < lines.length && lines[i].trim().indexOf(marker) !== 0) body.push(lines[i++]);
        i++; // the closing fence (or the end of a reply still streaming)
        var pre = el('pre');
        var code = el('code');
        if (fence[2]) code.className = 'language-' + fence[2];
        code.textContent = body.join('\n');
        pre.appendChild(code);
        into.appendChild(pre);
        continue;
      }
      if (!line.trim()) {
        flush();
        i++;
        continue;
      }
      var first = listItem(line);
      if (first) {
        flush();
        var list = el(first.ordered ? 'ol' : 'ul');
        if (first.ordered && first.start !== 1) list.setAttribute('start', String(first.start));
        while (i < lines.length) {
          var item = listItem(lines[i]);
          if (item && item.ordered === first.ordered) {
            var li = el('li');
            inline(item.text, li, false);
            list.appendChild(li);
            i++;
          } else if (!item && list.lastChild && /^\s{2,}\S/.test(lines[i])) {
            list.lastChild.appendChild(el('br'));
            inline(lines[i].trim(), list.lastChild, false);
            i++;
          } else {
            break;
          }
        }
        into.appendChild(list);
        continue;
      }
      var heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
      if (heading) {
        flush();
        var hp = el('p');
        var strong = el('strong');
        inline(heading[1], strong, false);
        hp.appendChild(strong);
        into.appendChild(hp);
        i++;
        continue;
      }
      para.push(line);
      i++;
    }
    flush();
  }

  // --- the conversation -------------------------------------------------------------------------
  var log = document.getElementById('log');
  var empty = document.getElementById('empty');
  var typing = document.getElementById('typing');
  var input = document.getElementById('input');
  var form = document.getElementById('composer');
  var stateBox = document.getElementById('state');
  var stateText = document.getElementById('state-text');
  var titleEl = document.getElementById('title');

  input.placeholder = t('placeholder');
  input.setAttribute('aria-label', t('placeholder'));
  document.getElementById('send').textContent = t('send');
  document.getElementById('typing-text').textContent = t('typing');
  empty.textContent = t('empty');
  log.setAttribute('aria-label', t('conversation'));

  /** entries: { kind: 'me'|'bot', id, text, state?: 'pending'|'failed', error?, streaming? } */
  var entries = [];
  var bubbles = {};
  try {
    var saved = JSON.parse(store.get('history') || '[]');
    if (Array.isArray(saved)) entries = saved.filter(function (e) {
      return e && (e.kind === 'me' || e.kind === 'bot') && typeof e.id === 'string' && typeof e.text === 'string';
    });
  } catch (e) {
    entries = [];
  }

  function save() {
    if (entries.length > MAX_HISTORY) {
      var drop = entries.splice(0, entries.length - MAX_HISTORY);
      drop.forEach(function (d) {
        var b = bubbles[d.kind + ':' + d.id];
        if (b) b.remove();
        delete bubbles[d.kind + ':' + d.id];
      });
    }
    store.set('history', JSON.stringify(entries));
  }

  function find(kind, id) {
    for (var i = entries.length - 1; i >= 0; i--) if (entries[i].kind === kind && entries[i].id === id) return entries[i];
    return null;
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function render(entry) {
    var key = entry.kind + ':' + entry.id;
    var b = bubbles[key];
    var stick = !b || nearBottom();
    if (!b) {
      b = el('div', 'msg ' + entry.kind);
      b.setAttribute('data-id', entry.id);
      bubbles[key] = b;
      log.appendChild(b);
    }
    b.textContent = '';
    if (entry.kind === 'me') {
      b.appendChild(txt(entry.text));
      b.classList.toggle('pending', entry.state === 'pending');
      b.classList.toggle('failed', entry.state === 'failed');
      if (entry.state) {
        var note = el('span', 'note');
        note.textContent = entry.state === 'failed' ? t('notSent') + (entry.error ? ': ' + entry.error : '') : t('sending');
        b.appendChild(note);
      }
    } else {
      renderMarkdown(entry.text, b);
      b.classList.toggle('streaming', !!entry.streaming);
    }
    empty.hidden = entries.length > 0;
    if (stick) log.scrollTop = log.scrollHeight;
  }

  entries.forEach(function (e) {
    e.streaming = false;
    render(e);
  });
  empty.hidden = entries.length > 0;

  var typingTimer = null;
  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) typingTimer = setTimeout(function () {
      typing.hidden = true;
    }, TYPING_MS);
  }

  // --- the connection -------------------------------------------------------------------------
  var ws = null;
  var attempts = 0;
  var retryTimer = null;

  function setState(state) {
    stateBox.setAttribute('data-state', state);
    stateText.textContent = t(state);
  }

  function sendFrame(entry) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: 'message', id: entry.id, userId: userId, text: entry.text }));
  }

  function onFrame(frame) {
    if (!frame || typeof frame.type !== 'string') return;
    if (frame.type === 'hello' && typeof frame.title === 'string') {
      document.title = frame.title;
      titleEl.textContent = frame.title;
    } else if (frame.type === 'ack') {
      var mine = find('me', frame.id);
      if (mine && mine.state) {
        delete mine.state;
        delete mine.error;
        render(mine);
        save();
      }
    } else if (frame.type === 'typing') {
      showTyping(true);
    } else if (frame.type === 'reply' && typeof frame.text === 'string') {
      var id = typeof frame.streamId === 'string' ? frame.streamId : String(frame.id);
      var entry = find('bot', id);
      // Each streamed part carries the text so far; a late part never overwrites a finished reply.
      if (entry && entry.streaming === false && frame.streamId !== undefined && frame.done !== true) return;
      if (!entry) {
        entry = { kind: 'bot', id: id, text: '' };
        entries.push(entry);
      }
      entry.text = frame.text;
      entry.streaming = frame.streamId !== undefined && frame.done !== true;
      render(entry);
      if (!entry.streaming) showTyping(false);
      save();
    } else if (frame.type === 'error') {
      var failed = typeof frame.id === 'string' ? find('me', frame.id) : null;
      if (failed) {
        failed.state = 'failed';
        failed.error = String(frame.error || '');
        render(failed);
        save();
      } else if (window.console) {
        console.warn('chatgate:', frame.error);
      }
    }
  }

  function connect() {
    clearTimeout(retryTimer);
    setState(attempts === 0 ? 'connecting' : 'reconnecting');
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + base + '/ws?userId=' + encodeURIComponent(userId);
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      return retry();
    }
    ws = socket;
    var giveUp = setTimeout(function () {
      if (socket.readyState === WebSocket.CONNECTING) socket.close();
    }, CONNECT_TIMEOUT_MS);
    socket.onopen = function () {
      clearTimeout(giveUp);
      attempts = 0;
      setState('connected');
      entries.forEach(function (e) {
        if (e.kind === 'me' && e.state === 'pending') sendFrame(e);
      });
    };
    socket.onmessage = function (ev) {
      var frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      onFrame(frame);
    };
    socket.onclose = function () {
      clearTimeout(giveUp);
      if (ws !== socket) return;
      ws = null;
      showTyping(false);
      retry();
    };
  }

  function retry() {
    attempts++;
    setState(navigator.onLine === false ? 'offline' : 'reconnecting');
    var delay = Math.min(15000, 500 * Math.pow(2, attempts - 1));
    retryTimer = setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
  }

  window.addEventListener('online', function () {
    if (!ws) {
      attempts = 0;
      connect();
    }
  });
  window.addEventListener('offline', function () {
    if (!ws) setState('offline');
  });

  // --- the composer ---------------------------------------------------------------------------
  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    var entry = { kind: 'me', id: uuid(), text: text.slice(0, 8000), state: 'pending' };
    entries.push(entry);
    render(entry);
    save();
    sendFrame(entry);
    input.value = '';
    autosize();
    input.focus();
  });
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });
  input.addEventListener('input', autosize);

  connect();
  input.focus();
})();
