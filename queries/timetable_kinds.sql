-- name: timetable_kinds
-- description: Included by the timetable queries: every timetable that can apply, numbered k: each schedule with its workdays, and each member's schedule with the member's own workdays (one with the defaults).
-- params: 
--
-- The including query defines member_schedule ({{timetable_members}}).
-- every timetable that can apply: each schedule with its workdays, and each
-- member's schedule with the member's own workdays (one with the defaults)
SELECT schedule, workdays, row_number() OVER (ORDER BY schedule, workdays) AS k
FROM (
    SELECT schedule, workdays FROM org_timetables
    UNION
    SELECT schedule, own_workdays FROM member_schedule WHERE own_workdays IS NOT NULL
)
