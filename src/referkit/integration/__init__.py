"""Ad-network forwarding: Meta, Google Ads, TikTok and postback URLs (docs/integrations.md)."""
