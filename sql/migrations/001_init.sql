-- 001: popup configuration, per-user state, append-only event log.
-- Times are unix seconds (BIGINT) as in the SPEC; next_show_at -1 = never.

CREATE TABLE IF NOT EXISTS popups (
  id                INT UNSIGNED NOT NULL PRIMARY KEY,
  name              VARCHAR(200) NOT NULL,
  priority          INT NOT NULL DEFAULT 0,
  enabled           TINYINT(1) NOT NULL DEFAULT 1,
  starts_at         BIGINT NULL,
  ends_at           BIGINT NULL,
  platforms         VARCHAR(64) NOT NULL DEFAULT '' COMMENT 'comma list of web,ios,android; empty = all',
  min_version       VARCHAR(32) NULL,
  max_version       VARCHAR(32) NULL,
  langs             VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'comma list of language tags; empty = all',
  rollout_percent   TINYINT UNSIGNED NOT NULL DEFAULT 100,
  max_impressions   INT UNSIGNED NULL,
  show_cooldown_s   INT UNSIGNED NOT NULL DEFAULT 0,
  ignore_cooldown_s INT UNSIGNED NOT NULL DEFAULT 0,
  click_cooldown_s  INT UNSIGNED NULL COMMENT 'NULL = never show again after a click',
  title             VARCHAR(500) NOT NULL DEFAULT '',
  body              TEXT NOT NULL,
  image_url         VARCHAR(1000) NOT NULL DEFAULT '',
  link_url          VARCHAR(1000) NOT NULL DEFAULT '',
  updated_at        TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  CHECK (rollout_percent <= 100)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row: the version of the published configuration set. `popupctl
-- publish` increments it and copies the set into Redis.
CREATE TABLE IF NOT EXISTS config_meta (
  id      TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  version BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO config_meta (id, version) VALUES (1, 1);

-- The durable copy of per-user state. ev_order is the wall-clock microsecond
-- stamp of the event that produced the row: the writer only replaces a row
-- with a newer event's state, so replays and reordering change nothing.
CREATE TABLE IF NOT EXISTS user_state (
  uid          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  popup_id     INT UNSIGNED NOT NULL,
  next_show_at BIGINT NOT NULL,
  impressions  INT UNSIGNED NOT NULL,
  last_action  ENUM('show','ignore','click') NOT NULL,
  updated_at   BIGINT NOT NULL,
  ev_order     BIGINT NOT NULL,
  event_id     CHAR(32) CHARACTER SET ascii NOT NULL,
  PRIMARY KEY (uid, popup_id)
) ENGINE=InnoDB;

-- Append-only event log keyed by the event id made in the worker; the writer
-- inserts with INSERT IGNORE so a replayed event adds no row.
CREATE TABLE IF NOT EXISTS popup_events (
  event_id     CHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  uid          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  popup_id     INT UNSIGNED NOT NULL,
  kind         ENUM('show','ignore','click') NOT NULL,
  ts           BIGINT NOT NULL,
  ev_order     BIGINT NOT NULL,
  next_show_at BIGINT NOT NULL,
  impressions  INT UNSIGNED NOT NULL,
  recorded_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY by_user (uid, popup_id),
  KEY by_popup_ts (popup_id, ts)
) ENGINE=InnoDB;
