"""The identity vault: direct identifiers encrypted apart from surveillance data, keyed pseudonyms, person matching,
re-identification with a stated purpose, and retention (see ``docs/case-privacy-design.md``)."""
