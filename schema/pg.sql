-- pg.sql: siogate's database on PostgreSQL (database = postgresql://...),
-- the same tables, columns and views as schema.sql's SQLite database at
-- its latest version, so that an operator's SQL reads the same on both.
-- It is compiled into common/pg/db.c and applied on open as migrations:
-- each section starts with a `-- version N` line, and every section whose
-- N is above siogate_schema's version runs in one transaction, under an
-- advisory lock (processes starting together: one migrates, the others
-- find it done). Never edit a released section; add a new one.
-- Times are bigint milliseconds since the epoch, on the wall clock.
--
-- Writers take one transaction-level advisory lock (siogate_lock()) before
-- their first write: writes are serialized as SQLite's write lock
-- serializes them, so that each session's packets are numbered (seq) in
-- commit order and a reader never passes over a row committed late. A
-- statement that inserts into the outbox takes it too (a trigger), so that
-- SQL from outside (psql, siogate_push()) keeps that order. One write
-- goes without it: sio-wsd's done and take of a websocket it only feeds,
-- one statement that locks the session's row (FOR NO KEY UPDATE) before
-- it touches the session's outbox, and inserts nothing.
--
--   psql "$DATABASE" -c 'SELECT * FROM session_view'
--   psql "$DATABASE" -c "SELECT siogate_push('<sid>', '3:::hello')"

-- version 1

CREATE TABLE siogate_schema (
	version integer NOT NULL
);
INSERT INTO siogate_schema (version) VALUES (0);

-- The writers' lock (see above); its key is siogate's in this database.
CREATE FUNCTION siogate_lock() RETURNS void LANGUAGE sql AS
	'SELECT pg_advisory_xact_lock(5181116)';
CREATE FUNCTION siogate_lock_trigger() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN
	PERFORM pg_advisory_xact_lock(5181116);
	RETURN NULL;
END$$;

-- Long-running processes: name <kind>-<host>-<pid>-<8 hex digits>, a
-- lease renewed each second (renewed), the pid space that can see its
-- pid, and the server's pid of its listener's connection (listener): a
-- process that stopped renewing and whose listener's connection the
-- server has seen end (its host died, its link is down) is reaped then,
-- without waiting for the lease.
CREATE TABLE processes (
	name text PRIMARY KEY,
	pid bigint NOT NULL,
	started bigint NOT NULL,
	renewed bigint NOT NULL DEFAULT 0,
	pid_space text,
	pid_start bigint,
	listener integer
);

CREATE TABLE sessions (
	sid text PRIMARY KEY,
	state text NOT NULL DEFAULT 'handshaken'
		CHECK (state IN ('handshaken', 'open', 'detached', 'closed')),
	transport text
		CHECK (transport IN ('websocket', 'flashsocket', 'htmlfile',
		                     'xhr-polling', 'jsonp-polling')),
	holder text,                -- process name holding the transport
	holder_conn bigint,         -- connection number within the holder
	created bigint NOT NULL,
	last_recv bigint NOT NULL,  -- last packet from the client
	last_heartbeat bigint NOT NULL, -- last 2:: queued
	detached_at bigint,
	closed_at bigint,
	close_reason text,
	request text,               -- the handshake request as JSON
	next_ack bigint NOT NULL DEFAULT 1,
	queued bigint NOT NULL DEFAULT 0, -- outbox rows, kept by triggers
	remote text,                -- the handshake's client address
	hello integer NOT NULL DEFAULT 0,
	gone integer NOT NULL DEFAULT 0
);
CREATE INDEX sessions_state ON sessions (state, closed_at);
CREATE INDEX sessions_heartbeat ON sessions (state, last_heartbeat);
CREATE INDEX sessions_holder ON sessions (holder);
CREATE INDEX sessions_remote ON sessions (remote) WHERE state <> 'closed';

-- Connected endpoints; '' is the root; n keeps the order of connection.
CREATE TABLE endpoints (
	sid text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	endpoint text NOT NULL,
	query text,
	n bigserial,
	PRIMARY KEY (sid, endpoint)
);
CREATE INDEX endpoints_endpoint ON endpoints (endpoint);

-- Packets waiting for delivery, in seq order per session; taken_by and
-- taken_conn mark the writer of a packet handed to a transport.
CREATE TABLE outbox (
	seq bigserial PRIMARY KEY,
	sid text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	packet text NOT NULL,
	created bigint NOT NULL DEFAULT 0,
	due bigint NOT NULL DEFAULT 0,
	taken_by text,
	taken_conn bigint
);
CREATE INDEX outbox_sid ON outbox (sid, seq);
CREATE INDEX outbox_taken ON outbox (taken_by) WHERE taken_by IS NOT NULL;

CREATE TABLE data (
	sid text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	key text NOT NULL,
	value text NOT NULL,
	PRIMARY KEY (sid, key)
);

CREATE TABLE rooms (
	sid text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	endpoint text NOT NULL,
	room text NOT NULL,
	PRIMARY KEY (endpoint, room, sid)
);
CREATE INDEX rooms_sid ON rooms (sid);

CREATE TABLE acks (
	sid text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
	id bigint NOT NULL,
	endpoint text NOT NULL,
	handler text,
	event text,
	created bigint NOT NULL,
	PRIMARY KEY (sid, id)
);

CREATE TABLE counters (
	name text PRIMARY KEY,
	value bigint NOT NULL DEFAULT 0
);
INSERT INTO counters (name, value) VALUES
	('sessions_active', 0), ('connections_active', 0),
	('sessions_peak', 0), ('connections_peak', 0);

CREATE TABLE stats_samples (
	t bigint PRIMARY KEY,
	connections_opened bigint NOT NULL,
	packets_sent bigint NOT NULL,
	packets_received bigint NOT NULL
);

CREATE TABLE clock (
	id integer PRIMARY KEY CHECK (id = 1),
	boot text NOT NULL,
	wall bigint NOT NULL,
	mono bigint NOT NULL
);

-- The bridge's queue (app = bridge); a row outlives its session.
CREATE TABLE bridge_queue (
	seq bigserial PRIMARY KEY,
	sid text NOT NULL,
	body text NOT NULL,
	created bigint NOT NULL,
	tries integer NOT NULL DEFAULT 0,
	next_at bigint NOT NULL DEFAULT 0,
	taker text,
	until bigint NOT NULL DEFAULT 0
);
CREATE INDEX bridge_queue_sid ON bridge_queue (sid, seq);

-- The active sessions (not closed) and connections (holder set), and
-- their peaks, kept by a trigger whoever changes a session; each
-- session's queue depth, kept by triggers on the outbox.
CREATE FUNCTION siogate_counts() RETURNS trigger LANGUAGE plpgsql AS
$$DECLARE
	ds bigint := 0;
	dc bigint := 0;
BEGIN
	IF TG_OP <> 'INSERT' THEN
		ds := ds - (OLD.state <> 'closed')::int;
		dc := dc - (OLD.holder IS NOT NULL)::int;
	END IF;
	IF TG_OP <> 'DELETE' THEN
		ds := ds + (NEW.state <> 'closed')::int;
		dc := dc + (NEW.holder IS NOT NULL)::int;
	END IF;
	IF ds <> 0 THEN
		UPDATE counters SET value = value + ds
			WHERE name = 'sessions_active';
		IF ds > 0 THEN
			UPDATE counters SET value = greatest(value,
				(SELECT value FROM counters
				 WHERE name = 'sessions_active'))
				WHERE name = 'sessions_peak';
		END IF;
	END IF;
	IF dc <> 0 THEN
		UPDATE counters SET value = value + dc
			WHERE name = 'connections_active';
		IF dc > 0 THEN
			UPDATE counters SET value = greatest(value,
				(SELECT value FROM counters
				 WHERE name = 'connections_active'))
				WHERE name = 'connections_peak';
		END IF;
	END IF;
	RETURN NULL;
END$$;
CREATE TRIGGER sessions_counts AFTER INSERT OR DELETE OR UPDATE OF
	state, holder ON sessions
	FOR EACH ROW EXECUTE FUNCTION siogate_counts();

CREATE FUNCTION siogate_queued() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE sessions SET queued = queued + 1 WHERE sid = NEW.sid;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE sessions SET queued = queued - 1 WHERE sid = OLD.sid;
	ELSIF OLD.sid IS DISTINCT FROM NEW.sid THEN
		UPDATE sessions SET queued = queued - 1 WHERE sid = OLD.sid;
		UPDATE sessions SET queued = queued + 1 WHERE sid = NEW.sid;
	END IF;
	RETURN NULL;
END$$;
CREATE TRIGGER outbox_queued AFTER INSERT OR DELETE OR UPDATE OF sid
	ON outbox FOR EACH ROW EXECUTE FUNCTION siogate_queued();
CREATE TRIGGER outbox_lock BEFORE INSERT ON outbox
	FOR EACH STATEMENT EXECUTE FUNCTION siogate_lock_trigger();

-- Times for people: ISO 8601, UTC, milliseconds.
CREATE FUNCTION siogate_time(ms bigint) RETURNS text LANGUAGE sql
	IMMUTABLE AS
$$SELECT to_char(to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC',
	'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')$$;
-- A text field of a JSON object, NULL when doc is not one (or not JSON).
CREATE FUNCTION siogate_json_field(doc text, field text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE AS
$$BEGIN
	RETURN doc::json ->> field;
EXCEPTION WHEN others THEN
	RETURN NULL;
END$$;
CREATE FUNCTION siogate_now_ms() RETURNS bigint LANGUAGE sql AS
$$SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint$$;

-- Pushing from outside: queues packet for sid (a live session) and rings
-- its holder's process through NOTIFY after the commit (the holder's
-- channel is its name; the payload, sids separated by spaces). Returns the
-- packet's seq, or NULL when sid is no live session.
CREATE FUNCTION siogate_push(p_sid text, p_packet text) RETURNS bigint
	LANGUAGE plpgsql AS
$$DECLARE
	h text;
	n bigint;
BEGIN
	PERFORM siogate_lock();
	SELECT holder INTO h FROM sessions
		WHERE sid = p_sid AND state <> 'closed';
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO outbox (sid, packet, created)
		VALUES (p_sid, p_packet, siogate_now_ms()) RETURNING seq INTO n;
	IF h IS NOT NULL THEN
		PERFORM pg_notify(h, p_sid);
	END IF;
	RETURN n;
END$$;

CREATE VIEW session_view AS
SELECT s.sid, s.state, s.transport, s.holder, s.holder_conn,
	siogate_time(s.created) AS created,
	siogate_time(s.last_recv) AS last_recv,
	siogate_time(s.detached_at) AS detached_at,
	siogate_time(s.closed_at) AS closed_at,
	s.close_reason,
	(siogate_now_ms() - s.created) / 1000 AS age,
	(SELECT string_agg(CASE WHEN e.endpoint = '' THEN '/'
	                   ELSE e.endpoint END, ' ' ORDER BY e.n)
	 FROM endpoints e WHERE e.sid = s.sid) AS endpoints,
	s.queued AS queue
FROM sessions s;

CREATE VIEW queue_view AS
SELECT s.sid, s.state, count(o.seq) AS depth,
	siogate_time(min(o.created)) AS oldest
FROM sessions s LEFT JOIN outbox o ON o.sid = s.sid
GROUP BY s.sid, s.state;

CREATE VIEW outbox_view AS
SELECT o.seq, o.sid, o.packet, siogate_time(o.created) AS created,
	CASE WHEN o.due = 0 THEN NULL ELSE siogate_time(o.due) END AS due
FROM outbox o;

CREATE VIEW stats_view AS
WITH now (ms) AS (SELECT siogate_now_ms()),
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
	sum(queued) AS queued
FROM sessions WHERE state <> 'closed'
GROUP BY transport;

CREATE VIEW process_view AS
SELECT p.name, p.pid, siogate_time(p.started) AS started,
	siogate_time(p.renewed) AS renewed,
	round((siogate_now_ms() - p.renewed) / 1000.0, 1) AS renewed_ago,
	(SELECT count(*) FROM sessions s WHERE s.holder = p.name) AS sessions
FROM processes p;

CREATE VIEW bridge_view AS
SELECT sid, seq,
	siogate_json_field(body, 'type') AS type,
	siogate_time(created) AS created, tries, taker,
	CASE WHEN until > 0 THEN siogate_time(until) END AS until
FROM bridge_queue;

-- version 2

-- Leases on the server's clock: processes.renewed, and the second of the
-- sweep's sample (stats_samples.t), are the database server's time, so
-- that hosts whose clocks disagree neither reap each other early nor keep
-- a dead one, and one sweep runs a second whatever the hosts' clocks say.
-- siogate_clock(t) is that clock; a connection that sets
-- siogate.host_clock = on (the store's test suites) keeps them on the
-- caller's wall clock t, as SQLite does on one host.
CREATE FUNCTION siogate_clock(host_ms bigint) RETURNS bigint
	LANGUAGE sql AS
$$SELECT CASE WHEN current_setting('siogate.host_clock', true) = 'on'
	THEN host_ms ELSE siogate_now_ms() END$$;

-- version 3

-- The live (not closed) sessions of each client address, kept by triggers
-- whoever changes a session: the handshake's cap per address
-- (max_sessions_per_address) reads one row, not every session of the
-- address. An address leaves the table with its last live session.
CREATE TABLE remotes (
	remote text PRIMARY KEY,
	live bigint NOT NULL
);
INSERT INTO remotes (remote, live)
	SELECT remote, count(*) FROM sessions
	WHERE state <> 'closed' AND remote IS NOT NULL GROUP BY remote;
CREATE FUNCTION siogate_remotes() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN
	IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.state <> 'closed') THEN
		INSERT INTO remotes (remote, live) VALUES (NEW.remote, 1)
			ON CONFLICT (remote) DO UPDATE SET live = remotes.live + 1;
	ELSE
		DELETE FROM remotes WHERE remote = OLD.remote AND live <= 1;
		IF NOT FOUND THEN
			UPDATE remotes SET live = live - 1
				WHERE remote = OLD.remote;
		END IF;
	END IF;
	RETURN NULL;
END$$;
CREATE TRIGGER sessions_remotes_in AFTER INSERT ON sessions
	FOR EACH ROW WHEN (NEW.state <> 'closed' AND NEW.remote IS NOT NULL)
	EXECUTE FUNCTION siogate_remotes();
CREATE TRIGGER sessions_remotes_out AFTER DELETE ON sessions
	FOR EACH ROW WHEN (OLD.state <> 'closed' AND OLD.remote IS NOT NULL)
	EXECUTE FUNCTION siogate_remotes();
CREATE TRIGGER sessions_remotes_move AFTER UPDATE OF state ON sessions
	FOR EACH ROW WHEN (NEW.remote IS NOT NULL
		AND (OLD.state = 'closed') <> (NEW.state = 'closed'))
	EXECUTE FUNCTION siogate_remotes();
