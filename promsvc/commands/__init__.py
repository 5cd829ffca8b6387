"""The service's command-line subcommands (serve, db, keys, registries, demo); promsvc/cli.py wires them."""
