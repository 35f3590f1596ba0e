/**
 * Whether a Node-RED process's output says it serves: its HTTP server listens ("Server now
 * running", logged in the listen callback) and its flows have started. Node-RED starts the flows
 * while the server is still binding its port, so on a loaded machine "Started flows" can come
 * first, and a request sent then is refused (CI saw ECONNREFUSED this way).
 */
export function nodeRedReady(log: string): boolean {
  return log.includes('Server now running') && log.includes('Started flows');
}
