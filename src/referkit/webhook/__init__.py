"""Webhooks: endpoints, the outbox, signed delivery with retries, the delivery log, REST hooks."""
