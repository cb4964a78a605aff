-- name: social_segments
-- description: Social time per request, local date and period (DESIGN §6 "Social time"); one row per (request, date, period) piece, in time order per identity. The social report aggregates exactly these rows (social_pieces, unordered).
-- params:
--
-- The rows, their columns and parameters are social_pieces'; this file only
-- orders them for a listing (the export). The social report includes
-- social_pieces itself: a sort of every piece is work its sums do not need.
SELECT *
FROM (
    {{social_pieces}}
) AS pieces
ORDER BY "user", ts, req_id, date, period
