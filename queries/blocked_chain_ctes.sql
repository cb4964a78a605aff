-- name: blocked_chain_ctes
-- description: Included inside a WITH list (a fragment, not a query) by blocked_chain and blocked: the CTEs b (every blocked request of the reported local dates) and chained (each marked 1 when it starts an attempt, DESIGN §6 blocked attempts).
-- params: $tz, $burst_ms, $date_from, $date_to
--
-- Only action = 'blocked' rows count (auth challenges and errors never do).
-- A blocked request starts a new attempt unless the same identity's previous
-- blocked request to the same host on the same local date was at most
-- $burst_ms milliseconds earlier (a chain). Times compare in whole milliseconds.
b AS (
    SELECT e."user",
           -- case and a trailing dot ignored (rtrim only where there is a dot: per
           -- row, the check costs a tenth of the trim)
           lower(CASE WHEN ends_with(e.host, '.') THEN rtrim(e.host, '.') ELSE e.host END) AS host,
           qh.d AS date,
           timezone($tz, e.ts) AS local_time,
           CAST(round(epoch_us(e.ts) / 1000.0) AS BIGINT) AS t_ms
    FROM (
        {{events_in_range}}
    ) AS e
    JOIN (
        {{local_quarter_hours}}
    ) AS qh ON qh.q = epoch_ms(e.ts) // 900000
    WHERE e.action = 'blocked'
),
chained AS (
    SELECT *,
           CASE WHEN t_ms - lag(t_ms) OVER w <= $burst_ms::BIGINT THEN 0 ELSE 1 END AS starts
    FROM b
    WHERE date BETWEEN $date_from::DATE AND $date_to::DATE
    WINDOW w AS (PARTITION BY "user", date, host ORDER BY t_ms)
)
