"""Mobile attribution: apps, their client keys and links, installs and deferred deep links,
app analytics. See docs/mobile.md."""
