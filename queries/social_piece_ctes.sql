-- name: social_piece_ctes
-- description: Included inside a WITH list (a fragment, not a query) by social and social_pieces, after their `ordered`: the CTEs down to `candidates`, social time per request, local date, period and timetable slot, for every timetable (DESIGN §6 "Social time").
-- params: $idle_ms, $tail_ms
--
-- The including query defines `ordered`: social_request_ctes' `social` rows with
-- req_id and next_ms, the row number and t_ms of the identity's next request in
-- time order (its own window: the listing breaks ties by host and url, the report
-- needs no tie order). It then keeps, of `candidates`, the rows of each identity's
-- own timetable k on each date (DESIGN §6 "Which timetable applies", `who`).
-- The local dates reported are local_days' ($date_from/$date_to, inclusive); the
-- timetables come from the relations surfaudit.org_sql registers (see
-- social_request_ctes). Times are compared in whole milliseconds (the log's precision).
coverage AS (
    -- c(i) = gap to the next request when <= idle gap, else the tail (also for the last one)
    SELECT *,
           t_ms AS s_ms,
           t_ms + CASE WHEN next_ms IS NOT NULL AND next_ms - t_ms <= $idle_ms::BIGINT
                       THEN next_ms - t_ms ELSE $tail_ms::BIGINT END AS e_ms
    FROM ordered
),
{{timetable_ctes}},
slot_hours AS (
    -- each slot under every UTC hour its span touches (a few per date)
    SELECT k, d, period, start_ms, end_ms,
           least(start_ms, end_ms) // 3600000 AS first_hour,
           unnest(range(least(start_ms, end_ms) // 3600000,
                        greatest(start_ms, end_ms) // 3600000 + 1)) AS hour
    FROM slot
),
cov_hours AS (
    -- each coverage under every UTC hour it touches (nearly always one)
    SELECT *,
           unnest(range(s_ms // 3600000, (greatest(e_ms, s_ms + 1) - 1) // 3600000 + 1)) AS hour
    FROM coverage
),
candidates AS (
    -- every slot (of every timetable) the coverage overlaps; a zero-length
    -- coverage (two requests in the same millisecond) still yields a 0-second
    -- piece on its own date, so every request is listed. The equi-join on the
    -- hour only narrows the candidates; a pair meeting in several hours is kept
    -- in the first of them. `holds_start`: the slot holds the request's start
    -- (the slots of a timetable tile each local date, so exactly one piece per
    -- request and timetable has it, and its date is the request's local date).
    SELECT c.req_id, c.ts, c."user", c.host, c.url, slot.k, slot.d AS date, slot.period,
           least(c.e_ms, slot.end_ms) - greatest(c.s_ms, slot.start_ms) AS ms,
           greatest(c.s_ms, slot.start_ms) AS piece_ms,
           slot.start_ms <= c.s_ms AS holds_start
    FROM cov_hours AS c
    JOIN slot_hours AS slot
      ON slot.hour = c.hour
     AND slot.start_ms < greatest(c.e_ms, c.s_ms + 1)
     AND slot.end_ms > c.s_ms
     AND c.hour = greatest(c.s_ms // 3600000, slot.first_hour)
)
