/**
 * A discord.js Client that can be shut down at ANY moment and then never holds a gateway socket
 * again. discord.js 14.28 cannot promise that by itself (checked against the emulator):
 *
 *  - `client.destroy()` while `client.login()` is still fetching /gateway/bot destroys nothing (the
 *    WebSocket manager does not exist yet); the login then carries on, connects and heartbeats: a
 *    ghost session that receives every event, for a client nobody reads;
 *  - `destroy()` while a shard is connecting or identifying can hang, and a socket that is still
 *    CONNECTING is left as it is (only an OPEN one is closed);
 *  - a shard that was told to reconnect sleeps 500 ms and connects again, even when the manager was
 *    destroyed meanwhile.
 *
 * A redeploy can come at any of those moments, and a ghost session means every message answered
 * twice (the old flow's gateway link is gone, but Discord delivers to both sessions). So the
 * sharding strategy given to the client refuses to connect once the client is shut down, every
 * shard's (re)connect checks the same flag, and the shutdown ends whatever socket a shard still
 * has — with a listener for the error a socket closed while connecting emits, since an unheard
 * 'error' event would be an uncaught exception.
 */
import { Client, SimpleShardingStrategy, type ClientOptions } from 'discord.js';

/** @discordjs/ws's manager (discord.js exports a WebSocketManager of its own under that name). */
type WSManager = ConstructorParameters<typeof SimpleShardingStrategy>[0];

/** The parts of @discordjs/ws's WebSocketShard touched here; not in its public typings. */
interface ShardInternals {
  internalConnect(): Promise<void>;
  connection: { readyState: number; onmessage: unknown; onclose: unknown; onopen: unknown; onerror: unknown; on?(event: string, fn: () => void): unknown; terminate?(): void; close(): void } | null;
  heartbeatInterval: NodeJS.Timeout | null;
  initialHeartbeatTimeoutController: AbortController | null;
}

const CLOSED = 3;

export interface GatewayClient {
  readonly client: Client;
  /** Destroys the client (bounded) and ends any socket it still has; afterwards it never connects again. */
  shutDown(timeoutMs?: number): Promise<void>;
}

export function gatewayClient(options: ClientOptions): GatewayClient {
  let dead = false;
  const shards = new Set<ShardInternals>();

  class GuardedStrategy extends SimpleShardingStrategy {
    override async spawn(shardIds: number[]): Promise<void> {
      await super.spawn(shardIds);
      for (const shard of (this as unknown as { shards: Map<number, ShardInternals> }).shards.values()) {
        if (shards.has(shard)) continue;
        shards.add(shard);
        const connect = shard.internalConnect.bind(shard);
        shard.internalConnect = async () => {
          if (!dead) await connect();
        };
      }
    }

    override async connect(): Promise<void> {
      if (!dead) await super.connect();
    }
  }

  const client = new Client({ ...options, ws: { ...options.ws, buildStrategy: (manager: WSManager) => new GuardedStrategy(manager) } });

  return {
    client,
    async shutDown(timeoutMs = 5000) {
      dead = true;
      // destroy() can wait forever for a close it has itself unhooked (a shard destroyed while it
      // waits for READY): done as soon as every socket is closed, or after the timeout.
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      const closed = new Promise<void>((r) => {
        poll = setInterval(() => {
          if ([...shards].every((sh) => !sh.connection || sh.connection.readyState === CLOSED)) r();
        }, 25);
      });
      await Promise.race([client.destroy().catch(() => undefined), closed, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      clearInterval(poll);
      const sweep = () => {
        for (const shard of shards) end(shard);
      };
      sweep();
      // A connect already past its check when the flag was set opens its socket a moment later.
      for (const ms of [1000, 5000]) setTimeout(sweep, ms).unref();
    },
  };
}

/** Whatever the shard still has: its heartbeat, its first-heartbeat wait, its socket. */
function end(shard: ShardInternals): void {
  if (shard.heartbeatInterval) clearInterval(shard.heartbeatInterval);
  shard.heartbeatInterval = null;
  shard.initialHeartbeatTimeoutController?.abort();
  const c = shard.connection;
  if (!c || c.readyState === CLOSED) return;
  c.onmessage = null;
  c.onclose = null;
  c.onopen = null;
  c.onerror = null;
  // Closing a socket that is still connecting emits 'error'; unheard, it would exit Node-RED.
  c.on?.('error', () => undefined);
  try {
    if (c.terminate) c.terminate();
    else c.close();
  } catch {
    // already closing
  }
}
