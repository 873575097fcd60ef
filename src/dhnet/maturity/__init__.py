"""Digital health maturity monitor: rubrics as data, yearly assessments per country, review, publication."""
