/**
 * Properties of render + split over generated Markdown (headings, styled prose with links, images,
 * badges and bare URLs, emoji sequences, CJK, nested lists, quotes, code blocks with long lines,
 * tables, very long words, Slack's own syntax: mentions, escaped and intraword markers), from tiny
 * replies to several times the limit, with each platform's limits (Telegram HTML, Slack mrkdwn,
 * plain text) and with small ones that force many cuts. For every part, whatever the input:
 * - it fits: length measured the platform's way, entity count and entity markup size;
 * - it is valid for the platform (Telegram HTML: only its tags, nested as it allows, closed,
 *   attributes quoted, `& < >` escaped, never a link in a link; Slack mrkdwn: no finding of the Slack
 *   emulator's checker — no unescaped `& < >`, no live special mention — and read
 *   back by the emulator's mrkdwnToText as the reader would see it), and its plain text is its
 *   visible text;
 * - nothing is lost, repeated or reordered: the whole reply's visible text (renderWhole) is the
 *   parts' visible texts in order with only whitespace between them (what a cut consumes) —
 *   exactly, not modulo collapsing;
 * - every part starts and ends on a grapheme boundary of the whole visible text;
 * - a part holding any piece of a code block holds it inside a <pre> (a ``` fence for Slack), as the
 *   whole reply does, and carries no formatting the whole reply does not have at that character;
 * - Slack: every visible character of the whole reply has exactly the formatting its Markdown asked
 *   for, as far as mrkdwn can write it (read with the strict rules of slack-reader.ts: markers at word
 *   boundaries, none inside code, nothing inside a link label).
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  renderAndSplit,
  renderWhole,
  renderBlocks,
  plainFormat,
  readSlackMrkdwn,
  slackUrl,
  TELEGRAM_HTML,
  SLACK_MRKDWN,
  type PlatformFormat,
  type RenderedPart,
  type Run,
} from '../../nodes/core/delivery';
import { checkMrkdwn, mrkdwnToText } from '../emulators/slack/mrkdwn';

const RUNS = 300;

// ---------------------------------------------------------------------------------------------
// Markdown arbitraries

const words = fc.constantFrom('the', 'quick', 'brown', 'fox', 'agent', 'reply', 'stream', 'chat', 'a', 'is', 'of', '&', '<b>', 'x>y', '1.5');
/** Text that means something to Slack: mentions, a literal marker that could pair, snake_case. */
const slackish = fc.constantFrom('<!channel>', '<@U123|x>', '@here', '&amp;', '\\*', '\\_', '~5', '2*3', 'snake_case', 'un**believ**able', '日本**語**');
const emoji = fc.constantFrom('😀', '👨‍👩‍👧‍👦', '👩‍💻', '🇯🇵', '🇺🇸🇬🇧', '👍🏽', '🏳️‍🌈', '❤️', '1️⃣', 'e\u0301', 'n\u0303a');
const cjk = fc.constantFrom('日本語', '中文字符', '한국어', 'ｶﾀｶﾅ', 'ＡＢＣ', 'ひらがな');
const bareUrl = fc.constantFrom(
  'https://example.com/_private_/x',
  'https://example.com/a_b_c?q=1&r=2',
  'www.example.org/__init__/y_',
  'first_last@example.com',
  'https://x.io/*star*/path',
);
const longWord = fc.oneof(
  fc.integer({ min: 20, max: 700 }).map((n) => 'w'.repeat(n)),
  fc.integer({ min: 10, max: 300 }).map((n) => '😀'.repeat(n)),
  fc.integer({ min: 5, max: 120 }).map((n) => '👨‍👩‍👧‍👦'.repeat(n)),
  fc.integer({ min: 5, max: 200 }).map((n) => '🇯🇵'.repeat(n)),
);
const atom = fc.oneof({ weight: 8, arbitrary: words }, emoji, cjk, bareUrl, slackish, { weight: 1, arbitrary: longWord });
const plainText = fc.array(atom, { minLength: 1, maxLength: 8 }).map((xs) => xs.join(' '));
const href = fc.oneof(
  fc.nat(999).map((n) => `https://example.com/docs/${n}?a=1&b="2"`),
  fc.constantFrom('https://x.io/a_b_', 'tg://user?id=1', 'mailto:a@b.c', 'javascript:alert(1)', '/relative/path'),
  fc.integer({ min: 50, max: 400 }).map((n) => `https://example.com/${'p'.repeat(n)}`),
);
const image = fc.constantFrom('https://img.shields.io/badge.svg', 'https://i.example/cat.png');

const { inline } = fc.letrec<{ inline: string }>((tie) => ({
  inline: fc.oneof(
    { maxDepth: 2, depthIdentifier: 'inline', depthSize: 'small' },
    { weight: 6, arbitrary: plainText },
    tie('inline').map((s) => `**${s}**`),
    tie('inline').map((s) => `*${s}*`),
    tie('inline').map((s) => `~~${s}~~`),
    plainText.map((s) => `\`${s.replace(/`/g, '')}\``),
    fc.tuple(tie('inline'), href).map(([label, url]) => `[${label}](${url})`),
    fc.tuple(plainText, image).map(([alt, src]) => `![${alt}](${src})`),
    fc.tuple(plainText, image, href).map(([alt, src, url]) => `[![${alt}](${src})](${url})`),
    fc.tuple(tie('inline'), tie('inline')).map(([a, b]) => `${a}  \n${b}`),
    fc.tuple(tie('inline'), tie('inline')).map(([a, b]) => `${a}\n${b}`),
  ),
}));
const sentence = fc.array(inline, { minLength: 1, maxLength: 4 }).map((xs) => xs.join(' ').replace(/^\s+/, ''));

const codeLine = fc.oneof(
  fc.array(atom, { maxLength: 10 }).map((xs) => xs.join(' ')),
  fc.tuple(fc.nat(12), plainText).map(([indent, s]) => ' '.repeat(indent) + s),
  fc.integer({ min: 100, max: 900 }).map((n) => `const x = "${'y'.repeat(n)}"; // a < b && c > d`),
  fc.constant(''),
);
const codeBlock = fc
  .tuple(fc.constantFrom('', 'ts', 'python', 'sh'), fc.array(codeLine, { minLength: 1, maxLength: 30 }))
  .map(([lang, lines]) => '```' + lang + '\n' + lines.join('\n').replace(/```/g, "'''") + '\n```');

const cell = fc.oneof(words, cjk, emoji, fc.constant('')).map((s) => s.replace(/\|/g, ''));
const table = fc.integer({ min: 1, max: 4 }).chain((columns) =>
  fc
    .tuple(fc.array(cell, { minLength: columns, maxLength: columns }), fc.array(fc.array(cell, { minLength: columns, maxLength: columns }), { maxLength: 8 }))
    .map(([head, rows]) => [head, head.map(() => '---'), ...rows].map((r) => `| ${r.map((c) => c || '-').join(' | ')} |`).join('\n')),
);

const listItems = (depth: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.boolean(), fc.array(fc.tuple(sentence, depth > 0 ? fc.option(listItems(depth - 1), { freq: 3 }) : fc.constant(null)), { minLength: 1, maxLength: 6 }))
    .map(([ordered, items]) =>
      items
        .map(([text, sub], i) => {
          const marker = ordered ? `${i + 1}. ` : '- ';
          const nested = sub ? '\n' + sub.split('\n').map((line) => ' '.repeat(marker.length) + line).join('\n') : '';
          return marker + text.replace(/\n/g, ' ') + nested;
        })
        .join('\n'),
    );

const quote = fc.array(sentence, { minLength: 1, maxLength: 4 }).map((paras) => paras.map((p) => p.split('\n').map((l) => `> ${l}`).join('\n')).join('\n>\n'));

const block = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 6 }), sentence).map(([level, text]) => `${'#'.repeat(level)} ${text.replace(/\n/g, ' ')}`),
  { weight: 5, arbitrary: sentence },
  listItems(2),
  quote,
  { weight: 2, arbitrary: codeBlock },
  table,
  fc.constant('---'),
);

/** From a few characters to several times Telegram's limit (a document repeated). */
const markdown = fc
  .tuple(fc.array(block, { maxLength: 8 }), fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 4 })))
  .map(([blocks, times]) => Array.from({ length: times }, () => blocks.join('\n\n')).join('\n\n'));

// ---------------------------------------------------------------------------------------------
// What a Telegram HTML message is allowed to be

interface Parsed {
  visible: string;
  /** Per UTF-16 unit of `visible`: the tags open around it, as `name` or `a href`. */
  stacks: ReadonlyArray<readonly string[]>;
  entities: number;
  markup: number;
}

const ALLOWED = new Set(['b', 'i', 'u', 's', 'code', 'pre', 'a', 'blockquote']);
const DECODE: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"' };

/** Validates Telegram HTML as its Bot API parses it, and reads the formatting at every character. */
function parseTelegramHtml(html: string): Parsed {
  const stack: string[] = [];
  const names: string[] = [];
  let current: readonly string[] = [];
  const stacks: Array<readonly string[]> = [];
  let visible = '';
  let entities = 0;
  let markup = 0;
  const tag = /<(\/?)([a-z]+)((?: [a-z]+="[^"<>]*")*)>/y;
  for (let i = 0; i < html.length; ) {
    const ch = html[i];
    if (ch === '<') {
      tag.lastIndex = i;
      const m = tag.exec(html);
      assert.ok(m, `malformed tag at ${i}: ${html.slice(i, i + 40)}`);
      const [whole, close, name, attrs] = m;
      assert.ok(ALLOWED.has(name), `<${name}> is not a Telegram tag`);
      markup += whole.length;
      if (close) {
        assert.equal(names.pop(), name, `</${name}> closes the wrong tag`);
        stack.pop();
      } else {
        const parent = names[names.length - 1];
        assert.ok(parent !== 'code' && (parent !== 'pre' || (name === 'code' && attrs)), `<${name}> inside <${parent}>: code and pre hold nothing`);
        if (name === 'a') {
          assert.ok(!names.includes('a'), 'a link inside a link');
          assert.match(attrs, /^ href="(https?:|tg:|mailto:)[^"]*"$/, `unsafe or malformed link ${attrs}`);
          assert.doesNotMatch(attrs.replace(/&(amp|lt|gt|quot);/g, ''), /&/, 'a bare & in an attribute');
        } else if (name === 'code' && attrs) {
          assert.equal(parent, 'pre', 'a language only on pre > code');
          assert.match(attrs, /^ class="language-[\w+#.-]+"$/);
        } else assert.equal(attrs, '', `<${name}> takes no attributes`);
        if (name === 'blockquote') assert.ok(!names.includes('blockquote'), 'blockquotes do not nest');
        if (name === 'code' || name === 'pre') assert.ok(!names.some((n) => n !== 'blockquote' && !(n === 'pre' && name === 'code')), `<${name}> inside formatting`);
        if (!(name === 'code' && parent === 'pre')) entities++;
        names.push(name);
        stack.push(name === 'a' ? `a ${attrs}` : name === 'code' && parent === 'pre' ? 'pre' : name);
      }
      current = [...stack];
      i += whole.length;
      continue;
    }
    let text = ch;
    if (ch === '&') {
      const entity = /^&(lt|gt|amp|quot);/.exec(html.slice(i, i + 6));
      assert.ok(entity, `bare & at ${i}`);
      text = DECODE[entity[0]];
      i += entity[0].length;
    } else {
      assert.notEqual(ch, '>', `bare > at ${i}`);
      i++;
    }
    visible += text;
    stacks.push(current);
  }
  assert.deepEqual(names, [], 'every tag is closed');
  return { visible, stacks, entities, markup };
}

// ---------------------------------------------------------------------------------------------
// The properties

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Intl.Segmenter's answer for one offset. Only the line around it is segmented (a line feed is
 * always a boundary on both sides, there being no CR): every segment object V8 makes carries a
 * copy of the text it came from, so segmenting a long reply per question would be quadratic.
 */
function graphemeBoundary(text: string, at: number): boolean {
  if (at <= 0 || at >= text.length || text[at - 1] === '\n' || text[at] === '\n') return true;
  const start = text.lastIndexOf('\n', at - 1) + 1;
  const end = text.indexOf('\n', at);
  const line = text.slice(start, end < 0 ? text.length : end);
  return segmenter.segment(line).containing(at - start)?.index === at - start;
}

/** Where each part sits in the whole visible text; asserts only whitespace lies between and around them. */
function locate(whole: string, parts: readonly string[]): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let at = 0;
  for (const [i, part] of parts.entries()) {
    const lead = part.length - part.trimStart().length;
    let next = at;
    while (next < whole.length && /\s/.test(whole[next])) next++;
    const start = next - lead;
    assert.ok(start >= at && whole.startsWith(part, start), `part ${i} is not where the whole reply continues (at ${at}): ${JSON.stringify(part.slice(0, 60))}`);
    assert.equal(whole.slice(at, start).trim(), '', `only whitespace before part ${i}`);
    spans.push([start, start + part.length]);
    at = start + part.length;
  }
  assert.equal(whole.slice(at).trim(), '', 'nothing left after the last part');
  return spans;
}

// ---------------------------------------------------------------------------------------------
// What a Slack mrkdwn text is allowed to be

/** Valid mrkdwn for the emulator, and its visible text and formatting per UTF-16 unit. */
function parseSlackMrkdwn(text: string): { visible: string; stacks: ReadonlyArray<readonly string[]> } {
  assert.deepEqual(checkMrkdwn(text), [], `mrkdwn problems in ${JSON.stringify(text.slice(0, 200))}`);
  const reading = readSlackMrkdwn(text);
  assert.equal(mrkdwnToText(reading.unformatted), reading.visible, "the emulator's mrkdwnToText reads the same text");
  return { visible: reading.visible, stacks: reading.styles };
}

/**
 * The formatting Markdown asked for at each visible character, as mrkdwn can write it: a code
 * block is code and nothing else (also out of a quote); inside a link (http(s) and mailto only)
 * nothing but what is around the link; code holding a backtick cannot be a code span.
 */
function askedStyles(runs: readonly Run[]): string[][] {
  const out: string[][] = [];
  for (const run of runs) {
    let styles: string[];
    if (run.marks.some((m) => m.kind === 'pre')) styles = ['pre'];
    else {
      const set = new Set<string>();
      if (run.marks.some((m) => m.kind === 'quote')) set.add('quote');
      let closed = false;
      let linkSeen = false;
      for (const mark of run.marks) {
        if (mark.kind === 'link') {
          if (closed || linkSeen) continue;
          linkSeen = true;
          if (/^(https?:\/\/|mailto:)\S/i.test(mark.href)) {
            set.add(`link ${slackUrl(mark.href).replace(/&amp;/g, '&')}`);
            closed = true;
          }
        } else if (mark.kind === 'code') {
          if (!closed && !run.text.includes('`')) set.add('code');
          closed = true;
        } else if ((mark.kind === 'bold' || mark.kind === 'italic' || mark.kind === 'strike') && !closed) set.add(mark.kind);
      }
      styles = [...set].sort();
    }
    for (let k = 0; k < run.text.length; k++) out.push(styles);
  }
  return out;
}

function checkSlackStyles(markdown: string, whole: RenderedPart): void {
  const runs: Run[] = [];
  renderBlocks(markdown).forEach((block, i) => {
    if (i) runs.push({ text: '\n\n', marks: [] });
    runs.push(...block);
  });
  const asked = askedStyles(runs);
  const { visible, stacks } = parseSlackMrkdwn(whole.text);
  assert.equal(asked.length, visible.length);
  for (let k = 0; k < visible.length; k++) {
    if (/\s/.test(visible[k])) continue;
    assert.deepEqual([...stacks[k]].sort(), asked[k], `char ${k} ${JSON.stringify(visible.slice(Math.max(0, k - 20), k + 20))} in ${JSON.stringify(whole.text.slice(0, 300))}`);
  }
}

// ---------------------------------------------------------------------------------------------

function checkParts(markdown: string, format: PlatformFormat, parts: RenderedPart[]): void {
  const telegram = format.serialize === TELEGRAM_HTML.serialize;
  const slack = format.serialize === SLACK_MRKDWN.serialize;
  const parse = telegram ? parseTelegramHtml : slack ? parseSlackMrkdwn : undefined;
  const whole = renderWhole(markdown, format);
  const wholeParsed = parse?.(whole.text);
  if (slack) checkSlackStyles(markdown, whole);
  for (const [i, part] of parts.entries()) {
    assert.ok(format.measure(part.text) <= format.maxLength, `part ${i}: ${format.measure(part.text)} > ${format.maxLength}`);
    assert.ok(part.plain.trim(), `part ${i} is blank`);
    if (!parse) {
      assert.equal(part.text, part.plain);
      continue;
    }
    const parsed = parse(part.text);
    assert.equal(parsed.visible, part.plain, `part ${i}: plain is its visible text`);
    if (slack) {
      assert.ok(Buffer.byteLength(part.text, 'utf8') <= format.maxLength, `part ${i}: ${Buffer.byteLength(part.text, 'utf8')} bytes > ${format.maxLength}`);
      assert.equal(part.text.split('```').length % 2, 1, `part ${i}: a fence it opens it closes`);
      assert.doesNotMatch(part.text.replace(/(?<=^|\n)```(?=\n|$)/g, ''), /```/, `part ${i}: three backticks only as a fence`);
      continue;
    }
    const { entities, markup } = parsed as Parsed;
    assert.ok(entities <= (format.maxEntities ?? Infinity), `part ${i}: ${entities} entities > ${format.maxEntities}`);
    assert.ok(markup <= (format.maxEntitySize ?? Infinity), `part ${i}: ${markup} chars of entities > ${format.maxEntitySize}`);
  }
  const spans = locate(whole.plain, parts.map((p) => p.plain));
  const isBoundary = (at: number): boolean => graphemeBoundary(whole.plain, at);
  spans.forEach(([start, end], i) => {
    assert.ok(isBoundary(start) && isBoundary(end), `part ${i} [${start}, ${end}) splits a grapheme cluster`);
    if (!wholeParsed || !parse) return;
    const stacks = parse(parts[i].text).stacks;
    for (let k = 0; k < end - start; k++) {
      const mine: readonly string[] = stacks[k];
      const theirs: readonly string[] = wholeParsed.stacks[start + k];
      assert.equal(mine.includes('pre'), theirs.includes('pre'), `part ${i}, char ${k}: inside a code block in one and not the other`);
      for (const tag of mine) assert.ok(theirs.includes(tag), `part ${i}, char ${k}: ${tag} that the whole reply does not have`);
    }
  });
}

describe('core/delivery properties (fast-check)', function () {
  this.timeout(120_000);

  it(`Telegram HTML at Telegram's limits: ${RUNS} generated replies`, () => {
    fc.assert(
      fc.property(markdown, (md) => checkParts(md, TELEGRAM_HTML, renderAndSplit(md, TELEGRAM_HTML))),
      { numRuns: RUNS },
    );
  });

  it(`Telegram HTML with small limits (length 50-500, 1-10 entities): ${RUNS} replies, many cuts each`, () => {
    const small = fc.record({
      maxLength: fc.integer({ min: 50, max: 500 }),
      maxEntities: fc.integer({ min: 1, max: 10 }),
      maxEntitySize: fc.integer({ min: 60, max: 2000 }),
    });
    fc.assert(
      fc.property(markdown, small, (md, limits) => {
        const format: PlatformFormat = { ...TELEGRAM_HTML, ...limits };
        checkParts(md, format, renderAndSplit(md, format));
      }),
      { numRuns: RUNS },
    );
  });

  it(`plain text with small limits (50-500): ${RUNS} replies`, () => {
    fc.assert(
      fc.property(markdown, fc.integer({ min: 50, max: 500 }), (md, maxLength) => {
        const format = plainFormat(maxLength);
        checkParts(md, format, renderAndSplit(md, format));
      }),
      { numRuns: RUNS },
    );
  });

  it(`Slack mrkdwn at Slack's limit (4,000 bytes): ${RUNS} generated replies`, () => {
    fc.assert(
      fc.property(markdown, (md) => checkParts(md, SLACK_MRKDWN, renderAndSplit(md, SLACK_MRKDWN))),
      { numRuns: RUNS },
    );
  });

  it(`Slack mrkdwn with small limits (600-1500 bytes, above the longest generated link): ${RUNS} replies, many cuts each`, () => {
    fc.assert(
      fc.property(markdown, fc.integer({ min: 600, max: 1500 }), (md, maxLength) => {
        const format: PlatformFormat = { ...SLACK_MRKDWN, maxLength };
        checkParts(md, format, renderAndSplit(md, format));
      }),
      { numRuns: RUNS },
    );
  });

  it(`the generic path (a measure that counts markup) keeps the same promises: ${RUNS / 3} replies`, () => {
    fc.assert(
      fc.property(markdown, fc.integer({ min: 200, max: 1000 }), (md, maxLength) => {
        const format: PlatformFormat = { ...TELEGRAM_HTML, maxLength, measure: (html) => html.length };
        const parts = renderAndSplit(md, format);
        for (const part of parts) assert.ok(part.text.length <= maxLength || part.plain.length <= 2, `${part.text.length} > ${maxLength}`);
        locate(renderWhole(md, format).plain, parts.map((p) => p.plain));
      }),
      { numRuns: RUNS / 3 },
    );
  });
});
