-- Run once by the postgres image on a new data volume (docker-compose.yaml): the state store's own database
-- (order ledger, synced SKUs), apart from Airflow's metadata database.
CREATE DATABASE s2s_state OWNER airflow;
