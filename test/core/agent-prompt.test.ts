/** System prompt placeholders and the message list: looked up in the envelope, never evaluated. */
import { strict as assert } from 'node:assert';
import { buildMessages, fillPrompt } from '../../nodes/core/agent/prompt';

describe('core/agent prompt', () => {
  const ctx = {
    chat: { userName: 'Alice', platform: 'telegram', replyTo: { chatId: 'c9' }, isBot: false, attachments: [] },
    thread: { id: 'th_1', turn: 3 },
  };

  it('fills chat and thread placeholders, any depth', () => {
    assert.equal(
      fillPrompt('Hi {{chat.userName}} on {{ chat.platform }}, thread {{thread.id}} turn {{thread.turn}}, chat {{chat.replyTo.chatId}}, bot {{chat.isBot}}', ctx),
      'Hi Alice on telegram, thread th_1 turn 3, chat c9, bot false',
    );
  });

  it('unknown paths, other roots and objects become empty; nothing is evaluated', () => {
    assert.equal(fillPrompt('[{{chat.nope}}][{{env.HOME}}][{{process.env.X}}][{{chat.replyTo}}][{{chat.constructor}}][{{chat.__proto__.x}}]', ctx), '[][][][][][]');
    assert.equal(fillPrompt('{{chat.userName.length}}', ctx), '');
    assert.equal(fillPrompt('{{ 1 + 1 }} {{chat.userName)}}', ctx), '{{ 1 + 1 }} {{chat.userName)}}', 'not a placeholder: left as written');
    assert.equal(fillPrompt('{{chat.userName}}', {}), '');
  });

  it('builds system, history, user', () => {
    assert.deepEqual(buildMessages('sys', [{ role: 'user', content: 'q', at: 1 }, { role: 'assistant', content: 'a', at: 2 }], 'now'), [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'now' },
    ]);
    assert.deepEqual(buildMessages('  ', [], 'x'), [{ role: 'user', content: 'x' }]);
  });
});
