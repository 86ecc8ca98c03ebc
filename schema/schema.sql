-- schema.sql: siogate's database, shared by sio-gateway and sio-wsd. It is
-- compiled into common/store.c and applied on open as migrations: each
-- section below starts with a `-- version N` line, and every section whose
-- N is above PRAGMA user_version runs in one transaction, after which
-- user_version is N. Never edit a released section; add a new one.
-- Times are INTEGER milliseconds since the epoch, on the wall clock; the
-- sweeper moves those the timers read by any step of it (version 6's
-- clock table).
-- The SQL stays close to
-- the standard so that a PostgreSQL backend can follow; the views use
-- SQLite's strftime() because they are meant for the sqlite3 shell.
--
--   sqlite3 var/siogate.db 'SELECT * FROM session_view'
--   sqlite3 var/siogate.db "INSERT INTO outbox (sid, packet, created, due)
--       VALUES ('<sid>', '3:::hello', 0, 0)"

-- version 1

-- Long-running processes and their doorbells (<run_dir>/<name>.bell).
CREATE TABLE processes (
	name TEXT PRIMARY KEY,
	pid INTEGER NOT NULL,
	started INTEGER NOT NULL
);

CREATE TABLE sessions (
	sid TEXT PRIMARY KEY,
	state TEXT NOT NULL DEFAULT 'handshaken'
		CHECK (state IN ('handshaken', 'open', 'detached', 'closed')),
	transport TEXT
		CHECK (transport IN ('websocket', 'flashsocket', 'htmlfile',
		                     'xhr-polling', 'jsonp-polling')
		       OR transport IS NULL),
	holder TEXT,                -- process name holding the transport
	holder_conn INTEGER,        -- connection number within the holder
	created INTEGER NOT NULL,
	last_recv INTEGER NOT NULL, -- last packet from the client
	last_heartbeat INTEGER NOT NULL, -- last 2:: queued
	detached_at INTEGER,
	closed_at INTEGER,
	close_reason TEXT,
	request TEXT,               -- the handshake request as JSON
	next_ack INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX sessions_state ON sessions (state);
CREATE INDEX sessions_holder ON sessions (holder);

-- Connected endpoints; '' is the root.
CREATE TABLE endpoints (
	sid TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	endpoint TEXT NOT NULL,
	query TEXT,
	PRIMARY KEY (sid, endpoint)
);
CREATE INDEX endpoints_endpoint ON endpoints (endpoint);

-- Packets waiting for delivery, in seq order per session; a packet is not
-- delivered before its due time (0: at once).
CREATE TABLE outbox (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	sid TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	packet TEXT NOT NULL,
	created INTEGER NOT NULL,
	due INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_sid ON outbox (sid, seq);

-- Per-session key/value data of the application.
CREATE TABLE data (
	sid TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	key TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (sid, key)
);

CREATE TABLE rooms (
	sid TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	endpoint TEXT NOT NULL,
	room TEXT NOT NULL,
	PRIMARY KEY (endpoint, room, sid)
);
CREATE INDEX rooms_sid ON rooms (sid);

-- Acks the server awaits from the client (events sent with a named handler).
CREATE TABLE acks (
	sid TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	id INTEGER NOT NULL,
	endpoint TEXT NOT NULL,
	handler TEXT,
	event TEXT,
	created INTEGER NOT NULL,
	PRIMARY KEY (sid, id)
);

CREATE TABLE counters (
	name TEXT PRIMARY KEY,
	value INTEGER NOT NULL DEFAULT 0
);

CREATE VIEW session_view AS
SELECT s.sid, s.state, s.transport, s.holder, s.holder_conn,
	strftime('%Y-%m-%dT%H:%M:%fZ', s.created / 1000.0, 'unixepoch')
		AS created,
	strftime('%Y-%m-%dT%H:%M:%fZ', s.last_recv / 1000.0, 'unixepoch')
		AS last_recv,
	strftime('%Y-%m-%dT%H:%M:%fZ', s.detached_at / 1000.0, 'unixepoch')
		AS detached_at,
	strftime('%Y-%m-%dT%H:%M:%fZ', s.closed_at / 1000.0, 'unixepoch')
		AS closed_at,
	s.close_reason,
	strftime('%s', 'now') - s.created / 1000 AS age,
	(SELECT group_concat(CASE WHEN e.endpoint = '' THEN '/'
	                     ELSE e.endpoint END, ' ')
	 FROM endpoints e WHERE e.sid = s.sid) AS endpoints,
	(SELECT count(*) FROM outbox o WHERE o.sid = s.sid) AS queue
FROM sessions s;

CREATE VIEW queue_view AS
SELECT s.sid, s.state, count(o.seq) AS depth,
	strftime('%Y-%m-%dT%H:%M:%fZ', min(o.created) / 1000.0, 'unixepoch')
		AS oldest
FROM sessions s LEFT JOIN outbox o ON o.sid = s.sid
GROUP BY s.sid, s.state;

CREATE VIEW outbox_view AS
SELECT o.seq, o.sid, o.packet,
	strftime('%Y-%m-%dT%H:%M:%fZ', o.created / 1000.0, 'unixepoch')
		AS created,
	CASE WHEN o.due = 0 THEN NULL
	     ELSE strftime('%Y-%m-%dT%H:%M:%fZ', o.due / 1000.0, 'unixepoch')
	END AS due
FROM outbox o;

-- version 2

-- A packet handed to a transport is marked with the (holder, conn) writing
-- it, so that a newer request of the same session does not send it again
-- before the writer deletes it; a failed write, or the end of the writer's
-- process, clears the mark and the packet goes out on the next transport.
ALTER TABLE outbox ADD COLUMN taken_by TEXT;
ALTER TABLE outbox ADD COLUMN taken_conn INTEGER;

-- version 3

-- Operational stats. Totals live in counters (sessions_opened,
-- packets_received, and from this version connections_opened,
-- packets_sent, sessions_peak, connections_peak), each changed in the
-- transaction that changes the state it counts. Active sessions (not
-- closed) and active connections (a transport attached: holder set) are
-- counted from sessions. The sweep of every process writes one sample of
-- the totals per second; a rate is the growth since the oldest sample of
-- the last 10 s divided by its age (0 until a sample is 1 s old).
CREATE TABLE stats_samples (
	t INTEGER PRIMARY KEY, -- ms since the epoch
	connections_opened INTEGER NOT NULL,
	packets_sent INTEGER NOT NULL,
	packets_received INTEGER NOT NULL
);

CREATE VIEW stats_view AS
WITH now (ms) AS (
	SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
cur AS (
	SELECT
	(SELECT count(*) FROM sessions WHERE state <> 'closed')
		AS active_sessions,
	(SELECT coalesce(max(value), 0) FROM counters
	 WHERE name = 'sessions_peak') AS peak_sessions,
	(SELECT count(*) FROM sessions WHERE holder IS NOT NULL)
		AS active_connections,
	(SELECT coalesce(max(value), 0) FROM counters
	 WHERE name = 'connections_peak') AS peak_connections,
	(SELECT coalesce(max(value), 0) FROM counters
	 WHERE name = 'sessions_opened') AS sessions_opened,
	(SELECT coalesce(max(value), 0) FROM counters
	 WHERE name = 'connections_opened') AS connections_opened,
	(SELECT coalesce(max(value), 0) FROM counters
	 WHERE name = 'packets_sent') AS packets_sent,
	(SELECT coalesce(max(value), 0) FROM counters
	 WHERE name = 'packets_received') AS packets_received,
	(SELECT count(*) FROM outbox) AS queued_packets),
base AS (
	SELECT s.* FROM stats_samples s, now
	WHERE s.t >= now.ms - 10000 AND s.t <= now.ms - 1000
	ORDER BY s.t LIMIT 1)
SELECT cur.*,
	coalesce((SELECT round((cur.connections_opened - b.connections_opened)
	          * 1000.0 / (now.ms - b.t), 2) FROM base b), 0.0)
		AS connections_ps,
	coalesce((SELECT round((cur.packets_sent - b.packets_sent)
	          * 1000.0 / (now.ms - b.t), 2) FROM base b), 0.0)
		AS packets_sent_ps,
	coalesce((SELECT round((cur.packets_received - b.packets_received)
	          * 1000.0 / (now.ms - b.t), 2) FROM base b), 0.0)
		AS packets_received_ps,
	now.ms AS time
FROM cur, now;

CREATE VIEW transport_view AS
SELECT coalesce(transport, 'none') AS transport, count(*) AS sessions,
	sum((SELECT count(*) FROM outbox o WHERE o.sid = s.sid)) AS queued
FROM sessions s WHERE state <> 'closed'
GROUP BY transport;

-- version 4

-- The sweep deletes the sessions closed more than close_timeout ago each
-- second: the state index carries closed_at, so that it reads those
-- alone, not every closed session still kept. Each process looks for the
-- open sessions owed a heartbeat each second: an index of its own reads
-- those alone, not every open session.
DROP INDEX sessions_state;
CREATE INDEX sessions_state ON sessions (state, closed_at);
CREATE INDEX sessions_heartbeat ON sessions (state, last_heartbeat);

-- version 5

-- The active sessions (not closed) and active connections (holder set),
-- kept in counters by triggers on every change of a session's state or
-- holder, whoever makes it (a server, the sqlite3 shell), and the peaks
-- raised with them. Before, a handshake and an attach each counted the
-- active sessions to raise a peak: their cost grew with the sessions
-- open (about 1 ms a handshake with 10,000), under the write lock.
INSERT INTO counters (name, value)
	SELECT 'sessions_active', count(*) FROM sessions
	WHERE state <> 'closed'
	ON CONFLICT (name) DO UPDATE SET value = excluded.value;
INSERT INTO counters (name, value)
	SELECT 'connections_active', count(*) FROM sessions
	WHERE holder IS NOT NULL
	ON CONFLICT (name) DO UPDATE SET value = excluded.value;
INSERT INTO counters (name, value)
	SELECT replace(name, '_active', '_peak'), value FROM counters
	WHERE name IN ('sessions_active', 'connections_active')
	ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value);

-- A peak follows its active count up.
CREATE TRIGGER counters_peak AFTER UPDATE OF value ON counters
WHEN NEW.name IN ('sessions_active', 'connections_active')
	AND NEW.value > OLD.value
BEGIN
	UPDATE counters SET value = max(value, NEW.value)
		WHERE name = replace(NEW.name, '_active', '_peak');
END;
CREATE TRIGGER sessions_active_insert AFTER INSERT ON sessions
WHEN NEW.state <> 'closed'
BEGIN
	UPDATE counters SET value = value + 1 WHERE name = 'sessions_active';
END;
CREATE TRIGGER sessions_active_update AFTER UPDATE OF state ON sessions
WHEN (OLD.state = 'closed') <> (NEW.state = 'closed')
BEGIN
	UPDATE counters SET value = value +
		CASE WHEN NEW.state = 'closed' THEN -1 ELSE 1 END
		WHERE name = 'sessions_active';
END;
CREATE TRIGGER sessions_active_delete AFTER DELETE ON sessions
WHEN OLD.state <> 'closed'
BEGIN
	UPDATE counters SET value = value - 1 WHERE name = 'sessions_active';
END;
CREATE TRIGGER connections_active_insert AFTER INSERT ON sessions
WHEN NEW.holder IS NOT NULL
BEGIN
	UPDATE counters SET value = value + 1
		WHERE name = 'connections_active';
END;
CREATE TRIGGER connections_active_update AFTER UPDATE OF holder ON sessions
WHEN (OLD.holder IS NULL) <> (NEW.holder IS NULL)
BEGIN
	UPDATE counters SET value = value +
		CASE WHEN NEW.holder IS NULL THEN -1 ELSE 1 END
		WHERE name = 'connections_active';
END;
CREATE TRIGGER connections_active_delete AFTER DELETE ON sessions
WHEN OLD.holder IS NOT NULL
BEGIN
	UPDATE counters SET value = value - 1
		WHERE name = 'connections_active';
END;

-- version 6

-- Each session's queue depth, kept in sessions.queued by triggers on the
-- outbox, whoever writes it (a server, the sqlite3 shell). The max_queue
-- check of a put, a heartbeat and each target of a broadcast reads it:
-- before, each counted the session's rows, under the write lock (with
-- queues near max_queue, about 200 ms more for a broadcast to 2,000
-- sessions).
ALTER TABLE sessions ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET queued =
	(SELECT count(*) FROM outbox o WHERE o.sid = sessions.sid);
CREATE TRIGGER outbox_queued_insert AFTER INSERT ON outbox
BEGIN
	UPDATE sessions SET queued = queued + 1 WHERE sid = NEW.sid;
END;
CREATE TRIGGER outbox_queued_delete AFTER DELETE ON outbox
BEGIN
	UPDATE sessions SET queued = queued - 1 WHERE sid = OLD.sid;
END;
CREATE TRIGGER outbox_queued_move AFTER UPDATE OF sid ON outbox
WHEN OLD.sid IS NOT NEW.sid
BEGIN
	UPDATE sessions SET queued = queued - 1 WHERE sid = OLD.sid;
	UPDATE sessions SET queued = queued + 1 WHERE sid = NEW.sid;
END;

-- The sweep hands back the packets taken by processes that are gone: an
-- index of the taken rows alone (a handful) rather than a scan of the
-- whole outbox.
CREATE INDEX outbox_taken ON outbox (taken_by) WHERE taken_by IS NOT NULL;

-- The clocks of the last sweep, against which the next one finds a step
-- of the wall clock (sio_store_clock_check): the wall clock, the boot
-- clock (CLOCK_BOOTTIME: never stepped, the same for every process of a
-- boot) and the boot they were read in. Stored times stay wall-clock
-- milliseconds (they outlive processes and read well in the views); a
-- step is applied to those a timer reads, once, by the sweeper.
CREATE TABLE clock (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	boot TEXT NOT NULL,
	wall INTEGER NOT NULL,
	mono INTEGER NOT NULL
);

-- version 7

-- A process is an incarnation, not a pid: its name is
-- <kind>-<pid>-<8 hex digits> (gw, wsd), the hex from getrandom(), so
-- that processes in different pid namespaces (containers sharing this
-- database) or a pid the kernel handed out again never share a name. It
-- is alive while its lease is: renewed (ms since the epoch, the wall
-- clock, like every time here) is set by the process itself once a
-- second, and the sweep of any process removes a row not renewed for
-- process_lease seconds, detaching its sessions, giving back the outbox
-- rows it had taken and removing its doorbell. A process that finds its
-- row gone closes its clients and registers under a new name. The rows
-- of processes running when this section runs get one lease from now.
-- A reaper that shares a process's pid space (pid_space: the boot and
-- pid namespace, NULL when its /proc showed another namespace) need not
-- wait for the lease: a pid that is gone, or whose process started at
-- another time than pid_start (clock ticks after boot), died.
ALTER TABLE processes ADD COLUMN renewed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE processes ADD COLUMN pid_space TEXT;
ALTER TABLE processes ADD COLUMN pid_start INTEGER;
UPDATE processes SET renewed =
	CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);

-- The processes, their leases and how many sessions each holds.
CREATE VIEW process_view AS
SELECT p.name, p.pid,
	strftime('%Y-%m-%dT%H:%M:%fZ', p.started / 1000.0, 'unixepoch')
		AS started,
	strftime('%Y-%m-%dT%H:%M:%fZ', p.renewed / 1000.0, 'unixepoch')
		AS renewed,
	round((julianday('now') - 2440587.5) * 86400 - p.renewed / 1000.0, 1)
		AS renewed_ago,
	(SELECT count(*) FROM sessions s WHERE s.holder = p.name) AS sessions
FROM processes p;

-- version 8

-- The client address of each session's handshake (its request's
-- "remote"), for the cap on live sessions per address
-- (max_sessions_per_address): a partial index holds the live ones alone.
-- A database created before this version switches to incremental
-- auto_vacuum (one VACUUM, when a program first opens it after the
-- upgrade); from then on the sweep gives freed pages back to the system.
ALTER TABLE sessions ADD COLUMN remote TEXT;
UPDATE sessions SET remote = json_extract(request, '$.remote')
	WHERE state <> 'closed' AND json_valid(request);
CREATE INDEX sessions_remote ON sessions (remote) WHERE state <> 'closed';

-- version 9

-- hello: 1 once the session's `1::` was written to a transport of the
-- client's; an attach of any other transport then does not say it again
-- (socket.io 0.9 sends it once a session). Before, a change of transport
-- kind said it again, and a poll attaching to a session connected over
-- websocket got `1::` alone. The sessions a transport attached to before
-- this version had theirs written.
-- gone: 1 when the client ended the session itself (`0::`, or the
-- `?disconnect` GET) or it timed out: every later request on its sid is
-- answered at once as for an unknown session (`7:::1+0`), as socket.io
-- 0.9 does, and only a transport attached when it ended got its `0::`.
-- (A session the application or sioctl ended keeps its `0::` for the
-- client's next request.)
ALTER TABLE sessions ADD COLUMN hello INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET hello = 1 WHERE transport IS NOT NULL;

-- version 10

-- The bridge's queue (app = bridge): each session's events for the
-- application, sent one at a time in seq order. A row outlives its
-- session (the close event is sent after the session ends).
CREATE TABLE bridge_queue (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	sid TEXT NOT NULL,
	body TEXT NOT NULL,      -- the event's JSON
	created INTEGER NOT NULL,
	tries INTEGER NOT NULL DEFAULT 0,
	next_at INTEGER NOT NULL DEFAULT 0, -- not taken again before (retry)
	taker TEXT,              -- the process sending it, NULL when none
	until INTEGER NOT NULL DEFAULT 0    -- the taker's lease on it
);
CREATE INDEX bridge_queue_sid ON bridge_queue (sid, seq);

-- The queue for people: each event's type, times as text.
CREATE VIEW bridge_view AS
SELECT sid, seq,
	CASE WHEN json_valid(body) THEN json_extract(body, '$.type') END
		AS type,
	strftime('%Y-%m-%dT%H:%M:%fZ', created / 1000.0, 'unixepoch')
		AS created,
	tries, taker,
	CASE WHEN until > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ',
		until / 1000.0, 'unixepoch') END AS until
FROM bridge_queue;
