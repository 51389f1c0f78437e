// node-soap (npm `soap`) as one long-lived client of one SOAP service, for
// tests/interop/test_every_stack.py:
//
//   NODE_PATH=<cache>/node_modules node node_soap.js WSDL_URL SERVICE PORT_SOAP11 PORT_SOAP12
//
// Reads one JSON request per line on stdin,
//   {"version": "1.1"|"1.2", "operation": "...", "args": {...}, "auth": [user, password]|null}
// and answers one JSON line: {"ok", "result", "fault": {"code", "string"}, "status",
// "www_authenticate", "envelope"}. The client is built from the served WSDL (one per SOAP
// version: forceSoap12Headers writes SOAP 1.2 envelopes and Content-Type), the operation
// called through the port of that version, credentials as HTTP Basic (BasicAuthSecurity).
'use strict';
const readline = require('readline');
const soap = require('soap');

const [wsdl, serviceName, port11, port12] = process.argv.slice(2);
const clients = {};

async function client(version) {
  if (!clients[version]) {
    clients[version] = await soap.createClientAsync(wsdl, { forceSoap12Headers: version === '1.2' });
  }
  return clients[version];
}

function faultOf(err) {
  const body = err && err.root && err.root.Envelope && err.root.Envelope.Body;
  const fault = body && body.Fault;
  if (!fault) return null;
  if (fault.Code) {  // SOAP 1.2
    const reason = fault.Reason && fault.Reason.Text;
    return { code: fault.Code.Value, string: typeof reason === 'object' ? reason.$value : reason,
             subcode: fault.Code.Subcode && fault.Code.Subcode.Value };
  }
  return { code: fault.faultcode, string: fault.faultstring };
}

async function handle(request) {
  const c = await client(request.version);
  c.setSecurity(request.auth ? new soap.BasicAuthSecurity(request.auth[0], request.auth[1]) : { addOptions() {}, toXML() { return ''; } });
  const port = request.version === '1.2' ? port12 : port11;
  const method = c[serviceName][port][request.operation];
  const out = {};
  try {
    const [result, , , , response] = await new Promise((resolve, reject) => {
      method(request.args, (err, result, rawResponse, soapHeader, rawRequest) => {
        if (err) reject(err); else resolve([result, rawResponse, soapHeader, rawRequest, c.lastResponseHeaders]);
      });
    });
    out.ok = true;
    const name = request.operation + 'Result';
    out.result = result && Object.prototype.hasOwnProperty.call(result, name) ? result[name] : null;
    out.status = c.lastResponseHeaders ? 200 : null;
  } catch (err) {
    out.ok = false;
    out.fault = faultOf(err);
    if (err.response) {
      out.status = err.response.status;
      out.www_authenticate = err.response.headers && err.response.headers['www-authenticate'];
    }
    if (!out.fault && !err.response) out.error = String(err && err.stack || err);
  }
  out.envelope = c.lastRequest;
  return out;
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let out;
    try {
      out = await handle(JSON.parse(line));
    } catch (err) {
      out = { ok: false, error: String(err && err.stack || err) };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  });
});
