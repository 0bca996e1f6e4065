-- 002: what popupctl needs (issue 13): daily roll-ups that the writer keeps
-- in the same transaction as the events, so reports never scan the raw log;
-- an index for deleting old raw events in bounded batches; the audit trail.

-- The writer stamps the rows one batch inserted with a token of its own
-- (INSERT IGNORE leaves a replayed event's old token alone), and adds only
-- the rows carrying that token to the roll-ups: a replay counts nothing.
ALTER TABLE popup_events ADD COLUMN IF NOT EXISTS batch CHAR(16) CHARACTER SET ascii NULL;
ALTER TABLE popup_events ADD INDEX IF NOT EXISTS by_ts (ts);

-- Per popup and UTC day (day = ts DIV 86400 as a date): counts by kind.
CREATE TABLE IF NOT EXISTS popup_daily (
  day         DATE NOT NULL,
  popup_id    INT UNSIGNED NOT NULL,
  impressions BIGINT UNSIGNED NOT NULL DEFAULT 0,
  clicks      BIGINT UNSIGNED NOT NULL DEFAULT 0,
  ignores     BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (popup_id, day),
  KEY by_day (day)
) ENGINE=InnoDB;

-- Who saw a popup on a day: one row per (popup, day, user) with at least
-- one impression. Unique users per day and over a range come from here.
CREATE TABLE IF NOT EXISTS popup_daily_users (
  popup_id INT UNSIGNED NOT NULL,
  day      DATE NOT NULL,
  uid      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (popup_id, day, uid)
) ENGINE=InnoDB;

-- Every change made with popupctl: who (the OS user), when, what, and the
-- popup before and after (popupctl's JSON file format; NULL = absent).
CREATE TABLE IF NOT EXISTS popup_audit (
  id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at       BIGINT NOT NULL,
  os_user  VARCHAR(64) NOT NULL,
  command  VARCHAR(32) NOT NULL,
  popup_id INT UNSIGNED NULL,
  before_json MEDIUMTEXT NULL,
  after_json  MEDIUMTEXT NULL,
  KEY by_popup (popup_id, id)
) ENGINE=InnoDB;
