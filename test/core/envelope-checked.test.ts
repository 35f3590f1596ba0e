/**
 * The envelope is checked once per `msg.chat` object (a WeakMap in envelope.ts): every chatgate
 * node a message passes validates it, and only the first pays for the schema. The trade-off, shown
 * here so that changing it is a decision: a replaced `msg.chat` or `msg.chat.replyTo`, or a copy
 * (Node-RED clones a message sent down two wires), is checked again; a field edited IN PLACE on a
 * chat already checked is not — a node that edits `msg.chat` must keep it valid.
 */
import assert from 'node:assert/strict';
import { isCheckedChat, validateChat } from '../../nodes/core/envelope';
import { readOutbound } from '../../nodes/core/outbound';
import { inbound } from '../helpers/red';

describe('core/envelope checked once per chat object', () => {
  it('a valid chat is checked once and then recognised, the same object handed back', () => {
    const { chat } = inbound({ platform: 'webchat', chatId: 'c1', userId: 'u1' });
    assert.equal(isCheckedChat(chat), false);
    const r = validateChat(chat);
    assert.ok(r.ok);
    assert.equal(r.value, chat, 'no copy');
    assert.equal(isCheckedChat(chat), true);
  });

  it('a replaced replyTo, a replaced chat or a copy is checked again', () => {
    const msg = inbound({ platform: 'webchat', chatId: 'c1', userId: 'u1' });
    assert.ok(validateChat(msg.chat).ok);
    msg.chat.replyTo = { ...msg.chat.replyTo, platform: 'nowhere' } as never;
    assert.equal(isCheckedChat(msg.chat), false);
    const again = readOutbound({ payload: 'x', chat: msg.chat });
    assert.equal(again.ok, false, 'a new reply address is validated');
    const copy = JSON.parse(JSON.stringify(inbound({ platform: 'webchat', chatId: 'c2', userId: 'u2' }).chat));
    assert.equal(isCheckedChat(copy), false);
    copy.chatId = 42;
    assert.equal(validateChat(copy).ok, false, 'a clone is checked on its own');
  });

  it('the documented limit: a field edited in place on a checked chat is not checked again', () => {
    const { chat } = inbound({ platform: 'webchat', chatId: 'c3', userId: 'u3' });
    assert.ok(validateChat(chat).ok);
    (chat as { chatType: unknown }).chatType = 'not a chat type';
    assert.equal(validateChat(chat).ok, true, 'trusted: the same object with the same reply address');
    (chat.replyTo as { chatId: unknown }).chatId = 7;
    const out = readOutbound({ payload: 'x', chat });
    assert.equal(out.ok, true, 'the reply address object is the one checked, so it is trusted too');
  });
});
