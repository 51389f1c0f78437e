<?php
// PHP's SoapClient (ext-soap) as one long-lived client of one SOAP service, for
// tests/interop/test_every_stack.py: reads one JSON request per line on stdin,
//   {"version": "1.1"|"1.2", "operation": "...", "args": {...}, "auth": [user, password]|null}
// and answers one JSON line:
//   {"ok": true, "result": <the decoded <Op>Result>, "status": 200}
//   {"ok": false, "fault": {"code", "string"}, "status": 401, "www_authenticate": "..."}
// SoapClient reads the WSDL (no cache) and picks the port of the requested SOAP version;
// credentials go as HTTP Basic (login/password). Usage: php php_stack.php WSDL_URL
ini_set('soap.wsdl_cache_enabled', '0');
ini_set('default_socket_timeout', '20');
error_reporting(E_ALL);
ini_set('display_errors', 'stderr');  // the test requires stderr to stay empty
ini_set('log_errors', '0');

$wsdl = $argv[1];
$clients = [];

function client(string $wsdl, string $version, ?array $auth): SoapClient {
    global $clients;
    $key = $version . '|' . json_encode($auth);
    if (!isset($clients[$key])) {
        $options = [
            'soap_version' => $version === '1.2' ? SOAP_1_2 : SOAP_1_1,
            'cache_wsdl' => WSDL_CACHE_NONE,
            'trace' => true,
            'exceptions' => true,
            'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
            'connection_timeout' => 10,
        ];
        if ($auth !== null) {
            $options['login'] = $auth[0];
            $options['password'] = $auth[1];
            $options['authentication'] = SOAP_AUTHENTICATION_BASIC;
        }
        $clients[$key] = new SoapClient($wsdl, $options);
    }
    return $clients[$key];
}

function status_of(?string $headers): array {
    $status = null;
    $challenge = null;
    foreach (preg_split('/\r?\n/', (string) $headers) as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) $status = (int) $m[1];
        if (preg_match('/^WWW-Authenticate:\s*(.*)$/i', $line, $m)) $challenge = trim($m[1]);
    }
    return [$status, $challenge];
}

while (($line = fgets(STDIN)) !== false) {
    $request = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
    $client = client($wsdl, $request['version'], $request['auth']);
    $operation = $request['operation'];
    $out = [];
    try {
        // Document/literal wrapped: the one parameter is the wrapper element's content.
        $response = $client->__soapCall($operation, [(object) $request['args']]);
        $name = $operation . 'Result';
        $out['ok'] = true;
        $out['result'] = is_object($response) && property_exists($response, $name) ? $response->$name : null;
    } catch (SoapFault $fault) {
        $out['ok'] = false;
        $out['fault'] = ['code' => $fault->faultcode ?? null, 'string' => $fault->faultstring ?? $fault->getMessage()];
    }
    [$out['status'], $out['www_authenticate']] = status_of($client->__getLastResponseHeaders());
    $out['envelope'] = (string) $client->__getLastRequest();
    echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
}
