// Node-RED settings for the demo (`npm start`): loopback only, flows in the demo user directory.
module.exports = {
  uiHost: process.env.HOST || '127.0.0.1',
  flowFile: 'flows.json',
  flowFilePretty: true,
  // The demo flow has no secrets; a fixed key keeps the credentials file readable across restarts.
  credentialSecret: 'chatgate-demo-only',
  httpNodeRoot: '/',
  httpAdminRoot: '/',
  logging: { console: { level: process.env.LOG_LEVEL || 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  ...(process.env.CHATGATE_EXTRA_SETTINGS ? require(process.env.CHATGATE_EXTRA_SETTINGS) : {}),
};
