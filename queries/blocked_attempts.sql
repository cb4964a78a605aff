-- name: blocked_attempts
-- description: Investigation export: one row per blocked attempt of one identity (the chains `blocked` counts), with its first and last local time.
-- params: $tz, $burst_ms, $utc_from, $utc_to, $date_from, $date_to, $user
--
-- The same chain rule as blocked.sql: a blocked request starts a new attempt
-- unless the identity's previous blocked request to the same host on the same
-- local date was at most $burst_ms milliseconds earlier. So per date the
-- number of rows here equals the blocked report's `attempts`
-- (tests/test_export_html.py checks it).
WITH
b AS (
    SELECT e."user",
           rtrim(lower(e.host), '.') AS host,
           CAST(timezone($tz, e.ts) AS DATE) AS date,
           timezone($tz, e.ts) AS local_time,
           CAST(round(epoch_us(e.ts) / 1000.0) AS BIGINT) AS t_ms
    FROM events AS e
    WHERE e.action = 'blocked'
      AND e.ts >= timezone('UTC', $utc_from::TIMESTAMP)
      AND e.ts < timezone('UTC', $utc_to::TIMESTAMP)
      AND ($user::VARCHAR IS NULL OR e."user" = $user::VARCHAR)
),
chained AS (
    SELECT *,
           CASE WHEN t_ms - lag(t_ms) OVER w <= $burst_ms::BIGINT THEN 0 ELSE 1 END AS starts
    FROM b
    WHERE date BETWEEN $date_from::DATE AND $date_to::DATE
    WINDOW w AS (PARTITION BY "user", date, host ORDER BY t_ms)
),
numbered AS (
    SELECT *,
           sum(starts) OVER (PARTITION BY "user", date, host ORDER BY t_ms
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS attempt
    FROM chained
)
SELECT "user", date, host,
       min(local_time) AS first_local,
       max(local_time) AS last_local,
       CAST(count(*) AS BIGINT) AS requests
FROM numbered
GROUP BY "user", date, host, attempt
ORDER BY first_local, host
