-- Runs once, when the postgres container starts on an EMPTY data directory (docker-entrypoint-initdb.d),
-- as POSTGRES_USER (newsflow). The image itself creates POSTGRES_DB (newsflow: the article/topic store);
-- this adds the second database, for the Airflow metadata, owned by the same role.
-- Airflow's schema is created later by `airflow db migrate` (the compose `init` service), the store's
-- by `newsflow store migrate`.
CREATE DATABASE airflow;
