/**
 * The Slack modules that need neither Node-RED nor Slack: settings, what a failure means (which
 * decides every retry), the text a person reads, addresses, buttons and the temporary format.
 */
import assert from 'node:assert/strict';
import { webApi } from '@slack/bolt';
import { readAddress } from '../../nodes/slack/address';
import { readButtons } from '../../nodes/slack/blocks';
import { slackToText, stripLeadingMention } from '../../nodes/slack/event-to-envelope';
import { parseInbound } from '../../nodes/slack/event-schema';
import { fileOrigins, isAllowedFileUrl, readOutFile } from '../../nodes/slack/files';
import { inertMarkdown } from '../../nodes/slack/native-stream';
import { readPrompts } from '../../nodes/slack/prompts';
import { classify, describeSendError } from '../../nodes/slack/send-errors';
import { readAppSettings } from '../../nodes/slack/settings';
import { renderAndSplit, SLACK_MRKDWN } from '../../nodes/core/delivery';

describe('slack modules', () => {
  it('settings: token shapes, the mode, the API base URL and bounded timings', () => {
    const good = readAppSettings({ id: 'n1' }, { token: 'xoxb-1-2-abc', appToken: 'xapp-1-A-2-def' });
    assert.deepEqual(good.problems, []);
    assert.equal(good.settings.mode, 'socket');
    assert.equal(good.settings.slackApiUrl, 'https://slack.com/api/');
    assert.equal(good.settings.path, '/chatgate/slack/n1');
    assert.deepEqual(readAppSettings({ id: 'n1' }, { token: 'xoxp-1-2', appToken: 'xoxb-3' }).problems, ['badToken', 'badAppToken']);
    assert.deepEqual(readAppSettings({ id: 'n1', mode: 'http' }, { token: 'xoxb-1' }).problems, ['noSigningSecret']);
    const gov = readAppSettings({ id: 'n1', apiRoot: 'https://slack-gov.com/api/', callTimeout: '9999', pingTimeout: 'soon' }, { token: 'xoxb-1', appToken: 'xapp-1' });
    assert.equal(gov.settings.slackApiUrl, 'https://slack-gov.com/api/');
    assert.equal(gov.settings.callTimeoutMs, 300000);
    assert.equal(gov.settings.pingTimeoutMs, 5000);
    assert.deepEqual(readAppSettings({ id: 'n1', apiRoot: 'slack.com' }, { token: 'xoxb-1', appToken: 'xapp-1' }).problems, ['badApiRoot']);
  });

  it('classify: what web-api throws decides the retry, and nothing it is given makes it throw', () => {
    assert.deepEqual(classify(new webApi.WebAPIRateLimitedError(7)), { kind: 'rateLimited', retryAfterMs: 7000 });
    assert.deepEqual(classify(new webApi.WebAPIPlatformError({ ok: false, error: 'token_revoked' })), { kind: 'auth', error: 'token_revoked' });
    assert.deepEqual(classify(new webApi.WebAPIPlatformError({ ok: false, error: 'missing_scope', needed: 'files:write' } as never)), { kind: 'scope', needed: 'files:write' });
    assert.equal(classify(new webApi.WebAPIPlatformError({ ok: false, error: 'internal_error' })).kind, 'unknown');
    assert.equal(classify(new webApi.WebAPIPlatformError({ ok: false, error: 'request_timeout' })).kind, 'notSent');
    assert.equal(classify(new webApi.WebAPIPlatformError({ ok: false, error: 'channel_not_found' })).kind, 'refused');
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    assert.equal(classify(new webApi.WebAPIRequestError(refused)).kind, 'notSent');
    const reset = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    assert.equal(classify(new webApi.WebAPIRequestError(reset)).kind, 'unknown');
    assert.equal(classify(new webApi.WebAPIHTTPError(503, 'Service Unavailable', {}, '<html>')).kind, 'unknown');
    for (const weird of [undefined, null, 42, 'text', {}, { code: 'slack_webapi_platform_error' }, { code: 'slack_webapi_platform_error', data: { error: 5 } }]) {
      assert.doesNotThrow(() => classify(weird));
      assert.ok(describeSendError(weird).message.length > 0);
    }
    assert.ok(!describeSendError(new Error('Bearer xoxb-1234567890-abcdefghij failed')).message.includes('xoxb-1234567890'));
  });

  it('the text a person reads: entities decoded, links labelled, the leading mention removed', () => {
    assert.equal(slackToText('a &lt;b&gt; &amp; c'), 'a <b> & c');
    assert.equal(slackToText('see <https://example.com|the docs> or <https://x.io>'), 'see the docs (https://example.com) or https://x.io');
    assert.equal(slackToText('in <#C123|general> and <!here>, ask <@U42>'), 'in #general and @here, ask <@U42>');
    assert.equal(slackToText('mail <mailto:a@b.c|a@b.c>'), 'mail a@b.c');
    assert.equal(stripLeadingMention('<@UBOT> hello', 'UBOT'), 'hello');
    assert.equal(stripLeadingMention('  <@UBOT|bot>: hello', 'UBOT'), 'hello');
    assert.equal(stripLeadingMention('hello <@UBOT>', 'UBOT'), 'hello <@UBOT>');
  });

  it('the edge: a payload of the wrong shape is named, event types we do not read are ignored', () => {
    const body = (event: unknown) => ({ kind: 'event', body: { type: 'event_callback', team_id: 'T1', event } });
    const ok = parseInbound(body({ type: 'message', channel: 'D1', user: 'U1', text: 'hi', ts: '1.2', channel_type: 'im' }));
    assert.ok(ok.ok && ok.value.kind === 'message');
    const bad = parseInbound(body({ type: 'message', channel: 'D1', user: 'U1', text: 'hi', ts: 12 }));
    assert.ok(!bad.ok && bad.kind === 'event.ts');
    const reaction = parseInbound(body({ type: 'reaction_added', user: 'U1' }));
    assert.ok(reaction.ok && reaction.value.kind === 'ignored');
    const command = parseInbound({ kind: 'command', body: { command: 'ask', user_id: 'U1', channel_id: 'C1', trigger_id: 't' } });
    assert.ok(!command.ok && command.kind === 'command.command');
  });

  it('addresses: a thread is a ts, a channel an id; DMs threaded only when asked', () => {
    const base = { platform: 'slack' as const, channelId: 'app', chatId: 'D0ABC', userId: 'U0ME', messageId: '111.222' };
    const top = readAddress(base, { dmThreads: false });
    assert.ok(top.ok && top.value.threadTs === undefined && !top.value.assistantThread);
    const threaded = readAddress(base, { dmThreads: true });
    assert.ok(threaded.ok && threaded.value.threadTs === '111.222' && threaded.value.assistantThread);
    assert.ok(!readAddress({ ...base, chatId: '#general' }, { dmThreads: false }).ok);
    assert.ok(!readAddress({ ...base, threadId: '1 2' }, { dmThreads: false }).ok);
  });

  it('buttons, prompts and files read what the flow gives and name what is wrong', () => {
    const b = readButtons([{ text: 'A', data: 'a' }, { text: 'B', url: 'https://b.example' }]);
    assert.ok(b.ok && b.value?.length === 2);
    assert.ok(!readButtons([{ text: 'A', data: 'x'.repeat(3000) }]).ok);
    assert.ok(!readButtons([{ text: 'A', url: 'javascript:alert(1)' }]).ok);
    assert.deepEqual(readPrompts('[{"title":"T","message":"M"}, {"title":""}]'), [{ title: 'T', message: 'M' }]);
    assert.deepEqual(readPrompts('not json'), []);
    const f = readOutFile({ file: 'a,b\n1,2', filename: 'x.csv' });
    assert.ok(f.ok && f.value?.data.toString() === 'a,b\n1,2' && f.value.filename === 'x.csv');
    assert.ok(!readOutFile({ file: 'x', photo: Buffer.from('y') }).ok);
    assert.ok(!readOutFile({ file: 42 }).ok);
  });

  it('downloads go only to Slack\'s own file host (the token rides along)', () => {
    assert.ok(isAllowedFileUrl('https://files.slack.com/files-pri/T1-F1/x.pdf', fileOrigins(undefined)));
    assert.ok(!isAllowedFileUrl('https://evil.example/files-pri/T1-F1/x.pdf', fileOrigins(undefined)));
    assert.ok(!isAllowedFileUrl('http://files.slack.com/x', fileOrigins(undefined)), 'not over plain http');
    assert.ok(isAllowedFileUrl('https://files.slack-gov.com/x', fileOrigins('https://slack-gov.com')));
  });

  it('replies are mrkdwn with Slack\'s three characters escaped, counted in bytes; streamed Markdown cannot ping', () => {
    assert.equal(renderAndSplit('<!channel> & <@U1>', SLACK_MRKDWN)[0].text, '&lt;!channel&gt; &amp; &lt;@U1&gt;');
    const parts = renderAndSplit('ü'.repeat(3000), SLACK_MRKDWN);
    assert.ok(parts.length >= 2 && parts.every((p) => Buffer.byteLength(p.text) <= 4000));
    assert.equal(inertMarkdown('hi <!here> <@U1> <#C1> <b>'), 'hi <\u200b!here> <\u200b@U1> <\u200b#C1> <b>');
  });
});
