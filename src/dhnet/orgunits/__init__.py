"""The org-unit hierarchy (country, region, district, ... any depth) that scopes every role and every datum."""
