/**
 * Registering the bot's own slash commands, and only those. `PUT /applications/{app}/commands`
 * (and its guild twin) replaces the application's WHOLE set: every command the operator made
 * elsewhere (another tool, another flow, a second bot process on the same application) would be
 * deleted. So each command is looked up by name in what Discord has, and then created (POST,
 * which Discord treats as an upsert by name) or changed (PATCH of that one command) only when it
 * differs; a command that is already right is left alone, and commands of other names are never
 * touched. Removing a command from the list does not delete it on Discord (we cannot tell ours
 * from someone else's): delete it in the developer portal or with the API.
 */
import { errorText, field, textField } from '../core/error-text';
import type { RestCalls } from './rest-calls';
import type { CommandSpec } from './settings';

/** Chat input commands (the ones typed with a slash). */
const CHAT_INPUT = 1;
const STRING_OPTION = 3;
export const TEXT_OPTION = 'text';
const TEXT_OPTION_DESCRIPTION = 'What to say';

export interface CommandBody {
  name: string;
  description: string;
  type: number;
  options: Array<{ type: number; name: string; description: string; required: boolean }>;
}

export type CommandOutcome = { name: string; scope: string; action: 'created' | 'updated' | 'unchanged' } | { name: string; scope: string; action: 'failed'; error: string };

export function commandBody(c: CommandSpec): CommandBody {
  return {
    name: c.name,
    description: c.description,
    type: CHAT_INPUT,
    options: c.text ? [{ type: STRING_OPTION, name: TEXT_OPTION, description: TEXT_OPTION_DESCRIPTION, required: true }] : [],
  };
}

/** Whether Discord's command already says what ours says (fields Discord adds are not ours to compare). */
export function sameCommand(existing: unknown, wanted: CommandBody): boolean {
  if (textField(existing, 'description') !== wanted.description) return false;
  const options = field(existing, 'options');
  const have = Array.isArray(options) ? options : [];
  if (have.length !== wanted.options.length) return false;
  return wanted.options.every((o, i) => {
    const h = have[i] as Record<string, unknown>;
    return h && h.type === o.type && h.name === o.name && h.description === o.description && (h.required === true) === o.required;
  });
}

export interface RegisterTarget {
  applicationId: string;
  /** Undefined: global commands. */
  guildId?: string;
}

function base(t: RegisterTarget): `/${string}` {
  return t.guildId ? `/applications/${t.applicationId}/guilds/${t.guildId}/commands` : `/applications/${t.applicationId}/commands`;
}

/** Registers `commands` in one scope; each outcome says what happened to one command. Never throws. */
export async function registerCommands(calls: RestCalls, target: RegisterTarget, commands: readonly CommandSpec[], describe: (err: unknown) => string = errorText): Promise<CommandOutcome[]> {
  const scope = target.guildId ? `guild ${target.guildId}` : 'global';
  if (commands.length === 0) return [];
  let existing: unknown[];
  try {
    const list = await calls.call<unknown>('GET', base(target), { kind: 'read' });
    existing = Array.isArray(list) ? list : [];
  } catch (err) {
    const error = describe(err);
    return commands.map((c) => ({ name: c.name, scope, action: 'failed' as const, error }));
  }
  const out: CommandOutcome[] = [];
  for (const c of commands) {
    const wanted = commandBody(c);
    const found = existing.find((e) => textField(e, 'name') === c.name && (field(e, 'type') ?? CHAT_INPUT) === CHAT_INPUT);
    try {
      if (found && sameCommand(found, wanted)) {
        out.push({ name: c.name, scope, action: 'unchanged' });
      } else if (found && textField(found, 'id')) {
        await calls.call('PATCH', `${base(target)}/${textField(found, 'id')}`, { kind: 'idempotent', body: { description: wanted.description, options: wanted.options } });
        out.push({ name: c.name, scope, action: 'updated' });
      } else {
        // An upsert by name on Discord's side: repeating it creates nothing twice.
        await calls.call('POST', base(target), { kind: 'idempotent', body: wanted });
        out.push({ name: c.name, scope, action: 'created' });
      }
    } catch (err) {
      out.push({ name: c.name, scope, action: 'failed', error: describe(err) });
    }
  }
  return out;
}

/** Every scope the settings name: global, or each listed guild. */
export async function registerAll(calls: RestCalls, applicationId: string, commands: readonly CommandSpec[], guildIds: readonly string[] | undefined, describe?: (err: unknown) => string): Promise<CommandOutcome[]> {
  if (!guildIds) return registerCommands(calls, { applicationId }, commands, describe);
  const all: CommandOutcome[] = [];
  for (const guildId of guildIds) all.push(...(await registerCommands(calls, { applicationId, guildId }, commands, describe)));
  return all;
}
