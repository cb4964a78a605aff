-- name: social_piece_ctes
-- description: Included inside a WITH list (a fragment, not a query) by social and social_pieces, after their `ordered`: the CTEs down to `candidates`, social time per request, local date, period and timetable slot, for every timetable (DESIGN §6 "Social time").
-- params: $idle_ms, $tail_ms
--
-- The including query defines `ordered`: social_request_ctes' `social` rows with
-- req_id and next_ms, the row number and t_ms of the identity's next request in
-- time order (its own window: the listing breaks ties by host and url, the report
-- needs no tie order). It then keeps, of `candidates`, the rows of each identity's
-- own timetable k on each date (DESIGN §6 "Which timetable applies": own_timetable_ctes).
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
    -- each slot under every UTC hour in which a coverage that overlaps it can start:
    -- a coverage lasts at most max($idle_ms, $tail_ms), so it starts no earlier than
    -- that before the slot does, and before the slot ends (a few hours per slot)
    SELECT k, d, period, start_ms, end_ms,
           unnest(range((least(start_ms, end_ms) - greatest($idle_ms::BIGINT, $tail_ms::BIGINT)) // 3600000,
                        greatest(start_ms, end_ms) // 3600000 + 1)) AS hour
    FROM slot
),
candidates AS (
    -- every slot (of every timetable) the coverage overlaps; a zero-length
    -- coverage (two requests in the same millisecond) still yields a 0-second
    -- piece on its own date, so every request is listed. The equi-join on the
    -- hour the coverage starts in only narrows the candidates (slot_hours lists
    -- each slot once under each such hour, so a pair meets once). `holds_start`: the slot holds the request's start
    -- (the slots of a timetable tile each local date, so exactly one piece per
    -- request and timetable has it, and its date is the request's local date).
    SELECT c.req_id, c.ts, c."user", c.host, c.url, slot.k, slot.d AS date, slot.period,
           least(c.e_ms, slot.end_ms) - greatest(c.s_ms, slot.start_ms) AS ms,
           greatest(c.s_ms, slot.start_ms) AS piece_ms,
           slot.start_ms <= c.s_ms AS holds_start
    FROM coverage AS c
    JOIN slot_hours AS slot
      ON slot.hour = c.s_ms // 3600000
     AND slot.start_ms < greatest(c.e_ms, c.s_ms + 1)
     AND slot.end_ms > c.s_ms
)
