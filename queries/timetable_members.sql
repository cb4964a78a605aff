-- name: timetable_members
-- description: Included by the timetable queries (DESIGN §6 "Which timetable applies"): each directory member's schedule (row > group > site > [schedule]) and own workdays.
-- params: 
--
-- Reads org_people, org_groups, org_sites (surfaudit.org_sql).
-- a directory member's schedule: its row's, else its group's, else its
-- site's, else '' ([schedule]); own_workdays: the row's (NULL = the schedule's)
SELECT p.identity, coalesce(p.schedule, g.schedule, st.schedule, '') AS schedule,
       p.workdays AS own_workdays
FROM org_people AS p
LEFT JOIN org_groups AS g ON g.grp = p.grp
LEFT JOIN org_sites AS st ON st.site = p.site
