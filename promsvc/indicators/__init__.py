"""Quality indicators: definitions as data, one pure engine over a table of episodes, outputs.

How the parts fit (each module owns one job):

    schema.py    the definition file format (`{registry}.indicators.yaml`), strict msgspec structs
    results.py   what the engine returns: one `Result` per indicator × period × unit, in a `ResultSet`
    frame.py     the engine's input: one row per episode (a polars DataFrame), read from the
                 database or from a CSV in the export's format; both give the same frame
    loader.py    loading and checking indicator files against their registry (start-up, `indicators check`)
    definitions.py  a definition resolved: variables → frame columns, formulas checked, what to read
    expressions.py  the formula language (an SQL subset): parse, check, compile to polars, render SQL
    episodes.py  the engine's per-episode step (what each measure adds up), at the data date
    engine.py    per period and unit at every level: values, intervals, targets, funnel, suppression
    stats.py     intervals, funnel limits, target levels;  suppression.py  which cells are hidden
    tree.py      the unit tree as the engine walks it
    services.py  read (database or CSV) and compute: what the CLI, the API and result pages call
    outputs.py   internal CSV/JSON, open data with its data dictionary, the portal's rows
    controllers.py  the analyst API

The engine never reads the database or files itself: the same definition over the same frame
gives the same numbers whatever the frame came from (DESIGN.md, "Pure core, thin edges").
"""
