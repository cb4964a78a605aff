-- name: social
-- description: Social report (DESIGN §6): per identity and local date, social minutes split by period, requests made that date, flagged.
-- params: $flag_minutes, $tz
--
-- Built on social_piece_ctes (inlined below), the pieces social_segments lists, so
-- summing their covered_seconds per user and date gives exactly these minutes x 60.
-- The pieces are summed as they come, not merged per request first: a request's
-- pieces in one period add up the same either way. A request is counted on its
-- local date by the one piece whose slot holds its start (`holds_start`: the slots
-- of a timetable tile the days without overlap, so exactly one per request), which
-- is count(DISTINCT request) over the pieces of that date without a distinct.
-- Minutes are rounded half-up to 2 decimals from whole milliseconds;
-- flagged compares the rounded outside_break_minutes with $flag_minutes.
WITH
{{social_piece_ctes}},
daily AS (
    SELECT "user", date,
           sum(ms) AS total_ms,
           coalesce(sum(ms) FILTER (WHERE period = 'outside_break'), 0) AS ob_ms,
           coalesce(sum(ms) FILTER (WHERE period = 'in_break'), 0) AS ib_ms,
           coalesce(sum(ms) FILTER (WHERE period = 'outside_hours'), 0) AS oh_ms,
           count(*) FILTER (WHERE holds_start AND CAST(timezone($tz, ts) AS DATE) = date) AS requests
    FROM pieces
    GROUP BY "user", date
    HAVING sum(ms) > 0
),
rounded AS (
    SELECT "user", date,
           ((total_ms * 100 + 30000) // 60000) / 100.0 AS social_minutes,
           ((ob_ms * 100 + 30000) // 60000) / 100.0 AS outside_break_minutes,
           ((ib_ms * 100 + 30000) // 60000) / 100.0 AS in_break_minutes,
           ((oh_ms * 100 + 30000) // 60000) / 100.0 AS outside_hours_minutes,
           requests
    FROM daily
)
SELECT "user", date,
       CAST(social_minutes AS DOUBLE) AS social_minutes,
       CAST(outside_break_minutes AS DOUBLE) AS outside_break_minutes,
       CAST(in_break_minutes AS DOUBLE) AS in_break_minutes,
       CAST(outside_hours_minutes AS DOUBLE) AS outside_hours_minutes,
       CAST(requests AS BIGINT) AS requests,
       outside_break_minutes >= $flag_minutes::DOUBLE AS flagged
FROM rounded
ORDER BY date, "user"
