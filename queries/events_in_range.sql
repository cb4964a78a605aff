-- name: events_in_range
-- description: Included by the dated queries: the events of [$utc_from, $utc_to) of identity $user (NULL: everyone); reports read only these rows.
-- params: $utc_from, $utc_to, $user
--
-- $utc_from/$utc_to: naive UTC timestamps (see needed_utc_range); $user: the
-- exact (resolved) identity or NULL. Used as `FROM ({{events_in_range}}) AS e`.
SELECT *
FROM events
WHERE ts >= timezone('UTC', $utc_from::TIMESTAMP)
  AND ts < timezone('UTC', $utc_to::TIMESTAMP)
  AND ($user::VARCHAR IS NULL OR "user" = $user::VARCHAR)
