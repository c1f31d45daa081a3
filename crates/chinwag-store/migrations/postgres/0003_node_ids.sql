-- Snowflake node ids for the servers sharing this database: each store
-- takes nextval mod 1024 when it opens (Store::from_postgres_pool), so ids
-- made by different nodes in the same millisecond never collide.
CREATE SEQUENCE node_ids;
