-- name: blocked_attempts
-- description: Investigation export: one row per blocked attempt of one identity (the chains `blocked` counts), with its first and last local time.
-- params:
--
-- The chains are blocked_chain's, as in blocked.sql, so per date the number of
-- rows here equals the blocked report's `attempts`.
WITH
chain AS (
    {{blocked_chain}}
)
SELECT "user", date, host,
       min(local_time) AS first_local,
       max(local_time) AS last_local,
       CAST(count(*) AS BIGINT) AS requests
FROM chain
GROUP BY "user", date, host, attempt
ORDER BY first_local, host
