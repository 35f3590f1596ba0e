/** The stream editor: one message edited as the reply grows, throttled, rolled over at the limit. */
import { strict as assert } from 'node:assert';
import {
  StreamEditor,
  ManualClock,
  renderAndSplit,
  TELEGRAM_HTML,
  type RenderedPart,
  type StreamTarget,
} from '../../nodes/core/delivery';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A chat that records calls, keeps message texts, and counts how many calls overlap. */
class FakeChat implements StreamTarget {
  readonly calls: string[] = [];
  readonly texts = new Map<string, string>();
  inFlight = 0;
  maxInFlight = 0;
  failEdit: ((id: string) => unknown) | undefined;
  private nextId = 1;

  constructor(private readonly delayMs = 0) {}

  async send(part: RenderedPart): Promise<string> {
    await this.enter();
    const id = `m${this.nextId++}`;
    this.texts.set(id, part.text);
    this.calls.push(`send ${id}`);
    this.inFlight--;
    return id;
  }

  async edit(id: string, part: RenderedPart): Promise<void> {
    await this.enter();
    this.inFlight--;
    const failure = this.failEdit?.(id);
    if (failure) throw failure;
    assert.ok(this.texts.has(id), `edit of unknown message ${id}`);
    this.texts.set(id, part.text);
    this.calls.push(`edit ${id}`);
  }

  async delete(id: string): Promise<void> {
    this.texts.delete(id);
    this.calls.push(`delete ${id}`);
  }

  /** The chat as the user sees it, oldest message first. */
  get shown(): string[] {
    return [...this.texts.values()];
  }

  private async enter(): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.delayMs) await sleep(this.delayMs);
    else await Promise.resolve();
  }
}

const paragraph = (i: number): string => `Paragraph ${i}: ${'lorem ipsum '.repeat(80).trim()}`; // ~970 chars

describe('core/delivery stream editor', () => {
  it('sends the first text at once, then edits at most once per interval with the latest text', async () => {
    const clock = new ManualClock();
    const chat = new FakeChat();
    const editor = new StreamEditor(chat, { format: TELEGRAM_HTML, clock });
    editor.update('Hel');
    await clock.advance(0);
    assert.deepEqual(chat.calls, ['send m1']);
    editor.update('Hello');
    editor.update('Hello **wor');
    await clock.advance(999);
    assert.deepEqual(chat.calls, ['send m1'], 'nothing before the interval has passed');
    editor.update('Hello **world**');
    await clock.advance(1);
    assert.deepEqual(chat.calls, ['send m1', 'edit m1']);
    assert.deepEqual(chat.shown, ['Hello <b>world</b>']);
    await clock.advance(5000);
    assert.equal(chat.calls.length, 2, 'no edit without a new update');
  });

  it('skips edits when the rendered text did not change', async () => {
    const clock = new ManualClock();
    const chat = new FakeChat();
    const editor = new StreamEditor(chat, { format: TELEGRAM_HTML, clock, intervalMs: 100 });
    editor.update('Same text');
    await clock.advance(0);
    editor.update('Same text  '); // trailing spaces render the same
    await clock.advance(100);
    editor.update('Same text\n\n');
    await clock.advance(100);
    assert.deepEqual(chat.calls, ['send m1']);
    await editor.finish('Same text');
    assert.deepEqual(chat.calls, ['send m1']);
  });

  it('rolls over to a new message when the text outgrows the limit, keeping what fits in the first', async () => {
    const clock = new ManualClock();
    const chat = new FakeChat();
    const editor = new StreamEditor(chat, { format: TELEGRAM_HTML, clock });
    let text = '';
    for (let i = 0; i < 9; i++) {
      text += (i ? '\n\n' : '') + paragraph(i);
      editor.update(text);
      await clock.advance(1000);
      const expected = renderAndSplit(text, TELEGRAM_HTML).map((p) => p.text);
      assert.deepEqual(chat.shown, expected, `after paragraph ${i}`);
    }
    assert.equal(chat.shown.length, 3);
    assert.deepEqual(chat.calls.filter((c) => c.startsWith('send')), ['send m1', 'send m2', 'send m3']);
    assert.ok(chat.shown.every((t) => t.length <= 4096));
  });

  it('finish leaves the messages exactly as renderAndSplit(wholeText) would have sent them', async () => {
    const clock = new ManualClock();
    const chat = new FakeChat();
    const editor = new StreamEditor(chat, { format: TELEGRAM_HTML, clock });
    const whole = [
      '# Report',
      paragraph(1),
      '```ts\n' + Array.from({ length: 150 }, (_, i) => `const x${i} = ${i} < 10;`).join('\n') + '\n```',
      '- a\n- b **bold**',
      paragraph(2),
    ].join('\n\n');
    // Stream in uneven deltas, some landing inside the code fence (an open fence renders as code).
    for (let at = 0; at < whole.length; at += 337) {
      editor.update(whole.slice(0, at));
      await clock.advance(400);
    }
    const ids = await editor.finish(whole);
    const expected = renderAndSplit(whole, TELEGRAM_HTML).map((p) => p.text);
    assert.deepEqual(chat.shown, expected);
    assert.deepEqual(ids, [...chat.texts.keys()]);
    editor.update('late text');
    await clock.advance(5000);
    assert.deepEqual(chat.shown, expected, 'nothing changes after finish');
  });

  it('never has two sends or edits in flight, and finish waits for the one running', async () => {
    const chat = new FakeChat(3);
    const editor = new StreamEditor(chat, { format: TELEGRAM_HTML, intervalMs: 0 });
    let text = '';
    for (let i = 0; i < 40; i++) {
      text += `${paragraph(i).slice(0, 300)}\n\n`;
      editor.update(text);
      if (i % 4 === 0) await sleep(2);
    }
    await editor.finish(text);
    assert.equal(chat.maxInFlight, 1);
    assert.deepEqual(chat.shown, renderAndSplit(text, TELEGRAM_HTML).map((p) => p.text));
  });

  it('ignores "message is not modified", reports other intermediate failures, and finish rejects on failure', async () => {
    const clock = new ManualClock();
    const chat = new FakeChat();
    const errors: unknown[] = [];
    const editor = new StreamEditor(chat, { format: TELEGRAM_HTML, clock, intervalMs: 10, onError: (e) => errors.push(e) });
    editor.update('one');
    await clock.advance(10);
    chat.failEdit = () => ({ error_code: 400, description: 'Bad Request: message is not modified: specified new message content is exactly the same' });
    editor.update('one two');
    await clock.advance(10);
    assert.deepEqual(errors, []);
    chat.failEdit = () => new Error('network down');
    editor.update('one two three');
    await clock.advance(10);
    assert.equal(errors.length, 1);
    await clock.advance(100);
    assert.equal(errors.length, 1, 'a failed edit is not retried in a loop, only by the next update');
    await assert.rejects(editor.finish('one two three four'), /network down/);
    chat.failEdit = undefined;
  });

  it('removes streamed messages the final text no longer needs, when the target can delete', async () => {
    const clock = new ManualClock();
    const chat = new FakeChat();
    const editor = new StreamEditor(chat, { format: TELEGRAM_HTML, clock });
    editor.update([1, 2, 3, 4, 5].map(paragraph).join('\n\n'));
    await clock.advance(0);
    assert.equal(chat.shown.length, 2);
    await editor.finish('Short final answer.');
    assert.deepEqual(chat.shown, ['Short final answer.']);
    assert.deepEqual(chat.calls, ['send m1', 'send m2', 'edit m1', 'delete m2']);
  });
});
