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
 * - Discord (read with discord-reader.ts, simple-markdown's rules at their strictest): at most 2,000
 *   characters, every ``` a fence of a code block, no mention, ping, list, heading, subtext, spoiler
 *   or underline the Markdown did not ask for, every code block's language kept in every part, and
 *   every visible character of prose formatted exactly as asked (a code span or a link may lose a
 *   formatting around it that its own text would end early, never gain one). The generated replies
 *   add Discord's own syntax: mentions, spoilers, escapes, underscores in and around words.
 * - WhatsApp (read with whatsapp-reader.ts, every way it can class the word joiner and non-ASCII
 *   punctuation, all readings alike): at most 4,096 characters, ``` only as fences on lines of
 *   their own, the visible text exactly the layout's with each link's address after its label,
 *   code blocks and quotes exactly as asked, and no emphasis or code the Markdown did not ask for;
 *   an asked one may be missing only where WhatsApp's word-boundary rule cannot apply it (a
 *   neighbour outside it that is not certainly a boundary, a literal marker character at its edge,
 *   code holding a backtick). The generated replies add literal marker characters, line-start
 *   syntax and intraword markup.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  renderAndSplit,
  renderWhole,
  renderBlocks,
  plainFormat,
  readSlackMrkdwn,
  readDiscordMarkdown,
  slackUrl,
  discordUrl,
  readWhatsApp,
  whatsappUrl,
  whatsappAddress,
  isWhatsAppLink,
  splitBlocks,
  toPart,
  TELEGRAM_HTML,
  SLACK_MRKDWN,
  DISCORD_MARKDOWN,
  WHATSAPP_TEXT,
  type WhatsAppReadOptions,
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
/** Text that means something to Discord: mentions, spoilers, escapes, markers in and around words, line-start syntax. */
const discordish = fc.constantFrom(
  '@everyone', '@Here', '<@123>', '<@&1234567890123>', '<#42>', '<:smile:123456789012345678>', '<t:1700000000:R>', '</ask:12>',
  '||spoiler||', '|', '~~', '__init__', 'snake_case_', '_x_', 'a_b_c', 'C:\\path\\', '\\`', '[1]', '](x)', '-#', '#', '>', '1.',
  '***', '2 * 3', 'x*', '¯\\\\_(ツ)\\_/¯', 'https\\://x.io', ':', '(', '<3',
);
const baseAtom = fc.oneof({ weight: 8, arbitrary: words }, emoji, cjk, bareUrl, slackish, { weight: 1, arbitrary: longWord });

/** Markdown documents whose text is made of `atom`s. */
function markdownOf(atom: fc.Arbitrary<string>): fc.Arbitrary<string> {
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
  return fc
    .tuple(fc.array(block, { maxLength: 8 }), fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 4 })))
    .map(([blocks, times]) => Array.from({ length: times }, () => blocks.join('\n\n')).join('\n\n'));
}

/** Text that means something to WhatsApp: literal markers, line-start syntax, markup inside words and next to punctuation. */
const whatsappish = fc.constantFrom(
  '\\*not bold\\*', '\\_x\\_', '\\~5', '~~', '\\`', '\\`\\`\\`', '\\- dash', '\\> gt', '\\* star', '• dot', '1\\. one',
  'snake_case_name', 'x\\_', '\\_y', '*', '2 * 3', 'a*b*c', 'un**believ**able', '**a**_b_', '“**q**”', '(**p**)', '`c`s',
  'https://x.io/~user/_a_', '¿**hola**?', '`a`**b**', '**x**\\_', '_*both*_', 'x~~y~~z',
);
const markdown = markdownOf(baseAtom);
const discordMarkdown = markdownOf(fc.oneof({ weight: 6, arbitrary: baseAtom }, discordish));
const whatsappMarkdown = markdownOf(fc.oneof({ weight: 6, arbitrary: baseAtom }, whatsappish));

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
// What a Discord message is allowed to be

/** Styles Discord must never show here: the Markdown has no way to ask for them. */
const NEVER = /^(mention|ping|list|heading|subtext|spoiler|underline)$/;

/**
 * Valid Discord Markdown for this renderer: within 2,000 characters, every ``` a fence of a code
 * block, nothing Discord would turn into a mention, ping, list, heading, subtext, spoiler or
 * underline; its visible text and formatting per UTF-16 unit (a code block's language as `lang x`).
 */
function parseDiscordMarkdown(text: string, whole = false): { visible: string; stacks: ReadonlyArray<readonly string[]> } {
  if (!whole) assert.ok(text.length <= DISCORD_MARKDOWN.maxLength, `${text.length} characters > ${DISCORD_MARKDOWN.maxLength}`);
  const reading = readDiscordMarkdown(text);
  assert.equal(text.split('```').length - 1, 2 * reading.codeBlocks.length, `every \`\`\` a fence of a code block in ${JSON.stringify(text.slice(0, 300))}`);
  const stacks: Array<readonly string[]> = [];
  let block = -1;
  let withLang: readonly string[] = [];
  // The reader shares one styles array among the characters it formats alike: judge each once.
  const judged = new Set<readonly string[]>();
  reading.styles.forEach((styles, k) => {
    if (!judged.has(styles)) {
      const bad = styles.find((s) => NEVER.test(s));
      assert.equal(bad, undefined, `${bad} at ${JSON.stringify(reading.visible.slice(Math.max(0, k - 20), k + 20))} in ${JSON.stringify(text.slice(0, 300))}`);
      judged.add(styles);
    }
    if (!styles.includes('pre')) {
      stacks.push(styles);
      return;
    }
    // Which code block this character is in: a new one starts after a character outside code.
    if (k === 0 || !reading.styles[k - 1].includes('pre')) {
      block++;
      withLang = styles.concat(`lang ${reading.codeBlocks[block]?.lang ?? '?'}`);
    }
    stacks.push(withLang);
  });
  return { visible: reading.visible, stacks };
}

/**
 * The formatting Markdown asked for at each visible character, as Discord can write it: a code
 * block is code with its language (`lang x` when Discord takes x for one), in a quote if quoted;
 * inside an http(s) link nothing but what is around the link; nothing inside code.
 */
function askedDiscordStyles(runs: readonly Run[]): Array<{ styles: string[]; inner: boolean }> {
  const out: Array<{ styles: string[]; inner: boolean }> = [];
  for (const run of runs) {
    const set = new Set<string>();
    const quoted = run.marks.some((m) => m.kind === 'quote');
    if (quoted) set.add('quote');
    const pre = run.marks.find((m) => m.kind === 'pre');
    let inner = false;
    if (pre && pre.kind === 'pre') {
      set.add('pre');
      set.add(`lang ${/^[a-z0-9_+\-.#]+$/i.test(pre.lang) ? pre.lang : ''}`);
    } else {
      let closed = false;
      let linkSeen = false;
      for (const mark of run.marks) {
        if (mark.kind === 'link') {
          if (closed || linkSeen) continue;
          linkSeen = true;
          if (/^https?:\/\/\S/i.test(mark.href)) {
            set.add(linkStyle(`link ${mark.href}`));
            closed = inner = true;
          }
        } else if (mark.kind === 'code') {
          if (!closed) set.add('code');
          closed = inner = true;
        } else if ((mark.kind === 'bold' || mark.kind === 'italic' || mark.kind === 'strike' || mark.kind === 'underline') && !closed) set.add(mark.kind);
      }
    }
    const styles = [...set].sort();
    for (let k = 0; k < run.text.length; k++) out.push({ styles, inner });
  }
  // Discord quotes whole lines: a line with quoted text is quoted from its start (a quote inside a
  // list item quotes the item's bullet too).
  let text = '';
  for (const run of runs) text += run.text;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (out.slice(start, end).some((c) => c.styles.includes('quote'))) {
      for (let k = start; k < end; k++) if (!out[k].styles.includes('quote')) out[k] = { styles: [...out[k].styles, 'quote'].sort(), inner: out[k].inner };
    }
    start = end + 1;
  }
  return out;
}

/**
 * Every visible character of the whole reply formatted as asked. Prose exactly; a code span's or a
 * link's character may lack an emphasis around it (the renderer leaves a span that its markup
 * would end early) and a link may be written as its label's text (a label Discord could not show
 * in a masked link), but neither gains anything, and code stays code.
 */
function checkDiscordStyles(markdown: string, whole: RenderedPart): Array<{ styles: string[]; inner: boolean }> {
  const runs: Run[] = [];
  renderBlocks(markdown).forEach((block, i) => {
    if (i) runs.push({ text: '\n\n', marks: [] });
    runs.push(...block);
  });
  const asked = askedDiscordStyles(runs);
  const { visible, stacks } = parseDiscordMarkdown(whole.text, true);
  assert.equal(asked.length, visible.length);
  const normal = new Map<readonly string[], string[]>();
  for (let k = 0; k < visible.length; k++) {
    if (/\s/.test(visible[k])) continue;
    let read = normal.get(stacks[k]);
    if (!read) normal.set(stacks[k], (read = [...stacks[k]].map((s) => (s.startsWith('link ') ? linkStyle(s) : s)).sort()));
    const where = (): string => `char ${k} ${JSON.stringify(visible.slice(Math.max(0, k - 20), k + 20))} in ${JSON.stringify(whole.text.slice(0, 300))}`;
    const { styles, inner } = asked[k];
    if (!inner) {
      if (read.join('\n') !== styles.join('\n')) assert.deepEqual(read, styles, where());
      continue;
    }
    for (const style of read) if (!styles.includes(style)) assert.fail(`${style} not asked: ${where()}`);
    for (const style of styles) if ((style === 'code' || style === 'quote') && !read.includes(style)) assert.fail(`${style} lost: ${where()}`);
  }
  return asked;
}

/**
 * A link style with its address as the renderer writes a masked link's, decoded: the same for the
 * address asked for and for the one Discord reads (`[label](<address>)`, or `<label>` when the
 * label is the address written out).
 */
function linkStyle(style: string): string {
  const address = discordUrl(style.slice('link '.length));
  try {
    return `link ${decodeURI(address)}`;
  } catch {
    return `link ${address}`;
  }
}

/** The runs of a block's first `end` visible characters. */
function pieceOf(block: readonly Run[], end: number): Run[] {
  const out: Run[] = [];
  let at = 0;
  for (const run of block) {
    if (at >= end) break;
    out.push(at + run.text.length <= end ? run : { text: run.text.slice(0, end - at), marks: run.marks });
    at += run.text.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What a WhatsApp body is allowed to be

/** Every way whatsapp-reader.ts can class the word joiner and non-ASCII characters: all must read alike. */
const WHATSAPP_READINGS: readonly WhatsAppReadOptions[] = [
  {},
  { joiner: 'space' },
  { boundaries: 'non-alphanumeric' },
  { joiner: 'space', boundaries: 'non-alphanumeric' },
];

const EMPHASIS_STYLES = ['bold', 'italic', 'strike'] as const;

/** The emphasis (and code, unless it holds a backtick) a run's marks ask for, from `from` to `to` of its marks. */
function whatsappMarks(run: Run, to = run.marks.length, code = true): string[] {
  const out = new Set<string>();
  for (const mark of run.marks.slice(0, to)) {
    if ((EMPHASIS_STYLES as readonly string[]).includes(mark.kind)) out.add(mark.kind);
    else if (mark.kind === 'code' && code && !run.text.includes('`')) out.add('code');
  }
  return [...out];
}

/**
 * What a phone should show for runs written for WhatsApp, and the formatting asked at each UTF-16
 * unit: the layout's text with each link's address after its label (or the address alone when the
 * label is the address), code blocks as 'pre' only, a line with any quoted text quoted whole.
 */
function expectedWhatsApp(runs: readonly Run[]): { text: string; asked: string[][] } {
  let text = '';
  const asked: string[][] = [];
  const put = (piece: string, styles: string[]): void => {
    text += piece;
    for (let k = 0; k < piece.length; k++) asked.push(styles);
  };
  const linkOf = (run: Run): Extract<Run['marks'][number], { kind: 'link' }> | undefined => {
    const link = run.marks.find((m) => m.kind === 'link');
    return link && link.kind === 'link' && isWhatsAppLink(link.href) ? link : undefined;
  };
  const lines: Run[][] = [[]];
  for (const run of runs) {
    run.text.split('\n').forEach((piece, i) => {
      if (i > 0) lines.push([]);
      if (piece) lines[lines.length - 1].push({ text: piece, marks: run.marks });
    });
  }
  lines.forEach((line, l) => {
    if (l > 0) put('\n', []);
    const start = asked.length;
    const quoted = line.some((r) => !r.marks.some((m) => m.kind === 'pre') && r.marks.some((m) => m.kind === 'quote'));
    for (let i = 0; i < line.length; ) {
      const run = line[i];
      if (run.marks.some((m) => m.kind === 'pre')) {
        put(run.text, ['pre']);
        i++;
        continue;
      }
      const link = linkOf(run);
      if (!link) {
        put(run.text, whatsappMarks(run));
        i++;
        continue;
      }
      let j = i + 1;
      while (j < line.length && linkOf(line[j]) === link) j++;
      const group = line.slice(i, j);
      const address = whatsappAddress(group.map((r) => r.text).join(''), link.href);
      if (address !== undefined) {
        const common = EMPHASIS_STYLES.filter((s) => group.every((r) => whatsappMarks(r, undefined, false).includes(s)));
        put(address, common);
      } else {
        for (const r of group) put(r.text, whatsappMarks(r));
        const last = group[group.length - 1];
        put(` (${whatsappUrl(link.href)})`, whatsappMarks(last, last.marks.indexOf(link), false));
      }
      i = j;
    }
    if (quoted) for (let k = start; k < asked.length; k++) asked[k] = asked[k].concat('quote');
  });
  return { text, asked };
}

const ASCII_BOUNDARY = /^[!-)+-\/:-@[\\\]^{|}]$/;

/** A marker's neighbour that is a boundary however WhatsApp classes characters (undefined: the line's edge). */
function certainBoundary(ch: string | undefined): boolean {
  return ch === undefined || /\s/.test(ch) || ASCII_BOUNDARY.test(ch) || (ch.charCodeAt(0) >= 0x80 && /\p{P}/u.test(ch));
}

/**
 * May the asked `style` at unit k be missing? Only where WhatsApp's word-boundary rule cannot apply
 * it: judged for the whole stretch asked to have it around k (on k's line), whose end is returned
 * (-1: it may not), so the caller judges each stretch once.
 */
function mayLack(text: string, asked: readonly string[][], k: number, style: string): number {
  let s = k;
  while (s > 0 && text[s - 1] !== '\n' && asked[s - 1].includes(style)) s--;
  let e = k;
  while (e + 1 < text.length && text[e + 1] !== '\n' && asked[e + 1].includes(style)) e++;
  const end = e;
  while (s < e && /\s/.test(text[s])) s++;
  while (e > s && /\s/.test(text[e])) e--;
  const before = s > 0 && text[s - 1] !== '\n' ? text[s - 1] : undefined;
  const after = e + 1 < text.length && text[e + 1] !== '\n' ? text[e + 1] : undefined;
  const marker = (ch: string): boolean => '*_~`'.includes(ch);
  const may = !certainBoundary(before) || !certainBoundary(after) || marker(text[s]) || marker(text[e]) || (style === 'code' && text.slice(s, e + 1).includes('`'));
  return may ? end : -1;
}

/** A WhatsApp body read every way: the visible text expected for its runs, formatted as asked. */
function checkWhatsAppText(body: string, runs: readonly Run[], where: string): void {
  const { text, asked } = expectedWhatsApp(runs);
  assert.doesNotMatch(body.replace(/(?<=^|\n)```(?=\n|$)/g, ''), /```/, `${where}: three backticks only as a fence`);
  assert.equal(body.split(/(?<=^|\n)```(?=\n|$)/).length % 2, 1, `${where}: every fence it opens it closes`);
  for (const options of WHATSAPP_READINGS) {
    const reading = readWhatsApp(body, options);
    const context = (k: number): string => `${where} (${JSON.stringify(options)}) at ${JSON.stringify(text.slice(Math.max(0, k - 20), k + 20))} in ${JSON.stringify(body.slice(0, 300))}`;
    if (reading.visible !== text) {
      let k = 0;
      while (reading.visible[k] === text[k]) k++;
      assert.equal(reading.visible.slice(k, k + 60), text.slice(k, k + 60), `visible text differs at ${k}: ${context(k)}`);
    }
    const judged = new Map<readonly string[], Map<readonly string[], true>>();
    /** Per style, the end of the last stretch found to be allowed to lack it. */
    const lackUntil = new Map<string, number>();
    for (let k = 0; k < text.length; k++) {
      if (/\s/.test(text[k])) continue;
      const read = reading.styles[k];
      const want = asked[k];
      let seen = judged.get(read);
      if (!seen) judged.set(read, (seen = new Map()));
      // The same pair of style lists needs judging once, unless something is missing (that depends on k).
      if (seen.has(want)) continue;
      let complete = true;
      for (const style of read) if (style !== 'list' && !want.includes(style)) assert.fail(`${style} not asked: ${context(k)}`);
      for (const style of want) {
        if (read.includes(style)) continue;
        complete = false;
        if (style === 'pre' || style === 'quote') assert.fail(`${style} lost: ${context(k)}`);
        if ((lackUntil.get(style) ?? -1) >= k) continue;
        const end = mayLack(text, asked, k, style);
        assert.ok(end >= 0, `${style} lost where WhatsApp could show it: ${context(k)}`);
        lackUntil.set(style, end);
      }
      if (complete) seen.set(want, true);
    }
  }
}

/** Render + split for WhatsApp, every part and the whole reply read back (see the file's comment). */
function checkWhatsApp(markdown: string, format: PlatformFormat): void {
  const blocks = renderBlocks(markdown);
  const runs: Run[] = [];
  blocks.forEach((block, i) => {
    if (i) runs.push({ text: '\n\n', marks: [] });
    runs.push(...block);
  });
  const whole = renderWhole(markdown, format);
  checkWhatsAppText(whole.text, runs, 'whole reply');
  const partRuns = splitBlocks(blocks, format);
  const parts = partRuns.map((r) => toPart(r, format));
  for (const [i, part] of parts.entries()) {
    assert.ok(format.measure(part.text) <= format.maxLength, `part ${i}: ${format.measure(part.text)} > ${format.maxLength}`);
    assert.equal(part.text.length, format.measure(part.text));
    assert.ok(part.plain.trim(), `part ${i} is blank`);
    checkWhatsAppText(part.text, partRuns[i], `part ${i}`);
  }
  const spans = locate(whole.plain, parts.map((p) => p.plain));
  spans.forEach(([start, end], i) => {
    assert.ok(graphemeBoundary(whole.plain, start) && graphemeBoundary(whole.plain, end), `part ${i} [${start}, ${end}) splits a grapheme cluster`);
  });
}

// ---------------------------------------------------------------------------------------------

function checkParts(markdown: string, format: PlatformFormat, parts: RenderedPart[]): void {
  const telegram = format.serialize === TELEGRAM_HTML.serialize;
  const slack = format.serialize === SLACK_MRKDWN.serialize;
  const discord = format.serialize === DISCORD_MARKDOWN.serialize;
  const parse = telegram ? parseTelegramHtml : slack ? parseSlackMrkdwn : discord ? parseDiscordMarkdown : undefined;
  const whole = renderWhole(markdown, format);
  // The whole reply may be longer than a message: read it without the length check.
  const wholeParsed = discord ? parseDiscordMarkdown(whole.text, true) : parse?.(whole.text);
  if (slack) checkSlackStyles(markdown, whole);
  const discordAsked = discord ? checkDiscordStyles(markdown, whole) : undefined;
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
    if (discord) continue;
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
      // Discord drops line breaks next to a fence, so blank lines a part ends a code block with go after its fence.
      if (discord && /\s/.test(whole.plain[start + k])) continue;
      assert.equal(mine.includes('pre'), theirs.includes('pre'), `part ${i}, char ${k}: inside a code block in one and not the other`);
      for (const tag of mine) {
        // Discord: a piece of a code span or a link may keep a formatting (or a link) the whole one
        // had to leave, its own text no longer holding what would end it: it was asked for.
        const asked = discordAsked?.[start + k];
        if (asked?.inner && asked.styles.includes(tag.startsWith('link ') ? linkStyle(tag) : tag)) continue;
        assert.ok(theirs.includes(tag), `part ${i}, char ${k}: ${tag} that the whole reply does not have`);
      }
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

  it(`Discord Markdown at Discord's limit (2,000 characters): ${RUNS} generated replies`, () => {
    fc.assert(
      fc.property(discordMarkdown, (md) => checkParts(md, DISCORD_MARKDOWN, renderAndSplit(md, DISCORD_MARKDOWN))),
      { numRuns: RUNS },
    );
  });

  it(`Discord Markdown with small limits (600-1500 characters, above the longest generated link): ${RUNS} replies, many cuts each`, () => {
    fc.assert(
      fc.property(discordMarkdown, fc.integer({ min: 600, max: 1500 }), (md, maxLength) => {
        const format: PlatformFormat = { ...DISCORD_MARKDOWN, maxLength };
        checkParts(md, format, renderAndSplit(md, format));
      }),
      { numRuns: RUNS },
    );
  });

  it(`Discord Markdown: a piece of a block ending where a cut may end it is never written longer than a longer piece (the splitter relies on it): ${RUNS} replies`, () => {
    // The splitter measures the longest piece that fits and then cuts at a whitespace run's start
    // before it, unmeasured: that piece must fit too.
    const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    fc.assert(
      fc.property(discordMarkdown, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 12 }), (md, at) => {
        for (const block of renderBlocks(md).slice(0, 4)) {
          const text = block.map((r) => r.text).join('').slice(0, 4000);
          const bounds = [...segmenter.segment(text)].map((g) => g.index).concat(text.length);
          const ends = [...new Set(at.map((x) => bounds[Math.floor(x * (bounds.length - 1))]))].sort((a, b) => a - b);
          const cuts = ends.map((end) => text.slice(0, end).search(/\s+$/)).filter((i) => i > 0);
          const length = (end: number): number => DISCORD_MARKDOWN.measure(DISCORD_MARKDOWN.serialize!(pieceOf(block, end)));
          for (const cut of cuts) {
            const short = length(cut);
            for (const end of ends) {
              if (end > cut) assert.ok(length(end) >= short, `${JSON.stringify(text.slice(0, end).slice(-200))}: ${length(end)} < ${short} up to ${cut}`);
            }
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(`WhatsApp at WhatsApp's limit (4,096 characters): ${RUNS} generated replies`, () => {
    fc.assert(
      fc.property(whatsappMarkdown, (md) => checkWhatsApp(md, WHATSAPP_TEXT)),
      { numRuns: RUNS },
    );
  });

  it(`WhatsApp with small limits (600-1500 characters, above the longest generated link): ${RUNS} replies, many cuts each`, () => {
    fc.assert(
      fc.property(whatsappMarkdown, fc.integer({ min: 600, max: 1500 }), (md, maxLength) => checkWhatsApp(md, { ...WHATSAPP_TEXT, maxLength })),
      { numRuns: RUNS },
    );
  });

  it(`WhatsApp: a piece of a block ending where a cut may end it is never written longer than a longer piece (the splitter relies on it): ${RUNS} replies`, () => {
    const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    fc.assert(
      fc.property(whatsappMarkdown, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 12 }), (md, at) => {
        for (const block of renderBlocks(md).slice(0, 4)) {
          const text = block.map((r) => r.text).join('').slice(0, 4000);
          const bounds = [...segmenter.segment(text)].map((g) => g.index).concat(text.length);
          const ends = [...new Set(at.map((x) => bounds[Math.floor(x * (bounds.length - 1))]))].sort((a, b) => a - b);
          const cuts = ends.map((end) => text.slice(0, end).search(/\s+$/)).filter((i) => i > 0);
          const length = (end: number): number => WHATSAPP_TEXT.measure(WHATSAPP_TEXT.serialize!(pieceOf(block, end)));
          for (const cut of cuts) {
            const short = length(cut);
            for (const end of ends) {
              if (end > cut) assert.ok(length(end) >= short, `${JSON.stringify(text.slice(0, end).slice(-200))}: ${length(end)} < ${short} up to ${cut}`);
            }
          }
        }
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
