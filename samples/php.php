<?php
// Sends one example event to the eventward notification {{workspace}}/{{notification}} with the curl extension.
// Run: {{env_var}}=... php sample.php
// {{credential_note}}

const ENDPOINT = '{{url}}';
const ENV_VAR = '{{env_var}}';

$credential = getenv(ENV_VAR);
if ($credential === false || $credential === '') {
    fwrite(STDERR, 'error: set ' . ENV_VAR . " to {{credential_kind}}\n");
    exit(2);
}
if (!function_exists('curl_init')) {
    fwrite(STDERR, "error: this sample needs PHP's curl extension (php-curl)\n");
    exit(2);
}

$event = json_encode(['example' => true, 'sent_by' => 'php sample']);
$ch = curl_init(ENDPOINT);
curl_setopt_array($ch, [
    CURLOPT_POST => true,
    CURLOPT_POSTFIELDS => $event,
    CURLOPT_HTTPHEADER => [
        'Content-Type: application/json',
        'Authorization: Bearer ' . $credential,
    ],
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_CONNECTTIMEOUT => 10,
    CURLOPT_TIMEOUT => 30,
]);
$text = curl_exec($ch);
if ($text === false) {
    fwrite(STDERR, 'error: request to ' . ENDPOINT . ' failed: ' . curl_error($ch) . "\n");
    exit(1);
}
$status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);

// 202: {"id", "status"}; refusals: application/problem+json {title, status, detail, code}.
$body = json_decode($text, true);
if (!is_array($body)) {
    $body = null;
}
if ($status >= 200 && $status < 300 && isset($body['id'])) {
    echo $body['id'], "\n";
    exit(0);
}
if (isset($body['code'])) {
    fwrite(STDERR, $body['code'] . ': ' . ($body['detail'] ?? '') . "\n");
} else {
    fwrite(STDERR, "error: HTTP $status: " . substr($text, 0, 500) . "\n");
}
exit(1);
