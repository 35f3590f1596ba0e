/**
 * Hostile `msg` objects for the nodes that take messages from upstream flows, and a way to see how
 * each message ended. A message is a valid one (built by the suite) spoilt at one path: a value of
 * the wrong type, a missing field, a huge or nasty string, an own `__proto__` key in place of the
 * fields, the fields inherited from a prototype, a getter that throws, a cycle, an exotic value
 * (BigInt, Symbol, a function, NaN, a Date, a Map). Whether the spoilt message must fail follows
 * from what the node checks at that path (its `PathSpec`), not from running the node.
 *
 * Getters that throw are non-enumerable or on a prototype: Node-RED clones every message that
 * reaches a Catch or Complete node or leaves by more than one wire (lodash cloneDeep), and that
 * clone reads every own enumerable property — an enumerable throwing getter breaks Node-RED's own
 * error reporting before any node could help it.
 */
import * as path from 'node:path';
import fc from 'fast-check';
import { getNode } from './red';
import { nastyString, put, wrongType } from './hostile';

const CORE = path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core/common');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const catchNode = require(path.join(CORE, '25-catch.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const completeNode = require(path.join(CORE, '24-complete.js'));

/** What a node checks at a path: the type it wants there, and whether the field may be missing. */
export interface PathSpec {
  path: string[];
  check: 'id' | 'enum' | 'string' | 'bool' | 'int' | 'object' | 'array' | 'text' | 'none';
  optional?: boolean;
  /** A string cap the node enforces (ids: 512). */
  max?: number;
}

export type Spoil =
  | { kind: 'wrong'; value: unknown }
  | { kind: 'delete' }
  | { kind: 'huge'; size: number }
  | { kind: 'nasty'; value: string }
  | { kind: 'own-proto' }
  | { kind: 'inherited' }
  | { kind: 'getter-proto' }
  | { kind: 'getter-hidden' }
  | { kind: 'cycle' }
  | { kind: 'exotic'; which: number };

const EXOTIC = [() => 10n, () => Symbol('s'), () => () => 'fn', () => NaN, () => Infinity, () => -0, () => new Date(0), () => new Map([[1, 2]]), () => new Uint8Array(4), () => Object.create(null)];

export const spoilArb = (maxHuge: number): fc.Arbitrary<Spoil> =>
  fc.oneof(
    { weight: 4, arbitrary: wrongType.map<Spoil>((value) => ({ kind: 'wrong', value })) },
    { weight: 2, arbitrary: fc.constant<Spoil>({ kind: 'delete' }) },
    { weight: 1, arbitrary: fc.integer({ min: 600, max: maxHuge }).map<Spoil>((size) => ({ kind: 'huge', size })) },
    { weight: 2, arbitrary: nastyString.filter((s) => s.length > 0).map<Spoil>((value) => ({ kind: 'nasty', value })) },
    { weight: 1, arbitrary: fc.constant<Spoil>({ kind: 'own-proto' }) },
    { weight: 1, arbitrary: fc.constant<Spoil>({ kind: 'inherited' }) },
    { weight: 1, arbitrary: fc.constant<Spoil>({ kind: 'getter-proto' }) },
    { weight: 1, arbitrary: fc.constant<Spoil>({ kind: 'getter-hidden' }) },
    { weight: 1, arbitrary: fc.constant<Spoil>({ kind: 'cycle' }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: EXOTIC.length - 1 }).map<Spoil>((which) => ({ kind: 'exotic', which })) },
  );

function fits(spec: PathSpec, v: unknown): boolean {
  switch (spec.check) {
    case 'none':
      return true;
    case 'id':
      return typeof v === 'string' && v.length >= 1 && v.length <= (spec.max ?? 512);
    case 'string':
      return typeof v === 'string' && v.length <= (spec.max ?? Infinity);
    case 'text':
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'object' && v !== null && typeof (v as { text?: unknown }).text === 'string');
    case 'enum':
      return false; // spoilt values are never one of the names
    case 'bool':
      return typeof v === 'boolean';
    case 'int':
      return Number.isSafeInteger(v) && (v as number) >= 0;
    case 'object':
      // Every object a node checks has required fields; a value made up in its place has none of them.
      return false;
    case 'array':
      // The only array of attachments a generator makes up by chance is the empty one.
      return Array.isArray(v) && v.length === 0;
  }
}

export interface Spoilt {
  msg: Record<string, unknown>;
  mustFail: boolean;
  what: string;
}

/**
 * Spoils `msg` at `spec.path` and says whether the node must refuse it. `marker` is put in the
 * payload when the payload is not the spoilt path, so a delivery of it can be found.
 */
export function spoilAt(msg: Record<string, unknown>, spec: PathSpec, s: Spoil): Spoilt {
  const parentPath = spec.path.slice(0, -1);
  const key = spec.path[spec.path.length - 1];
  let parent: Record<string, unknown> = msg;
  for (const k of parentPath) parent = parent[k] as Record<string, unknown>;
  const original = parent[key];
  const isObject = typeof original === 'object' && original !== null;
  let mustFail = false;
  const what = `${spec.path.join('.')} ${s.kind}${s.kind === 'wrong' ? ` ${safe(s.value)}` : s.kind === 'exotic' ? ` #${s.which}` : s.kind === 'huge' ? ` ${s.size}` : s.kind === 'nasty' ? ` ${JSON.stringify(s.value)}` : ''}`;
  const checked = spec.check !== 'none';
  switch (s.kind) {
    case 'wrong':
      put(parent, key, s.value);
      mustFail = checked && !fits(spec, s.value);
      break;
    case 'delete':
      delete parent[key];
      mustFail = checked && !spec.optional;
      break;
    case 'huge': {
      if (isObject) {
        // A huge extra field inside the object: nothing the node checks, but it must not be stored or sent on as is.
        put(original as object, 'blob', 'b'.repeat(s.size));
        break;
      }
      const v = 'h'.repeat(s.size);
      put(parent, key, v);
      mustFail = checked && !fits(spec, v);
      break;
    }
    case 'nasty':
      if (isObject) {
        put(original as object, 'nasty', s.value);
        break;
      }
      put(parent, key, s.value);
      mustFail = checked && !fits(spec, s.value);
      break;
    case 'own-proto': {
      // What JSON.parse makes of {"__proto__": {...}}: an own key, not a prototype.
      const o: Record<string, unknown> = {};
      put(o, '__proto__', original);
      put(parent, key, o);
      mustFail = checked;
      break;
    }
    case 'inherited': {
      if (!isObject) {
        // An object in place of a value (or of a missing object): no field a node checks is on it.
        put(parent, key, Object.create({ value: original }));
        mustFail = checked;
        break;
      }
      // A class instance: every field on the prototype (an array that way is no array any more).
      put(parent, key, Object.create(original as object));
      mustFail = checked && Array.isArray(original);
      break;
    }
    case 'getter-proto':
    case 'getter-hidden': {
      const boom = () => {
        throw new Error(`hostile getter ${spec.path.join('.')}`);
      };
      if (s.kind === 'getter-proto') {
        // The parent becomes an instance whose prototype has a throwing getter for this key.
        const proto = Object.defineProperty({}, key, { get: boom, enumerable: false, configurable: true });
        const copy = Object.create(proto) as Record<string, unknown>;
        for (const [k, v] of Object.entries(parent)) if (k !== key) put(copy, k, v);
        if (parentPath.length === 0) {
          // The message itself stays a plain object (the test gives it an _msgid): the getter goes on it, hidden.
          Object.defineProperty(msg, key, { get: boom, enumerable: false, configurable: true });
        } else {
          let grand: Record<string, unknown> = msg;
          for (const k of parentPath.slice(0, -1)) grand = grand[k] as Record<string, unknown>;
          put(grand, parentPath[parentPath.length - 1], copy);
        }
      } else {
        Object.defineProperty(parent, key, { get: boom, enumerable: false, configurable: true });
      }
      mustFail = checked;
      break;
    }
    case 'cycle':
      if (isObject) {
        put(original as object, 'self', original);
        put(original as object, 'message', msg);
      } else {
        // The message itself where a value (or a missing object) was: it has none of the fields checked there.
        put(parent, key, msg);
        mustFail = checked;
      }
      break;
    case 'exotic': {
      const v = EXOTIC[s.which]();
      put(parent, key, v);
      mustFail = checked && !fits(spec, v);
      break;
    }
  }
  return { msg, mustFail, what };
}

function safe(v: unknown): string {
  try {
    return (JSON.stringify(v) ?? String(v)).slice(0, 60);
  } catch {
    return typeof v;
  }
}

/** How a message ended at a node: done(), done(err) (or a throw the runtime caught), and what left by which output. */
export interface Ending {
  error?: string;
  completed: boolean;
}

/**
 * Watches node `id`: every done() and done(err) (node._complete, which the runtime calls for
 * both) and every error the runtime reports for a throw (node.error), by `_msgid`.
 */
export function watchEndings(id: string): { ending(msgid: string, ms?: number): Promise<Ending>; count(msgid: string): number } {
  const node = getNode(id);
  const endings = new Map<string, Ending[]>();
  const waiters = new Map<string, () => void>();
  const note = (msgid: string, e: Ending) => {
    endings.set(msgid, [...(endings.get(msgid) ?? []), e]);
    waiters.get(msgid)?.();
  };
  const complete = node._complete;
  node._complete = function (this: unknown, msg: { _msgid?: string }, err?: unknown) {
    note(String(msg?._msgid), err ? { error: err instanceof Error ? err.message : String(err), completed: false } : { completed: true });
    return complete.call(this, msg, err);
  };
  node.on('call:error', (call: { args: unknown[] }) => {
    const [err, msg] = call.args as [unknown, { _msgid?: string } | undefined];
    const msgid = String(msg?._msgid);
    // done(err) reports through node.error too; count a throw only when no done(err) came first.
    if (endings.get(msgid)?.some((e) => e.error !== undefined)) return;
    note(msgid, { error: err instanceof Error ? err.message : String(err), completed: false });
  });
  return {
    count: (msgid) => endings.get(msgid)?.length ?? 0,
    ending: (msgid, ms = 3000) =>
      new Promise((resolve, reject) => {
        const done = () => {
          const e = endings.get(msgid)?.[0];
          if (!e) return false;
          clearTimeout(timer);
          waiters.delete(msgid);
          resolve(e);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(msgid);
          reject(new Error(`message ${msgid} neither done() nor done(err) within ${ms} ms`));
        }, ms);
        if (!done()) waiters.set(msgid, () => void done());
      }),
  };
}

/** A clear error: one line, short, no formatting accidents. */
export function assertCleanError(message: string, what: string): void {
  if (!message.trim()) throw new Error(`${what}: an empty error`);
  if (message.includes('\n')) throw new Error(`${what}: an error of several lines: ${message.slice(0, 300)}`);
  if (message.length > 600) throw new Error(`${what}: an error of ${message.length} characters: ${message.slice(0, 200)}…`);
  if (/\[object Object\]|: undefined\b/.test(message)) throw new Error(`${what}: a formatting accident: ${message}`);
}
