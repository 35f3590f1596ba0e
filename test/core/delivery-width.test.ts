/** Display width for table columns: per grapheme cluster, East Asian Wide/Fullwidth and emoji are 2. */
import { strict as assert } from 'node:assert';
import { displayWidth } from '../../nodes/core/delivery';

describe('core/delivery display width', () => {
  it('counts ASCII 1, East Asian Wide and Fullwidth 2, halfwidth katakana 1', () => {
    assert.equal(displayWidth('table'), 5);
    assert.equal(displayWidth('日本語'), 6);
    assert.equal(displayWidth('한국어'), 6);
    assert.equal(displayWidth('ひらがな'), 8);
    assert.equal(displayWidth('ＡＢＣ！'), 8);
    assert.equal(displayWidth('ｶﾀｶﾅ'), 4);
    assert.equal(displayWidth('\u{20000}'), 2, 'CJK Extension B, outside the BMP');
  });

  it('counts an emoji cluster 2, however many code points it has', () => {
    assert.equal(displayWidth('😀'), 2);
    assert.equal(displayWidth('👨‍👩‍👧‍👦'), 2, 'ZWJ family');
    assert.equal(displayWidth('🇯🇵'), 2, 'flag: two regional indicators');
    assert.equal(displayWidth('👍🏽'), 2, 'skin tone');
    assert.equal(displayWidth('🏳️‍🌈'), 2);
    assert.equal(displayWidth('❤️'), 2, 'VS16 makes a pictograph an emoji');
    assert.equal(displayWidth('1️⃣'), 2, 'keycap');
  });

  it('counts text-style pictographs 1, and marks, joiners and variation selectors 0', () => {
    assert.equal(displayWidth('©'), 1);
    assert.equal(displayWidth('❤'), 1);
    assert.equal(displayWidth('🇯'), 1, 'half a flag');
    assert.equal(displayWidth('cafe\u0301'), 4);
    assert.equal(displayWidth('a\u200bb'), 2, 'zero-width space');
    assert.equal(displayWidth('\u200d'), 0);
    assert.equal(displayWidth('x\uFE0E'), 1);
  });
});
