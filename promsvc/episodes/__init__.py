"""Episodes: enrolment, reading, withdrawal, links issued now, and the registry export."""
