/**
 * Loaded before every test file: property tests run from a fixed seed, so `npm test` (and CI) is
 * repeatable — a failure it shows is a failure every time, with the same counterexample. To look
 * for new counterexamples, run them with a random seed:
 *   CHATGATE_FC_SEED=random npm run test:one -- test/core/delivery-property.test.ts
 * or a given one (the seed a failure printed): CHATGATE_FC_SEED=759874367.
 */
import fc from 'fast-check';

const asked = process.env.CHATGATE_FC_SEED;
if (asked !== 'random') {
  const seed = asked !== undefined && /^-?\d+$/.test(asked) ? Number(asked) : 20261201;
  fc.configureGlobal({ seed });
}
