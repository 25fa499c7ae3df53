"""The embedded referrer dashboard: tokens, the page, its script and the JSON API."""
