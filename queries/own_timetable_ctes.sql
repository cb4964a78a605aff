-- name: own_timetable_ctes
-- description: Included inside a WITH list (a fragment, not a query) by social and social_pieces, after their `timed`: `own`, the rows of `timed` under each identity's own timetable on their local date (DESIGN §6 "Which timetable applies").
-- params:
--
-- The including query defines `timed` (rows with "user", date and k, the timetable
-- whose slot they were cut by: every timetable's, from social_piece_ctes' candidates).
user_days AS (
    SELECT DISTINCT "user", date AS d FROM timed
),
who AS (
    -- the timetable k of each identity and local date (DESIGN §6)
    {{timetable_who}}
),
own AS (
    -- only the slots of the identity's own timetable on that date count
    SELECT t.* FROM timed AS t
    JOIN who AS w ON w."user" = t."user" AND w.d = t.date AND w.k = t.k
)
