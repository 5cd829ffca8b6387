"""Quality indicators: definitions as data, one pure engine over a table of episodes, outputs.

How the parts fit (each module owns one job):

    schema.py    the definition file format (`{registry}.indicators.yaml`), strict msgspec structs
    results.py   what the engine returns: one `Result` per indicator × period × unit, in a `ResultSet`
    frame.py     the engine's input: one row per episode (a polars DataFrame), read from the
                 database or from a CSV in the export's format; both give the same frame

The engine never reads the database or files itself: the same definition over the same frame
gives the same numbers whatever the frame came from (DESIGN.md, "Pure core, thin edges").
"""
