<?php
/*
 * push.php: queues a Socket.IO packet for a siogate session or a room from
 * PHP, with nothing but the SQL of README.md ("Pushing from outside") and
 * PDO SQLite. sio-gateway and sio-wsd notice the commit within a second
 * (PRAGMA data_version) and deliver it to connected clients.
 *
 *   php ctl/push.php DATABASE SID TEXT                  message to a session
 *   php ctl/push.php DATABASE --room ROOM TEXT          message to a room
 *   options before DATABASE: --endpoint /chat (default: the root),
 *                            --event NAME (TEXT is then a JSON array of args)
 *
 * Debian: apt-get install php-cli php-sqlite3. The user running it needs
 * write access to the database and its directory (db_shared_group = yes).
 */

function usage(): never
{
    fwrite(STDERR, "usage: php push.php [--endpoint EP] [--event NAME] DATABASE (SID | --room ROOM) TEXT\n");
    exit(2);
}

$endpoint = '';
$event = null;
$args = array_slice($argv, 1);
while ($args && in_array($args[0], ['--endpoint', '--event'], true) && count($args) > 1) {
    $opt = array_shift($args);
    $val = array_shift($args);
    if ($opt === '--endpoint') {
        $endpoint = $val === '/' ? '' : $val;
    } else {
        $event = $val;
    }
}
if (count($args) === 4 && $args[1] === '--room') {
    [$database, , $room, $text] = $args;
    $sid = null;
} elseif (count($args) === 3) {
    [$database, $sid, $text] = $args;
    $room = null;
} else {
    usage();
}

/* The packet, as on the wire: 3::/chat:text or 5::/chat:{"name":..,"args":[..]} */
if ($event === null) {
    $packet = "3::$endpoint:$text";
} else {
    $eargs = json_decode($text);
    if (!is_array($eargs)) {
        fwrite(STDERR, "push.php: with --event, TEXT must be a JSON array of arguments\n");
        exit(2);
    }
    $body = json_encode(['name' => $event, 'args' => $eargs],
        JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    if ($body === false) {
        fwrite(STDERR, "push.php: the event name is not valid UTF-8\n");
        exit(2);
    }
    $packet = "5::$endpoint:$body";
}
/* Every transport carries text: a packet that is not UTF-8 cannot be
 * delivered (the servers would drop it), so it is refused here. */
if (preg_match('//u', $packet) !== 1) {
    fwrite(STDERR, "push.php: the text, event name or endpoint is not valid UTF-8\n");
    exit(2);
}

$db = new PDO("sqlite:$database", null, null, [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    PDO::ATTR_TIMEOUT => 5, /* seconds to wait while a server writes */
]);
if ($sid !== null) {
    $q = $db->prepare("INSERT INTO outbox (sid, packet, created)
        SELECT sid, :packet, strftime('%s', 'now') * 1000
        FROM sessions WHERE sid = :sid AND state <> 'closed'");
    $q->execute([':packet' => $packet, ':sid' => $sid]);
} else {
    $q = $db->prepare("INSERT INTO outbox (sid, packet, created)
        SELECT r.sid, :packet, strftime('%s', 'now') * 1000
        FROM rooms r JOIN sessions s ON s.sid = r.sid
        WHERE r.endpoint = :endpoint AND r.room = :room AND s.state <> 'closed'");
    $q->execute([':packet' => $packet, ':endpoint' => $endpoint, ':room' => $room]);
}
$n = $q->rowCount();
echo "queued $packet to $n session" . ($n === 1 ? '' : 's') . "\n";
exit($sid !== null && $n === 0 ? 1 : 0);
