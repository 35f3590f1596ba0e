/**
 * Markdown rendered as a WhatsApp text body and split into parts of at most 4,096 characters.
 * Every rendered text is read back with whatsapp-reader.ts — every way it can class the word
 * joiner (a letter or a space) and non-ASCII characters, all readings alike — so what a phone
 * shows is the reply's visible text, formatted only as the Markdown asked: no literal `*`, `_`,
 * `~` or backtick from the agent turns into formatting, no line into a list or quote it was not.
 */
import { strict as assert } from 'node:assert';
import {
  renderAndSplit,
  renderWhole,
  readWhatsApp,
  whatsappVisibleText,
  serializeWhatsApp,
  measureWhatsApp,
  whatsappUrl,
  whatsappAddress,
  WHATSAPP_TEXT,
  WHATSAPP_MAX_LENGTH,
  WORD_JOINER,
  type Mark,
  type RenderedPart,
  type Run,
  type WhatsAppReadOptions,
} from '../../nodes/core/delivery';

const J = WORD_JOINER;
const B: Mark = { kind: 'bold' };
const I: Mark = { kind: 'italic' };
const S: Mark = { kind: 'strike' };
const U: Mark = { kind: 'underline' };
const C: Mark = { kind: 'code' };
const Q: Mark = { kind: 'quote' };

const READINGS: readonly WhatsAppReadOptions[] = [
  {},
  { joiner: 'space' },
  { boundaries: 'non-alphanumeric' },
  { joiner: 'space', boundaries: 'non-alphanumeric' },
];

/** What a phone shows for a body, read every way (the readings must agree, styles included). */
function shown(text: string): string {
  const first = readWhatsApp(text);
  for (const options of READINGS.slice(1)) {
    const other = readWhatsApp(text, options);
    assert.equal(other.visible, first.visible, `${JSON.stringify(options)} reads ${JSON.stringify(text)} alike`);
    assert.deepEqual(other.styles, first.styles, `${JSON.stringify(options)} formats ${JSON.stringify(text)} alike`);
  }
  return first.visible;
}

/** The whole reply as a WhatsApp body, checked: what a phone shows is `visible` (default: the reply's plain text). */
function wa(md: string, visible?: string): string {
  const part = renderWhole(md, WHATSAPP_TEXT);
  assert.equal(shown(part.text), visible ?? part.plain, `visible text of ${JSON.stringify(part.text)}`);
  return part.text;
}

/** The styles a phone gives the visible characters of `text` that make up `word` (its first occurrence). */
function stylesOf(text: string, word: string, options?: WhatsAppReadOptions): string[][] {
  const reading = readWhatsApp(text, options);
  const at = reading.visible.indexOf(word);
  assert.ok(at >= 0, `${word} in ${reading.visible}`);
  return reading.styles.slice(at, at + word.length).map((s) => [...s].sort());
}

/** No formatting anywhere, however the body is read. */
function unformatted(text: string): void {
  for (const options of READINGS) {
    const reading = readWhatsApp(text, options);
    reading.styles.forEach((styles, k) => assert.deepEqual(styles, [], `${styles.join(',')} at ${k} of ${JSON.stringify(reading.visible)} (${JSON.stringify(options)})`));
  }
}

const runs = (...pairs: Array<[string, Mark[]]>): Run[] => pairs.map(([text, marks]) => ({ text, marks }));

describe('core/delivery WhatsApp', () => {
  it('writes bold, italic, strike and code in WhatsApp markup', () => {
    assert.equal(wa('**bold** *it* _it2_ ~~strike~~ `code`'), '*bold* _it_ _it2_ ~strike~ `code`');
    assert.deepEqual(stylesOf('*bold* _it_ ~strike~ `code`', 'bold'), Array(4).fill(['bold']));
    assert.deepEqual(stylesOf('*bold* _it_ ~strike~ `code`', 'it'), Array(2).fill(['italic']));
    assert.deepEqual(stylesOf('*bold* _it_ ~strike~ `code`', 'strike'), Array(6).fill(['strike']));
    assert.deepEqual(stylesOf('*bold* _it_ ~strike~ `code`', 'code'), Array(4).fill(['code']));
    assert.equal(wa('line one  \nline two\nline three'), 'line one\nline two\nline three');
    assert.equal(wa('**a\nb**'), '*a*\n*b*', 'formatting is closed at each line end and reopened');
    // Underline has no WhatsApp markup: its text goes plain.
    assert.equal(serializeWhatsApp(runs(['under', [U]], [' and ', []], ['both', [U, S]])), 'under and ~both~');
  });

  it('nests markers that cover the same text, bold outside italic outside strike', () => {
    assert.equal(wa('**bold _nested_** and ~~**both**~~'), '*bold _nested_* and *~both~*');
    for (const md of ['***both***', '**_both_**', '_**both**_']) assert.equal(wa(md), '*_both_*', md);
    assert.equal(wa('~~**_all_**~~'), '*_~all~_*');
    assert.equal(wa('***a* b**'), '*_a_ b*', 'the stretch that started first outside');
    assert.equal(wa('*it **both** it*'), '_it *both* it_');
    assert.deepEqual(stylesOf('*_~all~_*', 'all'), Array(3).fill(['bold', 'italic', 'strike']));
    assert.deepEqual(stylesOf('*bold _nested_*', 'nested'), Array(6).fill(['bold', 'italic']));
  });

  describe('word boundaries', () => {
    it('needs none next to spaces, line edges and punctuation, ASCII or not', () => {
      assert.equal(wa('**Note:** read (**this**), "**that**" and **a**/**b**.'), '*Note:* read (*this*), "*that*" and *a*/*b*.');
      assert.equal(wa('**(a)** **[b]** **c!** ¿**hola**? “**quoted**” 日本語、**太字**。'), '*(a)* *[b]* *c!* ¿*hola*? “*quoted*” 日本語、*太字*。');
      assert.equal(wa('run `npm test`, then (`x`)'), 'run `npm test`, then (`x`)');
      assert.deepEqual(stylesOf('¿*hola*?', 'hola', { boundaries: 'non-alphanumeric' }), Array(4).fill(['bold']));
    });

    it('drops formatting WhatsApp cannot apply inside a word (nothing invisible is a boundary): the text stays, the formatting goes', () => {
      assert.equal(wa('un**believ**able foo*bar*baz x~~y~~z a`b`c'), 'unbelievable foobarbaz xyz abc');
      assert.equal(wa('日本**語**です 😀**x**😀 v**2** `code`s'), '日本語です 😀x😀 v2 codes');
      // Markers would touch each other, or a code span, with a word on both sides.
      assert.equal(wa('**a**_b_ `a`**b** **a*b*c**'), 'ab ab *abc*');
      // Only the part that cannot be written loses its formatting.
      assert.equal(wa('**bold** and un**believ**able'), '*bold* and unbelievable');
      // WhatsApp itself leaves such markers as text: the reader agrees.
      assert.equal(shown('un*believ*able'), 'un*believ*able');
    });

    it('moves whitespace at the edge of a styled stretch outside its markers; a stretch of only whitespace gets none', () => {
      assert.equal(serializeWhatsApp(runs(['bold ', [B]], ['x', []])), '*bold* x');
      assert.equal(serializeWhatsApp(runs(['x', []], ['  lead', [B]])), 'x  *lead*');
      assert.equal(serializeWhatsApp(runs(['a', []], ['   ', [B]], ['b', []])), 'a   b');
      assert.equal(serializeWhatsApp(runs(['a', [B]], [' ', [B, I]], ['b', [B]])), '*a b*');
      assert.equal(serializeWhatsApp(runs([' code ', [C]])), ' `code` ');
      assert.equal(serializeWhatsApp(runs(['quoted ', [Q, B]], ['rest', [Q]])), '> *quoted* rest');
    });
  });

  it('renders headings as bold lines, lists as "- " and "1. " items, rules, and tables as a monospace block', () => {
    assert.equal(wa('# Title\n\n## Sub *x*\n\n#### Deep'), '*Title*\n\n*Sub _x_*\n\n*Deep*');
    // WhatsApp draws its bullet for "- ": a phone shows the layout's "• " lines.
    assert.equal(wa('- one\n- two\n  - deep\n- three'), '- one\n- two\n  - deep\n- three');
    assert.equal(shown('- one\n  - deep'), '• one\n  • deep');
    assert.deepEqual(stylesOf('- one', 'one'), Array(3).fill(['list']));
    assert.equal(wa('3. c\n4. d\n   - **x**'), '3. c\n4. d\n   - *x*', 'numbers as written');
    assert.equal(wa('- **bold** item\n- `code` item'), '- *bold* item\n- `code` item');
    assert.equal(wa('a\n\n---\n\nb'), 'a\n\n———\n\nb');
    assert.equal(wa('| name | n |\n|:--|--:|\n| apple | 3 |\n| 日本 | 12 |'), '```\nname  |  n\n------+---\napple |  3\n日本  | 12\n```', 'CJK counts two columns');
    assert.deepEqual(stylesOf('```\nname  |  n\n```', 'name'), Array(4).fill(['pre']));
  });

  describe('code', () => {
    it('writes code blocks as ``` fences on lines of their own, the language dropped, the code verbatim', () => {
      assert.equal(wa('```python\nif a < b and *c* or _d_:\n    pass  # `x` ~y~\n```'), '```\nif a < b and *c* or _d_:\n    pass  # `x` ~y~\n```');
      assert.deepEqual(stylesOf('```\nif *c* _d_\n```', '*c* _d_'), Array(7).fill(['pre']));
      assert.equal(wa('```\nfirst\n\nthird\n```'), '```\nfirst\n\nthird\n```', 'a blank line stays inside the fence');
      assert.equal(wa('```js\nx\n```\n\n```py\ny\n```'), '```\nx\n```\n\n```\ny\n```');
      assert.equal(wa('text\n\n```\n- not a list\n> not a quote\n```'), 'text\n\n```\n- not a list\n> not a quote\n```', 'no line syntax inside a block');
    });

    it('keeps a ``` inside code from closing the block: a word joiner between the backticks', () => {
      assert.equal(wa('````\n```inner\n````'), `\`\`\`\n\`${J}\`${J}\`inner\n\`\`\``);
      assert.equal(whatsappVisibleText(`\`\`\`\n\`${J}\`${J}\`inner\n\`\`\``), '```inner');
      const text = wa('```\nx\n```*bold* _it_\n```');
      assert.equal(text, `\`\`\`\nx\n\`${J}\`${J}\`*bold* _it_\n\`\`\``);
      assert.deepEqual(stylesOf(text, '*bold* _it_'), Array(11).fill(['pre']));
    });

    it('keeps inline code verbatim; code holding a backtick, which WhatsApp cannot write, is sent as text', () => {
      assert.equal(wa('`*a* _c_ ~d~`'), '`*a* _c_ ~d~`');
      assert.deepEqual(stylesOf('`*a* _c_ ~d~`', '*a* _c_ ~d~'), Array(11).fill(['code']));
      assert.equal(wa('`` x`y ``'), 'x`y', 'a backtick between letters stays as written');
      assert.equal(wa('`` `x` ``'), `${J}\`${J}x${J}\`${J}`, 'one that could pair is guarded like any literal');
      assert.equal(wa('**bold `code` bold**'), '*bold `code` bold*');
      assert.deepEqual(stylesOf('*bold `code` bold*', 'code'), Array(4).fill(['bold', 'code']));
    });
  });

  describe('quotes', () => {
    it('writes "> " at the start of each quoted line, one level deep; empty lines carry no marker', () => {
      assert.equal(wa('> quoted **text**\n> more'), '> quoted *text*\n> more');
      assert.deepEqual(stylesOf('> quoted *text*', 'text'), Array(4).fill(['bold', 'quote']));
      assert.equal(wa('> > nested\n> > deeper'), '> nested\n> deeper');
      assert.equal(wa('> one\n>\n> two'), '> one\n\n> two');
      assert.equal(wa('> - item\n> - `code`'), '> - item\n> - `code`');
      assert.equal(shown('> - item'), '• item');
    });

    it('a code block inside a quote leaves the quote, whole, and the quote resumes after it', () => {
      assert.equal(wa('> before\n>\n> ```\n> code\n> line 2\n> ```\n>\n> after'), '> before\n\n```\ncode\nline 2\n```\n\n> after');
      assert.deepEqual(stylesOf('> before\n\n```\ncode\n```', 'code'), Array(4).fill(['pre']));
    });
  });

  describe('links', () => {
    it('writes label (address), and the address alone when the label is the address', () => {
      assert.equal(wa('[docs](https://x.io/d) see', 'docs (https://x.io/d) see'), 'docs (https://x.io/d) see');
      assert.equal(wa('https://x.io/d <https://auto.link> www.example.com', 'https://x.io/d https://auto.link www.example.com'), 'https://x.io/d https://auto.link www.example.com');
      assert.equal(wa('first_last@example.com and [mail](mailto:a@b.c)', 'first_last@example.com and mail (a@b.c)'), 'first_last@example.com and mail (a@b.c)');
      assert.equal(whatsappAddress('www.example.com', 'http://www.example.com'), 'www.example.com');
      assert.equal(whatsappAddress('docs', 'https://docs.io'), undefined);
      assert.equal(whatsappAddress('https://x.io/', 'https://x.io'), 'https://x.io/');
    });

    it('writes an image as alt (address), a badge in a link as the link', () => {
      assert.equal(wa('![a cat](https://i.example/cat.png)', 'a cat (https://i.example/cat.png)'), 'a cat (https://i.example/cat.png)');
      assert.equal(wa('![](https://i.example/cat.png)', 'https://i.example/cat.png'), 'https://i.example/cat.png');
      assert.equal(wa('[![build](https://img.shields.io/b.svg)](https://ci.example/job)', 'build (https://ci.example/job)'), 'build (https://ci.example/job)');
    });

    it('keeps formatting inside the label and around the whole link, the address taking what is around the link', () => {
      const text = wa('**see [docs](https://x.io) now** and [**inner** `code`](https://y.io)', 'see docs (https://x.io) now and inner code (https://y.io)');
      assert.equal(text, '*see docs (https://x.io) now* and *inner* `code` (https://y.io)');
      assert.deepEqual(stylesOf(text, 'https://x.io'), Array(12).fill(['bold']));
      assert.deepEqual(stylesOf(text, 'https://y.io'), Array(12).fill([]));
    });

    it('writes a label that is another address with its own address beside it, never hiding where it goes', () => {
      assert.equal(wa('[https://a.com](https://b.com)', 'https://a.com (https://b.com)'), 'https://a.com (https://b.com)');
    });

    it('shows only http(s), mailto and tel addresses; any other link is its label', () => {
      assert.equal(wa('[me](tg://user?id=1) [bad](javascript:alert(1)) [rel](/etc/passwd)'), 'me [bad](javascript:alert(1)) rel');
    });

    it('percent-encodes what would end the address in parentheses: ( ) and whitespace', () => {
      assert.equal(whatsappUrl('https://x.io/a b(c)'), 'https://x.io/a%20b%28c%29');
      assert.equal(whatsappUrl('mailto:a@b.c'), 'a@b.c');
      assert.equal(whatsappUrl('tel:+123'), '+123');
      assert.equal(wa('[wiki](https://en.wikipedia.org/wiki/Foo_(bar))', 'wiki (https://en.wikipedia.org/wiki/Foo%5F%28bar%29)'), 'wiki (https://en.wikipedia.org/wiki/Foo%5F%28bar%29)');
    });
  });

  describe("an agent's text cannot turn into formatting", () => {
    it('guards a literal marker that could open or close with a word joiner on both sides', () => {
      const text = wa('\\*not bold\\* \\_not italic\\_ \\~not strike\\~ \\`not code\\`');
      assert.equal(text, `${J}*${J}not bold${J}*${J} ${J}_${J}not italic${J}_${J} ${J}~${J}not strike${J}~${J} ${J}\`${J}not code${J}\`${J}`);
      unformatted(text);
      // Without the joiners every one of them would format.
      const bare = text.replaceAll(J, '');
      assert.deepEqual(stylesOf(bare, 'not bold'), Array(8).fill(['bold']));
      assert.deepEqual(stylesOf(bare, 'not code'), Array(8).fill(['code']));
    });

    it('leaves markers that cannot act as written: snake_case, spaced operators', () => {
      const text = wa('snake_case_name, my_var, 2 * 3 = 6, a*b, x ~ y');
      assert.equal(text, 'snake_case_name, my_var, 2 * 3 = 6, a*b, x ~ y');
      unformatted(text);
      assert.equal(wa('~5 min, *args, x_ and _y'), `${J}~${J}5 min, ${J}*${J}args, x${J}_${J} and ${J}_${J}y`, 'one-sided ones could still pair with a later one');
    });

    it('keeps a literal marker next to formatting from breaking it: that formatting goes instead', () => {
      const text = wa('**x**\\_ and **\\_init\\_** and **ok**');
      assert.equal(text, `x${J}_${J} and ${J}_${J}init${J}_${J} and *ok*`);
      assert.equal(shown(text), 'x_ and _init_ and ok');
      assert.deepEqual(stylesOf(text, '_init_'), Array(6).fill([]));
      assert.equal(wa('**a \\* b**'), '*a * b*', 'a spaced one inside formatting cannot act');
      assert.deepEqual(stylesOf('*a * b*', 'a * b'), Array(5).fill(['bold']));
    });

    it('never lets the underscores of an address italicise it: each one that could act is percent-encoded', () => {
      const text = wa('https://example.com/_private_/x and www.example.org/__init__/y_ and https://x.io/a_b_c', 'https://example.com/%5Fprivate%5F/x and www.example.org/%5F%5Finit%5F%5F/y%5F and https://x.io/a_b_c');
      assert.equal(text, 'https://example.com/%5Fprivate%5F/x and www.example.org/%5F%5Finit%5F%5F/y%5F and https://x.io/a_b_c');
      unformatted(text);
      assert.equal(wa('[p](https://x.io/*star*/~u)', 'p (https://x.io/%2Astar%2A/%7Eu)'), 'p (https://x.io/%2Astar%2A/%7Eu)');
      assert.equal(wa('_see https://x.io/a_ now_', 'see https://x.io/a%5F now'), '_see https://x.io/a%5F now_', 'an italic around it ends where it should');
      assert.deepEqual(stylesOf('_see https://x.io/a%5F now_', 'now'), Array(3).fill(['italic']));
    });

    it('keeps ``` in the text from opening a monospace block', () => {
      const text = wa('use \\`\\`\\` to fence, then *a* and `x`');
      assert.equal(text, `use ${J}\`${J}\`${J}\`${J} to fence, then _a_ and \`x\``);
      assert.doesNotMatch(text, /```/);
      assert.deepEqual(stylesOf(text, 'a and'), [['italic'], [], [], [], []]);
    });

    it('keeps line syntax in the text from becoming a list or a quote; the layout\'s bullet becomes WhatsApp\'s', () => {
      const text = wa('\\- not a list\n\n\\* not a list\n\n\\> not a quote\n\n\\>not either\n\n• a dot\n\n-5 degrees');
      assert.equal(text, `${J}- not a list\n\n${J}*${J} not a list\n\n${J}> not a quote\n\n${J}>not either\n\n- a dot\n\n-5 degrees`);
      assert.equal(shown(text), '- not a list\n\n* not a list\n\n> not a quote\n\n>not either\n\n• a dot\n\n-5 degrees');
      const reading = readWhatsApp(text);
      let listed = '';
      for (let k = 0; k < reading.visible.length; k++) if (reading.styles[k].includes('list')) listed += reading.visible[k];
      assert.equal(listed, '• a dot', 'the one list item is the bullet');
      assert.ok(!reading.styles.some((s) => s.includes('quote')), 'no quote');
      assert.equal(wa('> \\> quoted\n\n1. \\- item'), `> ${J}> quoted\n\n1. - item`, 'after a quote marker too');
    });

    it('keeps a keycap emoji whole: the joiner goes after it', () => {
      assert.equal(wa('*️⃣ key'), `${J}*️⃣${J} key`);
    });
  });

  it('plain is the layout\'s visible text; the measure counts the whole body in UTF-16 units', () => {
    assert.deepEqual(renderAndSplit('**a** & <b> [l](https://x.io) \\*x', WHATSAPP_TEXT), [{ text: `*a* & <b> l (https://x.io) ${J}*${J}x`, plain: 'a & <b> l *x' }]);
    assert.equal(WHATSAPP_MAX_LENGTH, 4096);
    assert.equal(WHATSAPP_TEXT.maxLength, 4096);
    assert.equal(WHATSAPP_TEXT.name, 'whatsapp');
    assert.equal(measureWhatsApp('*é* 日本 😀'), 3 + 1 + 2 + 1 + 2);
    assert.equal(measureWhatsApp(`${J}*${J}`), 3, 'joiners count');
    assert.equal(WHATSAPP_TEXT.additiveMeasure, undefined, 'markup counts: the splitter serialises candidate parts');
    assert.deepEqual(renderAndSplit('', WHATSAPP_TEXT), []);
    // The serialiser resumes from earlier calls: the same runs always give the same text.
    const some = runs(['a_ ', []], ['c', [B]], ['\n', []], ['`x_`', []]);
    assert.equal(serializeWhatsApp(some), serializeWhatsApp([...some]));
  });

  describe('splitting at 4,096 characters', () => {
    /** A ~40 kB reply: headings, prose with links and literal markers, lists, quotes, code blocks (one longer than a part), tables. */
    function longReply(): { markdown: string; codeBlocks: string[]; long: string[] } {
      const words = 'the quick brown fox jumps over a lazy dog while agents stream replies to chats'.split(' ');
      let seed = 11;
      const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      const sentence = (): string => Array.from({ length: 8 + rnd(10) }, () => words[rnd(words.length)]).join(' ') + '.';
      const codeBlocks: string[] = [];
      const sections: string[] = [];
      const long = Array.from({ length: 120 }, (_, i) => `  if (x${i} < ${i}) { y_${i}(); } // 😀 \`\`\` *not* ${'-'.repeat(i % 30)}`);
      for (let s = 0; sections.join('\n\n').length < 40000; s++) {
        sections.push(`## Section ${s} \\*`);
        sections.push(Array.from({ length: 4 }, sentence).join(' ') + ` See [docs ${s}](https://example.com/s/${s}?a=1&b=2) or https://example.com/_raw_/${s} 😀 un**believ**able \\_x\\_.`);
        sections.push(Array.from({ length: 5 }, (_, i) => `- item ${s}.${i} **${sentence()}**\n  - nested \`code_${i}\``).join('\n'));
        const code = Array.from({ length: 4 + rnd(14) }, (_, i) => `const v${s}_${i} = a < b && c > d; // ${sentence()}`).join('\n');
        codeBlocks.push(code);
        sections.push('```ts\n' + code + '\n```');
        sections.push(`> ${sentence()}\n> ${sentence()} *quoted*`);
        if (s % 3 === 0) sections.push(`| key | value |\n|---|---:|\n| a${s} | 1 |\n| b${s} | 22 |`);
        if (s === 4) sections.push('```js\n' + long.join('\n') + '\n```');
      }
      return { markdown: sections.join('\n\n'), codeBlocks, long };
    }

    function assertParts(parts: RenderedPart[], md: string, max = WHATSAPP_MAX_LENGTH): void {
      const whole = renderWhole(md, WHATSAPP_TEXT);
      for (const [i, part] of parts.entries()) {
        assert.ok(part.text.length <= max, `part ${i} is ${part.text.length} characters > ${max}`);
        assert.equal(measureWhatsApp(part.text), part.text.length);
        assert.ok(part.plain.trim(), `part ${i} is not blank`);
        assert.doesNotMatch(part.text.replace(/(?<=^|\n)```(?=\n|$)/g, ''), /```/, `part ${i}: three backticks only as a fence, on a line of its own`);
        assert.equal(part.text.split(/(?<=^|\n)```(?=\n|$)/).length % 2, 1, `part ${i}: every fence it opens it closes`);
        // What a phone shows is the part's plain text, with the links' addresses (the underscores
        // of bare ones percent-encoded).
        const visible = shown(part.text);
        assert.equal(visible.replace(/ \(https?:\/\/[^\s)]*\)/g, '').replace(/%5F/g, '_'), part.plain, `part ${i}: what a phone shows is its plain text`);
      }
      const squash = (s: string): string => s.replace(/\s+/g, '');
      assert.equal(squash(parts.map((p) => p.plain).join('')), squash(whole.plain), 'nothing lost, repeated or reordered');
    }

    it('splits a long reply into valid parts of at most 4,096 characters, each short code block whole in one part', () => {
      const { markdown, codeBlocks } = longReply();
      const parts = renderAndSplit(markdown, WHATSAPP_TEXT);
      assert.ok(parts.length >= 10, `${parts.length} parts`);
      assertParts(parts, markdown);
      for (const code of codeBlocks) {
        const holders = parts.filter((p) => p.plain.includes(code));
        assert.equal(holders.length, 1, `code block "${code.slice(0, 30)}" is whole in one part`);
        assert.ok(holders[0].text.includes('```\n' + code + '\n```'), 'inside one fence, without its language');
      }
      // Parts are filled: none could have taken the next part's first block.
      for (let i = 0; i + 1 < parts.length; i++) {
        const next = renderAndSplit(parts[i + 1].plain.split('\n\n')[0], WHATSAPP_TEXT)[0]?.text ?? '';
        assert.ok(parts[i].text.length + 2 + next.length > WHATSAPP_MAX_LENGTH * 0.9, `part ${i} (${parts[i].text.length} characters) could have been fuller`);
      }
    });

    it('a code block longer than a part becomes several complete fenced blocks, lines whole and in order', () => {
      const { markdown, long } = longReply();
      const parts = renderAndSplit(markdown, WHATSAPP_TEXT);
      const holders = parts.filter((p) => long.some((line) => p.plain.includes(line)));
      assert.ok(holders.length >= 2, `${holders.length} parts hold the long block`);
      for (const part of holders) {
        const fences = part.text.split('\n').filter((l) => l === '```').length;
        assert.ok(fences >= 2 && fences % 2 === 0, 'complete fences in every part');
      }
      const shownLines = holders.flatMap((p) => {
        const reading = readWhatsApp(p.text);
        return reading.visible.split('\n').filter((line, i, all) => {
          const at = all.slice(0, i).reduce((n, l) => n + l.length + 1, 0);
          return line && reading.styles[at]?.includes('pre');
        });
      });
      assert.deepEqual(shownLines.filter((l) => long.includes(l)), long, 'every line whole, in order, indentation and ``` kept');
    });

    it('the same reply at a smaller limit splits the same way', () => {
      const { markdown } = longReply();
      assertParts(renderAndSplit(markdown, { ...WHATSAPP_TEXT, maxLength: 900 }), markdown, 900);
    });

    it('never cuts inside a grapheme cluster; emoji count two', () => {
      const cjk = '日本語のテキスト'.repeat(1200);
      const cjkParts = renderAndSplit(cjk, WHATSAPP_TEXT);
      assert.equal(cjkParts.length, 3);
      assertParts(cjkParts, cjk);
      assert.ok(cjkParts.slice(0, -1).every((p) => p.text.length === WHATSAPP_MAX_LENGTH), 'filled to the last character');

      const family = '👨‍👩‍👧‍👦'; // 7 code points, 11 UTF-16 units
      const md = `**${family.repeat(800)}**`;
      const parts = renderAndSplit(md, WHATSAPP_TEXT);
      assert.ok(parts.length >= 3);
      assertParts(parts, md);
      for (const part of parts) assert.match(part.text, /^\*(👨‍👩‍👧‍👦)+\*$/u, 'whole families, bold closed and reopened');

      const mixed = Array.from({ length: 600 }, (_, i) => `${i} 日本 e\u0301 🇯🇵 👍🏽 **bold${i}** snake_case \\*`).join(' ');
      const mixedParts = renderAndSplit(mixed, WHATSAPP_TEXT);
      assertParts(mixedParts, mixed);
      const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
      const clusters = new Set([...segmenter.segment(renderWhole(mixed, WHATSAPP_TEXT).plain)].map((s) => s.segment));
      for (const part of mixedParts) for (const { segment } of segmenter.segment(part.plain)) assert.ok(clusters.has(segment) || /^\s$/.test(segment), `cut cluster ${JSON.stringify(segment)}`);
    });
  });
});
