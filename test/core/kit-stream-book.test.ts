/** The open streams of an out node: a view per stream id, stale parts refused, idle streams forgotten. */
import { strict as assert } from 'node:assert';
import { StreamBook } from '../../nodes/core/kit/stream-book';

class View {
  closed = false;
  constructor(readonly name: string) {}
  close(): void {
    this.closed = true;
  }
}

describe('core/kit stream book', () => {
  it('opens a view for a new stream, keeps it for later parts and refuses parts not after the last', () => {
    const book = new StreamBook<string, View>(1000, () => 0);
    let opened = 0;
    const open = () => new View(`v${++opened}`);
    const first = book.partial('s', 0, 'chat a', open);
    assert.equal(first?.view.name, 'v1');
    assert.equal(first?.address, 'chat a');
    assert.equal(book.partial('s', 2, 'chat a', open)?.view.name, 'v1', 'the same view');
    assert.equal(book.partial('s', 2, 'chat a', open), undefined, 'a repeated part');
    assert.equal(book.partial('s', 1, 'chat a', open), undefined, 'a part overtaken by a later one');
    assert.equal(book.get('s')?.lastSeq, 2);
    assert.equal(book.partial('t', 5, 'chat b', open)?.view.name, 'v2', 'another stream, its own view');
    assert.equal(opened, 2);
    assert.equal(book.size, 2);
  });

  it('hands the stream to its final part once, then forgets it', () => {
    const book = new StreamBook<string, View>(1000, () => 0);
    book.partial('s', 0, 'a', () => new View('v'));
    assert.equal(book.take('s')?.view.name, 'v');
    assert.equal(book.take('s'), undefined);
    assert.equal(book.size, 0);
  });

  it('closes and forgets streams not seen for the idle time, keeping the ones still moving', () => {
    let now = 0;
    const book = new StreamBook<string, View>(1000, () => now);
    const quiet = book.partial('quiet', 0, 'a', () => new View('quiet'))!.view;
    const busy = book.partial('busy', 0, 'b', () => new View('busy'))!.view;
    now = 800;
    book.partial('busy', 1, 'b', () => new View('never'));
    now = 1001;
    book.forgetIdle();
    assert.equal(quiet.closed, true);
    assert.equal(book.get('quiet'), undefined);
    assert.equal(busy.closed, false);
    assert.ok(book.get('busy'));
    book.close();
    assert.equal(busy.closed, true, 'close stops every view');
    assert.equal(book.size, 0);
  });
});
