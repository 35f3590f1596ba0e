// The "agent pipeline" subflow module: Node-RED registers the subflow in agent-pipeline.json as
// the palette node chatgate-agent-pipeline (see https://nodered.org/docs/creating-nodes/subflow-modules).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

module.exports = function (RED) {
  RED.nodes.registerSubflow(JSON.parse(fs.readFileSync(path.join(__dirname, 'agent-pipeline.json'), 'utf8')));
};
