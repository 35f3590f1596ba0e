/**
 * Splitting stays linear in the reply, checked without a clock: the format's serialise and measure
 * functions count every character they are handed, and doubling the reply may at most about double
 * that count. The old splitter serialised and measured whole candidate parts inside binary
 * searches, and whole remaining blocks on every cut, so one long list or code block cost
 * quadratically.
 */
import { strict as assert } from 'node:assert';
import { renderAndSplit, DISCORD_MARKDOWN, SLACK_MRKDWN, TELEGRAM_HTML, WHATSAPP_TEXT, type PlatformFormat, type Run } from '../../nodes/core/delivery';

interface Counted {
  format: PlatformFormat;
  chars: () => number;
}

/** `base` with every character it serialises or measures counted (the fast path kept, if it has one). */
function counting(base: PlatformFormat, overrides: Partial<PlatformFormat> = {}): Counted {
  let chars = 0;
  const inner = { ...base, ...overrides };
  const measure = (rendered: string): number => {
    chars += rendered.length;
    return inner.measure(rendered);
  };
  const serialize = (runs: readonly Run[]): string => {
    for (const run of runs) chars += run.text.length;
    return (inner.serialize ?? ((rs: readonly Run[]) => rs.map((r) => r.text).join('')))(runs);
  };
  const additive = inner.additiveMeasure?.of === inner.measure ? inner.additiveMeasure : undefined;
  const format: PlatformFormat = {
    ...inner,
    measure,
    serialize,
    additiveMeasure: additive && {
      of: measure,
      text: (visible: string) => {
        chars += visible.length;
        return additive.text(visible);
      },
    },
  };
  return { format, chars: () => chars };
}

const sections = (n: number): string =>
  Array.from({ length: n }, (_, s) =>
    [
      `## Section ${s}`,
      `Some prose with [a link](https://example.com/${s}) and **bold** words, ${'more words '.repeat(20)}`,
      Array.from({ length: 5 }, (_, i) => `- item ${i} with \`code\``).join('\n'),
      '```ts\n' + Array.from({ length: 10 }, (_, i) => `const v${i} = a < b; // ${'x'.repeat(40)}`).join('\n') + '\n```',
      `> a quote ${s}`,
    ].join('\n\n'),
  ).join('\n\n');

const shapes: Record<string, (n: number) => string> = {
  'a reply of many blocks': (n) => sections(n),
  'one long list': (n) => Array.from({ length: n * 12 }, (_, i) => `- item ${i} with a [link](https://x.io/${i}) and **bold**`).join('\n'),
  'one long code block': (n) => '```\n' + Array.from({ length: n * 12 }, (_, i) => `line ${i} ${'-'.repeat(50)}`).join('\n') + '\n```',
  'one long paragraph': (n) => Array.from({ length: n * 60 }, (_, i) => `w${i}`).join(' '),
  'one unbroken word': (n) => 'z'.repeat(n * 700),
};

function work(format: () => Counted, markdown: string): number {
  const counted = format();
  const parts = renderAndSplit(markdown, counted.format);
  assert.ok(parts.length > 3, `${parts.length} parts: the reply is long enough to need several cuts`);
  return counted.chars();
}

describe('core/delivery scaling (no timing)', () => {
  for (const [shape, make] of Object.entries(shapes)) {
    it(`${shape}: twice the reply, at most about twice the characters serialised and measured`, () => {
      for (const n of [40, 160]) {
        const small = make(n);
        const large = make(2 * n);
        const ratio = work(() => counting(TELEGRAM_HTML), large) / work(() => counting(TELEGRAM_HTML), small);
        assert.ok(ratio <= 2.5, `Telegram HTML, ${small.length} -> ${large.length} chars: ${ratio.toFixed(2)}x the work`);
        // Without an additive measure the generic path serialises candidates, still linearly.
        const generic = (): Counted => counting(TELEGRAM_HTML, { measure: (html: string) => html.length });
        const genericRatio = work(generic, large) / work(generic, small);
        assert.ok(genericRatio <= 2.5, `generic measure, ${small.length} -> ${large.length} chars: ${genericRatio.toFixed(2)}x the work`);
        // Slack's byte measure counts markup: the generic path, with Slack's serialiser.
        const slackRatio = work(() => counting(SLACK_MRKDWN), large) / work(() => counting(SLACK_MRKDWN), small);
        assert.ok(slackRatio <= 2.5, `Slack mrkdwn, ${small.length} -> ${large.length} chars: ${slackRatio.toFixed(2)}x the work`);
        // Discord's 2,000 characters count markup too: the generic path, with Discord's serialiser.
        const discordRatio = work(() => counting(DISCORD_MARKDOWN), large) / work(() => counting(DISCORD_MARKDOWN), small);
        assert.ok(discordRatio <= 2.5, `Discord Markdown, ${small.length} -> ${large.length} chars: ${discordRatio.toFixed(2)}x the work`);
        // WhatsApp's 4,096 characters count markup too: the generic path, with WhatsApp's serialiser.
        const whatsappRatio = work(() => counting(WHATSAPP_TEXT), large) / work(() => counting(WHATSAPP_TEXT), small);
        assert.ok(whatsappRatio <= 2.5, `WhatsApp, ${small.length} -> ${large.length} chars: ${whatsappRatio.toFixed(2)}x the work`);
      }
    });
  }

  it('the fast path serialises each part once and measures no serialised part at all', () => {
    let measured = 0;
    let serialized = 0;
    const measure = (html: string): number => {
      measured++;
      return TELEGRAM_HTML.measure(html);
    };
    const format: PlatformFormat = {
      ...TELEGRAM_HTML,
      measure,
      serialize: (runs) => {
        serialized++;
        return TELEGRAM_HTML.serialize!(runs);
      },
      // Bound to this format's own measure: a copy with another measure would not get the fast path.
      additiveMeasure: { of: measure, text: (visible) => visible.length },
    };
    const parts = renderAndSplit(sections(100), format);
    assert.ok(parts.length > 10);
    assert.equal(measured, 0);
    assert.equal(serialized, parts.length);
  });
});
