<?php
/*
 * The bridge benchmark's application (bench/bridge.mjs): the testapp
 * contract's `echo` with an ack, in PHP: the ack carries the event's
 * arguments back. Its config.php (written by the benchmark) names
 * siogate.php and the secret's file.
 */
declare(strict_types=1);

$config = require __DIR__ . '/config.php';
require $config['siogate_php'];

$e = Siogate\bridge_event(Siogate\read_secret($config['secret_file']));
if ($e['type'] === 'event' && $e['name'] === 'echo' && isset($e['ack'])) {
    Siogate\respond([Siogate\ack($e['args'])]);
} else {
    Siogate\respond([]);
}
