/**
 * Markdown rendered as Discord Markdown (a message's `content`) and split into parts of at most
 * 2,000 characters. Every rendered text is read back with discord-reader.ts (Discord's
 * simple-markdown rules at their strictest): what a Discord user sees must be the reply's visible
 * text, formatted only as the Markdown asked, with no mention, ping, list, heading or spoiler the
 * agent's text could have smuggled in.
 */
import { strict as assert } from 'node:assert';
import {
  renderAndSplit,
  renderWhole,
  readDiscordMarkdown,
  discordVisibleText,
  serializeDiscordMarkdown,
  measureDiscordMarkdown,
  discordUrl,
  isMaskableLabel,
  DISCORD_MARKDOWN,
  DISCORD_MAX_LENGTH,
  type Mark,
  type RenderedPart,
  type Run,
} from '../../nodes/core/delivery';

const Z = '\u200b';
const B: Mark = { kind: 'bold' };
const I: Mark = { kind: 'italic' };
const S: Mark = { kind: 'strike' };
const U: Mark = { kind: 'underline' };

/** Styles an agent's text must never produce (Markdown cannot ask for them here). */
const NEVER = /^(mention|ping|list|heading|subtext|spoiler|underline)$/;

/** What Discord shows for a text, after checking nothing in it pings, mentions or turns into structure. */
function shown(text: string): string {
  const reading = readDiscordMarkdown(text);
  reading.styles.forEach((styles, k) => {
    const bad = styles.find((s) => NEVER.test(s));
    assert.equal(bad, undefined, `${bad} at ${k} (${JSON.stringify(reading.visible.slice(Math.max(0, k - 10), k + 10))}) in ${JSON.stringify(text)}`);
  });
  assert.equal(text.split('```').length - 1, 2 * reading.codeBlocks.length, `every \`\`\` is a fence of a code block in ${JSON.stringify(text)}`);
  return reading.visible;
}

/** The whole reply in Discord Markdown, checked: its visible text is the reply's visible text. */
function discord(md: string): string {
  const part = renderWhole(md, DISCORD_MARKDOWN);
  assert.equal(shown(part.text), part.plain, `visible text of ${JSON.stringify(part.text)}`);
  return part.text;
}

/** The styles Discord gives the visible characters of `text` that make up `word` (its first occurrence). */
function stylesOf(text: string, word: string): string[][] {
  const reading = readDiscordMarkdown(text);
  const at = reading.visible.indexOf(word);
  assert.ok(at >= 0, `${word} in ${reading.visible}`);
  return reading.styles.slice(at, at + word.length).map((s) => [...s].sort());
}

const runs = (...pairs: Array<[string, Mark[]]>): Run[] => pairs.map(([text, marks]) => ({ text, marks }));

describe('core/delivery Discord Markdown', () => {
  it('writes bold, italic, strike, code and links as Discord Markdown', () => {
    assert.equal(discord('**bold** *it* _it2_ ~~strike~~ `code`'), '**bold** *it* *it2* ~~strike~~ `code`');
    assert.equal(discord('**bold _nested_** and ~~**both**~~'), '**bold *nested*** and **~~both~~**');
    assert.equal(discord('**a\nb**'), '**a**\n**b**', 'formatting is closed at each line end and reopened');
    assert.equal(discord('line one  \nline two'), 'line one\nline two');
    assert.equal(discord('[docs](https://x.io/d) see'), '[docs](<https://x.io/d>) see');
    assert.deepEqual(stylesOf('**bold *nested***', 'nested'), Array(6).fill(['bold', 'italic']));
    assert.deepEqual(stylesOf('**~~both~~**', 'both'), Array(4).fill(['bold', 'strike']));
    // Underline has no Markdown spelling, but a run that carries it is written `__…__`.
    assert.equal(serializeDiscordMarkdown(runs(['under', [U]], [' and ', []], ['both', [U, S]])), '__under__ and ~~__both__~~');
  });

  it('nests markers that cover the same text, and separates a marker closing from one opening', () => {
    assert.equal(discord('***both*** **_both_** ~~**_all_**~~'), '***both*** ***both*** ***~~all~~***');
    assert.equal(discord('**a*b*c** ***a* b**'), '**a*b*c** ***a* b**');
    assert.equal(discord('**a**_b_ `a`**b** ~~a~~**b**'), `**a**${Z}*b* \`a\`**b** ~~a~~${Z}**b**`);
    assert.deepEqual(stylesOf('***a* b**', 'a'), [['bold', 'italic']]);
    assert.deepEqual(stylesOf(`**a**${Z}*b*`, 'b'), [['italic']]);
    // Discord needs no word boundary: markers go straight against letters, CJK and emoji.
    assert.equal(discord('un**believ**able foo*bar*baz x~~y~~z a`b`c 日本**語**です 😀**x**😀'), 'un**believ**able foo*bar*baz x~~y~~z a`b`c 日本**語**です 😀**x**😀');
    assert.deepEqual(stylesOf('un**believ**able', 'believ'), Array(6).fill(['bold']));
    // Whitespace at the edge of a styled stretch goes outside its markers.
    assert.equal(serializeDiscordMarkdown(runs(['bold ', [B]], ['x', []])), '**bold** x');
    assert.equal(serializeDiscordMarkdown(runs(['a', []], ['   ', [B]], ['b', []])), 'a   b');
    assert.equal(serializeDiscordMarkdown(runs(['a', [B]], [' ', [B, I]], ['b', [B]])), '**a b**');
    // Discord's strike and underline do not close before an underscore.
    assert.equal(serializeDiscordMarkdown(runs(['s', [S]], ['u', [U]])), `~~s~~${Z}__u__`);
    assert.equal(serializeDiscordMarkdown(runs(['x', [U, S]], [' y', []])), '~~__x__~~ y', 'same text: bold, italic, strike, underline from the outside in');
  });

  it('renders headings as bold lines, lists as bullet and number lines, rules, and tables as a code block', () => {
    // The shared layout hands every renderer headings as bold lines (no level): #### and deeper too.
    assert.equal(discord('# Title\n\n## Sub *x*\n\n#### Deep\n\n###### Deepest'), '**Title**\n\n**Sub *x***\n\n**Deep**\n\n**Deepest**');
    assert.equal(discord('- one\n- two\n  - deep\n- three'), '• one\n• two\n  • deep\n• three');
    assert.equal(discord('3. c\n4. d\n   - **x**'), '3\\. c\n4\\. d\n   • **x**', 'numbers as written: Discord neither renumbers nor re-indents them');
    assert.equal(discord('a\n\n---\n\nb'), 'a\n\n———\n\nb');
    assert.equal(discord('| name | n |\n|:--|--:|\n| apple | 3 |\n| 日本 | 12 |'), '```\nname  |  n\n------+---\napple |  3\n日本  | 12\n```', 'CJK counts two columns');
    assert.deepEqual(stylesOf('```\nname  |  n\n```', 'name'), Array(4).fill(['pre']));
  });

  describe('code', () => {
    it('writes code blocks as fences with their language, verbatim', () => {
      assert.equal(discord('```python\nif a < b and *c* or _d_:\n    pass  # `x` ~~y~~ ||z||\n```'), '```python\nif a < b and *c* or _d_:\n    pass  # `x` ~~y~~ ||z||\n```');
      assert.deepEqual(stylesOf('```python\nif *c* _d_\n```', '*c* _d_'), Array(7).fill(['pre']));
      assert.deepEqual(readDiscordMarkdown('```python\nx\n```').codeBlocks, [{ lang: 'python', text: 'x' }]);
      // Only a name Discord takes for a language (`[a-z0-9_+\-.#]`); another would show as code.
      assert.equal(discord('```c++\nx\n```\n\n```{.py}\ny\n```'), '```c++\nx\n```\n\n```\ny\n```');
      assert.equal(discord('```\nfirst\n\nthird\n```'), '```\nfirst\n\nthird\n```', 'a blank line stays inside the fence');
    });

    it('keeps a ``` inside code from closing the fence: a zero-width space between the backticks', () => {
      assert.equal(discord('````\n```inner\n````'), `\`\`\`\n\`${Z}\`${Z}\`inner\n\`\`\``);
      assert.equal(discordVisibleText(`\`\`\`\n\`${Z}\`${Z}\`inner\n\`\`\``), '```inner');
      assert.deepEqual(readDiscordMarkdown(discord('````md\n```js\nx\n```\n````\n\nafter')).codeBlocks.map((c) => c.lang), ['md']);
    });

    it('keeps blank lines at a code block edge outside its fence (Discord drops line breaks next to a fence)', () => {
      assert.equal(discord('```\n\n\nfirst\n\n\nlast\n\n\n```'), '\n\n```\nfirst\n\n\nlast\n```\n\n');
    });

    it('writes a code span holding backticks with a double fence, spaced where it starts or ends with one', () => {
      assert.equal(discord('`` x`y `` and ` `` ` and ```` `a ````'), `\`\`x\`y\`\` and \`\` \`${Z}\` \`\` and \`\` \`a\`\``);
      assert.deepEqual(stylesOf('``x`y``', 'x`y'), Array(3).fill(['code']));
      assert.equal(discordVisibleText('`` `a``'), '`a');
      assert.equal(discord('run `npm test` now, **bold `code` bold**'), 'run `npm test` now, **bold `code` bold**');
      assert.deepEqual(stylesOf('**bold `code` bold**', 'code'), Array(4).fill(['bold', 'code']));
    });

    it('breaks a code span\'s ** inside bold, and leaves an italic around code holding a *', () => {
      assert.equal(discord('**bold `a**b` bold**'), `**bold \`a*${Z}*b\` bold**`);
      assert.deepEqual(stylesOf(`**bold \`a*${Z}*b\` bold**`, 'a**b'), Array(4).fill(['bold', 'code']));
      assert.equal(discord('*see `a*b` now* and *see `a_b`*'), '*see* `a*b` *now* and *see `a_b`*');
    });
  });

  it('writes quotes as "> " on every quoted line, code blocks and blank lines inside them included', () => {
    assert.equal(discord('> quoted **text**\n> more\n>\n> para2'), '> quoted **text**\n> more\n> \n> para2');
    assert.deepEqual(stylesOf('> quoted **text**', 'text'), Array(4).fill(['bold', 'quote']));
    assert.equal(discord('> > nested\n> > deeper'), '> nested\n> deeper', 'nested quotes become one');
    const quoted = discord('> before\n>\n> ```js\n> code\n>\n> more\n> ```\n>\n> after');
    assert.equal(quoted, '> before\n> \n> ```js\n> code\n> \n> more\n> ```\n> \n> after');
    assert.deepEqual(stylesOf(quoted, 'code'), Array(4).fill(['pre', 'quote']));
    assert.equal(discord('- > quoted item'), '> • quoted item', 'Discord quotes whole lines: the bullet too');
  });

  describe('escaping', () => {
    it('escapes marker characters the agent wrote literally, minimally: where Discord could read them as markup', () => {
      assert.equal(discord('\\*not bold\\* \\_x\\_ \\~\\~y\\~\\~ \\`code\\` \\|\\|spoiler\\|\\|'), '\\*not bold\\* \\_x\\_ \\~\\~y\\~\\~ \\`code\\` \\|\\|spoiler\\|\\|');
      // No partner possible: left as written, so normal text stays readable.
      assert.equal(discord('snake_case_name, 2 * 3 = 6, ~5 min, a | b, a < b, x*y'), 'snake_case_name, 2 * 3 = 6, ~5 min, a | b, a < b, x\\*y');
      assert.equal(discord('**a\\* b**'), '**a\\* b**', 'a literal inside a span that could end it');
      assert.deepEqual(stylesOf('**a\\* b**', 'a* b'), Array(4).fill(['bold']));
      assert.equal(discord('*a \\* b*'), '*a \\* b*', 'a spaced * is escaped inside an italic, which it would break');
    });

    it('escapes backslashes only before what they would escape', () => {
      assert.equal(discord('C:\\Users\\x and C:\\\\日本 and \\\\* and a\\\\'), 'C:\\Users\\x and C:\\\\日本 and \\\\\\* and a\\');
      assert.equal(discordVisibleText('C:\\Users\\x and C:\\\\日本 and \\\\\\* and a\\'), 'C:\\Users\\x and C:\\日本 and \\* and a\\');
    });

    it('escapes what would start a link, a mention token or an embed-less link', () => {
      assert.equal(discord('\\[not a link\\](https://x.io) and \\[1\\] and [x]\\(y)'), '\\[not a link]\\(<https://x.io>) and \\[1] and \\[x]\\(y)');
      assert.equal(discord('a<b <#42> <:smile:123> <t:1700000000:R> </ask:12> <3'), 'a\\<b \\<#42> \\<:smile:123> \\<t:1700000000:R> \\</ask:12> \\<3');
      assert.equal(discord('see https\\://example.com/x'), 'see https\\://example.com/x', 'an address that is not a link stays unlinked');
    });

    it('escapes line-start syntax: headings, subtext, lists, quotes', () => {
      assert.equal(
        discord('\\# not heading\n\n\\- not list\n\n\\* not list\n\n1\\. not list\n\n\\> not quote\n\n\\-# not subtext\n\n#hashtag\n\n-5 degrees\n\n2024. a year'),
        '\\# not heading\n\n\\- not list\n\n\\* not list\n\n1\\. not list\n\n\\> not quote\n\n\\-# not subtext\n\n\\#hashtag\n\n-5 degrees\n\n2024\\. a year',
      );
      assert.equal(discord('> \\# quoted\n\n**\\- x**'), '> \\# quoted\n\n**\\- x**', 'after a quote marker or a marker too');
    });

    it('escapes a snake_case underscore only when a later underscore could close an italic it opened', () => {
      assert.equal(discord('snake_case and foo bar'), 'snake_case and foo bar');
      assert.equal(discord('snake_case and `foo_` bar'), 'snake\\_case and `foo_` bar');
      assert.equal(discord('a_b_c and `x_ y`'), 'a\\_b\\_c and `x_ y`', 'each one the escape lets run on');
      assert.equal(discord('snake_case\n\n```\nx_ = 1\n```'), 'snake\\_case\n\n```\nx_ = 1\n```', 'across lines and code blocks');
      assert.equal(discord('snake_case and `x_y`'), 'snake_case and `x_y`', 'an underscore before a word character closes nothing');
      assert.deepEqual(stylesOf('snake\\_case and `foo_` bar', 'foo_'), Array(4).fill(['code']));
    });
  });

  describe("an agent's text cannot mention, ping or inject", () => {
    it('keeps @everyone, @here, <@…>, <@&…>, <#…>, <:…:…> inert in the text itself', () => {
      const text = discord('@everyone @here @Everyone <@123> <@!5> <@&1234567890123> <#42> <:smile:123456789012345678>');
      assert.equal(text, `@${Z}everyone @${Z}here @${Z}Everyone \\<@${Z}123> \\<@${Z}!5> \\<@${Z}&1234567890123> \\<#42> \\<:smile:123456789012345678>`);
      assert.equal(shown(text), '@everyone @here @Everyone <@123> <@!5> <@&1234567890123> <#42> <:smile:123456789012345678>', 'shown literally');
      // No raw pattern for a ping survives, whatever a server or client matches on.
      assert.doesNotMatch(text, /@everyone|@here|<@!?\d|<@&\d/i);
    });

    it('keeps them inert in link labels and in code too', () => {
      assert.equal(discord('[@everyone](https://x.io) `@here <@&1>`'), `[@${Z}everyone](<https://x.io>) \`@${Z}here <@${Z}&1>\``);
      assert.equal(discord('```\n@everyone <@1>\n```'), `\`\`\`\n@${Z}everyone <@${Z}1>\n\`\`\``);
    });

    it('never links a javascript: (or any non-http) address', () => {
      assert.equal(discord('[click](javascript:alert(1)) [me](tg://user?id=1) [mail](mailto:a@b.c) [rel](/etc/passwd)'), '\\[click]\\(javascript:alert(1)) me mail rel');
      assert.ok(!readDiscordMarkdown(discord('[click](javascript:alert(1))')).styles.some((s) => s.some((x) => x.startsWith('link'))));
    });

    it('keeps ** and || in prose from styling anything', () => {
      const text = discord('2 ** 3 ** 4 and a || b || c and ||\\*\\*x\\*\\*||');
      assert.equal(text, '2 \\*\\* 3 \\*\\* 4 and a \\|\\| b \\|\\| c and \\|\\|\\*\\*x\\*\\*\\|\\|');
      assert.ok(readDiscordMarkdown(text).styles.every((s) => s.length === 0));
    });

    it('keeps ``` inside a code block from breaking out of it', () => {
      const text = discord('```\nx\n```@everyone **bold**\n```');
      assert.equal(text, `\`\`\`\nx\n\`${Z}\`${Z}\`@${Z}everyone **bold**\n\`\`\``);
      assert.deepEqual(readDiscordMarkdown(text).codeBlocks.length, 1);
      assert.deepEqual(stylesOf(text, '**bold**'), Array(8).fill(['pre']));
    });

    it('keeps a masked link from running on to a later ]( in code', () => {
      const text = discord('[a](https://x.io) then `](x)` and ](y)');
      assert.equal(text, `[a](<https://x.io>) then \`]${Z}(x)\` and ]\\(y)`);
      assert.deepEqual(stylesOf(text, 'a'), [['link https://x.io']]);
      assert.deepEqual(stylesOf(text, '](x)'), Array(4).fill(['code']));
    });
  });

  describe('links', () => {
    it('writes [label](<url>) and <url> for a bare address, so no link unfurls into an embed', () => {
      assert.equal(discord('[docs](https://x.io/d) https://x.io/a_b_ <https://auto.link>'), '[docs](<https://x.io/d>) <https://x.io/a_b_> <https://auto.link>');
      assert.equal(discord('www.example.com and ![a cat](https://i.example/cat.png)'), '[www.example.com](<http://www.example.com>) and [a cat](<https://i.example/cat.png>)');
      assert.equal(discord('[![build](https://img.shields.io/b.svg)](https://ci.example/job) [[1]](https://cite.io/1)'), '[build](<https://ci.example/job>) [[1]](<https://cite.io/1>)');
      assert.deepEqual(stylesOf('[docs](<https://x.io/d>)', 'docs'), Array(4).fill(['link https://x.io/d']));
      assert.deepEqual(stylesOf('<https://x.io/a_b_>', 'https://x.io/a_b_'), Array(17).fill(['link https://x.io/a_b_']));
    });

    it('percent-encodes what would end the address: whitespace, < > ( ) [ ] \\', () => {
      assert.equal(discord('[a](https://x.io/p(q)[r])'), '[a](<https://x.io/p%28q%29%5Br%5D>)');
      assert.equal(discordUrl('https://x.io/a b<c>(d)[e]\\f/@everyone'), 'https://x.io/a%20b%3Cc%3E%28d%29%5Be%5D%5Cf/%40everyone');
    });

    it('writes a label character Discord would read as markup between two links, escaped (Discord honours no escape in a label)', () => {
      assert.equal(discord('[foo_bar docs](https://d.io)'), '[foo_bar docs](<https://d.io>)');
      assert.equal(discord('[my_var_](https://d.io) [a `b` c](https://d.io)'), '[my_var](<https://d.io>)\\_ [a b c](<https://d.io>)');
      assert.equal(discord('[see <T>](https://d.io)'), '[see ](<https://d.io>)\\<[T](<https://d.io>)\\>');
      assert.ok(isMaskableLabel('[1] and snake_case and C++'));
      assert.ok(!isMaskableLabel('a `b`') && !isMaskableLabel('x_') && !isMaskableLabel('*a*') && !isMaskableLabel('a]') && !isMaskableLabel('see https://x'));
    });

    it('writes a label that is another address as text: never a link that shows one address and goes to another', () => {
      assert.equal(discord('[https://a.com](https://b.com) [https://x.io/](https://x.io)'), 'https\\://a.com <https://x.io/>');
    });

    it('keeps formatting around a link and drops it inside; a span whose marker the address holds goes around it', () => {
      assert.equal(discord('**[bold link](https://x.io)** and [**inner** `code`](https://y.io)'), '**[bold link](<https://x.io>)** and [inner code](<https://y.io>)');
      assert.deepEqual(stylesOf('**[bold link](<https://x.io>)**', 'bold link'), Array(9).fill(['bold', 'link https://x.io']));
      assert.equal(discord('**see [b](https://x.io/a**b) now** and *[i](https://x.io/a*b)*'), '**see** [b](<https://x.io/a**b>) **now** and [i](<https://x.io/a*b>)');
    });
  });

  it('plain is the visible text, and the measure counts the rendered text in UTF-16 units (never fewer than Discord\'s code points)', () => {
    assert.deepEqual(renderAndSplit('**a** & <b> [l](https://x.io) @here', DISCORD_MARKDOWN), [
      { text: `**a** & \\<b> [l](<https://x.io>) @${Z}here`, plain: 'a & <b> l @here' },
    ]);
    assert.equal(DISCORD_MAX_LENGTH, 2000);
    assert.equal(DISCORD_MARKDOWN.maxLength, 2000);
    assert.equal(measureDiscordMarkdown('**é** 日本 😀'), 2 + 1 + 2 + 1 + 2 + 1 + 2);
    assert.equal(DISCORD_MARKDOWN.additiveMeasure, undefined, 'markup counts: the splitter serialises candidate parts');
    assert.deepEqual(renderAndSplit('', DISCORD_MARKDOWN), []);
    // The serialiser resumes from earlier calls: the same runs always give the same text.
    const rs = renderWhole('x'.repeat(10), DISCORD_MARKDOWN).text;
    assert.equal(rs, 'xxxxxxxxxx');
    const some = runs(['a_b ', []], ['c', [B]], ['\n', []], ['`x_`', []]);
    assert.equal(serializeDiscordMarkdown(some), serializeDiscordMarkdown([...some]));
  });

  describe('splitting at 2,000 characters', () => {
    /** A ~20 kB reply: headings, prose with links and mentions, lists, quotes, several code blocks (one longer than a part), tables. */
    function longReply(): { markdown: string; codeBlocks: string[]; long: string[] } {
      const words = 'the quick brown fox jumps over a lazy dog while agents stream replies to chats'.split(' ');
      let seed = 11;
      const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      const sentence = (): string => Array.from({ length: 8 + rnd(10) }, () => words[rnd(words.length)]).join(' ') + '.';
      const codeBlocks: string[] = [];
      const sections: string[] = [];
      const long = Array.from({ length: 60 }, (_, i) => `  if (x${i} < ${i}) { y_${i}(); } // 😀 \`\`\` ${'-'.repeat(i % 30)}`);
      for (let s = 0; sections.join('\n\n').length < 20000; s++) {
        sections.push(`## Section ${s} & <@&1234567890123>`);
        sections.push(Array.from({ length: 4 }, sentence).join(' ') + ` See [docs ${s}](https://example.com/s/${s}?a=1&b=2) 😀 un**believ**able @everyone.`);
        sections.push(Array.from({ length: 5 }, (_, i) => `- item ${s}.${i} **${sentence()}**\n  - nested \`code_${i}\``).join('\n'));
        const code = Array.from({ length: 4 + rnd(14) }, (_, i) => `const v${s}_${i} = a < b && c > d; // ${sentence()}`).join('\n');
        codeBlocks.push(code);
        sections.push('```ts\n' + code + '\n```');
        sections.push(`> ${sentence()}\n> ${sentence()} ||not a spoiler||`);
        if (s % 3 === 0) sections.push(`| key | value |\n|---|---:|\n| a${s} | 1 |\n| b${s} | 22 |`);
        if (s === 4) sections.push('```js\n' + long.join('\n') + '\n```');
      }
      return { markdown: sections.join('\n\n'), codeBlocks, long };
    }

    function assertParts(parts: RenderedPart[], md: string, max = DISCORD_MAX_LENGTH): void {
      const whole = renderWhole(md, DISCORD_MARKDOWN);
      for (const [i, part] of parts.entries()) {
        assert.ok(part.text.length <= max, `part ${i} is ${part.text.length} characters > ${max}`);
        assert.equal(measureDiscordMarkdown(part.text), part.text.length);
        assert.equal(shown(part.text), part.plain, `part ${i}: what Discord shows is its plain text`);
        assert.ok(part.plain.trim(), `part ${i} is not blank`);
        assert.doesNotMatch(part.text.replace(/(?<=^|\n)(?:> )?```[a-z0-9_+\-.#]*(?=\n|$)/g, ''), /```/, `part ${i}: three backticks only as a fence, on a line of its own`);
      }
      const squash = (s: string): string => s.replace(/\s+/g, '');
      assert.equal(squash(parts.map((p) => p.plain).join('')), squash(whole.plain), 'nothing lost, repeated or reordered');
    }

    it('splits a long reply into valid parts of at most 2,000 characters, each short code block whole in one part with its language', () => {
      const { markdown, codeBlocks } = longReply();
      const parts = renderAndSplit(markdown, DISCORD_MARKDOWN);
      assert.ok(parts.length >= 10, `${parts.length} parts`);
      assertParts(parts, markdown);
      for (const code of codeBlocks.filter((c) => c.length + 10 < DISCORD_MAX_LENGTH)) {
        const holders = parts.filter((p) => p.plain.includes(code));
        assert.equal(holders.length, 1, `code block "${code.slice(0, 30)}" is whole in one part`);
        assert.ok(holders[0].text.includes('```ts\n' + code + '\n```'), 'inside one fence, with its language');
      }
      for (const part of parts) for (const block of readDiscordMarkdown(part.text).codeBlocks) assert.ok(['ts', 'js', ''].includes(block.lang), block.lang);
      // Parts are filled: none could have taken the next part's first block.
      for (let i = 0; i + 1 < parts.length; i++) {
        const next = renderAndSplit(parts[i + 1].plain.split('\n\n')[0], DISCORD_MARKDOWN)[0]?.text ?? '';
        assert.ok(parts[i].text.length + 2 + next.length > DISCORD_MAX_LENGTH * 0.9, `part ${i} (${parts[i].text.length} characters) could have been fuller`);
      }
    });

    it('a code block longer than a part becomes several complete fenced blocks, each with its language, lines whole', () => {
      const { markdown, long } = longReply();
      const parts = renderAndSplit(markdown, DISCORD_MARKDOWN);
      const holders = parts.filter((p) => long.some((line) => p.plain.includes(line)));
      assert.ok(holders.length >= 2, `${holders.length} parts hold the long block`);
      for (const part of holders) {
        const blocks = readDiscordMarkdown(part.text).codeBlocks.filter((b) => long.some((line) => b.text.includes(line.trim())));
        assert.equal(blocks.length, 1, 'one complete fence per part');
        assert.equal(blocks[0].lang, 'js', 'reopened with its language');
      }
      const shownLines = holders.flatMap((p) => readDiscordMarkdown(p.text).codeBlocks.flatMap((b) => b.text.split('\n')));
      assert.deepEqual(shownLines.filter((l) => long.includes(l)), long, 'every line whole, in order, indentation and ``` kept');
    });

    it('the same reply at a smaller limit splits the same way', () => {
      const { markdown } = longReply();
      const parts = renderAndSplit(markdown, { ...DISCORD_MARKDOWN, maxLength: 700 });
      assertParts(parts, markdown, 700);
    });

    it('counts emoji as two and CJK as one, and never cuts inside a grapheme cluster', () => {
      const cjk = '日本語のテキスト'.repeat(600);
      const cjkParts = renderAndSplit(cjk, DISCORD_MARKDOWN);
      assert.equal(cjkParts.length, 3);
      assertParts(cjkParts, cjk);
      assert.ok(cjkParts.slice(0, -1).every((p) => p.text.length === DISCORD_MAX_LENGTH), 'filled to the last character');

      const family = '👨‍👩‍👧‍👦'; // 7 code points, 11 UTF-16 units
      const md = `**${family.repeat(400)}**`;
      const parts = renderAndSplit(md, DISCORD_MARKDOWN);
      assert.ok(parts.length >= 3);
      assertParts(parts, md);
      for (const part of parts) assert.match(part.text, /^\*\*(👨‍👩‍👧‍👦)+\*\*$/u, 'whole families, bold closed and reopened');

      const mixed = Array.from({ length: 300 }, (_, i) => `${i} 日本 e\u0301 🇯🇵 👍🏽 **bold${i}** snake_case`).join(' ');
      const mixedParts = renderAndSplit(mixed, DISCORD_MARKDOWN);
      assertParts(mixedParts, mixed);
      const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
      const clusters = new Set([...segmenter.segment(renderWhole(mixed, DISCORD_MARKDOWN).plain)].map((s) => s.segment));
      for (const part of mixedParts) for (const { segment } of segmenter.segment(part.plain)) assert.ok(clusters.has(segment) || /^\s$/.test(segment), `cut cluster ${JSON.stringify(segment)}`);
    });
  });
});
