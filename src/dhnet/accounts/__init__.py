"""Users, roles bound to org units, API tokens, the TOTP second factor and login lockout."""
