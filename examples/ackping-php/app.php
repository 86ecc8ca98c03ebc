<?php
/*
 * ackping, in PHP behind the web server (app = bridge): TornadIO2's
 * ackping, as examples/ackping/ackping.c does it in C. The client emits
 * `ping` with its date and a callback:
 *   socket.emit('ping', new Date(), function (clientDate, serverTime) {...})
 * and the ack brings back the client's date as it was sent and the
 * server's time, [hours, minutes, seconds, milliseconds] (local time).
 *
 * Configuration beside it (config.php, written by `make run`): the path of
 * siogate.php and of the file holding bridge_secret.
 */
declare(strict_types=1);

$config = require __DIR__ . '/config.php';
require $config['siogate_php'];

$e = Siogate\bridge_event(Siogate\read_secret($config['secret_file']));
if ($e['type'] === 'event' && $e['name'] === 'ping' && isset($e['ack'])) {
    $now = microtime(true);
    $t = localtime((int)$now, true);
    Siogate\respond([Siogate\ack([$e['args'][0] ?? null,
        [$t['tm_hour'], $t['tm_min'], $t['tm_sec'], (int)(($now - floor($now)) * 1000)]])]);
} else {
    Siogate\respond([]);
}
