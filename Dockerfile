# The project image: Airflow 3.3.2 with unixODBC and the ODBC drivers the SQL sources need, and the project's
# Python dependencies pinned by constraints.txt. Built by docker-compose.yaml (`docker compose build`).
#
# Drivers from Debian: FreeTDS (SQL Server, registered as "FreeTDS"), PostgreSQL ("PostgreSQL Unicode"),
# MariaDB/MySQL ("MariaDB Unicode"), SQLite ("SQLite3"). For Microsoft's own SQL Server driver or Actian's
# Pervasive/Zen driver (Sage Pastel), see the README's "Deployment" section: both come from their vendors and
# are added in a derived image.
FROM apache/airflow:3.3.2

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends unixodbc odbcinst tdsodbc odbc-postgresql odbc-mariadb libsqliteodbc \
 && printf '[FreeTDS]\nDescription=FreeTDS (SQL Server)\nDriver=/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so\n' \
      > /tmp/freetds.ini \
 && odbcinst -i -d -f /tmp/freetds.ini && rm /tmp/freetds.ini \
 && apt-get autoremove -yqq --purge && apt-get clean && rm -rf /var/lib/apt/lists/*

USER airflow
COPY --chown=airflow:root requirements.txt constraints.txt /opt/s2s/
# Airflow is pinned on the same line so pip can neither upgrade nor downgrade the image's Airflow.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/s2s/requirements.txt -c /opt/s2s/constraints.txt

# The stock2shop_sync package, installed (not copied into plugins/, whose files Airflow imports under bare names).
COPY --chown=airflow:root pyproject.toml README.md /opt/s2s/
COPY --chown=airflow:root src /opt/s2s/src
RUN pip install --no-cache-dir --no-deps /opt/s2s

COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root include /opt/airflow/include
ENV S2S_PROJECT_ROOT=/opt/airflow \
    S2S_SOURCES_DIR=/opt/airflow/include/sources \
    S2S_MAPPINGS_DIR=/opt/airflow/include/mappings
