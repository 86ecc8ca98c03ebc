<?php
/*
 * driver.php: calls functions of ctl/siogate.php for tests/clients/. Reads
 * a JSON array of calls on standard input, each {"fn": NAME, "args": [..],
 * "named": {..}} (an argument {"$bytes": BASE64} is those bytes, one
 * {"$assoc": OBJECT} a PHP array with those keys), and
 * prints a JSON array with, for each call, {"ok": RESULT} or {"error":
 * CLASS, "message": TEXT, "code": N}.
 */

declare(strict_types=1);

require __DIR__ . '/../../ctl/siogate.php';

function arg(mixed $v): mixed
{
    if ($v instanceof stdClass && isset($v->{'$bytes'})) {
        return base64_decode($v->{'$bytes'}, true);
    }
    if ($v instanceof stdClass && isset($v->{'$assoc'})) {
        return json_decode(json_encode($v->{'$assoc'}), true);
    }
    return $v;
}

$out = [];
foreach (json_decode(stream_get_contents(STDIN), false, 512, JSON_THROW_ON_ERROR) as $call) {
    $args = array_map('arg', $call->args ?? []);
    $named = array_map('arg', (array)($call->named ?? []));
    try {
        $out[] = ['ok' => ('Siogate\\' . $call->fn)(...$args, ...$named)];
    } catch (Throwable $e) {
        $out[] = ['error' => get_class($e), 'message' => $e->getMessage(), 'code' => $e->getCode()];
    }
}
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR), "\n";
