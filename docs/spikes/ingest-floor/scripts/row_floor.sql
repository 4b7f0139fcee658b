.timer on
PRAGMA cache_size=-1000000;
BEGIN;
CREATE TEMP TABLE nc AS SELECT member_id+0 AS member_id, substr(occurred_at,1,10) AS day, count(*) AS ev, sum(type='purchase') AS p, coalesce(sum(amount_minor),0) AS r FROM events WHERE id > (SELECT events_watermark FROM kpi_state) GROUP BY 1,2;
SELECT count(*) FROM nc;
CREATE TEMP TABLE nc2 AS SELECT nc.member_id, nc.day, nc.ev = md.events AS new_cell, md.purchases>0 AND md.purchases = nc.p AS new_p, s.first_active, s.last_active, s.first_purchase, s.last_purchase FROM nc JOIN member_days md ON md.day = nc.day AND md.member_id = nc.member_id LEFT JOIN kpi_member_summary s ON s.member_id = nc.member_id;
INSERT INTO kpi_member_summary (member_id, first_active, last_active, active_days, purchase_days, revenue_minor, first_purchase_revenue_minor) SELECT member_id, day, day, 1, 0, 0, 0 FROM nc WHERE true ON CONFLICT (member_id) DO UPDATE SET last_active = max(last_active, excluded.last_active), active_days = active_days + 1;
INSERT INTO kpi_member_trailing (member_id, d1, d7, d30, prior30) SELECT member_id, 1, 1, 1, 0 FROM nc WHERE true ON CONFLICT (member_id) DO UPDATE SET d1 = d1 + 1, d7 = d7 + 1, d30 = d30 + 1;
ROLLBACK;
