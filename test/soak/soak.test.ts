/**
 * The soak's small twin (bench/soak.ts runs the same scenario at 10,000 messages): every channel
 * at once through one agent pipeline in a real Node-RED process, with every fault, a few hundred
 * messages. Nothing is timed: the assertions are the users' counts, the heap and the hooks.
 */
import { strict as assert } from 'node:assert';
import { runSoak } from './scenario';
import { formatSoak, problems } from './report';

describe('soak under faults (small)', function () {
  this.timeout(240_000);

  it('loses, doubles, cuts and misplaces no reply on any channel, keeps each chat in order, and gives its memory back', async () => {
    const result = await runSoak({ messages: 450, usersPerKind: 3, warmShare: 0.1 });
    const printed = formatSoak(result);
    const bad = problems(result);
    assert.deepEqual(bad, [], `${bad.join('\n')}\n\n${printed}`);
    assert.ok(result.totals.answered > 0.8 * result.totals.accepted, printed);
    // Every kind of fault happened (the agent's failures show as fallbacks).
    assert.ok(result.totals.fallback > 0, `no fallback: the agent's failures did not reach anyone\n${printed}`);
  });
});
