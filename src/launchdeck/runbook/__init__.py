"""Pure rules for people: roles and authority, sign-offs, decision windows."""
