-- Demo popups exercising every rule of SPEC.md. Idempotent (REPLACE INTO);
-- `make run` loads it and publishes. Times are relative to load time.
-- Only popup 1 targets a plain web visit (no version, no lang), so
-- `curl '.../api/popup?uid=alice'` shows it once and then {"popup":null};
-- the others need platform, version or lang parameters to appear.
SET @now = UNIX_TIMESTAMP();
REPLACE INTO popups (id, name, priority, enabled, starts_at, ends_at, platforms, min_version,
  max_version, langs, rollout_percent, max_impressions, show_cooldown_s, ignore_cooldown_s,
  click_cooldown_s, title, body, image_url, link_url) VALUES
 (1, 'welcome: everybody on the web, once an hour', 100, 1, NULL, NULL, 'web', NULL, NULL, '', 100,
  NULL, 3600, 86400, 604800, 'Welcome!', 'Have a look at this week''s offers.',
  'https://example.com/img/welcome.png', 'https://example.com/offers'),
 (2, 'ios app update, versions 1.0 to 2.4', 90, 1, NULL, NULL, 'ios', '1.0', '2.4', '', 100,
  NULL, 600, 3600, 86400, 'Update available', 'Version 2.5 is out.', '', 'https://example.com/ios'),
 (3, 'android: new features from 3.0', 80, 1, NULL, NULL, 'android', '3.0', NULL, '', 100,
  NULL, 600, 3600, 86400, 'New in 3.0', 'Dark mode is here.', '', 'https://example.com/android'),
 (4, 'german and french speakers', 70, 1, NULL, NULL, '', NULL, NULL, 'de,fr', 100,
  NULL, 600, 3600, 86400, 'Bonjour / Hallo', 'Localised offers.', '', 'https://example.com/eu'),
 (5, 'half the android users (rollout 50)', 60, 1, NULL, NULL, 'android', NULL, NULL, '', 50,
  NULL, 600, 3600, 86400, 'Beta feature', 'Try the new search.', '', 'https://example.com/beta'),
 (6, 'ios: at most 3 impressions', 50, 1, NULL, NULL, 'ios', NULL, NULL, '', 100,
  3, 60, 120, 3600, 'Limited', 'Shown three times at most.', '', 'https://example.com/limited'),
 (7, 'spanish: never again after a click', 40, 1, NULL, NULL, '', NULL, NULL, 'es', 100,
  NULL, 60, 300, NULL, 'Newsletter', 'Subscribe once.', '', 'https://example.com/newsletter'),
 (8, 'disabled', 200, 0, NULL, NULL, '', NULL, NULL, '', 100,
  NULL, 60, 60, 60, 'Disabled', 'Never shown.', '', ''),
 (9, 'expired yesterday', 200, 1, @now - 172800, @now - 86400, '', NULL, NULL, '', 100,
  NULL, 60, 60, 60, 'Expired', 'Never shown.', '', ''),
 (10, 'starts in a year', 200, 1, @now + 31536000, NULL, '', NULL, NULL, '', 100,
  NULL, 60, 60, 60, 'Future', 'Not yet.', '', ''),
 (11, 'italian, tie at priority 10: lower id wins', 10, 1, NULL, NULL, '', NULL, NULL, 'it', 100,
  NULL, 60, 60, 60, 'Tie A', 'Chosen before 12.', '', ''),
 (12, 'italian, tie at priority 10: higher id', 10, 1, NULL, NULL, '', NULL, NULL, 'it', 100,
  NULL, 60, 60, 60, 'Tie B', 'Chosen after 11.', '', '');
