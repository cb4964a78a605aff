-- name: social
-- description: Social report (DESIGN §6): per identity and local date, social minutes split by period, requests made that date, flagged.
-- params: $flag_minutes
--
-- Built on the same fragments as social_pieces (the rows social_segments lists), so
-- summing their covered_seconds per user and date gives exactly these minutes x 60.
-- Here the pieces are summed per identity, date and timetable as they come (a
-- request's pieces in one period add up the same merged or not), and only then is
-- each identity-date's own timetable kept: that join meets a row per
-- (identity, date, timetable), not one per piece. A request is counted on its local
-- date by the one piece whose slot holds its start (`holds_start`), which is
-- count(DISTINCT request) over the pieces of that date without a distinct.
-- Minutes are rounded half-up to 2 decimals from whole milliseconds;
-- flagged compares the rounded outside_break_minutes with $flag_minutes.
WITH
{{social_request_ctes}},
ordered AS (
    -- each identity's requests in time order, by the whole millisecond t_ms (it
    -- never decreases as ts rises; measured a little faster to sort), those of
    -- one millisecond in any order: which of them gets the 0-second coverage
    -- changes no sum and no count per date (the listing, social_pieces, orders
    -- them by ts, host and url)
    SELECT *,
           row_number() OVER w AS req_id,
           lead(t_ms) OVER w AS next_ms
    FROM social
    WINDOW w AS (PARTITION BY "user" ORDER BY t_ms)
),
{{social_piece_ctes}},
timed AS MATERIALIZED (
    SELECT "user", date, k,
           sum(ms) AS total_ms,
           coalesce(sum(ms) FILTER (WHERE period = 'outside_break'), 0) AS ob_ms,
           coalesce(sum(ms) FILTER (WHERE period = 'in_break'), 0) AS ib_ms,
           coalesce(sum(ms) FILTER (WHERE period = 'outside_hours'), 0) AS oh_ms,
           count(*) FILTER (WHERE holds_start) AS requests
    FROM candidates
    GROUP BY "user", date, k
),
{{own_timetable_ctes}},
daily AS (
    SELECT * FROM own WHERE total_ms > 0
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
