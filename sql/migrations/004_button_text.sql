-- 004: a popup's own label for its link button (popupctl's button_text;
-- '' = the page's default label), and where popupctl found the name of
-- the operator it records in the audit trail (--by, SUDO_USER, the
-- configuration's ctl_operator, USER or the account).
ALTER TABLE popups ADD COLUMN IF NOT EXISTS
  button_text VARCHAR(64) NOT NULL DEFAULT '' AFTER link_url;
ALTER TABLE popup_audit ADD COLUMN IF NOT EXISTS
  os_user_from VARCHAR(16) NOT NULL DEFAULT '' AFTER os_user;
