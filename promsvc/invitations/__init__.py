"""Invitations: the state machine of an invitation and every way into it.

- `states`: the statuses' named sets (pending, takes answers, gone, invited) and the allowed moves;
- `moves`: every status write, each with its `invitation_event` row (also in the forms of the
  writers that do more at once: SQL for one PostgreSQL statement, a checked history for a load);
- `links`: every kind of link (clinic link, message link, letter code) in one table
  (`invitation_link`) with one lookup.

Episodes, the patient pages, responses and delivery change an invitation's status, and find
the invitation of a token, only through this package.
"""
