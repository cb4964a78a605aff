-- name: blocked_chain
-- description: Included by blocked_attempts: every blocked request of the reported local dates, numbered by attempt (DESIGN §6 blocked attempts).
-- params:
--
-- The requests and chain starts are blocked_chain_ctes'; attempt numbers the
-- chains of one (user, date, host) from 1 (the running sum of starts).
WITH
{{blocked_chain_ctes}}
SELECT *,
       sum(starts) OVER (PARTITION BY "user", date, host ORDER BY t_ms
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS attempt
FROM chained
