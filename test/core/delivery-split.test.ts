/** Long replies split into parts within Telegram's 4096 visible characters, never inside a code block. */
import { strict as assert } from 'node:assert';
import {
  renderAndSplit,
  renderWhole,
  measureTelegramHtml,
  telegramVisibleText,
  TELEGRAM_HTML,
  TELEGRAM_MAX_LENGTH,
  type PlatformFormat,
  type RenderedPart,
} from '../../nodes/core/delivery';

/** Every tag is one Telegram accepts, tags nest and close, and text carries no raw `<`, `>` or `&`. */
function assertTelegramHtml(text: string): void {
  const allowed = new Set(['b', 'i', 'u', 's', 'code', 'pre', 'a', 'blockquote']);
  const stack: string[] = [];
  const tag = /<(\/?)([a-z]+)((?:\s+[a-z-]+="[^"<>]*")*)>/y;
  let i = 0;
  while (i < text.length) {
    if (text[i] === '<') {
      tag.lastIndex = i;
      const m = tag.exec(text);
      assert.ok(m, `malformed tag at ${i}: ${text.slice(i, i + 30)}`);
      const [whole, close, name, attrs] = m;
      assert.ok(allowed.has(name), `tag <${name}> is not allowed`);
      if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong tag`);
      else {
        if (name === 'a') assert.match(attrs, /^ href="(https?|tg|mailto):[^"]*"$/);
        else if (name === 'code' && attrs) {
          assert.equal(stack[stack.length - 1], 'pre', 'a language is only given on pre > code');
          assert.match(attrs, /^ class="language-[\w+#.-]+"$/);
        } else assert.equal(attrs, '', `<${name}> takes no attributes`);
        stack.push(name);
      }
      i += whole.length;
    } else if (text[i] === '&') {
      assert.match(text.slice(i, i + 6), /^&(lt|gt|amp|quot);/, `bare & at ${i}`);
      i++;
    } else {
      assert.notEqual(text[i], '>', `bare > at ${i}`);
      i++;
    }
  }
  assert.deepEqual(stack, [], 'every tag is closed');
}

/** Entities as Telegram counts them: one per element, `<pre><code class>` being one pre. */
function entitiesOf(html: string): { count: number; markup: number } {
  let count = 0;
  let markup = 0;
  for (const match of html.matchAll(/<(\/?)([a-z]+)[^>]*>/g)) {
    markup += match[0].length;
    if (!match[1] && !(match[2] === 'code' && html.slice(0, match.index).endsWith('<pre>'))) count++;
  }
  return { count, markup };
}

const graphemeBoundaries = (text: string): Set<number> =>
  new Set([...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)].map((s) => s.index).concat(text.length));

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const squash = (s: string): string => s.replace(/\s+/g, '');

function assertParts(parts: RenderedPart[], markdown: string, max = TELEGRAM_MAX_LENGTH): void {
  for (const [i, part] of parts.entries()) {
    assert.ok(measureTelegramHtml(part.text) <= max, `part ${i} is ${measureTelegramHtml(part.text)} > ${max}`);
    assert.equal(telegramVisibleText(part.text), part.plain, `part ${i}: plain is its visible text`);
    assert.doesNotMatch(part.plain, LONE_SURROGATE, `part ${i} cuts a surrogate pair`);
    assert.ok(part.plain.trim(), `part ${i} is not blank`);
    assertTelegramHtml(part.text);
  }
  const whole = renderWhole(markdown, TELEGRAM_HTML);
  assert.equal(squash(parts.map((p) => p.plain).join('')), squash(whole.plain), 'nothing lost, nothing repeated, order kept');
}

/** A deterministic ~20 kB agent reply: headings, prose with links, lists, quotes, code, a table. */
function longReply(): { markdown: string; codeBlocks: string[] } {
  const words = 'the quick brown fox jumps over a lazy dog while agents stream replies to chats'.split(' ');
  let seed = 7;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const sentence = (): string => Array.from({ length: 8 + rnd(10) }, () => words[rnd(words.length)]).join(' ') + '.';
  const codeBlocks: string[] = [];
  const sections: string[] = [];
  for (let s = 0; sections.join('\n\n').length < 20000; s++) {
    sections.push(`## Section ${s} & <more>`);
    sections.push(Array.from({ length: 4 }, sentence).join(' ') + ` See [docs ${s}](https://example.com/s/${s}?a=1&b=2) 😀.`);
    sections.push(Array.from({ length: 5 }, (_, i) => `- item ${s}.${i} **${sentence()}**\n  - nested \`code ${i}\``).join('\n'));
    const code = Array.from({ length: 6 + rnd(20) }, (_, i) => `const v${s}_${i} = a < b && c > d; // ${sentence()}`).join('\n');
    codeBlocks.push(code);
    sections.push('```ts\n' + code + '\n```');
    sections.push(`> ${sentence()}\n> ${sentence()}`);
    if (s % 3 === 0) sections.push(`| key | value |\n|---|---:|\n| a${s} | 1 |\n| b${s} | 22 |`);
  }
  return { markdown: sections.join('\n\n'), codeBlocks };
}

describe('core/delivery split', () => {
  it('splits a 20 kB reply into valid parts within 4096 visible chars, never inside a code block', () => {
    const { markdown, codeBlocks } = longReply();
    assert.ok(markdown.length >= 20000);
    const parts = renderAndSplit(markdown, TELEGRAM_HTML);
    assert.ok(parts.length >= 5, `${parts.length} parts`);
    assertParts(parts, markdown);
    // Each code block is whole inside exactly one part, opened and closed there.
    for (const code of codeBlocks) {
      const holders = parts.filter((p) => p.plain.includes(code));
      assert.equal(holders.length, 1, `code block starting "${code.slice(0, 30)}" is whole in one part`);
    }
    const pres = parts.reduce((n, p) => n + (p.text.match(/<pre>/g)?.length ?? 0), 0);
    assert.equal(pres, codeBlocks.length + Math.ceil(codeBlocks.length / 3), 'one pre per code block and table, none cut in two');
    // Greedy: no part could have taken the next part's first block.
    for (let i = 0; i + 1 < parts.length; i++) {
      const nextFirstBlock = parts[i + 1].plain.split('\n\n')[0];
      assert.ok(parts[i].plain.length + 2 + nextFirstBlock.length > TELEGRAM_MAX_LENGTH, `part ${i} could have been fuller`);
    }
  });

  it('splits at paragraph boundaries first and fills the first part', () => {
    const para = (c: string): string => (c.repeat(9) + ' ').repeat(100).trim(); // 999 chars
    const md = 'abcdefghij'.split('').map(para).join('\n\n');
    const parts = renderAndSplit(md, TELEGRAM_HTML);
    assert.deepEqual(parts.map((p) => p.plain.split('\n\n').length), [4, 4, 2]);
    assert.equal(parts.map((p) => p.plain).join('\n\n'), renderWhole(md, TELEGRAM_HTML).plain);
  });

  it('moves a code block that fits a message of its own whole to the next part', () => {
    const prose = 'word '.repeat(700).trim(); // 3499
    const code = Array.from({ length: 50 }, (_, i) => `line ${i} ${'x'.repeat(30)}`).join('\n'); // ~2000
    const parts = renderAndSplit(`${prose}\n\n\`\`\`sh\n${code}\n\`\`\``, TELEGRAM_HTML);
    assert.equal(parts.length, 2);
    assert.equal(parts[0].plain, prose);
    assert.equal(parts[1].text, `<pre><code class="language-sh">${code}</code></pre>`);
  });

  it('splits a code block longer than the limit into complete pre blocks at line boundaries', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `  if (x${i} < ${i}) { y(${i}); } // 😀 ${'-'.repeat(i % 30)}`);
    const md = '```js\n' + lines.join('\n') + '\n```';
    const parts = renderAndSplit(md, TELEGRAM_HTML);
    assert.ok(parts.length >= 4, `${parts.length} parts`);
    assertParts(parts, md);
    for (const part of parts) {
      assert.match(part.text, /^<pre><code class="language-js">[^<]*<\/code><\/pre>$/, 'each part is one complete pre block');
      assert.ok(measureTelegramHtml(part.text) > TELEGRAM_MAX_LENGTH / 2, 'parts are filled');
    }
    assert.deepEqual(parts.flatMap((p) => p.plain.split('\n')), lines, 'every line whole, in order, indentation kept');
  });

  it('a long paragraph is cut at line breaks, then at spaces, never inside a word', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'word '.repeat(6)}`.trim());
    const byLine = renderAndSplit(lines.join('\n'), TELEGRAM_HTML);
    assert.ok(byLine.length > 1);
    assert.deepEqual(byLine.flatMap((p) => p.plain.split('\n')), lines);

    const words = Array.from({ length: 2000 }, (_, i) => `w${i}`);
    const byWord = renderAndSplit(`**${words.join(' ')}**`, TELEGRAM_HTML);
    assert.ok(byWord.length > 1);
    assertParts(byWord, words.join(' '));
    assert.deepEqual(byWord.flatMap((p) => p.plain.split(' ')), words);
    for (const part of byWord) assert.match(part.text, /^<b>[^<]*<\/b>$/, 'bold is closed and reopened around the cut');
  });

  it('cuts long lists between items and long quotes into complete blockquotes', () => {
    const items = Array.from({ length: 300 }, (_, i) => `item number ${i} with [a link](https://x.io/${i})`);
    const list = renderAndSplit(items.map((t) => `- ${t}`).join('\n'), TELEGRAM_HTML);
    assert.ok(list.length > 1);
    for (const part of list) for (const line of part.plain.split('\n')) assert.match(line, /^• item number \d+ with a link$/);

    const quote = Array.from({ length: 120 }, (_, i) => `> quoted line ${i} ${'z'.repeat(50)}`).join('\n');
    const quoted = renderAndSplit(quote, TELEGRAM_HTML);
    assert.ok(quoted.length > 1);
    assertParts(quoted, quote);
    for (const part of quoted) assert.match(part.text, /^<blockquote>[^<]*<\/blockquote>$/);
  });

  it('counts emoji as two UTF-16 units and never cuts a surrogate pair or grapheme cluster', () => {
    const smiles = '😀'.repeat(5000);
    const parts = renderAndSplit(smiles, TELEGRAM_HTML);
    assert.deepEqual(parts.map((p) => p.plain.length), [4096, 4096, 1808]);
    assertParts(parts, smiles);

    const family = '👨‍👩‍👧'; // 8 units, one grapheme
    const odd = 'x' + family.repeat(1200);
    const clusters = renderAndSplit(odd, TELEGRAM_HTML);
    assert.ok(clusters.length > 1);
    for (const part of clusters) assert.match(part.plain, /^x?(👨‍👩‍👧)+$/u, 'only whole families in each part');
    assert.equal(clusters.map((p) => p.plain).join(''), odd);
  });

  it('cuts only at grapheme boundaries: a ZWJ family, a flag or a skin tone at a hard cut stays in one part', () => {
    // The old cut segmented a window ending at the cut, so a cluster running past it looked cut short.
    for (const cluster of ['👨‍👩‍👧‍👦', '🇯🇵', '👍🏽', '🏳️‍🌈', 'e\u0301\u0302']) {
      for (const maxLength of [50, 97, 1024]) {
        for (let lead = 0; lead < 12; lead++) {
          const text = 'x'.repeat(lead) + cluster.repeat(Math.ceil((maxLength * 2.5) / cluster.length));
          const parts = renderAndSplit(text, { ...TELEGRAM_HTML, maxLength });
          assert.ok(parts.length > 1);
          assert.equal(parts.map((p) => p.plain).join(''), text);
          const boundaries = graphemeBoundaries(text);
          let at = 0;
          for (const part of parts) {
            assert.ok(part.plain.length <= maxLength);
            at += part.plain.length;
            assert.ok(boundaries.has(at), `${JSON.stringify(cluster)} cut inside a cluster at ${at} (lead ${lead}, max ${maxLength})`);
          }
        }
      }
    }
  });

  it('caps each part at 100 entities, counted as Telegram does: a reply with 200 links is two messages at least', () => {
    const links = Array.from({ length: 200 }, (_, i) => `[l${i}](https://x.io/${i})`).join(' ');
    const parts = renderAndSplit(links, TELEGRAM_HTML);
    assert.ok(parts.length >= 2, `${parts.length} part(s)`);
    for (const part of parts) assert.ok(entitiesOf(part.text).count <= 100, `${entitiesOf(part.text).count} entities`);
    assert.equal(parts.reduce((n, p) => n + entitiesOf(p.text).count, 0), 200, 'no link lost its formatting');
    assertParts(parts, links);
    // Nested entities count each: ***[x](url)*** is three.
    const nested = Array.from({ length: 60 }, (_, i) => `***[n${i}](https://x.io/${i})***`).join(' ');
    const nestedParts = renderAndSplit(nested, TELEGRAM_HTML);
    assert.ok(nestedParts.length >= 2);
    for (const part of nestedParts) assert.ok(entitiesOf(part.text).count <= 100);
  });

  it('caps the size of a part\'s entities (long link URLs), so Telegram never answers ENTITIES_TOO_LONG', () => {
    const url = (i: number): string => `https://example.com/${i}/${'p'.repeat(300)}`;
    const md = Array.from({ length: 40 }, (_, i) => `[doc ${i}](${url(i)})`).join(', ');
    const parts = renderAndSplit(md, TELEGRAM_HTML);
    assert.ok(parts.length >= 2, 'about 12 kB of link markup for 300 visible characters');
    for (const part of parts) assert.ok(entitiesOf(part.text).markup <= TELEGRAM_HTML.maxEntitySize!, `${entitiesOf(part.text).markup} chars of markup`);
    assertParts(parts, md);
  });

  it('takes entity limits from the format, so each platform sets its own', () => {
    const few: PlatformFormat = { ...TELEGRAM_HTML, maxEntities: 3, maxEntitySize: undefined };
    const md = Array.from({ length: 10 }, (_, i) => `**b${i}**`).join(' ');
    const parts = renderAndSplit(md, few);
    assert.deepEqual(parts.map((p) => p.plain), ['b0 b1 b2', 'b3 b4 b5', 'b6 b7 b8', 'b9']);
    const unlimited: PlatformFormat = { ...TELEGRAM_HTML, maxEntities: undefined, maxEntitySize: undefined };
    assert.equal(renderAndSplit(Array.from({ length: 200 }, (_, i) => `[l${i}](https://x.io/${i})`).join(' '), unlimited).length, 1);
  });

  it('measures the visible text, not the HTML: escaped characters do not count their entities', () => {
    const md = '<&>'.repeat(1300); // 3900 visible chars, about 12 kB of HTML
    const parts = renderAndSplit(md, TELEGRAM_HTML);
    assert.equal(parts.length, 1);
    assert.ok(parts[0].text.length > 10000);
  });

  it('honours another limit, e.g. a 1024-character caption, and a format that counts its markup', () => {
    const caption: PlatformFormat = { ...TELEGRAM_HTML, maxLength: 1024 };
    const md = 'Some **bold** prose. '.repeat(200);
    const parts = renderAndSplit(md, caption);
    assertParts(parts, md, 1024);
    const raw: PlatformFormat = { ...TELEGRAM_HTML, name: 'raw-html', measure: (s) => s.length };
    for (const part of renderAndSplit(md, raw)) assert.ok(part.text.length <= 4096);
  });
});
