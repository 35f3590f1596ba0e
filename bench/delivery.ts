/**
 * Delivery: render and split an agent reply (headings, prose with links and bare URLs, lists, code
 * blocks, quotes, tables) for Telegram, Slack, Discord and WhatsApp, at about 20 kB and 100 kB. Baseline:
 * markdown-it's own `render()` of the same text with the same options (the parse we build on, plus
 * its HTML writer): rendering for a chat and splitting into messages should cost little more than
 * rendering for a web page (target <= 1.5x for Telegram, whose measure adds up over runs; <= 2x for
 * Slack, Discord and WhatsApp, whose measures — 4,000 bytes, 2,000 and 4,096 characters — count
 * markup, so the splitter serialises candidate parts). The
 * naive cut every 4096 characters (what a gateway without a renderer does, breaking code blocks and
 * formatting) is its own row, for reference.
 */
import MarkdownIt from 'markdown-it';
import { renderAndSplit, DISCORD_MARKDOWN, SLACK_MRKDWN, TELEGRAM_HTML, WHATSAPP_TEXT } from '../nodes/core/delivery';
import { median, row, timeMs, type Row } from './lib';

const RUNS = 9;

/** A deterministic agent reply of at least `size` characters. */
export function reply(size: number): string {
  const words = 'the quick brown fox jumps over a lazy dog while agents stream replies to chats'.split(' ');
  let seed = 7;
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const sentence = (): string => Array.from({ length: 8 + rnd(10) }, () => words[rnd(words.length)]).join(' ') + '.';
  const sections: string[] = [];
  let length = 0;
  for (let s = 0; length < size; s++) {
    const section = [
      `## Section ${s}`,
      Array.from({ length: 4 }, sentence).join(' ') + ` See [docs ${s}](https://example.com/s/${s}?a=1&b=2) or https://example.com/_raw_/${s}.`,
      Array.from({ length: 5 }, (_, i) => `- item ${s}.${i} **${sentence()}**\n  - nested \`code ${i}\``).join('\n'),
      '```ts\n' + Array.from({ length: 6 + rnd(20) }, (_, i) => `const v${s}_${i} = a < b && c > d; // ${sentence()}`).join('\n') + '\n```',
      `> ${sentence()}\n> ${sentence()}`,
      ...(s % 3 === 0 ? [`| key | value |\n|---|---:|\n| a${s} | 1 |\n| b${s} | 22 |`] : []),
    ].join('\n\n');
    sections.push(section);
    length += section.length + 2;
  }
  return sections.join('\n\n');
}

function naiveSplit(text: string, limit: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += limit) out.push(text.slice(i, i + limit));
  return out;
}

/** Median time per call in µs, over RUNS runs of `iterations` calls each, after a warm-up run. */
function perCallUs(iterations: number, fn: () => void): number[] {
  const loop = (): number => timeMs(() => { for (let i = 0; i < iterations; i++) fn(); }).ms / iterations;
  loop();
  return Array.from({ length: RUNS }, () => loop() * 1000);
}

export async function runDelivery(log: (s: string) => void): Promise<Row[]> {
  const markdownIt = new MarkdownIt('default', { html: false, linkify: true, typographer: false });
  const rows: Row[] = [];
  for (const [size, iterations] of [[20_000, 40], [100_000, 8]] as const) {
    const md = reply(size);
    let parts = 0;
    let slackParts = 0;
    let discordParts = 0;
    let whatsappParts = 0;
    const subject: number[] = [];
    const slack: number[] = [];
    const discord: number[] = [];
    const whatsapp: number[] = [];
    const baseline: number[] = [];
    // Interleaved, so every side sees the same machine state.
    for (let r = 0; r < 3; r++) {
      subject.push(...perCallUs(iterations, () => { parts = renderAndSplit(md, TELEGRAM_HTML).length; }));
      baseline.push(...perCallUs(iterations, () => markdownIt.render(md)));
      slack.push(...perCallUs(iterations, () => { slackParts = renderAndSplit(md, SLACK_MRKDWN).length; }));
      discord.push(...perCallUs(iterations, () => { discordParts = renderAndSplit(md, DISCORD_MARKDOWN).length; }));
      whatsapp.push(...perCallUs(iterations, () => { whatsappParts = renderAndSplit(md, WHATSAPP_TEXT).length; }));
    }
    const kB = (md.length / 1000).toFixed(1);
    log(`delivery: ${md.length} chars -> ${parts} Telegram messages, ${slackParts} Slack messages, ${discordParts} Discord messages, ${whatsappParts} WhatsApp messages`);
    rows.push(row('delivery', `${kB} kB Markdown -> ${parts} Telegram parts`, 'render + split vs markdown-it render()', 'µs per reply', median(subject), median(baseline), '<= 1.5x'));
    rows.push(row('delivery', `${kB} kB Markdown -> ${slackParts} Slack mrkdwn parts (4,000 bytes)`, 'render + split vs markdown-it render()', 'µs per reply', median(slack), median(baseline), '<= 2x'));
    rows.push(row('delivery', `${kB} kB Markdown -> ${discordParts} Discord Markdown parts (2,000 characters)`, 'render + split vs markdown-it render()', 'µs per reply', median(discord), median(baseline), '<= 2x'));
    rows.push(row('delivery', `${kB} kB Markdown -> ${whatsappParts} WhatsApp parts (4,096 characters)`, 'render + split vs markdown-it render()', 'µs per reply', median(whatsapp), median(baseline), '<= 2x'));
    if (size === 20_000) {
      const naive = perCallUs(iterations * 50, () => naiveSplit(md, 4096));
      rows.push(row('delivery', `${kB} kB Markdown, naive cut every 4096 chars`, 'reference, no rendering', 'µs per reply', median(naive), null));
    }
  }
  return rows;
}
