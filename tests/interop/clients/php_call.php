<?php
// Call one operation of a SOAP service with PHP's SoapClient, driven by the WSDL alone.
//
//   php php_call.php WSDL_URL OPERATION JSON_ARGS SOAP_VERSION(1.1|1.2)
//
// Prints one JSON object on stdout:
//   {"ok": true,  "result": <the operation's result>, "functions": [...], "request": "...", "response": "..."}
//   {"ok": false, "fault": {"code": "...", "string": "..."}, ... }
// Exit status 0 for both (a SOAP fault is an answer); 2 when the WSDL itself is refused.
ini_set('soap.wsdl_cache_enabled', '0');
ini_set('default_socket_timeout', '20');
error_reporting(E_ALL);
// Every warning or notice (a WSDL construct SoapClient skips, say) goes to stderr, which
// the tests require to be empty.
ini_set('display_errors', 'stderr');
ini_set('log_errors', '0');

if ($argc !== 5) {
    fwrite(STDERR, "usage: php php_call.php WSDL_URL OPERATION JSON_ARGS 1.1|1.2\n");
    exit(64);
}
[, $wsdl, $operation, $json, $version] = $argv;
$args = json_decode($json, true, 512, JSON_THROW_ON_ERROR);
$options = [
    'soap_version' => $version === '1.2' ? SOAP_1_2 : SOAP_1_1,
    'cache_wsdl' => WSDL_CACHE_NONE,
    'trace' => true,
    'exceptions' => true,
    'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
    'connection_timeout' => 10,
];

try {
    $client = new SoapClient($wsdl, $options);
} catch (Throwable $e) {
    echo json_encode(['ok' => false, 'wsdl_refused' => true, 'error' => get_class($e) . ': ' . $e->getMessage()]), "\n";
    exit(2);
}

$out = ['functions' => $client->__getFunctions(), 'types' => $client->__getTypes()];
try {
    // Document/literal wrapped: the one parameter is the wrapper element's content.
    $response = $client->__soapCall($operation, [$args]);
    $resultName = $operation . 'Result';
    $out['ok'] = true;
    // An absent (or nil) result leaves the property unset on the wrapper object.
    $out['result_present'] = is_object($response) && property_exists($response, $resultName);
    $out['result'] = $out['result_present'] ? $response->$resultName : null;
    $out['raw'] = $response;
} catch (SoapFault $fault) {
    $out['ok'] = false;
    $out['fault'] = ['code' => $fault->faultcode ?? null, 'string' => $fault->faultstring ?? $fault->getMessage()];
}
$out['request'] = $client->__getLastRequest();
$out['request_headers'] = $client->__getLastRequestHeaders();
$out['response'] = $client->__getLastResponse();
$out['response_headers'] = $client->__getLastResponseHeaders();
echo json_encode($out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
