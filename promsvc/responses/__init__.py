"""Responses: answers checked against their instruments, stored once, scored on submit."""
