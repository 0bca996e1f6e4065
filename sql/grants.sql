-- The MariaDB privileges of the service's two accounts: each gets the rows
-- its programs use and nothing else (no DDL, no triggers, no
-- writes to schema_migrations, no mysql.*). Table grants need the tables, so this runs
-- after the migrations; it revokes first, so it also takes back what an
-- earlier version granted. scripts/stack.sh fills in the placeholders
-- (@SERVICE@ = popup, @CTL@ = popupctl, @HOST@ = localhost) and runs it as
-- the datadir's superuser on every start; on a host of your own, replace
-- them and run it the same way (docs/deployment.md):
--   sed -e s/@SERVICE@/popup/g -e s/@CTL@/popupctl/g -e s/@HOST@/localhost/g \
--     sql/grants.sql | sudo mariadb popup
-- The accounts must exist (CREATE USER ... IDENTIFIED BY ...).

-- @SERVICE@ (popupd, popup-writer): reads popups and config_meta, reads and
-- upserts user_state (INSERT ... ON DUPLICATE KEY UPDATE), inserts events
-- (INSERT IGNORE) and adds them to the daily roll-ups (lib/mysql.cc
-- apply_events). No write to popups, no DELETE, no audit.
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '@SERVICE@'@'@HOST@';
GRANT SELECT ON popup.popups TO '@SERVICE@'@'@HOST@';
GRANT SELECT ON popup.config_meta TO '@SERVICE@'@'@HOST@';
GRANT SELECT, INSERT, UPDATE ON popup.user_state TO '@SERVICE@'@'@HOST@';
-- SELECT (event_id): on Galera, a batch is checked on its node after the
-- commit (lib/mysql_events.cc).
GRANT SELECT (event_id), INSERT ON popup.popup_events TO '@SERVICE@'@'@HOST@';
GRANT SELECT (impressions, clicks, ignores), INSERT, UPDATE ON popup.popup_daily TO '@SERVICE@'@'@HOST@';
GRANT INSERT ON popup.popup_daily_users TO '@SERVICE@'@'@HOST@';

-- @CTL@ (popupctl): writes popups, bumps config_meta, reads user_state
-- (explain when Redis has no copy), reads and deletes events (delete's
-- check, retention), reads the roll-ups, writes and reads popup_audit, and
-- reads schema_migrations (--version names the schema it finds).
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '@CTL@'@'@HOST@';
GRANT SELECT, INSERT, UPDATE, DELETE ON popup.popups TO '@CTL@'@'@HOST@';
GRANT SELECT, UPDATE ON popup.config_meta TO '@CTL@'@'@HOST@';
GRANT SELECT ON popup.user_state TO '@CTL@'@'@HOST@';
GRANT SELECT, DELETE ON popup.popup_events TO '@CTL@'@'@HOST@';
GRANT SELECT ON popup.popup_daily TO '@CTL@'@'@HOST@';
GRANT SELECT ON popup.popup_daily_users TO '@CTL@'@'@HOST@';
GRANT SELECT, INSERT ON popup.popup_audit TO '@CTL@'@'@HOST@';
GRANT SELECT ON popup.schema_migrations TO '@CTL@'@'@HOST@';
