/**
 * The bytes of a file a reply carries: a Buffer, a Uint8Array, or a Buffer that went through
 * JSON (`{ type: 'Buffer', data: [...] }`, how bytes look after a message was stored or sent over
 * a link). Every out node that sends files reads them with this.
 */
export function bytesOf(value: unknown): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  const v = value as { type?: unknown; data?: unknown } | null;
  if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data as number[]);
  return undefined;
}
