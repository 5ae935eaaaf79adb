"""Storage: the only layer that speaks SQL (SQLModel tables, engine, queries, Alembic migrations)."""
