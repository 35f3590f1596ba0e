/**
 * Markdown rendered as Slack mrkdwn (chat.postMessage / chat.update `text`, mrkdwn on) and split
 * into parts of at most 4,000 bytes. Every rendered text is also checked with the Slack emulator's
 * mrkdwn checker (no unescaped `& < >`, no live special mention) and read back with its
 * mrkdwnToText: what a Slack user reads must be the reply's visible text.
 */
import { strict as assert } from 'node:assert';
import {
  renderAndSplit,
  renderWhole,
  readSlackMrkdwn,
  slackVisibleText,
  serializeSlackMrkdwn,
  measureSlackMrkdwn,
  escapeSlackText,
  slackUrl,
  SLACK_MRKDWN,
  SLACK_MAX_BYTES,
  type Mark,
  type RenderedPart,
  type Run,
} from '../../nodes/core/delivery';
import { checkMrkdwn, mrkdwnToText } from '../emulators/slack/mrkdwn';

const Z = '\u200b';
const LITERAL = (ch: string): string => `<!date^00000000^{_}|${ch}>`;
const B: Mark = { kind: 'bold' };
const I: Mark = { kind: 'italic' };
const C: Mark = { kind: 'code' };
const Q: Mark = { kind: 'quote' };

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** What Slack shows for a mrkdwn text, and that the emulator agrees: no findings, same reading. */
function shown(text: string): string {
  assert.deepEqual(checkMrkdwn(text), [], `mrkdwn problems in ${JSON.stringify(text)}`);
  assert.deepEqual(checkMrkdwn(text, { linkNames: true }), [], `pings with link_names in ${JSON.stringify(text)}`);
  const reading = readSlackMrkdwn(text);
  assert.equal(mrkdwnToText(reading.unformatted), reading.visible, 'the emulator reads the tokens and entities the same way');
  return reading.visible;
}

/** The whole reply as mrkdwn, checked: valid, and its visible text is the reply's visible text. */
function mrkdwn(md: string): string {
  const part = renderWhole(md, SLACK_MRKDWN);
  assert.equal(shown(part.text), part.plain, `visible text of ${JSON.stringify(part.text)}`);
  return part.text;
}

/** The styles Slack gives the visible characters of `text` that make up `word` (its first occurrence). */
function stylesOf(text: string, word: string): string[][] {
  const reading = readSlackMrkdwn(text);
  const at = reading.visible.indexOf(word);
  assert.ok(at >= 0, `${word} in ${reading.visible}`);
  return reading.styles.slice(at, at + word.length).map((s) => [...s].sort());
}

function assertParts(parts: RenderedPart[], md: string, max = SLACK_MAX_BYTES): void {
  const whole = renderWhole(md, SLACK_MRKDWN);
  for (const [i, part] of parts.entries()) {
    assert.ok(bytes(part.text) <= max, `part ${i} is ${bytes(part.text)} bytes > ${max}`);
    assert.equal(measureSlackMrkdwn(part.text), bytes(part.text));
    assert.equal(shown(part.text), part.plain, `part ${i}: what Slack shows is its plain text`);
    assert.ok(part.plain.trim(), `part ${i} is not blank`);
    assert.equal(part.text.split('```').length % 2, 1, `part ${i}: every fence it opens it closes`);
    assert.doesNotMatch(part.text.replace(/(?<=^|\n)```(?=\n|$)/g, ''), /```/, `part ${i}: three backticks only as a fence`);
  }
  const squash = (s: string): string => s.replace(/\s+/g, '');
  assert.equal(squash(mrkdwnToText(parts.map((p) => readSlackMrkdwn(p.text).unformatted).join('\n'))), squash(whole.plain), 'nothing lost, repeated or reordered');
}

describe('core/delivery Slack mrkdwn', () => {
  it('writes bold, italic, strike, code and links in mrkdwn', () => {
    assert.equal(
      mrkdwn('**bold** *it* ~~strike~~ `code` [link](https://example.com/a?b=1&c=2)'),
      '*bold* _it_ ~strike~ `code` <https://example.com/a?b=1&amp;c=2|link>',
    );
    assert.equal(mrkdwn('**bold _nested_** and ~~**both**~~'), '*bold _nested_* and *~both~*');
    assert.equal(mrkdwn('line one  \nline two\nline three'), 'line one\nline two\nline three');
    assert.equal(mrkdwn('**a\nb**'), '*a*\n*b*', 'formatting is closed at each line end and reopened');
    assert.deepEqual(stylesOf('*bold _nested_*', 'nested'), Array(6).fill(['bold', 'italic']));
  });

  it('renders headings as bold lines, lists as bullet and number lines, rules, and tables as a monospace block', () => {
    assert.equal(mrkdwn('# Title\n\n## Sub *x*'), '*Title*\n\n*Sub _x_*');
    assert.equal(mrkdwn('- one\n- two\n  - deep\n- three'), '• one\n• two\n  • deep\n• three');
    assert.equal(mrkdwn('3. c\n4. d\n   - **x**'), '3. c\n4. d\n   • *x*');
    assert.equal(mrkdwn('a\n\n---\n\nb'), 'a\n\n———\n\nb');
    assert.equal(mrkdwn('| name | n |\n|:--|--:|\n| apple | 3 |\n| kiwi | 12 |'), '```\nname  |  n\n------+---\napple |  3\nkiwi  | 12\n```');
  });

  it('writes code blocks as fences without a language, verbatim but for & < >', () => {
    assert.equal(mrkdwn('```python\nif a < b and *c*:\n    pass\n```'), '```\nif a &lt; b and *c*:\n    pass\n```');
    assert.equal(mrkdwn('```\nfirst\n\nthird\n```'), '```\nfirst\n\nthird\n```', 'a blank line stays inside the fence');
    assert.equal(mrkdwn('````\n```inner\n````'), '```\n`' + Z + '``inner\n```', 'backticks inside cannot close the fence');
    assert.equal(mrkdwn('```js\nx\n```\n\n```py\ny\n```'), '```\nx\n```\n\n```\ny\n```');
    assert.deepEqual(stylesOf(mrkdwn('```\n*not bold* _x_\n```'), '*not bold*'), Array(10).fill(['pre']));
  });

  it('keeps inline code verbatim; code holding a backtick, which mrkdwn cannot write, is sent as text', () => {
    assert.equal(mrkdwn('`*a* <b> & _c_`'), '`*a* &lt;b&gt; &amp; _c_`');
    assert.deepEqual(stylesOf('`*a* &lt;b&gt;`', '*a* <b>'), Array(7).fill(['code']));
    assert.equal(mrkdwn('`` x`y ``'), 'x`y');
    assert.equal(mrkdwn('run `npm test` now'), 'run `npm test` now');
    assert.equal(mrkdwn('**bold `code` bold**'), '*bold `code` bold*');
    assert.deepEqual(stylesOf('*bold `code` bold*', 'code'), Array(4).fill(['bold', 'code']));
  });

  it('writes quotes as &gt; at the start of each line, one level deep', () => {
    assert.equal(mrkdwn('> quoted **text**\n> more'), '&gt; quoted *text*\n&gt; more');
    assert.equal(mrkdwn('> > nested\n> > deeper'), '&gt; nested\n&gt; deeper');
    assert.equal(mrkdwn('> one\n>\n> two'), '&gt; one\n\n&gt; two', 'an empty line carries no marker');
    assert.equal(mrkdwn('> - item\n> - `code`'), '&gt; • item\n&gt; • `code`');
    assert.deepEqual(stylesOf('&gt; quoted *text*', 'text'), Array(4).fill(['bold', 'quote']));
    assert.equal(mrkdwn('\\> not a quote'), '\u00ad&gt; not a quote', 'a literal > at a line start is kept from becoming a quote');
  });

  it('a code block inside a quote leaves the quote, whole, and the quote resumes after it', () => {
    assert.equal(mrkdwn('> before\n>\n> ```\n> code < 1\n> line 2\n> ```\n>\n> after'), '&gt; before\n\n```\ncode &lt; 1\nline 2\n```\n\n&gt; after');
    assert.equal(mrkdwn('> text\n> ```\n> x\n> ```\n> more'), '&gt; text\n\n```\nx\n```\n\n&gt; more');
  });

  describe('word boundaries', () => {
    it('puts a zero-width space between a marker and a word character outside it', () => {
      assert.equal(mrkdwn('un**believ**able'), `un${Z}*believ*${Z}able`);
      assert.equal(mrkdwn('foo*bar*baz and x~~y~~z and a`b`c'), `foo${Z}_bar_${Z}baz and x${Z}~y~${Z}z and a${Z}\`b\`${Z}c`);
      assert.equal(mrkdwn('日本**語**です'), `日本${Z}*語*${Z}です`);
      assert.equal(mrkdwn('😀**x**😀'), `😀${Z}*x*${Z}😀`);
      assert.equal(mrkdwn('v**2**'), `v${Z}*2*`);
      assert.deepEqual(stylesOf(`un${Z}*believ*${Z}able`, 'believ'), Array(6).fill(['bold']));
      assert.equal(slackVisibleText(`un${Z}*believ*${Z}able`), 'unbelievable', 'the helpers are invisible');
    });

    it('needs none next to spaces, line edges and ASCII punctuation', () => {
      assert.equal(mrkdwn('**Note:** read (**this**), "**that**" and **a**/**b**.'), '*Note:* read (*this*), "*that*" and *a*/*b*.');
      assert.equal(mrkdwn('**(a)** **[b]** **c!**'), '*(a)* *[b]* *c!*');
    });

    it('separates a marker closing from one opening, and nests markers that cover the same text', () => {
      assert.equal(mrkdwn('**a**_b_'), `*a*${Z}_b_`);
      assert.equal(mrkdwn('`a`**b**'), `\`a\`${Z}*b*`);
      for (const md of ['***both***', '**_both_**', '_**both**_', '**_both_** ']) assert.equal(mrkdwn(md), '*_both_*', md);
      assert.equal(mrkdwn('~~**_all_**~~'), '*_~all~_*');
      assert.equal(mrkdwn('**a*b*c**'), `*a${Z}_b_${Z}c*`);
      assert.equal(mrkdwn('***a* b**'), '*_a_ b*');
      assert.deepEqual(stylesOf('*_both_*', 'both'), Array(4).fill(['bold', 'italic']));
    });

    it('moves whitespace at the edge of a styled stretch outside its markers; a stretch of only whitespace gets none', () => {
      const runs = (...pairs: Array<[string, Mark[]]>): Run[] => pairs.map(([text, marks]) => ({ text, marks }));
      assert.equal(serializeSlackMrkdwn(runs(['bold ', [B]], ['x', []])), '*bold* x');
      assert.equal(serializeSlackMrkdwn(runs(['x', []], ['  lead', [B]])), 'x  *lead*');
      assert.equal(serializeSlackMrkdwn(runs(['a', []], ['   ', [B]], ['b', []])), 'a   b');
      assert.equal(serializeSlackMrkdwn(runs(['a', [B]], [' ', [B, I]], ['b', [B]])), '*a b*');
      assert.equal(serializeSlackMrkdwn(runs([' code ', [C]])), ' `code` ');
      assert.equal(serializeSlackMrkdwn(runs(['  ', [C]])), '  ');
      assert.equal(serializeSlackMrkdwn(runs([`${Z}z`, [I]])), `${Z}_z_`);
      assert.equal(serializeSlackMrkdwn(runs(['quoted ', [Q, B]], ['rest', [Q]])), '&gt; *quoted* rest');
    });
  });

  it('keeps literal marker characters literal: escaped only where they could pair into formatting', () => {
    assert.equal(mrkdwn('\\*not bold\\*'), `${LITERAL('*')}not bold${LITERAL('*')}`);
    assert.equal(mrkdwn('\\_x\\_ and \\~y\\~'), `${LITERAL('_')}x${LITERAL('_')} and ${LITERAL('~')}y${LITERAL('~')}`);
    assert.equal(mrkdwn('\\`not code\\`'), `${LITERAL('`')}not code${LITERAL('`')}`);
    assert.equal(mrkdwn('a\\`\\`\\`b and [x\\`\\`\\`y](https://x.io)'), `a${LITERAL('`').repeat(3)}b and <https://x.io|x\`${Z}\`\`y>`, 'never a stray fence');
    // No partner on the line: nothing to escape.
    assert.equal(mrkdwn('snake_case_name, 2 * 3 = 6, ~5 min or ~10 min, *args'), 'snake_case_name, 2 * 3 = 6, ~5 min or ~10 min, *args');
    // A literal that could end a bold span early.
    assert.equal(mrkdwn('**a\\* b**'), `*a${LITERAL('*')} b*`);
    assert.deepEqual(stylesOf(`*a${LITERAL('*')} b*`, 'a* b'), Array(4).fill(['bold']));
  });

  describe('links', () => {
    it('writes <url|label>, and <url> when the label is the address', () => {
      assert.equal(mrkdwn('[docs](https://x.io/d) https://x.io/a_b_ <https://auto.link>'), '<https://x.io/d|docs> <https://x.io/a_b_> <https://auto.link>');
      assert.equal(mrkdwn('[mail](mailto:a@b.c) first_last@example.com'), '<mailto:a@b.c|mail> <mailto:first_last@example.com|first_last@example.com>');
      assert.equal(mrkdwn('www.example.com/_x_'), '<http://www.example.com/_x_|www.example.com/_x_>');
      assert.equal(mrkdwn('![a cat](https://i.example/cat.png)'), '<https://i.example/cat.png|a cat>');
      assert.deepEqual(stylesOf('<https://x.io/d|docs>', 'docs'), Array(4).fill(['link https://x.io/d']));
    });

    it('cannot be broken by | or > in the label or the address', () => {
      assert.equal(mrkdwn('[a|b>c & d](https://x.io/p|q>r?s=1&t=2)'), '<https://x.io/p%7Cq%3Er?s=1&amp;t=2|a|b&gt;c &amp; d>');
      assert.equal(slackUrl('https://x.io/a b|c<d>e'), 'https://x.io/a%20b%7Cc%3Cd%3Ee');
      assert.equal(shown('<https://x.io/p%7Cq%3Er?s=1&amp;t=2|a|b&gt;c &amp; d>'), 'a|b>c & d');
    });

    it('keeps formatting around a link, drops it inside the label, and leaves other schemes as text', () => {
      assert.equal(mrkdwn('**[bold link](https://x.io)** and [**inner** `code`](https://y.io)'), '*<https://x.io|bold link>* and <https://y.io|inner code>');
      assert.equal(mrkdwn('**https://x.io/a_b_** and _x_'), '*<https://x.io/a_b_>* and _x_');
      assert.equal(mrkdwn('[me](tg://user?id=1) [bad](javascript:alert(1)) [rel](/etc/passwd)'), 'me [bad](javascript:alert(1)) rel');
      assert.equal(mrkdwn('[![build](https://img.shields.io/b.svg)](https://ci.example/job)'), '<https://ci.example/job|build>');
    });
  });

  describe("an agent's text cannot mention, ping or link", () => {
    it('escapes <!channel>, <!here>, <!everyone>, <!subteam^…>, <@U…>, <#C…>, &amp; and <url|label> written as text', () => {
      const md = '<!channel> <!here> <!everyone> <!subteam^S123|team> <@U123> <#C1|x> &amp; <https://evil|click> <b>html</b>';
      const text = mrkdwn(md);
      assert.equal(
        text,
        '&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;!subteam^S123|team&gt; &lt;@U123&gt; &lt;#C1|x&gt; &amp; ' +
          '<https://evil%7Cclick|https://evil|click> &lt;b&gt;html&lt;/b&gt;',
      );
      // What Slack shows is what the agent wrote, character for character: no mention, no hidden link.
      assert.equal(shown(text), '<!channel> <!here> <!everyone> <!subteam^S123|team> <@U123> <#C1|x> & https://evil|click <b>html</b>');
      assert.ok(!readSlackMrkdwn(text).styles.some((s) => s.includes('ping') || s.includes('mention')));
      // Markdown's autolink of `<https://evil|click>` is a link whose label is its whole text.
      assert.deepEqual(stylesOf(text, 'https://evil|click'), Array(18).fill(['link https://evil%7Cclick']));
    });

    it('keeps @here, @channel and @everyone inert even with link_names', () => {
      const text = mrkdwn('@here @channel and @everyone, not @hereford');
      assert.equal(text, `@${Z}here @${Z}channel and @${Z}everyone, not @hereford`);
      assert.deepEqual(checkMrkdwn(text, { linkNames: true }), []);
      assert.notDeepEqual(checkMrkdwn('@here', { linkNames: true }), [], 'the checker does catch the unguarded word');
    });

    it('escapes the three characters in every context: prose, code, fences, labels, addresses', () => {
      assert.equal(escapeSlackText('a & b < c > d'), 'a &amp; b &lt; c &gt; d');
      const text = mrkdwn('<@U1> `<@U2>` [<@U3>](https://x.io/?q=<@U4>)\n\n```\n<!channel>\n```');
      assert.equal(text, '&lt;@U1&gt; `&lt;@U2&gt;` <https://x.io/?q=%3C@U4%3E|&lt;@U3&gt;>\n\n```\n&lt;!channel&gt;\n```');
    });
  });

  it('plain is the visible text (unescaped, as for Telegram), and measure counts rendered UTF-8 bytes', () => {
    assert.deepEqual(renderAndSplit('**a** & <b> [l](https://x.io)', SLACK_MRKDWN), [{ text: '*a* &amp; &lt;b&gt; <https://x.io|l>', plain: 'a & <b> l' }]);
    assert.equal(measureSlackMrkdwn('*é* 日本 😀'), 1 + 2 + 1 + 1 + 6 + 1 + 4);
    assert.equal(measureSlackMrkdwn(serializeSlackMrkdwn([{ text: 'x', marks: [B] }])), 3);
    assert.deepEqual(renderAndSplit('', SLACK_MRKDWN), []);
    // Sent as text with mrkdwn off, the fallback still needs Slack's three escapes.
    const [part] = renderAndSplit('<!channel> **x**', SLACK_MRKDWN);
    assert.equal(part.plain, '<!channel> x');
    assert.deepEqual(checkMrkdwn(escapeSlackText(part.plain)), []);
    assert.equal(mrkdwnToText(escapeSlackText(part.plain)), part.plain);
  });

  describe('splitting at 4,000 bytes', () => {
    /** A ~20 kB reply: headings, prose with links, lists, quotes, several code blocks, tables. */
    function longReply(): { markdown: string; codeBlocks: string[] } {
      const words = 'the quick brown fox jumps over a lazy dog while agents stream replies to chats'.split(' ');
      let seed = 11;
      const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      const sentence = (): string => Array.from({ length: 8 + rnd(10) }, () => words[rnd(words.length)]).join(' ') + '.';
      const codeBlocks: string[] = [];
      const sections: string[] = [];
      for (let s = 0; sections.join('\n\n').length < 20000; s++) {
        sections.push(`## Section ${s} & <more>`);
        sections.push(Array.from({ length: 4 }, sentence).join(' ') + ` See [docs ${s}](https://example.com/s/${s}?a=1&b=2) 😀 un**believ**able.`);
        sections.push(Array.from({ length: 5 }, (_, i) => `- item ${s}.${i} **${sentence()}**\n  - nested \`code ${i}\``).join('\n'));
        const code = Array.from({ length: 6 + rnd(30) }, (_, i) => `const v${s}_${i} = a < b && c > d; // ${sentence()}`).join('\n');
        codeBlocks.push(code);
        sections.push('```ts\n' + code + '\n```');
        sections.push(`> ${sentence()}\n> ${sentence()} <!channel>`);
        if (s % 3 === 0) sections.push(`| key | value |\n|---|---:|\n| a${s} | 1 |\n| b${s} | 22 |`);
      }
      return { markdown: sections.join('\n\n'), codeBlocks };
    }

    it('splits a long reply into valid parts of at most 4,000 bytes, each code block whole in one part', () => {
      const { markdown, codeBlocks } = longReply();
      const parts = renderAndSplit(markdown, SLACK_MRKDWN);
      assert.ok(parts.length >= 5, `${parts.length} parts`);
      assertParts(parts, markdown);
      for (const code of codeBlocks) {
        const holders = parts.filter((p) => p.plain.includes(code));
        assert.equal(holders.length, 1, `code block "${code.slice(0, 30)}" is whole in one part`);
        const fenced = '```\n' + code.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') + '\n```';
        assert.ok(holders[0].text.includes(fenced), 'inside one fence');
      }
      // Parts are filled: none could have taken the next part's first block.
      for (let i = 0; i + 1 < parts.length; i++) {
        const next = renderAndSplit(parts[i + 1].plain.split('\n\n')[0], SLACK_MRKDWN)[0]?.text ?? '';
        assert.ok(bytes(parts[i].text) + 2 + bytes(next) > SLACK_MAX_BYTES * 0.9, `part ${i} (${bytes(parts[i].text)} bytes) could have been fuller`);
      }
    });

    it('a code block longer than a part is reopened as a complete fence in each part, lines whole', () => {
      const lines = Array.from({ length: 300 }, (_, i) => `  if (x${i} < ${i}) { y(${i}); } // 😀 ${'-'.repeat(i % 30)}`);
      const md = 'Intro **text**.\n\n```js\n' + lines.join('\n') + '\n```\n\nOutro.';
      const parts = renderAndSplit(md, SLACK_MRKDWN);
      assert.ok(parts.length >= 4, `${parts.length} parts`);
      assertParts(parts, md);
      const codeParts = parts.filter((p) => p.text.includes('```'));
      for (const part of codeParts) assert.match(part.text, /```\n[^`]*\n```/, 'one complete fence');
      for (const part of codeParts.slice(1, -1)) assert.match(part.text, /^```\n[^`]*\n```$/, 'a middle part is one fence');
      assert.deepEqual(
        codeParts.flatMap((p) => readSlackMrkdwn(p.text).visible.split('\n')).filter((l) => lines.includes(l)),
        lines,
        'every line whole, in order, indentation kept',
      );
    });

    it('counts CJK as three bytes and emoji as four, and never cuts inside a grapheme cluster', () => {
      const cjk = renderAndSplit('日本語のテキスト'.repeat(600), SLACK_MRKDWN);
      assert.ok(cjk.length >= 3);
      assertParts(cjk, '日本語のテキスト'.repeat(600));
      assert.ok(cjk.every((p, i) => i === cjk.length - 1 || bytes(p.text) > SLACK_MAX_BYTES - 3), 'filled to the last whole character');

      const family = '👨‍👩‍👧‍👦'; // 7 code points, 25 bytes
      const md = `**${family.repeat(400)}**`;
      const parts = renderAndSplit(md, SLACK_MRKDWN);
      assert.ok(parts.length >= 3);
      assertParts(parts, md);
      for (const part of parts) {
        assert.match(part.text, /^\*(👨‍👩‍👧‍👦)+\*$/u, 'whole families, bold closed and reopened');
      }

      const mixed = Array.from({ length: 400 }, (_, i) => `${i} 日本 e\u0301 🇯🇵 👍🏽 **bold${i}**`).join(' ');
      const mixedParts = renderAndSplit(mixed, SLACK_MRKDWN);
      assertParts(mixedParts, mixed);
      const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
      const clusters = new Set([...segmenter.segment(renderWhole(mixed, SLACK_MRKDWN).plain)].map((s) => s.segment));
      for (const part of mixedParts) for (const { segment } of segmenter.segment(part.plain)) assert.ok(clusters.has(segment) || /^\s$/.test(segment), `cut cluster ${JSON.stringify(segment)}`);
    });

    it('a smaller limit (a section block holds 3,000) splits the same way', () => {
      const { markdown } = longReply();
      const format = { ...SLACK_MRKDWN, maxLength: 3000 };
      const parts = renderAndSplit(markdown, format);
      assertParts(parts, markdown, 3000);
    });
  });
});
