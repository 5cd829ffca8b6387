"""Scheduling and delivery: invitations, reminders and expiry over e-mail, SMS and paper.

The database is the source of truth for everything scheduled (docs/delivery.md): every planned
message is a row of `message` with a due time; the scheduler only ticks, and each tick runs the
plain functions of `promsvc.delivery.jobs`, which claim due rows safely under several service
instances, act on them, and record the outcome. Channels (`email`, `sms`, `letters`) only
deliver; `messages` makes the texts; `timing` knows the sending window and backoff; `links`
issues a fresh link (and, for letters, a short code) for every message.
"""
