"""The PostgreSQL + pgvector store: the same reader and writer interface as the embedded one.

`connection` (PgLocation, connecting, redaction, the writer's advisory lock), `schema` (the
versioned layout and its migrations), `words` (the keyword side, as FTS5 cuts words), `reader`
(PgReader, PgSnapshot), `writer` (PgWriter, create_pg_index, delete_pg_index). psycopg is
imported only when a database is used, so `kbcli --help` never loads it.

Keywords are rows of a postings table (lexeme, chunk, count per field, chunk length) rather
than tsvectors: FTS5's BM25 is then one query over the rows of the question's lexemes. The
writer COPYs chunks and postings, and a new index's HNSW index is built by its first commit.
"""
