/** Markdown rendered for Telegram (HTML, parse_mode 'HTML') and as the plain fallback. */
import { strict as assert } from 'node:assert';
import {
  parseMarkdown,
  renderWhole,
  renderAndSplit,
  telegramVisibleText,
  measureTelegramHtml,
  TELEGRAM_HTML,
  PLAIN,
} from '../../nodes/core/delivery';

const html = (md: string): string => renderWhole(md, TELEGRAM_HTML).text;
const plain = (md: string): string => renderWhole(md, TELEGRAM_HTML).plain;

describe('core/delivery render', () => {
  it('parses once into blocks with inline runs', () => {
    const blocks = parseMarkdown('# T\n\npara **b** `c` [l](https://x)\n\n- a\n  1. b\n\n> q\n\n```js\nx\n```\n\n---\n\n| h |\n|---|\n| v |');
    assert.deepEqual(
      blocks.map((b) => b.type),
      ['heading', 'paragraph', 'list', 'blockquote', 'code', 'hr', 'table'],
    );
    const list = blocks[2];
    assert.ok(list.type === 'list' && list.items[0][1].type === 'list' && list.items[0][1].ordered);
    assert.deepEqual(blocks[4], { type: 'code', lang: 'js', text: 'x' });
  });

  it('renders inline styles with the tags Telegram accepts', () => {
    assert.equal(
      html('**bold** *it* ~~strike~~ `code` [link](https://example.com/a?b=1&c=2)'),
      '<b>bold</b> <i>it</i> <s>strike</s> <code>code</code> <a href="https://example.com/a?b=1&amp;c=2">link</a>',
    );
    assert.equal(html('***both*** and **bold _nested_**'), '<i><b>both</b></i> and <b>bold <i>nested</i></b>');
    assert.equal(html('line one  \nline two\nline three'), 'line one\nline two\nline three');
  });

  it('renders headings as bold lines, lists as bullet and number lines, nested with indentation', () => {
    assert.equal(html('# Title\n\n## Sub *x*'), '<b>Title</b>\n\n<b>Sub <i>x</i></b>');
    assert.equal(html('- one\n- two\n  - deep\n    - deeper\n- three'), '• one\n• two\n  • deep\n    • deeper\n• three');
    assert.equal(html('3. c\n4. d\n   - x'), '3. c\n4. d\n   • x');
    assert.equal(html('- para one\n\n  para two'), '• para one\n  para two');
  });

  it('renders code blocks as pre, with the language when given', () => {
    assert.equal(html('```python\nif a < b:\n    pass\n```'), '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>');
    assert.equal(html('```\nplain\n```'), '<pre>plain</pre>');
    assert.equal(html('    indented\n    code'), '<pre>indented\ncode</pre>');
    assert.equal(html('```"><script>\nx\n```'), '<pre><code class="language-script">x</code></pre>', 'a hostile language is reduced to safe characters');
  });

  it('renders blockquotes, rules and tables', () => {
    assert.equal(html('> quoted **text**\n> more\n\n> > nested'), '<blockquote>quoted <b>text</b>\nmore</blockquote>\n\n<blockquote>nested</blockquote>');
    assert.equal(html('a\n\n---\n\nb'), 'a\n\n———\n\nb');
    assert.equal(html('| name | n |\n|:--|--:|\n| apple | 3 |\n| kiwi | 12 |'), '<pre>name  |  n\n------+---\napple |  3\nkiwi  | 12</pre>');
  });

  it('keeps code and pre free of other entities, as Telegram requires', () => {
    assert.equal(html('**bold `code` bold**'), '<b>bold </b><code>code</code><b> bold</b>');
    assert.equal(html('[`code link`](https://x.io)'), '<a href="https://x.io">code link</a>');
    assert.equal(html('> quote\n>\n> ```\n> code\n> ```'), '<blockquote>quote</blockquote>\n\n<pre>code</pre>');
  });

  it('escapes text and attributes, so raw HTML in a reply stays text', () => {
    const md = '<script>alert(1)</script> <b onclick="x()">hi</b> a & b < c > d &amp;';
    assert.equal(html(md), '&lt;script&gt;alert(1)&lt;/script&gt; &lt;b onclick="x()"&gt;hi&lt;/b&gt; a &amp; b &lt; c &gt; d &amp;');
    assert.equal(plain(md), '<script>alert(1)</script> <b onclick="x()">hi</b> a & b < c > d &');
    assert.equal(html('<div>\nblock html\n</div>'), '&lt;div&gt;\nblock html\n&lt;/div&gt;');
    assert.equal(html('[x](https://a.b/"onmouseover="y)'), '<a href="https://a.b/%22onmouseover=%22y">x</a>');
  });

  it('keeps only http(s), tg and mailto links; others come out as text', () => {
    assert.equal(html('[bad](javascript:alert(1))'), '[bad](javascript:alert(1))');
    assert.equal(html('[rel](/etc/passwd) [ftp](ftp://x) [data](data:text/html,x)'), 'rel ftp [data](data:text/html,x)');
    assert.equal(html('[me](tg://user?id=1) [mail](mailto:a@b.c) <https://auto.link>'),
      '<a href="tg://user?id=1">me</a> <a href="mailto:a@b.c">mail</a> <a href="https://auto.link">https://auto.link</a>');
    assert.equal(html('![a cat](https://i.example/cat.png)'), '<a href="https://i.example/cat.png">a cat</a>');
    // Was 'www.example.com' as text (linkify off); bare URLs are links now (defect 4 of issue 9).
    assert.equal(html('www.example.com'), '<a href="http://www.example.com">www.example.com</a>');
    assert.equal(html('ftp://x.io/_a_ and javascript:alert(1)'), 'ftp://x.io/_a_ and javascript:alert(1)', 'unsafe schemes stay text, and whole');
  });

  it('flattens nested links: a badge (an image inside a link) becomes one link to where it pointed', () => {
    assert.equal(html('[![build](https://img.shields.io/b.svg)](https://ci.example/job)'), '<a href="https://ci.example/job">build</a>');
    assert.equal(
      html('[![a](https://i.example/1.svg)](https://ci.example/1) [![b](https://i.example/2.svg)](https://ci.example/2)'),
      '<a href="https://ci.example/1">a</a> <a href="https://ci.example/2">b</a>',
    );
    assert.equal(html('[![](https://i.example/1.svg)](https://ci.example/1)'), '<a href="https://ci.example/1">https://ci.example/1</a>', 'no alt text: the address is the label');
    // markdown-it itself nests an autolink inside a link's label; Telegram refuses <a> in <a>.
    assert.equal(html('[see <https://b.example>](https://a.example)'), '<a href="https://a.example">see https://b.example</a>');
    assert.equal(html('[**bold ![img](https://i.example)**](https://a.example)'), '<a href="https://a.example"><b>bold img</b></a>');
  });

  it('keeps bare URLs whole and unformatted: their underscores and stars are never emphasis', () => {
    assert.equal(html('https://example.com/_private_/x'), '<a href="https://example.com/_private_/x">https://example.com/_private_/x</a>');
    assert.equal(html('see www.example.com/_a_/b_c_ now'), 'see <a href="http://www.example.com/_a_/b_c_">www.example.com/_a_/b_c_</a> now');
    assert.equal(html('**https://x.io/a_b_** and _x_'), '<b><a href="https://x.io/a_b_">https://x.io/a_b_</a></b> and <i>x</i>');
    assert.equal(html('mail first_last_@example.com'), 'mail <a href="mailto:first_last_@example.com">first_last_@example.com</a>');
    assert.equal(html('`https://x.io/_a_`'), '<code>https://x.io/_a_</code>', 'code spans stay code');
    assert.equal(html('https://x.io/?a=1&b=<2>'), '<a href="https://x.io/?a=1&amp;b=">https://x.io/?a=1&amp;b=</a>&lt;2&gt;');
  });

  it('pads table columns by display width: CJK and emoji take two columns, marks none', () => {
    const table = html('| name | note |\n|---|---|\n| 日本語 | wide |\n| 😀👍🏽 | emoji |\n| cafe\u0301 | accent |\n| 🇯🇵 | flag |');
    assert.equal(
      table,
      '<pre>name   | note\n-------+-------\n日本語 | wide\n😀👍🏽   | emoji\ncafe\u0301   | accent\n🇯🇵     | flag</pre>',
    );
  });

  it('plain is the visible text of the HTML, and measure counts it in UTF-16 units', () => {
    const md = '# T\n\n**a** & `<b>` [l](https://x) 😀\n\n- x\n\n```ts\nif (a < b) {}\n```';
    const part = renderWhole(md, TELEGRAM_HTML);
    assert.equal(telegramVisibleText(part.text), part.plain);
    assert.equal(measureTelegramHtml(part.text), part.plain.length);
    assert.equal(measureTelegramHtml('<b>&lt;&#x1F600;&#65;</b>'), 4);
  });

  it('the plain format renders the same content without markup; empty input gives no parts', () => {
    assert.deepEqual(renderAndSplit('**a** [b](https://c)', PLAIN), [{ text: 'a b', plain: 'a b' }]);
    assert.deepEqual(renderAndSplit('', TELEGRAM_HTML), []);
    assert.deepEqual(renderAndSplit('  \n\n ', TELEGRAM_HTML), []);
  });
});
