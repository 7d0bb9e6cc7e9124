"""The PostgreSQL + pgvector store: the same reader and writer interface as the embedded one.

`connection` (PgLocation, connecting, redaction, the writer's advisory lock), `schema` (the
versioned layout and its migrations), `words` (the keyword side, as FTS5 cuts words), `reader`
(PgReader, PgSnapshot), `writer` (PgWriter, create_pg_index, delete_pg_index). psycopg is
imported only when a database is used, so `kbcli --help` never loads it.
"""
