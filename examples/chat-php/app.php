<?php
/*
 * chat, in PHP behind the web server (app = bridge): TornadIO2's chat room,
 * as examples/chat/chat.c does it in C. A user joins a room with a name
 * (event `join` with [name] or [name, room], acked true or false); every
 * message then goes to everyone in the room as "name: text", and the room
 * hears when someone joins or leaves. The name and room are session data
 * (bridge_data = name room brings them with every event), so the script
 * keeps nothing between requests.
 *
 * Configuration beside it (config.php, written by `make run`): the path of
 * siogate.php and of the file holding bridge_secret.
 */
declare(strict_types=1);

$config = require __DIR__ . '/config.php';
require $config['siogate_php'];

use function Siogate\{ack, bridge_event, read_secret, respond, send, set, join};

const MAX_NAME = 64;
const MAX_LINE = 4096;

$e = bridge_event(read_secret($config['secret_file']));
$name = $e['data']['name'] ?? null;
$room = $e['data']['room'] ?? null;

/* A line of at most MAX_LINE bytes, cut between characters. */
function line(string $s): string
{
    if (strlen($s) <= MAX_LINE) {
        return $s;
    }
    /* $s[$n] is the first byte left out: back to its character's start */
    for ($n = MAX_LINE; $n > 0 && (ord($s[$n]) & 0xc0) === 0x80; $n--) {
    }
    return substr($s, 0, $n);
}

switch ($e['type']) {
case 'open':
    respond([send("Welcome! Emit 'join' with your name to enter a room.")]);
    break;
case 'event':
    if ($e['name'] !== 'join') {
        respond([]);
        break;
    }
    $want = $e['args'][0] ?? null;
    $to = $e['args'][1] ?? null;
    if ($name !== null || !is_string($want) || $want === '' || strlen($want) > MAX_NAME) {
        respond(isset($e['ack']) ? [ack([false])] : []);
        break;
    }
    if (!is_string($to) || $to === '' || strlen($to) > MAX_NAME) {
        $to = 'lobby';
    }
    $do = [set(null, 'name', $want), set(null, 'room', $to), join(null, $to),
        send("$want joined $to", room: $to)];
    if (isset($e['ack'])) {
        $do[] = ack([true]);
    }
    respond($do);
    break;
case 'message':
    if ($name === null || $room === null) {
        respond([send('Join a room first.')]);
    } else {
        respond([send(line("$name: " . $e['message']), room: $room)]);
    }
    break;
case 'close':
    respond($name !== null && $room !== null
        ? [send("$name left", room: $room, exclude: $e['sid'])] : []);
    break;
default:
    respond([]);
}
