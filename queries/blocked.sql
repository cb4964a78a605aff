-- name: blocked
-- description: Blocked report (DESIGN §6): per identity and local date, blocked requests, attempts (bursts), distinct hosts and the top host.
-- params:
--
-- The blocked requests and their chain starts are blocked_chain_ctes' (blocked_attempts
-- lists the same chains).
WITH
{{blocked_chain_ctes}},
per_host AS (
    -- one row per identity, date and host: its blocked requests and attempts
    -- (the number of chain starts, which is blocked_chain's highest attempt number)
    SELECT "user", date, host,
           count(*) AS n,
           sum(starts) AS attempts
    FROM chained
    GROUP BY "user", date, host
)
SELECT "user", date,
       CAST(sum(n) AS BIGINT) AS requests,
       CAST(sum(attempts) AS BIGINT) AS attempts,
       CAST(count(host) AS BIGINT) AS hosts,  -- distinct hosts (a NULL host is none)
       first(host ORDER BY n DESC, host ASC NULLS LAST) AS top_host
FROM per_host
GROUP BY "user", date
ORDER BY date, "user"
