-- name: blocked
-- description: Blocked report (DESIGN §6): per identity and local date, blocked requests, attempts (bursts), distinct hosts and the top host.
-- params: $tz, $burst_ms, $utc_from, $utc_to, $date_from, $date_to, $user
--
-- Only action = 'blocked' rows count (auth challenges and errors never do).
-- A blocked request starts a new attempt unless the same identity's previous
-- blocked request to the same host on the same local date was at most
-- $burst_ms milliseconds earlier (a chain). Times compare in whole milliseconds.
WITH
b AS (
    SELECT e."user",
           rtrim(lower(e.host), '.') AS host,
           CAST(timezone($tz, e.ts) AS DATE) AS date,
           CAST(round(epoch_us(e.ts) / 1000.0) AS BIGINT) AS t_ms
    FROM events AS e
    WHERE e.action = 'blocked'
      AND e.ts >= timezone('UTC', $utc_from::TIMESTAMP)
      AND e.ts < timezone('UTC', $utc_to::TIMESTAMP)
      AND ($user::VARCHAR IS NULL OR e."user" = $user::VARCHAR)
),
in_range AS (
    SELECT * FROM b WHERE date BETWEEN $date_from::DATE AND $date_to::DATE
),
chained AS (
    SELECT *,
           lag(t_ms) OVER (PARTITION BY "user", host, date ORDER BY t_ms) AS prev_ms
    FROM in_range
),
per_day AS (
    SELECT "user", date,
           count(*) AS requests,
           count(*) FILTER (WHERE prev_ms IS NULL OR t_ms - prev_ms > $burst_ms::BIGINT) AS attempts,
           count(DISTINCT host) AS hosts
    FROM chained
    GROUP BY "user", date
),
per_host AS (
    SELECT "user", date, host, count(*) AS n,
           row_number() OVER (PARTITION BY "user", date ORDER BY count(*) DESC, host ASC NULLS LAST) AS rk
    FROM in_range
    GROUP BY "user", date, host
)
SELECT d."user", d.date,
       CAST(d.requests AS BIGINT) AS requests,
       CAST(d.attempts AS BIGINT) AS attempts,
       CAST(d.hosts AS BIGINT) AS hosts,
       h.host AS top_host
FROM per_day AS d
LEFT JOIN per_host AS h ON h."user" = d."user" AND h.date = d.date AND h.rk = 1
ORDER BY d.date, d."user"
